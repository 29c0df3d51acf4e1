/**
 * Cache maintenance as the architectures expose it to the DMA and mm code: by virtual range (arm64
 * PoC helpers, ARMv7 `dmac_*` / `v7_dma_*`, the generic `arch_dma_cache_*` by physical address
 * through the linear map), the vmap-alias helpers of Documentation/core-api/cachetlb.rst,
 * `flush_cache_all()`, by physical range where the indexing allows, and explicit evictions and
 * speculative loads for scenarios.
 *
 * **Kernel:** arch/arm64/mm/cache.S, arch/arm/mm/cache-v7.S, arch/arm/include/asm/cacheflush.h,
 * arch/parisc/kernel/cache.c, arch/riscv/mm/dma-noncoherent.c, include/linux/highmem.h.
 *
 * Maintenance by VA affects the lines that VA indexes: on PIPT the physical line (whatever alias
 * filled it), on VIPT the line of that colour, on VIVT that alias's own line only. Cost follows the
 * lines actually cached: a range walks its pages or the cached pages, whichever is fewer.
 *
 * @module
 */
import { KernelError, PAGE_SIZE, type Mm, type Process } from "@dmasim/kernel";
import { CacheRun, KERNEL_ASID, type CacheEntry, type CacheOp } from "./cache";
import { cpuAgent, kernelTranslate } from "./cpu";
import type { Machine } from "./machine";
import { PAGE_OFFSET, physToVirt } from "./memory";
import { asidOf, userPteNoFault } from "./uaccess";
import { cacheMaintenanceNs } from "./timing";
import type { VmArea } from "./vmalloc";

/**
 * A piece of maintenance: what the cache holds for pages `[pfn0, pfn1)` of one alias (a cache page,
 * `pfn1 = pfn0 + 1`, or a run), bytes `[a, ...)` of the first page and `[..., b)` of the last.
 */
interface Hit {
  readonly e: CacheEntry;
  readonly pfn0: number;
  readonly pfn1: number;
  readonly a: number;
  readonly b: number;
}

function clip(pageVa: number, start: number, end: number): [number, number] {
  return [Math.max(start, pageVa) - pageVa, Math.min(end, pageVa + PAGE_SIZE) - pageVa];
}

/** The hit of entry `e` on the one page at `pageVa` (pfn `pfn`) of `[start, end)`. */
function pageHit(e: CacheEntry, pfn: number, pageVa: number, start: number, end: number): Hit {
  const [a, b] = clip(pageVa, start, end);
  return { e, pfn0: pfn, pfn1: pfn + 1, a, b };
}

/** The hit of run `r` on the linear-map range `[start, end)` (its pages `[p0, p1)` overlap it). */
function runHit(m: Machine, r: CacheRun, start: number, end: number): Hit {
  const firstPfn = Math.floor(virtToPhysRaw(m, Math.max(start, PAGE_OFFSET)) / PAGE_SIZE);
  const lastPfn = Math.floor(virtToPhysRaw(m, end - 1) / PAGE_SIZE);
  const pfn0 = Math.max(r.start, firstPfn);
  const pfn1 = Math.min(r.end, lastPfn + 1);
  const [a] = clip(physToVirt(m, pfn0 * PAGE_SIZE), start, end);
  const [, b] = clip(physToVirt(m, (pfn1 - 1) * PAGE_SIZE), start, end);
  return { e: r, pfn0, pfn1, a, b };
}

/** The physical address of a linear-map address, without the debug check (inside this module). */
function virtToPhysRaw(m: Machine, va: number): number {
  return va - PAGE_OFFSET + m.config.ramBase;
}

/** Collect what the linear-map part `[ls, le)` of a kernel VA range indexes. */
function linearHits(m: Machine, start: number, end: number, ls: number, le: number): Hit[] {
  const hits: Hit[] = [];
  const cache = m.cache;
  const first = ls - (ls % PAGE_SIZE);
  const npages = Math.ceil((le - first) / PAGE_SIZE);
  const toPfn = (va: number): number => Math.floor(virtToPhysRaw(m, va) / PAGE_SIZE);
  if (npages <= cache.pages) {
    // in address order
    if (cache.runsEnabled) {
      for (const e of cache.entriesInPfnRange(toPfn(first), toPfn(le - 1) + 1)) {
        hits.push(
          e instanceof CacheRun
            ? runHit(m, e, start, end)
            : pageHit(e, e.pfn, physToVirt(m, e.pfn * PAGE_SIZE), start, end),
        );
      }
      return hits;
    }
    for (let va = first; va < le; va += PAGE_SIZE) {
      const pfn = toPfn(va);
      const e = cache.entryAt(cache.spaceOf(va, KERNEL_ASID), cache.keyOf(va, pfn));
      if (e) {
        hits.push(pageHit(e, pfn, va, start, end));
      }
    }
    return hits;
  }
  // in the order the cache walks its pages
  const p0 = toPfn(first);
  const p1 = toPfn(le - 1) + 1;
  for (const e of cache.entries()) {
    if (e instanceof CacheRun) {
      if (e.start < p1 && e.end > p0) {
        hits.push(runHit(m, e, start, end));
      }
      continue;
    }
    const va = physToVirt(m, e.pfn * PAGE_SIZE);
    if (
      va + PAGE_SIZE > ls &&
      va < le &&
      cache.spaceOf(va, KERNEL_ASID) === e.space &&
      cache.keyOf(va, e.pfn) === e.key
    ) {
      hits.push(pageHit(e, e.pfn, va, start, end));
    }
  }
  return hits;
}

/** Collect what a vmap area's part of a kernel VA range indexes. */
function vmapHits(m: Machine, area: VmArea, start: number, end: number): Hit[] {
  const hits: Hit[] = [];
  const cache = m.cache;
  const s = Math.max(start, area.start);
  const e = Math.min(end, area.end);
  const i0 = Math.floor((s - area.start) / PAGE_SIZE);
  const i1 = Math.ceil((e - area.start) / PAGE_SIZE);
  if (i1 - i0 <= cache.pages) {
    for (let i = i0; i < i1; i++) {
      const va = area.start + i * PAGE_SIZE;
      const pfn = area.pfns[i]!;
      const entry = cache.entryAt(cache.spaceOf(va, KERNEL_ASID), cache.keyOf(va, pfn));
      if (entry) {
        hits.push(pageHit(entry, pfn, va, start, end));
      }
    }
    return hits;
  }
  for (const entry of cache.entries()) {
    const pages =
      entry instanceof CacheRun
        ? Array.from({ length: entry.end - entry.start }, (_, j) => entry.start + j)
        : [entry.pfn];
    for (const pfn of pages) {
      for (const i of area.reverse.get(pfn) ?? []) {
        const va = area.start + i * PAGE_SIZE;
        if (
          i >= i0 &&
          i < i1 &&
          (entry instanceof CacheRun ||
            (cache.spaceOf(va, KERNEL_ASID) === entry.space &&
              cache.keyOf(va, entry.pfn) === entry.key))
        ) {
          hits.push(pageHit(entry, pfn, va, start, end));
        }
      }
    }
  }
  return hits;
}

/** Collect the cache entries a kernel VA range indexes. */
function kernelHits(m: Machine, start: number, end: number): Hit[] {
  const hits: Hit[] = [];
  if (end <= start || m.cache.pages === 0) {
    return hits;
  }
  const ls = Math.max(start, PAGE_OFFSET);
  const le = Math.min(end, PAGE_OFFSET + m.config.ramSize);
  if (ls < le) {
    hits.push(...linearHits(m, start, end, ls, le));
  }
  for (const area of m.vmalloc.overlapping(start, end)) {
    hits.push(...vmapHits(m, area, start, end));
  }
  return hits;
}

/** Collect the cache entries a user VA range of `mm` indexes (present PTEs only). */
function userHits(m: Machine, mm: Mm, start: number, end: number): Hit[] {
  const hits: Hit[] = [];
  const cache = m.cache;
  const asid = asidOf(m, mm);
  for (const vma of mm.vmas) {
    if (vma.end <= start || vma.start >= end) {
      continue;
    }
    for (const [idx, pte] of vma.ptes) {
      const va = vma.start + idx * PAGE_SIZE;
      if (va + PAGE_SIZE <= start || va >= end) {
        continue;
      }
      const e = cache.entryAt(cache.spaceOf(va, asid), cache.keyOf(va, pte.pfn));
      if (e) {
        hits.push(pageHit(e, pte.pfn, va, start, end));
      }
    }
  }
  return hits;
}

function apply(
  m: Machine,
  hits: readonly Hit[],
  op: CacheOp,
  cause: string,
  edges: "clean" | "discard" = "clean",
): void {
  const agent = op === "evict" ? "cache" : cpuAgent(m);
  for (const h of hits) {
    m.cache.maintainEntry(h.e, h.pfn0, h.pfn1, h.a, h.b, op, cause, agent, edges);
  }
}

/**
 * Maintain a kernel virtual range `[start, end)`.
 *
 * **Kernel:** none by itself; the routines below are built on it.
 *
 * **Locking:** any context.
 */
export function cacheMaintainRange(
  m: Machine,
  start: number,
  end: number,
  op: CacheOp,
  cause: string,
  edges: "clean" | "discard" = "clean",
): void {
  apply(m, kernelHits(m, start, end), op, cause, edges);
  m.kernel.traceSpan("cache", "cache", cause, cacheMaintenanceNs(end - start, m.cache.lineSize), {
    start,
    end,
    op,
  });
}

// ---- arm64 (arch/arm64/mm/cache.S) ---------------------------------------------------------

/**
 * Clean `[start, end)` to the point of coherency: dirty lines are written back and stay valid.
 *
 * **Kernel:** `dcache_clean_poc()` (`DC CVAC` per line, then `DSB SY`).
 *
 * **Locking:** any context.
 */
export function dcacheCleanPoc(m: Machine, start: number, end: number): void {
  cacheMaintainRange(m, start, end, "clean", "dcache_clean_poc");
}

/**
 * Invalidate `[start, end)` to the point of coherency: lines fully inside are dropped (dirty data
 * is lost); a partial line at either edge is cleaned and invalidated (`DC CIVAC`), which protects a
 * neighbour's dirty data but writes the CPU's view of the shared line back.
 *
 * **Kernel:** `dcache_inval_poc()`.
 *
 * **Locking:** any context.
 */
export function dcacheInvalPoc(m: Machine, start: number, end: number): void {
  cacheMaintainRange(m, start, end, "inval", "dcache_inval_poc");
}

/**
 * Clean and invalidate `[start, end)` to the point of coherency.
 *
 * **Kernel:** `dcache_clean_inval_poc()` (`DC CIVAC`; older kernels: `__flush_dcache_area`).
 *
 * **Locking:** any context.
 */
export function dcacheCleanInvalPoc(m: Machine, start: number, end: number): void {
  cacheMaintainRange(m, start, end, "flush", "dcache_clean_inval_poc");
}

// ---- ARMv7 (arch/arm/mm/cache-v7.S) --------------------------------------------------------

/**
 * Clean `[start, end)`. **Kernel:** `v7_dma_clean_range`.
 *
 * **Locking:** any context.
 */
export function v7DmaCleanRange(m: Machine, start: number, end: number): void {
  cacheMaintainRange(m, start, end, "clean", "v7_dma_clean_range");
}

/**
 * Invalidate `[start, end)`; partial edge lines are cleaned and invalidated first.
 * **Kernel:** `v7_dma_inv_range`.
 *
 * **Locking:** any context.
 */
export function v7DmaInvRange(m: Machine, start: number, end: number): void {
  cacheMaintainRange(m, start, end, "inval", "v7_dma_inv_range");
}

/**
 * Clean and invalidate `[start, end)`. **Kernel:** `v7_dma_flush_range` / `dmac_flush_range`.
 *
 * **Locking:** any context.
 */
export function dmacFlushRange(m: Machine, start: number, end: number): void {
  cacheMaintainRange(m, start, end, "flush", "v7_dma_flush_range");
}

/** The kernel's `DMA_TO_DEVICE` value, for the `dmac_*_area` helpers. */
const TO_DEVICE = 1;
/** The kernel's `DMA_FROM_DEVICE` value. */
const FROM_DEVICE = 2;

/**
 * Cache work before a DMA: invalidate for `DMA_FROM_DEVICE` (2), clean otherwise.
 * `dir` uses the kernel's `enum dma_data_direction` values (0 bidirectional, 1 to device, 2 from
 * device).
 *
 * **Kernel:** `dmac_map_area()` → `v7_dma_map_area`.
 *
 * **Locking:** any context.
 */
export function dmacMapArea(m: Machine, start: number, size: number, dir: number): void {
  if (dir === FROM_DEVICE) {
    v7DmaInvRange(m, start, start + size);
  } else {
    v7DmaCleanRange(m, start, start + size);
  }
}

/**
 * Cache work after a DMA: invalidate unless the direction was `DMA_TO_DEVICE` (1).
 *
 * **Kernel:** `dmac_unmap_area()` → `v7_dma_unmap_area`.
 *
 * **Locking:** any context.
 */
export function dmacUnmapArea(m: Machine, start: number, size: number, dir: number): void {
  if (dir !== TO_DEVICE) {
    v7DmaInvRange(m, start, start + size);
  }
}

/**
 * Clean and invalidate `size` bytes at `va` (any alias). **Kernel:** `__cpuc_flush_dcache_area()`.
 *
 * **Locking:** any context.
 */
export function cpucFlushDcacheArea(m: Machine, va: number, size: number): void {
  cacheMaintainRange(m, va, va + size, "flush", "__cpuc_flush_dcache_area");
}

// ---- generic non-coherent DMA helpers (by physical address, through the linear map) ----------

/**
 * Write back `[pa, pa + size)` through its linear-map alias.
 *
 * **Kernel:** `arch_dma_cache_wback()` (riscv, the 2023 generic helpers).
 *
 * **Locking:** any context.
 */
export function archDmaCacheWback(m: Machine, pa: number, size: number): void {
  const va = physToVirt(m, pa);
  cacheMaintainRange(m, va, va + size, "clean", "arch_dma_cache_wback");
}

/**
 * Invalidate `[pa, pa + size)` through its linear-map alias. On riscv (`cbo.inval`) partial edge
 * lines are invalidated too (a neighbour's dirty data is lost); elsewhere they are cleaned first.
 *
 * **Kernel:** `arch_dma_cache_inv()`.
 *
 * **Locking:** any context.
 */
export function archDmaCacheInv(m: Machine, pa: number, size: number): void {
  const va = physToVirt(m, pa);
  cacheMaintainRange(
    m,
    va,
    va + size,
    "inval",
    "arch_dma_cache_inv",
    m.config.arch === "riscv" ? "discard" : "clean",
  );
}

/**
 * Write back and invalidate `[pa, pa + size)` through its linear-map alias.
 *
 * **Kernel:** `arch_dma_cache_wback_inv()`.
 *
 * **Locking:** any context.
 */
export function archDmaCacheWbackInv(m: Machine, pa: number, size: number): void {
  const va = physToVirt(m, pa);
  cacheMaintainRange(m, va, va + size, "flush", "arch_dma_cache_wback_inv");
}

// ---- vmap aliases and whole-cache operations ------------------------------------------------

/**
 * Before I/O reads memory written through the vmap alias `[va, va + size)`: write the alias's dirty
 * lines back. Aliasing caches only (arm VIVT/VIPT-aliasing and parisc flush the range); a no-op on
 * PIPT and non-aliasing caches (arm64, x86), as the kernel's empty stubs.
 *
 * **Kernel:** `flush_kernel_vmap_range()`.
 *
 * **Locking:** any context.
 */
export function flushKernelVmapRange(m: Machine, va: number, size: number): void {
  if (!m.cache.aliasing) {
    return;
  }
  cacheMaintainRange(m, va, va + size, "flush", "flush_kernel_vmap_range");
}

/**
 * After I/O wrote the pages behind the vmap alias `[va, va + size)`: drop the alias's lines (which
 * may hold speculative or older copies). arm flushes (clean+invalidate); parisc purges (invalidate,
 * dirty alias data is discarded); a no-op on non-aliasing caches.
 *
 * **Kernel:** `invalidate_kernel_vmap_range()`.
 *
 * **Locking:** any context.
 */
export function invalidateKernelVmapRange(m: Machine, va: number, size: number): void {
  if (!m.cache.aliasing) {
    return;
  }
  if (m.config.arch === "parisc") {
    cacheMaintainRange(m, va, va + size, "inval", "invalidate_kernel_vmap_range", "discard");
  } else {
    cacheMaintainRange(m, va, va + size, "flush", "invalidate_kernel_vmap_range");
  }
}

/**
 * Clean and invalidate the whole data cache.
 *
 * **Kernel:** `flush_cache_all()`.
 *
 * **Locking:** any context.
 */
export function flushCacheAll(m: Machine): void {
  const agent = cpuAgent(m);
  for (const e of m.cache.entries()) {
    const [pfn0, pfn1] = e instanceof CacheRun ? [e.start, e.end] : [e.pfn, e.pfn + 1];
    m.cache.maintainEntry(e, pfn0, pfn1, 0, PAGE_SIZE, "flush", "flush_cache_all", agent);
  }
}

/**
 * The architecture hook after a vmap is created: arm with an aliasing cache flushes the whole
 * cache; parisc flushes the range; nothing elsewhere.
 *
 * **Kernel:** `flush_cache_vmap()`.
 *
 * **Locking:** any context.
 */
export function flushCacheVmap(m: Machine, start: number, end: number): void {
  if (!m.cache.aliasing) {
    return;
  }
  if (m.config.arch === "parisc") {
    cacheMaintainRange(m, start, end, "flush", "flush_cache_vmap");
  } else {
    flushCacheAll(m);
  }
}

/**
 * The architecture hook before a vmap is removed (as {@link flushCacheVmap}).
 *
 * **Kernel:** `flush_cache_vunmap()`.
 *
 * **Locking:** any context.
 */
export function flushCacheVunmap(m: Machine, start: number, end: number): void {
  if (!m.cache.aliasing) {
    return;
  }
  if (m.config.arch === "parisc") {
    cacheMaintainRange(m, start, end, "flush", "flush_cache_vunmap");
  } else {
    flushCacheAll(m);
  }
}

/**
 * Clean and invalidate a user range of a process's mapping (present PTEs; its alias lines on
 * VIVT). A no-op on non-aliasing caches.
 *
 * **Kernel:** `flush_cache_range(vma, start, end)`.
 *
 * **Locking:** the caller holds `mmap_lock`.
 */
export function flushCacheRange(m: Machine, proc: Process, start: number, end: number): void {
  if (!m.cache.aliasing) {
    return;
  }
  apply(m, userHits(m, proc.mm, start, end), "flush", "flush_cache_range");
}

// ---- by physical address -------------------------------------------------------------------

function physOp(m: Machine, pa: number, size: number, op: CacheOp, cause: string): void {
  if (m.cache.aliasing) {
    throw new KernelError(
      "EOPNOTSUPP",
      `${cause}: maintenance by physical address needs a non-aliasing cache (this one is ${m.config.cacheIndexing})`,
    );
  }
  cacheMaintainRange(m, physToVirt(m, pa), physToVirt(m, pa + size), op, cause);
}

/**
 * Clean physical range `[pa, pa + size)`.
 *
 * **Kernel:** none (hardware: maintenance by physical address, as an outer PIPT cache offers with
 * `outer_clean_range()`).
 *
 * **Locking:** any context.
 *
 * @throws {@link KernelError} `EOPNOTSUPP` on an aliasing (VIVT or aliasing VIPT) cache
 */
export function cacheCleanPhys(m: Machine, pa: number, size: number): void {
  physOp(m, pa, size, "clean", "clean by PA");
}

/**
 * Invalidate physical range `[pa, pa + size)` (partial edge lines cleaned first).
 *
 * **Kernel:** none (hardware: `outer_inv_range()`-style maintenance by PA).
 *
 * **Locking:** any context.
 *
 * @throws {@link KernelError} `EOPNOTSUPP` on an aliasing cache
 */
export function cacheInvalPhys(m: Machine, pa: number, size: number): void {
  physOp(m, pa, size, "inval", "invalidate by PA");
}

/**
 * Clean and invalidate physical range `[pa, pa + size)`.
 *
 * **Kernel:** none (hardware: `outer_flush_range()`-style maintenance by PA).
 *
 * **Locking:** any context.
 *
 * @throws {@link KernelError} `EOPNOTSUPP` on an aliasing cache
 */
export function cacheFlushPhys(m: Machine, pa: number, size: number): void {
  physOp(m, pa, size, "flush", "clean+invalidate by PA");
}

// ---- explicit hardware events for scenarios --------------------------------------------------

/**
 * Make the cache evict the lines `[va, va + size)` indexes (write back if dirty, then drop), as it
 * may at any moment. With `proc`, `va` is a user address of that process.
 *
 * **Kernel:** none (hardware: a spontaneous eviction, forced by a scenario).
 *
 * **Locking:** any context.
 */
export function cacheEvict(m: Machine, va: number, size: number, proc?: Process): void {
  const hits = proc ? userHits(m, proc.mm, va, va + size) : kernelHits(m, va, va + size);
  apply(m, hits, "evict", "forced eviction");
}

/**
 * Make the cache evict every alias of the physical lines `[pa, pa + size)`.
 *
 * **Kernel:** none (hardware: a spontaneous eviction, forced by a scenario).
 *
 * **Locking:** any context.
 */
export function cacheEvictPhys(m: Machine, pa: number, size: number): void {
  let done = 0;
  while (done < size) {
    const a = pa + done;
    const n = Math.min(size - done, PAGE_SIZE - (a % PAGE_SIZE));
    m.cache.maintainPhys(a, n, "evict", "forced eviction", "cache");
    done += n;
  }
}

/**
 * Make the CPU speculatively load the lines of `[va, va + size)` through that mapping if it is
 * cacheable (clean lines with what memory holds now). Nothing happens for an uncached or
 * write-combine mapping, or for a user page with no PTE (speculation never faults).
 *
 * **Kernel:** none (hardware: a speculative fill, forced by a scenario).
 *
 * **Locking:** any context.
 */
export function cachePrefetch(m: Machine, va: number, size: number, proc?: Process): void {
  const cache = m.cache;
  let done = 0;
  while (done < size) {
    const a = va + done;
    const n = Math.min(size - done, PAGE_SIZE - (a % PAGE_SIZE));
    const pageVa = a - (a % PAGE_SIZE);
    let pfn = -1;
    let asid = KERNEL_ASID;
    if (proc) {
      const pte = userPteNoFault(proc.mm, a);
      if (pte && pte.prot === "cacheable" && m.memory.contains(pte.pfn * PAGE_SIZE, PAGE_SIZE)) {
        pfn = pte.pfn;
        asid = asidOf(m, proc.mm);
      }
    } else {
      const t = kernelTranslate(m, a);
      if (t && t.prot === "cacheable") {
        pfn = t.pfn;
      }
    }
    if (pfn >= 0) {
      const po = a - pageVa;
      cache.prefetchAlias(
        cache.spaceOf(pageVa, asid),
        cache.keyOf(pageVa, pfn),
        pfn,
        pageVa,
        po,
        po + n,
        "forced prefetch",
      );
    }
    done += n;
  }
}
