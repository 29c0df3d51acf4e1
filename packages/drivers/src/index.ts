/**
 * @dmasim/drivers — layer 6 of dmasim: example drivers built only on the public APIs of the layers
 * below, each a model to copy when writing an exporter or an importer: a dynamic GPU (VRAM and
 * system placement, eviction with KERNEL fences and move_notify, pin, peer-to-peer, command
 * submission with implicit sync), a V4L2 camera exporter (sg and contiguous), a DRM display
 * importer (contiguous scan-out), a V4L2 decoder importer (32-bit DMA mask) and udmabuf (memfd
 * pages). Named options reintroduce each well-known bug.
 *
 * @packageDocumentation
 */
export {
  CAMERA_SYNCS_FIRST_PAGE_ONLY,
  CAMERA_STOP_STREAMING_LEAVES_DMA_RUNNING,
  CAMERA_SYNCS_FOR_DEVICE_AT_DQBUF,
  DECODER_DECODES_INTO_BOUNCED_BUFFERS,
  DISPLAY_SCANS_OUT_BOUNCED_BUFFERS,
  DRIVERS_MODULE,
  GPU_FREES_BUSY_BO,
  GPU_IMPORTER_IGNORES_MOVE_NOTIFY,
  GPU_IMPORTER_MAPS_UNLOCKED,
  GPU_IMPORTER_SKIPS_KERNEL_FENCES,
  UDMABUF_INVERTED_CPU_ACCESS,
} from "./module";
export { GpuDevice, gpuProbe, type GpuProbeOptions } from "./gpu/gpu_device";
export {
  GpuJob,
  gpuJobRun,
  gpuRetire,
  gpuRingFlush,
  type GpuDmaRange,
  type GpuJobRef,
  type GpuJobWork,
} from "./gpu/gpu_job";
export {
  GpuBo,
  gpuBoCreate,
  gpuBoEvict,
  gpuBoLookup,
  gpuBoMoveToVram,
  gpuBoPin,
  gpuBoPut,
  gpuBoRanges,
  gpuBoUnpin,
  gpuBoWaitMove,
  type GpuBacking,
  type GpuBoCreateOptions,
  type GpuPlacement,
} from "./gpu/gpu_object";
export {
  GpuImport,
  gpuBoExport,
  gpuImport,
  gpuImportRanges,
  gpuImportRelease,
  gpuImportValidate,
} from "./gpu/gpu_dma_buf";
export { gpuBoWaitIdle, gpuSubmit, type GpuSubmitSpec, type GpuTarget } from "./gpu/gpu_cs";
export {
  Camera,
  cameraCapture,
  cameraDqbuf,
  cameraExpbuf,
  cameraProbe,
  cameraQbuf,
  cameraRelease,
  cameraReqbufs,
  VB2_MAX_FRAME,
  type CameraProbeOptions,
} from "./camera/camera";
export {
  CameraBuffer,
  vb2Alloc,
  vb2Finish,
  vb2GetDmabuf,
  vb2Prepare,
  vb2Put,
  type CameraBufferState,
} from "./camera/videobuf2-dma-sg";
export {
  Display,
  DisplayFb,
  displayImport,
  displayProbe,
  displayRelease,
  displayScanout,
} from "./display/drm_gem_dma_helper";
export {
  Decoder,
  DecoderBuffer,
  decoderDecode,
  decoderDqbuf,
  decoderImport,
  decoderProbe,
  decoderQbuf,
  decoderRelease,
} from "./decoder/videobuf2-dma-contig";
export { importerAttach, importerMap, importerUnmap, needsBounce } from "./importer";
export { driversCheckLeaks } from "./leaks";
export {
  F_SEAL_GROW,
  F_SEAL_SEAL,
  F_SEAL_SHRINK,
  F_SEAL_WRITE,
  MEMFD_FOPS,
  MFD_ALLOW_SEALING,
  Memfd,
  memfdAddSeals,
  memfdCreate,
  memfdPut,
} from "./udmabuf/memfd";
export {
  UDMABUF_CREATE,
  UDMABUF_FLAGS_CLOEXEC,
  UDMABUF_FOPS,
  UDMABUF_SIZE_LIMIT_MB,
  Udmabuf,
  udmabufCreate,
  udmabufInit,
  type UdmabufCreate,
} from "./udmabuf/udmabuf";
