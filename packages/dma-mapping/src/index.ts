/**
 * @dmasim/dma-mapping — layer 2 of dmasim: the DMA mapping API. Streaming mappings of pages,
 * single buffers, scatterlists and sg tables with their syncs and attributes; coherent
 * allocations; dma-direct with swiotlb bouncing and each architecture's cache maintenance;
 * dma-iommu with IOVAs, permissions, sg merging and strict or lazy unmap; scatterlists and sg
 * tables; DMA-API debugging.
 *
 * @packageDocumentation
 */
export {
  DMA_BIDIRECTIONAL,
  DMA_FROM_DEVICE,
  DMA_NONE,
  DMA_TO_DEVICE,
  dmaDirName,
  validDmaDirection,
  type DmaDataDirection,
} from "./include/dma-direction";
export {
  DMA_ATTR_ALLOC_SINGLE_PAGES,
  DMA_ATTR_FORCE_CONTIGUOUS,
  DMA_ATTR_NON_CONSISTENT,
  DMA_ATTR_NO_KERNEL_MAPPING,
  DMA_ATTR_NO_WARN,
  DMA_ATTR_PRIVILEGED,
  DMA_ATTR_SKIP_CPU_SYNC,
  DMA_ATTR_WEAK_ORDERING,
  DMA_ATTR_WRITE_COMBINE,
  DMA_MAPPING_ERROR,
  SIZE_MAX,
} from "./include/dma-mapping";
export { dmaCapable } from "./include/dma-direct";
export {
  dmaKmallocNeedsBounce,
  dmaKmallocSafe,
  dmaKmallocSizeAligned,
  kmallocSizeRoundup,
} from "./include/dma-map-ops";
export {
  CONFIG_DMA_API_DEBUG,
  CONFIG_DMA_API_DEBUG_SG,
  CONFIG_DMA_BOUNCE_UNALIGNED_KMALLOC,
  DMA_DIRECT_SKIP_SYNC_NO_BOUNCE,
  DMA_SKIP_SYNC_NO_KMALLOC_BOUNCE,
  DMA_MAPPING_MODULE,
  type DevDmaState,
} from "./module";
export {
  SG_DMA_BUS_ADDRESS,
  SG_DMA_SWIOTLB,
  SG_MAX_ENTRIES,
  Scatterlist,
  SgTable,
  forEachSg,
  forEachSgtableDmaSg,
  forEachSgtableSg,
  sgAllocTable,
  sgAllocTableFromPages,
  sgAllocTableFromPagesSegment,
  sgDmaAddress,
  sgDmaIsBusAddress,
  sgDmaIsSwiotlb,
  sgDmaLen,
  sgDmaMarkBusAddress,
  sgDmaMarkSwiotlb,
  sgDmaUnmarkBusAddress,
  sgFreeTable,
  sgInitTable,
  sgPage,
  sgPhys,
  sgSetPage,
  sgVirt,
} from "./scatterlist";
export {
  archDmaMinalign,
  archDmaPrepCoherent,
  archHasSyncDma,
  archSyncDmaForCpu,
  archSyncDmaForDevice,
  devIsDmaCoherent,
} from "./arch";
export {
  isSwiotlbBufferFor,
  swiotlbMap,
  swiotlbSyncSingleForCpu,
  swiotlbSyncSingleForDevice,
  swiotlbTblMapSingle,
  swiotlbTblUnmapSingle,
} from "./swiotlb";
export {
  dmaDirectGetRequiredMask,
  dmaDirectMapPhys,
  dmaDirectMaxMappingSize,
  dmaDirectSupported,
  dmaDirectUnmapPhys,
} from "./direct";
export {
  IOVA_FQ_SIZE,
  IOVA_FQ_TIMEOUT_NS,
  IovaDomain,
  dmaInfoToProt,
  iommuDmaFlushFq,
  iommuDmaIovad,
  useDmaIommu,
} from "./dma-iommu";
export {
  dmaDebugCheckLeaks,
  dmaDebugDeviceUnbind,
  dmaDebugEntries,
  dmaDebugErrorCount,
  dmaDebugRegisterKernelText,
  dmaDebugRegisterStack,
  dmaDebugSetAllErrors,
  type DmaDebugEntry,
  type DmaDebugType,
  type MapErrType,
} from "./debug";
export {
  dmaAddressingLimited,
  dmaCoerceMaskAndCoherent,
  dmaGetMask,
  dmaGetMaxSegSize,
  dmaGetRequiredMask,
  dmaGetSegBoundary,
  dmaMapPage,
  dmaMapPageAttrs,
  dmaMapResource,
  dmaMapSg,
  dmaMapSgAttrs,
  dmaMapSgtable,
  dmaMapSingle,
  dmaMapSingleAttrs,
  dmaMappingError,
  dmaMaxMappingSize,
  dmaNeedSync,
  dmaSetCoherentMask,
  dmaSetMask,
  dmaSetMaskAndCoherent,
  dmaSetMaxSegSize,
  dmaSetSegBoundary,
  dmaSyncSgForCpu,
  dmaSyncSgForDevice,
  dmaSyncSgtableForCpu,
  dmaSyncSgtableForDevice,
  dmaSyncSingleForCpu,
  dmaSyncSingleForDevice,
  dmaSyncSingleRangeForCpu,
  dmaSyncSingleRangeForDevice,
  dmaUnmapPage,
  dmaUnmapPageAttrs,
  dmaUnmapResource,
  dmaUnmapSg,
  dmaUnmapSgAttrs,
  dmaUnmapSgtable,
  dmaUnmapSingle,
  dmaUnmapSingleAttrs,
} from "./mapping";
export {
  dmaAllocAttrs,
  dmaAllocCoherent,
  dmaFreeAttrs,
  dmaFreeCoherent,
  dmaGetSgtable,
  dmaGetSgtableAttrs,
  dmaMmapAttrs,
  dmaMmapCoherent,
  dmaPgprot,
  type DmaCoherent,
} from "./coherent";
