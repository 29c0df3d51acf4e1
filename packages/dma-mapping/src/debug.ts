/**
 * DMA-API debugging (`CONFIG_DMA_API_DEBUG`): every mapping is recorded, and every unmap, sync and
 * free is checked against the record. Each broken rule is a `dma-api` finding with its own code
 * and the kernel's wording ("DMA-API: <driver> <device>: …"); the kernel's WARN is printed for the
 * first violation only (`num_errors` = 1) unless `all_errors` is set, while every violation is a
 * finding and counts in `error_count`.
 *
 * | code | kernel message |
 * |---|---|
 * | `map-invalid-area` | device driver maps memory from invalid area |
 * | `map-vmalloc` | device driver maps memory from vmalloc area (before 5.18: later kernels refuse the map) |
 * | `map-stack` | device driver maps memory from stack |
 * | `map-kernel-text` | device driver maps memory from kernel text or rodata |
 * | `overlapping-cacheline` | cacheline tracking EEXIST, overlapping mappings aren't supported |
 * | `cacheline-overlap-limit` | exceeded 7 overlapping mappings of cacheline |
 * | `free-invalid-address` | device driver tries to free an invalid DMA memory address |
 * | `free-not-allocated` | device driver tries to free DMA memory it has not allocated |
 * | `free-wrong-size` | device driver frees DMA memory with different size |
 * | `free-wrong-function` | device driver frees DMA memory with wrong function |
 * | `free-wrong-cpu-address` | device driver frees DMA memory with different CPU address |
 * | `free-wrong-sg-count` | device driver frees DMA sg list with different entry count |
 * | `free-wrong-direction` | device driver frees DMA memory with different direction |
 * | `unchecked-map-error` | device driver failed to check map error |
 * | `sync-not-allocated` | device driver tries to sync DMA memory it has not allocated |
 * | `sync-outside-range` | device driver syncs DMA memory outside allocated range |
 * | `sync-wrong-direction` | device driver syncs DMA memory with different direction |
 * | `sync-read-only-for-cpu` | device driver syncs device read-only DMA memory for cpu |
 * | `sync-write-only-to-device` | device driver syncs device write-only DMA memory to device |
 * | `sync-wrong-sg-count` | device driver syncs DMA sg list with different entry count |
 * | `sg-segment-too-long` | mapping sg segment longer than device claims to support (`CONFIG_DMA_API_DEBUG_SG`) |
 * | `sg-segment-across-boundary` | mapping sg segment across boundary (`CONFIG_DMA_API_DEBUG_SG`) |
 * | `pending-allocations` | device driver has pending DMA allocations while released from device |
 *
 * At the end of a run, {@link dmaDebugCheckLeaks} reports each device's remaining entries as a
 * `leak` finding (code `dma-mapping-leak`) with the unbind message.
 *
 * **Kernel:** kernel/dma/debug.c.
 *
 * dmasim has no kernel image or task stacks in its memory model: the stack and text/rodata rules
 * check ranges declared with {@link dmaDebugRegisterStack} and {@link dmaDebugRegisterKernelText}.
 * Not modelled: the entry pool and its exhaustion, `driver_filter`, saved stack traces.
 *
 * @module
 */
import { KERN_WARNING, PAGE_SIZE, defineSubsys, type Finding, type Kernel } from "@dmasim/kernel";
import {
  isSwiotlbActive,
  isVmallocAddr,
  physToVirt,
  virtAddrValid,
  type Device,
  type Machine,
} from "@dmasim/hardware";
import { DMA_MAPPING_ERAS } from "./era";
import { dmaBounceUnalignedKmalloc } from "./include/dma-map-ops";
import {
  DMA_BIDIRECTIONAL,
  DMA_FROM_DEVICE,
  DMA_TO_DEVICE,
  dmaDirName,
} from "./include/dma-direction";
import { DMA_ATTR_SKIP_CPU_SYNC, DMA_MAPPING_ERROR } from "./include/dma-mapping";
import {
  CONFIG_DMA_API_DEBUG,
  CONFIG_DMA_API_DEBUG_SG,
  DMA_MAPPING_MODULE,
  optionOn,
} from "./module";
import { dmaDebugHint } from "./debug-hints";
import { sgPage, type Scatterlist } from "./scatterlist";

/** The kinds of mapping dma-debug tells apart. **Kernel:** `dma_debug_single` … `dma_debug_resource`. */
export type DmaDebugType = "single" | "sg" | "coherent" | "resource";

const TYPE_NAMES: Readonly<Record<DmaDebugType, string>> = {
  single: "single",
  sg: "scather-gather",
  coherent: "coherent",
  resource: "resource",
};

/** Whether a mapping's error was tested. **Kernel:** `enum map_err_types`. */
export type MapErrType = "not-applicable" | "not-checked" | "checked";

/**
 * One recorded mapping.
 *
 * **Kernel:** `struct dma_debug_entry`.
 */
export interface DmaDebugEntry {
  readonly dev: Device;
  readonly type: DmaDebugType;
  readonly devAddr: number;
  readonly size: number;
  readonly direction: number;
  readonly sgCallEnts: number;
  readonly sgMappedEnts: number;
  /** Page frame of the CPU side (-1 for a resource). */
  readonly pfn: number;
  readonly offset: number;
  /** CPU address of a coherent allocation. */
  readonly cpuAddr: number;
  mapErrType: MapErrType;
  /** Scenario step and thread that made the mapping (for leak reports). */
  readonly step: number;
  readonly thread: string;
}

/** What a check looks for (the kernel's `ref` entry). */
interface Ref {
  readonly dev: Device;
  readonly type: DmaDebugType;
  readonly devAddr: number;
  readonly size: number;
  readonly direction: number;
  readonly sgCallEnts: number;
  readonly cpuAddr?: number;
}

/** Maximum overlap count of one cache line. **Kernel:** `ACTIVE_CACHELINE_MAX_OVERLAP`. */
const MAX_OVERLAP = 7;

class DmaDebugState {
  readonly byDev = new Map<Device, DmaDebugEntry[]>();
  readonly cachelines = new Map<number, number>();
  errorCount = 0;
  numErrors = 1;
  allErrors = false;
  readonly stacks = new Map<string, { start: number; end: number }>();
  readonly text: { start: number; end: number }[] = [];
}

const DEBUG = defineSubsys("dma-mapping:debug", () => new DmaDebugState(), DMA_MAPPING_MODULE);

function state(dev: Device): DmaDebugState | null {
  const k = dev.machine.kernel;
  return optionOn(k, CONFIG_DMA_API_DEBUG) ? k.subsys(DEBUG) : null;
}

function hex16(x: number): string {
  return `0x${x.toString(16).padStart(16, "0")}`;
}

function errPrintk(
  st: DmaDebugState,
  dev: Device,
  code: string,
  msg: string,
  entry?: DmaDebugEntry,
): void {
  const k = dev.machine.kernel;
  st.errorCount++;
  const text = `DMA-API: ${dev.name} ${dev.name}: ${msg}`;
  const printed = st.allErrors || st.errorCount <= st.numErrors;
  if (printed) {
    k.printk(
      KERN_WARNING,
      `------------[ cut here ]------------\n${text}\nWARNING: CPU: 0 PID: ${k.sched.current.id} at kernel/dma/debug.c:err_printk\n---[ end trace ]---`,
    );
  }
  k.report({
    kind: "dma-api",
    code,
    summary: text,
    details: {
      device: dev.name,
      printed,
      ...(entry
        ? {
            mapping: {
              type: TYPE_NAMES[entry.type],
              devAddr: entry.devAddr,
              size: entry.size,
              direction: dmaDirName(entry.direction),
              step: entry.step,
              thread: entry.thread,
            },
          }
        : {}),
      hint: dmaDebugHint(code, entry),
    },
  });
}

// ---- cache-line tracking -----------------------------------------------------------------------

function clnOf(m: Machine, e: DmaDebugEntry): number {
  const per = PAGE_SIZE / m.config.lineSize;
  return e.pfn * per + Math.floor(e.offset / m.config.lineSize);
}

/** Insert the first cache line of a device-writable mapping; true when it was already active. */
function cachelineInsert(st: DmaDebugState, e: DmaDebugEntry): boolean {
  if (e.direction === DMA_TO_DEVICE || e.pfn < 0) {
    return false;
  }
  const m = e.dev.machine;
  const cln = clnOf(m, e);
  const n = st.cachelines.get(cln);
  if (n === undefined) {
    st.cachelines.set(cln, 0);
    return false;
  }
  if (n >= MAX_OVERLAP) {
    const site = "kernel/dma/debug.c:active_cacheline_inc_overlap";
    if (!m.kernel.warnedOnce.has(site)) {
      m.kernel.warnedOnce.add(site);
      const pa = cln * m.config.lineSize;
      errPrintk(
        st,
        e.dev,
        "cacheline-overlap-limit",
        `exceeded ${MAX_OVERLAP} overlapping mappings of cacheline 0x${pa.toString(16)}`,
        e,
      );
    }
  } else {
    st.cachelines.set(cln, n + 1);
  }
  return true;
}

function cachelineRemove(st: DmaDebugState, e: DmaDebugEntry): void {
  if (e.direction === DMA_TO_DEVICE || e.pfn < 0) {
    return;
  }
  const cln = clnOf(e.dev.machine, e);
  const n = st.cachelines.get(cln);
  if (n === undefined) {
    return;
  }
  if (n > 0) {
    st.cachelines.set(cln, n - 1);
  } else {
    st.cachelines.delete(cln);
  }
}

function addEntry(st: DmaDebugState, e: DmaDebugEntry, attrs: number): void {
  const list = st.byDev.get(e.dev) ?? [];
  list.push(e);
  st.byDev.set(e.dev, list);
  const exists = cachelineInsert(st, e);
  const kernel = e.dev.machine.kernel;
  if (
    exists &&
    DMA_MAPPING_ERAS.debugCachelineEexist(kernel) &&
    ((attrs & DMA_ATTR_SKIP_CPU_SYNC) === 0 || !DMA_MAPPING_ERAS.debugEexistSkipCpuSync(kernel)) &&
    !(dmaBounceUnalignedKmalloc(e.dev) && isSwiotlbActive(e.dev.machine))
  ) {
    errPrintk(
      st,
      e.dev,
      "overlapping-cacheline",
      "cacheline tracking EEXIST, overlapping mappings aren't supported",
      e,
    );
  }
}

function removeEntry(st: DmaDebugState, e: DmaDebugEntry): void {
  const list = st.byDev.get(e.dev);
  const i = list?.indexOf(e) ?? -1;
  if (list && i >= 0) {
    list.splice(i, 1);
    if (list.length === 0) {
      st.byDev.delete(e.dev);
    }
  }
  cachelineRemove(st, e);
}

function newEntry(
  dev: Device,
  fields: Omit<DmaDebugEntry, "dev" | "step" | "thread" | "mapErrType"> & {
    mapErrType?: MapErrType;
  },
): DmaDebugEntry {
  const k = dev.machine.kernel;
  return {
    dev,
    step: k.step,
    thread: k.sched.current.name,
    mapErrType: "not-applicable",
    ...fields,
  };
}

// ---- lookups -----------------------------------------------------------------------------------

/** Exact match on (device, address); with several, a perfect fit or nothing. */
function findExact(st: DmaDebugState, ref: Ref): DmaDebugEntry | null {
  const list = st.byDev.get(ref.dev) ?? [];
  let best: DmaDebugEntry | null = null;
  let bestLvl = -1;
  let matches = 0;
  for (const e of list) {
    if (e.devAddr !== ref.devAddr) {
      continue;
    }
    matches++;
    const lvl =
      (e.size === ref.size ? 1 : 0) +
      (e.type === ref.type ? 1 : 0) +
      (e.direction === ref.direction ? 1 : 0) +
      (e.sgCallEnts === ref.sgCallEnts ? 1 : 0);
    if (lvl === 4) {
      return e;
    }
    if (lvl > bestLvl) {
      bestLvl = lvl;
      best = e;
    }
  }
  return matches === 1 ? best : null;
}

/** The mapping of this device that contains `ref.devAddr`. */
function findContaining(st: DmaDebugState, ref: Ref): DmaDebugEntry | null {
  const list = st.byDev.get(ref.dev) ?? [];
  for (let i = list.length - 1; i >= 0; i--) {
    const e = list[i]!;
    if (e.devAddr <= ref.devAddr && ref.devAddr < e.devAddr + e.size) {
      return e;
    }
  }
  return null;
}

// ---- the checks --------------------------------------------------------------------------------

function checkUnmap(st: DmaDebugState, ref: Ref): void {
  const dev = ref.dev;
  const e = findExact(st, ref);
  if (!e) {
    if (ref.devAddr === DMA_MAPPING_ERROR) {
      errPrintk(
        st,
        dev,
        "free-invalid-address",
        "device driver tries to free an invalid DMA memory address",
      );
    } else {
      errPrintk(
        st,
        dev,
        "free-not-allocated",
        `device driver tries to free DMA memory it has not allocated [device address=${hex16(ref.devAddr)}] [size=${ref.size} bytes]`,
      );
    }
    return;
  }
  if (ref.size !== e.size) {
    errPrintk(
      st,
      dev,
      "free-wrong-size",
      `device driver frees DMA memory with different size [device address=${hex16(ref.devAddr)}] [map size=${e.size} bytes] [unmap size=${ref.size} bytes]`,
      e,
    );
  }
  if (ref.type !== e.type) {
    errPrintk(
      st,
      dev,
      "free-wrong-function",
      `device driver frees DMA memory with wrong function [device address=${hex16(ref.devAddr)}] [size=${ref.size} bytes] [mapped as ${TYPE_NAMES[e.type]}] [unmapped as ${TYPE_NAMES[ref.type]}]`,
      e,
    );
  } else if (ref.type === "coherent" && ref.cpuAddr !== e.cpuAddr) {
    errPrintk(
      st,
      dev,
      "free-wrong-cpu-address",
      `device driver frees DMA memory with different CPU address [device address=${hex16(ref.devAddr)}] [size=${ref.size} bytes] [cpu alloc address=0x${e.cpuAddr.toString(16)}] [cpu free address=0x${(ref.cpuAddr ?? 0).toString(16)}]`,
      e,
    );
  }
  if (ref.sgCallEnts && ref.type === "sg" && ref.sgCallEnts !== e.sgCallEnts) {
    errPrintk(
      st,
      dev,
      "free-wrong-sg-count",
      `device driver frees DMA sg list with different entry count [map count=${e.sgCallEnts}] [unmap count=${ref.sgCallEnts}]`,
      e,
    );
  }
  if (ref.direction !== e.direction) {
    errPrintk(
      st,
      dev,
      "free-wrong-direction",
      `device driver frees DMA memory with different direction [device address=${hex16(ref.devAddr)}] [size=${ref.size} bytes] [mapped with ${dmaDirName(e.direction)}] [unmapped with ${dmaDirName(ref.direction)}]`,
      e,
    );
  }
  if (e.mapErrType === "not-checked") {
    errPrintk(
      st,
      dev,
      "unchecked-map-error",
      `device driver failed to check map error[device address=${hex16(ref.devAddr)}] [size=${ref.size} bytes] [mapped as ${TYPE_NAMES[e.type]}]`,
      e,
    );
  }
  removeEntry(st, e);
}

function checkSync(st: DmaDebugState, ref: Ref, toCpu: boolean): void {
  const dev = ref.dev;
  const e = findContaining(st, ref);
  if (!e) {
    errPrintk(
      st,
      dev,
      "sync-not-allocated",
      `device driver tries to sync DMA memory it has not allocated [device address=${hex16(ref.devAddr)}] [size=${ref.size} bytes]`,
    );
    return;
  }
  if (ref.size > e.size) {
    errPrintk(
      st,
      dev,
      "sync-outside-range",
      `device driver syncs DMA memory outside allocated range [device address=${hex16(e.devAddr)}] [allocation size=${e.size} bytes] [sync offset+size=${ref.size}]`,
      e,
    );
  }
  if (e.direction === DMA_BIDIRECTIONAL) {
    return;
  }
  const tail = `[device address=${hex16(ref.devAddr)}] [size=${ref.size} bytes] [mapped with ${dmaDirName(e.direction)}] [synced with ${dmaDirName(ref.direction)}]`;
  if (ref.direction !== e.direction) {
    errPrintk(
      st,
      dev,
      "sync-wrong-direction",
      `device driver syncs DMA memory with different direction ${tail}`,
      e,
    );
  }
  if (toCpu && e.direction !== DMA_FROM_DEVICE && ref.direction !== DMA_TO_DEVICE) {
    errPrintk(
      st,
      dev,
      "sync-read-only-for-cpu",
      `device driver syncs device read-only DMA memory for cpu ${tail}`,
      e,
    );
  }
  if (!toCpu && e.direction !== DMA_TO_DEVICE && ref.direction !== DMA_FROM_DEVICE) {
    errPrintk(
      st,
      dev,
      "sync-write-only-to-device",
      `device driver syncs device write-only DMA memory to device ${tail}`,
      e,
    );
  }
  if (ref.sgCallEnts && ref.type === "sg" && ref.sgCallEnts !== e.sgCallEnts) {
    errPrintk(
      st,
      dev,
      "sync-wrong-sg-count",
      `device driver syncs DMA sg list with different entry count [map count=${e.sgCallEnts}] [sync count=${ref.sgCallEnts}]`,
      e,
    );
  }
}

function checkForStack(st: DmaDebugState, dev: Device, va: number): void {
  const k = dev.machine.kernel;
  const s = st.stacks.get(k.sched.current.name);
  if (s && va >= s.start && va < s.end) {
    errPrintk(
      st,
      dev,
      "map-stack",
      `device driver maps memory from stack [addr=0x${va.toString(16)}]`,
    );
  }
}

function checkForIllegalArea(st: DmaDebugState, dev: Device, va: number, len: number): void {
  if (st.text.some((r) => va < r.end && va + len > r.start)) {
    errPrintk(
      st,
      dev,
      "map-kernel-text",
      `device driver maps memory from kernel text or rodata [addr=0x${va.toString(16)}] [len=${len}]`,
    );
  }
}

function checkSgSegment(st: DmaDebugState, dev: Device, sg: Scatterlist): void {
  if (!optionOn(dev.machine.kernel, CONFIG_DMA_API_DEBUG_SG)) {
    return;
  }
  if (sg.dmaLength > dev.maxSegmentSize) {
    errPrintk(
      st,
      dev,
      "sg-segment-too-long",
      `mapping sg segment longer than device claims to support [len=${sg.dmaLength}] [max=${dev.maxSegmentSize}]`,
    );
  }
  const boundary = dev.segmentBoundaryMask + 1;
  const start = sg.dmaAddress;
  const end = start + sg.dmaLength - 1;
  if (Math.floor(start / boundary) !== Math.floor(end / boundary)) {
    errPrintk(
      st,
      dev,
      "sg-segment-across-boundary",
      `mapping sg segment across boundary [start=${hex16(start)}] [end=${hex16(end)}] [boundary=${hex16(dev.segmentBoundaryMask)}]`,
    );
  }
}

// ---- hooks called by mapping.c -----------------------------------------------------------------

/**
 * Checks of `dma_map_single()` on the CPU address: not in the linear map, or a vmalloc address.
 *
 * **Kernel:** `debug_dma_map_single()`.
 *
 * **Locking:** any context.
 */
export function debugDmaMapSingle(dev: Device, va: number, len: number): void {
  const st = state(dev);
  if (!st) {
    return;
  }
  const m = dev.machine;
  if (!virtAddrValid(m, va)) {
    errPrintk(
      st,
      dev,
      "map-invalid-area",
      `device driver maps memory from invalid area [addr=0x${va.toString(16)}] [len=${len}]`,
    );
  }
  if (isVmallocAddr(va)) {
    errPrintk(
      st,
      dev,
      "map-vmalloc",
      `device driver maps memory from vmalloc area [addr=0x${va.toString(16)}] [len=${len}]`,
    );
  }
}

/**
 * Record a page mapping (not a failed one) and check it: stack, kernel text, overlapping cache
 * lines.
 *
 * **Kernel:** `debug_dma_map_page()` (`debug_dma_map_phys()` in newer kernels).
 *
 * **Locking:** any context.
 */
export function debugDmaMapPage(
  dev: Device,
  phys: number,
  size: number,
  dir: number,
  dmaAddr: number,
  attrs: number,
): void {
  const st = state(dev);
  if (!st || dmaAddr === DMA_MAPPING_ERROR) {
    return;
  }
  const e = newEntry(dev, {
    type: "single",
    devAddr: dmaAddr,
    size,
    direction: dir,
    sgCallEnts: 0,
    sgMappedEnts: 0,
    pfn: Math.floor(phys / PAGE_SIZE),
    offset: phys % PAGE_SIZE,
    cpuAddr: 0,
    mapErrType: "not-checked",
  });
  const va = physToVirt(dev.machine, phys);
  checkForStack(st, dev, va);
  checkForIllegalArea(st, dev, va, size);
  addEntry(st, e, attrs);
}

/**
 * `dma_mapping_error()` was called: mark the first unchecked mapping at that address checked.
 *
 * **Kernel:** `debug_dma_mapping_error()`.
 *
 * **Locking:** any context.
 */
export function debugDmaMappingError(dev: Device, dmaAddr: number): void {
  const st = state(dev);
  if (!st) {
    return;
  }
  for (const e of st.byDev.get(dev) ?? []) {
    if (e.devAddr === dmaAddr && e.mapErrType === "not-checked") {
      e.mapErrType = "checked";
      return;
    }
  }
}

/**
 * Check and forget a page mapping at unmap.
 *
 * **Kernel:** `debug_dma_unmap_page()`.
 *
 * **Locking:** any context.
 */
export function debugDmaUnmapPage(dev: Device, addr: number, size: number, dir: number): void {
  const st = state(dev);
  if (st) {
    checkUnmap(st, { dev, type: "single", devAddr: addr, size, direction: dir, sgCallEnts: 0 });
  }
}

/**
 * Record each DMA segment of a mapped list (`mappedEnts` of them, made from `nents` CPU entries)
 * and check it (stack, text, segment length and boundary, overlapping cache lines).
 *
 * **Kernel:** `debug_dma_map_sg()`.
 *
 * **Locking:** any context.
 */
export function debugDmaMapSg(
  dev: Device,
  sgl: readonly Scatterlist[],
  nents: number,
  mappedEnts: number,
  dir: number,
  attrs: number,
): void {
  const st = state(dev);
  if (!st || mappedEnts <= 0) {
    return;
  }
  const m = dev.machine;
  for (let i = 0; i < Math.min(mappedEnts, sgl.length); i++) {
    const sg = sgl[i]!;
    const page = sgPage(sg);
    const e = newEntry(dev, {
      type: "sg",
      devAddr: sg.dmaAddress,
      size: sg.dmaLength,
      direction: dir,
      sgCallEnts: nents,
      sgMappedEnts: mappedEnts,
      pfn: page.pfn,
      offset: sg.offset,
      cpuAddr: 0,
    });
    const va = physToVirt(m, page.pfn * PAGE_SIZE + sg.offset);
    checkForStack(st, dev, va);
    checkForIllegalArea(st, dev, va, sg.length);
    checkSgSegment(st, dev, sg);
    addEntry(st, e, attrs);
  }
}

/** How many DMA segments the list headed by `ref` was mapped to (0 when unknown). */
function mappedEnts(st: DmaDebugState, ref: Ref): number {
  const e = findExact(st, ref);
  return e ? e.sgMappedEnts : 0;
}

/**
 * Call `fn` with the entry of each DMA segment of a list, as many as were mapped (the count the
 * first segment's entry recorded; none when the first is unknown), as debug.c's sg loops do.
 */
function forEachMappedSgRef(
  st: NonNullable<ReturnType<typeof state>>,
  dev: Device,
  sgl: readonly Scatterlist[],
  nelems: number,
  dir: number,
  fn: (ref: Ref) => void,
): void {
  let mapped = 0;
  for (let i = 0; i < Math.min(nelems, sgl.length); i++) {
    const sg = sgl[i]!;
    const ref: Ref = {
      dev,
      type: "sg",
      devAddr: sg.dmaAddress,
      size: sg.dmaLength,
      direction: dir,
      sgCallEnts: nelems,
    };
    if (i === 0) {
      mapped = mappedEnts(st, ref);
    }
    if (i >= mapped) {
      return;
    }
    fn(ref);
  }
}

/**
 * Check and forget the DMA segments of a list at unmap (as many as were mapped; nothing when the
 * first is unknown).
 *
 * **Kernel:** `debug_dma_unmap_sg()`.
 *
 * **Locking:** any context.
 */
export function debugDmaUnmapSg(
  dev: Device,
  sgl: readonly Scatterlist[],
  nelems: number,
  dir: number,
): void {
  const st = state(dev);
  if (!st) {
    return;
  }
  forEachMappedSgRef(st, dev, sgl, nelems, dir, (ref) => checkUnmap(st, ref));
}

/**
 * Check a sync of part of a single mapping.
 *
 * **Kernel:** `debug_dma_sync_single_for_cpu()` / `debug_dma_sync_single_for_device()`.
 *
 * **Locking:** any context.
 */
export function debugDmaSyncSingle(
  dev: Device,
  addr: number,
  size: number,
  dir: number,
  toCpu: boolean,
): void {
  const st = state(dev);
  if (st) {
    checkSync(
      st,
      { dev, type: "single", devAddr: addr, size, direction: dir, sgCallEnts: 0 },
      toCpu,
    );
  }
}

/**
 * Check a sync of a list, segment by segment (as many as were mapped).
 *
 * **Kernel:** `debug_dma_sync_sg_for_cpu()` / `debug_dma_sync_sg_for_device()`.
 *
 * **Locking:** any context.
 */
export function debugDmaSyncSg(
  dev: Device,
  sgl: readonly Scatterlist[],
  nelems: number,
  dir: number,
  toCpu: boolean,
): void {
  const st = state(dev);
  if (!st) {
    return;
  }
  forEachMappedSgRef(st, dev, sgl, nelems, dir, (ref) => checkSync(st, ref, toCpu));
}

/**
 * Record a coherent allocation.
 *
 * **Kernel:** `debug_dma_alloc_coherent()`.
 *
 * **Locking:** any context.
 */
export function debugDmaAllocCoherent(
  dev: Device,
  size: number,
  dmaAddr: number,
  cpuAddr: number,
  pfn: number,
  attrs: number,
): void {
  const st = state(dev);
  if (!st) {
    return;
  }
  addEntry(
    st,
    newEntry(dev, {
      type: "coherent",
      devAddr: dmaAddr,
      size,
      direction: DMA_BIDIRECTIONAL,
      sgCallEnts: 0,
      sgMappedEnts: 0,
      pfn,
      offset: 0,
      cpuAddr,
    }),
    attrs,
  );
}

/**
 * Check and forget a coherent allocation at free.
 *
 * **Kernel:** `debug_dma_free_coherent()`.
 *
 * **Locking:** any context.
 */
export function debugDmaFreeCoherent(
  dev: Device,
  size: number,
  cpuAddr: number,
  dmaAddr: number,
): void {
  const st = state(dev);
  if (st) {
    checkUnmap(st, {
      dev,
      type: "coherent",
      devAddr: dmaAddr,
      size,
      direction: DMA_BIDIRECTIONAL,
      sgCallEnts: 0,
      cpuAddr,
    });
  }
}

/**
 * Record a resource mapping.
 *
 * **Kernel:** `debug_dma_map_resource()`.
 *
 * **Locking:** any context.
 */
export function debugDmaMapResource(
  dev: Device,
  size: number,
  dir: number,
  dmaAddr: number,
  attrs: number,
): void {
  const st = state(dev);
  if (!st || dmaAddr === DMA_MAPPING_ERROR) {
    return;
  }
  addEntry(
    st,
    newEntry(dev, {
      type: "resource",
      devAddr: dmaAddr,
      size,
      direction: dir,
      sgCallEnts: 0,
      sgMappedEnts: 0,
      pfn: -1,
      offset: 0,
      cpuAddr: 0,
      mapErrType: "not-checked",
    }),
    attrs,
  );
}

/**
 * Check and forget a resource mapping.
 *
 * **Kernel:** `debug_dma_unmap_resource()`.
 *
 * **Locking:** any context.
 */
export function debugDmaUnmapResource(dev: Device, addr: number, size: number, dir: number): void {
  const st = state(dev);
  if (st) {
    checkUnmap(st, { dev, type: "resource", devAddr: addr, size, direction: dir, sgCallEnts: 0 });
  }
}

// ---- public debugging interface ----------------------------------------------------------------

function leakText(list: readonly DmaDebugEntry[]): string {
  const e = list[0]!;
  return (
    `device driver has pending DMA allocations while released from device [count=${list.length}]\n` +
    `One of leaked entries details: [device address=${hex16(e.devAddr)}] [size=${e.size} bytes] [mapped with ${dmaDirName(e.direction)}] [mapped as ${TYPE_NAMES[e.type]}]`
  );
}

/**
 * The driver of `dev` is unbound: report its remaining mappings as a `dma-api` finding (code
 * `pending-allocations`). The entries stay recorded, as in the kernel.
 *
 * **Kernel:** `dma_debug_device_change()` on `BUS_NOTIFY_UNBOUND_DRIVER`.
 *
 * **Locking:** process context (bus notifier).
 */
export function dmaDebugDeviceUnbind(dev: Device): number {
  const st = state(dev);
  const list = st?.byDev.get(dev) ?? [];
  if (st && list.length > 0) {
    errPrintk(st, dev, "pending-allocations", leakText(list), list[0]);
  }
  return list.length;
}

/**
 * At the end of a run: one `leak` finding (code `dma-mapping-leak`) per device that still has
 * streaming mappings or coherent allocations, in the kernel's unbind wording, with every leaked
 * mapping in the details. Returns the findings (none with `CONFIG_DMA_API_DEBUG` off: the kernel
 * then keeps no record).
 *
 * **Kernel:** none by that name; what `dma_debug_device_change()` reports when each driver unbinds
 * at shutdown.
 *
 * **Locking:** process context.
 */
export function dmaDebugCheckLeaks(kernel: Kernel): Finding[] {
  if (!optionOn(kernel, CONFIG_DMA_API_DEBUG)) {
    return [];
  }
  const st = kernel.subsys(DEBUG);
  const out: Finding[] = [];
  for (const [dev, list] of st.byDev) {
    if (list.length === 0) {
      continue;
    }
    out.push(
      kernel.report({
        kind: "leak",
        code: "dma-mapping-leak",
        summary: `DMA-API: ${dev.name} ${dev.name}: ${leakText(list).split("\n")[0]}`,
        details: {
          device: dev.name,
          text: leakText(list),
          hint: dmaDebugHint("pending-allocations", list[0]),
          mappings: list.map((e) => ({
            type: TYPE_NAMES[e.type],
            devAddr: e.devAddr,
            size: e.size,
            direction: dmaDirName(e.direction),
            step: e.step,
            thread: e.thread,
          })),
        },
      }),
    );
  }
  return out;
}

/**
 * The mappings dma-debug holds for `dev` (a copy).
 *
 * **Kernel:** the debugfs `dma-api/dump` file, per device.
 *
 * **Locking:** none.
 */
export function dmaDebugEntries(dev: Device): DmaDebugEntry[] {
  return [...(state(dev)?.byDev.get(dev) ?? [])];
}

/**
 * Violations counted so far. **Kernel:** debugfs `dma-api/error_count`.
 *
 * **Locking:** none.
 */
export function dmaDebugErrorCount(kernel: Kernel): number {
  return kernel.subsys(DEBUG).errorCount;
}

/**
 * Print the WARN for every violation (`true`) or only the first `num_errors` (default).
 * **Kernel:** debugfs `dma-api/all_errors`.
 *
 * **Locking:** none.
 */
export function dmaDebugSetAllErrors(kernel: Kernel, all: boolean): void {
  kernel.subsys(DEBUG).allErrors = all;
}

/**
 * Declare the kernel stack of thread `thread` as the linear-map range `[va, va + size)`, so that
 * mapping it is reported ("maps memory from stack").
 *
 * **Kernel:** none (dmasim has no task stacks; the check is `check_for_stack()`).
 *
 * **Locking:** none.
 */
export function dmaDebugRegisterStack(
  kernel: Kernel,
  thread: string,
  va: number,
  size: number,
): void {
  kernel.subsys(DEBUG).stacks.set(thread, { start: va, end: va + size });
}

/**
 * Declare `[va, va + size)` kernel text or rodata, so that mapping it is reported.
 *
 * **Kernel:** none (dmasim has no kernel image; the check is `check_for_illegal_area()` against
 * `_stext`…`_etext` and `__start_rodata`…`__end_rodata`).
 *
 * **Locking:** none.
 */
export function dmaDebugRegisterKernelText(kernel: Kernel, va: number, size: number): void {
  kernel.subsys(DEBUG).text.push({ start: va, end: va + size });
}
