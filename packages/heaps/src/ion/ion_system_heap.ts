/**
 * ION's system heap (pages of orders 8, 4 and 0 from separate cached and uncached page pools,
 * zeroed on free through a mapping with the buffer's memory type; a request above half of RAM
 * fails) and system-contig heap (one physically contiguous block of `alloc_pages`).
 *
 * Fresh pages come zeroed by the page allocator (`__GFP_ZERO`, CPU stores through the cacheable
 * linear map), and nothing cleans those lines for an uncached buffer: the known gap that hazard
 * H5 describes for ION.
 *
 * **Kernel:** drivers/staging/android/ion/ion_system_heap.c (4.14); the pools of
 * ion_page_pool.c behave as the dma-buf heap pools dmasim models in `DmabufPagePool`. The shrinker
 * and deferred freeing (`ION_HEAP_FLAG_DEFER_FREE`) are not modelled.
 *
 * @module
 */
import { KernelError, PAGE_SIZE, type Kernel } from "@dmasim/kernel";
import {
  GFP_HIGHUSER,
  __GFP_NORETRY,
  __GFP_NOWARN,
  __GFP_RECLAIM,
  __GFP_ZERO,
  allocPages,
  freePages,
  getMachine,
  getOrder,
  type Page,
} from "@dmasim/hardware";
import { sgAllocTable, sgSetPage } from "@dmasim/dma-mapping";
import {
  dmabufPagePoolAlloc,
  dmabufPagePoolCreate,
  dmabufPagePoolFree,
  type DmabufPagePool,
} from "../heaps/page_pool";
import { IonHeap, ionDeviceAddHeap, ionHeapBufferZero, type IonBuffer } from "./ion";
import { ION_HEAP_TYPE_SYSTEM, ION_HEAP_TYPE_SYSTEM_CONTIG } from "./uapi";

/** The orders of ION's system heap. **Kernel:** `orders[]` of ion_system_heap.c. */
const ORDERS = [8, 4, 0] as const;
const HIGH_ORDER_GFP = (GFP_HIGHUSER | __GFP_ZERO | __GFP_NOWARN | __GFP_NORETRY) & ~__GFP_RECLAIM;
const LOW_ORDER_GFP = GFP_HIGHUSER | __GFP_ZERO;

interface SystemHeapPools {
  readonly cached: DmabufPagePool[];
  readonly uncached: DmabufPagePool[];
}

function pools(kernel: Kernel): SystemHeapPools {
  const make = (): DmabufPagePool[] =>
    ORDERS.map((o) => dmabufPagePoolCreate(kernel, o > 4 ? HIGH_ORDER_GFP : LOW_ORDER_GFP, o));
  return { cached: make(), uncached: make() };
}

function allocate(heap: IonHeap, buffer: IonBuffer, len: number): void {
  const m = getMachine(heap.kernel);
  if (len / PAGE_SIZE > m.pageAlloc.zones.reduce((n, z) => n + z.managedPages, 0) / 2) {
    throw new KernelError("ENOMEM", "ion_system_heap_allocate: more than half of RAM");
  }
  const p = heap.priv as SystemHeapPools;
  const list = buffer.uncached ? p.uncached : p.cached;
  const pages: Page[] = [];
  let remaining = len;
  let maxOrder: number = ORDERS[0];
  while (remaining > 0) {
    let page: Page | null = null;
    for (let i = 0; i < ORDERS.length && !page; i++) {
      const o = ORDERS[i]!;
      if (remaining < PAGE_SIZE << o || maxOrder < o) {
        continue;
      }
      page = dmabufPagePoolAlloc(list[i]!);
    }
    if (!page) {
      for (const q of pages) {
        dmabufPagePoolFree(list[ORDERS.indexOf(q.order as 8 | 4 | 0)]!, q);
      }
      throw new KernelError("ENOMEM", "ion_system_heap_allocate: out of memory");
    }
    pages.push(page);
    remaining -= PAGE_SIZE << page.order;
    maxOrder = page.order;
  }
  const sgt = sgAllocTable(heap.kernel, pages.length);
  pages.forEach((pg, i) => sgSetPage(sgt.sgl[i]!, pg, PAGE_SIZE << pg.order, 0));
  buffer.sgTable = sgt;
  buffer.privVirt = pages;
}

function free(buffer: IonBuffer): void {
  ionHeapBufferZero(buffer);
  const p = buffer.heap.priv as SystemHeapPools;
  const list = buffer.uncached ? p.uncached : p.cached;
  for (const page of buffer.privVirt as Page[]) {
    dmabufPagePoolFree(list[ORDERS.indexOf(page.order as 8 | 4 | 0)]!, page);
  }
}

/**
 * Create and add ION's system heap (`ion_system_heap`).
 *
 * **Kernel:** `ion_system_heap_create()` + `ion_device_add_heap()`.
 *
 * **Locking:** process context (init).
 *
 * @throws {@link KernelError} `ENODEV` without ION
 */
export function ionSystemHeapCreate(kernel: Kernel): IonHeap {
  return ionDeviceAddHeap(
    kernel,
    new IonHeap(kernel, ION_HEAP_TYPE_SYSTEM, "ion_system_heap", { allocate, free }, pools(kernel)),
  );
}

function contigAllocate(heap: IonHeap, buffer: IonBuffer, len: number): void {
  const m = getMachine(heap.kernel);
  const order = getOrder(len);
  const page = allocPages(m, order, LOW_ORDER_GFP | __GFP_NOWARN);
  if (!page) {
    throw new KernelError("ENOMEM", "ion_system_contig_heap_allocate: no contiguous block");
  }
  // split_page() and free the tail beyond len
  m.pageAlloc.split(page.pfn, order);
  page.order = 0;
  const n = len / PAGE_SIZE;
  for (let i = n; i < 1 << order; i++) {
    freePages(m, m.pageAlloc.page(page.pfn + i), 0);
  }
  const sgt = sgAllocTable(heap.kernel, 1);
  sgSetPage(sgt.sgl[0]!, page, len, 0);
  buffer.sgTable = sgt;
  buffer.privVirt = page;
}

function contigFree(buffer: IonBuffer): void {
  const m = getMachine(buffer.heap.kernel);
  const first = buffer.privVirt as Page;
  for (let i = 0; i < buffer.size / PAGE_SIZE; i++) {
    freePages(m, m.pageAlloc.page(first.pfn + i), 0);
  }
}

/**
 * Create and add ION's system-contig heap (`ion_system_contig_heap`).
 *
 * **Kernel:** `ion_system_contig_heap_create()` + `ion_device_add_heap()`.
 *
 * **Locking:** process context (init).
 *
 * @throws {@link KernelError} `ENODEV` without ION
 */
export function ionSystemContigHeapCreate(kernel: Kernel): IonHeap {
  return ionDeviceAddHeap(
    kernel,
    new IonHeap(kernel, ION_HEAP_TYPE_SYSTEM_CONTIG, "ion_system_contig_heap", {
      allocate: contigAllocate,
      free: contigFree,
    }),
  );
}
