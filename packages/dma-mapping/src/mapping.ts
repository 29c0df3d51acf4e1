/**
 * The entry points of the DMA mapping API: argument checks, the choice between dma-direct and
 * dma-iommu, and the DMA-API debug hooks, in the kernel's order (map: debug after a successful
 * map; page unmap: debug after; sg unmap: debug before; sync: debug after).
 *
 * **Kernel:** kernel/dma/mapping.c and include/linux/dma-mapping.h.
 *
 * Results follow the kernel: `dmaMapPage` / `dmaMapSingle` return a number that may be
 * `DMA_MAPPING_ERROR` (test it with {@link dmaMappingError}); `dmaMapSg` returns 0 on failure;
 * `dmaMapSgtable` throws `KernelError` `EINVAL`, `ENOMEM` or `EIO`; an invalid direction is a
 * `BUG()`.
 *
 * @module
 */
import {
  BUG_ON,
  KernelError,
  WARN_ON,
  WARN_ON_ONCE,
  cInteger,
  intT,
  sizeT,
  uintT,
} from "@dmasim/kernel";
import {
  DMA_BIT_MASK,
  dmaToPhys,
  hexAddr,
  iommuIovaToPhys,
  isSwiotlbBuffer,
  isVmallocAddr,
  pageToPhys,
  virtAddrValid,
  virtToPhys,
  type Device,
  type Page,
} from "@dmasim/hardware";
import { devIsDmaCoherent } from "./arch";
import {
  debugDmaMapPage,
  debugDmaMapResource,
  debugDmaMapSg,
  debugDmaMapSingle,
  debugDmaMappingError,
  debugDmaSyncSg,
  debugDmaSyncSingle,
  debugDmaUnmapPage,
  debugDmaUnmapResource,
  debugDmaUnmapSg,
} from "./debug";
import {
  dmaDirectGetRequiredMask,
  dmaDirectMapPhys,
  dmaDirectMapResource,
  dmaDirectMapSg,
  dmaDirectMaxMappingSize,
  dmaDirectSupported,
  dmaDirectSyncSgForCpu,
  dmaDirectSyncSgForDevice,
  dmaDirectSyncSingleForCpu,
  dmaDirectSyncSingleForDevice,
  dmaDirectUnmapPhys,
  dmaDirectUnmapSg,
} from "./direct";
import {
  iommuDmaMapPhys,
  iommuDmaMapResource,
  iommuDmaMapSg,
  iommuDmaMaxMappingSize,
  iommuDmaSyncSgForCpu,
  iommuDmaSyncSgForDevice,
  iommuDmaSyncSingleForCpu,
  iommuDmaSyncSingleForDevice,
  iommuDmaUnmapPhys,
  iommuDmaUnmapRange,
  iommuDmaUnmapSg,
  useDmaIommu,
} from "./dma-iommu";
import { validDmaDirection } from "./include/dma-direction";
import { DMA_MAPPING_ERROR } from "./include/dma-mapping";
import { DMA_MAPPING_ERAS } from "./era";
import { CONFIG_DMA_API_DEBUG, devDma, optionOn } from "./module";
import { sgCheckLive, type Scatterlist, type SgTable } from "./scatterlist";

const SITE = "kernel/dma/mapping.c";

function checkDir(dev: Device, dir: number, fn: string): void {
  BUG_ON(
    dev.machine.kernel,
    !validDmaDirection(dir),
    `${SITE}:${fn}`,
    `invalid DMA direction ${dir}`,
    { device: dev.name, dir },
  );
}

/** Whether syncs must run. **Kernel:** `dma_dev_need_sync()`. */
function devNeedSync(dev: Device): boolean {
  return !devDma(dev).skipSync || optionOn(dev.machine.kernel, CONFIG_DMA_API_DEBUG);
}

/**
 * `phys + off` in the kernel's 64-bit unsigned arithmetic: going below 0 wraps to a huge address
 * (beyond every memory here).
 */
function physAdd(phys: number, off: number): number {
  const sum = phys + off;
  return sum >= 0 ? sum : sizeT(sum, "phys_addr_t", "address");
}

function mapPhys(dev: Device, phys: number, size: number, dir: number, attrs: number): number {
  return useDmaIommu(dev)
    ? iommuDmaMapPhys(dev, phys, size, dir, attrs)
    : dmaDirectMapPhys(dev, phys, size, dir, attrs);
}

/**
 * Map `size` bytes at `offset` in `page` for `dev` in direction `dir`. Returns the DMA address,
 * or `DMA_MAPPING_ERROR` (test it with {@link dmaMappingError}).
 *
 * **Kernel:** `dma_map_page_attrs()`.
 *
 * **Locking:** any context (atomic allowed).
 *
 * @throws {@link KernelBug} for an invalid direction (`BUG()`)
 */
export function dmaMapPageAttrs(
  dev: Device,
  page: Page,
  offset: number,
  size: number,
  dir: number,
  attrs = 0,
): number {
  const len = sizeT(size, "dma_map_page_attrs", "size");
  // unsigned long arithmetic: a negative offset reaches back into the previous pages
  const phys = physAdd(pageToPhys(page), cInteger(offset, "dma_map_page_attrs", "offset"));
  checkDir(dev, dir, "dma_map_page_attrs");
  const addr = mapPhys(dev, phys, len, dir, attrs);
  debugDmaMapPage(dev, phys, len, dir, addr, attrs);
  return addr;
}

/**
 * {@link dmaMapPageAttrs} without attributes.
 *
 * **Kernel:** `dma_map_page()`.
 *
 * **Locking:** any context.
 *
 * @throws {@link KernelBug} for an invalid direction
 */
export function dmaMapPage(
  dev: Device,
  page: Page,
  offset: number,
  size: number,
  dir: number,
): number {
  return dmaMapPageAttrs(dev, page, offset, size, dir, 0);
}

/**
 * Unmap a page mapping: the CPU owns the buffer again (invalidate, copy back a bounce buffer,
 * unless `DMA_ATTR_SKIP_CPU_SYNC`).
 *
 * **Kernel:** `dma_unmap_page_attrs()`.
 *
 * **Locking:** any context.
 *
 * @throws {@link KernelBug} for an invalid direction
 */
export function dmaUnmapPageAttrs(
  dev: Device,
  addr: number,
  size: number,
  dir: number,
  attrs = 0,
): void {
  const a = sizeT(addr, "dma_unmap_page_attrs", "addr");
  const len = sizeT(size, "dma_unmap_page_attrs", "size");
  checkDir(dev, dir, "dma_unmap_page_attrs");
  if (useDmaIommu(dev)) {
    iommuDmaUnmapPhys(dev, a, len, dir, attrs);
  } else {
    dmaDirectUnmapPhys(dev, a, len, dir, attrs);
  }
  debugDmaUnmapPage(dev, a, len, dir);
}

/**
 * {@link dmaUnmapPageAttrs} without attributes.
 *
 * **Kernel:** `dma_unmap_page()`.
 *
 * **Locking:** any context.
 *
 * @throws {@link KernelBug} for an invalid direction
 */
export function dmaUnmapPage(dev: Device, addr: number, size: number, dir: number): void {
  dmaUnmapPageAttrs(dev, addr, size, dir, 0);
}

/**
 * Map `size` bytes at kernel virtual address `va` (linear map only). Since 5.18 a vmalloc
 * address is refused ("rejecting DMA map of vmalloc memory", `DMA_MAPPING_ERROR`); before, dma-debug
 * reports it. dmasim cannot map a non-linear address the way an older kernel did (through a bogus
 * `virt_to_page()`): when the bogus physical address is not RAM, the result is `DMA_MAPPING_ERROR`.
 *
 * **Kernel:** `dma_map_single_attrs()`.
 *
 * **Locking:** any context.
 *
 * @throws {@link KernelBug} for an invalid direction
 */
export function dmaMapSingleAttrs(
  dev: Device,
  va: number,
  size: number,
  dir: number,
  attrs = 0,
): number {
  const m = dev.machine;
  va = sizeT(va, "dma_map_single_attrs", "ptr");
  size = sizeT(size, "dma_map_single_attrs", "size");
  if (DMA_MAPPING_ERAS.mapSingleWarnsVmalloc(m.kernel) && isVmallocAddr(va)) {
    WARN_ON_ONCE(
      m.kernel,
      true,
      "include/linux/dma-mapping.h:dma_map_single_attrs",
      `${dev.name}: rejecting DMA map of vmalloc memory`,
    );
    return DMA_MAPPING_ERROR;
  }
  debugDmaMapSingle(dev, va, size);
  const valid = virtAddrValid(m, va);
  const phys = virtToPhys(m, va);
  checkDir(dev, dir, "dma_map_page_attrs");
  if (!valid && !m.memory.contains(phys, size)) {
    return DMA_MAPPING_ERROR;
  }
  const addr = mapPhys(dev, phys, size, dir, attrs);
  debugDmaMapPage(dev, phys, size, dir, addr, attrs);
  return addr;
}

/**
 * {@link dmaMapSingleAttrs} without attributes.
 *
 * **Kernel:** `dma_map_single()`.
 *
 * **Locking:** any context.
 *
 * @throws {@link KernelBug} for an invalid direction
 */
export function dmaMapSingle(dev: Device, va: number, size: number, dir: number): number {
  return dmaMapSingleAttrs(dev, va, size, dir, 0);
}

/**
 * Unmap a single mapping (the same as a page mapping).
 *
 * **Kernel:** `dma_unmap_single_attrs()`.
 *
 * **Locking:** any context.
 *
 * @throws {@link KernelBug} for an invalid direction
 */
export function dmaUnmapSingleAttrs(
  dev: Device,
  addr: number,
  size: number,
  dir: number,
  attrs = 0,
): void {
  dmaUnmapPageAttrs(dev, addr, size, dir, attrs);
}

/**
 * {@link dmaUnmapSingleAttrs} without attributes.
 *
 * **Kernel:** `dma_unmap_single()`.
 *
 * **Locking:** any context.
 *
 * @throws {@link KernelBug} for an invalid direction
 */
export function dmaUnmapSingle(dev: Device, addr: number, size: number, dir: number): void {
  dmaUnmapPageAttrs(dev, addr, size, dir, 0);
}

/** `__dma_map_sg_attrs()`: the number of DMA segments or a negative errno. */
function mapSg(
  dev: Device,
  sgl: readonly Scatterlist[],
  nents: number,
  dir: number,
  attrs: number,
): number {
  nents = intT(nents, "__dma_map_sg_attrs", "nents");
  checkDir(dev, dir, "__dma_map_sg_attrs");
  sgCheckLive(sgl, nents, "dma_map_sg_attrs");
  const ents = useDmaIommu(dev)
    ? iommuDmaMapSg(dev, sgl, nents, dir, attrs)
    : dmaDirectMapSg(dev, sgl, nents, dir, attrs);
  if (ents > 0) {
    debugDmaMapSg(dev, sgl, nents, ents, dir, attrs);
  } else if (
    WARN_ON_ONCE(
      dev.machine.kernel,
      ents !== -22 && ents !== -12 && ents !== -5,
      `${SITE}:__dma_map_sg_attrs`,
    )
  ) {
    return -5;
  }
  return ents;
}

/**
 * Map the first `nents` entries of a scatterlist. Returns the number of DMA segments (at most
 * `nents`; fewer when an IOMMU merged them), or 0 on any failure. Program the device with the
 * returned count; unmap and sync with `nents`.
 *
 * **Kernel:** `dma_map_sg_attrs()`.
 *
 * **Locking:** any context.
 *
 * @throws {@link KernelBug} for an invalid direction
 */
export function dmaMapSgAttrs(
  dev: Device,
  sgl: readonly Scatterlist[],
  nents: number,
  dir: number,
  attrs = 0,
): number {
  const ret = mapSg(dev, sgl, nents, dir, attrs);
  return ret < 0 ? 0 : ret;
}

/**
 * {@link dmaMapSgAttrs} without attributes.
 *
 * **Kernel:** `dma_map_sg()`.
 *
 * **Locking:** any context.
 *
 * @throws {@link KernelBug} for an invalid direction
 */
export function dmaMapSg(
  dev: Device,
  sgl: readonly Scatterlist[],
  nents: number,
  dir: number,
): number {
  return dmaMapSgAttrs(dev, sgl, nents, dir, 0);
}

/**
 * Unmap a scatterlist; `nents` must be the count passed to the map, not the count it returned.
 *
 * **Kernel:** `dma_unmap_sg_attrs()`.
 *
 * **Locking:** any context.
 *
 * @throws {@link KernelBug} for an invalid direction
 */
export function dmaUnmapSgAttrs(
  dev: Device,
  sgl: readonly Scatterlist[],
  nents: number,
  dir: number,
  attrs = 0,
): void {
  nents = intT(nents, "dma_unmap_sg_attrs", "nents");
  checkDir(dev, dir, "dma_unmap_sg_attrs");
  sgCheckLive(sgl, nents, "dma_unmap_sg_attrs");
  debugDmaUnmapSg(dev, sgl, nents, dir);
  if (useDmaIommu(dev)) {
    iommuDmaUnmapSg(dev, sgl, nents, dir, attrs);
  } else {
    dmaDirectUnmapSg(dev, sgl, nents, dir, attrs);
  }
}

/**
 * {@link dmaUnmapSgAttrs} without attributes.
 *
 * **Kernel:** `dma_unmap_sg()`.
 *
 * **Locking:** any context.
 *
 * @throws {@link KernelBug} for an invalid direction
 */
export function dmaUnmapSg(
  dev: Device,
  sgl: readonly Scatterlist[],
  nents: number,
  dir: number,
): void {
  dmaUnmapSgAttrs(dev, sgl, nents, dir, 0);
}

const ERRNO_NAMES: Readonly<Record<number, "EINVAL" | "ENOMEM" | "EIO">> = {
  [-22]: "EINVAL",
  [-12]: "ENOMEM",
  [-5]: "EIO",
};

/**
 * Map a whole table (`origNents` entries) and set `sgt.nents` to the number of DMA segments.
 * On failure nothing stays mapped and `sgt.nents` is unchanged.
 *
 * **Kernel:** `dma_map_sgtable()`.
 *
 * **Locking:** any context.
 *
 * @throws {@link KernelError} `EINVAL` (a bad argument or alignment: permanent), `ENOMEM` (no IOVA
 * space: may succeed later), `EIO` (a lower layer failed, e.g. the swiotlb pool is full or the
 * device cannot reach the memory)
 * @throws {@link KernelBug} for an invalid direction
 */
export function dmaMapSgtable(dev: Device, sgt: SgTable, dir: number, attrs = 0): void {
  const n = mapSg(dev, sgt.sgl, sgt.origNents, dir, attrs);
  if (n < 0) {
    throw new KernelError(
      ERRNO_NAMES[n] ?? "EIO",
      `dma_map_sgtable(${dev.name}): ${sgt.origNents} entries`,
    );
  }
  sgt.nents = n;
}

/**
 * Unmap a whole table (with `origNents`).
 *
 * **Kernel:** `dma_unmap_sgtable()`.
 *
 * **Locking:** any context.
 *
 * @throws {@link KernelBug} for an invalid direction
 */
export function dmaUnmapSgtable(dev: Device, sgt: SgTable, dir: number, attrs = 0): void {
  dmaUnmapSgAttrs(dev, sgt.sgl, sgt.origNents, dir, attrs);
}

/**
 * Give a mapping (or part of one) to the CPU: invalidate for a non-coherent device and copy a
 * bounce buffer back, as the direction needs.
 *
 * **Kernel:** `dma_sync_single_for_cpu()`.
 *
 * **Locking:** any context.
 *
 * @throws {@link KernelBug} for an invalid direction
 */
export function dmaSyncSingleForCpu(dev: Device, addr: number, size: number, dir: number): void {
  addr = sizeT(addr, "__dma_sync_single_for_cpu", "addr");
  size = sizeT(size, "__dma_sync_single_for_cpu", "size");
  if (!devNeedSync(dev)) {
    return;
  }
  checkDir(dev, dir, "__dma_sync_single_for_cpu");
  if (useDmaIommu(dev)) {
    iommuDmaSyncSingleForCpu(dev, addr, size, dir);
  } else {
    dmaDirectSyncSingleForCpu(dev, addr, size, dir);
  }
  debugDmaSyncSingle(dev, addr, size, dir, true);
}

/**
 * Give a mapping back to the device: refresh a bounce buffer and clean for a non-coherent device.
 *
 * **Kernel:** `dma_sync_single_for_device()`.
 *
 * **Locking:** any context.
 *
 * @throws {@link KernelBug} for an invalid direction
 */
export function dmaSyncSingleForDevice(dev: Device, addr: number, size: number, dir: number): void {
  addr = sizeT(addr, "__dma_sync_single_for_device", "addr");
  size = sizeT(size, "__dma_sync_single_for_device", "size");
  if (!devNeedSync(dev)) {
    return;
  }
  checkDir(dev, dir, "__dma_sync_single_for_device");
  if (useDmaIommu(dev)) {
    iommuDmaSyncSingleForDevice(dev, addr, size, dir);
  } else {
    dmaDirectSyncSingleForDevice(dev, addr, size, dir);
  }
  debugDmaSyncSingle(dev, addr, size, dir, false);
}

/**
 * Sync `size` bytes at `offset` into a mapping for the CPU.
 *
 * **Kernel:** `dma_sync_single_range_for_cpu()`.
 *
 * **Locking:** any context.
 *
 * @throws {@link KernelBug} for an invalid direction
 */
export function dmaSyncSingleRangeForCpu(
  dev: Device,
  addr: number,
  offset: number,
  size: number,
  dir: number,
): void {
  const base = sizeT(addr, "dma_sync_single_range_for_cpu", "addr");
  dmaSyncSingleForCpu(
    dev,
    physAdd(base, cInteger(offset, "dma_sync_single_range_for_cpu", "offset")),
    size,
    dir,
  );
}

/**
 * Sync `size` bytes at `offset` into a mapping for the device.
 *
 * **Kernel:** `dma_sync_single_range_for_device()`.
 *
 * **Locking:** any context.
 *
 * @throws {@link KernelBug} for an invalid direction
 */
export function dmaSyncSingleRangeForDevice(
  dev: Device,
  addr: number,
  offset: number,
  size: number,
  dir: number,
): void {
  const base = sizeT(addr, "dma_sync_single_range_for_device", "addr");
  dmaSyncSingleForDevice(
    dev,
    physAdd(base, cInteger(offset, "dma_sync_single_range_for_device", "offset")),
    size,
    dir,
  );
}

/**
 * Sync the first `nelems` entries of a mapped list for the CPU (`nelems` as passed to the map).
 *
 * **Kernel:** `dma_sync_sg_for_cpu()`.
 *
 * **Locking:** any context.
 *
 * @throws {@link KernelBug} for an invalid direction
 */
export function dmaSyncSgForCpu(
  dev: Device,
  sgl: readonly Scatterlist[],
  nelems: number,
  dir: number,
): void {
  nelems = intT(nelems, "__dma_sync_sg_for_cpu", "nelems");
  if (!devNeedSync(dev)) {
    return;
  }
  checkDir(dev, dir, "__dma_sync_sg_for_cpu");
  sgCheckLive(sgl, nelems, "dma_sync_sg_for_cpu");
  if (useDmaIommu(dev)) {
    iommuDmaSyncSgForCpu(dev, sgl, nelems, dir);
  } else {
    dmaDirectSyncSgForCpu(dev, sgl, nelems, dir);
  }
  debugDmaSyncSg(dev, sgl, nelems, dir, true);
}

/**
 * Sync the first `nelems` entries of a mapped list for the device.
 *
 * **Kernel:** `dma_sync_sg_for_device()`.
 *
 * **Locking:** any context.
 *
 * @throws {@link KernelBug} for an invalid direction
 */
export function dmaSyncSgForDevice(
  dev: Device,
  sgl: readonly Scatterlist[],
  nelems: number,
  dir: number,
): void {
  nelems = intT(nelems, "__dma_sync_sg_for_device", "nelems");
  if (!devNeedSync(dev)) {
    return;
  }
  checkDir(dev, dir, "__dma_sync_sg_for_device");
  sgCheckLive(sgl, nelems, "dma_sync_sg_for_device");
  if (useDmaIommu(dev)) {
    iommuDmaSyncSgForDevice(dev, sgl, nelems, dir);
  } else {
    dmaDirectSyncSgForDevice(dev, sgl, nelems, dir);
  }
  debugDmaSyncSg(dev, sgl, nelems, dir, false);
}

/**
 * Sync a mapped table for the CPU (all `origNents` entries).
 *
 * **Kernel:** `dma_sync_sgtable_for_cpu()`.
 *
 * **Locking:** any context.
 *
 * @throws {@link KernelBug} for an invalid direction
 */
export function dmaSyncSgtableForCpu(dev: Device, sgt: SgTable, dir: number): void {
  dmaSyncSgForCpu(dev, sgt.sgl, sgt.origNents, dir);
}

/**
 * Sync a mapped table for the device (all `origNents` entries).
 *
 * **Kernel:** `dma_sync_sgtable_for_device()`.
 *
 * **Locking:** any context.
 *
 * @throws {@link KernelBug} for an invalid direction
 */
export function dmaSyncSgtableForDevice(dev: Device, sgt: SgTable, dir: number): void {
  dmaSyncSgForDevice(dev, sgt.sgl, sgt.origNents, dir);
}

/**
 * Map an MMIO or peer-device resource at physical address `phys`: no cache maintenance, no bounce.
 *
 * **Kernel:** `dma_map_resource()`.
 *
 * **Locking:** any context.
 *
 * @throws {@link KernelBug} for an invalid direction
 */
export function dmaMapResource(
  dev: Device,
  phys: number,
  size: number,
  dir: number,
  attrs = 0,
): number {
  phys = sizeT(phys, "dma_map_resource", "phys_addr");
  size = sizeT(size, "dma_map_resource", "size");
  checkDir(dev, dir, "dma_map_resource");
  const addr = useDmaIommu(dev)
    ? iommuDmaMapResource(dev, phys, size, dir, attrs)
    : dmaDirectMapResource(dev, phys, size);
  debugDmaMapResource(dev, size, dir, addr, attrs);
  return addr;
}

/**
 * Unmap a resource mapping.
 *
 * **Kernel:** `dma_unmap_resource()`.
 *
 * **Locking:** any context.
 *
 * @throws {@link KernelBug} for an invalid direction
 */
export function dmaUnmapResource(
  dev: Device,
  addr: number,
  size: number,
  dir: number,
  attrs = 0,
): void {
  void attrs;
  addr = sizeT(addr, "dma_unmap_resource", "addr");
  size = sizeT(size, "dma_unmap_resource", "size");
  checkDir(dev, dir, "dma_unmap_resource");
  if (useDmaIommu(dev)) {
    iommuDmaUnmapRange(dev, addr, size);
  }
  debugDmaUnmapResource(dev, addr, size, dir);
}

/**
 * Whether a mapping failed. The kernel returns `-ENOMEM` for `DMA_MAPPING_ERROR` and 0 otherwise;
 * here `true` / `false`. Also tells dma-debug the result was checked.
 *
 * **Kernel:** `dma_mapping_error()`.
 *
 * **Locking:** any context.
 */
export function dmaMappingError(dev: Device, addr: number): boolean {
  debugDmaMappingError(dev, addr);
  return addr === DMA_MAPPING_ERROR;
}

/**
 * The largest single mapping `dev` can make: the swiotlb limit when it may bounce, else
 * unlimited (`SIZE_MAX`).
 *
 * **Kernel:** `dma_max_mapping_size()`.
 *
 * **Locking:** none.
 */
export function dmaMaxMappingSize(dev: Device): number {
  return useDmaIommu(dev) ? iommuDmaMaxMappingSize(dev) : dmaDirectMaxMappingSize(dev);
}

/**
 * The mask that covers all memory for `dev`: 32 bits behind an IOMMU, the top of RAM otherwise.
 *
 * **Kernel:** `dma_get_required_mask()`.
 *
 * **Locking:** none.
 */
export function dmaGetRequiredMask(dev: Device): number {
  return useDmaIommu(dev) ? DMA_BIT_MASK(32) : dmaDirectGetRequiredMask(dev);
}

/**
 * Whether `dev` cannot reach all of memory directly (some mappings will bounce or fail).
 *
 * **Kernel:** `dma_addressing_limited()`.
 *
 * **Locking:** none.
 */
export function dmaAddressingLimited(dev: Device): boolean {
  return dev.dmaLimit < dmaGetRequiredMask(dev);
}

/**
 * Whether syncs of the mapping at `addr` do anything: the device is not coherent, or the mapping
 * is bounced.
 *
 * **Kernel:** `dma_need_sync()`.
 *
 * **Locking:** any context.
 */
export function dmaNeedSync(dev: Device, addr: number): boolean {
  const m = dev.machine;
  if (!devIsDmaCoherent(dev)) {
    return true;
  }
  const phys = useDmaIommu(dev) ? iommuIovaToPhys(dev.domain!, addr) : dmaToPhys(dev, addr);
  return isSwiotlbBuffer(m, phys);
}

/**
 * The streaming DMA mask. **Kernel:** `dma_get_mask()`.
 *
 * **Locking:** none.
 */
export function dmaGetMask(dev: Device): number {
  return dev.dmaMask;
}

/** Bits of a mask value (`DMA_BIT_MASK(n)` gives `n`; any other mask rounds down). */
function maskBits(mask: number): number {
  if (mask >= Number.MAX_SAFE_INTEGER) {
    return 64;
  }
  return Math.floor(Math.log2(mask + 1));
}

function supported(dev: Device, mask: number): boolean {
  return useDmaIommu(dev) || dmaDirectSupported(dev, mask);
}

/**
 * Set the streaming DMA mask (a `DMA_BIT_MASK(n)` value).
 *
 * **Kernel:** `dma_set_mask()` (returns `-EIO` when dma-direct cannot serve the mask).
 *
 * **Locking:** process context, at probe time.
 *
 * @throws {@link KernelError} `EIO` when the mask is too small for the platform (smaller than
 * 32 bits and not covering ZONE_DMA), or not positive
 */
export function dmaSetMask(dev: Device, mask: number): void {
  mask = sizeT(mask, "dma_set_mask", "mask");
  if (!(mask > 0) || !supported(dev, mask)) {
    throw new KernelError("EIO", `dma_set_mask(${dev.name}, ${hexAddr(mask)}): not supported`);
  }
  dev.dmaMaskBits = maskBits(mask);
  devDma(dev).skipSync = DMA_MAPPING_ERAS.devSkipSync(dev.machine.kernel) && devIsDmaCoherent(dev);
}

/**
 * Set the coherent-allocation mask.
 *
 * **Kernel:** `dma_set_coherent_mask()`.
 *
 * **Locking:** process context, at probe time.
 *
 * @throws {@link KernelError} `EIO` as {@link dmaSetMask}
 */
export function dmaSetCoherentMask(dev: Device, mask: number): void {
  mask = sizeT(mask, "dma_set_coherent_mask", "mask");
  if (!(mask > 0) || !supported(dev, mask)) {
    throw new KernelError(
      "EIO",
      `dma_set_coherent_mask(${dev.name}, ${hexAddr(mask)}): not supported`,
    );
  }
  dev.coherentDmaMaskBits = maskBits(mask);
}

/**
 * Set both masks (the coherent one only when the streaming one was accepted).
 *
 * **Kernel:** `dma_set_mask_and_coherent()`.
 *
 * **Locking:** process context, at probe time.
 *
 * @throws {@link KernelError} `EIO` as {@link dmaSetMask}
 */
export function dmaSetMaskAndCoherent(dev: Device, mask: number): void {
  dmaSetMask(dev, mask);
  dmaSetCoherentMask(dev, mask);
}

/**
 * Point the streaming mask at the coherent one and set both (for buses that never set a mask).
 *
 * **Kernel:** `dma_coerce_mask_and_coherent()`.
 *
 * **Locking:** process context, at probe time.
 *
 * @throws {@link KernelError} `EIO` as {@link dmaSetMask}
 */
export function dmaCoerceMaskAndCoherent(dev: Device, mask: number): void {
  dmaSetMaskAndCoherent(dev, mask);
}

/**
 * The largest DMA segment the device takes. **Kernel:** `dma_get_max_seg_size()`.
 *
 * **Locking:** none.
 */
export function dmaGetMaxSegSize(dev: Device): number {
  return dev.maxSegmentSize;
}

/**
 * Set the largest DMA segment (IOMMU merging and dma-debug's sg checks respect it).
 *
 * **Kernel:** `dma_set_max_seg_size()`.
 *
 * **Locking:** process context, at probe time.
 */
export function dmaSetMaxSegSize(dev: Device, size: number): void {
  size = uintT(size, "dma_set_max_seg_size", "size");
  if (!WARN_ON(dev.machine.kernel, !(size > 0), `${SITE}:dma_set_max_seg_size`)) {
    dev.maxSegmentSize = size;
  }
}

/**
 * The segment boundary mask. **Kernel:** `dma_get_seg_boundary()`.
 *
 * **Locking:** none.
 */
export function dmaGetSegBoundary(dev: Device): number {
  return dev.segmentBoundaryMask;
}

/**
 * Set the segment boundary mask (a power of two minus one): no DMA segment may cross a multiple
 * of `mask + 1`.
 *
 * **Kernel:** `dma_set_seg_boundary()`.
 *
 * **Locking:** process context, at probe time.
 */
export function dmaSetSegBoundary(dev: Device, mask: number): void {
  mask = sizeT(mask, "dma_set_seg_boundary", "mask");
  if (!WARN_ON(dev.machine.kernel, !(mask > 0), `${SITE}:dma_set_seg_boundary`)) {
    dev.segmentBoundaryMask = mask;
  }
}
