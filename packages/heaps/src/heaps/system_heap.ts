/**
 * The system heap ("system") and, on Android kernels, the uncached system heap
 * ("system-uncached"), both exporting dma-bufs of pages from the page allocator.
 *
 * - 5.6–5.10 mainline: order-0 pages (`GFP_KERNEL | __GFP_ZERO`), the 2019 heap helpers' operations.
 * - 5.11+ (and the Android 5.10 trees): pages of orders 8, 4 and 0, largest first, one sg entry
 *   per page; a private copy of the sg table per attachment, mapped through the DMA API; CPU
 *   access syncs every mapped attachment and the vmap alias; mmap with `remap_pfn_range`; a
 *   cacheable vmap.
 * - Android (5.10+, {@link CONFIG_ANDROID}): pages come from per-order page pools and are zeroed
 *   through a cacheable kernel mapping at release before they go back to the pool; the second heap
 *   `system-uncached` makes buffers whose user and kernel mappings are write-combine, that devices
 *   map with `DMA_ATTR_SKIP_CPU_SYNC`, whose CPU-access hooks only handle the vmap range, and that
 *   are cleaned once at allocation by a map/unmap for the heap's own device (whose absence, the
 *   named patch {@link SYSTEM_UNCACHED_NO_ALLOC_FLUSH}, is hazard H5).
 *
 * **Kernel:** drivers/dma-buf/heaps/system_heap.c (mainline 5.6 and 5.11 rewrites; the ACK
 * android12-5.10 version with `system-uncached` and page pools).
 *
 * @module
 */
import {
  heapBufferAttach,
  heapBufferDetach,
  heapBufferVmap,
  heapBufferVunmap,
} from "../internal/heap-buffer";
import {
  KernelError,
  PAGE_SIZE,
  mutexInit,
  mutexLock,
  mutexUnlock,
  remapPfnRange,
  type Kernel,
  type Mutex,
  type Vma,
} from "@dmasim/kernel";
import {
  DMA_BIT_MASK,
  GFP_HIGHUSER,
  GFP_KERNEL,
  __GFP_COMP,
  __GFP_NORETRY,
  __GFP_NOWARN,
  __GFP_RECLAIM,
  __GFP_ZERO,
  allocPages,
  cpuWrite,
  flushKernelVmapRange,
  freePages,
  getMachine,
  invalidateKernelVmapRange,
  pageAddress,
  type Device,
  type GfpFlags,
  type Page,
} from "@dmasim/hardware";
import {
  DMA_ATTR_SKIP_CPU_SYNC,
  DMA_BIDIRECTIONAL,
  dmaCoerceMaskAndCoherent,
  dmaMapSgtable,
  dmaSyncSgtableForCpu,
  dmaSyncSgtableForDevice,
  dmaUnmapSgtable,
  sgAllocTable,
  sgFreeTable,
  sgSetPage,
  type DmaDataDirection,
  type SgTable,
} from "@dmasim/dma-mapping";
import { dmaBufExport, type DmaBuf, type DmaBufOps } from "@dmasim/dma-buf";
import { dmaHeapAdd, dmaHeapGetDev, type DmaHeap, type DmaHeapOps } from "../dma-heap";
import { heapHelperExportDmabuf, initHeapHelperBuffer } from "../heap-helpers";
import { HEAPS_ERAS, SYSTEM_UNCACHED_NO_ALLOC_FLUSH, androidHeaps, optionOn } from "../module";
import {
  dmabufPagePoolAlloc,
  dmabufPagePoolCreate,
  dmabufPagePoolFree,
  dmabufPagePoolGetSize,
  type DmabufPagePool,
} from "./page_pool";

/** The orders tried, largest first (1 MiB, 64 KiB, 4 KiB). **Kernel:** `orders[]`. */
export const SYSTEM_HEAP_ORDERS = [8, 4, 0] as const;

const LOW_ORDER_GFP = GFP_HIGHUSER | __GFP_ZERO | __GFP_COMP;
const HIGH_ORDER_GFP =
  ((GFP_HIGHUSER | __GFP_ZERO | __GFP_NOWARN | __GFP_NORETRY) & ~__GFP_RECLAIM) | __GFP_COMP;

/**
 * The GFP mask of each order: order 8 does not reclaim, retry or warn; Android adds `__GFP_NOWARN`
 * for order 4. **Kernel:** `order_flags[]`.
 *
 * **Locking:** none (pure).
 */
export function systemHeapOrderFlags(kernel: Kernel): GfpFlags[] {
  const mid = androidHeaps(kernel) ? LOW_ORDER_GFP | __GFP_NOWARN : LOW_ORDER_GFP;
  return [HIGH_ORDER_GFP, mid, LOW_ORDER_GFP];
}

/** One attachment. **Kernel:** `struct dma_heap_attachment` of system_heap.c. */
export interface SystemHeapAttachment {
  readonly dev: Device;
  /** A private copy of the buffer's table (its DMA fields are this device's). */
  readonly table: SgTable;
  mapped: boolean;
  readonly uncached: boolean;
}

/**
 * A system-heap buffer.
 *
 * **Kernel:** `struct system_heap_buffer`.
 *
 * **Locking:** `lock` protects `attachments`, `vmapCnt` and `vaddr`.
 */
export class SystemHeapBuffer {
  readonly attachments: SystemHeapAttachment[] = [];
  readonly lock: Mutex;
  vmapCnt = 0;
  vaddr: number | null = null;

  constructor(
    readonly heap: DmaHeap,
    readonly len: number,
    /** The pages, one per sg entry (non-increasing orders). */
    readonly pages: readonly Page[],
    readonly sgTable: SgTable,
    readonly uncached: boolean,
  ) {
    this.lock = mutexInit(heap.kernel, "&buffer->lock", "system_heap_buffer_lock");
  }

  /** Every page frame of the buffer, in order. */
  pfns(): number[] {
    return this.pages.flatMap((p) => Array.from({ length: 1 << p.order }, (_, i) => p.pfn + i));
  }
}

/** The heap's private data: its pools (Android) and whether it makes uncached buffers. */
interface SystemHeapPriv {
  readonly uncached: boolean;
  readonly pools: readonly DmabufPagePool[] | null;
}

const bufOf = (d: DmaBuf): SystemHeapBuffer => d.priv as SystemHeapBuffer;

function dupSgTable(kernel: Kernel, table: SgTable): SgTable {
  const copy = sgAllocTable(kernel, table.origNents);
  table.sgl.slice(0, table.origNents).forEach((sg, i) => {
    sgSetPage(copy.sgl[i]!, sg.page!, sg.length, sg.offset);
  });
  return copy;
}

async function cpuAccess(dmabuf: DmaBuf, dir: DmaDataDirection, forCpu: boolean): Promise<void> {
  const buffer = bufOf(dmabuf);
  const m = getMachine(buffer.heap.kernel);
  await mutexLock(buffer.lock);
  try {
    if (buffer.vmapCnt && buffer.vaddr !== null) {
      if (forCpu) {
        invalidateKernelVmapRange(m, buffer.vaddr, buffer.len);
      } else {
        flushKernelVmapRange(m, buffer.vaddr, buffer.len);
      }
    }
    if (!buffer.uncached) {
      for (const a of buffer.attachments) {
        if (!a.mapped) {
          continue;
        }
        if (forCpu) {
          dmaSyncSgtableForCpu(a.dev, a.table, dir);
        } else {
          dmaSyncSgtableForDevice(a.dev, a.table, dir);
        }
      }
    }
  } finally {
    mutexUnlock(buffer.lock);
  }
}

/** Zero every page through a temporary cacheable kernel mapping (`kmap_local_page` + memset). */
function zeroBuffer(buffer: SystemHeapBuffer): void {
  const m = getMachine(buffer.heap.kernel);
  const zero = new Uint8Array(PAGE_SIZE);
  for (const pfn of buffer.pfns()) {
    cpuWrite(m, pageAddress(m, m.pageAlloc.page(pfn)), zero);
  }
}

function release(dmabuf: DmaBuf): void {
  const buffer = bufOf(dmabuf);
  const priv = buffer.heap.priv as SystemHeapPriv;
  const m = getMachine(buffer.heap.kernel);
  if (priv.pools) {
    zeroBuffer(buffer);
    for (const page of buffer.pages) {
      const i = SYSTEM_HEAP_ORDERS.indexOf(page.order as 8 | 4 | 0);
      dmabufPagePoolFree(priv.pools[i]!, page);
    }
  } else {
    for (const page of buffer.pages) {
      freePages(m, page, page.order);
    }
  }
  sgFreeTable(buffer.sgTable);
}

/**
 * The system heap's dma-buf operations (5.11+ and Android 5.10).
 *
 * **Kernel:** `system_heap_buf_ops`.
 */
export const SYSTEM_HEAP_BUF_OPS: DmaBufOps = {
  async attach(dmabuf, attachment) {
    const buffer = bufOf(dmabuf);
    const a: SystemHeapAttachment = {
      dev: attachment.dev,
      table: dupSgTable(buffer.heap.kernel, buffer.sgTable),
      mapped: false,
      uncached: buffer.uncached,
    };
    attachment.priv = a;
    await heapBufferAttach(buffer, a);
  },
  async detach(dmabuf, attachment) {
    const a = attachment.priv as SystemHeapAttachment;
    await heapBufferDetach(bufOf(dmabuf), a);
    sgFreeTable(a.table);
  },
  mapDmaBuf(attachment, dir) {
    const a = attachment.priv as SystemHeapAttachment;
    dmaMapSgtable(attachment.dev, a.table, dir, a.uncached ? DMA_ATTR_SKIP_CPU_SYNC : 0);
    a.mapped = true;
    return a.table;
  },
  unmapDmaBuf(attachment, table, dir) {
    const a = attachment.priv as SystemHeapAttachment;
    a.mapped = false;
    dmaUnmapSgtable(attachment.dev, table, dir, a.uncached ? DMA_ATTR_SKIP_CPU_SYNC : 0);
  },
  async beginCpuAccess(dmabuf, dir) {
    await cpuAccess(dmabuf, dir, true);
  },
  async endCpuAccess(dmabuf, dir) {
    await cpuAccess(dmabuf, dir, false);
  },
  mmap(dmabuf, vma: Vma) {
    const buffer = bufOf(dmabuf);
    if (buffer.uncached) {
      vma.pageProt = "writecombine";
    }
    const pfns = buffer.pfns();
    for (let i = vma.pgoff, addr = vma.start; i < pfns.length && addr < vma.end; i++) {
      remapPfnRange(vma, addr, pfns[i]!, PAGE_SIZE);
      addr += PAGE_SIZE;
    }
  },
  async vmap(dmabuf, map) {
    const buffer = bufOf(dmabuf);
    const prot = buffer.uncached ? "writecombine" : "cacheable";
    await heapBufferVmap(
      buffer.heap.kernel,
      buffer,
      map,
      () => buffer.pfns(),
      prot,
      "system_heap_do_vmap",
    );
  },
  async vunmap(dmabuf, map) {
    const buffer = bufOf(dmabuf);
    await heapBufferVunmap(buffer.heap.kernel, buffer, map);
  },
  release,
};

function allocLargestAvailable(heap: DmaHeap, size: number, maxOrder: number): Page | null {
  const priv = heap.priv as SystemHeapPriv;
  const flags = systemHeapOrderFlags(heap.kernel);
  for (let i = 0; i < SYSTEM_HEAP_ORDERS.length; i++) {
    const order = SYSTEM_HEAP_ORDERS[i]!;
    if (size < PAGE_SIZE << order || maxOrder < order) {
      continue;
    }
    const page = priv.pools
      ? dmabufPagePoolAlloc(priv.pools[i]!)
      : allocPages(getMachine(heap.kernel), order, flags[i]!);
    if (page) {
      page.order = order;
      return page;
    }
  }
  return null;
}

function giveBack(heap: DmaHeap, pages: readonly Page[]): void {
  const m = getMachine(heap.kernel);
  for (const p of pages) {
    freePages(m, p, p.order);
  }
}

function fatalSignal(heap: DmaHeap): KernelError {
  return androidHeaps(heap.kernel)
    ? new KernelError("EINTR", "system heap: allocation interrupted by a fatal signal")
    : new KernelError("ENOMEM", "system heap: allocation interrupted by a fatal signal");
}

/**
 * A request for more pages than RAM holds: the kernel's page loop takes every free page, then
 * fails with `ENOMEM` and frees them (mainline has no size check of its own: the 2021
 * `len / PAGE_SIZE > totalram_pages()` check of dma-heap.c and the 2023 one of system_heap.c were
 * proposed and not merged). dmasim gives the same `ENOMEM` at once, without touching the pages the
 * loop would have zeroed and freed.
 */
function moreThanRam(heap: DmaHeap, len: number): KernelError | null {
  const ram = getMachine(heap.kernel).config.ramSize;
  return len / PAGE_SIZE > ram / PAGE_SIZE
    ? new KernelError(
        "ENOMEM",
        `${heap.name}: ${len} bytes is more than the ${ram} bytes of RAM (the page loop cannot succeed)`,
      )
    : null;
}

/**
 * Gather pages for `len` bytes, largest order first, never increasing the order.
 *
 * **Kernel:** the page loop of `system_heap_allocate()` / `system_heap_do_allocate()`
 * (`alloc_largest_available()`).
 *
 * **Locking:** may sleep; process context.
 *
 * @throws {@link KernelError} `ENOMEM` when no page fits (at once for more than RAM), or on a
 * fatal signal (`EINTR` on Android); the pages gathered so far are freed
 */
export function systemHeapGatherPages(heap: DmaHeap, len: number): Page[] {
  const tooBig = moreThanRam(heap, len);
  if (tooBig) {
    throw tooBig;
  }
  const pages: Page[] = [];
  let remaining = len;
  let maxOrder: number = SYSTEM_HEAP_ORDERS[0];
  while (remaining > 0) {
    if (heap.kernel.sched.current.signalPending) {
      giveBack(heap, pages);
      throw fatalSignal(heap);
    }
    const page = allocLargestAvailable(heap, remaining, maxOrder);
    if (!page) {
      giveBack(heap, pages);
      throw new KernelError("ENOMEM", `${heap.name}: out of memory for ${len} bytes`);
    }
    pages.push(page);
    remaining -= PAGE_SIZE << page.order;
    maxOrder = page.order;
  }
  return pages;
}

async function systemHeapDoAllocate(
  heap: DmaHeap,
  len: number,
  fdFlags: number,
  uncached: boolean,
): Promise<DmaBuf> {
  const kernel = heap.kernel;
  const pages = systemHeapGatherPages(heap, len);
  const table = sgAllocTable(kernel, pages.length);
  pages.forEach((p, i) => sgSetPage(table.sgl[i]!, p, PAGE_SIZE << p.order, 0));
  const buffer = new SystemHeapBuffer(heap, len, pages, table, uncached);
  let dmabuf: DmaBuf;
  try {
    dmabuf = dmaBufExport(kernel, {
      expName: heap.name,
      ops: SYSTEM_HEAP_BUF_OPS,
      size: len,
      flags: fdFlags,
      priv: buffer,
    });
  } catch (e) {
    giveBack(heap, pages);
    sgFreeTable(table);
    throw e;
  }
  if (uncached && !optionOn(kernel, SYSTEM_UNCACHED_NO_ALLOC_FLUSH)) {
    // the zeroes __GFP_ZERO (or the release-time zeroing) left in the cache: clean and drop them
    const dev = dmaHeapGetDev(heap);
    dmaMapSgtable(dev, table, DMA_BIDIRECTIONAL, 0);
    dmaUnmapSgtable(dev, table, DMA_BIDIRECTIONAL, 0);
  }
  await kernel.sched.schedulePoint();
  return dmabuf;
}

/** 5.6–5.10 mainline: order-0 pages and the heap helpers. */
async function systemHeapAllocateHelpers(
  heap: DmaHeap,
  len: number,
  fdFlags: number,
): Promise<DmaBuf> {
  const m = getMachine(heap.kernel);
  const tooBig = moreThanRam(heap, len);
  if (tooBig) {
    throw tooBig;
  }
  const pages: Page[] = [];
  for (let pg = 0; pg < len / PAGE_SIZE; pg++) {
    const page = heap.kernel.sched.current.signalPending
      ? null
      : allocPages(m, 0, GFP_KERNEL | __GFP_ZERO);
    if (!page) {
      giveBack(heap, pages);
      throw new KernelError("ENOMEM", `${heap.name}: out of memory for ${len} bytes`);
    }
    pages.push(page);
  }
  const buffer = initHeapHelperBuffer(heap, len, pages, (b) => giveBack(heap, b.pages));
  try {
    return heapHelperExportDmabuf(buffer, fdFlags);
  } catch (e) {
    giveBack(heap, pages);
    throw e;
  } finally {
    await heap.kernel.sched.schedulePoint();
  }
}

function systemHeapOps(kernel: Kernel, uncached: boolean): DmaHeapOps {
  if (HEAPS_ERAS.heapHelpers(kernel) && !androidHeaps(kernel)) {
    return { allocate: (heap, len, fdFlags) => systemHeapAllocateHelpers(heap, len, fdFlags) };
  }
  return {
    allocate: (heap, len, fdFlags) => systemHeapDoAllocate(heap, len, fdFlags, uncached),
    getPoolSize: (heap) =>
      ((heap.priv as SystemHeapPriv).pools ?? []).reduce((n, p) => n + dmabufPagePoolGetSize(p), 0),
  };
}

/**
 * Register the system heap, and on Android 5.10+ its page pools and the `system-uncached` heap
 * (whose device gets a 64-bit mask; it stays non-coherent on an arm64 SoC). Returns the heaps
 * registered.
 *
 * **Kernel:** `system_heap_create()` (module init). Android registers `system-uncached` with an
 * `allocate` that fails with `-EBUSY` until the mask is set; dmasim's init is atomic, so that
 * window never shows.
 *
 * **Locking:** process context (module init).
 *
 * @throws {@link KernelError} as {@link dmaHeapAdd}
 */
export function systemHeapCreate(kernel: Kernel): DmaHeap[] {
  const pools = androidHeaps(kernel)
    ? systemHeapOrderFlags(kernel).map((gfp, i) =>
        dmabufPagePoolCreate(kernel, gfp, SYSTEM_HEAP_ORDERS[i]!),
      )
    : null;
  const sys = dmaHeapAdd(kernel, {
    name: "system",
    ops: systemHeapOps(kernel, false),
    priv: { uncached: false, pools } satisfies SystemHeapPriv,
  });
  if (!androidHeaps(kernel)) {
    return [sys];
  }
  const unc = dmaHeapAdd(kernel, {
    name: "system-uncached",
    ops: systemHeapOps(kernel, true),
    priv: { uncached: true, pools } satisfies SystemHeapPriv,
  });
  dmaCoerceMaskAndCoherent(dmaHeapGetDev(unc), DMA_BIT_MASK(64));
  return [sys, unc];
}
