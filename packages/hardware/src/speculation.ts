/**
 * Spontaneous cache behaviour as choice points: evictions (dirty lines written back) and
 * speculative fills of lines through cacheable mappings. Every decision goes through the kernel's
 * choice source; option 0 is always "nothing happens".
 *
 * **Kernel:** none (hardware: the cache's replacement policy and the CPU's speculative loads).
 *
 * Where the points are (kept few so that exploration stays small, yet enough for H2 and H3):
 * - before a non-coherent device access: evict the valid lines aliasing the bytes it touches (a
 *   device read may then see a dirty line's data), or, before a write on a speculating CPU,
 *   speculatively fill the lines of those bytes through the linear map and through every alias
 *   already cached (H2: a stale line loaded while the DMA is in flight);
 * - after a non-coherent device write: evict the dirty lines aliasing those bytes (H3: a dirty
 *   line written back over the device's data);
 * - at {@link Machine.tick}: evict every dirty line, or refill the lines invalidated recently.
 *
 * @module
 */
import { PAGE_SIZE } from "@dmasim/kernel";
import {
  CachePage,
  CacheRun,
  KERNEL_ASID,
  LINE_DIRTY,
  LINE_INVALID,
  type CacheEntry,
} from "./cache";
import { kernelTranslate } from "./cpu";
import type { Machine } from "./machine";
import { physToVirt } from "./memory";

/** Physical bytes `[pa, pa + len)` within one page. */
export interface PhysRange {
  readonly pa: number;
  readonly len: number;
}

/** Where a speculation point is offered. */
export type SpeculationPhase = "before-read" | "before-write" | "after-write";

interface Cand {
  /** What holds the lines: a cache page, or a run holding page `pfn`. */
  readonly e: CacheEntry;
  readonly pfn: number;
  readonly a: number;
  readonly b: number;
}

function lineSpan(m: Machine, a: number, b: number): [number, number] {
  const s = m.cache.lineShift;
  return [a >> s, (b - 1) >> s];
}

function evictCands(m: Machine, ranges: readonly PhysRange[], dirtyOnly: boolean): Cand[] {
  const out: Cand[] = [];
  for (const r of ranges) {
    const pfn = Math.floor(r.pa / PAGE_SIZE);
    const a = r.pa - pfn * PAGE_SIZE;
    for (const e of m.cache.aliasEntries(pfn)) {
      if (e instanceof CacheRun) {
        if (!dirtyOnly || e.state === LINE_DIRTY) {
          out.push({ e, pfn, a, b: a + r.len });
        }
        continue;
      }
      if (dirtyOnly ? e.dirty === 0 : e.valid === 0) {
        continue;
      }
      const [l0, l1] = lineSpan(m, a, a + r.len);
      for (let l = l0; l <= l1; l++) {
        const st = e.state[l];
        if (dirtyOnly ? st === LINE_DIRTY : st !== LINE_INVALID) {
          out.push({ e, pfn, a, b: a + r.len });
          break;
        }
      }
    }
  }
  return out;
}

function hasPrefetchCand(m: Machine, ranges: readonly PhysRange[]): boolean {
  const cache = m.cache;
  for (const r of ranges) {
    const pfn = Math.floor(r.pa / PAGE_SIZE);
    const va = physToVirt(m, pfn * PAGE_SIZE);
    const lin = cache.entryAt(cache.spaceOf(va, KERNEL_ASID), cache.keyOf(va, pfn));
    const a = r.pa - pfn * PAGE_SIZE;
    const [l0, l1] = lineSpan(m, a, a + r.len);
    const pages = lin ? [lin, ...cache.aliasEntries(pfn)] : null;
    if (!pages) {
      return true;
    }
    for (const p of pages) {
      if (p instanceof CacheRun) {
        continue; // every line of a run is valid
      }
      for (let l = l0; l <= l1; l++) {
        if (p.state[l] === LINE_INVALID) {
          return true;
        }
      }
    }
  }
  return false;
}

function doEvict(
  m: Machine,
  cands: readonly Cand[],
  dirtyOnly: boolean,
  cause: string,
  each?: () => boolean,
): void {
  for (const c of cands) {
    if (c.e instanceof CacheRun && !each) {
      // every line of the run is a candidate: evict them at once
      m.cache.maintainEntry(c.e, c.pfn, c.pfn + 1, c.a, c.b, "evict", cause, "cache");
      continue;
    }
    const p = c.e instanceof CachePage ? c.e : m.cache.obtain(0, c.pfn, c.pfn, c.e.vaOf(c.pfn));
    const [l0, l1] = lineSpan(m, c.a, c.b);
    for (let l = l0; l <= l1 && !p.dead; l++) {
      const st = p.state[l];
      if (st === LINE_INVALID || (dirtyOnly && st !== LINE_DIRTY)) {
        continue;
      }
      if (each && !each()) {
        continue;
      }
      m.cache.evictLine(p, l, cause);
    }
  }
}

function doPrefetch(
  m: Machine,
  ranges: readonly PhysRange[],
  cause: string,
  each?: () => boolean,
): void {
  const cache = m.cache;
  for (const r of ranges) {
    const pfn = Math.floor(r.pa / PAGE_SIZE);
    const va = physToVirt(m, pfn * PAGE_SIZE);
    const a = r.pa - pfn * PAGE_SIZE;
    const space = cache.spaceOf(va, KERNEL_ASID);
    const key = cache.keyOf(va, pfn);
    if (!each && cache.runsEnabled) {
      // one alias: the linear map's (a run has no invalid line)
      cache.prefetchAlias(space, key, pfn, va, a, a + r.len, cause);
      continue;
    }
    const targets = new Set<CachePage>(cache.aliasesOf(pfn));
    targets.add(cache.obtain(space, key, pfn, va));
    for (const p of targets) {
      if (each) {
        const [l0, l1] = lineSpan(m, a, a + r.len);
        for (let l = l0; l <= l1; l++) {
          if (p.state[l] === LINE_INVALID && each()) {
            const s = l << cache.lineShift;
            cache.prefetch(p, s, s + cache.lineSize, cause);
          }
        }
      } else {
        cache.prefetch(p, a, a + r.len, cause);
      }
      cache.discardIfEmpty(p);
    }
  }
}

/**
 * Count a speculation site as passed, whether or not it offers a choice: the running thread's
 * position then tells the sites of one step apart, so that two sites that happen to see the same
 * machine state never share a state digest (their futures differ).
 */
function passSite(m: Machine): void {
  m.kernel.sched.current.position++;
}

/**
 * Offer the cache a chance to evict or speculatively fill lines around a device access.
 *
 * **Kernel:** none (hardware: spontaneous cache behaviour).
 *
 * **Locking:** any context.
 */
export function speculationPoint(
  m: Machine,
  ranges: readonly PhysRange[],
  phase: SpeculationPhase,
  who: string,
): void {
  const policy = m.config.cachePolicy;
  if (policy.name === "none") {
    return;
  }
  passSite(m);
  if (ranges.length === 0) {
    return;
  }
  const dirtyOnly = phase === "after-write";
  const evict = evictCands(m, ranges, dirtyOnly);
  const mayPrefetch = phase === "before-write" && m.config.speculativePrefetch;
  const choice = m.kernel.choice;
  const pe = policy.evict ?? 0;
  const pp = policy.prefetch ?? 0;
  const evictCause = `spontaneous eviction (${phase} ${who})`;
  const prefetchCause = `speculative load (${phase} ${who})`;
  if (policy.name === "random") {
    doEvict(m, evict, dirtyOnly, evictCause, () => choice.chooseBool("evict", pe));
    if (mayPrefetch) {
      doPrefetch(m, ranges, prefetchCause, () => choice.chooseBool("prefetch", pp));
    }
    return;
  }
  const options: ("evict" | "prefetch")[] = [];
  const weights = [Math.max(0, 1 - pe - pp)];
  if (evict.length > 0) {
    options.push("evict");
    weights.push(pe);
  }
  if (mayPrefetch && hasPrefetchCand(m, ranges)) {
    options.push("prefetch");
    weights.push(pp);
  }
  if (options.length === 0) {
    return;
  }
  const pick = choice.choose("cache", options.length + 1, weights);
  if (pick === 0) {
    return;
  }
  if (options[pick - 1] === "evict") {
    doEvict(m, evict, dirtyOnly, evictCause);
  } else {
    doPrefetch(m, ranges, prefetchCause);
  }
}

/**
 * Whether a dropped line's alias is still mapped by the kernel (speculation only goes through live
 * cacheable mappings): always on PIPT (the linear map); on VIPT the linear map's colour or a live
 * cacheable vmap of that colour; on VIVT a live kernel mapping of that virtual page.
 */
function aliasMapped(m: Machine, g: { space: number; pfn: number; va: number }): boolean {
  const cache = m.cache;
  switch (cache.indexing) {
    case "pipt":
      return true;
    case "vipt": {
      if (cache.spaceOf(physToVirt(m, g.pfn * PAGE_SIZE), KERNEL_ASID) === g.space) {
        return true;
      }
      return m.vmalloc.areas.some(
        (a) =>
          a.prot === "cacheable" &&
          (a.reverse.get(g.pfn) ?? []).some(
            (i) => cache.colour(a.start + i * PAGE_SIZE) === g.space,
          ),
      );
    }
    case "vivt": {
      const t = g.space === KERNEL_ASID ? kernelTranslate(m, g.va) : null;
      return t !== null && t.pfn === g.pfn && t.prot === "cacheable";
    }
  }
}

const TICK_EVICTION = "spontaneous eviction (tick)";

/**
 * The speculation point between operations: evict every dirty line, or refill the lines that were
 * invalidated recently (the prefetcher follows recent accesses).
 *
 * **Kernel:** none (hardware: the passage of time).
 *
 * **Locking:** any context.
 */
export function tickPoint(m: Machine): void {
  const policy = m.config.cachePolicy;
  if (policy.name === "none") {
    return;
  }
  passSite(m);
  const cache = m.cache;
  const dirty = cache.entries((e) =>
    e instanceof CacheRun ? e.state === LINE_DIRTY : e.dirty > 0,
  );
  const ghosts = m.config.speculativePrefetch
    ? cache.recentGhosts().filter((g) => aliasMapped(m, g))
    : [];
  const choice = m.kernel.choice;
  const pe = policy.evict ?? 0;
  const pp = policy.prefetch ?? 0;
  const evictAll = (each?: () => boolean): void => {
    for (const e of dirty) {
      if (e instanceof CacheRun && !each) {
        cache.maintainEntry(e, e.start, e.end, 0, PAGE_SIZE, "evict", TICK_EVICTION, "cache");
        continue;
      }
      const pages =
        e instanceof CacheRun
          ? Array.from({ length: e.end - e.start }, (_, i) =>
              cache.obtain(0, e.start + i, e.start + i, e.vaOf(e.start + i)),
            )
          : [e];
      for (const p of pages) {
        for (let l = 0; l < cache.linesPerPage && !p.dead; l++) {
          if (p.state[l] === LINE_DIRTY && (!each || each())) {
            cache.evictLine(p, l, TICK_EVICTION);
          }
        }
      }
    }
  };
  const refill = (each?: () => boolean): void => {
    for (const g of ghosts) {
      if (aliasMapped(m, g) && (!each || each())) {
        cache.refillGhost(g, "speculative load (tick)");
      }
    }
    cache.clearGhosts();
  };
  if (policy.name === "random") {
    evictAll(() => choice.chooseBool("evict", pe));
    refill(() => choice.chooseBool("prefetch", pp));
    return;
  }
  const options: ("evict" | "prefetch")[] = [];
  const weights = [Math.max(0, 1 - pe - pp)];
  if (dirty.length > 0) {
    options.push("evict");
    weights.push(pe);
  }
  if (ghosts.length > 0) {
    options.push("prefetch");
    weights.push(pp);
  }
  if (options.length === 0) {
    return;
  }
  const pick = choice.choose("cache", options.length + 1, weights);
  if (pick === 0) {
    return;
  }
  if (options[pick - 1] === "evict") {
    evictAll();
  } else {
    refill();
  }
}
