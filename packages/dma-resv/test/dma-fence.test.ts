/** dma_fence behaviour beyond the selftests: ops callbacks, ordering helpers, wait_any, describe. */
import { describe, expect, it } from "vitest";
import { Kernel, msleep } from "@dmasim/kernel";
import {
  DmaFenceCb,
  dmaFenceAddCallback,
  dmaFenceContextAlloc,
  dmaFenceDescribe,
  dmaFenceEnableSwSignaling,
  dmaFenceInit,
  dmaFenceInit64,
  dmaFenceIsLater,
  dmaFenceIsLaterOrSame,
  dmaFenceIsSignaled,
  dmaFenceLater,
  dmaFenceSetDeadline,
  dmaFenceSignal,
  dmaFenceWaitAnyTimeout,
  dmaFenceWaitTimeout,
  type DmaFence,
  type DmaFenceOps,
} from "../src/index";
import { MOCK_OPS, mockFence } from "./helpers";

describe("dma_fence ops", () => {
  it("enable_signaling is called once; returning false signals at once and add_callback gets ENOENT", () => {
    const k = new Kernel();
    let calls = 0;
    let done = false;
    const ops: DmaFenceOps = { ...MOCK_OPS, enableSignaling: () => (calls++, !done) };
    const f = dmaFenceInit(k, ops, null, 0, 0);
    dmaFenceEnableSwSignaling(f);
    dmaFenceEnableSwSignaling(f);
    expect(calls).toBe(1);
    const g = dmaFenceInit(k, ops, null, 0, 0);
    done = true;
    expect(() => dmaFenceAddCallback(g, new DmaFenceCb(), () => undefined)).toThrow(/ENOENT/);
    expect(dmaFenceIsSignaled(g)).toBe(true);
  });

  it("is_signaled asks ops.signaled and signals the fence as a side effect", () => {
    const k = new Kernel();
    let hw = false;
    const f = dmaFenceInit(k, { ...MOCK_OPS, signaled: () => hw }, null, 0, 0);
    const seen: number[] = [];
    dmaFenceAddCallback(f, new DmaFenceCb(), () => seen.push(1));
    expect(dmaFenceIsSignaled(f)).toBe(false);
    hw = true;
    expect(dmaFenceIsSignaled(f)).toBe(true);
    expect(seen).toEqual([1]);
  });

  it("a custom wait op is used; set_deadline reaches ops while pending only", async () => {
    const k = new Kernel();
    const deadlines: number[] = [];
    const f = dmaFenceInit(
      k,
      { ...MOCK_OPS, wait: async () => 42, setDeadline: (_f, d) => deadlines.push(d) },
      null,
      0,
      0,
    );
    expect(await dmaFenceWaitTimeout(f, false, 5)).toBe(42);
    dmaFenceSetDeadline(f, 7);
    dmaFenceSignal(f);
    dmaFenceSetDeadline(f, 8);
    expect(deadlines).toEqual([7]);
  });

  it("a NULL lock is a BUG before the inline-lock kernels", () => {
    const k = new Kernel({ version: "6.12" });
    expect(() => dmaFenceInit(k, MOCK_OPS, null, 0, 0)).toThrow(/kernel BUG/);
  });

  it("describe", () => {
    const k = new Kernel({ version: "6.12" });
    const f = mockFence(k, 1, 9);
    expect(dmaFenceDescribe(f)).toBe("mock mock seq 9 unsignalled");
    dmaFenceSignal(f);
    expect(dmaFenceDescribe(f)).toBe("mock mock seq 9 signalled");
  });
});

describe("ordering helpers", () => {
  it("32-bit wrap-around by default, 64-bit with init64; different contexts WARN", () => {
    const k = new Kernel();
    const ctx = dmaFenceContextAlloc(k, 1);
    const a = mockFence(k, ctx, 0xffffffff);
    const b = mockFence(k, ctx, 0x1_0000_0001); // low bits 1: later after wrap
    expect(dmaFenceIsLater(b, a)).toBe(true);
    const a64 = dmaFenceInit64(k, MOCK_OPS, null, ctx, 0x1_0000_0000);
    const b64 = dmaFenceInit64(k, MOCK_OPS, null, ctx, 5);
    expect(dmaFenceIsLater(a64, b64)).toBe(true);
    expect(dmaFenceIsLaterOrSame(a, a)).toBe(true);
    const other = mockFence(k, dmaFenceContextAlloc(k, 1), 1);
    expect(dmaFenceIsLater(a, other)).toBe(false);
    expect(k.findings.filter((f) => f.kind === "warn")).toHaveLength(1);
  });

  it("later returns the later fence, or null once it has signaled", () => {
    const k = new Kernel();
    const ctx = dmaFenceContextAlloc(k, 1);
    const f1 = mockFence(k, ctx, 1);
    const f2 = mockFence(k, ctx, 2);
    expect(dmaFenceLater(f1, f2)).toBe(f2);
    dmaFenceSignal(f2);
    expect(dmaFenceLater(f1, f2)).toBeNull();
  });

  it("context numbers start at 1 and are consecutive", () => {
    const k = new Kernel();
    expect(dmaFenceContextAlloc(k, 3)).toBe(1);
    expect(dmaFenceContextAlloc(k, 1)).toBe(4);
    dmaFenceContextAlloc(k, 0);
    expect(k.findings.some((f) => f.kind === "warn")).toBe(true);
  });
});

describe("wait_any_timeout", () => {
  it("0 timeout tests; a signal of any fence ends the wait with its index", async () => {
    const k = new Kernel();
    const fences: DmaFence[] = [mockFence(k), mockFence(k), mockFence(k)];
    expect(await dmaFenceWaitAnyTimeout(fences, false, 0)).toEqual({
      remaining: 0,
      idx: undefined,
    });
    let r: { remaining: number; idx: number | undefined } | null = null;
    await k.run({
      w: async () => {
        r = await dmaFenceWaitAnyTimeout(fences, false, 100);
      },
      s: async () => {
        await msleep(k, 8);
        dmaFenceSignal(fences[1] as DmaFence);
      },
    });
    expect(r).toMatchObject({ idx: 1 });
    expect((r as unknown as { remaining: number }).remaining).toBeGreaterThan(0);
    expect(fences.every((f) => f.cbList.length === 0)).toBe(true);
    expect(await dmaFenceWaitAnyTimeout(fences, false, 0)).toEqual({ remaining: 1, idx: 1 });
    await expect(dmaFenceWaitAnyTimeout([], false, 1)).rejects.toMatchObject({ code: "EINVAL" });
    expect(await dmaFenceWaitAnyTimeout([mockFence(k)], false, 2)).toEqual({
      remaining: 0,
      idx: undefined,
    });
  });
});
