/**
 * Threads and the deterministic scheduler.
 *
 * **Kernel:** kernel/sched/core.c (`schedule()`, `wake_up_process()`, `kthread_run()`), the task's
 * `preempt_count` and signal state.
 *
 * Threads are async functions. Exactly one thread runs at a time; it runs until it reaches a
 * scheduling point (a sleeping function, or {@link Scheduler.schedulePoint}). There the choice source
 * decides which runnable thread runs next (`"preempt"` choice points when the running thread could go
 * on, `"sched"` when it blocked or ended; option 0 always continues the
 * thread that yielded, so option 0 everywhere means "no preemption"). A thread that blocks stays off
 * the run queue until something wakes it. When no thread can run, the clock jumps to the next timer;
 * with no timer either, every live thread is blocked: a `deadlock` finding names each one and what it
 * waits for, and the run is aborted.
 *
 * The code that creates the kernel runs as thread 0, `init`. It starts other threads with
 * {@link Scheduler.spawn} and lets them run by sleeping, usually in {@link Scheduler.join}.
 *
 * @module
 */
import { KERNEL_BUG_BRAND, RUN_ABORTED_BRAND, hasBrand } from "./brand";
import { KernelError } from "./errno";
import type { Kernel } from "./kernel";

/** Where a thread is. **Kernel:** `TASK_RUNNING`, `TASK_UNINTERRUPTIBLE`, `TASK_DEAD`… */
export type TaskState = "running" | "runnable" | "blocked" | "done" | "dead";

/** Why a blocked thread was let go. */
export type WakeReason = "woken" | "timeout" | "signal";

/**
 * Why a run stopped: a deadlock, or a BUG in some thread. Thrown into the thread that is waiting in
 * the kernel's init context (usually in {@link Scheduler.join}).
 *
 * **Kernel:** a hung system (hung-task detector) or an oops.
 *
 * **Locking:** none.
 *
 * Use {@link isRunAborted} rather than `instanceof` (it works across the ESM and CJS copies).
 */
export class RunAborted extends Error {
  override readonly name = "RunAborted";
  readonly [RUN_ABORTED_BRAND] = true;
  constructor(
    readonly reason: "deadlock" | "bug",
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

/**
 * Whether `e` is a {@link RunAborted}.
 *
 * **Kernel:** none. **Locking:** none.
 */
export function isRunAborted(e: unknown): e is RunAborted {
  return hasBrand(e, RUN_ABORTED_BRAND);
}

interface Timer {
  readonly at: number;
  readonly task: Task;
  readonly token: number;
}

/**
 * A thread of the simulated machine.
 *
 * **Kernel:** `struct task_struct`.
 *
 * **Locking:** owned by the scheduler; fields other than the debug state are read-only to callers.
 */
export class Task {
  state: TaskState;
  /** What a blocked thread waits for, in words ("mutex &obj->lock", "fence 3:1"). */
  waitingFor: string | null = null;
  /** `preempt_count()`: > 0 in atomic context (spinlock held, preemption disabled). */
  preemptCount = 0;
  /** `rcu_read_lock()` nesting. */
  rcuReadDepth = 0;
  /** `irqs_disabled()`. */
  irqsDisabled = false;
  /** A signal is pending (interruptible sleeps end with `-EINTR` / `-ERESTARTSYS`). */
  signalPending = false;
  /** The scenario step this thread is executing (the kernel's `step` while it runs). */
  step = 0;
  /**
   * How many scheduling points the thread has reached since its step began: with {@link Task.step},
   * where the thread is in its code (for state digests).
   */
  position = 0;
  /** The error a thread ended with, if any. */
  error: unknown = undefined;
  /** Settles when the thread ends (never rejects). */
  readonly done: Promise<void>;
  /** Free slots for upper layers' per-thread state (e.g. lockdep's held-lock stack). */
  readonly locals = new Map<symbol, unknown>();

  /** @internal */
  resumeFn: ((r: WakeReason) => void) | null = null;
  /** @internal */
  abortFn: ((e: Error) => void) | null = null;
  /** @internal */
  wakeReason: WakeReason = "woken";
  /** @internal */
  timerToken = 0;
  /** @internal */
  interruptible = false;
  /** @internal */
  finish: () => void = () => undefined;

  constructor(
    readonly id: number,
    readonly name: string,
    state: TaskState,
  ) {
    this.state = state;
    this.done = new Promise((resolve) => {
      this.finish = resolve;
    });
  }

  /** Whether the thread is in atomic context. **Kernel:** `in_atomic() || irqs_disabled()`. */
  inAtomic(): boolean {
    return this.preemptCount > 0 || this.irqsDisabled || this.rcuReadDepth > 0;
  }

  /** `comm:pid`, as lockdep prints a task. */
  toString(): string {
    return `${this.name}/${this.id}`;
  }

  /** How a state digest names the task (see `digestValue`). */
  digestTag(): string {
    return `T${this.id}`;
  }
}

/** Options of a blocking wait. */
export interface BlockOptions {
  /** Give up after this many simulated nanoseconds (wake reason `"timeout"`). */
  readonly timeoutNs?: number;
  /** A pending or arriving signal ends the wait (wake reason `"signal"`). */
  readonly interruptible?: boolean;
}

/**
 * The scheduler of one kernel.
 *
 * **Kernel:** the run queue and `schedule()`.
 *
 * **Locking:** all methods are called by the running thread; the scheduler itself never runs two
 * threads at once.
 */
export class Scheduler {
  readonly init: Task;
  current: Task;
  private readonly tasks: Task[] = [];
  private timers: Timer[] = [];
  private nextId = 1;
  private timerSeq = 0;
  private aborted: RunAborted | null = null;
  /** How many times a thread was switched out while it could have gone on. */
  preemptions = 0;
  /** How many scheduling points were reached. */
  switches = 0;

  constructor(private readonly kernel: Kernel) {
    this.init = new Task(0, "init", "running");
    this.current = this.init;
    this.tasks.push(this.init);
  }

  /** Every thread ever created, init first. */
  get all(): readonly Task[] {
    return this.tasks;
  }

  /** Why the run was aborted, if it was. */
  get abortReason(): RunAborted | null {
    return this.aborted;
  }

  /**
   * Create a thread that runs `fn`. It becomes runnable at once but first runs at the next
   * scheduling point.
   *
   * **Kernel:** `kthread_run()`.
   *
   * @throws {@link KernelError} `EINVAL` once the run has been aborted
   */
  spawn(name: string, fn: () => Promise<void>): Task {
    if (this.aborted) {
      throw new KernelError(
        "EINVAL",
        `cannot start thread ${name}: the run was aborted (${this.aborted.message})`,
      );
    }
    const task = new Task(this.nextId++, name, "runnable");
    task.step = this.current.step;
    this.tasks.push(task);
    const start = new Promise<WakeReason>((resolve, reject) => {
      task.resumeFn = resolve;
      task.abortFn = reject;
    });
    start
      .then(fn)
      .then(
        () => this.exit(task, undefined),
        (e: unknown) => this.exit(task, e),
      )
      .catch((e: unknown) => {
        // exit() itself failed: record it on the task rather than lose it.
        task.error ??= e;
      });
    return task;
  }

  /**
   * A point where another thread may run (`cond_resched()`); the caller stays runnable.
   *
   * **Kernel:** `cond_resched()` / `might_sleep()`'s preemption point.
   */
  async schedulePoint(): Promise<void> {
    this.switches++;
    this.current.position++;
    if (this.current.inAtomic()) {
      // preemption is disabled: cond_resched() does nothing in atomic context
      return;
    }
    if (!this.othersRunnable() && !this.timerDue()) {
      return;
    }
    await this.park(this.current, "runnable", null, undefined);
  }

  /**
   * Put the running thread to sleep until {@link Scheduler.wake}, a timeout or (if interruptible) a
   * signal. The caller must already be on the wait list it expects to be woken from.
   *
   * **Kernel:** `set_current_state(TASK_UNINTERRUPTIBLE); schedule();`
   *
   * @throws {@link RunAborted} when every thread is blocked (deadlock) or another thread hit a BUG
   */
  async block(waitingFor: string, opts: BlockOptions = {}): Promise<WakeReason> {
    this.switches++;
    const task = this.current;
    task.position++;
    if (opts.interruptible && task.signalPending) {
      return "signal";
    }
    if (opts.timeoutNs !== undefined && opts.timeoutNs <= 0) {
      return "timeout";
    }
    task.interruptible = opts.interruptible ?? false;
    return this.park(task, "blocked", waitingFor, opts.timeoutNs);
  }

  /**
   * Make a blocked thread runnable. Returns false if it was not blocked. Not a scheduling point.
   *
   * **Kernel:** `wake_up_process()`.
   */
  wake(task: Task, reason: WakeReason = "woken"): boolean {
    if (task.state !== "blocked") {
      return false;
    }
    task.state = "runnable";
    task.wakeReason = reason;
    task.waitingFor = null;
    task.timerToken = 0;
    return true;
  }

  /**
   * Send a signal to a thread: interruptible sleeps end with wake reason `"signal"`.
   *
   * **Kernel:** `send_sig()` / `signal_pending()`.
   */
  signal(task: Task): void {
    task.signalPending = true;
    if (task.state === "blocked" && task.interruptible) {
      this.wake(task, "signal");
    }
  }

  /**
   * Wait until the given threads (default: every thread but the caller) have ended.
   *
   * **Kernel:** `kthread_stop()` / `wait_for_completion()` on each thread's exit.
   *
   * @throws {@link RunAborted} on deadlock or BUG
   */
  async join(tasks?: readonly Task[]): Promise<void> {
    const self = this.current;
    const list = tasks ?? this.tasks.filter((t) => t !== self && t !== this.init);
    for (const t of list) {
      while (t.state !== "done" && t.state !== "dead") {
        this.joiners.set(t, [...(this.joiners.get(t) ?? []), self]);
        await this.block(`thread ${t.toString()} to exit`);
      }
    }
  }

  private readonly joiners = new Map<Task, Task[]>();

  /**
   * The scheduler's part of a state digest: every thread's state, step, position and wait, the live
   * timers, who waits for whom, and whether the run was aborted. Counters of the past (switches,
   * preemptions, timer sequence numbers) are left out.
   */
  digest(): unknown[] {
    const threads = this.tasks.map((t) => [
      t.id,
      t.state,
      t.step,
      t.position,
      t.waitingFor,
      t.preemptCount,
      t.irqsDisabled,
      t.rcuReadDepth,
      t.signalPending,
      t.interruptible,
      t.wakeReason,
      t.error !== undefined,
      t.locals,
    ]);
    const timers = this.timers
      .filter((x) => x.task.state === "blocked" && x.task.timerToken === x.token)
      .map((x) => [x.at, x.task.id]);
    const joins = [...this.joiners].map(([t, js]) => [t.id, js.map((j) => j.id)]);
    return [this.current.id, threads, timers, joins, this.aborted?.reason ?? null];
  }

  private timerDue(): boolean {
    const first = this.timers[0];
    return first !== undefined && first.at <= this.kernel.clock.now();
  }

  private othersRunnable(): boolean {
    for (const t of this.tasks) {
      if (t !== this.current && t.state === "runnable") {
        return true;
      }
    }
    return false;
  }

  private park(
    task: Task,
    state: "runnable" | "blocked",
    waitingFor: string | null,
    timeoutNs: number | undefined,
  ): Promise<WakeReason> {
    if (this.current !== task) {
      throw new KernelError(
        "EINVAL",
        `thread ${task.toString()} parked while ${this.current.toString()} runs`,
      );
    }
    if (this.aborted) {
      // the machine is dead: no thread sleeps or runs any more
      throw this.aborted;
    }
    if (task.resumeFn) {
      throw new KernelError(
        "EINVAL",
        `thread ${task.toString()} reached a scheduling point while already waiting: two un-awaited sleeping calls in one thread?`,
      );
    }
    task.state = state;
    task.waitingFor = waitingFor;
    task.wakeReason = "woken";
    const p = new Promise<WakeReason>((resolve, reject) => {
      task.resumeFn = resolve;
      task.abortFn = reject;
    });
    if (timeoutNs !== undefined && state === "blocked") {
      const token = ++this.timerSeq;
      task.timerToken = token;
      this.addTimer({ at: this.kernel.clock.now() + timeoutNs, task, token });
    }
    this.dispatch(task);
    return p;
  }

  private addTimer(timer: Timer): void {
    let i = this.timers.length;
    while (i > 0 && (this.timers[i - 1]?.at ?? 0) > timer.at) {
      i--;
    }
    this.timers.splice(i, 0, timer);
  }

  /** Pick the next thread and resume it. `prev` is the thread that just stopped running. */
  private dispatch(prev: Task): void {
    // only a thread that yielded goes first; one that blocked and was woken meanwhile (by a timer
    // that fired below) queues by id like every other woken thread
    const yielded = prev.state === "runnable";
    for (;;) {
      this.fireDueTimers();
      const runnable = this.runQueue(prev, yielded);
      if (runnable.length > 0) {
        // "preempt": the running thread could go on (option 0), any other pick preempts it;
        // "sched": it blocked or ended, and the pick only says who runs next.
        const pick = this.kernel.choice.choose(
          yielded && runnable[0] === prev ? "preempt" : "sched",
          runnable.length,
        );
        const next = runnable[pick] as Task;
        if (yielded && next !== prev) {
          this.preemptions++;
        }
        this.resume(next);
        return;
      }
      if (!this.fireNextTimer()) {
        this.deadlock();
        return;
      }
    }
  }

  /** Runnable threads; the one that yielded first (option 0 = no preemption), then by id. */
  private runQueue(prev: Task, yielded: boolean): Task[] {
    const q: Task[] = [];
    if (yielded && prev.state === "runnable") {
      q.push(prev);
    }
    for (const t of this.tasks) {
      if (t.state === "runnable" && (t !== prev || !yielded)) {
        q.push(t);
      }
    }
    return q;
  }

  private resume(next: Task): void {
    const fn = next.resumeFn;
    next.resumeFn = null;
    next.abortFn = null;
    next.state = "running";
    this.current = next;
    this.kernel.choice.thread = next.id;
    fn?.(next.wakeReason);
  }

  /** Wake every thread whose timer is due now (the clock may have been advanced by a caller). */
  private fireDueTimers(): void {
    const now = this.kernel.clock.now();
    while (this.timers.length > 0 && (this.timers[0] as Timer).at <= now) {
      const timer = this.timers.shift() as Timer;
      if (timer.task.state === "blocked" && timer.task.timerToken === timer.token) {
        this.wake(timer.task, "timeout");
      }
    }
  }

  private fireNextTimer(): boolean {
    while (this.timers.length > 0) {
      const timer = this.timers.shift() as Timer;
      if (timer.task.state !== "blocked" || timer.task.timerToken !== timer.token) {
        continue;
      }
      if (timer.at > this.kernel.clock.now()) {
        this.kernel.clock.advanceTo(timer.at);
      }
      this.wake(timer.task, "timeout");
      return true;
    }
    return false;
  }

  private deadlock(): void {
    const blocked = this.tasks.filter((t) => t.state === "blocked");
    const lines = blocked.map((t) => `  ${t.toString()} waits for ${t.waitingFor ?? "?"}`);
    this.kernel.report({
      kind: "deadlock",
      code: "all-blocked",
      summary: `deadlock: every live thread is blocked (${blocked.map((t) => t.name).join(", ")})`,
      details: {
        threads: blocked.map((t) => ({ thread: t.name, id: t.id, waitingFor: t.waitingFor })),
        text: lines.join("\n"),
        hint: `${blocked.map((t) => `${t.name} waits for ${t.waitingFor ?? "?"}`).join(", ")}: take the locks in one order everywhere, back off (drop every lock) on -EDEADLK, and make sure whoever signals a wait is not itself waiting`,
      },
    });
    this.kernel.printk(3, `INFO: task hung: every thread is blocked\n${lines.join("\n")}`);
    this.abort(new RunAborted("deadlock", `deadlock:\n${lines.join("\n")}`));
  }

  /**
   * Stop the run: every thread but init is killed; init, if waiting, gets the error.
   *
   * **Kernel:** a panic / the end of the world for the simulated machine.
   */
  abort(reason: RunAborted): void {
    this.aborted ??= reason;
    const init = this.init;
    for (const t of this.tasks) {
      if (t !== init && t.state !== "done") {
        t.state = "dead";
        t.resumeFn = null;
        t.abortFn = null;
        t.finish();
      }
    }
    this.current = init;
    this.kernel.choice.thread = 0;
    if (init.state === "blocked" || init.state === "runnable") {
      const fail = init.abortFn;
      init.resumeFn = null;
      init.abortFn = null;
      init.state = "running";
      fail?.(reason);
    }
  }

  private exit(task: Task, error: unknown): void {
    if (task.state === "dead") {
      return;
    }
    task.error = error;
    task.state = "done";
    task.waitingFor = null;
    this.kernel.onThreadExit(task);
    task.finish();
    for (const j of this.joiners.get(task) ?? []) {
      this.wake(j);
    }
    this.joiners.delete(task);
    if (isBug(error)) {
      this.abort(
        new RunAborted("bug", `BUG in thread ${task.toString()}: ${error.message}`, {
          cause: error,
        }),
      );
      return;
    }
    if (this.current === task) {
      this.dispatch(task);
    }
  }
}

/** Whether a thread died of a BUG (the brand of bug.ts's `KernelBug`, which imports this file). */
function isBug(e: unknown): e is Error {
  return hasBrand(e, KERNEL_BUG_BRAND);
}
