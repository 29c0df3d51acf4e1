/**
 * The coherency checker: an ideal memory that holds what a perfectly coherent machine would hold
 * after the same accesses in the same order, with the last writer (agent, step) of every byte; every
 * read is compared with it (`stale-read`), every write-back and bounce copy too (`clobbered-write`).
 * It also keeps the history of every physical line (fills, writes, cleans, invalidates, snoops,
 * evictions, prefetches, DMA, bounce copies) so a finding can show which maintenance was missing.
 *
 * **Kernel:** none (hardware: an oracle the real machine does not have; KCSAN/KASAN-like in spirit).
 *
 * Cost: the ideal memory is sparse like {@link PhysMemory}; writer ids are one number per page while
 * a page has a single writer, and a page-sized `Uint32Array` slot only once two writers share it.
 *
 * @module
 */
import { PAGE_SIZE, type Kernel } from "@dmasim/kernel";
import { PageHashes, type Hasher } from "./internal/hash";
import { PageStore, WordStore } from "./internal/pagestore";
import type { PhysMemory } from "./physmem";

/** What happened to a line. */
export type LineEventKind =
  | "fill"
  | "write"
  | "read-uncached"
  | "write-uncached"
  | "clean"
  | "invalidate"
  | "discard"
  | "evict"
  | "prefetch"
  | "snoop"
  | "dma-read"
  | "dma-write"
  | "bounce-in"
  | "bounce-out";

/** One event in a physical line's history. */
export interface LineEvent {
  /** Kernel event sequence number (orders events with findings and the trace). */
  readonly seq: number;
  /** The scenario step. */
  readonly step: number;
  readonly kind: LineEventKind;
  /** Who: `cpu:<thread>`, `dev:<name>`, `cache` (the hardware itself), `swiotlb`. */
  readonly agent: string;
  /** First physical byte concerned. */
  readonly pa: number;
  /** Bytes concerned (within one page). */
  readonly len: number;
  /** Details: the alias (VA, colour), the maintenance routine, the bounce partner… */
  readonly note?: string;
  /** The address the agent used, when it was not the physical one (a DMA address). */
  readonly addr?: number;
}

/** The last writer of a byte in the ideal memory. */
export interface ByteWriter {
  readonly agent: string;
  readonly step: number;
}

interface IdealPage {
  slot: number;
  /** The single writer of every byte, or -1 when `wslot` holds one per byte. */
  writer: number;
  wslot: number;
}

/** One piece of an access to check: `len` bytes at `seenOff` of the data, charged to `pa`. */
export interface CheckSegment {
  /** Physical address the ideal memory is consulted at (the original address for a bounce slot). */
  readonly pa: number;
  /** Physical address actually accessed (differs from `pa` for a bounce slot). */
  readonly actual: number;
  readonly off: number;
  readonly len: number;
}

/**
 * Where the checker learns that a physical address stands for another: the original address a
 * byte of a bounce slot stands for, or a negative number when `pa` stands only for itself.
 */
export type AliasSource = (pa: number) => number;

/** Hex dump of bytes (`"11 22 33"`). */
function hex(bytes: ArrayLike<number>): string {
  let s = "";
  for (let i = 0; i < bytes.length; i++) {
    s += (i ? " " : "") + (bytes[i] as number).toString(16).padStart(2, "0");
  }
  return s;
}

/**
 * Format an address as `0x…`.
 *
 * **Kernel:** `%#lx` / `%pa` formatting.
 *
 * **Locking:** none (pure).
 */
export function hexAddr(a: number): string {
  return `0x${a.toString(16)}`;
}

/**
 * The ideal memory, the per-byte writers, the line histories and the checks.
 *
 * **Kernel:** none (hardware oracle).
 *
 * **Locking:** none (single-threaded simulator).
 */
export class Checker {
  /** Whether reads and write-backs are checked (the ideal memory is kept only while enabled). */
  enabled: boolean;
  private readonly store = new PageStore();
  private readonly words = new WordStore();
  private readonly pages = new Map<number, IdealPage>();
  private readonly writers: ByteWriter[] = [{ agent: "boot", step: 0 }];
  private readonly writerIds = new Map<string, number>();
  private readonly history = new Map<number, LineEvent[]>();
  private readonly hashes = new PageHashes(PAGE_SIZE / 4, (pfn) => {
    const p = this.pages.get(pfn);
    return p ? { words: this.store.words(p.slot), from: this.store.wordOffset(p.slot) } : null;
  });

  /** What stands for what (the swiotlb pool registers its slots), consulted in order. */
  private readonly aliasSources: AliasSource[] = [];

  constructor(
    private readonly kernel: Kernel,
    private readonly memory: PhysMemory,
    private readonly lineSize: number,
    private readonly historyDepth: number,
    enabled: boolean,
  ) {
    this.enabled = enabled;
  }

  /**
   * Learn where addresses stand for others: `source(pa)` returns the original address a byte of a
   * bounce slot stands for, or a negative number. The swiotlb pool registers itself at boot, so the
   * device model needs no knowledge of the pool.
   */
  learnAliases(source: AliasSource): void {
    this.aliasSources.push(source);
  }

  /** The address an access at `pa` is charged to: the original of a bounce slot, else `pa`. */
  chargedAddress(pa: number): number {
    for (const source of this.aliasSources) {
      const o = source(pa);
      if (o >= 0) {
        return o;
      }
    }
    return pa;
  }

  /** The writer id of `agent` at the current step. */
  writerId(agent: string): number {
    const step = this.kernel.step;
    const key = `${step}\u0000${agent}`;
    let id = this.writerIds.get(key);
    if (id === undefined) {
      id = this.writers.length;
      this.writers.push({ agent, step });
      this.writerIds.set(key, id);
    }
    return id;
  }

  /** The writer behind an id. */
  writer(id: number): ByteWriter {
    return this.writers[id] ?? { agent: "boot", step: 0 };
  }

  private page(pfn: number): IdealPage {
    let p = this.pages.get(pfn);
    if (!p) {
      p = { slot: this.store.alloc(true), writer: 0, wslot: -1 };
      this.pages.set(pfn, p);
    }
    return p;
  }

  /** Record a write of `len` bytes at `pa` (within a page) into the ideal memory. */
  idealWritePage(pa: number, src: Uint8Array, srcOff: number, len: number, wid: number): void {
    if (!this.enabled) {
      return;
    }
    const pfn = Math.floor(pa / PAGE_SIZE);
    const po = pa - pfn * PAGE_SIZE;
    this.hashes.touch(pfn, po, len);
    const p = this.page(pfn);
    const off = this.store.offset(p.slot);
    this.store.array(p.slot).set(src.subarray(srcOff, srcOff + len), off + po);
    if (len === PAGE_SIZE) {
      p.writer = wid;
      return;
    }
    if (p.writer === wid) {
      return;
    }
    if (p.wslot < 0) {
      p.wslot = this.words.alloc();
    }
    const w = this.words.array(p.wslot);
    const wo = this.words.offset(p.wslot);
    if (p.writer >= 0) {
      w.fill(p.writer, wo, wo + PAGE_SIZE);
      p.writer = -1;
    }
    w.fill(wid, wo + po, wo + po + len);
  }

  /** Read the ideal bytes at `pa` (within a page). */
  idealReadPage(pa: number, dst: Uint8Array, dstOff: number, len: number): void {
    const pfn = Math.floor(pa / PAGE_SIZE);
    const p = this.pages.get(pfn);
    if (!p) {
      dst.fill(0, dstOff, dstOff + len);
      return;
    }
    const off = this.store.offset(p.slot) + (pa - pfn * PAGE_SIZE);
    dst.set(this.store.array(p.slot).subarray(off, off + len), dstOff);
  }

  /** The ideal contents of any range. */
  idealRead(pa: number, len: number): Uint8Array {
    const out = new Uint8Array(len);
    let done = 0;
    while (done < len) {
      const a = pa + done;
      const n = Math.min(len - done, PAGE_SIZE - (a % PAGE_SIZE));
      this.idealReadPage(a, out, done, n);
      done += n;
    }
    return out;
  }

  /** The last writer of the byte at `pa`. */
  lastWriter(pa: number): ByteWriter {
    const pfn = Math.floor(pa / PAGE_SIZE);
    const p = this.pages.get(pfn);
    if (!p) {
      return this.writer(0);
    }
    if (p.writer >= 0) {
      return this.writer(p.writer);
    }
    const w = this.words.array(p.wslot)[this.words.offset(p.wslot) + (pa - pfn * PAGE_SIZE)];
    return this.writer(w ?? 0);
  }

  /** Append an event to the history of the lines covering `[pa, pa + len)`. */
  record(
    kind: LineEventKind,
    agent: string,
    pa: number,
    len: number,
    note?: string,
    addr?: number,
  ): void {
    let done = 0;
    while (done < len) {
      const a = pa + done;
      const n = Math.min(len - done, PAGE_SIZE - (a % PAGE_SIZE));
      const pfn = Math.floor(a / PAGE_SIZE);
      let list = this.history.get(pfn);
      if (!list) {
        list = [];
        this.history.set(pfn, list);
      }
      const ev: { -readonly [K in keyof LineEvent]: LineEvent[K] } = {
        seq: this.kernel.nextSeq(),
        step: this.kernel.step,
        kind,
        agent,
        pa: a,
        len: n,
      };
      if (note !== undefined) {
        ev.note = note;
      }
      if (addr !== undefined) {
        ev.addr = addr + done;
      }
      list.push(ev);
      if (list.length >= 2 * this.historyDepth) {
        list.splice(0, list.length - this.historyDepth); // amortised: drop the oldest in bulk
      }
      done += n;
    }
  }

  /** The history of the line containing `pa`, oldest first. */
  lineHistory(pa: number): LineEvent[] {
    const line = pa - (pa % this.lineSize);
    const list = this.history.get(Math.floor(pa / PAGE_SIZE)) ?? [];
    return list
      .slice(-this.historyDepth)
      .filter((e) => e.pa < line + this.lineSize && e.pa + e.len > line);
  }

  /**
   * Compare what `agent` read (`seen`) with the ideal memory, segment by segment; report one
   * `stale-read` finding for the access if anything differs. Returns whether it matched.
   */
  checkRead(
    agent: string,
    seen: Uint8Array,
    segs: readonly CheckSegment[],
    context: { readonly address: number; readonly space: string },
  ): boolean {
    if (!this.enabled) {
      return true;
    }
    let most = 0;
    for (const seg of segs) {
      most = Math.max(most, seg.len);
    }
    const ideal = new Uint8Array(Math.min(PAGE_SIZE, most));
    let bad = 0;
    let lines = 0;
    let first: { seg: CheckSegment; i: number } | undefined;
    for (const seg of segs) {
      let done = 0;
      while (done < seg.len) {
        const a = seg.pa + done;
        const n = Math.min(seg.len - done, PAGE_SIZE - (a % PAGE_SIZE));
        this.idealReadPage(a, ideal, 0, n);
        let lastLine = -1;
        const base = seg.off + done;
        for (let i = 0; i < n; i++) {
          if (seen[base + i] !== ideal[i]) {
            bad++;
            const line = Math.floor((a + i) / this.lineSize);
            if (line !== lastLine) {
              lines++;
              lastLine = line;
            }
            if (!first) {
              first = { seg, i: done + i };
            }
          }
        }
        done += n;
      }
    }
    if (!first) {
      return true;
    }
    const pa = first.seg.pa + first.i;
    const actual = first.seg.actual + first.i;
    const lineStart = pa - (pa % this.lineSize);
    // the part of that line the access covered
    const from = Math.max(lineStart, first.seg.pa);
    const to = Math.min(lineStart + this.lineSize, first.seg.pa + first.seg.len);
    const expected = this.idealRead(from, to - from);
    const seenLine = seen.subarray(
      first.seg.off + (from - first.seg.pa),
      first.seg.off + (to - first.seg.pa),
    );
    const w = this.lastWriter(pa);
    const charged = actual !== pa;
    this.kernel.report({
      kind: "stale-read",
      code: charged ? "stale-bounce-read" : "stale-read",
      summary:
        `stale read by ${agent} at ${context.space} ${hexAddr(context.address + (first.seg.off + first.i))}` +
        ` (phys ${hexAddr(actual)}${charged ? `, bounce slot for ${hexAddr(pa)}` : ""}): ${bad} byte${bad > 1 ? "s" : ""} in ${lines} line${lines > 1 ? "s" : ""}` +
        ` differ from the last write (${w.agent} at step ${w.step})`,
      details: {
        agent,
        address: context.address + first.seg.off + first.i,
        space: context.space,
        phys: actual,
        chargedTo: charged ? pa : undefined,
        bytes: bad,
        lines,
        line: lineStart,
        lineOffset: from - lineStart,
        expected: hex(expected),
        seen: hex(seenLine),
        lastWriter: w,
        history: this.lineHistory(lineStart),
      },
    });
    return false;
  }

  /**
   * Check a write-back (eviction, clean, snoop, bounce copy) of `len` bytes at `pa` (within a
   * page): bytes that differ from the ideal memory and change what memory holds are clobbered
   * (with `strict`, every byte that differs from the ideal memory: a bounce copy). Reports one
   * `clobbered-write` finding; returns whether the write was clean.
   */
  checkWriteBack(
    agent: string,
    pa: number,
    data: Uint8Array,
    dataOff: number,
    len: number,
    cause: string,
    extra: Readonly<Record<string, unknown>> = {},
    code = "write-back",
    strict = false,
  ): boolean {
    if (!this.enabled) {
      return true;
    }
    const ideal = new Uint8Array(len);
    const mem = new Uint8Array(len);
    this.idealReadPage(pa, ideal, 0, len);
    this.memory.readPage(pa, mem, 0, len);
    let bad = 0;
    let firstBad = -1;
    for (let i = 0; i < len; i++) {
      const d = data[dataOff + i];
      if (d !== ideal[i] && (strict || d !== mem[i])) {
        bad++;
        if (firstBad < 0) {
          firstBad = i;
        }
      }
    }
    if (bad === 0) {
      return true;
    }
    const w = this.lastWriter(pa + firstBad);
    const lineStart = pa + firstBad - ((pa + firstBad) % this.lineSize);
    this.kernel.report({
      kind: "clobbered-write",
      code,
      summary:
        `${cause} by ${agent} put ${bad} stale byte${bad > 1 ? "s" : ""} over newer data at phys ${hexAddr(pa + firstBad)}` +
        ` (last written by ${w.agent} at step ${w.step})`,
      details: {
        agent,
        cause,
        phys: pa,
        bytes: bad,
        line: lineStart,
        expected: hex(ideal),
        written: hex(data.subarray(dataOff, dataOff + len)),
        memoryBefore: hex(mem),
        lastWriter: w,
        history: this.lineHistory(lineStart),
        ...extra,
      },
    });
    return false;
  }

  /**
   * Feed the checker's state that decides future findings to a state digest: whether it is enabled
   * and the ideal memory's bytes (costing the pages written since the last digest). Left out on
   * purpose: the writer of each byte and the line histories, which only feed the text of findings
   * (their summary and details), never whether or which finding is reported — and the kernel's
   * digest leaves finding text out too.
   * @internal
   */
  digestInto(h: Hasher): void {
    h.word(this.enabled ? 1 : 0).pair(this.hashes.digest());
  }

  /** How a state digest names this part of the machine when another layer holds it (never walked). */
  digestTag(): string {
    return "checker";
  }

  /** Host bytes held by the ideal memory and writer ids. */
  get hostBytes(): number {
    return this.store.hostBytes + this.words.hostBytes;
  }
}
