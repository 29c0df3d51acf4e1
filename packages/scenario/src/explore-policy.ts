/**
 * The explorer's choice policies: the tree policy of the depth-first search (follow a prefix of
 * picks, then answer 0, hashing the state at each new choice point and cutting the run where an
 * equal state was already explored with at least the same budget), a bounded random walk, and PCT
 * (probabilistic concurrency testing: random thread priorities with a few priority-change points).
 *
 * @module
 */
import type { ChoicePoint, ChoicePolicy, Kernel } from "@dmasim/kernel";
import { ReplayDiverged, mulberry32 } from "@dmasim/kernel";
import type { Budget } from "./explore-bounds";
import { covers, type ResolvedBounds } from "./explore-bounds";

/**
 * Every state seen at a choice point, with the budgets it was reached with (none covering another).
 */
export class StateTable {
  private readonly map = new Map<string, number[][]>();

  /** How many distinct states. */
  get size(): number {
    return this.map.size;
  }

  /** The digests seen. */
  keys(): IterableIterator<string> {
    return this.map.keys();
  }

  /** Count a digest seen elsewhere (merging). */
  add(key: string): void {
    if (!this.map.has(key)) {
      this.map.set(key, []);
    }
  }

  /**
   * Record a visit of state `key` with budget `left`. Returns true when an earlier visit had at
   * least this budget (so its subtree covers this one) and `prune` is on.
   */
  visit(key: string, left: readonly number[], prune: boolean): boolean {
    const seen = this.map.get(key);
    if (!seen) {
      this.map.set(key, [left.slice()]);
      return false;
    }
    if (prune && seen.some((s) => covers(s, left))) {
      return true;
    }
    const kept = seen.filter((s) => !covers(left, s));
    kept.push(left.slice());
    this.map.set(key, kept);
    return false;
  }
}

/** What one run recorded: its choice points and picks, and where it was cut (or -1). */
export interface RunTrace {
  readonly kinds: readonly string[];
  readonly counts: readonly number[];
  readonly picks: readonly number[];
  readonly cutAt: number;
}

function stateKey(kernel: Kernel, point: ChoicePoint): string {
  return `${point.kind}/${point.count}/${kernel.stateDigest()}`;
}

/** Base of the explorer's policies: records the trace and the state at each point. */
abstract class RecordingPolicy implements ChoicePolicy {
  abstract readonly name: string;
  kernel: Kernel | undefined;
  readonly kinds: string[] = [];
  readonly counts: number[] = [];
  readonly picks: number[] = [];
  cutAt = -1;

  constructor(
    protected readonly budget: Budget,
    protected readonly bounds: ResolvedBounds,
    protected readonly states: StateTable,
  ) {
    budget.reset();
  }

  protected abstract choose(point: ChoicePoint): number;

  pick(point: ChoicePoint): number {
    const p = this.choose(point);
    this.budget.note(point.kind, p);
    this.kinds.push(point.kind);
    this.counts.push(point.count);
    this.picks.push(p);
    return p;
  }

  /** Count the state here; true when the run should be cut (an explored state, with pruning). */
  protected visit(point: ChoicePoint, prune: boolean): boolean {
    if (!this.kernel || point.index >= this.bounds.depth) {
      return false;
    }
    const left = this.budget.remaining(this.bounds.depth, point.index);
    return this.states.visit(stateKey(this.kernel, point), left, prune);
  }

  trace(): RunTrace {
    return { kinds: this.kinds, counts: this.counts, picks: this.picks, cutAt: this.cutAt };
  }
}

/**
 * The depth-first search's policy for one run: the picks of `prefix`, then option 0.
 * With `prune`, a new choice point whose state was explored before with at least the budget left
 * now cuts the run (it then answers 0 to the end, and its outcome is not counted).
 */
export class TreePolicy extends RecordingPolicy {
  readonly name = "explore(dfs)";
  /**
   * Also count (never prune on) the states at the prefix's choice points: the first run of a unit
   * of a split search, so that split searches see the states an unsplit one sees.
   */
  recordPrefix = false;

  constructor(
    private readonly prefix: readonly number[],
    budget: Budget,
    bounds: ResolvedBounds,
    states: StateTable,
    private readonly prune: boolean,
  ) {
    super(budget, bounds, states);
  }

  protected choose(point: ChoicePoint): number {
    if (point.index < this.prefix.length) {
      const p = this.prefix[point.index] ?? 0;
      if (p >= point.count) {
        throw new ReplayDiverged(
          `choice ${point.index} (${point.kind}): the scenario is not deterministic`,
        );
      }
      if (this.recordPrefix && this.kernel && point.index < this.bounds.depth) {
        this.states.add(stateKey(this.kernel, point));
      }
      return p;
    }
    if (this.cutAt < 0 && this.visit(point, this.prune)) {
      this.cutAt = point.index;
    }
    return 0;
  }
}

function weighted(point: ChoicePoint, r: number): number {
  const w = point.weights;
  if (!w) {
    return Math.floor(r * point.count);
  }
  const total = w.reduce((a, b) => a + b, 0);
  let acc = 0;
  for (let i = 0; i < point.count; i++) {
    acc += w[i] ?? 0;
    if (r * total < acc) {
      return i;
    }
  }
  return point.count - 1;
}

/** A random run within the bounds (weights honoured), seeded per run. */
export class RandomWalkPolicy extends RecordingPolicy {
  readonly name: string;
  private readonly next: () => number;

  constructor(seed: number, budget: Budget, bounds: ResolvedBounds, states: StateTable) {
    super(budget, bounds, states);
    this.name = `explore(random ${seed >>> 0})`;
    this.next = mulberry32(seed);
  }

  protected choose(point: ChoicePoint): number {
    this.visit(point, false);
    if (point.index >= this.bounds.depth || !this.budget.allows(point.kind)) {
      return 0;
    }
    return weighted(point, this.next());
  }
}

/**
 * PCT for one run: each thread gets a random priority (all above `d`); at `d - 1` random choice
 * indices the running thread's priority drops below every other; at each scheduling choice the
 * runnable thread with the highest priority runs. Other kinds of choice are random.
 */
export class PctPolicy extends RecordingPolicy {
  readonly name: string;
  private readonly next: () => number;
  private readonly priority = new Map<number, number>();
  private readonly changes: Map<number, number>;

  constructor(
    seed: number,
    d: number,
    k: number,
    budget: Budget,
    bounds: ResolvedBounds,
    states: StateTable,
  ) {
    super(budget, bounds, states);
    this.name = `explore(pct ${seed >>> 0})`;
    this.next = mulberry32(seed);
    this.changes = new Map();
    for (let j = 1; j < d; j++) {
      this.changes.set(Math.floor(this.next() * Math.max(1, k)), j);
    }
  }

  private prio(id: number): number {
    let p = this.priority.get(id);
    if (p === undefined) {
      p = this.changes.size + 1 + this.next();
      this.priority.set(id, p);
    }
    return p;
  }

  /** The thread ids behind the options of a scheduling choice, as the scheduler orders them. */
  private options(point: ChoicePoint): number[] | undefined {
    const all = this.kernel?.sched.all ?? [];
    const runnable = all.filter((t) => t.state === "runnable").map((t) => t.id);
    const ids =
      point.kind === "preempt"
        ? [point.thread, ...runnable.filter((id) => id !== point.thread)]
        : runnable;
    return ids.length === point.count ? ids : undefined;
  }

  protected choose(point: ChoicePoint): number {
    this.visit(point, false);
    if (point.index >= this.bounds.depth) {
      return 0;
    }
    const change = this.changes.get(point.index);
    if (change !== undefined) {
      this.prio(point.thread);
      this.priority.set(point.thread, change - 1);
    }
    const ids =
      point.kind === "preempt" || point.kind === "sched" ? this.options(point) : undefined;
    if (!ids) {
      return this.budget.allows(point.kind) && this.next() < 0.5 ? weighted(point, this.next()) : 0;
    }
    let best = 0;
    ids.forEach((id, i) => {
      if (this.prio(id) > this.prio(ids[best] ?? 0)) {
        best = i;
      }
    });
    return best !== 0 && !this.budget.allows(point.kind) ? 0 : best;
  }
}
