/**
 * Boot-image sharing for the page allocator: the allocator's state right after boot is a pure
 * function of the platform (RAM, zones, fragmentation, seed, reserved ranges) and costs milliseconds
 * to compute, so it is computed once per distinct layout and shared, read only, by every machine
 * booted with it. Each machine keeps its own changes over it: its free lists ({@link FreeArea}),
 * the orders of its free blocks ({@link FreeOrders}) and its per-page states ({@link PageStates})
 * are copy-on-write views of the image, so machines never share anything they can change.
 *
 * **Kernel:** none (host-side sharing of the simulator; the kernel boots once).
 *
 * @module
 * @internal
 */
import type { PlatformConfig } from "../platform";

/**
 * One free list of a zone (`free_area[order].free_list`), as the boot image left it plus what
 * happened since. The boot part is a
 * window `[lo, hi)` of the image's list, shared by every machine booted from that image and never
 * written (blocks taken out of the middle are remembered in `gone`); blocks freed since boot sit in
 * a linked list of their own, ahead of every boot block (a free pushes at the head). The order of
 * the whole list is exactly that of one linked list with the same history.
 */
export class FreeArea {
  private lo = 0;
  private hi: number;
  /** Boot blocks taken from inside the window (skipped lazily). */
  private gone: Set<number> | null = null;
  private baseLive: number;
  private topHead = -1;
  private topTail = -1;
  private topCount = 0;
  private readonly next = new Map<number, number>();
  private readonly prev = new Map<number, number>();

  constructor(private readonly base: Int32Array = EMPTY) {
    this.hi = base.length;
    this.baseLive = base.length;
  }

  get count(): number {
    return this.topCount + this.baseLive;
  }

  get head(): number {
    if (this.topCount > 0) {
      return this.topHead;
    }
    this.trim();
    return this.baseLive > 0 ? this.base[this.lo]! : -1;
  }

  get tail(): number {
    if (this.baseLive > 0) {
      this.trim();
      return this.base[this.hi - 1]!;
    }
    return this.topTail;
  }

  /** Every block, head first. */
  *blocks(): Generator<number> {
    for (let b = this.topHead; b >= 0; b = this.next.get(b) ?? -1) {
      yield b;
    }
    for (let i = this.lo; i < this.hi; i++) {
      const b = this.base[i]!;
      if (!this.gone?.has(b)) {
        yield b;
      }
    }
  }

  /** Skip taken boot blocks at both ends of the window. */
  private trim(): void {
    const gone = this.gone;
    if (!gone || gone.size === 0) {
      return;
    }
    while (this.lo < this.hi && gone.delete(this.base[this.lo]!)) {
      this.lo++;
    }
    while (this.lo < this.hi && gone.delete(this.base[this.hi - 1]!)) {
      this.hi--;
    }
  }

  pushHead(pfn: number): void {
    this.prev.set(pfn, -1);
    this.next.set(pfn, this.topHead);
    if (this.topHead >= 0) {
      this.prev.set(this.topHead, pfn);
    } else {
      this.topTail = pfn;
    }
    this.topHead = pfn;
    this.topCount++;
  }

  remove(pfn: number): void {
    if (this.next.has(pfn)) {
      this.removeTop(pfn);
      return;
    }
    this.baseLive--;
    this.trim();
    if (this.lo < this.hi && this.base[this.lo] === pfn) {
      this.lo++;
    } else if (this.lo < this.hi && this.base[this.hi - 1] === pfn) {
      this.hi--;
    } else {
      (this.gone ??= new Set()).add(pfn);
    }
  }

  private removeTop(pfn: number): void {
    const p = this.prev.get(pfn) ?? -1;
    const n = this.next.get(pfn) ?? -1;
    if (p >= 0) {
      this.next.set(p, n);
    } else {
      this.topHead = n;
    }
    if (n >= 0) {
      this.prev.set(n, p);
    } else {
      this.topTail = p;
    }
    this.prev.delete(pfn);
    this.next.delete(pfn);
    this.topCount--;
  }
}

const EMPTY = new Int32Array(0);

/**
 * The order of every free block of a zone by its first pfn (what `buddy_order()` reads from a free
 * `struct page`): the boot image's (shared, read only) with this machine's changes over it.
 */
export class FreeOrders {
  private readonly own = new Map<number, number>();

  constructor(private readonly base: ReadonlyMap<number, number> = new Map()) {}

  get(pfn: number): number | undefined {
    const o = this.own.get(pfn);
    if (o !== undefined) {
      return o < 0 ? undefined : o;
    }
    return this.base.get(pfn);
  }

  set(pfn: number, order: number): void {
    this.own.set(pfn, order);
  }

  delete(pfn: number): void {
    if (this.base.has(pfn)) {
      this.own.set(pfn, -1);
    } else {
      this.own.delete(pfn);
    }
  }

  /** Every entry (for taking a boot image). */
  *entries(): Generator<[number, number]> {
    for (const [pfn, o] of this.base) {
      if (!this.own.has(pfn)) {
        yield [pfn, o];
      }
    }
    for (const [pfn, o] of this.own) {
      if (o >= 0) {
        yield [pfn, o];
      }
    }
  }
}

/** A zone as boot left it. Shared by every machine booted from the same image; never written. */
export interface ZoneImage {
  readonly name: "DMA" | "DMA32" | "Normal";
  readonly startPfn: number;
  readonly endPfn: number;
  /** Each order's free list, head first. */
  readonly lists: readonly Int32Array[];
  readonly freeOrder: ReadonlyMap<number, number>;
  readonly freePages: number;
  readonly managedPages: number;
}

/**
 * The page allocator right after boot: what the zones, the boot-time fragmentation and the reserved
 * ranges make of a platform. It is a pure function of the fields named by {@link bootKey}, and costs
 * milliseconds to compute (thousands of scattered pages are freed one by one), so it is computed
 * once per distinct key and shared, read only, by every machine booted with that key: machines keep
 * their own changes over it (see {@link FreeArea}, {@link FreeOrders} and {@link PageStates}),
 * so two machines never share anything mutable. Its objects are frozen; its typed arrays and maps
 * are reachable only through private fields of the classes above, which never write them.
 */
export interface BootImage {
  readonly zones: readonly ZoneImage[];
  /** Per-page state by section. */
  readonly state: ReadonlyMap<number, Uint8Array>;
}

/**
 * Boot images by {@link bootKey}, at most {@link BOOT_IMAGES_MAX} (the oldest is dropped). The one
 * module-level cache of the hardware layer: its values are immutable (see {@link BootImage}), so it
 * changes nothing a machine sees, only how fast a machine boots.
 */
const BOOT_IMAGES = new Map<string, BootImage>();
const BOOT_IMAGES_MAX = 16;

/** Everything a boot image depends on. */
export function bootKey(
  config: Pick<
    PlatformConfig,
    "ramBase" | "ramSize" | "zoneDmaLimit" | "zoneDma32" | "fragmentation" | "seed"
  >,
  reserved: readonly { start: number; end: number }[],
): string {
  return JSON.stringify([
    config.ramBase,
    config.ramSize,
    config.zoneDmaLimit,
    config.zoneDma32,
    config.fragmentation,
    config.seed,
    reserved.map((r) => [r.start, r.end]),
  ]);
}

/**
 * The boot image of `key`, made by `make` on first use and kept (at most {@link BOOT_IMAGES_MAX}
 * layouts; the oldest is dropped).
 */
export function bootImage(key: string, make: () => BootImage): BootImage {
  let image = BOOT_IMAGES.get(key);
  if (!image) {
    image = make();
    if (BOOT_IMAGES.size >= BOOT_IMAGES_MAX) {
      BOOT_IMAGES.delete(BOOT_IMAGES.keys().next().value as string);
    }
    BOOT_IMAGES.set(key, image);
  }
  return image;
}

const SECTION_SHIFT = 9;
const SECTION_PAGES = 1 << SECTION_SHIFT;

/**
 * One byte of allocator state per page (0 is "free"), in sections of 512 pages: the boot image's
 * sections (read only) with this machine's copies of the sections it wrote.
 */
export class PageStates {
  /** Sections this machine wrote (copies of the boot image's, or new). */
  private readonly own = new Map<number, Uint8Array>();

  constructor(private readonly boot: ReadonlyMap<number, Uint8Array> = new Map()) {}

  /** Set a page's state; the first write to a section of the boot image copies that section. */
  set(pfn: number, v: number): void {
    const sec = Math.floor(pfn / SECTION_PAGES);
    const i = pfn - sec * SECTION_PAGES;
    let a = this.own.get(sec);
    if (!a) {
      const boot = this.boot.get(sec);
      if ((boot?.[i] ?? 0) === v) {
        return;
      }
      a = boot ? boot.slice() : new Uint8Array(SECTION_PAGES);
      this.own.set(sec, a);
    }
    a[i] = v;
  }

  /** A page's state. */
  get(pfn: number): number {
    const sec = Math.floor(pfn / SECTION_PAGES);
    return (this.own.get(sec) ?? this.boot.get(sec))?.[pfn - sec * SECTION_PAGES] ?? 0;
  }

  /** Set the state of every page of `[start, end)` (a fill per section). */
  setRange(start: number, end: number, v: number): void {
    let pfn = start;
    while (pfn < end) {
      const sec = Math.floor(pfn / SECTION_PAGES);
      const i0 = pfn - sec * SECTION_PAGES;
      const i1 = Math.min(SECTION_PAGES, end - sec * SECTION_PAGES);
      let a = this.own.get(sec);
      if (!a) {
        const boot = this.boot.get(sec);
        if (!boot && v === 0) {
          pfn = sec * SECTION_PAGES + i1;
          continue; // absent reads as 0 already
        }
        a = boot ? boot.slice() : new Uint8Array(SECTION_PAGES);
        this.own.set(sec, a);
      }
      a.fill(v, i0, i1);
      pfn = sec * SECTION_PAGES + i1;
    }
  }

  /** The sections, for a boot image (call on a machine booted from scratch only). */
  sections(): ReadonlyMap<number, Uint8Array> {
    return new Map(this.own);
  }
}
