/**
 * Port of drivers/dma-buf/st-dma-fence-unwrap.c, plus the fence-array behaviour it relies on.
 */
import { describe, expect, it } from "vitest";
import { Kernel } from "@dmasim/kernel";
import {
  dmaFenceArrayCreate,
  dmaFenceChainInit,
  dmaFenceContextAlloc,
  dmaFenceEnableSwSignaling,
  dmaFenceGet,
  dmaFenceGetStatus,
  dmaFenceGetStub,
  dmaFenceIsSignaled,
  dmaFencePut,
  dmaFenceSetError,
  dmaFenceSignal,
  dmaFenceUnwrapForEach,
  dmaFenceUnwrapMerge,
  type DmaFence,
} from "../src/index";
import { mockFence, unexpectedFindings } from "./helpers";

function mockArray(k: Kernel, ...fences: DmaFence[]): DmaFence {
  return dmaFenceArrayCreate(k, fences, dmaFenceContextAlloc(k, 1), 1, false);
}

function mockChain(k: Kernel, prev: DmaFence | null, fence: DmaFence): DmaFence {
  return dmaFenceChainInit(k, prev, fence, 1);
}

function leaves(head: DmaFence): DmaFence[] {
  return [...dmaFenceUnwrapForEach(head)];
}

describe("st-dma-fence-unwrap", () => {
  it("sanitycheck: chain(NULL, array(f))", () => {
    const k = new Kernel();
    const f = mockFence(k);
    const chain = mockChain(k, null, mockArray(k, f));
    dmaFenceSignal(f);
    dmaFencePut(chain);
    expect(chain.released && f.released).toBe(true);
    expect(unexpectedFindings(k)).toEqual([]);
  });

  it("unwrap_array: array(f1, f2) yields exactly f1, f2", () => {
    const k = new Kernel();
    const f1 = mockFence(k);
    const f2 = mockFence(k);
    const array = mockArray(k, f1, f2);
    expect(leaves(array)).toEqual([f1, f2]);
    dmaFenceSignal(f1);
    dmaFenceSignal(f2);
    dmaFencePut(array);
    expect(f1.released && f2.released && array.released).toBe(true);
  });

  it("unwrap_chain: chain(prev = f1, f2) yields f2 then f1", () => {
    const k = new Kernel();
    const f1 = mockFence(k);
    const f2 = mockFence(k);
    const chain = mockChain(k, f1, f2);
    expect(new Set(leaves(chain))).toEqual(new Set([f1, f2]));
    expect(leaves(chain)).toHaveLength(2);
    dmaFenceSignal(f1);
    dmaFenceSignal(f2);
    dmaFencePut(chain);
    expect(f1.released && f2.released).toBe(true);
  });

  it("unwrap_chain_array: chain(NULL, array(f1, f2))", () => {
    const k = new Kernel();
    const f1 = mockFence(k);
    const f2 = mockFence(k);
    const chain = mockChain(k, null, mockArray(k, f1, f2));
    expect(leaves(chain)).toEqual([f1, f2]);
    dmaFenceSignal(f1);
    dmaFenceSignal(f2);
    dmaFencePut(chain);
  });

  it("unwrap_merge: merge(f1, f2) yields f1 and f2", () => {
    const k = new Kernel();
    const f1 = mockFence(k, dmaFenceContextAlloc(k, 1), 1);
    const f2 = mockFence(k, dmaFenceContextAlloc(k, 1), 1);
    const m = dmaFenceUnwrapMerge(k, f1, f2);
    expect(leaves(m)).toEqual([f1, f2]);
    dmaFenceSignal(f1);
    dmaFenceSignal(f2);
    expect(dmaFenceIsSignaled(m)).toBe(true);
    dmaFencePut(m);
    dmaFencePut(f1);
    dmaFencePut(f2);
    expect(f1.released && f2.released && m.released).toBe(true);
    expect(unexpectedFindings(k)).toEqual([]);
  });

  it("unwrap_merge_duplicate: merge(f1, f1) yields f1 once", () => {
    const k = new Kernel();
    const f1 = mockFence(k, dmaFenceContextAlloc(k, 1), 1);
    const m = dmaFenceUnwrapMerge(k, f1, f1);
    expect(leaves(m)).toEqual([f1]);
    expect(m).toBe(f1);
    dmaFencePut(m);
    dmaFenceSignal(f1);
    dmaFencePut(f1);
    expect(f1.released).toBe(true);
  });

  it("unwrap_merge_seqno: only the latest fence of a context, ordered by context", () => {
    const k = new Kernel();
    const ctxA = dmaFenceContextAlloc(k, 1);
    const ctxB = dmaFenceContextAlloc(k, 1);
    const f1 = mockFence(k, ctxB, 1);
    const f2 = mockFence(k, ctxB, 2);
    const f3 = mockFence(k, ctxA, 1);
    const m = dmaFenceUnwrapMerge(k, f1, f2, f3);
    expect(leaves(m)).toEqual([f3, f2]);
    for (const f of [f1, f2, f3]) {
      dmaFenceSignal(f);
      dmaFencePut(f);
    }
    dmaFencePut(m);
    expect(f1.released).toBe(true);
  });

  it("unwrap_merge_order: merge(array(f1, f2), chain(chain(NULL, f1), f2)) yields f1 before f2", () => {
    const k = new Kernel();
    const f1 = mockFence(k, dmaFenceContextAlloc(k, 1), 1);
    const f2 = mockFence(k, dmaFenceContextAlloc(k, 1), 1);
    const a1 = mockArray(k, dmaFenceGet(f1), dmaFenceGet(f2));
    const c1 = mockChain(k, null, dmaFenceGet(f1));
    const c2 = mockChain(k, c1, dmaFenceGet(f2));
    const m = dmaFenceUnwrapMerge(k, a1, c2);
    expect(leaves(m)).toEqual([f1, f2]);
    dmaFenceSignal(f1);
    dmaFenceSignal(f2);
    for (const f of [m, a1, c2, f1, f2]) {
      dmaFencePut(f);
    }
    expect(f1.released && f2.released && c1.released).toBe(true);
  });

  it("unwrap_merge_complex: merge(merge(f1, f2), array(f2, f1), stub) yields exactly f1, f2", () => {
    const k = new Kernel();
    const f1 = mockFence(k, dmaFenceContextAlloc(k, 1), 1);
    const f2 = mockFence(k, dmaFenceContextAlloc(k, 1), 1);
    const m1 = dmaFenceUnwrapMerge(k, f1, f2);
    const a = mockArray(k, dmaFenceGet(f2), dmaFenceGet(f1));
    const stub = dmaFenceGetStub(k);
    const m = dmaFenceUnwrapMerge(k, m1, a, stub);
    expect(leaves(m)).toEqual([f1, f2]);
    dmaFenceSignal(f1);
    dmaFenceSignal(f2);
    for (const f of [m, m1, a, stub, f1, f2]) {
      dmaFencePut(f);
    }
    expect(f1.released && f2.released).toBe(true);
  });

  it("unwrap_merge_complex_seqno: merge(array(f1, f2), array(f3, f4)) yields f1 then f4", () => {
    const k = new Kernel();
    const ctxA = dmaFenceContextAlloc(k, 1);
    const ctxB = dmaFenceContextAlloc(k, 1);
    const f1 = mockFence(k, ctxA, 2);
    const f2 = mockFence(k, ctxB, 1);
    const f3 = mockFence(k, ctxA, 1);
    const f4 = mockFence(k, ctxB, 2);
    const a1 = mockArray(k, f1, f2);
    const a2 = mockArray(k, f3, f4);
    const m = dmaFenceUnwrapMerge(k, a1, a2);
    expect(leaves(m)).toEqual([f1, f4]);
    for (const f of [f1, f2, f3, f4]) {
      dmaFenceSignal(f);
    }
    for (const f of [m, a1, a2]) {
      dmaFencePut(f);
    }
    expect(f1.released && f4.released && f2.released).toBe(true);
  });

  it("merging only signaled fences gives a signaled stub with the latest timestamp", () => {
    const k = new Kernel();
    const f1 = mockFence(k, dmaFenceContextAlloc(k, 1), 1);
    dmaFenceSignal(f1);
    k.clock.advance(1000);
    const f2 = mockFence(k, dmaFenceContextAlloc(k, 1), 1);
    dmaFenceSignal(f2);
    k.clock.advance(1000);
    const m = dmaFenceUnwrapMerge(k, f1, f2);
    expect(m).not.toBe(f1);
    expect(dmaFenceIsSignaled(m)).toBe(true);
    expect(m.timestamp).toBe(1000);
    dmaFencePut(m);
  });
});

describe("dma-fence-array", () => {
  it("signals when all members have, with the first member error", () => {
    const k = new Kernel();
    const f1 = mockFence(k);
    const f2 = mockFence(k);
    const a = dmaFenceArrayCreate(
      k,
      [dmaFenceGet(f1), dmaFenceGet(f2)],
      dmaFenceContextAlloc(k, 1),
      1,
      false,
    );
    dmaFenceEnableSwSignaling(a);
    dmaFenceSetError(f2, -5);
    dmaFenceSignal(f2);
    expect(dmaFenceIsSignaled(a)).toBe(false);
    expect(dmaFenceGetStatus(a)).toBe(0);
    dmaFenceSignal(f1);
    expect(dmaFenceIsSignaled(a)).toBe(true);
    expect(dmaFenceGetStatus(a)).toBe(-5);
    for (const f of [a, f1, f2]) {
      dmaFencePut(f);
    }
    expect(a.released && f1.released && f2.released).toBe(true);
    expect(unexpectedFindings(k)).toEqual([]);
  });

  it("signal_on_any signals with the first member; status 1 without errors", () => {
    const k = new Kernel();
    const f1 = mockFence(k);
    const f2 = mockFence(k);
    const a = dmaFenceArrayCreate(k, [f1, f2], dmaFenceContextAlloc(k, 1), 1, true);
    dmaFenceEnableSwSignaling(a);
    dmaFenceSignal(f2);
    expect(dmaFenceIsSignaled(a)).toBe(true);
    expect(dmaFenceGetStatus(a)).toBe(1);
    dmaFenceSignal(f1);
    dmaFencePut(a);
    expect(f1.released && f2.released).toBe(true);
  });

  it("is_signaled without enable_signaling polls the members", () => {
    const k = new Kernel();
    const f1 = mockFence(k);
    const a = dmaFenceArrayCreate(k, [f1], dmaFenceContextAlloc(k, 1), 1, false);
    expect(dmaFenceIsSignaled(a)).toBe(false);
    dmaFenceSignal(f1);
    expect(dmaFenceIsSignaled(a)).toBe(true);
    dmaFencePut(a);
  });

  it("an array of containers WARNs", () => {
    const k = new Kernel();
    const inner = dmaFenceArrayCreate(k, [mockFence(k)], dmaFenceContextAlloc(k, 1), 1, false);
    dmaFenceArrayCreate(k, [inner], dmaFenceContextAlloc(k, 1), 1, false);
    expect(k.findings.some((f) => f.kind === "warn" && f.summary.includes("container"))).toBe(true);
  });
});
