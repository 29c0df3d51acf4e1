/**
 * Coherent allocations: memory the CPU and the device may both use at any time without syncs. A
 * coherent device gets zeroed pages through the cacheable linear map; a non-coherent one gets its
 * pages' linear-map lines cleaned (`arch_dma_prep_coherent`) and a second, non-cacheable kernel
 * mapping (write-combine with `DMA_ATTR_WRITE_COMBINE`, else the architecture's
 * `pgprot_dmacoherent`: Normal Non-Cacheable on arm64 and arm, uncached elsewhere), zeroed through
 * it. Behind an IOMMU the pages are also mapped at an IOVA, read-write.
 *
 * **Kernel:** `dma_alloc_attrs()`, `dma_free_attrs()`, `dma_mmap_attrs()`,
 * `dma_get_sgtable_attrs()`, `dma_pgprot()` (kernel/dma/mapping.c), `dma_direct_alloc()`,
 * `dma_direct_free()`, `dma_direct_mmap()`, `dma_direct_get_sgtable()` (kernel/dma/direct.c),
 * `iommu_dma_alloc()` (drivers/iommu/dma-iommu.c).
 *
 * Not modelled: per-device coherent pools (`shared-dma-pool`), CMA, the atomic pool for
 * non-blocking allocations of non-coherent devices, restricted swiotlb pools, non-contiguous IOMMU
 * allocations.
 *
 * @module
 */
import {
  KernelError,
  PAGE_SIZE,
  WARN_ON,
  WARN_ON_ONCE,
  defineSubsys,
  might_sleep,
  pageAlign,
  remapPfnRange,
  sizeT,
  type PageProt,
  type Vma,
} from "@dmasim/kernel";
import {
  __GFP_DMA,
  __GFP_DMA32,
  __GFP_HIGHMEM,
  allocPages,
  cpuMemset,
  dmaToPhys,
  freePages,
  getOrder,
  gfpflagsAllowBlocking,
  pageAddress,
  pageToPhys,
  pfnToPage,
  physToDma,
  vmap,
  vunmap,
  type Device,
  type GfpFlags,
  type Page,
} from "@dmasim/hardware";
import { archDmaPrepCoherent, devIsDmaCoherent } from "./arch";
import { debugDmaAllocCoherent, debugDmaFreeCoherent } from "./debug";
import { dmaInfoToProt, iommuDmaMapRange, iommuDmaUnmapRange, useDmaIommu } from "./dma-iommu";
import { DMA_BIDIRECTIONAL } from "./include/dma-direction";
import {
  DMA_ATTR_NO_KERNEL_MAPPING,
  DMA_ATTR_WRITE_COMBINE,
  DMA_MAPPING_ERROR,
} from "./include/dma-mapping";
import { DMA_MAPPING_MODULE } from "./module";
import { sgAllocTable, sgSetPage, type SgTable } from "./scatterlist";

/**
 * The result of a coherent allocation.
 *
 * **Kernel:** the CPU address `dma_alloc_attrs()` returns and the handle it stores.
 */
export interface DmaCoherent {
  /**
   * The CPU address: the linear map (coherent device), a non-cacheable vmap (non-coherent device),
   * or, with `DMA_ATTR_NO_KERNEL_MAPPING`, an opaque cookie not to be accessed.
   */
  readonly cpuAddr: number;
  /** The device address. */
  readonly dmaHandle: number;
}

interface AllocRecord {
  readonly page: Page;
  readonly order: number;
  readonly size: number;
  readonly cpuAddr: number;
  readonly remapped: boolean;
  readonly iommu: boolean;
}

const ALLOCS = defineSubsys(
  "dma-mapping:coherent",
  () => new Map<Device, Map<number, AllocRecord>>(),
  DMA_MAPPING_MODULE,
);

function records(dev: Device): Map<number, AllocRecord> {
  const all = dev.machine.kernel.subsys(ALLOCS);
  let map = all.get(dev);
  if (!map) {
    map = new Map();
    all.set(dev, map);
  }
  return map;
}

/**
 * The memory type of a coherent allocation's kernel or user mapping: cacheable for a coherent
 * device; write-combine with `DMA_ATTR_WRITE_COMBINE` (arm, arm64); else `pgprot_dmacoherent`
 * (Normal Non-Cacheable, i.e. write-combine, on arm64 and arm; uncached elsewhere).
 *
 * **Kernel:** `dma_pgprot()`.
 *
 * **Locking:** none.
 */
export function dmaPgprot(dev: Device, attrs: number): PageProt {
  if (devIsDmaCoherent(dev)) {
    return "cacheable";
  }
  const arch = dev.machine.config.arch;
  const armish = arch === "arm64" || arch === "arm";
  if (attrs & DMA_ATTR_WRITE_COMBINE && armish) {
    return "writecombine";
  }
  return armish ? "writecombine" : "uncached";
}

/** The zone flags for memory below the coherent mask. **Kernel:** `dma_direct_optimal_gfp_mask()`. */
function zoneFor(dev: Device): { gfp: GfpFlags; limit: number } {
  const m = dev.machine;
  const dmaLimit =
    dev.busDmaLimit > 0 ? Math.min(dev.coherentDmaMask, dev.busDmaLimit) : dev.coherentDmaMask;
  const limit = dmaToPhys(dev, dmaLimit);
  if (m.config.zoneDmaLimit > 0 && limit <= m.config.zoneDmaLimit - 1) {
    return { gfp: __GFP_DMA, limit };
  }
  if (m.config.zoneDma32 && limit <= 2 ** 32 - 1) {
    return { gfp: __GFP_DMA32, limit };
  }
  return { gfp: 0, limit };
}

/** Pages below the device's coherent limit, retrying in lower zones. */
function allocBelow(dev: Device, order: number, gfp: GfpFlags): Page | null {
  const m = dev.machine;
  const zone = zoneFor(dev);
  let flags = gfp | zone.gfp;
  for (;;) {
    const page = allocPages(m, order, flags);
    if (!page) {
      return null;
    }
    if (pageToPhys(page) + (PAGE_SIZE << order) - 1 <= zone.limit) {
      return page;
    }
    freePages(m, page, order);
    if (m.config.zoneDma32 && !(flags & (__GFP_DMA32 | __GFP_DMA))) {
      flags |= __GFP_DMA32;
    } else if (m.config.zoneDmaLimit > 0 && !(flags & __GFP_DMA)) {
      flags = (flags & ~__GFP_DMA32) | __GFP_DMA;
    } else {
      return null;
    }
  }
}

/**
 * The page order of an allocation of `size` (page-aligned) bytes: `get_order(0)` is
 * `BITS_PER_LONG - PAGE_SHIFT` (52) in the kernel's arithmetic, an order the page allocator
 * refuses with its `WARN_ON_ONCE`.
 */
function allocOrder(size: number): number {
  return size === 0 ? 64 - 12 : getOrder(size);
}

/**
 * Allocate `size` bytes of coherent memory for `dev`. Returns the CPU address and DMA handle, or
 * null when memory (or IOVA space) runs out. The memory is zeroed, except with
 * `DMA_ATTR_NO_KERNEL_MAPPING` on a non-coherent device (no mapping to zero it through).
 *
 * The size is page-aligned first (`PAGE_ALIGN`, which wraps `SIZE_MAX` and a negative size to 0):
 * a size of 0 (or a wrapped one) asks the page allocator for order 52 and a size beyond
 * `MAX_PAGE_ORDER` pages for its order: both are the allocator's `WARN_ON_ONCE` (unless
 * `__GFP_NOWARN`) and NULL, as in `dma_direct_alloc()` → `__dma_direct_alloc_pages()` →
 * `__alloc_pages()` (mm/page_alloc.c: `order > MAX_PAGE_ORDER`).
 *
 * **Kernel:** `dma_alloc_attrs()`.
 *
 * **Locking:** may sleep when `gfp` allows blocking (`might_sleep()`); synchronous either way.
 */
export function dmaAllocAttrs(
  dev: Device,
  size: number,
  gfp: GfpFlags,
  attrs = 0,
): DmaCoherent | null {
  const m = dev.machine;
  const k = m.kernel;
  size = pageAlign(sizeT(size, "dma_alloc_attrs", "size"));
  WARN_ON_ONCE(k, dev.coherentDmaMask === 0, "kernel/dma/mapping.c:dma_alloc_attrs");
  if (gfpflagsAllowBlocking(gfp)) {
    might_sleep(k, "kernel/dma/mapping.c:dma_alloc_attrs");
  }
  const flags = gfp & ~(__GFP_DMA | __GFP_DMA32 | __GFP_HIGHMEM);
  const order = allocOrder(size);
  const iommu = useDmaIommu(dev);
  const page = iommu ? allocPages(m, order, flags) : allocBelow(dev, order, flags);
  if (!page) {
    return null;
  }
  const phys = pageToPhys(page);
  const coherent = devIsDmaCoherent(dev);
  let cpuAddr: number;
  let remapped = false;
  if (!coherent && attrs & DMA_ATTR_NO_KERNEL_MAPPING) {
    archDmaPrepCoherent(m, phys, size);
    cpuAddr = pageAddress(m, page);
  } else if (!coherent) {
    archDmaPrepCoherent(m, phys, size);
    const n = Math.ceil(size / PAGE_SIZE);
    const va = vmap(
      m,
      Array.from({ length: n }, (_, i) => page.pfn + i),
      dmaPgprot(dev, attrs),
    );
    if (va === null) {
      freePages(m, page, order);
      return null;
    }
    cpuAddr = va;
    remapped = true;
    cpuMemset(m, cpuAddr, 0, size);
  } else {
    cpuAddr = pageAddress(m, page);
    cpuMemset(m, cpuAddr, 0, size);
  }
  let dmaHandle = physToDma(dev, phys);
  if (iommu) {
    dmaHandle = iommuDmaMapRange(
      dev,
      phys,
      size,
      dmaInfoToProt(DMA_BIDIRECTIONAL, coherent, attrs),
      dev.coherentDmaMask,
    );
    if (dmaHandle === DMA_MAPPING_ERROR) {
      if (remapped) {
        vunmap(m, cpuAddr);
      }
      freePages(m, page, order);
      return null;
    }
  }
  records(dev).set(dmaHandle, { page, order, size, cpuAddr, remapped, iommu });
  debugDmaAllocCoherent(dev, size, dmaHandle, cpuAddr, page.pfn, attrs);
  return { cpuAddr, dmaHandle };
}

/**
 * {@link dmaAllocAttrs} without attributes.
 *
 * **Kernel:** `dma_alloc_coherent()`.
 *
 * **Locking:** may sleep when `gfp` allows blocking.
 */
export function dmaAllocCoherent(dev: Device, size: number, gfp: GfpFlags): DmaCoherent | null {
  return dmaAllocAttrs(dev, size, gfp, 0);
}

/**
 * Free a coherent allocation (its kernel mapping, IOVA and pages). WARNs with interrupts disabled;
 * a null `cpuAddr` (0) does nothing. dma-debug checks the arguments against the allocation; a
 * handle that was never allocated frees nothing here (the kernel would free whatever it points to).
 *
 * **Kernel:** `dma_free_attrs()`.
 *
 * **Locking:** process context; not with interrupts disabled.
 */
export function dmaFreeAttrs(
  dev: Device,
  size: number,
  cpuAddr: number,
  dmaHandle: number,
  attrs = 0,
): void {
  const m = dev.machine;
  void attrs;
  size = sizeT(size, "dma_free_attrs", "size");
  cpuAddr = sizeT(cpuAddr, "dma_free_attrs", "cpu_addr");
  dmaHandle = sizeT(dmaHandle, "dma_free_attrs", "dma_handle");
  WARN_ON(m.kernel, m.kernel.sched.current.irqsDisabled, "kernel/dma/mapping.c:dma_free_attrs");
  if (!cpuAddr) {
    return;
  }
  debugDmaFreeCoherent(dev, size, cpuAddr, dmaHandle);
  const recs = records(dev);
  const rec = recs.get(dmaHandle);
  if (!rec) {
    return;
  }
  recs.delete(dmaHandle);
  if (rec.iommu) {
    iommuDmaUnmapRange(dev, dmaHandle, rec.size);
  }
  if (rec.remapped) {
    vunmap(m, rec.cpuAddr);
  }
  freePages(m, rec.page, rec.order);
}

/**
 * {@link dmaFreeAttrs} without attributes.
 *
 * **Kernel:** `dma_free_coherent()`.
 *
 * **Locking:** process context.
 */
export function dmaFreeCoherent(
  dev: Device,
  size: number,
  cpuAddr: number,
  dmaHandle: number,
): void {
  dmaFreeAttrs(dev, size, cpuAddr, dmaHandle, 0);
}

function pfnOf(dev: Device, dmaHandle: number): number {
  const rec = records(dev).get(dmaHandle);
  return rec ? rec.page.pfn : Math.floor(dmaToPhys(dev, dmaHandle) / PAGE_SIZE);
}

/**
 * Map a coherent allocation into a user VMA with the memory type of {@link dmaPgprot}, from the
 * VMA's page offset.
 *
 * **Kernel:** `dma_mmap_attrs()` (`dma_direct_mmap()`, `iommu_dma_mmap()`).
 *
 * **Locking:** the caller holds the mm's `mmap_lock` (an `mmap` file operation).
 *
 * @throws {@link KernelError} `ENXIO` when the VMA's offset and length do not fit the allocation
 */
export function dmaMmapAttrs(
  dev: Device,
  vma: Vma,
  cpuAddr: number,
  dmaHandle: number,
  size: number,
  attrs = 0,
): void {
  void cpuAddr;
  const count = Math.ceil(sizeT(size, "dma_mmap_attrs", "size") / PAGE_SIZE);
  const userCount = vma.pages;
  if (vma.pgoff >= count || userCount > count - vma.pgoff) {
    throw new KernelError(
      "ENXIO",
      `dma_mmap_attrs(${dev.name}): ${userCount} pages at offset ${vma.pgoff} of ${count}`,
    );
  }
  vma.pageProt = dmaPgprot(dev, attrs);
  remapPfnRange(vma, vma.start, pfnOf(dev, dmaHandle) + vma.pgoff, userCount * PAGE_SIZE);
}

/**
 * {@link dmaMmapAttrs} without attributes.
 *
 * **Kernel:** `dma_mmap_coherent()`.
 *
 * **Locking:** the caller holds `mmap_lock`.
 *
 * @throws {@link KernelError} `ENXIO` as {@link dmaMmapAttrs}
 */
export function dmaMmapCoherent(
  dev: Device,
  vma: Vma,
  cpuAddr: number,
  dmaHandle: number,
  size: number,
): void {
  dmaMmapAttrs(dev, vma, cpuAddr, dmaHandle, size, 0);
}

/**
 * A one-entry table describing a coherent allocation (its pages, `PAGE_ALIGN(size)` bytes). The
 * kernel flags this as unsafe for exporting coherent memory through dma-buf: streaming syncs on it
 * maintain the cacheable linear alias, not the allocation's own mapping.
 *
 * **Kernel:** `dma_get_sgtable_attrs()` (`dma_direct_get_sgtable()` / `iommu_dma_get_sgtable()`).
 *
 * **Locking:** may sleep (`GFP_KERNEL` table allocation).
 */
export function dmaGetSgtableAttrs(
  dev: Device,
  cpuAddr: number,
  dmaHandle: number,
  size: number,
  attrs = 0,
): SgTable {
  void cpuAddr;
  void attrs;
  const len = pageAlign(sizeT(size, "dma_get_sgtable_attrs", "size"));
  const pfn = pfnOf(dev, sizeT(dmaHandle, "dma_get_sgtable_attrs", "dma_handle"));
  const sgt = sgAllocTable(dev.machine.kernel, 1);
  // sg_set_page() takes an unsigned int length: a larger size is cut to its low 32 bits
  sgSetPage(sgt.sgl[0]!, pfnToPage(dev.machine, pfn), len % 2 ** 32, 0);
  return sgt;
}

/**
 * {@link dmaGetSgtableAttrs} without attributes.
 *
 * **Kernel:** `dma_get_sgtable()`.
 *
 * **Locking:** may sleep.
 */
export function dmaGetSgtable(
  dev: Device,
  cpuAddr: number,
  dmaHandle: number,
  size: number,
): SgTable {
  return dmaGetSgtableAttrs(dev, cpuAddr, dmaHandle, size, 0);
}
