/**
 * Cases of the @dmasim/hardware operations: pages, CPU mappings and accesses, cache maintenance,
 * evictions and prefetches, and device accesses. `cam` is non-coherent: it sees memory only, so a
 * maintenance operation that does nothing leaves it (or the CPU) reading stale bytes.
 */
import { findVmArea, getMachine, isVmallocAddr, pageToPhys, virtToPhys } from "@dmasim/hardware";
import { expect } from "vitest";
import { NO_FINDINGS, ARM64, PAGES, T, probe, type OpCase } from "./harness";

/** parisc: a VIVT cache, where a vmap is a second cached alias of the same memory. */
const VIVT = `platform: { preset: parisc-vivt, cache_policy: none }
devices:
  - { name: cam, dma_mask: 64 }
setup:
  - alloc_pages: { gfp: GFP_KERNEL | __GFP_ZERO }
    as: buf
  - linear_map: buf
    as: lin
  - vmap: { pages: buf }
    as: alias
`;

export const HARDWARE_CASES: Readonly<Record<string, OpCase>> = {
  alloc_pages: {
    yaml: `${ARM64}steps:
  - alloc_pages: { order: 2, gfp: GFP_KERNEL | GFP_DMA32 }
    as: p
  - probe: { p: p }
`,
    probe: probe({ p: T.ref("pages") }, ({ p }, ctx) => {
      const page = p.pages[0];
      expect(p).toMatchObject({ order: 2, size: 4 * 4096 });
      expect(page && getMachine(ctx.kernel).pageAlloc.isFree(page.pfn)).toBe(false);
      expect(pageToPhys(page!) + p.size).toBeLessThanOrEqual(2 ** 32); // GFP_DMA32
    }),
  },
  alloc_pages_bulk: {
    yaml: `${ARM64}steps:
  - alloc_pages_bulk: { count: 3 }
    as: p
  - probe: { p: p }
`,
    probe: probe({ p: T.ref("pages") }, ({ p }, ctx) => {
      expect(p.pages).toHaveLength(3);
      expect(new Set(p.pages.map((pg) => pg.pfn)).size).toBe(3);
      const m = getMachine(ctx.kernel);
      expect(p.pages.every((pg) => !m.pageAlloc.isFree(pg.pfn))).toBe(true);
    }),
  },
  free_pages: {
    // a device reading the freed pages is a use-after-free
    yaml: `${PAGES}steps:
  - free_pages: buf
  - probe: { p: buf }
  - device_read: { device: gpu, pages: buf, len: 4 }
    expect: { findings: use-after-free }
`,
    probe: probe({ p: T.ref("pages") }, ({ p }, ctx) => {
      expect(getMachine(ctx.kernel).pageAlloc.isFree(p.pages[0]!.pfn)).toBe(true);
    }),
  },
  linear_map: {
    yaml: `${PAGES}steps:
  - probe: { p: buf, m: lin }
  - cpu_write: { mapping: lin, offset: 4096, data: "5a" }
  - device_read: { device: gpu, pages: buf, offset: 4096, len: 1 }
    expect: { value: "5a" }
`,
    probe: probe({ p: T.ref("pages"), m: T.ref("mapping") }, ({ p, m }, ctx) => {
      expect(m).toMatchObject({ kind: "linear", size: 8192, prot: "cacheable" });
      const va = m.segments[0]!.va;
      expect(virtToPhys(getMachine(ctx.kernel), va)).toBe(pageToPhys(p.pages[0]!));
    }),
  },
  vmap: {
    // a cacheable vmap on a PIPT cache: the same lines as the linear map
    yaml: `${PAGES}steps:
  - vmap: { pages: buf }
    as: v
  - probe: { m: v }
  - cpu_write: { mapping: v, offset: 4100, data: "01 02" }
  - cpu_read: { mapping: lin, offset: 4100, len: 2 }
    expect: { value: "01 02" }
  - vunmap: v
`,
    probe: probe({ m: T.ref("mapping") }, ({ m }, ctx) => {
      const va = m.segments[0]!.va;
      expect(isVmallocAddr(va)).toBe(true);
      expect(findVmArea(getMachine(ctx.kernel), va)).toBeDefined();
    }),
  },
  vunmap: {
    // a kernel access of the address afterwards is a paging fault: an oops
    yaml: `${PAGES}steps:
  - vmap: { pages: buf }
    as: v
  - vunmap: v
  - probe: { m: v }
  - cpu_read: { mapping: v, len: 1 }
    expect: { findings: bug }
`,
    probe: probe({ m: T.ref("mapping") }, ({ m }, ctx) => {
      expect(findVmArea(getMachine(ctx.kernel), m.segments[0]!.va)).toBeUndefined();
    }),
  },
  cpu_write: {
    // the coherent gpu snoops the CPU's dirty line
    yaml: `${PAGES}steps:
  - cpu_write: { mapping: lin, offset: 100, data: "aa bb cc" }
  - device_read: { device: gpu, pages: buf, offset: 100, len: 3 }
    expect: { value: "aa bb cc" }
`,
  },
  cpu_read: {
    // the coherent gpu's write invalidates the CPU's lines (the zeroing left them cached)
    yaml: `${PAGES}steps:
  - device_write: { device: gpu, pages: buf, offset: 64, data: "71 72" }
  - cpu_read: { mapping: lin, offset: 64, len: 2 }
    expect: { value: "71 72" }
`,
  },
  dcache_clean_poc: {
    yaml: `${PAGES}steps:
  - cpu_write: { mapping: lin, data: "aa" }
  - dcache_clean_poc: { mapping: lin, len: 64 }
  - device_read: { device: cam, pages: buf, len: 1 }
    expect: { value: "aa" }
${NO_FINDINGS}`,
  },
  dcache_inval_poc: {
    yaml: `${PAGES}steps:
  - cpu_read: { mapping: lin, len: 1 }
  - device_write: { device: cam, pages: buf, data: "bb" }
  - dcache_inval_poc: { mapping: lin, len: 64 }
  - cpu_read: { mapping: lin, len: 1 }
    expect: { value: "bb" }
${NO_FINDINGS}`,
  },
  dcache_clean_inval_poc: {
    // the clean puts the CPU's byte in memory, the invalidate makes the device's next write visible
    yaml: `${PAGES}steps:
  - cpu_write: { mapping: lin, data: "aa" }
  - dcache_clean_inval_poc: { mapping: lin, len: 64 }
  - device_read: { device: cam, pages: buf, len: 1 }
    expect: { value: "aa" }
  - device_write: { device: cam, pages: buf, data: "cc" }
  - cpu_read: { mapping: lin, len: 1 }
    expect: { value: "cc" }
${NO_FINDINGS}`,
  },
  flush_kernel_vmap_range: {
    yaml: `${VIVT}steps:
  - cpu_write: { mapping: alias, data: "f1" }
  - flush_kernel_vmap_range: { mapping: alias, len: 64 }
  - device_read: { device: cam, pages: buf, len: 1 }
    expect: { value: "f1" }
  - vunmap: alias
${NO_FINDINGS}`,
  },
  invalidate_kernel_vmap_range: {
    yaml: `${VIVT}steps:
  - cpu_read: { mapping: alias, len: 1 }
  - device_write: { device: cam, pages: buf, data: "d1" }
  - invalidate_kernel_vmap_range: { mapping: alias, len: 64 }
  - cpu_read: { mapping: alias, len: 1 }
    expect: { value: "d1" }
  - vunmap: alias
${NO_FINDINGS}`,
  },
  evict: {
    // the eviction writes the dirty line back: the non-coherent device then sees it
    yaml: `${PAGES}steps:
  - cpu_write: { mapping: lin, data: "ee" }
  - evict: { mapping: lin, len: 64 }
  - device_read: { device: cam, pages: buf, len: 1 }
    expect: { value: "ee" }
${NO_FINDINGS}`,
  },
  prefetch: {
    // the prefetched line is stale once the device writes memory (nothing cached it before: no
    // zeroing)
    yaml: `${ARM64}setup:
  - alloc_pages: {}
    as: buf
  - linear_map: buf
    as: lin
steps:
  - prefetch: { mapping: lin, len: 64 }
  - device_write: { device: cam, pages: buf, data: "ff" }
  - cpu_read: { mapping: lin, len: 1 }
    expect: { value: "00", findings: stale-read }
expect:
  findings: [{ kind: stale-read }]
`,
  },
  device_write: {
    yaml: `${PAGES}steps:
  - device_write: { device: gpu, pages: buf, offset: 4094, data: "01 02 03 04" }
  - cpu_read: { mapping: lin, offset: 4094, len: 4 }
    expect: { value: "01 02 03 04" }
`,
  },
  device_read: {
    yaml: `${PAGES}steps:
  - device_write: { device: gpu, pages: buf, offset: 8, data: "0d 0e" }
  - device_read: { device: cam, pages: buf, offset: 8, len: 2 }
    expect: { value: "0d 0e" }
`,
  },
};
