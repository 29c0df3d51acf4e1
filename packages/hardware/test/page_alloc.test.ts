import { describe, expect, it } from "vitest";
import { KernelBug, PAGE_SIZE, replayPolicy } from "@dmasim/kernel";
import type { Zone } from "../src/index";
import {
  GFP_ATOMIC,
  GFP_DMA,
  GFP_DMA32,
  GFP_KERNEL,
  MAX_PAGE_ORDER,
  __GFP_NOWARN,
  __GFP_ZERO,
  LINE_DIRTY,
  PageAllocator,
  allocPages,
  allocPagesBulk,
  allocPagesExact,
  cpuRead,
  freePages,
  freePagesExact,
  getOrder,
  pageAddress,
  pageToPhys,
  physToPage,
  physToVirt,
  virtToPhys,
} from "../src/index";
import { boot } from "./helpers";

const MiB = 1024 * 1024;

describe("zones and the page allocator", () => {
  it("x86-64 has DMA (16 MiB), DMA32 (4 GiB) and Normal zones", () => {
    const { m } = boot("x86-64");
    expect(
      m.pageAlloc.zones.map((z) => [z.name, z.startPfn * PAGE_SIZE, z.endPfn * PAGE_SIZE]),
    ).toEqual([
      ["DMA", 0, 16 * MiB],
      ["DMA32", 16 * MiB, 4096 * MiB],
      ["Normal", 4096 * MiB, 8192 * MiB],
    ]);
  });

  it("GFP flags pick zones; GFP_KERNEL prefers Normal", () => {
    const { m } = boot("rpi4");
    const dma = allocPages(m, 0, GFP_KERNEL | GFP_DMA)!;
    expect(pageToPhys(dma)).toBeLessThan(1024 * MiB);
    const d32 = allocPages(m, 0, GFP_KERNEL | GFP_DMA32)!;
    expect(pageToPhys(d32)).toBeGreaterThanOrEqual(1024 * MiB);
    expect(pageToPhys(d32)).toBeLessThan(4096 * MiB);
    const { m: x } = boot("x86-64");
    expect(pageToPhys(allocPages(x, 0, GFP_KERNEL)!)).toBeGreaterThanOrEqual(4096 * MiB);
  });

  it("arm64 without ZONE_DMA32 serves GFP_DMA32 from ZONE_DMA below 4 GiB", () => {
    const { m } = boot("arm64-soc");
    expect(pageToPhys(allocPages(m, 0, GFP_KERNEL | GFP_DMA32)!)).toBeLessThan(4096 * MiB);
  });

  it("a high-order block is contiguous and aligned to its order; orders 0..10", () => {
    const { m } = boot("arm64-soc");
    for (let order = 0; order <= MAX_PAGE_ORDER; order++) {
      const p = allocPages(m, order, GFP_KERNEL)!;
      expect(p.order).toBe(order);
      expect(p.pfn % (1 << order)).toBe(0);
    }
  });

  it("single pages are usually not physically contiguous", () => {
    const { m } = boot("arm64-soc");
    const pages = allocPagesBulk(m, GFP_KERNEL, 64);
    expect(pages).toHaveLength(64);
    let adjacent = 0;
    for (let i = 1; i < pages.length; i++) {
      if (pages[i]!.pfn === pages[i - 1]!.pfn + 1) {
        adjacent++;
      }
    }
    expect(adjacent).toBeLessThan(16);
    // fragmentation 0: a fresh buddy allocator hands out neighbours
    const { m: fresh } = boot("arm64-soc", { fragmentation: 0 });
    const seq = allocPagesBulk(fresh, GFP_KERNEL, 8).map((p) => p.pfn);
    expect(seq.every((pfn, i) => i === 0 || pfn === seq[i - 1]! + 1)).toBe(true);
  });

  it("placement is a choice point: option 1 takes the tail of the free list", () => {
    const { m } = boot("arm64-soc", { allocChoices: 2 }, replayPolicy([1]));
    const { m: m0 } = boot("arm64-soc", { allocChoices: 2 });
    expect(allocPages(m, 0, GFP_KERNEL)!.pfn).not.toBe(allocPages(m0, 0, GFP_KERNEL)!.pfn);
    expect(m.kernel.choice.records()[0]).toEqual({ kind: "alloc", count: 2, pick: 1 });
  });

  it("free merges buddies back", () => {
    const { m } = boot("arm64-soc", { fragmentation: 0 });
    const before = m.pageAlloc.freePages;
    const p = allocPages(m, 3, GFP_KERNEL)!;
    expect(m.pageAlloc.freePages).toBe(before - 8);
    freePages(m, p);
    expect(m.pageAlloc.freePages).toBe(before);
    const again = allocPages(m, 3, GFP_KERNEL)!;
    expect(again.pfn).toBe(p.pfn);
  });

  it("failure returns null with the kernel's warning; __GFP_NOWARN silences it", () => {
    const { k, m } = boot("armv6-vipt-aliasing", { ramSize: 8 * MiB, fragmentation: 0 });
    expect(allocPages(m, MAX_PAGE_ORDER, GFP_KERNEL)).not.toBeNull();
    expect(allocPages(m, MAX_PAGE_ORDER, GFP_KERNEL)).not.toBeNull();
    expect(allocPages(m, MAX_PAGE_ORDER, GFP_KERNEL)).toBeNull();
    expect(k.dmesg.format()).toMatch(/page allocation failure: order:10, mode:0xcc0\(GFP_KERNEL\)/);
    const lines = k.dmesg.format().split("\n").length;
    expect(allocPages(m, MAX_PAGE_ORDER, GFP_KERNEL | __GFP_NOWARN)).toBeNull();
    expect(k.dmesg.format().split("\n").length).toBe(lines);
    expect(k.findings).toEqual([]);
  });

  it("an order above MAX_PAGE_ORDER WARNs once and fails", () => {
    const { k, m } = boot("x86-64");
    expect(allocPages(m, 11, GFP_KERNEL)).toBeNull();
    expect(allocPages(m, 11, GFP_KERNEL)).toBeNull();
    expect(k.findings.filter((f) => f.kind === "warn")).toHaveLength(1);
  });

  it("__GFP_ZERO zeroes through the cacheable linear map: the lines are dirty", () => {
    const { m } = boot("arm64-soc");
    const p = allocPages(m, 1, GFP_KERNEL | __GFP_ZERO)!;
    const aliases = m.cache.aliasesOf(p.pfn);
    expect(aliases).toHaveLength(1);
    expect([...aliases[0]!.state].every((s) => s === LINE_DIRTY)).toBe(true);
    expect(m.cache.aliasesOf(p.pfn + 1)).toHaveLength(1);
    expect(cpuRead(m, pageAddress(m, p), 8)).toEqual(new Uint8Array(8));
  });

  it("a GFP_KERNEL allocation in atomic context is a sleep-in-atomic finding; GFP_ATOMIC is not", () => {
    const { k, m } = boot("x86-64");
    k.sched.current.preemptCount++;
    allocPages(m, 0, GFP_ATOMIC);
    expect(k.findings).toEqual([]);
    allocPages(m, 0, GFP_KERNEL);
    expect(k.findings.map((f) => f.code)).toEqual(["sleep-in-atomic"]);
  });

  it("double free is a BUG; a wrong order is a Bad page state WARN and frees nothing", () => {
    const { k, m } = boot("x86-64");
    const p = allocPages(m, 2, GFP_KERNEL)!;
    const free = m.pageAlloc.freePages;
    freePages(m, p, 1);
    expect(k.findings.at(-1)!.summary).toMatch(/Bad page state/);
    expect(m.pageAlloc.freePages).toBe(free);
    freePages(m, p);
    expect(() => freePages(m, p)).toThrow(KernelBug);
  });

  it("alloc_pages_exact frees the tail of the power-of-two block", () => {
    const { m } = boot("arm64-soc", { fragmentation: 0 });
    const before = m.pageAlloc.freePages;
    const va = allocPagesExact(m, 5 * PAGE_SIZE, GFP_KERNEL)!;
    expect(m.pageAlloc.freePages).toBe(before - 5);
    freePagesExact(m, va, 5 * PAGE_SIZE);
    expect(m.pageAlloc.freePages).toBe(before);
    expect(() => allocPagesExact(m, 0, GFP_KERNEL)).toThrow(/EINVAL/);
  });

  it("page and address conversions", () => {
    const { k, m } = boot("arm64-soc");
    const p = allocPages(m, 0, GFP_KERNEL)!;
    expect(physToPage(m, pageToPhys(p))).toBe(p);
    expect(virtToPhys(m, pageAddress(m, p))).toBe(pageToPhys(p));
    expect(physToVirt(m, m.config.ramBase)).toBe(2 ** 48);
    expect(getOrder(1)).toBe(0);
    expect(getOrder(PAGE_SIZE + 1)).toBe(1);
    expect(getOrder(5 * PAGE_SIZE)).toBe(3);
    virtToPhys(m, 0x1000);
    expect(k.findings.at(-1)!.summary).toMatch(/virt_to_phys used for non-linear address/);
  });

  it("the swiotlb pool is reserved: never handed out", () => {
    const { m } = boot("x86-64");
    const pool = m.swiotlb!;
    expect(m.pageAlloc.isReserved(pool.start / PAGE_SIZE)).toBe(true);
    expect(m.pageAlloc.isFree(pool.start / PAGE_SIZE)).toBe(false);
  });
});

describe("sparse memory", () => {
  it("8 GiB costs nothing until written; unwritten bytes read as zero", () => {
    const { m } = boot("x86-64");
    expect(m.footprint().total).toBe(0);
    expect(m.memory.read(5 * 1024 * MiB, 16)).toEqual(new Uint8Array(16));
    expect(m.footprint().touchedPages).toBe(0);
    m.memory.write(5 * 1024 * MiB + 4090, new Uint8Array(12).fill(3));
    expect(m.footprint().touchedPages).toBe(2);
    expect(m.memory.read(5 * 1024 * MiB + 4088, 16)).toEqual(
      new Uint8Array([0, 0, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 0, 0]),
    );
  });
});

describe("the boot image shared by machines of one platform", () => {
  /** A seeded workload of takes and frees on every zone; returns what it saw. */
  const workload = (pa: PageAllocator, seed: number): unknown[] => {
    let r = seed;
    const rnd = (): number => {
      r = (Math.imul(r, 1103515245) + 12345) & 0x7fffffff;
      return r / 0x80000000;
    };
    const live: [Zone, number, number][] = [];
    const log: unknown[] = [];
    for (let i = 0; i < 2000; i++) {
      if (live.length > 0 && rnd() < 0.4) {
        const [z, pfn, o] = live.splice(Math.floor(rnd() * live.length), 1)[0]!;
        pa.freeBlock(z, pfn, o);
      } else {
        const z = pa.zones[Math.floor(rnd() * pa.zones.length)]!;
        const o = rnd() < 0.7 ? 0 : Math.floor(rnd() * (MAX_PAGE_ORDER + 1));
        const pfn = pa.takeBlock(z, o);
        log.push(pfn);
        if (pfn >= 0) {
          live.push([z, pfn, o]);
        }
      }
    }
    log.push(
      pa.freePages,
      pa.zones.map((z) => [z.name, z.freePages, z.areas.map((a) => [a.count, a.head, a.tail])]),
    );
    return log;
  };

  for (const preset of ["arm64-soc", "x86-64", "armv6-vipt-aliasing"]) {
    it(`${preset}: a machine booted from the image allocates exactly as one booted page by page`, () => {
      const { k, m } = boot(preset);
      const reserved = m.swiotlb ? [{ start: m.swiotlb.start, end: m.swiotlb.end }] : [];
      const scratch = new PageAllocator(k, m.config, reserved, true);
      expect(workload(m.pageAlloc, 7)).toEqual(workload(scratch, 7));
    });
  }

  it("machines booted from one image share nothing mutable", () => {
    const { m: a } = boot("arm64-soc");
    const first = workload(a.pageAlloc, 3);
    const { m: b } = boot("arm64-soc");
    const { m: c } = boot("arm64-soc");
    expect(workload(b.pageAlloc, 3)).toEqual(first); // a's allocations did not leak into the image
    expect(workload(c.pageAlloc, 5)).not.toEqual(first);
    const taken = pageToPhys(allocPages(b, 0, GFP_KERNEL)!) / PAGE_SIZE;
    expect(b.pageAlloc.isFree(taken)).toBe(false);
    expect(boot("arm64-soc").m.pageAlloc.isFree(taken)).toBe(true);
    const { m: d } = boot("arm64-soc");
    expect(workload(d.pageAlloc, 3)).toEqual(first);
  });
});
