/**
 * DMA fences: one-shot completion events of DMA work, with callbacks, errors and waits.
 *
 * **Kernel:** drivers/dma-buf/dma-fence.c, include/linux/dma-fence.h.
 *
 * A fence belongs to a context (a timeline) and carries a sequence number; fences of one context
 * are totally ordered. It goes from unsignaled to signaled exactly once. Signalling records a
 * timestamp from the simulated clock and runs the callbacks in registration order, each with the
 * fence's spinlock held and interrupts off (atomic context: a callback that sleeps is reported, one
 * that signals another fence sharing the lock is the spinlock-recursion BUG). Waiting is async and
 * follows the simulated clock; the default wait returns the remaining jiffies, or 0 on timeout.
 *
 * Fences are reference counted: {@link dmaFenceGet} / {@link dmaFencePut}; the last put releases
 * the fence (and WARNs, sets `-EDEADLK` and signals when callbacks are still pending).
 *
 * The signalling annotations ({@link dmaFenceBeginSignalling}) feed lockdep through the
 * `dma_fence_map` pseudo-lock: a signalling section takes it for read, a wait takes it for write,
 * so "hold lock A while waiting for a fence / need lock A to signal it" is reported.
 *
 * @module
 */
import {
  BUG_ON,
  ERRNO,
  KernelError,
  MAX_SCHEDULE_TIMEOUT,
  WARN_ON,
  krefGet,
  krefGetUnlessZero,
  krefInit,
  krefPut,
  krefRead,
  might_sleep,
  spinLockInit,
  spinLockIrqsave,
  spinUnlockIrqrestore,
  type Kernel,
  type Kref,
  type Spinlock,
  cInteger,
  sizeT,
  uintT,
} from "@dmasim/kernel";
import { DMA_RESV_ERAS, irqWorkRun, resvState } from "./module";

/** Seqnos of this fence are 64-bit. **Kernel:** `DMA_FENCE_FLAG_SEQNO64_BIT`. */
export const DMA_FENCE_FLAG_SEQNO64_BIT = 0;
/** The fence has signaled. **Kernel:** `DMA_FENCE_FLAG_SIGNALED_BIT`. */
export const DMA_FENCE_FLAG_SIGNALED_BIT = 1;
/** The timestamp is valid. **Kernel:** `DMA_FENCE_FLAG_TIMESTAMP_BIT`. */
export const DMA_FENCE_FLAG_TIMESTAMP_BIT = 2;
/** Software signalling was enabled. **Kernel:** `DMA_FENCE_FLAG_ENABLE_SIGNAL_BIT`. */
export const DMA_FENCE_FLAG_ENABLE_SIGNAL_BIT = 3;
/** First bit free for drivers. **Kernel:** `DMA_FENCE_FLAG_USER_BITS`. */
export const DMA_FENCE_FLAG_USER_BITS = 4;

/** Largest errno a fence error may carry. **Kernel:** `MAX_ERRNO`. */
export const MAX_ERRNO = 4095;

/**
 * The operations of a fence implementation.
 *
 * **Kernel:** `struct dma_fence_ops`.
 */
export interface DmaFenceOps {
  /** Mandatory: the driver's name. Called in any context. */
  getDriverName(fence: DmaFence): string;
  /** Mandatory: the timeline's name. Called in any context. */
  getTimelineName(fence: DmaFence): string;
  /**
   * Optional: arm the hardware interrupt that will signal the fence. Called once, with the fence
   * lock held (atomic). Return false if the fence has already completed: it is then signaled.
   */
  enableSignaling?(fence: DmaFence): boolean;
  /** Optional: peek at the hardware; true means completed (the core then signals the fence). */
  signaled?(fence: DmaFence): boolean;
  /**
   * Optional custom wait (deprecated in the kernel): returns the remaining jiffies, 0 on timeout,
   * or throws `ERESTARTSYS`. May sleep.
   */
  wait?(fence: DmaFence, intr: boolean, timeout: number): Promise<number>;
  /** Optional: called by the last {@link dmaFencePut}; must free what the implementation owns. */
  release?(fence: DmaFence): void;
  /** Optional deadline hint (absolute ns). */
  setDeadline?(fence: DmaFence, deadline: number): void;
}

/**
 * A callback as registered on a fence. Allocate one per registration (the kernel embeds it in the
 * caller's structure); extend it to carry data.
 *
 * **Kernel:** `struct dma_fence_cb`.
 *
 * **Locking:** owned by the caller; the fence lock protects its queued state.
 */
export class DmaFenceCb {
  /** The function called at signal time (atomic context, fence lock held). */
  func: DmaFenceFunc | null = null;
  /** @internal the fence whose list holds this callback, or null */
  queuedOn: DmaFence | null = null;
}

/** A fence callback. **Kernel:** `dma_fence_func_t`. */
export type DmaFenceFunc = (fence: DmaFence, cb: DmaFenceCb) => void;

/** @internal what kind of fence this is (containers must not be added to a dma_resv) */
export type DmaFenceKind = "fence" | "array" | "chain";

/**
 * A fence.
 *
 * **Kernel:** `struct dma_fence`.
 *
 * **Locking:** `lock` protects `flags`, the callback list and the signal transition; `error` must
 * be set before signalling; `context` and `seqno` never change.
 */
export class DmaFence {
  /** Operations; null after signalling in the latest kernels when the fence needs none. */
  ops: DmaFenceOps | null;
  /** The fence lock (may be shared by many fences). */
  readonly lock: Spinlock;
  /** `DMA_FENCE_FLAG_*` bits. */
  flags = 0;
  /** 0, or a negative errno recorded with {@link dmaFenceSetError}. */
  error = 0;
  /** Simulated ns at which it signaled (valid with `DMA_FENCE_FLAG_TIMESTAMP_BIT`). */
  timestamp = 0;
  readonly refcount: Kref;
  /** @internal pending callbacks, in registration order */
  cbList: DmaFenceCb[] = [];
  /** @internal */
  readonly kind: DmaFenceKind = "fence";
  /** The last reference is gone. */
  released = false;
  /** @internal the functions whose use after free was reported (once each) */
  readonly uafReported = new Set<string>();

  constructor(
    readonly kernel: Kernel,
    ops: DmaFenceOps,
    lock: Spinlock | null,
    readonly context: number,
    readonly seqno: number,
  ) {
    BUG_ON(
      kernel,
      typeof ops?.getDriverName !== "function" || typeof ops.getTimelineName !== "function",
      "drivers/dma-buf/dma-fence.c:__dma_fence_init",
      "BUG_ON(!ops || !ops->get_driver_name || !ops->get_timeline_name)",
    );
    BUG_ON(
      kernel,
      lock === null && !DMA_RESV_ERAS.fenceInlineLock(kernel),
      "drivers/dma-buf/dma-fence.c:__dma_fence_init",
      "BUG_ON(!lock): a fence needs a spinlock before the inline-lock rework",
    );
    this.ops = ops;
    this.lock = lock ?? spinLockInit(kernel, "&fence->inline_lock", "dma_fence_inline_lock");
    this.refcount = krefInit(kernel, `dma_fence ${context}:${seqno}`);
  }
}

/**
 * Reserve `num` consecutive fence context numbers and return the first. Contexts start at 1 in
 * each kernel (0 is the stub's and the selftests' mock fences').
 *
 * **Kernel:** `dma_fence_context_alloc()` (WARN when `num` is 0).
 *
 * **Locking:** any context.
 */
export function dmaFenceContextAlloc(kernel: Kernel, num: number): number {
  num = uintT(num, "dma_fence_context_alloc", "num"); // unsigned int
  WARN_ON(
    kernel,
    num === 0,
    "drivers/dma-buf/dma-fence.c:dma_fence_context_alloc",
    "WARN_ON(!num)",
  );
  const s = resvState(kernel);
  const first = s.nextContext;
  s.nextContext += num;
  return first;
}

/**
 * Create a fence with one reference. `lock` may be null in the latest kernels (an inline lock);
 * older kernels BUG.
 *
 * **Kernel:** `dma_fence_init()` (kmalloc + init in one step here).
 *
 * **Locking:** none.
 *
 * @throws {@link KernelBug} when an ops name callback is missing, or `lock` is null before the
 * inline-lock rework
 */
export function dmaFenceInit(
  kernel: Kernel,
  ops: DmaFenceOps,
  lock: Spinlock | null,
  context: number,
  seqno: number,
): DmaFence {
  return new DmaFence(
    kernel,
    ops,
    lock,
    sizeT(context, "dma_fence_init", "context"), // u64
    sizeT(seqno, "dma_fence_init", "seqno"), // u64
  );
}

/**
 * As {@link dmaFenceInit} with 64-bit seqno comparison.
 *
 * **Kernel:** `dma_fence_init64()`.
 *
 * **Locking:** none.
 *
 * @throws {@link KernelBug} as {@link dmaFenceInit}
 */
export function dmaFenceInit64(
  kernel: Kernel,
  ops: DmaFenceOps,
  lock: Spinlock | null,
  context: number,
  seqno: number,
): DmaFence {
  const f = new DmaFence(
    kernel,
    ops,
    lock,
    sizeT(context, "dma_fence_init64", "context"),
    sizeT(seqno, "dma_fence_init64", "seqno"),
  );
  f.flags |= 1 << DMA_FENCE_FLAG_SEQNO64_BIT;
  return f;
}

function testBit(f: DmaFence, bit: number): boolean {
  return (f.flags & (1 << bit)) !== 0;
}

function testAndSetBit(f: DmaFence, bit: number): boolean {
  const was = testBit(f, bit);
  f.flags |= 1 << bit;
  return was;
}

/**
 * Take a reference. Returns `fence` (null stays null).
 *
 * **Kernel:** `dma_fence_get()`.
 *
 * **Locking:** any context; the caller must already hold a reference.
 */
export function dmaFenceGet<T extends DmaFence | null>(fence: T): T {
  if (fence) {
    krefGet(fence.refcount);
  }
  return fence;
}

/**
 * Take a reference unless the fence is already being released.
 *
 * **Kernel:** `dma_fence_get_rcu()`.
 *
 * **Locking:** any context (RCU read side in the kernel).
 */
export function dmaFenceGetRcu(fence: DmaFence): DmaFence | null {
  return krefGetUnlessZero(fence.refcount) ? fence : null;
}

/**
 * Drop a reference (null is ignored); the last one releases the fence.
 *
 * **Kernel:** `dma_fence_put()`.
 *
 * **Locking:** any context; the release runs in the caller's context.
 */
export function dmaFencePut(fence: DmaFence | null | undefined): void {
  if (fence) {
    krefPut(fence.refcount, () => dmaFenceRelease(fence));
  }
}

/** The number of references. **Kernel:** `kref_read(&fence->refcount)`. */
function refs(fence: DmaFence): number {
  return krefRead(fence.refcount);
}

/**
 * A fence used after its last reference was dropped (`dma_fence_release()` ran: the memory is
 * freed, KASAN reports the access). A `use-after-free` finding (`dma-fence-freed`), once per fence
 * and function; the call then goes on with the stale object, as the kernel would until the
 * memory is reused.
 */
function checkFreed(fence: DmaFence, fn: string): void {
  if (!fence.released || refs(fence) > 0 || fence.uafReported.has(fn)) {
    return;
  }
  fence.uafReported.add(fn);
  fence.kernel.report({
    kind: "use-after-free",
    code: "dma-fence-freed",
    summary: `BUG: KASAN: slab-use-after-free in ${fn}: fence ${fence.context}:${fence.seqno} was released`,
    details: {
      function: fn,
      context: fence.context,
      seqno: fence.seqno,
      hint: `take a reference (dma_fence_get) before ${fn} and drop it (dma_fence_put) after`,
    },
  });
}

/**
 * Release a fence whose last reference is gone. Pending callbacks on an unsignaled fence are a
 * refcounting bug: WARN, set `-EDEADLK`, signal so that waiters are not stranded.
 *
 * **Kernel:** `dma_fence_release()`.
 *
 * **Locking:** any context (called from {@link dmaFencePut}).
 */
export function dmaFenceRelease(fence: DmaFence): void {
  const kernel = fence.kernel;
  const pending = fence.cbList.length > 0 && !testBit(fence, DMA_FENCE_FLAG_SIGNALED_BIT);
  if (
    WARN_ON(
      kernel,
      pending,
      "drivers/dma-buf/dma-fence.c:dma_fence_release",
      `Fence ${dmaFenceDriverName(fence)}:${dmaFenceTimelineName(fence)}:${hex(fence.context)}:${hex(fence.seqno)} released with pending signals!`,
    )
  ) {
    spinLockIrqsave(fence.lock);
    try {
      fence.error = -ERRNO.EDEADLK;
      dmaFenceSignalLocked(fence);
    } finally {
      spinUnlockIrqrestore(fence.lock);
    }
  }
  fence.released = true;
  const ops = fence.ops;
  if (ops?.release) {
    ops.release(fence);
  }
  irqWorkRun(kernel);
}

function hex(n: number): string {
  return n.toString(16);
}

/**
 * The driver name, or `"detached-driver"` once a fence without ops has signaled.
 *
 * **Kernel:** `dma_fence_driver_name()`.
 *
 * **Locking:** any context.
 */
export function dmaFenceDriverName(fence: DmaFence): string {
  return fence.ops ? fence.ops.getDriverName(fence) : "detached-driver";
}

/**
 * The timeline name, or `"signaled-timeline"` once a fence without ops has signaled.
 *
 * **Kernel:** `dma_fence_timeline_name()`.
 *
 * **Locking:** any context.
 */
export function dmaFenceTimelineName(fence: DmaFence): string {
  return fence.ops ? fence.ops.getTimelineName(fence) : "signaled-timeline";
}

/**
 * Begin a fence-signalling critical section: the code from here to
 * {@link dmaFenceEndSignalling} is needed to signal some fence, so it must not wait for fences,
 * take locks held around fence waits, or allocate with GFP_KERNEL. Returns the cookie for the end.
 * Nested sections and atomic context are not annotated (cookie true).
 *
 * **Kernel:** `dma_fence_begin_signalling()` (a read acquisition of `dma_fence_map`).
 *
 * **Locking:** any context.
 */
export function dmaFenceBeginSignalling(kernel: Kernel): boolean {
  const map = resvState(kernel).fenceMap;
  if (kernel.lockdep.isHeld(map)) {
    return true;
  }
  if (kernel.sched.current.inAtomic()) {
    return true;
  }
  kernel.lockdep.acquire(map, { read: true });
  return false;
}

/**
 * End a section opened by {@link dmaFenceBeginSignalling}.
 *
 * **Kernel:** `dma_fence_end_signalling()`.
 *
 * **Locking:** pairs with the begin, same thread.
 */
export function dmaFenceEndSignalling(kernel: Kernel, cookie: boolean): void {
  if (cookie) {
    return;
  }
  kernel.lockdep.release(resvState(kernel).fenceMap);
}

/**
 * Tell lockdep that the caller may wait for a fence here: a write acquisition and release of
 * `dma_fence_map` (a read hold of the section itself is dropped around it, as in the kernel).
 *
 * **Kernel:** `__dma_fence_might_wait()`.
 *
 * **Locking:** any context.
 */
export function dmaFenceMightWait(kernel: Kernel): void {
  const map = resvState(kernel).fenceMap;
  const held = kernel.lockdep.isHeld(map);
  if (held) {
    kernel.lockdep.release(map);
  }
  kernel.lockdep.mightLock(map);
  if (held) {
    kernel.lockdep.acquire(map, { read: true });
  }
}

/** `__dma_fence_enable_signaling()`: the caller holds the fence lock. Returns "not signaled". */
function enableSignalingLocked(fence: DmaFence): boolean {
  const wasSet = testAndSetBit(fence, DMA_FENCE_FLAG_ENABLE_SIGNAL_BIT);
  if (testBit(fence, DMA_FENCE_FLAG_SIGNALED_BIT)) {
    return false;
  }
  const op = fence.ops?.enableSignaling;
  if (!wasSet && op) {
    if (!op(fence)) {
      dmaFenceSignalLocked(fence);
      return false;
    }
  }
  return true;
}

/**
 * Ask for the fence to be signaled in software as soon as it completes (arms the interrupt).
 *
 * **Kernel:** `dma_fence_enable_sw_signaling()`.
 *
 * **Locking:** takes the fence lock (atomic inside); must not be called with it held.
 */
export function dmaFenceEnableSwSignaling(fence: DmaFence): void {
  checkFreed(fence, "dma_fence_enable_sw_signaling");
  spinLockIrqsave(fence.lock);
  try {
    enableSignalingLocked(fence);
  } finally {
    spinUnlockIrqrestore(fence.lock);
  }
  irqWorkRun(fence.kernel);
}

/**
 * Register `func` to run when `fence` signals. Enables signalling.
 *
 * **Kernel:** `dma_fence_add_callback()`: 0, or `-ENOENT` when already signaled (the callback is
 * then never called and `cb` is left unqueued, so {@link dmaFenceRemoveCallback} returns false).
 *
 * **Locking:** takes the fence lock; `func` will run in atomic context with that lock held.
 *
 * @throws {@link KernelError} `ENOENT` when the fence is (or, on enabling, becomes) signaled
 */
export function dmaFenceAddCallback(fence: DmaFence, cb: DmaFenceCb, func: DmaFenceFunc): void {
  checkFreed(fence, "dma_fence_add_callback");
  if (testBit(fence, DMA_FENCE_FLAG_SIGNALED_BIT)) {
    cb.queuedOn = null;
    throw enoent(fence);
  }
  let added = false;
  spinLockIrqsave(fence.lock);
  try {
    if (enableSignalingLocked(fence)) {
      cb.func = func;
      cb.queuedOn = fence;
      fence.cbList.push(cb);
      added = true;
    } else {
      cb.queuedOn = null;
    }
  } finally {
    spinUnlockIrqrestore(fence.lock);
  }
  irqWorkRun(fence.kernel);
  if (!added) {
    throw enoent(fence);
  }
}

function enoent(fence: DmaFence): KernelError {
  return new KernelError("ENOENT", `fence ${fence.context}:${fence.seqno} is already signaled`);
}

/**
 * Remove a callback that has not run yet. Returns true if it was pending (now removed), false if
 * it already ran or was never queued. Meant for hang recovery only.
 *
 * **Kernel:** `dma_fence_remove_callback()`.
 *
 * **Locking:** takes the fence lock.
 */
export function dmaFenceRemoveCallback(fence: DmaFence, cb: DmaFenceCb): boolean {
  spinLockIrqsave(fence.lock);
  try {
    if (cb.queuedOn !== fence) {
      return false;
    }
    const i = fence.cbList.indexOf(cb);
    if (i >= 0) {
      fence.cbList.splice(i, 1);
    }
    cb.queuedOn = null;
    return true;
  } finally {
    spinUnlockIrqrestore(fence.lock);
  }
}

/**
 * Signal with a given timestamp; the caller holds the fence lock. Returns 0, or `-EINVAL` when the
 * fence was already signaled (nothing happens then).
 *
 * **Kernel:** `dma_fence_signal_timestamp_locked()`. The return is the ≤2025 int convention; it
 * is a value, not an error to throw: signalling an already signaled fence is a normal race outcome.
 *
 * **Locking:** `fence.lock` held (lockdep asserts it); callbacks run here, in atomic context.
 */
export function dmaFenceSignalTimestampLocked(fence: DmaFence, timestamp: number): number {
  const kernel = fence.kernel;
  kernel.lockdep.assertHeld(fence.lock.dep, "fence->lock");
  if (fence.released && refs(fence) <= 0) {
    kernel.report({
      kind: "use-after-free",
      code: "dma-fence-signal-after-free",
      summary: `dma_fence_signal() on fence ${fence.context}:${fence.seqno} after its last reference was dropped`,
      details: {
        context: fence.context,
        seqno: fence.seqno,
        hint: "the signaler must hold its own reference (dma_fence_get) until it has signaled the fence",
      },
    });
  }
  if (testAndSetBit(fence, DMA_FENCE_FLAG_SIGNALED_BIT)) {
    return -ERRNO.EINVAL;
  }
  const list = fence.cbList;
  fence.cbList = [];
  fence.timestamp = timestamp;
  fence.flags |= 1 << DMA_FENCE_FLAG_TIMESTAMP_BIT;
  kernel.trace(
    kernel.sched.current.name,
    "fence",
    `dma_fence_signaled ${fence.context}:${fence.seqno}`,
  );
  const ops = fence.ops;
  if (ops && !ops.release && !ops.wait && DMA_RESV_ERAS.signalDropsOps(kernel)) {
    fence.ops = null;
  }
  for (const cb of list) {
    cb.queuedOn = null;
    cb.func?.(fence, cb);
  }
  return 0;
}

/**
 * Signal now; the caller holds the fence lock.
 *
 * **Kernel:** `dma_fence_signal_locked()`.
 *
 * **Locking:** `fence.lock` held.
 */
export function dmaFenceSignalLocked(fence: DmaFence): number {
  return dmaFenceSignalTimestampLocked(fence, fence.kernel.clock.now());
}

/**
 * Signal with a given timestamp (e.g. when the hardware finished).
 *
 * **Kernel:** `dma_fence_signal_timestamp()`.
 *
 * **Locking:** takes the fence lock; a fence-signalling section.
 */
export function dmaFenceSignalTimestamp(fence: DmaFence, timestamp: number): number {
  const kernel = fence.kernel;
  const cookie = dmaFenceBeginSignalling(kernel);
  let ret: number;
  spinLockIrqsave(fence.lock);
  try {
    ret = dmaFenceSignalTimestampLocked(fence, timestamp);
  } finally {
    spinUnlockIrqrestore(fence.lock);
    dmaFenceEndSignalling(kernel, cookie);
  }
  irqWorkRun(kernel);
  return ret;
}

/**
 * Signal the fence: set the signaled bit, record the time, run the callbacks. Returns 0, or
 * `-EINVAL` if it had already signaled.
 *
 * **Kernel:** `dma_fence_signal()` (int return up to 2025, void after; callers ignore it).
 *
 * **Locking:** takes the fence lock (callbacks run under it, atomic); wrapped in a
 * fence-signalling section.
 */
export function dmaFenceSignal(fence: DmaFence): number {
  return dmaFenceSignalTimestamp(fence, fence.kernel.clock.now());
}

/**
 * Signal the fence; returns true if it had already signaled.
 *
 * **Kernel:** `dma_fence_check_and_signal()` (2026).
 *
 * **Locking:** as {@link dmaFenceSignal}.
 */
export function dmaFenceCheckAndSignal(fence: DmaFence): boolean {
  return dmaFenceSignal(fence) !== 0;
}

/**
 * Whether the signaled bit is set (no side effects).
 *
 * **Kernel:** `dma_fence_test_signaled_flag()`.
 *
 * **Locking:** any context.
 */
export function dmaFenceTestSignaledFlag(fence: DmaFence): boolean {
  return testBit(fence, DMA_FENCE_FLAG_SIGNALED_BIT);
}

/**
 * Whether the fence has signaled. If the bit is not set yet but `ops.signaled` says the work is
 * done, the fence is signaled now (a side effect, as in the kernel).
 *
 * **Kernel:** `dma_fence_is_signaled()`.
 *
 * **Locking:** any context; must not hold the fence lock (see {@link dmaFenceIsSignaledLocked}).
 */
export function dmaFenceIsSignaled(fence: DmaFence): boolean {
  if (testBit(fence, DMA_FENCE_FLAG_SIGNALED_BIT)) {
    return true;
  }
  if (fence.ops?.signaled?.(fence)) {
    dmaFenceSignal(fence);
    return true;
  }
  return false;
}

/**
 * As {@link dmaFenceIsSignaled} with the fence lock held.
 *
 * **Kernel:** `dma_fence_is_signaled_locked()`.
 *
 * **Locking:** `fence.lock` held.
 */
export function dmaFenceIsSignaledLocked(fence: DmaFence): boolean {
  if (testBit(fence, DMA_FENCE_FLAG_SIGNALED_BIT)) {
    return true;
  }
  if (fence.ops?.signaled?.(fence)) {
    dmaFenceSignalLocked(fence);
    return true;
  }
  return false;
}

/**
 * Record an error (a negative errno) to be reported when the fence signals. WARNs if the fence
 * already signaled or the value is not an errno; the value is stored anyway.
 *
 * **Kernel:** `dma_fence_set_error()`.
 *
 * **Locking:** before signalling; any context.
 */
export function dmaFenceSetError(fence: DmaFence, error: number): void {
  const k = fence.kernel;
  checkFreed(fence, "dma_fence_set_error");
  WARN_ON(
    k,
    testBit(fence, DMA_FENCE_FLAG_SIGNALED_BIT),
    "include/linux/dma-fence.h:dma_fence_set_error",
    `WARN_ON(test_bit(DMA_FENCE_FLAG_SIGNALED_BIT)): error ${error} set on fence ${fence.context}:${fence.seqno} after it signaled`,
  );
  WARN_ON(
    k,
    error >= 0 || error < -MAX_ERRNO,
    "include/linux/dma-fence.h:dma_fence_set_error",
    `WARN_ON(error >= 0 || error < -MAX_ERRNO): ${error}`,
  );
  fence.error = error;
}

/**
 * 0 while unsignaled; after signalling 1, or the negative error that was set.
 *
 * **Kernel:** `dma_fence_get_status_locked()`.
 *
 * **Locking:** `fence.lock` held.
 */
export function dmaFenceGetStatusLocked(fence: DmaFence): number {
  if (dmaFenceIsSignaledLocked(fence)) {
    return fence.error || 1;
  }
  return 0;
}

/**
 * 0 while unsignaled; after signalling 1, or the negative error that was set.
 *
 * **Kernel:** `dma_fence_get_status()`.
 *
 * **Locking:** takes the fence lock.
 */
export function dmaFenceGetStatus(fence: DmaFence): number {
  spinLockIrqsave(fence.lock);
  let status: number;
  try {
    status = dmaFenceGetStatusLocked(fence);
  } finally {
    spinUnlockIrqrestore(fence.lock);
  }
  irqWorkRun(fence.kernel);
  return status;
}

/**
 * The signal timestamp (ns). WARNs and returns the current time if the fence has not signaled.
 *
 * **Kernel:** `dma_fence_timestamp()`.
 *
 * **Locking:** any context.
 */
export function dmaFenceTimestamp(fence: DmaFence): number {
  if (
    WARN_ON(
      fence.kernel,
      !testBit(fence, DMA_FENCE_FLAG_SIGNALED_BIT),
      "include/linux/dma-fence.h:dma_fence_timestamp",
      "WARN_ON(!test_bit(DMA_FENCE_FLAG_SIGNALED_BIT))",
    )
  ) {
    return fence.kernel.clock.now();
  }
  return fence.timestamp;
}

/** `__dma_fence_is_later()`: 64-bit compare, or 32-bit wrap-around compare of the low bits. */
function seqnoIsLater(fence: DmaFence, f1: number, f2: number): boolean {
  if (testBit(fence, DMA_FENCE_FLAG_SEQNO64_BIT)) {
    return f1 > f2;
  }
  return ((f1 - f2) | 0) > 0;
}

/** @internal seqno comparison for code that has seqnos but not two fences */
export function dmaFenceSeqnoIsLater(fence: DmaFence, f1: number, f2: number): boolean {
  return seqnoIsLater(fence, f1, f2);
}

/**
 * Whether `f1` comes after `f2` on their (shared) timeline. Different contexts: WARN and false.
 *
 * **Kernel:** `dma_fence_is_later()`.
 *
 * **Locking:** any context.
 */
export function dmaFenceIsLater(f1: DmaFence, f2: DmaFence): boolean {
  if (
    WARN_ON(
      f1.kernel,
      f1.context !== f2.context,
      "include/linux/dma-fence.h:dma_fence_is_later",
      `WARN_ON(f1->context != f2->context): ${f1.context} vs ${f2.context}`,
    )
  ) {
    return false;
  }
  return seqnoIsLater(f1, f1.seqno, f2.seqno);
}

/**
 * Same fence, or later on the same timeline.
 *
 * **Kernel:** `dma_fence_is_later_or_same()`.
 *
 * **Locking:** any context.
 */
export function dmaFenceIsLaterOrSame(f1: DmaFence, f2: DmaFence): boolean {
  return f1 === f2 || dmaFenceIsLater(f1, f2);
}

/**
 * The later of two fences of one context, or null if that one has signaled (or the contexts
 * differ: WARN).
 *
 * **Kernel:** `dma_fence_later()`.
 *
 * **Locking:** any context.
 */
export function dmaFenceLater(f1: DmaFence, f2: DmaFence): DmaFence | null {
  if (
    WARN_ON(
      f1.kernel,
      f1.context !== f2.context,
      "include/linux/dma-fence.h:dma_fence_later",
      `WARN_ON(f1->context != f2->context): ${f1.context} vs ${f2.context}`,
    )
  ) {
    return null;
  }
  const later = dmaFenceIsLater(f1, f2) ? f1 : f2;
  return dmaFenceIsSignaled(later) ? null : later;
}

function remainingJiffies(kernel: Kernel, expire: number): number {
  return Math.max(0, expire - kernel.clock.jiffies);
}

/**
 * The wait used when a fence has no `wait` op: sleep until signaled, the timeout, or (if `intr`)
 * a signal. Returns `timeout` (1 when 0) if already signaled, 0 on timeout or for a zero-timeout
 * poll of an unsignaled fence, else the jiffies left (at least 1).
 *
 * **Kernel:** `dma_fence_default_wait()`.
 *
 * **Locking:** may sleep; takes the fence lock around its checks.
 *
 * @throws {@link KernelError} `ERESTARTSYS` when `intr` and a signal is pending
 */
export async function dmaFenceDefaultWait(
  fence: DmaFence,
  intr: boolean,
  timeout: number,
): Promise<number> {
  const kernel = fence.kernel;
  const self = kernel.sched.current;
  let ret = timeout ? timeout : 1;
  spinLockIrqsave(fence.lock);
  if (testBit(fence, DMA_FENCE_FLAG_SIGNALED_BIT)) {
    spinUnlockIrqrestore(fence.lock);
    return ret;
  }
  if (intr && self.signalPending) {
    spinUnlockIrqrestore(fence.lock);
    throw restart(fence);
  }
  if (!timeout) {
    spinUnlockIrqrestore(fence.lock);
    return 0;
  }
  const cb = new DmaFenceCb();
  cb.func = () => {
    kernel.sched.wake(self);
  };
  cb.queuedOn = fence;
  fence.cbList.unshift(cb);
  const forever = timeout >= MAX_SCHEDULE_TIMEOUT;
  const expire = forever ? Infinity : kernel.clock.jiffies + timeout;
  const deadlineNs = forever ? Infinity : kernel.clock.jiffiesToNs(expire);
  let interrupted = false;
  while (!testBit(fence, DMA_FENCE_FLAG_SIGNALED_BIT) && ret > 0) {
    spinUnlockIrqrestore(fence.lock);
    const what = `dma_fence ${fence.context}:${fence.seqno} (${dmaFenceDriverName(fence)} ${dmaFenceTimelineName(fence)})`;
    const why = await kernel.sched.block(
      what,
      forever
        ? { interruptible: intr }
        : { interruptible: intr, timeoutNs: deadlineNs - kernel.clock.now() },
    );
    if (!forever) {
      ret = why === "timeout" ? 0 : remainingJiffies(kernel, expire);
    }
    spinLockIrqsave(fence.lock);
    if (ret > 0 && intr && self.signalPending) {
      interrupted = true;
      break;
    }
  }
  if (cb.queuedOn === fence) {
    const i = fence.cbList.indexOf(cb);
    if (i >= 0) {
      fence.cbList.splice(i, 1);
    }
    cb.queuedOn = null;
  }
  spinUnlockIrqrestore(fence.lock);
  if (interrupted) {
    throw restart(fence);
  }
  return ret;
}

function restart(fence: DmaFence): KernelError {
  return new KernelError(
    "ERESTARTSYS",
    `interrupted while waiting for fence ${fence.context}:${fence.seqno}`,
  );
}

/**
 * Wait for the fence with a timeout in jiffies (`MAX_SCHEDULE_TIMEOUT` waits forever). Returns
 * the remaining jiffies (> 0) when signaled, 0 on timeout; with `timeout` 0 it only tests (1 if
 * signaled, else 0). Enables signalling, and tells lockdep that the caller waits for a fence.
 *
 * **Kernel:** `dma_fence_wait_timeout()`.
 *
 * **Locking:** may sleep (a scheduling point); must not be called in a signalling section while
 * holding locks the signaller needs (lockdep reports it).
 *
 * @throws {@link KernelError} `EINVAL` (with a WARN) for a negative timeout; `ERESTARTSYS` when
 * `intr` and a signal arrives
 */
export async function dmaFenceWaitTimeout(
  fence: DmaFence,
  intr: boolean,
  timeout: number,
): Promise<number> {
  const kernel = fence.kernel;
  timeout = cInteger(timeout, "dma_fence_wait_timeout", "timeout"); // signed long
  checkFreed(fence, "dma_fence_wait_timeout");
  if (
    WARN_ON(
      kernel,
      timeout < 0,
      "drivers/dma-buf/dma-fence.c:dma_fence_wait_timeout",
      `WARN_ON(timeout < 0): ${timeout}`,
    )
  ) {
    throw new KernelError("EINVAL", `dma_fence_wait_timeout with negative timeout ${timeout}`);
  }
  might_sleep(kernel, "dma_fence_wait_timeout");
  dmaFenceMightWait(kernel);
  await kernel.sched.schedulePoint();
  dmaFenceEnableSwSignaling(fence);
  kernel.trace(
    kernel.sched.current.name,
    "fence",
    `dma_fence_wait_start ${fence.context}:${fence.seqno}`,
  );
  const wait = fence.ops?.wait;
  const ret = wait
    ? await wait(fence, intr, timeout)
    : await dmaFenceDefaultWait(fence, intr, timeout);
  kernel.trace(
    kernel.sched.current.name,
    "fence",
    `dma_fence_wait_end ${fence.context}:${fence.seqno}`,
  );
  return ret;
}

/**
 * Wait until the fence signals. Resolves to 0.
 *
 * **Kernel:** `dma_fence_wait()` (`MAX_SCHEDULE_TIMEOUT`).
 *
 * **Locking:** may sleep.
 *
 * @throws {@link KernelError} `ERESTARTSYS` when `intr` and a signal arrives
 */
export async function dmaFenceWait(fence: DmaFence, intr: boolean): Promise<number> {
  const ret = await dmaFenceWaitTimeout(fence, intr, MAX_SCHEDULE_TIMEOUT);
  return ret < 0 ? ret : 0;
}

/**
 * Wait until any of `fences` signals. Returns the remaining jiffies (the full timeout if one had
 * already signaled; with `timeout` 0: 1 if any has signaled, else 0) and the index of a signaled
 * fence.
 *
 * **Kernel:** `dma_fence_wait_any_timeout()`.
 *
 * **Locking:** may sleep.
 *
 * @throws {@link KernelError} `EINVAL` (with a WARN) for an empty list or a negative timeout;
 * `ERESTARTSYS` on a signal when `intr`
 */
export async function dmaFenceWaitAnyTimeout(
  fences: readonly DmaFence[],
  intr: boolean,
  timeout: number,
): Promise<{ remaining: number; idx: number | undefined }> {
  const kernel0 = fences[0]?.kernel;
  if (!kernel0 || timeout < 0) {
    if (kernel0) {
      WARN_ON(
        kernel0,
        true,
        "drivers/dma-buf/dma-fence.c:dma_fence_wait_any_timeout",
        "WARN_ON(timeout < 0)",
      );
    }
    throw new KernelError("EINVAL", "dma_fence_wait_any_timeout: no fences or negative timeout");
  }
  const kernel = kernel0;
  const firstSignaled = (): number | undefined => {
    const i = fences.findIndex((f) => dmaFenceIsSignaled(f));
    return i >= 0 ? i : undefined;
  };
  if (timeout === 0) {
    const idx = firstSignaled();
    return { remaining: idx === undefined ? 0 : 1, idx };
  }
  might_sleep(kernel, "dma_fence_wait_any_timeout");
  await kernel.sched.schedulePoint();
  const self = kernel.sched.current;
  const cbs: DmaFenceCb[] = [];
  let ret = timeout;
  let idx: number | undefined;
  try {
    for (let i = 0; i < fences.length; i++) {
      const cb = new DmaFenceCb();
      try {
        dmaFenceAddCallback(fences[i] as DmaFence, cb, () => {
          kernel.sched.wake(self);
        });
      } catch (e) {
        if (e instanceof KernelError && e.code === "ENOENT") {
          return { remaining: ret, idx: i };
        }
        throw e;
      } finally {
        cbs.push(cb);
      }
    }
    const forever = timeout >= MAX_SCHEDULE_TIMEOUT;
    const expire = forever ? Infinity : kernel.clock.jiffies + timeout;
    while (ret > 0) {
      idx = firstSignaled();
      if (idx !== undefined) {
        break;
      }
      const why = await kernel.sched.block(
        `any of ${fences.length} fences`,
        forever
          ? { interruptible: intr }
          : {
              interruptible: intr,
              timeoutNs: kernel.clock.jiffiesToNs(expire) - kernel.clock.now(),
            },
      );
      if (!forever) {
        ret = why === "timeout" ? 0 : remainingJiffies(kernel, expire);
      }
      if (ret > 0 && intr && self.signalPending) {
        throw new KernelError("ERESTARTSYS", "interrupted while waiting for any fence");
      }
    }
    return { remaining: ret, idx };
  } finally {
    cbs.forEach((cb, i) => dmaFenceRemoveCallback(fences[i] as DmaFence, cb));
  }
}

const STUB_OPS: DmaFenceOps = {
  getDriverName: () => "stub",
  getTimelineName: () => "stub",
};

function stubLock(kernel: Kernel): Spinlock {
  const s = resvState(kernel);
  s.stubLock ??= spinLockInit(kernel, "dma_fence_stub_lock");
  return s.stubLock;
}

/**
 * A reference to this kernel's stub fence: context 0, seqno 0, signaled the first time it is
 * asked for.
 *
 * **Kernel:** `dma_fence_get_stub()`.
 *
 * **Locking:** takes the stub lock briefly.
 */
export function dmaFenceGetStub(kernel: Kernel): DmaFence {
  const s = resvState(kernel);
  if (!s.stub) {
    const lock = stubLock(kernel);
    const stub = new DmaFence(kernel, STUB_OPS, lock, 0, 0);
    stub.flags |= 1 << DMA_FENCE_FLAG_ENABLE_SIGNAL_BIT;
    spinLockIrqsave(lock);
    try {
      dmaFenceSignalLocked(stub);
    } finally {
      spinUnlockIrqrestore(lock);
    }
    s.stub = stub;
  }
  return dmaFenceGet(s.stub);
}

/**
 * A new, already signaled fence with the given timestamp.
 *
 * **Kernel:** `dma_fence_allocate_private_stub()`.
 *
 * **Locking:** any context.
 */
export function dmaFenceAllocatePrivateStub(kernel: Kernel, timestamp: number): DmaFence {
  const f = new DmaFence(kernel, STUB_OPS, stubLock(kernel), 0, 0);
  f.flags |= 1 << DMA_FENCE_FLAG_ENABLE_SIGNAL_BIT;
  dmaFenceSignalTimestamp(f, timestamp);
  return f;
}

/**
 * Pass a deadline hint to the implementation, if it takes one and the fence is pending.
 *
 * **Kernel:** `dma_fence_set_deadline()`.
 *
 * **Locking:** any context.
 */
export function dmaFenceSetDeadline(fence: DmaFence, deadline: number): void {
  const op = fence.ops?.setDeadline;
  if (op && !dmaFenceIsSignaled(fence)) {
    op(fence, deadline);
  }
}

/**
 * One line describing the fence: `<driver> <timeline> seq <seqno> signalled|unsignalled`.
 *
 * **Kernel:** `dma_fence_describe()`.
 *
 * **Locking:** any context.
 */
export function dmaFenceDescribe(fence: DmaFence): string {
  return `${dmaFenceDriverName(fence)} ${dmaFenceTimelineName(fence)} seq ${fence.seqno} ${dmaFenceIsSignaled(fence) ? "" : "un"}signalled`;
}

/**
 * Whether `fence` is a container (array or chain): containers must not be added to a reservation
 * object.
 *
 * **Kernel:** `dma_fence_is_container()`.
 *
 * **Locking:** any context.
 */
export function dmaFenceIsContainer(fence: DmaFence): boolean {
  return fence.kind !== "fence";
}

/**
 * Take the fence lock with interrupts off (e.g. to flush running callbacks).
 *
 * **Kernel:** `dma_fence_lock_irqsave()`.
 *
 * **Locking:** enters atomic context until {@link dmaFenceUnlockIrqrestore}.
 */
export function dmaFenceLockIrqsave(fence: DmaFence): void {
  spinLockIrqsave(fence.lock);
}

/**
 * Release the fence lock.
 *
 * **Kernel:** `dma_fence_unlock_irqrestore()`.
 *
 * **Locking:** pairs with {@link dmaFenceLockIrqsave}.
 */
export function dmaFenceUnlockIrqrestore(fence: DmaFence): void {
  spinUnlockIrqrestore(fence.lock);
  irqWorkRun(fence.kernel);
}
