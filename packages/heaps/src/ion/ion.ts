/**
 * Legacy Android ION (the 4.12–5.10 API): `/dev/ion`, heaps chosen by a heap-id mask, buffers
 * exported as dma-bufs whose user and kernel mappings are write-combine unless `ION_FLAG_CACHED`.
 *
 * As the kernels of that era did:
 * - the buffer's sg table gets "DMA addresses" equal to the physical addresses, and every
 *   attachment gets a copy of it (with those addresses);
 * - `map_dma_buf` maps the copy with `dma_map_sg` (Android 5.4+: with `DMA_ATTR_SKIP_CPU_SYNC` for
 *   uncached buffers) and `unmap_dma_buf` unmaps it;
 * - begin/end CPU access take a kernel mapping and sync **every** attachment, mapped or not
 *   (hazard H24; the named patch {@link ION_SYNC_MAPPED_ONLY} syncs only mapped ones; Android 5.4+
 *   skips uncached buffers);
 * - mmap is `remap_pfn_range` of the pages, write-combine for uncached buffers, whose cacheable
 *   linear-map alias may still hold the dirty zeroes of the allocation (hazard H5).
 *
 * The named patch {@link ION_UNCACHED_CLEAN_BEFORE_MAP} (the November 2018 draft "ensure uncached
 * mappings are only applied to cleaned memory"): user mappings of an uncached buffer are cacheable
 * until the buffer's first dma-map, which cleans it (it is made without `DMA_ATTR_SKIP_CPU_SYNC`);
 * the user mappings are then zapped (`zap_page_range`, whose `tlb_start_vma` flushes the user
 * alias with `flush_cache_range` on VIVT / aliasing VIPT caches) and later faults insert
 * write-combine pages. The kernel vmap stays write-combine, as in the draft. Its costs: an access
 * while the mappings are zapped faults again (`IonBuffer.faults`).
 *
 * **Kernel:** drivers/staging/android/ion/ion.c (4.14 staging, with the Android 5.4 changes
 * named above), ion_heap.c (`ion_heap_map_kernel()`, `ion_heap_map_user()`,
 * `ion_heap_buffer_zero()`). Removed from mainline in 5.11.
 *
 * @module
 */
import { heapBufferAttach, heapBufferDetach } from "../internal/heap-buffer";
import {
  KERN_WARNING,
  KernelError,
  O_CLOEXEC,
  O_RDWR,
  PAGE_SIZE,
  VM_FAULT_SIGBUS,
  defineSubsys,
  mutexInit,
  mutexLock,
  mutexUnlock,
  remapPfnRange,
  vmfInsertPfn,
  zapVmaPtes,
  type File,
  type FileOperations,
  type Kernel,
  type Mutex,
  type PageProt,
  type Process,
  type VmFault,
  type Vma,
} from "@dmasim/kernel";
import {
  cpuMemset,
  flushCacheRange,
  getMachine,
  vmap,
  vunmap,
  type Device,
} from "@dmasim/hardware";
import {
  DMA_ATTR_SKIP_CPU_SYNC,
  dmaMapSgAttrs,
  dmaSyncSgForCpu,
  dmaSyncSgForDevice,
  dmaUnmapSgAttrs,
  sgAllocTable,
  sgFreeTable,
  sgPhys,
  sgSetPage,
  type DmaDataDirection,
  type SgTable,
} from "@dmasim/dma-mapping";
import {
  dmaBufExport,
  dmaBufFd,
  dmaBufPut,
  iosysMapClear,
  iosysMapSetVaddr,
  type DmaBuf,
  type DmaBufOps,
} from "@dmasim/dma-buf";
import {
  CONFIG_ANDROID,
  CONFIG_ION,
  HEAPS_ERAS,
  HEAPS_MODULE,
  ION_SYNC_MAPPED_ONLY,
  ION_UNCACHED_CLEAN_BEFORE_MAP,
  optionOn,
} from "../module";
import { IOC_READ, IOC_WRITE, iocDir, iocSize } from "../uapi/ioctl";
import {
  ION_FLAG_CACHED,
  ION_IOC_ALLOC,
  ION_IOC_HEAP_QUERY,
  ION_NUM_HEAP_IDS,
  MAX_HEAP_NAME,
  type IonHeapData,
} from "./uapi";

/**
 * A heap's operations. **Kernel:** `struct ion_heap_ops`.
 */
export interface IonHeapOps {
  /** Fill `buffer.sgTable` with `len` bytes of memory, or throw (`ENOMEM`). */
  allocate(heap: IonHeap, buffer: IonBuffer, len: number, flags: number): void;
  /** Give the memory back (zeroing it first where the heap does). */
  free(buffer: IonBuffer): void;
}

/**
 * An ION heap.
 *
 * **Kernel:** `struct ion_heap` (`id`, `type`, `name`, `ops`).
 *
 * **Locking:** immutable once added.
 */
export class IonHeap {
  /** The id bit, assigned by {@link ionDeviceAddHeap}. */
  id = -1;
  /** Buffers allocated and not freed. */
  numOfBuffers = 0;

  constructor(
    readonly kernel: Kernel,
    readonly type: number,
    readonly name: string,
    readonly ops: IonHeapOps,
    /** The heap's private data (pools, area). */
    readonly priv: unknown = null,
  ) {}
}

/** One attachment. **Kernel:** `struct ion_dma_buf_attachment`. */
export interface IonAttachment {
  readonly dev: Device;
  readonly table: SgTable;
  /** The attachment is dma-mapped (the `dma_mapped` flag of later trees). */
  dmaMapped: boolean;
  /** The attributes of the current mapping. */
  attrs: number;
}

/**
 * An ION buffer.
 *
 * **Kernel:** `struct ion_buffer` (`heap`, `flags`, `size`, `sg_table`, `attachments`, `lock`,
 * `kmap_cnt`, `vaddr`).
 *
 * **Locking:** `lock` protects `attachments`, `kmapCnt`, `vaddr`, `cleaned` and `vmas`.
 */
export class IonBuffer {
  sgTable: SgTable | null = null;
  readonly attachments: IonAttachment[] = [];
  readonly lock: Mutex;
  kmapCnt = 0;
  vaddr: number | null = null;
  /** The memory type of the kernel mapping held. */
  vaddrProt: PageProt = "cacheable";
  /** The heap's per-buffer data (the CMA heap's first page, the carveout's). */
  privVirt: unknown = null;
  /** {@link ION_UNCACHED_CLEAN_BEFORE_MAP}: the buffer was cleaned by its first dma-map. */
  cleaned = false;
  /** User mappings (to zap). */
  readonly vmas: Vma[] = [];
  /** User page faults served (the cost of zapping). */
  faults = 0;

  constructor(
    readonly heap: IonHeap,
    readonly flags: number,
    readonly size: number,
  ) {
    this.lock = mutexInit(heap.kernel, "&buffer->lock", "ion_buffer_lock");
  }

  /** Whether the buffer is uncached (user and kernel mappings write-combine). */
  get uncached(): boolean {
    return (this.flags & ION_FLAG_CACHED) === 0;
  }

  /** Every page frame of the buffer, in order. */
  pfns(): number[] {
    const out: number[] = [];
    const sgt = this.sgTable!;
    for (const sg of sgt.sgl.slice(0, sgt.origNents)) {
      const first = Math.floor(sgPhys(sg) / PAGE_SIZE);
      for (let i = 0; i < sg.length / PAGE_SIZE; i++) {
        out.push(first + i);
      }
    }
    return out;
  }
}

/**
 * The ION device: its heaps in priority order (higher id first).
 *
 * **Kernel:** `struct ion_device` (`heaps` plist, `heap_cnt`, the `/dev/ion` misc device).
 *
 * **Locking:** `dev->lock` rwsem in the kernel; heaps are added at init.
 */
export class IonDevice {
  readonly heaps: IonHeap[] = [];
  /** The next heap id (4.14: a global counter). */
  nextId = 0;

  constructor(readonly kernel: Kernel) {}
}

const ION = defineSubsys<{ dev: IonDevice | null }>(
  "heaps:ion",
  () => ({ dev: null }),
  HEAPS_MODULE,
);

/**
 * Create the ION device and `/dev/ion`. Returns null when ION is not built: `CONFIG_ION` off, or a
 * kernel of 5.11 or later (where it was removed). Idempotent.
 *
 * **Kernel:** `ion_device_create()` (subsys_initcall).
 *
 * **Locking:** process context (init).
 */
export function ionDeviceCreate(kernel: Kernel): IonDevice | null {
  const st = kernel.subsys(ION);
  if (st.dev) {
    return st.dev;
  }
  if (!optionOn(kernel, CONFIG_ION) || !HEAPS_ERAS.ionLegacy(kernel)) {
    return null;
  }
  st.dev = new IonDevice(kernel);
  kernel.vfs.registerDevice("/dev/ion", ION_FOPS, st.dev);
  return st.dev;
}

/**
 * The ION device, or null. **Kernel:** `internal_dev`.
 *
 * **Locking:** none.
 */
export function ionDevice(kernel: Kernel): IonDevice | null {
  return kernel.subsys(ION).dev;
}

/**
 * Add a heap: it gets the next id and takes its place in the priority list (higher id first).
 *
 * **Kernel:** `ion_device_add_heap()` (4.14: a heap without `allocate` or `free` is only an error
 * message).
 *
 * **Locking:** process context (init).
 *
 * @throws {@link KernelError} `ENODEV` when ION is not built; `ENOSPC` beyond 32 heaps
 */
export function ionDeviceAddHeap(kernel: Kernel, heap: IonHeap): IonHeap {
  const dev = ionDeviceCreate(kernel);
  if (!dev) {
    throw new KernelError("ENODEV", "ion: no ION device on this kernel (CONFIG_ION, up to 5.10)");
  }
  if (!heap.ops.allocate || !heap.ops.free) {
    kernel.printk(3, "ion_device_add_heap: can not add heap with invalid ops struct.");
  }
  if (dev.nextId >= ION_NUM_HEAP_IDS) {
    throw new KernelError("ENOSPC", "ion: no free heap id");
  }
  heap.id = dev.nextId++;
  dev.heaps.push(heap);
  dev.heaps.sort((a, b) => b.id - a.id);
  return heap;
}

function bufOf(d: DmaBuf): IonBuffer {
  return d.priv as IonBuffer;
}

function kmapGet(buffer: IonBuffer): number {
  if (buffer.kmapCnt > 0) {
    buffer.kmapCnt++;
    return buffer.vaddr!;
  }
  // the draft changes only the user mappings: the kernel's vmap of an uncached buffer stays
  // write-combine
  const prot: PageProt = buffer.uncached ? "writecombine" : "cacheable";
  const va = vmap(getMachine(buffer.heap.kernel), buffer.pfns(), prot);
  if (va === null) {
    throw new KernelError("ENOMEM", "ion_heap_map_kernel: vmap failed");
  }
  buffer.vaddr = va;
  buffer.vaddrProt = prot;
  buffer.kmapCnt = 1;
  return va;
}

function kmapPut(buffer: IonBuffer): void {
  if (--buffer.kmapCnt === 0) {
    vunmap(getMachine(buffer.heap.kernel), buffer.vaddr!);
    buffer.vaddr = null;
  }
}

function zapBeforeClean(buffer: IonBuffer): boolean {
  return buffer.uncached && optionOn(buffer.heap.kernel, ION_UNCACHED_CLEAN_BEFORE_MAP);
}

/** Android's modular ION (5.4+) skips CPU syncs for uncached buffers. */
function androidIon(kernel: Kernel): boolean {
  return optionOn(kernel, CONFIG_ANDROID) && HEAPS_ERAS.androidModularIon(kernel);
}

function dupSgTable(buffer: IonBuffer): SgTable {
  const src = buffer.sgTable!;
  const copy = sgAllocTable(buffer.heap.kernel, src.origNents);
  src.sgl.slice(0, src.origNents).forEach((sg, i) => {
    const d = copy.sgl[i]!;
    sgSetPage(d, sg.page!, sg.length, sg.offset);
    d.dmaAddress = sg.dmaAddress;
    d.dmaLength = sg.dmaLength;
  });
  return copy;
}

async function cpuAccess(dmabuf: DmaBuf, dir: DmaDataDirection, begin: boolean): Promise<void> {
  const buffer = bufOf(dmabuf);
  const kernel = buffer.heap.kernel;
  await mutexLock(buffer.lock);
  try {
    if (begin) {
      kmapGet(buffer);
    } else if (buffer.kmapCnt > 0) {
      kmapPut(buffer);
    }
    if (buffer.uncached && androidIon(kernel)) {
      return;
    }
    const mappedOnly = optionOn(kernel, ION_SYNC_MAPPED_ONLY);
    for (const a of buffer.attachments) {
      if (mappedOnly && !a.dmaMapped) {
        continue;
      }
      if (begin) {
        dmaSyncSgForCpu(a.dev, a.table.sgl, a.table.nents, dir);
      } else {
        dmaSyncSgForDevice(a.dev, a.table.sgl, a.table.nents, dir);
      }
    }
  } finally {
    mutexUnlock(buffer.lock);
  }
}

/**
 * The first dma-map of an uncached buffer under the 2018 draft: cleaned, then every user mapping
 * zapped. `zap_page_range()` starts with `tlb_start_vma()`, which flushes the user range from
 * an aliasing cache (`flush_cache_range`) before the PTEs go: the user alias's dirty lines reach
 * memory instead of lingering under the write-combine mapping that replaces it.
 */
function cleanAndZap(buffer: IonBuffer): void {
  const kernel = buffer.heap.kernel;
  const m = getMachine(kernel);
  buffer.cleaned = true;
  for (const vma of buffer.vmas) {
    const proc = kernel.vfs.processes.find((p) => p.mm === vma.mm);
    if (proc) {
      flushCacheRange(m, proc, vma.start, vma.end);
    }
    zapVmaPtes(vma);
  }
}

/** The `pr_warn_once` site of `ion_buffer_destroy()`'s "buffer still mapped in the kernel". */
const WARN_STILL_MAPPED = "drivers/staging/android/ion/ion.c:ion_buffer_destroy:still-mapped";

function ionVmFault(vmf: VmFault): number {
  const buffer = vmf.vma.privateData as IonBuffer;
  const pfn = buffer.pfns()[vmf.pgoff];
  if (pfn === undefined) {
    return VM_FAULT_SIGBUS;
  }
  buffer.faults++;
  vmf.vma.pageProt = buffer.cleaned ? "writecombine" : "cacheable";
  return vmfInsertPfn(vmf.vma, vmf.address, pfn);
}

/**
 * The dma-buf operations of ION buffers.
 *
 * **Kernel:** `dma_buf_ops` of ion.c.
 */
export const ION_DMA_BUF_OPS: DmaBufOps = {
  async attach(dmabuf, attachment) {
    const buffer = bufOf(dmabuf);
    const a: IonAttachment = {
      dev: attachment.dev,
      table: dupSgTable(buffer),
      dmaMapped: false,
      attrs: 0,
    };
    attachment.priv = a;
    await heapBufferAttach(buffer, a);
  },
  async detach(dmabuf, attachment) {
    const a = attachment.priv as IonAttachment;
    await heapBufferDetach(bufOf(dmabuf), a);
    sgFreeTable(a.table);
  },
  mapDmaBuf(attachment, dir) {
    const buffer = bufOf(attachment.dmabuf);
    const a = attachment.priv as IonAttachment;
    let attrs = buffer.uncached && androidIon(buffer.heap.kernel) ? DMA_ATTR_SKIP_CPU_SYNC : 0;
    const firstClean = zapBeforeClean(buffer) && !buffer.cleaned;
    if (firstClean) {
      attrs = 0;
    }
    const n = dmaMapSgAttrs(attachment.dev, a.table.sgl, a.table.origNents, dir, attrs);
    if (n === 0) {
      throw new KernelError("ENOMEM", "ion_map_dma_buf: dma_map_sg failed");
    }
    a.table.nents = n;
    a.dmaMapped = true;
    a.attrs = attrs;
    if (firstClean) {
      cleanAndZap(buffer);
    }
    return a.table;
  },
  unmapDmaBuf(attachment, table, dir) {
    const a = attachment.priv as IonAttachment;
    dmaUnmapSgAttrs(attachment.dev, table.sgl, table.origNents, dir, a.attrs);
    a.dmaMapped = false;
  },
  async beginCpuAccess(dmabuf, dir) {
    await cpuAccess(dmabuf, dir, true);
  },
  async endCpuAccess(dmabuf, dir) {
    await cpuAccess(dmabuf, dir, false);
  },
  mmap(dmabuf, vma: Vma) {
    const buffer = bufOf(dmabuf);
    if (zapBeforeClean(buffer)) {
      vma.vmOps = {
        fault: ionVmFault,
        close: (v) => {
          buffer.vmas.splice(buffer.vmas.indexOf(v), 1);
        },
      };
      vma.privateData = buffer;
      buffer.vmas.push(vma);
      return;
    }
    if (buffer.uncached) {
      vma.pageProt = "writecombine";
    }
    const pfns = buffer.pfns();
    for (let i = vma.pgoff, addr = vma.start; i < pfns.length && addr < vma.end; i++) {
      remapPfnRange(vma, addr, pfns[i]!, PAGE_SIZE);
      addr += PAGE_SIZE;
    }
  },
  async vmap(dmabuf, map) {
    const buffer = bufOf(dmabuf);
    await mutexLock(buffer.lock);
    try {
      iosysMapSetVaddr(map, kmapGet(buffer));
    } finally {
      mutexUnlock(buffer.lock);
    }
  },
  async vunmap(dmabuf, map) {
    const buffer = bufOf(dmabuf);
    await mutexLock(buffer.lock);
    kmapPut(buffer);
    mutexUnlock(buffer.lock);
    iosysMapClear(map);
  },
  release(dmabuf) {
    const buffer = bufOf(dmabuf);
    const kernel = buffer.heap.kernel;
    if (buffer.kmapCnt > 0) {
      // ion_buffer_destroy(): pr_warn_once, then unmap_kernel (a dmesg line, not a WARN)
      if (!kernel.warnedOnce.has(WARN_STILL_MAPPED)) {
        kernel.warnedOnce.add(WARN_STILL_MAPPED);
        kernel.printk(KERN_WARNING, "ion_buffer_destroy: buffer still mapped in the kernel");
      }
      vunmap(getMachine(kernel), buffer.vaddr!);
    }
    buffer.heap.ops.free(buffer);
    buffer.heap.numOfBuffers--;
    sgFreeTable(buffer.sgTable!);
  },
};

/**
 * Zero a buffer's pages through a mapping with the buffer's own memory type (write-combine for
 * uncached buffers), as the heaps do before memory goes back to a pool or a carveout.
 *
 * **Kernel:** `ion_heap_buffer_zero()` → `ion_heap_sglist_zero()`.
 *
 * **Locking:** may sleep (vmap).
 */
export function ionHeapBufferZero(buffer: IonBuffer): void {
  const m = getMachine(buffer.heap.kernel);
  const pfns = buffer.pfns();
  const va = vmap(m, pfns, buffer.uncached ? "writecombine" : "cacheable");
  if (va === null) {
    return;
  }
  cpuMemset(m, va, 0, pfns.length * PAGE_SIZE); // memset: no zero buffer of the whole size
  vunmap(m, va);
}

/**
 * Allocate `len` bytes from the first heap in priority order that is in `heapIdMask` and
 * succeeds, and export it (file flags `O_RDWR`).
 *
 * **Kernel:** `ion_alloc()` (without the fd) → `ion_buffer_create()`: every sg entry's DMA address
 * is set to its physical address.
 *
 * **Locking:** may sleep.
 *
 * @throws {@link KernelError} `ENODEV` when ION is absent or no heap matches the mask; `EINVAL`
 * for a length of 0 once page-aligned; the last heap's error (`ENOMEM`)
 */
export async function ionAllocDmabuf(
  kernel: Kernel,
  len: number,
  heapIdMask: number,
  flags: number,
): Promise<DmaBuf> {
  const dev = ionDevice(kernel);
  if (!dev) {
    throw new KernelError("ENODEV", "ion: no ION device");
  }
  len = Math.ceil(len / PAGE_SIZE) * PAGE_SIZE;
  if (len <= 0) {
    throw new KernelError("EINVAL", "ion_alloc: length 0");
  }
  await kernel.sched.schedulePoint();
  let last: unknown = null;
  for (const heap of dev.heaps) {
    if (((1 << heap.id) & heapIdMask) === 0) {
      continue;
    }
    const buffer = new IonBuffer(heap, flags, len);
    try {
      heap.ops.allocate(heap, buffer, len, flags);
    } catch (e) {
      last = e;
      continue;
    }
    if (!buffer.sgTable) {
      last = new KernelError("EINVAL", "heap->ops->allocate returned no sg table");
      continue;
    }
    for (const sg of buffer.sgTable.sgl.slice(0, buffer.sgTable.origNents)) {
      sg.dmaAddress = sgPhys(sg);
      sg.dmaLength = sg.length;
    }
    heap.numOfBuffers++;
    try {
      return dmaBufExport(kernel, {
        expName: "ion",
        ops: ION_DMA_BUF_OPS,
        size: len,
        flags: O_RDWR,
        priv: buffer,
      });
    } catch (e) {
      heap.ops.free(buffer);
      heap.numOfBuffers--;
      throw e;
    }
  }
  throw (
    last ?? new KernelError("ENODEV", `ion_alloc: no heap in mask 0x${heapIdMask.toString(16)}`)
  );
}

function ionQueryHeaps(dev: IonDevice, q: Record<string, unknown>): void {
  const heaps = q.heaps;
  if (heaps === null || heaps === undefined) {
    q.cnt = dev.heaps.length;
    return;
  }
  const max = Number(q.cnt);
  if (!(max > 0)) {
    throw new KernelError("EINVAL", "ION_IOC_HEAP_QUERY: cnt <= 0");
  }
  if (!Array.isArray(heaps) || Object.isFrozen(heaps)) {
    throw new KernelError("EFAULT", "ION_IOC_HEAP_QUERY: bad heaps pointer");
  }
  let cnt = 0;
  for (const heap of dev.heaps) {
    const data: IonHeapData = {
      name: heap.name.slice(0, MAX_HEAP_NAME - 1),
      type: heap.type,
      heapId: heap.id,
    };
    heaps[cnt++] = data;
    if (cnt >= max) {
      break;
    }
  }
  q.cnt = cnt;
}

/**
 * `/dev/ion`'s ioctl.
 *
 * **Kernel:** `ion_ioctl()`: an argument larger than the union → `-EINVAL`; the copy-in is
 * unconditional (`-EFAULT`); HEAP_QUERY's reserved fields must be 0 (`-EINVAL`); unknown commands
 * → `-ENOTTY`; ALLOC installs the fd (`O_CLOEXEC`) before the copy-out, which can fail
 * (`-EFAULT`).
 *
 * **Locking:** may sleep.
 *
 * @throws {@link KernelError} `EINVAL`, `EFAULT`, `ENOTTY`, `ENODEV`, `ENOMEM`
 */
export async function ionIoctl(
  file: File,
  cmd: number,
  arg: unknown,
  process: Process,
): Promise<number> {
  const dev = file.privateData as IonDevice;
  if (iocSize(cmd) > 24) {
    throw new KernelError("EINVAL", "ion_ioctl: argument too large");
  }
  if (typeof arg !== "object" || arg === null) {
    throw new KernelError("EFAULT", "ion_ioctl: bad user pointer");
  }
  const data = arg as Record<string, unknown>;
  if (cmd === ION_IOC_HEAP_QUERY && (data.reserved0 || data.reserved1 || data.reserved2)) {
    dev.kernel.printk(4, "ion_ioctl: ioctl validate failed");
    throw new KernelError("EINVAL", "ION_IOC_HEAP_QUERY: reserved fields must be 0");
  }
  const out: Record<string, unknown> = (iocDir(cmd) & IOC_WRITE) === 0 ? {} : { ...data };
  if (cmd === ION_IOC_ALLOC) {
    const dmabuf = await ionAllocDmabuf(
      dev.kernel,
      Number(out.len ?? 0),
      Number(out.heapIdMask ?? 0) >>> 0,
      Number(out.flags ?? 0) >>> 0,
    );
    let fd: number;
    try {
      fd = dmaBufFd(dmabuf, O_CLOEXEC, process);
    } catch (e) {
      dmaBufPut(dmabuf);
      throw e;
    }
    out.fd = fd;
  } else if (cmd === ION_IOC_HEAP_QUERY) {
    ionQueryHeaps(dev, out);
  } else {
    throw new KernelError("ENOTTY", `ion_ioctl: unknown command 0x${cmd.toString(16)}`);
  }
  if ((iocDir(cmd) & IOC_READ) !== 0) {
    if (Object.isFrozen(arg)) {
      throw new KernelError("EFAULT", "ion_ioctl: cannot copy the result back");
    }
    Object.assign(data, out);
  }
  return 0;
}

/**
 * `/dev/ion`'s file operations. **Kernel:** `ion_fops`.
 */
export const ION_FOPS: FileOperations = {
  name: "ion",
  unlockedIoctl: ionIoctl,
};
