/**
 * The replacement state of a cache with a capacity: sets of `ways` lines in LRU order.
 *
 * **Kernel:** none (hardware: a set-associative cache's replacement policy).
 *
 * @module
 * @internal
 */
import type { CachePage, DataCache } from "../cache";
import type { Hasher } from "./hash";

/** LRU sets of a capacity-limited cache. @internal */
export class LruSets {
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
