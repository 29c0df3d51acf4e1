/**
 * H18 (fence-signalling paths that block on memory or locks), H19 (fence dropped while
 * unsignaled with waiters) and the lockdep priming of dma_resv_lockdep(), each with its fix.
 */
import { describe, expect, it } from "vitest";
import {
  Kernel,
  RunAborted,
  downRead,
  msleep,
  spinLockInit,
  upRead,
  type Finding,
} from "@dmasim/kernel";
import {
  DMA_RESV_USAGE_WRITE,
  DmaFenceCb,
  dmaFenceAddCallback,
  dmaFenceBeginSignalling,
  dmaFenceContextAlloc,
  dmaFenceEndSignalling,
  dmaFenceGetStatus,
  dmaFencePut,
  dmaFenceSetError,
  dmaFenceSignal,
  dmaFenceWait,
  dmaResvAddFence,
  dmaResvInit,
  dmaResvLock,
  dmaResvReserveFences,
  dmaResvTrylock,
  dmaResvUnlock,
  dmaResvWaitTimeout,
  fsReclaimAcquire,
  fsReclaimRelease,
  mightAlloc,
  type DmaFence,
} from "../src/index";
import { mockFence } from "./helpers";

const ECANCELED = -125;
const EDEADLK = -35;

function circular(k: Kernel): Finding[] {
  return k.findings.filter((f) => f.kind === "lockdep" && f.code === "circular-dependency");
}

describe("lockdep priming (dma_resv_lockdep)", () => {
  it("mmap_lock -> reservation lock is fine", async () => {
    const k = new Kernel();
    const p = k.vfs.createProcess("app");
    const resv = dmaResvInit(k);
    await downRead(p.mm.mmapLock);
    await dmaResvLock(resv, null);
    dmaResvUnlock(resv);
    upRead(p.mm.mmapLock);
    expect(circular(k)).toEqual([]);
  });

  it("the inverse order is reported the first time it happens, thanks to the priming", async () => {
    const k = new Kernel();
    const p = k.vfs.createProcess("app");
    const resv = dmaResvInit(k);
    await dmaResvLock(resv, null);
    await downRead(p.mm.mmapLock); // e.g. a fault path taken under the reservation lock
    upRead(p.mm.mmapLock);
    dmaResvUnlock(resv);
    expect(circular(k)).toHaveLength(1);
    expect(String(circular(k)[0]?.details.text)).toMatch(/primed at boot by dma_resv_lockdep/);
  });

  it("allocating under the reservation lock is fine; taking it inside reclaim is reported", async () => {
    const k = new Kernel();
    const resv = dmaResvInit(k);
    await dmaResvLock(resv, null);
    mightAlloc(k);
    dmaResvUnlock(resv);
    expect(circular(k)).toEqual([]);
    fsReclaimAcquire(k); // a shrinker
    await dmaResvLock(resv, null); // must use trylock here
    dmaResvUnlock(resv);
    fsReclaimRelease(k);
    expect(circular(k)).toHaveLength(1);
  });

  it("the fix for shrinkers: trylock adds no dependency", () => {
    const k = new Kernel();
    const resv = dmaResvInit(k);
    fsReclaimAcquire(k);
    expect(dmaResvTrylock(resv)).toBe(true);
    dmaResvUnlock(resv);
    fsReclaimRelease(k);
    expect(circular(k)).toEqual([]);
  });
});

describe("H18: a fence-signalling path that blocks on locks or memory", () => {
  it("the signaller needs the reservation lock a waiter holds: lockdep reports it, and it deadlocks", async () => {
    const k = new Kernel();
    const resv = dmaResvInit(k);
    const fence = mockFence(k, dmaFenceContextAlloc(k, 1), 1);
    const run = k.run({
      waiter: async () => {
        await dmaResvLock(resv, null);
        dmaResvReserveFences(resv, 1);
        dmaResvAddFence(resv, fence, DMA_RESV_USAGE_WRITE);
        await dmaFenceWait(fence, false); // waits holding the reservation lock
        dmaResvUnlock(resv);
      },
      signaller: async () => {
        await msleep(k, 1);
        const cookie = dmaFenceBeginSignalling(k);
        await dmaResvLock(resv, null); // the signalling path takes the lock
        dmaFenceSignal(fence);
        dmaResvUnlock(resv);
        dmaFenceEndSignalling(k, cookie);
      },
    });
    await expect(run).rejects.toBeInstanceOf(RunAborted);
    expect(circular(k).length).toBeGreaterThan(0);
    expect(k.findings.some((f) => f.kind === "deadlock")).toBe(true);
  });

  it("lockdep catches it even on a schedule that does not deadlock", async () => {
    const k = new Kernel();
    const resv = dmaResvInit(k);
    const cookie = dmaFenceBeginSignalling(k);
    await dmaResvLock(resv, null);
    dmaResvUnlock(resv);
    dmaFenceEndSignalling(k, cookie);
    expect(circular(k)).toHaveLength(1);
  });

  it("a GFP_KERNEL allocation inside a signalling section is reported", () => {
    const k = new Kernel();
    const cookie = dmaFenceBeginSignalling(k);
    mightAlloc(k);
    dmaFenceEndSignalling(k, cookie);
    expect(circular(k).length).toBeGreaterThan(0);
    expect(String(circular(k)[0]?.details.text)).toMatch(/trying to acquire lock:\n fs_reclaim/);
  });

  it("a fence wait inside a signalling section while holding a lock the section takes is reported", async () => {
    const k = new Kernel();
    const f = mockFence(k);
    const resv = dmaResvInit(k);
    dmaFenceSignal(f);
    await dmaResvLock(resv, null);
    await dmaFenceWait(f, false); // resv -> dma_fence_map (also primed)
    dmaResvUnlock(resv);
    expect(circular(k)).toEqual([]);
    const cookie = dmaFenceBeginSignalling(k);
    await dmaResvWaitTimeout(resv, DMA_RESV_USAGE_WRITE, false, 10); // nothing to wait for: fine
    dmaFenceEndSignalling(k, cookie);
    expect(circular(k)).toEqual([]);
  });

  it("a callback that sleeps (allocates) runs in atomic context: reported", () => {
    const k = new Kernel();
    const f = mockFence(k);
    dmaFenceAddCallback(f, new DmaFenceCb(), () => mightAlloc(k));
    dmaFenceSignal(f);
    expect(k.findings.some((x) => x.code === "sleep-in-atomic")).toBe(true);
  });

  it("a callback that signals another fence sharing the lock: spinlock recursion BUG", () => {
    const k = new Kernel();
    const lock = spinLockInit(k, "shared fence lock");
    const f1 = mockFence(k, 0, 0, lock);
    const f2 = mockFence(k, 0, 0, lock);
    dmaFenceAddCallback(f1, new DmaFenceCb(), () => dmaFenceSignal(f2));
    expect(() => dmaFenceSignal(f1)).toThrow(/spinlock recursion/);
    expect(k.findings.some((x) => x.kind === "bug")).toBe(true);
  });

  it("a callback that signals another fence whose lock has the same class: lockdep recursion", () => {
    const k = new Kernel();
    const f1 = mockFence(k);
    const f2 = mockFence(k); // its own lock, same lock class
    dmaFenceAddCallback(f1, new DmaFenceCb(), () => dmaFenceSignal(f2));
    dmaFenceSignal(f1);
    expect(k.findings.map((x) => x.code)).toEqual(["recursive-locking"]);
    expect(dmaFenceGetStatus(f2)).toBe(1);
  });

  it("the fix: no reservation lock, no allocation, no shared-lock signalling on the signal path", async () => {
    const k = new Kernel();
    const resv = dmaResvInit(k);
    const fence = mockFence(k, dmaFenceContextAlloc(k, 1), 1);
    // f2's lock is of another class: signalling it from the callback nests two classes, which is
    // allowed (same-class nesting is reported by lockdep, as in the kernel)
    const f2 = mockFence(k, 0, 0, spinLockInit(k, "other timeline lock"));
    dmaFenceAddCallback(fence, new DmaFenceCb(), () => dmaFenceSignal(f2));
    mightAlloc(k); // allocate before the signalling section
    await k.run({
      waiter: async () => {
        await dmaResvLock(resv, null);
        dmaResvReserveFences(resv, 1);
        dmaResvAddFence(resv, fence, DMA_RESV_USAGE_WRITE);
        await dmaFenceWait(fence, false);
        dmaResvUnlock(resv);
      },
      signaller: async () => {
        await msleep(k, 1);
        const cookie = dmaFenceBeginSignalling(k);
        dmaFenceSignal(fence);
        dmaFenceEndSignalling(k, cookie);
      },
    });
    expect(k.findings).toEqual([]);
    expect(dmaFenceGetStatus(f2)).toBe(1);
  });
});

describe("H19: a fence released with callbacks pending", () => {
  function setup(): { k: Kernel; f: DmaFence; status: number[] } {
    const k = new Kernel();
    const f = mockFence(k);
    const status: number[] = [];
    dmaFenceAddCallback(f, new DmaFenceCb(), (fence) => status.push(fence.error));
    return { k, f, status };
  }

  it("dropping the last reference unsignaled: WARN, error -EDEADLK, callbacks run", () => {
    const { k, f, status } = setup();
    dmaFencePut(f);
    const warn = k.findings.find((x) => x.kind === "warn");
    expect(warn?.summary).toMatch(/mock:mock:0:0 released with pending signals!/);
    expect(status).toEqual([EDEADLK]);
  });

  it("a waiter is woken with the fence in error instead of hanging", async () => {
    const k = new Kernel();
    const f = mockFence(k);
    let result: number | null = null;
    await k.run({
      waiter: async () => {
        result = await dmaFenceWait(f, false);
      },
      owner: async () => {
        await msleep(k, 1);
        dmaFencePut(f); // bug: the waiter held no reference and the fence was never signaled
      },
    });
    expect(result).toBe(0);
    expect(f.error).toBe(EDEADLK);
    expect(k.findings.some((x) => x.kind === "warn")).toBe(true);
  });

  it("the fix: set an error and signal on teardown, then drop the reference", () => {
    const { k, f, status } = setup();
    dmaFenceSetError(f, ECANCELED);
    dmaFenceSignal(f);
    dmaFencePut(f);
    expect(status).toEqual([ECANCELED]);
    expect(k.findings).toEqual([]);
  });
});
