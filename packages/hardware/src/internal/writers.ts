/**
 * Writer provenance of the checker's ideal memory: which writer id (agent and step) last wrote each
 * byte, as extents. A run of whole pages written by one writer (a zeroed buffer, a device's frame)
 * is one run; a page gets a writer of its own once written partly, and one writer id per byte only
 * once two writers share it. Unwritten bytes belong to writer 0 ("boot").
 *
 * **Kernel:** none (host-side bookkeeping of the coherency checker).
 *
 * Exactness: every byte is in exactly one of (a page with a per-byte array, a page with one writer,
 * a run, none); a write replaces what it covers, splitting runs at page granularity, so `get()`
 * returns the writer of the last write to that byte.
 *
 * @module
 * @internal
 */
import { PAGE_SIZE } from "@dmasim/kernel";
import { WordStore } from "./pagestore";
import { RunList } from "./runs";

interface WriterRun {
  start: number;
  end: number;
  readonly writer: number;
}

/** A page's provenance: one writer for every byte, or (`writer` -1) one per byte in `wslot`. */
interface PageWriters {
  writer: number;
  wslot: number;
}

/** Writer ids per byte, as extents. @internal */
export class WriterStore {
  private readonly words = new WordStore();
  private readonly pages = new Map<number, PageWriters>();
  private readonly runs = new RunList<WriterRun>((r) => ({ ...r }));

  /** Record that `wid` wrote `[pa, pa + len)` (any range). */
  set(pa: number, len: number, wid: number): void {
    let done = 0;
    while (done < len) {
      const a = pa + done;
      const pfn = Math.floor(a / PAGE_SIZE);
      const po = a - pfn * PAGE_SIZE;
      if (po === 0 && len - done >= PAGE_SIZE) {
        const pages = Math.floor((len - done) / PAGE_SIZE);
        this.setRun(pfn, pfn + pages, wid);
        done += pages * PAGE_SIZE;
        continue;
      }
      const n = Math.min(len - done, PAGE_SIZE - po);
      this.setPart(pfn, po, n, wid);
      done += n;
    }
  }

  /** The writer id of the byte at `pa` (0: never written). */
  get(pa: number): number {
    const pfn = Math.floor(pa / PAGE_SIZE);
    const p = this.pages.get(pfn);
    if (!p) {
      return this.runs.find(pfn)?.writer ?? 0;
    }
    if (p.writer >= 0) {
      return p.writer;
    }
    return this.words.array(p.wslot)[this.words.offset(p.wslot) + (pa - pfn * PAGE_SIZE)] ?? 0;
  }

  private setRun(p0: number, p1: number, wid: number): void {
    if (this.pages.size > 0) {
      const inRange =
        p1 - p0 <= this.pages.size
          ? Array.from({ length: p1 - p0 }, (_, i) => p0 + i)
          : [...this.pages.keys()].filter((p) => p >= p0 && p < p1);
      for (const p of inRange) {
        this.dropPage(p);
      }
    }
    this.runs.cut(p0, p1);
    if (wid !== 0) {
      const run: WriterRun = { start: p0, end: p1, writer: wid };
      this.runs.insert(run);
      this.runs.mergeAround(run, (a, b) => a.writer === b.writer);
    }
  }

  private dropPage(pfn: number): void {
    const p = this.pages.get(pfn);
    if (p) {
      if (p.wslot >= 0) {
        this.words.release(p.wslot);
      }
      this.pages.delete(pfn);
    }
  }

  private setPart(pfn: number, po: number, n: number, wid: number): void {
    let p = this.pages.get(pfn);
    if (!p) {
      const r = this.runs.find(pfn);
      const was = r?.writer ?? 0;
      if (was === wid) {
        return;
      }
      if (r) {
        this.runs.cut(pfn, pfn + 1);
      }
      p = { writer: was, wslot: -1 };
      this.pages.set(pfn, p);
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
    w.fill(wid, wo + po, wo + po + n);
  }

  /** Host bytes held by per-byte writer arrays. */
  get hostBytes(): number {
    return this.words.hostBytes;
  }
}
