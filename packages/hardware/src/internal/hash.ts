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

/**
 * Per-page hashes of a sparse page store, combined order-independently and refreshed lazily: a
 * write marks its page stale, a digest rehashes only the stale pages. A page whose bytes are all
 * zero counts as absent (it reads the same as an untouched page). @internal
 */
export class PageHashes {
  private readonly stale = new Set<number>();
  private lastStale = -1;
  private readonly hashes = new Map<number, HashPair>();
  private readonly sum = new HashSum();
  private zero: HashPair | null = null;

  constructor(
    private readonly pageWords: number,
    /** The words of page `pfn` and their first index, or null when the page is not stored. */
    private readonly locate: (pfn: number) => { words: Uint32Array; from: number } | null,
  ) {}

  /** Page `pfn` is about to change (or changed). */
  touch(pfn: number): void {
    if (pfn !== this.lastStale) {
      this.stale.add(pfn);
      this.lastStale = pfn;
    }
  }

  private pageHash(pfn: number): HashPair | null {
    const at = this.locate(pfn);
    if (!at) {
      return null;
    }
    const h = new Hasher().words(at.words, at.from, this.pageWords).done();
    this.zero ??= new Hasher().words(new Uint32Array(this.pageWords), 0, this.pageWords).done();
    if (h[0] === this.zero[0] && h[1] === this.zero[1]) {
      return null;
    }
    return new Hasher().num(pfn).pair(h).done();
  }

  /** The combined hash of every stored page (rehashing the pages touched since the last call). */
  digest(): HashPair {
    for (const pfn of this.stale) {
      const old = this.hashes.get(pfn);
      if (old) {
        this.sum.remove(old);
        this.hashes.delete(pfn);
      }
      const h = this.pageHash(pfn);
      if (h) {
        this.sum.add(h);
        this.hashes.set(pfn, h);
      }
    }
    this.stale.clear();
    this.lastStale = -1;
    return this.sum.value;
  }
}
