/**
 * @dmasim/heaps — layer 5 of dmasim: dma-buf heaps and Android ION. The dma-heap framework
 * (`/dev/dma_heap/<name>` and `DMA_HEAP_IOCTL_ALLOC`), the system heap, the Android
 * `system-uncached` heap and page pools, the CMA heap, the 2019 heap helpers, and legacy ION
 * (`/dev/ion` with its system, system-contig, carveout and CMA heaps).
 *
 * @packageDocumentation
 */
export {
  CMA_HEAP_FAULT_OFF_BY_ONE,
  CONFIG_ANDROID,
  CONFIG_ION,
  HEAPS_MODULE,
  HEAP_HELPERS_V6_NO_VMAP_FLUSH,
  ION_SYNC_MAPPED_ONLY,
  ION_UNCACHED_CLEAN_BEFORE_MAP,
  SYSTEM_UNCACHED_NO_ALLOC_FLUSH,
} from "./module";
export {
  IOC,
  IOC_NONE,
  IOC_READ,
  IOC_WRITE,
  IOWR,
  iocDir,
  iocNr,
  iocSize,
  iocType,
} from "./uapi/ioctl";
export {
  DMA_HEAP_ALLOCATION_DATA_SIZE,
  DMA_HEAP_IOCTL_ALLOC,
  DMA_HEAP_IOC_MAGIC,
  DMA_HEAP_VALID_FD_FLAGS,
  DMA_HEAP_VALID_HEAP_FLAGS,
  dmaHeapIoctlAllocOfSize,
  type DmaHeapAllocationData,
} from "./uapi/dma-heap";
export {
  DMA_HEAP_FOPS,
  DmaHeap,
  NUM_HEAP_MINORS,
  dmaHeapAdd,
  dmaHeapBufferAlloc,
  dmaHeapCheckAlloc,
  dmaHeapFind,
  dmaHeapGetDev,
  dmaHeapGetDrvdata,
  dmaHeapGetName,
  dmaHeapIoctl,
  dmaHeapList,
  type DmaHeapExportInfo,
  type DmaHeapOps,
} from "./dma-heap";
export {
  DmabufPagePool,
  dmabufPagePoolAlloc,
  dmabufPagePoolCreate,
  dmabufPagePoolDestroy,
  dmabufPagePoolFree,
  dmabufPagePoolGetSize,
  dmabufPagePoolShrink,
  dmabufPagePools,
} from "./heaps/page_pool";
export {
  HEAP_HELPER_OPS,
  HeapHelperBuffer,
  heapHelperExportDmabuf,
  initHeapHelperBuffer,
  type HeapHelperAttachment,
} from "./heap-helpers";
export {
  SYSTEM_HEAP_BUF_OPS,
  SYSTEM_HEAP_ORDERS,
  SystemHeapBuffer,
  systemHeapCreate,
  systemHeapGatherPages,
  systemHeapOrderFlags,
  type SystemHeapAttachment,
} from "./heaps/system_heap";
export {
  CMA_HEAP_BUF_OPS,
  CmaHeapBuffer,
  cmaHeapCreate,
  type CmaHeapAttachment,
} from "./heaps/cma_heap";
export {
  ION_FLAG_CACHED,
  ION_HEAP_TYPE_CARVEOUT,
  ION_HEAP_TYPE_CHUNK,
  ION_HEAP_TYPE_CUSTOM,
  ION_HEAP_TYPE_DMA,
  ION_HEAP_TYPE_SYSTEM,
  ION_HEAP_TYPE_SYSTEM_CONTIG,
  ION_IOC_ALLOC,
  ION_IOC_HEAP_QUERY,
  ION_IOC_MAGIC,
  ION_NUM_HEAP_IDS,
  MAX_HEAP_NAME,
  type IonAllocationData,
  type IonHeapData,
  type IonHeapQuery,
} from "./ion/uapi";
export {
  ION_DMA_BUF_OPS,
  ION_FOPS,
  IonBuffer,
  IonDevice,
  IonHeap,
  ionAllocDmabuf,
  ionDevice,
  ionDeviceAddHeap,
  ionDeviceCreate,
  ionHeapBufferZero,
  ionIoctl,
  type IonAttachment,
  type IonHeapOps,
} from "./ion/ion";
export { ionSystemContigHeapCreate, ionSystemHeapCreate } from "./ion/ion_system_heap";
export { ionCarveoutHeapCreate } from "./ion/ion_carveout_heap";
export { ionCmaHeapCreate } from "./ion/ion_cma_heap";
export { dmaHeapsInit, ionInit } from "./init";
