/**
 * Sparse byte storage for physical memory and the checker's ideal memory, as extents: runs of whole
 * pages that hold one byte value (a zeroed buffer, a filled one) cost one run whatever their size;
 * a page gets storage of its own (a page-sized slot) only once it holds different bytes. Pages in no
 * run and with no slot read as zero.
 *
 * **Kernel:** none (host-side storage of the simulator).
 *
 * Exactness: a page is in at most one of (a run, a slot); reads and writes go to whichever holds it,
 * so every byte reads back what was last written. A partial write into a run page first copies the
 * run's value into a new slot ("materialises" the page). The state digest is canonical: runs are kept
 * maximal (merged on insert) and a slot that became uniform is turned back into a run (or dropped,
 * for zeroes) when the digest is taken, so equal contents hash equally however they were written.
 *
 * @module
 * @internal
 */
import { HashSum, Hasher, PAGE_SIZE, type HashPair } from "@dmasim/kernel";
import { PageHashes } from "./hash";
import { PageStore } from "./pagestore";
import { RunList } from "./runs";

/** A run of whole pages `[start, end)` (pfns) holding the byte `value` (never 0: zero is absent). */
interface ByteRun {
  start: number;
  end: number;
  readonly value: number;
}

const sameValue = (a: ByteRun, b: ByteRun): boolean => a.value === b.value;

function runHash(r: ByteRun): HashPair {
  return new Hasher().num(r.start).num(r.end).word(r.value).done();
}

/** Whether `n` bytes of `src` from `off` all equal `src[off]`. */
export function isUniform(src: Uint8Array, off: number, n: number): boolean {
  const b = src[off] as number;
  let i = off;
  const end = off + n;
  // word by word where the view allows it
  if (((src.byteOffset + i) & 3) === 0 && n >= 64) {
    const w = b * 0x01010101;
    const words = new Uint32Array(src.buffer, src.byteOffset + i, n >> 2);
    for (let j = 0; j < words.length; j++) {
      if (words[j] !== w >>> 0) {
        return false;
      }
    }
    i += words.length << 2;
  }
  for (; i < end; i++) {
    if (src[i] !== b) {
      return false;
    }
  }
  return true;
}

/** A sparse byte store of runs and page slots. @internal */
export class ByteStore {
  private readonly store = new PageStore();
  /** Materialised pages: pfn to slot. */
  private readonly slots = new Map<number, number>();
  private readonly runs = new RunList<ByteRun>((r) => ({ ...r }));
  /** Sum of the hashes of the (maximal) runs. */
  private readonly runSum = new HashSum();
  /** Slots written since the last digest (checked for uniformity then). */
  private readonly touched = new Set<number>();
  private readonly hashes = new PageHashes(PAGE_SIZE / 4, (pfn) => {
    const slot = this.slots.get(pfn);
    return slot === undefined
      ? null
      : { words: this.store.words(slot), from: this.store.wordOffset(slot) };
  });

  /** The byte every byte of page `pfn` holds, or -1 when the page has a slot of its own. */
  uniformByte(pfn: number): number {
    if (this.slots.has(pfn)) {
      return -1;
    }
    return this.runs.find(pfn)?.value ?? 0;
  }

  /** The pfns of `[p0, p1)` that have a slot, ascending. */
  private slotsIn(p0: number, p1: number): number[] {
    const out: number[] = [];
    if (this.slots.size === 0) {
      return out;
    }
    if (p1 - p0 <= this.slots.size) {
      for (let p = p0; p < p1; p++) {
        if (this.slots.has(p)) {
          out.push(p);
        }
      }
      return out;
    }
    for (const p of this.slots.keys()) {
      if (p >= p0 && p < p1) {
        out.push(p);
      }
    }
    return out.sort((x, y) => x - y);
  }

  /**
   * The pages of `[p0, p1)` as pieces `[start, end, value]`: `value` is the byte every byte of the
   * piece holds, or -1 for a single page with a slot. Costs the runs and slots in the range.
   */
  pieces(p0: number, p1: number): [number, number, number][] {
    const out: [number, number, number][] = [];
    const slots = this.slotsIn(p0, p1);
    const runs = this.runs.overlapping(p0, p1);
    let si = 0;
    let ri = 0;
    let p = p0;
    while (p < p1) {
      if (slots[si] === p) {
        out.push([p, p + 1, -1]);
        si++;
        p++;
        continue;
      }
      while (ri < runs.length && (runs[ri] as ByteRun).end <= p) {
        ri++;
      }
      const r = runs[ri];
      const inRun = r !== undefined && r.start <= p;
      let end = inRun ? Math.min(r.end, p1) : Math.min(r ? r.start : p1, p1);
      const nextSlot = slots[si];
      if (nextSlot !== undefined && nextSlot < end) {
        end = nextSlot;
      }
      out.push([p, end, inRun ? r.value : 0]);
      p = end;
    }
    return out;
  }

  /**
   * Edit the runs around `[p0, p1)` with `fn`, keeping the sum of run hashes exact: every run `fn`
   * may change (cut, merged, inserted) overlaps `[p0 - 1, p1 + 1)` before and after.
   */
  private editRuns(p0: number, p1: number, fn: () => void): void {
    for (const r of this.runs.overlapping(p0 - 1, p1 + 1)) {
      this.runSum.remove(runHash(r));
    }
    fn();
    for (const r of this.runs.overlapping(p0 - 1, p1 + 1)) {
      this.runSum.add(runHash(r));
    }
  }

  /** Give page `pfn` a slot of its own (holding what it held) and return it. */
  private materialise(pfn: number): number {
    let slot = this.slots.get(pfn);
    if (slot !== undefined) {
      return slot;
    }
    const r = this.runs.find(pfn);
    slot = this.store.alloc(false);
    const off = this.store.offset(slot);
    this.store.array(slot).fill(r ? r.value : 0, off, off + PAGE_SIZE);
    if (r) {
      this.editRuns(pfn, pfn + 1, () => this.runs.cut(pfn, pfn + 1));
    }
    this.slots.set(pfn, slot);
    this.hashes.touch(pfn, 0, PAGE_SIZE);
    return slot;
  }

  /** Release the slot of `pfn` (its bytes are now described by runs, or zero). */
  private release(pfn: number): void {
    const slot = this.slots.get(pfn);
    if (slot === undefined) {
      return;
    }
    this.store.release(slot);
    this.slots.delete(pfn);
    this.touched.delete(pfn);
    this.hashes.touch(pfn, 0, PAGE_SIZE);
  }

  /** Make `[p0, p1)` (whole pages) one run of `value` (or absent, for 0), merging neighbours. */
  private setRun(p0: number, p1: number, value: number): void {
    if (p0 >= p1) {
      return;
    }
    for (const p of this.slotsIn(p0, p1)) {
      this.release(p);
    }
    this.editRuns(p0, p1, () => {
      this.runs.cut(p0, p1);
      if (value !== 0) {
        const run: ByteRun = { start: p0, end: p1, value };
        this.runs.insert(run);
        this.runs.mergeAround(run, sameValue);
      }
    });
  }

  /** Read `len` bytes at `pa` (within one page) into `dst[dstOff..]`. */
  readPage(pa: number, dst: Uint8Array, dstOff: number, len: number): void {
    const pfn = Math.floor(pa / PAGE_SIZE);
    const slot = this.slots.get(pfn);
    if (slot === undefined) {
      dst.fill(this.runs.find(pfn)?.value ?? 0, dstOff, dstOff + len);
      return;
    }
    const off = this.store.offset(slot) + (pa - pfn * PAGE_SIZE);
    dst.set(this.store.array(slot).subarray(off, off + len), dstOff);
  }

  /** Write `len` bytes of `src[srcOff..]` at `pa` (within one page). */
  writePage(pa: number, src: Uint8Array, srcOff: number, len: number): void {
    const pfn = Math.floor(pa / PAGE_SIZE);
    if (len === PAGE_SIZE && isUniform(src, srcOff, len)) {
      this.setRun(pfn, pfn + 1, src[srcOff] as number);
      return;
    }
    const slot = this.materialise(pfn);
    const po = pa - pfn * PAGE_SIZE;
    this.hashes.touch(pfn, po, len);
    this.touched.add(pfn);
    this.store.array(slot).set(src.subarray(srcOff, srcOff + len), this.store.offset(slot) + po);
  }

  /** Fill `len` bytes at `pa` (any range) with `value`. */
  fill(pa: number, len: number, value: number): void {
    let done = 0;
    while (done < len) {
      const a = pa + done;
      const pfn = Math.floor(a / PAGE_SIZE);
      const po = a - pfn * PAGE_SIZE;
      if (po === 0 && len - done >= PAGE_SIZE) {
        const pages = Math.floor((len - done) / PAGE_SIZE);
        this.setRun(pfn, pfn + pages, value);
        done += pages * PAGE_SIZE;
        continue;
      }
      const n = Math.min(len - done, PAGE_SIZE - po);
      if (this.uniformByte(pfn) !== value) {
        const slot = this.materialise(pfn);
        const off = this.store.offset(slot) + po;
        this.store.array(slot).fill(value, off, off + n);
        this.hashes.touch(pfn, po, n);
        this.touched.add(pfn);
      }
      done += n;
    }
  }

  /** Read any range (may cross pages). */
  read(pa: number, len: number): Uint8Array {
    const out = new Uint8Array(len);
    let done = 0;
    while (done < len) {
      const a = pa + done;
      const n = Math.min(len - done, PAGE_SIZE - (a % PAGE_SIZE));
      this.readPage(a, out, done, n);
      done += n;
    }
    return out;
  }

  /** Write any range (may cross pages). */
  write(pa: number, data: Uint8Array): void {
    let done = 0;
    while (done < data.length) {
      const a = pa + done;
      const n = Math.min(data.length - done, PAGE_SIZE - (a % PAGE_SIZE));
      this.writePage(a, data, done, n);
      done += n;
    }
  }

  /**
   * A hash of the contents, independent of how they were written: slots written since the last
   * call that became uniform are turned into runs first, then the slots' chunks written since are
   * rehashed. Costs the pages written since the last call (and the runs changed).
   */
  contentHash(): HashPair {
    for (const pfn of this.touched) {
      const slot = this.slots.get(pfn);
      if (slot === undefined) {
        continue;
      }
      const arr = this.store.array(slot);
      const off = this.store.offset(slot);
      if (isUniform(arr, off, PAGE_SIZE)) {
        this.setRun(pfn, pfn + 1, arr[off] as number);
      }
    }
    this.touched.clear();
    return new Hasher().pair(this.hashes.digest()).pair(this.runSum.value).done();
  }

  /** Pages that hold a slot. */
  get slotPages(): number {
    return this.slots.size;
  }

  /** Runs (uniform extents of whole pages). */
  get runCount(): number {
    return this.runs.length;
  }

  /** Host bytes held by the slots. */
  get hostBytes(): number {
    return this.store.hostBytes;
  }
}
