/**
 * The dma-buf heap page pools of the Android kernels: one pool per page order keeps freed pages
 * for the next allocation instead of returning them to the page allocator. A pool never zeroes:
 * the heap zeroes a buffer's pages when it releases them, before they enter the pool (so recycled
 * pages come back zeroed, which the dmabuf-heap kselftest's `test_alloc_zeroed` checks). Fresh
 * pages come from the page allocator with the pool's GFP mask (`__GFP_ZERO` for the system heap).
 *
 * **Kernel:** drivers/dma-buf/heaps/page_pool.c of the Android Common Kernels (android12-5.10 and
 * later; based on ION's ion_page_pool.c). Mainline heaps have no pool.
 *
 * The pool's shrinker is {@link dmabufPagePoolShrink}; dmasim has no memory pressure, so nothing
 * calls it unless a scenario does. Highmem is not modelled: every page is a low page.
 *
 * @module
 */
import { WARN_ON, defineSubsys, type Kernel } from "@dmasim/kernel";
import {
  __GFP_COMP,
  allocPages,
  freePages,
  getMachine,
  type GfpFlags,
  type Machine,
  type Page,
} from "@dmasim/hardware";
import { HEAPS_MODULE } from "../module";

/**
 * A pool of free pages of one order.
 *
 * **Kernel:** `struct dmabuf_page_pool` (`count[]`, `items[]`, `lock`, `gfp_mask`, `order`).
 *
 * **Locking:** the kernel's `pool->lock` spinlock; nothing here reaches a scheduling point.
 */
export class DmabufPagePool {
  /** Pages in the pool, oldest first (added at the tail, taken from the head). */
  readonly items: Page[] = [];
  destroyed = false;

  constructor(
    readonly machine: Machine,
    /** The GFP mask of fresh allocations (with `__GFP_COMP`). */
    readonly gfpMask: GfpFlags,
    readonly order: number,
  ) {}

  /** Pages (of `order`) held. **Kernel:** `pool->count[POOL_LOWPAGE]`. */
  get count(): number {
    return this.items.length;
  }
}

const POOLS = defineSubsys("heaps:page-pools", () => [] as DmabufPagePool[], HEAPS_MODULE);

/**
 * Every live pool of `kernel` (the shrinker's list).
 *
 * **Kernel:** the static `pool_list`.
 *
 * **Locking:** `pool_list_lock` in the kernel.
 */
export function dmabufPagePools(kernel: Kernel): readonly DmabufPagePool[] {
  return kernel.subsys(POOLS);
}

/**
 * Create a pool for pages of `order` allocated with `gfpMask | __GFP_COMP`.
 *
 * **Kernel:** `dmabuf_page_pool_create()`.
 *
 * **Locking:** process context (takes `pool_list_lock`).
 *
 * @throws {@link KernelError} `ENODEV` when the kernel has no machine
 */
export function dmabufPagePoolCreate(
  kernel: Kernel,
  gfpMask: GfpFlags,
  order: number,
): DmabufPagePool {
  const pool = new DmabufPagePool(getMachine(kernel), gfpMask | __GFP_COMP, order);
  kernel.subsys(POOLS).push(pool);
  return pool;
}

/**
 * Free every pooled page and forget the pool.
 *
 * **Kernel:** `dmabuf_page_pool_destroy()`.
 *
 * **Locking:** process context.
 */
export function dmabufPagePoolDestroy(pool: DmabufPagePool): void {
  const list = pool.machine.kernel.subsys(POOLS);
  const i = list.indexOf(pool);
  if (i >= 0) {
    list.splice(i, 1);
  }
  for (const page of pool.items.splice(0)) {
    freePages(pool.machine, page, pool.order);
  }
  pool.destroyed = true;
}

/**
 * A page of the pool's order: a pooled one (already zeroed by the heap that freed it), else a
 * fresh one from the page allocator (null when a fatal signal is pending or memory is short).
 *
 * **Kernel:** `dmabuf_page_pool_alloc()` (`WARN_ON(!pool)`).
 *
 * **Locking:** may sleep (the page allocator may reclaim); synchronous here.
 */
export function dmabufPagePoolAlloc(pool: DmabufPagePool | null): Page | null {
  if (!pool) {
    // the kernel's WARN_ON(!pool) needs a kernel to report to; a null pool has none
    return null;
  }
  const k = pool.machine.kernel;
  if (
    WARN_ON(
      k,
      pool.destroyed,
      "drivers/dma-buf/heaps/page_pool.c:dmabuf_page_pool_alloc",
      "allocation from a destroyed pool",
    )
  ) {
    return null;
  }
  const pooled = pool.items.shift();
  if (pooled) {
    return pooled;
  }
  if (k.sched.current.signalPending) {
    return null;
  }
  const page = allocPages(pool.machine, pool.order, pool.gfpMask);
  if (page) {
    page.order = pool.order;
  }
  return page;
}

/**
 * Put `page` in the pool. A page of another order WARNs and is not taken (it leaks, as in the
 * kernel).
 *
 * **Kernel:** `dmabuf_page_pool_free()`.
 *
 * **Locking:** any context that may take a spinlock.
 */
export function dmabufPagePoolFree(pool: DmabufPagePool, page: Page): void {
  if (
    WARN_ON(
      pool.machine.kernel,
      pool.order !== page.order,
      "drivers/dma-buf/heaps/page_pool.c:dmabuf_page_pool_free",
      `page of order ${page.order} freed to the order-${pool.order} pool`,
    )
  ) {
    return;
  }
  pool.items.push(page);
}

/**
 * Bytes held by the pool. **Kernel:** `dmabuf_page_pool_get_size()`.
 *
 * **Locking:** none.
 */
export function dmabufPagePoolGetSize(pool: DmabufPagePool): number {
  return pool.count * (4096 << pool.order);
}

/**
 * The shrinker: with `nrToScan` 0, count the pooled pages; otherwise free up to `nrToScan` pages
 * (in whole pool pages), pool by pool, and return how many were freed.
 *
 * **Kernel:** `dmabuf_page_pool_shrink()` (`count_objects` / `scan_objects` of `pool_shrinker`).
 *
 * **Locking:** process context (takes `pool_list_lock`).
 */
export function dmabufPagePoolShrink(kernel: Kernel, nrToScan: number): number {
  let total = 0;
  for (const pool of kernel.subsys(POOLS)) {
    if (nrToScan === 0) {
      total += pool.count << pool.order;
      continue;
    }
    let freed = 0;
    while (freed < nrToScan) {
      const page = pool.items.shift();
      if (!page) {
        break;
      }
      freePages(pool.machine, page, pool.order);
      freed += 1 << pool.order;
    }
    nrToScan -= freed;
    total += freed;
    if (nrToScan <= 0) {
      break;
    }
  }
  return total;
}
