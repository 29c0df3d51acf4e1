// The seed case: one buffer shared by two devices, one of which needs bouncing and maps with
// DMA_ATTR_SKIP_CPU_SYNC. The devices then work on different copies (a finding). With the named
// patch "dma-direct-skip-sync-no-bounce" the bouncing mapping fails (or is not bounced) instead.
// Also H8: the bouncing device's copy back overwrites the other device's result.
import { describe, expect, it } from "vitest";
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
} from "@dmasim/hardware";
import {
  DMA_ATTR_SKIP_CPU_SYNC,
  DMA_BIDIRECTIONAL,
  DMA_DIRECT_SKIP_SYNC_NO_BOUNCE,
  DMA_MAPPING_ERROR,
  DMA_SKIP_SYNC_NO_KMALLOC_BOUNCE,
  dmaAddressingLimited,
  dmaMapPage,
  dmaMapPageAttrs,
  dmaMappingError,
  dmaUnmapPage,
  dmaUnmapPageAttrs,
} from "../src/index";
import { boot, bytes, codes } from "./helpers";

const X = 0x11;
const Y = 0x22;

function shared(
  version: string,
  patch: boolean,
  size: number,
  d1Mask: number,
  coherent: { d1?: boolean; d2?: boolean } = {},
) {
  const { k, m } = boot(
    "arm64-soc",
    {},
    { version, options: { [DMA_DIRECT_SKIP_SYNC_NO_BOUNCE]: patch } },
  );
  const d1 = addDevice(m, { name: "d1", coherent: coherent.d1 ?? false, dmaMask: d1Mask });
  const d2 = addDevice(m, { name: "d2", coherent: coherent.d2 ?? false, dmaMask: 64 });
  const page = allocPages(m, 0, GFP_KERNEL)!;
  const va = pageAddress(m, page);
  cpuWrite(m, va, bytes(size, X));
  const a2 = dmaMapPage(d2, page, 0, size, DMA_BIDIRECTIONAL); // the first mapping syncs
  expect(dmaMappingError(d2, a2)).toBe(false);
  // the second device maps the same buffer with SKIP_CPU_SYNC, as dma-buf importers do
  const a1 = dmaMapPageAttrs(d1, page, 0, size, DMA_BIDIRECTIONAL, DMA_ATTR_SKIP_CPU_SYNC);
  return { k, m, d1, d2, page, va, a1, a2 };
}

describe("seed case: a 32-bit device bounces a buffer another device maps directly", () => {
  it("the devices see different copies: d1 (coherent) reads its stale bounce copy", () => {
    const { k, m, d1, d2, a1, a2, page } = shared("latest", false, 4096, 32, { d1: true });
    expect(pageToPhys(page)).toBeGreaterThanOrEqual(2 ** 32);
    expect(dmaAddressingLimited(d1)).toBe(true);
    expect(dmaMappingError(d1, a1)).toBe(false);
    expect(m.swiotlb!.start <= a1 && a1 < m.swiotlb!.end).toBe(true);
    expect(a2).toBe(pageToPhys(page));
    deviceWrite(d2, a2, bytes(64, Y)); // d2 produces a result in the buffer
    expect(deviceRead(d1, a1, 64)).toEqual(bytes(64, X)); // d1 consumes its private copy
    expect(codes(k)).toEqual([["stale-read", "stale-bounce-read"]]);
    expect(k.findings[0]!.summary).toMatch(/dev:d1/);
  });

  it("a non-coherent d1 does not even see its copy: SKIP_CPU_SYNC left it in the CPU cache", () => {
    const { k, d1, d2, a1, a2 } = shared("latest", false, 4096, 32);
    deviceWrite(d2, a2, bytes(64, Y));
    expect(deviceRead(d1, a1, 64)).toEqual(bytes(64, 0));
    expect(codes(k)).toEqual([["stale-read", "stale-bounce-read"]]);
  });

  it("before 5.17, SKIP_CPU_SYNC skipped even the copy-in: d1 reads an uninitialised slot", () => {
    const { k, d1, a1 } = shared("5.15", false, 4096, 32, { d1: true });
    expect(dmaMappingError(d1, a1)).toBe(false);
    expect(deviceRead(d1, a1, 64)).toEqual(bytes(64, 0));
    expect(codes(k)).toEqual([["stale-read", "stale-bounce-read"]]);
  });

  it("named patch: the SKIP_CPU_SYNC mapping is not bounced and fails, with the overflow warning", () => {
    const { k, d1, a1 } = shared("latest", true, 4096, 32);
    expect(a1).toBe(DMA_MAPPING_ERROR);
    expect(dmaMappingError(d1, a1)).toBe(true);
    expect(codes(k)).toEqual([["warn", "kernel/dma/direct.h:dma_direct_map_page"]]);
    expect(k.findings[0]!.summary).toMatch(/overflow \(mask ffffffff/);
  });

  it("a mapping without SKIP_CPU_SYNC still bounces under the named patch", () => {
    const { k, m } = boot("arm64-soc", {}, { options: { [DMA_DIRECT_SKIP_SYNC_NO_BOUNCE]: true } });
    const d1 = addDevice(m, { name: "d1", coherent: false, dmaMask: 32 });
    const page = allocPages(m, 0, GFP_KERNEL)!;
    const a = dmaMapPage(d1, page, 0, 64, DMA_BIDIRECTIONAL);
    expect(dmaMappingError(d1, a)).toBe(false);
    expect(m.swiotlb!.start <= a && a < m.swiotlb!.end).toBe(true);
    dmaUnmapPage(d1, a, 64, DMA_BIDIRECTIONAL);
    expect(codes(k)).toEqual([]);
  });
});

describe("seed case, kmalloc bouncing: a small buffer of a non-coherent device (6.5+)", () => {
  it("without the patch the SKIP_CPU_SYNC mapping bounces and the devices disagree", () => {
    const { k, m, d1, d2, a1, a2 } = shared("latest", false, 64, 64, { d2: true });
    expect(m.swiotlb!.start <= a1 && a1 < m.swiotlb!.end).toBe(true);
    deviceWrite(d2, a2, bytes(64, Y));
    expect(deviceRead(d1, a1, 64)).toEqual(bytes(64, 0)); // its copy is still in the CPU cache
    expect(codes(k)).toEqual([["stale-read", "stale-bounce-read"]]);
  });

  it("with the patch it maps the buffer itself: both devices see the same bytes", () => {
    const { k, d1, d2, a1, a2, page } = shared("latest", true, 64, 64, { d2: true });
    expect(a1).toBe(pageToPhys(page));
    deviceWrite(d2, a2, bytes(64, Y));
    expect(deviceRead(d1, a1, 64)).toEqual(bytes(64, Y));
    expect(codes(k)).toEqual([]);
  });
});

describe("H8: the bouncing device's copy back overwrites the other device's result", () => {
  it("unmapping d1 (no SKIP) copies its stale bounce over d2's data", () => {
    const { k, m } = boot("arm64-soc");
    const d1 = addDevice(m, { name: "d1", coherent: false, dmaMask: 32 });
    const d2 = addDevice(m, { name: "d2", coherent: false, dmaMask: 64 });
    const page = allocPages(m, 0, GFP_KERNEL)!;
    const va = pageAddress(m, page);
    cpuWrite(m, va, bytes(64, X));
    const a1 = dmaMapPage(d1, page, 0, 64, DMA_BIDIRECTIONAL);
    const a2 = dmaMapPageAttrs(d2, page, 0, 64, DMA_BIDIRECTIONAL, DMA_ATTR_SKIP_CPU_SYNC);
    expect([dmaMappingError(d1, a1), dmaMappingError(d2, a2)]).toEqual([false, false]);
    deviceWrite(d2, a2, bytes(64, Y));
    dmaUnmapPageAttrs(d2, a2, 64, DMA_BIDIRECTIONAL, DMA_ATTR_SKIP_CPU_SYNC);
    dmaUnmapPage(d1, a1, 64, DMA_BIDIRECTIONAL); // copies X back over Y
    expect(codes(k)).toContainEqual(["clobbered-write", "bounce-copy"]);
    expect(cpuRead(m, va, 64)).toEqual(bytes(64, X));
  });
});

describe("May 2024 review: the patch as posted (dma-skip-sync-no-kmalloc-bounce) against the stronger idea", () => {
  function posted(size: number, d1Mask: number, force = false) {
    const { k, m } = boot(
      "arm64-soc",
      { swiotlbForce: force },
      { options: { [DMA_SKIP_SYNC_NO_KMALLOC_BOUNCE]: true } },
    );
    const d1 = addDevice(m, { name: "d1", coherent: true, dmaMask: d1Mask });
    const d2 = addDevice(m, { name: "d2", coherent: false, dmaMask: 64 });
    const page = allocPages(m, 0, GFP_KERNEL)!;
    cpuWrite(m, pageAddress(m, page), bytes(size, X));
    const a2 = dmaMapPage(d2, page, 0, size, DMA_BIDIRECTIONAL);
    const a1 = dmaMapPageAttrs(d1, page, 0, size, DMA_BIDIRECTIONAL, DMA_ATTR_SKIP_CPU_SYNC);
    return { k, m, d1, d2, page, a1, a2 };
  }

  it("as posted: a small SKIP_CPU_SYNC mapping of a non-coherent device is no longer kmalloc-bounced", () => {
    const { k, m } = boot(
      "arm64-soc",
      {},
      { options: { [DMA_SKIP_SYNC_NO_KMALLOC_BOUNCE]: true } },
    );
    const d1 = addDevice(m, { name: "d1", coherent: false, dmaMask: 64 });
    const page = allocPages(m, 0, GFP_KERNEL)!;
    const a = dmaMapPageAttrs(d1, page, 0, 64, DMA_BIDIRECTIONAL, DMA_ATTR_SKIP_CPU_SYNC);
    expect(a).toBe(pageToPhys(page));
    expect(codes(k)).toEqual([]);
  });

  it("as posted: a 32-bit device still bounces the shared buffer: the devices see different copies (the objection)", () => {
    const { k, m, d1, d2, a1, a2, page } = posted(4096, 32);
    expect(pageToPhys(page)).toBeGreaterThanOrEqual(2 ** 32);
    expect(m.swiotlb!.start <= a1 && a1 < m.swiotlb!.end).toBe(true);
    deviceWrite(d2, a2, bytes(64, Y));
    expect(deviceRead(d1, a1, 64)).toEqual(bytes(64, X));
    expect(codes(k)).toEqual([["stale-read", "stale-bounce-read"]]);
  });

  it("as posted: swiotlb=force still bounces the shared buffer", () => {
    const { k, m, d1, d2, a1, a2 } = posted(4096, 64, true);
    expect(m.swiotlb!.start <= a1 && a1 < m.swiotlb!.end).toBe(true);
    deviceWrite(d2, a2, bytes(64, Y));
    expect(deviceRead(d1, a1, 64)).toEqual(bytes(64, X));
    expect(codes(k)).toEqual([["stale-read", "stale-bounce-read"]]);
  });

  it("the stronger idea: the 32-bit mapping fails instead of bouncing; under swiotlb=force the shared buffer is mapped itself", () => {
    for (const [mask, force] of [
      [32, false],
      [64, true],
    ] as const) {
      const { k, m } = boot(
        "arm64-soc",
        { swiotlbForce: force },
        { options: { [DMA_DIRECT_SKIP_SYNC_NO_BOUNCE]: true } },
      );
      const d1 = addDevice(m, { name: "d1", coherent: true, dmaMask: mask });
      const page = allocPages(m, 0, GFP_KERNEL)!;
      const a1 = dmaMapPageAttrs(d1, page, 0, 4096, DMA_BIDIRECTIONAL, DMA_ATTR_SKIP_CPU_SYNC);
      if (mask === 32) {
        expect(pageToPhys(page)).toBeGreaterThanOrEqual(2 ** 32);
        expect(dmaMappingError(d1, a1)).toBe(true);
        expect(codes(k).map((c) => c[0])).toEqual(["warn"]);
      } else {
        expect(a1).toBe(pageToPhys(page));
        expect(codes(k)).toEqual([]);
      }
    }
  });
});
