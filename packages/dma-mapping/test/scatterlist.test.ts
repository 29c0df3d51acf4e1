// Scatterlists and sg tables: building from pages, iteration, nents against orig_nents, DMA
// address and length per entry, IOMMU merging, SG_DMA_SWIOTLB, and the sgtable error codes.
import { describe, expect, it } from "vitest";
import { PAGE_SIZE } from "@dmasim/kernel";
import {
  GFP_KERNEL,
  addDevice,
  allocPages,
  cpuRead,
  cpuWrite,
  deviceRead,
  deviceWrite,
  pageAddress,
  pageToPhys,
  pfnToPage,
  type Machine,
  type Page,
} from "@dmasim/hardware";
import type { SgTable } from "../src/index";
import {
  DMA_BIDIRECTIONAL,
  DMA_FROM_DEVICE,
  DMA_TO_DEVICE,
  SG_DMA_SWIOTLB,
  dmaMapSg,
  dmaMapSgtable,
  dmaSyncSgtableForCpu,
  dmaSyncSgtableForDevice,
  dmaUnmapSgtable,
  forEachSg,
  forEachSgtableDmaSg,
  forEachSgtableSg,
  sgAllocTable,
  sgAllocTableFromPages,
  sgAllocTableFromPagesSegment,
  sgDmaAddress,
  sgDmaIsSwiotlb,
  sgDmaLen,
  sgFreeTable,
  sgPage,
  sgPhys,
  sgSetPage,
  sgVirt,
} from "../src/index";
import { boot, bytes, codes } from "./helpers";

function contiguous(m: Machine, order: number): Page[] {
  const head = allocPages(m, order, GFP_KERNEL)!;
  return Array.from({ length: 1 << order }, (_, i) => pfnToPage(m, head.pfn + i));
}

function separate(m: Machine, n: number): Page[] {
  const out: Page[] = [];
  while (out.length < n) {
    const p = allocPages(m, 0, GFP_KERNEL)!;
    if (!out.some((q) => Math.abs(q.pfn - p.pfn) === 1)) {
      out.push(p);
    }
  }
  return out;
}

function table(m: Machine, pages: readonly Page[], len = PAGE_SIZE, offset = 0): SgTable {
  const sgt = sgAllocTable(m.kernel, pages.length);
  pages.forEach((p, i) => sgSetPage(sgt.sgl[i]!, p, len, offset));
  return sgt;
}

describe("building tables", () => {
  it("sg_alloc_table_from_pages merges physically contiguous pages", () => {
    const { k, m } = boot("x86-64");
    const pages = [...contiguous(m, 2), ...separate(m, 1)];
    const sgt = sgAllocTableFromPages(k, pages, 100, 5 * PAGE_SIZE - 200);
    expect([sgt.origNents, sgt.nents]).toEqual([2, 2]);
    expect(sgt.sgl.map((s) => [s.offset, s.length])).toEqual([
      [100, 4 * PAGE_SIZE - 100],
      [0, PAGE_SIZE - 100],
    ]);
    expect(sgPage(sgt.sgl[1]!)).toBe(pages[4]);
    expect(sgPhys(sgt.sgl[0]!)).toBe(pageToPhys(pages[0]!) + 100);
    expect(sgVirt(m, sgt.sgl[0]!)).toBe(pageAddress(m, pages[0]!) + 100);
    expect(sgt.sgl.map((s) => s.isLast)).toEqual([false, true]);
  });

  it("the _segment variant cuts runs at max_segment", () => {
    const { k, m } = boot("x86-64");
    const sgt = sgAllocTableFromPagesSegment(
      k,
      contiguous(m, 2),
      0,
      4 * PAGE_SIZE,
      2 * PAGE_SIZE + 100,
    );
    expect(sgt.sgl.map((s) => s.length)).toEqual([2 * PAGE_SIZE, 2 * PAGE_SIZE]);
  });

  it("errors: no entries, no pages, a max_segment below a page, a size that does not fit", () => {
    const { k, m } = boot("x86-64");
    const pages = separate(m, 2);
    expect(() => sgAllocTable(k, 0)).toThrow(expect.objectContaining({ code: "EINVAL" }));
    expect(() => sgAllocTableFromPages(k, [], 0, 1)).toThrow(/EINVAL|no pages/);
    expect(() => sgAllocTableFromPages(k, pages, 0, 3 * PAGE_SIZE)).toThrow(
      expect.objectContaining({ code: "EINVAL" }),
    );
    expect(() => sgAllocTableFromPagesSegment(k, pages, 0, PAGE_SIZE, 512)).toThrow(
      expect.objectContaining({ code: "EINVAL" }),
    );
    expect(codes(k)).toEqual([["warn", "lib/scatterlist.c:sg_alloc_append_table_from_pages"]]);
    expect(() => sgPage(sgAllocTable(k, 1).sgl[0]!)).toThrow(/no page/);
  });

  it("iterates CPU entries with orig_nents and DMA segments with nents; frees", () => {
    const { k, m } = boot("x86-64");
    const sgt = table(m, separate(m, 3));
    sgt.nents = 1;
    const cpu: number[] = [];
    const dma: number[] = [];
    forEachSgtableSg(sgt, (_s, i) => cpu.push(i));
    forEachSgtableDmaSg(sgt, (_s, i) => dma.push(i));
    forEachSg(sgt.sgl, 10, () => cpu.push(-1)); // never past the list
    expect(cpu).toEqual([0, 1, 2, -1, -1, -1]);
    expect(dma).toEqual([0]);
    sgFreeTable(sgt);
    expect([sgt.sgl.length, sgt.nents, sgt.origNents]).toEqual([0, 0, 0]);
    void k;
  });
});

describe("dma-direct sg mapping", () => {
  it("one DMA segment per entry, each bounced or not on its own; no SG_DMA_SWIOTLB", () => {
    const { m } = boot("arm64-soc");
    const dev = addDevice(m, { name: "dev", coherent: false, dmaMask: 32 });
    const low = allocPages(m, 0, GFP_KERNEL | 0x01)!; // __GFP_DMA: below 4 GiB
    const high = allocPages(m, 0, GFP_KERNEL)!;
    const sgt = table(m, [low, high]);
    dmaMapSgtable(dev, sgt, DMA_TO_DEVICE);
    expect([sgt.nents, sgt.origNents]).toEqual([2, 2]);
    expect(sgDmaAddress(sgt.sgl[0]!)).toBe(pageToPhys(low));
    const a1 = sgDmaAddress(sgt.sgl[1]!);
    expect(m.swiotlb!.start <= a1 && a1 < m.swiotlb!.end).toBe(true);
    expect(sgt.sgl.map(sgDmaLen)).toEqual([PAGE_SIZE, PAGE_SIZE]);
    expect(sgDmaIsSwiotlb(sgt.sgl[0]!)).toBe(false);
    dmaUnmapSgtable(dev, sgt, DMA_TO_DEVICE);
    expect(m.swiotlb!.used).toBe(0);
  });

  it("a failure mid-list unmaps what was mapped and is -EIO (dma_map_sg: 0)", () => {
    const { k, m } = boot("x86-64", { swiotlbForce: true, swiotlbSize: 64 * 1024 });
    const dev = addDevice(m, { name: "dev", dmaMask: 64 });
    const sgt = table(m, separate(m, 20)); // 80 KiB of bounces for a 64 KiB pool
    expect(() => dmaMapSgtable(dev, sgt, DMA_TO_DEVICE)).toThrow(
      expect.objectContaining({ code: "EIO", errno: 5 }),
    );
    expect(sgt.nents).toBe(20);
    expect(m.swiotlb!.used).toBe(0);
    expect(dmaMapSg(dev, sgt.sgl, 20, DMA_TO_DEVICE)).toBe(0);
    expect(codes(k)).toEqual([]);
  });
});

describe("dma-iommu sg mapping", () => {
  function iommuDev(m: Machine, spec: Record<string, unknown> = {}) {
    return addDevice(m, { name: "gpu", coherent: false, dmaMask: 32, iommu: "dma", ...spec });
  }

  it("scattered pages become one contiguous IOVA segment, top-down below the mask", () => {
    const { k, m } = boot("arm64-soc");
    const dev = iommuDev(m);
    const pages = separate(m, 4);
    pages.forEach((p, i) => cpuWrite(m, pageAddress(m, p), bytes(16, i + 1)));
    const sgt = table(m, pages);
    dmaMapSgtable(dev, sgt, DMA_TO_DEVICE);
    expect([sgt.nents, sgt.origNents]).toEqual([1, 4]);
    expect(sgDmaAddress(sgt.sgl[0]!)).toBe(2 ** 32 - 4 * PAGE_SIZE);
    expect(sgDmaLen(sgt.sgl[0]!)).toBe(4 * PAGE_SIZE);
    for (let i = 0; i < 4; i++) {
      expect(deviceRead(dev, sgDmaAddress(sgt.sgl[0]!) + i * PAGE_SIZE, 16)).toEqual(
        bytes(16, i + 1),
      );
    }
    expect(sgt.sgl.slice(1).map(sgDmaLen)).toEqual([0, 0, 0]);
    dmaUnmapSgtable(dev, sgt, DMA_TO_DEVICE);
    expect(dev.domain!.mappedPages).toBe(0);
    expect(codes(k)).toEqual([]);
  });

  it("respects the maximum segment size and the segment boundary", () => {
    const { m } = boot("arm64-soc");
    const a = iommuDev(m, { maxSegmentSize: PAGE_SIZE });
    const sgt = table(m, separate(m, 3));
    dmaMapSgtable(a, sgt, DMA_TO_DEVICE);
    expect(sgt.nents).toBe(3);
    dmaUnmapSgtable(a, sgt, DMA_TO_DEVICE);

    const b = addDevice(m, {
      name: "b",
      coherent: false,
      dmaMask: 32,
      iommu: "dma",
      segmentBoundaryMask: 2 * PAGE_SIZE - 1,
    });
    const sgt2 = table(m, separate(m, 4));
    dmaMapSgtable(b, sgt2, DMA_TO_DEVICE);
    expect(sgt2.nents).toBe(2);
    expect(sgt2.sgl.slice(0, 2).map(sgDmaLen)).toEqual([2 * PAGE_SIZE, 2 * PAGE_SIZE]);
    dmaUnmapSgtable(b, sgt2, DMA_TO_DEVICE);
  });

  it("entries that do not start a granule are not merged into the previous segment", () => {
    const { m } = boot("arm64-soc");
    const dev = iommuDev(m);
    const sgt = table(m, separate(m, 3), 512, 256);
    dmaMapSgtable(dev, sgt, DMA_BIDIRECTIONAL);
    expect(sgt.nents).toBe(3);
    const addrs = sgt.sgl.map(sgDmaAddress);
    expect(addrs.map((a) => a % PAGE_SIZE)).toEqual([256, 256, 256]);
    expect(sgt.sgl.map(sgDmaLen)).toEqual([512, 512, 512]);
    dmaUnmapSgtable(dev, sgt, DMA_BIDIRECTIONAL);
    expect(dev.domain!.mappedPages).toBe(0);
  });

  it("IOVA space exhausted: -ENOMEM", () => {
    const { m } = boot("arm64-soc");
    const dev = iommuDev(m, { dmaMask: 20 }); // 1 MiB of IOVA space, minus page 0
    const sgt = table(m, contiguous(m, 8)); // 1 MiB
    expect(() => dmaMapSgtable(dev, sgt, DMA_TO_DEVICE)).toThrow(
      expect.objectContaining({ code: "ENOMEM" }),
    );
    expect(dev.domain!.mappedPages).toBe(0);
  });

  it("an untrusted device's list is bounced entry by entry, the first marked SG_DMA_SWIOTLB (6.5+)", () => {
    for (const version of ["6.1", "latest"]) {
      const { k, m } = boot("x86-64", {}, { version });
      const dev = addDevice(m, { name: "tbt", dmaMask: 64, iommu: "dma", untrusted: true });
      const pages = separate(m, 2);
      const sgt = table(m, pages, 512, 0);
      dmaMapSgtable(dev, sgt, DMA_FROM_DEVICE);
      expect([sgt.nents, sgt.origNents]).toEqual([2, 2]);
      expect(sgDmaIsSwiotlb(sgt.sgl[0]!)).toBe(version === "latest");
      expect(sgt.sgl[0]!.dmaFlags & SG_DMA_SWIOTLB).toBe(version === "latest" ? SG_DMA_SWIOTLB : 0);
      expect(m.swiotlb!.used).toBe(4); // one 4 KiB granule (two slots) per entry
      deviceWrite(dev, sgDmaAddress(sgt.sgl[1]!), bytes(512, 0x77));
      dmaSyncSgtableForCpu(dev, sgt, DMA_FROM_DEVICE); // per entry: copies the bounce back
      expect(cpuRead(m, pageAddress(m, pages[1]!), 512)).toEqual(bytes(512, 0x77));
      dmaSyncSgtableForDevice(dev, sgt, DMA_FROM_DEVICE);
      dmaUnmapSgtable(dev, sgt, DMA_FROM_DEVICE);
      expect(m.swiotlb!.used).toBe(0);
      expect(dev.domain!.mappedPages).toBe(0);
      expect(codes(k)).toEqual([]);
    }
  });

  it("kmalloc bouncing (arm64 6.5+): small entries of a non-coherent device go through swiotlb", () => {
    const { m } = boot("arm64-soc");
    const dev = iommuDev(m, { dmaMask: 40 });
    const small = table(m, separate(m, 2), 64, 0);
    dmaMapSgtable(dev, small, DMA_FROM_DEVICE);
    expect(sgDmaIsSwiotlb(small.sgl[0]!)).toBe(true);
    dmaUnmapSgtable(dev, small, DMA_FROM_DEVICE);
    const big = table(m, separate(m, 2));
    dmaMapSgtable(dev, big, DMA_FROM_DEVICE);
    expect(sgDmaIsSwiotlb(big.sgl[0]!)).toBe(false);
    expect(big.nents).toBe(1);
    dmaUnmapSgtable(dev, big, DMA_FROM_DEVICE);
    const toDev = table(m, separate(m, 2), 64, 0);
    dmaMapSgtable(dev, toDev, DMA_TO_DEVICE); // the device only reads: safe
    expect(sgDmaIsSwiotlb(toDev.sgl[0]!)).toBe(false);
    dmaUnmapSgtable(dev, toDev, DMA_TO_DEVICE);
    expect(m.swiotlb!.used).toBe(0);
  });
});
