import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { isKernelError, isReplayDiverged } from "@dmasim/kernel";
import {
  formatReport,
  isScenarioError,
  loadScenario,
  runScenario,
  ScenarioError,
  defaultRegistry,
  toChromeTrace,
} from "../src/index";

const registry = defaultRegistry();
const example = (name: string) => {
  const file = join(__dirname, "..", "examples", `${name}.yaml`);
  return loadScenario(readFileSync(file, "utf8"), `${name}.yaml`, registry);
};

describe("runScenario", () => {
  it("stop: the run takes no further step once asked, in every thread", async () => {
    const whole = await runScenario(example("h1-skipped-invalidate"));
    expect(whole.steps.every((s) => s.status !== "not-run")).toBe(true);
    let polls = 0; // polled once before each step
    const r = await runScenario(example("h1-skipped-invalidate"), { stop: () => ++polls > 3 });
    expect(r.steps.filter((s) => s.status !== "not-run")).toHaveLength(3);
    const abba = await runScenario(example("lockdep-abba"), { stop: () => true });
    expect(abba.steps.every((s) => s.status === "not-run")).toBe(true);
    expect(abba.findings).toEqual([]);
  });

  it("reports the ABBA inversion as expected and passes", async () => {
    const r = await runScenario(example("lockdep-abba"));
    expect(r.findings.map((f) => [f.kind, f.code, f.step, f.thread])).toEqual([
      ["lockdep", "circular-dependency", 8, "t2"],
    ]);
    expect(r.unexpected).toEqual([]);
    expect(r.ok).toBe(true);
    const text = formatReport(r);
    expect(text).toContain("possible circular locking dependency detected");
    expect(text).toContain("result: PASS");
  });

  it("the fixed variant has no finding under many schedules", async () => {
    for (let seed = 1; seed <= 20; seed++) {
      const r = await runScenario(example("lockdep-abba-fixed"), { seed });
      expect(r.findings).toEqual([]);
      expect(r.ok).toBe(true);
    }
  });

  it("some schedule of the ABBA example really deadlocks, and its token replays it exactly", async () => {
    let found: Awaited<ReturnType<typeof runScenario>> | undefined;
    for (let seed = 1; seed <= 50 && !found; seed++) {
      const r = await runScenario(example("lockdep-abba"), { seed });
      if (r.findings.some((f) => f.kind === "deadlock")) {
        found = r;
      }
    }
    expect(found).toBeDefined();
    const r = found!;
    expect(r.ok).toBe(false);
    expect(r.aborted?.reason).toBe("deadlock");
    const again = await runScenario(example("lockdep-abba"), { replay: r.replay });
    expect(formatReport(again).replace(/policy \S+/, "")).toEqual(
      formatReport(r).replace(/policy \S+/, ""),
    );
    expect(again.dmesg).toEqual(r.dmesg);
  });

  it("a failing step expectation and an unexpected errno fail the run", async () => {
    const sc = loadScenario(
      `name: t
setup:
  - mutex_init: {}
    as: m
steps:
  - mutex_trylock: m
    expect: { value: false }
  - mutex_unlock: m
`,
      "t.yaml",
      registry,
    );
    const r = await runScenario(sc);
    expect(r.ok).toBe(false);
    expect(r.steps[1]?.expectation).toBe("expected false, got true");
  });

  it("writes a Chrome trace with one track per thread", async () => {
    const r = await runScenario(example("lockdep-abba"), { trace: true });
    const t = toChromeTrace(r);
    const names = t.traceEvents.filter((e) => e.name === "thread_name").map((e) => e.args?.name);
    expect(names).toEqual(expect.arrayContaining(["init", "t1", "t2"]));
    expect(t.traceEvents.some((e) => e.cat === "finding")).toBe(true);
  });
});

describe("loadScenario errors", () => {
  it("reports every problem at once with line and column, and what was expected", () => {
    const text = `name: bad
kernel: "3.0"
options: { CONFIG_PROVE_LOCKIN: true }
setup:
  - mutex_init: {}
    as: A
steps:
  - mutex_lok: A
  - mutex_lock: B
  - msleep: { ms: -1 }
  - mutex_unlock: { lock: A, extra: 1 }
expect:
  findings:
    - { kind: stale-reed }
`;
    let err: ScenarioError | undefined;
    try {
      loadScenario(text, "bad.yaml", registry);
    } catch (e) {
      err = e as ScenarioError;
    }
    expect(err).toBeInstanceOf(ScenarioError);
    const msgs = err!.issues.map((i) => `${i.line}:${i.column} ${i.path}: ${i.message}`);
    expect(msgs.some((m) => m.startsWith("2:9 kernel:"))).toBe(true);
    expect(err!.message).toContain("bad.yaml:2:9");
    // zod stops at the top-level schema first: kernel and expect.findings are reported together
    expect(msgs.some((m) => m.includes("expect.findings[0].kind"))).toBe(true);
  });

  it("reports step problems with positions and suggestions", () => {
    const text = `name: bad
options: { CONFIG_PROVE_LOCKIN: true }
setup:
  - mutex_init: {}
    as: A
  - spin_lock_init: {}
    as: S
steps:
  - mutex_lok: A
  - mutex_lock: B
  - mutex_lock: S
  - msleep: { ms: -1 }
  - mutex_unlock: { lock: A, extra: 1 }
  - mutex_init: {}
`;
    let err: ScenarioError | undefined;
    try {
      loadScenario(text, "bad.yaml", registry);
    } catch (e) {
      err = e as ScenarioError;
    }
    const msgs = err!.issues.map((i) => `${i.line}:${i.column} ${i.message}`);
    expect(msgs).toEqual(
      expect.arrayContaining([
        expect.stringMatching(
          /^2:33 unknown kernel option "CONFIG_PROVE_LOCKIN" \(did you mean CONFIG_PROVE_LOCKING\?\)/,
        ),
        expect.stringMatching(
          /^9:5 unknown operation "mutex_lok" \(did you mean mutex_lock, mutex_unlock\?\)/,
        ),
        expect.stringMatching(/^10:17 no step makes a mutex named "B" \(did you mean A\?\)/),
        expect.stringMatching(/^11:17 "S" is a spinlock \(made by step 2\), not a mutex/),
        expect.stringMatching(/^12:19 Too small: expected number to be >=0/),
        expect.stringMatching(/^13:19 Unrecognized key: "extra"/),
        expect.stringMatching(/^14:5 mutex_init needs `as: NAME`/),
      ]),
    );
  });

  it("reports YAML syntax errors with their position", () => {
    expect(() => loadScenario("name: x\nsteps: [\n", "y.yaml", registry)).toThrow(
      /y\.yaml:\d+:\d+: YAML/,
    );
  });
});

describe("replay tokens", () => {
  it("a token that does not fit the scenario is an EINVAL error, not a finding", async () => {
    const sc = loadScenario(
      readFileSync(join(__dirname, "..", "examples", "lockdep-abba.yaml"), "utf8"),
      "a.yaml",
      registry,
    );
    await expect(runScenario(sc, { replay: "v1.5-5-5" })).rejects.toThrow(/replay diverged/);
    const e: unknown = await runScenario(sc, { replay: "v1.5-5-5" }).catch((x: unknown) => x);
    expect(isReplayDiverged(e) && isKernelError(e, "EINVAL")).toBe(true);
  });

  it("a scenario error is recognised by its brand", () => {
    let e: unknown;
    try {
      loadScenario("name: x\nsteps: [{ nope: 1 }]\n", "x.yaml", registry);
    } catch (x) {
      e = x;
    }
    expect(isScenarioError(e) && e.issues.map((i) => i.path)).toEqual(["steps[0]"]);
    expect(isScenarioError(new Error("ScenarioError"))).toBe(false);
  });
});
