/**
 * Line histories as ranges: one record stands for the same event on every page piece (or every
 * line) of a range, numbered as if recorded one by one, and a line's history is rebuilt from the
 * records that cover it when a finding needs it. The history of a line is every event of the line
 * itself, the newest `depth` of them (capped per line, not per page).
 *
 * **Kernel:** none (host-side bookkeeping of the coherency checker).
 *
 * Exactness: a record of `unit` bytes and `stride` stands for one event per unit of its range (the
 * page pieces of an access, or the lines of a maintenance pass), the i-th numbered `seq0 + i *
 * stride`: the events a per-unit loop would have recorded, with the same numbers. Storage: records
 * within one page sit in that page's list, longer ones in one list; both are pruned, now and then,
 * of the records no line would show any more (each line shows its newest `depth` events), so memory
 * follows the operations, not the bytes.
 *
 * @module
 * @internal
 */
import { PAGE_SIZE } from "@dmasim/kernel";
import type { LineEvent, LineEventKind } from "../checker";

/** One record: an event on every unit of `[pa, pa + len)`. @internal */
export interface HistRecord {
  /** The sequence number of the event on the first unit. */
  readonly seq0: number;
  /** Sequence numbers between the events of consecutive units. */
  readonly stride: number;
  /** Bytes per unit: `PAGE_SIZE` (one event per page piece) or the line size (one per line). */
  readonly unit: number;
  readonly step: number;
  readonly kind: LineEventKind;
  readonly agent: string;
  readonly pa: number;
  readonly len: number;
  readonly note: string | undefined;
  /** The address the agent used for `pa` (a DMA address), if not `pa`. */
  readonly addr: number | undefined;
  /**
   * When set, each unit's note ends with the virtual address of its first byte: `note` then
   * `0x…` of `noteVa + (first byte - pa)` (one record for the pages of a mapping, each event naming
   * its own address as a per-page record did).
   */
  readonly noteVa?: number;
}

interface PageList {
  readonly recs: HistRecord[];
  /** Records kept by the last pruning (the next one waits for twice as many). */
  kept: number;
}

/** The event of `r` on the unit holding byte `at`, as a {@link LineEvent}. */
function eventAt(r: HistRecord, at: number): LineEvent {
  const unitStart = at - (at % r.unit);
  const first = r.pa - (r.pa % r.unit);
  const from = Math.max(r.pa, unitStart);
  const to = Math.min(r.pa + r.len, unitStart + r.unit);
  const ev: { -readonly [K in keyof LineEvent]: LineEvent[K] } = {
    seq: r.seq0 + ((unitStart - first) / r.unit) * r.stride,
    step: r.step,
    kind: r.kind,
    agent: r.agent,
    pa: from,
    len: to - from,
  };
  if (r.note !== undefined) {
    ev.note =
      r.noteVa === undefined ? r.note : `${r.note}0x${(r.noteVa + (from - r.pa)).toString(16)}`;
  }
  if (r.addr !== undefined) {
    ev.addr = r.addr + (from - r.pa);
  }
  return ev;
}

/**
 * Per-line counts over line numbers, for pruning: sorted, disjoint segments `[start, end)` with a
 * count (lines in no segment count 0). Queries and updates cost a binary search plus the segments
 * they overlap.
 */
class Coverage {
  private readonly starts: number[] = [];
  private readonly ends: number[] = [];
  private readonly counts: number[] = [];

  /** Index of the first segment whose end is above `l`. */
  private first(l: number): number {
    let lo = 0;
    let hi = this.ends.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if ((this.ends[mid] as number) <= l) {
        lo = mid + 1;
      } else {
        hi = mid;
      }
    }
    return lo;
  }

  /** The smallest count over `[l0, l1)`. */
  min(l0: number, l1: number): number {
    let at = l0;
    let min = Infinity;
    for (let i = this.first(l0); i < this.starts.length && at < l1; i++) {
      if ((this.starts[i] as number) > at) {
        return 0; // a gap
      }
      min = Math.min(min, this.counts[i] as number);
      at = this.ends[i] as number;
    }
    return at < l1 ? 0 : min;
  }

  /** Count one more over `[l0, l1)`, capped at `cap`. */
  add(l0: number, l1: number, cap: number): void {
    const i0 = this.first(l0);
    let i1 = i0;
    const s: number[] = [];
    const e: number[] = [];
    const c: number[] = [];
    const push = (a: number, b: number, n: number): void => {
      if (a < b) {
        s.push(a);
        e.push(b);
        c.push(n);
      }
    };
    let at = l0;
    while (i1 < this.starts.length && (this.starts[i1] as number) < l1) {
      const ss = this.starts[i1] as number;
      const se = this.ends[i1] as number;
      const sc = this.counts[i1] as number;
      push(ss, Math.min(se, l0), sc); // the part before l0
      push(at, Math.min(ss, l1), 1); // a gap
      push(Math.max(ss, l0), Math.min(se, l1), Math.min(cap, sc + 1));
      push(l1, se, sc); // the part after l1
      at = Math.max(at, Math.min(se, l1));
      i1++;
    }
    push(at, l1, 1);
    this.starts.splice(i0, i1 - i0, ...s);
    this.ends.splice(i0, i1 - i0, ...e);
    this.counts.splice(i0, i1 - i0, ...c);
  }
}

/** The line histories of a machine. @internal */
export class HistoryStore {
  private readonly byPage = new Map<number, PageList>();
  private readonly long: PageList = { recs: [], kept: 0 };

  constructor(
    private readonly lineSize: number,
    /** Events shown per line. */
    private readonly depth: number,
  ) {}

  /** Add a record (its sequence numbers already taken). */
  add(r: HistRecord): void {
    const pfn = Math.floor(r.pa / PAGE_SIZE);
    if (r.len > 0 && Math.floor((r.pa + r.len - 1) / PAGE_SIZE) === pfn) {
      let list = this.byPage.get(pfn);
      if (!list) {
        list = { recs: [], kept: 0 };
        this.byPage.set(pfn, list);
      }
      list.recs.push(r);
      if (list.recs.length >= 2 * Math.max(this.depth, list.kept)) {
        this.prunePage(list);
      }
      return;
    }
    const long = this.long;
    long.recs.push(r);
    if (long.recs.length >= 2 * Math.max(this.depth, long.kept)) {
      this.pruneLong(long);
    }
  }

  /** {@link HistoryStore.pruneLong} for the records of one page: a count per line of the page. */
  private prunePage(list: PageList): void {
    const counts = new Uint16Array(PAGE_SIZE / this.lineSize);
    const keep: HistRecord[] = [];
    for (let i = list.recs.length - 1; i >= 0; i--) {
      const r = list.recs[i] as HistRecord;
      const po = r.pa % PAGE_SIZE;
      const l0 = Math.floor(po / this.lineSize);
      const l1 = Math.floor((po + Math.max(1, r.len) - 1) / this.lineSize);
      let shown = false;
      for (let l = l0; l <= l1; l++) {
        if ((counts[l] as number) < this.depth) {
          shown = true;
          counts[l] = (counts[l] as number) + 1;
        }
      }
      if (shown) {
        keep.push(r);
      }
    }
    keep.reverse();
    list.recs.length = 0;
    list.recs.push(...keep);
    list.kept = keep.length;
  }

  /** Drop the records that no line would show any more (each line shows its newest `depth`). */
  private pruneLong(list: PageList): void {
    const cover = new Coverage();
    const keep: HistRecord[] = [];
    for (let i = list.recs.length - 1; i >= 0; i--) {
      const r = list.recs[i] as HistRecord;
      const l0 = Math.floor(r.pa / this.lineSize);
      const l1 = Math.floor((r.pa + Math.max(1, r.len) - 1) / this.lineSize) + 1;
      if (cover.min(l0, l1) < this.depth) {
        keep.push(r);
        cover.add(l0, l1, this.depth);
      }
    }
    keep.reverse();
    list.recs.length = 0;
    list.recs.push(...keep);
    list.kept = keep.length;
  }

  /** The history of the line holding `pa`: its newest `depth` events, oldest first. */
  lineHistory(pa: number): LineEvent[] {
    const line = pa - (pa % this.lineSize);
    const end = line + this.lineSize;
    const out: LineEvent[] = [];
    const take = (recs: readonly HistRecord[]): void => {
      for (const r of recs) {
        if (r.pa < end && r.pa + r.len > line) {
          out.push(eventAt(r, Math.max(line, r.pa)));
        }
      }
    };
    take(this.byPage.get(Math.floor(pa / PAGE_SIZE))?.recs ?? []);
    take(this.long.recs);
    out.sort((x, y) => x.seq - y.seq);
    return out.slice(-this.depth);
  }
}
