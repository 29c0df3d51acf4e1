/**
 * Incremental hashes for the machine's state digest, built on the kernel's one 64-bit hash
 * (`Hasher`, `HashSum`): order-independent sums of keyed element hashes kept up to date as elements
 * change, so that a digest costs what changed since the last one rather than what is stored.
 *
 * **Kernel:** none (a model-checking aid of the simulator).
 *
 * @module
 * @internal
 */
import { HashSum, Hasher, type HashPair } from "@dmasim/kernel";

export { HashSum, Hasher, type HashPair };

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
