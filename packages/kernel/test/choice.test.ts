import { describe, expect, it } from "vitest";
import {
  ChoiceSource,
  decodeReplayToken,
  encodeReplayToken,
  firstPolicy,
  isKernelError,
  randomPolicy,
  replayPolicy,
  type ChoicePoint,
  type ChoicePolicy,
} from "../src/index";

function errOf(f: () => unknown): unknown {
  try {
    f();
  } catch (e) {
    return e;
  }
  return undefined;
}

describe("choice source", () => {
  it("answers a single-option point with 0 and records nothing", () => {
    const seen: ChoicePoint[] = [];
    const c = new ChoiceSource({ name: "spy", pick: (p) => (seen.push(p), 0) });
    expect(c.choose("sched", 1)).toBe(0);
    expect(c.choose("sched", 0)).toBe(0);
    expect(c.length).toBe(0);
    expect(seen).toEqual([]);
  });

  it("gives each point its kind, options, index and thread, and records the pick", () => {
    const seen: ChoicePoint[] = [];
    const c = new ChoiceSource({ name: "spy", pick: (p) => (seen.push(p), p.count - 1) });
    c.thread = 3;
    expect(c.choose("evict", 4, [1, 1, 1, 1])).toBe(3);
    c.thread = 0;
    expect(c.choose("sched", 2)).toBe(1);
    expect(seen).toEqual([
      { kind: "evict", count: 4, weights: [1, 1, 1, 1], index: 0, thread: 3 },
      { kind: "sched", count: 2, weights: undefined, index: 1, thread: 0 },
    ]);
    expect(c.sequence()).toEqual([3, 1]);
    expect(c.records()).toEqual([
      { kind: "evict", count: 4, pick: 3 },
      { kind: "sched", count: 2, pick: 1 },
    ]);
    // sequence() is a copy
    c.sequence().push(9);
    expect(c.length).toBe(2);
  });

  it("refuses a policy answer out of range", () => {
    for (const bad of [-1, 2, 0.5, Number.NaN]) {
      const c = new ChoiceSource({ name: "bad", pick: () => bad });
      expect(
        isKernelError(
          errOf(() => c.choose("x", 2)),
          "EINVAL",
        ),
      ).toBe(true);
      expect(c.length).toBe(0);
    }
  });

  it("chooseBool: option 0 is no; p <= 0 never asks", () => {
    const c = new ChoiceSource(firstPolicy());
    expect(c.chooseBool("prefetch", 0)).toBe(false);
    expect(c.length).toBe(0);
    expect(c.chooseBool("prefetch", 0.5)).toBe(false);
    expect(c.records()).toEqual([{ kind: "prefetch", count: 2, pick: 0 }]);
    const yes = new ChoiceSource({ name: "last", pick: (p) => p.count - 1 });
    expect(yes.chooseBool("prefetch", 0.1)).toBe(true);
  });

  it("firstPolicy always picks 0", () => {
    const c = new ChoiceSource(firstPolicy());
    for (let i = 0; i < 10; i++) {
      expect(c.choose("k", 5)).toBe(0);
    }
  });

  it("randomPolicy is a pure function of its seed and stays in range", () => {
    const run = (seed: number) => {
      const c = new ChoiceSource(randomPolicy(seed));
      return Array.from({ length: 200 }, (_, i) => c.choose("k", 2 + (i % 5)));
    };
    expect(run(42)).toEqual(run(42));
    expect(run(42)).not.toEqual(run(43));
    const r = run(7);
    r.forEach((p, i) => {
      expect(p).toBeGreaterThanOrEqual(0);
      expect(p).toBeLessThan(2 + (i % 5));
    });
    // every option of a 2-way point comes up
    expect(new Set(r.filter((_, i) => i % 5 === 0))).toEqual(new Set([0, 1]));
  });

  it("randomPolicy honours weights: a zero weight is never picked", () => {
    const c = new ChoiceSource(randomPolicy(1));
    const picks = Array.from({ length: 500 }, () => c.choose("evict", 3, [0, 1, 0]));
    expect(new Set(picks)).toEqual(new Set([1]));
    const d = new ChoiceSource(randomPolicy(2));
    const skew = Array.from({ length: 2000 }, () => d.choose("evict", 2, [0.95, 0.05]));
    const ones = skew.filter((p) => p === 1).length;
    expect(ones).toBeGreaterThan(20);
    expect(ones).toBeLessThan(300);
  });

  it("replayPolicy replays, then defers to its fallback", () => {
    const c = new ChoiceSource(replayPolicy([1, 2, 0]));
    expect([c.choose("a", 2), c.choose("b", 3), c.choose("c", 2), c.choose("d", 4)]).toEqual([
      1, 2, 0, 0,
    ]);
    const last: ChoicePolicy = { name: "last", pick: (p) => p.count - 1 };
    const d = new ChoiceSource(replayPolicy([0], last));
    expect([d.choose("a", 2), d.choose("b", 3)]).toEqual([0, 2]);
  });

  it("replayPolicy reports a diverged run with EINVAL", () => {
    const c = new ChoiceSource(replayPolicy([2]));
    const e = errOf(() => c.choose("sched", 2));
    expect(isKernelError(e, "EINVAL")).toBe(true);
    expect(String((e as Error).message)).toMatch(/replay diverged at choice 0 \(sched\)/);
  });

  it("replay tokens round-trip and reject malformed input", () => {
    const picks = [0, 1, 35, 36, 1000, 0];
    expect(decodeReplayToken(encodeReplayToken(picks))).toEqual(picks);
    expect(encodeReplayToken([])).toBe("v1.");
    expect(decodeReplayToken("v1.")).toEqual([]);
    expect(
      isKernelError(
        errOf(() => decodeReplayToken("v2.1-2")),
        "EINVAL",
      ),
    ).toBe(true);
    expect(
      isKernelError(
        errOf(() => decodeReplayToken("v1.1--2")),
        "EINVAL",
      ),
    ).toBe(true);
    expect(
      isKernelError(
        errOf(() => decodeReplayToken("v1.1-A")),
        "EINVAL",
      ),
    ).toBe(true);
  });
});
