/**
 * The Contiguous Memory Allocator: areas of physically contiguous memory reserved from the page
 * allocator, from which `cma_alloc()` hands out aligned runs of pages and `cma_release()` takes
 * them back.
 *
 * **Kernel:** mm/cma.c (`cma_declare_contiguous()`, `cma_init_reserved_mem()`, `cma_alloc()`,
 * `cma_release()`, `cma_get_name()`, `cma_get_base()`, `cma_get_size()`,
 * `cma_for_each_area()`), include/linux/cma.h, and the default area of kernel/dma/contiguous.c
 * (`dma_contiguous_default_area`, sized by `cma=` / `CONFIG_CMA_SIZE_MBYTES`).
 *
 * The model: an area's free pages stay "free" for the page allocator's checks (the kernel keeps
 * them in the buddy allocator as MIGRATE_CMA pages, lent to movable allocations and migrated away
 * by `cma_alloc`), but the buddy never hands them out, since dmasim has no movable allocations:
 * `cma_alloc` therefore never has to migrate, and fails only when the area's bitmap has no free,
 * aligned run. Allocation is first fit from the start of the area, as the kernel's bitmap search
 * is. The default area is reserved the first time it is asked for, top-down below the platform's
 * DMA limit (the kernel reserves it at boot with memblock, also top-down), so that runs which never
 * use CMA keep the memory layout they had.
 *
 * @module
 */
import {
  BUG_ON,
  KERN_ERR,
  KERN_INFO,
  KernelError,
  PAGE_SIZE,
  defineSubsys,
  type Kernel,
} from "@dmasim/kernel";
import { getMachine, HARDWARE_MODULE, type Machine } from "./machine";
import { MAX_PAGE_ORDER, type Page } from "./page_alloc";

/** Areas a kernel can have. **Kernel:** `MAX_CMA_AREAS` (`CONFIG_CMA_AREAS`, default 7 + 1). */
export const MAX_CMA_AREAS = 8;

/**
 * The largest alignment order `dma_alloc_from_contiguous()` and the CMA heap ask for.
 * **Kernel:** `CONFIG_CMA_ALIGNMENT` (default 8: 1 MiB with 4 KiB pages).
 */
export const CONFIG_CMA_ALIGNMENT = 8;

/**
 * The alignment of an area's base and size in pages (a max-order block here; the kernel's is the
 * pageblock or `MAX_ORDER_NR_PAGES`, depending on the version). **Kernel:** `CMA_MIN_ALIGNMENT_PAGES`.
 */
export const CMA_MIN_ALIGNMENT_PAGES = 1 << MAX_PAGE_ORDER;

/**
 * One CMA area.
 *
 * **Kernel:** `struct cma` (`base_pfn`, `count`, `bitmap`, `order_per_bit`, `name`).
 *
 * **Locking:** the bitmap is protected by the area's `lock` spinlock in the kernel; no scheduling
 * point happens inside `cma_alloc` / `cma_release` here.
 */
export class Cma {
  /** One byte per bitmap bit: 1 when its `2^orderPerBit` pages are allocated. */
  readonly bitmap: Uint8Array;
  /** Allocated runs by first pfn: their page count (for `cma_release` checks and leak reports). */
  readonly allocations = new Map<number, number>();

  constructor(
    readonly machine: Machine,
    readonly name: string,
    /** First page frame of the area. */
    readonly basePfn: number,
    /** Pages in the area. */
    readonly count: number,
    /** Each bitmap bit covers `2^orderPerBit` pages. */
    readonly orderPerBit: number,
  ) {
    this.bitmap = new Uint8Array(count >> orderPerBit);
  }

  /** Pages not allocated. **Kernel:** `cma->available_count` (6.x). */
  get availableCount(): number {
    let n = 0;
    for (const b of this.bitmap) {
      n += b === 0 ? 1 : 0;
    }
    return n << this.orderPerBit;
  }
}

interface CmaState {
  readonly areas: Cma[];
  /** The default area once reserved; null when `cmaSize` is 0 or it could not be placed. */
  defaultArea: Cma | null | undefined;
}

const CMA = defineSubsys<CmaState>(
  "hardware:cma",
  () => ({ areas: [], defaultArea: undefined }),
  HARDWARE_MODULE,
);

/** Options of {@link cmaDeclareContiguous}. */
export interface CmaDeclareOptions {
  /** Bytes of the area (a multiple of the alignment). */
  readonly size: number;
  /** A fixed physical base (`fixed = true`), or 0 to let the allocator place it top-down. */
  readonly base?: number;
  /** The area must end at or below this physical address (0: anywhere in RAM). */
  readonly limit?: number;
  /** `order_per_bit` (default 0: one bit per page). */
  readonly orderPerBit?: number;
  /** The area's name (default `cma<N>`; the default area is `reserved`). */
  readonly name?: string;
}

/**
 * Reserve a physically contiguous area for CMA: a fixed range (`base`), or the highest free range
 * below `limit`, aligned to {@link CMA_MIN_ALIGNMENT_PAGES}, inside one zone.
 *
 * **Kernel:** `cma_declare_contiguous()` / `cma_declare_contiguous_nid()` (boot-time memblock
 * reservation) and the activation of the area.
 *
 * **Locking:** boot time (none).
 *
 * @throws {@link KernelError} `ENOSPC` when `MAX_CMA_AREAS` areas exist, `EINVAL` for a size of 0,
 * a size or base that is not aligned, an `orderPerBit` the alignment does not allow, or a fixed
 * range outside RAM; `EBUSY` when a fixed range is not free; `ENOMEM` when no free range fits
 */
export function cmaDeclareContiguous(m: Machine, opts: CmaDeclareOptions): Cma {
  const state = m.kernel.subsys(CMA);
  const align = CMA_MIN_ALIGNMENT_PAGES * PAGE_SIZE;
  const orderPerBit = opts.orderPerBit ?? 0;
  if (state.areas.length >= MAX_CMA_AREAS) {
    throw new KernelError("ENOSPC", `cma: ${MAX_CMA_AREAS} areas already declared`);
  }
  if (opts.size <= 0 || opts.size % align !== 0) {
    throw new KernelError(
      "EINVAL",
      `cma: size ${opts.size} must be a positive multiple of ${align} bytes`,
    );
  }
  if (!Number.isInteger(orderPerBit) || orderPerBit < 0 || orderPerBit > MAX_PAGE_ORDER) {
    throw new KernelError("EINVAL", `cma: order_per_bit ${orderPerBit} out of range`);
  }
  const pages = opts.size / PAGE_SIZE;
  const name = opts.name ?? `cma${state.areas.length}`;
  const pa = m.pageAlloc;
  let basePfn: number;
  if (opts.base) {
    if (opts.base % align !== 0) {
      throw new KernelError("EINVAL", `cma: base 0x${opts.base.toString(16)} is not aligned`);
    }
    basePfn = opts.base / PAGE_SIZE;
    if (!m.memory.contains(opts.base, opts.size)) {
      throw new KernelError("EINVAL", `cma: 0x${opts.base.toString(16)}+${opts.size} is not RAM`);
    }
    if (!pa.rangeIsFree(basePfn, basePfn + pages)) {
      throw new KernelError(
        "EBUSY",
        `cma: region at 0x${opts.base.toString(16)} defined on low/high memory boundary or in use`,
      );
    }
  } else {
    basePfn = findTopDown(m, pages, opts.limit ?? 0);
    if (basePfn < 0) {
      throw new KernelError(
        "ENOMEM",
        `cma: Failed to reserve ${opts.size / (1024 * 1024)} MiB for ${name}`,
      );
    }
  }
  pa.reserveCmaRange(basePfn, basePfn + pages);
  const cma = new Cma(m, name, basePfn, pages, orderPerBit);
  state.areas.push(cma);
  m.kernel.printk(
    KERN_INFO,
    `cma: Reserved ${opts.size / (1024 * 1024)} MiB at 0x${(basePfn * PAGE_SIZE).toString(16)} (${name})`,
  );
  return cma;
}

/** The highest aligned free range of `pages` pages ending at or below `limit`, or -1. */
function findTopDown(m: Machine, pages: number, limit: number): number {
  const ramEnd = (m.config.ramBase + m.config.ramSize) / PAGE_SIZE;
  const top = limit > 0 ? Math.min(ramEnd, Math.floor(limit / PAGE_SIZE)) : ramEnd;
  const first = m.config.ramBase / PAGE_SIZE;
  let base = Math.floor((top - pages) / CMA_MIN_ALIGNMENT_PAGES) * CMA_MIN_ALIGNMENT_PAGES;
  for (; base >= first; base -= CMA_MIN_ALIGNMENT_PAGES) {
    if (m.pageAlloc.rangeIsFree(base, base + pages)) {
      return base;
    }
  }
  return -1;
}

/**
 * The default CMA area of the machine (what `dma_alloc_from_contiguous()` and the CMA heap use),
 * reserved on first use: `cmaSize` bytes of the platform (the `cma=` parameter), top-down below the
 * DMA limit (arm64: the end of ZONE_DMA or 4 GiB; elsewhere the end of RAM). Null when the platform
 * has `cmaSize: 0` or no free range is large enough (the kernel prints an error and boots without).
 *
 * **Kernel:** `dma_contiguous_default_area`, set up by `dma_contiguous_reserve()`.
 *
 * **Locking:** none.
 */
export function dmaContiguousDefaultArea(kernel: Kernel): Cma | null {
  const m = getMachine(kernel);
  const state = kernel.subsys(CMA);
  if (state.defaultArea !== undefined) {
    return state.defaultArea;
  }
  state.defaultArea = null;
  if (m.config.cmaSize === 0) {
    return null;
  }
  const limit =
    m.config.arch === "arm64" ? (m.config.zoneDmaLimit > 0 ? m.config.zoneDmaLimit : 2 ** 32) : 0;
  try {
    state.defaultArea = cmaDeclareContiguous(m, {
      size: m.config.cmaSize,
      limit,
      name: "reserved",
    });
  } catch (e) {
    kernel.printk(KERN_ERR, `cma: Failed to reserve the default area: ${(e as Error).message}`);
  }
  return state.defaultArea;
}

/**
 * Every declared area, in declaration order.
 *
 * **Kernel:** `cma_for_each_area()` (as an array).
 *
 * **Locking:** none.
 */
export function cmaAreas(kernel: Kernel): readonly Cma[] {
  return kernel.subsys(CMA).areas;
}

/**
 * The area's name. **Kernel:** `cma_get_name()`.
 *
 * **Locking:** none.
 */
export function cmaGetName(cma: Cma): string {
  return cma.name;
}

/**
 * The area's physical base address. **Kernel:** `cma_get_base()`.
 *
 * **Locking:** none.
 */
export function cmaGetBase(cma: Cma): number {
  return cma.basePfn * PAGE_SIZE;
}

/**
 * The area's size in bytes. **Kernel:** `cma_get_size()`.
 *
 * **Locking:** none.
 */
export function cmaGetSize(cma: Cma): number {
  return cma.count * PAGE_SIZE;
}

/**
 * Allocate `count` physically contiguous pages from `cma`, their first page aligned to
 * `2^align` pages. Returns the first page, or null when `count` is 0 or no free aligned run is
 * left (printing the kernel's "cma_alloc: ... alloc failed" error unless `noWarn`). The pages are
 * not zeroed: they hold whatever memory held.
 *
 * **Kernel:** `cma_alloc(cma, count, align, no_warn)`: a bitmap search, then
 * `alloc_contig_range()` (never fails here: nothing needs migrating).
 *
 * **Locking:** may sleep in the kernel (migration); synchronous here. Process context.
 */
export function cmaAlloc(cma: Cma, count: number, align: number, noWarn = false): Page | null {
  if (!Number.isInteger(count) || count <= 0 || count > cma.count) {
    if (count > cma.count && !noWarn) {
      failMessage(cma, count);
    }
    return null;
  }
  const unit = 1 << cma.orderPerBit;
  const bits = Math.ceil(count / unit);
  // the alignment in bitmap bits, relative to the area's (aligned) base
  const alignBits = Math.max(1, (1 << Math.max(0, align)) >> cma.orderPerBit);
  const offset = (alignBits - ((cma.basePfn >> cma.orderPerBit) % alignBits)) % alignBits;
  for (let start = offset; start + bits <= cma.bitmap.length; start += alignBits) {
    let busy = -1;
    for (let i = start; i < start + bits; i++) {
      if (cma.bitmap[i] !== 0) {
        busy = i;
        break;
      }
    }
    if (busy >= 0) {
      continue;
    }
    cma.bitmap.fill(1, start, start + bits);
    const pfn = cma.basePfn + start * unit;
    cma.machine.pageAlloc.setCmaRange(pfn, pfn + count, true);
    cma.allocations.set(pfn, count);
    const page = cma.machine.pageAlloc.page(pfn);
    page.order = 0;
    cma.machine.kernel.trace("cma", "mm", "cma_alloc", { name: cma.name, pfn, count, align });
    return page;
  }
  if (!noWarn) {
    failMessage(cma, count);
  }
  return null;
}

function failMessage(cma: Cma, count: number): void {
  cma.machine.kernel.printk(
    KERN_ERR,
    `cma: cma_alloc: ${cma.name}: alloc failed, req-size: ${count} pages, ret: -12`,
  );
}

/**
 * Give back `count` pages starting at `page` that {@link cmaAlloc} returned. Returns false when
 * the pages are not in the area (the caller then frees them elsewhere, as the kernel's callers
 * do). A range running past the area's end is `VM_BUG_ON`; freeing pages that are not allocated
 * is the page allocator's `VM_BUG_ON_PAGE` (a double free).
 *
 * **Kernel:** `cma_release()` → `free_contig_range()` and the bitmap clear.
 *
 * **Locking:** any context that may take the area's spinlock.
 *
 * @throws {@link KernelBug} for a range past the area or a double release
 */
export function cmaRelease(cma: Cma, page: Page | null, count: number): boolean {
  if (!page) {
    return false;
  }
  const pfn = page.pfn;
  if (pfn < cma.basePfn || pfn >= cma.basePfn + cma.count) {
    return false;
  }
  const k = cma.machine.kernel;
  BUG_ON(
    k,
    pfn + count > cma.basePfn + cma.count,
    "mm/cma.c:cma_release",
    "VM_BUG_ON(pfn + count > end)",
  );
  for (let p = pfn; p < pfn + count; p++) {
    BUG_ON(
      k,
      cma.machine.pageAlloc.isCmaFree(p),
      "mm/page_alloc.c:free_contig_range",
      `VM_BUG_ON_PAGE(page_ref_count(page) == 0) pfn:0x${p.toString(16)}`,
    );
  }
  cma.machine.pageAlloc.setCmaRange(pfn, pfn + count, false);
  const unit = 1 << cma.orderPerBit;
  const first = Math.floor((pfn - cma.basePfn) / unit);
  const last = Math.ceil((pfn + count - cma.basePfn) / unit);
  cma.bitmap.fill(0, first, last);
  if (cma.allocations.get(pfn) === count) {
    cma.allocations.delete(pfn);
  } else {
    trimAllocations(cma, pfn, count);
  }
  k.trace("cma", "mm", "cma_release", { name: cma.name, pfn, count });
  return true;
}

/** A partial release: shrink or split the recorded runs it overlaps. */
function trimAllocations(cma: Cma, pfn: number, count: number): void {
  const end = pfn + count;
  for (const [start, n] of [...cma.allocations]) {
    const stop = start + n;
    if (stop <= pfn || start >= end) {
      continue;
    }
    cma.allocations.delete(start);
    if (start < pfn) {
      cma.allocations.set(start, pfn - start);
    }
    if (stop > end) {
      cma.allocations.set(end, stop - end);
    }
  }
}
