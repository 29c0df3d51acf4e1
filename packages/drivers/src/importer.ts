/**
 * Helpers every static importer of these drivers shares: attach, map and unmap the way the
 * running kernel expects (the `_unlocked` calls from 6.2, the plain ones before), and the check
 * that refuses a mapping that goes through swiotlb bounce slots.
 *
 * **Kernel:** the patterns of drm_prime.c (`drm_gem_prime_import_dev()`) and
 * videobuf2-dma-contig.c (`vb2_dc_map_dmabuf()`), with `is_swiotlb_buffer()`.
 *
 * @module
 */
import { dmaToPhys, isSwiotlbBuffer, type Device, type Machine } from "@dmasim/hardware";
import {
  forEachSgtableDmaSg,
  sgDmaAddress,
  sgDmaIsSwiotlb,
  useDmaIommu,
  type DmaDataDirection,
  type SgTable,
} from "@dmasim/dma-mapping";
import {
  dmaBufAttach,
  dmaBufMapAttachment,
  dmaBufMapAttachmentUnlocked,
  dmaBufUnmapAttachment,
  dmaBufUnmapAttachmentUnlocked,
  type DmaBuf,
  type DmaBufAttachment,
} from "@dmasim/dma-buf";
import { DRIVERS_ERAS } from "./module";

/**
 * Attach a device as a static importer.
 *
 * **Kernel:** `dma_buf_attach()`.
 *
 * **Locking:** may sleep; must not hold the reservation lock.
 *
 * @throws {@link KernelError} the exporter's attach errors
 */
export async function importerAttach(dmabuf: DmaBuf, dev: Device): Promise<DmaBufAttachment> {
  return dmaBufAttach(dmabuf, dev);
}

/**
 * Map a static attachment: `dma_buf_map_attachment_unlocked()` from 6.2, the unlocked
 * `dma_buf_map_attachment()` before (static importers never took the lock then).
 *
 * **Kernel:** `dma_buf_map_attachment_unlocked()` / `dma_buf_map_attachment()`.
 *
 * **Locking:** may sleep; must not hold the reservation lock.
 *
 * @throws {@link KernelError} the map errors
 */
export async function importerMap(a: DmaBufAttachment, dir: DmaDataDirection): Promise<SgTable> {
  return DRIVERS_ERAS.unlockedImport(a.dmabuf.kernel)
    ? dmaBufMapAttachmentUnlocked(a, dir)
    : dmaBufMapAttachment(a, dir);
}

/**
 * Unmap what {@link importerMap} mapped.
 *
 * **Kernel:** `dma_buf_unmap_attachment_unlocked()` / `dma_buf_unmap_attachment()`.
 *
 * **Locking:** may sleep; must not hold the reservation lock.
 */
export async function importerUnmap(
  a: DmaBufAttachment,
  sgt: SgTable,
  dir: DmaDataDirection,
): Promise<void> {
  await (DRIVERS_ERAS.unlockedImport(a.dmabuf.kernel)
    ? dmaBufUnmapAttachmentUnlocked(a, sgt, dir)
    : dmaBufUnmapAttachment(a, sgt, dir));
}

/**
 * Whether any DMA segment of a mapping lands in the swiotlb pool (the device reaches a bounce copy,
 * not the buffer).
 *
 * **Kernel:** `is_swiotlb_buffer(dev, dma_to_phys(dev, sg_dma_address(sg)))` for dma-direct,
 * `sg_dma_is_swiotlb()` behind an IOMMU.
 *
 * **Locking:** any context.
 */
export function needsBounce(m: Machine, dev: Device, sgt: SgTable): boolean {
  if (useDmaIommu(dev)) {
    // behind an IOMMU the addresses are IOVAs; dma-iommu marks a bounced list on its first entry
    return sgt.sgl[0] !== undefined && sgDmaIsSwiotlb(sgt.sgl[0]);
  }
  let bounced = false;
  forEachSgtableDmaSg(sgt, (sg) => {
    bounced ||= isSwiotlbBuffer(m, dmaToPhys(dev, sgDmaAddress(sg)));
  });
  return bounced;
}
