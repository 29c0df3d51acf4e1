import { describe, expect, it } from "vitest";
import { FINDING_KINDS, Kernel, isFindingKind, msleep, type Finding } from "../src/index";

describe("findings", () => {
  it("has exactly the kinds of DESIGN.md", () => {
    expect([...FINDING_KINDS]).toEqual([
      "stale-read",
      "clobbered-write",
      "iommu-fault",
      "dma-range",
      "dma-api",
      "lockdep",
      "deadlock",
      "use-after-free",
      "warn",
      "bug",
      "leak",
      "expectation",
    ]);
    expect(isFindingKind("lockdep")).toBe(true);
    expect(isFindingKind("oops")).toBe(false);
  });

  it("report adds step, thread, time and a sequence number, and tells listeners", async () => {
    const k = new Kernel();
    const heard: Finding[] = [];
    k.onFinding((f) => heard.push(f));
    k.step = 3;
    const f1 = k.report({
      kind: "leak",
      code: "fd-leak",
      summary: "fd 3 still open",
      details: { fd: 3 },
    });
    expect(f1).toMatchObject({
      kind: "leak",
      code: "fd-leak",
      summary: "fd 3 still open",
      step: 3,
      thread: "init",
      ns: 0,
      details: { fd: 3 },
    });
    k.step = 4;
    await k.run({
      t: async () => {
        await msleep(k, 1);
        k.report({ kind: "expectation", code: "value", summary: "expected 1", details: {} });
      },
    });
    const f2 = k.findings[1]!;
    expect(f2).toMatchObject({ step: 4, thread: "t", ns: 1_000_000, details: {} });
    expect(f2.seq).toBeGreaterThan(f1.seq);
    expect(heard).toEqual(k.findings);
  });

  it("trace events are recorded only while tracing", () => {
    const k = new Kernel();
    k.trace("init", "lock", "x");
    expect(k.events).toEqual([]);
    const t = new Kernel({ tracing: true });
    t.trace("cpu0", "cpu", "read", { addr: 4096 });
    t.trace("cpu0", "cpu", "write");
    expect(t.events).toEqual([
      {
        seq: 1,
        ns: 0,
        ts: 0,
        step: 0,
        track: "cpu0",
        cat: "cpu",
        name: "read",
        args: { addr: 4096 },
      },
      { seq: 2, ns: 0, ts: 0, step: 0, track: "cpu0", cat: "cpu", name: "write" },
    ]);
  });
});
