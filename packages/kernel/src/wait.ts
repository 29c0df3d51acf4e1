/**
 * Wait queues, completions and timed sleeps.
 *
 * **Kernel:** kernel/sched/wait.c, include/linux/wait.h, kernel/sched/completion.c,
 * kernel/time/timer.c (`schedule_timeout`, `msleep`).
 *
 * @module
 */
import { might_sleep } from "./bug";
import { MAX_SCHEDULE_TIMEOUT, NSEC_PER_MSEC } from "./clock";
import { KernelError } from "./errno";
import type { Kernel } from "./kernel";
import { KERN_ERR } from "./printk";
import type { Task } from "./sched";

/**
 * A wait queue. **Kernel:** `wait_queue_head_t`.
 *
 * **Locking:** none needed (the scheduler runs one thread at a time).
 */
export class WaitQueueHead {
  readonly waiters: Task[] = [];

  constructor(
    readonly kernel: Kernel,
    readonly name: string,
  ) {}
}

/**
 * Create a wait queue. **Kernel:** `init_waitqueue_head()`.
 *
 * **Locking:** none.
 */
export function initWaitqueueHead(kernel: Kernel, name: string): WaitQueueHead {
  return new WaitQueueHead(kernel, name);
}

/**
 * Wake every thread waiting on `wq` (they re-check their condition).
 *
 * **Kernel:** `wake_up_all()` (and `wake_up()`, which for non-exclusive waiters is the same).
 *
 * **Locking:** any context; not a scheduling point.
 */
export function wakeUpAll(wq: WaitQueueHead): void {
  for (const t of wq.waiters.splice(0)) {
    wq.kernel.sched.wake(t);
  }
}

/**
 * **Kernel:** `wake_up()`.
 *
 * **Locking:** any context.
 */
export function wakeUp(wq: WaitQueueHead): void {
  wakeUpAll(wq);
}

/** Options of {@link waitEvent}. */
export interface WaitEventOptions {
  /** Jiffies; `MAX_SCHEDULE_TIMEOUT` (default) waits forever. */
  readonly timeout?: number;
  readonly interruptible?: boolean;
}

/**
 * Sleep on `wq` until `condition()` holds. Returns the jiffies left (at least 1) when the condition
 * held, 0 on timeout. Without a timeout it returns `MAX_SCHEDULE_TIMEOUT` on success.
 *
 * **Kernel:** `wait_event()`, `wait_event_timeout()`, `wait_event_interruptible()`,
 * `wait_event_interruptible_timeout()`.
 *
 * **Locking:** may sleep.
 *
 * @throws {@link KernelError} `ERESTARTSYS` when interruptible and a signal is pending
 */
export async function waitEvent(
  wq: WaitQueueHead,
  condition: () => boolean,
  opts: WaitEventOptions = {},
): Promise<number> {
  const kernel = wq.kernel;
  might_sleep(kernel, `wait_event(${wq.name})`);
  const timeout = opts.timeout ?? MAX_SCHEDULE_TIMEOUT;
  const forever = timeout >= MAX_SCHEDULE_TIMEOUT;
  // timeouts count in jiffies, as the kernel's timer wheel does: expiry at jiffies + timeout
  const expires = forever ? Infinity : kernel.clock.jiffies + Math.max(0, timeout);
  const deadline = forever ? Infinity : kernel.clock.jiffiesToNs(expires);
  await kernel.sched.schedulePoint();
  for (;;) {
    if (condition()) {
      return forever ? MAX_SCHEDULE_TIMEOUT : Math.max(1, expires - kernel.clock.jiffies);
    }
    const left = deadline - kernel.clock.now();
    if (left <= 0) {
      return 0;
    }
    const self = kernel.sched.current;
    wq.waiters.push(self);
    const opts2 = forever
      ? { interruptible: opts.interruptible ?? false }
      : { interruptible: opts.interruptible ?? false, timeoutNs: left };
    const why = await kernel.sched.block(`waitqueue ${wq.name}`, opts2);
    const i = wq.waiters.indexOf(self);
    if (i >= 0) {
      wq.waiters.splice(i, 1);
    }
    if (why === "signal") {
      throw new KernelError("ERESTARTSYS", `interrupted while waiting on ${wq.name}`);
    }
    if (why === "timeout") {
      return condition() ? 1 : 0;
    }
  }
}

/**
 * Sleep for `timeout` jiffies. Returns 0 when the time ran out, else the jiffies left (the thread
 * was woken, or a signal ended an interruptible sleep). `MAX_SCHEDULE_TIMEOUT` sleeps until woken
 * and then returns `MAX_SCHEDULE_TIMEOUT`; a negative timeout is logged and returns 0 at once.
 *
 * **Kernel:** `schedule_timeout()` after `set_current_state()`.
 *
 * **Locking:** may sleep.
 *
 * @throws {@link RunAborted} when the sleep can never end (no timeout and nobody to wake it)
 */
export async function scheduleTimeout(
  kernel: Kernel,
  timeout: number,
  interruptible = false,
): Promise<number> {
  might_sleep(kernel, "schedule_timeout");
  if (timeout >= MAX_SCHEDULE_TIMEOUT) {
    await kernel.sched.block("schedule_timeout(MAX_SCHEDULE_TIMEOUT)", { interruptible });
    return MAX_SCHEDULE_TIMEOUT;
  }
  if (timeout < 0) {
    kernel.printk(KERN_ERR, `schedule_timeout: wrong timeout value ${timeout}`);
    return 0;
  }
  const expires = kernel.clock.jiffies + timeout;
  const why = await kernel.sched.block(`schedule_timeout(${timeout})`, {
    timeoutNs: kernel.clock.jiffiesToNs(expires) - kernel.clock.now(),
    interruptible,
  });
  return why === "timeout" ? 0 : Math.max(0, expires - kernel.clock.jiffies);
}

/**
 * Sleep for `ms` milliseconds of simulated time (an early wake-up goes back to sleep).
 *
 * **Kernel:** `msleep()`.
 *
 * **Locking:** may sleep.
 */
export async function msleep(kernel: Kernel, ms: number): Promise<void> {
  might_sleep(kernel, "msleep");
  const deadline = kernel.clock.now() + ms * NSEC_PER_MSEC;
  while (kernel.clock.now() < deadline) {
    await kernel.sched.block(`msleep(${ms})`, { timeoutNs: deadline - kernel.clock.now() });
  }
}

/**
 * A completion. **Kernel:** `struct completion`.
 *
 * **Locking:** none needed.
 */
export class Completion {
  done = 0;
  readonly wait: WaitQueueHead;

  constructor(kernel: Kernel, name: string) {
    this.wait = new WaitQueueHead(kernel, name);
  }
}

/**
 * **Kernel:** `init_completion()`.
 *
 * **Locking:** none.
 */
export function initCompletion(kernel: Kernel, name: string): Completion {
  return new Completion(kernel, name);
}

/**
 * Reset a completion for reuse. **Kernel:** `reinit_completion()`.
 *
 * **Locking:** no waiter may be on it.
 */
export function reinitCompletion(c: Completion): void {
  c.done = 0;
}

/**
 * Signal one waiter. **Kernel:** `complete()`.
 *
 * **Locking:** any context.
 */
export function complete(c: Completion): void {
  if (c.done !== Number.MAX_SAFE_INTEGER) {
    c.done++;
  }
  wakeUpAll(c.wait);
}

/**
 * Signal every waiter, now and later. **Kernel:** `complete_all()`.
 *
 * **Locking:** any context.
 */
export function completeAll(c: Completion): void {
  c.done = Number.MAX_SAFE_INTEGER;
  wakeUpAll(c.wait);
}

function take(c: Completion): boolean {
  if (c.done === 0) {
    return false;
  }
  if (c.done !== Number.MAX_SAFE_INTEGER) {
    c.done--;
  }
  return true;
}

/**
 * Wait until `c` is completed.
 *
 * **Kernel:** `wait_for_completion()`.
 *
 * **Locking:** may sleep.
 *
 * @throws {@link RunAborted} on deadlock
 */
export async function waitForCompletion(c: Completion): Promise<void> {
  let got = false;
  await waitEvent(c.wait, () => (got = got || take(c)));
}

/**
 * Wait up to `timeout` jiffies. Returns 0 on timeout, else the jiffies left (at least 1).
 *
 * **Kernel:** `wait_for_completion_timeout()`.
 *
 * **Locking:** may sleep.
 */
export async function waitForCompletionTimeout(c: Completion, timeout: number): Promise<number> {
  let got = false;
  return waitEvent(c.wait, () => (got = got || take(c)), { timeout });
}

/**
 * Take a completion without waiting. **Kernel:** `try_wait_for_completion()`.
 *
 * **Locking:** any context.
 */
export function tryWaitForCompletion(c: Completion): boolean {
  return take(c);
}

/**
 * Whether there are completions not yet waited for. **Kernel:** `completion_done()`.
 *
 * **Locking:** any context.
 */
export function completionDone(c: Completion): boolean {
  return c.done > 0;
}
