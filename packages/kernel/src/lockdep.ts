/**
 * lockdep: the runtime locking correctness validator.
 *
 * **Kernel:** kernel/locking/lockdep.c, include/linux/lockdep.h.
 *
 * Every lock belongs to a class (all `dma_resv` locks share `reservation_ww_class_mutex`). Each thread
 * keeps a stack of the locks it holds. Taking lock B while holding A records the dependency A -> B in
 * one graph for the whole run; a new dependency that closes a cycle is reported even when this run
 * did not deadlock, with both chains, as the kernel's splat names them. Also reported: recursive
 * locking, releasing a lock not held, failed `lockdep_assert_held` / `_not_held`, `might_lock` of a
 * lock whose order is inverted, and locks still held when a thread ends.
 *
 * With `CONFIG_PROVE_LOCKING` off, nothing is checked (locks still work).
 *
 * @module
 */
import type { LockdepDetails } from "./findings";
import type { Kernel } from "./kernel";
import { KERN_WARNING } from "./printk";
import type { Task } from "./sched";

/**
 * A lock class. **Kernel:** `struct lock_class` (keyed by a `lock_class_key`).
 *
 * **Locking:** none (identity only).
 */
export class LockClass {
  constructor(
    readonly id: number,
    readonly name: string,
  ) {}

  toString(): string {
    return `(${this.name})`;
  }
}

/**
 * The lockdep view of one lock instance (or of a pseudo-lock such as `fs_reclaim`).
 *
 * **Kernel:** `struct lockdep_map`.
 *
 * **Locking:** none (identity only).
 */
export class LockdepMap {
  constructor(
    /** The instance name as a splat prints it, e.g. `"&obj->lock"`. */
    readonly name: string,
    readonly cls: LockClass,
  ) {}

  toString(): string {
    return `${this.name}${this.cls.toString()}`;
  }
}

/** One lock on a thread's held stack. **Kernel:** `struct held_lock`. */
export interface HeldLock {
  readonly map: LockdepMap;
  readonly read: boolean;
  /** A recursive read (`read == 2` in the kernel): may nest inside another read of its class. */
  readonly recursive: boolean;
  readonly trylock: boolean;
  /** The lock that allows several locks of this class to be held at once (ww acquire context). */
  readonly nestLock: LockdepMap | undefined;
  readonly subclass: number;
  readonly step: number;
  readonly seq: number;
}

/** How a lock is taken. */
export interface AcquireOptions {
  /**
   * A shared (reader) acquisition: `down_read`. A plain read is not recursive: taking the same
   * class for read again is reported (a queued writer would deadlock it), as lockdep does for rwsems.
   */
  readonly read?: boolean;
  /**
   * With `read`: a recursive read (`read == 2`: `read_lock()` of an rwlock_t, `rcu_read_lock()`,
   * `lock_map_acquire_read()`), which may nest inside another read of the same class.
   */
  readonly recursive?: boolean;
  /** A trylock: it never waits, so it adds no dependency on the locks already held. */
  readonly trylock?: boolean;
  /** `*_nest_lock()` / ww acquire context: the same class may be held several times under it. */
  readonly nestLock?: LockdepMap;
  /** `*_nested(lock, subclass)`: a different subclass is not recursion. */
  readonly subclass?: number;
}

interface Edge {
  readonly from: LockClass;
  readonly to: LockClass;
  readonly thread: string;
  readonly step: number;
  readonly fromName: string;
  readonly toName: string;
  readonly primed: boolean;
}

/** A chain of locks as a finding's details carry it. */
export interface LockChainLink {
  readonly lock: string;
  readonly cls: string;
  readonly thread: string;
  readonly step: number;
}

/**
 * The lockdep state of one kernel: classes, the dependency graph and every thread's held stack.
 *
 * **Kernel:** lockdep's global tables.
 *
 * **Locking:** the running thread's context; no sleeping.
 */
export class Lockdep {
  private readonly classes = new Map<string, LockClass>();
  private readonly edges = new Map<LockClass, Map<LockClass, Edge>>();
  private readonly held = new WeakMap<Task, HeldLock[]>();
  private readonly reported = new Set<string>();

  constructor(private readonly kernel: Kernel) {}

  /**
   * Lockdep's part of a state digest: each thread's held stack, the dependency graph (class
   * names, sorted) and the splats already printed; where each edge was first seen is left out.
   */
  digest(): unknown[] {
    const held = this.kernel.sched.all.map((t) =>
      this.heldLocks(t).map((h) => [
        h.map.name,
        h.map.cls.name,
        h.read,
        h.recursive,
        h.trylock,
        h.nestLock?.name ?? null,
        h.subclass,
      ]),
    );
    const edges: string[] = [];
    for (const [from, out] of this.edges) {
      for (const to of out.keys()) {
        edges.push(`${from.name}>${to.name}`);
      }
    }
    return [held, edges.sort(), [...this.reported].sort()];
  }

  /** Whether checks are on (`CONFIG_PROVE_LOCKING`). */
  get enabled(): boolean {
    return this.debugLocks && this.kernel.options.enabled("CONFIG_PROVE_LOCKING");
  }

  /** `debug_locks`: cleared for good by {@link Lockdep.debugLocksOff}. */
  private debugLocks = true;

  /**
   * Turn lock debugging off for the rest of the run, as the kernel does once it has oopsed: after a
   * BUG the lock state is not trustworthy, so lockdep says nothing more.
   *
   * **Kernel:** `debug_locks_off()` (called by `oops_enter()`).
   */
  debugLocksOff(): void {
    this.debugLocks = false;
  }

  /** The class named `name`, created on first use. **Kernel:** a `lock_class_key`. */
  lockClass(name: string): LockClass {
    let cls = this.classes.get(name);
    if (!cls) {
      cls = new LockClass(this.classes.size + 1, name);
      this.classes.set(name, cls);
    }
    return cls;
  }

  /** A lockdep map for a lock instance of class `className`. **Kernel:** `lockdep_init_map()`. */
  map(name: string, className: string = name): LockdepMap {
    return new LockdepMap(name, this.lockClass(className));
  }

  /** The locks `task` holds, oldest first. */
  heldLocks(task: Task = this.kernel.sched.current): readonly HeldLock[] {
    return this.held.get(task) ?? [];
  }

  private stack(task: Task): HeldLock[] {
    let s = this.held.get(task);
    if (!s) {
      s = [];
      this.held.set(task, s);
    }
    return s;
  }

  /** Whether the running thread holds `map`. **Kernel:** `lock_is_held()`. */
  isHeld(map: LockdepMap, task: Task = this.kernel.sched.current): boolean {
    return this.heldLocks(task).some((h) => h.map === map);
  }

  /** Whether the running thread holds any lock of class `cls`. */
  isClassHeld(cls: LockClass, task: Task = this.kernel.sched.current): boolean {
    return this.heldLocks(task).some((h) => h.map.cls === cls);
  }

  /**
   * Record that the running thread takes `map`: check recursion and ordering, then push it.
   *
   * **Kernel:** `lock_acquire()`.
   */
  acquire(map: LockdepMap, opts: AcquireOptions = {}): void {
    const task = this.kernel.sched.current;
    const stack = this.stack(task);
    const entry: HeldLock = {
      map,
      read: opts.read ?? false,
      recursive: (opts.read ?? false) && (opts.recursive ?? false),
      trylock: opts.trylock ?? false,
      nestLock: opts.nestLock,
      subclass: opts.subclass ?? 0,
      step: this.kernel.step,
      seq: this.kernel.nextSeq(),
    };
    if (this.enabled && !entry.trylock) {
      // a trylock never waits: lockdep neither checks it for recursion nor orders it
      if (entry.nestLock && !this.isHeld(entry.nestLock, task)) {
        this.nestLockNotHeld(task, entry, entry.nestLock);
      }
      this.checkRecursion(task, stack, entry);
      this.addDependencies(task, stack, entry);
    }
    stack.push(entry);
  }

  /**
   * Record that the running thread releases `map`. Releasing a lock not held is reported
   * ("bad unlock balance"). Returns whether it was held.
   *
   * **Kernel:** `lock_release()`.
   */
  release(map: LockdepMap): boolean {
    const task = this.kernel.sched.current;
    const stack = this.stack(task);
    for (let i = stack.length - 1; i >= 0; i--) {
      if (stack[i]?.map === map) {
        stack.splice(i, 1);
        return true;
      }
    }
    if (this.enabled) {
      this.splat(
        "bad-unlock-balance",
        `${task.toString()}:${map.cls.name}`,
        "WARNING: bad unlock balance detected!",
        [
          `${task.toString()} is trying to release lock ${map.toString()} at step ${this.kernel.step}`,
          "but there are no more locks to release!",
        ],
        {
          lock: map.name,
          cls: map.cls.name,
          hint: `release ${map.name} once, from the thread that took it`,
        },
      );
    }
    return false;
  }

  /**
   * Take and drop `map` at once, to teach lockdep that it may be taken here.
   *
   * **Kernel:** `might_lock()` / `might_lock_nested()`.
   */
  mightLock(map: LockdepMap, opts: AcquireOptions = {}): void {
    this.acquire(map, opts);
    this.release(map);
  }

  /**
   * Report if the running thread does not hold `map`.
   *
   * **Kernel:** `lockdep_assert_held()` (a WARN with lockdep on).
   */
  assertHeld(map: LockdepMap, what = map.name): boolean {
    if (!this.enabled || this.isHeld(map)) {
      return true;
    }
    const task = this.kernel.sched.current;
    this.splat(
      "assert-held",
      null,
      `WARNING: lockdep_assert_held(${what}) failed`,
      [
        `${task.toString()} does not hold ${map.toString()} at step ${this.kernel.step}`,
        ...this.heldText(task),
      ],
      { lock: map.name, cls: map.cls.name, hint: `take ${map.name} before this call` },
    );
    return false;
  }

  /**
   * Report if the running thread holds `map`.
   *
   * **Kernel:** `lockdep_assert_not_held()`.
   */
  assertNotHeld(map: LockdepMap, what = map.name): boolean {
    if (!this.enabled || !this.isHeld(map)) {
      return true;
    }
    const task = this.kernel.sched.current;
    this.splat(
      "assert-not-held",
      null,
      `WARNING: lockdep_assert_not_held(${what}) failed`,
      [
        `${task.toString()} holds ${map.toString()} at step ${this.kernel.step}`,
        ...this.heldText(task),
      ],
      {
        lock: map.name,
        cls: map.cls.name,
        hint: `release ${map.name} before this call (it takes the lock itself)`,
      },
    );
    return false;
  }

  /**
   * Add the dependencies `chain[0] -> chain[1] -> …` as if they had been seen, so that any later
   * inversion is reported at once.
   *
   * **Kernel:** the priming that `dma_resv_lockdep()` does at boot (mmap_lock -> reservation lock ->
   * fs_reclaim).
   */
  prime(chain: readonly LockClass[], why = "primed at boot"): void {
    for (let i = 0; i + 1 < chain.length; i++) {
      const from = chain[i] as LockClass;
      const to = chain[i + 1] as LockClass;
      this.addEdge({
        from,
        to,
        thread: why,
        step: 0,
        fromName: from.name,
        toName: to.name,
        primed: true,
      });
    }
  }

  /** Whether the graph has a path `from ->* to`. */
  dependsOn(from: LockClass, to: LockClass): boolean {
    return this.findPath(from, to) !== null;
  }

  /**
   * Report locks still held by a thread that ended.
   *
   * **Kernel:** "WARNING: lock held when returning to user space!" / `debug_check_no_locks_held()`.
   */
  checkNoLocksHeld(task: Task): void {
    const stack = this.heldLocks(task);
    if (!this.enabled || stack.length === 0) {
      return;
    }
    this.splat(
      "held-at-exit",
      null,
      "WARNING: lock held when returning to user space!",
      [`${task.toString()} is leaving the kernel with locks still held!`, ...this.heldText(task)],
      {
        held: stack.map((h) => h.map.name),
        hint: `release ${stack.map((h) => h.map.name).join(", ")} before the thread ends`,
      },
    );
  }

  private heldText(task: Task): string[] {
    const stack = this.heldLocks(task);
    if (stack.length === 0) {
      return [`no locks held by ${task.toString()}.`];
    }
    return [
      `${stack.length} lock${stack.length > 1 ? "s" : ""} held by ${task.toString()}:`,
      ...stack.map((h, i) => ` #${i}: ${h.map.toString()}, at step ${h.step}`),
    ];
  }

  private checkRecursion(task: Task, stack: readonly HeldLock[], entry: HeldLock): void {
    for (const h of stack) {
      if (h.map.cls !== entry.map.cls || h.subclass !== entry.subclass) {
        continue;
      }
      if (entry.recursive && h.read) {
        continue;
      }
      if (entry.nestLock && this.isHeld(entry.nestLock, task)) {
        continue;
      }
      this.splat(
        "recursive-locking",
        `${task.toString()}:${entry.map.cls.name}`,
        "WARNING: possible recursive locking detected",
        [
          `${task.toString()} is trying to acquire lock:`,
          ` ${entry.map.toString()}, at step ${entry.step}`,
          "",
          "but task is already holding lock:",
          ` ${h.map.toString()}, at step ${h.step}`,
          "",
          "other info that might help us debug this:",
          " Possible unsafe locking scenario:",
          `       lock(${entry.map.cls.name});`,
          `       lock(${entry.map.cls.name});`,
          "",
          " *** DEADLOCK ***",
          ...(h.map === entry.map ? [] : ["", " May be due to missing lock nesting notation"]),
          "",
          ...this.heldText(task),
        ],
        {
          chains: [[this.link(task, h)], [this.link(task, entry)]],
          lock: entry.map.name,
          cls: entry.map.cls.name,
          hint:
            h.map === entry.map
              ? `do not take ${entry.map.name} again while holding it`
              : `${h.map.name} and ${entry.map.name} share the class ${entry.map.cls.name}: take the second with a nesting subclass (mutex_lock_nested) or an acquire context`,
        },
      );
      return;
    }
  }

  private nestLockNotHeld(task: Task, entry: HeldLock, nest: LockdepMap): void {
    this.splat(
      "nest-lock-not-held",
      `${task.toString()}:${entry.map.cls.name}`,
      "WARNING: Nested lock was not taken",
      [
        `${task.toString()} is trying to lock:`,
        ` ${entry.map.toString()}, at step ${entry.step}`,
        "",
        "but this task is not holding:",
        ` ${nest.toString()}`,
        "",
        ...this.heldText(task),
      ],
      {
        lock: entry.map.name,
        cls: entry.map.cls.name,
        nestLock: nest.name,
        hint: `take ${nest.name} before ${entry.map.name}`,
      },
    );
  }

  private link(task: Task, h: HeldLock): LockChainLink {
    return { lock: h.map.name, cls: h.map.cls.name, thread: task.toString(), step: h.step };
  }

  private addDependencies(task: Task, stack: readonly HeldLock[], entry: HeldLock): void {
    for (const h of stack) {
      if (h.map.cls === entry.map.cls) {
        continue;
      }
      const from = h.map.cls;
      const to = entry.map.cls;
      if (this.edges.get(from)?.has(to)) {
        continue;
      }
      const back = this.findPath(to, from);
      if (back) {
        this.reportCycle(task, h, entry, back);
      }
      this.addEdge({
        from,
        to,
        thread: task.toString(),
        step: entry.step,
        fromName: h.map.name,
        toName: entry.map.name,
        primed: false,
      });
    }
  }

  private addEdge(edge: Edge): void {
    let out = this.edges.get(edge.from);
    if (!out) {
      out = new Map();
      this.edges.set(edge.from, out);
    }
    if (!out.has(edge.to)) {
      out.set(edge.to, edge);
    }
  }

  /** Breadth-first path of edges from `from` to `to`, or null. */
  private findPath(from: LockClass, to: LockClass): Edge[] | null {
    const prev = new Map<LockClass, Edge>();
    const queue: LockClass[] = [from];
    const seen = new Set<LockClass>([from]);
    while (queue.length > 0) {
      const c = queue.shift() as LockClass;
      if (c === to) {
        const path: Edge[] = [];
        let at = to;
        while (at !== from) {
          const e = prev.get(at) as Edge;
          path.unshift(e);
          at = e.from;
        }
        return path;
      }
      for (const e of this.edges.get(c)?.values() ?? []) {
        if (!seen.has(e.to)) {
          seen.add(e.to);
          prev.set(e.to, e);
          queue.push(e.to);
        }
      }
    }
    return null;
  }

  private reportCycle(
    task: Task,
    held: HeldLock,
    entry: HeldLock,
    existing: readonly Edge[],
  ): void {
    const key = [entry.map.cls.name, held.map.cls.name].sort().join("<->");
    const existingChain: LockChainLink[] = existing.map((e) => ({
      lock: e.toName,
      cls: e.to.name,
      thread: e.thread,
      step: e.step,
    }));
    const first = existing[0];
    if (first) {
      existingChain.unshift({
        lock: first.fromName,
        cls: first.from.name,
        thread: first.thread,
        step: first.step,
      });
    }
    const current: LockChainLink[] = [this.link(task, held), this.link(task, entry)];
    this.splat(
      "circular-dependency",
      key,
      "WARNING: possible circular locking dependency detected",
      [
        `${task.toString()} is trying to acquire lock:`,
        ` ${entry.map.toString()}, at step ${entry.step}`,
        "",
        "but task is already holding lock:",
        ` ${held.map.toString()}, at step ${held.step}`,
        "",
        "which lock already depends on the new lock.",
        "",
        "the existing dependency chain (in reverse order) is:",
        ...[...existing]
          .reverse()
          .map(
            (e, i) =>
              `-> #${existing.length - i} ${e.to.toString()}: after ${e.from.name} ${e.primed ? `(${e.thread})` : `in ${e.thread} at step ${e.step}`}`,
          ),
        `-> #0 ${entry.map.cls.toString()}: being acquired by ${task.toString()} at step ${entry.step}, after ${held.map.cls.name}`,
        "",
        "other info that might help us debug this:",
        " Possible unsafe locking scenario:",
        "       CPU0                    CPU1",
        "       ----                    ----",
        `  lock(${held.map.cls.name});`,
        `                               lock(${(existing[existing.length - 1]?.from ?? entry.map.cls).name});`,
        `                               lock(${held.map.cls.name});`,
        `  lock(${entry.map.cls.name});`,
        "",
        " *** DEADLOCK ***",
        "",
        ...this.heldText(task),
      ],
      {
        chains: [existingChain, current],
        lock: entry.map.name,
        held: held.map.name,
        hint: `take ${held.map.cls.name} and ${entry.map.cls.name} in one order everywhere: here ${entry.map.cls.name} is taken under ${held.map.cls.name}, the existing chain takes them the other way round`,
      },
    );
  }

  private splat(
    code: string,
    dedupe: string | null,
    title: string,
    body: readonly string[],
    details: LockdepDetails,
  ): void {
    if (dedupe !== null) {
      const k = `${code}:${dedupe}`;
      if (this.reported.has(k)) {
        return;
      }
      this.reported.add(k);
    }
    const rule = "=".repeat(title.length);
    const text = [rule, title, "-".repeat(title.length), ...body].join("\n");
    this.kernel.printk(KERN_WARNING, text);
    this.kernel.report({
      kind: "lockdep",
      code,
      summary: title.replace(/^WARNING: /, ""),
      details: { ...details, text },
    });
  }
}
