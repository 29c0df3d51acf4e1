/**
 * Spinlocks and atomic context.
 *
 * **Kernel:** include/linux/spinlock.h, kernel/locking/spinlock.c and spinlock_debug.c,
 * include/linux/preempt.h, include/linux/rcupdate.h.
 *
 * Taking a spinlock enters atomic context (`preempt_count` > 0): sleeping there is reported by
 * `might_sleep`. In dmasim only one thread runs between scheduling points, so a spinlock can be
 * found held only by the thread itself (recursion) or by a thread that slept holding it: both are
 * the kernel's spinlock-debug BUGs.
 *
 * @module
 */
import { BUG_ON, WARN_ON } from "./bug";
import { defineSubsys, type Kernel } from "./kernel";
import type { LockdepMap } from "./lockdep";
import type { Task } from "./sched";

/**
 * A spinlock. **Kernel:** `spinlock_t`.
 *
 * **Locking:** it is the lock; holding it is atomic context.
 */
export class Spinlock {
  owner: Task | null = null;
  readonly dep: LockdepMap;
  /** @internal interrupts state saved by spinLockIrqsave */
  savedIrqs: boolean[] = [];

  constructor(
    readonly kernel: Kernel,
    readonly name: string,
    className: string = name,
  ) {
    this.dep = kernel.lockdep.map(name, className);
  }
}

/**
 * Create a spinlock. **Kernel:** `spin_lock_init()`.
 *
 * **Locking:** none.
 */
export function spinLockInit(kernel: Kernel, name: string, className: string = name): Spinlock {
  return new Spinlock(kernel, name, className);
}

/**
 * Take `l` and enter atomic context.
 *
 * **Kernel:** `spin_lock()`.
 *
 * **Locking:** never sleeps. Recursion is a lockdep report and then the spinlock-debug BUG.
 *
 * @throws {@link KernelBug} "spinlock recursion" or "spinlock lockup suspected"
 */
export function spinLock(l: Spinlock): void {
  const kernel = l.kernel;
  const self = kernel.sched.current;
  kernel.lockdep.acquire(l.dep);
  BUG_ON(
    kernel,
    l.owner === self,
    "kernel/locking/spinlock_debug.c:spin_bug",
    `BUG: spinlock recursion on CPU#0, ${self.toString()}, lock ${l.name}`,
  );
  BUG_ON(
    kernel,
    l.owner !== null,
    "kernel/locking/spinlock_debug.c:spin_bug",
    `BUG: spinlock lockup suspected on CPU#0, ${self.toString()}: ${l.name} held by ${l.owner?.toString() ?? "?"}, which is sleeping`,
  );
  l.owner = self;
  self.preemptCount++;
}

/**
 * Release `l` and leave atomic context.
 *
 * **Kernel:** `spin_unlock()`.
 *
 * **Locking:** the caller must hold `l`.
 *
 * @throws {@link KernelBug} "spinlock already unlocked" / "spinlock wrong owner"
 */
export function spinUnlock(l: Spinlock): void {
  const kernel = l.kernel;
  const self = kernel.sched.current;
  kernel.lockdep.release(l.dep);
  BUG_ON(
    kernel,
    l.owner === null,
    "kernel/locking/spinlock_debug.c:spin_bug",
    `BUG: spinlock already unlocked on CPU#0, ${self.toString()}, lock ${l.name}`,
  );
  BUG_ON(
    kernel,
    l.owner !== self,
    "kernel/locking/spinlock_debug.c:spin_bug",
    `BUG: spinlock wrong owner on CPU#0, ${self.toString()}, lock ${l.name}`,
  );
  l.owner = null;
  self.preemptCount--;
}

/**
 * Take `l` with interrupts disabled. **Kernel:** `spin_lock_irqsave()`.
 *
 * **Locking:** as {@link spinLock}.
 *
 * @throws {@link KernelBug} as {@link spinLock}
 */
export function spinLockIrqsave(l: Spinlock): void {
  const self = l.kernel.sched.current;
  const saved = self.irqsDisabled;
  self.irqsDisabled = true;
  spinLock(l);
  l.savedIrqs.push(saved);
}

/**
 * Release `l` and restore the interrupt state. **Kernel:** `spin_unlock_irqrestore()`.
 *
 * **Locking:** as {@link spinUnlock}.
 *
 * @throws {@link KernelBug} as {@link spinUnlock}
 */
export function spinUnlockIrqrestore(l: Spinlock): void {
  const self = l.kernel.sched.current;
  spinUnlock(l);
  self.irqsDisabled = l.savedIrqs.pop() ?? false;
}

/**
 * Take `l` if free. **Kernel:** `spin_trylock()`.
 *
 * **Locking:** never sleeps.
 */
export function spinTrylock(l: Spinlock): boolean {
  if (l.owner !== null) {
    return false;
  }
  const self = l.kernel.sched.current;
  l.kernel.lockdep.acquire(l.dep, { trylock: true });
  l.owner = self;
  self.preemptCount++;
  return true;
}

/**
 * Whether `l` is held. **Kernel:** `spin_is_locked()`.
 *
 * **Locking:** none.
 */
export function spinIsLocked(l: Spinlock): boolean {
  return l.owner !== null;
}

/**
 * Disable preemption (enter atomic context). **Kernel:** `preempt_disable()`.
 *
 * **Locking:** none.
 */
export function preemptDisable(kernel: Kernel): void {
  kernel.sched.current.preemptCount++;
}

/**
 * Re-enable preemption. **Kernel:** `preempt_enable()`.
 *
 * **Locking:** pairs with {@link preemptDisable}; an unbalanced enable is a WARN (as with
 * `CONFIG_DEBUG_PREEMPT`) and leaves the count at 0.
 */
export function preemptEnable(kernel: Kernel): void {
  const t = kernel.sched.current;
  if (
    WARN_ON(
      kernel,
      t.preemptCount <= 0,
      "kernel/sched/core.c:preempt_count_sub",
      "DEBUG_LOCKS_WARN_ON(val > preempt_count())",
    )
  ) {
    return;
  }
  t.preemptCount--;
}

/**
 * Enter an RCU read-side critical section (atomic context in a non-preemptible kernel).
 *
 * **Kernel:** `rcu_read_lock()`.
 *
 * **Locking:** must not sleep until {@link rcuReadUnlock}.
 */
export function rcuReadLock(kernel: Kernel): void {
  kernel.sched.current.rcuReadDepth++;
  kernel.lockdep.acquire(rcuLockMap(kernel), { read: true, recursive: true });
}

/**
 * Leave an RCU read-side critical section. **Kernel:** `rcu_read_unlock()`.
 *
 * **Locking:** pairs with {@link rcuReadLock}.
 */
export function rcuReadUnlock(kernel: Kernel): void {
  const t = kernel.sched.current;
  t.rcuReadDepth = Math.max(0, t.rcuReadDepth - 1);
  kernel.lockdep.release(rcuLockMap(kernel));
}

const RCU_LOCK_MAP = defineSubsys("rcu_lock_map", (kernel) =>
  kernel.lockdep.map("rcu_read_lock", "rcu_read_lock"),
);
function rcuLockMap(kernel: Kernel): LockdepMap {
  return kernel.subsys(RCU_LOCK_MAP);
}
