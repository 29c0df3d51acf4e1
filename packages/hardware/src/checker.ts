/**
 * The coherency checker: an ideal memory that holds what a perfectly coherent machine would hold
 * after the same accesses in the same order, with the last writer (agent, step) of every byte; every
 * read is compared with it (`stale-read`), every write-back and bounce copy too (`clobbered-write`).
 * It also keeps the history of every physical line (fills, writes, cleans, invalidates, snoops,
 * evictions, prefetches, DMA, bounce copies) so a finding can show which maintenance was missing.
 *
 * **Kernel:** none (hardware: an oracle the real machine does not have; KCSAN/KASAN-like in spirit).
 *
 * Cost: the ideal memory is stored as extents like {@link PhysMemory} (runs of whole pages of one byte
 * value, a slot per page only once a page holds different bytes); writer ids likewise (runs of whole
 * pages with one writer, one number per page, and a page-sized `Uint32Array` only once two writers
 * share a page); line histories as ranges (one record for an event on every line or page piece of a
 * range, numbered as if recorded one by one).
 *
 * @module
 */
import { PAGE_SIZE, type ClobberedWriteDetails, type Kernel } from "@dmasim/kernel";
import { clobberHint, staleReadHint } from "./hints";
import { ByteStore } from "./internal/bytestore";
import type { Hasher } from "./internal/hash";
import { HistoryStore } from "./internal/history";
import { WriterStore } from "./internal/writers";
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

/** What the caller of a write-back check knows: who dirtied the line and its alias, or the bounce slot. */
export type WriteBackContext = Pick<
  ClobberedWriteDetails,
  "dirtiedBy" | "alias" | "bounce" | "device"
>;

/** The last writer of a byte in the ideal memory. */
export interface ByteWriter {
  readonly agent: string;
  readonly step: number;
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

/** Whether `n` bytes of `a` from `off` all equal `value`. */
function allEqual(a: Uint8Array, off: number, n: number, value: number): boolean {
  let i = off;
  const end = off + n;
  if (((a.byteOffset + i) & 3) === 0 && n >= 16) {
    const w = (value * 0x01010101) >>> 0;
    const words = new Uint32Array(a.buffer, a.byteOffset + i, n >> 2);
    for (let j = 0; j < words.length; j++) {
      if (words[j] !== w) {
        return false;
      }
    }
    i += words.length << 2;
  }
  for (; i < end; i++) {
    if (a[i] !== value) {
      return false;
    }
  }
  return true;
}

/** Whether `n` bytes of `a` from `aOff` equal those of `b` from `bOff` (word by word when aligned). */
function bytesEqual(a: Uint8Array, aOff: number, b: Uint8Array, bOff: number, n: number): boolean {
  let i = 0;
  if (((a.byteOffset + aOff) & 3) === 0 && ((b.byteOffset + bOff) & 3) === 0 && n >= 16) {
    const wa = new Uint32Array(a.buffer, a.byteOffset + aOff, n >> 2);
    const wb = new Uint32Array(b.buffer, b.byteOffset + bOff, n >> 2);
    for (let j = 0; j < wa.length; j++) {
      if (wa[j] !== wb[j]) {
        return false;
      }
    }
    i = wa.length << 2;
  }
  for (; i < n; i++) {
    if (a[aOff + i] !== b[bOff + i]) {
      return false;
    }
  }
  return true;
}

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
  /** The ideal memory's bytes. */
  private readonly ideal = new ByteStore();
  /** The writer id of every byte of the ideal memory. */
  private readonly byteWriters = new WriterStore();
  private readonly writers: ByteWriter[] = [{ agent: "boot", step: 0 }];
  private readonly writerIds = new Map<string, number>();
  private readonly history: HistoryStore;

  /** What stands for what (the swiotlb pool registers its slots), consulted in order. */
  private readonly aliasSources: AliasSource[] = [];

  constructor(
    private readonly kernel: Kernel,
    private readonly memory: PhysMemory,
    private readonly lineSize: number,
    historyDepth: number,
    enabled: boolean,
  ) {
    this.enabled = enabled;
    this.history = new HistoryStore(lineSize, historyDepth);
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

  /** Record a write of `len` bytes at `pa` (within a page) into the ideal memory. */
  idealWritePage(pa: number, src: Uint8Array, srcOff: number, len: number, wid: number): void {
    if (!this.enabled) {
      return;
    }
    this.ideal.writePage(pa, src, srcOff, len);
    this.byteWriters.set(pa, len, wid);
  }

  /** Record a write of `len` bytes of `value` at `pa` (any range) into the ideal memory. */
  idealFill(pa: number, len: number, value: number, wid: number): void {
    if (!this.enabled) {
      return;
    }
    this.ideal.fill(pa, len, value);
    this.byteWriters.set(pa, len, wid);
  }

  /** Read the ideal bytes at `pa` (within a page). */
  idealReadPage(pa: number, dst: Uint8Array, dstOff: number, len: number): void {
    this.ideal.readPage(pa, dst, dstOff, len);
  }

  /** The ideal contents of any range. */
  idealRead(pa: number, len: number): Uint8Array {
    return this.ideal.read(pa, len);
  }

  /** The last writer of the byte at `pa`. */
  lastWriter(pa: number): ByteWriter {
    return this.writer(this.byteWriters.get(pa));
  }

  /**
   * Take `n` consecutive event sequence numbers (for {@link Checker.recordLines}), numbered as
   * `n` events recorded one by one.
   */
  takeSeq(n: number): number {
    return this.kernel.takeSeq(n);
  }

  /**
   * Append an event to the history of every page piece of `[pa, pa + len)` (any range): one event
   * per page piece, numbered in order, as a loop over the pieces would record them.
   */
  record(
    kind: LineEventKind,
    agent: string,
    pa: number,
    len: number,
    note?: string,
    addr?: number,
  ): void {
    if (len <= 0) {
      return;
    }
    const pieces = Math.floor((pa + len - 1) / PAGE_SIZE) - Math.floor(pa / PAGE_SIZE) + 1;
    this.history.add({
      seq0: this.kernel.takeSeq(pieces),
      stride: 1,
      unit: PAGE_SIZE,
      step: this.kernel.step,
      kind,
      agent,
      pa,
      len,
      note,
      addr,
    });
  }

  /**
   * {@link Checker.record} for an access through a mapping at `va`: each page piece's note is
   * `notePrefix` then the virtual address of its first byte (`0x…`).
   */
  recordMapped(
    kind: LineEventKind,
    agent: string,
    pa: number,
    len: number,
    notePrefix: string,
    va: number,
  ): void {
    if (len <= 0) {
      return;
    }
    const pieces = Math.floor((pa + len - 1) / PAGE_SIZE) - Math.floor(pa / PAGE_SIZE) + 1;
    this.history.add({
      seq0: this.kernel.takeSeq(pieces),
      stride: 1,
      unit: PAGE_SIZE,
      step: this.kernel.step,
      kind,
      agent,
      pa,
      len,
      note: notePrefix,
      addr: undefined,
      noteVa: va,
    });
  }

  /**
   * Append an event to the history of every line of `[pa, pa + len)` (whole lines), the i-th line's
   * numbered `seq0 + i * stride` (numbers the caller took with {@link Checker.takeSeq}).
   */
  recordLines(
    kind: LineEventKind,
    agent: string,
    pa: number,
    len: number,
    note: string | undefined,
    seq0: number,
    stride: number,
  ): void {
    if (len <= 0) {
      return;
    }
    this.history.add({
      seq0,
      stride,
      unit: this.lineSize,
      step: this.kernel.step,
      kind,
      agent,
      pa,
      len,
      note,
      addr: undefined,
    });
  }

  /** The history of the line containing `pa`: its newest events (the platform's `historyDepth`), oldest first. */
  lineHistory(pa: number): LineEvent[] {
    return this.history.lineHistory(pa);
  }

  /**
   * The pages of `[p0, p1)` split by whether a write-back of `value` over each needs a byte-by-byte
   * check (`[start, end, check]`): where the ideal memory and memory each hold one byte value
   * throughout, a write-back of `value` is clobbering on every byte or on none, so a page that
   * passes for one byte passes for all; `check` is false where it passes.
   */
  writeBackPieces(
    p0: number,
    p1: number,
    value: number,
    strict: boolean,
  ): [number, number, boolean][] {
    if (!this.enabled) {
      return [[p0, p1, false]];
    }
    const out: [number, number, boolean][] = [];
    const ideal = this.ideal.pieces(p0, p1);
    const mem = this.memory.pieces(p0, p1);
    let i = 0;
    let j = 0;
    let p = p0;
    while (p < p1) {
      const a = ideal[i] as [number, number, number];
      const b = mem[j] as [number, number, number];
      const end = Math.min(a[1], b[1]);
      const check = a[2] < 0 || b[2] < 0 || (value !== a[2] && (strict || value !== b[2]));
      const last = out[out.length - 1];
      if (last && last[2] === check && last[1] === p) {
        last[1] = end;
      } else {
        out.push([p, end, check]);
      }
      p = end;
      if (a[1] === end) {
        i++;
      }
      if (b[1] === end) {
        j++;
      }
    }
    return out;
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
        const base = seg.off + done;
        if (this.matchesIdeal(a, seen, base, n, ideal)) {
          done += n;
          continue;
        }
        this.idealReadPage(a, ideal, 0, n);
        let lastLine = -1;
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
        hint: staleReadHint(agent, w, lineStart, this.lineSize, charged),
      },
    });
    return false;
  }

  /**
   * Whether `n` bytes of `seen` from `off` equal the ideal bytes at `pa` (within a page), compared
   * at the speed of a memory compare (`buf` is scratch space of at least `n` bytes).
   */
  private matchesIdeal(
    pa: number,
    seen: Uint8Array,
    off: number,
    n: number,
    buf: Uint8Array,
  ): boolean {
    const value = this.ideal.uniformByte(Math.floor(pa / PAGE_SIZE));
    if (value >= 0) {
      return allEqual(seen, off, n, value);
    }
    this.idealReadPage(pa, buf, 0, n);
    return bytesEqual(seen, off, buf, 0, n);
  }

  /**
   * Whether writing back `len` bytes of `data` at `pa` (within a page) would clobber newer data:
   * the test of {@link Checker.checkWriteBack}, without reporting.
   */
  clobbers(pa: number, data: Uint8Array, len: number, strict: boolean): boolean {
    if (!this.enabled) {
      return false;
    }
    const ideal = this.scratch(len, 0);
    const mem = this.scratch(len, 1);
    this.idealReadPage(pa, ideal, 0, len);
    this.memory.readPage(pa, mem, 0, len);
    for (let i = 0; i < len; i++) {
      const d = data[i];
      if (d !== ideal[i] && (strict || d !== mem[i])) {
        return true;
      }
    }
    return false;
  }

  /**
   * {@link Checker.clobbers} for `len` bytes all holding `value`: decided at once where the ideal
   * memory and memory each hold one value over the page.
   */
  clobbersValue(pa: number, value: number, len: number, strict: boolean): boolean {
    if (!this.enabled) {
      return false;
    }
    const pfn = Math.floor(pa / PAGE_SIZE);
    const iv = this.ideal.uniformByte(pfn);
    const mv = this.memory.uniformByte(pfn);
    if (iv >= 0 && mv >= 0) {
      return value !== iv && (strict || value !== mv);
    }
    return this.clobbers(pa, this.scratch(len, 2).fill(value, 0, len), len, strict);
  }

  private readonly scratchBufs: Uint8Array[] = [];

  /** A reusable buffer of at least `len` bytes (`which` tells two apart). */
  private scratch(len: number, which: number): Uint8Array {
    let b = this.scratchBufs[which];
    if (!b || b.length < len) {
      b = new Uint8Array(Math.max(len, 64));
      this.scratchBufs[which] = b;
    }
    return b;
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
    extra: WriteBackContext = {},
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
        hint: clobberHint(code, w, pa + firstBad, bad, extra.dirtiedBy),
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
    h.word(this.enabled ? 1 : 0).pair(this.ideal.contentHash());
  }

  /** How a state digest names this part of the machine when another layer holds it (never walked). */
  digestTag(): string {
    return "checker";
  }

  /** Host bytes held by the ideal memory and writer ids. */
  get hostBytes(): number {
    return this.ideal.hostBytes + this.byteWriters.hostBytes;
  }
}
