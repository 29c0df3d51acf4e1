/**
 * The dma-heap framework: heaps register under a name, each gets a device node
 * `/dev/dma_heap/<name>`, and userspace allocates dma-bufs from it with `DMA_HEAP_IOCTL_ALLOC`.
 *
 * **Kernel:** drivers/dma-buf/dma-heap.c (`dma_heap_add()`, `dma_heap_get_name()`,
 * `dma_heap_get_drvdata()`, `dma_heap_get_dev()`, `dma_heap_open()`, `dma_heap_ioctl()`,
 * `dma_heap_ioctl_allocate()`), include/linux/dma-heap.h, and the in-kernel allocation API of the
 * Android trees (`dma_heap_find()`, `dma_heap_buffer_alloc()`). Present from 5.6.
 *
 * @module
 */
import {
  KernelError,
  PAGE_SIZE,
  defineSubsys,
  might_sleep,
  type File,
  type FileOperations,
  type Kernel,
  type Process,
} from "@dmasim/kernel";
import { addDevice, getMachine, type Device } from "@dmasim/hardware";
import { dmaBufFd, dmaBufPut, type DmaBuf } from "@dmasim/dma-buf";
import { HEAPS_ERAS, HEAPS_MODULE } from "./module";
import {
  DMA_HEAP_IOCTL_ALLOC,
  DMA_HEAP_VALID_FD_FLAGS,
  DMA_HEAP_VALID_HEAP_FLAGS,
} from "./uapi/dma-heap";
import { IOC_READ, IOC_WRITE, iocDir, iocNr, iocSize } from "./uapi/ioctl";

/** Device minors of the dma_heap class. **Kernel:** `NUM_HEAP_MINORS`. */
export const NUM_HEAP_MINORS = 128;

/**
 * A heap's operations.
 *
 * **Kernel:** `struct dma_heap_ops`.
 */
export interface DmaHeapOps {
  /**
   * Allocate `len` bytes (page-aligned, non-zero) and export them as a dma-buf whose file flags are
   * `fdFlags`. Throw `ENOMEM`, `EINTR` (Android, fatal signal) or `EBUSY`. May sleep.
   */
  allocate(
    heap: DmaHeap,
    len: number,
    fdFlags: number,
    heapFlags: bigint,
  ): DmaBuf | Promise<DmaBuf>;
  /** Bytes held in the heap's pools (Android). */
  getPoolSize?(heap: DmaHeap): number;
}

/**
 * What a heap passes to {@link dmaHeapAdd}. **Kernel:** `struct dma_heap_export_info`.
 */
export interface DmaHeapExportInfo {
  readonly name: string | null;
  readonly ops: DmaHeapOps | null;
  /** The heap's private data ({@link dmaHeapGetDrvdata}). */
  readonly priv?: unknown;
}

/**
 * A registered heap.
 *
 * **Kernel:** `struct dma_heap` (`name`, `ops`, `priv`, `minor`, `heap_devt`, `list`, `heap_cdev`).
 *
 * **Locking:** immutable once registered (the kernel's `heap_list_lock` guards the list).
 */
export class DmaHeap {
  /** @internal the heap's own device, created by {@link dmaHeapGetDev} */
  dev: Device | null = null;

  /** @internal use {@link dmaHeapAdd} */
  constructor(
    readonly kernel: Kernel,
    readonly name: string,
    readonly ops: DmaHeapOps,
    readonly priv: unknown,
    readonly minor: number,
  ) {}

  /** The device node. */
  get path(): string {
    return `/dev/dma_heap/${this.name}`;
  }
}

interface DmaHeapState {
  readonly heaps: DmaHeap[];
  readonly minors: Set<number>;
}

const DMA_HEAPS = defineSubsys<DmaHeapState>(
  "heaps:dma-heap",
  () => ({ heaps: [], minors: new Set() }),
  HEAPS_MODULE,
);

/**
 * Every registered heap, in registration order. **Kernel:** the static `heap_list`.
 *
 * **Locking:** `heap_list_lock` in the kernel.
 */
export function dmaHeapList(kernel: Kernel): readonly DmaHeap[] {
  return kernel.subsys(DMA_HEAPS).heaps;
}

/**
 * Register a heap and create `/dev/dma_heap/<name>`.
 *
 * **Kernel:** `dma_heap_add()`.
 *
 * **Locking:** process context (module init).
 *
 * @throws {@link KernelError} `ENODEV` before 5.6 (no dma-heap framework); `EINVAL` without a
 * name, without ops or an `allocate` op, or for a name already registered ("Already registered
 * heap named …"); `EBUSY` when the 128 minors are used up
 */
export function dmaHeapAdd(kernel: Kernel, expInfo: DmaHeapExportInfo): DmaHeap {
  if (!HEAPS_ERAS.dmaHeaps(kernel)) {
    throw new KernelError(
      "ENODEV",
      `dma-heaps appeared in ${HEAPS_ERAS.dmaHeaps.since} (this kernel is ${kernel.version.name})`,
    );
  }
  const st = kernel.subsys(DMA_HEAPS);
  if (!expInfo.name) {
    kernel.printk(3, "dma_heap: Cannot add heap without a name");
    throw new KernelError("EINVAL", "dma_heap: Cannot add heap without a name");
  }
  if (!expInfo.ops || typeof expInfo.ops.allocate !== "function") {
    kernel.printk(3, "dma_heap: Cannot add heap with invalid ops struct");
    throw new KernelError("EINVAL", "dma_heap: Cannot add heap with invalid ops struct");
  }
  let minor = 0;
  while (st.minors.has(minor) && minor < NUM_HEAP_MINORS) {
    minor++;
  }
  if (minor >= NUM_HEAP_MINORS) {
    kernel.printk(3, "dma_heap: Unable to get minor number for heap (-16)");
    throw new KernelError("EBUSY", "dma_heap: Unable to get minor number for heap");
  }
  const name = expInfo.name;
  if (st.heaps.some((h) => h.name === name)) {
    kernel.printk(3, `dma_heap: Already registered heap named ${name}`);
    throw new KernelError("EINVAL", `dma_heap: Already registered heap named ${name}`);
  }
  const heap = new DmaHeap(kernel, name, expInfo.ops, expInfo.priv ?? null, minor);
  kernel.vfs.registerDevice(heap.path, DMA_HEAP_FOPS, heap);
  st.minors.add(minor);
  st.heaps.push(heap);
  return heap;
}

/**
 * The heap's name. **Kernel:** `dma_heap_get_name()`.
 *
 * **Locking:** none.
 */
export function dmaHeapGetName(heap: DmaHeap): string {
  return heap.name;
}

/**
 * The heap's private data. **Kernel:** `dma_heap_get_drvdata()`.
 *
 * **Locking:** none.
 */
export function dmaHeapGetDrvdata(heap: DmaHeap): unknown {
  return heap.priv;
}

/**
 * The heap's own device (`dma_heap!<name>` in the dma_heap class), a device without DMA
 * configuration: coherent exactly when the platform's devices are by default (non-coherent on an
 * arm64 SoC), 32-bit DMA mask until a heap sets another. Created on first use.
 *
 * **Kernel:** `dma_heap_get_dev()` (the device `device_create()` made in `dma_heap_add()`).
 *
 * **Locking:** none.
 */
export function dmaHeapGetDev(heap: DmaHeap): Device {
  if (!heap.dev) {
    heap.dev = addDevice(getMachine(heap.kernel), { name: `dma_heap!${heap.name}` });
  }
  return heap.dev;
}

/**
 * Find a heap by name (the caller would hold a reference in the kernel).
 *
 * **Kernel:** `dma_heap_find()` (Android trees).
 *
 * **Locking:** process context.
 */
export function dmaHeapFind(kernel: Kernel, name: string): DmaHeap | null {
  return kernel.subsys(DMA_HEAPS).heaps.find((h) => h.name === name) ?? null;
}

/** The ALLOC argument as the kernel holds it (`kdata`). */
interface AllocKdata {
  len: bigint;
  fd: number;
  fdFlags: number;
  heapFlags: bigint;
}

const U64 = (v: unknown): bigint => {
  if (typeof v === "bigint") {
    return BigInt.asUintN(64, v);
  }
  const n = typeof v === "number" && Number.isFinite(v) ? Math.trunc(v) : 0;
  return BigInt.asUintN(64, BigInt(n));
};
const U32 = (v: unknown): number => (typeof v === "number" && Number.isFinite(v) ? v >>> 0 : 0);

/**
 * Validate an allocation request and return the page-aligned length.
 *
 * **Kernel:** the checks of `dma_heap_ioctl_allocate()` and `dma_heap_buffer_alloc()`, in order:
 * `fd` set on input, unknown `fd_flags`, any `heap_flags`, `PAGE_ALIGN(len)` of 0 (zero, or a
 * length that wraps around 64 bits).
 *
 * **Locking:** none (pure).
 *
 * @throws {@link KernelError} `EINVAL` for each of those
 */
export function dmaHeapCheckAlloc(
  len: bigint,
  fd: number,
  fdFlags: number,
  heapFlags: bigint,
): bigint {
  if (fd !== 0) {
    throw new KernelError("EINVAL", `DMA_HEAP_IOCTL_ALLOC: fd ${fd} must be 0 on input`);
  }
  if ((fdFlags & ~DMA_HEAP_VALID_FD_FLAGS) >>> 0 !== 0) {
    throw new KernelError(
      "EINVAL",
      `DMA_HEAP_IOCTL_ALLOC: invalid fd_flags 0x${(fdFlags >>> 0).toString(16)}`,
    );
  }
  if ((heapFlags & ~DMA_HEAP_VALID_HEAP_FLAGS) !== 0n) {
    throw new KernelError(
      "EINVAL",
      `DMA_HEAP_IOCTL_ALLOC: invalid heap_flags 0x${heapFlags.toString(16)}`,
    );
  }
  const aligned = BigInt.asUintN(64, (len + BigInt(PAGE_SIZE - 1)) & ~BigInt(PAGE_SIZE - 1));
  if (aligned === 0n) {
    throw new KernelError("EINVAL", `DMA_HEAP_IOCTL_ALLOC: length ${len} is 0 once page-aligned`);
  }
  return aligned;
}

/**
 * Allocate a dma-buf from `heap` in the kernel (no fd): validate the flags, page-align the length,
 * call the heap's `allocate`.
 *
 * **Kernel:** `dma_heap_buffer_alloc()` (Android's exported version; mainline's static helper of
 * the ioctl does the same minus the flag checks, which the ioctl does first).
 *
 * **Locking:** may sleep (the heap allocates memory).
 *
 * @throws {@link KernelError} `EINVAL` (as {@link dmaHeapCheckAlloc}), or the heap's error
 * (`ENOMEM`, `EINTR`, `EBUSY`)
 */
export async function dmaHeapBufferAlloc(
  heap: DmaHeap,
  len: number | bigint,
  fdFlags: number,
  heapFlags: number | bigint = 0,
): Promise<DmaBuf> {
  might_sleep(heap.kernel, "drivers/dma-buf/dma-heap.c:dma_heap_buffer_alloc");
  const aligned = dmaHeapCheckAlloc(U64(len), 0, U32(fdFlags), U64(heapFlags));
  if (aligned > BigInt(Number.MAX_SAFE_INTEGER)) {
    throw new KernelError("ENOMEM", `${heap.name}: cannot allocate ${aligned} bytes`);
  }
  await heap.kernel.sched.schedulePoint();
  return heap.ops.allocate(heap, Number(aligned), U32(fdFlags), U64(heapFlags));
}

/** The commands the dispatcher knows, by number. **Kernel:** `dma_heap_ioctl_cmds[]`. */
const DMA_HEAP_IOCTL_CMDS = [DMA_HEAP_IOCTL_ALLOC];

const FIELDS = [
  { name: "len", off: 0, size: 8 },
  { name: "fd", off: 8, size: 4 },
  { name: "fdFlags", off: 12, size: 4 },
  { name: "heapFlags", off: 16, size: 8 },
] as const;

function isUserMemory(arg: unknown): arg is Record<string, unknown> {
  return typeof arg === "object" && arg !== null;
}

function copyIn(arg: unknown, inSize: number): AllocKdata {
  const k: AllocKdata = { len: 0n, fd: 0, fdFlags: 0, heapFlags: 0n };
  if (inSize === 0) {
    return k;
  }
  if (!isUserMemory(arg)) {
    throw new KernelError("EFAULT", "DMA_HEAP_IOCTL_ALLOC: bad user pointer");
  }
  const has = (f: (typeof FIELDS)[number]): boolean => f.off + f.size <= inSize;
  k.len = has(FIELDS[0]) ? U64(arg.len) : 0n;
  k.fd = has(FIELDS[1]) ? U32(arg.fd) : 0;
  k.fdFlags = has(FIELDS[2]) ? U32(arg.fdFlags) : 0;
  k.heapFlags = has(FIELDS[3]) ? U64(arg.heapFlags) : 0n;
  return k;
}

function copyOut(arg: unknown, k: AllocKdata, outSize: number): boolean {
  if (outSize === 0) {
    return true;
  }
  if (!isUserMemory(arg) || Object.isFrozen(arg)) {
    return false;
  }
  const has = (i: number): boolean => FIELDS[i]!.off + FIELDS[i]!.size <= outSize;
  if (has(1)) {
    arg.fd = k.fd;
  }
  if (has(2)) {
    arg.fdFlags = k.fdFlags;
  }
  if (has(3)) {
    arg.heapFlags =
      k.heapFlags <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(k.heapFlags) : k.heapFlags;
  }
  return true;
}

async function dmaHeapIoctlAllocate(file: File, k: AllocKdata, process: Process): Promise<void> {
  const heap = file.privateData as DmaHeap;
  if (k.fd !== 0) {
    throw new KernelError("EINVAL", `DMA_HEAP_IOCTL_ALLOC: fd ${k.fd} must be 0 on input`);
  }
  const dmabuf = await dmaHeapBufferAlloc(heap, k.len, k.fdFlags, k.heapFlags);
  let fd: number;
  try {
    fd = dmaBufFd(dmabuf, k.fdFlags, process);
  } catch (e) {
    dmaBufPut(dmabuf);
    throw e;
  }
  k.fd = fd;
}

/**
 * The heap node's ioctl: adapt the user's struct size, dispatch by command number, copy back.
 *
 * **Kernel:** `dma_heap_ioctl()`: a number beyond the table is `-EINVAL` (not `-ENOTTY`; the magic
 * is never checked); the copy-in happens only when both the user's and the kernel's command have
 * the write direction, the copy-out only when both have the read direction, each of the user's
 * size; missing bytes read as zero. The copy-out runs after a failed allocation too, and a failed
 * copy-out turns any result into `-EFAULT` — after a successful allocation the new fd stays
 * installed (hazard H28).
 *
 * **Locking:** may sleep.
 *
 * @throws {@link KernelError} `EINVAL`, `EFAULT`, or the allocation's error
 */
export async function dmaHeapIoctl(
  file: File,
  ucmd: number,
  arg: unknown,
  process: Process,
): Promise<number> {
  const nr = iocNr(ucmd);
  const kcmd = DMA_HEAP_IOCTL_CMDS[nr];
  if (kcmd === undefined) {
    throw new KernelError("EINVAL", `dma_heap: unknown ioctl number ${nr}`);
  }
  let inSize = iocSize(ucmd);
  let outSize = inSize;
  if ((iocDir(ucmd) & iocDir(kcmd) & IOC_WRITE) === 0) {
    inSize = 0;
  }
  if ((iocDir(ucmd) & iocDir(kcmd) & IOC_READ) === 0) {
    outSize = 0;
  }
  const kdata = copyIn(arg, inSize);
  let err: unknown = null;
  try {
    await dmaHeapIoctlAllocate(file, kdata, process);
  } catch (e) {
    err = e;
  }
  if (!copyOut(arg, kdata, outSize)) {
    throw new KernelError("EFAULT", "DMA_HEAP_IOCTL_ALLOC: cannot copy the result back", {
      cause: err ?? undefined,
    });
  }
  if (err) {
    throw err;
  }
  return 0;
}

/**
 * The file operations of `/dev/dma_heap/<name>`: open (non-seekable) and ioctl.
 *
 * **Kernel:** `dma_heap_fops` (`dma_heap_open()`, `dma_heap_ioctl()`).
 */
export const DMA_HEAP_FOPS: FileOperations = {
  name: "dma_heap",
  open(file: File): void {
    if (!(file.privateData instanceof DmaHeap)) {
      throw new KernelError("ENODEV", "dma_heap: minor not found");
    }
  },
  unlockedIoctl: dmaHeapIoctl,
};
