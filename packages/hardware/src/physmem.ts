/**
 * Physical memory (DRAM): one bank of RAM, stored as extents. A run of whole pages that hold one
 * byte value (zeroes, a fill) costs one run whatever its size; a page costs host memory (a slot)
 * only once it holds different bytes; unwritten pages read as zeroes.
 *
 * **Kernel:** none (hardware: DRAM behind the point of coherency; what a non-coherent device sees).
 *
 * @module
 */
import type { HashPair } from "@dmasim/kernel";
import { ByteStore } from "./internal/bytestore";

/**
 * The machine's RAM as devices and write-backs see it ("memory" in DESIGN.md, the PoC view).
 *
 * **Kernel:** none (hardware: DRAM).
 *
 * **Locking:** none (hardware; callers serialise through the simulator's single thread).
 */
export class PhysMemory {
  private readonly bytes = new ByteStore();

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
    this.bytes.readPage(pa, dst, dstOff, len);
  }

  /** Write `len` bytes of `src[srcOff..]` at `pa` (within one page). */
  writePage(pa: number, src: Uint8Array, srcOff: number, len: number): void {
    this.bytes.writePage(pa, src, srcOff, len);
  }

  /** Fill `len` bytes at `pa` (any range) with `value`: whole pages become one run, no storage. */
  fill(pa: number, len: number, value: number): void {
    this.bytes.fill(pa, len, value);
  }

  /** Read any range (may cross pages). */
  read(pa: number, len: number): Uint8Array {
    return this.bytes.read(pa, len);
  }

  /** Write any range (may cross pages). */
  write(pa: number, data: Uint8Array): void {
    this.bytes.write(pa, data);
  }

  /** The byte every byte of page `pfn` holds, or -1 when the page holds different bytes. */
  uniformByte(pfn: number): number {
    return this.bytes.uniformByte(pfn);
  }

  /**
   * The pages `[p0, p1)` as pieces `[start, end, value]`: `value` is the byte the whole piece holds,
   * or -1 for a single page of different bytes. Costs the extents in the range.
   * @internal
   */
  pieces(p0: number, p1: number): [number, number, number][] {
    return this.bytes.pieces(p0, p1);
  }

  /**
   * A hash of the contents of RAM, independent of the order and the granularity in which they were
   * written; costs the pages written since the last call.
   * @internal
   */
  contentHash(): HashPair {
    return this.bytes.contentHash();
  }

  /** How a state digest names this part of the machine when another layer holds it (never walked). */
  digestTag(): string {
    return "ram";
  }

  /** Pages that hold host memory of their own (not part of a uniform run). */
  get touchedPages(): number {
    return this.bytes.slotPages;
  }

  /** Host bytes held by page slots. */
  get hostBytes(): number {
    return this.bytes.hostBytes;
  }
}
