/**
 * Port of drivers/dma-buf/st-dma-resv.c (KUnit suite "dma-buf-resv"), parameterised over the four
 * usages, plus the rest of the dma_resv contract.
 */
import { describe, expect, it } from "vitest";
import { Kernel, RunAborted, isKernelError, msleep, spinLockInit } from "@dmasim/kernel";
import {
  DMA_RESV_USAGE_BOOKKEEP,
  DMA_RESV_USAGE_KERNEL,
  DMA_RESV_USAGE_READ,
  DMA_RESV_USAGE_WRITE,
  DmaResvList,
  dmaFenceArrayCreate,
  dmaFenceContextAlloc,
  dmaFenceEnableSwSignaling,
  dmaFenceIsSignaled,
  dmaFencePut,
  dmaFenceSignal,
  dmaResvAddFence,
  dmaResvCopyFences,
  dmaResvDescribe,
  dmaResvFini,
  dmaResvForEachFence,
  dmaResvForEachFenceUnlocked,
  dmaResvGetFences,
  dmaResvGetSingleton,
  dmaResvInit,
  dmaResvIterBegin,
  dmaResvIterEnd,
  dmaResvIterIsRestarted,
  dmaResvIterUsage,
  dmaResvLock,
  dmaResvReplaceFences,
  dmaResvReserveFences,
  dmaResvTestSignaled,
  dmaResvTrylock,
  dmaResvUnlock,
  dmaResvUsageRw,
  dmaResvWaitTimeout,
  type DmaFence,
  type DmaResv,
  type DmaResvUsage,
} from "../src/index";
import { mockFence, unexpectedFindings } from "./helpers";

const USAGES = [
  ["kernel", DMA_RESV_USAGE_KERNEL],
  ["write", DMA_RESV_USAGE_WRITE],
  ["read", DMA_RESV_USAGE_READ],
  ["bookkeep", DMA_RESV_USAGE_BOOKKEEP],
] as const;

/** The selftest's fences share one spinlock. */
function setup(seed?: number): { k: Kernel; alloc: (ctx?: number, seqno?: number) => DmaFence } {
  const k = new Kernel(seed === undefined ? {} : { seed });
  const lock = spinLockInit(k, "fence_lock");
  return {
    k,
    alloc: (ctx = 0, seqno = 0) => {
      const f = mockFence(k, ctx, seqno, lock);
      dmaFenceEnableSwSignaling(f);
      return f;
    },
  };
}

async function addOne(resv: DmaResv, f: DmaFence, usage: DmaResvUsage): Promise<void> {
  await dmaResvLock(resv, null);
  dmaResvReserveFences(resv, 1);
  dmaResvAddFence(resv, f, usage);
  dmaResvUnlock(resv);
}

describe("st-dma-resv", () => {
  it("sanitycheck", async () => {
    const { k, alloc } = setup();
    const f = alloc();
    dmaFenceSignal(f);
    dmaFencePut(f);
    const resv = dmaResvInit(k);
    await dmaResvLock(resv, null);
    dmaResvUnlock(resv);
    dmaResvFini(resv);
    expect(unexpectedFindings(k)).toEqual([]);
  });

  for (const [name, usage] of USAGES) {
    it(`test_signaling(${name})`, async () => {
      const { k, alloc } = setup();
      const f = alloc();
      const resv = dmaResvInit(k);
      await dmaResvLock(resv, null);
      dmaResvReserveFences(resv, 1);
      dmaResvAddFence(resv, f, usage);
      expect(dmaResvTestSignaled(resv, usage)).toBe(false);
      dmaFenceSignal(f);
      expect(dmaResvTestSignaled(resv, usage)).toBe(true);
      dmaResvUnlock(resv);
      dmaResvFini(resv);
      dmaFencePut(f);
      expect(f.released).toBe(true);
      expect(unexpectedFindings(k)).toEqual([]);
    });

    it(`test_for_each(${name})`, async () => {
      const { k, alloc } = setup();
      const f = alloc();
      const resv = dmaResvInit(k);
      await dmaResvLock(resv, null);
      dmaResvReserveFences(resv, 1);
      dmaResvAddFence(resv, f, usage);
      const cursor = dmaResvIterBegin(resv, usage);
      const seen: [DmaFence, DmaResvUsage][] = [];
      for (const fence of dmaResvForEachFence(cursor)) {
        seen.push([fence, dmaResvIterUsage(cursor)]);
      }
      expect(seen).toEqual([[f, usage]]);
      dmaFenceSignal(f);
      dmaResvUnlock(resv);
      dmaResvFini(resv);
      dmaFencePut(f);
    });

    it(`test_for_each_unlocked(${name}): restart semantics`, async () => {
      const { k, alloc } = setup();
      const f = alloc();
      const resv = dmaResvInit(k);
      await addOne(resv, f, usage);
      const cursor = dmaResvIterBegin(resv, usage);
      let visits = 0;
      let r: "ENOENT" | "EINVAL" | 0 = "ENOENT";
      for (const fence of dmaResvForEachFenceUnlocked(cursor)) {
        visits++;
        expect(r).not.toBe(0); // "More than one fence found"
        expect(dmaResvIterIsRestarted(cursor)).toBe(true);
        expect(fence).toBe(f);
        expect(dmaResvIterUsage(cursor)).toBe(usage);
        if (r === "ENOENT") {
          r = "EINVAL";
          cursor.fences = new DmaResvList(0); // corrupt the cursor: force a restart
        } else {
          r = 0;
        }
      }
      dmaResvIterEnd(cursor);
      expect(visits).toBe(2);
      expect(r).toBe(0);
      dmaFenceSignal(f);
      dmaResvFini(resv);
      dmaFencePut(f);
      expect(f.released).toBe(true);
    });

    it(`test_get_fences(${name})`, async () => {
      const { k, alloc } = setup();
      const f = alloc();
      const resv = dmaResvInit(k);
      await addOne(resv, f, usage);
      const fences = dmaResvGetFences(resv, usage);
      expect(fences).toEqual([f]);
      dmaFenceSignal(f);
      fences.forEach((x) => dmaFencePut(x));
      dmaResvFini(resv);
      dmaFencePut(f);
      expect(f.released).toBe(true);
    });
  }

  it("usage order: a query for U returns every fence with usage <= U", async () => {
    const { k, alloc } = setup();
    const resv = dmaResvInit(k);
    const byUsage = USAGES.map(() => alloc(dmaFenceContextAlloc(k, 1), 1));
    await dmaResvLock(resv, null);
    dmaResvReserveFences(resv, 4);
    USAGES.forEach(([, u], i) => dmaResvAddFence(resv, byUsage[i] as DmaFence, u));
    dmaResvUnlock(resv);
    for (const [, u] of USAGES) {
      expect(dmaResvGetFences(resv, u).map((f) => byUsage.indexOf(f))).toEqual(
        [0, 1, 2, 3].filter((i) => i <= u),
      );
    }
    expect(dmaResvUsageRw(true)).toBe(DMA_RESV_USAGE_READ);
    expect(dmaResvUsageRw(false)).toBe(DMA_RESV_USAGE_WRITE);
    // a READ query does not see BOOKKEEP; a KERNEL fence blocks every query
    dmaFenceSignal(byUsage[0] as DmaFence);
    expect(dmaResvTestSignaled(resv, DMA_RESV_USAGE_KERNEL)).toBe(true);
    dmaFenceSignal(byUsage[1] as DmaFence);
    dmaFenceSignal(byUsage[2] as DmaFence);
    expect(dmaResvTestSignaled(resv, DMA_RESV_USAGE_READ)).toBe(true);
    expect(dmaResvTestSignaled(resv, DMA_RESV_USAGE_BOOKKEEP)).toBe(false);
    dmaFenceSignal(byUsage[3] as DmaFence);
    dmaResvFini(resv);
  });
});

describe("dma_resv fence slots (H17)", () => {
  it("reserve_fences(0) WARNs and fails with EINVAL", async () => {
    const { k } = setup();
    const resv = dmaResvInit(k);
    await dmaResvLock(resv, null);
    expect(() => dmaResvReserveFences(resv, 0)).toThrow(/EINVAL/);
    expect(k.findings.map((f) => f.code)).toContain(
      "drivers/dma-buf/dma-resv.c:dma_resv_reserve_fences",
    );
    dmaResvUnlock(resv);
  });

  it("add_fence without any reservation is a BUG (NULL list)", async () => {
    const { k, alloc } = setup();
    const resv = dmaResvInit(k);
    await dmaResvLock(resv, null);
    expect(() => dmaResvAddFence(resv, alloc(), DMA_RESV_USAGE_WRITE)).toThrow(/kernel BUG/);
    expect(k.findings.some((f) => f.kind === "bug")).toBe(true);
  });

  it("a reservation from an earlier lock section is dropped at unlock: BUG; fix: reserve in the same section", async () => {
    const bug = setup();
    let resv = dmaResvInit(bug.k);
    await dmaResvLock(resv, null);
    dmaResvReserveFences(resv, 1);
    dmaResvUnlock(resv);
    await dmaResvLock(resv, null);
    expect(() => dmaResvAddFence(resv, bug.alloc(), DMA_RESV_USAGE_WRITE)).toThrow(
      /BUG_ON\(fobj->num_fences >= fobj->max_fences\)/,
    );
    // without CONFIG_DEBUG_MUTEXES the stale reservation survives and the mistake goes unseen
    const lax = new Kernel({ options: { CONFIG_DEBUG_MUTEXES: false } });
    resv = dmaResvInit(lax);
    await dmaResvLock(resv, null);
    dmaResvReserveFences(resv, 1);
    dmaResvUnlock(resv);
    await dmaResvLock(resv, null);
    dmaResvAddFence(resv, mockFence(lax), DMA_RESV_USAGE_WRITE);
    dmaResvUnlock(resv);
    // the fix
    const ok = setup();
    resv = dmaResvInit(ok.k);
    for (let i = 0; i < 3; i++) {
      await dmaResvLock(resv, null);
      dmaResvReserveFences(resv, 1);
      dmaResvAddFence(resv, ok.alloc(dmaFenceContextAlloc(ok.k, 1), 1), DMA_RESV_USAGE_READ);
      dmaResvUnlock(resv);
    }
    expect(dmaResvGetFences(resv, DMA_RESV_USAGE_READ)).toHaveLength(3);
    expect(unexpectedFindings(ok.k)).toEqual([]);
  });

  it("adding a container WARNs; adding its leaves does not", async () => {
    const { k, alloc } = setup();
    const resv = dmaResvInit(k);
    const f1 = alloc(dmaFenceContextAlloc(k, 1), 1);
    const f2 = alloc(dmaFenceContextAlloc(k, 1), 1);
    const array = dmaFenceArrayCreate(k, [f1, f2], dmaFenceContextAlloc(k, 1), 1, false);
    await dmaResvLock(resv, null);
    dmaResvReserveFences(resv, 3);
    dmaResvAddFence(resv, array, DMA_RESV_USAGE_WRITE);
    expect(k.findings.filter((f) => f.kind === "warn")).toHaveLength(1);
    dmaResvAddFence(resv, f1, DMA_RESV_USAGE_WRITE);
    dmaResvAddFence(resv, f2, DMA_RESV_USAGE_WRITE);
    expect(k.findings.filter((f) => f.kind === "warn")).toHaveLength(1);
    dmaResvUnlock(resv);
  });

  it("add_fence and reserve_fences assert that the lock is held", async () => {
    const { k, alloc } = setup();
    const resv = dmaResvInit(k);
    await dmaResvLock(resv, null);
    dmaResvReserveFences(resv, 1);
    dmaResvUnlock(resv);
    dmaResvReserveFences(resv, 1);
    dmaResvAddFence(resv, alloc(), DMA_RESV_USAGE_WRITE);
    expect(k.findings.filter((f) => f.code === "assert-held")).toHaveLength(2);
  });

  it("capacity follows the kernel: max(4, pow2) rounded to the kmalloc bucket, then doubling", async () => {
    const { k, alloc } = setup();
    const resv = dmaResvInit(k);
    await dmaResvLock(resv, null);
    dmaResvReserveFences(resv, 1);
    expect(resv.fences?.maxFences).toBe(5); // 24 + 4*8 = 56 -> kmalloc-64 -> 5 slots
    for (let i = 0; i < 5; i++) {
      dmaResvAddFence(resv, alloc(dmaFenceContextAlloc(k, 1), 1), DMA_RESV_USAGE_READ);
    }
    const before = resv.fences;
    dmaResvReserveFences(resv, 1);
    expect(resv.fences).not.toBe(before);
    expect(resv.fences?.maxFences).toBe(13); // max(6, 10) -> 24 + 80 = 104 -> kmalloc-128 -> 13
    dmaResvUnlock(resv);
  });
});

describe("dma_resv add_fence replacement rules", () => {
  it("a later fence of the same context replaces an entry of the same or weaker usage", async () => {
    const { k, alloc } = setup();
    const resv = dmaResvInit(k);
    const ctx = dmaFenceContextAlloc(k, 1);
    const f1 = alloc(ctx, 1);
    const f2 = alloc(ctx, 2);
    await dmaResvLock(resv, null);
    dmaResvReserveFences(resv, 2);
    dmaResvAddFence(resv, f1, DMA_RESV_USAGE_READ);
    dmaResvAddFence(resv, f2, DMA_RESV_USAGE_WRITE); // promotion: READ entry replaced
    expect(resv.fences?.numFences).toBe(1);
    const c = dmaResvIterBegin(resv, DMA_RESV_USAGE_BOOKKEEP);
    expect([...dmaResvForEachFence(c)]).toEqual([f2]);
    expect(dmaResvIterUsage(c)).toBe(DMA_RESV_USAGE_WRITE);
    dmaResvUnlock(resv);
  });

  it("a fence is never degraded: a weaker usage of the same context is appended", async () => {
    const { k, alloc } = setup();
    const resv = dmaResvInit(k);
    const ctx = dmaFenceContextAlloc(k, 1);
    await dmaResvLock(resv, null);
    dmaResvReserveFences(resv, 2);
    dmaResvAddFence(resv, alloc(ctx, 1), DMA_RESV_USAGE_WRITE);
    dmaResvAddFence(resv, alloc(ctx, 2), DMA_RESV_USAGE_BOOKKEEP);
    expect(resv.fences?.numFences).toBe(2);
    dmaResvUnlock(resv);
  });

  it("an older fence of the same context does not replace a newer one", async () => {
    const { k, alloc } = setup();
    const resv = dmaResvInit(k);
    const ctx = dmaFenceContextAlloc(k, 1);
    await dmaResvLock(resv, null);
    dmaResvReserveFences(resv, 2);
    dmaResvAddFence(resv, alloc(ctx, 2), DMA_RESV_USAGE_WRITE);
    dmaResvAddFence(resv, alloc(ctx, 1), DMA_RESV_USAGE_WRITE);
    expect(resv.fences?.numFences).toBe(2);
    dmaResvUnlock(resv);
  });

  it("a signaled entry of any context is replaced (and its reference dropped)", async () => {
    const { k, alloc } = setup();
    const resv = dmaResvInit(k);
    const old = alloc(dmaFenceContextAlloc(k, 1), 1);
    await addOne(resv, old, DMA_RESV_USAGE_READ);
    dmaFenceSignal(old);
    dmaFencePut(old);
    expect(old.released).toBe(false);
    await dmaResvLock(resv, null);
    dmaResvReserveFences(resv, 1);
    dmaResvAddFence(resv, alloc(dmaFenceContextAlloc(k, 1), 1), DMA_RESV_USAGE_KERNEL);
    expect(old.released).toBe(true);
    expect(resv.fences?.numFences).toBe(1);
    dmaResvUnlock(resv);
  });

  it("replace_fences swaps every fence of a context", async () => {
    const { k, alloc } = setup();
    const resv = dmaResvInit(k);
    const ctx = dmaFenceContextAlloc(k, 1);
    const pre = alloc(ctx, 1);
    const repl = alloc(dmaFenceContextAlloc(k, 1), 1);
    await dmaResvLock(resv, null);
    dmaResvReserveFences(resv, 2);
    dmaResvAddFence(resv, pre, DMA_RESV_USAGE_BOOKKEEP);
    dmaResvReplaceFences(resv, ctx, repl, DMA_RESV_USAGE_KERNEL);
    const c = dmaResvIterBegin(resv, DMA_RESV_USAGE_KERNEL);
    expect([...dmaResvForEachFence(c)]).toEqual([repl]);
    dmaResvUnlock(resv);
  });
});

describe("dma_resv lockless readers", () => {
  it("the locked iterator returns signaled fences; the unlocked one skips them", async () => {
    const { k, alloc } = setup();
    const resv = dmaResvInit(k);
    const f1 = alloc(dmaFenceContextAlloc(k, 1), 1);
    const f2 = alloc(dmaFenceContextAlloc(k, 1), 1);
    await dmaResvLock(resv, null);
    dmaResvReserveFences(resv, 2);
    dmaResvAddFence(resv, f1, DMA_RESV_USAGE_READ);
    dmaResvAddFence(resv, f2, DMA_RESV_USAGE_READ);
    dmaFenceSignal(f1);
    expect([...dmaResvForEachFence(dmaResvIterBegin(resv, DMA_RESV_USAGE_READ))]).toEqual([f1, f2]);
    dmaResvUnlock(resv);
    const c = dmaResvIterBegin(resv, DMA_RESV_USAGE_READ);
    expect([...dmaResvForEachFenceUnlocked(c)]).toEqual([f2]);
    dmaResvIterEnd(c);
  });

  it("an unlocked walk restarts when a writer reallocates the list while the body sleeps", async () => {
    const { k, alloc } = setup();
    const resv = dmaResvInit(k);
    const fences = [1, 2, 3].map(() => alloc(dmaFenceContextAlloc(k, 1), 1));
    await dmaResvLock(resv, null);
    dmaResvReserveFences(resv, 3);
    fences.forEach((f) => dmaResvAddFence(resv, f, DMA_RESV_USAGE_READ));
    dmaResvUnlock(resv);
    const log: string[] = [];
    await k.run({
      reader: async () => {
        const c = dmaResvIterBegin(resv, DMA_RESV_USAGE_READ);
        for (const f of dmaResvForEachFenceUnlocked(c)) {
          log.push(`${dmaResvIterIsRestarted(c) ? "restart:" : ""}${fences.indexOf(f)}`);
          await msleep(k, 2);
        }
        dmaResvIterEnd(c);
      },
      writer: async () => {
        await msleep(k, 1);
        await dmaResvLock(resv, null);
        dmaResvReserveFences(resv, 8); // a new, bigger list
        dmaResvUnlock(resv);
      },
    });
    expect(log).toEqual(["restart:0", "restart:0", "1", "2"]);
  });

  it("get_singleton: null, the fence, or an array of all", async () => {
    const { k, alloc } = setup();
    const resv = dmaResvInit(k);
    expect(dmaResvGetSingleton(resv, DMA_RESV_USAGE_READ)).toBeNull();
    const f1 = alloc(dmaFenceContextAlloc(k, 1), 1);
    await addOne(resv, f1, DMA_RESV_USAGE_WRITE);
    const one = dmaResvGetSingleton(resv, DMA_RESV_USAGE_READ);
    expect(one).toBe(f1);
    dmaFencePut(one);
    const f2 = alloc(dmaFenceContextAlloc(k, 1), 1);
    await addOne(resv, f2, DMA_RESV_USAGE_READ);
    expect(dmaResvGetSingleton(resv, DMA_RESV_USAGE_WRITE)).toBe(f1);
    const both = dmaResvGetSingleton(resv, DMA_RESV_USAGE_READ) as DmaFence;
    expect(both.kind).toBe("array");
    dmaFenceSignal(f1);
    expect(dmaFenceIsSignaled(both)).toBe(false);
    dmaFenceSignal(f2);
    expect(dmaFenceIsSignaled(both)).toBe(true);
    dmaFencePut(both);
  });

  it("copy_fences snapshots the unsignaled fences of src into dst", async () => {
    const { k, alloc } = setup();
    const src = dmaResvInit(k, "src");
    const dst = dmaResvInit(k, "dst");
    const f1 = alloc(dmaFenceContextAlloc(k, 1), 1);
    const f2 = alloc(dmaFenceContextAlloc(k, 1), 1);
    const f3 = alloc(dmaFenceContextAlloc(k, 1), 1);
    await dmaResvLock(src, null);
    dmaResvReserveFences(src, 2);
    dmaResvAddFence(src, f1, DMA_RESV_USAGE_BOOKKEEP);
    dmaResvAddFence(src, f2, DMA_RESV_USAGE_WRITE);
    dmaResvUnlock(src);
    await addOne(dst, f3, DMA_RESV_USAGE_KERNEL);
    dmaFenceSignal(f2);
    await dmaResvLock(dst, null);
    dmaResvCopyFences(dst, src);
    const c = dmaResvIterBegin(dst, DMA_RESV_USAGE_BOOKKEEP);
    expect([...dmaResvForEachFence(c)]).toEqual([f1]);
    expect(dmaResvIterUsage(c)).toBe(DMA_RESV_USAGE_BOOKKEEP);
    dmaResvUnlock(dst);
  });

  it("wait_timeout: test-only with 0, remaining jiffies, 0 on timeout", async () => {
    const { k, alloc } = setup();
    const resv = dmaResvInit(k);
    const f1 = alloc(dmaFenceContextAlloc(k, 1), 1);
    const f2 = alloc(dmaFenceContextAlloc(k, 1), 1);
    await dmaResvLock(resv, null);
    dmaResvReserveFences(resv, 2);
    dmaResvAddFence(resv, f1, DMA_RESV_USAGE_WRITE);
    dmaResvAddFence(resv, f2, DMA_RESV_USAGE_BOOKKEEP);
    dmaResvUnlock(resv);
    expect(await dmaResvWaitTimeout(resv, DMA_RESV_USAGE_READ, false, 0)).toBe(0);
    expect(await dmaResvWaitTimeout(resv, DMA_RESV_USAGE_READ, false, 10)).toBe(0);
    let left = 0;
    await k.run({
      waiter: async () => {
        left = await dmaResvWaitTimeout(resv, DMA_RESV_USAGE_READ, false, 100);
      },
      gpu: async () => {
        await msleep(k, 20);
        dmaFenceSignal(f1);
      },
    });
    expect(left).toBeGreaterThan(0);
    expect(left).toBeLessThan(100);
    expect(await dmaResvWaitTimeout(resv, DMA_RESV_USAGE_READ, false, 0)).toBe(1);
    expect(await dmaResvWaitTimeout(resv, DMA_RESV_USAGE_BOOKKEEP, false, 0)).toBe(0);
    dmaFenceSignal(f2);
  });

  it("describe lists fences up to READ", async () => {
    const { k, alloc } = setup();
    const resv = dmaResvInit(k);
    await dmaResvLock(resv, null);
    dmaResvReserveFences(resv, 2);
    dmaResvAddFence(resv, alloc(dmaFenceContextAlloc(k, 1), 7), DMA_RESV_USAGE_WRITE);
    dmaResvAddFence(resv, alloc(dmaFenceContextAlloc(k, 1), 8), DMA_RESV_USAGE_BOOKKEEP);
    expect(dmaResvDescribe(resv)).toBe("\twrite fence:mock mock seq 7 unsignalled\n");
    dmaResvUnlock(resv);
  });

  it("trylock fails while another thread holds the lock", async () => {
    const { k } = setup();
    const resv = dmaResvInit(k);
    let tried: boolean | null = null;
    await k.run({
      holder: async () => {
        await dmaResvLock(resv, null);
        await msleep(k, 5);
        dmaResvUnlock(resv);
      },
      other: async () => {
        await msleep(k, 1);
        tried = dmaResvTrylock(resv);
      },
    });
    expect(tried).toBe(false);
    expect(dmaResvTrylock(resv)).toBe(true);
    dmaResvUnlock(resv);
  });

  it("a thread that waits on a fence nobody signals is reported as a deadlock", async () => {
    const { k, alloc } = setup();
    const resv = dmaResvInit(k);
    await addOne(resv, alloc(dmaFenceContextAlloc(k, 1), 1), DMA_RESV_USAGE_WRITE);
    await expect(
      k.run({
        w: async () => {
          await dmaResvWaitTimeout(resv, DMA_RESV_USAGE_WRITE, false, Number.MAX_SAFE_INTEGER);
        },
      }),
    ).rejects.toBeInstanceOf(RunAborted);
    expect(String(k.findings.find((f) => f.kind === "deadlock")?.details.text)).toMatch(
      /dma_fence/,
    );
    expect(isKernelError(new Error("x"))).toBe(false);
  });
});

describe('dma_resv_reserve_fences(obj, 0) across the 6.11 boundary ("dma-buf: add a warning when drv try to reserve 0 fence slots")', () => {
  it("6.11+ (6.12, latest): WARN and EINVAL, nothing reserved", async () => {
    for (const version of ["6.12", "latest"]) {
      const k = new Kernel({ version });
      const resv = dmaResvInit(k);
      await dmaResvLock(resv, null);
      let err: unknown;
      try {
        dmaResvReserveFences(resv, 0);
      } catch (e) {
        err = e;
      }
      expect(isKernelError(err, "EINVAL"), version).toBe(true);
      expect(
        k.findings.map((f) => f.kind),
        version,
      ).toEqual(["warn"]);
      expect(resv.fences, version).toBe(null);
      dmaResvUnlock(resv);
    }
  });

  it("before 6.11 (4.19, 5.15, 6.6): returns 0 without a WARN; an empty object still gets its first table", async () => {
    for (const version of ["4.19", "5.15", "6.6"]) {
      const k = new Kernel({ version });
      const resv = dmaResvInit(k);
      await dmaResvLock(resv, null);
      expect(() => dmaResvReserveFences(resv, 0), version).not.toThrow();
      expect(k.findings, version).toEqual([]);
      expect(resv.fences?.maxFences, version).toBeGreaterThanOrEqual(4);
      dmaResvUnlock(resv);
    }
  });
});
