/**
 * A minimal memfd: an anonymous shmem file of pages that a process creates, sizes, seals and
 * maps (cacheable), enough to back udmabuf. The kernel layer of dmasim has no shmem; this model
 * lives beside its only user.
 *
 * **Kernel:** mm/memfd.c (`memfd_create()`, `F_ADD_SEALS`, `F_GET_SEALS`) on mm/shmem.c pages.
 *
 * @module
 */
import {
  KernelError,
  O_RDWR,
  PAGE_SIZE,
  anonInodeGetfile,
  fput,
  remapPfnRange,
  type FileOperations,
  type Kernel,
  type Process,
} from "@dmasim/kernel";
import {
  GFP_HIGHUSER,
  __GFP_ZERO,
  allocPages,
  freePages,
  getMachine,
  type Page,
} from "@dmasim/hardware";

/** `memfd_create()` flag: seals may be added. **Kernel:** `MFD_ALLOW_SEALING`. */
export const MFD_ALLOW_SEALING = 0x2;
/** **Kernel:** `F_SEAL_SEAL`: no more seals. */
export const F_SEAL_SEAL = 0x1;
/** **Kernel:** `F_SEAL_SHRINK`: the file cannot shrink. */
export const F_SEAL_SHRINK = 0x2;
/** **Kernel:** `F_SEAL_GROW`: the file cannot grow. */
export const F_SEAL_GROW = 0x4;
/** **Kernel:** `F_SEAL_WRITE`: the contents cannot change. */
export const F_SEAL_WRITE = 0x8;

/**
 * The shmem inode behind a memfd. **Kernel:** the shmem inode with its page cache and seals.
 *
 * **Locking:** `seals` under the inode lock (one thread at a time in the simulator).
 */
export class Memfd {
  seals: number;
  /**
   * References to each page: the page cache's (until the file is released) and one per udmabuf
   * that holds the page. **Kernel:** the folio reference counts.
   */
  readonly pageRefs: Uint32Array;
  /** The file was released: its pages left the page cache. */
  evicted = false;

  constructor(
    readonly kernel: Kernel,
    readonly name: string,
    readonly pages: readonly Page[],
    allowSealing: boolean,
  ) {
    this.seals = allowSealing ? 0 : F_SEAL_SEAL;
    this.pageRefs = new Uint32Array(pages.length).fill(1);
  }

  /** Size in bytes. */
  get size(): number {
    return this.pages.length * PAGE_SIZE;
  }
}

/**
 * Take a reference on each page of `[first, first + count)` (a udmabuf holding its pages).
 *
 * **Kernel:** `shmem_read_mapping_page()` / `memfd_pin_folios()` in `udmabuf_create()`.
 *
 * **Locking:** any context.
 */
export function memfdGetPages(mfd: Memfd, first: number, count: number): void {
  for (let i = first; i < first + count; i++) {
    mfd.pageRefs[i]!++;
  }
}

function putPage(mfd: Memfd, i: number): void {
  if (--mfd.pageRefs[i]! === 0) {
    freePages(getMachine(mfd.kernel), mfd.pages[i] as Page, 0);
  }
}

/**
 * Drop the references {@link memfdGetPages} took; a page nobody else holds is freed.
 *
 * **Kernel:** `put_page()` / `unpin_folios()` in `release_udmabuf()`.
 *
 * **Locking:** must not sleep.
 */
export function memfdPutPages(mfd: Memfd, first: number, count: number): void {
  for (let i = first; i < first + count; i++) {
    putPage(mfd, i);
  }
}

/**
 * The memfd's file is released: its pages leave the page cache. A page a udmabuf still holds stays
 * allocated until the udmabuf is released; the others are freed now.
 *
 * **Kernel:** the last `fput()` → `shmem_evict_inode()` (truncation drops the page cache's
 * references).
 *
 * **Locking:** must not sleep.
 */
export function memfdPut(mfd: Memfd): void {
  if (mfd.evicted) {
    return;
  }
  mfd.evicted = true;
  mfd.pages.forEach((_, i) => putPage(mfd, i));
}

/** The file operations of a memfd (cacheable shared mappings of its pages). */
export const MEMFD_FOPS: FileOperations = {
  name: "memfd",
  mmap: (file, vma) => {
    const mfd = file.privateData as Memfd;
    if (vma.pgoff + vma.pages > mfd.pages.length) {
      throw new KernelError("EINVAL", "mmap beyond the end of the memfd");
    }
    mfd.pages.slice(vma.pgoff, vma.pgoff + vma.pages).forEach((p, i) => {
      remapPfnRange(vma, vma.start + i * PAGE_SIZE, p.pfn, PAGE_SIZE);
    });
  },
  release: (file) => memfdPut(file.privateData as Memfd),
};

/**
 * Create a memfd of `size` bytes (as `memfd_create()` + `ftruncate()` + touching every page: the
 * CPU zeroes each page through the cacheable linear map) and install it in `process`.
 *
 * **Kernel:** `memfd_create()`, `ftruncate()`, `shmem_get_folio()`.
 *
 * **Locking:** may sleep.
 *
 * @throws {@link KernelError} `EINVAL` for a size that is not a positive multiple of the page size,
 * `ENOMEM`, `EMFILE`
 */
export function memfdCreate(process: Process, name: string, size: number, flags = 0): number {
  const kernel = process.kernel;
  if (!Number.isInteger(size) || size <= 0 || size % PAGE_SIZE !== 0) {
    throw new KernelError(
      "EINVAL",
      `memfd size ${size} is not a positive multiple of ${PAGE_SIZE}`,
    );
  }
  const m = getMachine(kernel);
  const pages: Page[] = [];
  for (let i = 0; i < size / PAGE_SIZE; i++) {
    const p = allocPages(m, 0, GFP_HIGHUSER | __GFP_ZERO);
    if (!p) {
      pages.forEach((q) => freePages(m, q, 0));
      throw new KernelError("ENOMEM", "memfd: out of memory");
    }
    pages.push(p);
  }
  const mfd = new Memfd(kernel, name, pages, (flags & MFD_ALLOW_SEALING) !== 0);
  const file = anonInodeGetfile(kernel, `memfd:${name}`, MEMFD_FOPS, mfd, O_RDWR);
  try {
    return process.installFd(file);
  } catch (e) {
    fput(file);
    throw e;
  }
}

/**
 * Add seals to a memfd.
 *
 * **Kernel:** `fcntl(fd, F_ADD_SEALS, seals)` → `memfd_add_seals()`.
 *
 * **Locking:** process context.
 *
 * @throws {@link KernelError} `EBADF`, `EINVAL` (not a memfd, unknown seal bits), `EPERM` (sealed
 * with `F_SEAL_SEAL`, or created without `MFD_ALLOW_SEALING`)
 */
export function memfdAddSeals(process: Process, fd: number, seals: number): void {
  const file = process.fget(fd);
  try {
    if (file.fOp !== MEMFD_FOPS) {
      throw new KernelError("EINVAL", `fd ${fd} is not a memfd`);
    }
    if (seals & ~(F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE)) {
      throw new KernelError("EINVAL", `unknown seals 0x${seals.toString(16)}`);
    }
    const mfd = file.privateData as Memfd;
    if (mfd.seals & F_SEAL_SEAL) {
      throw new KernelError("EPERM", "memfd is sealed against new seals");
    }
    mfd.seals |= seals;
  } finally {
    fput(file);
  }
}
