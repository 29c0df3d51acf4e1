/**
 * The kernel options of the example drivers: each reintroduces one well-known bug, named after
 * what it does, so that a scenario runs the bug and its fix side by side. All default to off (the
 * correct driver).
 *
 * **Kernel:** driver module parameters and the patches that fixed (or would have fixed) each bug.
 *
 * @module
 */
import { defineEras, defineOption, type KernelModule } from "@dmasim/kernel";

const OWNER = "@dmasim/drivers";

function patch(name: string, description: string) {
  return defineOption({ name, kind: "patch", owner: OWNER, default: false, description });
}

/** gpu importer: `move_notify` does nothing, the next job keeps the old mapping (hazard H15). */
export const GPU_IMPORTER_IGNORES_MOVE_NOTIFY = "gpu-importer-ignores-move-notify";
/** gpu importer: jobs do not wait for the exporter's KERNEL fences (hazard H14). */
export const GPU_IMPORTER_SKIPS_KERNEL_FENCES = "gpu-importer-skips-kernel-fences";
/** gpu importer: maps an imported buffer without holding its reservation lock (hazard H13). */
export const GPU_IMPORTER_MAPS_UNLOCKED = "gpu-importer-maps-unlocked";
/** gpu: the last reference frees a BO at once, while jobs still use it (no delayed destroy). */
export const GPU_FREES_BUSY_BO = "gpu-frees-busy-bo";
/** camera: DQBUF and begin_cpu_access sync only the first page of a frame for the CPU. */
export const CAMERA_SYNCS_FIRST_PAGE_ONLY = "camera-syncs-first-page-only";
/** camera: DQBUF and begin_cpu_access sync for the device instead of for the CPU. */
export const CAMERA_SYNCS_FOR_DEVICE_AT_DQBUF = "camera-syncs-for-device-at-dqbuf";
/** camera: stop_streaming gives the queued buffers back without stopping the capture DMA. */
export const CAMERA_STOP_STREAMING_LEAVES_DMA_RUNNING = "camera-stop-streaming-leaves-dma-running";
/** display: imports a buffer whose mapping goes through swiotlb bounce slots. */
export const DISPLAY_SCANS_OUT_BOUNCED_BUFFERS = "display-scans-out-bounced-buffers";
/** decoder: imports a buffer whose mapping goes through swiotlb bounce slots. */
export const DECODER_DECODES_INTO_BOUNCED_BUFFERS = "decoder-decodes-into-bounced-buffers";
/** udmabuf: begin_cpu_access syncs for the device and end_cpu_access for the CPU. */
export const UDMABUF_INVERTED_CPU_ACCESS = "udmabuf-inverted-cpu-access";

/**
 * The example drivers' history: each driver behaviour that follows the kernel release, named once
 * with its boundary and the commit or release that drew it. Ask an entry, never the version.
 *
 * **Kernel:** drivers/dma-buf/udmabuf.c and the dma-buf importer API the GPU, camera, display and
 * decoder models use, as of each release.
 *
 * @internal
 */
export const DRIVERS_ERAS = defineEras("drivers", {
  udmabufCacheSgt: {
    since: "5.6",
    summary: "udmabuf sets cache_sgt_mapping (the core keeps each attachment's first mapping)",
    citation:
      'Gurchetan Singh, "udmabuf: use cache_sgt_mapping option" (drm-misc-next pull for v5.6)',
  },
  udmabufCpuAccess: {
    since: "5.6",
    summary:
      "udmabuf begin/end_cpu_access: the first begin maps the pages for the misc device in the caller's direction, later ones sync for the CPU; end syncs for the device",
    citation:
      '284562e1f348 "udmabuf: implement begin_cpu_access/end_cpu_access hooks" and "udmabuf: fix dma-buf cpu access" (v5.6)',
  },
  dynamicImporter: {
    since: "5.7",
    summary: "the GPU imports as a dynamic importer (importer_ops with move_notify)",
    citation: 'bb42df4662a4 "dma-buf: add dynamic DMA-buf handling v15" (v5.7)',
  },
  unlockedImport: {
    since: "6.2",
    summary: "static importers map and unmap through the _unlocked helpers",
    citation:
      '47e982d5195d "dma-buf: Move dma_buf_map_attachment() to dynamic locking specification" (v6.2)',
  },
  invalidateMappings: {
    since: "latest",
    summary:
      "the GPU exporter calls dma_buf_invalidate_mappings(); its importer implements invalidate_mappings",
    citation: "move_notify renamed invalidate_mappings, current mainline (2026)",
  },
});

/**
 * The example drivers' kernel options. Pass it in `new Kernel({ modules: [DRIVERS_MODULE],
 * options: { "gpu-importer-ignores-move-notify": true } })` to set one.
 *
 * **Kernel:** the drivers' module parameters / the patches named by each option.
 */
export const DRIVERS_MODULE: KernelModule = {
  name: OWNER,
  eras: Object.values(DRIVERS_ERAS),
  options: [
    patch(
      GPU_IMPORTER_IGNORES_MOVE_NOTIFY,
      "gpu: the dynamic importer's move_notify does nothing; jobs keep DMAing to the old location (H15)",
    ),
    patch(
      GPU_IMPORTER_SKIPS_KERNEL_FENCES,
      "gpu: jobs on imported buffers do not wait for the exporter's KERNEL (move/clear) fences (H14)",
    ),
    patch(
      GPU_IMPORTER_MAPS_UNLOCKED,
      "gpu: the importer maps an imported buffer without holding its reservation lock (H13)",
    ),
    patch(
      GPU_FREES_BUSY_BO,
      "gpu: the last reference frees a BO at once, even while queued jobs still read or write it (jobs hold no reference, no delayed destroy)",
    ),
    patch(
      CAMERA_SYNCS_FIRST_PAGE_ONLY,
      "camera: DQBUF / begin_cpu_access sync only the first page of the frame for the CPU",
    ),
    patch(
      CAMERA_SYNCS_FOR_DEVICE_AT_DQBUF,
      "camera: DQBUF / begin_cpu_access call dma_sync_sgtable_for_device instead of _for_cpu",
    ),
    patch(
      CAMERA_STOP_STREAMING_LEAVES_DMA_RUNNING,
      "camera: stop_streaming returns the queued buffers without stopping the capture DMA; the queue frees them and the next frame lands in freed pages",
    ),
    patch(
      DISPLAY_SCANS_OUT_BOUNCED_BUFFERS,
      "display: import a buffer even when its mapping is bounced through swiotlb (the rpi4 green frame)",
    ),
    patch(
      DECODER_DECODES_INTO_BOUNCED_BUFFERS,
      "decoder: import a capture buffer even when its mapping is bounced through swiotlb",
    ),
    patch(
      UDMABUF_INVERTED_CPU_ACCESS,
      "udmabuf: begin_cpu_access syncs for the device and end_cpu_access for the CPU (swapped)",
    ),
  ],
};
