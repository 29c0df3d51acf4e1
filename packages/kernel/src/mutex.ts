/**
 * Sleeping mutexes.
 *
 * **Kernel:** kernel/locking/mutex.c, include/linux/mutex.h.
 *
 * `mutexLock` is a scheduling point (it may sleep). Lockdep sees the acquisition before any wait, as
 * in the kernel, so a recursive lock is reported and then really deadlocks. On unlock the first
 * waiter is woken; a thread that runs first may still take the lock (no strict hand-off), as on
 * hardware.
 *
 * @module
 */
import { might_sleep, WARN_ON } from "./bug";
import { KernelError } from "./errno";
import type { Kernel } from "./kernel";
import type { AcquireOptions, LockdepMap } from "./lockdep";
import type { Task } from "./sched";

/**
 * A mutex. **Kernel:** `struct mutex`.
 *
 * **Locking:** it is the lock.
 */
export class Mutex {
  owner: Task | null = null;
  readonly waiters: Task[] = [];
  readonly dep: LockdepMap;

  constructor(
    readonly kernel: Kernel,
    readonly name: string,
    className: string = name,
  ) {
    this.dep = kernel.lockdep.map(name, className);
  }
}

/**
 * Create a mutex. Mutexes with the same `className` share a lockdep class (as those initialised at
 * one `mutex_init()` site do).
 *
 * **Kernel:** `mutex_init()` / `DEFINE_MUTEX()`.
 *
 * **Locking:** none.
 */
export function mutexInit(kernel: Kernel, name: string, className: string = name): Mutex {
  return new Mutex(kernel, name, className);
}

async function lockCommon(m: Mutex, interruptible: boolean, opts: AcquireOptions): Promise<void> {
  const kernel = m.kernel;
  might_sleep(kernel, `mutex_lock(${m.name})`);
  await kernel.sched.schedulePoint();
  const self = kernel.sched.current;
  kernel.lockdep.acquire(m.dep, opts);
  if (m.owner !== null) {
    // A waiter keeps its place in the queue until it owns the lock or gives up, as on the kernel's
    // wait_list: losing the race to a thread that ran first does not send it to the back.
    m.waiters.push(self);
    while (m.owner !== null) {
      const why = await kernel.sched.block(`mutex ${m.name} (held by ${m.owner.toString()})`, {
        interruptible,
      });
      if (why === "signal") {
        removeWaiter(m, self);
        kernel.lockdep.release(m.dep);
        throw new KernelError("EINTR", `interrupted while waiting for mutex ${m.name}`);
      }
    }
    removeWaiter(m, self);
  }
  m.owner = self;
  kernel.trace(self.name, "lock", `mutex_lock ${m.name}`);
}

function removeWaiter(m: Mutex, t: Task): void {
  const i = m.waiters.indexOf(t);
  if (i >= 0) {
    m.waiters.splice(i, 1);
  }
}

/**
 * Take `m`, sleeping until it is free.
 *
 * **Kernel:** `mutex_lock()` / `mutex_lock_nested()` / `mutex_lock_nest_lock()`.
 *
 * **Locking:** may sleep: must not be called in atomic context (reported by might_sleep).
 * Taking a mutex the thread already holds is reported by lockdep and deadlocks.
 *
 * @throws {@link RunAborted} when the wait can never end (deadlock)
 */
export async function mutexLock(m: Mutex, opts: AcquireOptions = {}): Promise<void> {
  await lockCommon(m, false, opts);
}

/**
 * Take `m`; a signal ends the wait.
 *
 * **Kernel:** `mutex_lock_interruptible()` (returns `-EINTR`).
 *
 * **Locking:** may sleep.
 *
 * @throws {@link KernelError} `EINTR` when a signal arrives while waiting
 */
export async function mutexLockInterruptible(m: Mutex, opts: AcquireOptions = {}): Promise<void> {
  await lockCommon(m, true, opts);
}

/**
 * Take `m` if it is free; never sleeps.
 *
 * **Kernel:** `mutex_trylock()` (returns 1 on success, 0 if contended).
 *
 * **Locking:** any non-atomic context.
 */
export function mutexTrylock(m: Mutex): boolean {
  if (m.owner !== null) {
    return false;
  }
  m.kernel.lockdep.acquire(m.dep, { trylock: true });
  m.owner = m.kernel.sched.current;
  return true;
}

/**
 * Release `m` and wake its first waiter. Releasing a mutex another thread owns is a WARN (with
 * `CONFIG_DEBUG_MUTEXES`); releasing one nobody holds is a lockdep "bad unlock balance".
 *
 * **Kernel:** `mutex_unlock()`.
 *
 * **Locking:** the caller must own `m`. Not a scheduling point.
 */
export function mutexUnlock(m: Mutex): void {
  const kernel = m.kernel;
  const self = kernel.sched.current;
  if (kernel.options.enabled("CONFIG_DEBUG_MUTEXES")) {
    WARN_ON(
      kernel,
      m.owner !== null && m.owner !== self,
      "kernel/locking/mutex.c:__mutex_unlock_slowpath",
      `DEBUG_LOCKS_WARN_ON(__owner_task(owner) != current): ${m.name} owned by ${m.owner?.toString() ?? "nobody"}, released by ${self.toString()}`,
    );
  }
  kernel.lockdep.release(m.dep);
  if (m.owner === null) {
    return;
  }
  m.owner = null;
  kernel.trace(self.name, "lock", `mutex_unlock ${m.name}`);
  const first = m.waiters[0];
  if (first) {
    kernel.sched.wake(first);
  }
}

/**
 * Whether `m` is held by anyone.
 *
 * **Kernel:** `mutex_is_locked()`.
 *
 * **Locking:** none (a racy snapshot, as in the kernel).
 */
export function mutexIsLocked(m: Mutex): boolean {
  return m.owner !== null;
}

/**
 * Mark `m` dead. Destroying a held mutex is a WARN with `CONFIG_DEBUG_MUTEXES`.
 *
 * **Kernel:** `mutex_destroy()`.
 *
 * **Locking:** `m` must be unlocked.
 */
export function mutexDestroy(m: Mutex): void {
  if (m.kernel.options.enabled("CONFIG_DEBUG_MUTEXES")) {
    WARN_ON(
      m.kernel,
      m.owner !== null,
      "kernel/locking/mutex-debug.c:mutex_destroy",
      `DEBUG_LOCKS_WARN_ON(mutex_is_locked(${m.name}))`,
    );
  }
}
