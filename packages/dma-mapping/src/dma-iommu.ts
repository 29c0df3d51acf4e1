/**
 * dma-iommu: the DMA API for a device behind an IOMMU DMA domain. Each mapping gets an IOVA range
 * (top-down below the device's mask, aligned to its rounded-up power-of-two size), mapped with
 * permissions from the direction (TO_DEVICE read-only, FROM_DEVICE write-only). A scatterlist is
 * mapped into one IOVA range and its segments merged. Unmap is strict (IOTLB invalidated before
 * the IOVA is freed) or lazy (the IOVA waits in a flush queue until the next IOTLB flush: when
 * 256 entries are queued, or 10 ms after the first). Untrusted devices (and, 6.5+, small
 * unaligned buffers of non-coherent devices) bounce sub-granule buffers through swiotlb, with the
 * padding zeroed for untrusted devices.
 *
 * **Kernel:** drivers/iommu/dma-iommu.c (`iommu_dma_map_page`, `iommu_dma_unmap_page`,
 * `iommu_dma_map_sg`, `__finalise_sg`, `iommu_dma_unmap_sg`, `iommu_dma_sync_*`,
 * `iommu_dma_alloc_iova`, `__iommu_dma_map`, `__iommu_dma_unmap`, `dma_info_to_prot`, the flush
 * queue), drivers/iommu/iova.c (`alloc_iova`, size-aligned, top-down).
 *
 * Not modelled: the per-CPU IOVA caches (freed ranges are reused through the top-down search
 * instead), the 32-bit-first try for PCI devices, reserved regions, IOMMU pages other than 4 KiB,
 * and non-contiguous coherent allocations.
 *
 * @module
 */
import { KERN_WARNING, NSEC_PER_MSEC, WARN_ON, defineSubsys } from "@dmasim/kernel";
import {
  IOMMU_CACHE,
  IOMMU_DOMAIN_DMA,
  IOMMU_DOMAIN_DMA_FQ,
  IOMMU_MMIO,
  IOMMU_PAGE_SIZE,
  IOMMU_PRIV,
  IOMMU_READ,
  IOMMU_WRITE,
  cpuMemset,
  iommuFlushIotlbAll,
  iommuIotlbGatherInit,
  iommuIotlbSync,
  iommuIovaToPhys,
  iommuMap,
  iommuUnmapFast,
  isSwiotlbActive,
  isSwiotlbBuffer,
  physToVirt,
  swiotlbMaxMappingSize,
  type Device,
  type IommuDomain,
} from "@dmasim/hardware";
import { archSyncDmaForCpu, archSyncDmaForDevice, devIsDmaCoherent } from "./arch";
import {
  dmaKmallocNeedsBounce,
  dmaKmallocSafe,
  dmaKmallocSizeAligned,
} from "./include/dma-map-ops";
import { DMA_BIDIRECTIONAL, DMA_FROM_DEVICE, DMA_TO_DEVICE } from "./include/dma-direction";
import {
  DMA_ATTR_PRIVILEGED,
  DMA_ATTR_SKIP_CPU_SYNC,
  DMA_MAPPING_ERROR,
  SIZE_MAX,
} from "./include/dma-mapping";
import { DMA_MAPPING_ERAS } from "./era";
import { DMA_MAPPING_MODULE } from "./module";
import { sgDmaIsSwiotlb, sgDmaMarkSwiotlb, sgPhys, type Scatterlist } from "./scatterlist";
import {
  swiotlbSyncSingleForCpu,
  swiotlbSyncSingleForDevice,
  swiotlbTblMapSingle,
  swiotlbTblUnmapSingle,
} from "./swiotlb";

const SITE = "drivers/iommu/dma-iommu.c";
const GRANULE = IOMMU_PAGE_SIZE;
/** Entries of a flush queue before it is flushed. **Kernel:** `IOVA_FQ_SIZE`. */
export const IOVA_FQ_SIZE = 256;
/** Nanoseconds after the first queued entry at which the flush timer fires. **Kernel:** `IOVA_FQ_TIMEOUT` (10 ms). */
export const IOVA_FQ_TIMEOUT_NS = 10 * NSEC_PER_MSEC;

interface IovaRange {
  readonly start: number;
  readonly end: number;
}

/**
 * The IOVA space of one DMA domain and its flush queue.
 *
 * **Kernel:** `struct iommu_dma_cookie` with its `struct iova_domain` and flush queue.
 *
 * **Locking:** the iova_domain's spinlock and the per-CPU queue locks in the kernel; synchronous here.
 */
export class IovaDomain {
  /** Allocated IOVA ranges, sorted by start. */
  readonly ranges: IovaRange[] = [];
  /** IOVA starts waiting for an IOTLB flush (lazy domains). */
  readonly fq: number[] = [];
  /** When the flush timer fires (ns), or null when not armed. */
  fqDeadline: number | null = null;
  /** The lowest IOVA handed out (IOVA 0 is never used). **Kernel:** `iovad->start_pfn`. */
  readonly start = GRANULE;

  constructor(readonly domain: IommuDomain) {}

  /** Bytes of IOVA space currently allocated (including ranges waiting in the flush queue). */
  get allocatedBytes(): number {
    return this.ranges.reduce((n, r) => n + r.end - r.start, 0);
  }
}

const IOVADS = defineSubsys(
  "dma-mapping:iova",
  () => new Map<IommuDomain, IovaDomain>(),
  DMA_MAPPING_MODULE,
);

/**
 * The IOVA space of a DMA domain (created on first use).
 *
 * **Kernel:** `iommu_dma_get_resv_regions()` / `iommu_dma_init_domain()` set it up at attach.
 *
 * **Locking:** none.
 */
export function iommuDmaIovad(domain: IommuDomain): IovaDomain {
  const map = domain.machine.kernel.subsys(IOVADS);
  let iovad = map.get(domain);
  if (!iovad) {
    iovad = new IovaDomain(domain);
    map.set(domain, iovad);
  }
  return iovad;
}

/**
 * Whether `dev`'s DMA goes through dma-iommu: it is attached to a DMA domain (strict or lazy).
 * Identity domains and devices without an IOMMU use dma-direct.
 *
 * **Kernel:** `use_dma_iommu()`.
 *
 * **Locking:** none.
 */
export function useDmaIommu(dev: Device): boolean {
  const t = dev.domain?.type;
  return t === IOMMU_DOMAIN_DMA || t === IOMMU_DOMAIN_DMA_FQ;
}

/**
 * IOMMU permissions for a mapping: `IOMMU_CACHE` for a coherent device, `IOMMU_PRIV` for
 * `DMA_ATTR_PRIVILEGED`, read for TO_DEVICE, write for FROM_DEVICE, both for BIDIRECTIONAL.
 *
 * **Kernel:** `dma_info_to_prot()`.
 *
 * **Locking:** none (pure).
 */
export function dmaInfoToProt(dir: number, coherent: boolean, attrs: number): number {
  let prot = coherent ? IOMMU_CACHE : 0;
  if (attrs & DMA_ATTR_PRIVILEGED) {
    prot |= IOMMU_PRIV;
  }
  switch (dir) {
    case DMA_BIDIRECTIONAL:
      return prot | IOMMU_READ | IOMMU_WRITE;
    case DMA_TO_DEVICE:
      return prot | IOMMU_READ;
    case DMA_FROM_DEVICE:
      return prot | IOMMU_WRITE;
    default:
      return 0;
  }
}

function ioAlign(x: number): number {
  return Math.ceil(x / GRANULE) * GRANULE;
}

function domainOf(dev: Device): IommuDomain {
  return dev.domain!;
}

/** Find a free, size-aligned range below `limitEnd`, searching top-down. */
function allocIova(iovad: IovaDomain, size: number, limit: number): number {
  const pages = size / GRANULE;
  const align = GRANULE * 2 ** Math.ceil(Math.log2(Math.max(pages, 1)));
  let high = Math.floor((limit + 1) / GRANULE) * GRANULE;
  const rs = iovad.ranges;
  for (let i = rs.length - 1; i >= -1; i--) {
    const r = rs[i];
    const floor = r ? r.end : iovad.start;
    if (r && r.start >= high) {
      continue;
    }
    const cand = Math.floor((high - size) / align) * align;
    if (cand >= floor && cand >= iovad.start) {
      rs.splice(i + 1, 0, { start: cand, end: cand + size });
      return cand;
    }
    if (!r) {
      break;
    }
    high = Math.min(high, r.start);
  }
  return 0;
}

function freeIova(iovad: IovaDomain, iova: number): void {
  const i = iovad.ranges.findIndex((r) => r.start <= iova && iova < r.end);
  if (
    !WARN_ON(
      iovad.domain.machine.kernel,
      i < 0,
      "drivers/iommu/iova.c:free_iova",
      `freeing unallocated IOVA 0x${iova.toString(16)}`,
    )
  ) {
    iovad.ranges.splice(i, 1);
  }
}

/**
 * Allocate `size` bytes (granule multiple) of IOVA space below the device's limit; 0 when none is
 * left.
 *
 * **Kernel:** `iommu_dma_alloc_iova()`.
 *
 * **Locking:** any context.
 */
export function iommuDmaAllocIova(dev: Device, size: number, dmaLimit: number): number {
  const domain = domainOf(dev);
  let limit = Math.min(dmaLimit, domain.apertureEnd - 1);
  if (dev.busDmaLimit > 0) {
    limit = Math.min(limit, dev.busDmaLimit);
  }
  return allocIova(iommuDmaIovad(domain), size, limit);
}

/**
 * Run the flush queue of `domain` now: invalidate the whole IOTLB, then free every queued IOVA.
 * What the flush-queue timer does 10 ms after the first entry was queued.
 *
 * **Kernel:** `fq_flush_timeout()` → `fq_flush_iotlb()` and `fq_ring_free()`.
 *
 * **Locking:** any context.
 */
export function iommuDmaFlushFq(domain: IommuDomain): void {
  const iovad = iommuDmaIovad(domain);
  if (iovad.fq.length === 0) {
    iovad.fqDeadline = null;
    return;
  }
  iommuFlushIotlbAll(domain);
  for (const iova of iovad.fq.splice(0)) {
    freeIova(iovad, iova);
  }
  iovad.fqDeadline = null;
}

/** The timer fires if its time has come (checked at every dma-iommu call). */
function fqTimer(dev: Device): void {
  const iovad = iommuDmaIovad(domainOf(dev));
  if (iovad.fqDeadline !== null && dev.machine.kernel.clock.now() >= iovad.fqDeadline) {
    iommuDmaFlushFq(iovad.domain);
  }
}

function queueIova(iovad: IovaDomain, iova: number): void {
  if (iovad.fq.length >= IOVA_FQ_SIZE) {
    iommuDmaFlushFq(iovad.domain);
  }
  iovad.fq.push(iova);
  iovad.fqDeadline ??= iovad.domain.machine.kernel.clock.now() + IOVA_FQ_TIMEOUT_NS;
}

/**
 * Map `[phys, phys + size)` at a new IOVA with `prot`; returns the IOVA plus the offset of `phys`
 * in its granule, or `DMA_MAPPING_ERROR` when no IOVA space is left or the map fails.
 *
 * **Kernel:** `__iommu_dma_map()`.
 *
 * **Locking:** any context (`GFP_ATOMIC`).
 */
export function iommuDmaMapRange(
  dev: Device,
  phys: number,
  size: number,
  prot: number,
  dmaMask: number,
): number {
  fqTimer(dev);
  const off = phys % GRANULE;
  const len = ioAlign(size + off);
  const iovad = iommuDmaIovad(domainOf(dev));
  const iova = iommuDmaAllocIova(dev, len, dmaMask);
  if (!iova) {
    return DMA_MAPPING_ERROR;
  }
  try {
    iommuMap(domainOf(dev), iova, phys - off, len, prot);
  } catch {
    freeIova(iovad, iova);
    return DMA_MAPPING_ERROR;
  }
  return iova + off;
}

/**
 * Unmap the IOVA range of a mapping: strict domains invalidate the IOTLB and free the IOVA now;
 * lazy ones queue the IOVA for the next flush (the stale translation stays usable until then).
 * WARNs when fewer bytes were mapped than asked.
 *
 * **Kernel:** `__iommu_dma_unmap()`.
 *
 * **Locking:** any context.
 */
export function iommuDmaUnmapRange(dev: Device, dmaAddr: number, size: number): void {
  fqTimer(dev);
  const domain = domainOf(dev);
  const iovad = iommuDmaIovad(domain);
  const off = dmaAddr % GRANULE;
  const start = dmaAddr - off;
  const len = ioAlign(size + off);
  const gather = iommuIotlbGatherInit();
  const done = iommuUnmapFast(domain, start, len, gather);
  WARN_ON(
    dev.machine.kernel,
    done !== len,
    `${SITE}:__iommu_dma_unmap`,
    `unmapped ${done} of ${len} bytes at iova 0x${start.toString(16)}`,
  );
  if (domain.lazy) {
    queueIova(iovad, start);
  } else {
    iommuIotlbSync(domain, gather);
    freeIova(iovad, start);
  }
}

/** Whether a single mapping of `size` bytes bounces: untrusted device, or kmalloc bouncing. */
function devUseSwiotlb(dev: Device, size: number, dir: number, attrs: number): boolean {
  return dev.untrusted || dmaKmallocNeedsBounce(dev, size, dir, attrs);
}

/** Whether a whole list is mapped page by page through the single path. */
function devUseSgSwiotlb(
  dev: Device,
  sgl: readonly Scatterlist[],
  n: number,
  dir: number,
  attrs: number,
): boolean {
  if (dev.untrusted) {
    return true;
  }
  if (!dmaKmallocSafe(dev, dir, attrs)) {
    for (let i = 0; i < n; i++) {
      if (!dmaKmallocSizeAligned(dev, sgl[i]!.length)) {
        return true;
      }
    }
  }
  return false;
}

/** Whether a mapped list went through the single path (the flag since 6.5, untrusted before). */
function sgWasBounced(dev: Device, sgl: readonly Scatterlist[]): boolean {
  return DMA_MAPPING_ERAS.sgDmaSwiotlbFlag(dev.machine.kernel)
    ? sgl.length > 0 && sgDmaIsSwiotlb(sgl[0]!)
    : dev.untrusted;
}

/**
 * Map one physical range: bounce a sub-granule buffer when the device needs it (zeroing the
 * padding for an untrusted device), clean for a non-coherent device unless
 * `DMA_ATTR_SKIP_CPU_SYNC`, then map the IOVA.
 *
 * **Kernel:** `iommu_dma_map_page()` (`iommu_dma_map_phys()` in newer kernels).
 *
 * **Locking:** any context.
 */
export function iommuDmaMapPhys(
  dev: Device,
  phys: number,
  size: number,
  dir: number,
  attrs: number,
): number {
  const m = dev.machine;
  const coherent = devIsDmaCoherent(dev);
  let paddr = phys;
  if (devUseSwiotlb(dev, size, dir, attrs) && (phys % GRANULE !== 0 || size % GRANULE !== 0)) {
    if (!isSwiotlbActive(m)) {
      if (!m.kernel.warnedOnce.has(`${SITE}:bounce-inactive:${dev.name}`)) {
        m.kernel.warnedOnce.add(`${SITE}:bounce-inactive:${dev.name}`);
        m.kernel.printk(
          KERN_WARNING,
          `${dev.name}: DMA bounce buffers are inactive, unable to map unaligned transaction.`,
        );
      }
      return DMA_MAPPING_ERROR;
    }
    const aligned = ioAlign(size);
    paddr = swiotlbTblMapSingle(dev, phys, size, aligned, GRANULE - 1, dir, attrs);
    if (paddr === DMA_MAPPING_ERROR) {
      return DMA_MAPPING_ERROR;
    }
    if (dev.untrusted) {
      zeroPadding(dev, paddr, size, aligned);
    }
  }
  if (!coherent && (attrs & DMA_ATTR_SKIP_CPU_SYNC) === 0) {
    archSyncDmaForDevice(m, paddr, size, dir);
  }
  const iova = iommuDmaMapRange(dev, paddr, size, dmaInfoToProt(dir, coherent, attrs), dev.dmaMask);
  if (iova === DMA_MAPPING_ERROR && isSwiotlbBuffer(m, paddr)) {
    swiotlbTblUnmapSingle(dev, paddr, size, dir, attrs | DMA_ATTR_SKIP_CPU_SYNC);
  }
  return iova;
}

/** Zero the bytes of the bounce granules before and after the data (untrusted devices). */
function zeroPadding(dev: Device, tlb: number, size: number, aligned: number): void {
  const m = dev.machine;
  const first = tlb - (tlb % GRANULE);
  const before = tlb - first;
  const after = ioAlign(tlb + size) - (tlb + size);
  void aligned;
  if (before > 0) {
    cpuMemset(m, physToVirt(m, first), 0, before, "swiotlb");
  }
  if (after > 0) {
    cpuMemset(m, physToVirt(m, tlb + size), 0, after, "swiotlb");
  }
}

/**
 * Sync a mapping for the CPU: invalidate a non-coherent device's range (the bounce buffer when
 * bounced), then copy a bounce buffer back.
 *
 * **Kernel:** `iommu_dma_sync_single_for_cpu()`.
 *
 * **Locking:** any context.
 *
 * @throws {@link KernelBug} for an invalid direction on a bounced mapping
 */
export function iommuDmaSyncSingleForCpu(
  dev: Device,
  addr: number,
  size: number,
  dir: number,
): void {
  const m = dev.machine;
  const coherent = devIsDmaCoherent(dev);
  if (coherent && !devUseSwiotlb(dev, size, dir, 0)) {
    return;
  }
  const phys = iommuIovaToPhys(domainOf(dev), addr);
  if (!coherent) {
    archSyncDmaForCpu(m, phys, size, dir);
  }
  if (isSwiotlbBuffer(m, phys)) {
    swiotlbSyncSingleForCpu(dev, phys, size, dir);
  }
}

/**
 * Sync a mapping for the device: refresh a bounce buffer, then clean for a non-coherent device.
 *
 * **Kernel:** `iommu_dma_sync_single_for_device()`.
 *
 * **Locking:** any context.
 *
 * @throws {@link KernelBug} for an invalid direction on a bounced mapping
 */
export function iommuDmaSyncSingleForDevice(
  dev: Device,
  addr: number,
  size: number,
  dir: number,
): void {
  const m = dev.machine;
  const coherent = devIsDmaCoherent(dev);
  if (coherent && !devUseSwiotlb(dev, size, dir, 0)) {
    return;
  }
  const phys = iommuIovaToPhys(domainOf(dev), addr);
  if (isSwiotlbBuffer(m, phys)) {
    swiotlbSyncSingleForDevice(dev, phys, size, dir);
  }
  if (!coherent) {
    archSyncDmaForDevice(m, phys, size, dir);
  }
}

/**
 * Unmap one mapping: invalidate for the CPU unless `DMA_ATTR_SKIP_CPU_SYNC` (non-coherent), unmap
 * the IOVA (strict or lazy), then copy back and release a bounce buffer. An IOVA that translates
 * to nothing WARNs and nothing is done.
 *
 * **Kernel:** `iommu_dma_unmap_page()`.
 *
 * **Locking:** any context.
 */
export function iommuDmaUnmapPhys(
  dev: Device,
  addr: number,
  size: number,
  dir: number,
  attrs: number,
): void {
  const m = dev.machine;
  const phys = iommuIovaToPhys(domainOf(dev), addr);
  if (
    WARN_ON(
      m.kernel,
      !phys,
      `${SITE}:iommu_dma_unmap_page`,
      `no translation for iova 0x${addr.toString(16)}`,
    )
  ) {
    return;
  }
  if ((attrs & DMA_ATTR_SKIP_CPU_SYNC) === 0 && !devIsDmaCoherent(dev)) {
    archSyncDmaForCpu(m, phys, size, dir);
  }
  iommuDmaUnmapRange(dev, addr, size);
  if (isSwiotlbBuffer(m, phys)) {
    swiotlbTblUnmapSingle(dev, phys, size, dir, attrs);
  }
}

function unmapSgSwiotlb(
  dev: Device,
  sgl: readonly Scatterlist[],
  n: number,
  dir: number,
  attrs: number,
): void {
  for (let i = 0; i < n; i++) {
    const sg = sgl[i]!;
    iommuDmaUnmapPhys(dev, sg.dmaAddress, sg.dmaLength, dir, attrs);
  }
}

function mapSgSwiotlb(
  dev: Device,
  sgl: readonly Scatterlist[],
  n: number,
  dir: number,
  attrs: number,
): number {
  for (let i = 0; i < n; i++) {
    const sg = sgl[i]!;
    sg.dmaAddress = iommuDmaMapPhys(dev, sgPhys(sg), sg.length, dir, attrs);
    if (sg.dmaAddress === DMA_MAPPING_ERROR) {
      unmapSgSwiotlb(dev, sgl, i, dir, attrs | DMA_ATTR_SKIP_CPU_SYNC);
      return -5; // -EIO
    }
    sg.dmaLength = sg.length;
  }
  if (DMA_MAPPING_ERAS.sgDmaSwiotlbFlag(dev.machine.kernel)) {
    sgDmaMarkSwiotlb(sgl[0]!);
  }
  return n;
}

/** Per-entry layout of a list in its IOVA range. */
interface Slot {
  /** Offset of the data in its first granule. */
  readonly off: number;
  /** Bytes of data. */
  readonly len: number;
  /** IOVA bytes the entry occupies (granule-aligned, plus any boundary padding after it). */
  span: number;
}

/**
 * Sync the first `nents` entries for the device: per entry through the single path when the list
 * was bounced, else the architecture's clean per entry (non-coherent devices).
 *
 * **Kernel:** `iommu_dma_sync_sg_for_device()`.
 *
 * **Locking:** any context.
 *
 * @throws {@link KernelBug} for an invalid direction on a bounced entry
 */
export function iommuDmaSyncSgForDevice(
  dev: Device,
  sgl: readonly Scatterlist[],
  nents: number,
  dir: number,
): void {
  const n = Math.min(nents, sgl.length);
  if (sgWasBounced(dev, sgl)) {
    for (let i = 0; i < n; i++) {
      iommuDmaSyncSingleForDevice(dev, sgl[i]!.dmaAddress, sgl[i]!.length, dir);
    }
  } else if (!devIsDmaCoherent(dev)) {
    for (let i = 0; i < n; i++) {
      archSyncDmaForDevice(dev.machine, sgPhys(sgl[i]!), sgl[i]!.length, dir);
    }
  }
}

/**
 * Sync the first `nents` entries for the CPU (as {@link iommuDmaSyncSgForDevice}, with the
 * invalidate and copy back).
 *
 * **Kernel:** `iommu_dma_sync_sg_for_cpu()`.
 *
 * **Locking:** any context.
 *
 * @throws {@link KernelBug} for an invalid direction on a bounced entry
 */
export function iommuDmaSyncSgForCpu(
  dev: Device,
  sgl: readonly Scatterlist[],
  nents: number,
  dir: number,
): void {
  const n = Math.min(nents, sgl.length);
  if (sgWasBounced(dev, sgl)) {
    for (let i = 0; i < n; i++) {
      iommuDmaSyncSingleForCpu(dev, sgl[i]!.dmaAddress, sgl[i]!.length, dir);
    }
  } else if (!devIsDmaCoherent(dev)) {
    for (let i = 0; i < n; i++) {
      archSyncDmaForCpu(dev.machine, sgPhys(sgl[i]!), sgl[i]!.length, dir);
    }
  }
}

/**
 * Map a scatterlist: either page by page through swiotlb (untrusted devices; small unaligned
 * segments of a non-coherent device, 6.5+, marking the first entry `SG_DMA_SWIOTLB`), or as one
 * IOVA range, each entry padded to granules (and to the segment boundary when needed), then
 * merged into as few DMA segments as the boundary and the maximum segment size allow. Returns the
 * number of DMA segments, or a negative errno: `-ENOMEM` when no IOVA space is left, `-EINVAL`
 * when the IOMMU map fails, `-EIO` when a bounce fails.
 *
 * **Kernel:** `iommu_dma_map_sg()` and `__finalise_sg()`.
 *
 * **Locking:** any context.
 */
export function iommuDmaMapSg(
  dev: Device,
  sgl: readonly Scatterlist[],
  nents: number,
  dir: number,
  attrs: number,
): number {
  fqTimer(dev);
  const n = Math.min(nents, sgl.length);
  if (devUseSgSwiotlb(dev, sgl, n, dir, attrs)) {
    return mapSgSwiotlb(dev, sgl, n, dir, attrs);
  }
  if ((attrs & DMA_ATTR_SKIP_CPU_SYNC) === 0) {
    iommuDmaSyncSgForDevice(dev, sgl, n, dir);
  }
  const coherent = devIsDmaCoherent(dev);
  const prot = dmaInfoToProt(dir, coherent, attrs);
  const boundary = dev.segmentBoundaryMask + 1;
  const slots: Slot[] = [];
  let iovaLen = 0;
  for (let i = 0; i < n; i++) {
    const sg = sgl[i]!;
    const off = sgPhys(sg) % GRANULE;
    const span = ioAlign(sg.length + off);
    const pad = (boundary - (iovaLen % boundary)) % boundary;
    const prev = slots[i - 1];
    if (prev && pad > 0 && pad < span - 1) {
      prev.span += pad;
      iovaLen += pad;
    }
    slots.push({ off, len: sg.length, span });
    iovaLen += span;
  }
  const domain = domainOf(dev);
  const iovad = iommuDmaIovad(domain);
  const iova = iommuDmaAllocIova(dev, iovaLen, dev.dmaMask);
  if (!iova) {
    return -12; // -ENOMEM
  }
  let cursor = iova;
  for (let i = 0; i < n; i++) {
    const s = slots[i]!;
    try {
      iommuMap(domain, cursor, sgPhys(sgl[i]!) - s.off, s.span, prot);
    } catch {
      if (cursor > iova) {
        iommuUnmapFast(domain, iova, cursor - iova, iommuIotlbGatherInit());
      }
      freeIova(iovad, iova);
      return -22; // -EINVAL
    }
    cursor += s.span;
  }
  return finaliseSg(dev, sgl, slots, iova);
}

/** Fill in the DMA segments, merging entries that continue one another. */
function finaliseSg(
  dev: Device,
  sgl: readonly Scatterlist[],
  slots: readonly Slot[],
  iova: number,
): number {
  const boundary = dev.segmentBoundaryMask + 1;
  const maxLen = dev.maxSegmentSize;
  let cur = 0;
  let curLen = 0;
  let count = 0;
  let dma = iova;
  slots.forEach((s, i) => {
    const sg = sgl[i]!;
    sg.dmaAddress = DMA_MAPPING_ERROR;
    sg.dmaLength = 0;
    if (curLen > 0 && s.off === 0 && dma % boundary !== 0 && maxLen - curLen >= s.len) {
      curLen += s.len;
    } else {
      if (i > 0) {
        cur++;
      }
      curLen = s.len;
      count++;
      sgl[cur]!.dmaAddress = dma + s.off;
    }
    sgl[cur]!.dmaLength = curLen;
    dma += s.span;
    if (s.len + s.off < s.span) {
      curLen = 0;
    }
  });
  return count;
}

/**
 * Unmap a scatterlist: entry by entry when it was bounced, else invalidate per CPU entry (unless
 * `DMA_ATTR_SKIP_CPU_SYNC`) and unmap the IOVA range from the first DMA segment to the end of the
 * last non-empty one.
 *
 * **Kernel:** `iommu_dma_unmap_sg()`.
 *
 * **Locking:** any context.
 */
export function iommuDmaUnmapSg(
  dev: Device,
  sgl: readonly Scatterlist[],
  nents: number,
  dir: number,
  attrs: number,
): void {
  const n = Math.min(nents, sgl.length);
  if (sgWasBounced(dev, sgl)) {
    unmapSgSwiotlb(dev, sgl, n, dir, attrs);
    return;
  }
  if ((attrs & DMA_ATTR_SKIP_CPU_SYNC) === 0) {
    iommuDmaSyncSgForCpu(dev, sgl, n, dir);
  }
  if (n === 0 || sgl[0]!.dmaLength === 0) {
    return;
  }
  const start = sgl[0]!.dmaAddress;
  let last = sgl[0]!;
  for (let i = 1; i < n && sgl[i]!.dmaLength !== 0; i++) {
    last = sgl[i]!;
  }
  const end = last.dmaAddress + last.dmaLength;
  iommuDmaUnmapRange(dev, start, end - start);
}

/**
 * Map an MMIO resource at a new IOVA (`IOMMU_MMIO`, no cache maintenance, no bounce).
 *
 * **Kernel:** `iommu_dma_map_resource()`.
 *
 * **Locking:** any context.
 */
export function iommuDmaMapResource(
  dev: Device,
  phys: number,
  size: number,
  dir: number,
  attrs: number,
): number {
  return iommuDmaMapRange(
    dev,
    phys,
    size,
    dmaInfoToProt(dir, false, attrs) | IOMMU_MMIO,
    dev.dmaMask,
  );
}

/**
 * The largest mapping: the swiotlb limit for an untrusted device (it may bounce), else unlimited.
 *
 * **Kernel:** `iommu_dma_max_mapping_size()`.
 *
 * **Locking:** none.
 */
export function iommuDmaMaxMappingSize(dev: Device): number {
  return dev.untrusted ? swiotlbMaxMappingSize(dev) : SIZE_MAX;
}
