/**
 * Cases of the @dmasim/dma-mapping operations. On arm64 `cam` is not coherent: mapping for the
 * device cleans, unmapping or syncing for the CPU invalidates; a map, sync or unmap that does
 * nothing leaves the device or the CPU reading stale bytes (the zeroing of `buf` left its lines in
 * the cache).
 */
import { DMA_BIT_MASK } from "@dmasim/hardware";
import { SIZE_MAX, dmaDebugEntries, sgDmaLen } from "@dmasim/dma-mapping";
import { expect } from "vitest";
import { NO_FINDINGS, ARM64, PAGES, T, probe, type OpCase } from "./harness";

const MAPPED_SGT = `${PAGES}  - sg_alloc_table_from_pages: buf
    as: sgt
`;

/** A BIDIRECTIONAL mapping `d` of the first line of `buf`, by `dma_map_single` or as an sg table. */
function mapped(kind: "single" | "sgtable"): { map: string; unmap: string } {
  return kind === "single"
    ? {
        map: `${PAGES}steps:
  - dma_map_single: { device: cam, mapping: lin, size: 64, dir: DMA_BIDIRECTIONAL }
    as: d
  - dma_mapping_error: d
`,
        unmap: "  - dma_unmap: d\n",
      }
    : {
        map: `${MAPPED_SGT}steps:
  - dma_map_sgtable: { device: cam, sgt: sgt, dir: DMA_BIDIRECTIONAL }
    as: d
`,
        unmap: "  - dma_unmap_sgtable: d\n  - sg_free_table: sgt\n",
      };
}

/** The sync for the CPU invalidates its cached line: it then reads what the device wrote. */
function syncForCpu(kind: "single" | "sgtable"): OpCase {
  const { map, unmap } = mapped(kind);
  return {
    yaml: `${map}  - cpu_read: { mapping: lin, len: 1 }
  - device_write: { device: cam, dma: d, data: "c1" }
  - dma_sync_${kind}_for_cpu: d
  - cpu_read: { mapping: lin, len: 1 }
    expect: { value: "c1" }
${unmap}${NO_FINDINGS}`,
  };
}

/** The sync for the device cleans the CPU's dirty line: the device then reads what it wrote. */
function syncForDevice(kind: "single" | "sgtable"): OpCase {
  const { map, unmap } = mapped(kind);
  return {
    yaml: `${map}  - cpu_write: { mapping: lin, data: "d1" }
  - dma_sync_${kind}_for_device: d
  - device_read: { device: cam, dma: d, len: 1 }
    expect: { value: "d1" }
${unmap}${NO_FINDINGS}`,
  };
}

export const DMA_MAPPING_CASES: Readonly<Record<string, OpCase>> = {
  dma_map_single: {
    // the map cleans the CPU's dirty line for the device; dma-debug tracks the mapping
    yaml: `${PAGES}steps:
  - cpu_write: { mapping: lin, offset: 64, data: "aa 55" }
  - dma_map_single: { device: cam, mapping: lin, offset: 64, size: 64, dir: DMA_TO_DEVICE }
    as: d
  - dma_mapping_error: d
    expect: { value: false }
  - probe: { d: d }
  - device_read: { device: cam, dma: d, len: 2 }
    expect: { value: "aa 55" }
  - dma_unmap: d
${NO_FINDINGS}`,
    probe: probe({ d: T.ref("dma_mapping") }, ({ d }) => {
      expect(d).toMatchObject({ kind: "single", size: 64, dir: 1 });
      expect(dmaDebugEntries(d.dev).map((e) => e.devAddr)).toEqual([d.addr]);
    }),
  },
  dma_map_page: {
    yaml: `${PAGES}steps:
  - cpu_write: { mapping: lin, offset: 4096, data: "a1" }
  - dma_map_page: { device: cam, pages: buf, offset: 4096, size: 128, dir: DMA_BIDIRECTIONAL }
    as: d
  - dma_mapping_error: d
    expect: { value: false }
  - device_read: { device: cam, dma: d, len: 1 }
    expect: { value: "a1" }
  - dma_unmap: d
${NO_FINDINGS}`,
  },
  dma_mapping_error: {
    // dma-debug records the check: without it the unmap is an error (h21)
    yaml: `${PAGES}steps:
  - dma_map_single: { device: cam, mapping: lin, size: 64, dir: DMA_TO_DEVICE }
    as: d
  - dma_mapping_error: d
    expect: { value: false }
  - dma_unmap: d
${NO_FINDINGS}`,
  },
  dma_unmap: {
    yaml: `${PAGES}steps:
  - dma_map_single: { device: cam, mapping: lin, size: 64, dir: DMA_FROM_DEVICE }
    as: d
  - dma_mapping_error: d
  - device_write: { device: cam, dma: d, data: "0f" }
  - dma_unmap: d
  - probe: { d: d }
  - cpu_read: { mapping: lin, len: 1 }
    expect: { value: "0f" }
${NO_FINDINGS}`,
    probe: probe({ d: T.ref("dma_mapping") }, ({ d }) => {
      expect(d.unmapped).toBe(true);
      expect(dmaDebugEntries(d.dev)).toEqual([]);
    }),
  },
  dma_sync_single_for_cpu: syncForCpu("single"),
  dma_sync_single_for_device: syncForDevice("single"),
  sg_alloc_table_from_pages: {
    // the two pages of the order-1 block are contiguous: one entry
    yaml: `${MAPPED_SGT}steps:
  - probe: { sgt: sgt }
  - sg_free_table: sgt
`,
    probe: probe({ sgt: T.ref("sg_table") }, ({ sgt }) => {
      expect(sgt.origNents).toBe(1);
      expect(sgt.sgl[0]?.length).toBe(8192);
    }),
  },
  sg_free_table: {
    yaml: `${MAPPED_SGT}steps:
  - sg_free_table: sgt
  - probe: { sgt: sgt }
`,
    probe: probe({ sgt: T.ref("sg_table") }, ({ sgt }) => {
      expect(sgt.origNents).toBe(0);
      expect(sgt.sgl).toEqual([]);
    }),
  },
  dma_map_sgtable: {
    yaml: `${MAPPED_SGT}steps:
  - cpu_write: { mapping: lin, offset: 4095, data: "11 22" }
  - dma_map_sgtable: { device: cam, sgt: sgt, dir: DMA_TO_DEVICE }
    as: m
  - probe: { m: m }
  - device_read: { device: cam, dma: m, offset: 4095, len: 2 }
    expect: { value: "11 22" }
  - dma_unmap_sgtable: m
  - sg_free_table: sgt
${NO_FINDINGS}`,
    probe: probe({ m: T.ref("sg_mapping") }, ({ m }) => {
      expect(m.sgt.nents).toBe(1);
      expect(sgDmaLen(m.sgt.sgl[0]!)).toBe(8192);
    }),
  },
  dma_unmap_sgtable: {
    yaml: `${MAPPED_SGT}steps:
  - dma_map_sgtable: { device: cam, sgt: sgt, dir: DMA_FROM_DEVICE }
    as: m
  - device_write: { device: cam, dma: m, offset: 8000, data: "e1" }
  - dma_unmap_sgtable: m
  - probe: { m: m }
  - cpu_read: { mapping: lin, offset: 8000, len: 1 }
    expect: { value: "e1" }
  - sg_free_table: sgt
${NO_FINDINGS}`,
    probe: probe({ m: T.ref("sg_mapping") }, ({ m }) => {
      expect(m.unmapped).toBe(true);
      expect(dmaDebugEntries(m.dev)).toEqual([]);
    }),
  },
  dma_sync_sgtable_for_cpu: syncForCpu("sgtable"),
  dma_sync_sgtable_for_device: syncForDevice("sgtable"),
  dma_set_mask_and_coherent: {
    yaml: `${ARM64}steps:
  - dma_addressing_limited: cam
    expect: { value: false }
  - dma_set_mask_and_coherent: { device: cam, bits: 32 }
  - probe: { dev: cam }
  - dma_addressing_limited: cam
    expect: { value: true }
`,
    probe: probe({ dev: T.ref("device") }, ({ dev }) => {
      expect(dev.dmaMask).toBe(DMA_BIT_MASK(32));
    }),
  },
  dma_addressing_limited: {
    // arm64-soc has RAM above 4 GiB: a 32-bit device cannot reach all of it
    yaml: `platform: { preset: arm64-soc, cache_policy: none }
devices:
  - { name: d32, dma_mask: 32 }
  - { name: d64, dma_mask: 64 }
steps:
  - dma_addressing_limited: d32
    expect: { value: true }
  - dma_addressing_limited: d64
    expect: { value: false }
`,
  },
  dma_max_mapping_size: {
    // a device that may bounce is limited to what one swiotlb mapping holds (256 KiB); one that
    // never bounces has no limit (SIZE_MAX)
    yaml: `platform: { preset: arm64-soc, cache_policy: none }
devices:
  - { name: d32, dma_mask: 32 }
  - { name: d64, dma_mask: 64 }
steps:
  - dma_max_mapping_size: d32
    expect: { value: 262144 }
  - dma_max_mapping_size: d64
    expect: { value: ${SIZE_MAX} }
`,
  },
  dma_alloc_coherent: {
    yaml: `${ARM64}steps:
  - dma_alloc_coherent: { device: cam, size: 8192 }
    as: c
  - probe: { c: c }
  - device_write: { device: cam, dma: c, offset: 4096, data: "c0 de" }
  - dma_coherent_cpu_map: c
    as: cpu
  - cpu_read: { mapping: cpu, offset: 4096, len: 2 }
    expect: { value: "c0 de" }
  - dma_free_coherent: c
${NO_FINDINGS}`,
    probe: probe({ c: T.ref("dma_mapping") }, ({ c }) => {
      expect(c).toMatchObject({ kind: "coherent", size: 8192 });
      expect(c.cpuAddr).toBeDefined();
      expect(dmaDebugEntries(c.dev).map((e) => e.type)).toEqual(["coherent"]);
    }),
  },
  dma_coherent_cpu_map: {
    // the CPU mapping of a non-coherent device's coherent memory is uncached: no sync needed
    yaml: `${ARM64}steps:
  - dma_alloc_coherent: { device: cam, size: 4096 }
    as: c
  - dma_coherent_cpu_map: c
    as: cpu
  - probe: { m: cpu }
  - cpu_write: { mapping: cpu, data: "5c" }
  - device_read: { device: cam, dma: c, len: 1 }
    expect: { value: "5c" }
  - dma_free_coherent: c
${NO_FINDINGS}`,
    probe: probe({ m: T.ref("mapping") }, ({ m }) => {
      expect(m).toMatchObject({ kind: "vmap", size: 4096, prot: "uncached" });
    }),
  },
  dma_free_coherent: {
    // the memory is freed: the device touching it afterwards is a use-after-free
    yaml: `${ARM64}steps:
  - dma_alloc_coherent: { device: cam, size: 4096 }
    as: c
  - dma_free_coherent: c
  - probe: { c: c }
  - device_read: { device: cam, dma: c, len: 1 }
    expect: { findings: use-after-free }
`,
    probe: probe({ c: T.ref("dma_mapping") }, ({ c }) => {
      expect(c.unmapped).toBe(true);
      expect(dmaDebugEntries(c.dev)).toEqual([]);
    }),
  },
};
