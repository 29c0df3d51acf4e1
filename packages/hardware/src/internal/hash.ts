/**
 * Hashing for the machine's state digest: a streaming 64-bit hasher (two independent 32-bit lanes)
 * over 32-bit words, and order-independent sums of keyed element hashes that can be kept up to date
 * as elements change, so that a digest costs what changed since the last one rather than what is
 * stored.
 *
 * **Kernel:** none (a model-checking aid of the simulator).
 *
 * @module
 * @internal
 */

const TWO32 = 2 ** 32;

function rotl(x: number, r: number): number {
  return (x << r) | (x >>> (32 - r));
}

/** murmur3's finaliser: every input bit affects every output bit. */
function fmix(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** A streaming hash of words, numbers and strings into two 32-bit lanes. @internal */
export class Hasher {
  private a = 0x2545f491;
  private b = 0x9e3779b9;
  private n = 0;

  /** Feed one 32-bit word (any number; only its low 32 bits count). */
  word(x: number): this {
    let k = Math.imul(x, 0xcc9e2d51);
    k = Math.imul(rotl(k, 15), 0x1b873593);
    this.a = (Math.imul(rotl(this.a ^ k, 13), 5) + 0xe6546b64) | 0;
    let j = Math.imul(x ^ (x >>> 16), 0x7feb352d);
    j ^= j >>> 15;
    this.b = Math.imul(this.b ^ j, 0x5bd1e995);
    this.b ^= this.b >>> 13;
    this.n++;
    return this;
  }

  /** Feed an integer in (-2^53, 2^53) (addresses, pfns, `-1` markers). */
  num(x: number): this {
    return this.word(x >>> 0).word(Math.floor(x / TWO32));
  }

  /** Feed a string (its length, then its UTF-16 code units). */
  str(s: string): this {
    this.word(s.length);
    for (let i = 0; i < s.length; i++) {
      this.word(s.charCodeAt(i));
    }
    return this;
  }

  /** Feed `count` words of `words` from index `from`. */
  words(words: Uint32Array, from: number, count: number): this {
    let a = this.a;
    let b = this.b;
    for (let i = from, end = from + count; i < end; i++) {
      const x = words[i] as number;
      let k = Math.imul(x, 0xcc9e2d51);
      k = Math.imul((k << 15) | (k >>> 17), 0x1b873593);
      a ^= k;
      a = (Math.imul((a << 13) | (a >>> 19), 5) + 0xe6546b64) | 0;
      let j = Math.imul(x ^ (x >>> 16), 0x7feb352d);
      j ^= j >>> 15;
      b = Math.imul(b ^ j, 0x5bd1e995);
      b ^= b >>> 13;
    }
    this.a = a;
    this.b = b;
    this.n += count;
    return this;
  }

  /**
   * Write to `out[at]`, `out[at + 1]` the lanes {@link Hasher.done} would give after feeding `w`
   * and `count` words of `words` from `from`, leaving this hasher as it was (no allocation: many
   * inputs hashed after a common prefix).
   */
  peek(
    w: number,
    words: Uint32Array,
    from: number,
    count: number,
    out: Int32Array,
    at: number,
  ): void {
    const a = this.a;
    const b = this.b;
    const n = this.n;
    this.word(w).words(words, from, count);
    out[at] = fmix(this.a ^ this.n);
    out[at + 1] = fmix(this.b ^ Math.imul(this.n, 0x27d4eb2f));
    this.a = a;
    this.b = b;
    this.n = n;
  }

  /** Feed a pair of lanes (a nested hash or a sum). */
  pair(p: HashPair): this {
    return this.word(p[0]).word(p[1]);
  }

  /** The finished lanes. */
  done(): HashPair {
    return [fmix(this.a ^ this.n), fmix(this.b ^ Math.imul(this.n, 0x27d4eb2f))];
  }

  /** The finished hash as 16 hex digits. */
  hex(): string {
    const [a, b] = this.done();
    return a.toString(16).padStart(8, "0") + b.toString(16).padStart(8, "0");
  }
}

/** Two 32-bit lanes. @internal */
export type HashPair = readonly [number, number];

/**
 * An order-independent multiset hash: the lane-wise sum (mod 2^32) of its elements' hashes.
 * Elements are added and removed in O(1), so the sum of a large, slowly changing collection stays
 * current without a full pass. @internal
 */
export class HashSum {
  private a = 0;
  private b = 0;

  add(p: HashPair): void {
    this.a = (this.a + p[0]) | 0;
    this.b = (this.b + p[1]) | 0;
  }

  remove(p: HashPair): void {
    this.a = (this.a - p[0]) | 0;
    this.b = (this.b - p[1]) | 0;
  }

  clear(): void {
    this.a = 0;
    this.b = 0;
  }

  get value(): HashPair {
    return [this.a >>> 0, this.b >>> 0];
  }
}

/**
 * A map of numbers to values whose contents are also kept as a {@link HashSum} of
 * `hash(key, value)`: every `set`, `delete` and `clear` updates it, whichever code path mutates the
 * map. Values must not change while stored (replace them instead). @internal
 */
export class HashedMap<V> extends Map<number, V> {
  private readonly sum = new HashSum();
  private readonly elem: (key: number, value: V) => HashPair;

  /** Starts empty (entries given to `Map`'s constructor would bypass the sum). */
  constructor(elem: (key: number, value: V) => HashPair) {
    super();
    this.elem = elem;
  }

  override set(key: number, value: V): this {
    if (super.has(key)) {
      this.sum.remove(this.elem(key, super.get(key) as V));
    }
    this.sum.add(this.elem(key, value));
    return super.set(key, value);
  }

  override delete(key: number): boolean {
    if (!super.has(key)) {
      return false;
    }
    this.sum.remove(this.elem(key, super.get(key) as V));
    return super.delete(key);
  }

  override clear(): void {
    this.sum.clear();
    super.clear();
  }

  /** The hash of the contents, independent of insertion order. */
  get contentHash(): HashPair {
    return this.sum.value;
  }
}

/** Words per hashed chunk of a page (64 bytes, a common cache line). */
const CHUNK_WORDS = 16;

/**
 * Hashes of a sparse page store, combined order-independently and refreshed lazily at the grain of
 * 64-byte chunks: a write marks the chunks it covers stale, a digest rehashes only those. The sum
 * is over the chunks that are not all zero, each hashed with its page and index, so a page whose
 * bytes are all zero counts as absent (it reads the same as an untouched page). @internal
 */
export class PageHashes {
  /** Stale chunks by page: a bit mask, 32 chunks per word. */
  private readonly stale = new Map<number, Uint32Array>();
  /** Each hashed page's chunk hashes (two lanes per chunk; 0, 0 for a zero chunk). */
  private readonly chunks = new Map<number, Int32Array>();
  private readonly sum = new HashSum();
  private readonly nchunks: number;

  constructor(
    private readonly pageWords: number,
    /** The words of page `pfn` and their first index, or null when the page is not stored. */
    private readonly locate: (pfn: number) => { words: Uint32Array; from: number } | null,
  ) {
    this.nchunks = Math.ceil(pageWords / CHUNK_WORDS);
  }

  /** Bytes `[off, off + len)` of page `pfn` are about to change (or changed). */
  touch(pfn: number, off: number, len: number): void {
    if (len <= 0) {
      return;
    }
    let mask = this.stale.get(pfn);
    if (!mask) {
      mask = new Uint32Array(Math.ceil(this.nchunks / 32));
      this.stale.set(pfn, mask);
    }
    const c1 = Math.min(this.nchunks - 1, Math.floor((off + len - 1) / (CHUNK_WORDS * 4)));
    for (let c = Math.floor(off / (CHUNK_WORDS * 4)); c <= c1; c++) {
      mask[c >>> 5] = (mask[c >>> 5] as number) | (1 << (c & 31));
    }
  }

  private rehash(pfn: number, mask: Uint32Array): void {
    const at = this.locate(pfn);
    let hs = this.chunks.get(pfn);
    if (!hs) {
      if (!at) {
        return;
      }
      hs = new Int32Array(2 * this.nchunks);
      this.chunks.set(pfn, hs);
    }
    // each chunk is hashed with its page and index: Hasher().num(pfn).word(c).words(chunk)
    const seed = new Hasher().num(pfn);
    let sa = 0;
    let sb = 0;
    for (let c = 0; c < this.nchunks; c++) {
      if (((mask[c >>> 5] as number) & (1 << (c & 31))) === 0) {
        continue;
      }
      sa -= hs[2 * c] as number;
      sb -= hs[2 * c + 1] as number;
      hs[2 * c] = 0;
      hs[2 * c + 1] = 0;
      if (at) {
        const from = at.from + c * CHUNK_WORDS;
        const n = Math.min(CHUNK_WORDS, this.pageWords - c * CHUNK_WORDS);
        const words = at.words;
        for (let i = 0; i < n; i++) {
          if (words[from + i] !== 0) {
            seed.peek(c, words, from, n, hs, 2 * c);
            break;
          }
        }
      }
      sa += hs[2 * c] as number;
      sb += hs[2 * c + 1] as number;
    }
    this.sum.add([sa | 0, sb | 0]);
  }

  /** The combined hash of every stored page (rehashing the chunks touched since the last call). */
  digest(): HashPair {
    for (const [pfn, mask] of this.stale) {
      this.rehash(pfn, mask);
    }
    this.stale.clear();
    return this.sum.value;
  }
}
