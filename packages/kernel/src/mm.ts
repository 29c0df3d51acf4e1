/**
 * Process address spaces: `mm_struct`, VMAs, page-table entries of user mappings, faults.
 *
 * **Kernel:** include/linux/mm.h, include/linux/mm_types.h, mm/memory.c (`remap_pfn_range`,
 * `vmf_insert_pfn`, `vm_insert_page`, `zap_vma_ptes`, `handle_mm_fault`), mm/mmap.c.
 *
 * The memory behind a PTE is the hardware layer's business: a PTE here is a page frame number and
 * the page protection (cacheable, write-combine, uncached) the CPU mapping will use.
 *
 * @module
 */
import { KernelError } from "./errno";
import type { Kernel } from "./kernel";
import { downRead, initRwsem, upRead, type RwSemaphore } from "./rwsem";
import { fput, getFile } from "./file_table";
import type { File } from "./vfs";

/** Page size (4 KiB). **Kernel:** `PAGE_SIZE`. */
export const PAGE_SIZE = 4096;
/** **Kernel:** `PAGE_SHIFT`. */
export const PAGE_SHIFT = 12;

/** `vm_flags` bits. **Kernel:** include/linux/mm.h */
export const VM_READ = 0x1;
/** **Kernel:** `VM_WRITE`. */
export const VM_WRITE = 0x2;
/** **Kernel:** `VM_EXEC`. */
export const VM_EXEC = 0x4;
/** **Kernel:** `VM_SHARED`. */
export const VM_SHARED = 0x8;
/** **Kernel:** `VM_MAYWRITE`. */
export const VM_MAYWRITE = 0x20;
/** **Kernel:** `VM_IO`. */
export const VM_IO = 0x4000;
/** **Kernel:** `VM_DONTEXPAND`. */
export const VM_DONTEXPAND = 0x40000;
/** **Kernel:** `VM_PFNMAP`. */
export const VM_PFNMAP = 0x400;
/** **Kernel:** `VM_MIXEDMAP`. */
export const VM_MIXEDMAP = 0x10000000;
/** **Kernel:** `VM_DONTDUMP`. */
export const VM_DONTDUMP = 0x4000000;

/** mmap `prot`. **Kernel:** include/uapi/asm-generic/mman-common.h */
export const PROT_NONE = 0;
/** **Kernel:** `PROT_READ`. */
export const PROT_READ = 1;
/** **Kernel:** `PROT_WRITE`. */
export const PROT_WRITE = 2;
/** mmap `flags`. **Kernel:** `MAP_SHARED`. */
export const MAP_SHARED = 0x01;
/** **Kernel:** `MAP_PRIVATE`. */
export const MAP_PRIVATE = 0x02;

/** Fault results. **Kernel:** `VM_FAULT_*` in include/linux/mm_types.h */
export const VM_FAULT_OOM = 0x0001;
/** **Kernel:** `VM_FAULT_SIGBUS`. */
export const VM_FAULT_SIGBUS = 0x0002;
/** **Kernel:** `VM_FAULT_NOPAGE` (the handler installed the PTE itself). */
export const VM_FAULT_NOPAGE = 0x0100;

/**
 * The memory type a mapping uses. **Kernel:** `pgprot_t` (`PAGE_KERNEL`, `pgprot_writecombine()`,
 * `pgprot_noncached()`).
 */
export type PageProt = "cacheable" | "writecombine" | "uncached";

/** One user page-table entry. **Kernel:** a `pte_t`. */
export interface Pte {
  readonly pfn: number;
  readonly prot: PageProt;
  readonly writable: boolean;
}

/** What a fault handler is told. **Kernel:** `struct vm_fault`. */
export interface VmFault {
  readonly vma: Vma;
  /** The faulting address, page-aligned. */
  readonly address: number;
  /** The page offset in the file: `vma.pgoff + (address - vma.start) / PAGE_SIZE`. */
  readonly pgoff: number;
  readonly write: boolean;
}

/** VMA callbacks. **Kernel:** `struct vm_operations_struct`. */
export interface VmOperations {
  /** A copy of the VMA was made (fork, split). */
  open?(vma: Vma): void;
  /** The VMA is going away. */
  close?(vma: Vma): void;
  /** A page with no PTE was touched: install one (`vmfInsertPfn`) and return `VM_FAULT_NOPAGE`, or fail with `VM_FAULT_SIGBUS`. */
  fault?(vmf: VmFault): number | Promise<number>;
}

/**
 * A user mapping. **Kernel:** `struct vm_area_struct`.
 *
 * **Locking:** changes under the mm's `mmap_lock`.
 */
export class Vma {
  vmFlags: number;
  pageProt: PageProt = "cacheable";
  vmOps: VmOperations | null = null;
  privateData: unknown = null;
  /** Present PTEs by page index within the VMA. */
  readonly ptes = new Map<number, Pte>();

  constructor(
    readonly mm: Mm,
    readonly start: number,
    readonly end: number,
    /** Offset in pages into the file (`dma_buf_mmap()` rewrites it). */
    public pgoff: number,
    vmFlags: number,
    /** The mapped file (`vma_set_file()` replaces it). */
    public file: File | null,
  ) {
    this.vmFlags = vmFlags;
  }

  /** Number of pages. **Kernel:** `vma_pages()`. */
  get pages(): number {
    return (this.end - this.start) / PAGE_SIZE;
  }
}

/**
 * A process address space. **Kernel:** `struct mm_struct`.
 *
 * **Locking:** `mmapLock` protects the VMA list.
 */
export class Mm {
  readonly vmas: Vma[] = [];
  readonly mmapLock: RwSemaphore;
  /** Next free user address (a simple bump allocator, as after `mmap_base`). */
  nextAddress = 0x7f00_0000_0000;

  constructor(readonly kernel: Kernel) {
    this.mmapLock = initRwsem(kernel, "&mm->mmap_lock", "mmap_lock");
  }

  /** The VMA containing `address`, or undefined. **Kernel:** `vma_lookup()`. */
  findVma(address: number): Vma | undefined {
    return this.vmas.find((v) => address >= v.start && address < v.end);
  }
}

/**
 * Make `vma` map `file` instead of its current file: takes a reference on the new file and drops
 * the one on the old.
 *
 * **Kernel:** `vma_set_file()` in mm/util.c.
 *
 * **Locking:** the caller holds `mmap_lock` (it runs from an `mmap` file operation).
 */
export function vmaSetFile(vma: Vma, file: File): void {
  const old = vma.file;
  vma.file = getFile(file);
  if (old) {
    fput(old);
  }
}

/**
 * Map `size` bytes (rounded up to whole pages) of page frames starting at `pfn` into `vma` at
 * `address`, with the VMA's page protection.
 *
 * **Kernel:** `remap_pfn_range()`.
 *
 * **Locking:** the caller holds `mmap_lock` (it runs from an `mmap` file operation).
 *
 * @throws {@link KernelError} `EINVAL` when the range leaves the VMA or is not page-aligned
 */
export function remapPfnRange(vma: Vma, address: number, pfn: number, size: number): void {
  size = Math.ceil(size / PAGE_SIZE) * PAGE_SIZE;
  if (address % PAGE_SIZE !== 0 || size <= 0 || address < vma.start || address + size > vma.end) {
    throw new KernelError(
      "EINVAL",
      `remap_pfn_range ${address.toString(16)}+${size} outside VMA ${vma.start.toString(16)}-${vma.end.toString(16)}`,
    );
  }
  vma.vmFlags |= VM_IO | VM_PFNMAP | VM_DONTEXPAND | VM_DONTDUMP;
  for (let i = 0; i < size / PAGE_SIZE; i++) {
    setPte(vma, address + i * PAGE_SIZE, pfn + i);
  }
}

function setPte(vma: Vma, address: number, pfn: number): void {
  vma.ptes.set((address - vma.start) / PAGE_SIZE, {
    pfn,
    prot: vma.pageProt,
    writable: (vma.vmFlags & VM_WRITE) !== 0,
  });
}

/**
 * Install one PTE from a fault handler. `VM_FAULT_SIGBUS` for an address outside the VMA; a PTE
 * already present (another thread faulted first) is left as it is.
 *
 * **Kernel:** `vmf_insert_pfn()` / `vm_insert_page()`; returns `VM_FAULT_NOPAGE`.
 *
 * **Locking:** from a fault handler (mmap_lock held for read).
 */
export function vmfInsertPfn(vma: Vma, address: number, pfn: number): number {
  if (address < vma.start || address >= vma.end) {
    return VM_FAULT_SIGBUS;
  }
  const page = address - (address % PAGE_SIZE);
  if (!vma.ptes.has((page - vma.start) / PAGE_SIZE)) {
    setPte(vma, page, pfn);
  }
  return VM_FAULT_NOPAGE;
}

/**
 * Remove the PTEs of the pages that `[address, address + size)` touches, so that the next access
 * faults. A range that is not inside the VMA is ignored, as in the kernel.
 *
 * **Kernel:** `zap_vma_ptes()`.
 *
 * **Locking:** the caller holds `mmap_lock` or otherwise keeps the VMA alive.
 */
export function zapVmaPtes(
  vma: Vma,
  address: number = vma.start,
  size: number = vma.end - vma.start,
): void {
  if (size <= 0 || address < vma.start || address + size > vma.end) {
    return;
  }
  const first = Math.floor((address - vma.start) / PAGE_SIZE);
  const last = Math.ceil((address + size - vma.start) / PAGE_SIZE);
  for (let i = first; i < last; i++) {
    vma.ptes.delete(i);
  }
}

/**
 * Resolve a user access to a page with no PTE: call the VMA's fault handler under `mmap_lock` held
 * for read. Returns the PTE, or throws `EFAULT` for SIGSEGV (no VMA, an access the VMA does not
 * allow) and SIGBUS (no handler, or the handler refused), as the faulting process would be killed.
 *
 * **Kernel:** `handle_mm_fault()` from the architecture's page-fault handler.
 *
 * **Locking:** may sleep; takes `mm.mmapLock` for read (so lockdep sees mmap_lock -> whatever the
 * fault handler takes). Must not be called with `mmap_lock` held for write.
 *
 * @throws {@link KernelError} `EFAULT` when the fault cannot be resolved (SIGBUS / SIGSEGV)
 */
export async function handleMmFault(mm: Mm, address: number, write: boolean): Promise<Pte> {
  await downRead(mm.mmapLock);
  try {
    return await faultLocked(mm, address, write);
  } finally {
    upRead(mm.mmapLock);
  }
}

async function faultLocked(mm: Mm, address: number, write: boolean): Promise<Pte> {
  const vma = mm.findVma(address);
  if (!vma) {
    throw new KernelError("EFAULT", `SIGSEGV: no mapping at 0x${address.toString(16)}`);
  }
  if ((vma.vmFlags & (VM_READ | VM_WRITE | VM_EXEC)) === 0) {
    throw new KernelError(
      "EFAULT",
      `SIGSEGV: access to PROT_NONE mapping at 0x${address.toString(16)}`,
    );
  }
  if (write && (vma.vmFlags & VM_WRITE) === 0) {
    throw new KernelError(
      "EFAULT",
      `SIGSEGV: write to read-only mapping at 0x${address.toString(16)}`,
    );
  }
  const index = Math.floor((address - vma.start) / PAGE_SIZE);
  const present = vma.ptes.get(index);
  if (present) {
    return present;
  }
  const fault = vma.vmOps?.fault;
  if (!fault) {
    throw new KernelError(
      "EFAULT",
      `SIGBUS: no page and no fault handler at 0x${address.toString(16)}`,
    );
  }
  const page = vma.start + index * PAGE_SIZE;
  const r = await fault({ vma, address: page, pgoff: vma.pgoff + index, write });
  const pte = vma.ptes.get(index);
  if (r & (VM_FAULT_SIGBUS | VM_FAULT_OOM) || !pte) {
    throw new KernelError(
      "EFAULT",
      `${r & VM_FAULT_OOM ? "VM_FAULT_OOM" : "SIGBUS"}: fault handler refused 0x${address.toString(16)} (pgoff ${vma.pgoff + index})`,
    );
  }
  return pte;
}
