/**
 * Physical memory (DRAM): one bank of RAM, stored sparsely. A page costs host memory only once it
 * is written; unwritten pages read as zeroes.
 *
 * **Kernel:** none (hardware: DRAM behind the point of coherency; what a non-coherent device sees).
 *
 * @module
 */
import { PAGE_SIZE } from "@dmasim/kernel";
import { PageHashes, type HashPair } from "./internal/hash";
import { PageStore } from "./internal/pagestore";

/**
 * The machine's RAM as devices and write-backs see it ("memory" in DESIGN.md, the PoC view).
 *
 * **Kernel:** none (hardware: DRAM).
 *
 * **Locking:** none (hardware; callers serialise through the simulator's single thread).
 */
export class PhysMemory {
  private readonly store = new PageStore();
  private readonly pages = new Map<number, number>();
  private readonly hashes = new PageHashes(PAGE_SIZE / 4, (pfn) => {
    const slot = this.pages.get(pfn);
    return slot === undefined
      ? null
      : { words: this.store.words(slot), from: this.store.wordOffset(slot) };
  });

  constructor(
    /** First physical address of RAM. */
    readonly base: number,
    /** Bytes of RAM. */
    readonly size: number,
  ) {}

  /** One past the last RAM address. */
  get end(): number {
    return this.base + this.size;
  }

  /** Whether `[pa, pa + len)` lies in RAM. */
  contains(pa: number, len: number): boolean {
    return pa >= this.base && len >= 0 && pa + len <= this.end;
  }

  /** Read `len` bytes at `pa` (within one page) into `dst[dstOff..]`. */
  readPage(pa: number, dst: Uint8Array, dstOff: number, len: number): void {
    const pfn = Math.floor(pa / PAGE_SIZE);
    const slot = this.pages.get(pfn);
    if (slot === undefined) {
      dst.fill(0, dstOff, dstOff + len);
      return;
    }
    const off = this.store.offset(slot) + (pa - pfn * PAGE_SIZE);
    dst.set(this.store.array(slot).subarray(off, off + len), dstOff);
  }

  /** Write `len` bytes of `src[srcOff..]` at `pa` (within one page). */
  writePage(pa: number, src: Uint8Array, srcOff: number, len: number): void {
    const pfn = Math.floor(pa / PAGE_SIZE);
    this.hashes.touch(pfn, pa - pfn * PAGE_SIZE, len);
    let slot = this.pages.get(pfn);
    if (slot === undefined) {
      slot = this.store.alloc(false);
      this.pages.set(pfn, slot);
    }
    const off = this.store.offset(slot) + (pa - pfn * PAGE_SIZE);
    this.store.array(slot).set(src.subarray(srcOff, srcOff + len), off);
  }

  /** Read any range (may cross pages). */
  read(pa: number, len: number): Uint8Array {
    const out = new Uint8Array(len);
    let done = 0;
    while (done < len) {
      const a = pa + done;
      const n = Math.min(len - done, PAGE_SIZE - (a % PAGE_SIZE));
      this.readPage(a, out, done, n);
      done += n;
    }
    return out;
  }

  /** Write any range (may cross pages). */
  write(pa: number, data: Uint8Array): void {
    let done = 0;
    while (done < data.length) {
      const a = pa + done;
      const n = Math.min(data.length - done, PAGE_SIZE - (a % PAGE_SIZE));
      this.writePage(a, data, done, n);
      done += n;
    }
  }

  /**
   * A hash of the contents of RAM, independent of the order pages were first written; a page of
   * zeroes counts as untouched. Costs the pages written since the last call.
   * @internal
   */
  contentHash(): HashPair {
    return this.hashes.digest();
  }

  /** How a state digest names this part of the machine when another layer holds it (never walked). */
  digestTag(): string {
    return "ram";
  }

  /** Pages that hold host memory. */
  get touchedPages(): number {
    return this.pages.size;
  }

  /** Host bytes held by the page store. */
  get hostBytes(): number {
    return this.store.hostBytes;
  }
}
