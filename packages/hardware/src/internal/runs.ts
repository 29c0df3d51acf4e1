/**
 * Sorted lists of disjoint runs `[start, end)` of integers (page frame numbers), each carrying one
 * value: the building block of every uniform extent the hardware keeps (memory and ideal memory of
 * one byte value, writer provenance, cache lines in one state with one content).
 *
 * **Kernel:** none (host-side storage of the simulator).
 *
 * Runs are kept in order in chunks of at most {@link CHUNK} runs (a sorted array of sorted arrays):
 * a lookup is two binary searches, an edit splices one chunk, so every operation costs O(log n +
 * CHUNK) plus the runs it touches, even with hundreds of thousands of runs (pages allocated one by
 * one from scattered free pages).
 *
 * @module
 * @internal
 */

/** A run: `[start, end)` with a value of the run list's type. */
export interface Run {
  start: number;
  end: number;
}

/** Runs per chunk at most (a chunk is split in two beyond it). */
const CHUNK = 256;

/** A position: chunk index, index in the chunk. */
type Pos = [number, number];

/** A sorted list of disjoint runs. @internal */
export class RunList<R extends Run> {
  private readonly chunks: R[][] = [];
  private count = 0;

  /** @param clone - a copy of a run (with its own `start` and `end`), used to split one in two */
  constructor(private readonly clone: (r: R) => R) {}

  /** Number of runs. */
  get length(): number {
    return this.count;
  }

  /** Every run, in order (a copy). */
  all(): R[] {
    const out: R[] = [];
    for (const c of this.chunks) {
      for (const r of c) {
        out.push(r);
      }
    }
    return out;
  }

  /** The position of the first run whose `end` is above `k` (the run holding `k`, or the next). */
  private lowerBound(k: number): Pos {
    const chunks = this.chunks;
    let lo = 0;
    let hi = chunks.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      const c = chunks[mid] as R[];
      if ((c[c.length - 1] as R).end <= k) {
        lo = mid + 1;
      } else {
        hi = mid;
      }
    }
    if (lo === chunks.length) {
      return [lo, 0];
    }
    const c = chunks[lo] as R[];
    let a = 0;
    let b = c.length;
    while (a < b) {
      const mid = (a + b) >> 1;
      if ((c[mid] as R).end <= k) {
        a = mid + 1;
      } else {
        b = mid;
      }
    }
    return [lo, a];
  }

  private at(p: Pos): R | undefined {
    return this.chunks[p[0]]?.[p[1]];
  }

  /** The position after `p`. */
  private next(p: Pos): Pos {
    const c = this.chunks[p[0]] as R[];
    return p[1] + 1 < c.length ? [p[0], p[1] + 1] : [p[0] + 1, 0];
  }

  /** The run holding `k`, if any. */
  find(k: number): R | undefined {
    const r = this.at(this.lowerBound(k));
    return r && r.start <= k ? r : undefined;
  }

  /** The runs overlapping `[start, end)`, in order (a copy). */
  overlapping(start: number, end: number): R[] {
    const out: R[] = [];
    for (let p = this.lowerBound(start); ; p = this.next(p)) {
      const r = this.at(p);
      if (!r || r.start >= end) {
        break;
      }
      out.push(r);
    }
    return out;
  }

  /** The first run that starts at or after `k` or holds it, if any. */
  firstFrom(k: number): R | undefined {
    return this.at(this.lowerBound(k));
  }

  /** Whether any run overlaps `[start, end)`. */
  overlaps(start: number, end: number): boolean {
    const r = this.at(this.lowerBound(start));
    return r !== undefined && r.start < end;
  }

  /** Insert `r` at position `p` (keeping the order), splitting a chunk that grows too large. */
  private insertAt(p: Pos, r: R): void {
    this.count++;
    if (this.chunks.length === 0) {
      this.chunks.push([r]);
      return;
    }
    let [ci, i] = p;
    if (ci === this.chunks.length) {
      ci--;
      i = (this.chunks[ci] as R[]).length;
    }
    const c = this.chunks[ci] as R[];
    c.splice(i, 0, r);
    if (c.length > 2 * CHUNK) {
      this.chunks.splice(ci + 1, 0, c.splice(CHUNK));
    }
  }

  /** Remove the run at `p`. */
  private removeAt(p: Pos): void {
    const c = this.chunks[p[0]] as R[];
    c.splice(p[1], 1);
    this.count--;
    if (c.length === 0) {
      this.chunks.splice(p[0], 1);
    }
  }

  /** Make `k` a run boundary: a run holding `k` strictly inside is split in two there. */
  splitAt(k: number): void {
    const p = this.lowerBound(k);
    const r = this.at(p);
    if (!r || r.start >= k) {
      return;
    }
    const right = this.clone(r);
    right.start = k;
    r.end = k;
    this.insertAt([p[0], p[1] + 1], right);
  }

  /** Remove and return the runs inside `[start, end)`, splitting the runs across its ends. */
  cut(start: number, end: number): R[] {
    this.splitAt(start);
    this.splitAt(end);
    const out: R[] = [];
    for (;;) {
      const p = this.lowerBound(start);
      const r = this.at(p);
      if (!r || r.start >= end) {
        break;
      }
      // remove the whole stretch of this chunk that lies inside
      const c = this.chunks[p[0]] as R[];
      let j = p[1];
      while (j < c.length && (c[j] as R).start < end) {
        j++;
      }
      out.push(...c.splice(p[1], j - p[1]));
      this.count -= j - p[1];
      if (c.length === 0) {
        this.chunks.splice(p[0], 1);
      }
    }
    return out;
  }

  /** Insert a run over a range no run overlaps. */
  insert(r: R): void {
    this.insertAt(this.lowerBound(r.start), r);
  }

  /** Remove a run of this list (by identity). */
  remove(r: R): void {
    const p = this.lowerBound(r.start);
    if (this.at(p) === r) {
      this.removeAt(p);
    }
  }

  /** The run right before the run at `p`, with its position. */
  private prevOf(p: Pos): [R, Pos] | undefined {
    if (p[1] > 0) {
      return [(this.chunks[p[0]] as R[])[p[1] - 1] as R, [p[0], p[1] - 1]];
    }
    if (p[0] > 0) {
      const c = this.chunks[p[0] - 1] as R[];
      return [c[c.length - 1] as R, [p[0] - 1, c.length - 1]];
    }
    return undefined;
  }

  /**
   * Merge `r` with the runs right before and after it when `same` says they carry the same value
   * and they touch. Returns the run that now holds `r`'s range.
   */
  mergeAround(r: R, same: (a: R, b: R) => boolean): R {
    let p = this.lowerBound(r.start);
    if (this.at(p) !== r) {
      return r;
    }
    let cur = r;
    const prev = this.prevOf(p);
    if (prev && prev[0].end === cur.start && same(prev[0], cur)) {
      prev[0].end = cur.end;
      this.removeAt(p);
      cur = prev[0];
      p = prev[1];
    }
    const np = this.next(p);
    const next = this.at(np);
    if (next && cur.end === next.start && same(cur, next)) {
      cur.end = next.end;
      this.removeAt(np);
    }
    return cur;
  }

  /** Remove every run. */
  clear(): void {
    this.chunks.length = 0;
    this.count = 0;
  }
}
