import { describe, expect, it } from "vitest";
import { PAGE_SIZE } from "@dmasim/kernel";
import { GFP_KERNEL, __GFP_ZERO, allocPages } from "@dmasim/hardware";
import {
  dmabufPagePoolAlloc,
  dmabufPagePoolCreate,
  dmabufPagePoolDestroy,
  dmabufPagePoolFree,
  dmabufPagePoolGetSize,
  dmabufPagePoolShrink,
  dmabufPagePools,
  dmaHeapFind,
  type DmaHeap,
} from "../src/index";
import { boot, codes } from "./helpers";

describe("dma-buf heap page pools (Android page_pool.c)", () => {
  it("a freed page is handed out again before any fresh page (FIFO)", () => {
    const { k, m } = boot("6.12");
    const pool = dmabufPagePoolCreate(k, GFP_KERNEL | __GFP_ZERO, 4);
    const a = dmabufPagePoolAlloc(pool)!;
    const b = dmabufPagePoolAlloc(pool)!;
    expect(a.order).toBe(4);
    dmabufPagePoolFree(pool, b);
    dmabufPagePoolFree(pool, a);
    expect(dmabufPagePoolGetSize(pool)).toBe(2 * 16 * PAGE_SIZE);
    expect(dmabufPagePoolAlloc(pool)).toBe(b);
    expect(dmabufPagePoolAlloc(pool)).toBe(a);
    expect(m.pageAlloc.isFree(a.pfn)).toBe(false);
  });

  it("a page of another order WARNs and is not taken", () => {
    const { k, m } = boot("6.12");
    const pool = dmabufPagePoolCreate(k, GFP_KERNEL, 0);
    dmabufPagePoolFree(pool, allocPages(m, 4, GFP_KERNEL)!);
    expect(pool.count).toBe(0);
    expect(codes(k.findings)).toEqual([
      "warn/drivers/dma-buf/heaps/page_pool.c:dmabuf_page_pool_free",
    ]);
  });

  it("the shrinker counts and frees pooled pages; destroy frees the rest", () => {
    const { k, m } = boot("6.12");
    const before = m.pageAlloc.freePages;
    const p0 = dmabufPagePoolCreate(k, GFP_KERNEL, 0);
    const p4 = dmabufPagePoolCreate(k, GFP_KERNEL, 4);
    for (let i = 0; i < 3; i++) {
      dmabufPagePoolFree(p0, dmabufPagePoolAlloc(p0)!);
    }
    const pages = [0, 1, 2].map(() => dmabufPagePoolAlloc(p0)!);
    pages.forEach((p) => dmabufPagePoolFree(p0, p));
    dmabufPagePoolFree(p4, dmabufPagePoolAlloc(p4)!);
    expect(dmabufPagePoolShrink(k, 0)).toBe(3 + 16);
    expect(dmabufPagePoolShrink(k, 2)).toBe(2);
    expect(p0.count).toBe(1);
    dmabufPagePoolDestroy(p0);
    dmabufPagePoolDestroy(p4);
    expect(dmabufPagePools(k)).not.toContain(p0);
    expect(m.pageAlloc.freePages).toBe(before);
  });

  it("Android's system heap recycles a released buffer's pages through its pools, zeroed", async () => {
    const { k } = boot("6.12", { CONFIG_ANDROID: true });
    const heap = dmaHeapFind(k, "system") as DmaHeap;
    expect(heap.ops.getPoolSize!(heap)).toBe(0);
    const { dmaHeapBufferAlloc } = await import("../src/index");
    const { dmaBufPut } = await import("@dmasim/dma-buf");
    const buf = await dmaHeapBufferAlloc(heap, 64 * 1024, 2);
    dmaBufPut(buf);
    expect(heap.ops.getPoolSize!(heap)).toBe(64 * 1024);
    // mainline has no pool: the pages go back to the page allocator
    const main = boot("6.12");
    const h2 = dmaHeapFind(main.k, "system")!;
    const free = main.m.pageAlloc.freePages;
    dmaBufPut(await dmaHeapBufferAlloc(h2, 64 * 1024, 2));
    expect(main.m.pageAlloc.freePages).toBe(free);
  });
});
