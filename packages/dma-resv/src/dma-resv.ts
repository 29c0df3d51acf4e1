/**
 * Reservation objects: a ww_mutex of {@link reservationWwClass} plus a list of fences, each with a
 * usage. They carry the implicit synchronisation of a shared buffer.
 *
 * **Kernel:** drivers/dma-buf/dma-resv.c, include/linux/dma-resv.h (the usage-based API of 5.19+).
 *
 * Writers to the fence list hold the lock; readers may walk it without the lock (the kernel uses
 * RCU): an unlocked walk restarts from the beginning whenever the list was reallocated underneath
 * it. Fence slots must be reserved with {@link dmaResvReserveFences} in the same locked section
 * before {@link dmaResvAddFence}; with `CONFIG_DEBUG_MUTEXES` unused reservations are dropped at
 * unlock so a missing reservation is caught (a BUG) even when a previous section left room.
 *
 * @module
 */
import {
  BUG_ON,
  KernelError,
  WARN_ON,
  WARN_ON_ONCE,
  rcuReadLock,
  rcuReadUnlock,
  cInteger,
  uintT,
  type Kernel,
  type LockdepMap,
} from "@dmasim/kernel";
import { dmaFenceArrayCreate } from "./dma-fence-array";
import {
  dmaFenceContextAlloc,
  dmaFenceDescribe,
  dmaFenceGet,
  dmaFenceGetRcu,
  dmaFenceIsContainer,
  dmaFenceIsLaterOrSame,
  dmaFenceIsSignaled,
  dmaFencePut,
  dmaFenceSetDeadline,
  dmaFenceWaitTimeout,
  type DmaFence,
} from "./dma-fence";
import { DMA_RESV_ERAS, resvState } from "./module";
import {
  reservationWwClass,
  wwMutexDestroy,
  wwMutexInit,
  wwMutexIsLocked,
  wwMutexLock,
  wwMutexLockInterruptible,
  wwMutexLockSlow,
  wwMutexLockSlowInterruptible,
  wwMutexTrylock,
  wwMutexUnlock,
  type WwAcquireCtx,
  type WwMutex,
} from "./ww_mutex";

/** In-kernel memory management (moves, clears): everyone waits for these. **Kernel:** `DMA_RESV_USAGE_KERNEL`. */
export const DMA_RESV_USAGE_KERNEL = 0;
/** Implicit-sync writers. **Kernel:** `DMA_RESV_USAGE_WRITE`. */
export const DMA_RESV_USAGE_WRITE = 1;
/** Implicit-sync readers. **Kernel:** `DMA_RESV_USAGE_READ`. */
export const DMA_RESV_USAGE_READ = 2;
/** Not part of implicit sync (memory management still waits). **Kernel:** `DMA_RESV_USAGE_BOOKKEEP`. */
export const DMA_RESV_USAGE_BOOKKEEP = 3;

/**
 * A fence usage; a query for usage U returns every fence whose usage is ≤ U.
 *
 * **Kernel:** `enum dma_resv_usage`.
 */
export type DmaResvUsage =
  | typeof DMA_RESV_USAGE_KERNEL
  | typeof DMA_RESV_USAGE_WRITE
  | typeof DMA_RESV_USAGE_READ
  | typeof DMA_RESV_USAGE_BOOKKEEP;

const USAGE_NAMES = ["kernel", "write", "read", "bookkeep"] as const;

/**
 * The usage a new access must wait for: a writer waits for readers and writers (`READ`), a reader
 * only for writers (`WRITE`).
 *
 * **Kernel:** `dma_resv_usage_rw()`.
 *
 * **Locking:** none.
 */
export function dmaResvUsageRw(write: boolean): DmaResvUsage {
  return write ? DMA_RESV_USAGE_READ : DMA_RESV_USAGE_WRITE;
}

/** One slot of the fence table. */
interface DmaResvEntry {
  fence: DmaFence;
  usage: DmaResvUsage;
}

/**
 * The fence table of a reservation object. Replaced (not resized) when it grows, which is what
 * makes unlocked iterators restart.
 *
 * **Kernel:** `struct dma_resv_list`.
 *
 * **Locking:** written under the reservation lock; read locklessly.
 */
export class DmaResvList {
  numFences = 0;
  /** @internal */
  readonly table: (DmaResvEntry | undefined)[] = [];
  constructor(
    /** Slots available (reservations = `maxFences - numFences`). */
    public maxFences: number,
  ) {}
}

/**
 * A reservation object.
 *
 * **Kernel:** `struct dma_resv`.
 *
 * **Locking:** `lock` protects `fences` for writers; readers use the unlocked iterators.
 */
export class DmaResv {
  /** The reservation lock (class `reservation_ww_class_mutex`). */
  readonly lock: WwMutex;
  /** The fence table, null until the first reservation. */
  fences: DmaResvList | null = null;

  constructor(
    readonly kernel: Kernel,
    readonly name: string,
  ) {
    this.lock = wwMutexInit(kernel, name, reservationWwClass);
  }
}

/** Bytes of the list header (rcu_head, num_fences, max_fences) and of one table entry. */
const LIST_HEADER = 24;
const ENTRY_SIZE = 8;
/** The largest kmalloc(): an order-`MAX_PAGE_ORDER` block (4 MiB). **Kernel:** `KMALLOC_MAX_SIZE`. */
const KMALLOC_MAX_SIZE = 4096 << 10;
const KMALLOC_SIZES = [8, 16, 32, 64, 96, 128, 192, 256, 512, 1024, 2048, 4096, 8192];

/** `kmalloc_size_roundup()`: the kmalloc bucket a request lands in. */
function kmallocSizeRoundup(size: number): number {
  for (const b of KMALLOC_SIZES) {
    if (size <= b) {
      return b;
    }
  }
  return Math.ceil(size / 4096) * 4096;
}

/** `dma_resv_list_alloc()`: capacity grows to what the kmalloc bucket holds. */
function listAlloc(maxFences: number): DmaResvList {
  const size = kmallocSizeRoundup(LIST_HEADER + maxFences * ENTRY_SIZE);
  return new DmaResvList(Math.floor((size - LIST_HEADER) / ENTRY_SIZE));
}

function roundupPowOfTwo(n: number): number {
  let p = 1;
  while (p < n) {
    p *= 2;
  }
  return p;
}

/**
 * Create a reservation object: its lock (of {@link reservationWwClass}) and an empty fence list.
 *
 * **Kernel:** `dma_resv_init()`.
 *
 * **Locking:** none.
 */
export function dmaResvInit(kernel: Kernel, name = "&obj->lock"): DmaResv {
  resvState(kernel);
  return new DmaResv(kernel, name);
}

/**
 * Tear down a reservation object: drop every fence reference. The lock must be free (debug: WARN).
 *
 * **Kernel:** `dma_resv_fini()`.
 *
 * **Locking:** the object is dead; nobody else may use it.
 */
export function dmaResvFini(obj: DmaResv): void {
  const list = obj.fences;
  obj.fences = null;
  if (list) {
    for (let i = 0; i < list.numFences; i++) {
      dmaFencePut(list.table[i]?.fence);
    }
  }
  wwMutexDestroy(obj.lock);
}

/**
 * The lockdep map of the reservation lock, for `might_lock` / assert-held / assert-not-held
 * checks in upper layers (`kernel.lockdep.mightLock(dmaResvLockdepMap(resv))`).
 *
 * **Kernel:** `&obj->lock.base.dep_map`.
 *
 * **Locking:** none.
 */
export function dmaResvLockdepMap(obj: DmaResv): LockdepMap {
  return obj.lock.dep;
}

/**
 * Take the reservation lock, as part of the transaction `ctx` or alone (null).
 *
 * **Kernel:** `dma_resv_lock()`.
 *
 * **Locking:** may sleep.
 *
 * @throws {@link KernelError} `EDEADLK` (only with a context holding other reservation locks:
 * back off with {@link dmaResvLockSlow}); `EALREADY` when `ctx` already holds it
 */
export async function dmaResvLock(obj: DmaResv, ctx: WwAcquireCtx | null): Promise<void> {
  await wwMutexLock(obj.lock, ctx);
}

/**
 * As {@link dmaResvLock}, but a signal ends the wait.
 *
 * **Kernel:** `dma_resv_lock_interruptible()`.
 *
 * **Locking:** may sleep.
 *
 * @throws {@link KernelError} `EDEADLK`, `EALREADY`, or `EINTR`
 */
export async function dmaResvLockInterruptible(
  obj: DmaResv,
  ctx: WwAcquireCtx | null,
): Promise<void> {
  await wwMutexLockInterruptible(obj.lock, ctx);
}

/**
 * After `-EDEADLK` and after dropping every reservation lock of `ctx`: sleep until `obj` is ours.
 *
 * **Kernel:** `dma_resv_lock_slow()`.
 *
 * **Locking:** may sleep; see {@link wwMutexLockSlow}.
 */
export async function dmaResvLockSlow(obj: DmaResv, ctx: WwAcquireCtx): Promise<void> {
  await wwMutexLockSlow(obj.lock, ctx);
}

/**
 * Interruptible slow path.
 *
 * **Kernel:** `dma_resv_lock_slow_interruptible()`.
 *
 * **Locking:** may sleep.
 *
 * @throws {@link KernelError} `EINTR`
 */
export async function dmaResvLockSlowInterruptible(obj: DmaResv, ctx: WwAcquireCtx): Promise<void> {
  await wwMutexLockSlowInterruptible(obj.lock, ctx);
}

/**
 * Take the reservation lock if it is free (no context).
 *
 * **Kernel:** `dma_resv_trylock()`.
 *
 * **Locking:** never sleeps.
 */
export function dmaResvTrylock(obj: DmaResv): boolean {
  return wwMutexTrylock(obj.lock, null);
}

/**
 * Whether anyone holds the reservation lock.
 *
 * **Kernel:** `dma_resv_is_locked()`.
 *
 * **Locking:** none (a snapshot).
 */
export function dmaResvIsLocked(obj: DmaResv): boolean {
  return wwMutexIsLocked(obj.lock);
}

/**
 * The acquire context the lock is held with, or null.
 *
 * **Kernel:** `dma_resv_locking_ctx()`.
 *
 * **Locking:** none (a snapshot).
 */
export function dmaResvLockingCtx(obj: DmaResv): WwAcquireCtx | null {
  return obj.lock.ctx;
}

/**
 * Whether the running thread holds the lock (as lockdep sees it).
 *
 * **Kernel:** `dma_resv_held()`.
 *
 * **Locking:** none.
 */
export function dmaResvHeld(obj: DmaResv): boolean {
  return obj.kernel.lockdep.isHeld(obj.lock.dep);
}

/**
 * Report (lockdep) unless the running thread holds the lock.
 *
 * **Kernel:** `dma_resv_assert_held()`.
 *
 * **Locking:** this is the check.
 */
export function dmaResvAssertHeld(obj: DmaResv): void {
  obj.kernel.lockdep.assertHeld(obj.lock.dep, `${obj.name} (dma_resv)`);
}

/**
 * Drop the reservation lock. With `CONFIG_DEBUG_MUTEXES`, unused fence reservations are thrown
 * away first, so a later {@link dmaResvAddFence} without its own reservation is caught.
 *
 * **Kernel:** `dma_resv_unlock()` (with `dma_resv_reset_max_fences()`).
 *
 * **Locking:** the caller must hold the lock.
 */
export function dmaResvUnlock(obj: DmaResv): void {
  if (obj.kernel.options.enabled("CONFIG_DEBUG_MUTEXES")) {
    dmaResvAssertHeld(obj);
    if (obj.fences) {
      obj.fences.maxFences = obj.fences.numFences;
    }
  }
  wwMutexUnlock(obj.lock);
}

/**
 * Make room for `numFences` more fences. Growing allocates a new table (unsignaled fences first,
 * signaled ones dropped) so that lockless readers see a consistent list and restart.
 *
 * **Kernel:** `dma_resv_reserve_fences()`.
 *
 * **Locking:** the reservation lock must be held (asserted). Reservations last until unlock.
 *
 * @throws {@link KernelError} `EINVAL` (after a WARN) when `numFences` is 0 (6.11+; 0 succeeds before)
 */
export function dmaResvReserveFences(obj: DmaResv, numFences: number): void {
  dmaResvAssertHeld(obj);
  numFences = uintT(numFences, "dma_resv_reserve_fences", "num_fences"); // unsigned int
  // before 6.11 a request for no room goes the normal way and succeeds (an empty list still gets
  // its first table of 4)
  if (
    DMA_RESV_ERAS.reserveZeroWarns(obj.kernel) &&
    WARN_ON(
      obj.kernel,
      numFences === 0,
      "drivers/dma-buf/dma-resv.c:dma_resv_reserve_fences",
      "WARN_ON(!num_fences): dma_resv_reserve_fences() called with 0",
    )
  ) {
    throw new KernelError("EINVAL", "dma_resv_reserve_fences: num_fences is 0");
  }
  const old = obj.fences;
  let max: number;
  if (old && old.maxFences) {
    if (old.numFences + numFences <= old.maxFences) {
      return;
    }
    max = Math.max(old.numFences + numFences, old.maxFences * 2);
  } else {
    max = Math.max(4, roundupPowOfTwo(numFences));
  }
  if (LIST_HEADER + max * ENTRY_SIZE > KMALLOC_MAX_SIZE) {
    // kmalloc() of more than KMALLOC_MAX_SIZE: the page allocator's order check and NULL
    WARN_ON_ONCE(
      obj.kernel,
      true,
      "mm/page_alloc.c:__alloc_pages",
      `order > MAX_PAGE_ORDER: dma_resv_list_alloc(${max})`,
    );
    throw new KernelError("ENOMEM", `dma_resv_reserve_fences: no memory for ${max} fences`);
  }
  const fresh = listAlloc(max);
  const dropped: DmaFence[] = [];
  for (let i = 0; i < (old?.numFences ?? 0); i++) {
    const e = old?.table[i] as DmaResvEntry;
    if (dmaFenceIsSignaled(e.fence)) {
      dropped.push(e.fence);
    } else {
      fresh.table[fresh.numFences++] = { fence: e.fence, usage: e.usage };
    }
  }
  obj.fences = fresh;
  for (const f of dropped) {
    dmaFencePut(f);
  }
}

/**
 * Add `fence` with `usage`, taking a reference. An entry of the same context with a usage ≥
 * `usage` that `fence` is the same as or later than is replaced, as is any entry whose fence has
 * signaled; otherwise the fence takes a reserved slot. Adding a container WARNs. A fence can be
 * promoted (re-added with a stronger usage) but never degraded.
 *
 * **Kernel:** `dma_resv_add_fence()`.
 *
 * **Locking:** the reservation lock must be held (asserted), and a slot reserved in this locked
 * section.
 *
 * @throws {@link KernelBug} when no slot is reserved (the kernel's BUG_ON, or its NULL
 * dereference when nothing was ever reserved)
 */
export function dmaResvAddFence(obj: DmaResv, fence: DmaFence, usage: DmaResvUsage): void {
  const kernel = obj.kernel;
  dmaFenceGet(fence);
  dmaResvAssertHeld(obj);
  WARN_ON(
    kernel,
    dmaFenceIsContainer(fence),
    "drivers/dma-buf/dma-resv.c:dma_resv_add_fence",
    `WARN_ON(dma_fence_is_container(fence)): ${fence.kind} ${fence.context}:${fence.seqno} added to ${obj.name}; add its fences one by one`,
  );
  const list = obj.fences;
  BUG_ON(
    kernel,
    list === null,
    "drivers/dma-buf/dma-resv.c:dma_resv_add_fence",
    `BUG: kernel NULL pointer dereference: dma_resv_add_fence() on ${obj.name} without dma_resv_reserve_fences()`,
  );
  const fobj = list as DmaResvList;
  for (let i = 0; i < fobj.numFences; i++) {
    const e = fobj.table[i] as DmaResvEntry;
    const old = e.fence;
    if (
      (old.context === fence.context && e.usage >= usage && dmaFenceIsLaterOrSame(fence, old)) ||
      dmaFenceIsSignaled(old)
    ) {
      fobj.table[i] = { fence, usage };
      dmaFencePut(old);
      return;
    }
  }
  BUG_ON(
    kernel,
    fobj.numFences >= fobj.maxFences,
    "drivers/dma-buf/dma-resv.c:dma_resv_add_fence",
    `BUG_ON(fobj->num_fences >= fobj->max_fences): no reserved fence slot on ${obj.name} (${fobj.numFences}/${fobj.maxFences}); call dma_resv_reserve_fences() in this locked section`,
  );
  fobj.table[fobj.numFences] = { fence, usage };
  fobj.numFences++;
}

/**
 * Replace every fence of `context` by `replacement` with `usage` (e.g. a preemption fence by a
 * page-table update fence).
 *
 * **Kernel:** `dma_resv_replace_fences()`.
 *
 * **Locking:** the reservation lock must be held (asserted).
 */
export function dmaResvReplaceFences(
  obj: DmaResv,
  context: number,
  replacement: DmaFence,
  usage: DmaResvUsage,
): void {
  dmaResvAssertHeld(obj);
  const list = obj.fences;
  for (let i = 0; list && i < list.numFences; i++) {
    const e = list.table[i] as DmaResvEntry;
    if (e.fence.context !== context) {
      continue;
    }
    const old = e.fence;
    list.table[i] = { fence: dmaFenceGet(replacement), usage };
    dmaFencePut(old);
  }
}

/**
 * An iteration over the fences of a reservation object.
 *
 * **Kernel:** `struct dma_resv_iter`.
 *
 * **Locking:** owned by the iterating caller. Setting `fences` to anything but the object's
 * current list forces the next unlocked step to restart (the selftest does this).
 */
export class DmaResvIter {
  /** The current fence (referenced while an unlocked iteration stands on it). */
  fence: DmaFence | null = null;
  /** Its usage. */
  fenceUsage: DmaResvUsage = DMA_RESV_USAGE_KERNEL;
  /** Next index in the list. */
  index = 0;
  /** The list being walked. */
  fences: DmaResvList | null = null;
  /** How many entries the walked list had when the walk (re)started. */
  numFences = 0;
  /** True on the first fence after a (re)start. */
  isRestarted = false;

  constructor(
    readonly obj: DmaResv,
    /** The weakest usage to return. */
    readonly usage: DmaResvUsage,
  ) {}
}

/**
 * Start an iteration over the fences of `obj` with usage ≤ `usage`.
 *
 * **Kernel:** `dma_resv_iter_begin()`.
 *
 * **Locking:** none.
 */
export function dmaResvIterBegin(obj: DmaResv, usage: DmaResvUsage): DmaResvIter {
  return new DmaResvIter(obj, usage);
}

/**
 * End an iteration: drop the reference on the current fence.
 *
 * **Kernel:** `dma_resv_iter_end()`.
 *
 * **Locking:** none.
 */
export function dmaResvIterEnd(cursor: DmaResvIter): void {
  dmaFencePut(cursor.fence);
  cursor.fence = null;
}

function restartUnlocked(cursor: DmaResvIter): void {
  cursor.index = 0;
  cursor.numFences = 0;
  cursor.fences = cursor.obj.fences;
  if (cursor.fences) {
    cursor.numFences = cursor.fences.numFences;
  }
  cursor.isRestarted = true;
}

function walkUnlocked(cursor: DmaResvIter): void {
  if (!cursor.fences) {
    return;
  }
  for (;;) {
    dmaFencePut(cursor.fence);
    if (cursor.index >= cursor.numFences) {
      cursor.fence = null;
      break;
    }
    const e = cursor.fences.table[cursor.index++];
    if (!e) {
      cursor.fence = null;
      break;
    }
    cursor.fenceUsage = e.usage;
    cursor.fence = dmaFenceGetRcu(e.fence);
    if (!cursor.fence) {
      restartUnlocked(cursor);
      continue;
    }
    if (!dmaFenceIsSignaled(cursor.fence) && cursor.usage >= cursor.fenceUsage) {
      break;
    }
  }
}

/**
 * The first unsignaled fence (with a reference held by the cursor), or null.
 *
 * **Kernel:** `dma_resv_iter_first_unlocked()`.
 *
 * **Locking:** no lock needed (RCU read side inside).
 */
export function dmaResvIterFirstUnlocked(cursor: DmaResvIter): DmaFence | null {
  const kernel = cursor.obj.kernel;
  rcuReadLock(kernel);
  try {
    do {
      restartUnlocked(cursor);
      walkUnlocked(cursor);
    } while (cursor.obj.fences !== cursor.fences);
  } finally {
    rcuReadUnlock(kernel);
  }
  return cursor.fence;
}

/**
 * The next unsignaled fence, or null. Restarts from the beginning (setting `isRestarted`) when
 * the list was replaced since the last step.
 *
 * **Kernel:** `dma_resv_iter_next_unlocked()`.
 *
 * **Locking:** no lock needed.
 */
export function dmaResvIterNextUnlocked(cursor: DmaResvIter): DmaFence | null {
  const kernel = cursor.obj.kernel;
  rcuReadLock(kernel);
  try {
    cursor.isRestarted = false;
    let restart = cursor.obj.fences !== cursor.fences;
    do {
      if (restart) {
        restartUnlocked(cursor);
      }
      walkUnlocked(cursor);
      restart = true;
    } while (cursor.obj.fences !== cursor.fences);
  } finally {
    rcuReadUnlock(kernel);
  }
  return cursor.fence;
}

/**
 * Walk the unsignaled fences with usage ≤ the cursor's, without the lock. Each fence is
 * referenced while the loop body runs; the body may sleep. Consumers that accumulate must reset
 * when `cursor.isRestarted` is true. Call {@link dmaResvIterEnd} when leaving the loop early.
 *
 * **Kernel:** `dma_resv_for_each_fence_unlocked()`.
 *
 * **Locking:** no lock needed.
 */
export function* dmaResvForEachFenceUnlocked(
  cursor: DmaResvIter,
): Generator<DmaFence, void, undefined> {
  for (let f = dmaResvIterFirstUnlocked(cursor); f; f = dmaResvIterNextUnlocked(cursor)) {
    yield f;
  }
}

/**
 * The first fence (signaled ones included) under the lock, or null.
 *
 * **Kernel:** `dma_resv_iter_first()`.
 *
 * **Locking:** the reservation lock must be held (asserted). No references are taken.
 */
export function dmaResvIterFirst(cursor: DmaResvIter): DmaFence | null {
  dmaResvAssertHeld(cursor.obj);
  cursor.index = 0;
  cursor.fences = cursor.obj.fences;
  const f = dmaResvIterNext(cursor);
  cursor.isRestarted = true;
  return f;
}

/**
 * The next fence under the lock, or null.
 *
 * **Kernel:** `dma_resv_iter_next()`.
 *
 * **Locking:** the reservation lock must be held (asserted).
 */
export function dmaResvIterNext(cursor: DmaResvIter): DmaFence | null {
  dmaResvAssertHeld(cursor.obj);
  cursor.isRestarted = false;
  for (;;) {
    const list = cursor.fences;
    if (!list || cursor.index >= list.numFences) {
      return null;
    }
    const e = list.table[cursor.index++] as DmaResvEntry;
    cursor.fenceUsage = e.usage;
    if (e.usage <= cursor.usage) {
      return e.fence;
    }
  }
}

/**
 * Walk every fence with usage ≤ `usage` (signaled ones included) under the lock, in list order.
 * No references are taken: the fences stay valid while the lock is held.
 *
 * **Kernel:** `dma_resv_for_each_fence()`.
 *
 * **Locking:** the reservation lock must be held (asserted).
 */
export function* dmaResvForEachFence(cursor: DmaResvIter): Generator<DmaFence, void, undefined> {
  for (let f = dmaResvIterFirst(cursor); f; f = dmaResvIterNext(cursor)) {
    yield f;
  }
}

/**
 * The usage of the cursor's current fence.
 *
 * **Kernel:** `dma_resv_iter_usage()`.
 *
 * **Locking:** as the iteration.
 */
export function dmaResvIterUsage(cursor: DmaResvIter): DmaResvUsage {
  return cursor.fenceUsage;
}

/**
 * Whether the cursor's current fence is the first after a (re)start.
 *
 * **Kernel:** `dma_resv_iter_is_restarted()`.
 *
 * **Locking:** as the iteration.
 */
export function dmaResvIterIsRestarted(cursor: DmaResvIter): boolean {
  return cursor.isRestarted;
}

/**
 * A lockless snapshot of the unsignaled fences with usage ≤ `usage`, each with a reference the
 * caller must drop.
 *
 * **Kernel:** `dma_resv_get_fences()` (its `-ENOMEM` is not modelled).
 *
 * **Locking:** no lock needed.
 */
export function dmaResvGetFences(obj: DmaResv, usage: DmaResvUsage): DmaFence[] {
  let fences: DmaFence[] = [];
  const cursor = dmaResvIterBegin(obj, usage);
  for (const f of dmaResvForEachFenceUnlocked(cursor)) {
    if (dmaResvIterIsRestarted(cursor)) {
      for (const old of fences) {
        dmaFencePut(old);
      }
      fences = [];
    }
    fences.push(dmaFenceGet(f));
  }
  dmaResvIterEnd(cursor);
  return fences;
}

/**
 * One fence standing for every unsignaled fence with usage ≤ `usage`: null for none, the fence
 * itself for one, else a new fence array (fresh context, seqno 1) that signals when all have.
 * The result has a reference; it must not be added back to a reservation object.
 *
 * **Kernel:** `dma_resv_get_singleton()`.
 *
 * **Locking:** no lock needed.
 */
export function dmaResvGetSingleton(obj: DmaResv, usage: DmaResvUsage): DmaFence | null {
  const fences = dmaResvGetFences(obj, usage);
  if (fences.length === 0) {
    return null;
  }
  if (fences.length === 1) {
    return fences[0] as DmaFence;
  }
  return dmaFenceArrayCreate(obj.kernel, fences, dmaFenceContextAlloc(obj.kernel, 1), 1, false);
}

/**
 * Replace the fences of `dst` by a snapshot of the unsignaled fences of `src` (every usage).
 *
 * **Kernel:** `dma_resv_copy_fences()`.
 *
 * **Locking:** `dst` must be held (asserted); `src` needs no lock.
 */
export function dmaResvCopyFences(dst: DmaResv, src: DmaResv): void {
  dmaResvAssertHeld(dst);
  let list: DmaResvList | null = null;
  const drop = (l: DmaResvList | null): void => {
    for (let i = 0; l && i < l.numFences; i++) {
      dmaFencePut(l.table[i]?.fence);
    }
  };
  const cursor = dmaResvIterBegin(src, DMA_RESV_USAGE_BOOKKEEP);
  for (const f of dmaResvForEachFenceUnlocked(cursor)) {
    if (dmaResvIterIsRestarted(cursor) || !list) {
      drop(list);
      list = listAlloc(cursor.numFences);
    }
    list.table[list.numFences++] = { fence: dmaFenceGet(f), usage: dmaResvIterUsage(cursor) };
  }
  dmaResvIterEnd(cursor);
  const old = dst.fences;
  dst.fences = list;
  drop(old);
}

/**
 * True when no unsignaled fence with usage ≤ `usage` is left.
 *
 * **Kernel:** `dma_resv_test_signaled()`.
 *
 * **Locking:** no lock needed.
 */
export function dmaResvTestSignaled(obj: DmaResv, usage: DmaResvUsage): boolean {
  const cursor = dmaResvIterBegin(obj, usage);
  const first = dmaResvIterFirstUnlocked(cursor);
  dmaResvIterEnd(cursor);
  return first === null;
}

/**
 * Wait for every unsignaled fence with usage ≤ `usage`, one after another, within `timeout`
 * jiffies in all. Returns the jiffies left (> 0), or 0 on timeout; with `timeout` 0 it only tests
 * (1 if all have signaled, else 0).
 *
 * **Kernel:** `dma_resv_wait_timeout()`.
 *
 * **Locking:** may sleep; no lock needed (holding it is allowed, but lockdep then records the
 * reservation lock before fence waits).
 *
 * @throws {@link KernelError} `ERESTARTSYS` when `intr` and a signal arrives
 */
export async function dmaResvWaitTimeout(
  obj: DmaResv,
  usage: DmaResvUsage,
  intr: boolean,
  timeout: number,
): Promise<number> {
  timeout = cInteger(timeout, "dma_resv_wait_timeout", "timeout"); // long
  let ret = timeout ? timeout : 1;
  const cursor = dmaResvIterBegin(obj, usage);
  try {
    for (const f of dmaResvForEachFenceUnlocked(cursor)) {
      ret = await dmaFenceWaitTimeout(f, intr, ret);
      if (ret <= 0) {
        return ret;
      }
    }
  } finally {
    dmaResvIterEnd(cursor);
  }
  return ret;
}

/**
 * Pass a deadline hint to every unsignaled fence with usage ≤ `usage`.
 *
 * **Kernel:** `dma_resv_set_deadline()`.
 *
 * **Locking:** no lock needed.
 */
export function dmaResvSetDeadline(obj: DmaResv, usage: DmaResvUsage, deadline: number): void {
  const cursor = dmaResvIterBegin(obj, usage);
  for (const f of dmaResvForEachFenceUnlocked(cursor)) {
    dmaFenceSetDeadline(f, deadline);
  }
  dmaResvIterEnd(cursor);
}

/**
 * Describe the fences with usage ≤ READ, one line each: `\t<usage> fence:<driver> <timeline> seq
 * <n> [un]signalled`.
 *
 * **Kernel:** `dma_resv_describe()`.
 *
 * **Locking:** the reservation lock must be held (asserted).
 */
export function dmaResvDescribe(obj: DmaResv): string {
  let out = "";
  const cursor = dmaResvIterBegin(obj, DMA_RESV_USAGE_READ);
  for (const f of dmaResvForEachFence(cursor)) {
    out += `\t${USAGE_NAMES[dmaResvIterUsage(cursor)]} fence:${dmaFenceDescribe(f)}\n`;
  }
  return out;
}
