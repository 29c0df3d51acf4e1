/**
 * dma-direct: DMA without an IOMMU. The DMA address is the physical address plus the bus offset;
 * a range the device cannot reach (DMA mask, bus limit), a forced bounce (`swiotlb=force`) or a
 * small unaligned buffer of a non-coherent device (kmalloc bouncing, 6.5+ on arm64) goes through
 * swiotlb; a non-coherent device gets the architecture's cache maintenance.
 *
 * **Kernel:** kernel/dma/direct.c and kernel/dma/direct.h (`dma_direct_map_page`,
 * `dma_direct_unmap_page`, `dma_direct_sync_single_for_device/_for_cpu`, `dma_direct_map_sg`,
 * `dma_direct_unmap_sg`, `dma_direct_sync_sg_for_device/_for_cpu`, `dma_direct_map_resource`,
 * `dma_direct_max_mapping_size`, `dma_direct_supported`, `dma_direct_get_required_mask`).
 *
 * Two named patches from the May 2024 review of "dma-direct: Set SG_DMA_SWIOTLB flag for
 * dma-direct": `dma-skip-sync-no-kmalloc-bounce` (the patch as posted) skips only the kmalloc
 * bounce of a `DMA_ATTR_SKIP_CPU_SYNC` mapping, so the mask and `swiotlb=force` still bounce it;
 * `dma-direct-skip-sync-no-bounce` (the stronger idea) never bounces such a mapping: it fails when
 * the device cannot reach the memory.
 *
 * @module
 */
import { KERN_ERR, WARN_ON_ONCE } from "@dmasim/kernel";
import {
  DMA_BIT_MASK,
  dmaToPhys,
  hexAddr,
  isSwiotlbActive,
  isSwiotlbBuffer,
  isSwiotlbForceBounce,
  physToDma,
  swiotlbMaxMappingSize,
  type Device,
} from "@dmasim/hardware";
import { archSyncDmaForCpu, archSyncDmaForDevice, devIsDmaCoherent } from "./arch";
import { dmaCapable } from "./include/dma-direct";
import { dmaKmallocNeedsBounce } from "./include/dma-map-ops";
import { DMA_ATTR_SKIP_CPU_SYNC, DMA_MAPPING_ERROR, SIZE_MAX } from "./include/dma-mapping";
import { DMA_DIRECT_SKIP_SYNC_NO_BOUNCE, optionOn } from "./module";
import { sgDmaIsBusAddress, sgDmaUnmarkBusAddress, sgPhys, type Scatterlist } from "./scatterlist";
import {
  swiotlbMap,
  swiotlbSyncSingleForCpu,
  swiotlbSyncSingleForDevice,
  swiotlbTblUnmapSingle,
} from "./swiotlb";

const SITE = "kernel/dma/direct.h";

/** Whether the named patch forbids bouncing this mapping. */
function noBounce(dev: Device, attrs: number): boolean {
  return (
    (attrs & DMA_ATTR_SKIP_CPU_SYNC) !== 0 &&
    optionOn(dev.machine.kernel, DMA_DIRECT_SKIP_SYNC_NO_BOUNCE)
  );
}

/**
 * Map `size` bytes at physical address `phys` for `dev` (see the module comment for the decision).
 * Returns the DMA address or `DMA_MAPPING_ERROR` (with `dev_WARN_ONCE` "DMA addr … overflow" when
 * the device cannot reach the memory and nothing can bounce it).
 *
 * **Kernel:** `dma_direct_map_page()` (`dma_direct_map_phys()` in newer kernels).
 *
 * **Locking:** any context.
 */
export function dmaDirectMapPhys(
  dev: Device,
  phys: number,
  size: number,
  dir: number,
  attrs: number,
): number {
  const m = dev.machine;
  const dma = physToDma(dev, phys);
  const forbid = noBounce(dev, attrs);
  if (isSwiotlbForceBounce(m) && !forbid) {
    return swiotlbMap(dev, phys, size, dir, attrs);
  }
  if (!dmaCapable(dev, dma, size) || dmaKmallocNeedsBounce(dev, size, dir, attrs)) {
    if (isSwiotlbActive(m) && !forbid) {
      return swiotlbMap(dev, phys, size, dir, attrs);
    }
    WARN_ON_ONCE(
      m.kernel,
      true,
      `${SITE}:dma_direct_map_page`,
      `${dev.name}: DMA addr ${hexAddr(dma)}+${size} overflow (mask ${dev.dmaMask.toString(16)}, bus limit ${dev.busDmaLimit.toString(16)}).`,
      { device: dev.name, dma, size },
    );
    return DMA_MAPPING_ERROR;
  }
  if (!devIsDmaCoherent(dev) && (attrs & DMA_ATTR_SKIP_CPU_SYNC) === 0) {
    archSyncDmaForDevice(m, phys, size, dir);
  }
  return dma;
}

/**
 * Hand a range back to the device: refresh its bounce copy, then clean for a non-coherent device.
 *
 * **Kernel:** `dma_direct_sync_single_for_device()`.
 *
 * **Locking:** any context.
 *
 * @throws {@link KernelBug} for an invalid direction on a bounced range
 */
export function dmaDirectSyncSingleForDevice(
  dev: Device,
  addr: number,
  size: number,
  dir: number,
): void {
  const m = dev.machine;
  const paddr = dmaToPhys(dev, addr);
  if (isSwiotlbBuffer(m, paddr)) {
    swiotlbSyncSingleForDevice(dev, paddr, size, dir);
  }
  if (!devIsDmaCoherent(dev)) {
    archSyncDmaForDevice(m, paddr, size, dir);
  }
}

/**
 * Hand a range to the CPU: invalidate for a non-coherent device (before reading the bounce
 * buffer), then copy a bounce buffer back.
 *
 * **Kernel:** `dma_direct_sync_single_for_cpu()`.
 *
 * **Locking:** any context.
 *
 * @throws {@link KernelBug} for an invalid direction on a bounced range
 */
export function dmaDirectSyncSingleForCpu(
  dev: Device,
  addr: number,
  size: number,
  dir: number,
): void {
  const m = dev.machine;
  const paddr = dmaToPhys(dev, addr);
  if (!devIsDmaCoherent(dev)) {
    archSyncDmaForCpu(m, paddr, size, dir);
  }
  if (isSwiotlbBuffer(m, paddr)) {
    swiotlbSyncSingleForCpu(dev, paddr, size, dir);
  }
}

/**
 * Unmap: sync for the CPU unless `DMA_ATTR_SKIP_CPU_SYNC`, then release a bounce buffer (without
 * a second copy).
 *
 * **Kernel:** `dma_direct_unmap_page()`.
 *
 * **Locking:** any context.
 */
export function dmaDirectUnmapPhys(
  dev: Device,
  addr: number,
  size: number,
  dir: number,
  attrs: number,
): void {
  const paddr = dmaToPhys(dev, addr);
  if ((attrs & DMA_ATTR_SKIP_CPU_SYNC) === 0) {
    dmaDirectSyncSingleForCpu(dev, addr, size, dir);
  }
  if (isSwiotlbBuffer(dev.machine, paddr)) {
    swiotlbTblUnmapSingle(dev, paddr, size, dir, attrs | DMA_ATTR_SKIP_CPU_SYNC);
  }
}

/**
 * Unmap the first `nents` entries, entry by entry.
 *
 * **Kernel:** `dma_direct_unmap_sg()`.
 *
 * **Locking:** any context.
 */
export function dmaDirectUnmapSg(
  dev: Device,
  sgl: readonly Scatterlist[],
  nents: number,
  dir: number,
  attrs: number,
): void {
  for (let i = 0; i < Math.min(nents, sgl.length); i++) {
    const sg = sgl[i]!;
    if (sgDmaIsBusAddress(sg)) {
      sgDmaUnmarkBusAddress(sg);
    } else {
      dmaDirectUnmapPhys(dev, sg.dmaAddress, sg.dmaLength, dir, attrs);
    }
  }
}

/**
 * Map the first `nents` entries one by one (each may bounce on its own). Returns `nents`, or
 * `-EIO` (as a negative errno) after unmapping what was mapped, without syncing, when an entry
 * fails.
 *
 * **Kernel:** `dma_direct_map_sg()`.
 *
 * **Locking:** any context.
 */
export function dmaDirectMapSg(
  dev: Device,
  sgl: readonly Scatterlist[],
  nents: number,
  dir: number,
  attrs: number,
): number {
  const n = Math.min(nents, sgl.length);
  for (let i = 0; i < n; i++) {
    const sg = sgl[i]!;
    sg.dmaAddress = dmaDirectMapPhys(dev, sgPhys(sg), sg.length, dir, attrs);
    if (sg.dmaAddress === DMA_MAPPING_ERROR) {
      dmaDirectUnmapSg(dev, sgl, i, dir, attrs | DMA_ATTR_SKIP_CPU_SYNC);
      return -5; // -EIO
    }
    sg.dmaLength = sg.length;
  }
  return n;
}

/**
 * Sync the first `nents` entries for the device, entry by entry.
 *
 * **Kernel:** `dma_direct_sync_sg_for_device()`.
 *
 * **Locking:** any context.
 *
 * @throws {@link KernelBug} for an invalid direction on a bounced entry
 */
export function dmaDirectSyncSgForDevice(
  dev: Device,
  sgl: readonly Scatterlist[],
  nents: number,
  dir: number,
): void {
  for (let i = 0; i < Math.min(nents, sgl.length); i++) {
    const sg = sgl[i]!;
    if (!sgDmaIsBusAddress(sg)) {
      dmaDirectSyncSingleForDevice(dev, sg.dmaAddress, sg.length, dir);
    }
  }
}

/**
 * Sync the first `nents` entries for the CPU, entry by entry.
 *
 * **Kernel:** `dma_direct_sync_sg_for_cpu()`.
 *
 * **Locking:** any context.
 *
 * @throws {@link KernelBug} for an invalid direction on a bounced entry
 */
export function dmaDirectSyncSgForCpu(
  dev: Device,
  sgl: readonly Scatterlist[],
  nents: number,
  dir: number,
): void {
  for (let i = 0; i < Math.min(nents, sgl.length); i++) {
    const sg = sgl[i]!;
    if (!sgDmaIsBusAddress(sg)) {
      dmaDirectSyncSingleForCpu(dev, sg.dmaAddress, sg.length, dir);
    }
  }
}

/**
 * Map an MMIO or peer resource: no bounce and no cache maintenance; an address the device cannot
 * reach fails ("DMA addr … overflow" once, and `WARN_ON_ONCE`).
 *
 * **Kernel:** `dma_direct_map_resource()`.
 *
 * **Locking:** any context.
 */
export function dmaDirectMapResource(dev: Device, paddr: number, size: number): number {
  const m = dev.machine;
  if (!dmaCapable(dev, paddr, size)) {
    m.kernel.printk(
      KERN_ERR,
      `${dev.name}: DMA addr ${hexAddr(paddr)}+${size} overflow (mask ${dev.dmaMask.toString(16)}, bus limit ${dev.busDmaLimit.toString(16)}).`,
    );
    WARN_ON_ONCE(m.kernel, true, "kernel/dma/direct.c:dma_direct_map_resource");
    return DMA_MAPPING_ERROR;
  }
  return paddr;
}

/**
 * The mask that covers all of RAM for this device.
 *
 * **Kernel:** `dma_direct_get_required_mask()`.
 *
 * **Locking:** none.
 */
export function dmaDirectGetRequiredMask(dev: Device): number {
  const last = physToDma(dev, dev.machine.memory.end - 1);
  return DMA_BIT_MASK(Math.floor(Math.log2(last)) + 1);
}

/**
 * The largest mapping: the swiotlb limit when the pool is active and the device is addressing-
 * limited or force-bounced, unlimited otherwise.
 *
 * **Kernel:** `dma_direct_max_mapping_size()`.
 *
 * **Locking:** none.
 */
export function dmaDirectMaxMappingSize(dev: Device): number {
  const m = dev.machine;
  if (
    isSwiotlbActive(m) &&
    (dev.dmaLimit < dmaDirectGetRequiredMask(dev) || isSwiotlbForceBounce(m))
  ) {
    return swiotlbMaxMappingSize(dev);
  }
  return SIZE_MAX;
}

/**
 * Whether dma-direct can serve a mask: 32 bits always; smaller masks must cover ZONE_DMA (or all
 * of RAM when there is no ZONE_DMA).
 *
 * **Kernel:** `dma_direct_supported()`.
 *
 * **Locking:** none.
 */
export function dmaDirectSupported(dev: Device, mask: number): boolean {
  if (mask >= DMA_BIT_MASK(32)) {
    return true;
  }
  const m = dev.machine;
  let minMask = m.memory.end - 4096;
  if (m.config.zoneDmaLimit > 0) {
    minMask = Math.min(minMask, m.config.zoneDmaLimit - 1);
  }
  return mask >= physToDma(dev, minMask);
}
