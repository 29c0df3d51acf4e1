/**
 * The page allocator: zones (ZONE_DMA, ZONE_DMA32, ZONE_NORMAL), a buddy allocator with orders
 * 0..{@link MAX_PAGE_ORDER} per zone, zone fallback, `__GFP_ZERO` (a CPU write of zeroes through the
 * cacheable linear map, which leaves dirty lines, as `clear_page()` does), and a realistic boot-time
 * fragmentation so that N single pages are usually not physically contiguous.
 *
 * **Kernel:** mm/page_alloc.c (`alloc_pages`, `__free_pages`, `alloc_pages_bulk`,
 * `alloc_pages_exact`, `split_page`), include/linux/mmzone.h (zones), include/linux/mm.h
 * (`page_to_pfn`, `page_address`).
 *
 * Placement: an allocation takes the head (the hot end) of the free list of the smallest order
 * that fits; with `allocChoices: 2` the choice source may pick the tail instead (a choice point of
 * kind `"alloc"`, option 0 the head). Boot reserves a random-looking part of some max-order blocks
 * (a seeded, deterministic pattern: the boot allocations of a running system), so small free blocks
 * are scattered over memory. Watermarks, reclaim and compaction are not modelled: an allocation
 * fails only when no free block is large enough.
 *
 * @module
 */
import {
  BUG_ON,
  KERN_WARNING,
  KernelError,
  PAGE_SIZE,
  WARN_ON,
  WARN_ON_ONCE,
  might_sleep,
  mulberry32,
  type Kernel,
} from "@dmasim/kernel";
import { cpuZeroPages } from "./cpu";
import {
  __GFP_DMA,
  __GFP_DMA32,
  __GFP_NOWARN,
  __GFP_ZERO,
  gfpflagsAllowBlocking,
  gfpString,
  type GfpFlags,
} from "./gfp";
import { ALLOC_EVENT, AllocatorHash } from "./internal/alloc_hash";
import {
  FreeArea,
  FreeOrders,
  PageStates,
  bootImage,
  bootKey,
  type BootImage,
  type ZoneImage,
} from "./internal/boot_image";
import type { HashPair } from "./internal/hash";
import type { Machine } from "./machine";
import { physToVirt, virtToPhys } from "./memory";
import type { PlatformConfig } from "./platform";

/** The largest order of a buddy block (4 MiB). **Kernel:** `MAX_PAGE_ORDER` (`MAX_ORDER - 1` before 6.4). */
export const MAX_PAGE_ORDER = 10;
/** **Kernel:** `NR_PAGE_ORDERS`. */
export const NR_PAGE_ORDERS = MAX_PAGE_ORDER + 1;

/** A zone name. **Kernel:** `enum zone_type`. */
export type ZoneName = "DMA" | "DMA32" | "Normal";

/**
 * A physical page. One object per pfn while it is handed out, so identity comparisons hold.
 *
 * **Kernel:** `struct page`.
 *
 * **Locking:** none (a handle).
 */
export class Page {
  private ord = 0;
  /** The allocator's digest part, which counts page orders, once tracked. */
  private orders: AllocatorHash | null = null;

  constructor(readonly pfn: number) {}

  /** @internal keep the allocator's digest part current with this page's order from now on */
  trackOrder(orders: AllocatorHash): void {
    this.orders = orders;
    orders.pageOrder(this.pfn, 0, this.ord);
  }

  /** The order of the allocation this page heads (0 for a single or split page). */
  get order(): number {
    return this.ord;
  }

  set order(order: number) {
    if (this.orders && order !== this.ord) {
      this.orders.pageOrder(this.pfn, this.ord, order);
    }
    this.ord = order;
  }

  /** How a state digest names the page (its pfn and order; it is never walked into). */
  digestTag(): string {
    return `pg${this.pfn}/${this.order}`;
  }
}

const FREE = 0;
const TAIL = 1;
const HEAD0 = 2; // HEAD0 + order
const RESERVED = 255;
/** A free page of a CMA area: in the buddy allocator as MIGRATE_CMA, handed out only by cma_alloc. */
const CMA_FREE = 254;

/**
 * One memory zone with its buddy free lists.
 *
 * **Kernel:** `struct zone` (`free_area[NR_PAGE_ORDERS]`).
 *
 * **Locking:** `zone->lock` in the kernel; none needed here (no scheduling point inside).
 */
export class Zone {
  /** @internal */
  readonly areas: FreeArea[];
  /** @internal the order of each free block, by its first pfn */
  readonly freeOrder: FreeOrders;
  /** Free pages. **Kernel:** `zone_page_state(zone, NR_FREE_PAGES)`. */
  freePages = 0;
  /** Pages the zone manages (not reserved at boot). */
  managedPages = 0;

  constructor(
    readonly name: ZoneName,
    readonly startPfn: number,
    readonly endPfn: number,
    image?: ZoneImage,
  ) {
    this.areas = Array.from({ length: NR_PAGE_ORDERS }, (_, o) => new FreeArea(image?.lists[o]));
    this.freeOrder = new FreeOrders(image?.freeOrder);
    this.freePages = image?.freePages ?? 0;
    this.managedPages = image?.managedPages ?? 0;
  }

  /** How a state digest names the zone when another layer holds it (never walked). */
  digestTag(): string {
    return `zone:${this.name}`;
  }

  /** @internal */
  addFree(pfn: number, order: number): void {
    this.areas[order]!.pushHead(pfn);
    this.freeOrder.set(pfn, order);
    this.freePages += 1 << order;
  }

  /** @internal */
  removeFree(pfn: number, order: number): void {
    this.areas[order]!.remove(pfn);
    this.freeOrder.delete(pfn);
    this.freePages -= 1 << order;
  }
}

/**
 * The zones and their buddy allocators, and per-page allocation state.
 *
 * **Kernel:** the page allocator (mm/page_alloc.c) of one node.
 *
 * **Locking:** none of its own (see {@link Zone}).
 */
export class PageAllocator {
  /** Zones from low to high addresses. */
  readonly zones: Zone[] = [];
  /** Per-page allocation state (free, head of order n, tail, reserved, free CMA). */
  private readonly state: PageStates;
  private readonly pageObjs = new Map<number, Page>();
  /** The allocator's part of the state digest (events since boot, page orders). */
  private readonly hash = new AllocatorHash();
  private booted = false;

  /**
   * @param fromScratch - @internal boot without the shared boot image (to make one)
   */
  constructor(
    private readonly kernel: Kernel,
    private readonly config: PlatformConfig,
    reserved: readonly { start: number; end: number }[],
    fromScratch = false,
  ) {
    if (fromScratch) {
      this.state = new PageStates();
      this.boot(reserved);
      return;
    }
    const image = bootImage(bootKey(config, reserved), () =>
      new PageAllocator(kernel, config, reserved, true).image(),
    );
    for (const z of image.zones) {
      this.zones.push(new Zone(z.name, z.startPfn, z.endPfn, z));
    }
    this.state = new PageStates(image.state);
    this.booted = true;
  }

  /** Zones, reserved ranges and the boot-time fragmentation, page by page. */
  private boot(reserved: readonly { start: number; end: number }[]): void {
    const config = this.config;
    const first = config.ramBase / PAGE_SIZE;
    const last = (config.ramBase + config.ramSize) / PAGE_SIZE;
    const limits: [ZoneName, number][] = [];
    if (config.zoneDmaLimit > 0) {
      limits.push(["DMA", config.zoneDmaLimit / PAGE_SIZE]);
    }
    if (config.zoneDma32) {
      limits.push(["DMA32", 2 ** 32 / PAGE_SIZE]);
    }
    limits.push(["Normal", Infinity]);
    let lo = first;
    for (const [name, limit] of limits) {
      const hi = Math.min(last, limit);
      if (hi > lo) {
        this.zones.push(new Zone(name, lo, hi));
        lo = hi;
      }
    }
    for (const r of reserved) {
      this.state.setRange(r.start / PAGE_SIZE, r.end / PAGE_SIZE, RESERVED);
    }
    const rand = mulberry32(config.seed); // the boot-time fragmentation pattern (not a choice)
    for (const zone of this.zones) {
      this.initZone(zone, reserved);
      this.fragment(zone, rand);
    }
  }

  /** This (freshly booted) allocator as a frozen boot image. */
  private image(): BootImage {
    const zones = this.zones.map((z) =>
      Object.freeze({
        name: z.name,
        startPfn: z.startPfn,
        endPfn: z.endPfn,
        lists: Object.freeze(z.areas.map((a) => Int32Array.from(a.blocks()))),
        freeOrder: new Map(z.freeOrder.entries()),
        freePages: z.freePages,
        managedPages: z.managedPages,
      }),
    );
    return Object.freeze({ zones: Object.freeze(zones), state: this.state.sections() });
  }

  /** Chain one event into the running hash (not while booting: boot follows from the config). */
  private event(op: number, ...args: (number | string)[]): void {
    if (this.booted) {
      this.hash.chain(op, ...args);
    }
  }

  /**
   * A summary of the allocator's state for a state digest: a running hash of every allocation,
   * free and split since boot, in order. The state after boot follows from the platform config, and
   * each event's effect from the state before it, so equal hashes mean equal free lists; equal
   * states reached by different orders hash differently (which only costs the explorer pruning).
   * The `order` of every page object whose order is not 0 is summed in too. O(1): the free lists
   * and page objects are never walked.
   * @internal
   */
  get eventHash(): HashPair {
    return this.hash.value;
  }

  private initZone(zone: Zone, reserved: readonly { start: number; end: number }[]): void {
    const holes = reserved
      .map((r) => [r.start / PAGE_SIZE, r.end / PAGE_SIZE] as const)
      .filter(([s, e]) => e > zone.startPfn && s < zone.endPfn)
      .sort((a, b) => a[0] - b[0]);
    let pfn = zone.startPfn;
    for (const [s, e] of [...holes, [zone.endPfn, zone.endPfn] as const]) {
      this.addRange(zone, pfn, Math.max(pfn, Math.min(s, zone.endPfn)));
      pfn = Math.max(pfn, Math.min(e, zone.endPfn));
    }
  }

  private addRange(zone: Zone, start: number, end: number): void {
    let pfn = start;
    while (pfn < end) {
      let order = MAX_PAGE_ORDER;
      while (order > 0 && (pfn % (1 << order) !== 0 || pfn + (1 << order) > end)) {
        order--;
      }
      zone.addFree(pfn, order);
      zone.managedPages += 1 << order;
      pfn += 1 << order;
    }
  }

  /**
   * Boot-time fragmentation: some max-order blocks, spread over the zone, are partly taken by
   * "boot" (reserved) in a seeded pattern; their remaining pages are freed in a shuffled order, so
   * small allocations come from scattered places.
   */
  private fragment(zone: Zone, rand: () => number): void {
    if (this.config.fragmentation <= 0) {
      return;
    }
    const blocks = [...zone.areas[MAX_PAGE_ORDER]!.blocks()];
    const n = Math.min(16, Math.floor(blocks.length / 4));
    if (n === 0) {
      return;
    }
    const step = Math.floor(blocks.length / n);
    const pages: number[] = [];
    for (let i = 0; i < n; i++) {
      const b = blocks[i * step]!;
      zone.removeFree(b, MAX_PAGE_ORDER);
      for (let j = 0; j < 1 << MAX_PAGE_ORDER; j++) {
        pages.push(b + j);
      }
    }
    for (let i = pages.length - 1; i > 0; i--) {
      const j = Math.floor(rand() * (i + 1));
      const t = pages[i]!;
      pages[i] = pages[j]!;
      pages[j] = t;
    }
    for (const pfn of pages) {
      if (rand() < this.config.fragmentation) {
        this.state.set(pfn, RESERVED);
        zone.managedPages--;
      } else {
        this.freeBlock(zone, pfn, 0);
      }
    }
  }

  /**
   * Whether `pfn` is in RAM and free (in the buddy allocator). A free page of a CMA area counts as
   * free: the kernel keeps it in the buddy allocator as a MIGRATE_CMA page.
   */
  isFree(pfn: number): boolean {
    const s = this.state.get(pfn);
    return this.zoneOf(pfn) !== undefined && (s === FREE || s === CMA_FREE);
  }

  /** Whether `pfn` belongs to a CMA area and is not allocated from it. */
  isCmaFree(pfn: number): boolean {
    return this.state.get(pfn) === CMA_FREE;
  }

  /** Whether `pfn` was reserved at boot (boot allocations, the swiotlb pool). */
  isReserved(pfn: number): boolean {
    return this.state.get(pfn) === RESERVED;
  }

  /** The zone holding `pfn`. */
  zoneOf(pfn: number): Zone | undefined {
    return this.zones.find((z) => pfn >= z.startPfn && pfn < z.endPfn);
  }

  /** The page object of `pfn` (one per pfn while in use). */
  page(pfn: number): Page {
    let p = this.pageObjs.get(pfn);
    if (!p) {
      p = new Page(pfn);
      p.trackOrder(this.hash);
      this.pageObjs.set(pfn, p);
    }
    return p;
  }

  // ---- buddy -------------------------------------------------------------------------------

  /** The zones an allocation may use, preferred first. **Kernel:** the zonelist of `gfp_zone()`. */
  zonelist(gfp: GfpFlags): Zone[] {
    const allowed: ZoneName[] =
      gfp & __GFP_DMA ? ["DMA"] : gfp & __GFP_DMA32 ? ["DMA32", "DMA"] : ["Normal", "DMA32", "DMA"];
    const out: Zone[] = [];
    for (const name of allowed) {
      const z = this.zones.find((x) => x.name === name);
      if (z) {
        out.push(z);
      }
    }
    // arm64 without ZONE_DMA32: GFP_DMA32 is served from ZONE_DMA (which covers the low 4 GiB)
    if (out.length === 0 && gfp & __GFP_DMA32) {
      const z = this.zones.find((x) => x.name === "DMA");
      if (z && z.endPfn * PAGE_SIZE <= 2 ** 32) {
        out.push(z);
      }
    }
    return out;
  }

  /** Take a block of `order` from `zone`, or -1. */
  takeBlock(zone: Zone, order: number): number {
    for (let o = order; o <= MAX_PAGE_ORDER; o++) {
      const area = zone.areas[o]!;
      if (area.count === 0) {
        continue;
      }
      let pfn = area.head;
      if (this.config.allocChoices > 1 && area.count > 1) {
        if (this.kernel.choice.choose("alloc", 2, [0.9, 0.1]) === 1) {
          pfn = area.tail;
        }
      }
      zone.removeFree(pfn, o);
      // expand(): hand out the low half, give the upper halves back
      for (let h = o; h > order; h--) {
        zone.addFree(pfn + (1 << (h - 1)), h - 1);
      }
      this.state.set(pfn, HEAD0 + order);
      this.state.setRange(pfn + 1, pfn + (1 << order), TAIL);
      this.event(ALLOC_EVENT.take, zone.name, pfn, order);
      return pfn;
    }
    return -1;
  }

  /** Give a block back, merging with free buddies. */
  freeBlock(zone: Zone, pfn: number, order: number): void {
    this.event(ALLOC_EVENT.free, zone.name, pfn, order);
    this.state.setRange(pfn, pfn + (1 << order), FREE);
    while (order < MAX_PAGE_ORDER) {
      const buddy = pfn ^ (1 << order);
      if (
        buddy < zone.startPfn ||
        buddy + (1 << order) > zone.endPfn ||
        zone.freeOrder.get(buddy) !== order
      ) {
        break;
      }
      zone.removeFree(buddy, order);
      pfn = Math.min(pfn, buddy);
      order++;
    }
    zone.addFree(pfn, order);
  }

  /** The order of the allocated block headed by `pfn`, or -1 (free, tail, reserved). */
  allocatedOrder(pfn: number): number {
    const s = this.state.get(pfn);
    return s >= HEAD0 && s < RESERVED ? s - HEAD0 : -1;
  }

  /** @internal mark a head's pages as separate order-0 allocations (`split_page`). */
  split(pfn: number, order: number): void {
    this.event(ALLOC_EVENT.split, pfn, order);
    this.state.setRange(pfn, pfn + (1 << order), HEAD0);
  }

  /** The free block `[head, head + 2^order)` that holds `pfn`, or undefined. */
  private freeBlockOf(zone: Zone, pfn: number): { head: number; order: number } | undefined {
    for (let order = 0; order <= MAX_PAGE_ORDER; order++) {
      const head = pfn - (pfn % (1 << order));
      if (zone.freeOrder.get(head) === order) {
        return { head, order };
      }
    }
    return undefined;
  }

  /**
   * Whether every page of `[start, end)` lies in one zone and is in its free lists.
   *
   * @internal for CMA area placement
   */
  rangeIsFree(start: number, end: number): boolean {
    const zone = this.zoneOf(start);
    if (!zone || end > zone.endPfn || end <= start) {
      return false;
    }
    let pfn = start;
    while (pfn < end) {
      const b = this.freeBlockOf(zone, pfn);
      if (!b) {
        return false;
      }
      pfn = b.head + (1 << b.order);
    }
    return true;
  }

  /**
   * Take the free range `[start, end)` out of the free lists (splitting the blocks at its edges)
   * and make its pages free CMA pages. The caller checked {@link PageAllocator.rangeIsFree}.
   *
   * @internal **Kernel:** `cma_activate_area()` → `init_cma_reserved_pageblock()`
   */
  reserveCmaRange(start: number, end: number): void {
    const zone = this.zoneOf(start)!;
    let pfn = start;
    while (pfn < end) {
      const b = this.freeBlockOf(zone, pfn)!;
      const blockEnd = b.head + (1 << b.order);
      zone.removeFree(b.head, b.order);
      this.giveBack(zone, b.head, start);
      this.giveBack(zone, end, blockEnd);
      pfn = blockEnd;
    }
    this.state.setRange(start, end, CMA_FREE);
    this.event(ALLOC_EVENT.cmaReserve, start, end);
  }

  /** Return `[from, to)` (the part of a split block outside a CMA range) to the free lists. */
  private giveBack(zone: Zone, from: number, to: number): void {
    let pfn = from;
    while (pfn < to) {
      let order = MAX_PAGE_ORDER;
      while (order > 0 && (pfn % (1 << order) !== 0 || pfn + (1 << order) > to)) {
        order--;
      }
      zone.addFree(pfn, order);
      pfn += 1 << order;
    }
  }

  /**
   * Mark `[start, end)` of a CMA area allocated (each page an order-0 allocation, as
   * `alloc_contig_range()` leaves them) or free again.
   *
   * @internal for mm/cma.c
   */
  setCmaRange(start: number, end: number, allocated: boolean): void {
    this.state.setRange(start, end, allocated ? HEAD0 : CMA_FREE);
    this.event(allocated ? ALLOC_EVENT.cmaAlloc : ALLOC_EVENT.cmaFree, start, end);
  }

  /** How a state digest names the allocator when another layer holds it (never walked). */
  digestTag(): string {
    return "page-alloc";
  }

  /** Free pages over all zones. */
  get freePages(): number {
    return this.zones.reduce((n, z) => n + z.freePages, 0);
  }

  /** Pages the allocator manages (RAM minus what boot reserved). */
  get managedPages(): number {
    return this.zones.reduce((n, z) => n + z.managedPages, 0);
  }
}

function warnAllocFailure(kernel: Kernel, order: number, gfp: GfpFlags): void {
  if (gfp & __GFP_NOWARN) {
    return;
  }
  kernel.printk(
    KERN_WARNING,
    `${kernel.sched.current.name}: page allocation failure: order:${order}, mode:0x${gfp.toString(16)}(${gfpString(gfp)})`,
  );
}

/**
 * Allocate `2^order` physically contiguous pages. Returns the head page, or null when no zone the
 * flags allow has a free block that large (printing the kernel's "page allocation failure"
 * warning unless `__GFP_NOWARN`). `__GFP_ZERO` clears the pages with CPU stores through the
 * cacheable linear map (dirty lines, as `clear_page()` leaves them).
 *
 * **Kernel:** `alloc_pages()` / `__alloc_pages()`; an order above `MAX_PAGE_ORDER` is a
 * `WARN_ON_ONCE` (unless `__GFP_NOWARN`) and NULL.
 *
 * **Locking:** may sleep when `gfp` allows blocking (`might_alloc()` checks the context); never
 * blocks here (no reclaim is modelled), so it stays synchronous.
 */
export function allocPages(m: Machine, order: number, gfp: GfpFlags): Page | null {
  const kernel = m.kernel;
  if (order > MAX_PAGE_ORDER || order < 0 || !Number.isInteger(order)) {
    WARN_ON_ONCE(
      kernel,
      (gfp & __GFP_NOWARN) === 0,
      "mm/page_alloc.c:__alloc_pages",
      `order ${order} > MAX_PAGE_ORDER`,
    );
    return null;
  }
  if (gfpflagsAllowBlocking(gfp)) {
    might_sleep(kernel, "mm/page_alloc.c:__alloc_pages");
  }
  for (const zone of m.pageAlloc.zonelist(gfp)) {
    const pfn = m.pageAlloc.takeBlock(zone, order);
    if (pfn >= 0) {
      const page = m.pageAlloc.page(pfn);
      page.order = order;
      if (gfp & __GFP_ZERO) {
        cpuZeroPages(m, pfn, 1 << order);
      }
      return page;
    }
  }
  warnAllocFailure(kernel, order, gfp);
  return null;
}

/**
 * Allocate up to `nr` single pages, which are usually scattered. Returns the pages obtained (fewer
 * than `nr` when memory ran out; the caller checks, as with the kernel's return count).
 *
 * **Kernel:** `alloc_pages_bulk_array()` / `alloc_pages_bulk()`.
 *
 * **Locking:** as {@link allocPages}.
 */
export function allocPagesBulk(m: Machine, gfp: GfpFlags, nr: number): Page[] {
  const out: Page[] = [];
  for (let i = 0; i < nr; i++) {
    const p = allocPages(m, 0, out.length > 0 ? gfp | __GFP_NOWARN : gfp);
    if (!p) {
      break;
    }
    out.push(p);
  }
  return out;
}

/**
 * Free `2^order` pages allocated by {@link allocPages}.
 *
 * **Kernel:** `__free_pages()`. Freeing a page that is not allocated is
 * `VM_BUG_ON_PAGE(page_ref_count(page) == 0)` (a BUG with `CONFIG_DEBUG_VM`); an order that does
 * not match the allocation is reported as "Bad page state" (a WARN) and the pages are not freed.
 *
 * **Locking:** any context.
 *
 * @throws {@link KernelBug} for a double free
 */
export function freePages(m: Machine, page: Page, order: number = page.order): void {
  const pa = m.pageAlloc;
  const have = pa.allocatedOrder(page.pfn);
  BUG_ON(
    m.kernel,
    have < 0 && pa.isFree(page.pfn),
    "mm/page_alloc.c:__free_pages",
    `VM_BUG_ON_PAGE(page_ref_count(page) == 0) pfn:0x${page.pfn.toString(16)}`,
  );
  if (have !== order) {
    WARN_ON(
      m.kernel,
      true,
      "mm/page_alloc.c:bad_page",
      `BUG: Bad page state in process ${m.kernel.sched.current.name} pfn:0x${page.pfn.toString(16)} (freed with order ${order}, allocated ${have < 0 ? "as a tail or reserved page" : `with order ${have}`})`,
    );
    return;
  }
  const zone = pa.zoneOf(page.pfn);
  if (!zone) {
    return;
  }
  pa.freeBlock(zone, page.pfn, order);
}

/**
 * Allocate `size` bytes of contiguous pages (rounded up to pages) and return their linear-map
 * address, or null. The pages past `size` of the power-of-two block are freed at once.
 *
 * **Kernel:** `alloc_pages_exact()` (`split_page()` then frees the tail).
 *
 * **Locking:** as {@link allocPages}.
 *
 * @throws {@link KernelError} `EINVAL` for a size of 0
 */
export function allocPagesExact(m: Machine, size: number, gfp: GfpFlags): number | null {
  if (size <= 0) {
    throw new KernelError("EINVAL", "alloc_pages_exact: size 0");
  }
  const nr = Math.ceil(size / PAGE_SIZE);
  const order = Math.ceil(Math.log2(nr));
  const head = allocPages(m, order, gfp);
  if (!head) {
    return null;
  }
  m.pageAlloc.split(head.pfn, order);
  head.order = 0;
  for (let i = nr; i < 1 << order; i++) {
    freePages(m, m.pageAlloc.page(head.pfn + i), 0);
  }
  return physToVirt(m, head.pfn * PAGE_SIZE);
}

/**
 * Free what {@link allocPagesExact} returned.
 *
 * **Kernel:** `free_pages_exact()`.
 *
 * **Locking:** any context.
 *
 * @throws {@link KernelBug} when a page was not allocated (double free)
 */
export function freePagesExact(m: Machine, va: number, size: number): void {
  const pfn = Math.floor(virtToPhys(m, va) / PAGE_SIZE);
  for (let i = 0; i < Math.ceil(size / PAGE_SIZE); i++) {
    freePages(m, m.pageAlloc.page(pfn + i), 0);
  }
}

/**
 * The pages of RAM the page allocator manages (all of RAM but what boot reserved: the kernel image,
 * the swiotlb pool, boot allocations). A request for more than this can never succeed, which is how
 * the kernel's size checks (`dma_heap_buffer_alloc()`, `kvmalloc()`) refuse it at once.
 *
 * **Kernel:** `totalram_pages()`.
 *
 * **Locking:** none.
 */
export function totalramPages(m: Machine): number {
  return m.pageAlloc.managedPages;
}

/**
 * The physical address of a page. **Kernel:** `page_to_phys()`.
 *
 * **Locking:** none (pure).
 */
export function pageToPhys(page: Page): number {
  return page.pfn * PAGE_SIZE;
}

/**
 * The page holding physical address `pa`.
 *
 * **Kernel:** `phys_to_page()` / `pfn_to_page(PHYS_PFN(pa))`.
 *
 * **Locking:** none.
 */
export function physToPage(m: Machine, pa: number): Page {
  return m.pageAlloc.page(Math.floor(pa / PAGE_SIZE));
}

/**
 * The page of a pfn. **Kernel:** `pfn_to_page()`.
 *
 * **Locking:** none.
 */
export function pfnToPage(m: Machine, pfn: number): Page {
  return m.pageAlloc.page(pfn);
}

/**
 * The linear-map address of a page. **Kernel:** `page_address()`.
 *
 * **Locking:** none.
 */
export function pageAddress(m: Machine, page: Page): number {
  return physToVirt(m, page.pfn * PAGE_SIZE);
}

/**
 * The order of the smallest block holding `size` bytes. **Kernel:** `get_order()`.
 *
 * **Locking:** none (pure).
 */
export function getOrder(size: number): number {
  if (size <= PAGE_SIZE) {
    return 0;
  }
  return Math.ceil(Math.log2(Math.ceil(size / PAGE_SIZE)));
}
