/**
 * The one 64-bit hash of dmasim: a streaming hasher over 32-bit words (two independent 32-bit
 * lanes, murmur3-style word mixing and finaliser), and an order-independent sum of element hashes
 * that can be kept current as elements come and go. State digests (`digestHash`, the hardware
 * layer's machine digest), text hashes and every other hash in the tree are built on it.
 *
 * **Kernel:** none (a model-checking aid of the simulator, like a state-vector hash).
 *
 * @module
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

/** Two 32-bit lanes: a 64-bit hash, or a sum of them. */
export type HashPair = readonly [number, number];

/**
 * A streaming 64-bit hash of 32-bit words, integers and strings (two independent lanes).
 *
 * **Kernel:** none. **Locking:** none (one hasher per digest).
 */
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

  /** Feed `count` words of `words` from index `from` (the same as `word()` on each, faster). */
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

/**
 * An order-independent multiset hash: the lane-wise sum (mod 2^32) of its elements' hashes.
 * Elements are added and removed in O(1), so the hash of a large, slowly changing collection stays
 * current without a full pass.
 *
 * **Kernel:** none. **Locking:** none.
 */
export class HashSum {
  private a = 0;
  private b = 0;

  /** Add an element's hash. */
  add(p: HashPair): void {
    this.a = (this.a + p[0]) | 0;
    this.b = (this.b + p[1]) | 0;
  }

  /** Remove an element's hash (added before). */
  remove(p: HashPair): void {
    this.a = (this.a - p[0]) | 0;
    this.b = (this.b - p[1]) | 0;
  }

  /** Forget every element. */
  clear(): void {
    this.a = 0;
    this.b = 0;
  }

  /** The sum. */
  get value(): HashPair {
    return [this.a >>> 0, this.b >>> 0];
  }
}

/**
 * A 64-bit hash of a string as 16 hex digits ({@link Hasher} over its length and code units).
 *
 * **Kernel:** none. **Locking:** none (pure).
 */
export function hashText(text: string): string {
  return new Hasher().str(text).hex();
}
