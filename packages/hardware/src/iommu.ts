/**
 * IOMMU domains: IOVA page tables with read/write permissions, map/unmap, and an IOTLB that caches
 * translations until it is invalidated. `iommuUnmap` invalidates at once (strict); `iommuUnmapFast`
 * leaves the IOTLB alone until `iommuIotlbSync` / `iommuFlushIotlbAll`, which is what a lazy
 * (flush-queue) DMA domain does, so a stale translation survives until the flush (hazard H22).
 * Device accesses that find no translation or lack the permission fault: an `iommu-fault` finding,
 * and the access is blocked.
 *
 * **Kernel:** drivers/iommu/iommu.c (`iommu_map`, `iommu_unmap`, `iommu_unmap_fast`,
 * `iommu_iotlb_sync`, `iommu_flush_iotlb_all`, `iommu_iova_to_phys`, `iommu_attach_device`,
 * `iommu_set_fault_handler`), include/linux/iommu.h (`IOMMU_READ`…, domain types), the io-pgtable
 * code of the IOMMU drivers. IOVA allocation belongs to dma-iommu (layer 2).
 *
 * The granule is 4 KiB; the IOTLB is unbounded and only filled by device accesses (a worst case for
 * lazy invalidation: a used translation stays until flushed).
 *
 * @module
 */
import { KERN_ERR, KernelError, PAGE_SIZE, WARN_ON } from "@dmasim/kernel";
import type { Device } from "./device";
import { HashedMap, Hasher, type HashPair } from "./internal/hash";
import type { Machine } from "./machine";

/** Device may read. **Kernel:** `IOMMU_READ`. */
export const IOMMU_READ = 1 << 0;
/** Device may write. **Kernel:** `IOMMU_WRITE`. */
export const IOMMU_WRITE = 1 << 1;
/** Coherent (snooped) transactions. **Kernel:** `IOMMU_CACHE`. */
export const IOMMU_CACHE = 1 << 2;
/** **Kernel:** `IOMMU_NOEXEC`. */
export const IOMMU_NOEXEC = 1 << 3;
/** **Kernel:** `IOMMU_MMIO`. */
export const IOMMU_MMIO = 1 << 4;
/** **Kernel:** `IOMMU_PRIV`. */
export const IOMMU_PRIV = 1 << 5;

/** **Kernel:** `__IOMMU_DOMAIN_PAGING`. */
const PAGING = 1 << 0;
/** **Kernel:** `__IOMMU_DOMAIN_DMA_API`. */
const DMA_API = 1 << 1;
/** **Kernel:** `__IOMMU_DOMAIN_PT`. */
const PT = 1 << 2;
/** **Kernel:** `__IOMMU_DOMAIN_DMA_FQ`. */
const DMA_FQ = 1 << 3;

/** All DMA blocked. **Kernel:** `IOMMU_DOMAIN_BLOCKED`. */
export const IOMMU_DOMAIN_BLOCKED = 0;
/** Passthrough (no translation, no isolation). **Kernel:** `IOMMU_DOMAIN_IDENTITY`. */
export const IOMMU_DOMAIN_IDENTITY = PT;
/** Driver-managed paging domain. **Kernel:** `IOMMU_DOMAIN_UNMANAGED`. */
export const IOMMU_DOMAIN_UNMANAGED = PAGING;
/** DMA-API domain, strict IOTLB invalidation. **Kernel:** `IOMMU_DOMAIN_DMA`. */
export const IOMMU_DOMAIN_DMA = PAGING | DMA_API;
/** DMA-API domain with a flush queue (lazy invalidation). **Kernel:** `IOMMU_DOMAIN_DMA_FQ`. */
export const IOMMU_DOMAIN_DMA_FQ = PAGING | DMA_API | DMA_FQ;

function pteHash(iovaPage: number, pte: IommuPte): HashPair {
  return new Hasher().num(iovaPage).num(pte.pfn).word(pte.prot).done();
}

/** The smallest IOMMU page. */
export const IOMMU_PAGE_SIZE = PAGE_SIZE;

/** One IOVA page's translation. */
export interface IommuPte {
  readonly pfn: number;
  readonly prot: number;
}

/**
 * A fault handler: return 0 when handled (the access stays blocked either way).
 * **Kernel:** `iommu_fault_handler_t`.
 */
export type IommuFaultHandler = (
  domain: IommuDomain,
  dev: Device,
  iova: number,
  flags: number,
) => number;

/** Fault flags passed to a handler. **Kernel:** `IOMMU_FAULT_READ`. */
export const IOMMU_FAULT_READ = 0x0;
/** **Kernel:** `IOMMU_FAULT_WRITE`. */
export const IOMMU_FAULT_WRITE = 0x1;

/**
 * An IOMMU domain: an IOVA space with page tables and an IOTLB.
 *
 * **Kernel:** `struct iommu_domain`.
 *
 * **Locking:** page-table updates are atomic with respect to each other here (the kernel's
 * io-pgtable code is lockless per PTE); IOTLB invalidation is explicit.
 */
export class IommuDomain {
  private readonly hashedPtes = new HashedMap<IommuPte>(pteHash);
  private readonly hashedIotlb = new HashedMap<IommuPte>(pteHash);
  /** @internal IOVA page number → translation */
  readonly ptes: Map<number, IommuPte> = this.hashedPtes;
  /** @internal translations the IOTLB holds */
  readonly iotlb: Map<number, IommuPte> = this.hashedIotlb;
  readonly devices = new Set<Device>();
  faultHandler: IommuFaultHandler | null = null;
  /** Pages currently mapped. */
  get mappedPages(): number {
    return this.ptes.size;
  }

  constructor(
    readonly machine: Machine,
    readonly id: number,
    /** One of the `IOMMU_DOMAIN_*` values. */
    public type: number,
    /** Highest IOVA + 1 the page tables can hold. **Kernel:** `domain->geometry.aperture_end + 1`. */
    readonly apertureEnd: number = 2 ** 48,
  ) {}

  /** Whether this is a lazy (flush-queue) DMA domain. */
  get lazy(): boolean {
    return (this.type & DMA_FQ) !== 0;
  }

  /** Whether the domain translates (paging) at all. */
  get paging(): boolean {
    return (this.type & PAGING) !== 0;
  }

  /**
   * How a state digest names the domain when another layer holds it (its id; the domain's state is
   * in the machine's digest). It is never walked into (it holds the machine).
   */
  digestTag(): string {
    return `iommu${this.id}`;
  }

  /**
   * @internal feed the domain to a digest: type, aperture, attached devices, whether a fault
   * handler is set, the page tables and the IOTLB (both as order-independent sums kept up to date
   * on every change, so this is O(devices))
   */
  digestInto(h: Hasher): void {
    h.word(this.id)
      .word(this.type)
      .num(this.apertureEnd)
      .word(this.faultHandler ? 1 : 0);
    h.word(this.devices.size);
    for (const d of this.devices) {
      h.str(d.name);
    }
    h.pair(this.hashedPtes.contentHash).word(this.ptes.size);
    h.pair(this.hashedIotlb.contentHash).word(this.iotlb.size);
  }

  /** `"dma"`, `"dma-fq"`, `"identity"`, `"blocked"`, `"unmanaged"`. */
  get typeName(): string {
    switch (this.type) {
      case IOMMU_DOMAIN_DMA:
        return "dma";
      case IOMMU_DOMAIN_DMA_FQ:
        return "dma-fq";
      case IOMMU_DOMAIN_IDENTITY:
        return "identity";
      case IOMMU_DOMAIN_BLOCKED:
        return "blocked";
      default:
        return "unmanaged";
    }
  }
}

/** A range gathered for a later IOTLB invalidation. **Kernel:** `struct iommu_iotlb_gather`. */
export interface IommuIotlbGather {
  start: number;
  end: number;
}

/**
 * An empty gather. **Kernel:** `iommu_iotlb_gather_init()`.
 *
 * **Locking:** none (pure).
 */
export function iommuIotlbGatherInit(): IommuIotlbGather {
  return { start: Infinity, end: 0 };
}

/**
 * Allocate a domain of `type` (default a strict DMA domain).
 *
 * **Kernel:** `iommu_paging_domain_alloc()` / `iommu_domain_alloc()`; default DMA domains come from
 * `iommu_setup_default_domain()`.
 *
 * **Locking:** may sleep in the kernel; synchronous here.
 *
 * @throws {@link KernelError} `EINVAL` for an unknown type
 */
export function iommuDomainAlloc(m: Machine, type: number = IOMMU_DOMAIN_DMA): IommuDomain {
  if (
    ![
      IOMMU_DOMAIN_BLOCKED,
      IOMMU_DOMAIN_IDENTITY,
      IOMMU_DOMAIN_UNMANAGED,
      IOMMU_DOMAIN_DMA,
      IOMMU_DOMAIN_DMA_FQ,
    ].includes(type)
  ) {
    throw new KernelError("EINVAL", `iommu: unknown domain type 0x${type.toString(16)}`);
  }
  const d = new IommuDomain(m, m.iommuDomains.length, type);
  m.iommuDomains.push(d);
  return d;
}

/**
 * Attach `dev` to `domain` (its DMA then goes through the domain's page tables).
 *
 * **Kernel:** `iommu_attach_device()`.
 *
 * **Locking:** may sleep in the kernel (group mutex); synchronous here.
 *
 * @throws {@link KernelError} `EBUSY` when `dev` is attached to another domain
 */
export function iommuAttachDevice(domain: IommuDomain, dev: Device): void {
  if (dev.domain && dev.domain !== domain) {
    throw new KernelError("EBUSY", `iommu: ${dev.name} is attached to domain ${dev.domain.id}`);
  }
  dev.domain = domain;
  domain.devices.add(dev);
}

/**
 * Detach `dev` from `domain` (its DMA is then untranslated).
 *
 * **Kernel:** `iommu_detach_device()`.
 *
 * **Locking:** may sleep in the kernel; synchronous here.
 */
export function iommuDetachDevice(domain: IommuDomain, dev: Device): void {
  if (dev.domain === domain) {
    dev.domain = null;
  }
  domain.devices.delete(dev);
}

/**
 * Install a fault handler. **Kernel:** `iommu_set_fault_handler()`.
 *
 * **Locking:** none.
 */
export function iommuSetFaultHandler(domain: IommuDomain, handler: IommuFaultHandler | null): void {
  domain.faultHandler = handler;
}

function aligned(x: number): boolean {
  return x % IOMMU_PAGE_SIZE === 0;
}

/**
 * Map `size` bytes at `iova` to physical `paddr` with permissions `prot` (`IOMMU_READ`,
 * `IOMMU_WRITE`, …). All or nothing.
 *
 * **Kernel:** `iommu_map()` (`-EINVAL` for unaligned arguments or a non-paging domain; the
 * io-pgtable code returns `-EEXIST` for an IOVA page that is already mapped).
 *
 * **Locking:** any context with `GFP_ATOMIC`; synchronous here.
 *
 * @throws {@link KernelError} `EINVAL` (unaligned, zero size, outside the aperture, not a paging
 * domain), `EEXIST` (already mapped)
 */
export function iommuMap(
  domain: IommuDomain,
  iova: number,
  paddr: number,
  size: number,
  prot: number,
): void {
  if (!domain.paging) {
    throw new KernelError(
      "EINVAL",
      `iommu_map: domain ${domain.id} (${domain.typeName}) does not translate`,
    );
  }
  if (!aligned(iova) || !aligned(paddr) || !aligned(size) || size <= 0) {
    throw new KernelError(
      "EINVAL",
      `iommu_map: unaligned: iova 0x${iova.toString(16)} pa 0x${paddr.toString(16)} size 0x${size.toString(16)} min_pagesz 0x${IOMMU_PAGE_SIZE.toString(16)}`,
    );
  }
  if (iova < 0 || iova + size > domain.apertureEnd) {
    throw new KernelError(
      "EINVAL",
      `iommu_map: iova 0x${iova.toString(16)}+0x${size.toString(16)} outside the aperture`,
    );
  }
  const first = iova / IOMMU_PAGE_SIZE;
  const n = size / IOMMU_PAGE_SIZE;
  for (let i = 0; i < n; i++) {
    if (domain.ptes.has(first + i)) {
      WARN_ON(
        domain.machine.kernel,
        true,
        "drivers/iommu/io-pgtable-arm.c:arm_lpae_init_pte",
        `iova 0x${((first + i) * IOMMU_PAGE_SIZE).toString(16)} already mapped`,
      );
      throw new KernelError(
        "EEXIST",
        `iommu_map: iova 0x${((first + i) * IOMMU_PAGE_SIZE).toString(16)} already mapped`,
      );
    }
  }
  const pfn0 = paddr / PAGE_SIZE;
  for (let i = 0; i < n; i++) {
    domain.ptes.set(first + i, { pfn: pfn0 + i, prot });
  }
  domain.machine.kernel.trace(`iommu:${domain.id}`, "iommu", "map", { iova, paddr, size, prot });
}

function unmapRange(domain: IommuDomain, iova: number, size: number): number {
  if (!aligned(iova) || !aligned(size)) {
    domain.machine.kernel.printk(
      KERN_ERR,
      `iommu: unaligned: iova 0x${iova.toString(16)} size 0x${size.toString(16)} min_pagesz 0x${IOMMU_PAGE_SIZE.toString(16)}`,
    );
    return 0;
  }
  const first = iova / IOMMU_PAGE_SIZE;
  let done = 0;
  for (let i = 0; i < size / IOMMU_PAGE_SIZE; i++) {
    if (!domain.ptes.delete(first + i)) {
      break;
    }
    done += IOMMU_PAGE_SIZE;
  }
  domain.machine.kernel.trace(`iommu:${domain.id}`, "iommu", "unmap", { iova, size, done });
  return done;
}

/**
 * Unmap `size` bytes at `iova` and invalidate the IOTLB for them. Returns the bytes unmapped
 * (stops at the first unmapped page; 0 with an error message for unaligned arguments).
 *
 * **Kernel:** `iommu_unmap()` (`__iommu_unmap()` then `iommu_iotlb_sync()`).
 *
 * **Locking:** any context; synchronous.
 */
export function iommuUnmap(domain: IommuDomain, iova: number, size: number): number {
  const done = unmapRange(domain, iova, size);
  invalidate(domain, iova, iova + done);
  return done;
}

/**
 * Unmap without invalidating the IOTLB: the range is added to `gather`, and translations the IOTLB
 * holds stay usable until {@link iommuIotlbSync} or {@link iommuFlushIotlbAll}.
 *
 * **Kernel:** `iommu_unmap_fast()`.
 *
 * **Locking:** any context.
 */
export function iommuUnmapFast(
  domain: IommuDomain,
  iova: number,
  size: number,
  gather: IommuIotlbGather,
): number {
  const done = unmapRange(domain, iova, size);
  if (done > 0) {
    gather.start = Math.min(gather.start, iova);
    gather.end = Math.max(gather.end, iova + done);
  }
  return done;
}

function invalidate(domain: IommuDomain, start: number, end: number): void {
  if (end <= start) {
    return;
  }
  const first = Math.floor(start / IOMMU_PAGE_SIZE);
  const last = Math.ceil(end / IOMMU_PAGE_SIZE);
  if (last - first > domain.iotlb.size) {
    for (const k of [...domain.iotlb.keys()]) {
      if (k >= first && k < last) {
        domain.iotlb.delete(k);
      }
    }
  } else {
    for (let k = first; k < last; k++) {
      domain.iotlb.delete(k);
    }
  }
}

/**
 * Invalidate the IOTLB for the gathered range and reset the gather.
 *
 * **Kernel:** `iommu_iotlb_sync()`.
 *
 * **Locking:** any context.
 */
export function iommuIotlbSync(domain: IommuDomain, gather: IommuIotlbGather): void {
  invalidate(domain, gather.start, gather.end);
  gather.start = Infinity;
  gather.end = 0;
}

/**
 * Invalidate the whole IOTLB of the domain.
 *
 * **Kernel:** `iommu_flush_iotlb_all()` (what the flush queue's timer and full-queue flush call).
 *
 * **Locking:** any context.
 */
export function iommuFlushIotlbAll(domain: IommuDomain): void {
  domain.iotlb.clear();
  domain.machine.kernel.trace(`iommu:${domain.id}`, "iommu", "flush-iotlb-all");
}

/**
 * The physical address `iova` translates to in the page tables, or 0.
 *
 * **Kernel:** `iommu_iova_to_phys()`.
 *
 * **Locking:** any context.
 */
export function iommuIovaToPhys(domain: IommuDomain, iova: number): number {
  if (domain.type === IOMMU_DOMAIN_IDENTITY) {
    return iova;
  }
  const pte = domain.ptes.get(Math.floor(iova / IOMMU_PAGE_SIZE));
  return pte ? pte.pfn * PAGE_SIZE + (iova % IOMMU_PAGE_SIZE) : 0;
}

/** @internal one IOVA page as a device sees it: the IOTLB first, then a table walk. */
export function iommuTranslate(domain: IommuDomain, iova: number): IommuPte | undefined {
  const k = Math.floor(iova / IOMMU_PAGE_SIZE);
  const hit = domain.iotlb.get(k);
  if (hit) {
    return hit;
  }
  const pte = domain.ptes.get(k);
  if (pte) {
    domain.iotlb.set(k, pte);
  }
  return pte;
}
