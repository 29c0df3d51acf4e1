/**
 * The swiotlb bounce pool: a physical area in low memory reserved at boot, cut into 2 KiB slots
 * grouped in 128-slot segments, with the original address each used slot stands for. Allocation
 * honours alignment, the device's `min_align_mask` and segment boundary, and the 256 KiB limit; the
 * bounce copy is a CPU `memcpy` through the cacheable linear map in either direction, recorded in the
 * line histories and checked for clobbered writes.
 *
 * **Kernel:** kernel/dma/swiotlb.c (`swiotlb_init`, `swiotlb_area_find_slots`,
 * `swiotlb_release_slots`, `swiotlb_bounce`, `is_swiotlb_buffer`, `swiotlb_max_mapping_size`),
 * include/linux/swiotlb.h. One pool, one area; no dynamic pools. When to bounce, in which
 * direction and whether `DMA_ATTR_SKIP_CPU_SYNC` skips it is layer 2's policy.
 *
 * @module
 */
import { KERN_WARNING, PAGE_SIZE, WARN_ON_ONCE } from "@dmasim/kernel";
import { KERNEL_ASID } from "./cache";
import { hexAddr } from "./checker";
import { physToDma, type Device } from "./device";
import { HashSum, Hasher } from "./internal/hash";
import type { Machine } from "./machine";
import { physToVirt } from "./memory";
import { bounceCopyNs } from "./timing";

/** **Kernel:** `IO_TLB_SHIFT`. */
export const IO_TLB_SHIFT = 11;
/** Bytes per slot. **Kernel:** `IO_TLB_SIZE`. */
export const IO_TLB_SIZE = 1 << IO_TLB_SHIFT;
/** Slots per segment (the largest contiguous allocation). **Kernel:** `IO_TLB_SEGSIZE`. */
export const IO_TLB_SEGSIZE = 128;
/** Default pool size (64 MiB). **Kernel:** `IO_TLB_DEFAULT_SIZE`. */
export const IO_TLB_DEFAULT_SIZE = 64 * 1024 * 1024;
/** A free slot's original address. **Kernel:** `INVALID_PHYS_ADDR` (`~0`). */
export const INVALID_PHYS_ADDR = -1;

const TWO32 = 2 ** 32;
/** `x & mask` for addresses beyond 32 bits (masks here are below 2^31). */
function low(x: number, mask: number): number {
  return ((x % TWO32) & mask) >>> 0;
}

/**
 * The bounce pool.
 *
 * **Kernel:** `struct io_tlb_pool` (one area) inside `io_tlb_default_mem`.
 *
 * **Locking:** the area spinlock in the kernel; allocation and release are synchronous here.
 */
export class IoTlbPool {
  /** The three slot arrays, made on first use (most runs never bounce). */
  private slots: { orig: Float64Array; allocSize: Int32Array; list: Int32Array } | null = null;
  /** The slots' changes since boot, as a sum of (slot, old) out and (slot, new) in. */
  private readonly slotSum = new HashSum();
  /** Next search start. */
  index = 0;
  /** Slots in use. */
  used = 0;
  /** Most slots ever in use (debugfs `io_tlb_used_hiwater`). */
  hiwater = 0;

  constructor(
    readonly start: number,
    readonly nslabs: number,
    /** `swiotlb=force`. */
    readonly force: boolean,
  ) {}

  private made(): { orig: Float64Array; allocSize: Int32Array; list: Int32Array } {
    if (!this.slots) {
      const n = this.nslabs;
      const list = new Int32Array(n);
      for (let i = 0; i < n; i++) {
        list[i] = Math.min(IO_TLB_SEGSIZE - (i % IO_TLB_SEGSIZE), n - i);
      }
      this.slots = {
        orig: new Float64Array(n).fill(INVALID_PHYS_ADDR),
        allocSize: new Int32Array(n),
        list,
      };
    }
    return this.slots;
  }

  /** Original address per slot (written through `updateSlot`). */
  get orig(): Float64Array {
    return this.made().orig;
  }

  /** Bytes from this slot to the end of its allocation (written through `updateSlot`). */
  get allocSize(): Int32Array {
    return this.made().allocSize;
  }

  /** Free slots from here to the end of the segment, 0 when used (written through `updateSlot`). */
  get list(): Int32Array {
    return this.made().list;
  }

  /** One past the last byte. */
  get end(): number {
    return this.start + this.nslabs * IO_TLB_SIZE;
  }

  /** @internal set slot `i`'s three fields, keeping the digest's sum of slots current */
  updateSlot(i: number, orig: number, allocSize: number, list: number): void {
    const s = this.made();
    this.slotSum.remove(slotHash(i, s.orig[i]!, s.allocSize[i]!, s.list[i]!));
    s.orig[i] = orig;
    s.allocSize[i] = allocSize;
    s.list[i] = list;
    this.slotSum.add(slotHash(i, orig, allocSize, list));
  }

  /**
   * @internal feed the pool to a digest: every slot's original address, allocation size and free
   * count (an order-independent sum kept current by `updateSlot`, so O(1)), the search index and
   * the slots in use. The high-water mark is statistics nothing decides on and is left out.
   */
  digestInto(h: Hasher): void {
    h.num(this.start)
      .word(this.nslabs)
      .word(this.force ? 1 : 0);
    h.pair(this.slotSum.value).word(this.index).word(this.used);
  }

  /** How a state digest names the pool when another layer holds it (never walked into). */
  digestTag(): string {
    return "swiotlb";
  }

  private scratchBuf: Uint8Array | null = null;

  /** @internal a buffer of at least `size` bytes for one bounce copy (reused) */
  scratch(size: number): Uint8Array {
    if (!this.scratchBuf || this.scratchBuf.length < size) {
      this.scratchBuf = new Uint8Array(Math.max(size, PAGE_SIZE));
    }
    return this.scratchBuf;
  }

  /**
   * The original address the bounce byte at `pa` stands for, or {@link INVALID_PHYS_ADDR} (not in
   * the pool, or in a free slot).
   */
  origAddr(pa: number): number {
    if (pa < this.start || pa >= this.end || !this.slots) {
      return INVALID_PHYS_ADDR;
    }
    const o = this.slots.orig[Math.floor((pa - this.start) / IO_TLB_SIZE)] ?? INVALID_PHYS_ADDR;
    return o === INVALID_PHYS_ADDR ? o : o + ((pa - this.start) % IO_TLB_SIZE);
  }
}

function slotHash(
  i: number,
  orig: number,
  allocSize: number,
  list: number,
): readonly [number, number] {
  return new Hasher().word(i).num(orig).word(allocSize).word(list).done();
}

/** The pool, or throw. */
function pool(m: Machine): IoTlbPool | null {
  return m.swiotlb;
}

function alignOffset(dev: Device, addr: number): number {
  return low(addr, dev.minAlignMask & (IO_TLB_SIZE - 1));
}

function nrSlots(size: number): number {
  return Math.ceil(size / IO_TLB_SIZE);
}

/**
 * Whether the machine has a bounce pool with slots. **Kernel:** `is_swiotlb_active()`.
 *
 * **Locking:** none.
 */
export function isSwiotlbActive(m: Machine): boolean {
  return (pool(m)?.nslabs ?? 0) > 0;
}

/**
 * Whether every mapping must bounce (`swiotlb=force`). **Kernel:** `is_swiotlb_force_bounce()`.
 *
 * **Locking:** none.
 */
export function isSwiotlbForceBounce(m: Machine): boolean {
  return pool(m)?.force ?? false;
}

/**
 * Whether `pa` lies in the bounce pool. **Kernel:** `is_swiotlb_buffer()`.
 *
 * **Locking:** none.
 */
export function isSwiotlbBuffer(m: Machine, pa: number): boolean {
  const p = pool(m);
  return !!p && pa >= p.start && pa < p.end;
}

/**
 * The original address the bounce byte at `pa` stands for, or {@link INVALID_PHYS_ADDR} (not in
 * the pool, or in a free slot).
 *
 * **Kernel:** none by that name (`swiotlb_bounce()` computes it from `slots[].orig_addr`).
 *
 * **Locking:** none.
 */
export function swiotlbOrigAddr(m: Machine, pa: number): number {
  return pool(m)?.origAddr(pa) ?? INVALID_PHYS_ADDR;
}

/**
 * The largest mapping one allocation can hold for `dev`: 256 KiB minus the `min_align_mask`
 * padding.
 *
 * **Kernel:** `swiotlb_max_mapping_size()`.
 *
 * **Locking:** none (pure).
 */
export function swiotlbMaxMappingSize(dev: Device): number {
  const minAlign = dev.minAlignMask ? Math.ceil(dev.minAlignMask / IO_TLB_SIZE) * IO_TLB_SIZE : 0;
  return IO_TLB_SIZE * IO_TLB_SEGSIZE - minAlign;
}

function spanBoundary(index: number, nr: number, shift: number, boundarySize: number): boolean {
  const s = (shift + index) % boundarySize;
  return s + nr > boundarySize;
}

function findSlots(
  m: Machine,
  p: IoTlbPool,
  dev: Device,
  origAddr: number,
  allocSize: number,
  allocAlignMask: number,
): number {
  const boundaryMask = dev.segmentBoundaryMask;
  const tblDma = physToDma(dev, p.start) % (boundaryMask + 1);
  const maxSlots = Math.floor(boundaryMask / IO_TLB_SIZE) + 1;
  let alignMask = dev.minAlignMask | allocAlignMask;
  const nslots = nrSlots(allocSize);
  const offset = alignOffset(dev, origAddr);
  if (allocSize >= PAGE_SIZE) {
    alignMask |= PAGE_SIZE - 1;
  }
  alignMask &= ~(IO_TLB_SIZE - 1);
  const stride = (alignMask >>> IO_TLB_SHIFT) + 1;
  if (nslots > p.nslabs - p.used) {
    return -1;
  }
  const wrap = (i: number): number => (i >= p.nslabs ? 0 : i);
  let index = p.index;
  for (let checked = 0; checked < p.nslabs;) {
    const slot = index;
    if (origAddr && low(tblDma + slot * IO_TLB_SIZE, alignMask) !== low(origAddr, alignMask)) {
      index = wrap(index + 1);
      checked++;
      continue;
    }
    if (!spanBoundary(slot, nslots, nrSlots(tblDma), maxSlots) && (p.list[slot] ?? 0) >= nslots) {
      for (let i = slot; i < slot + nslots; i++) {
        p.updateSlot(i, p.orig[i]!, allocSize - (offset + (i - slot) * IO_TLB_SIZE), 0);
      }
      let count = 0;
      for (
        let i = slot - 1;
        i >= 0 && i % IO_TLB_SEGSIZE !== IO_TLB_SEGSIZE - 1 && p.list[i];
        i--
      ) {
        p.updateSlot(i, p.orig[i]!, p.allocSize[i]!, ++count);
      }
      p.index = wrap(index + nslots);
      p.used += nslots;
      p.hiwater = Math.max(p.hiwater, p.used);
      return slot;
    }
    index = wrap(index + stride);
    checked += stride;
  }
  void m;
  return -1;
}

/** Options of {@link swiotlbAllocSlots}. */
export interface SwiotlbAllocOptions {
  /** Bytes to reserve (default: `mappingSize`). */
  readonly allocSize?: number;
  /** Required alignment of the allocation minus one (default 0). */
  readonly allocAlignMask?: number;
  /** `DMA_ATTR_NO_WARN`: do not print "swiotlb buffer is full". */
  readonly noWarn?: boolean;
}

/**
 * Reserve bounce slots for `mappingSize` bytes of original address `origAddr` and record the
 * original address of every slot. Returns the bounce (tlb) address — which keeps `origAddr`'s bits
 * under the device's `min_align_mask` — or null when the pool is absent or full, or the request
 * needs more than one segment (256 KiB), printing the kernel's warning. Copies nothing: see
 * {@link swiotlbBounce}.
 *
 * **Kernel:** the slot search and bookkeeping of `swiotlb_tbl_map_single()`
 * (`swiotlb_find_slots()`), without its copy.
 *
 * **Locking:** any context (the kernel takes the area spinlock).
 */
export function swiotlbAllocSlots(
  m: Machine,
  dev: Device,
  origAddr: number,
  mappingSize: number,
  opts: SwiotlbAllocOptions = {},
): number | null {
  const p = pool(m);
  const allocSize = opts.allocSize ?? mappingSize;
  if (!p || p.nslabs === 0) {
    m.kernel.printk(
      KERN_WARNING,
      `${dev.name}: Can not allocate SWIOTLB buffer earlier and can't now provide you with the DMA bounce buffer`,
    );
    return null;
  }
  if (mappingSize > allocSize) {
    WARN_ON_ONCE(
      m.kernel,
      true,
      "kernel/dma/swiotlb.c:swiotlb_tbl_map_single",
      `Invalid sizes (mapping: ${mappingSize} bytes, alloc: ${allocSize} bytes)`,
    );
    return null;
  }
  const offset = alignOffset(dev, origAddr);
  const index = findSlots(m, p, dev, origAddr, allocSize + offset, opts.allocAlignMask ?? 0);
  if (index < 0) {
    if (!opts.noWarn) {
      m.kernel.printk(
        KERN_WARNING,
        `${dev.name}: swiotlb buffer is full (sz: ${allocSize} bytes), total ${p.nslabs} (slots), used ${p.used} (slots)`,
      );
    }
    return null;
  }
  for (let i = 0; i < nrSlots(allocSize + offset); i++) {
    const j = index + i;
    p.updateSlot(j, origAddr + i * IO_TLB_SIZE, p.allocSize[j]!, p.list[j]!);
  }
  const tlb = p.start + index * IO_TLB_SIZE + offset;
  m.kernel.trace("swiotlb", "dma", "alloc", {
    dev: dev.name,
    orig: origAddr,
    tlb,
    size: mappingSize,
  });
  return tlb;
}

/**
 * Give back the slots of the allocation at `tlbAddr`, merging them with free neighbours inside the
 * segment. Releasing slots that are free WARNs once and does nothing.
 *
 * **Kernel:** `swiotlb_release_slots()`.
 *
 * **Locking:** any context.
 */
export function swiotlbReleaseSlots(m: Machine, dev: Device, tlbAddr: number): void {
  const p = pool(m);
  if (!p || tlbAddr < p.start || tlbAddr >= p.end) {
    WARN_ON_ONCE(
      m.kernel,
      true,
      "kernel/dma/swiotlb.c:swiotlb_release_slots",
      `${hexAddr(tlbAddr)} is not a swiotlb buffer`,
    );
    return;
  }
  const offset = alignOffset(dev, tlbAddr);
  const index = Math.floor((tlbAddr - offset - p.start) / IO_TLB_SIZE);
  if (
    WARN_ON_ONCE(
      m.kernel,
      p.orig[index] === INVALID_PHYS_ADDR,
      "kernel/dma/swiotlb.c:swiotlb_release_slots",
      `releasing free swiotlb slot ${index} (${hexAddr(tlbAddr)})`,
    )
  ) {
    return;
  }
  const nslots = nrSlots((p.allocSize[index] ?? 0) + offset);
  const segEnd = (Math.floor(index / IO_TLB_SEGSIZE) + 1) * IO_TLB_SEGSIZE;
  let count = index + nslots < segEnd ? (p.list[index + nslots] ?? 0) : 0;
  for (let i = index + nslots - 1; i >= index; i--) {
    p.updateSlot(i, INVALID_PHYS_ADDR, 0, ++count);
  }
  for (let i = index - 1; i >= 0 && i % IO_TLB_SEGSIZE !== IO_TLB_SEGSIZE - 1 && p.list[i]; i--) {
    p.updateSlot(i, p.orig[i]!, p.allocSize[i]!, ++count);
  }
  p.used -= nslots;
  m.kernel.trace("swiotlb", "dma", "release", { dev: dev.name, tlb: tlbAddr });
}

/**
 * Copy between a bounce buffer and its original: `dir` 1 (`DMA_TO_DEVICE`) copies original →
 * bounce, any other value bounce → original. The copy is a CPU `memcpy` through the cacheable
 * linear map (it reads and writes through the cache), recorded as `bounce-in` / `bounce-out` in
 * both lines' histories. A copy back whose bytes differ from the ideal contents of the original is
 * a `clobbered-write` (code `bounce-copy`): it puts older data over newer. The ideal memory of the
 * original does not change (a perfectly coherent machine would not need the copy). Overruns WARN
 * once and are truncated, as in the kernel; a free slot is skipped silently.
 *
 * **Kernel:** `swiotlb_bounce()`.
 *
 * **Locking:** any context (atomic-safe).
 */
export function swiotlbBounce(
  m: Machine,
  dev: Device,
  tlbAddr: number,
  size: number,
  dir: number,
): void {
  const p = pool(m);
  if (!p || tlbAddr < p.start || tlbAddr >= p.end) {
    return;
  }
  const index = Math.floor((tlbAddr - p.start) / IO_TLB_SIZE);
  let orig = p.orig[index] ?? INVALID_PHYS_ADDR;
  let alloc = p.allocSize[index] ?? 0;
  if (orig === INVALID_PHYS_ADDR) {
    return;
  }
  let tlbOffset = tlbAddr % IO_TLB_SIZE;
  const origOffset = alignOffset(dev, orig);
  const site = "kernel/dma/swiotlb.c:swiotlb_bounce";
  if (tlbOffset < origOffset) {
    WARN_ON_ONCE(
      m.kernel,
      true,
      site,
      `Access before mapping start detected. orig offset ${origOffset}, requested offset ${tlbOffset}.`,
    );
    return;
  }
  tlbOffset -= origOffset;
  if (tlbOffset > alloc) {
    WARN_ON_ONCE(
      m.kernel,
      true,
      site,
      `Buffer overflow detected. Allocation size: ${alloc}. Mapping size: ${size}+${tlbOffset}.`,
    );
    return;
  }
  orig += tlbOffset;
  alloc -= tlbOffset;
  if (size > alloc) {
    WARN_ON_ONCE(
      m.kernel,
      true,
      site,
      `Buffer overflow detected. Allocation size: ${alloc}. Mapping size: ${size}.`,
    );
    size = alloc;
  }
  const toDevice = dir === 1;
  const src = toDevice ? orig : tlbAddr;
  const dst = toDevice ? tlbAddr : orig;
  copyThroughLinearMap(m, src, dst, size, toDevice, dev);
  const what = toDevice ? "bounce-to-device" : "bounce-from-device";
  m.kernel.traceSpan("swiotlb", "dma", what, bounceCopyNs(size), {
    dev: dev.name,
    tlb: tlbAddr,
    orig,
    size,
  });
}

/**
 * The memcpy of a bounce: read `src` and write `dst` through the cacheable linear map. Pages the
 * cache holds as one value (a zeroed buffer) are copied as that value, without building their bytes
 * one by one.
 */
function copyThroughLinearMap(
  m: Machine,
  src: number,
  dst: number,
  size: number,
  toDevice: boolean,
  dev: Device,
): void {
  const agent = "swiotlb";
  const wid = m.checker.writerId(agent);
  const pool = m.swiotlb as IoTlbPool;
  const buf = pool.scratch(size);
  const kind = toDevice ? "bounce-in" : "bounce-out";
  const what = toDevice ? "swiotlb_bounce to device" : "swiotlb_bounce from device";
  // read the source through the cache; note the pieces that hold one value
  const values: number[] = [];
  const ends: number[] = [];
  for (let done = 0; done < size;) {
    const a = src + done;
    const n = Math.min(size - done, PAGE_SIZE - (a % PAGE_SIZE));
    const va = physToVirt(m, a);
    const v = m.cache.readValue(va, a, KERNEL_ASID, n, agent);
    if (v >= 0) {
      buf.fill(v, done, done + n);
    } else {
      m.cache.read(va, a, KERNEL_ASID, buf, done, n, agent);
    }
    values.push(v);
    ends.push(done + n);
    m.checker.record(
      kind,
      agent,
      a,
      n,
      `${what} (${dev.name}), read by ${m.kernel.sched.current.name}; copy to ${hexAddr(dst + done)}`,
    );
    done += n;
  }
  /** The one value of the copied bytes `[from, to)`, or -1. */
  const valueOf = (from: number, to: number): number => {
    let i = 0;
    while ((ends[i] as number) <= from) {
      i++;
    }
    const v = values[i] as number;
    for (; i < ends.length && (ends[i - 1] ?? 0) < to; i++) {
      if (values[i] !== v) {
        return -1;
      }
    }
    return v;
  };
  let reported = false;
  for (let done = 0; done < size;) {
    const a = dst + done;
    const n = Math.min(size - done, PAGE_SIZE - (a % PAGE_SIZE));
    const v = valueOf(done, done + n);
    if (!toDevice && !reported && (v < 0 || m.checker.clobbersValue(a, v, n, true))) {
      reported = !m.checker.checkWriteBack(
        agent,
        a,
        buf,
        done,
        n,
        `swiotlb bounce from ${hexAddr(src + done)} (${dev.name})`,
        { bounce: src + done, device: dev.name },
        "bounce-copy",
        true,
      );
    }
    const note = `${what} (${dev.name}) from ${hexAddr(src + done)}`;
    if (v >= 0) {
      if (toDevice) {
        m.checker.idealFill(a, n, v, wid);
      }
      m.cache.writeValue(physToVirt(m, a), a, KERNEL_ASID, v, n, agent, wid, note);
    } else {
      if (toDevice) {
        m.checker.idealWritePage(a, buf, done, n, wid);
      }
      m.cache.write(physToVirt(m, a), a, KERNEL_ASID, buf, done, n, agent, wid, note);
    }
    m.checker.record(kind, agent, a, n, `${what} (${dev.name}); copy from ${hexAddr(src + done)}`);
    done += n;
  }
}
