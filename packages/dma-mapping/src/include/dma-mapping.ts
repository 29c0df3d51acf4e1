/**
 * Constants of the DMA mapping API: the attribute bits, the error address, the default segment
 * limits.
 *
 * **Kernel:** include/linux/dma-mapping.h.
 *
 * @module
 */

/**
 * The device may reorder its writes to the buffer (PCIe relaxed ordering). Accepted; it changes
 * nothing in the model. **Kernel:** `DMA_ATTR_WEAK_ORDERING` (1 << 1).
 */
export const DMA_ATTR_WEAK_ORDERING = 1 << 1;
/**
 * Map a coherent allocation write-combined rather than uncached (CPU stores may be buffered).
 * **Kernel:** `DMA_ATTR_WRITE_COMBINE` (1 << 2).
 */
export const DMA_ATTR_WRITE_COMBINE = 1 << 2;
/** Historical (removed in 5.10); accepted and ignored. **Kernel:** `DMA_ATTR_NON_CONSISTENT` (1 << 3). */
export const DMA_ATTR_NON_CONSISTENT = 1 << 3;
/**
 * A coherent allocation needs no kernel virtual mapping; the returned address is an opaque
 * cookie. **Kernel:** `DMA_ATTR_NO_KERNEL_MAPPING` (1 << 4).
 */
export const DMA_ATTR_NO_KERNEL_MAPPING = 1 << 4;
/**
 * Skip the CPU cache maintenance at map and unmap, and the swiotlb copy back at unmap; the caller
 * promises to sync explicitly. **Kernel:** `DMA_ATTR_SKIP_CPU_SYNC` (1 << 5).
 */
export const DMA_ATTR_SKIP_CPU_SYNC = 1 << 5;
/** Ask for physically contiguous memory (IOMMU allocations; always so here). **Kernel:** `DMA_ATTR_FORCE_CONTIGUOUS` (1 << 6). */
export const DMA_ATTR_FORCE_CONTIGUOUS = 1 << 6;
/** Allocate page by page (IOMMU allocations hint; ignored). **Kernel:** `DMA_ATTR_ALLOC_SINGLE_PAGES` (1 << 7). */
export const DMA_ATTR_ALLOC_SINGLE_PAGES = 1 << 7;
/** Do not print "swiotlb buffer is full". **Kernel:** `DMA_ATTR_NO_WARN` (1 << 8). */
export const DMA_ATTR_NO_WARN = 1 << 8;
/** Privileged (supervisor) device access: `IOMMU_PRIV`. **Kernel:** `DMA_ATTR_PRIVILEGED` (1 << 9). */
export const DMA_ATTR_PRIVILEGED = 1 << 9;

/** An attribute's kernel name, e.g. `"DMA_ATTR_SKIP_CPU_SYNC"`. **Kernel:** the `DMA_ATTR_*` macros. */
export type DmaAttrName = keyof typeof DMA_ATTRS;

/**
 * Each attribute bit by its kernel name, in bit order, for tools that read names (scenario files,
 * command lines).
 *
 * **Kernel:** the `DMA_ATTR_*` macros of include/linux/dma-mapping.h.
 */
export const DMA_ATTRS = {
  DMA_ATTR_WEAK_ORDERING,
  DMA_ATTR_WRITE_COMBINE,
  DMA_ATTR_NON_CONSISTENT,
  DMA_ATTR_NO_KERNEL_MAPPING,
  DMA_ATTR_SKIP_CPU_SYNC,
  DMA_ATTR_FORCE_CONTIGUOUS,
  DMA_ATTR_ALLOC_SINGLE_PAGES,
  DMA_ATTR_NO_WARN,
  DMA_ATTR_PRIVILEGED,
} as const;

/**
 * The address a failed mapping returns. The kernel's value is all ones (`~(dma_addr_t)0`); here it
 * is all ones in 53 bits (`Number.MAX_SAFE_INTEGER`, the same value as `DMA_BIT_MASK(64)`), beyond
 * every device's reach. Test it with `dmaMappingError()`, never by comparing.
 *
 * **Kernel:** `DMA_MAPPING_ERROR`.
 */
export const DMA_MAPPING_ERROR = Number.MAX_SAFE_INTEGER;

/** "Unlimited" for `dmaMaxMappingSize()`. **Kernel:** `SIZE_MAX`. */
export const SIZE_MAX = Number.MAX_SAFE_INTEGER;
