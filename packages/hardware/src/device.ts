/**
 * DMA-capable devices (bus masters): coherent or not, a DMA mask, a bus offset, an optional IOMMU
 * domain, and their reads and writes of memory. A coherent device snoops: its reads see dirty CPU
 * lines, its writes reach memory and invalidate CPU lines. A non-coherent device sees memory only.
 * An address beyond the mask or outside memory is a `dma-range` finding and touches nothing; an
 * IOMMU fault is an `iommu-fault` finding and blocks the faulting pages. Device accesses to a
 * swiotlb slot are charged to the slot's original address by the checker.
 *
 * **Kernel:** `struct device` DMA fields (include/linux/device.h: `dma_mask`,
 * `coherent_dma_mask`, `bus_dma_limit`, `dma_coherent`, `dma_parms`, `removable`/untrusted),
 * `phys_to_dma()` / `dma_to_phys()` (include/linux/dma-direct.h); the accesses themselves are
 * hardware.
 *
 * @module
 */
import { KERN_ERR, KernelError, PAGE_SIZE } from "@dmasim/kernel";
import { type CheckSegment, hexAddr } from "./checker";
import { dmaRangeHint, freedPageHint, iommuFaultHint } from "./hints";
import type { Hasher } from "./internal/hash";
import {
  IOMMU_DOMAIN_BLOCKED,
  IOMMU_DOMAIN_DMA,
  IOMMU_DOMAIN_DMA_FQ,
  IOMMU_DOMAIN_IDENTITY,
  IOMMU_FAULT_READ,
  IOMMU_FAULT_WRITE,
  IOMMU_PAGE_SIZE,
  IOMMU_READ,
  IOMMU_WRITE,
  iommuAttachDevice,
  iommuDomainAlloc,
  iommuTranslate,
  type IommuDomain,
} from "./iommu";
import type { Machine } from "./machine";
import { speculationPoint, type PhysRange } from "./speculation";
import { dmaTransferNs } from "./timing";

/**
 * A DMA mask of `n` bits. Masks of 53 bits or more are capped at `Number.MAX_SAFE_INTEGER`
 * (every address here is below 2^53).
 *
 * **Kernel:** `DMA_BIT_MASK(n)`.
 *
 * **Locking:** none (pure).
 */
export function DMA_BIT_MASK(n: number): number {
  return n >= 53 ? Number.MAX_SAFE_INTEGER : 2 ** n - 1;
}

/** How to describe a device to {@link addDevice}. */
export interface DeviceSpec {
  readonly name: string;
  /** Snoops the CPU cache (`dma-coherent`); default: the platform's `devicesCoherent`. */
  readonly coherent?: boolean;
  /** Streaming DMA mask in bits (default 32). */
  readonly dmaMask?: number;
  /** Coherent-allocation mask in bits (default: `dmaMask`). */
  readonly coherentDmaMask?: number;
  /** DMA address = physical address + `busOffset` (a `dma-ranges` translation). Default 0. */
  readonly busOffset?: number;
  /** Highest DMA address the interconnect can reach (0: none). **Kernel:** `bus_dma_limit`. */
  readonly busDmaLimit?: number;
  /**
   * An IOMMU: an existing domain to attach to, or the type of a default domain to create for it
   * (`"dma"` strict, `"dma-fq"` lazy, `"default"` after the platform's `iommuStrict`, `"identity"`).
   * Untrusted devices always get a strict domain, as the kernel forces.
   */
  readonly iommu?: IommuDomain | "dma" | "dma-fq" | "default" | "identity";
  /** Largest DMA segment (default 64 KiB). **Kernel:** `dma_get_max_seg_size()`. */
  readonly maxSegmentSize?: number;
  /** Segment boundary mask (default 0xffffffff). **Kernel:** `dma_get_seg_boundary()`. */
  readonly segmentBoundaryMask?: number;
  /** Address bits a bounce buffer must preserve (NVMe: 0xfff). **Kernel:** `dma_get_min_align_mask()`. */
  readonly minAlignMask?: number;
  /** An external, untrusted device (Thunderbolt): strict IOMMU, bounce sub-page buffers. */
  readonly untrusted?: boolean;
}

/**
 * A bus-mastering device.
 *
 * **Kernel:** `struct device` (its DMA fields).
 *
 * **Locking:** fields are set at probe time. The DMA layer changes the masks and the segment
 * limits afterwards, as the kernel's `dma_set_mask()`, `dma_set_coherent_mask()`,
 * `dma_set_max_seg_size()` and `dma_set_seg_boundary()` write `struct device`.
 */
export class Device {
  domain: IommuDomain | null = null;
  readonly coherent: boolean;
  /** Bits of `*dev->dma_mask` (written by `dma_set_mask()` in layer 2). */
  dmaMaskBits: number;
  /** Bits of `dev->coherent_dma_mask` (written by `dma_set_coherent_mask()`). */
  coherentDmaMaskBits: number;
  readonly busOffset: number;
  readonly busDmaLimit: number;
  /** `dma_parms->max_segment_size` (written by `dma_set_max_seg_size()`). */
  maxSegmentSize: number;
  /** `dma_parms->segment_boundary_mask` (written by `dma_set_seg_boundary()`). */
  segmentBoundaryMask: number;
  readonly minAlignMask: number;
  readonly untrusted: boolean;

  constructor(
    readonly machine: Machine,
    readonly name: string,
    spec: DeviceSpec,
  ) {
    this.coherent = spec.coherent ?? machine.config.devicesCoherent;
    this.dmaMaskBits = spec.dmaMask ?? 32;
    this.coherentDmaMaskBits = spec.coherentDmaMask ?? this.dmaMaskBits;
    this.busOffset = spec.busOffset ?? 0;
    this.busDmaLimit = spec.busDmaLimit ?? 0;
    this.maxSegmentSize = spec.maxSegmentSize ?? 65536;
    this.segmentBoundaryMask = spec.segmentBoundaryMask ?? 0xffffffff;
    this.minAlignMask = spec.minAlignMask ?? 0;
    this.untrusted = spec.untrusted ?? false;
  }

  /** `*dev->dma_mask`. */
  get dmaMask(): number {
    return DMA_BIT_MASK(this.dmaMaskBits);
  }

  /** `dev->coherent_dma_mask`. */
  get coherentDmaMask(): number {
    return DMA_BIT_MASK(this.coherentDmaMaskBits);
  }

  /** The highest DMA address the device can emit: `min_not_zero(dma_mask, bus_dma_limit)`. */
  get dmaLimit(): number {
    return this.busDmaLimit > 0 ? Math.min(this.dmaMask, this.busDmaLimit) : this.dmaMask;
  }

  /** The checker's agent name: `dev:<name>`. */
  get agent(): string {
    return `dev:${this.name}`;
  }

  /**
   * How a state digest names the device when another layer holds it (a name is unique per machine;
   * the device's state is in the machine's digest). It is never walked into (it holds the machine).
   */
  digestTag(): string {
    return this.agent;
  }

  /** @internal feed the device's DMA fields and its IOMMU domain to a digest */
  digestInto(h: Hasher): void {
    h.str(this.name)
      .word(this.coherent ? 1 : 0)
      .word(this.dmaMaskBits)
      .word(this.coherentDmaMaskBits)
      .num(this.busOffset)
      .num(this.busDmaLimit)
      .num(this.maxSegmentSize)
      .num(this.segmentBoundaryMask)
      .num(this.minAlignMask)
      .word(this.untrusted ? 1 : 0)
      .num(this.domain ? this.domain.id : -1);
  }
}

/**
 * Add a device to the machine.
 *
 * **Kernel:** none (hardware: a device appearing on a bus); what the kernel learns at probe time
 * (`dma_set_mask()`, `dma-coherent`, `dma-ranges`, the IOMMU group's default domain).
 *
 * **Locking:** none.
 *
 * @throws {@link KernelError} `EEXIST` for a duplicate name, `EINVAL` for a mask outside 1..64 bits
 * or a negative bus offset/limit
 */
export function addDevice(m: Machine, spec: DeviceSpec): Device {
  if (m.devices.has(spec.name)) {
    throw new KernelError("EEXIST", `device ${spec.name} already exists`);
  }
  for (const bits of [spec.dmaMask, spec.coherentDmaMask]) {
    if (bits !== undefined && (!Number.isInteger(bits) || bits < 1 || bits > 64)) {
      throw new KernelError("EINVAL", `device ${spec.name}: DMA mask of ${bits} bits`);
    }
  }
  if ((spec.busDmaLimit ?? 0) < 0) {
    throw new KernelError("EINVAL", `device ${spec.name}: negative bus_dma_limit`);
  }
  const dev = new Device(m, spec.name, spec);
  const io = spec.iommu;
  if (io !== undefined) {
    let domain: IommuDomain;
    if (typeof io === "string") {
      const type =
        io === "identity"
          ? IOMMU_DOMAIN_IDENTITY
          : dev.untrusted || io === "dma" || (io === "default" && m.config.iommuStrict)
            ? IOMMU_DOMAIN_DMA
            : IOMMU_DOMAIN_DMA_FQ;
      domain = iommuDomainAlloc(m, type);
    } else {
      domain = io;
    }
    iommuAttachDevice(domain, dev);
  }
  m.devices.set(spec.name, dev);
  return dev;
}

/**
 * The device called `name`.
 *
 * **Kernel:** none (a lookup by name, as `bus_find_device_by_name()`).
 *
 * **Locking:** none.
 *
 * @throws {@link KernelError} `ENODEV` when there is none
 */
export function getDevice(m: Machine, name: string): Device {
  const d = m.devices.get(name);
  if (!d) {
    throw new KernelError("ENODEV", `no device ${name}`);
  }
  return d;
}

/**
 * The DMA (bus) address of physical address `pa` for `dev`, without an IOMMU.
 *
 * **Kernel:** `phys_to_dma()` (`translate_phys_to_dma()` through `dma_range_map`).
 *
 * **Locking:** none (pure).
 */
export function physToDma(dev: Device, pa: number): number {
  return pa + dev.busOffset;
}

/**
 * The physical address of DMA address `dma` for `dev`, without an IOMMU.
 *
 * **Kernel:** `dma_to_phys()`.
 *
 * **Locking:** none (pure).
 */
export function dmaToPhys(dev: Device, dma: number): number {
  return dma - dev.busOffset;
}

/** A physical piece of a device access (within one page), or a blocked piece. */
interface Piece {
  readonly off: number;
  readonly len: number;
  /** Physical address, or -1 when blocked by an IOMMU fault. */
  readonly pa: number;
}

function rangeFinding(dev: Device, dma: number, len: number, write: boolean, why: string): void {
  const m = dev.machine;
  m.kernel.printk(
    KERN_ERR,
    `${dev.name}: DMA ${write ? "write" : "read"} of ${len} bytes at ${hexAddr(dma)}: ${why}`,
  );
  m.kernel.report({
    kind: "dma-range",
    code: why.startsWith("beyond") ? "beyond-dma-mask" : "outside-memory",
    summary: `${dev.agent} ${write ? "write" : "read"} at DMA address ${hexAddr(dma)}+${len}: ${why}`,
    details: {
      device: dev.name,
      dma,
      len,
      write,
      mask: dev.dmaMask,
      busDmaLimit: dev.busDmaLimit,
      hint: dmaRangeHint(dev.name, dma, len, why.startsWith("beyond")),
    },
  });
}

function iommuFault(
  dev: Device,
  domain: IommuDomain,
  iova: number,
  len: number,
  write: boolean,
  reason: "translation" | "permission",
): void {
  const m = dev.machine;
  const handled =
    domain.faultHandler?.(domain, dev, iova, write ? IOMMU_FAULT_WRITE : IOMMU_FAULT_READ) === 0;
  if (!handled) {
    m.kernel.printk(
      KERN_ERR,
      `iommu: ${dev.name}: unhandled ${reason} fault: iova=${hexAddr(iova)}, ${write ? "write" : "read"}, domain ${domain.id}`,
    );
  }
  m.kernel.report({
    kind: "iommu-fault",
    code: `${reason}-fault`,
    summary: `IOMMU ${reason} fault: ${dev.agent} ${write ? "write" : "read"} at iova ${hexAddr(iova)}${len > IOMMU_PAGE_SIZE ? ` (${len} bytes blocked)` : ""}`,
    details: {
      device: dev.name,
      domain: domain.id,
      iova,
      len,
      write,
      reason,
      handled,
      hint: iommuFaultHint(dev.name, iova, len, reason),
    },
  });
}

/** Translate a device access into physical pieces; null when a range error stops it entirely. */
function translate(dev: Device, dma: number, len: number, write: boolean): Piece[] | null {
  const m = dev.machine;
  if (dma < 0 || len <= 0 || dma + len - 1 > dev.dmaLimit) {
    rangeFinding(
      dev,
      dma,
      len,
      write,
      `beyond the DMA mask (${dev.dmaMaskBits} bits${dev.busDmaLimit ? `, bus limit ${hexAddr(dev.busDmaLimit)}` : ""})`,
    );
    return null;
  }
  const domain = dev.domain;
  const pieces: Piece[] = [];
  if (!domain || domain.type === IOMMU_DOMAIN_IDENTITY) {
    const pa = dmaToPhys(dev, dma);
    if (!m.memory.contains(pa, len)) {
      rangeFinding(dev, dma, len, write, `outside memory (phys ${hexAddr(pa)})`);
      return null;
    }
    for (let off = 0; off < len;) {
      const n = Math.min(len - off, PAGE_SIZE - ((pa + off) % PAGE_SIZE));
      pieces.push({ off, len: n, pa: pa + off });
      off += n;
    }
    return pieces;
  }
  const need = write ? IOMMU_WRITE : IOMMU_READ;
  let faultStart = -1;
  let faultLen = 0;
  let faultReason: "translation" | "permission" = "translation";
  const flush = (): void => {
    if (faultStart >= 0) {
      iommuFault(dev, domain, faultStart, faultLen, write, faultReason);
      faultStart = -1;
      faultLen = 0;
    }
  };
  for (let off = 0; off < len;) {
    const iova = dma + off;
    const n = Math.min(len - off, IOMMU_PAGE_SIZE - (iova % IOMMU_PAGE_SIZE));
    const pte = domain.type === IOMMU_DOMAIN_BLOCKED ? undefined : iommuTranslate(domain, iova);
    const reason = !pte ? "translation" : (pte.prot & need) === 0 ? "permission" : null;
    if (reason) {
      if (faultStart < 0 || reason !== faultReason) {
        flush();
        faultStart = iova;
        faultReason = reason;
      }
      faultLen += n;
      pieces.push({ off, len: n, pa: -1 });
    } else {
      flush();
      const pa = pte!.pfn * PAGE_SIZE + (iova % IOMMU_PAGE_SIZE);
      if (!m.memory.contains(pa, n)) {
        rangeFinding(dev, iova, n, write, `outside memory (iova maps phys ${hexAddr(pa)})`);
        pieces.push({ off, len: n, pa: -1 });
      } else {
        pieces.push({ off, len: n, pa });
      }
    }
    off += n;
  }
  flush();
  return pieces;
}

function useAfterFree(dev: Device, pieces: readonly Piece[], dma: number, write: boolean): void {
  const m = dev.machine;
  for (const p of pieces) {
    if (p.pa >= 0 && m.pageAlloc.isFree(Math.floor(p.pa / PAGE_SIZE))) {
      m.kernel.report({
        kind: "use-after-free",
        code: write ? "dma-write-free-page" : "dma-read-free-page",
        summary: `${dev.agent} ${write ? "wrote" : "read"} free page at phys ${hexAddr(p.pa)} (DMA address ${hexAddr(dma + p.off)})`,
        details: {
          device: dev.name,
          phys: p.pa,
          dma: dma + p.off,
          write,
          hint: freedPageHint(dev.name, p.pa, write),
        },
      });
      return;
    }
  }
}

function ranges(pieces: readonly Piece[]): PhysRange[] {
  return pieces.filter((p) => p.pa >= 0).map((p) => ({ pa: p.pa, len: p.len }));
}

/** The address the checker charges a device access to (the original for a bounce slot). */
function charge(m: Machine, pa: number): number {
  return m.checker.chargedAddress(pa);
}

/**
 * The `dma-read` / `dma-write` events of consecutive pieces, recorded as one range when nothing else
 * is recorded between them (one event per page piece, numbered as if recorded piece by piece).
 */
class PieceEvents {
  private pa = -1;
  private len = 0;
  private addr = 0;

  constructor(
    private readonly m: Machine,
    private readonly kind: "dma-read" | "dma-write",
    private readonly agent: string,
  ) {}

  add(pa: number, len: number, addr: number): void {
    if (this.pa >= 0 && this.pa + this.len === pa && this.addr + this.len === addr) {
      this.len += len;
      return;
    }
    this.flush();
    this.pa = pa;
    this.len = len;
    this.addr = addr;
  }

  /** Record what is pending (before any other event). */
  flush(): void {
    if (this.pa >= 0) {
      this.m.checker.record(this.kind, this.agent, this.pa, this.len, undefined, this.addr);
      this.pa = -1;
    }
  }
}

/**
 * Whether a coherent read of `pieces` takes its data from the clean CPU lines it hits (the
 * platform's `snoopClean`; with `choice`, a choice point of kind `"snoop"` — option 0 memory, 1 the
 * cache — offered when a clean line it hits differs from memory, the only case where it matters).
 */
function snoopsClean(m: Machine, pieces: readonly Piece[]): boolean {
  switch (m.config.snoopClean) {
    case "memory":
      return false;
    case "cache":
      return true;
    case "choice": {
      m.kernel.sched.current.position++; // a site, whether or not it offers the choice
      const hit = pieces.some((p) => p.pa >= 0 && m.cache.cleanDiffers(p.pa, p.len));
      return hit && m.kernel.choice.choose("snoop", 2) === 1;
    }
  }
}

/** Whether the CPU caches any line of physical page `pfn` (a snoop would then record events). */
function cached(m: Machine, pa: number): boolean {
  return m.cache.aliasEntries(Math.floor(pa / PAGE_SIZE)).length > 0;
}

/**
 * The device reads `len` bytes at DMA address `dma` (through its IOMMU domain when attached) and
 * returns what it saw: memory, with dirty CPU lines snooped when the device is coherent. Blocked
 * bytes (mask, range, IOMMU fault) read as 0xff. The checker compares the bytes with the ideal
 * memory (a bounce slot is compared with its original).
 *
 * **Kernel:** none (hardware: a DMA read transaction).
 *
 * **Locking:** any context.
 */
export function deviceRead(dev: Device, dma: number, len: number): Uint8Array {
  const m = dev.machine;
  const out = new Uint8Array(len).fill(0xff);
  const pieces = translate(dev, dma, len, false);
  if (!pieces) {
    return out;
  }
  useAfterFree(dev, pieces, dma, false);
  if (!dev.coherent) {
    speculationPoint(m, ranges(pieces), "before-read", dev.agent);
  }
  const clean = dev.coherent && snoopsClean(m, pieces);
  const agent = dev.agent;
  const segs: CheckSegment[] = [];
  const events = new PieceEvents(m, "dma-read", agent);
  for (const p of pieces) {
    if (p.pa < 0) {
      continue;
    }
    m.memory.readPage(p.pa, out, p.off, p.len);
    if (dev.coherent && cached(m, p.pa)) {
      events.flush();
      m.cache.snoopRead(p.pa, out, p.off, p.len, agent, clean);
    }
    const c = charge(m, p.pa);
    if (c === p.pa) {
      events.add(p.pa, p.len, dma + p.off);
      segs.push({ pa: c, actual: p.pa, off: p.off, len: p.len });
      continue;
    }
    events.flush();
    m.checker.record(
      "dma-read",
      agent,
      p.pa,
      p.len,
      c !== p.pa ? `bounce slot for ${hexAddr(c)}` : undefined,
      dma + p.off,
    );
    if (c !== p.pa) {
      m.checker.record(
        "dma-read",
        agent,
        c,
        Math.min(p.len, PAGE_SIZE - (c % PAGE_SIZE)),
        `through bounce slot ${hexAddr(p.pa)}`,
      );
    }
    segs.push({ pa: c, actual: p.pa, off: p.off, len: p.len });
  }
  events.flush();
  m.checker.checkRead(agent, out, segs, { address: dma, space: `dma (${dev.name})` });
  m.kernel.traceSpan(agent, "dma", "read", dmaTransferNs(len), { dma, len });
  return out;
}

/**
 * The device writes `data` at DMA address `dma`. A coherent device's write invalidates CPU lines
 * (writing back partly overwritten dirty ones first); a non-coherent one's reaches memory only.
 * Returns the bytes that reached memory (0 after a range error; fewer after IOMMU faults). The
 * ideal memory records the write (for a bounce slot, at its original address too).
 *
 * **Kernel:** none (hardware: a DMA write transaction).
 *
 * **Locking:** any context.
 */
export function deviceWrite(dev: Device, dma: number, data: Uint8Array): number {
  return deviceStore(dev, dma, data.length, data, 0);
}

/**
 * The device writes `len` bytes of `value` at DMA address `dma`: {@link deviceWrite} of those bytes,
 * without building them (whole pages of one value cost one extent in memory and the ideal memory).
 * A range error or IOMMU fault is found before anything is stored, whatever `len`.
 *
 * **Kernel:** none (hardware: a DMA write transaction, e.g. a DMA engine's fill).
 *
 * **Locking:** any context.
 */
export function deviceMemset(dev: Device, dma: number, value: number, len: number): number {
  return deviceStore(dev, dma, len, null, value);
}

/** A device write of `data`, or of `len` bytes of `value` when `data` is null. */
function deviceStore(
  dev: Device,
  dma: number,
  len: number,
  data: Uint8Array | null,
  value: number,
): number {
  const m = dev.machine;
  const pieces = translate(dev, dma, len, true);
  if (!pieces) {
    return 0;
  }
  useAfterFree(dev, pieces, dma, true);
  const rs = ranges(pieces);
  if (!dev.coherent) {
    speculationPoint(m, rs, "before-write", dev.agent);
  }
  const agent = dev.agent;
  const wid = m.checker.writerId(agent);
  const events = new PieceEvents(m, "dma-write", agent);
  /** Store bytes `[off, off + n)` of the write at `pa` in memory (`ideal`: the ideal memory). */
  const store = (pa: number, off: number, n: number, ideal: boolean): void => {
    if (data) {
      if (ideal) {
        m.checker.idealWritePage(pa, data, off, n, wid);
      } else {
        m.memory.writePage(pa, data, off, n);
      }
    } else if (ideal) {
      m.checker.idealFill(pa, n, value, wid);
    } else {
      m.memory.fill(pa, n, value);
    }
  };
  let written = 0;
  for (const p of pieces) {
    if (p.pa < 0) {
      continue;
    }
    if (dev.coherent && cached(m, p.pa)) {
      events.flush();
      m.cache.snoopWrite(p.pa, p.len, agent);
    }
    store(p.pa, p.off, p.len, false);
    store(p.pa, p.off, p.len, true);
    const c = charge(m, p.pa);
    if (c === p.pa) {
      events.add(p.pa, p.len, dma + p.off);
      written += p.len;
      continue;
    }
    events.flush();
    for (let done = 0; done < p.len;) {
      const a = c + done;
      const n = Math.min(p.len - done, PAGE_SIZE - (a % PAGE_SIZE));
      store(a, p.off + done, n, true);
      m.checker.record("dma-write", agent, a, n, `through bounce slot ${hexAddr(p.pa + done)}`);
      done += n;
    }
    m.checker.record("dma-write", agent, p.pa, p.len, `bounce slot for ${hexAddr(c)}`, dma + p.off);
    written += p.len;
  }
  events.flush();
  if (!dev.coherent) {
    speculationPoint(m, rs, "after-write", dev.agent);
  }
  m.kernel.traceSpan(agent, "dma", "write", dmaTransferNs(len), { dma, len, written });
  return written;
}
