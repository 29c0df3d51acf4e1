/**
 * Wound/wait mutexes: deadlock avoidance for taking many locks of one class in any order.
 *
 * **Kernel:** include/linux/ww_mutex.h, kernel/locking/ww_mutex.h, kernel/locking/mutex.c.
 *
 * Every acquire context gets a stamp from its class when it is initialised; a smaller stamp is an
 * older, more important transaction. When two contexts contend:
 *
 * - **wait-die** (`DEFINE_WD_CLASS`, e.g. {@link reservationWwClass}): a younger requester that
 *   already holds locks of the class *dies* (`-EDEADLK`) when the holder, or a waiter in front of
 *   it, is older; otherwise it waits. A requester that holds nothing always waits.
 * - **wound-wait** (`DEFINE_WW_CLASS`): an older requester *wounds* a younger holder and waits; the
 *   wounded context gets `-EDEADLK` the next time one of its lock attempts has to wait while it
 *   holds locks.
 *
 * After `-EDEADLK` the caller must drop every lock of the context, take the contended lock with
 * {@link wwMutexLockSlow}, and start again. The debug checks of `CONFIG_DEBUG_MUTEXES` report the
 * usual mistakes as WARNs, and `CONFIG_DEBUG_WW_MUTEX_SLOWPATH` injects spurious `-EDEADLK`
 * through the choice source so that back-off paths get exercised.
 *
 * As the kernel's mutex, a lock is not handed over in strict FIFO order (a running thread may take
 * it first), but a first waiter that lost it once gets it handed over at the next unlock
 * (`MUTEX_FLAG_HANDOFF`), so a back-off loop cannot starve an older context.
 *
 * Lockdep sees every ww_mutex of a class as one lock class (`<class>_mutex`) nested under the
 * acquire context (`<class>_acquire`), so holding several of them with a context is fine, while
 * taking one without a context while holding another is reported as recursive locking.
 *
 * @module
 */
import {
  KernelError,
  WARN_ON,
  might_sleep,
  type Kernel,
  type LockdepMap,
  type Task,
} from "@dmasim/kernel";
import { resvState } from "./module";

/**
 * A ww_mutex class: the lockdep classes and the deadlock-avoidance algorithm shared by every
 * ww_mutex and acquire context of the class. It is an immutable description; the stamp counter
 * lives in each kernel.
 *
 * **Kernel:** `struct ww_class`.
 */
export interface WwClass {
  /** The class name, e.g. `"reservation_ww_class"`. */
  readonly name: string;
  /** True for wait-die (`DEFINE_WD_CLASS`), false for wound-wait (`DEFINE_WW_CLASS`). */
  readonly isWaitDie: boolean;
  /** Lockdep class of the mutexes: `<name>_mutex`. */
  readonly mutexName: string;
  /** Lockdep class of the acquire contexts: `<name>_acquire`. */
  readonly acquireName: string;
}

/**
 * Define a wound-wait class.
 *
 * **Kernel:** `DEFINE_WW_CLASS(name)`.
 *
 * **Locking:** none (pure).
 */
export function defineWwClass(name: string): WwClass {
  return { name, isWaitDie: false, mutexName: `${name}_mutex`, acquireName: `${name}_acquire` };
}

/**
 * Define a wait-die class.
 *
 * **Kernel:** `DEFINE_WD_CLASS(name)`.
 *
 * **Locking:** none (pure).
 */
export function defineWdClass(name: string): WwClass {
  return { name, isWaitDie: true, mutexName: `${name}_mutex`, acquireName: `${name}_acquire` };
}

/**
 * The class of every `dma_resv` lock: wait-die. Its lockdep classes are
 * `reservation_ww_class_mutex` and `reservation_ww_class_acquire`.
 *
 * **Kernel:** `reservation_ww_class` in drivers/dma-buf/dma-resv.c.
 */
export const reservationWwClass: WwClass = defineWdClass("reservation_ww_class");

interface WwWaiter {
  readonly task: Task;
  readonly ctx: WwAcquireCtx | null;
}

/**
 * A wound/wait mutex.
 *
 * **Kernel:** `struct ww_mutex` (its `base` mutex and `ctx`).
 *
 * **Locking:** it is the lock. Read its fields only for diagnostics.
 */
export class WwMutex {
  /** The thread holding the lock, or null. */
  owner: Task | null = null;
  /** The acquire context it was taken with (null when free or taken without one). */
  ctx: WwAcquireCtx | null = null;
  /** @internal waiters, kept in stamp order for context waiters */
  readonly waiters: WwWaiter[] = [];
  /**
   * @internal `MUTEX_FLAG_HANDOFF`: the first waiter was woken and lost the lock to a thief; the
   * next unlock hands the lock straight to the first waiter (no starvation).
   */
  handoff = false;
  /** The lockdep map (class `<ww_class>_mutex`). */
  readonly dep: LockdepMap;

  constructor(
    readonly kernel: Kernel,
    readonly name: string,
    readonly wwClass: WwClass,
  ) {
    this.dep = kernel.lockdep.map(name, wwClass.mutexName);
  }
}

/**
 * An acquire context: one transaction that takes several ww_mutexes of a class.
 *
 * **Kernel:** `struct ww_acquire_ctx`.
 *
 * **Locking:** owned by the thread that initialised it; only that thread may use it.
 */
export class WwAcquireCtx {
  /** Locks of the class held through this context right now. */
  acquired = 0;
  /** Wound-wait: an older context asked for a lock this one holds. */
  wounded = false;
  /** Debug: {@link wwAcquireDone} was called. */
  doneAcquire = false;
  /** Debug: the lock that returned `-EDEADLK`, until it is taken again. */
  contendingLock: WwMutex | null = null;
  /** The lockdep map of the context (class `<ww_class>_acquire`). */
  readonly dep: LockdepMap;
  /** @internal CONFIG_DEBUG_WW_MUTEX_SLOWPATH: grows after each injection point */
  injectInterval = 1;
  /** @internal CONFIG_DEBUG_WW_MUTEX_SLOWPATH: locks until the next injection point */
  injectCountdown = 0;

  constructor(
    readonly kernel: Kernel,
    readonly task: Task,
    readonly wwClass: WwClass,
    /** Smaller is older (higher priority). */
    readonly stamp: number,
  ) {
    this.dep = kernel.lockdep.map(`ctx#${stamp}`, wwClass.acquireName);
  }

  /** Wait-die or wound-wait, from the class. */
  get isWaitDie(): boolean {
    return this.wwClass.isWaitDie;
  }
}

/** Task-local flag: the thread sleeps in a ww_mutex wait (wound/die wake-ups target it). */
const IN_WW_WAIT = Symbol("dma-resv:in-ww-wait");

function debugOn(kernel: Kernel): boolean {
  return kernel.options.enabled("CONFIG_DEBUG_MUTEXES");
}

function debugWarn(kernel: Kernel, cond: boolean, fn: string, msg: string): boolean {
  if (!debugOn(kernel)) {
    return false;
  }
  return WARN_ON(kernel, cond, `kernel/locking/ww_mutex.h:${fn}`, msg);
}

/**
 * Create a ww_mutex of class `wwClass`.
 *
 * **Kernel:** `ww_mutex_init()`.
 *
 * **Locking:** none.
 */
export function wwMutexInit(kernel: Kernel, name: string, wwClass: WwClass): WwMutex {
  return new WwMutex(kernel, name, wwClass);
}

/**
 * Start a transaction: a fresh context with the next stamp of the class. Lockdep sees the context
 * taken (two live contexts of one class in one thread are reported as recursive locking).
 *
 * **Kernel:** `ww_acquire_init()`.
 *
 * **Locking:** the context belongs to the calling thread. Not a scheduling point.
 */
export function wwAcquireInit(kernel: Kernel, wwClass: WwClass): WwAcquireCtx {
  const stamps = resvState(kernel).stamps;
  const stamp = (stamps.get(wwClass.name) ?? 0) + 1;
  stamps.set(wwClass.name, stamp);
  const ctx = new WwAcquireCtx(kernel, kernel.sched.current, wwClass, stamp);
  kernel.lockdep.acquire(ctx.dep);
  // Teach lockdep "context before mutex" at once (ww_acquire_init's first_lock_dep_map).
  kernel.lockdep.mightLock(kernel.lockdep.map(`${wwClass.name} first lock`, wwClass.mutexName), {
    nestLock: ctx.dep,
  });
  return ctx;
}

/**
 * Mark the end of the acquire phase: no more locks will be taken with `ctx`.
 *
 * **Kernel:** `ww_acquire_done()` (debug: WARN when called twice).
 *
 * **Locking:** `ctx` must be the caller's (lockdep asserts it is held).
 */
export function wwAcquireDone(ctx: WwAcquireCtx): void {
  ctx.kernel.lockdep.assertHeld(ctx.dep, "ctx");
  debugWarn(
    ctx.kernel,
    ctx.doneAcquire,
    "ww_acquire_done",
    "DEBUG_LOCKS_WARN_ON(ctx->done_acquire)",
  );
  ctx.doneAcquire = true;
}

/**
 * End a transaction. Every lock taken with `ctx` must have been released (debug: WARN otherwise).
 *
 * **Kernel:** `ww_acquire_fini()`.
 *
 * **Locking:** the thread that initialised `ctx`.
 */
export function wwAcquireFini(ctx: WwAcquireCtx): void {
  const kernel = ctx.kernel;
  kernel.lockdep.release(ctx.dep);
  debugWarn(
    kernel,
    ctx.acquired !== 0,
    "ww_acquire_fini",
    `DEBUG_LOCKS_WARN_ON(ctx->acquired): ww_acquire_fini() with ${ctx.acquired} lock(s) still held`,
  );
  ctx.doneAcquire = true;
  ctx.acquired = 0xffffffff;
}

/** True when `a` is younger (less important) than `b`. **Kernel:** `__ww_ctx_less()`. */
function ctxLess(a: WwAcquireCtx, b: WwAcquireCtx): boolean {
  return a.stamp > b.stamp;
}

function wakeWwWaiter(kernel: Kernel, task: Task): void {
  if (task.locals.get(IN_WW_WAIT) === true) {
    kernel.sched.wake(task);
  }
}

/** Returns true when `ctx` must back off (it holds locks); records the contended lock. */
function kill(lock: WwMutex, ctx: WwAcquireCtx): boolean {
  if (ctx.acquired === 0) {
    return false;
  }
  debugWarn(
    lock.kernel,
    ctx.contendingLock !== null,
    "__ww_mutex_kill",
    `DEBUG_LOCKS_WARN_ON(ww_ctx->contending_lock): -EDEADLK again on ${lock.name} before backing off from ${ctx.contendingLock?.name ?? "?"}: called ww_mutex_lock after receiving -EDEADLK but forgot to unlock everything`,
  );
  ctx.contendingLock = lock;
  return true;
}

function deadlk(lock: WwMutex, ctx: WwAcquireCtx, why: string): KernelError {
  return new KernelError(
    "EDEADLK",
    `ww_mutex ${lock.name}: context #${ctx.stamp} (${ctx.acquired} held) must back off: ${why}`,
  );
}

/** Wait-die: wake a waiter that must die because `ctx` is older. **Kernel:** `__ww_mutex_die()`. */
function die(lock: WwMutex, waiter: WwWaiter, ctx: WwAcquireCtx): boolean {
  if (!ctx.isWaitDie) {
    return false;
  }
  if (waiter.ctx && waiter.ctx.acquired > 0 && ctxLess(waiter.ctx, ctx)) {
    wakeWwWaiter(lock.kernel, waiter.task);
  }
  return true;
}

/** Wound-wait: wound a younger holder. **Kernel:** `__ww_mutex_wound()`. */
function wound(lock: WwMutex, ctx: WwAcquireCtx, holdCtx: WwAcquireCtx | null): boolean {
  const owner = lock.owner;
  if (!holdCtx || !owner) {
    return false;
  }
  if (ctx.acquired > 0 && ctxLess(holdCtx, ctx)) {
    holdCtx.wounded = true;
    if (owner !== lock.kernel.sched.current) {
      wakeWwWaiter(lock.kernel, owner);
    }
    return true;
  }
  return false;
}

/** We just took `lock` with `ctx`: waiters may need to die or wound us. */
function checkWaiters(lock: WwMutex, ctx: WwAcquireCtx): void {
  for (const cur of lock.waiters) {
    if (!cur.ctx) {
      continue;
    }
    if (die(lock, cur, ctx) || wound(lock, cur.ctx, ctx)) {
      break;
    }
  }
}

/** Queue `waiter` in stamp order; wait-die may kill the requester here. */
function addWaiter(lock: WwMutex, waiter: WwWaiter, ctx: WwAcquireCtx): void {
  let pos = lock.waiters.length;
  for (let i = lock.waiters.length - 1; i >= 0; i--) {
    const cur = lock.waiters[i] as WwWaiter;
    if (!cur.ctx) {
      continue;
    }
    if (ctxLess(ctx, cur.ctx)) {
      if (ctx.isWaitDie && kill(lock, ctx)) {
        throw deadlk(lock, ctx, `an older context (#${cur.ctx.stamp}) is already waiting`);
      }
      break;
    }
    pos = i;
    die(lock, cur, ctx);
  }
  lock.waiters.splice(pos, 0, waiter);
  if (!ctx.isWaitDie) {
    wound(lock, ctx, lock.ctx);
  }
}

/** **Kernel:** `__ww_mutex_check_kill()`. Throws `EDEADLK` when the waiter must back off. */
function checkKill(lock: WwMutex, waiter: WwWaiter, ctx: WwAcquireCtx): void {
  if (ctx.acquired === 0) {
    return;
  }
  if (!ctx.isWaitDie) {
    if (ctx.wounded && kill(lock, ctx)) {
      throw deadlk(lock, ctx, "wounded by an older context");
    }
    return;
  }
  const hold = lock.ctx;
  if (hold && ctxLess(ctx, hold) && kill(lock, ctx)) {
    throw deadlk(lock, ctx, `held by the older context #${hold.stamp}`);
  }
  const idx = lock.waiters.indexOf(waiter);
  for (let i = idx - 1; i >= 0; i--) {
    const cur = lock.waiters[i] as WwWaiter;
    if (cur.ctx && kill(lock, ctx)) {
      throw deadlk(lock, ctx, `an older context (#${cur.ctx.stamp}) waits in front`);
    }
  }
}

/** The lock is ours: debug checks, then record the context. **Kernel:** `ww_mutex_lock_acquired()`. */
function lockAcquired(lock: WwMutex, ctx: WwAcquireCtx): void {
  const k = lock.kernel;
  debugWarn(k, lock.ctx !== null, "ww_mutex_lock_acquired", "DEBUG_LOCKS_WARN_ON(ww->ctx)");
  debugWarn(
    k,
    ctx.doneAcquire,
    "ww_mutex_lock_acquired",
    `DEBUG_LOCKS_WARN_ON(ww_ctx->done_acquire): ${lock.name} locked after ww_acquire_done()`,
  );
  if (ctx.contendingLock) {
    debugWarn(
      k,
      ctx.contendingLock !== lock,
      "ww_mutex_lock_acquired",
      `DEBUG_LOCKS_WARN_ON(ww_ctx->contending_lock != ww): after -EDEADLK on ${ctx.contendingLock.name}, ${lock.name} was locked instead`,
    );
    debugWarn(
      k,
      ctx.acquired > 0,
      "ww_mutex_lock_acquired",
      `DEBUG_LOCKS_WARN_ON(ww_ctx->acquired > 0): called ww_mutex_lock after receiving -EDEADLK but forgot to unlock everything (${ctx.acquired} still held)`,
    );
    ctx.contendingLock = null;
  }
  debugWarn(
    k,
    ctx.wwClass !== lock.wwClass,
    "ww_mutex_lock_acquired",
    `DEBUG_LOCKS_WARN_ON(ww_ctx->ww_class != ww->ww_class): ${ctx.wwClass.name} context on a ${lock.wwClass.name} lock`,
  );
  ctx.acquired++;
  lock.ctx = ctx;
}

function takeOwnership(lock: WwMutex, self: Task, ctx: WwAcquireCtx | null): void {
  lock.owner = self;
  if (ctx) {
    lockAcquired(lock, ctx);
  }
  lock.kernel.trace(self.name, "lock", `ww_mutex_lock ${lock.name}`);
}

function removeWaiter(lock: WwMutex, waiter: WwWaiter): void {
  const i = lock.waiters.indexOf(waiter);
  if (i >= 0) {
    lock.waiters.splice(i, 1);
  }
  if (lock.waiters.length === 0) {
    lock.handoff = false;
  }
}

async function waitForLock(
  lock: WwMutex,
  ctx: WwAcquireCtx | null,
  interruptible: boolean,
): Promise<void> {
  const kernel = lock.kernel;
  const self = kernel.sched.current;
  const waiter: WwWaiter = { task: self, ctx };
  if (ctx) {
    addWaiter(lock, waiter, ctx);
  } else {
    lock.waiters.push(waiter);
  }
  let woken = false;
  try {
    for (;;) {
      if (lock.owner === null || lock.owner === self) {
        break;
      }
      if (woken && lock.waiters[0] === waiter) {
        lock.handoff = true;
      }
      if (interruptible && self.signalPending) {
        throw new KernelError("EINTR", `interrupted while waiting for ww_mutex ${lock.name}`);
      }
      if (ctx) {
        checkKill(lock, waiter, ctx);
      }
      self.locals.set(IN_WW_WAIT, true);
      const why = await kernel.sched.block(
        `ww_mutex ${lock.name} (held by ${lock.owner.toString()}${lock.ctx ? ` ctx #${lock.ctx.stamp}` : ""})`,
        { interruptible },
      );
      self.locals.delete(IN_WW_WAIT);
      woken = true;
      if (why === "signal") {
        throw new KernelError("EINTR", `interrupted while waiting for ww_mutex ${lock.name}`);
      }
    }
  } catch (e) {
    self.locals.delete(IN_WW_WAIT);
    removeWaiter(lock, waiter);
    throw e;
  }
  if (ctx && !ctx.isWaitDie && lock.waiters[0] !== waiter) {
    checkWaiters(lock, ctx);
  }
  removeWaiter(lock, waiter);
  takeOwnership(lock, self, ctx);
}

/**
 * The thread re-locks a ww_mutex it already holds, without the context it holds it through: the
 * kernel's mutex then waits for itself forever (lockdep has already reported the recursion). Only a
 * signal ends an interruptible wait.
 */
async function selfDeadlock(lock: WwMutex, interruptible: boolean): Promise<never> {
  const kernel = lock.kernel;
  for (;;) {
    const why = await kernel.sched.block(`ww_mutex ${lock.name} (held by this thread itself)`, {
      interruptible,
    });
    if (why === "signal") {
      throw new KernelError("EINTR", `interrupted while waiting for ww_mutex ${lock.name}`);
    }
  }
}

async function lockCommon(
  lock: WwMutex,
  ctx: WwAcquireCtx | null,
  interruptible: boolean,
  site: string,
): Promise<void> {
  const kernel = lock.kernel;
  might_sleep(kernel, site);
  await kernel.sched.schedulePoint();
  if (ctx) {
    if (lock.ctx === ctx) {
      throw new KernelError(
        "EALREADY",
        `ww_mutex ${lock.name} is already held by context #${ctx.stamp}`,
      );
    }
    if (ctx.acquired === 0) {
      ctx.wounded = false;
    }
  }
  kernel.lockdep.acquire(lock.dep, ctx ? { nestLock: ctx.dep } : {});
  try {
    if (lock.owner === null) {
      takeOwnership(lock, kernel.sched.current, ctx);
      if (ctx && lock.waiters.length > 0) {
        checkWaiters(lock, ctx);
      }
    } else if (lock.owner === kernel.sched.current) {
      await selfDeadlock(lock, interruptible);
    } else {
      await waitForLock(lock, ctx, interruptible);
    }
  } catch (e) {
    kernel.lockdep.release(lock.dep);
    throw e;
  }
  if (ctx && ctx.acquired > 1) {
    deadlockInjection(lock, ctx);
  }
}

/** CONFIG_DEBUG_WW_MUTEX_SLOWPATH: maybe give the lock back and claim -EDEADLK. */
function deadlockInjection(lock: WwMutex, ctx: WwAcquireCtx): void {
  const kernel = lock.kernel;
  resvState(kernel);
  if (!kernel.options.enabled("CONFIG_DEBUG_WW_MUTEX_SLOWPATH")) {
    return;
  }
  if (ctx.injectCountdown-- > 0) {
    return;
  }
  const tmp = ctx.injectInterval;
  ctx.injectInterval = tmp > 0x3fffffff ? 0xffffffff : tmp * 3 + Math.floor(tmp / 2);
  ctx.injectCountdown = ctx.injectInterval;
  if (kernel.choice.choose("ww-inject", 2) !== 1) {
    return;
  }
  ctx.contendingLock = lock;
  wwMutexUnlock(lock);
  throw new KernelError(
    "EDEADLK",
    `ww_mutex ${lock.name}: -EDEADLK injected by CONFIG_DEBUG_WW_MUTEX_SLOWPATH (context #${ctx.stamp})`,
  );
}

/**
 * Take `lock` as part of the transaction `ctx`, or as a plain mutex when `ctx` is null.
 *
 * **Kernel:** `ww_mutex_lock()`.
 *
 * **Locking:** may sleep. With a context, wait-die/wound-wait decide whether to wait or back off;
 * without one, the lock behaves as a mutex (no deadlock avoidance; lockdep reports taking it
 * while holding another lock of the class).
 *
 * @throws {@link KernelError} `EDEADLK` when `ctx` must back off (only if it holds other locks of
 * the class, or injected by `CONFIG_DEBUG_WW_MUTEX_SLOWPATH`); `EALREADY` when `ctx` already holds
 * `lock` (nothing changes)
 */
export async function wwMutexLock(lock: WwMutex, ctx: WwAcquireCtx | null): Promise<void> {
  await lockCommon(lock, ctx, false, "ww_mutex_lock");
}

/**
 * As {@link wwMutexLock}, but a signal ends the wait.
 *
 * **Kernel:** `ww_mutex_lock_interruptible()`.
 *
 * **Locking:** may sleep.
 *
 * @throws {@link KernelError} `EDEADLK`, `EALREADY` as {@link wwMutexLock}; `EINTR` on a signal
 */
export async function wwMutexLockInterruptible(
  lock: WwMutex,
  ctx: WwAcquireCtx | null,
): Promise<void> {
  await lockCommon(lock, ctx, true, "ww_mutex_lock_interruptible");
}

function checkSlowPath(lock: WwMutex, ctx: WwAcquireCtx): void {
  debugWarn(
    lock.kernel,
    ctx.contendingLock === null,
    "ww_mutex_lock_slow",
    `DEBUG_LOCKS_WARN_ON(!ctx->contending_lock): ww_mutex_lock_slow(${lock.name}) without a preceding -EDEADLK`,
  );
}

/**
 * After `-EDEADLK` and after releasing every lock of `ctx`: sleep until the contended lock is
 * ours. With nothing held the context cannot be told to back off, so this cannot fail. Used
 * wrongly (other locks still held) the kernel WARNs and returns as if it had the lock while it may
 * not: so does dmasim.
 *
 * **Kernel:** `ww_mutex_lock_slow()` (its return value is discarded).
 *
 * **Locking:** may sleep; `ctx` must hold no lock of the class (debug: WARN otherwise) and `lock`
 * must be the lock that returned `-EDEADLK` (debug: WARN otherwise).
 *
 * @throws nothing the kernel returns (`-EDEADLK` and `-EALREADY` are swallowed, as the kernel
 * discards the return value); only an unexpected internal error would propagate
 */
export async function wwMutexLockSlow(lock: WwMutex, ctx: WwAcquireCtx): Promise<void> {
  checkSlowPath(lock, ctx);
  try {
    await lockCommon(lock, ctx, false, "ww_mutex_lock_slow");
  } catch (e) {
    if (e instanceof KernelError && (e.code === "EDEADLK" || e.code === "EALREADY")) {
      return;
    }
    throw e;
  }
}

/**
 * Interruptible slow path.
 *
 * **Kernel:** `ww_mutex_lock_slow_interruptible()`.
 *
 * **Locking:** as {@link wwMutexLockSlow}.
 *
 * @throws {@link KernelError} `EINTR` on a signal; `EDEADLK` / `EALREADY` only when misused
 */
export async function wwMutexLockSlowInterruptible(
  lock: WwMutex,
  ctx: WwAcquireCtx,
): Promise<void> {
  checkSlowPath(lock, ctx);
  await lockCommon(lock, ctx, true, "ww_mutex_lock_slow_interruptible");
}

/**
 * Take `lock` if it is free. Never waits and never returns `-EDEADLK`; with a context the lock
 * counts as part of the transaction (since 5.16). A lock the context already holds is not free:
 * false.
 *
 * **Kernel:** `ww_mutex_trylock()` (returns 1 / 0).
 *
 * **Locking:** never sleeps.
 */
export function wwMutexTrylock(lock: WwMutex, ctx: WwAcquireCtx | null = null): boolean {
  const kernel = lock.kernel;
  if (ctx && ctx.acquired === 0) {
    ctx.wounded = false;
  }
  if (lock.owner !== null) {
    return false;
  }
  takeOwnership(lock, kernel.sched.current, ctx);
  if (ctx && lock.waiters.length > 0) {
    checkWaiters(lock, ctx);
  }
  kernel.lockdep.acquire(lock.dep, ctx ? { trylock: true, nestLock: ctx.dep } : { trylock: true });
  return true;
}

/**
 * Release `lock` and wake its first waiter. Releasing a lock another thread holds is a debug WARN
 * (and lockdep's "bad unlock balance"); the lock is released anyway, as in the kernel.
 *
 * **Kernel:** `ww_mutex_unlock()`.
 *
 * **Locking:** the caller must hold `lock`. Not a scheduling point.
 */
export function wwMutexUnlock(lock: WwMutex): void {
  const kernel = lock.kernel;
  const self = kernel.sched.current;
  if (lock.ctx) {
    debugWarn(
      kernel,
      lock.ctx.acquired === 0,
      "__ww_mutex_unlock",
      "DEBUG_LOCKS_WARN_ON(!lock->ctx->acquired)",
    );
    if (lock.ctx.acquired > 0) {
      lock.ctx.acquired--;
    }
    lock.ctx = null;
  }
  if (debugOn(kernel)) {
    WARN_ON(
      kernel,
      lock.owner !== null && lock.owner !== self,
      "kernel/locking/mutex.c:__mutex_unlock_slowpath",
      `DEBUG_LOCKS_WARN_ON(__owner_task(owner) != current): ${lock.name} owned by ${lock.owner?.toString() ?? "nobody"}, released by ${self.toString()}`,
    );
  }
  kernel.lockdep.release(lock.dep);
  if (lock.owner === null) {
    return;
  }
  lock.owner = null;
  kernel.trace(self.name, "lock", `ww_mutex_unlock ${lock.name}`);
  const first = lock.waiters[0];
  if (first) {
    if (lock.handoff) {
      lock.handoff = false;
      lock.owner = first.task;
    }
    kernel.sched.wake(first.task);
  }
}

/**
 * Whether `lock` is held by anyone.
 *
 * **Kernel:** `ww_mutex_is_locked()`.
 *
 * **Locking:** none (a racy snapshot).
 */
export function wwMutexIsLocked(lock: WwMutex): boolean {
  return lock.owner !== null;
}

/**
 * Mark `lock` dead; it must be unlocked (debug: WARN otherwise).
 *
 * **Kernel:** `ww_mutex_destroy()`.
 *
 * **Locking:** `lock` must be unlocked.
 */
export function wwMutexDestroy(lock: WwMutex): void {
  debugWarn(
    lock.kernel,
    lock.owner !== null,
    "ww_mutex_destroy",
    `DEBUG_LOCKS_WARN_ON(mutex_is_locked(${lock.name}))`,
  );
}
