/**
 * The explorer's bounds: how many non-zero picks each kind of choice point may have in one run
 * (preemptions, evictions, prefetches, …), how deep alternatives are explored, how many runs and how
 * much time a search may take. Generic over kinds: a layer's new choice points are explored (without
 * bound, unless one is set) with no change here.
 *
 * @module
 */
import type { Scenario } from "./load";

/**
 * The kinds of choice point the layers make, which `--bound KIND=N` and a scenario's
 * `explore.bounds` can limit, with who makes them.
 */
export const CHOICE_KINDS: Readonly<Record<string, string>> = {
  preempt: "the scheduler: preempt the running thread at a schedule point (@dmasim/kernel)",
  sched: "the scheduler: which woken thread runs after one blocked (@dmasim/kernel)",
  evict: "the cache: evict a line spontaneously (@dmasim/hardware)",
  prefetch: "the cache: load a line speculatively (@dmasim/hardware)",
  cache:
    "the cache: nothing, a spontaneous eviction or a prefetch at a hardware point (@dmasim/hardware)",
  alloc:
    "the page allocator: the free block from the tail of its list, not the head (@dmasim/hardware)",
  "ww-inject": "ww_mutex: inject -EDEADLK to test back-off (@dmasim/dma-resv)",
};

/** Bounds of a search. Every field is optional; see {@link DEFAULT_EXPLORE_BOUNDS}. */
export interface ExploreBounds {
  /**
   * Non-zero picks allowed per run, by choice kind: `preempt` (preemptions), `evict`, `prefetch`,
   * `ww-inject`, `alloc`, `sched`, … A kind not named is unbounded.
   */
  readonly choices?: Readonly<Record<string, number>>;
  /** Alternatives are explored at the first `depth` choice points of a run; later ones take option 0. */
  readonly depth?: number;
  /** Stop after this many runs. */
  readonly runs?: number;
  /** Stop after this many milliseconds of host time. */
  readonly timeMs?: number;
}

/** Bounds with every field set. */
export interface ResolvedBounds {
  readonly choices: Readonly<Record<string, number>>;
  readonly depth: number;
  readonly runs: number;
  readonly timeMs: number;
}

/**
 * The default bounds: 2 preemptions, 2 evictions, 2 prefetches, 2 hardware cache events (the
 * `cache` kind of @dmasim/hardware's `explore` cache policy: one eviction or speculative prefetch
 * per non-zero pick) and 1 injected `-EDEADLK` per run,
 * alternatives at the first 1000 choice points, at most 1,000,000 runs, no time limit. Small bounds
 * find most concurrency bugs (most need one or two preemptions) and keep the space finite.
 */
export const DEFAULT_EXPLORE_BOUNDS: ResolvedBounds = {
  choices: { preempt: 2, evict: 2, prefetch: 2, cache: 2, "ww-inject": 1 },
  depth: 1000,
  runs: 1_000_000,
  timeMs: Infinity,
};

/**
 * The bounds of a search: the defaults, then the scenario's `explore:` section, then `over` (the
 * caller's, e.g. the command line's). Choice bounds merge per kind.
 *
 * **Kernel:** none. **Locking:** none.
 */
export function resolveBounds(
  scenario: Scenario | undefined,
  over: ExploreBounds = {},
): ResolvedBounds {
  const sc = scenario?.explore;
  return {
    choices: { ...DEFAULT_EXPLORE_BOUNDS.choices, ...sc?.bounds, ...over.choices },
    depth: over.depth ?? sc?.depth ?? DEFAULT_EXPLORE_BOUNDS.depth,
    runs: over.runs ?? sc?.runs ?? DEFAULT_EXPLORE_BOUNDS.runs,
    timeMs: over.timeMs ?? DEFAULT_EXPLORE_BOUNDS.timeMs,
  };
}

/**
 * Counts non-zero picks per bounded kind along one run, and says whether another is allowed.
 * The kinds are fixed at creation so that a budget is a short vector.
 */
export class Budget {
  readonly kinds: readonly string[];
  private readonly limits: readonly number[];
  private readonly index = new Map<string, number>();
  readonly used: number[];

  constructor(bounds: ResolvedBounds) {
    this.kinds = Object.keys(bounds.choices).sort();
    this.limits = this.kinds.map((k) => bounds.choices[k] ?? Infinity);
    this.kinds.forEach((k, i) => this.index.set(k, i));
    this.used = this.kinds.map(() => 0);
  }

  /** Start a new run. */
  reset(): void {
    this.used.fill(0);
  }

  /** Whether a non-zero pick of `kind` is allowed now. */
  allows(kind: string): boolean {
    const i = this.index.get(kind);
    return i === undefined || (this.used[i] ?? 0) < (this.limits[i] ?? Infinity);
  }

  /** Record a pick. */
  note(kind: string, pick: number): void {
    if (pick === 0) {
      return;
    }
    const i = this.index.get(kind);
    if (i !== undefined) {
      this.used[i] = (this.used[i] ?? 0) + 1;
    }
  }

  /** What is left of each bounded kind, then of the depth, at choice index `at`. */
  remaining(depth: number, at: number): number[] {
    const r = this.limits.map((l, i) => l - (this.used[i] ?? 0));
    r.push(depth - at);
    return r;
  }
}

/** Whether budget `a` covers budget `b` (at least as much of everything). */
export function covers(a: readonly number[], b: readonly number[]): boolean {
  for (let i = 0; i < b.length; i++) {
    if ((a[i] ?? 0) < (b[i] ?? 0)) {
      return false;
    }
  }
  return true;
}
