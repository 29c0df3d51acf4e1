/**
 * udmabuf: userspace turns pages of a sealed memfd into a dma-buf through `/dev/udmabuf`. The
 * exporter maps its pages for each importer, syncs them for the CPU in begin_cpu_access and for
 * devices in end_cpu_access through a table mapped for the misc device, and mmaps them cacheable.
 *
 * **Kernel:** a simplified drivers/dma-buf/udmabuf.c (`udmabuf_create()`, `UDMABUF_CREATE`,
 * `map_udmabuf`, `begin_cpu_udmabuf`, `end_cpu_udmabuf`, `mmap_udmabuf`, `vmap_udmabuf`).
 *
 * @module
 */
import {
  KernelError,
  O_CLOEXEC,
  O_RDWR,
  PAGE_SIZE,
  VM_SHARED,
  defineSubsys,
  fput,
  remapPfnRange,
  type Kernel,
  type Process,
} from "@dmasim/kernel";
import { addDevice, getMachine, vmap, vunmap, type Device, type Page } from "@dmasim/hardware";
import {
  DMA_BIDIRECTIONAL,
  dmaMapSgtable,
  dmaSyncSgtableForCpu,
  dmaSyncSgtableForDevice,
  dmaUnmapSgtable,
  sgAllocTableFromPages,
  sgFreeTable,
  type DmaDataDirection,
  type SgTable,
} from "@dmasim/dma-mapping";
import {
  dmaBufExport,
  dmaBufFd,
  dmaBufPut,
  type DmaBuf,
  type DmaBufOps,
  type IosysMap,
} from "@dmasim/dma-buf";
import { DRIVERS_ERAS, DRIVERS_MODULE, UDMABUF_INVERTED_CPU_ACCESS } from "../module";
import {
  MEMFD_FOPS,
  F_SEAL_SHRINK,
  F_SEAL_WRITE,
  memfdGetPages,
  memfdPutPages,
  type Memfd,
} from "./memfd";

/** `UDMABUF_CREATE` flag: the new fd is close-on-exec. **Kernel:** `UDMA_FLAGS_CLOEXEC`. */
export const UDMABUF_FLAGS_CLOEXEC = 0x01;
/** `_IOW('u', 0x42, struct udmabuf_create)`. **Kernel:** `UDMABUF_CREATE`. */
export const UDMABUF_CREATE = (1 << 30) | (24 << 16) | (0x75 << 8) | 0x42;
/** The module parameter `size_limit_mb` (default 64). **Kernel:** `size_limit_mb`. */
export const UDMABUF_SIZE_LIMIT_MB = 64;

/** The argument of `UDMABUF_CREATE`. **Kernel:** `struct udmabuf_create`. */
export interface UdmabufCreate {
  memfd: number;
  flags: number;
  offset: number;
  size: number;
}

/**
 * One udmabuf. **Kernel:** `struct udmabuf`.
 *
 * **Locking:** `sg` is set once under the exporter's serialisation (begin_cpu_access).
 */
export class Udmabuf {
  /** The pages mapped for the misc device at the first begin_cpu_access. */
  sg: SgTable | null = null;

  constructor(
    readonly kernel: Kernel,
    /** The memfd whose pages these are (the udmabuf holds the pages, not the file). */
    readonly memfd: Memfd,
    /** Index of the first page in the memfd. */
    readonly first: number,
    readonly pages: readonly Page[],
    readonly miscDevice: Device,
  ) {}

  /** Size in bytes. */
  get size(): number {
    return this.pages.length * PAGE_SIZE;
  }
}

/** @internal the misc device, created on first use */
interface UdmabufState {
  readonly misc: Device;
}

const UDMABUF_SUBSYS = defineSubsys<UdmabufState>(
  "@dmasim/drivers:udmabuf",
  (kernel) => {
    const misc = addDevice(getMachine(kernel), { name: "udmabuf", dmaMask: 64 });
    kernel.vfs.registerDevice("/dev/udmabuf", UDMABUF_FOPS, null);
    return { misc };
  },
  DRIVERS_MODULE,
);

/**
 * Register `/dev/udmabuf` and its misc device (once per kernel; needs a machine).
 *
 * **Kernel:** `udmabuf_dev_init()` (`misc_register()`, `dma_coerce_mask_and_coherent(64)`).
 *
 * **Locking:** process context.
 *
 * @throws {@link KernelError} `ENODEV` without a machine
 */
export function udmabufInit(kernel: Kernel): Device {
  return kernel.subsys(UDMABUF_SUBSYS).misc;
}

function mapPages(
  kernel: Kernel,
  pages: readonly Page[],
  dev: Device,
  dir: DmaDataDirection,
): SgTable {
  const sgt = sgAllocTableFromPages(kernel, pages, 0, pages.length * PAGE_SIZE);
  try {
    dmaMapSgtable(dev, sgt, dir);
  } catch (e) {
    sgFreeTable(sgt);
    throw e;
  }
  return sgt;
}

/**
 * udmabuf's CPU-access hooks (5.6+, 284562e1f348): the first begin_cpu_access maps the pages for
 * the misc device in the caller's direction (`get_sg_table(dev, buf, direction)`, as in every
 * udmabuf.c since: a map that cleans for TO_DEVICE/BIDIRECTIONAL and invalidates for FROM_DEVICE on
 * arm64); later ones sync that table for the CPU; end_cpu_access syncs it for the device, and
 * `EINVAL` before any begin. The table is unmapped BIDIRECTIONAL at release whatever direction
 * mapped it, as the kernel does (dma-debug reports the mismatch).
 */
function cpuAccessOps(ub: Udmabuf): Pick<DmaBufOps, "beginCpuAccess" | "endCpuAccess"> {
  const inverted = (): boolean => ub.kernel.options.enabled(UDMABUF_INVERTED_CPU_ACCESS);
  return {
    beginCpuAccess: (_b, dir) => {
      if (!ub.sg) {
        ub.sg = mapPages(ub.kernel, ub.pages, ub.miscDevice, dir);
        return;
      }
      (inverted() ? dmaSyncSgtableForDevice : dmaSyncSgtableForCpu)(ub.miscDevice, ub.sg, dir);
    },
    endCpuAccess: (_b, dir) => {
      if (!ub.sg) {
        throw new KernelError("EINVAL", "udmabuf: end_cpu_access without begin_cpu_access");
      }
      (inverted() ? dmaSyncSgtableForCpu : dmaSyncSgtableForDevice)(ub.miscDevice, ub.sg, dir);
    },
  };
}

function udmabufOps(ub: Udmabuf): DmaBufOps {
  return {
    // "udmabuf: use cache_sgt_mapping option" (5.6): the core keeps each attachment's first
    // mapping until detach (it ignores the flag again from 6.16, which dropped the caching)
    cacheSgtMapping: DRIVERS_ERAS.udmabufCacheSgt(ub.kernel),
    mapDmaBuf: (a, dir) => mapPages(ub.kernel, ub.pages, a.dev, dir),
    unmapDmaBuf: (a, sgt, dir) => {
      dmaUnmapSgtable(a.dev, sgt, dir);
      sgFreeTable(sgt);
    },
    release: () => {
      if (ub.sg) {
        dmaUnmapSgtable(ub.miscDevice, ub.sg, DMA_BIDIRECTIONAL);
        sgFreeTable(ub.sg);
      }
      memfdPutPages(ub.memfd, ub.first, ub.pages.length); // the memfd's file may be long gone
    },
    ...(DRIVERS_ERAS.udmabufCpuAccess(ub.kernel) ? cpuAccessOps(ub) : {}),
    mmap: (_b, vma) => {
      if (!(vma.vmFlags & VM_SHARED)) {
        throw new KernelError("EINVAL", "udmabuf: private mappings are refused");
      }
      ub.pages.slice(vma.pgoff, vma.pgoff + vma.pages).forEach((p, i) => {
        remapPfnRange(vma, vma.start + i * PAGE_SIZE, p.pfn, PAGE_SIZE);
      });
    },
    vmap: (_b, map: IosysMap) => {
      map.vaddr = vmap(getMachine(ub.kernel), ub.pages);
    },
    vunmap: (_b, map: IosysMap) => {
      vunmap(getMachine(ub.kernel), map.vaddr as number);
    },
  };
}

/**
 * Create a udmabuf from `[offset, offset + size)` of a memfd of `process` and return the new
 * dma-buf (its fd is installed in `process`).
 *
 * **Kernel:** `udmabuf_create()` (the `UDMABUF_CREATE` ioctl).
 *
 * **Locking:** may sleep.
 *
 * @throws {@link KernelError} `EINVAL` (unknown flags, unaligned or empty range, beyond the memfd
 * or the size limit, not a memfd, memfd not sealed against shrinking or sealed against writes),
 * `EBADF`, `EMFILE`
 */
export function udmabufCreate(
  process: Process,
  arg: UdmabufCreate,
): { dmabuf: DmaBuf; fd: number } {
  const kernel = process.kernel;
  const misc = udmabufInit(kernel);
  if (arg.flags & ~UDMABUF_FLAGS_CLOEXEC) {
    throw new KernelError("EINVAL", `udmabuf: flags 0x${arg.flags.toString(16)}`);
  }
  if (arg.size <= 0 || arg.offset % PAGE_SIZE !== 0 || arg.size % PAGE_SIZE !== 0) {
    throw new KernelError("EINVAL", "udmabuf: offset and size must be page aligned, size not 0");
  }
  if (arg.size > UDMABUF_SIZE_LIMIT_MB * 1024 * 1024) {
    throw new KernelError("EINVAL", `udmabuf: more than ${UDMABUF_SIZE_LIMIT_MB} MiB`);
  }
  const file = process.fget(arg.memfd);
  let mfd: Memfd;
  try {
    if (file.fOp !== MEMFD_FOPS) {
      throw new KernelError("EINVAL", `udmabuf: fd ${arg.memfd} is not a memfd`);
    }
    mfd = file.privateData as Memfd;
    if (!(mfd.seals & F_SEAL_SHRINK) || mfd.seals & F_SEAL_WRITE) {
      throw new KernelError(
        "EINVAL",
        "udmabuf: memfd must be sealed against shrinking, not writes",
      );
    }
    if (arg.offset + arg.size > mfd.size) {
      throw new KernelError("EINVAL", "udmabuf: range beyond the end of the memfd");
    }
  } finally {
    fput(file);
  }
  const first = arg.offset / PAGE_SIZE;
  const count = arg.size / PAGE_SIZE;
  const ub = new Udmabuf(kernel, mfd, first, mfd.pages.slice(first, first + count), misc);
  memfdGetPages(mfd, first, count); // the udmabuf holds its pages, not the memfd's file
  const dmabuf = dmaBufExport(kernel, {
    ops: udmabufOps(ub),
    size: arg.size,
    priv: ub,
    expName: "udmabuf",
    flags: O_RDWR,
  });
  try {
    const fd = dmaBufFd(dmabuf, arg.flags & UDMABUF_FLAGS_CLOEXEC ? O_CLOEXEC : 0, process);
    return { dmabuf, fd };
  } catch (e) {
    dmaBufPut(dmabuf);
    throw e;
  }
}

/** The file operations of `/dev/udmabuf`. **Kernel:** `udmabuf_fops`. */
export const UDMABUF_FOPS = {
  name: "udmabuf",
  unlockedIoctl: (_file: unknown, cmd: number, arg: unknown, process: Process): number => {
    if (cmd !== UDMABUF_CREATE) {
      throw new KernelError("ENOTTY", `udmabuf: ioctl 0x${cmd.toString(16)}`);
    }
    return udmabufCreate(process, arg as UdmabufCreate).fd;
  },
};
