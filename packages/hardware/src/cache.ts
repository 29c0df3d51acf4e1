/**
 * The CPU data cache: one write-back cache shared by every CPU, PIPT, VIPT (with page colours) or
 * VIVT, with lines that are invalid, clean or dirty and carry data. Optional capacity and
 * associativity with LRU replacement.
 *
 * **Kernel:** none (hardware: the L1/L2 data cache as the architecture presents it to software;
 * arch/arm64/mm/cache.S and friends maintain it, see cacheflush.ts).
 *
 * Storage, as extents. On a cache that behaves as PIPT and has no capacity limit (arm64, x86, ARMv7),
 * a run of whole pages whose every line is valid, in one state, holding one byte value and last
 * written by one writer is one {@link CacheRun} (a zeroed buffer is one dirty run, and one clean run
 * once cleaned), whatever its size; maintenance of whole pages of a run costs O(1) per run, and a
 * page gets lines of its own (a {@link CachePage}: a page-sized data slot and a state byte per line)
 * only when an access or maintenance covers part of it or writes other bytes. Every other cache
 * (aliasing VIPT, VIVT, a capacity) keeps a {@link CachePage} per cached page of each alias, indexed
 * by (alias space, key): PIPT (0, pfn), VIPT (colour, pfn), VIVT (address space, virtual page); a
 * reverse index by pfn finds every alias of a physical page (for snooping devices and speculation).
 *
 * Exactness: a run stands for the pages a per-line model would hold, line for line: the same states,
 * data and writers; the pages' order of arrival (`birth`), which orders walks of the whole cache, is
 * kept per page; every operation on whole pages of a run does what a per-line loop would do, in the
 * same order, with the same findings, line histories (numbered as if recorded line by line) and
 * recently dropped lines. See the package README, "The model".
 *
 * @module
 */
import { PAGE_SIZE } from "@dmasim/kernel";
import type { Checker } from "./checker";
import { hexAddr } from "./checker";
import type { Hasher } from "./internal/hash";
import { LruSets } from "./internal/lru";
import { PageStore } from "./internal/pagestore";
import { RunList } from "./internal/runs";
import type { PhysMemory } from "./physmem";
import type { CacheIndexing, PlatformConfig } from "./platform";

/** Line state: not present. */
export const LINE_INVALID = 0;
/** Line state: present, same as memory when it was filled or last written back. */
export const LINE_CLEAN = 1;
/** Line state: present and written since (memory is behind). */
export const LINE_DIRTY = 2;

/** The address space id of the kernel (linear map, vmap); user address spaces get 1, 2, … */
export const KERNEL_ASID = 0;

/**
 * The lines of one page of one alias: a page-sized data slot and a state byte per line.
 *
 * **Kernel:** none (hardware: cache lines; grouped per page for cost).
 *
 * **Locking:** none (hardware).
 */
export class CachePage {
  /** One of {@link LINE_INVALID}, {@link LINE_CLEAN}, {@link LINE_DIRTY} per line. */
  readonly state: Uint8Array;
  /** Writer id (checker) of the last CPU store to each line. */
  readonly writer: Uint32Array;
  valid = 0;
  dirty = 0;
  /** Set once every line is invalid and the page left the cache. */
  dead = false;

  constructor(
    /** Alias space: 0 for PIPT, the colour for VIPT, the address-space id for VIVT. */
    readonly space: number,
    /** pfn for PIPT/VIPT, the virtual page number for VIVT. */
    readonly key: number,
    /** The physical page these lines hold (their write-back target). */
    readonly pfn: number,
    /** The virtual page address of the alias that brought the page in (for reports). */
    readonly va: number,
    readonly slot: number,
    readonly data: Uint8Array,
    readonly base: number,
    lines: number,
    /** The page's order of arrival in the cache (walks of the whole cache follow it). */
    readonly birth: number,
  ) {
    this.state = new Uint8Array(lines);
    this.writer = new Uint32Array(lines);
  }

  /**
   * How a state digest names this page of lines when another layer holds it (its lines are in the
   * machine's digest).
   */
  digestTag(): string {
    return `cp${this.space}:${this.key}${this.dead ? "x" : ""}`;
  }
}

/**
 * A run of whole pages `[start, end)` (pfns) of the PIPT alias space whose every line is valid, in
 * one state, holds one byte value and was last written by one writer.
 *
 * **Kernel:** none (hardware: cache lines, stored as one extent).
 *
 * **Locking:** none (hardware).
 */
export class CacheRun {
  constructor(
    public start: number,
    public end: number,
    /** {@link LINE_CLEAN} or {@link LINE_DIRTY}. */
    readonly state: number,
    /** The byte every byte of every line holds. */
    readonly value: number,
    /** Writer id (checker) of the last CPU store to the lines. */
    readonly writer: number,
    /** The order of arrival of page `pfn` is `birthBase + pfn`. */
    readonly birthBase: number,
    /** The virtual page address of the alias that brought page `pfn` in is `vaBase + pfn * PAGE_SIZE`. */
    readonly vaBase: number,
  ) {}

  /** The order of arrival of the first page. */
  get birth(): number {
    return this.birthBase + this.start;
  }

  /** The virtual page address of the alias that brought page `pfn` in. */
  vaOf(pfn: number): number {
    return this.vaBase + pfn * PAGE_SIZE;
  }

  /** How a state digest names this run when another layer holds it (never walked into). */
  digestTag(): string {
    return `cr${this.start}:${this.end}`;
  }
}

/** A page of lines or a run of pages: what the cache holds. */
export type CacheEntry = CachePage | CacheRun;

const sameRun = (a: CacheRun, b: CacheRun): boolean =>
  a.state === b.state &&
  a.value === b.value &&
  a.writer === b.writer &&
  a.birthBase === b.birthBase &&
  a.vaBase === b.vaBase;

/** A line the cache dropped recently (a candidate for a speculative refill). */
interface Ghost {
  readonly space: number;
  readonly key: number;
  readonly pfn: number;
  readonly va: number;
  readonly line: number;
}

/** Cache maintenance on a range of lines. */
export type CacheOp = "clean" | "inval" | "flush" | "evict";

const GHOSTS = 256;

/** Consecutive dropped lines `[l0, l1)` (absolute line numbers) of the PIPT space. */
interface GhostSpan {
  l0: number;
  readonly l1: number;
  readonly vaBase: number;
}

/**
 * The recently dropped lines, newest last, at most {@link GHOSTS}: single lines, or spans of
 * consecutive lines of runs (dropped in order), kept as spans so that dropping a run costs O(1).
 */
class GhostList {
  private readonly items: (Ghost | GhostSpan)[] = [];
  private total = 0;

  constructor(private readonly linesPerPage: number) {}

  push(g: Ghost): void {
    this.items.push(g);
    this.total++;
    this.trim();
  }

  /** Lines `[l0, l1)` of the PIPT space, dropped in order; page `pfn` was at `vaBase + pfn * PAGE_SIZE`. */
  pushSpan(l0: number, l1: number, vaBase: number): void {
    const from = Math.max(l0, l1 - GHOSTS);
    if (from < l1) {
      this.items.push({ l0: from, l1, vaBase });
      this.total += l1 - from;
      this.trim();
    }
  }

  private trim(): void {
    while (this.total > GHOSTS) {
      const head = this.items[0] as Ghost | GhostSpan;
      if ("line" in head) {
        this.items.shift();
        this.total--;
        continue;
      }
      const drop = Math.min(this.total - GHOSTS, head.l1 - head.l0);
      head.l0 += drop;
      this.total -= drop;
      if (head.l0 === head.l1) {
        this.items.shift();
      }
    }
  }

  /** The dropped lines, oldest first. */
  list(): Ghost[] {
    const out: Ghost[] = [];
    const lpp = this.linesPerPage;
    for (const it of this.items) {
      if ("line" in it) {
        out.push(it);
        continue;
      }
      for (let l = it.l0; l < it.l1; l++) {
        const pfn = Math.floor(l / lpp);
        out.push({ space: 0, key: pfn, pfn, va: it.vaBase + pfn * PAGE_SIZE, line: l % lpp });
      }
    }
    return out;
  }

  get length(): number {
    return this.total;
  }

  clear(): void {
    this.items.length = 0;
    this.total = 0;
  }
}

/** One kind of event a bulk pass records on every line it passes. */
interface LineEventSpec {
  readonly kind: "clean" | "invalidate" | "discard" | "evict" | "snoop";
  readonly agent: string;
  readonly note: string;
}

/**
 * The data cache.
 *
 * **Kernel:** none (hardware: the data cache).
 *
 * **Locking:** none (hardware).
 */
export class DataCache {
  readonly lineSize: number;
  readonly lineShift: number;
  readonly linesPerPage: number;
  readonly indexing: CacheIndexing;
  readonly colours: number;
  /** Whether whole pages are kept as {@link CacheRun}s (PIPT-behaving, no capacity). */
  readonly runsEnabled: boolean;
  private readonly spaces = new Map<number, Map<number, CachePage>>();
  private readonly byPfn = new Map<number, CachePage[]>();
  private readonly store = new PageStore();
  private pageCount = 0;
  private readonly runs = new RunList<CacheRun>(
    (r) => new CacheRun(r.start, r.end, r.state, r.value, r.writer, r.birthBase, r.vaBase),
  );
  private runPages = 0;
  /** Orders of arrival handed out so far. */
  private births = 0;
  /** Whether a page got lines of its own out of a run (the pages' map is then not in arrival order). */
  private outOfOrder = false;
  private readonly ghosts: GhostList;
  private readonly lru: LruSets | null;
  /** Upgrade every invalidate to clean+invalidate (hypervisor stage 2). */
  private readonly invalidateCleans: boolean;
  /** A line of one byte value, for write-back checks of runs (refilled on use). */
  private readonly lineBuf: Uint8Array;

  constructor(
    private readonly memory: PhysMemory,
    private readonly checker: Checker,
    config: PlatformConfig,
  ) {
    this.lineSize = config.lineSize;
    this.lineShift = Math.log2(config.lineSize);
    this.linesPerPage = PAGE_SIZE / config.lineSize;
    this.indexing = config.cacheIndexing;
    this.colours = config.cacheColours;
    this.invalidateCleans = config.invalidateCleans;
    this.lineBuf = new Uint8Array(config.lineSize);
    this.ghosts = new GhostList(this.linesPerPage);
    this.lru =
      config.cacheSize > 0
        ? new LruSets(
            this,
            config.cacheSize / (config.cacheWays * config.lineSize),
            config.cacheWays,
          )
        : null;
    this.runsEnabled = this.indexing === "pipt" && this.lru === null;
  }

  /** Whether two virtual aliases of one page can be different lines. */
  get aliasing(): boolean {
    return this.indexing === "vivt" || (this.indexing === "vipt" && this.colours > 1);
  }

  /** The page colour of a virtual address (VIPT). */
  colour(va: number): number {
    return Math.floor(va / PAGE_SIZE) % this.colours;
  }

  /** The alias space of an access through `va` in address space `asid`. */
  spaceOf(va: number, asid: number): number {
    switch (this.indexing) {
      case "pipt":
        return 0;
      case "vipt":
        return this.colour(va);
      case "vivt":
        return asid;
    }
  }

  /** The key of an access to `pfn` through `va`. */
  keyOf(va: number, pfn: number): number {
    return this.indexing === "vivt" ? Math.floor(va / PAGE_SIZE) : pfn;
  }

  /** @internal the LRU set index of a line */
  setIndex(p: CachePage, l: number): number {
    switch (this.indexing) {
      case "pipt":
        return p.pfn * this.linesPerPage + l;
      case "vipt":
        return (p.pfn - (p.pfn % this.colours) + p.space) * this.linesPerPage + l;
      case "vivt":
        return p.key * this.linesPerPage + l;
    }
  }

  /** A human description of an alias (space, page VA), for histories. */
  private describeAlias(space: number, va: number): string | undefined {
    switch (this.indexing) {
      case "pipt":
        return undefined;
      case "vipt":
        return `va ${hexAddr(va)} colour ${space}`;
      case "vivt":
        return `va ${hexAddr(va)}${space !== KERNEL_ASID ? ` asid ${space}` : ""}`;
    }
  }

  /** A human description of an alias, for histories. */
  describe(p: CachePage): string | undefined {
    return this.describeAlias(p.space, p.va);
  }

  private aliasNoteOf(space: number, va: number): string {
    const d = this.describeAlias(space, va);
    return d ? `; ${d}` : "";
  }

  private aliasNote(p: CachePage): string {
    return this.aliasNoteOf(p.space, p.va);
  }

  // ---- entries -------------------------------------------------------------------------------

  /** The cache page of (space, key) with lines of its own, if any line of it is cached. */
  lookup(space: number, key: number): CachePage | undefined {
    return this.spaces.get(space)?.get(key);
  }

  /** What holds (space, key): a cache page, a run, or nothing. */
  entryAt(space: number, key: number): CacheEntry | undefined {
    const p = this.lookup(space, key);
    if (p) {
      return p;
    }
    return space === 0 && this.runPages > 0 ? this.runs.find(key) : undefined;
  }

  private addPage(p: CachePage): void {
    let m = this.spaces.get(p.space);
    if (!m) {
      m = new Map();
      this.spaces.set(p.space, m);
    }
    m.set(p.key, p);
    const list = this.byPfn.get(p.pfn);
    if (list) {
      list.push(p);
    } else {
      this.byPfn.set(p.pfn, [p]);
    }
    this.pageCount++;
  }

  private newPage(space: number, key: number, pfn: number, va: number, birth: number): CachePage {
    const slot = this.store.alloc(false);
    const p = new CachePage(
      space,
      key,
      pfn,
      va - (va % PAGE_SIZE),
      slot,
      this.store.array(slot),
      this.store.offset(slot),
      this.linesPerPage,
      birth,
    );
    this.addPage(p);
    return p;
  }

  /**
   * The cache page of (space, key), created empty when absent; a page of a run gets lines of its
   * own (holding what the run held).
   */
  obtain(space: number, key: number, pfn: number, va: number): CachePage {
    const p = this.lookup(space, key);
    if (p) {
      return p;
    }
    if (space === 0 && this.runPages > 0) {
      const r = this.runs.find(key);
      if (r) {
        return this.materialise(r, key);
      }
    }
    return this.newPage(space, key, pfn, va, this.births++);
  }

  /** Give page `pfn` of run `r` lines of its own. */
  private materialise(r: CacheRun, pfn: number): CachePage {
    this.outOfOrder = true;
    this.cutRuns(pfn, pfn + 1);
    const p = this.newPage(0, pfn, pfn, r.vaOf(pfn), r.birthBase + pfn);
    p.data.fill(r.value, p.base, p.base + PAGE_SIZE);
    p.state.fill(r.state);
    p.writer.fill(r.writer);
    p.valid = this.linesPerPage;
    p.dirty = r.state === LINE_DIRTY ? this.linesPerPage : 0;
    return p;
  }

  /** Remove `[start, end)` from the runs (the pages leave the cache or get lines of their own). */
  private cutRuns(start: number, end: number): CacheRun[] {
    const cut = this.runs.cut(start, end);
    for (const r of cut) {
      this.runPages -= r.end - r.start;
    }
    return cut;
  }

  /** Add a run over pages no entry holds, merged with its neighbours when they continue it. */
  private addRun(r: CacheRun): void {
    this.runPages += r.end - r.start;
    this.runs.insert(r);
    this.runs.mergeAround(r, sameRun);
  }

  /** Turn a page whose lines are all valid, in one state with one value and writer, into a run. */
  private pageToRun(p: CachePage, state: number, value: number, writer: number): void {
    this.unlink(p);
    this.addRun(
      new CacheRun(
        p.pfn,
        p.pfn + 1,
        state,
        value,
        writer,
        p.birth - p.pfn,
        p.va - p.pfn * PAGE_SIZE,
      ),
    );
  }

  /** Take a page out of the indexes and free its slot. */
  private unlink(p: CachePage): void {
    p.dead = true;
    this.spaces.get(p.space)?.delete(p.key);
    const list = this.byPfn.get(p.pfn);
    if (list) {
      const i = list.indexOf(p);
      if (i >= 0) {
        list.splice(i, 1);
      }
      if (list.length === 0) {
        this.byPfn.delete(p.pfn);
      }
    }
    this.store.release(p.slot);
    this.pageCount--;
  }

  private drop(p: CachePage): void {
    if (!p.dead) {
      this.unlink(p);
    }
  }

  /** Drop a cache page that {@link DataCache.obtain} created but nothing filled. */
  discardIfEmpty(p: CachePage): void {
    if (p.valid === 0) {
      this.drop(p);
    }
  }

  /** Every cached alias of physical page `pfn`, in the order they arrived (pages and runs). */
  aliasEntries(pfn: number): CacheEntry[] {
    const list = this.byPfn.get(pfn);
    const r = this.runPages > 0 ? this.runs.find(pfn) : undefined;
    if (!r) {
      return list ? [...list] : [];
    }
    return list ? [r, ...list] : [r];
  }

  /**
   * Every cached alias page of physical page `pfn`, in the order they arrived. A page held by a
   * run gets lines of its own first.
   */
  aliasesOf(pfn: number): readonly CachePage[] {
    if (this.runPages > 0) {
      const r = this.runs.find(pfn);
      if (r) {
        this.materialise(r, pfn);
      }
    }
    return this.byPfn.get(pfn) ?? [];
  }

  /** How many cached pages hold at least one valid line (pages of runs included). */
  get pages(): number {
    return this.pageCount + this.runPages;
  }

  /**
   * Every entry (that `keep` keeps) in the order a walk of the whole cache visits them: alias
   * spaces in the order they arrived, and within one the pages in their order of arrival (a run
   * stands for its pages, which arrived one after the other).
   */
  entries(keep?: (e: CacheEntry) => boolean): CacheEntry[] {
    const out: CacheEntry[] = [];
    for (const m of this.spaces.values()) {
      for (const p of m.values()) {
        if (!keep || keep(p)) {
          out.push(p);
        }
      }
    }
    if (this.runsEnabled && (this.runPages > 0 || this.outOfOrder)) {
      // one alias space; pages that got lines of their own out of a run keep their place
      for (const r of this.runs.all()) {
        if (!keep || keep(r)) {
          out.push(r);
        }
      }
      out.sort((a, b) => a.birth - b.birth);
    }
    return out;
  }

  /**
   * The entries of the PIPT space holding pages of `[p0, p1)`, in address order. Costs the runs and
   * the pages with lines of their own in the range (or the range, if smaller).
   */
  entriesInPfnRange(p0: number, p1: number): CacheEntry[] {
    const out: CacheEntry[] = [];
    const runs = this.runs.overlapping(p0, p1);
    let ri = 0;
    const m = this.spaces.get(0);
    for (const k of this.pageKeysIn(p0, p1)) {
      while (ri < runs.length && (runs[ri] as CacheRun).start < k) {
        out.push(runs[ri++] as CacheRun);
      }
      out.push(m?.get(k) as CachePage);
    }
    while (ri < runs.length) {
      out.push(runs[ri++] as CacheRun);
    }
    return out;
  }

  /** A snapshot of every cache page (pages of runs get lines of their own first). */
  allPages(): CachePage[] {
    for (const r of [...this.runs.all()]) {
      for (let pfn = r.start; pfn < r.end; pfn++) {
        this.materialise(this.runs.find(pfn) as CacheRun, pfn);
      }
    }
    return this.entries() as CachePage[];
  }

  /** Number of valid lines. */
  validLines(): number {
    let n = this.runPages * this.linesPerPage;
    for (const m of this.spaces.values()) {
      for (const p of m.values()) {
        n += p.valid;
      }
    }
    return n;
  }

  /** Physical address of line `l` of `p`. */
  linePa(p: CachePage, l: number): number {
    return p.pfn * PAGE_SIZE + (l << this.lineShift);
  }

  // ---- line primitives -------------------------------------------------------------------

  private markValid(p: CachePage, l: number, st: number): void {
    p.state[l] = st;
    p.valid++;
    if (st === LINE_DIRTY) {
      p.dirty++;
    }
    this.lru?.insert(p, l);
  }

  /** Load line `l` of `p` from memory (state clean). */
  private load(p: CachePage, l: number): void {
    const off = l << this.lineShift;
    this.memory.readPage(p.pfn * PAGE_SIZE + off, p.data, p.base + off, this.lineSize);
  }

  /**
   * Write line `l` back to memory if dirty (checked for clobbering); it stays valid and clean.
   */
  writeBackLine(p: CachePage, l: number, cause: string): void {
    if (p.state[l] !== LINE_DIRTY) {
      return;
    }
    const off = l << this.lineShift;
    const pa = p.pfn * PAGE_SIZE + off;
    const dirtiedBy = this.checker.writer(p.writer[l] ?? 0);
    this.checker.checkWriteBack("cache", pa, p.data, p.base + off, this.lineSize, cause, {
      dirtiedBy,
      alias: this.describe(p),
    });
    this.memory.writePage(pa, p.data, p.base + off, this.lineSize);
    p.state[l] = LINE_CLEAN;
    p.dirty--;
  }

  /** Drop line `l` (dirty data is lost). */
  private invalidateLine(p: CachePage, l: number): void {
    const st = p.state[l];
    if (st === LINE_INVALID) {
      return;
    }
    if (st === LINE_DIRTY) {
      p.dirty--;
    }
    p.state[l] = LINE_INVALID;
    p.valid--;
    this.lru?.remove(p, l);
    this.ghosts.push({ space: p.space, key: p.key, pfn: p.pfn, va: p.va, line: l });
    if (p.valid === 0) {
      this.drop(p);
    }
  }

  /** Evict line `l`: write back if dirty, then invalidate (recorded as an eviction). */
  evictLine(p: CachePage, l: number, cause: string): void {
    if (p.state[l] === LINE_INVALID) {
      return;
    }
    const wasDirty = p.state[l] === LINE_DIRTY;
    this.writeBackLine(p, l, cause);
    this.checker.record(
      "evict",
      "cache",
      this.linePa(p, l),
      this.lineSize,
      `${cause}${wasDirty ? " (dirty: written back)" : " (clean)"}${this.aliasNote(p)}`,
    );
    this.invalidateLine(p, l);
  }

  // ---- CPU accesses ------------------------------------------------------------------------

  /** Lines `[l0, l1]` covering bytes `[po, po + len)` of a page. */
  private span(po: number, len: number): [number, number] {
    return [po >> this.lineShift, (po + len - 1) >> this.lineShift];
  }

  /**
   * A cacheable CPU read of `len` bytes at `pa` (within a page) through `va` in `asid`: misses
   * fill lines from memory.
   */
  read(
    va: number,
    pa: number,
    asid: number,
    dst: Uint8Array,
    dstOff: number,
    len: number,
    agent: string,
  ): void {
    const pfn = Math.floor(pa / PAGE_SIZE);
    const po = pa - pfn * PAGE_SIZE;
    const space = this.spaceOf(va, asid);
    const key = this.keyOf(va, pfn);
    const e = this.entryAt(space, key);
    if (e instanceof CacheRun) {
      dst.fill(e.value, dstOff, dstOff + len);
      return;
    }
    if (!e && this.runsEnabled && len === PAGE_SIZE) {
      const value = this.memory.uniformByte(pfn);
      if (value >= 0) {
        this.fillRun(pfn, va, LINE_CLEAN, value, 0);
        this.checker.record("fill", agent, pa, PAGE_SIZE, this.describeAlias(space, va));
        dst.fill(value, dstOff, dstOff + len);
        return;
      }
    }
    const p = e ?? this.obtain(space, key, pfn, va);
    const [l0, l1] = this.span(po, len);
    let run = -1;
    for (let l = l0; l <= l1; l++) {
      if (p.state[l] === LINE_INVALID) {
        this.load(p, l);
        this.markValid(p, l, LINE_CLEAN);
        if (run < 0) {
          run = l;
        }
      } else {
        this.lru?.touch(p, l);
        if (run >= 0) {
          this.recordRun("fill", agent, p, run, l);
          run = -1;
        }
      }
      if (this.lru) {
        this.copyOut(p, l, po, len, dst, dstOff);
      }
    }
    if (run >= 0) {
      this.recordRun("fill", agent, p, run, l1 + 1);
    }
    if (!this.lru) {
      dst.set(p.data.subarray(p.base + po, p.base + po + len), dstOff);
    }
  }

  /**
   * A cacheable CPU read of `len` bytes at `pa` (within a page) through `va` in `asid` whose bytes
   * all hold one value the cache knows without copying them: the value of a run (no fill), or of a
   * whole absent page whose memory holds one value (filled as a clean run, recorded as
   * {@link DataCache.read} records it). Returns -1, having done nothing, otherwise (then call
   * {@link DataCache.read}).
   */
  readValue(va: number, pa: number, asid: number, len: number, agent: string): number {
    const pfn = Math.floor(pa / PAGE_SIZE);
    const space = this.spaceOf(va, asid);
    const e = this.entryAt(space, this.keyOf(va, pfn));
    if (e instanceof CacheRun) {
      return e.value;
    }
    if (!e && this.runsEnabled && len === PAGE_SIZE) {
      const value = this.memory.uniformByte(pfn);
      if (value >= 0) {
        this.fillRun(pfn, va, LINE_CLEAN, value, 0);
        this.checker.record("fill", agent, pa, PAGE_SIZE, this.describeAlias(space, va));
        return value;
      }
    }
    return -1;
  }

  /** A one-page run of `state` holding `value` at absent page `pfn`, brought in through `va`. */
  private fillRun(pfn: number, va: number, state: number, value: number, writer: number): void {
    const birth = this.births++;
    const pageVa = va - (va % PAGE_SIZE);
    this.addRun(
      new CacheRun(pfn, pfn + 1, state, value, writer, birth - pfn, pageVa - pfn * PAGE_SIZE),
    );
  }

  private copyOut(
    p: CachePage,
    l: number,
    po: number,
    len: number,
    dst: Uint8Array,
    dstOff: number,
  ): void {
    const a = Math.max(po, l << this.lineShift);
    const b = Math.min(po + len, (l + 1) << this.lineShift);
    dst.set(p.data.subarray(p.base + a, p.base + b), dstOff + (a - po));
  }

  private recordRun(
    kind: "fill" | "prefetch",
    agent: string,
    p: CachePage,
    from: number,
    to: number,
  ): void {
    const d = this.describe(p);
    this.checker.record(kind, agent, this.linePa(p, from), (to - from) << this.lineShift, d);
  }

  /**
   * A cacheable CPU write of `len` bytes at `pa` (within a page) through `va` in `asid`:
   * write-allocate (partial lines are filled first), lines become dirty.
   */
  write(
    va: number,
    pa: number,
    asid: number,
    src: Uint8Array,
    srcOff: number,
    len: number,
    agent: string,
    wid: number,
    note?: string,
  ): void {
    const pfn = Math.floor(pa / PAGE_SIZE);
    const po = pa - pfn * PAGE_SIZE;
    const space = this.spaceOf(va, asid);
    if (this.runsEnabled && len === PAGE_SIZE && isUniformPage(src, srcOff)) {
      this.fillPages(pfn, pfn + 1, va, src[srcOff] as number, wid);
      const d = this.describeAlias(space, va);
      this.checker.record("write", agent, pa, len, note && d ? `${note}; ${d}` : (note ?? d));
      return;
    }
    const p = this.obtain(space, this.keyOf(va, pfn), pfn, va);
    const [l0, l1] = this.span(po, len);
    const end = po + len;
    const ls = this.lineSize;
    const lru = this.lru;
    if (!lru && p.dirty === this.linesPerPage) {
      // every line already dirty: a plain store
      p.writer.fill(wid, l0, l1 + 1);
    } else {
      for (let l = l0; l <= l1; l++) {
        const st = p.state[l];
        if (st === LINE_INVALID) {
          const start = l << this.lineShift;
          if (start < po || start + ls > end) {
            this.load(p, l);
            this.recordRun("fill", agent, p, l, l + 1);
          }
          p.state[l] = LINE_DIRTY;
          p.valid++;
          p.dirty++;
          if (lru) {
            this.copyIn(p, l, po, len, src, srcOff);
            p.writer[l] = wid;
            lru.insert(p, l);
            continue;
          }
        } else if (st === LINE_CLEAN) {
          p.state[l] = LINE_DIRTY;
          p.dirty++;
          lru?.touch(p, l);
        } else {
          lru?.touch(p, l);
        }
        p.writer[l] = wid;
        if (lru) {
          this.copyIn(p, l, po, len, src, srcOff);
        }
      }
    }
    if (!this.lru) {
      p.data.set(src.subarray(srcOff, srcOff + len), p.base + po);
    }
    const d = this.describe(p);
    this.checker.record("write", agent, pa, len, note && d ? `${note}; ${d}` : (note ?? d));
  }

  /**
   * A cacheable CPU write of `len` bytes of `value` at `pa` (within a page): {@link DataCache.write}
   * of those bytes, without building them for a whole page on a cache that keeps runs.
   */
  writeValue(
    va: number,
    pa: number,
    asid: number,
    value: number,
    len: number,
    agent: string,
    wid: number,
    note?: string,
  ): void {
    if (this.runsEnabled && len === PAGE_SIZE) {
      const pfn = Math.floor(pa / PAGE_SIZE);
      this.fillPages(pfn, pfn + 1, va, value, wid);
      const d = this.describeAlias(this.spaceOf(va, asid), va);
      this.checker.record("write", agent, pa, len, note && d ? `${note}; ${d}` : (note ?? d));
      return;
    }
    const bytes = new Uint8Array(len).fill(value);
    this.write(va, pa, asid, bytes, 0, len, agent, wid, note);
  }

  private copyIn(
    p: CachePage,
    l: number,
    po: number,
    len: number,
    src: Uint8Array,
    srcOff: number,
  ): void {
    const a = Math.max(po, l << this.lineShift);
    const b = Math.min(po + len, (l + 1) << this.lineShift);
    p.data.set(src.subarray(srcOff + (a - po), srcOff + (b - po)), p.base + a);
  }

  /**
   * CPU stores of `value` over every byte of pages `[p0, p1)` through the PIPT alias whose page
   * `p0` is at `va` (contiguous): every line becomes dirty with `value`, written by `wid`. What a
   * store of a whole page does line by line, for a run of pages at once; the caller records the
   * stores (one "write" event per page) and writes the ideal memory. Needs {@link runsEnabled}.
   */
  fillPages(p0: number, p1: number, va: number, value: number, wid: number): void {
    const vaBase = va - (va % PAGE_SIZE) - p0 * PAGE_SIZE;
    const pages = this.pageKeysIn(p0, p1);
    let pi = 0;
    let p = p0;
    while (p < p1) {
      const page = this.lookup(0, p);
      if (page) {
        this.pageToRun(page, LINE_DIRTY, value, wid);
        pi++;
        p++;
        continue;
      }
      const r = this.runs.find(p);
      if (r) {
        const end = Math.min(r.end, p1);
        const { birthBase, vaBase: rv } = r;
        this.cutRuns(p, end);
        this.addRun(new CacheRun(p, end, LINE_DIRTY, value, wid, birthBase, rv));
        p = end;
        continue;
      }
      // absent pages up to the next entry arrive now, in order
      let end = p1;
      const next = this.runs.overlapping(p, p1)[0];
      if (next) {
        end = Math.min(end, next.start);
      }
      while (pi < pages.length && (pages[pi] as number) < p) {
        pi++;
      }
      const nextPage = pages[pi];
      if (nextPage !== undefined && nextPage < end) {
        end = nextPage;
      }
      const birthBase = this.births - p;
      this.births += end - p;
      this.addRun(new CacheRun(p, end, LINE_DIRTY, value, wid, birthBase, vaBase));
      p = end;
    }
  }

  /** The keys in `[p0, p1)` of the PIPT space's pages with lines of their own, ascending. */
  private pageKeysIn(p0: number, p1: number): number[] {
    const m = this.spaces.get(0);
    if (!m || m.size === 0) {
      return [];
    }
    if (p1 - p0 <= m.size) {
      const out: number[] = [];
      for (let p = p0; p < p1; p++) {
        if (m.has(p)) {
          out.push(p);
        }
      }
      return out;
    }
    return [...m.keys()].filter((k) => k >= p0 && k < p1).sort((x, y) => x - y);
  }

  // ---- maintenance -------------------------------------------------------------------------

  /**
   * Maintain the lines of `p` overlapping page bytes `[a, b)`: `clean` writes dirty lines back;
   * `inval` drops them (lines only partly inside `[a, b)` are cleaned first when `edges` is
   * `"clean"`, as arm64 and ARMv7 do); `flush` cleans and invalidates; `evict` is a flush recorded
   * as an eviction.
   */
  maintain(
    p: CachePage,
    a: number,
    b: number,
    op: CacheOp,
    cause: string,
    agent: string,
    edges: "clean" | "discard" = "clean",
  ): void {
    if (p.dead) {
      return;
    }
    const [l0, l1] = this.span(a, b - a);
    const ls = this.lineSize;
    let effOp = op;
    if (op === "inval" && this.invalidateCleans) {
      effOp = "flush";
    }
    for (let l = l0; l <= l1 && !p.dead; l++) {
      const st = p.state[l];
      if (st === LINE_INVALID) {
        continue;
      }
      const pa = this.linePa(p, l);
      const note = `${cause}${this.aliasNote(p)}`;
      if (effOp === "evict") {
        this.evictLine(p, l, cause);
        continue;
      }
      if (effOp === "clean") {
        if (st === LINE_DIRTY) {
          this.writeBackLine(p, l, cause);
          this.checker.record("clean", agent, pa, ls, note);
        }
        continue;
      }
      const start = l << this.lineShift;
      const partial = start < a || start + ls > b;
      if (effOp === "flush" || (partial && edges === "clean")) {
        if (st === LINE_DIRTY) {
          this.writeBackLine(p, l, cause);
          this.checker.record(
            "clean",
            agent,
            pa,
            ls,
            `${note}${effOp === "inval" ? " (partial line: clean+invalidate)" : ""}`,
          );
        }
        this.checker.record("invalidate", agent, pa, ls, note);
        this.invalidateLine(p, l);
        continue;
      }
      this.checker.record(
        st === LINE_DIRTY ? "discard" : "invalidate",
        agent,
        pa,
        ls,
        st === LINE_DIRTY ? `${note} (dirty data discarded)` : note,
      );
      this.invalidateLine(p, l);
    }
  }

  /**
   * Maintain the pages `[pfn0, pfn1)` of the PIPT space held by `e` (a run, or a page with
   * `pfn1 = pfn0 + 1`), bytes `[a, ...)` of the first page and `[..., b)` of the last: a page only
   * partly covered gets lines of its own and is maintained line by line; whole pages of runs at
   * once.
   */
  maintainEntry(
    e: CacheEntry,
    pfn0: number,
    pfn1: number,
    a: number,
    b: number,
    op: CacheOp,
    cause: string,
    agent: string,
    edges: "clean" | "discard" = "clean",
  ): void {
    if (e instanceof CachePage) {
      this.maintain(e, a, b, op, cause, agent, edges);
      return;
    }
    const last = pfn1 - 1;
    let first = pfn0;
    let end = pfn1;
    if (a > 0 || (pfn0 === last && b < PAGE_SIZE)) {
      this.maintainPart(pfn0, a, pfn0 === last ? b : PAGE_SIZE, op, cause, agent, edges);
      first++;
    }
    if (first <= last && b < PAGE_SIZE) {
      end = last;
    }
    if (first < end) {
      this.maintainRuns(first, end, op, cause, agent);
    }
    if (end === last && first <= last) {
      this.maintainPart(last, 0, b, op, cause, agent, edges);
    }
  }

  /** Maintain page bytes `[a, b)` of PIPT page `pfn` line by line (a run page gets its own lines). */
  private maintainPart(
    pfn: number,
    a: number,
    b: number,
    op: CacheOp,
    cause: string,
    agent: string,
    edges: "clean" | "discard",
  ): void {
    const e = this.entryAt(0, pfn);
    if (!e) {
      return;
    }
    const p = e instanceof CacheRun ? this.materialise(e, pfn) : e;
    this.maintain(p, a, b, op, cause, agent, edges);
  }

  /** Maintain every whole page of `[p0, p1)` held by runs, run by run in address order. */
  private maintainRuns(p0: number, p1: number, op: CacheOp, cause: string, agent: string): void {
    for (const r of this.runs.overlapping(p0, p1)) {
      this.maintainRun(r, Math.max(p0, r.start), Math.min(p1, r.end), op, cause, agent);
    }
  }

  /**
   * Maintain pages `[q0, q1)` of run `r` (whole pages): per line what {@link DataCache.maintain}
   * does, for every line of the range at once; lines whose write-back clobbers newer data are
   * reported one by one, in order, as the line-by-line loop reports them.
   */
  private maintainRun(
    r: CacheRun,
    q0: number,
    q1: number,
    op: CacheOp,
    cause: string,
    agent: string,
  ): void {
    const effOp = op === "inval" && this.invalidateCleans ? "flush" : op;
    const dirty = r.state === LINE_DIRTY;
    if (effOp === "clean" && !dirty) {
      return;
    }
    const note = cause; // PIPT: no alias to describe
    const events: LineEventSpec[] = [];
    switch (effOp) {
      case "evict":
        events.push({
          kind: "evict",
          agent: "cache",
          note: `${cause}${dirty ? " (dirty: written back)" : " (clean)"}`,
        });
        break;
      case "clean":
        events.push({ kind: "clean", agent, note });
        break;
      case "flush":
        if (dirty) {
          events.push({ kind: "clean", agent, note });
        }
        events.push({ kind: "invalidate", agent, note });
        break;
      case "inval":
        events.push(
          dirty
            ? { kind: "discard", agent, note: `${note} (dirty data discarded)` }
            : { kind: "invalidate", agent, note },
        );
        break;
    }
    const writesBack = dirty && effOp !== "inval";
    const lpp = this.linesPerPage;
    const first = q0 * lpp;
    const end = q1 * lpp;
    if (!writesBack) {
      this.recordLineEvents(events, first, end);
    } else {
      this.writeBackRunLines(r, q0, q1, cause, events);
    }
    const { state, value, writer, birthBase, vaBase } = r;
    this.cutRuns(q0, q1);
    if (effOp === "clean") {
      this.addRun(new CacheRun(q0, q1, LINE_CLEAN, value, writer, birthBase, vaBase));
    } else {
      this.ghostRange(q0, q1, vaBase);
    }
    void state;
  }

  /** Record `events` on every line of `[l0, l1)` (absolute line numbers), numbered line by line. */
  private recordLineEvents(events: readonly LineEventSpec[], l0: number, l1: number): void {
    const n = l1 - l0;
    if (n <= 0) {
      return;
    }
    const k = events.length;
    const seq0 = this.checker.takeSeq(n * k);
    events.forEach((e, i) =>
      this.checker.recordLines(
        e.kind,
        e.agent,
        l0 * this.lineSize,
        n * this.lineSize,
        e.note,
        seq0 + i,
        k,
      ),
    );
  }

  /**
   * Write back the lines of pages `[q0, q1)` of dirty run `r`, recording `events` on each: every
   * line is checked for clobbering (at once where the ideal memory and memory hold one value
   * throughout a page, byte by byte elsewhere), and a line that clobbers is reported before its
   * events, as the line-by-line loop does.
   */
  private writeBackRunLines(
    r: CacheRun,
    q0: number,
    q1: number,
    cause: string,
    events: readonly LineEventSpec[],
  ): void {
    const lpp = this.linesPerPage;
    const ls = this.lineSize;
    const line = this.lineBuf.fill(r.value);
    const extra = { dirtiedBy: this.checker.writer(r.writer), alias: undefined };
    let pending = q0 * lpp;
    for (const [s, e, check] of this.checker.writeBackPieces(q0, q1, r.value, false)) {
      if (!check) {
        continue;
      }
      for (let l = s * lpp; l < e * lpp; l++) {
        const pa = l * ls;
        if (!this.checker.clobbers(pa, line, ls, false)) {
          continue;
        }
        this.recordLineEvents(events, pending, l);
        this.checker.checkWriteBack("cache", pa, line, 0, ls, cause, extra);
        this.recordLineEvents(events, l, l + 1);
        pending = l + 1;
      }
    }
    this.recordLineEvents(events, pending, q1 * lpp);
    this.memory.fill(q0 * PAGE_SIZE, (q1 - q0) * PAGE_SIZE, r.value);
  }

  /** Push the lines of PIPT pages `[q0, q1)` (they were just dropped, in order) as ghosts. */
  private ghostRange(q0: number, q1: number, vaBase: number): void {
    this.ghosts.pushSpan(q0 * this.linesPerPage, q1 * this.linesPerPage, vaBase);
  }

  /** Maintain every alias of physical bytes `[pa, pa + len)` (within a page). */
  maintainPhys(pa: number, len: number, op: CacheOp, cause: string, agent: string): void {
    const pfn = Math.floor(pa / PAGE_SIZE);
    const po = pa - pfn * PAGE_SIZE;
    for (const e of this.aliasEntries(pfn)) {
      this.maintainEntry(e, pfn, pfn + 1, po, po + len, op, cause, agent);
    }
  }

  /** Fill the invalid lines of `p` overlapping page bytes `[a, b)` from memory (a speculative load). */
  prefetch(p: CachePage, a: number, b: number, cause: string): number {
    const [l0, l1] = this.span(a, b - a);
    let n = 0;
    let run = -1;
    for (let l = l0; l <= l1; l++) {
      if (p.state[l] === LINE_INVALID && !p.dead) {
        this.load(p, l);
        this.markValid(p, l, LINE_CLEAN);
        n++;
        if (run < 0) {
          run = l;
        }
      } else if (run >= 0) {
        this.recordPrefetch(p, run, l, cause);
        run = -1;
      }
    }
    if (run >= 0) {
      this.recordPrefetch(p, run, l1 + 1, cause);
    }
    return n;
  }

  /**
   * Speculatively fill the invalid lines of page bytes `[a, b)` of the alias (space, key) of `pfn`
   * brought in through `va` (creating the alias's page when absent; a page of a run has no invalid
   * line). Returns the lines filled.
   */
  prefetchAlias(
    space: number,
    key: number,
    pfn: number,
    va: number,
    a: number,
    b: number,
    cause: string,
  ): number {
    const e = this.entryAt(space, key);
    if (e instanceof CacheRun) {
      return 0;
    }
    if (!e && this.runsEnabled && a === 0 && b === PAGE_SIZE) {
      const value = this.memory.uniformByte(pfn);
      if (value >= 0) {
        this.fillRun(pfn, va, LINE_CLEAN, value, 0);
        this.checker.record(
          "prefetch",
          "cache",
          pfn * PAGE_SIZE,
          PAGE_SIZE,
          `${cause}${this.aliasNoteOf(space, va)}`,
        );
        return this.linesPerPage;
      }
    }
    const p = e ?? this.obtain(space, key, pfn, va);
    const n = this.prefetch(p, a, b, cause);
    this.discardIfEmpty(p);
    return n;
  }

  private recordPrefetch(p: CachePage, from: number, to: number, cause: string): void {
    this.checker.record(
      "prefetch",
      "cache",
      this.linePa(p, from),
      (to - from) << this.lineShift,
      `${cause}${this.aliasNote(p)}`,
    );
  }

  /** Recently dropped lines, newest last (speculation candidates). */
  recentGhosts(): readonly Ghost[] {
    return this.ghosts.list();
  }

  /** Refill a dropped line if it is still invalid. Returns whether it did. */
  refillGhost(g: Ghost, cause: string): boolean {
    if (this.entryAt(g.space, g.key) instanceof CacheRun) {
      return false;
    }
    const p = this.obtain(g.space, g.key, g.pfn, g.va);
    if (p.state[g.line] !== LINE_INVALID) {
      return false;
    }
    const a = g.line << this.lineShift;
    this.prefetch(p, a, a + this.lineSize, cause);
    this.discardIfEmpty(p);
    return true;
  }

  /** Forget the ghost list (after a refill pass). */
  clearGhosts(): void {
    this.ghosts.clear();
  }

  // ---- snooping (coherent devices) ---------------------------------------------------------

  /**
   * Whether a coherent device read of `[pa, pa + len)` (within a page) hits a clean CPU line whose
   * bytes differ from memory (memory changed behind it): where `snoopClean` decides what it reads.
   */
  cleanDiffers(pa: number, len: number): boolean {
    const pfn = Math.floor(pa / PAGE_SIZE);
    const po = pa - pfn * PAGE_SIZE;
    const [l0, l1] = this.span(po, len);
    for (const e of this.aliasEntries(pfn)) {
      for (let l = l0; l <= l1; l++) {
        if (this.cleanLineDiffers(e, pfn, l)) {
          return true;
        }
      }
    }
    return false;
  }

  /** Whether line `l` of page `pfn` held by `e` is clean and differs from memory. */
  private cleanLineDiffers(e: CacheEntry, pfn: number, l: number): boolean {
    const ls = this.lineSize;
    const mem = this.lineBuf;
    this.memory.readPage(pfn * PAGE_SIZE + (l << this.lineShift), mem, 0, ls);
    if (e instanceof CacheRun) {
      return e.state === LINE_CLEAN && mem.some((b) => b !== e.value);
    }
    if (e.state[l] !== LINE_CLEAN) {
      return false;
    }
    const off = e.base + (l << this.lineShift);
    for (let i = 0; i < ls; i++) {
      if (e.data[off + i] !== mem[i]) {
        return true;
      }
    }
    return false;
  }

  /**
   * A coherent device read of `[pa, pa + len)` (within a page): dirty CPU lines supply their data
   * over what memory holds; with `clean`, so do clean lines whose bytes differ from memory (the
   * interconnect returned a clean snoop hit: `snoopClean`). Returns whether any line was snooped.
   */
  snoopRead(
    pa: number,
    dst: Uint8Array,
    dstOff: number,
    len: number,
    agent: string,
    clean = false,
  ): boolean {
    const pfn = Math.floor(pa / PAGE_SIZE);
    const list = this.aliasEntries(pfn);
    if (list.length === 0) {
      return false;
    }
    const po = pa - pfn * PAGE_SIZE;
    const [l0, l1] = this.span(po, len);
    const covered = new Set<number>();
    for (const p of list) {
      if (p instanceof CacheRun) {
        if (p.state !== LINE_DIRTY) {
          continue;
        }
        dst.fill(p.value, dstOff, dstOff + len);
        const lpp = this.linesPerPage;
        this.recordLineEvents(
          [{ kind: "snoop", agent, note: "read snooped a dirty line" }],
          pfn * lpp + l0,
          pfn * lpp + l1 + 1,
        );
        for (let l = l0; l <= l1; l++) {
          covered.add(l);
        }
        continue;
      }
      if (p.dirty === 0) {
        continue;
      }
      for (let l = l0; l <= l1; l++) {
        if (p.state[l] !== LINE_DIRTY || covered.has(l)) {
          continue;
        }
        covered.add(l);
        this.copyOut(p, l, po, len, dst, dstOff);
        this.checker.record(
          "snoop",
          agent,
          this.linePa(p, l),
          this.lineSize,
          `read snooped a dirty line${this.aliasNote(p)}`,
        );
      }
    }
    if (clean) {
      this.snoopClean(pfn, list, l0, l1, po, len, dst, dstOff, agent, covered);
    }
    return covered.size > 0;
  }

  /** The clean lines of a snooped read that supply their (differing) bytes, in alias order. */
  private snoopClean(
    pfn: number,
    list: readonly CacheEntry[],
    l0: number,
    l1: number,
    po: number,
    len: number,
    dst: Uint8Array,
    dstOff: number,
    agent: string,
    covered: Set<number>,
  ): void {
    for (const e of list) {
      for (let l = l0; l <= l1; l++) {
        if (covered.has(l) || !this.cleanLineDiffers(e, pfn, l)) {
          continue;
        }
        covered.add(l);
        const a = Math.max(po, l << this.lineShift);
        const b = Math.min(po + len, (l + 1) << this.lineShift);
        if (e instanceof CacheRun) {
          dst.fill(e.value, dstOff + (a - po), dstOff + (b - po));
        } else {
          this.copyOut(e, l, po, len, dst, dstOff);
        }
        const note = `read snooped a clean line (memory changed behind it)${e instanceof CacheRun ? "" : this.aliasNote(e)}`;
        this.checker.record(
          "snoop",
          agent,
          pfn * PAGE_SIZE + (l << this.lineShift),
          this.lineSize,
          note,
        );
      }
    }
  }

  /**
   * A coherent device write of `[pa, pa + len)` (within a page) is about to reach memory: dirty
   * lines only partly overwritten are written back first, then every alias line covering the bytes
   * is invalidated.
   */
  snoopWrite(pa: number, len: number, agent: string): void {
    const pfn = Math.floor(pa / PAGE_SIZE);
    const po = pa - pfn * PAGE_SIZE;
    const [l0, l1] = this.span(po, len);
    for (const e of this.aliasEntries(pfn)) {
      if (e instanceof CacheRun) {
        if (po === 0 && len === PAGE_SIZE) {
          this.recordLineEvents(
            [{ kind: "snoop", agent, note: "write invalidated the CPU line" }],
            pfn * this.linesPerPage,
            (pfn + 1) * this.linesPerPage,
          );
          this.cutRuns(pfn, pfn + 1);
          this.ghostRange(pfn, pfn + 1, e.vaBase);
          continue;
        }
        this.snoopWritePage(this.materialise(e, pfn), po, len, l0, l1, agent);
        continue;
      }
      this.snoopWritePage(e, po, len, l0, l1, agent);
    }
  }

  private snoopWritePage(
    p: CachePage,
    po: number,
    len: number,
    l0: number,
    l1: number,
    agent: string,
  ): void {
    for (let l = l0; l <= l1 && !p.dead; l++) {
      const st = p.state[l];
      if (st === LINE_INVALID) {
        continue;
      }
      const start = l << this.lineShift;
      if (st === LINE_DIRTY && (start < po || start + this.lineSize > po + len)) {
        this.writeBackLine(p, l, "snoop write-back");
      }
      this.checker.record(
        "snoop",
        agent,
        this.linePa(p, l),
        this.lineSize,
        `write invalidated the CPU line${this.aliasNote(p)}`,
      );
      this.invalidateLine(p, l);
    }
  }

  // ---- state digest --------------------------------------------------------------------------

  /**
   * Feed everything about the cache that decides what happens next to a state digest: every cached
   * page in the order the cache walks them (alias space, key, physical page, the alias's page
   * address), each valid line's state and data, the order of aliases per physical page (snoops and
   * maintenance visit them in that order), the LRU order when capacity is limited, and, when
   * `ghosts` is set (a speculating policy refills them at a tick), the recently dropped lines.
   * Pages whose lines are all valid in one state with one byte value, one after the other in the
   * walk and in the address space (a run, or pages with lines of their own that happen to agree),
   * are fed as one segment, so the digest does not depend on how the cache stores them. Costs the
   * runs and the cached pages with lines of their own, not the size of the cache or of RAM.
   * Per-line writer ids are left out: they only name the writer in findings' text.
   * @internal
   */
  digestInto(h: Hasher, ghosts: boolean): void {
    const lineWords = this.lineSize / 4;
    h.word(this.pages);
    let seg: {
      space: number;
      key: number;
      pfn: number;
      va: number;
      st: number;
      v: number;
      n: number;
    } | null = null;
    const flush = (): void => {
      if (seg) {
        h.word(0xfeed)
          .word(seg.space)
          .num(seg.key)
          .num(seg.pfn)
          .num(seg.va)
          .word(seg.st)
          .word(seg.v)
          .num(seg.n);
        seg = null;
      }
    };
    const uniform = (
      space: number,
      key: number,
      pfn: number,
      va: number,
      st: number,
      v: number,
      n: number,
    ): void => {
      if (
        seg &&
        seg.space === space &&
        seg.key + seg.n === key &&
        seg.pfn + seg.n === pfn &&
        seg.va + seg.n * PAGE_SIZE === va &&
        seg.st === st &&
        seg.v === v
      ) {
        seg.n += n;
        return;
      }
      flush();
      seg = { space, key, pfn, va, st, v, n };
    };
    for (const e of this.entries()) {
      if (e instanceof CacheRun) {
        uniform(0, e.start, e.start, e.vaOf(e.start), e.state, e.value, e.end - e.start);
        continue;
      }
      const u = this.uniformPage(e);
      if (u) {
        uniform(e.space, e.key, e.pfn, e.va, u[0], u[1], 1);
        continue;
      }
      flush();
      h.word(e.space).num(e.key).num(e.pfn).num(e.va).word(e.valid).word(e.dirty);
      const words = this.store.words(e.slot);
      const w0 = this.store.wordOffset(e.slot);
      for (let l = 0; l < this.linesPerPage; l++) {
        const st = e.state[l] as number;
        if (st !== LINE_INVALID) {
          h.word((l << 2) | st).words(words, w0 + l * lineWords, lineWords);
        }
      }
    }
    flush();
    for (const [pfn, list] of this.byPfn) {
      if (list.length > 1) {
        h.num(pfn).word(list.length);
        for (const p of list) {
          h.word(p.space).num(p.key);
        }
      }
    }
    this.lru?.digestInto(h.word(1));
    if (ghosts) {
      h.word(this.ghosts.length);
      for (const g of this.ghosts.list()) {
        h.word(g.space).num(g.key).num(g.pfn).num(g.va).word(g.line);
      }
    }
  }

  /** `[state, byte]` when every line of `p` is valid in one state and holds one byte value. */
  private uniformPage(p: CachePage): [number, number] | null {
    if (p.valid !== this.linesPerPage || (p.dirty !== 0 && p.dirty !== this.linesPerPage)) {
      return null;
    }
    if (!isUniformPage(p.data, p.base)) {
      return null;
    }
    return [p.dirty === 0 ? LINE_CLEAN : LINE_DIRTY, p.data[p.base] as number];
  }

  /** How a state digest names this part of the machine when another layer holds it (never walked). */
  digestTag(): string {
    return "cache";
  }

  /** Host bytes held by line data. */
  get hostBytes(): number {
    return this.store.hostBytes;
  }
}

/** Whether the page-sized bytes of `src` from `off` all hold one value. */
function isUniformPage(src: Uint8Array, off: number): boolean {
  const b = src[off] as number;
  if (((src.byteOffset + off) & 3) === 0) {
    const w = (b * 0x01010101) >>> 0;
    const words = new Uint32Array(src.buffer, src.byteOffset + off, PAGE_SIZE >> 2);
    for (let j = 0; j < words.length; j++) {
      if (words[j] !== w) {
        return false;
      }
    }
    return true;
  }
  for (let i = off + 1; i < off + PAGE_SIZE; i++) {
    if (src[i] !== b) {
      return false;
    }
  }
  return true;
}
