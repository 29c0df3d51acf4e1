// Issue 14 item 11 for dma-resv: counts, sequence numbers and timeouts as C has them.
import { describe, expect, it } from "vitest";
import { Kernel, SIZE_MAX, isKernelError, spinLockInit } from "@dmasim/kernel";
import {
  dmaFenceContextAlloc,
  dmaFenceEnableSwSignaling,
  dmaFenceGet,
  dmaFenceInit,
  dmaFencePut,
  dmaFenceSetError,
  dmaFenceWaitTimeout,
  dmaResvInit,
  dmaResvLock,
  dmaResvReserveFences,
  dmaResvUnlock,
  dmaResvWaitTimeout,
  DMA_RESV_USAGE_WRITE,
} from "../src/index";

const ops = { getDriverName: () => "d", getTimelineName: () => "t" };

async function code(f: () => unknown): Promise<string> {
  try {
    await f();
    return "ok";
  } catch (e) {
    return isKernelError(e) ? e.code : String(e);
  }
}

describe("dma_fence and dma_resv arguments", () => {
  it("dma_fence_context_alloc(NaN) is EINVAL and leaves the context counter alone", async () => {
    const k = new Kernel({ version: "6.12" });
    const a = dmaFenceContextAlloc(k, 1);
    expect(await code(() => dmaFenceContextAlloc(k, NaN))).toBe("EINVAL");
    expect(dmaFenceContextAlloc(k, 1)).toBe(a + 1);
  });

  it("a seqno of -1 is the u64 all-ones (SIZE_MAX here); a fractional context is EINVAL", async () => {
    const k = new Kernel({ version: "6.12" });
    const lock = spinLockInit(k, "l");
    expect(dmaFenceInit(k, ops, lock, dmaFenceContextAlloc(k, 1), -1).seqno).toBe(SIZE_MAX);
    expect(await code(() => dmaFenceInit(k, ops, lock, 0.5, 1))).toBe("EINVAL");
  });

  it("dma_resv_reserve_fences: an unsigned int count (2^32 is 0: WARN + EINVAL on 6.11+), too many for kmalloc: ENOMEM", async () => {
    const k = new Kernel({ version: "6.12" });
    const r = dmaResvInit(k);
    await dmaResvLock(r, null);
    expect(await code(() => dmaResvReserveFences(r, 2 ** 32))).toBe("EINVAL");
    expect(await code(() => dmaResvReserveFences(r, -1))).toBe("ENOMEM");
    expect(await code(() => dmaResvReserveFences(r, 2 ** 20))).toBe("ENOMEM");
    expect(await code(() => dmaResvReserveFences(r, NaN))).toBe("EINVAL");
    dmaResvReserveFences(r, 4);
    dmaResvUnlock(r);
    expect(k.findings.map((f) => f.code)).toEqual([
      "drivers/dma-buf/dma-resv.c:dma_resv_reserve_fences",
      "mm/page_alloc.c:__alloc_pages",
    ]);
  });

  it("wait timeouts: NaN is EINVAL before anything waits", async () => {
    const k = new Kernel({ version: "6.12" });
    const f = dmaFenceInit(k, ops, spinLockInit(k, "l"), dmaFenceContextAlloc(k, 1), 1);
    expect(await code(() => dmaFenceWaitTimeout(f, true, NaN))).toBe("EINVAL");
    expect(
      await code(() => dmaResvWaitTimeout(dmaResvInit(k), DMA_RESV_USAGE_WRITE, true, NaN)),
    ).toBe("EINVAL");
  });
});

describe("a fence used after its release (KASAN)", () => {
  it("add_callback, enable_signaling, set_error, wait: a use-after-free finding each, once", async () => {
    const k = new Kernel({ version: "6.12" });
    const f = dmaFenceInit(k, ops, spinLockInit(k, "l"), dmaFenceContextAlloc(k, 1), 1);
    dmaFencePut(f); // the last reference
    dmaFenceEnableSwSignaling(f);
    dmaFenceEnableSwSignaling(f);
    dmaFenceSetError(f, -5);
    expect(await code(() => dmaFenceWaitTimeout(f, false, 0))).toBe("ok");
    expect(k.findings.map((x) => `${x.kind}/${x.code}`)).toEqual([
      "use-after-free/dma-fence-freed",
      "use-after-free/dma-fence-freed",
      "use-after-free/dma-fence-freed",
    ]);
    expect(k.findings[0]!.summary).toMatch(
      /KASAN: slab-use-after-free in dma_fence_enable_sw_signaling/,
    );
  });

  it("a reference taken on it is refcount_t's addition on 0", () => {
    const k = new Kernel({ version: "6.12" });
    const f = dmaFenceInit(k, ops, spinLockInit(k, "l"), dmaFenceContextAlloc(k, 1), 1);
    dmaFencePut(f);
    dmaFenceGet(f);
    expect(k.findings.map((x) => x.summary.split(" (")[0])).toEqual([
      "refcount_t: addition on 0; use-after-free.",
    ]);
  });
});
