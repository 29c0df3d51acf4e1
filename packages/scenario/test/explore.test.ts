import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import {
  KERNEL_OPS,
  createRegistry,
  defaultRegistry,
  scenarioLayer,
  explore,
  exploreResultJson,
  formatExploreSummary,
  formatReport,
  loadScenario,
  mergeExploreResults,
  parseExploreResult,
  reportJson,
  runScenario,
  type ExploreOptions,
  type Scenario,
} from "../src/index";

const registry = defaultRegistry();
const dir = join(__dirname, "..", "examples");
const example = (name: string): Scenario =>
  loadScenario(readFileSync(join(dir, `${name}.yaml`), "utf8"), `${name}.yaml`, registry);

/** Bundled examples with a `-fixed` variant: the buggy one must fail under explore, the fix not. */
const pairs = readdirSync(dir)
  .filter((f) => f.endsWith("-fixed.yaml"))
  .map((f) => f.replace(/-fixed\.yaml$/, ""))
  .sort();
const all = readdirSync(dir)
  .filter((f) => f.endsWith(".yaml"))
  .map((f) => f.replace(/\.yaml$/, ""))
  .sort();

const scenario = (text: string, reg = registry): Scenario => loadScenario(text, "t.yaml", reg);

describe("explore: the bundled examples", () => {
  it("has buggy/fixed pairs to check", () => {
    expect(pairs).toContain("lockdep-abba");
    expect(pairs).toContain("completion-reinit-race");
  });

  for (const name of pairs) {
    it(`${name}: default bounds find the failure; its token replays to the identical report`, async () => {
      const sc = example(name);
      const r = await explore(sc);
      expect(r.failures.length).toBe(1);
      const f = r.failures[0]!;
      expect(f.report?.ok).toBe(false);
      expect(r.complete).toBe(false);
      const again = await runScenario(sc, { replay: f.replay });
      expect(formatReport(again)).toBe(f.text);
      expect(reportJson(again)).toEqual(reportJson(f.report!));
    });

    it(`${name}-fixed: explores clean, and the whole space is covered`, async () => {
      const r = await explore(example(`${name}-fixed`), { all: true });
      expect(r.failures).toEqual([]);
      expect(r.complete).toBe(true);
      expect(r.runs).toBeGreaterThan(1);
    });
  }

  it("finds the ABBA deadlock, an unexpected finding, not only the expected lockdep splat", async () => {
    const r = await explore(example("lockdep-abba"));
    expect(r.failures[0]?.key).toMatch(/^deadlock\/all-blocked/);
    expect(r.failures[0]?.report?.aborted?.reason).toBe("deadlock");
    expect(r.failures[0]?.report?.findings.map((f) => f.kind)).toContain("lockdep");
  });

  it("finds the missed wakeup of completion-reinit-race when the worker runs first", async () => {
    const r = await explore(example("completion-reinit-race"));
    const rep = r.failures[0]?.report;
    expect(rep?.unexpected.map((f) => f.code)).toEqual(["all-blocked"]);
    expect(rep?.steps.find((s) => s.op === "complete")?.status).toBe("ok");
    expect(rep?.steps.find((s) => s.op === "wait_for_completion")?.status).not.toBe("ok");
  });
});

describe("explore: bounds", () => {
  it("without preemptions the ABBA deadlock cannot happen, and the smaller space is exhausted", async () => {
    const r = await explore(example("lockdep-abba"), { bounds: { choices: { preempt: 0 } } });
    expect(r.failures).toEqual([]);
    expect(r.complete).toBe(true);
    const wide = await explore(example("lockdep-abba-fixed"), { all: true });
    const narrow = await explore(example("lockdep-abba-fixed"), {
      bounds: { choices: { preempt: 0 } },
    });
    expect(narrow.runs).toBeLessThan(wide.runs);
  });

  it("depth 0 runs the default schedule once; a run limit stops an unfinished search", async () => {
    // issue #14: a search that the depth bound cut is not a clean exhaustive one
    const d0 = await explore(example("lockdep-abba"), { bounds: { depth: 0 } });
    expect(d0.runs).toBe(1);
    expect(d0.complete).toBe(false);
    expect(d0.incomplete).toEqual(["depth"]);
    expect(formatExploreSummary(d0)).toContain("past the depth bound");
    const deep = await explore(example("lockdep-abba-fixed"));
    expect(deep.incomplete).toEqual([]);
    const limited = await explore(example("lockdep-abba-fixed"), { bounds: { runs: 2 } });
    expect(limited.runs).toBe(2);
    expect(limited.complete).toBe(false);
    expect(limited.incomplete).toEqual(["runs"]);
    expect(formatExploreSummary(limited)).toContain("not exhaustive");
  });

  it("a time limit stops the search (with an injected clock)", async () => {
    let t = 0;
    const r = await explore(example("lockdep-abba-fixed"), {
      bounds: { timeMs: 30 },
      now: () => (t += 10),
    });
    expect(r.complete).toBe(false);
    expect(r.incomplete).toEqual(["time"]);
    expect(r.runs).toBeLessThan(4);
  });

  it("takes bounds from the scenario's explore: section, under the caller's", async () => {
    const text =
      readFileSync(join(dir, "lockdep-abba.yaml"), "utf8") + "explore:\n  bounds: { preempt: 0 }\n";
    const sc = scenario(text);
    expect(sc.explore).toEqual({ bounds: { preempt: 0 } });
    expect((await explore(sc)).failures).toEqual([]);
    const over = await explore(sc, { bounds: { choices: { preempt: 1 } } });
    expect(over.failures.length).toBe(1);
  });

  it("rejects a bad explore: section with its position", () => {
    expect(() => scenario("name: x\nsteps: [{ msleep: 1 }]\nexplore:\n  depth: -1\n")).toThrow(
      /t\.yaml:4:\d+/,
    );
  });
});

/** An op that makes a choice of a kind no layer knows yet: the explorer must explore it as is. */
const widgetOp = scenarioLayer("test").op({
  name: "widget",
  summary: "a 3-way choice; option 2 is a bug",
  args: {},
  run: (ctx) => ({ value: ctx.kernel.choice.choose("widget", 3) }),
});

describe("explore: generic over choice kinds", () => {
  const reg = createRegistry([{ ops: [...KERNEL_OPS, widgetOp] }]);
  const text =
    "name: w\nsteps:\n  - widget: {}\n    expect: { value: 0 }\n  - widget: {}\n    expect: { value: 0 }\n";

  it("explores a new kind's options, and bounds it by name", async () => {
    const sc = scenario(text, reg);
    const r = await explore(sc, { all: true, registry: reg, keepRuns: true });
    // a wrong value fails the expectation but not the thread: every run reaches both widgets, and
    // a run is grouped under its first failing expectation
    expect(r.failures.map((f) => [f.key, f.runs])).toEqual([
      ["expectation of step 1 (widget)", 6],
      ["expectation of step 2 (widget)", 2],
    ]);
    expect(r.complete).toBe(true);
    const all = [
      "v1.0-0",
      "v1.0-1",
      "v1.0-2",
      "v1.1-0",
      "v1.1-1",
      "v1.1-2",
      "v1.2-0",
      "v1.2-1",
      "v1.2-2",
    ];
    expect(r.runTokens).toEqual(all);
    const bounded = await explore(sc, {
      all: true,
      registry: reg,
      keepRuns: true,
      bounds: { choices: { widget: 1 } },
    });
    // at most one non-zero widget pick per run
    expect(bounded.runTokens).toEqual(["v1.0-0", "v1.0-1", "v1.0-2", "v1.1-0", "v1.2-0"]);
    const none = await explore(sc, { registry: reg, bounds: { choices: { widget: 0 } } });
    expect(none.runs).toBe(1);
    expect(none.failures).toEqual([]);
  });
});

/** Three threads on their own locks: many interleavings, few states. */
const independent = `
name: independent
setup:
  - mutex_init: {}
    as: A
  - mutex_init: {}
    as: B
  - mutex_init: {}
    as: C
threads:
  a: [{ mutex_lock: A }, { mutex_unlock: A }, { mutex_lock: A }, { mutex_unlock: A }]
  b: [{ mutex_lock: B }, { mutex_unlock: B }, { mutex_lock: B }, { mutex_unlock: B }]
  c: [{ mutex_lock: C }, { mutex_unlock: C }, { mutex_lock: C }, { mutex_unlock: C }]
expect:
  findings: none
`;

describe("explore: state hashing", () => {
  it("cuts runs at explored states, yet sees every state and every failure the full search sees", async () => {
    const sc = scenario(independent);
    const full = await explore(sc, { reduction: "none", all: true, keepStates: true });
    const reduced = await explore(sc, { reduction: "state", all: true, keepStates: true });
    expect(reduced.complete && full.complete).toBe(true);
    expect(reduced.pruned).toBeGreaterThan(0);
    expect(reduced.runs).toBeLessThan(full.runs / 2);
    expect(new Set(reduced.stateKeys)).toEqual(new Set(full.stateKeys));
    for (const name of all) {
      const a = await explore(example(name), { reduction: "none", all: true });
      const b = await explore(example(name), { reduction: "state", all: true });
      expect(b.failures.map((f) => f.key).sort()).toEqual(a.failures.map((f) => f.key).sort());
      expect(b.states).toBe(a.states);
    }
    // every bundled example, explored twice (unreduced and reduced)
  }, 120_000);
});

describe("explore: shards and workers", () => {
  const split = async (sc: Scenario, base: ExploreOptions, n: number, key: "shard" | "worker") => {
    const parts = [];
    for (let i = 0; i < n; i++) {
      parts.push(await explore(sc, { ...base, [key]: { index: i, count: n } }));
    }
    return parts;
  };

  for (const name of [...all, "independent"]) {
    it(`${name}: shards together run exactly the runs of one search, and see its states`, async () => {
      const sc = name === "independent" ? scenario(independent) : example(name);
      const base: ExploreOptions = { all: true, keepRuns: true, keepStates: true };
      const one = await explore(sc, { ...base, reduction: "none" });
      const shards = await split(sc, { ...base, reduction: "none" }, 3, "shard");
      const tokens = shards.flatMap((s) => s.runTokens ?? []);
      expect(tokens.length).toBe(one.runs);
      expect(new Set(tokens)).toEqual(new Set(one.runTokens));
      const merged = mergeExploreResults(shards);
      expect(merged.runs).toBe(one.runs);
      expect(merged.states).toBe(one.states);
      expect(merged.complete).toBe(true);
      expect(merged.failures.map((f) => [f.key, f.runs])).toEqual(
        one.failures.map((f) => [f.key, f.runs]),
      );
      const reducedOne = await explore(sc, base);
      const reduced = await split(sc, base, 3, "shard");
      const workers = await split(sc, { ...base, shard: { index: 0, count: 1 } }, 2, "worker");
      for (const parts of [reduced, workers]) {
        const m = mergeExploreResults(parts);
        expect(new Set(m.stateKeys)).toEqual(new Set(reducedOne.stateKeys));
        expect(m.failures.map((f) => f.key).sort()).toEqual(
          reducedOne.failures.map((f) => f.key).sort(),
        );
      }
      // about ten full explorations of the example (unreduced, sharded, reduced, workers); the
      // examples that keep the cache's spontaneous behaviour have the larger trees
    }, 120_000);
  }

  it("merges through JSON files, and refuses parts of different searches", async () => {
    const sc = example("lockdep-abba");
    const parts = [0, 1].map((index) =>
      explore(sc, { all: true, keepStates: true, shard: { index, count: 2 } }),
    );
    const files = (await Promise.all(parts)).map((p) =>
      parseExploreResult(JSON.parse(JSON.stringify(exploreResultJson(p)))),
    );
    const merged = mergeExploreResults(files);
    const one = await explore(sc, { all: true });
    expect(merged.states).toBe(one.states);
    expect(merged.failures.map((f) => f.key)).toEqual(one.failures.map((f) => f.key));
    expect(merged.complete).toBe(true);
    expect(mergeExploreResults([files[0]!]).complete).toBe(false);
    const other = await explore(example("lockdep-abba-fixed"), { shard: { index: 1, count: 2 } });
    expect(() => mergeExploreResults([files[0]!, other])).toThrow(/cannot merge/);
    expect(() => parseExploreResult({ format: "nope" })).toThrow(/not a dmasim-explore\/1 result/);
    expect(() => mergeExploreResults([])).toThrow(/nothing to merge/);
  });
});

describe("explore: random and PCT", () => {
  for (const strategy of ["random", "pct"] as const) {
    it(`${strategy} finds the examples' failures, deterministically for a seed, never claiming exhaustion`, async () => {
      for (const name of pairs) {
        const a = await explore(example(name), { strategy, seed: 7, bounds: { runs: 200 } });
        expect(a.failures.length).toBe(1);
        const b = await explore(example(name), { strategy, seed: 7, bounds: { runs: 200 } });
        expect(b.failures[0]?.replay).toBe(a.failures[0]?.replay);
        expect(b.runs).toBe(a.runs);
        const fixed = await explore(example(`${name}-fixed`), { strategy, bounds: { runs: 50 } });
        expect(fixed.failures).toEqual([]);
        expect(fixed.runs).toBe(50);
        expect(fixed.complete).toBe(false);
      }
    }, 60_000); // every bundled pair, 200 + 200 + 50 runs each
  }
});

describe("explore: progress and summary", () => {
  it("reports progress and ends with a summary naming the result and the replay command", async () => {
    const seen: number[] = [];
    const r = await explore(example("lockdep-abba"), {
      all: true,
      progressEveryMs: 0,
      onProgress: (p) => seen.push(p.runs),
    });
    expect(seen.length).toBeGreaterThan(1);
    expect(seen.at(-1)).toBe(r.runs);
    const text = formatExploreSummary(r);
    expect(text).toContain("result: FAIL: 1 distinct failure (space exhausted)");
    expect(text).toContain(`dmasim run --replay ${r.failures[0]!.replay} lockdep-abba.yaml`);
    const clean = formatExploreSummary(await explore(example("lockdep-abba-fixed")));
    expect(clean).toContain("result: PASS: nothing unexpected in the whole space");
  });
});
