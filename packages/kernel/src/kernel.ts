/**
 * `Kernel`: the root of one simulated machine's state. Nothing in dmasim is global: two kernels in
 * one process share nothing.
 *
 * **Kernel:** the running kernel as a whole (init/main.c brings up what this constructor builds).
 *
 * @module
 */
import { ChoiceSource, firstPolicy, randomPolicy, type ChoicePolicy } from "./choice";
import { Clock } from "./clock";
import { digestHash } from "./digest";
import { KernelError } from "./errno";
import type { Finding, FindingInput } from "./findings";
import { Lockdep } from "./lockdep";
import { defineOption, KernelOptions, type KernelOptionDef } from "./options";
import { Dmesg, type LogLevel } from "./printk";
import { Scheduler, type Task } from "./sched";
import { Vfs } from "./vfs";
import type { Era } from "./era";
import { DEFAULT_KERNEL_VERSION, KernelVersion } from "./version";

/**
 * A layer's registration with a kernel: its name and the options it defines.
 *
 * **Kernel:** a subsystem's Kconfig and initcall.
 */
export interface KernelModule {
  /** The package, e.g. `"@dmasim/dma-mapping"`. */
  readonly name: string;
  readonly options?: readonly KernelOptionDef[];
  /** The layer's era table: its version-dependent behaviours (for `dmasim list kernels`). */
  readonly eras?: readonly Era[];
}

/**
 * Per-kernel state of an upper layer, created on first use ({@link Kernel.subsys}).
 *
 * **Kernel:** a subsystem's static state (its lists, its debugfs entries, its counters).
 */
export interface SubsysKey<T> {
  readonly name: string;
  readonly module: KernelModule | undefined;
  readonly create: (kernel: Kernel) => T;
}

/**
 * Declare the per-kernel state of a layer.
 *
 * **Kernel:** `static` state of a .c file, made per-kernel.
 *
 * **Locking:** none (pure).
 */
export function defineSubsys<T>(
  name: string,
  create: (kernel: Kernel) => T,
  module?: KernelModule,
): SubsysKey<T> {
  return { name, create, module };
}

/** How to build a kernel. */
export interface KernelConfig {
  /** A version from `KERNEL_PROFILES` (default `latest`). */
  readonly version?: string;
  /** Option values by name; every name must be defined by the core or by one of `modules`. */
  readonly options?: Readonly<Record<string, boolean>>;
  /** Modules whose options may be set here (more are loaded on first use). */
  readonly modules?: readonly KernelModule[];
  /** The choice policy; default: `randomPolicy(seed)` when a seed is given, else `firstPolicy()`. */
  readonly policy?: ChoicePolicy;
  readonly seed?: number;
  /** `CONFIG_HZ` (default 250). */
  readonly hz?: number;
  /** Record trace events (default false: hot paths then cost nothing for tracing). */
  readonly tracing?: boolean;
}

/** One event of the trace (for reports and Chrome trace-event output). */
export interface TraceEvent {
  readonly seq: number;
  /** Kernel time (ktime, ns). */
  readonly ns: number;
  /** Timeline time (ns): ktime plus the work time charged so far ({@link Clock.timeline}). */
  readonly ts: number;
  /**
   * What the event is: an instant (absent), the begin (`B`) or end (`E`) of a span on its track
   * (spans on one track nest), or a complete span (`X`) of `dur` ns.
   */
  readonly ph?: "B" | "E" | "X";
  /** The length of an `X` span (ns). */
  readonly dur?: number;
  readonly step: number;
  /** A track: a thread name, `"cache"`, a device name, `"iommu:<dev>"`… */
  readonly track: string;
  /** A category: `"cpu"`, `"dma"`, `"cache"`, `"lock"`, `"fence"`, … */
  readonly cat: string;
  readonly name: string;
  readonly args?: Readonly<Record<string, unknown>>;
}

/** Options defined by the kernel core. */
export const CORE_MODULE: KernelModule = {
  name: "@dmasim/kernel",
  options: [
    defineOption({
      name: "CONFIG_PROVE_LOCKING",
      kind: "config",
      owner: "@dmasim/kernel",
      default: true,
      description: "lockdep: recursion, lock-order inversions, assert_held, might_lock",
    }),
    defineOption({
      name: "CONFIG_DEBUG_ATOMIC_SLEEP",
      kind: "config",
      owner: "@dmasim/kernel",
      default: true,
      description: "might_sleep(): report sleeping in atomic context",
    }),
    defineOption({
      name: "CONFIG_DEBUG_MUTEXES",
      kind: "config",
      owner: "@dmasim/kernel",
      default: true,
      description: "mutex debugging: unlock by a non-owner, destroy of a held mutex",
    }),
  ],
};

/**
 * One simulated machine: version, options, choice source, clock, log, findings, scheduler, lockdep,
 * the VFS, and every upper layer's state.
 *
 * **Kernel:** the booted kernel.
 *
 * **Locking:** none of its own; see each part.
 */
export class Kernel {
  readonly version: KernelVersion;
  readonly options: KernelOptions;
  readonly choice: ChoiceSource;
  readonly clock: Clock;
  readonly dmesg: Dmesg;
  readonly sched: Scheduler;
  readonly lockdep: Lockdep;
  readonly vfs: Vfs;
  /** Every finding, in order. */
  readonly findings: Finding[] = [];
  /** Trace events (only while {@link Kernel.tracing}). */
  readonly events: TraceEvent[] = [];
  tracing: boolean;
  /** Sites that already warned once (`WARN_ON_ONCE`). @internal */
  readonly warnedOnce = new Set<string>();
  private seq = 0;
  /** The begin times of the open spans, by track (see {@link Kernel.traceEnd}). */
  private readonly openSpans = new Map<string, number[]>();
  private readonly modules = new Map<string, KernelModule>();
  private readonly subsystems = new Map<SubsysKey<unknown>, unknown>();
  private readonly findingListeners: ((f: Finding) => void)[] = [];
  private readonly digestParts: { readonly name: string; readonly fn: () => unknown }[] = [];

  /**
   * @throws {@link KernelError} `EINVAL` for an unknown version, or an option that neither the core
   * nor any module in `config.modules` defines
   */
  constructor(config: KernelConfig = {}) {
    this.version = new KernelVersion(config.version ?? DEFAULT_KERNEL_VERSION);
    this.options = new KernelOptions(this.version, config.options ?? {});
    this.load(CORE_MODULE);
    for (const m of config.modules ?? []) {
      this.load(m);
    }
    const unknown = this.options.unknownRequested();
    if (unknown.length > 0) {
      throw new KernelError(
        "EINVAL",
        `unknown kernel option${unknown.length > 1 ? "s" : ""} ${unknown.join(", ")} (known: ${this.options
          .list()
          .map((o) => o.def.name)
          .join(", ")})`,
      );
    }
    const policy =
      config.policy ?? (config.seed !== undefined ? randomPolicy(config.seed) : firstPolicy());
    this.choice = new ChoiceSource(policy);
    this.clock = new Clock(config.hz);
    this.tracing = config.tracing ?? false;
    this.sched = new Scheduler(this);
    this.dmesg = new Dmesg(
      () => this.clock.now(),
      () => this.sched.current.name,
    );
    this.lockdep = new Lockdep(this);
    this.vfs = new Vfs(this);
  }

  /**
   * The scenario step the running thread is executing (each thread has its own, so that findings
   * name the right step when threads interleave). Set by the scenario runner; 0 outside scenarios.
   */
  get step(): number {
    return this.sched.current.step;
  }

  set step(step: number) {
    const cur = this.sched.current;
    if (cur.step !== step) {
      cur.step = step;
      cur.position = 0;
    }
  }

  /** Register a module's options (idempotent). **Kernel:** loading a module / its initcall. */
  load(module: KernelModule): void {
    if (this.modules.has(module.name)) {
      return;
    }
    this.modules.set(module.name, module);
    this.options.define(module.options ?? []);
  }

  /** The per-kernel state of a layer, created (and its module loaded) on first use. */
  subsys<T>(key: SubsysKey<T>): T {
    if (this.subsystems.has(key as SubsysKey<unknown>)) {
      return this.subsystems.get(key as SubsysKey<unknown>) as T;
    }
    if (key.module) {
      this.load(key.module);
    }
    const state = key.create(this);
    this.subsystems.set(key as SubsysKey<unknown>, state);
    return state;
  }

  /** The next event sequence number. */
  nextSeq(): number {
    return ++this.seq;
  }

  /**
   * Take `n` consecutive event sequence numbers at once and return the first (what `n` calls of
   * {@link Kernel.nextSeq} would have returned, in order): a layer that records one event for a
   * range of lines numbers them as if recorded one by one.
   */
  takeSeq(n: number): number {
    const first = this.seq + 1;
    this.seq += n;
    return first;
  }

  /** Print to the log. **Kernel:** `printk()`. */
  printk(level: LogLevel, text: string): void {
    this.dmesg.printk(level, text);
  }

  /** Record a finding (adds step, thread, time and sequence). */
  report(input: FindingInput): Finding {
    const finding: Finding = {
      ...input,
      step: this.step,
      thread: this.sched.current.name,
      ns: this.clock.now(),
      seq: this.nextSeq(),
    };
    this.findings.push(finding);
    for (const l of this.findingListeners) {
      l(finding);
    }
    return finding;
  }

  /** Call `listener` for every finding from now on. */
  onFinding(listener: (f: Finding) => void): void {
    this.findingListeners.push(listener);
  }

  /** Record a trace event (a no-op unless tracing). */
  trace(track: string, cat: string, name: string, args?: Readonly<Record<string, unknown>>): void {
    if (!this.tracing) {
      return;
    }
    this.pushEvent(track, cat, name, args, undefined, undefined);
  }

  /**
   * Begin a span on `track` (a no-op unless tracing): what follows on the track until the matching
   * {@link Kernel.traceEnd} happens inside it. **Kernel:** none (like a tracepoint pair).
   */
  traceBegin(
    track: string,
    cat: string,
    name: string,
    args?: Readonly<Record<string, unknown>>,
  ): void {
    if (!this.tracing) {
      return;
    }
    const open = this.openSpans.get(track) ?? [];
    open.push(this.clock.timeline());
    this.openSpans.set(track, open);
    this.pushEvent(track, cat, name, args, "B", undefined);
  }

  /**
   * End the last span begun on `track`, charging work time so that it lasts at least `minNs` and
   * ends after everything inside it (a no-op unless tracing). **Kernel:** none.
   */
  traceEnd(
    track: string,
    cat: string,
    name: string,
    minNs = 0,
    args?: Readonly<Record<string, unknown>>,
  ): void {
    if (!this.tracing) {
      return;
    }
    const begun = this.openSpans.get(track)?.pop();
    if (begun !== undefined) {
      // at least 1 ns, so that what happened inside lies strictly before the end
      this.clock.charge(Math.max(1, begun + minNs - this.clock.timeline()));
    }
    this.pushEvent(track, cat, name, args, "E", undefined);
  }

  /**
   * Record a span of `durNs` of work on `track` starting now, and charge it to the timeline (a
   * no-op unless tracing): a DMA transfer, a cache maintenance pass. **Kernel:** none.
   */
  traceSpan(
    track: string,
    cat: string,
    name: string,
    durNs: number,
    args?: Readonly<Record<string, unknown>>,
  ): void {
    if (!this.tracing) {
      return;
    }
    const dur = Math.max(0, durNs);
    this.pushEvent(track, cat, name, args, "X", dur);
    this.clock.charge(dur);
  }

  private pushEvent(
    track: string,
    cat: string,
    name: string,
    args: Readonly<Record<string, unknown>> | undefined,
    ph: "B" | "E" | "X" | undefined,
    dur: number | undefined,
  ): void {
    const ev: TraceEvent = {
      seq: this.nextSeq(),
      ns: this.clock.now(),
      ts: this.clock.timeline(),
      ...(ph !== undefined ? { ph } : {}),
      ...(dur !== undefined ? { dur } : {}),
      step: this.step,
      track,
      cat,
      name,
    };
    this.events.push(args ? { ...ev, args } : ev);
  }

  /** Start a thread. **Kernel:** `kthread_run()`. See {@link Scheduler.spawn}. */
  spawn(name: string, fn: () => Promise<void>): Task {
    return this.sched.spawn(name, fn);
  }

  /**
   * Run threads to completion: spawn each, then wait for all. Resolves with each thread's error
   * (undefined when it returned normally).
   *
   * @throws {@link RunAborted} on deadlock or BUG
   */
  async run(
    threads: Readonly<Record<string, () => Promise<void>>>,
  ): Promise<Record<string, unknown>> {
    const tasks = Object.entries(threads).map(([name, fn]) => this.spawn(name, fn));
    await this.sched.join(tasks);
    return Object.fromEntries(tasks.map((t) => [t.name, t.error]));
  }

  /**
   * Add a part to every {@link Kernel.stateDigest}: a layer whose state decides what a run does next
   * and that the kernel cannot see by walking it (closures, weak maps, state outside the kernel)
   * contributes a value here. The value is serialised structurally (the walk of `digestValue`, hashed by `digestHash`).
   *
   * **Kernel:** none (a model-checking aid).
   */
  addStateDigest(name: string, fn: () => unknown): void {
    this.digestParts.push({ name, fn });
  }

  /**
   * A 64-bit hash (16 hex digits) of the machine state that decides the rest of a run: the clock,
   * the scheduler (each thread's state, step, position and wait; timers), the findings so far (kind,
   * code, step, thread), lockdep (held stacks, dependency graph), `WARN_ON_ONCE` sites, the VFS, every
   * layer's subsystem state (walked structurally, or its own `stateDigest()` method when it has one)
   * and the parts added with {@link Kernel.addStateDigest}. Equal digests mean equal futures for
   * every choice sequence, as far as the serialisation sees.
   *
   * **Kernel:** none.
   */
  stateDigest(): string {
    const subsys = [...this.subsystems]
      .map(([key, state]): [string, unknown] => {
        const own = (state as { stateDigest?: unknown } | null)?.stateDigest;
        const value: unknown =
          typeof own === "function" ? (own as () => unknown).call(state) : state;
        return [key.name, value];
      })
      .sort((x, y) => (x[0] < y[0] ? -1 : x[0] > y[0] ? 1 : 0));
    const parts = [
      this.clock.now(),
      this.sched.digest(),
      this.findings.map((f) => [f.kind, f.code, f.step, f.thread]),
      this.lockdep.digest(),
      [...this.warnedOnce].sort(),
      this.vfs,
      subsys,
      this.digestParts.map((p) => [p.name, p.fn()]),
    ];
    return digestHash(parts);
  }

  /** How a state digest names the kernel (it is never walked into). */
  digestTag(): string {
    return "K";
  }

  /** @internal called by the scheduler when a thread ends. */
  onThreadExit(task: Task): void {
    this.lockdep.checkNoLocksHeld(task);
  }
}
