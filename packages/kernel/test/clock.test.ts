import { describe, expect, it } from "vitest";
import { Clock, Kernel, MAX_SCHEDULE_TIMEOUT, NSEC_PER_MSEC, isKernelError } from "../src/index";

describe("clock", () => {
  it("starts at 0 and only moves forward", () => {
    const c = new Clock();
    expect(c.now()).toBe(0);
    expect(c.jiffies).toBe(0);
    c.advance(5 * NSEC_PER_MSEC);
    expect(c.now()).toBe(5_000_000);
    c.advance(-100); // clamped: no time travel
    expect(c.now()).toBe(5_000_000);
    let err: unknown;
    try {
      c.advanceTo(1);
    } catch (e) {
      err = e;
    }
    expect(isKernelError(err, "EINVAL")).toBe(true);
    expect(c.now()).toBe(5_000_000);
  });

  it("counts jiffies at HZ (default 250)", () => {
    const c = new Clock();
    expect(c.hz).toBe(250);
    c.advanceTo(3_999_999);
    expect(c.jiffies).toBe(0);
    c.advanceTo(4_000_000);
    expect(c.jiffies).toBe(1);
    expect(c.jiffiesToNs(250)).toBe(1e9);
  });

  it("converts milliseconds and jiffies as the kernel does (msecs_to_jiffies rounds up)", () => {
    const c = new Clock(250);
    expect(c.msecsToJiffies(1)).toBe(1);
    expect(c.msecsToJiffies(4)).toBe(1);
    expect(c.msecsToJiffies(5)).toBe(2);
    expect(c.jiffiesToMsecs(3)).toBe(12);
    const k = new Clock(1000);
    expect(k.msecsToJiffies(7)).toBe(7);
    const h = new Clock(300);
    expect(h.jiffiesToNs(1)).toBe(3_333_334);
    h.advanceTo(h.jiffiesToNs(1));
    expect(h.jiffies).toBe(1);
  });

  it("accepts only the HZ values Linux offers", () => {
    for (const hz of [100, 250, 300, 1000]) {
      expect(new Clock(hz).hz).toBe(hz);
    }
    for (const hz of [0, 60, 1024]) {
      expect(() => new Clock(hz)).toThrow(/HZ must be/);
    }
    expect(() => new Kernel({ hz: 200 })).toThrow(/HZ must be/);
  });

  it("MAX_SCHEDULE_TIMEOUT is larger than any timeout a test uses", () => {
    expect(MAX_SCHEDULE_TIMEOUT).toBeGreaterThan(2 ** 52);
  });

  it("never reads the host clock: two kernels see the same simulated time", () => {
    const a = new Kernel();
    const b = new Kernel();
    expect(a.clock.now()).toBe(0);
    expect(b.clock.now()).toBe(0);
  });

  it("work time moves the timeline, never ktime (what kernel code and state digests read)", () => {
    const k = new Kernel({ tracing: true });
    const before = k.stateDigest();
    k.clock.charge(1500);
    k.clock.charge(-3);
    expect(k.clock.now()).toBe(0);
    expect(k.clock.timeline()).toBe(1500);
    expect(k.stateDigest()).toBe(before);
    k.clock.advance(1000);
    expect(k.clock.timeline()).toBe(2500);
  });

  it("trace spans: B/E nest per track and last at least their minimum; X charges its length", () => {
    const k = new Kernel({ tracing: true });
    k.traceBegin("t", "step", "1 a");
    k.traceSpan("dev", "dma", "write", 300);
    k.traceBegin("t", "exporter", "map");
    k.traceEnd("t", "exporter", "map", 100);
    k.traceEnd("t", "step", "1 a", 1000);
    expect(k.events.map((e) => [e.ph, e.name, e.ts, e.dur])).toEqual([
      ["B", "1 a", 0, undefined],
      ["X", "write", 0, 300],
      ["B", "map", 300, undefined],
      ["E", "map", 400, undefined],
      ["E", "1 a", 1000, undefined],
    ]);
    // a span already longer than its minimum still ends 1 ns after what happened in it
    k.traceBegin("t", "step", "2 b");
    k.traceSpan("dev", "dma", "read", 2000);
    k.traceEnd("t", "step", "2 b", 1000);
    expect(k.events.at(-1)?.ts).toBe(3001);
  });

  it("without tracing, spans record and charge nothing", () => {
    const k = new Kernel();
    k.traceBegin("t", "step", "1 a");
    k.traceSpan("dev", "dma", "write", 300);
    k.traceEnd("t", "step", "1 a", 1000);
    expect(k.events).toEqual([]);
    expect(k.clock.timeline()).toBe(0);
  });
});
