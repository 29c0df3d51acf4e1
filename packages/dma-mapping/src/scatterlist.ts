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
import { KernelError, PAGE_SIZE, might_sleep, sizeT, uintT, type Kernel } from "@dmasim/kernel";
import {
  GFP_KERNEL,
  gfpflagsAllowBlocking,
  getMachine,
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
  /**
   * The chunk holding this entry was freed by `sg_free_table()`: touching the entry is a
   * use-after-free (KASAN's slab-use-after-free in the kernel; reported once per entry).
   */
  freed: { readonly kernel: Kernel; step: number; reported: boolean } | null = null;
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
  /** The kernel whose allocator built it (`sg_alloc_table*()`), or null for a hand-made table. */
  kernel: Kernel | null = null;

  constructor(sgl: Scatterlist[]) {
    this.sgl = sgl;
    this.nents = sgl.length;
    this.origNents = sgl.length;
  }
}

/**
 * The most entries dmasim builds in one list (1 Mi entries, 32 MiB of kernel memory): each entry is
 * a host object, so a larger table is refused with `ENOMEM` rather than exhausting the host.
 */
export const SG_MAX_ENTRIES = 1 << 20;

/** `sizeof(struct scatterlist)` on a 64-bit kernel without `CONFIG_DEBUG_SG`. */
const SIZEOF_SCATTERLIST = 32;

function makeList(n: number): Scatterlist[] {
  const list = Array.from({ length: n }, () => new Scatterlist());
  if (n > 0) {
    list[n - 1]!.isLast = true;
  }
  return list;
}

/** The entry count of a new list: `unsigned int` (C wraps it), within RAM and dmasim's limit. */
function listSize(kernel: Kernel | null, fn: string, nents: number): number {
  const n = uintT(nents, fn, "nents");
  if (n === 0) {
    throw new KernelError("EINVAL", `${fn}: nents 0`);
  }
  const m = kernel ? getMachine(kernel) : null;
  if (m && n * SIZEOF_SCATTERLIST > m.config.ramSize) {
    throw new KernelError(
      "ENOMEM",
      `${fn}: ${n} entries (${n * SIZEOF_SCATTERLIST} bytes) do not fit in RAM`,
    );
  }
  if (n > SG_MAX_ENTRIES) {
    throw new KernelError(
      "ENOMEM",
      `${fn}: ${n} entries; dmasim builds at most ${SG_MAX_ENTRIES} per list`,
    );
  }
  return n;
}

/**
 * Report the first freed entry among the first `nents` of a list handed to a mapping call.
 *
 * @internal
 */
export function sgCheckLive(sgl: readonly Scatterlist[], nents: number, fn: string): void {
  const n = Math.min(nents, sgl.length);
  for (let i = 0; i < n; i++) {
    if (sgl[i]!.freed) {
      touch(sgl[i]!, fn);
      return;
    }
  }
}

/**
 * Report a use of an entry `sg_free_table()` freed (once per entry; the access then reads the
 * stale contents, as it would in the kernel until the memory is reused).
 */
function touch(sg: Scatterlist, fn: string): void {
  const f = sg.freed;
  if (!f || f.reported) {
    return;
  }
  f.reported = true;
  f.kernel.report({
    kind: "use-after-free",
    code: "sg-entry-freed",
    summary: `BUG: KASAN: slab-use-after-free in ${fn}: a scatterlist entry freed by sg_free_table() at step ${f.step}`,
    details: {
      function: fn,
      freedAtStep: f.step,
      hint: `unmap and stop using the table's entries before sg_free_table() (freed at step ${f.step})`,
    },
  });
}

/**
 * A zeroed list of `nents` entries with the last one marked.
 *
 * **Kernel:** `sg_init_table()`.
 *
 * **Locking:** none.
 *
 * @throws {@link KernelError} `EINVAL` for 0 entries (the kernel would mark the entry before the
 * array as the end) or a count no C caller can pass; `ENOMEM` beyond {@link SG_MAX_ENTRIES}
 */
export function sgInitTable(nents: number): Scatterlist[] {
  return makeList(listSize(null, "sg_init_table", nents));
}

/**
 * Allocate a table of `nents` zeroed entries.
 *
 * **Kernel:** `sg_alloc_table()`.
 *
 * **Locking:** may sleep when `gfp` allows blocking (checked with `might_sleep()`); synchronous.
 *
 * `nents` is an `unsigned int`: a negative or larger count wraps as C converts it (so 2^32 is 0).
 *
 * @throws {@link KernelError} `EINVAL` when `nents` is 0 (`__sg_alloc_table()`) or not a whole
 * number; `ENOMEM` when the entries do not fit in RAM (the slab allocation fails) or exceed
 * {@link SG_MAX_ENTRIES}
 */
export function sgAllocTable(kernel: Kernel, nents: number, gfp: GfpFlags = GFP_KERNEL): SgTable {
  const n = listSize(kernel, "sg_alloc_table", nents);
  if (gfpflagsAllowBlocking(gfp)) {
    might_sleep(kernel, "lib/scatterlist.c:sg_alloc_table");
  }
  const sgt = new SgTable(makeList(n));
  sgt.kernel = kernel;
  return sgt;
}

/**
 * Free a table's entries: `sgl` becomes empty and both counts 0 (the kernel sets `table->sgl` to
 * NULL; dmasim also clears the counts, so that a freed table maps and syncs nothing). A freed table
 * is still the caller's: freeing it again does nothing, as `__sg_free_table()` returns at once
 * when `table->sgl` is NULL (lib/scatterlist.c, every release from 4.14 to 6.16). The freed
 * entries themselves are gone: an entry kept from `sgl` and used afterwards (`sg_dma_address()`,
 * `sg_page()`, a map or sync of the list) is a `use-after-free` finding (`sg-entry-freed`, KASAN's
 * report), once per entry; the access then sees the stale contents.
 *
 * **Kernel:** `sg_free_table()`.
 *
 * **Locking:** none (the table must not be mapped).
 */
export function sgFreeTable(sgt: SgTable): void {
  if (sgt.sgl.length === 0) {
    return;
  }
  const owner = sgt.kernel;
  if (owner) {
    const step = owner.step;
    for (const sg of sgt.sgl) {
      sg.freed = { kernel: owner, step, reported: false };
    }
  }
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
  touch(sg, "sg_set_page");
  len = uintT(len, "sg_set_page", "len");
  offset = uintT(offset, "sg_set_page", "offset");
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
  touch(sg, "sg_page");
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
  touch(sg, "sg_dma_address");
  return sg.dmaAddress;
}

/**
 * The length of a DMA segment. **Kernel:** `sg_dma_len()`.
 *
 * **Locking:** none.
 */
export function sgDmaLen(sg: Scatterlist): number {
  touch(sg, "sg_dma_len");
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
  offset = sizeT(offset, "sg_alloc_table_from_pages_segment", "offset");
  size = sizeT(size, "sg_alloc_table_from_pages_segment", "size");
  maxSegment = uintT(maxSegment, "sg_alloc_table_from_pages_segment", "max_segment");
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
  const sgt = new SgTable(list);
  sgt.kernel = kernel;
  return sgt;
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
