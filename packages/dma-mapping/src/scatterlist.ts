/**
 * Scatterlists and sg tables: a list of CPU segments (page, offset, length), each with the DMA
 * address, DMA length and DMA flags a mapping fills in. A table counts its CPU entries
 * (`origNents`) and, once mapped, its DMA segments (`nents`, fewer when an IOMMU merged them).
 *
 * **Kernel:** lib/scatterlist.c (`sg_alloc_table`, `sg_alloc_table_from_pages_segment`,
 * `sg_free_table`), include/linux/scatterlist.h (`struct scatterlist`, `struct sg_table`,
 * `sg_set_page`, `sg_phys`, `sg_dma_address`, `sg_dma_len`, `for_each_sg`,
 * `for_each_sgtable_sg`, `for_each_sgtable_dma_sg`, the `SG_DMA_*` flags).
 *
 * The kernel chains fixed-size arrays of entries; here a table holds one array (`sgl`) and a list is
 * addressed as (array, count). Entries past the table's last are never visited.
 *
 * @module
 */
import { KernelError, PAGE_SIZE, might_sleep, type Kernel } from "@dmasim/kernel";
import {
  GFP_KERNEL,
  gfpflagsAllowBlocking,
  pageAddress,
  pageToPhys,
  type GfpFlags,
  type Machine,
  type Page,
} from "@dmasim/hardware";

/**
 * The DMA address is a PCI bus address (peer-to-peer); sync and unmap skip the entry.
 * **Kernel:** `SG_DMA_BUS_ADDRESS` (6.2+).
 */
export const SG_DMA_BUS_ADDRESS = 1 << 0;
/**
 * Set on the first entry when dma-iommu mapped the whole list page by page through swiotlb; its
 * syncs and unmap then go entry by entry. **Kernel:** `SG_DMA_SWIOTLB` (6.5+, commit 861370f49ce4
 * "iommu/dma: force bouncing if the size is not cacheline-aligned").
 */
export const SG_DMA_SWIOTLB = 1 << 1;

/**
 * One scatterlist entry.
 *
 * **Kernel:** `struct scatterlist`.
 *
 * **Locking:** none; owned by whoever built the list (the exporter of a dma-buf, a driver).
 */
export class Scatterlist {
  /** The first page of the segment (null in an entry never set). */
  page: Page | null = null;
  /** Byte offset into `page`. */
  offset = 0;
  /** Bytes of the CPU segment. */
  length = 0;
  /** DMA address of this DMA segment (valid for the first `nents` entries after a mapping). */
  dmaAddress = 0;
  /** Bytes of this DMA segment. **Kernel:** `sg_dma_len()`. */
  dmaLength = 0;
  /** `SG_DMA_BUS_ADDRESS`, `SG_DMA_SWIOTLB`. */
  dmaFlags = 0;
  /** Whether this entry ends its list. **Kernel:** `sg_is_last()`. */
  isLast = false;
}

/**
 * A scatterlist with its two counts.
 *
 * **Kernel:** `struct sg_table`.
 *
 * **Locking:** none; owned by whoever built it.
 */
export class SgTable {
  /** The entries (`orig_nents` of them). */
  sgl: Scatterlist[];
  /** DMA segments after a mapping (`dma_map_sgtable()` sets it); CPU entries before. */
  nents: number;
  /** CPU entries. */
  origNents: number;

  constructor(sgl: Scatterlist[]) {
    this.sgl = sgl;
    this.nents = sgl.length;
    this.origNents = sgl.length;
  }
}

function makeList(n: number): Scatterlist[] {
  const list = Array.from({ length: n }, () => new Scatterlist());
  if (n > 0) {
    list[n - 1]!.isLast = true;
  }
  return list;
}

/**
 * A zeroed list of `nents` entries with the last one marked.
 *
 * **Kernel:** `sg_init_table()`.
 *
 * **Locking:** none.
 */
export function sgInitTable(nents: number): Scatterlist[] {
  return makeList(nents);
}

/**
 * Allocate a table of `nents` zeroed entries.
 *
 * **Kernel:** `sg_alloc_table()`.
 *
 * **Locking:** may sleep when `gfp` allows blocking (checked with `might_sleep()`); synchronous.
 *
 * @throws {@link KernelError} `EINVAL` when `nents` is 0 (or not a whole number)
 */
export function sgAllocTable(kernel: Kernel, nents: number, gfp: GfpFlags = GFP_KERNEL): SgTable {
  if (!Number.isInteger(nents) || nents <= 0) {
    throw new KernelError("EINVAL", `sg_alloc_table: nents ${nents}`);
  }
  if (gfpflagsAllowBlocking(gfp)) {
    might_sleep(kernel, "lib/scatterlist.c:sg_alloc_table");
  }
  return new SgTable(makeList(nents));
}

/**
 * Free a table: its entries are dropped and both counts become 0.
 *
 * **Kernel:** `sg_free_table()`.
 *
 * **Locking:** none (the table must not be mapped).
 */
export function sgFreeTable(sgt: SgTable): void {
  sgt.sgl = [];
  sgt.nents = 0;
  sgt.origNents = 0;
}

/**
 * Point `sg` at `len` bytes of `page` from `offset`.
 *
 * **Kernel:** `sg_set_page()`.
 *
 * **Locking:** none.
 */
export function sgSetPage(sg: Scatterlist, page: Page, len: number, offset: number): void {
  sg.page = page;
  sg.length = len;
  sg.offset = offset;
}

/**
 * The page of an entry. **Kernel:** `sg_page()`.
 *
 * **Locking:** none.
 *
 * @throws {@link KernelError} `EINVAL` for an entry that was never set (the kernel would oops)
 */
export function sgPage(sg: Scatterlist): Page {
  if (!sg.page) {
    throw new KernelError("EINVAL", "sg_page: entry has no page");
  }
  return sg.page;
}

/**
 * The physical address of an entry's first byte. **Kernel:** `sg_phys()`.
 *
 * **Locking:** none.
 *
 * @throws {@link KernelError} `EINVAL` for an entry that was never set
 */
export function sgPhys(sg: Scatterlist): number {
  return pageToPhys(sgPage(sg)) + sg.offset;
}

/**
 * The linear-map address of an entry's first byte. **Kernel:** `sg_virt()`.
 *
 * **Locking:** none.
 *
 * @throws {@link KernelError} `EINVAL` for an entry that was never set
 */
export function sgVirt(m: Machine, sg: Scatterlist): number {
  return pageAddress(m, sgPage(sg)) + sg.offset;
}

/**
 * The DMA address of a DMA segment. **Kernel:** `sg_dma_address()`.
 *
 * **Locking:** none.
 */
export function sgDmaAddress(sg: Scatterlist): number {
  return sg.dmaAddress;
}

/**
 * The length of a DMA segment. **Kernel:** `sg_dma_len()`.
 *
 * **Locking:** none.
 */
export function sgDmaLen(sg: Scatterlist): number {
  return sg.dmaLength;
}

/**
 * Whether dma-iommu bounced the list this entry heads. **Kernel:** `sg_dma_is_swiotlb()`.
 *
 * **Locking:** none.
 */
export function sgDmaIsSwiotlb(sg: Scatterlist): boolean {
  return (sg.dmaFlags & SG_DMA_SWIOTLB) !== 0;
}

/**
 * Mark an entry as heading a bounced list. **Kernel:** `sg_dma_mark_swiotlb()`.
 *
 * **Locking:** none.
 */
export function sgDmaMarkSwiotlb(sg: Scatterlist): void {
  sg.dmaFlags |= SG_DMA_SWIOTLB;
}

/**
 * Whether an entry's DMA address is a bus address. **Kernel:** `sg_dma_is_bus_address()`.
 *
 * **Locking:** none.
 */
export function sgDmaIsBusAddress(sg: Scatterlist): boolean {
  return (sg.dmaFlags & SG_DMA_BUS_ADDRESS) !== 0;
}

/**
 * Mark an entry's DMA address as a bus address. **Kernel:** `sg_dma_mark_bus_address()`.
 *
 * **Locking:** none.
 */
export function sgDmaMarkBusAddress(sg: Scatterlist): void {
  sg.dmaFlags |= SG_DMA_BUS_ADDRESS;
}

/**
 * Clear the bus-address mark. **Kernel:** `sg_dma_unmark_bus_address()`.
 *
 * **Locking:** none.
 */
export function sgDmaUnmarkBusAddress(sg: Scatterlist): void {
  sg.dmaFlags &= ~SG_DMA_BUS_ADDRESS;
}

/**
 * Call `fn` for the first `nents` entries of a list (CPU side).
 *
 * **Kernel:** `for_each_sg(sgl, sg, nents, i)`.
 *
 * **Locking:** none.
 */
export function forEachSg(
  sgl: readonly Scatterlist[],
  nents: number,
  fn: (sg: Scatterlist, i: number) => void,
): void {
  const n = Math.min(nents, sgl.length);
  for (let i = 0; i < n; i++) {
    fn(sgl[i]!, i);
  }
}

/**
 * Call `fn` for every CPU entry of a table (`origNents`).
 *
 * **Kernel:** `for_each_sgtable_sg(sgt, sg, i)`.
 *
 * **Locking:** none.
 */
export function forEachSgtableSg(sgt: SgTable, fn: (sg: Scatterlist, i: number) => void): void {
  forEachSg(sgt.sgl, sgt.origNents, fn);
}

/**
 * Call `fn` for every DMA segment of a mapped table (`nents`): read `sgDmaAddress` and `sgDmaLen`
 * there, never past it.
 *
 * **Kernel:** `for_each_sgtable_dma_sg(sgt, sg, i)`.
 *
 * **Locking:** none.
 */
export function forEachSgtableDmaSg(sgt: SgTable, fn: (sg: Scatterlist, i: number) => void): void {
  forEachSg(sgt.sgl, sgt.nents, fn);
}

/** A range of DMA addresses: what a driver programs its device with. */
export interface DmaRange {
  readonly addr: number;
  readonly len: number;
}

/**
 * The DMA ranges of bytes `[offset, offset + len)` of a mapped table: its DMA segments (`nents`)
 * walked in order, the first and last cut to the range. `null` when the segments end before the
 * range does (the caller reports that in its own terms).
 *
 * **Kernel:** the `for_each_sgtable_dma_sg()` walk a driver writes to program a part of a mapped
 * buffer into its device (as `drm_prime_sg_to_dma_addr_array()` does page by page).
 *
 * **Locking:** none.
 */
export function sgtDmaRanges(sgt: SgTable, offset: number, len: number): DmaRange[] | null {
  const out: DmaRange[] = [];
  let skip = offset;
  let left = len;
  forEachSgtableDmaSg(sgt, (sg) => {
    const segLen = sgDmaLen(sg);
    if (left === 0) {
      return;
    }
    if (skip >= segLen) {
      skip -= segLen;
      return;
    }
    const n = Math.min(segLen - skip, left);
    out.push({ addr: sgDmaAddress(sg) + skip, len: n });
    left -= n;
    skip = 0;
  });
  return left > 0 ? null : out;
}

/** The largest segment `sg_alloc_table_from_pages()` builds: `UINT_MAX` rounded down to a page. */
const SG_MAX_SEGMENT_DEFAULT = 0xffff_f000;

/**
 * Build a table from `pages`, merging physically contiguous pages into one entry of at most
 * `maxSegment` bytes. The data starts `offset` bytes into the first page and is `size` bytes long.
 *
 * **Kernel:** `sg_alloc_table_from_pages_segment()`.
 *
 * **Locking:** may sleep when `gfp` allows blocking (checked); synchronous.
 *
 * @throws {@link KernelError} `EINVAL` for no pages, a `maxSegment` below one page (the kernel
 * WARNs as well), an offset outside the first page, or a size that does not end in the last page
 */
export function sgAllocTableFromPagesSegment(
  kernel: Kernel,
  pages: readonly Page[],
  offset: number,
  size: number,
  maxSegment: number,
  gfp: GfpFlags = GFP_KERNEL,
): SgTable {
  const maxSeg = Math.floor(maxSegment / PAGE_SIZE) * PAGE_SIZE;
  if (maxSeg < PAGE_SIZE) {
    kernel.report({
      kind: "warn",
      code: "lib/scatterlist.c:sg_alloc_append_table_from_pages",
      summary: `WARNING at lib/scatterlist.c:sg_alloc_append_table_from_pages: max_segment ${maxSegment} below PAGE_SIZE`,
      details: {
        site: "lib/scatterlist.c:sg_alloc_append_table_from_pages",
        hint: `pass a max_segment of at least PAGE_SIZE (${PAGE_SIZE}), e.g. dma_max_mapping_size() of the device`,
      },
    });
    throw new KernelError("EINVAL", `sg_alloc_table_from_pages: max_segment ${maxSegment}`);
  }
  if (pages.length === 0) {
    throw new KernelError("EINVAL", "sg_alloc_table_from_pages: no pages");
  }
  if (
    offset < 0 ||
    offset >= PAGE_SIZE ||
    size <= 0 ||
    offset + size > pages.length * PAGE_SIZE ||
    offset + size <= (pages.length - 1) * PAGE_SIZE
  ) {
    throw new KernelError(
      "EINVAL",
      `sg_alloc_table_from_pages: offset ${offset} size ${size} for ${pages.length} pages`,
    );
  }
  if (gfpflagsAllowBlocking(gfp)) {
    might_sleep(kernel, "lib/scatterlist.c:sg_alloc_table_from_pages_segment");
  }
  // chunks: runs of consecutive pfns, cut when a run reaches maxSeg bytes
  const starts: number[] = [0];
  let run = 0;
  for (let i = 1; i < pages.length; i++) {
    run += PAGE_SIZE;
    if (run >= maxSeg || pages[i]!.pfn !== pages[i - 1]!.pfn + 1) {
      starts.push(i);
      run = 0;
    }
  }
  const list = makeList(starts.length);
  let left = size;
  let off = offset;
  starts.forEach((first, c) => {
    const next = starts[c + 1] ?? pages.length;
    const chunk = (next - first) * PAGE_SIZE - off;
    sgSetPage(list[c]!, pages[first]!, Math.min(left, chunk), off);
    left -= chunk;
    off = 0;
  });
  return new SgTable(list);
}

/**
 * Build a table from `pages`, merging physically contiguous pages (segments up to 4 GiB − 4 KiB).
 *
 * **Kernel:** `sg_alloc_table_from_pages()`.
 *
 * **Locking:** may sleep when `gfp` allows blocking (checked); synchronous.
 *
 * @throws {@link KernelError} `EINVAL` as {@link sgAllocTableFromPagesSegment}
 */
export function sgAllocTableFromPages(
  kernel: Kernel,
  pages: readonly Page[],
  offset: number,
  size: number,
  gfp: GfpFlags = GFP_KERNEL,
): SgTable {
  return sgAllocTableFromPagesSegment(kernel, pages, offset, size, SG_MAX_SEGMENT_DEFAULT, gfp);
}
