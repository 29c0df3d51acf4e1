// Every DMA-API debug rule of kernel-notes §3.6, triggered at least once, with the kernel's wording.
import { describe, expect, it } from "vitest";
import { PAGE_SIZE, type Kernel } from "@dmasim/kernel";
import {
  GFP_KERNEL,
  addDevice,
  allocPages,
  pageAddress,
  pageToPhys,
  vmap,
  type Device,
  type Machine,
} from "@dmasim/hardware";
import {
  CONFIG_DMA_API_DEBUG,
  CONFIG_DMA_API_DEBUG_SG,
  DMA_ATTR_SKIP_CPU_SYNC,
  DMA_BIDIRECTIONAL,
  DMA_FROM_DEVICE,
  DMA_MAPPING_ERROR,
  DMA_TO_DEVICE,
  dmaAllocCoherent,
  dmaDebugCheckLeaks,
  dmaDebugDeviceUnbind,
  dmaDebugEntries,
  dmaDebugErrorCount,
  dmaDebugRegisterKernelText,
  dmaDebugRegisterStack,
  dmaDebugSetAllErrors,
  dmaFreeCoherent,
  dmaMapPage,
  dmaMapPageAttrs,
  dmaMapSg,
  dmaMapSingle,
  dmaMappingError,
  dmaSyncSgForCpu,
  dmaSyncSingleForCpu,
  dmaSyncSingleForDevice,
  dmaSyncSingleRangeForCpu,
  dmaUnmapPage,
  dmaUnmapSg,
  sgAllocTable,
  sgSetPage,
} from "../src/index";
import { boot, codes } from "./helpers";

function setup(platform = "x86-64", version = "latest", options: Record<string, boolean> = {}) {
  const { k, m } = boot(platform, {}, { version, options });
  const dev = addDevice(m, { name: "dev", coherent: false, dmaMask: 64 });
  const page = allocPages(m, 1, GFP_KERNEL)!; // two contiguous pages
  return { k, m, dev, page, va: pageAddress(m, page) };
}

function mapChecked(
  dev: Device,
  page: ReturnType<typeof setup>["page"],
  size: number,
  dir: number,
  attrs = 0,
) {
  const a = dmaMapPageAttrs(dev, page, 0, size, dir, attrs);
  expect(dmaMappingError(dev, a)).toBe(false);
  return a;
}

function dmaApi(k: Kernel): string[] {
  return k.findings.filter((f) => f.kind === "dma-api").map((f) => f.code);
}

function summary(k: Kernel, code: string): string {
  return k.findings.find((f) => f.code === code)!.summary;
}

describe("map checks", () => {
  it("map-invalid-area: an address outside the linear map", () => {
    const { k, dev } = setup();
    const a = dmaMapSingle(dev, 0x1000, 64, DMA_TO_DEVICE);
    expect(a).toBe(DMA_MAPPING_ERROR);
    expect(dmaApi(k)).toEqual(["map-invalid-area"]);
    expect(summary(k, "map-invalid-area")).toBe(
      "DMA-API: dev dev: device driver maps memory from invalid area [addr=0x1000] [len=64]",
    );
  });

  it("map-vmalloc: before 5.18 dma-debug reports a vmalloc address; from 5.18 the map is refused", () => {
    for (const version of ["5.15", "latest"]) {
      const { k, m, dev, page } = setup("x86-64", version);
      const va = vmap(m, [page], "cacheable")!;
      const a = dmaMapSingle(dev, va, 64, DMA_TO_DEVICE);
      expect(a).toBe(DMA_MAPPING_ERROR);
      if (version === "5.15") {
        expect(dmaApi(k)).toEqual(["map-invalid-area", "map-vmalloc"]);
        expect(summary(k, "map-vmalloc")).toMatch(/maps memory from vmalloc area \[addr=0x/);
      } else {
        expect(dmaApi(k)).toEqual([]);
        expect(codes(k)).toEqual([["warn", "include/linux/dma-mapping.h:dma_map_single_attrs"]]);
        expect(k.findings[0]!.summary).toMatch(/rejecting DMA map of vmalloc memory/);
      }
    }
  });

  it("map-stack: mapping the running thread's stack", () => {
    const { k, dev, page, va } = setup();
    dmaDebugRegisterStack(k, k.sched.current.name, va, 2 * PAGE_SIZE);
    mapChecked(dev, page, 64, DMA_TO_DEVICE);
    expect(dmaApi(k)).toEqual(["map-stack"]);
    expect(summary(k, "map-stack")).toMatch(/device driver maps memory from stack \[addr=0x/);
  });

  it("map-kernel-text: mapping kernel text or rodata", () => {
    const { k, dev, page, va } = setup();
    dmaDebugRegisterKernelText(k, va + 32, 16);
    mapChecked(dev, page, 64, DMA_TO_DEVICE);
    expect(dmaApi(k)).toEqual(["map-kernel-text"]);
    expect(summary(k, "map-kernel-text")).toMatch(
      /maps memory from kernel text or rodata \[addr=0x[0-9a-f]+\] \[len=64\]/,
    );
  });

  it("overlapping-cacheline: two device-writable mappings of one cache line", () => {
    const { k, dev, page } = setup();
    mapChecked(dev, page, 64, DMA_TO_DEVICE);
    mapChecked(dev, page, 64, DMA_TO_DEVICE); // the device only reads: no concern
    mapChecked(dev, page, 64, DMA_FROM_DEVICE);
    mapChecked(dev, page, 64, DMA_BIDIRECTIONAL, DMA_ATTR_SKIP_CPU_SYNC); // excused
    expect(dmaApi(k)).toEqual([]);
    mapChecked(dev, page, 64, DMA_FROM_DEVICE);
    expect(dmaApi(k)).toEqual(["overlapping-cacheline"]);
    expect(summary(k, "overlapping-cacheline")).toBe(
      "DMA-API: dev dev: cacheline tracking EEXIST, overlapping mappings aren't supported",
    );
  });

  it("overlapping-cacheline arrived in 5.14 (2b4bbc6231d7): 5.10 and older kernels never report it", () => {
    for (const v of ["4.19", "5.4", "5.10"]) {
      const { k, dev, page } = setup("x86-64", v);
      mapChecked(dev, page, 64, DMA_FROM_DEVICE);
      mapChecked(dev, page, 64, DMA_FROM_DEVICE);
      mapChecked(dev, page, 64, DMA_BIDIRECTIONAL);
      expect(dmaApi(k), v).toEqual([]);
    }
    const { k, dev, page } = setup("x86-64", "5.15");
    mapChecked(dev, page, 64, DMA_FROM_DEVICE);
    mapChecked(dev, page, 64, DMA_FROM_DEVICE);
    expect(dmaApi(k)).toEqual(["overlapping-cacheline"]);
  });

  it("DMA_ATTR_SKIP_CPU_SYNC excuses an overlap from 5.15 (c2bbf9d1e9ac); the 6.1 kernel excuses it too", () => {
    for (const v of ["5.15", "6.1"]) {
      const { k, dev, page } = setup("x86-64", v);
      mapChecked(dev, page, 64, DMA_FROM_DEVICE);
      mapChecked(dev, page, 64, DMA_FROM_DEVICE, DMA_ATTR_SKIP_CPU_SYNC);
      expect(dmaApi(k), v).toEqual([]);
    }
  });

  it("overlapping mappings are excused while kmalloc bouncing is active (arm64, 6.5+)", () => {
    const { k, dev, page } = setup("arm64-soc");
    mapChecked(dev, page, 256, DMA_FROM_DEVICE);
    mapChecked(dev, page, 256, DMA_FROM_DEVICE);
    expect(dmaApi(k)).toEqual([]);
  });

  it("cacheline-overlap-limit: more than 7 overlapping mappings of one line", () => {
    const { k, dev, page } = setup();
    for (let i = 0; i < 8; i++) {
      mapChecked(dev, page, 64, DMA_FROM_DEVICE, DMA_ATTR_SKIP_CPU_SYNC);
    }
    expect(dmaApi(k)).toEqual([]);
    mapChecked(dev, page, 64, DMA_FROM_DEVICE, DMA_ATTR_SKIP_CPU_SYNC);
    mapChecked(dev, page, 64, DMA_FROM_DEVICE, DMA_ATTR_SKIP_CPU_SYNC);
    expect(dmaApi(k)).toEqual(["cacheline-overlap-limit"]); // reported once
    expect(summary(k, "cacheline-overlap-limit")).toMatch(
      /exceeded 7 overlapping mappings of cacheline 0x[0-9a-f]+/,
    );
  });
});

describe("unmap and free checks", () => {
  it("free-invalid-address and free-not-allocated", () => {
    const { k, dev } = setup();
    dmaUnmapPage(dev, DMA_MAPPING_ERROR, 64, DMA_TO_DEVICE);
    dmaUnmapPage(dev, 0x1234_5000, 64, DMA_TO_DEVICE);
    expect(dmaApi(k)).toEqual(["free-invalid-address", "free-not-allocated"]);
    expect(summary(k, "free-invalid-address")).toBe(
      "DMA-API: dev dev: device driver tries to free an invalid DMA memory address",
    );
    expect(summary(k, "free-not-allocated")).toBe(
      "DMA-API: dev dev: device driver tries to free DMA memory it has not allocated [device address=0x0000000012345000] [size=64 bytes]",
    );
  });

  it("free-wrong-size and free-wrong-direction", () => {
    const { k, dev, page } = setup();
    const a = mapChecked(dev, page, 64, DMA_TO_DEVICE);
    dmaUnmapPage(dev, a, 128, DMA_FROM_DEVICE);
    expect(dmaApi(k)).toEqual(["free-wrong-size", "free-wrong-direction"]);
    expect(summary(k, "free-wrong-size")).toMatch(
      /\[map size=64 bytes\] \[unmap size=128 bytes\]$/,
    );
    expect(summary(k, "free-wrong-direction")).toMatch(
      /\[mapped with DMA_TO_DEVICE\] \[unmapped with DMA_FROM_DEVICE\]$/,
    );
    expect(dmaDebugEntries(dev)).toEqual([]); // the entry is gone all the same
  });

  it("free-wrong-function: a streaming mapping freed as coherent memory", () => {
    const { k, dev, page, va } = setup();
    const a = mapChecked(dev, page, 64, DMA_BIDIRECTIONAL);
    dmaFreeCoherent(dev, 64, va, a);
    expect(dmaApi(k)).toEqual(["free-wrong-function"]);
    expect(summary(k, "free-wrong-function")).toMatch(
      /\[mapped as single\] \[unmapped as coherent\]$/,
    );
  });

  it("free-wrong-cpu-address: a coherent allocation freed with another CPU address", () => {
    const { k, dev } = setup();
    const c = dmaAllocCoherent(dev, PAGE_SIZE, GFP_KERNEL)!;
    dmaFreeCoherent(dev, PAGE_SIZE, c.cpuAddr + 64, c.dmaHandle);
    expect(dmaApi(k)).toEqual(["free-wrong-cpu-address"]);
    expect(summary(k, "free-wrong-cpu-address")).toMatch(
      /\[cpu alloc address=0x[0-9a-f]+\] \[cpu free address=0x/,
    );
  });

  it("free-wrong-sg-count and free of an sg list as a page", () => {
    const { k, m, dev } = setup();
    const sgl = sgList(m, 2);
    expect(dmaMapSg(dev, sgl, 2, DMA_TO_DEVICE)).toBe(2);
    dmaUnmapSg(dev, sgl, 1, DMA_TO_DEVICE);
    expect(dmaApi(k)).toEqual(["free-wrong-sg-count"]);
    dmaUnmapPage(dev, sgl[1]!.dmaAddress, PAGE_SIZE, DMA_TO_DEVICE);
    expect(dmaApi(k)).toEqual(["free-wrong-sg-count", "free-wrong-function"]);
    expect(summary(k, "free-wrong-function")).toMatch(
      /\[mapped as scather-gather\] \[unmapped as single\]/,
    );
  });

  it("unchecked-map-error: reported at unmap, not when checked", () => {
    const { k, dev, page } = setup();
    const a = dmaMapPage(dev, page, 0, 64, DMA_TO_DEVICE);
    dmaUnmapPage(dev, a, 64, DMA_TO_DEVICE);
    const b = mapChecked(dev, page, 64, DMA_TO_DEVICE);
    dmaUnmapPage(dev, b, 64, DMA_TO_DEVICE);
    expect(dmaApi(k)).toEqual(["unchecked-map-error"]);
    expect(summary(k, "unchecked-map-error")).toMatch(/\[mapped as single\]$/);
  });
});

function sgList(m: Machine, n: number) {
  const sgt = sgAllocTable(m.kernel, n);
  for (let i = 0; i < n; i++) {
    sgSetPage(sgt.sgl[i]!, allocPages(m, 0, GFP_KERNEL)!, PAGE_SIZE, 0);
  }
  return sgt.sgl;
}

describe("sync checks", () => {
  it("sync-not-allocated and sync-outside-range", () => {
    const { k, dev, page } = setup();
    dmaSyncSingleForCpu(dev, 0x4000_0000, 64, DMA_FROM_DEVICE);
    const a = mapChecked(dev, page, 64, DMA_FROM_DEVICE);
    dmaSyncSingleForCpu(dev, a, 128, DMA_FROM_DEVICE);
    dmaSyncSingleRangeForCpu(dev, a, 32, 32, DMA_FROM_DEVICE); // a partial sync is fine
    expect(dmaApi(k)).toEqual(["sync-not-allocated", "sync-outside-range"]);
    expect(summary(k, "sync-outside-range")).toMatch(
      /syncs DMA memory outside allocated range \[device address=0x[0-9a-f]{16}\] \[allocation size=64 bytes\] \[sync offset\+size=128\]/,
    );
  });

  it("sync-wrong-direction with sync-read-only-for-cpu", () => {
    const { k, dev, page } = setup();
    const a = mapChecked(dev, page, 64, DMA_TO_DEVICE);
    dmaSyncSingleForCpu(dev, a, 64, DMA_FROM_DEVICE);
    expect(dmaApi(k)).toEqual(["sync-wrong-direction", "sync-read-only-for-cpu"]);
    expect(summary(k, "sync-read-only-for-cpu")).toMatch(
      /syncs device read-only DMA memory for cpu .*\[mapped with DMA_TO_DEVICE\] \[synced with DMA_FROM_DEVICE\]/,
    );
  });

  it("sync-wrong-direction with sync-write-only-to-device", () => {
    const { k, dev, page } = setup();
    const a = mapChecked(dev, page, 64, DMA_FROM_DEVICE);
    dmaSyncSingleForDevice(dev, a, 64, DMA_TO_DEVICE);
    expect(dmaApi(k)).toEqual(["sync-wrong-direction", "sync-write-only-to-device"]);
  });

  it("a BIDIRECTIONAL mapping may be synced in any direction", () => {
    const { k, dev, page } = setup();
    const a = mapChecked(dev, page, 64, DMA_BIDIRECTIONAL);
    dmaSyncSingleForCpu(dev, a, 64, DMA_FROM_DEVICE);
    dmaSyncSingleForDevice(dev, a, 64, DMA_TO_DEVICE);
    expect(dmaApi(k)).toEqual([]);
  });

  it("sync-wrong-sg-count", () => {
    const { k, m, dev } = setup();
    const sgl = sgList(m, 3);
    expect(dmaMapSg(dev, sgl, 3, DMA_FROM_DEVICE)).toBe(3);
    dmaSyncSgForCpu(dev, sgl, 2, DMA_FROM_DEVICE);
    expect(dmaApi(k)).toEqual(["sync-wrong-sg-count", "sync-wrong-sg-count"]);
    expect(summary(k, "sync-wrong-sg-count")).toMatch(/\[map count=3\] \[sync count=2\]$/);
  });
});

describe("CONFIG_DMA_API_DEBUG_SG", () => {
  function longSegment(options: Record<string, boolean>) {
    const { k, m, dev, page } = setup("x86-64", "latest", options);
    dev.maxSegmentSize = PAGE_SIZE;
    dev.segmentBoundaryMask = PAGE_SIZE - 1;
    const sgt = sgAllocTable(m.kernel, 1);
    sgSetPage(sgt.sgl[0]!, page, PAGE_SIZE, 2048); // crosses a 4 KiB boundary
    expect(dmaMapSg(dev, sgt.sgl, 1, DMA_TO_DEVICE)).toBe(1);
    const sgt2 = sgAllocTable(m.kernel, 1);
    sgSetPage(sgt2.sgl[0]!, allocPages(m, 1, GFP_KERNEL)!, 2 * PAGE_SIZE, 0); // longer than 4 KiB
    expect(dmaMapSg(dev, sgt2.sgl, 1, DMA_TO_DEVICE)).toBe(1);
    return dmaApi(k);
  }

  it("sg-segment-across-boundary and sg-segment-too-long", () => {
    expect(longSegment({})).toEqual([
      "sg-segment-across-boundary",
      "sg-segment-too-long",
      "sg-segment-across-boundary",
    ]);
  });

  it("are not checked with the option off", () => {
    expect(longSegment({ [CONFIG_DMA_API_DEBUG_SG]: false })).toEqual([]);
  });
});

describe("leaks and reporting", () => {
  it("pending-allocations at driver unbind, and a leak finding at the end of the run", () => {
    const { k, m, dev, page } = setup();
    const a = mapChecked(dev, page, 64, DMA_TO_DEVICE);
    const c = dmaAllocCoherent(dev, PAGE_SIZE, GFP_KERNEL)!;
    expect(dmaDebugDeviceUnbind(dev)).toBe(2);
    expect(dmaApi(k)).toEqual(["pending-allocations"]);
    expect(summary(k, "pending-allocations")).toMatch(
      /device driver has pending DMA allocations while released from device \[count=2\]\nOne of leaked entries details: \[device address=0x[0-9a-f]{16}\] \[size=64 bytes\] \[mapped with DMA_TO_DEVICE\] \[mapped as single\]/,
    );
    const other = addDevice(m, { name: "other", dmaMask: 64 });
    expect(dmaDebugDeviceUnbind(other)).toBe(0);
    const leaks = dmaDebugCheckLeaks(k);
    expect(leaks).toHaveLength(1);
    expect(leaks[0]!.details["mappings"]).toHaveLength(2);
    dmaUnmapPage(dev, a, 64, DMA_TO_DEVICE);
    dmaFreeCoherent(dev, PAGE_SIZE, c.cpuAddr, c.dmaHandle);
    expect(dmaDebugCheckLeaks(k)).toEqual([]);
    void pageToPhys;
  });

  it("only the first violation prints the WARN unless all_errors is set; all are counted", () => {
    const { k, dev } = setup();
    dmaUnmapPage(dev, 0x1000, 64, DMA_TO_DEVICE);
    dmaUnmapPage(dev, 0x2000, 64, DMA_TO_DEVICE);
    expect(dmaDebugErrorCount(k)).toBe(2);
    expect(k.findings.map((f) => f.details["printed"])).toEqual([true, false]);
    expect(k.dmesg.format().match(/DMA-API:/g)).toHaveLength(1);
    dmaDebugSetAllErrors(k, true);
    dmaUnmapPage(dev, 0x3000, 64, DMA_TO_DEVICE);
    expect(k.dmesg.format().match(/DMA-API:/g)).toHaveLength(2);
  });

  it("CONFIG_DMA_API_DEBUG off: nothing is checked or recorded", () => {
    const { k, dev, page } = setup("x86-64", "latest", { [CONFIG_DMA_API_DEBUG]: false });
    const a = dmaMapPage(dev, page, 0, 64, DMA_TO_DEVICE);
    dmaUnmapPage(dev, a, 128, DMA_FROM_DEVICE);
    dmaUnmapPage(dev, 0x1000, 64, DMA_TO_DEVICE);
    dmaMapPage(dev, page, 0, 64, DMA_TO_DEVICE);
    expect(codes(k)).toEqual([]);
    expect(dmaDebugEntries(dev)).toEqual([]);
    expect(dmaDebugCheckLeaks(k)).toEqual([]);
  });
});
