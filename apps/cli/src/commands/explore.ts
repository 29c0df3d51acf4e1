import { createRequire } from "node:module";
import { availableParallelism } from "node:os";
import { dirname, join } from "node:path";
import { pathToFileURL } from "node:url";
import { Worker } from "node:worker_threads";
import {
  CHOICE_KINDS,
  EXPLORE_CUTS,
  explore,
  exploreResultJson,
  formatExploreSummary,
  mergeExploreResults,
  parseExploreResult,
  type ExploreBounds,
  type ExploreOptions,
  type ExplorePart,
  type ExploreProgress,
  type ExploreResult,
  type ExploreStrategy,
} from "@dmasim/scenario";
import { checkOutputFile, readInputFile, writeOutputFile } from "../files";
import { envelope } from "../json";
import { EXIT_FINDINGS, EXIT_INCOMPLETE, EXIT_OK, UsageError, type Io } from "../io";
import { progressMode, progressWriter } from "../progress";
import { loadAll, readScenario } from "../scenarios";
import { didYouMean } from "../suggest";
import { checkKernel } from "../targets";

/** Options of `dmasim explore`. */
export interface ExploreFlags {
  strategy?: string;
  reduction?: string;
  preemptions?: string;
  evictions?: string;
  prefetches?: string;
  bound?: string[];
  depth?: string;
  runs?: string;
  time?: string;
  all?: boolean;
  seed?: string;
  pctDepth?: string;
  workers?: string;
  shard?: string;
  out?: string;
  merge?: boolean;
  json?: boolean;
  progress?: string;
  kernel?: string;
}

/** What the parent sends a worker (all plain data). */
export interface WorkerInput {
  readonly text: string;
  readonly file: string;
  readonly options: Omit<ExploreOptions, "onProgress" | "now" | "registry" | "stop">;
  readonly stop: SharedArrayBuffer;
}

/** What a worker sends back. */
export type WorkerMessage =
  | { readonly type: "progress"; readonly progress: ExploreProgress }
  | { readonly type: "result"; readonly result: unknown }
  | { readonly type: "error"; readonly message: string };

function count(flag: string, v: string | undefined, min = 0): number | undefined {
  if (v === undefined) {
    return undefined;
  }
  if (!/^\d+$/.test(v) || Number(v) < min) {
    throw new UsageError(`${flag} ${v}: expected a whole number >= ${min}`);
  }
  return Number(v);
}

function duration(v: string | undefined): number | undefined {
  if (v === undefined) {
    return undefined;
  }
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(v);
  if (!m) {
    throw new UsageError(`--time ${v}: expected a duration such as 30s, 5m, 1h or 500ms`);
  }
  const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[m[2] ?? "s"] ?? 1000;
  const ms = Number(m[1]) * unit;
  if (ms <= 0) {
    throw new UsageError(`--time ${v}: a search needs some time: expected a duration above 0`);
  }
  return ms;
}

/** Parse `i/n` (0-based i). */
export function parsePart(flag: string, v: string): ExplorePart {
  const m = /^(\d+)\/(\d+)$/.exec(v);
  const index = Number(m?.[1]);
  const total = Number(m?.[2]);
  if (!m || total < 1 || index >= total) {
    throw new UsageError(`${flag} ${v}: expected i/n with 0 <= i < n, e.g. 0/4`);
  }
  return { index, count: total };
}

function bounds(flags: ExploreFlags): ExploreBounds {
  const choices: Record<string, number> = {};
  for (const b of flags.bound ?? []) {
    const m = /^([a-z][a-z0-9-]*)=(\d+|inf)$/.exec(b);
    if (!m) {
      throw new UsageError(`--bound ${b}: expected KIND=N (e.g. preempt=3, evict=1, alloc=inf)`);
    }
    const kind = m[1] as string;
    const kinds = Object.keys(CHOICE_KINDS);
    if (!kinds.includes(kind)) {
      throw new UsageError(
        `--bound ${b}: unknown choice kind "${kind}"${didYouMean(kind, kinds)}; kinds: ${kinds.join(", ")}`,
      );
    }
    choices[kind] = m[2] === "inf" ? Infinity : Number(m[2]);
  }
  const named = [
    ["preempt", "--preemptions", flags.preemptions],
    ["evict", "--evictions", flags.evictions],
    ["prefetch", "--prefetches", flags.prefetches],
  ] as const;
  for (const [kind, flag, v] of named) {
    const n = count(flag, v);
    if (n !== undefined) {
      choices[kind] = n;
    }
  }
  const depth = count("--depth", flags.depth);
  const runs = count("--runs", flags.runs, 1);
  const timeMs = duration(flags.time);
  return {
    choices,
    ...(depth !== undefined ? { depth } : {}),
    ...(runs !== undefined ? { runs } : {}),
    ...(timeMs !== undefined ? { timeMs } : {}),
  };
}

function options(flags: ExploreFlags): ExploreOptions {
  const strategy = flags.strategy ?? "dfs";
  if (!["dfs", "random", "pct"].includes(strategy)) {
    throw new UsageError(`--strategy ${strategy}: expected dfs, random or pct`);
  }
  const reduction = flags.reduction ?? "state";
  if (reduction !== "state" && reduction !== "none") {
    throw new UsageError(`--reduction ${reduction}: expected state or none`);
  }
  const seed = count("--seed", flags.seed);
  const pctDepth = count("--pct-depth", flags.pctDepth, 1);
  return {
    strategy: strategy as ExploreStrategy,
    reduction,
    bounds: bounds(flags),
    all: flags.all === true,
    ...(seed !== undefined ? { seed } : {}),
    ...(pctDepth !== undefined ? { pctDepth } : {}),
    ...(flags.shard !== undefined ? { shard: parsePart("--shard", flags.shard) } : {}),
    ...(flags.kernel !== undefined ? { kernel: checkKernel("--kernel", flags.kernel) } : {}),
  };
}

/**
 * Where the worker's code is: beside the bundle, or (running from the TypeScript sources, as the
 * tests do) a small bootstrap that loads tsx and resolves workspace packages to their sources.
 */
function workerUrl(): URL {
  const here = import.meta.url;
  if (!here.endsWith(".ts")) {
    // beside the bundles, whichever loaded this (dist/cli.cjs, main.js or main.cjs)
    return new URL("./explore-worker.cjs", here);
  }
  const tsxDir = dirname(createRequire(here).resolve("tsx/package.json"));
  const tsx = pathToFileURL(join(tsxDir, "dist", "esm", "api", "index.mjs")).href;
  const hook =
    "data:text/javascript,export async function resolve(s,c,n){return n(s,{...c,conditions:[...c.conditions,'@dmasim/source']})}";
  const boot = [
    `const { register } = await import("node:module");`,
    `register(${JSON.stringify(hook)});`,
    `(await import(${JSON.stringify(tsx)})).register();`,
    `await import(${JSON.stringify(new URL("../explore-worker.ts", here).href)});`,
  ].join("\n");
  return new URL(`data:text/javascript,${encodeURIComponent(boot)}`);
}

/** Run the search in `n` worker threads (each a deterministic part of the tree) and merge. */
async function inWorkers(
  text: string,
  file: string,
  opts: ExploreOptions,
  n: number,
  onProgress: ((p: ExploreProgress) => void) | undefined,
): Promise<ExploreResult> {
  const stop = new SharedArrayBuffer(4);
  const flag = new Int32Array(stop);
  const latest: ExploreProgress[] = [];
  const url = workerUrl();
  const { onProgress: _drop, ...plain } = opts;
  const one = (index: number) =>
    new Promise<ExploreResult>((resolve, reject) => {
      const input: WorkerInput = {
        text,
        file,
        options: { ...plain, worker: { index, count: n }, keepStates: true },
        stop,
      };
      const w = new Worker(url, { workerData: input });
      w.on("message", (m: WorkerMessage) => {
        if (m.type === "progress") {
          latest[index] = m.progress;
          onProgress?.(sumProgress(latest));
        } else if (m.type === "result") {
          const r = parseExploreResult(m.result);
          if (r.failures.length > 0 && !opts.all) {
            Atomics.store(flag, 0, 1);
          }
          resolve(r);
        } else {
          reject(new Error(m.message));
        }
      });
      w.on("error", reject);
    });
  const parts = await Promise.all(Array.from({ length: n }, (_, i) => one(i)));
  const merged = mergeExploreResults(parts);
  // the workers' parts make one search (or one shard of it)
  return {
    ...merged,
    shard: opts.shard,
    ...unionCompleteness(parts),
    elapsedMs: Math.max(...parts.map((p) => p.elapsedMs)),
  };
}

/** Whether the workers' parts together covered the space, and why not. */
function unionCompleteness(
  parts: readonly ExploreResult[],
): Pick<ExploreResult, "complete" | "incomplete"> {
  const cuts = new Set(parts.flatMap((p) => p.incomplete));
  const incomplete = EXPLORE_CUTS.filter((c) => cuts.has(c));
  return { complete: incomplete.length === 0, incomplete };
}

function sumProgress(ps: readonly ExploreProgress[]): ExploreProgress {
  const live = ps.filter(Boolean);
  const sum = (k: keyof ExploreProgress) => live.reduce((a, p) => a + p[k], 0);
  return {
    runs: sum("runs"),
    pruned: sum("pruned"),
    states: sum("states"),
    frontier: sum("frontier"),
    failures: sum("failures"),
    elapsedMs: Math.max(0, ...live.map((p) => p.elapsedMs)),
    runsPerSec: sum("runsPerSec"),
  };
}

/**
 * The exit code of a search: 1 when it found a failure, 3 when it found none but did not cover
 * its space (so a CI job can tell it from a clean exhaustive search), 0 for a clean complete one.
 */
export function exploreExitCode(r: ExploreResult): number {
  if (r.failures.length > 0) {
    return EXIT_FINDINGS;
  }
  return r.complete ? EXIT_OK : EXIT_INCOMPLETE;
}

function print(io: Io, r: ExploreResult, flags: ExploreFlags): number {
  if (flags.out !== undefined) {
    writeOutputFile("--out", flags.out, `${JSON.stringify(exploreResultJson(r))}\n`);
  }
  if (flags.json) {
    const { stateKeys: _k, ...rest } = exploreResultJson(r) as { stateKeys?: unknown };
    io.out(envelope("explore", r.failures.length === 0, rest));
  } else {
    for (const f of r.failures) {
      io.out(`${f.text}\n`);
    }
    io.out(formatExploreSummary(r));
  }
  return exploreExitCode(r);
}

function readPart(file: string): ExploreResult {
  const text = readInputFile(file, "explore result file (JSON)");
  try {
    return parseExploreResult(JSON.parse(text));
  } catch (e) {
    throw new UsageError(`${file}: ${e instanceof Error ? e.message : String(e)}`);
  }
}

/**
 * The worker count: a number from 1, or `auto` for every core; more than the cores is capped at
 * the cores (threads beyond them only share the same cores), with a note on stderr.
 */
function workerCount(io: Io, v: string | undefined): number {
  const cores = availableParallelism();
  if (v === "auto") {
    return cores;
  }
  const n = count("--workers", v, 1) ?? 1;
  if (n > cores) {
    io.err(
      `dmasim: --workers ${v}: this machine has ${cores} core${cores === 1 ? "" : "s"}; using ${cores}\n`,
    );
    return cores;
  }
  return n;
}

/** `dmasim explore FILE` and `dmasim explore --merge A.json B.json…`. */
export async function exploreCommand(
  io: Io,
  args: readonly string[],
  flags: ExploreFlags,
): Promise<number> {
  const mode = progressMode(io, flags.progress ?? "auto");
  if (flags.out !== undefined) {
    checkOutputFile("--out", flags.out);
  }
  if (flags.merge) {
    if (args.length === 0) {
      throw new UsageError("--merge needs the result files of the shards (written with --out)");
    }
    const parts = args.map(readPart);
    let merged: ExploreResult;
    try {
      merged = mergeExploreResults(parts);
    } catch (e) {
      throw new UsageError(e instanceof Error ? e.message : String(e));
    }
    return print(io, merged, flags);
  }
  if (args.length !== 1) {
    throw new UsageError("explore takes exactly one scenario FILE (or --merge FILES)");
  }
  const opts = options(flags);
  const workers = workerCount(io, flags.workers);
  const [sc] = loadAll(args, (s) => io.err(s));
  const { text, file } = readScenario(args[0] as string);
  const progress = progressWriter(io, mode);
  const onProgress = progress?.update;
  const withOut = { ...opts, keepStates: flags.out !== undefined };
  let result: ExploreResult;
  try {
    if (workers > 1) {
      result = await inWorkers(text, file, withOut, workers, onProgress);
    } else {
      result = await explore(sc!, { ...withOut, ...(onProgress ? { onProgress } : {}) });
    }
  } finally {
    progress?.end();
  }
  return print(io, result, flags);
}
