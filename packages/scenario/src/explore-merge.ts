/**
 * Explore results as files, merged: each shard of a split search (`dmasim explore --shard i/n
 * --out FILE`) writes its result as JSON; `mergeExploreResults` joins them into the result of the
 * whole search (runs add up, states are a union, failures group by key), and the summary text.
 *
 * @module
 */
import { z } from "zod";
import { EXPLORE_CUTS, type ExploreCut, type ExploreFailure, type ExploreResult } from "./explore";

/** The `format` field of an explore result file. */
export const EXPLORE_FORMAT = "dmasim-explore/1";

const partSchema = z.object({ index: z.number().int().min(0), count: z.number().int().min(1) });
const boundSchema = z.union([z.number(), z.null()]).transform((v) => v ?? Infinity);

const resultSchema = z.object({
  format: z.literal(EXPLORE_FORMAT),
  scenario: z.string(),
  file: z.string(),
  source: z.string(),
  strategy: z.enum(["dfs", "random", "pct"]),
  reduction: z.enum(["state", "none"]),
  bounds: z.object({
    choices: z.record(z.string(), boundSchema),
    depth: boundSchema,
    runs: boundSchema,
    timeMs: boundSchema,
  }),
  shard: partSchema.optional(),
  shards: z.array(partSchema).optional(),
  runs: z.number(),
  pruned: z.number(),
  states: z.number(),
  elapsedMs: z.number(),
  complete: z.boolean(),
  incomplete: z.array(z.enum(EXPLORE_CUTS as [ExploreCut, ...ExploreCut[]])).optional(),
  failures: z.array(
    z.object({
      key: z.string(),
      summary: z.string(),
      replay: z.string(),
      runs: z.number(),
      text: z.string(),
    }),
  ),
  stateKeys: z.array(z.string()).optional(),
});

/**
 * A result as JSON (infinite bounds as `null`; reports as text only).
 *
 * **Kernel:** none. **Locking:** none.
 */
export function exploreResultJson(r: ExploreResult): unknown {
  const fin = (n: number): number | null => (Number.isFinite(n) ? n : null);
  return {
    format: EXPLORE_FORMAT,
    scenario: r.scenario,
    file: r.file,
    source: r.source,
    strategy: r.strategy,
    reduction: r.reduction,
    bounds: {
      choices: Object.fromEntries(Object.entries(r.bounds.choices).map(([k, v]) => [k, fin(v)])),
      depth: fin(r.bounds.depth),
      runs: fin(r.bounds.runs),
      timeMs: fin(r.bounds.timeMs),
    },
    ...(r.shard ? { shard: r.shard } : {}),
    ...(r.shards ? { shards: r.shards } : {}),
    runs: r.runs,
    pruned: r.pruned,
    states: r.states,
    elapsedMs: r.elapsedMs,
    complete: r.complete,
    incomplete: r.incomplete,
    failures: r.failures.map((f) => ({
      key: f.key,
      summary: f.summary,
      replay: f.replay,
      runs: f.runs,
      text: f.text,
    })),
    ...(r.stateKeys ? { stateKeys: r.stateKeys } : {}),
  };
}

/**
 * Read a result written by {@link exploreResultJson}.
 *
 * **Kernel:** none. **Locking:** none.
 *
 * @throws {@link Error} when the value is not an explore result (the message says where)
 */
export function parseExploreResult(value: unknown): ExploreResult {
  const p = resultSchema.safeParse(value);
  if (!p.success) {
    const i = p.error.issues[0];
    throw new Error(
      `not a ${EXPLORE_FORMAT} result: ${i?.path.join(".") || "(top)"}: ${i?.message ?? "invalid"}`,
    );
  }
  const { shards, stateKeys, shard, format: _format, incomplete, ...rest } = p.data;
  return {
    ...rest,
    // a file written before the reasons were recorded: say only that it stopped
    incomplete: incomplete ?? (rest.complete ? [] : ["stopped"]),
    shard,
    ...(shards ? { shards } : {}),
    ...(stateKeys ? { stateKeys } : {}),
  };
}

function shorter(a: string, b: string): boolean {
  return a.length !== b.length ? a.length < b.length : a < b;
}

/**
 * Merge the results of the parts of one search (shards, or workers). Runs and pruned runs add up,
 * distinct states are the union of the parts' state digests (the sum when a part did not keep
 * them), failures group by key with the shortest replay token kept, and the merge is complete when
 * every part is complete and, for shards, every shard `0..n-1` is present.
 *
 * **Kernel:** none. **Locking:** none.
 *
 * @throws {@link Error} when the parts come from different scenarios, strategies or bounds
 */
export function mergeExploreResults(parts: readonly ExploreResult[]): ExploreResult {
  const first = parts[0];
  if (!first) {
    throw new Error("nothing to merge");
  }
  const bounds = (r: ExploreResult) =>
    JSON.stringify((exploreResultJson(r) as { bounds: unknown }).bounds);
  const same = (r: ExploreResult) =>
    r.source === first.source &&
    r.strategy === first.strategy &&
    r.reduction === first.reduction &&
    bounds(r) === bounds(first);
  const odd = parts.find((r) => !same(r));
  if (odd) {
    throw new Error(
      `cannot merge: ${odd.file} (${odd.strategy}, ${odd.reduction}) is not the same search as ${first.file} (${first.strategy}, ${first.reduction}): scenario source, strategy, reduction and bounds must match`,
    );
  }
  const failures = new Map<string, ExploreFailure>();
  for (const f of parts.flatMap((r) => r.failures)) {
    const prev = failures.get(f.key);
    const keep = !prev || shorter(f.replay, prev.replay) ? f : prev;
    failures.set(f.key, { ...keep, runs: (prev?.runs ?? 0) + f.runs });
  }
  const allKeys = parts.every((r) => r.stateKeys !== undefined);
  const keys = new Set(parts.flatMap((r) => r.stateKeys ?? []));
  const shards = parts.flatMap((r) => r.shards ?? (r.shard ? [r.shard] : []));
  const n = shards[0]?.count;
  const covered =
    shards.length === 0 ||
    (shards.every((s) => s.count === n) && new Set(shards.map((s) => s.index)).size === n);
  return {
    scenario: first.scenario,
    file: first.file,
    source: first.source,
    strategy: first.strategy,
    reduction: first.reduction,
    bounds: first.bounds,
    shard: undefined,
    ...(shards.length > 0 ? { shards } : {}),
    runs: parts.reduce((a, r) => a + r.runs, 0),
    pruned: parts.reduce((a, r) => a + r.pruned, 0),
    states: allKeys ? keys.size : parts.reduce((a, r) => a + r.states, 0),
    elapsedMs: Math.max(...parts.map((r) => r.elapsedMs)),
    ...completeness(parts, covered),
    failures: [...failures.values()].sort((a, b) => (a.key < b.key ? -1 : 1)),
    ...(allKeys ? { stateKeys: [...keys] } : {}),
  };
}

/** The merge's completeness: every part complete and every shard there, or the reasons why not. */
function completeness(
  parts: readonly ExploreResult[],
  covered: boolean,
): { complete: boolean; incomplete: readonly ExploreCut[] } {
  const cuts = new Set(parts.flatMap((r) => r.incomplete));
  if (!covered) {
    cuts.add("shards");
  }
  const incomplete = EXPLORE_CUTS.filter((c) => cuts.has(c));
  return { complete: incomplete.length === 0, incomplete };
}

function fmtBound(n: number): string {
  return Number.isFinite(n) ? String(n) : "none";
}

/** Each reason a search was cut, in words. */
const CUT_WORDS: Readonly<Record<ExploreCut, string>> = {
  time: "the time limit stopped it (--time)",
  runs: "the run limit stopped it (--runs)",
  depth: "choice points past the depth bound took their default option (--depth)",
  failure: "it stopped at the first failure (--all goes on)",
  stopped: "it was stopped from outside",
  sampling: "random strategies sample the space, they never exhaust it",
  shards: "some shards are missing from the merge",
};

/**
 * The summary of a search: what was searched, runs, distinct states, time, and the result.
 *
 * **Kernel:** none. **Locking:** none.
 */
export function formatExploreSummary(r: ExploreResult): string {
  const choices = Object.entries(r.bounds.choices)
    .map(([k, v]) => `${k}<=${fmtBound(v)}`)
    .join(" ");
  const secs = r.elapsedMs / 1000;
  const rate = secs > 0 ? Math.round(r.runs / secs) : r.runs;
  const lines = [
    `explored ${r.scenario} (${r.file}): strategy ${r.strategy}, reduction ${r.reduction}`,
    `  bounds: ${choices} depth<=${fmtBound(r.bounds.depth)} runs<=${fmtBound(r.bounds.runs)} time<=${Number.isFinite(r.bounds.timeMs) ? `${r.bounds.timeMs}ms` : "none"}`,
    `  runs: ${r.runs} (${r.pruned} cut at an explored state), distinct states: ${r.states}, time: ${secs.toFixed(2)}s (${rate} runs/s)`,
  ];
  if (r.failures.length > 0) {
    lines.push(
      `result: FAIL: ${r.failures.length} distinct failure${r.failures.length === 1 ? "" : "s"}${r.complete ? " (space exhausted)" : ""}`,
    );
    for (const f of r.failures) {
      lines.push(`  ${f.key} (${f.runs} run${f.runs === 1 ? "" : "s"}): ${f.summary}`);
      lines.push(`    replay: dmasim run --replay ${f.replay} ${r.file}`);
    }
  } else if (r.complete) {
    lines.push("result: PASS: nothing unexpected in the whole space within the bounds");
  } else {
    lines.push(
      `result: INCOMPLETE (not exhaustive): nothing unexpected in ${r.runs} runs, but the search did not cover its space: ${r.incomplete.map((c) => CUT_WORDS[c]).join("; ")}`,
    );
  }
  return `${lines.join("\n")}\n`;
}
