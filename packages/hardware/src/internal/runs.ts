/**
 * Sorted lists of disjoint runs `[start, end)` of integers (page frame numbers), each carrying one
 * value: the building block of every uniform extent the hardware keeps (memory and ideal memory of
 * one byte value, writer provenance, cache lines in one state with one content).
 *
 * **Kernel:** none (host-side storage of the simulator).
 *
 * Runs are kept in an array sorted by `start`; lookups are binary searches and edits splice the
 * array, so every operation costs O(log n) plus the runs it touches (plus a memmove of the array,
 * which stays small: a run stands for any number of pages).
 *
 * @module
 * @internal
 */

/** A run: `[start, end)` with a value of the run list's type. */
export interface Run {
  start: number;
  end: number;
}

/** A sorted list of disjoint runs. @internal */
export class RunList<R extends Run> {
  private readonly runs: R[] = [];

  /** @param clone - a copy of a run (with its own `start` and `end`), used to split one in two */
  constructor(private readonly clone: (r: R) => R) {}

  /** Number of runs. */
  get length(): number {
    return this.runs.length;
  }

  /** Every run, in order (a live view: do not edit the list while iterating it). */
  all(): readonly R[] {
    return this.runs;
  }

  /** Index of the first run whose `end` is above `k` (the run holding `k`, or the next one). */
  private lowerBound(k: number): number {
    let lo = 0;
    let hi = this.runs.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if ((this.runs[mid] as R).end <= k) {
        lo = mid + 1;
      } else {
        hi = mid;
      }
    }
    return lo;
  }

  /** The run holding `k`, if any. */
  find(k: number): R | undefined {
    const r = this.runs[this.lowerBound(k)];
    return r && r.start <= k ? r : undefined;
  }

  /** The runs overlapping `[start, end)`, in order (a copy). */
  overlapping(start: number, end: number): R[] {
    const out: R[] = [];
    for (let i = this.lowerBound(start); i < this.runs.length; i++) {
      const r = this.runs[i] as R;
      if (r.start >= end) {
        break;
      }
      out.push(r);
    }
    return out;
  }

  /** Whether any run overlaps `[start, end)`. */
  overlaps(start: number, end: number): boolean {
    const r = this.runs[this.lowerBound(start)];
    return r !== undefined && r.start < end;
  }

  /** Make `k` a run boundary: a run holding `k` strictly inside is split in two there. */
  splitAt(k: number): void {
    const i = this.lowerBound(k);
    const r = this.runs[i];
    if (!r || r.start >= k) {
      return;
    }
    const right = this.clone(r);
    right.start = k;
    r.end = k;
    this.runs.splice(i + 1, 0, right);
  }

  /** Remove and return the runs inside `[start, end)`, splitting the runs across its ends. */
  cut(start: number, end: number): R[] {
    this.splitAt(start);
    this.splitAt(end);
    const i = this.lowerBound(start);
    let j = i;
    while (j < this.runs.length && (this.runs[j] as R).start < end) {
      j++;
    }
    return this.runs.splice(i, j - i);
  }

  /** Insert a run over a range no run overlaps. */
  insert(r: R): void {
    this.runs.splice(this.lowerBound(r.start), 0, r);
  }

  /** Remove a run of this list (by identity). */
  remove(r: R): void {
    const i = this.lowerBound(r.start);
    if (this.runs[i] === r) {
      this.runs.splice(i, 1);
    }
  }

  /**
   * Merge `r` with the runs right before and after it when `same` says they carry the same value
   * and they touch. Returns the run that now holds `r`'s range.
   */
  mergeAround(r: R, same: (a: R, b: R) => boolean): R {
    let i = this.lowerBound(r.start);
    if (this.runs[i] !== r) {
      return r;
    }
    const prev = this.runs[i - 1];
    let cur = r;
    if (prev && prev.end === cur.start && same(prev, cur)) {
      prev.end = cur.end;
      this.runs.splice(i, 1);
      i--;
      cur = prev;
    }
    const next = this.runs[i + 1];
    if (next && cur.end === next.start && same(cur, next)) {
      cur.end = next.end;
      this.runs.splice(i + 1, 1);
    }
    return cur;
  }

  /** Remove every run. */
  clear(): void {
    this.runs.length = 0;
  }
}
