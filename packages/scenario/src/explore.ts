/**
 * The explorer: re-run a scenario over its choice points (thread schedules, cache evictions and
 * prefetches, `-EDEADLK` injection, allocator placement) until a run fails or the space within the
 * bounds is exhausted.
 *
 * Strategies: `dfs` (exhaustive depth-first search over the choice tree, with state hashing: a run
 * is cut at a choice point whose machine state was already explored with at least the same budget
 * left), `random` (bounded random walks) and `pct` (probabilistic concurrency testing).
 *
 * @module
 */
import { hashText } from "@dmasim/kernel";
import { Budget, resolveBounds, type ExploreBounds, type ResolvedBounds } from "./explore-bounds";
import {
  PctPolicy,
  RandomWalkPolicy,
  StateTable,
  TreePolicy,
  type RunTrace,
} from "./explore-policy";
import { comparePrefix, splitTree, successor } from "./explore-tree";
import type { Scenario } from "./load";
import type { Registry } from "./registry";
import { formatReport } from "./report";
import { runScenario, type RunReport } from "./run";

/** How to search. */
export type ExploreStrategy = "dfs" | "random" | "pct";

/** The reduction of the depth-first search: state hashing, or none (every run of the tree). */
export type ExploreReduction = "state" | "none";

/** Which part of a split search to run: part `index` of `count` (0-based). */
export interface ExplorePart {
  readonly index: number;
  readonly count: number;
}

/** Progress of a search, reported every `progressEveryMs`. */
export interface ExploreProgress {
  readonly runs: number;
  /** Runs cut short at an already explored state. */
  readonly pruned: number;
  /** Distinct states seen at choice points. */
  readonly states: number;
  /** Alternatives still open on the current path (dfs); 0 for the random strategies. */
  readonly frontier: number;
  /** Distinct failures so far. */
  readonly failures: number;
  readonly elapsedMs: number;
  readonly runsPerSec: number;
}

/** Options of {@link explore}. */
export interface ExploreOptions {
  /** Default `"dfs"`. */
  readonly strategy?: ExploreStrategy;
  /** Default `"state"` (dfs only). */
  readonly reduction?: ExploreReduction;
  /** Over the defaults and the scenario's `explore:` section. */
  readonly bounds?: ExploreBounds;
  /** Keep going after a failure, and group failures by finding. */
  readonly all?: boolean;
  /** Seed of the random strategies (default 1). */
  readonly seed?: number;
  /** PCT's bug depth `d` (default 3): `d - 1` priority-change points per run. */
  readonly pctDepth?: number;
  /** Run only this shard of the search (`--shard i/n`). */
  readonly shard?: ExplorePart;
  /** Within the shard, run only this worker's part. */
  readonly worker?: ExplorePart;
  /** Keep the digests of the states seen (for merging shards' results). */
  readonly keepStates?: boolean;
  /** Keep the replay token of every counted run (tests). */
  readonly keepRuns?: boolean;
  /** Kernel version over the scenario's. */
  readonly kernel?: string;
  readonly registry?: Registry;
  /** Host clock in ms (default `performance.now`). */
  readonly now?: () => number;
  readonly progressEveryMs?: number;
  readonly onProgress?: (p: ExploreProgress) => void;
  /** Polled before each run: true stops the search (e.g. another worker found a failure). */
  readonly stop?: () => boolean;
}

/**
 * Why a search did not cover its whole space within the bounds: `time` and `runs` (a limit stopped
 * it), `depth` (a run had choice points past the depth bound where the bounds allowed another
 * option: they took option 0), `failure` (it stopped at the first failure; `all` goes on),
 * `stopped` (stopped from outside, e.g. by another worker's failure), `sampling` (the random and
 * pct strategies sample the space, never exhaust it), `shards` (a merge of some shards only).
 */
export type ExploreCut = "time" | "runs" | "depth" | "failure" | "stopped" | "sampling" | "shards";

/** Every {@link ExploreCut}, in the order results list them. */
export const EXPLORE_CUTS: readonly ExploreCut[] = [
  "time",
  "runs",
  "depth",
  "failure",
  "stopped",
  "sampling",
  "shards",
];

/** One kind of failure, with its first (shortest-token) run. */
export interface ExploreFailure {
  /** What groups failing runs: the first unexpected finding's kind/code and step, or the failed expectation. */
  readonly key: string;
  readonly summary: string;
  /** `dmasim run --replay TOKEN FILE` reproduces the run. */
  readonly replay: string;
  /** How many failing runs had this key. */
  readonly runs: number;
  /** The run's readable report. */
  readonly text: string;
  /** The run's report (absent in merged results read from JSON). */
  readonly report?: RunReport;
}

/** The result of a search (or of several merged). */
export interface ExploreResult {
  readonly scenario: string;
  readonly file: string;
  /** A hash of the scenario source: merged results must come from the same file. */
  readonly source: string;
  readonly strategy: ExploreStrategy;
  readonly reduction: ExploreReduction;
  readonly bounds: ResolvedBounds;
  readonly shard: ExplorePart | undefined;
  /** The shards merged into this result. */
  readonly shards?: readonly ExplorePart[];
  readonly runs: number;
  readonly pruned: number;
  readonly states: number;
  readonly elapsedMs: number;
  /** The whole space within the bounds was covered: `incomplete` is empty. */
  readonly complete: boolean;
  /** Why the space was not covered (empty when `complete`), in {@link EXPLORE_CUTS} order. */
  readonly incomplete: readonly ExploreCut[];
  readonly failures: readonly ExploreFailure[];
  readonly stateKeys?: readonly string[];
  readonly runTokens?: readonly string[];
}

function failureKey(r: RunReport): { key: string; summary: string } {
  const f = r.unexpected[0];
  if (f) {
    // a deadlock's step is only that of the thread that blocked last: the same deadlock either way
    const where = f.kind === "deadlock" ? "" : ` at step ${f.step}`;
    return { key: `${f.kind}/${f.code}${where}`, summary: f.summary };
  }
  const bad = r.steps.find((x) => x.expectation !== undefined);
  if (bad) {
    return {
      key: `expectation of step ${bad.id} (${bad.op})`,
      summary: `step ${bad.id} (${bad.op}): ${bad.expectation ?? ""}`,
    };
  }
  const e = r.expectations.find((x) => !x.ok);
  if (e) {
    return { key: `expectation: ${e.text.replace(/ \(found \d+\)$/, "")}`, summary: e.text };
  }
  const s = r.steps.find((x) => x.status === "failed");
  if (s) {
    return {
      key: `step ${s.id} (${s.op}) failed${s.errno ? ` with ${s.errno}` : ""}`,
      summary: s.error ?? "step failed",
    };
  }
  return {
    key: `aborted: ${r.aborted?.reason ?? "?"}`,
    summary: r.aborted?.message ?? "run failed",
  };
}

function shorter(a: string, b: string): boolean {
  return a.length !== b.length ? a.length < b.length : a < b;
}

/** The state of one search in progress. */
class Search {
  readonly states = new StateTable();
  readonly budget: Budget;
  readonly failures = new Map<string, ExploreFailure>();
  readonly tokens: string[] = [];
  runs = 0;
  pruned = 0;
  frontier = 0;
  stopped = false;
  /** Why the search did not (or will not) cover its space. */
  readonly cuts = new Set<ExploreCut>();
  private readonly now: () => number;
  private readonly t0: number;
  private lastProgress: number;

  constructor(
    readonly scenario: Scenario,
    readonly opts: ExploreOptions,
    readonly bounds: ResolvedBounds,
  ) {
    this.budget = new Budget(bounds);
    this.now = opts.now ?? (() => performance.now());
    this.t0 = this.now();
    this.lastProgress = this.t0;
  }

  elapsed(): number {
    return this.now() - this.t0;
  }

  /** Whether to stop before the next run. */
  done(): boolean {
    if (this.stopped) {
      return true;
    }
    if (this.opts.stop?.()) {
      this.stopped = true;
      this.cuts.add("stopped");
      return true;
    }
    if (this.runs >= this.bounds.runs) {
      this.stopped = true;
      this.cuts.add("runs");
    } else if (this.elapsed() >= this.bounds.timeMs) {
      this.stopped = true;
      this.cuts.add("time");
    }
    return this.stopped;
  }

  run(policy: TreePolicy | RandomWalkPolicy | PctPolicy): Promise<RunReport> {
    return runScenario(this.scenario, {
      policy,
      observe: (k) => {
        policy.kernel = k;
      },
      // a cut run's outcome is not counted: run no further step once it is cut
      stop: () => policy.cutAt >= 0,
      ...(this.opts.kernel !== undefined ? { kernel: this.opts.kernel } : {}),
      ...(this.opts.registry ? { registry: this.opts.registry } : {}),
    });
  }

  /** Count a finished run; returns false when the search must stop. */
  async counted(report: RunReport, trace: RunTrace): Promise<void> {
    this.runs++;
    if (this.opts.keepRuns) {
      this.tokens.push(report.replay);
    }
    if (trace.cutAt >= 0) {
      this.pruned++;
    } else {
      if (cutByDepth(trace, this.bounds)) {
        this.cuts.add("depth");
      }
      if (!report.ok) {
        await this.fail(report);
      }
    }
    this.progress(false);
  }

  private async fail(report: RunReport): Promise<void> {
    const { key, summary } = failureKey(report);
    const prev = this.failures.get(key);
    if (prev && !shorter(report.replay, prev.replay)) {
      this.failures.set(key, { ...prev, runs: prev.runs + 1 });
    } else {
      // the report of record is the replayed one: exactly what `dmasim run --replay` prints
      const replayed = await runScenario(this.scenario, {
        replay: report.replay,
        ...(this.opts.kernel !== undefined ? { kernel: this.opts.kernel } : {}),
        ...(this.opts.registry ? { registry: this.opts.registry } : {}),
      });
      this.failures.set(key, {
        key,
        summary,
        replay: report.replay,
        runs: (prev?.runs ?? 0) + 1,
        text: formatReport(replayed),
        report: replayed,
      });
    }
    if (!this.opts.all) {
      this.stopped = true;
      this.cuts.add("failure");
    }
  }

  progress(force: boolean): void {
    const cb = this.opts.onProgress;
    if (!cb) {
      return;
    }
    const t = this.now();
    if (!force && t - this.lastProgress < (this.opts.progressEveryMs ?? 1000)) {
      return;
    }
    this.lastProgress = t;
    const elapsedMs = t - this.t0;
    cb({
      runs: this.runs,
      pruned: this.pruned,
      states: this.states.size,
      frontier: this.frontier,
      failures: this.failures.size,
      elapsedMs,
      runsPerSec: elapsedMs > 0 ? (this.runs * 1000) / elapsedMs : 0,
    });
  }
}

/**
 * Whether a full run met a choice point past the depth bound where the choice bounds would still
 * have allowed another option (so the search took option 0 there without exploring the others).
 */
function cutByDepth(t: RunTrace, bounds: ResolvedBounds): boolean {
  if (t.picks.length <= bounds.depth) {
    return false;
  }
  const used = new Map<string, number>();
  for (let j = 0; j < t.picks.length; j++) {
    const kind = t.kinds[j] ?? "";
    const n = used.get(kind) ?? 0;
    if (j >= bounds.depth && (t.counts[j] ?? 0) > 1 && n < (bounds.choices[kind] ?? Infinity)) {
      return true;
    }
    if ((t.picks[j] ?? 0) !== 0) {
      used.set(kind, n + 1);
    }
  }
  return false;
}

function mine(i: number, part: ExplorePart | undefined): boolean {
  return part === undefined || i % part.count === part.index;
}

async function dfsUnit(s: Search, prefix: readonly number[], prune: boolean): Promise<void> {
  let next: readonly number[] | null = prefix;
  let first = true;
  while (next && !s.done()) {
    const policy: TreePolicy = new TreePolicy(next, s.budget, s.bounds, s.states, prune);
    if (first) {
      policy.recordPrefix = true;
      first = false;
    }
    const report = await s.run(policy);
    const trace = policy.trace();
    await s.counted(report, trace);
    const succ = successor(trace, prefix.length, s.bounds);
    s.frontier = succ.frontier;
    next = succ.next;
  }
}

async function dfs(s: Search): Promise<void> {
  const prune = (s.opts.reduction ?? "state") === "state";
  const { shard, worker } = s.opts;
  if (!shard && !worker) {
    await dfsUnit(s, [], prune);
    return;
  }
  const probe = async (prefix: readonly number[]): Promise<RunTrace> => {
    const scratch = new TreePolicy(prefix, new Budget(s.bounds), s.bounds, new StateTable(), false);
    await s.run(scratch);
    return scratch.trace();
  };
  const units = await splitTree(probe, s.bounds, 32 * (shard?.count ?? 1));
  const own = units.filter((_, i) => mine(i, shard)).filter((_, i) => mine(i, worker));
  own.sort(comparePrefix);
  for (const unit of own) {
    if (s.done()) {
      return;
    }
    await dfsUnit(s, unit, prune);
  }
}

async function randomly(s: Search, pct: boolean): Promise<void> {
  const seed = s.opts.seed ?? 1;
  let k = 1;
  if (pct) {
    const probe = new TreePolicy([], new Budget(s.bounds), s.bounds, new StateTable(), false);
    await s.run(probe);
    k = Math.max(1, probe.trace().picks.length);
  }
  const n = s.opts.shard?.count ?? 1;
  const w = s.opts.worker?.count ?? 1;
  const start = (s.opts.shard?.index ?? 0) + n * (s.opts.worker?.index ?? 0);
  for (let r = start; !s.done(); r += n * w) {
    const runSeed = parseInt(hashText(`${seed}:${r}`).slice(0, 8), 16);
    const policy = pct
      ? new PctPolicy(runSeed, s.opts.pctDepth ?? 3, k, s.budget, s.bounds, s.states)
      : new RandomWalkPolicy(runSeed, s.budget, s.bounds, s.states);
    const report = await s.run(policy);
    await s.counted(report, policy.trace());
  }
}

/**
 * Explore a scenario: re-run it over its choice points until a run fails (or, with `all`, until the
 * space within the bounds is exhausted), and return what was found with replay tokens.
 *
 * **Kernel:** none (a model checker around the simulated kernel, in the spirit of
 * tools/testing/selftests run under every schedule).
 *
 * **Locking:** none; each run is a fresh kernel.
 *
 * @throws {@link KernelError} `EINVAL` when the scenario is not deterministic (a replayed prefix
 * diverges), or for an unknown kernel version
 */
export async function explore(
  scenario: Scenario,
  options: ExploreOptions = {},
): Promise<ExploreResult> {
  const strategy = options.strategy ?? "dfs";
  const bounds = resolveBounds(scenario, options.bounds);
  const s = new Search(scenario, options, bounds);
  if (strategy === "dfs") {
    await dfs(s);
  } else {
    await randomly(s, strategy === "pct");
  }
  s.frontier = 0;
  s.progress(true);
  if (strategy !== "dfs") {
    s.cuts.add("sampling");
  }
  const incomplete = EXPLORE_CUTS.filter((c) => s.cuts.has(c));
  const failures = [...s.failures.values()].sort((a, b) => (a.key < b.key ? -1 : 1));
  return {
    scenario: scenario.name,
    file: scenario.file,
    source: hashText(scenario.source),
    strategy,
    reduction: strategy === "dfs" ? (options.reduction ?? "state") : "none",
    bounds,
    shard: options.shard,
    runs: s.runs,
    pruned: s.pruned,
    states: s.states.size,
    elapsedMs: s.elapsed(),
    complete: incomplete.length === 0,
    incomplete,
    failures,
    ...(options.keepStates ? { stateKeys: [...s.states.keys()] } : {}),
    ...(options.keepRuns ? { runTokens: s.tokens } : {}),
  };
}
