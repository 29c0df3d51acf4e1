/**
 * Reader/writer semaphores (`mmap_lock` is one).
 *
 * **Kernel:** kernel/locking/rwsem.c, include/linux/rwsem.h.
 *
 * @module
 */
import { might_sleep } from "./bug";
import { KernelError } from "./errno";
import type { Kernel } from "./kernel";
import type { LockdepMap } from "./lockdep";
import type { Task } from "./sched";

/**
 * A reader/writer semaphore. **Kernel:** `struct rw_semaphore`.
 *
 * **Locking:** it is the lock. Waiters are served in order; a waiting writer stops new readers.
 */
export class RwSemaphore {
  readers = new Set<Task>();
  writer: Task | null = null;
  readonly waiters: { task: Task; write: boolean }[] = [];
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
 * Create a rwsem. **Kernel:** `init_rwsem()`.
 *
 * **Locking:** none.
 */
export function initRwsem(kernel: Kernel, name: string, className: string = name): RwSemaphore {
  return new RwSemaphore(kernel, name, className);
}

function canTake(s: RwSemaphore, self: Task, write: boolean): boolean {
  const first = s.waiters[0];
  if (first && first.task !== self) {
    return false;
  }
  return write ? s.writer === null && s.readers.size === 0 : s.writer === null;
}

async function down(s: RwSemaphore, write: boolean, interruptible: boolean): Promise<void> {
  const kernel = s.kernel;
  might_sleep(kernel, `${write ? "down_write" : "down_read"}(${s.name})`);
  await kernel.sched.schedulePoint();
  const self = kernel.sched.current;
  kernel.lockdep.acquire(s.dep, { read: !write });
  while (!canTake(s, self, write)) {
    if (!s.waiters.some((w) => w.task === self)) {
      s.waiters.push({ task: self, write });
    }
    const why = await kernel.sched.block(`rwsem ${s.name} (${write ? "write" : "read"})`, {
      interruptible,
    });
    if (why === "signal") {
      dropWaiter(s, self);
      // the waiters behind us may be able to go now (a writer at the head held back readers)
      wakeNext(s);
      kernel.lockdep.release(s.dep);
      throw new KernelError("EINTR", `interrupted while waiting for rwsem ${s.name}`);
    }
  }
  dropWaiter(s, self);
  if (write) {
    s.writer = self;
  } else {
    s.readers.add(self);
  }
  wakeNext(s);
}

function dropWaiter(s: RwSemaphore, t: Task): void {
  const i = s.waiters.findIndex((w) => w.task === t);
  if (i >= 0) {
    s.waiters.splice(i, 1);
  }
}

function wakeNext(s: RwSemaphore): void {
  const first = s.waiters[0];
  if (!first) {
    return;
  }
  if (first.write ? s.writer === null && s.readers.size === 0 : s.writer === null) {
    s.kernel.sched.wake(first.task);
  }
}

/**
 * Take `s` shared. **Kernel:** `down_read()`.
 *
 * **Locking:** may sleep.
 *
 * @throws {@link RunAborted} on deadlock
 */
export async function downRead(s: RwSemaphore): Promise<void> {
  await down(s, false, false);
}

/**
 * Take `s` exclusive. **Kernel:** `down_write()`.
 *
 * **Locking:** may sleep.
 *
 * @throws {@link RunAborted} on deadlock
 */
export async function downWrite(s: RwSemaphore): Promise<void> {
  await down(s, true, false);
}

/**
 * Take `s` exclusive; a signal ends the wait. **Kernel:** `down_write_killable()`.
 *
 * **Locking:** may sleep.
 *
 * @throws {@link KernelError} `EINTR` on a signal
 */
export async function downWriteKillable(s: RwSemaphore): Promise<void> {
  await down(s, true, true);
}

/**
 * Take `s` shared if possible now. **Kernel:** `down_read_trylock()`.
 *
 * **Locking:** never sleeps.
 */
export function downReadTrylock(s: RwSemaphore): boolean {
  const self = s.kernel.sched.current;
  if (!canTake(s, self, false)) {
    return false;
  }
  s.kernel.lockdep.acquire(s.dep, { read: true, trylock: true });
  s.readers.add(self);
  return true;
}

/**
 * Release a shared hold. **Kernel:** `up_read()`.
 *
 * **Locking:** the caller must hold `s` shared.
 */
export function upRead(s: RwSemaphore): void {
  const self = s.kernel.sched.current;
  s.kernel.lockdep.release(s.dep);
  s.readers.delete(self);
  wakeNext(s);
}

/**
 * Release an exclusive hold. **Kernel:** `up_write()`.
 *
 * **Locking:** the caller must hold `s` exclusive.
 */
export function upWrite(s: RwSemaphore): void {
  s.kernel.lockdep.release(s.dep);
  if (s.writer === s.kernel.sched.current) {
    s.writer = null;
  }
  wakeNext(s);
}
