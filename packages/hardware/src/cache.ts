/**
 * The CPU data cache: one write-back cache shared by every CPU, PIPT, VIPT (with page colours) or
 * VIVT, with lines that are invalid, clean or dirty and carry data. Optional capacity and
 * associativity with LRU replacement.
 *
 * **Kernel:** none (hardware: the L1/L2 data cache as the architecture presents it to software;
 * arch/arm64/mm/cache.S and friends maintain it, see cacheflush.ts).
 *
 * Storage: lines are grouped per page of one alias (a {@link CachePage}: a page-sized data slot and
 * one state byte per line), indexed by (alias space, key): PIPT (0, pfn); VIPT (colour, pfn); VIVT
 * (address space, virtual page). A reverse index by pfn finds every alias of a physical page (for
 * snooping devices and speculation). Range maintenance walks either the pages of the range or the
 * cached pages, whichever is fewer, so its cost follows the lines actually cached.
 *
 * @module
 */
import { PAGE_SIZE } from "@dmasim/kernel";
import type { Checker } from "./checker";
import { hexAddr } from "./checker";
import type { Hasher } from "./internal/hash";
import { PageStore } from "./internal/pagestore";
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

class LruSets {
  private readonly sets: { pages: CachePage[]; lines: number[] }[] = [];

  constructor(
    private readonly cache: DataCache,
    readonly nsets: number,
    readonly ways: number,
  ) {}

  private set(p: CachePage, l: number): { pages: CachePage[]; lines: number[] } {
    const idx = this.cache.setIndex(p, l) % this.nsets;
    let s = this.sets[idx];
    if (!s) {
      s = { pages: [], lines: [] };
      this.sets[idx] = s;
    }
    return s;
  }

  insert(p: CachePage, l: number): void {
    const s = this.set(p, l);
    if (s.pages.length >= this.ways) {
      const vp = s.pages.shift() as CachePage;
      const vl = s.lines.shift() as number;
      this.cache.evictLine(vp, vl, "capacity eviction");
    }
    s.pages.push(p);
    s.lines.push(l);
  }

  touch(p: CachePage, l: number): void {
    const s = this.set(p, l);
    for (let i = s.pages.length - 1; i >= 0; i--) {
      if (s.pages[i] === p && s.lines[i] === l) {
        s.pages.splice(i, 1);
        s.lines.splice(i, 1);
        s.pages.push(p);
        s.lines.push(l);
        return;
      }
    }
  }

  remove(p: CachePage, l: number): void {
    const s = this.set(p, l);
    for (let i = 0; i < s.pages.length; i++) {
      if (s.pages[i] === p && s.lines[i] === l) {
        s.pages.splice(i, 1);
        s.lines.splice(i, 1);
        return;
      }
    }
  }

  /** Feed the replacement order of every non-empty set (least recently used first). */
  digestInto(h: Hasher): void {
    this.sets.forEach((s, idx) => {
      if (s.pages.length === 0) {
        return;
      }
      h.word(idx).word(s.pages.length);
      s.pages.forEach((p, i) =>
        h
          .word(p.space)
          .num(p.key)
          .word(s.lines[i] as number),
      );
    });
  }
}

const GHOSTS = 256;

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
  private readonly spaces = new Map<number, Map<number, CachePage>>();
  private readonly byPfn = new Map<number, CachePage[]>();
  private readonly store = new PageStore();
  private pageCount = 0;
  private readonly ghosts: Ghost[] = [];
  private readonly lru: LruSets | null;
  /** Upgrade every invalidate to clean+invalidate (hypervisor stage 2). */
  private readonly invalidateCleans: boolean;

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
    this.lru =
      config.cacheSize > 0
        ? new LruSets(
            this,
            config.cacheSize / (config.cacheWays * config.lineSize),
            config.cacheWays,
          )
        : null;
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

  /** A human description of an alias, for histories. */
  describe(p: CachePage): string | undefined {
    switch (this.indexing) {
      case "pipt":
        return undefined;
      case "vipt":
        return `va ${hexAddr(p.va)} colour ${p.space}`;
      case "vivt":
        return `va ${hexAddr(p.va)}${p.space !== KERNEL_ASID ? ` asid ${p.space}` : ""}`;
    }
  }

  /** The cache page of (space, key), if any line of it is cached. */
  lookup(space: number, key: number): CachePage | undefined {
    return this.spaces.get(space)?.get(key);
  }

  /** The cache page of (space, key), created empty when absent. */
  obtain(space: number, key: number, pfn: number, va: number): CachePage {
    let m = this.spaces.get(space);
    if (!m) {
      m = new Map();
      this.spaces.set(space, m);
    }
    let p = m.get(key);
    if (p) {
      return p;
    }
    const slot = this.store.alloc(false);
    p = new CachePage(
      space,
      key,
      pfn,
      va - (va % PAGE_SIZE),
      slot,
      this.store.array(slot),
      this.store.offset(slot),
      this.linesPerPage,
    );
    m.set(key, p);
    const list = this.byPfn.get(pfn);
    if (list) {
      list.push(p);
    } else {
      this.byPfn.set(pfn, [p]);
    }
    this.pageCount++;
    return p;
  }

  private drop(p: CachePage): void {
    if (p.dead) {
      return;
    }
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

  /** Drop a cache page that {@link obtain} created but nothing filled. */
  discardIfEmpty(p: CachePage): void {
    if (p.valid === 0) {
      this.drop(p);
    }
  }

  /** Every cached alias page of physical page `pfn`. */
  aliasesOf(pfn: number): readonly CachePage[] {
    return this.byPfn.get(pfn) ?? [];
  }

  /** How many cache pages hold at least one valid line. */
  get pages(): number {
    return this.pageCount;
  }

  /** A snapshot of every cache page. */
  allPages(): CachePage[] {
    const out: CachePage[] = [];
    for (const m of this.spaces.values()) {
      for (const p of m.values()) {
        out.push(p);
      }
    }
    return out;
  }

  /** Number of valid lines (walks the cache pages). */
  validLines(): number {
    let n = 0;
    for (const p of this.allPages()) {
      n += p.valid;
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
    if (this.ghosts.length > GHOSTS) {
      this.ghosts.shift();
    }
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

  private aliasNote(p: CachePage): string {
    const d = this.describe(p);
    return d ? `; ${d}` : "";
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
    const p = this.obtain(this.spaceOf(va, asid), this.keyOf(va, pfn), pfn, va);
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
    const p = this.obtain(this.spaceOf(va, asid), this.keyOf(va, pfn), pfn, va);
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

  /** Maintain every alias of physical bytes `[pa, pa + len)` (within a page). */
  maintainPhys(pa: number, len: number, op: CacheOp, cause: string, agent: string): void {
    const pfn = Math.floor(pa / PAGE_SIZE);
    const po = pa - pfn * PAGE_SIZE;
    for (const p of [...this.aliasesOf(pfn)]) {
      this.maintain(p, po, po + len, op, cause, agent);
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
    return this.ghosts;
  }

  /** Refill a dropped line if it is still invalid. Returns whether it did. */
  refillGhost(g: Ghost, cause: string): boolean {
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
    this.ghosts.length = 0;
  }

  // ---- snooping (coherent devices) ---------------------------------------------------------

  /**
   * A coherent device read of `[pa, pa + len)` (within a page): dirty CPU lines supply their data
   * over what memory holds. Returns whether any line was snooped.
   */
  snoopRead(pa: number, dst: Uint8Array, dstOff: number, len: number, agent: string): boolean {
    const pfn = Math.floor(pa / PAGE_SIZE);
    const list = this.byPfn.get(pfn);
    if (!list) {
      return false;
    }
    const po = pa - pfn * PAGE_SIZE;
    const [l0, l1] = this.span(po, len);
    const covered = new Set<number>();
    for (const p of list) {
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
    return covered.size > 0;
  }

  /**
   * A coherent device write of `[pa, pa + len)` (within a page) is about to reach memory: dirty
   * lines only partly overwritten are written back first, then every alias line covering the bytes
   * is invalidated.
   */
  snoopWrite(pa: number, len: number, agent: string): void {
    const pfn = Math.floor(pa / PAGE_SIZE);
    const list = this.byPfn.get(pfn);
    if (!list) {
      return;
    }
    const po = pa - pfn * PAGE_SIZE;
    const [l0, l1] = this.span(po, len);
    for (const p of [...list]) {
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
  }

  /**
   * Feed everything about the cache that decides what happens next to a state digest: every cached
   * page in the order the cache walks them (alias space, key, physical page, the alias's page
   * address), each valid line's state and data, the order of aliases per physical page (snoops and
   * maintenance visit them in that order), the LRU order when capacity is limited, and, when
   * `ghosts` is set (a speculating policy refills them at a tick), the recently dropped lines.
   * Costs the cached pages and lines, not the size of the cache or of RAM. Per-line writer ids are
   * left out: they only name the writer in findings' text.
   * @internal
   */
  digestInto(h: Hasher, ghosts: boolean): void {
    const ls = this.lineSize;
    const lineWords = ls / 4;
    h.word(this.pageCount);
    for (const m of this.spaces.values()) {
      for (const p of m.values()) {
        h.word(p.space).num(p.key).num(p.pfn).num(p.va).word(p.valid).word(p.dirty);
        const words = this.store.words(p.slot);
        const w0 = this.store.wordOffset(p.slot);
        for (let l = 0; l < this.linesPerPage; l++) {
          const st = p.state[l] as number;
          if (st !== LINE_INVALID) {
            h.word((l << 2) | st).words(words, w0 + l * lineWords, lineWords);
          }
        }
      }
    }
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
      for (const g of this.ghosts) {
        h.word(g.space).num(g.key).num(g.pfn).num(g.va).word(g.line);
      }
    }
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
