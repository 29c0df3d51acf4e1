/**
 * Page-sized byte storage carved out of 16 KiB slabs, so that a simulated page costs one slot (and
 * no JavaScript object of its own) and host memory grows with the pages actually touched.
 *
 * **Kernel:** none (host-side storage of the simulator).
 *
 * @module
 * @internal
 */
import { PAGE_SIZE } from "@dmasim/kernel";

// small slabs: a run that touches a few pages (an explored scenario) zeroes 16 KiB, not 1 MiB
const SLAB_SHIFT = 2; // 4 pages = 16 KiB per slab
const SLAB_PAGES = 1 << SLAB_SHIFT;

/** A pool of page-sized slots. @internal */
export class PageStore {
  private readonly slabs: Uint8Array[] = [];
  /** The same slabs as 32-bit words (for hashing). */
  private readonly slabWords: Uint32Array[] = [];
  private readonly freeSlots: number[] = [];
  private next = 0;

  /** Take a slot. Its bytes are zero when `zero` (reused slots are cleared). */
  alloc(zero: boolean): number {
    const reused = this.freeSlots.pop();
    if (reused !== undefined) {
      if (zero) {
        const off = this.offset(reused);
        this.array(reused).fill(0, off, off + PAGE_SIZE);
      }
      return reused;
    }
    const slot = this.next++;
    if (slot >> SLAB_SHIFT >= this.slabs.length) {
      const slab = new Uint8Array(SLAB_PAGES * PAGE_SIZE);
      this.slabs.push(slab);
      this.slabWords.push(new Uint32Array(slab.buffer));
    }
    return slot;
  }

  /** The slab holding `slot` as 32-bit words. */
  words(slot: number): Uint32Array {
    return this.slabWords[slot >> SLAB_SHIFT] as Uint32Array;
  }

  /** The word index of `slot` inside its slab. */
  wordOffset(slot: number): number {
    return (slot & (SLAB_PAGES - 1)) * (PAGE_SIZE / 4);
  }

  /** Give a slot back. */
  release(slot: number): void {
    this.freeSlots.push(slot);
  }

  /** The slab holding `slot`. */
  array(slot: number): Uint8Array {
    return this.slabs[slot >> SLAB_SHIFT] as Uint8Array;
  }

  /** The byte offset of `slot` inside its slab. */
  offset(slot: number): number {
    return (slot & (SLAB_PAGES - 1)) * PAGE_SIZE;
  }

  /** Host bytes held. */
  get hostBytes(): number {
    return this.slabs.length * SLAB_PAGES * PAGE_SIZE;
  }

  /** Slots in use. */
  get used(): number {
    return this.next - this.freeSlots.length;
  }
}

const WORD_SHIFT = 0; // 1 page of writer ids = 16 KiB per slab
const WORD_PAGES = 1 << WORD_SHIFT;

/** A pool of page-sized `Uint32Array` slots (per-byte writer ids). @internal */
export class WordStore {
  private readonly slabs: Uint32Array[] = [];
  private readonly freeSlots: number[] = [];
  private next = 0;

  alloc(): number {
    const reused = this.freeSlots.pop();
    if (reused !== undefined) {
      return reused;
    }
    const slot = this.next++;
    if (slot >> WORD_SHIFT >= this.slabs.length) {
      this.slabs.push(new Uint32Array(WORD_PAGES * PAGE_SIZE));
    }
    return slot;
  }

  array(slot: number): Uint32Array {
    return this.slabs[slot >> WORD_SHIFT] as Uint32Array;
  }

  /** Give a slot back (its contents are stale: the next user fills it). */
  release(slot: number): void {
    this.freeSlots.push(slot);
  }

  offset(slot: number): number {
    return (slot & (WORD_PAGES - 1)) * PAGE_SIZE;
  }

  get hostBytes(): number {
    return this.slabs.length * WORD_PAGES * PAGE_SIZE * 4;
  }
}
