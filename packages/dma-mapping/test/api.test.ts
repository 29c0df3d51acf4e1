// The rest of mapping.c: masks, limits, dma_need_sync and dma_skip_sync, the BUG on a bad
// direction, resources; and coherent allocations (alloc, free, mmap, get_sgtable).
import { describe, expect, it } from "vitest";
import { KernelBug, PAGE_SIZE, VM_READ, VM_SHARED, VM_WRITE, Vma } from "@dmasim/kernel";
import {
  DMA_BIT_MASK,
  GFP_KERNEL,
  IOMMU_MMIO,
  addDevice,
  allocPages,
  cpuRead,
  cpuWrite,
  deviceRead,
  deviceWrite,
  findVmArea,
  isVmallocAddr,
  pageAddress,
  pageToPhys,
  userRead,
} from "@dmasim/hardware";
import {
  CONFIG_DMA_API_DEBUG,
  DMA_ATTR_NO_KERNEL_MAPPING,
  DMA_ATTR_WRITE_COMBINE,
  DMA_BIDIRECTIONAL,
  DMA_FROM_DEVICE,
  DMA_MAPPING_ERROR,
  DMA_NONE,
  DMA_TO_DEVICE,
  SIZE_MAX,
  dmaAddressingLimited,
  dmaAllocAttrs,
  dmaAllocCoherent,
  dmaCoerceMaskAndCoherent,
  dmaDebugEntries,
  dmaFreeAttrs,
  dmaFreeCoherent,
  dmaGetMask,
  dmaGetMaxSegSize,
  dmaGetRequiredMask,
  dmaGetSegBoundary,
  dmaGetSgtable,
  dmaMapPage,
  dmaMapResource,
  dmaMappingError,
  dmaMaxMappingSize,
  dmaMmapCoherent,
  dmaNeedSync,
  dmaPgprot,
  dmaSetCoherentMask,
  dmaSetMask,
  dmaSetMaskAndCoherent,
  dmaSetMaxSegSize,
  dmaSetSegBoundary,
  dmaSyncSingleForCpu,
  dmaSyncSingleRangeForDevice,
  dmaUnmapPage,
  dmaUnmapResource,
} from "../src/index";
import { boot, bytes, codes, ops } from "./helpers";

describe("argument checks", () => {
  it("an invalid direction is a BUG", () => {
    const { k, m } = boot("x86-64");
    const dev = addDevice(m, { name: "dev", dmaMask: 64 });
    const page = allocPages(m, 0, GFP_KERNEL)!;
    expect(() => dmaMapPage(dev, page, 0, 64, DMA_NONE)).toThrow(KernelBug);
    expect(codes(k)).toEqual([["bug", "kernel/dma/mapping.c:dma_map_page_attrs"]]);
  });
});

describe("masks and limits", () => {
  it("dma_set_mask: -EIO below what dma-direct can serve; anything behind an IOMMU", () => {
    const { m } = boot("x86-64"); // ZONE_DMA below 16 MiB
    const dev = addDevice(m, { name: "isa", dmaMask: 32 });
    dmaSetMask(dev, DMA_BIT_MASK(24));
    expect(dmaGetMask(dev)).toBe(0xff_ffff);
    expect(() => dmaSetMask(dev, DMA_BIT_MASK(20))).toThrow(
      expect.objectContaining({ code: "EIO" }),
    );
    expect(dmaGetMask(dev)).toBe(0xff_ffff);
    const arm = boot("arm64-soc").m; // ZONE_DMA covers all RAM below 4 GiB
    const d2 = addDevice(arm, { name: "d2", dmaMask: 32 });
    expect(() => dmaSetMask(d2, DMA_BIT_MASK(24))).toThrow(/EIO|not supported/);
    const d3 = addDevice(arm, { name: "d3", dmaMask: 32, iommu: "dma" });
    dmaSetMask(d3, DMA_BIT_MASK(24));
    expect(d3.dmaMaskBits).toBe(24);
  });

  it("set both masks, coerce, coherent mask alone; segment limits", () => {
    const { m } = boot("x86-64");
    const dev = addDevice(m, { name: "dev", dmaMask: 32 });
    dmaSetMaskAndCoherent(dev, DMA_BIT_MASK(64));
    expect([dev.dmaMask, dev.coherentDmaMask]).toEqual([DMA_BIT_MASK(64), DMA_BIT_MASK(64)]);
    dmaSetCoherentMask(dev, DMA_BIT_MASK(32));
    expect(dev.coherentDmaMask).toBe(DMA_BIT_MASK(32));
    dmaCoerceMaskAndCoherent(dev, DMA_BIT_MASK(40));
    expect([dev.dmaMaskBits, dev.coherentDmaMaskBits]).toEqual([40, 40]);
    dmaSetMaxSegSize(dev, 1 << 20);
    dmaSetSegBoundary(dev, 0xffff);
    expect([dmaGetMaxSegSize(dev), dmaGetSegBoundary(dev)]).toEqual([1 << 20, 0xffff]);
  });

  it("dma_max_mapping_size, dma_addressing_limited, dma_get_required_mask", () => {
    const { m } = boot("arm64-soc"); // RAM up to 5 GiB
    const d32 = addDevice(m, { name: "d32", dmaMask: 32 });
    const d64 = addDevice(m, { name: "d64", dmaMask: 64 });
    const io = addDevice(m, { name: "io", dmaMask: 32, iommu: "dma" });
    const tbt = addDevice(m, { name: "tbt", dmaMask: 64, iommu: "dma", untrusted: true });
    expect(dmaGetRequiredMask(d64)).toBe(DMA_BIT_MASK(33));
    expect(dmaGetRequiredMask(io)).toBe(DMA_BIT_MASK(32));
    expect([d32, d64, io, tbt].map(dmaAddressingLimited)).toEqual([true, false, false, false]);
    expect([d32, d64, io, tbt].map(dmaMaxMappingSize)).toEqual([
      256 * 1024,
      SIZE_MAX,
      SIZE_MAX,
      256 * 1024,
    ]);
    const forced = boot("x86-64", { swiotlbForce: true }).m;
    expect(dmaMaxMappingSize(addDevice(forced, { name: "f", dmaMask: 64 }))).toBe(256 * 1024);
  });
});

describe("dma_need_sync and dma_skip_sync (6.10)", () => {
  it("dma_need_sync: non-coherent, or bounced", () => {
    const { m } = boot("arm64-soc");
    const nc = addDevice(m, { name: "nc", coherent: false, dmaMask: 64 });
    const co = addDevice(m, { name: "co", coherent: true, dmaMask: 64 });
    const old = addDevice(m, { name: "old", coherent: true, dmaMask: 32 });
    const page = allocPages(m, 0, GFP_KERNEL)!;
    const a = dmaMapPage(nc, page, 0, 4096, DMA_TO_DEVICE);
    const b = dmaMapPage(co, page, 0, 4096, DMA_TO_DEVICE);
    const c = dmaMapPage(old, page, 0, 4096, DMA_TO_DEVICE);
    expect([dmaNeedSync(nc, a), dmaNeedSync(co, b), dmaNeedSync(old, c)]).toEqual([
      true,
      false,
      true,
    ]);
  });

  it("with DMA-API debug off, a coherent device's syncs return at once until swiotlb is used", () => {
    for (const version of ["6.6", "latest"]) {
      const { m } = boot("arm64-soc", {}, { version, options: { [CONFIG_DMA_API_DEBUG]: false } });
      const dev = addDevice(m, { name: "co", coherent: true, dmaMask: 32 });
      const call = () => dmaSyncSingleForCpu(dev, 0x1000, 64, DMA_NONE);
      if (version === "6.6") {
        expect(call).toThrow(KernelBug); // syncs always run (and BUG on the bad direction)
        continue;
      }
      expect(call).not.toThrow(); // skipped entirely
      const high = allocPages(m, 0, GFP_KERNEL)!; // above 4 GiB: the map bounces
      const a = dmaMapPage(dev, high, 0, 64, DMA_FROM_DEVICE);
      expect(dmaMappingError(dev, a)).toBe(false);
      expect(call).toThrow(KernelBug); // dma_skip_sync was cleared by the bounce
    }
  });
});

describe("partial syncs", () => {
  it("dma_sync_single_range_for_device cleans only the range", () => {
    const { k, m } = boot("arm64-soc");
    const dev = addDevice(m, { name: "dev", coherent: false, dmaMask: 64 });
    const page = allocPages(m, 0, GFP_KERNEL)!;
    const a = dmaMapPage(dev, page, 0, PAGE_SIZE, DMA_TO_DEVICE);
    expect(dmaMappingError(dev, a)).toBe(false);
    cpuWrite(m, pageAddress(m, page), bytes(256, 0x11)); // (a driver bug, fixed by the sync)
    const t = k.events.length;
    dmaSyncSingleRangeForDevice(dev, a, 128, 64, DMA_TO_DEVICE);
    const ev = k.events.slice(t).find((e) => e.name === "dcache_clean_poc")!;
    expect((ev.args!["end"] as number) - (ev.args!["start"] as number)).toBe(64);
    expect(deviceRead(dev, a + 128, 64)).toEqual(bytes(64, 0x11));
    expect(deviceRead(dev, a, 64)).toEqual(bytes(64, 0)); // not synced: stale
    expect(codes(k)).toEqual([["stale-read", "stale-read"]]);
  });
});

describe("resources", () => {
  it("direct: the physical address, no maintenance; beyond the mask: an error", () => {
    const { k, m } = boot("arm64-soc");
    const dev = addDevice(m, { name: "dev", coherent: false, dmaMask: 32 });
    const t = k.events.length;
    const a = dmaMapResource(dev, 0x4000_0000, 4096, DMA_BIDIRECTIONAL);
    expect(a).toBe(0x4000_0000);
    expect(ops(k, t)).toEqual([]);
    expect(dmaDebugEntries(dev).map((e) => e.type)).toEqual(["resource"]);
    dmaUnmapResource(dev, a, 4096, DMA_BIDIRECTIONAL);
    expect(codes(k)).toEqual([["dma-api", "unchecked-map-error"]]);
    expect(dmaMapResource(dev, 2 ** 33, 4096, DMA_BIDIRECTIONAL)).toBe(DMA_MAPPING_ERROR);
    expect(codes(k).at(-1)).toEqual(["warn", "kernel/dma/direct.c:dma_direct_map_resource"]);
  });

  it("IOMMU: an IOVA mapped IOMMU_MMIO", () => {
    const { m } = boot("arm64-soc");
    const dev = addDevice(m, { name: "dev", coherent: false, dmaMask: 32, iommu: "dma" });
    const a = dmaMapResource(dev, 0x4000_0000, 4096, DMA_TO_DEVICE);
    expect(dmaMappingError(dev, a)).toBe(false);
    const pte = dev.domain!.ptes.get(a / PAGE_SIZE)!;
    expect(pte.prot & IOMMU_MMIO).toBe(IOMMU_MMIO);
    dmaUnmapResource(dev, a, 4096, DMA_TO_DEVICE);
    expect(dev.domain!.mappedPages).toBe(0);
  });
});

describe("coherent allocations", () => {
  it("non-coherent arm64: prep (clean), a write-combine vmap, zeroed; no syncs needed", () => {
    for (const version of ["5.15", "latest"]) {
      const { k, m } = boot("arm64-soc", {}, { version });
      const dev = addDevice(m, { name: "dsp", coherent: false, dmaMask: 32 });
      const t = k.events.length;
      const c = dmaAllocCoherent(dev, 2 * PAGE_SIZE, GFP_KERNEL)!;
      expect(ops(k, t)).toEqual([
        "arch_dma_prep_coherent(DMA_BIDIRECTIONAL)",
        version === "latest" ? "dcache_clean_poc" : "dcache_clean_inval_poc",
      ]);
      expect(isVmallocAddr(c.cpuAddr)).toBe(true);
      expect(findVmArea(m, c.cpuAddr)!.prot).toBe("writecombine");
      expect(c.dmaHandle + 2 * PAGE_SIZE - 1).toBeLessThanOrEqual(DMA_BIT_MASK(32));
      expect(cpuRead(m, c.cpuAddr, 16)).toEqual(bytes(16, 0));
      cpuWrite(m, c.cpuAddr, bytes(64, 0x42));
      expect(deviceRead(dev, c.dmaHandle, 64)).toEqual(bytes(64, 0x42));
      deviceWrite(dev, c.dmaHandle + 64, bytes(64, 0x43));
      expect(cpuRead(m, c.cpuAddr + 64, 64)).toEqual(bytes(64, 0x43));
      expect(codes(k)).toEqual([]);
      dmaFreeCoherent(dev, 2 * PAGE_SIZE, c.cpuAddr, c.dmaHandle);
      expect(findVmArea(m, c.cpuAddr)).toBeUndefined();
      expect(dmaDebugEntries(dev)).toEqual([]);
    }
  });

  it("a coherent device gets the cacheable linear map", () => {
    const { k, m } = boot("arm64-soc");
    const dev = addDevice(m, { name: "gpu", coherent: true, dmaMask: 64 });
    const t = k.events.length;
    const c = dmaAllocCoherent(dev, PAGE_SIZE, GFP_KERNEL)!;
    expect(ops(k, t)).toEqual([]);
    expect(isVmallocAddr(c.cpuAddr)).toBe(false);
    expect(dmaPgprot(dev, 0)).toBe("cacheable");
    cpuWrite(m, c.cpuAddr, bytes(64, 0x42));
    expect(deviceRead(dev, c.dmaHandle, 64)).toEqual(bytes(64, 0x42)); // snooped
    dmaFreeCoherent(dev, PAGE_SIZE, c.cpuAddr, c.dmaHandle);
  });

  it("x86: a 32-bit coherent mask allocates below 4 GiB (ZONE_DMA32)", () => {
    const { m } = boot("x86-64");
    const dev = addDevice(m, { name: "old", dmaMask: 32 });
    const c = dmaAllocCoherent(dev, PAGE_SIZE, GFP_KERNEL)!;
    expect(c.dmaHandle).toBeLessThan(2 ** 32);
    expect(c.dmaHandle).toBeGreaterThanOrEqual(16 * 1024 * 1024);
  });

  it("memory types: DMA_ATTR_WRITE_COMBINE, pgprot_dmacoherent per architecture", () => {
    const arm = addDevice(boot("arm64-soc").m, { name: "a", coherent: false });
    const rv = addDevice(boot("arm64-soc", { arch: "riscv" }).m, { name: "r", coherent: false });
    expect([dmaPgprot(arm, 0), dmaPgprot(arm, DMA_ATTR_WRITE_COMBINE)]).toEqual([
      "writecombine",
      "writecombine",
    ]);
    expect([dmaPgprot(rv, 0), dmaPgprot(rv, DMA_ATTR_WRITE_COMBINE)]).toEqual([
      "uncached",
      "uncached",
    ]);
  });

  it("DMA_ATTR_NO_KERNEL_MAPPING: a cookie, the lines cleaned, no vmap", () => {
    const { k, m } = boot("arm64-soc");
    const dev = addDevice(m, { name: "vpu", coherent: false, dmaMask: 32 });
    const c = dmaAllocAttrs(dev, PAGE_SIZE, GFP_KERNEL, DMA_ATTR_NO_KERNEL_MAPPING)!;
    expect(isVmallocAddr(c.cpuAddr)).toBe(false);
    expect(m.vmalloc.areas).toHaveLength(0);
    dmaFreeAttrs(dev, PAGE_SIZE, c.cpuAddr, c.dmaHandle, DMA_ATTR_NO_KERNEL_MAPPING);
    expect(codes(k)).toEqual([]);
  });

  it("behind an IOMMU: an IOVA below the coherent mask, mapped read-write, unmapped at free", () => {
    const { m } = boot("arm64-soc");
    const dev = addDevice(m, { name: "gpu", coherent: false, dmaMask: 32, iommu: "dma" });
    const c = dmaAllocCoherent(dev, PAGE_SIZE, GFP_KERNEL)!;
    expect(c.dmaHandle).toBe(2 ** 32 - PAGE_SIZE);
    deviceWrite(dev, c.dmaHandle, bytes(8, 7));
    expect(cpuRead(m, c.cpuAddr, 8)).toEqual(bytes(8, 7));
    dmaFreeCoherent(dev, PAGE_SIZE, c.cpuAddr, c.dmaHandle);
    expect(dev.domain!.mappedPages).toBe(0);
  });

  it("failure: null (an order above MAX_PAGE_ORDER WARNs)", () => {
    const { k, m } = boot("arm64-soc");
    const dev = addDevice(m, { name: "dev", coherent: false, dmaMask: 32 });
    expect(dmaAllocCoherent(dev, 8 * 1024 * 1024, GFP_KERNEL)).toBeNull();
    expect(codes(k).map((c) => c[0])).toEqual(["warn"]);
  });

  it("free with interrupts disabled WARNs; a null CPU address does nothing", () => {
    const { k, m } = boot("x86-64");
    const dev = addDevice(m, { name: "dev", dmaMask: 64 });
    const c = dmaAllocCoherent(dev, PAGE_SIZE, GFP_KERNEL)!;
    dmaFreeCoherent(dev, PAGE_SIZE, 0, c.dmaHandle);
    expect(dmaDebugEntries(dev)).toHaveLength(1);
    k.sched.current.irqsDisabled = true;
    dmaFreeCoherent(dev, PAGE_SIZE, c.cpuAddr, c.dmaHandle);
    k.sched.current.irqsDisabled = false;
    expect(codes(k)).toEqual([["warn", "kernel/dma/mapping.c:dma_free_attrs"]]);
  });

  it("dma_mmap_coherent: a user mapping with the allocation's memory type; -ENXIO beyond it", async () => {
    const { k, m } = boot("arm64-soc");
    const dev = addDevice(m, { name: "dsp", coherent: false, dmaMask: 32 });
    const c = dmaAllocCoherent(dev, 2 * PAGE_SIZE, GFP_KERNEL)!;
    cpuWrite(m, c.cpuAddr + PAGE_SIZE, bytes(8, 9));
    const proc = k.vfs.createProcess("app");
    const start = 0x7000_0000_0000;
    const vma = new Vma(proc.mm, start, start + PAGE_SIZE, 1, VM_READ | VM_WRITE | VM_SHARED, null);
    proc.mm.vmas.push(vma);
    dmaMmapCoherent(dev, vma, c.cpuAddr, c.dmaHandle, 2 * PAGE_SIZE);
    expect(vma.pageProt).toBe("writecombine");
    expect(await userRead(m, proc, start, 8)).toEqual(bytes(8, 9));
    const big = new Vma(proc.mm, start, start + 3 * PAGE_SIZE, 0, VM_READ, null);
    expect(() => dmaMmapCoherent(dev, big, c.cpuAddr, c.dmaHandle, 2 * PAGE_SIZE)).toThrow(
      expect.objectContaining({ code: "ENXIO" }),
    );
  });

  it("dma_get_sgtable: one entry covering the allocation", () => {
    const { m } = boot("arm64-soc");
    const dev = addDevice(m, { name: "dsp", coherent: false, dmaMask: 32 });
    const c = dmaAllocCoherent(dev, 5000, GFP_KERNEL)!;
    const sgt = dmaGetSgtable(dev, c.cpuAddr, c.dmaHandle, 5000);
    expect(sgt.origNents).toBe(1);
    expect(sgt.sgl[0]!.length).toBe(2 * PAGE_SIZE);
    expect(pageToPhys(sgt.sgl[0]!.page!)).toBe(c.dmaHandle);
    void pageAddress;
  });
});

describe("unmap of a mapping in the other direction of the table", () => {
  it("dma_unmap_page of a FROM_DEVICE mapping invalidates once", () => {
    const { k, m } = boot("arm64-soc");
    const dev = addDevice(m, { name: "dev", coherent: false, dmaMask: 64 });
    const page = allocPages(m, 0, GFP_KERNEL)!;
    const a = dmaMapPage(dev, page, 0, 128, DMA_FROM_DEVICE);
    expect(dmaMappingError(dev, a)).toBe(false);
    const t = k.events.length;
    dmaUnmapPage(dev, a, 128, DMA_FROM_DEVICE);
    expect(ops(k, t)).toEqual(["arch_sync_dma_for_cpu(DMA_FROM_DEVICE)", "dcache_inval_poc"]);
  });
});
