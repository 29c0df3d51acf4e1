// Hazards of kernel-notes §8 reproduced through the DMA API, each with its fix: H1, H2, H4, H20,
// H21, H22, H23.
import { describe, expect, it } from "vitest";
import { PAGE_SIZE } from "@dmasim/kernel";
import {
  GFP_KERNEL,
  addDevice,
  allocPages,
  cacheEvict,
  cachePrefetch,
  cpuRead,
  cpuWrite,
  deviceRead,
  deviceWrite,
  pageAddress,
  type Machine,
  type Page,
} from "@dmasim/hardware";
import {
  DMA_ATTR_SKIP_CPU_SYNC,
  DMA_FROM_DEVICE,
  DMA_MAPPING_ERROR,
  DMA_TO_DEVICE,
  dmaDebugCheckLeaks,
  dmaMapPage,
  dmaMapPageAttrs,
  dmaMapSg,
  dmaMapSgtable,
  dmaMapSingle,
  dmaMappingError,
  dmaMaxMappingSize,
  dmaSyncSingleForCpu,
  dmaSyncSingleForDevice,
  dmaUnmapPage,
  dmaUnmapPageAttrs,
  dmaUnmapSg,
  dmaUnmapSgtable,
  iommuDmaFlushFq,
  sgAllocTable,
  sgDmaAddress,
  sgDmaLen,
  sgSetPage,
} from "../src/index";
import { boot, bytes, codes, exploreCache } from "./helpers";

const X = 0x11;
const Y = 0x22;

function page(m: Machine): { page: Page; va: number } {
  const p = allocPages(m, 0, GFP_KERNEL)!;
  return { page: p, va: pageAddress(m, p) };
}

describe("H1: stale cache line after a skipped invalidate", () => {
  function h1(fix: "none" | "sync" | "unmap" | "skip-unmap") {
    const { k, m } = boot("arm64-soc");
    const dev = addDevice(m, { name: "cam", coherent: false, dmaMask: 64 });
    const { page: p, va } = page(m);
    cpuWrite(m, va, bytes(64, X));
    cpuRead(m, va, 64); // line L valid with X
    const dma = dmaMapPage(dev, p, 0, 64, DMA_FROM_DEVICE); // arm64: clean only, L stays valid
    expect(dmaMappingError(dev, dma)).toBe(false);
    deviceWrite(dev, dma, bytes(64, Y));
    if (fix === "sync") {
      dmaSyncSingleForCpu(dev, dma, 64, DMA_FROM_DEVICE);
    } else if (fix === "unmap") {
      dmaUnmapPage(dev, dma, 64, DMA_FROM_DEVICE);
    } else if (fix === "skip-unmap") {
      dmaUnmapPageAttrs(dev, dma, 64, DMA_FROM_DEVICE, DMA_ATTR_SKIP_CPU_SYNC);
    }
    return { k, seen: cpuRead(m, va, 64) };
  }

  it("forgetting dma_sync_single_for_cpu: the CPU reads its old line", () => {
    const { k, seen } = h1("none");
    expect(seen).toEqual(bytes(64, X));
    expect(codes(k)).toEqual([["stale-read", "stale-read"]]);
  });

  it("unmapping with DMA_ATTR_SKIP_CPU_SYNC skips the invalidate too", () => {
    const { k, seen } = h1("skip-unmap");
    expect(seen).toEqual(bytes(64, X));
    expect(codes(k)).toEqual([["stale-read", "stale-read"]]);
  });

  it("fix: sync for the CPU (or unmap) before reading", () => {
    for (const fix of ["sync", "unmap"] as const) {
      const { k, seen } = h1(fix);
      expect(seen).toEqual(bytes(64, Y));
      expect(codes(k)).toEqual([]);
    }
  });
});

describe("H2: speculative refill during DMA; the post-DMA invalidate is what matters", () => {
  function h2(version: string, unmapAttrs: number) {
    const { k, m } = boot("arm64-soc", {}, { version });
    const dev = addDevice(m, { name: "cam", coherent: false, dmaMask: 64 });
    const { page: p, va } = page(m);
    cpuWrite(m, va, bytes(PAGE_SIZE, X));
    cacheEvict(m, va, PAGE_SIZE); // X is in memory
    const dma = dmaMapPage(dev, p, 0, PAGE_SIZE, DMA_FROM_DEVICE);
    expect(dmaMappingError(dev, dma)).toBe(false);
    cachePrefetch(m, va, PAGE_SIZE); // speculative load while the device owns the buffer
    deviceWrite(dev, dma, bytes(PAGE_SIZE, Y));
    dmaUnmapPageAttrs(dev, dma, PAGE_SIZE, DMA_FROM_DEVICE, unmapAttrs);
    return { k, seen: cpuRead(m, va, 64) };
  }

  it("5.15 invalidates before the DMA; without the invalidate after it the CPU reads X", () => {
    const { k, seen } = h2("5.15", DMA_ATTR_SKIP_CPU_SYNC);
    expect(seen).toEqual(bytes(64, X));
    expect(codes(k)).toEqual([["stale-read", "stale-read"]]);
  });

  it("fix: the for_cpu invalidate at unmap, on old and new kernels alike", () => {
    for (const v of ["5.15", "latest"]) {
      const { k, seen } = h2(v, 0);
      expect(seen).toEqual(bytes(64, Y));
      expect(codes(k)).toEqual([]);
    }
  });
});

describe("H2 under every eviction and speculative fill the cache may make", () => {
  function explore(version: string, unmapAttrs: number) {
    return exploreCache((policy) => {
      const { k, m } = boot("arm64-soc", { cachePolicy: { name: "explore" } }, { version, policy });
      const dev = addDevice(m, { name: "cam", coherent: false, dmaMask: 64 });
      const { page: p, va } = page(m);
      cpuWrite(m, va, bytes(128, X));
      const dma = dmaMapPage(dev, p, 0, 128, DMA_FROM_DEVICE);
      expect(dmaMappingError(dev, dma)).toBe(false);
      deviceWrite(dev, dma, bytes(128, Y));
      dmaUnmapPageAttrs(dev, dma, 128, DMA_FROM_DEVICE, unmapAttrs);
      cpuRead(m, va, 128);
      return k.findings;
    });
  }

  it("the DMA API used correctly is right in every run, on old and new arm64", () => {
    for (const version of ["5.15", "latest"]) {
      const runs = explore(version, 0);
      expect(runs.length).toBeGreaterThan(1); // the cache had choices to make
      expect(runs.filter((r) => r.kinds.length > 0)).toEqual([]);
    }
  });

  it("without the post-DMA invalidate some runs read a stale line", () => {
    const runs = explore("latest", DMA_ATTR_SKIP_CPU_SYNC);
    expect(runs[0]!.kinds).toEqual(["stale-read"]); // the clean left the line valid
    const v515 = explore("5.15", DMA_ATTR_SKIP_CPU_SYNC);
    expect(v515[0]!.kinds).toEqual([]); // the pre-DMA invalidate helps when nothing speculates…
    expect(v515.some((r) => r.kinds.includes("stale-read"))).toBe(true); // …but not always
  });
});

describe("H4: a buffer sharing a cache line with unrelated data", () => {
  function h4(version: string) {
    const { k, m } = boot("arm64-soc", {}, { version });
    const dev = addDevice(m, { name: "dev", coherent: false, dmaMask: 64 });
    const { page: p, va } = page(m);
    cpuWrite(m, va, bytes(64, X)); // B (0..31) and O (32..63) in one line
    const dma = dmaMapPage(dev, p, 0, 32, DMA_FROM_DEVICE);
    expect(dmaMappingError(dev, dma)).toBe(false);
    deviceWrite(dev, dma, bytes(32, Y));
    cpuWrite(m, va + 32, bytes(32, 0x33)); // the CPU updates O: the line is dirty with old B
    dmaUnmapPage(dev, dma, 32, DMA_FROM_DEVICE);
    return { k, m, dma, b: cpuRead(m, va, 32), o: cpuRead(m, va + 32, 32) };
  }

  it("6.1: the partial-line clean+invalidate writes old B over the device's data", () => {
    const { k, b, o } = h4("6.1");
    expect(b).toEqual(bytes(32, X));
    expect(o).toEqual(bytes(32, 0x33));
    expect(codes(k).map((c) => c[0])).toContain("clobbered-write");
  });

  it("fix (6.5+): the small buffer is bounced through swiotlb", () => {
    const { k, m, dma, b, o } = h4("latest");
    expect(m.swiotlb!.start <= dma && dma < m.swiotlb!.end).toBe(true);
    expect(b).toEqual(bytes(32, Y));
    expect(o).toEqual(bytes(32, 0x33));
    expect(codes(k)).toEqual([]);
  });
});

describe("H20: scatterlist count confusion", () => {
  function build(m: Machine, n: number) {
    const sgt = sgAllocTable(m.kernel, n);
    const pages: Page[] = [];
    for (let i = 0; i < n; i++) {
      const p = allocPages(m, 0, GFP_KERNEL)!;
      pages.push(p);
      sgSetPage(sgt.sgl[i]!, p, PAGE_SIZE, 0);
    }
    return { sgt, pages };
  }

  it("IOMMU: 8 entries map to 3 segments; programming 8 and unmapping 3 is wrong twice", () => {
    const { k, m } = boot("arm64-soc");
    const dev = addDevice(m, {
      name: "gpu",
      coherent: false,
      dmaMask: 40,
      iommu: "dma",
      maxSegmentSize: 3 * PAGE_SIZE,
    });
    const { sgt, pages } = build(m, 8);
    for (const p of pages) {
      cpuRead(m, pageAddress(m, p), 64); // the CPU has every buffer's first line cached
    }
    const n = dmaMapSg(dev, sgt.sgl, 8, DMA_FROM_DEVICE);
    expect(n).toBe(3);
    expect([0, 1, 2].map((i) => sgDmaLen(sgt.sgl[i]!))).toEqual([
      3 * PAGE_SIZE,
      3 * PAGE_SIZE,
      2 * PAGE_SIZE,
    ]);
    // the buggy driver programs 8 segments: the last 5 hold no address
    for (let i = 0; i < 8; i++) {
      deviceWrite(dev, sgDmaAddress(sgt.sgl[i]!), bytes(64, Y));
    }
    expect(sgDmaAddress(sgt.sgl[3]!)).toBe(DMA_MAPPING_ERROR);
    expect(codes(k).filter(([kind]) => kind === "dma-range")).toHaveLength(5);
    dmaUnmapSg(dev, sgt.sgl, n, DMA_FROM_DEVICE); // and unmaps with the returned count
    expect(codes(k)).toContainEqual(["dma-api", "free-wrong-sg-count"]);
    expect(k.findings.find((f) => f.code === "free-wrong-sg-count")!.summary).toMatch(
      /frees DMA sg list with different entry count \[map count=8\] \[unmap count=3\]/,
    );
    // entries 3..7 were never invalidated: the CPU reads its stale line of the 4th page
    expect(cpuRead(m, pageAddress(m, pages[3]!), 64)).toEqual(bytes(64, 0));
    expect(codes(k).at(-1)).toEqual(["stale-read", "stale-read"]);
  });

  it("fix: program nents DMA segments, unmap with orig_nents (the sgtable helpers)", () => {
    const { k, m } = boot("arm64-soc");
    const dev = addDevice(m, {
      name: "gpu",
      coherent: false,
      dmaMask: 40,
      iommu: "dma",
      maxSegmentSize: 3 * PAGE_SIZE,
    });
    const { sgt, pages } = build(m, 8);
    for (const p of pages) {
      cpuRead(m, pageAddress(m, p), 64);
    }
    dmaMapSgtable(dev, sgt, DMA_FROM_DEVICE);
    expect([sgt.nents, sgt.origNents]).toEqual([3, 8]);
    for (let i = 0; i < sgt.nents; i++) {
      const s = sgt.sgl[i]!;
      for (let off = 0; off < sgDmaLen(s); off += PAGE_SIZE) {
        deviceWrite(dev, sgDmaAddress(s) + off, bytes(64, Y));
      }
    }
    dmaUnmapSgtable(dev, sgt, DMA_FROM_DEVICE);
    for (const p of pages) {
      expect(cpuRead(m, pageAddress(m, p), 64)).toEqual(bytes(64, Y));
    }
    expect(codes(k)).toEqual([]);
    expect(dev.domain!.mappedPages).toBe(0);
  });

  it("dma-direct: unmapping fewer entries than mapped leaks the rest (found at the end of the run)", () => {
    const { k, m } = boot("arm64-soc");
    const dev = addDevice(m, { name: "dev", coherent: false, dmaMask: 64 });
    const { sgt } = build(m, 4);
    expect(dmaMapSg(dev, sgt.sgl, 4, DMA_TO_DEVICE)).toBe(4);
    dmaUnmapSg(dev, sgt.sgl, 2, DMA_TO_DEVICE);
    // one report per DMA segment unmapped
    expect(codes(k)).toEqual([
      ["dma-api", "free-wrong-sg-count"],
      ["dma-api", "free-wrong-sg-count"],
    ]);
    const leaks = dmaDebugCheckLeaks(k);
    expect(leaks.map((f) => [f.kind, f.code])).toEqual([["leak", "dma-mapping-leak"]]);
    expect(leaks[0]!.summary).toMatch(
      /pending DMA allocations while released from device \[count=2\]/,
    );
  });
});

describe("H21: unchecked mapping errors", () => {
  it("a failed map returns DMA_MAPPING_ERROR; the device then writes to ~0", () => {
    // a 32-bit device, memory above 4 GiB, and no swiotlb to bounce through
    const { k, m } = boot("arm64-soc", { swiotlbSize: 0 });
    const dev = addDevice(m, { name: "old", coherent: false, dmaMask: 32 });
    const { page: p } = page(m);
    expect(p.pfn * PAGE_SIZE).toBeGreaterThanOrEqual(2 ** 32);
    const dma = dmaMapPage(dev, p, 0, 64, DMA_FROM_DEVICE);
    expect(dma).toBe(DMA_MAPPING_ERROR);
    expect(codes(k)).toEqual([["warn", "kernel/dma/direct.h:dma_direct_map_page"]]);
    expect(k.findings[0]!.summary).toMatch(/DMA addr 0x[0-9a-f]+\+64 overflow \(mask ffffffff/);
    deviceWrite(dev, dma, bytes(64, Y)); // the driver did not check
    expect(codes(k).at(-1)).toEqual(["dma-range", "beyond-dma-mask"]);
    // Unmapping the error address without the sync skipped reaches the invalidate of
    // phys_to_virt(~0) first (dma_direct_unmap_page -> dma_direct_sync_single_for_cpu ->
    // arch_sync_dma_for_cpu): the cache maintenance faults and the kernel oopses before
    // debug_dma_unmap_page() runs. With the sync skipped, dma-debug reports the bad address.
    dmaUnmapPageAttrs(dev, dma, 64, DMA_FROM_DEVICE, DMA_ATTR_SKIP_CPU_SYNC);
    expect(codes(k).at(-1)).toEqual(["dma-api", "free-invalid-address"]);
    expect(() => dmaUnmapPage(dev, dma, 64, DMA_FROM_DEVICE)).toThrow(
      /Unable to handle kernel paging request/,
    );
    expect(codes(k).at(-1)).toEqual(["bug", "arch/arm64/mm/fault.c:die_kernel_fault"]);
  });

  it("a mapping never tested with dma_mapping_error() is reported at unmap", () => {
    const { k, m } = boot("arm64-soc");
    const dev = addDevice(m, { name: "dev", coherent: false, dmaMask: 64 });
    const { page: p } = page(m);
    const dma = dmaMapPage(dev, p, 0, 64, DMA_TO_DEVICE);
    dmaUnmapPage(dev, dma, 64, DMA_TO_DEVICE);
    expect(codes(k)).toEqual([["dma-api", "unchecked-map-error"]]);
    expect(k.findings[0]!.summary).toMatch(/failed to check map error\[device address=0x/);
    expect(k.dmesg.format()).toMatch(/DMA-API: dev dev: device driver failed to check map error/);
  });

  it("fix: test the result, and do not unmap a failed mapping", () => {
    const { k, m } = boot("arm64-soc", { swiotlbSize: 0 });
    const dev = addDevice(m, { name: "old", coherent: false, dmaMask: 32 });
    const { page: p } = page(m);
    const dma = dmaMapPage(dev, p, 0, 64, DMA_FROM_DEVICE);
    expect(dmaMappingError(dev, dma)).toBe(true);
    const ok = dmaMapPage(dev, page(m).page, 0, 0, DMA_FROM_DEVICE);
    void ok;
    expect(codes(k).filter(([kind]) => kind !== "warn")).toEqual([]);
  });
});

describe("H22: IOMMU isolation gaps", () => {
  it("lazy unmap: the device still reaches the page until the flush queue runs", () => {
    const { k, m } = boot("x86-64");
    const dev = addDevice(m, { name: "nic", dmaMask: 64, iommu: "dma-fq" });
    const { page: p, va } = page(m);
    const dma = dmaMapPage(dev, p, 0, PAGE_SIZE, DMA_FROM_DEVICE);
    expect(dmaMappingError(dev, dma)).toBe(false);
    deviceWrite(dev, dma, bytes(64, Y)); // the IOTLB now caches the translation
    dmaUnmapPage(dev, dma, PAGE_SIZE, DMA_FROM_DEVICE);
    expect(dev.domain!.mappedPages).toBe(0);
    expect(deviceWrite(dev, dma, bytes(64, 0x44))).toBe(64); // stale IOTLB entry: still works
    expect(cpuRead(m, va, 1)).toEqual(new Uint8Array([0x44]));
    k.clock.advance(10_000_000); // the 10 ms flush timer…
    const next = page(m);
    const dma2 = dmaMapPage(dev, next.page, 0, 64, DMA_TO_DEVICE); // …runs at the next call
    expect(dmaMappingError(dev, dma2)).toBe(false);
    expect(dma2).toBe(dma); // the freed IOVA is reused, now for a read-only mapping
    expect(deviceWrite(dev, dma, bytes(64, 0x55))).toBe(0);
    expect(codes(k).at(-1)).toEqual(["iommu-fault", "permission-fault"]);
    expect(cpuRead(m, va, 1)).toEqual(new Uint8Array([0x44]));
  });

  it("strict unmap: the translation is gone when unmap returns", () => {
    const { k, m } = boot("x86-64");
    const dev = addDevice(m, { name: "nic", dmaMask: 64, iommu: "dma" });
    const { page: p } = page(m);
    const dma = dmaMapPage(dev, p, 0, PAGE_SIZE, DMA_FROM_DEVICE);
    expect(dmaMappingError(dev, dma)).toBe(false);
    deviceWrite(dev, dma, bytes(64, Y));
    dmaUnmapPage(dev, dma, PAGE_SIZE, DMA_FROM_DEVICE);
    expect(deviceWrite(dev, dma, bytes(64, 0x44))).toBe(0);
    expect(codes(k)).toEqual([["iommu-fault", "translation-fault"]]);
  });

  it("the flush queue can be run by hand, and frees the IOVAs it held", () => {
    const { m } = boot("x86-64");
    const dev = addDevice(m, { name: "nic", dmaMask: 64, iommu: "dma-fq" });
    const { page: p } = page(m);
    const dma = dmaMapPage(dev, p, 0, PAGE_SIZE, DMA_TO_DEVICE);
    expect(dmaMappingError(dev, dma)).toBe(false);
    deviceRead(dev, dma, 4);
    dmaUnmapPage(dev, dma, PAGE_SIZE, DMA_TO_DEVICE);
    expect(deviceRead(dev, dma, 4)).toEqual(bytes(4, 0));
    iommuDmaFlushFq(dev.domain!);
    expect(deviceRead(dev, dma, 4)).toEqual(bytes(4, 0xff));
  });

  it("direction: a device writing a TO_DEVICE mapping takes a permission fault", () => {
    const { k, m } = boot("x86-64");
    const dev = addDevice(m, { name: "nic", dmaMask: 64, iommu: "dma" });
    const { page: p, va } = page(m);
    cpuWrite(m, va, bytes(64, X));
    const dma = dmaMapPage(dev, p, 0, 64, DMA_TO_DEVICE);
    expect(dmaMappingError(dev, dma)).toBe(false);
    expect(deviceRead(dev, dma, 64)).toEqual(bytes(64, X));
    expect(deviceWrite(dev, dma, bytes(64, Y))).toBe(0);
    expect(codes(k)).toEqual([["iommu-fault", "permission-fault"]]);
    expect(cpuRead(m, va, 64)).toEqual(bytes(64, X));
  });

  it("sub-page exposure: a trusted device mapping 64 bytes sees the whole page", () => {
    const { m } = boot("x86-64");
    const dev = addDevice(m, { name: "nic", dmaMask: 64, iommu: "dma" });
    const { page: p, va } = page(m);
    cpuWrite(m, va + 64, bytes(64, 0x5e)); // a secret next to the buffer
    const dma = dmaMapPage(dev, p, 0, 64, DMA_TO_DEVICE);
    expect(dmaMappingError(dev, dma)).toBe(false);
    expect(deviceRead(dev, dma + 64, 64)).toEqual(bytes(64, 0x5e));
  });

  it("fix: an untrusted device's sub-page buffer is bounced with zeroed padding", () => {
    const { k, m } = boot("x86-64");
    const dev = addDevice(m, { name: "tbt", dmaMask: 64, iommu: "dma", untrusted: true });
    expect(dev.domain!.lazy).toBe(false); // untrusted devices are forced strict
    const { page: p, va } = page(m);
    cpuWrite(m, va, bytes(64, X));
    cpuWrite(m, va + 64, bytes(64, 0x5e));
    const dma = dmaMapPage(dev, p, 0, 64, DMA_TO_DEVICE);
    expect(dmaMappingError(dev, dma)).toBe(false);
    expect(deviceRead(dev, dma, 64)).toEqual(bytes(64, X));
    const around = deviceRead(dev, dma + 64, 64);
    expect(around).toEqual(bytes(64, 0));
    expect(dmaMaxMappingSize(dev)).toBe(256 * 1024);
    dmaUnmapPage(dev, dma, 64, DMA_TO_DEVICE);
    void k;
  });
});

describe("H23: swiotlb data loss corner cases", () => {
  function bounced() {
    const { k, m } = boot("x86-64", { swiotlbForce: true });
    const dev = addDevice(m, { name: "dev", dmaMask: 64 });
    const { page: p, va } = page(m);
    cpuWrite(m, va, bytes(64, X));
    return { k, m, dev, p, va };
  }

  it("unmapping a bounced FROM_DEVICE mapping with SKIP_CPU_SYNC loses the device's data", () => {
    const { k, m, dev, p, va } = bounced();
    const dma = dmaMapPage(dev, p, 0, 64, DMA_FROM_DEVICE);
    expect(dmaMappingError(dev, dma)).toBe(false);
    deviceWrite(dev, dma, bytes(64, Y));
    dmaUnmapPageAttrs(dev, dma, 64, DMA_FROM_DEVICE, DMA_ATTR_SKIP_CPU_SYNC);
    expect(cpuRead(m, va, 64)).toEqual(bytes(64, X));
    expect(codes(k)).toEqual([["stale-read", "stale-read"]]);
  });

  it("fix: sync for the CPU before the SKIP_CPU_SYNC unmap", () => {
    const { k, m, dev, p, va } = bounced();
    const dma = dmaMapPage(dev, p, 0, 64, DMA_FROM_DEVICE);
    expect(dmaMappingError(dev, dma)).toBe(false);
    deviceWrite(dev, dma, bytes(64, Y));
    dmaSyncSingleForCpu(dev, dma, 64, DMA_FROM_DEVICE);
    dmaUnmapPageAttrs(dev, dma, 64, DMA_FROM_DEVICE, DMA_ATTR_SKIP_CPU_SYNC);
    expect(cpuRead(m, va, 64)).toEqual(bytes(64, Y));
    expect(codes(k)).toEqual([]);
  });

  it("sync_for_device(FROM_DEVICE) does not refresh the bounce copy", () => {
    const { k, m, dev, p, va } = bounced();
    const dma = dmaMapPage(dev, p, 0, 64, DMA_FROM_DEVICE);
    expect(dmaMappingError(dev, dma)).toBe(false);
    dmaSyncSingleForCpu(dev, dma, 64, DMA_FROM_DEVICE);
    cpuWrite(m, va, bytes(64, 0x66));
    dmaSyncSingleForDevice(dev, dma, 64, DMA_FROM_DEVICE);
    expect(deviceRead(dev, dma, 64)).toEqual(bytes(64, X)); // allowed: FROM_DEVICE means it does not read
    expect(codes(k)).toEqual([["stale-read", "stale-bounce-read"]]);
    dmaUnmapPage(dev, dma, 64, DMA_FROM_DEVICE);
  });

  it("a mapping larger than 256 KiB, or a full pool: DMA_MAPPING_ERROR, 'swiotlb buffer is full'", () => {
    const { k, m } = boot("x86-64", { swiotlbForce: true, swiotlbSize: 512 * 1024 });
    const dev = addDevice(m, { name: "dev", dmaMask: 64 });
    const big = allocPages(m, 7, GFP_KERNEL)!; // 512 KiB
    expect(dmaMaxMappingSize(dev)).toBe(256 * 1024);
    const dma = dmaMapPage(dev, big, 0, 512 * 1024, DMA_TO_DEVICE);
    expect(dmaMappingError(dev, dma)).toBe(true);
    expect(k.dmesg.format()).toMatch(/swiotlb buffer is full \(sz: 524288 bytes\)/);
    // two 256 KiB mappings fill the pool; the third fails
    const a = dmaMapPage(dev, big, 0, 256 * 1024, DMA_TO_DEVICE);
    const b = dmaMapPage(dev, big, 0, 256 * 1024, DMA_TO_DEVICE);
    const c = dmaMapSingle(dev, pageAddress(m, big), 2048, DMA_TO_DEVICE);
    expect([a, b].map((x) => dmaMappingError(dev, x))).toEqual([false, false]);
    expect(dmaMappingError(dev, c)).toBe(true);
    // through dma_map_sgtable the failure is -EIO
    const sgt = sgAllocTable(k, 1);
    sgSetPage(sgt.sgl[0]!, big, PAGE_SIZE, 0);
    expect(() => dmaMapSgtable(dev, sgt, DMA_TO_DEVICE)).toThrow(
      expect.objectContaining({ code: "EIO" }),
    );
    dmaUnmapPage(dev, a, 256 * 1024, DMA_TO_DEVICE);
    dmaUnmapPage(dev, b, 256 * 1024, DMA_TO_DEVICE);
    expect(m.swiotlb!.used).toBe(0);
  });
});

describe("DMA_ATTR_SKIP_CPU_SYNC at map", () => {
  it("skips the clean: a non-coherent device reads stale memory until the driver syncs", () => {
    const { k, m } = boot("arm64-soc");
    const dev = addDevice(m, { name: "dev", coherent: false, dmaMask: 64 });
    const { page: p, va } = page(m);
    cpuWrite(m, va, bytes(64, X));
    const dma = dmaMapPageAttrs(dev, p, 0, 64, DMA_TO_DEVICE, DMA_ATTR_SKIP_CPU_SYNC);
    expect(dmaMappingError(dev, dma)).toBe(false);
    expect(deviceRead(dev, dma, 64)).toEqual(bytes(64, 0));
    expect(codes(k)).toEqual([["stale-read", "stale-read"]]);
    dmaSyncSingleForDevice(dev, dma, 64, DMA_TO_DEVICE);
    expect(deviceRead(dev, dma, 64)).toEqual(bytes(64, X));
    expect(codes(k)).toHaveLength(1);
    dmaUnmapPage(dev, dma, 64, DMA_TO_DEVICE);
  });
});
