/**
 * The swiotlb policy over the hardware's bounce pool: when to copy between the original buffer
 * and its bounce slot, and in which direction.
 *
 * | operation | copy |
 * |---|---|
 * | map, 5.17+ | original → bounce, whatever the direction and attributes |
 * | map, before 5.17 | original → bounce for TO_DEVICE / BIDIRECTIONAL without `DMA_ATTR_SKIP_CPU_SYNC` |
 * | sync for device, TO_DEVICE / BIDIRECTIONAL | original → bounce |
 * | sync for CPU, FROM_DEVICE / BIDIRECTIONAL | bounce → original |
 * | unmap without `DMA_ATTR_SKIP_CPU_SYNC`, FROM_DEVICE / BIDIRECTIONAL | bounce → original, then release |
 * | unmap with `DMA_ATTR_SKIP_CPU_SYNC`, or TO_DEVICE | release only (device writes are lost) |
 *
 * **Kernel:** kernel/dma/swiotlb.c (`swiotlb_tbl_map_single`, `swiotlb_tbl_unmap_single`,
 * `swiotlb_sync_single_for_device`, `swiotlb_sync_single_for_cpu`, `swiotlb_map`). The pool,
 * the slot search and the copy itself are `@dmasim/hardware`'s.
 *
 * @module
 */
import { BUG_ON, WARN_ON_ONCE, sizeT } from "@dmasim/kernel";
import {
  hexAddr,
  isSwiotlbActive,
  isSwiotlbBuffer,
  physToDma,
  swiotlbAllocSlots,
  swiotlbBounce,
  swiotlbReleaseSlots,
  type Device,
} from "@dmasim/hardware";
import { archSyncDmaForDevice, devIsDmaCoherent } from "./arch";
import { dmaCapable } from "./include/dma-direct";
import { DMA_BIDIRECTIONAL, DMA_FROM_DEVICE, DMA_TO_DEVICE } from "./include/dma-direction";
import { DMA_ATTR_NO_WARN, DMA_ATTR_SKIP_CPU_SYNC, DMA_MAPPING_ERROR } from "./include/dma-mapping";
import { DMA_MAPPING_ERAS } from "./era";
import { devDma } from "./module";

const SITE = "kernel/dma/swiotlb.c";

/**
 * Reserve bounce slots for `mappingSize` bytes at `orig` (within `allocSize` bytes aligned to
 * `allocAlignMask + 1`) and copy the original in as the kernel version does (see the table
 * above). Returns the bounce address, or `DMA_MAPPING_ERROR` when no pool or no room ("swiotlb
 * buffer is full" unless `DMA_ATTR_NO_WARN`). Clears the device's `dma_skip_sync` (6.10+).
 *
 * A bounce of 0 bytes needs 0 slots: the slot search's `BUG_ON(!nslots)` (every release from 4.14,
 * in `swiotlb_tbl_map_single()`, later `swiotlb_find_slots()` and, from 6.6,
 * `swiotlb_search_pool_area()`), once a pool exists.
 *
 * **Kernel:** `swiotlb_tbl_map_single()`.
 *
 * **Locking:** any context.
 *
 * @throws {@link KernelBug} for a bounce of 0 bytes
 */
export function swiotlbTblMapSingle(
  dev: Device,
  orig: number,
  mappingSize: number,
  allocSize: number,
  allocAlignMask: number,
  dir: number,
  attrs: number,
): number {
  const m = dev.machine;
  mappingSize = sizeT(mappingSize, "swiotlb_tbl_map_single", "mapping_size");
  allocSize = sizeT(allocSize, "swiotlb_tbl_map_single", "alloc_size");
  BUG_ON(
    m.kernel,
    isSwiotlbActive(m) && allocSize === 0,
    `${SITE}:swiotlb_search_pool_area`,
    `BUG_ON(!nslots): ${dev.name} bounces 0 bytes`,
    { device: dev.name },
  );
  const tlb = swiotlbAllocSlots(m, dev, orig, mappingSize, {
    allocSize,
    allocAlignMask,
    noWarn: (attrs & DMA_ATTR_NO_WARN) !== 0,
  });
  if (tlb === null) {
    return DMA_MAPPING_ERROR;
  }
  devDma(dev).skipSync = false;
  const copyIn = DMA_MAPPING_ERAS.swiotlbCopyInAlways(m.kernel)
    ? true
    : (attrs & DMA_ATTR_SKIP_CPU_SYNC) === 0 &&
      (dir === DMA_TO_DEVICE || dir === DMA_BIDIRECTIONAL);
  if (copyIn) {
    swiotlbBounce(m, dev, tlb, mappingSize, DMA_TO_DEVICE);
  }
  return tlb;
}

/**
 * Copy a bounced FROM_DEVICE / BIDIRECTIONAL mapping back (unless `DMA_ATTR_SKIP_CPU_SYNC`) and
 * release its slots.
 *
 * **Kernel:** `swiotlb_tbl_unmap_single()`.
 *
 * **Locking:** any context.
 */
export function swiotlbTblUnmapSingle(
  dev: Device,
  tlb: number,
  mappingSize: number,
  dir: number,
  attrs: number,
): void {
  const m = dev.machine;
  if (
    (attrs & DMA_ATTR_SKIP_CPU_SYNC) === 0 &&
    (dir === DMA_FROM_DEVICE || dir === DMA_BIDIRECTIONAL)
  ) {
    swiotlbBounce(m, dev, tlb, mappingSize, DMA_FROM_DEVICE);
  }
  swiotlbReleaseSlots(m, dev, tlb);
}

/**
 * Refresh the bounce copy before the device reads it: original → bounce for TO_DEVICE and
 * BIDIRECTIONAL, nothing for FROM_DEVICE.
 *
 * **Kernel:** `swiotlb_sync_single_for_device()`.
 *
 * **Locking:** any context.
 *
 * @throws {@link KernelBug} for an invalid direction
 */
export function swiotlbSyncSingleForDevice(
  dev: Device,
  tlb: number,
  size: number,
  dir: number,
): void {
  if (dir === DMA_TO_DEVICE || dir === DMA_BIDIRECTIONAL) {
    swiotlbBounce(dev.machine, dev, tlb, size, DMA_TO_DEVICE);
  } else {
    BUG_ON(dev.machine.kernel, dir !== DMA_FROM_DEVICE, `${SITE}:swiotlb_sync_single_for_device`);
  }
}

/**
 * Copy what the device wrote back to the original: bounce → original for FROM_DEVICE and
 * BIDIRECTIONAL, nothing for TO_DEVICE.
 *
 * **Kernel:** `swiotlb_sync_single_for_cpu()`.
 *
 * **Locking:** any context.
 *
 * @throws {@link KernelBug} for an invalid direction
 */
export function swiotlbSyncSingleForCpu(dev: Device, tlb: number, size: number, dir: number): void {
  if (dir === DMA_FROM_DEVICE || dir === DMA_BIDIRECTIONAL) {
    swiotlbBounce(dev.machine, dev, tlb, size, DMA_FROM_DEVICE);
  } else {
    BUG_ON(dev.machine.kernel, dir !== DMA_TO_DEVICE, `${SITE}:swiotlb_sync_single_for_cpu`);
  }
}

/**
 * Bounce a mapping for dma-direct: reserve slots and copy in, check that the bounce address is
 * itself reachable (else release, `dev_WARN_ONCE` "swiotlb addr … overflow" and fail), then clean
 * the bounce buffer for a non-coherent device unless `DMA_ATTR_SKIP_CPU_SYNC`.
 *
 * **Kernel:** `swiotlb_map()`.
 *
 * **Locking:** any context.
 */
export function swiotlbMap(
  dev: Device,
  paddr: number,
  size: number,
  dir: number,
  attrs: number,
): number {
  const m = dev.machine;
  m.kernel.trace("swiotlb", "dma", "swiotlb_bounced", { dev: dev.name, paddr, size });
  const tlb = swiotlbTblMapSingle(dev, paddr, size, size, 0, dir, attrs);
  if (tlb === DMA_MAPPING_ERROR) {
    return DMA_MAPPING_ERROR;
  }
  const dma = physToDma(dev, tlb);
  if (!dmaCapable(dev, dma, size)) {
    swiotlbTblUnmapSingle(dev, tlb, size, dir, attrs | DMA_ATTR_SKIP_CPU_SYNC);
    WARN_ON_ONCE(
      m.kernel,
      true,
      `${SITE}:swiotlb_map`,
      `${dev.name}: swiotlb addr ${hexAddr(dma)}+${size} overflow (mask ${dev.dmaMask.toString(16)}, bus limit ${dev.busDmaLimit.toString(16)}).`,
    );
    return DMA_MAPPING_ERROR;
  }
  if (!devIsDmaCoherent(dev) && (attrs & DMA_ATTR_SKIP_CPU_SYNC) === 0) {
    archSyncDmaForDevice(m, tlb, size, dir);
  }
  return dma;
}

/**
 * Whether `paddr` is a bounce buffer. **Kernel:** `is_swiotlb_buffer()`.
 *
 * **Locking:** any context.
 */
export function isSwiotlbBufferFor(dev: Device, paddr: number): boolean {
  return isSwiotlbBuffer(dev.machine, paddr);
}
