/**
 * @dmasim/dma-buf — layer 4 of dmasim: the dma-buf sharing core. Export, fds and references,
 * attach and dynamic attach with importer ops, map/unmap with the sg-table caching and locking
 * rules of each kernel version, pin/unpin and move notification, CPU access and
 * `DMA_BUF_IOCTL_SYNC`, mmap, vmap, set name, sync_file export/import, poll, fdinfo and bufinfo,
 * `CONFIG_DMABUF_DEBUG`, and the end-of-run leak check. Mirrors drivers/dma-buf/dma-buf.c,
 * include/linux/dma-buf.h and include/uapi/linux/dma-buf.h.
 *
 * @packageDocumentation
 */
export { DMA_BUF_CACHE_SGT_UNLESS_PIN, DMA_BUF_MODULE } from "./module";
export {
  DmaBuf,
  DmaBufAttachment,
  DmaBufOwner,
  DmaBufPollCb,
  type DmaBufAttachOps,
  type DmaBufExportInfo,
  type DmaBufMapping,
  type DmaBufOps,
} from "./include/dma-buf";
export {
  iosysMapClear,
  iosysMapInit,
  iosysMapIsEqual,
  iosysMapIsNull,
  iosysMapIsSet,
  iosysMapSetVaddr,
  iosysMapSetVaddrIomem,
  type IosysMap,
} from "./include/iosys-map";
export {
  DMA_BUF_BASE,
  DMA_BUF_IOCTL_EXPORT_SYNC_FILE,
  DMA_BUF_IOCTL_IMPORT_SYNC_FILE,
  DMA_BUF_IOCTL_SYNC,
  DMA_BUF_NAME_LEN,
  DMA_BUF_SET_NAME,
  DMA_BUF_SET_NAME_A,
  DMA_BUF_SET_NAME_B,
  DMA_BUF_SYNC_END,
  DMA_BUF_SYNC_READ,
  DMA_BUF_SYNC_RW,
  DMA_BUF_SYNC_START,
  DMA_BUF_SYNC_VALID_FLAGS_MASK,
  DMA_BUF_SYNC_WRITE,
  type DmaBufExportSyncFile,
  type DmaBufImportSyncFile,
  type DmaBufSync,
} from "./uapi/dma-buf";
export {
  DMA_BUF_FOPS,
  dmaBufAttachmentIsDynamic,
  dmaBufDname,
  dmaBufExport,
  dmaBufFd,
  dmaBufGet,
  dmaBufIsDynamic,
  dmaBufPut,
  dmaBufSetName,
  getDmaBuf,
  isDmaBufFile,
} from "./dma-buf";
export {
  dmaBufAttach,
  dmaBufAttachRevocable,
  dmaBufDetach,
  dmaBufDynamicAttach,
  dmaBufInvalidateMappings,
  dmaBufMoveNotify,
  dmaBufPin,
  dmaBufUnpin,
} from "./dma-buf-attach";
export {
  dmaBufMapAttachment,
  dmaBufMapAttachmentUnlocked,
  dmaBufUnmapAttachment,
  dmaBufUnmapAttachmentUnlocked,
} from "./dma-buf-map";
export { dmaBufBeginCpuAccess, dmaBufEndCpuAccess } from "./dma-buf-cpu-access";
export { dmaBufMmap } from "./dma-buf-mmap";
export { dmaBufVmap, dmaBufVmapUnlocked, dmaBufVunmap, dmaBufVunmapUnlocked } from "./dma-buf-vmap";
export { dmaBufCheckLeaks, dmaBufDebugfsBufinfo, dmaBufList } from "./dma-buf-debugfs";
