/**
 * Operations and the `heaps` section of layer 5 (@dmasim/heaps): bring up the heaps a kernel
 * builds (dma-buf heaps from 5.6, legacy ION up to 5.10), allocate from `/dev/dma_heap/<name>`
 * and `/dev/ion` in a process as userspace does, and name the cacheable linear-map alias of a heap
 * buffer (what the kernel's `page_address()` gives) so that a scenario can force its lines out.
 *
 * @module
 */
import { getMachine, pageAddress, pfnToPage } from "@dmasim/hardware";
import type { DmaBuf } from "@dmasim/dma-buf";
import {
  CmaHeapBuffer,
  DMA_HEAP_IOCTL_ALLOC,
  HeapHelperBuffer,
  IonBuffer,
  SystemHeapBuffer,
  HEAPS_MODULE,
  ION_FLAG_CACHED,
  ION_IOC_ALLOC,
  dmaHeapsInit,
  ionInit,
  type DmaHeapAllocationData,
  type IonAllocationData,
} from "@dmasim/heaps";
import {
  KernelError,
  O_CLOEXEC,
  O_NONBLOCK,
  O_RDONLY,
  O_RDWR,
  O_WRONLY,
  PAGE_SIZE,
  type Process,
} from "@dmasim/kernel";
import { z } from "zod";
import { scenarioLayer } from "../layer";
import type { OpDef } from "../op";
import type { RegistryPart } from "../registry";
import { fdResult, machineOf, sizeSchema } from "./common";

const L = scenarioLayer("@dmasim/heaps");

/** `ION_FLAG_CACHED_NEEDS_SYNC` of uapi ion.h (4.12-5.10): user mappings of a cached buffer are faulted and synced. */
const ION_FLAG_CACHED_NEEDS_SYNC = 2;

const heapsSchema = z.union([
  z.literal(true),
  z
    .object({
      dma_heaps: z.boolean().optional(),
      ion: z.boolean().optional(),
      ion_carveout_size: sizeSchema.optional(),
    })
    .strict(),
]);

const heapsSection = L.section({
  key: "heaps",
  summary:
    "register the heaps this kernel builds: true, or { dma_heaps, ion, ion_carveout_size } (dma-buf heaps from 5.6, /dev/ion up to 5.10)",
  schema: heapsSchema,
  order: 30,
  apply(ctx, value) {
    machineOf(ctx.kernel); // the heaps need a machine: a clear error without a platform
    const v = value === true ? {} : value;
    if (v.dma_heaps !== false) {
      dmaHeapsInit(ctx.kernel);
    }
    if (v.ion !== false) {
      ionInit(
        ctx.kernel,
        v.ion_carveout_size !== undefined ? { carveoutSize: v.ion_carveout_size } : {},
      );
    }
  },
});

const FD_FLAGS = { O_RDONLY, O_WRONLY, O_RDWR, O_CLOEXEC, O_NONBLOCK } as const;
const fdFlagsSchema = z.union([
  z.number().int().min(0),
  z.array(z.enum(["O_RDONLY", "O_WRONLY", "O_RDWR", "O_CLOEXEC", "O_NONBLOCK"])),
]);
const ION_FLAGS = { ION_FLAG_CACHED, ION_FLAG_CACHED_NEEDS_SYNC } as const;
const ionFlagsSchema = z.union([
  z.number().int().min(0),
  z.array(z.enum(["ION_FLAG_CACHED", "ION_FLAG_CACHED_NEEDS_SYNC"])),
]);

function bits<K extends string>(
  v: number | readonly K[] | undefined,
  table: Record<K, number>,
  dflt: number,
): number {
  if (v === undefined) {
    return dflt;
  }
  return typeof v === "number" ? v : v.reduce((acc, k) => acc | table[k], 0);
}

/** Open `path`, issue one ioctl, close the node again (what a userspace allocator does). */
async function ioctlOnNode(
  process: Process,
  path: string,
  cmd: number,
  arg: DmaHeapAllocationData | IonAllocationData,
): Promise<number> {
  const node = await process.open(path, O_RDWR | O_CLOEXEC);
  try {
    await process.ioctl(node, cmd, arg);
  } finally {
    process.close(node);
  }
  return arg.fd;
}

/** Every page frame of a heap buffer, in order (each heap keeps its pages its own way). */
function heapBufferPfns(buf: DmaBuf): number[] {
  const priv = buf.priv;
  if (priv instanceof SystemHeapBuffer || priv instanceof IonBuffer) {
    return priv.pfns();
  }
  if (priv instanceof CmaHeapBuffer || priv instanceof HeapHelperBuffer) {
    return priv.pages.map((p) => p.pfn); // order-0 pages, one per entry
  }
  throw new KernelError("EINVAL", `${buf.expName}: not a buffer from a dma-buf heap or ION`);
}

/** The heap operations. **Kernel:** drivers/dma-buf/dma-heap.c, drivers/staging/android/ion/. */
export const HEAPS_OPS: readonly OpDef[] = [
  L.op({
    name: "dma_heap_alloc",
    summary:
      "open /dev/dma_heap/<heap> and DMA_HEAP_IOCTL_ALLOC: a dma-buf fd of `len` bytes (fd_flags: default O_RDWR|O_CLOEXEC; ENOENT: no such heap)",
    args: {
      heap: z.string(),
      len: sizeSchema,
      fd_flags: fdFlagsSchema.optional(),
      heap_flags: z.number().int().min(0).optional(),
      process: z.string().optional(),
    },
    primary: "heap",
    produces: "fd",
    requiresAs: true,
    run: async (ctx, a) => {
      const process = ctx.process(a.process);
      const data: DmaHeapAllocationData = {
        len: a.len,
        fd: 0,
        fdFlags: bits(a.fd_flags, FD_FLAGS, O_RDWR | O_CLOEXEC),
        heapFlags: a.heap_flags ?? 0,
      };
      return fdResult(
        process,
        await ioctlOnNode(process, `/dev/dma_heap/${a.heap}`, DMA_HEAP_IOCTL_ALLOC, data),
      );
    },
  }),
  L.op({
    name: "ion_alloc",
    summary:
      "open /dev/ion and ION_IOC_ALLOC (4.12-5.10): a dma-buf fd; heap_id_mask bits are heap ids (system 0, system-contig 1, then CMA); flags: ION_FLAG_CACHED (default: uncached)",
    args: {
      len: sizeSchema,
      heap_id_mask: z.number().int().min(0),
      flags: ionFlagsSchema.optional(),
      process: z.string().optional(),
    },
    produces: "fd",
    requiresAs: true,
    run: async (ctx, a) => {
      const process = ctx.process(a.process);
      const data: IonAllocationData = {
        len: a.len,
        heapIdMask: a.heap_id_mask,
        flags: bits(a.flags, ION_FLAGS, 0),
        fd: 0,
      };
      return fdResult(process, await ioctlOnNode(process, "/dev/ion", ION_IOC_ALLOC, data));
    },
  }),
  L.op({
    name: "page_address",
    summary:
      "the kernel's cacheable linear-map alias (page_address) of a heap buffer's pages: a mapping for cpu_* and evict / prefetch",
    args: { buf: L.ref("dma_buf") },
    primary: "buf",
    produces: "mapping",
    requiresAs: true,
    run: (ctx, { buf }) => {
      const m = getMachine(ctx.kernel);
      const pfns = heapBufferPfns(buf);
      const segments = pfns.map((pfn) => ({
        va: pageAddress(m, pfnToPage(m, pfn)),
        len: PAGE_SIZE,
      }));
      const size = pfns.length * PAGE_SIZE;
      return {
        object: { kind: "linear", segments, size, prot: "cacheable" },
        text: `${pfns.length} page(s)`,
      };
    },
  }),
];

/** What layer 5 adds to scenarios. **Kernel:** none. */
export const HEAPS_PART: RegistryPart = {
  ops: HEAPS_OPS,
  sections: [heapsSection],
  modules: [HEAPS_MODULE],
};
