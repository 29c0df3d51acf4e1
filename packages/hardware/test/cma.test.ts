import { describe, expect, it } from "vitest";
import { KernelBug, PAGE_SIZE, isKernelError } from "@dmasim/kernel";
import {
  CMA_MIN_ALIGNMENT_PAGES,
  GFP_KERNEL,
  MAX_CMA_AREAS,
  __GFP_NOWARN,
  addDevice,
  allocPages,
  cmaAlloc,
  cmaAreas,
  cmaDeclareContiguous,
  cmaGetBase,
  cmaGetName,
  cmaGetSize,
  cmaRelease,
  deviceWrite,
  dmaContiguousDefaultArea,
  physToDma,
  resolvePlatform,
} from "../src/index";
import { boot } from "./helpers";

const MiB = 1024 * 1024;

function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (e) {
    return e;
  }
  return undefined;
}

describe("CMA areas (mm/cma.c)", () => {
  it("the default area is cmaSize bytes, reserved top-down below the arm64 DMA limit", () => {
    const { k, m } = boot("arm64-soc");
    const cma = dmaContiguousDefaultArea(k)!;
    expect(cmaGetName(cma)).toBe("reserved");
    expect(cmaGetSize(cma)).toBe(16 * MiB);
    const base = cmaGetBase(cma);
    expect(base % (CMA_MIN_ALIGNMENT_PAGES * PAGE_SIZE)).toBe(0);
    expect(base + 16 * MiB).toBeLessThanOrEqual(m.config.zoneDmaLimit);
    // the highest free aligned range: nothing free above it in that zone would have fitted
    expect(base).toBeGreaterThan(m.config.zoneDmaLimit - 256 * MiB);
    expect(dmaContiguousDefaultArea(k)).toBe(cma); // reserved once
    expect(cmaAreas(k)).toEqual([cma]);
    expect(k.dmesg.format()).toMatch(/cma: Reserved 16 MiB at 0x/);
  });

  it("no default area with cmaSize 0", () => {
    const { k } = boot("x86-64", { cmaSize: 0 });
    expect(dmaContiguousDefaultArea(k)).toBeNull();
  });

  it("cmaSize must be a multiple of the 4 MiB area alignment", () => {
    expect(() => resolvePlatform("x86-64", { cmaSize: 3 * MiB })).toThrow(/cmaSize/);
  });

  it("the buddy allocator never hands out the area's pages, even when memory runs out", () => {
    const { k, m } = boot("armv6-vipt-aliasing", { fragmentation: 0 });
    const cma = cmaDeclareContiguous(m, { size: 8 * MiB });
    const lo = cma.basePfn;
    const hi = cma.basePfn + cma.count;
    let n = 0;
    for (let p = allocPages(m, 10, GFP_KERNEL | __GFP_NOWARN); p;) {
      expect(p.pfn + 1024 <= lo || p.pfn >= hi).toBe(true);
      n++;
      p = allocPages(m, 10, GFP_KERNEL | __GFP_NOWARN);
    }
    expect(n).toBe(256 - 2); // 1 GiB of 4 MiB blocks, minus the area
    expect(cmaAlloc(cma, cma.count, 0)).not.toBeNull(); // the whole area is still there
    expect(k.findings).toEqual([]);
  });

  it("cma_alloc hands out contiguous, aligned runs, first fit, and cma_release takes them back", () => {
    const { k, m } = boot("arm64-soc");
    const cma = dmaContiguousDefaultArea(k)!;
    const a = cmaAlloc(cma, 3, 0)!;
    expect(a.pfn).toBe(cma.basePfn);
    const b = cmaAlloc(cma, 16, 4)!; // 64 KiB aligned
    expect(b.pfn % 16).toBe(0);
    expect(b.pfn).toBe(cma.basePfn + 16);
    const c = cmaAlloc(cma, 1, 0)!;
    expect(c.pfn).toBe(cma.basePfn + 3); // fills the hole after a
    expect(cma.availableCount).toBe(cma.count - 20);
    expect(m.pageAlloc.isFree(b.pfn + 5)).toBe(false);
    expect(cmaRelease(cma, b, 16)).toBe(true);
    expect(m.pageAlloc.isFree(b.pfn + 5)).toBe(true);
    expect(cma.availableCount).toBe(cma.count - 4);
    expect(cmaAlloc(cma, 16, 4)!.pfn).toBe(b.pfn);
  });

  it("cma_alloc returns null for 0 pages, and for a request the area cannot hold (with the error)", () => {
    const { m } = boot("arm64-soc");
    const cma = cmaDeclareContiguous(m, { size: 4 * MiB, name: "small" });
    expect(cmaAlloc(cma, 0, 0)).toBeNull();
    expect(cmaAlloc(cma, cma.count + 1, 0, true)).toBeNull();
    expect(m.kernel.dmesg.format()).not.toMatch(/alloc failed/);
    expect(cmaAlloc(cma, cma.count, 0)).not.toBeNull();
    expect(cmaAlloc(cma, 1, 0)).toBeNull();
    expect(m.kernel.dmesg.format()).toMatch(
      /cma_alloc: small: alloc failed, req-size: 1 pages, ret: -12/,
    );
  });

  it("order_per_bit: a bit covers 2^order pages", () => {
    const { m } = boot("arm64-soc");
    const cma = cmaDeclareContiguous(m, { size: 4 * MiB, orderPerBit: 2 });
    const a = cmaAlloc(cma, 1, 0)!;
    const b = cmaAlloc(cma, 1, 0)!;
    expect(b.pfn - a.pfn).toBe(4);
  });

  it("cma_release refuses pages outside the area, BUGs past its end and on a double release", () => {
    const { m } = boot("arm64-soc");
    const cma = cmaDeclareContiguous(m, { size: 4 * MiB });
    const other = allocPages(m, 0, GFP_KERNEL)!;
    expect(cmaRelease(cma, other, 1)).toBe(false);
    expect(cmaRelease(cma, null, 1)).toBe(false);
    const p = cmaAlloc(cma, 2, 0)!;
    expect(thrown(() => cmaRelease(cma, p, cma.count + 1))).toBeInstanceOf(KernelBug);
    const { m: m2 } = boot("arm64-soc");
    const c2 = cmaDeclareContiguous(m2, { size: 4 * MiB });
    const q = cmaAlloc(c2, 2, 0)!;
    expect(cmaRelease(c2, q, 2)).toBe(true);
    expect(thrown(() => cmaRelease(c2, q, 2))).toBeInstanceOf(KernelBug);
  });

  it("a device writing a released CMA page is a use-after-free", () => {
    const { k, m } = boot("arm64-soc");
    const dev = addDevice(m, { name: "cam" });
    const cma = dmaContiguousDefaultArea(k)!;
    const p = cmaAlloc(cma, 1, 0)!;
    deviceWrite(dev, physToDma(dev, p.pfn * PAGE_SIZE), new Uint8Array(8).fill(1));
    expect(k.findings).toEqual([]);
    cmaRelease(cma, p, 1);
    deviceWrite(dev, physToDma(dev, p.pfn * PAGE_SIZE), new Uint8Array(8).fill(2));
    expect(k.findings.map((f) => f.code)).toEqual(["dma-write-free-page"]);
  });

  it("declaration errors: size, alignment, fixed ranges in use, too many areas, no room", () => {
    const { m } = boot("arm64-soc");
    const code = (fn: () => unknown): string | undefined => {
      const e = thrown(fn);
      return isKernelError(e) ? e.code : undefined;
    };
    expect(code(() => cmaDeclareContiguous(m, { size: 0 }))).toBe("EINVAL");
    expect(code(() => cmaDeclareContiguous(m, { size: MiB }))).toBe("EINVAL");
    expect(code(() => cmaDeclareContiguous(m, { size: 4 * MiB, base: 0x4000_1000 }))).toBe(
      "EINVAL",
    );
    expect(code(() => cmaDeclareContiguous(m, { size: 4 * MiB, base: 0x10_0000_0000 }))).toBe(
      "EINVAL",
    );
    const fixed = cmaDeclareContiguous(m, { size: 4 * MiB, base: 0x8000_0000 });
    expect(cmaGetBase(fixed)).toBe(0x8000_0000);
    expect(code(() => cmaDeclareContiguous(m, { size: 4 * MiB, base: 0x8000_0000 }))).toBe("EBUSY");
    expect(code(() => cmaDeclareContiguous(m, { size: 8 * 1024 * MiB }))).toBe("ENOMEM");
    for (let i = 1; i < MAX_CMA_AREAS; i++) {
      cmaDeclareContiguous(m, { size: 4 * MiB });
    }
    expect(code(() => cmaDeclareContiguous(m, { size: 4 * MiB }))).toBe("ENOSPC");
  });
});

describe("CMA and the state digest", () => {
  it("an allocation and its release change the digest", () => {
    const { k } = boot("arm64-soc");
    const cma = dmaContiguousDefaultArea(k)!;
    const before = k.stateDigest();
    const p = cmaAlloc(cma, 4, 0)!;
    const during = k.stateDigest();
    expect(during).not.toBe(before);
    cmaRelease(cma, p, 4);
    expect(k.stateDigest()).not.toBe(during);
  });
});
