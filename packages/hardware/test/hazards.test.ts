// The hardware half of the hazards of kernel-notes.md §8: each reproduced, and a fix variant that
// shows no finding. The cache maintenance below is what dma-mapping will call (arm64 and ARMv7
// routines), written out by hand.
import { describe, expect, it } from "vitest";
import { PAGE_SIZE, type ChoicePolicy, type Finding } from "@dmasim/kernel";
import {
  GFP_KERNEL,
  IOMMU_READ,
  IOMMU_WRITE,
  __GFP_ZERO,
  addDevice,
  allocPages,
  cacheEvict,
  cpuRead,
  cpuWrite,
  dcacheCleanPoc,
  dcacheInvalPoc,
  deviceRead,
  deviceWrite,
  dmacMapArea,
  dmacUnmapArea,
  flushKernelVmapRange,
  freePages,
  invalidateKernelVmapRange,
  iommuFlushIotlbAll,
  iommuIotlbGatherInit,
  iommuMap,
  iommuUnmap,
  iommuUnmapFast,
  pageAddress,
  pageToPhys,
  physToDma,
  vmap,
  type Machine,
} from "../src/index";
import { boot, exploreCache, kinds } from "./helpers";

const X = 0x11;
const Y = 0x22;

function bytes(n: number, v: number): Uint8Array {
  return new Uint8Array(n).fill(v);
}

/** A non-coherent device and one zeroed page, written with X through the linear map and cleaned. */
function setup(m: Machine): { va: number; dma: number; dev: ReturnType<typeof addDevice> } {
  const page = allocPages(m, 0, GFP_KERNEL)!;
  const va = pageAddress(m, page);
  const dev = addDevice(m, { name: "dev", coherent: false, dmaMask: 64 });
  cpuWrite(m, va, bytes(PAGE_SIZE, X));
  dcacheCleanPoc(m, va, va + PAGE_SIZE);
  return { va, dma: physToDma(dev, pageToPhys(page)), dev };
}

describe("H2: speculative refill during DMA", () => {
  async function h2(fix: boolean) {
    return exploreCache((policy: ChoicePolicy): Finding[] => {
      const { k, m } = boot("arm64-soc", {}, policy);
      const { va, dma, dev } = setup(m);
      // old arm64 for_device(FROM_DEVICE): invalidate before the DMA…
      dcacheInvalPoc(m, va, va + PAGE_SIZE);
      deviceWrite(dev, dma, bytes(PAGE_SIZE, Y));
      if (fix) {
        // …the fix: invalidate after the device finished (sync_for_cpu)
        dcacheInvalPoc(m, va, va + PAGE_SIZE);
      }
      expect(cpuRead(m, va, 64)).toHaveLength(64);
      return k.findings;
    });
  }

  it("a speculative load while the device writes leaves a stale line the CPU then reads", async () => {
    const runs = await h2(false);
    expect(runs.length).toBeGreaterThan(1);
    expect(runs[0]!.findings).toEqual([]); // option 0: nothing happens
    const bad = runs.filter((r) => r.findings.length > 0);
    expect(bad.length).toBeGreaterThan(0);
    const f = bad[0]!.findings[0]!;
    expect(f.kind).toBe("stale-read");
    expect(f.details["expected"]).toMatch(/^22 22/);
    expect(f.details["seen"]).toMatch(/^11 11/);
    const history = f.details["history"] as { kind: string }[];
    expect(history.map((e) => e.kind)).toEqual(expect.arrayContaining(["prefetch", "dma-write"]));
  });

  it("fix: invalidating after the DMA shows no finding under any choice", async () => {
    const runs = await h2(true);
    expect(runs.length).toBeGreaterThan(1);
    for (const r of runs) {
      expect(r.findings).toEqual([]);
    }
  });

  it("does not happen without speculation (parisc-vivt preset)", async () => {
    const runs = await exploreCache((policy) => {
      const { k, m } = boot("parisc-vivt", {}, policy);
      const { va, dma, dev } = setup(m);
      dcacheInvalPoc(m, va, va + PAGE_SIZE);
      deviceWrite(dev, dma, bytes(PAGE_SIZE, Y));
      cpuRead(m, va, 64);
      return k.findings;
    });
    expect(runs.flatMap((r) => r.findings)).toEqual([]);
  });
});

describe("H3: dirty line written back over device data", () => {
  async function h3(fix: boolean) {
    return exploreCache((policy) => {
      const { k, m } = boot("arm64-soc", {}, policy);
      const { va, dma, dev } = setup(m); // map FROM_DEVICE: lines cleaned
      if (!fix) {
        cpuWrite(m, va + 5, bytes(1, 0x77)); // CPU writes while the device owns the buffer
      }
      deviceWrite(dev, dma, bytes(PAGE_SIZE, Y));
      m.tick();
      dcacheInvalPoc(m, va, va + PAGE_SIZE); // sync_for_cpu
      if (fix) {
        cpuWrite(m, va + 5, bytes(1, 0x77)); // after the buffer came back to the CPU
      }
      cpuRead(m, va, 64);
      return k.findings;
    });
  }

  it("an eviction after the device write clobbers the device's data", async () => {
    const runs = await h3(false);
    expect(runs[0]!.findings).toEqual([]);
    const bad = runs.find((r) => r.findings.some((f) => f.kind === "clobbered-write"));
    expect(bad).toBeDefined();
    const f = bad!.findings.find((x) => x.kind === "clobbered-write")!;
    expect(f.details["lastWriter"]).toMatchObject({ agent: "dev:dev" });
    expect(f.details["dirtiedBy"]).toMatchObject({ agent: "cpu:init" });
    // and the CPU then reads the corrupted line
    expect(kinds(bad!.findings)).toContain("stale-read");
  });

  it("a forced eviction reproduces it deterministically", () => {
    const { k, m } = boot("arm64-soc", { cachePolicy: { name: "none" } });
    const { va, dma, dev } = setup(m);
    cpuWrite(m, va + 5, bytes(1, 0x77));
    deviceWrite(dev, dma, bytes(PAGE_SIZE, Y));
    cacheEvict(m, va, 64);
    expect(kinds(k.findings)).toEqual(["clobbered-write"]);
    // all 64 bytes: the CPU byte too is older than the device write
    expect(k.findings[0]!.summary).toContain("64 stale bytes");
  });

  it("fix: no CPU write while the device owns the buffer, no finding under any choice", async () => {
    const runs = await h3(true);
    expect(runs.length).toBeGreaterThan(1);
    expect(runs.flatMap((r) => r.findings)).toEqual([]);
  });
});

describe("H4: buffer sharing a cache line with unrelated data", () => {
  function h4(bufLen: number, otherOff: number): Finding[] {
    const { k, m } = boot("arm64-soc", { cachePolicy: { name: "none" } });
    const { va, dma, dev } = setup(m); // the line is cached (clean, X)
    cpuRead(m, va, 64);
    dcacheCleanPoc(m, va, va + bufLen); // map B FROM_DEVICE (arm64: clean)
    deviceWrite(dev, dma, bytes(bufLen, Y));
    cpuWrite(m, va + otherOff, bytes(8, 0x55)); // unrelated object O
    dcacheInvalPoc(m, va, va + bufLen); // sync_for_cpu
    cpuRead(m, va, bufLen);
    return k.findings;
  }

  it("the partial edge line is cleaned+invalidated and writes old bytes of B over the device data", () => {
    const f = h4(32, 32);
    expect(kinds(f)).toEqual(["clobbered-write", "stale-read"]);
    expect(f[0]!.details["cause"]).toBe("dcache_inval_poc");
  });

  it("fix: a line-aligned buffer (ARCH_DMA_MINALIGN) shows no finding", () => {
    expect(h4(64, 64)).toEqual([]);
  });
});

describe("H6: mismatched attributes (cacheable alias of an uncached buffer)", () => {
  function h6(fix: boolean): Finding[] {
    const { k, m } = boot("arm64-soc", { cachePolicy: { name: "none" } });
    const page = allocPages(m, 0, GFP_KERNEL | __GFP_ZERO)!; // zeroed through the linear map: dirty lines
    const lin = pageAddress(m, page);
    const wc = vmap(m, [page], "writecombine")!;
    if (fix) {
      dcacheCleanPoc(m, lin, lin + PAGE_SIZE); // clean+invalidate the cacheable alias once
      dcacheInvalPoc(m, lin, lin + PAGE_SIZE);
      cpuWrite(m, wc, bytes(64, 0x42)); // and only use the WC alias afterwards
    } else {
      cpuWrite(m, lin, bytes(64, 0x42)); // page_address() instead of the WC vmap
    }
    expect(cpuRead(m, wc, 64)).toEqual(bytes(64, fix ? 0x42 : 0)); // the WC alias reads memory
    cpuWrite(m, wc + 64, bytes(64, 0x43)); // data written through the WC alias…
    cacheEvict(m, lin, PAGE_SIZE); // …and the cacheable alias's lines are evicted later
    return k.findings;
  }

  it("reads through the WC alias miss cached writes, and zeroing's dirty lines clobber WC writes", () => {
    const f = h6(false);
    expect(kinds(f)).toEqual(["stale-read", "clobbered-write"]);
    expect(f[1]!.details["dirtiedBy"]).toMatchObject({ agent: "cpu:init" });
    const hist = f[1]!.details["history"] as { kind: string; note?: string }[];
    expect(hist.some((e) => e.note?.includes("__GFP_ZERO"))).toBe(true);
  });

  it("fix: clean+invalidate the cacheable alias, then use only the WC mapping", () => {
    expect(h6(true)).toEqual([]);
  });
});

describe("H7: vmap alias on aliasing caches", () => {
  /** A page whose vmap alias has another colour than its linear alias (VIPT) — any page on VIVT. */
  function aliasPage(m: Machine): {
    lin: number;
    v: number;
    dma: number;
    dev: ReturnType<typeof addDevice>;
  } {
    const dev = addDevice(m, { name: "dev", coherent: false, dmaMask: 64 });
    for (;;) {
      const page = allocPages(m, 0, GFP_KERNEL)!;
      const lin = pageAddress(m, page);
      const v = vmap(m, [page], "cacheable")!;
      if (m.cache.spaceOf(v, 0) !== m.cache.spaceOf(lin, 0) || m.config.cacheIndexing !== "vipt") {
        return { lin, v, dma: physToDma(dev, pageToPhys(page)), dev };
      }
    }
  }

  function toDevice(platform: string, fix: boolean): Finding[] {
    const { k, m } = boot(platform, { cachePolicy: { name: "none" } });
    const { lin, v, dma, dev } = aliasPage(m);
    cpuWrite(m, v, bytes(256, 0x5a)); // the exporter writes through its vmap
    if (fix) {
      flushKernelVmapRange(m, v, 256);
    }
    if (m.config.arch === "arm") {
      dmacMapArea(m, lin, 256, 1); // dma_map(TO_DEVICE) maintains the linear alias only
    } else {
      dcacheCleanPoc(m, lin, lin + 256);
    }
    deviceRead(dev, dma, 256);
    return k.findings;
  }

  function fromDevice(platform: string, fix: boolean): Finding[] {
    const { k, m } = boot(platform, { cachePolicy: { name: "none" } });
    const { lin, v, dma, dev } = aliasPage(m);
    cpuRead(m, v, 256); // the vmap alias has lines (an earlier read)
    deviceWrite(dev, dma, bytes(256, Y));
    if (m.config.arch === "arm") {
      dmacUnmapArea(m, lin, 256, 2); // sync_for_cpu(FROM_DEVICE), linear alias only
    } else {
      dcacheInvalPoc(m, lin, lin + 256);
    }
    if (fix) {
      invalidateKernelVmapRange(m, v, 256);
    }
    cpuRead(m, v, 256);
    return k.findings;
  }

  for (const platform of ["parisc-vivt", "armv6-vipt-aliasing"]) {
    it(`${platform}: the device misses data written through the vmap alias`, () => {
      const f = toDevice(platform, false);
      expect(kinds(f)).toEqual(["stale-read"]);
      expect(f[0]!.details["agent"]).toBe("dev:dev");
    });
    it(`${platform}: fix with flush_kernel_vmap_range`, () => {
      expect(toDevice(platform, true)).toEqual([]);
    });
    it(`${platform}: the CPU reads a stale vmap line after the DMA`, () => {
      expect(kinds(fromDevice(platform, false))).toEqual(["stale-read"]);
    });
    it(`${platform}: fix with invalidate_kernel_vmap_range`, () => {
      expect(fromDevice(platform, true)).toEqual([]);
    });
  }

  for (const platform of ["arm64-soc", "x86-64"]) {
    it(`${platform} (PIPT): no alias, no finding even without the helpers`, () => {
      const { k, m } = boot(platform, { cachePolicy: { name: "none" } });
      const { lin, v, dma, dev } = aliasPage(m);
      cpuWrite(m, v, bytes(256, 0x5a));
      dcacheCleanPoc(m, lin, lin + 256);
      expect(deviceRead(dev, dma, 256)).toEqual(bytes(256, 0x5a));
      expect(k.findings).toEqual([]);
    });
  }
});

describe("H22: IOMMU isolation gaps", () => {
  function iommuSetup(type: "dma" | "dma-fq") {
    const { k, m } = boot("arm64-soc", { cachePolicy: { name: "none" } });
    const dev = addDevice(m, { name: "nic", coherent: true, dmaMask: 32, iommu: type });
    const page = allocPages(m, 0, GFP_KERNEL)!;
    const iova = 0x1000_0000;
    iommuMap(dev.domain!, iova, pageToPhys(page), PAGE_SIZE, IOMMU_READ | IOMMU_WRITE);
    deviceRead(dev, iova, 64); // the IOTLB caches the translation
    return { k, m, dev, page, iova };
  }

  it("lazy flush: a stale IOTLB entry lets the device write a freed page until the flush", () => {
    const { k, m, dev, page, iova } = iommuSetup("dma-fq");
    expect(dev.domain!.lazy).toBe(true);
    const gather = iommuIotlbGatherInit();
    expect(iommuUnmapFast(dev.domain!, iova, PAGE_SIZE, gather)).toBe(PAGE_SIZE); // queued, not flushed
    freePages(m, page);
    expect(deviceWrite(dev, iova, bytes(16, 0x66))).toBe(16);
    expect(kinds(k.findings)).toEqual(["use-after-free"]);
    expect(k.findings[0]!.code).toBe("dma-write-free-page");
    iommuFlushIotlbAll(dev.domain!); // the flush queue's flush
    expect(deviceWrite(dev, iova, bytes(16, 0x66))).toBe(0);
    expect(k.findings.at(-1)!.kind).toBe("iommu-fault");
    expect(k.findings.at(-1)!.code).toBe("translation-fault");
  });

  it("fix: strict invalidation blocks the device at once", () => {
    const { k, m, dev, page, iova } = iommuSetup("dma");
    expect(dev.domain!.lazy).toBe(false);
    iommuUnmap(dev.domain!, iova, PAGE_SIZE);
    freePages(m, page);
    expect(deviceWrite(dev, iova, bytes(16, 0x66))).toBe(0);
    expect(kinds(k.findings)).toEqual(["iommu-fault"]);
  });

  it("direction: a device write into a read-only (TO_DEVICE) mapping faults and is dropped", () => {
    const { k, m } = boot("arm64-soc", { cachePolicy: { name: "none" } });
    const dev = addDevice(m, { name: "gpu", coherent: true, iommu: "dma" });
    const page = allocPages(m, 0, GFP_KERNEL | __GFP_ZERO)!;
    iommuMap(dev.domain!, 0x2000, pageToPhys(page), PAGE_SIZE, IOMMU_READ);
    expect(deviceWrite(dev, 0x2000, bytes(8, 0x99))).toBe(0);
    expect(k.findings.map((f) => f.code)).toEqual(["permission-fault"]);
    expect(cpuRead(m, pageAddress(m, page), 8)).toEqual(bytes(8, 0));
  });

  it("fix: a FROM_DEVICE (writable) mapping lets the write through", () => {
    const { k, m } = boot("arm64-soc", { cachePolicy: { name: "none" } });
    const dev = addDevice(m, { name: "gpu", coherent: true, iommu: "dma" });
    const page = allocPages(m, 0, GFP_KERNEL | __GFP_ZERO)!;
    iommuMap(dev.domain!, 0x2000, pageToPhys(page), PAGE_SIZE, IOMMU_WRITE);
    expect(deviceWrite(dev, 0x2000, bytes(8, 0x99))).toBe(8);
    expect(cpuRead(m, pageAddress(m, page), 8)).toEqual(bytes(8, 0x99));
    expect(k.findings).toEqual([]);
  });
});
