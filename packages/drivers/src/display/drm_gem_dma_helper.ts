/**
 * A display controller that scans out imported dma-bufs: a static importer that needs one
 * contiguous range of DMA addresses (no IOMMU: the buffer must be physically contiguous; behind an
 * IOMMU: the IOMMU merges it), mapped once at import and read by the display at every scan-out.
 *
 * **Kernel:** a simplified drivers/gpu/drm/drm_gem_dma_helper.c
 * (`drm_gem_dma_prime_import_sg_table()` with `drm_prime_get_contiguous_size()`) and the import in
 * drm_prime.c (`drm_gem_prime_import_dev()`); the scan-out stands for the plane's DMA.
 *
 * @module
 */
import { KernelError, MAX_SCHEDULE_TIMEOUT, type Kernel } from "@dmasim/kernel";
import { DMA_RESV_USAGE_WRITE, dmaResvWaitTimeout } from "@dmasim/dma-resv";
import { deviceRead, getMachine, type Device, type Machine } from "@dmasim/hardware";
import {
  DMA_BIDIRECTIONAL,
  forEachSgtableDmaSg,
  sgDmaAddress,
  sgDmaLen,
  type SgTable,
} from "@dmasim/dma-mapping";
import {
  dmaBufDetach,
  dmaBufPut,
  getDmaBuf,
  type DmaBuf,
  type DmaBufAttachment,
} from "@dmasim/dma-buf";
import { DISPLAY_SCANS_OUT_BOUNCED_BUFFERS, DRIVERS_MODULE } from "../module";
import { importerAttach, importerMap, importerUnmap, needsBounce } from "../importer";

/**
 * A display. **Kernel:** the DRM device of a GEM-DMA driver (its CRTC/plane DMA).
 *
 * **Locking:** none of its own.
 */
export class Display {
  /** Framebuffers imported and not released. */
  readonly framebuffers = new Set<DisplayFb>();
  /**
   * The framebuffer the plane scans out (its plane state's fb), or null while the plane is off.
   * The display reads it at every refresh until a commit replaces it or the plane is disabled.
   */
  plane: DisplayFb | null = null;

  constructor(
    readonly kernel: Kernel,
    readonly m: Machine,
    readonly dev: Device,
  ) {}

  /** The device's name. */
  get name(): string {
    return this.dev.name;
  }
}

/**
 * An imported buffer ready for scan-out. **Kernel:** `struct drm_gem_dma_object` of an import
 * (`dma_addr`, `sgt`, `import_attach`).
 *
 * **Locking:** immutable once imported.
 */
export class DisplayFb {
  constructor(
    readonly disp: Display,
    readonly dmabuf: DmaBuf,
    readonly attach: DmaBufAttachment,
    readonly sgt: SgTable,
    /** The start of the contiguous DMA range. */
    readonly dmaAddr: number,
  ) {}
}

/**
 * Probe a display on a hardware device.
 *
 * **Kernel:** the driver's `probe()` (`drm_dev_register()`).
 *
 * **Locking:** process context.
 *
 * @throws {@link KernelError} `ENODEV` without a machine
 */
export function displayProbe(kernel: Kernel, dev: Device): Display {
  kernel.load(DRIVERS_MODULE);
  return new Display(kernel, getMachine(kernel), dev);
}

function contiguousSize(sgt: SgTable): number {
  let expected = -1;
  let size = 0;
  let stop = false;
  forEachSgtableDmaSg(sgt, (sg) => {
    if (stop) {
      return;
    }
    if (expected >= 0 && sgDmaAddress(sg) !== expected) {
      stop = true;
      return;
    }
    size += sgDmaLen(sg);
    expected = sgDmaAddress(sg) + sgDmaLen(sg);
  });
  return size;
}

/**
 * Import a dma-buf as a framebuffer: attach, map (BIDIRECTIONAL, as DRM PRIME does) and keep the
 * mapping. Refused with `EINVAL` when the DMA addresses are not one contiguous range, and (unless
 * `display-scans-out-bounced-buffers`) when the mapping goes through swiotlb bounce slots: the
 * display would read the bounce copy made at import, never the frames written later.
 *
 * **Kernel:** `drm_gem_prime_import_dev()` → `drm_gem_dma_prime_import_sg_table()`.
 *
 * **Locking:** may sleep; must not hold the buffer's reservation lock.
 *
 * @throws {@link KernelError} `EINVAL` (not contiguous, bounced), the attach and map errors
 */
export async function displayImport(disp: Display, dmabuf: DmaBuf): Promise<DisplayFb> {
  getDmaBuf(dmabuf);
  const attach = await importerAttach(dmabuf, disp.dev);
  const sgt = await importerMap(attach, DMA_BIDIRECTIONAL);
  let why = "";
  if (contiguousSize(sgt) < dmabuf.size) {
    why = "buffer is not contiguous for the display";
  } else if (
    needsBounce(disp.m, disp.dev, sgt) &&
    !disp.kernel.options.enabled(DISPLAY_SCANS_OUT_BOUNCED_BUFFERS)
  ) {
    why = "buffer lies beyond the display's DMA reach (it would be bounced)";
  }
  if (why) {
    await importerUnmap(attach, sgt, DMA_BIDIRECTIONAL);
    await dmaBufDetach(dmabuf, attach);
    dmaBufPut(dmabuf);
    throw new KernelError("EINVAL", `${disp.name}: ${why}`);
  }
  const fb = new DisplayFb(disp, dmabuf, attach, sgt, sgDmaAddress(sgt.sgl[0]!));
  disp.framebuffers.add(fb);
  return fb;
}

/**
 * Show a framebuffer: wait for its writers (the implicit-sync in-fence of the atomic commit), put
 * it on the plane (the framebuffer shown before stays referenced by the old plane state until the
 * flip is done), then the display reads `len` bytes from `offset` (default: the first 64 bytes).
 * Returns what it read.
 *
 * **Kernel:** `drm_gem_plane_helper_prepare_fb()` (the WRITE fences as in-fence), the commit's
 * fence wait, the new plane state taking the fb (`drm_atomic_set_fb_for_plane()`; the old one is
 * dropped by `drm_atomic_helper_cleanup_planes()` after the flip), and the plane's scan-out DMA.
 *
 * **Locking:** may sleep; must not hold the buffer's reservation lock.
 *
 * @throws {@link KernelError} `EINVAL` for a released framebuffer or a range outside it,
 * `ERESTARTSYS`
 */
export async function displayScanout(fb: DisplayFb, len = 64, offset = 0): Promise<Uint8Array> {
  if (!fb.disp.framebuffers.has(fb)) {
    throw new KernelError("EINVAL", `${fb.disp.name}: framebuffer released`);
  }
  if (offset < 0 || len <= 0 || offset + len > fb.dmabuf.size) {
    throw new KernelError(
      "EINVAL",
      `${fb.disp.name}: bytes ${offset}..${offset + len} outside the framebuffer`,
    );
  }
  await dmaResvWaitTimeout(fb.dmabuf.resv, DMA_RESV_USAGE_WRITE, true, MAX_SCHEDULE_TIMEOUT);
  fb.disp.plane = fb;
  return deviceRead(fb.disp.dev, fb.dmaAddr + offset, len);
}

/**
 * Release a framebuffer (remove it, close its GEM handle): a framebuffer the plane is scanning out
 * is taken off the plane first (the plane is disabled, so the display stops reading it), then the
 * import is unmapped, detached and its buffer reference dropped. The buffer itself lives on while
 * anyone else holds it (its exporter frees it on the last dma-buf reference).
 *
 * **Kernel:** `DRM_IOCTL_MODE_RMFB` → `drm_framebuffer_remove()` (an fb still used by a plane:
 * the planes using it are disabled by a commit before the fb goes), then `drm_gem_dma_free()` →
 * `drm_prime_gem_destroy()` (drm_framebuffer.c, drm_gem_dma_helper.c, drm_prime.c).
 *
 * **Locking:** may sleep; must not hold the reservation lock.
 */
export async function displayRelease(fb: DisplayFb): Promise<void> {
  if (!fb.disp.framebuffers.delete(fb)) {
    return;
  }
  if (fb.disp.plane === fb) {
    fb.disp.plane = null;
  }
  await importerUnmap(fb.attach, fb.sgt, DMA_BIDIRECTIONAL);
  await dmaBufDetach(fb.dmabuf, fb.attach);
  dmaBufPut(fb.dmabuf);
}
