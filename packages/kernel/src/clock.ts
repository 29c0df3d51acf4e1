/**
 * The simulated clock: nanoseconds since boot and jiffies. Time moves only when every thread is
 * waiting and a timer is due, or when a caller advances it: runs never depend on the host's clock.
 *
 * Beside this kernel time (`ktime`, what kernel code reads: timers, timeouts, fence timestamps)
 * the clock keeps the *timeline* of a trace: ktime plus the work time charged for what the model
 * did (a step, an exporter callback, a DMA transfer, cache maintenance). Work time only ever makes
 * a trace readable: no kernel code reads it, so it changes no outcome (a timeout does not expire
 * sooner because a step was long) and no state digest (two schedules that reach the same state
 * after different work are the same state). It is a pure function of the run, so a replay traces
 * the same timeline.
 *
 * **Kernel:** kernel/time (ktime_get, jiffies, HZ).
 *
 * @module
 */
import { KernelError } from "./errno";

/** `MAX_SCHEDULE_TIMEOUT` (LONG_MAX): wait without a timeout. **Kernel:** include/linux/sched.h */
export const MAX_SCHEDULE_TIMEOUT = Number.MAX_SAFE_INTEGER;

/** Nanoseconds per millisecond. **Kernel:** `NSEC_PER_MSEC`. */
export const NSEC_PER_MSEC = 1_000_000;

/**
 * The clock of one kernel.
 *
 * **Kernel:** `ktime_get()`, `jiffies`, `HZ`, `msecs_to_jiffies()`.
 *
 * **Locking:** none (only the scheduler and explicit calls move it).
 */
export class Clock {
  private ns = 0;
  /** Work time charged so far (ns): the timeline runs this far ahead of ktime. */
  private work = 0;

  /**
   * @param hz - ticks per second (`CONFIG_HZ`)
   * @throws {@link KernelError} `EINVAL` for a tick rate that Linux does not offer
   */
  constructor(readonly hz = 250) {
    if (![100, 250, 300, 1000].includes(hz)) {
      throw new KernelError("EINVAL", `HZ must be 100, 250, 300 or 1000 (got ${hz})`);
    }
  }

  /** Nanoseconds since boot. **Kernel:** `ktime_get()`. */
  now(): number {
    return this.ns;
  }

  /** Ticks since boot. **Kernel:** `jiffies`. */
  get jiffies(): number {
    return Math.floor((this.ns * this.hz) / 1e9);
  }

  /** The time (ns) at which jiffies reaches `j`. */
  jiffiesToNs(j: number): number {
    return Math.ceil((j * 1e9) / this.hz);
  }

  /** **Kernel:** `msecs_to_jiffies()` (rounds up). */
  msecsToJiffies(ms: number): number {
    return Math.ceil((ms * this.hz) / 1000);
  }

  /** **Kernel:** `jiffies_to_msecs()`. */
  jiffiesToMsecs(j: number): number {
    return Math.floor((j * 1000) / this.hz);
  }

  /**
   * Move time forward to `ns` (never backwards).
   *
   * @throws {@link KernelError} `EINVAL` when asked to go back in time
   */
  advanceTo(ns: number): void {
    if (ns < this.ns) {
      throw new KernelError("EINVAL", `clock cannot go back from ${this.ns} to ${ns}`);
    }
    this.ns = ns;
  }

  /** Move time forward by `ns` nanoseconds. */
  advance(ns: number): void {
    this.advanceTo(this.ns + Math.max(0, ns));
  }

  /**
   * The timeline (ns): ktime plus the work time charged so far. Monotonic; moves with ktime (a
   * timer that fires shows as the gap it is) and with {@link Clock.charge}. Read by tracing only.
   */
  timeline(): number {
    return this.ns + this.work;
  }

  /** Charge `ns` of work time: the timeline moves on, ktime does not. */
  charge(ns: number): void {
    if (ns > 0) {
      this.work += ns;
    }
  }
}
