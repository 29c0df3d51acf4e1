/**
 * The era table of the DMA mapping layer (its own file so that every file of the layer can ask it
 * without an import cycle through the module).
 *
 * **Kernel:** the version boundaries of kernel/dma and arch/arm64/mm/dma-mapping.c.
 *
 * @module
 */
import { defineEras } from "@dmasim/kernel";

/**
 * The DMA mapping layer's history: each behaviour kernel/dma and the arch code changed over time,
 * named once with its boundary and the commit or release that drew it. Ask an entry
 * (`DMA_MAPPING_ERAS.swiotlbCopyInAlways(kernel)`), never the version.
 *
 * **Kernel:** kernel/dma/{mapping,direct,swiotlb,debug}.c, drivers/iommu/dma-iommu.c and
 * arch/arm64/mm/dma-mapping.c as of each release.
 *
 * @internal
 */
export const DMA_MAPPING_ERAS = defineEras("dma-mapping", {
  debugCachelineEexist: {
    since: "5.14",
    summary:
      'dma-debug reports "cacheline tracking EEXIST, overlapping mappings aren\'t supported"',
    citation:
      '2b4bbc6231d7 "dma-debug: report -EEXIST errors in add_dma_entry" (dma-mapping-5.14 pull, v5.14)',
  },
  debugEexistSkipCpuSync: {
    since: "5.15",
    summary:
      "dma-debug excuses an overlapping DMA_ATTR_SKIP_CPU_SYNC mapping from the EEXIST report",
    citation:
      'c2bbf9d1e9ac "dma-debug: teach add_dma_entry() about DMA_ATTR_SKIP_CPU_SYNC" (v5.15-rc6)',
  },
  swiotlbCopyInAlways: {
    since: "5.17",
    summary:
      "swiotlb copies the original into the slot at map for every direction (FROM_DEVICE too)",
    citation:
      'ddbd89deb7d3 "swiotlb: fix info leak with DMA_FROM_DEVICE" (v5.17); reworked by aa6f8dcbab47 and "Reinstate some of swiotlb: rework fix info leak" (v5.18-v5.19), same copy-in',
  },
  mapSingleWarnsVmalloc: {
    since: "5.18",
    summary: "dma_map_single() of a vmalloc address WARNs once and fails",
    citation: "include/linux/dma-mapping.h dma_map_single_attrs() is_vmalloc_addr check (v5.18)",
  },
  arm64CleanOnlyForDevice: {
    since: "5.19",
    summary:
      "arm64 arch_sync_dma_for_device() only cleans (FROM_DEVICE invalidated before); arch_dma_prep_coherent() cleans instead of clean+invalidate",
    citation:
      'c50f11c6196f "arm64: mm: Don\'t invalidate FROM_DEVICE buffers at start of DMA transfer" (v5.19)',
  },
  bounceUnalignedKmalloc: {
    since: "6.5",
    summary:
      "arm64 bounces small, cache-line-unaligned kmalloc buffers of non-coherent devices through swiotlb",
    citation:
      'Catalin Marinas\'s "mm, dma, arm64: Reduce ARCH_KMALLOC_MINALIGN to 8" series, CONFIG_DMA_BOUNCE_UNALIGNED_KMALLOC (v6.5)',
  },
  sgDmaSwiotlbFlag: {
    since: "6.5",
    summary:
      "dma-iommu marks a bounced scatterlist with SG_DMA_SWIOTLB (untrusted devices only before)",
    citation:
      "SG_DMA_SWIOTLB set by iommu_dma_map_sg() for bounced lists (v6.5, with the kmalloc bouncing series)",
  },
  devSkipSync: {
    since: "6.10",
    summary: "dev->dma_skip_sync: syncs of a coherent device without swiotlb use are skipped",
    citation: '32ba8b823252 "dma: avoid redundant calls for sync operations" (v6.10)',
  },
});
