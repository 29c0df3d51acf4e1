// Issue 14 items 8 and 11: every number the types allow gets the kernel's answer (an errno, a
// WARN, a BUG, NULL or DMA_MAPPING_ERROR), never a TypeError or RangeError; sg entries freed by
// sg_free_table() are a use-after-free when touched again.
import { describe, expect, it } from "vitest";
import { KernelBug, PAGE_SIZE, SIZE_MAX, isKernelError } from "@dmasim/kernel";
import { GFP_KERNEL, __GFP_NOWARN, addDevice, allocPages, pageAddress } from "@dmasim/hardware";
import {
  DMA_BIDIRECTIONAL,
  DMA_FROM_DEVICE,
  DMA_MAPPING_ERROR,
  DMA_TO_DEVICE,
  dmaAllocCoherent,
  dmaFreeCoherent,
  dmaGetMask,
  dmaGetSgtable,
  dmaMapPage,
  dmaMapSg,
  dmaMapSgtable,
  dmaMapSingle,
  dmaSetMask,
  dmaSyncSingleForCpu,
  dmaUnmapPage,
  sgAllocTable,
  sgAllocTableFromPages,
  sgDmaAddress,
  sgFreeTable,
  sgInitTable,
  sgSetPage,
} from "../src/index";
import { boot, codes } from "./helpers";

const errno = (f: () => unknown): string => {
  try {
    f();
  } catch (e) {
    if (isKernelError(e)) {
      return e.code;
    }
    if (e instanceof KernelBug) {
      return `BUG ${e.site}`;
    }
    throw e;
  }
  return "ok";
};

describe("dma_alloc_attrs(): sizes (kernel/dma/direct.c, mm/page_alloc.c __alloc_pages)", () => {
  it.each([
    ["-1 (SIZE_MAX: PAGE_ALIGN wraps to 0, get_order(0) is 52)", -1],
    ["0 (get_order(0) is 52)", 0],
    ["SIZE_MAX", SIZE_MAX],
    ["1 TiB (more than RAM: order 28)", 2 ** 40],
    ["2^60", 2 ** 60],
  ])("%s: the page allocator's WARN_ON_ONCE(order > MAX_PAGE_ORDER) and NULL", (_, size) => {
    const { k, m } = boot("arm64-soc");
    const dev = addDevice(m, { name: "dev", coherent: false, dmaMask: 32 });
    expect(dmaAllocCoherent(dev, size, GFP_KERNEL)).toBeNull();
    expect(codes(k)).toEqual([["warn", "mm/page_alloc.c:__alloc_pages"]]);
  });

  it("__GFP_NOWARN: NULL without the WARN", () => {
    const { k, m } = boot("x86-64");
    const dev = addDevice(m, { name: "dev", dmaMask: 64 });
    expect(dmaAllocCoherent(dev, 2 ** 40, GFP_KERNEL | __GFP_NOWARN)).toBeNull();
    expect(codes(k)).toEqual([]);
  });

  it.each([NaN, Infinity, 0.5])(
    "%s: EINVAL naming the parameter (no C caller can pass it)",
    (v) => {
      const { k, m } = boot("arm64-soc");
      const dev = addDevice(m, { name: "dev", dmaMask: 32 });
      expect(() => dmaAllocCoherent(dev, v, GFP_KERNEL)).toThrow(
        /dma_alloc_attrs: size .* integer/,
      );
      expect(codes(k)).toEqual([]);
    },
  );

  it("a size that is not page-aligned is rounded up (one page for 1 byte)", () => {
    const { m } = boot("arm64-soc");
    const dev = addDevice(m, { name: "dev", dmaMask: 32 });
    const c = dmaAllocCoherent(dev, 1, GFP_KERNEL)!;
    const sgt = dmaGetSgtable(dev, c.cpuAddr, c.dmaHandle, 1);
    expect(sgt.sgl[0]!.length).toBe(PAGE_SIZE);
    dmaFreeCoherent(dev, 1, c.cpuAddr, c.dmaHandle);
  });
});

describe("streaming maps: sizes, offsets and addresses as the kernel's unsigned arithmetic has them", () => {
  it("size -1 (SIZE_MAX) on a non-coherent arm64 device: the clean faults past the linear map, an oops", () => {
    const { k, m } = boot("arm64-soc");
    const dev = addDevice(m, { name: "dev", coherent: false, dmaMask: 64 });
    const p = allocPages(m, 0, GFP_KERNEL)!;
    expect(() => dmaMapPage(dev, p, 0, -1, DMA_TO_DEVICE)).toThrow(
      /Unable to handle kernel paging request/,
    );
    expect(codes(k)).toEqual([["bug", "arch/arm64/mm/fault.c:die_kernel_fault"]]);
  });

  it("size -1 on a coherent x86 device: no cache maintenance, the kernel hands out the address", () => {
    const { k, m } = boot("x86-64");
    const dev = addDevice(m, { name: "dev", dmaMask: 64 });
    const p = allocPages(m, 0, GFP_KERNEL)!;
    const dma = dmaMapPage(dev, p, 0, -1, DMA_TO_DEVICE);
    expect(dma).not.toBe(DMA_MAPPING_ERROR);
    expect(codes(k)).toEqual([]);
  });

  it("a 32-bit device and a size past its mask with no swiotlb: dev_WARN_ONCE overflow, DMA_MAPPING_ERROR", () => {
    const { k, m } = boot("arm64-soc", { swiotlbSize: 0 });
    const dev = addDevice(m, { name: "dev", coherent: false, dmaMask: 32 });
    const p = allocPages(m, 0, GFP_KERNEL)!;
    expect(dmaMapPage(dev, p, 0, 2 ** 40, DMA_TO_DEVICE)).toBe(DMA_MAPPING_ERROR);
    expect(codes(k)).toEqual([["warn", "kernel/dma/direct.h:dma_direct_map_page"]]);
  });

  it("a bounce of 0 bytes hits the slot search's BUG_ON(!nslots) (swiotlb_search_pool_area)", () => {
    const { k, m } = boot("arm64-soc", { swiotlbForce: true });
    const dev = addDevice(m, { name: "dev", coherent: false, dmaMask: 64 });
    const p = allocPages(m, 0, GFP_KERNEL)!;
    expect(errno(() => dmaMapSingle(dev, pageAddress(m, p), 0, DMA_TO_DEVICE))).toBe(
      "BUG kernel/dma/swiotlb.c:swiotlb_search_pool_area",
    );
    expect(codes(k)).toEqual([["bug", "kernel/dma/swiotlb.c:swiotlb_search_pool_area"]]);
  });

  it("a map of 0 bytes without bouncing maps, and unmaps, as dma-direct does", () => {
    const { k, m } = boot("arm64-soc");
    const dev = addDevice(m, { name: "dev", coherent: false, dmaMask: 64 });
    const p = allocPages(m, 0, GFP_KERNEL)!;
    const dma = dmaMapSingle(dev, pageAddress(m, p), 0, DMA_BIDIRECTIONAL);
    expect(dma).not.toBe(DMA_MAPPING_ERROR);
    dmaUnmapPage(dev, dma, 0, DMA_BIDIRECTIONAL);
    expect(codes(k)).toEqual([["dma-api", "unchecked-map-error"]]);
  });

  it("a negative offset reaches back into the previous page (unsigned long wrap-around)", () => {
    const { m } = boot("x86-64");
    const dev = addDevice(m, { name: "dev", dmaMask: 64 });
    const p = allocPages(m, 1, GFP_KERNEL)!;
    const next = { pfn: p.pfn + 1 } as typeof p;
    expect(dmaMapPage(dev, next, -64, 64, DMA_TO_DEVICE)).toBe((p.pfn + 1) * PAGE_SIZE - 64);
  });

  it.each([
    ["dma_map_page size", NaN],
    ["dma_map_page size", 1.5],
  ])("%s %s: EINVAL", (_, v) => {
    const { m } = boot("arm64-soc");
    const dev = addDevice(m, { name: "dev", dmaMask: 64 });
    const p = allocPages(m, 0, GFP_KERNEL)!;
    expect(errno(() => dmaMapPage(dev, p, 0, v, DMA_TO_DEVICE))).toBe("EINVAL");
    expect(errno(() => dmaMapPage(dev, p, v, 64, DMA_TO_DEVICE))).toBe("EINVAL");
    expect(errno(() => dmaSyncSingleForCpu(dev, 4096, v, DMA_FROM_DEVICE))).toBe("EINVAL");
  });

  it("an invalid direction, even NaN, is BUG_ON(!valid_dma_direction(dir))", () => {
    const { m } = boot("arm64-soc");
    const dev = addDevice(m, { name: "dev", dmaMask: 64 });
    const p = allocPages(m, 0, GFP_KERNEL)!;
    expect(errno(() => dmaMapPage(dev, p, 0, 64, NaN))).toBe(
      "BUG kernel/dma/mapping.c:dma_map_page_attrs",
    );
  });

  it("dma_set_mask(-1) is DMA_BIT_MASK(64) (the u64 conversion); NaN is EINVAL", () => {
    const { m } = boot("x86-64");
    const dev = addDevice(m, { name: "dev", dmaMask: 32 });
    dmaSetMask(dev, -1);
    expect(dmaGetMask(dev)).toBe(SIZE_MAX);
    expect(errno(() => dmaSetMask(dev, NaN))).toBe("EINVAL");
    expect(errno(() => dmaSetMask(dev, 0))).toBe("EIO");
  });

  it("dma_map_sg with nents NaN: EINVAL; with 0 or negative: WARN_ON_ONCE and 0 (__dma_map_sg_attrs)", () => {
    const { k, m } = boot("arm64-soc");
    const dev = addDevice(m, { name: "dev", dmaMask: 64 });
    const p = allocPages(m, 0, GFP_KERNEL)!;
    const sgt = sgAllocTableFromPages(k, [p], 0, PAGE_SIZE);
    expect(errno(() => dmaMapSg(dev, sgt.sgl, NaN, DMA_TO_DEVICE))).toBe("EINVAL");
    expect(dmaMapSg(dev, sgt.sgl, -1, DMA_TO_DEVICE)).toBe(0);
    expect(codes(k)).toEqual([["warn", "kernel/dma/mapping.c:__dma_map_sg_attrs"]]);
  });
});

describe("sg tables: counts (lib/scatterlist.c __sg_alloc_table, sg_free_table)", () => {
  it("sg_alloc_table: nents is an unsigned int: 2^32 wraps to 0 (EINVAL), -1 is UINT_MAX entries (ENOMEM)", () => {
    const { k } = boot("arm64-soc");
    expect(errno(() => sgAllocTable(k, 2 ** 32))).toBe("EINVAL");
    expect(errno(() => sgAllocTable(k, 0))).toBe("EINVAL");
    expect(errno(() => sgAllocTable(k, -1))).toBe("ENOMEM");
    expect(errno(() => sgAllocTable(k, 0.5))).toBe("EINVAL");
    expect(errno(() => sgInitTable(Infinity))).toBe("EINVAL");
    expect(errno(() => sgInitTable(2 ** 21))).toBe("ENOMEM"); // dmasim's bound on host memory
  });

  it("sg_free_table twice: the second returns at once (table->sgl is NULL), no finding", () => {
    const { k, m } = boot("arm64-soc");
    const p = allocPages(m, 0, GFP_KERNEL)!;
    const sgt = sgAllocTableFromPages(k, [p], 0, PAGE_SIZE);
    sgFreeTable(sgt);
    sgFreeTable(sgt);
    expect(codes(k)).toEqual([]);
  });

  it("an entry kept after sg_free_table and read: use-after-free (KASAN), once per entry", () => {
    const { k, m } = boot("arm64-soc");
    const dev = addDevice(m, { name: "dev", dmaMask: 64 });
    const p = allocPages(m, 0, GFP_KERNEL)!;
    const sgt = sgAllocTableFromPages(k, [p], 0, PAGE_SIZE);
    dmaMapSgtable(dev, sgt, DMA_TO_DEVICE);
    const sg = sgt.sgl[0]!;
    const dma = sgDmaAddress(sg);
    sgFreeTable(sgt); // the driver forgot the unmap and freed the table
    expect(sgDmaAddress(sg)).toBe(dma); // the stale contents
    sgDmaAddress(sg);
    expect(codes(k)).toEqual([["use-after-free", "sg-entry-freed"]]);
    expect(k.findings[0]!.summary).toMatch(/KASAN: slab-use-after-free in sg_dma_address/);
  });

  it("a list of freed entries handed to dma_map_sg: use-after-free", () => {
    const { k, m } = boot("arm64-soc");
    const dev = addDevice(m, { name: "dev", dmaMask: 64 });
    const p = allocPages(m, 0, GFP_KERNEL)!;
    const sgt = sgAllocTable(k, 1);
    sgSetPage(sgt.sgl[0]!, p, PAGE_SIZE, 0);
    const list = sgt.sgl;
    sgFreeTable(sgt);
    dmaMapSg(dev, list, 1, DMA_TO_DEVICE);
    expect(codes(k)[0]).toEqual(["use-after-free", "sg-entry-freed"]);
  });

  it("a freed table maps nothing: __dma_map_sg_attrs WARNs once, dma_map_sgtable fails with EIO", () => {
    const { k, m } = boot("arm64-soc");
    const dev = addDevice(m, { name: "dev", dmaMask: 64 });
    const p = allocPages(m, 0, GFP_KERNEL)!;
    const sgt = sgAllocTableFromPages(k, [p], 0, PAGE_SIZE);
    sgFreeTable(sgt);
    expect(errno(() => dmaMapSgtable(dev, sgt, DMA_TO_DEVICE))).toBe("EIO");
    expect(codes(k)).toEqual([["warn", "kernel/dma/mapping.c:__dma_map_sg_attrs"]]);
  });
});
