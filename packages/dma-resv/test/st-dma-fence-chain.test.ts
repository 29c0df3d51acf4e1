/**
 * Port of drivers/dma-buf/st-dma-fence-chain.c.
 */
import { describe, expect, it } from "vitest";
import { Kernel, isKernelError, spinLockInit } from "@dmasim/kernel";
import {
  dmaFenceChainFindSeqno,
  dmaFenceChainInit,
  dmaFenceGet,
  dmaFenceIsSignaled,
  dmaFencePut,
  dmaFenceSignal,
  dmaFenceWait,
  type DmaFence,
} from "../src/index";
import { MOCK_OPS, unexpectedFindings } from "./helpers";
import { dmaFenceInit } from "../src/index";

const CHAIN_SZ = 4 << 10;

function mock(k: Kernel): DmaFence {
  return dmaFenceInit(k, MOCK_OPS, spinLockInit(k, "&f->lock", "mock_fence_lock"), 0, 0);
}

function mockChain(k: Kernel, prev: DmaFence | null, fence: DmaFence, seqno: number): DmaFence {
  return dmaFenceChainInit(k, dmaFenceGet(prev), dmaFenceGet(fence), seqno);
}

interface FenceChains {
  fences: DmaFence[];
  chains: DmaFence[];
  tail: DmaFence;
}

function fenceChainsInit(k: Kernel, count: number, seqnoFn: (i: number) => number): FenceChains {
  const fences: DmaFence[] = [];
  const chains: DmaFence[] = [];
  let tail: DmaFence | null = null;
  for (let i = 0; i < count; i++) {
    const f = mock(k);
    fences.push(f);
    const c = mockChain(k, tail, f, seqnoFn(i));
    chains.push(c);
    tail = c;
  }
  return { fences, chains, tail: tail as DmaFence };
}

function fenceChainsFini(fc: FenceChains): void {
  for (const f of fc.fences) {
    dmaFenceSignal(f);
    dmaFencePut(f);
  }
  for (const c of fc.chains) {
    dmaFencePut(c);
  }
}

/** find_seqno with the selftest's reference discipline: get, find, put (the result is compared by identity). */
function find(fence: DmaFence, seqno: number): DmaFence | null {
  let r: DmaFence | null = dmaFenceGet(fence);
  try {
    r = dmaFenceChainFindSeqno(r, seqno);
  } finally {
    dmaFencePut(r);
  }
  return r;
}

const seqnoInc = (i: number): number => i + 1;
const seqnoInc2 = (i: number): number => 2 * i + 2;

describe("st-dma-fence-chain", () => {
  it("sanitycheck: chain(NULL, f, 1)", () => {
    const k = new Kernel();
    const f = mock(k);
    const chain = mockChain(k, null, f, 1);
    dmaFenceSignal(f);
    dmaFencePut(f);
    dmaFencePut(chain);
    expect(chain.released).toBe(true);
    expect(f.released).toBe(true);
    expect(unexpectedFindings(k)).toEqual([]);
  });

  it("find_seqno: 64 nodes", () => {
    const k = new Kernel();
    const fc = fenceChainsInit(k, 64, seqnoInc);
    expect(find(fc.tail, 0)).toBe(fc.tail);
    for (let i = 0; i < 64; i++) {
      const node = fc.chains[i] as DmaFence;
      expect(find(fc.tail, i + 1)).toBe(node);
      expect(find(node, i + 1)).toBe(node);
      let err: unknown;
      try {
        find(node, i + 2);
      } catch (e) {
        err = e;
      }
      expect(isKernelError(err, "EINVAL")).toBe(true);
      const prev = find(node, i);
      if (i > 0) {
        expect(prev).toBe(fc.chains[i - 1]);
      } else {
        expect(prev).toBe(node); // seqno 0: unchanged
      }
    }
    fenceChainsFini(fc);
    expect(fc.chains.every((c) => c.released)).toBe(true);
    expect(unexpectedFindings(k)).toEqual([]);
  });

  it("find_seqno of a plain fence is EINVAL", () => {
    const k = new Kernel();
    const f = mock(k);
    expect(() => dmaFenceChainFindSeqno(f, 1)).toThrow(/not a chain node/);
    dmaFenceSignal(f);
    dmaFencePut(f);
  });

  it("find_signaled: the first point signaled: NULL or chains[0]", () => {
    const k = new Kernel();
    const fc = fenceChainsInit(k, 2, seqnoInc);
    dmaFenceSignal(fc.fences[0] as DmaFence);
    const r = find(fc.tail, 1);
    expect(r === null || r === fc.chains[0]).toBe(true);
    fenceChainsFini(fc);
  });

  it("find_out_of_order: middle signaled, point 1 pending: chains[0]", () => {
    const k = new Kernel();
    const fc = fenceChainsInit(k, 3, seqnoInc);
    dmaFenceSignal(fc.fences[1] as DmaFence);
    expect(find(fc.tail, 2)).toBe(fc.chains[0]);
    fenceChainsFini(fc);
  });

  it("find_gap: seqnos 2, 4, ..., 128", () => {
    const k = new Kernel();
    const fc = fenceChainsInit(k, 64, seqnoInc2);
    for (let i = 0; i < 64; i++) {
      const r = find(fc.tail, 2 * i + 1);
      expect(r).toBe(fc.chains[i]);
      expect(find(r as DmaFence, 2 * i + 2)).toBe(fc.chains[i]);
    }
    fenceChainsFini(fc);
  });

  it("a non-later seqno starts a fresh context with the larger seqno", () => {
    const k = new Kernel();
    const f1 = mock(k);
    const f2 = mock(k);
    const c1 = mockChain(k, null, f1, 5);
    const c2 = mockChain(k, c1, f2, 3);
    expect(c2.context).not.toBe(c1.context);
    expect(c2.seqno).toBe(5);
    fenceChainsFini({ fences: [f1, f2], chains: [c1, c2], tail: c2 });
  });

  it("find_race: threads look up and signal at random (4096 nodes)", async () => {
    for (const seed of [1, 2, 3]) {
      const k = new Kernel({ seed });
      const fc = fenceChainsInit(k, CHAIN_SZ, seqnoInc);
      const errors: string[] = [];
      const body = () => async () => {
        for (let iter = 0; iter < 300; iter++) {
          const seqno = k.choice.choose("test-seqno", CHAIN_SZ) + 1;
          let fence: DmaFence | null;
          try {
            fence = dmaFenceChainFindSeqno(dmaFenceGet(fc.tail), seqno);
          } catch (e) {
            errors.push(`failed to find seqno ${seqno}: ${String(e)}`);
            dmaFencePut(fc.tail);
            break;
          }
          if (fence) {
            if (fence.seqno === seqno) {
              try {
                fence = dmaFenceChainFindSeqno(fence, seqno);
              } catch (e) {
                errors.push(`invalid fence for find-self ${seqno}: ${String(e)}`);
              }
            }
            dmaFencePut(fence);
          }
          dmaFenceSignal(fc.fences[k.choice.choose("test-signal", CHAIN_SZ - 1)] as DmaFence);
          await k.sched.schedulePoint();
        }
      };
      await k.run({ "dmabuf/0": body(), "dmabuf/1": body(), "dmabuf/2": body() });
      expect(errors).toEqual([]);
      fenceChainsFini(fc);
      expect(fc.chains.every((c) => c.released)).toBe(true);
      expect(unexpectedFindings(k)).toEqual([]);
    }
  });

  it("signal_forward: node i signals with fence i, node i+1 does not", () => {
    const k = new Kernel();
    const fc = fenceChainsInit(k, 64, seqnoInc);
    for (let i = 0; i < 64; i++) {
      dmaFenceSignal(fc.fences[i] as DmaFence);
      expect(dmaFenceIsSignaled(fc.chains[i] as DmaFence)).toBe(true);
      if (i + 1 < 64) {
        expect(dmaFenceIsSignaled(fc.chains[i + 1] as DmaFence)).toBe(false);
      }
    }
    fenceChainsFini(fc);
  });

  it("signal_backward: no node signals before all fences have", () => {
    const k = new Kernel();
    const fc = fenceChainsInit(k, 64, seqnoInc);
    for (let i = 63; i >= 0; i--) {
      dmaFenceSignal(fc.fences[i] as DmaFence);
      if (i > 0) {
        expect(dmaFenceIsSignaled(fc.chains[i] as DmaFence)).toBe(false);
      }
    }
    for (const c of fc.chains) {
      expect(dmaFenceIsSignaled(c)).toBe(true);
    }
    fenceChainsFini(fc);
  });

  function shuffle(k: Kernel, fences: DmaFence[]): void {
    for (let count = fences.length - 1; count > 0; count--) {
      const swp = k.choice.choose("test-shuffle", count + 1);
      const t = fences[count] as DmaFence;
      fences[count] = fences[swp] as DmaFence;
      fences[swp] = t;
    }
  }

  for (const order of ["forward", "backward", "random"] as const) {
    it(`wait_${order}: a waiter on the tail returns 0 after ${CHAIN_SZ} fences signal`, async () => {
      const k = new Kernel({ seed: 7 });
      const fc = fenceChainsInit(k, CHAIN_SZ, seqnoInc);
      const signalOrder = [...fc.fences];
      if (order === "backward") {
        signalOrder.reverse();
      } else if (order === "random") {
        shuffle(k, signalOrder);
      }
      let result: number | null = null;
      let signaledBeforeLast = false;
      const waiter = k.spawn("dmabuf/wait", async () => {
        result = await dmaFenceWait(fc.tail, false);
      });
      await k.sched.schedulePoint(); // yield_to(tsk)
      signalOrder.forEach((f, i) => {
        dmaFenceSignal(f);
        if (i === signalOrder.length - 2) {
          signaledBeforeLast = dmaFenceIsSignaled(fc.tail);
        }
      });
      await k.sched.join([waiter]);
      expect(result).toBe(0);
      expect(signaledBeforeLast).toBe(false);
      fenceChainsFini(fc);
      expect(unexpectedFindings(k)).toEqual([]);
    });
  }
});
