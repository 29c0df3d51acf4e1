/**
 * The CMA heap: physically contiguous buffers from a CMA area, one heap per area (named after it;
 * the default area is `reserved`).
 *
 * - 5.6–5.10 mainline: `cma_alloc`, zeroing, and the 2019 heap helpers' operations.
 * - 5.11+: its own operations: a per-attachment sg table built from the page array (contiguous
 *   pages merge into one segment), mapping through the DMA API (any failure reported as
 *   `-ENOMEM`), CPU access syncing the vmap range and every mapped attachment, shared mmap only,
 *   pages inserted by a fault handler, a cacheable vmap; release WARNs when still vmapped.
 *
 * The fault handler refuses `pgoff >= pagecount`; the named patch {@link CMA_HEAP_FAULT_OFF_BY_ONE}
 * restores the check `pgoff > pagecount` of the kernels before the 2024 fix (hazard H25): a VMA
 * grown past the buffer (the VMA is not `VM_DONTEXPAND`, so `mremap` may grow it) faults in the
 * page one past the page array.
 *
 * **Kernel:** drivers/dma-buf/heaps/cma_heap.c.
 *
 * @module
 */
import {
  heapBufferAttach,
  heapBufferDetach,
  heapBufferVmap,
  heapBufferVunmap,
} from "../internal/heap-buffer";
import {
  KernelError,
  PAGE_SIZE,
  VM_FAULT_SIGBUS,
  VM_SHARED,
  WARN_ON,
  mutexInit,
  mutexLock,
  mutexUnlock,
  vmfInsertPfn,
  type Kernel,
  type Mutex,
  type VmFault,
  type Vma,
} from "@dmasim/kernel";
import {
  CONFIG_CMA_ALIGNMENT,
  cmaAlloc,
  cmaGetName,
  cmaRelease,
  cpuWrite,
  dmaContiguousDefaultArea,
  flushKernelVmapRange,
  getMachine,
  getOrder,
  invalidateKernelVmapRange,
  pageAddress,
  vunmap,
  type Cma,
  type Device,
  type Page,
} from "@dmasim/hardware";
import {
  dmaMapSgtable,
  dmaSyncSgtableForCpu,
  dmaSyncSgtableForDevice,
  dmaUnmapSgtable,
  sgAllocTableFromPages,
  sgFreeTable,
  type DmaDataDirection,
  type SgTable,
} from "@dmasim/dma-mapping";
import { dmaBufExport, type DmaBuf, type DmaBufOps } from "@dmasim/dma-buf";
import { dmaHeapAdd, type DmaHeap } from "../dma-heap";
import { heapHelperExportDmabuf, initHeapHelperBuffer } from "../heap-helpers";
import { CMA_HEAP_FAULT_OFF_BY_ONE, HEAPS_ERAS, optionOn } from "../module";

/** One attachment. **Kernel:** `struct dma_heap_attachment` of cma_heap.c. */
export interface CmaHeapAttachment {
  readonly dev: Device;
  readonly table: SgTable;
  mapped: boolean;
}

/**
 * A CMA-heap buffer.
 *
 * **Kernel:** `struct cma_heap_buffer`.
 *
 * **Locking:** `lock` protects `attachments`, `vmapCnt` and `vaddr`.
 */
export class CmaHeapBuffer {
  readonly attachments: CmaHeapAttachment[] = [];
  readonly lock: Mutex;
  vmapCnt = 0;
  vaddr: number | null = null;

  constructor(
    readonly heap: DmaHeap,
    readonly cma: Cma,
    readonly len: number,
    /** The first page (`cma_pages`). */
    readonly cmaPages: Page,
    /** One entry per page. */
    readonly pages: readonly Page[],
  ) {
    this.lock = mutexInit(heap.kernel, "&buffer->lock", "cma_heap_buffer_lock");
  }

  /** **Kernel:** `buffer->pagecount`. */
  get pagecount(): number {
    return this.pages.length;
  }
}

const bufOf = (d: DmaBuf): CmaHeapBuffer => d.priv as CmaHeapBuffer;

function vmFault(vmf: VmFault): number {
  const buffer = vmf.vma.privateData as CmaHeapBuffer;
  const offByOne = optionOn(buffer.heap.kernel, CMA_HEAP_FAULT_OFF_BY_ONE);
  if (offByOne ? vmf.pgoff > buffer.pagecount : vmf.pgoff >= buffer.pagecount) {
    return VM_FAULT_SIGBUS;
  }
  const page = buffer.pages[vmf.pgoff];
  if (!page) {
    // pages[pagecount]: the pointer after the array, whatever it is. dmasim maps the page frame
    // after the buffer, which the buffer does not own.
    const k = buffer.heap.kernel;
    const pfn = buffer.cmaPages.pfn + buffer.pagecount;
    k.report({
      kind: "use-after-free",
      code: "slab-out-of-bounds",
      summary: `KASAN: slab-out-of-bounds in cma_heap_vm_fault: pages[${vmf.pgoff}] of a ${buffer.pagecount}-entry array; pfn 0x${pfn.toString(16)} mapped to user space`,
      details: {
        pgoff: vmf.pgoff,
        pagecount: buffer.pagecount,
        pfn,
        address: vmf.address,
        hint: `check pgoff against the buffer's ${buffer.pagecount} pages in the fault handler (return VM_FAULT_SIGBUS beyond them)`,
      },
    });
    return vmfInsertPfn(vmf.vma, vmf.address, pfn);
  }
  return vmfInsertPfn(vmf.vma, vmf.address, page.pfn);
}

async function cpuAccess(dmabuf: DmaBuf, dir: DmaDataDirection, forCpu: boolean): Promise<void> {
  const buffer = bufOf(dmabuf);
  const m = getMachine(buffer.heap.kernel);
  await mutexLock(buffer.lock);
  try {
    if (buffer.vmapCnt && buffer.vaddr !== null) {
      if (forCpu) {
        invalidateKernelVmapRange(m, buffer.vaddr, buffer.len);
      } else {
        flushKernelVmapRange(m, buffer.vaddr, buffer.len);
      }
    }
    for (const a of buffer.attachments) {
      if (!a.mapped) {
        continue;
      }
      if (forCpu) {
        dmaSyncSgtableForCpu(a.dev, a.table, dir);
      } else {
        dmaSyncSgtableForDevice(a.dev, a.table, dir);
      }
    }
  } finally {
    mutexUnlock(buffer.lock);
  }
}

/**
 * The CMA heap's dma-buf operations (5.11+).
 *
 * **Kernel:** `cma_heap_buf_ops`.
 */
export const CMA_HEAP_BUF_OPS: DmaBufOps = {
  async attach(dmabuf, attachment) {
    const buffer = bufOf(dmabuf);
    const table = sgAllocTableFromPages(
      buffer.heap.kernel,
      [...buffer.pages],
      0,
      buffer.pagecount * PAGE_SIZE,
    );
    const a: CmaHeapAttachment = { dev: attachment.dev, table, mapped: false };
    attachment.priv = a;
    await heapBufferAttach(buffer, a);
  },
  async detach(dmabuf, attachment) {
    const a = attachment.priv as CmaHeapAttachment;
    await heapBufferDetach(bufOf(dmabuf), a);
    sgFreeTable(a.table);
  },
  mapDmaBuf(attachment, dir) {
    const a = attachment.priv as CmaHeapAttachment;
    try {
      dmaMapSgtable(attachment.dev, a.table, dir, 0);
    } catch (e) {
      throw new KernelError("ENOMEM", "cma_heap_map_dma_buf: dma_map_sgtable failed", {
        cause: e,
      });
    }
    a.mapped = true;
    return a.table;
  },
  unmapDmaBuf(attachment, table, dir) {
    const a = attachment.priv as CmaHeapAttachment;
    a.mapped = false;
    dmaUnmapSgtable(attachment.dev, table, dir, 0);
  },
  async beginCpuAccess(dmabuf, dir) {
    await cpuAccess(dmabuf, dir, true);
  },
  async endCpuAccess(dmabuf, dir) {
    await cpuAccess(dmabuf, dir, false);
  },
  mmap(dmabuf, vma: Vma) {
    if ((vma.vmFlags & VM_SHARED) === 0) {
      throw new KernelError("EINVAL", "cma_heap_mmap: private mappings are not supported");
    }
    vma.vmOps = { fault: vmFault };
    vma.privateData = bufOf(dmabuf);
  },
  async vmap(dmabuf, map) {
    const buffer = bufOf(dmabuf);
    await heapBufferVmap(
      buffer.heap.kernel,
      buffer,
      map,
      () => buffer.pages,
      "cacheable",
      "cma_heap_do_vmap",
    );
  },
  async vunmap(dmabuf, map) {
    const buffer = bufOf(dmabuf);
    await heapBufferVunmap(buffer.heap.kernel, buffer, map);
  },
  release(dmabuf) {
    const buffer = bufOf(dmabuf);
    if (
      WARN_ON(
        buffer.heap.kernel,
        buffer.vmapCnt > 0,
        "drivers/dma-buf/heaps/cma_heap.c:cma_heap_dma_buf_release",
        "cma_heap_dma_buf_release: buffer still mapped in the kernel",
      )
    ) {
      vunmap(getMachine(buffer.heap.kernel), buffer.vaddr!);
      buffer.vaddr = null;
    }
    cmaRelease(buffer.cma, buffer.cmaPages, buffer.pagecount);
  },
};

/** Allocate and zero `pagecount` contiguous pages of the heap's area. */
function cmaHeapPages(heap: DmaHeap, len: number): { first: Page; pages: Page[] } {
  const cma = heap.priv as Cma;
  const kernel = heap.kernel;
  const m = getMachine(kernel);
  const pagecount = len / PAGE_SIZE;
  const align = Math.min(getOrder(len), CONFIG_CMA_ALIGNMENT);
  const first = cmaAlloc(cma, pagecount, align, false);
  if (!first) {
    throw new KernelError("ENOMEM", `${heap.name}: cma_alloc of ${pagecount} pages failed`);
  }
  const pages: Page[] = [];
  const zero = new Uint8Array(PAGE_SIZE);
  for (let i = 0; i < pagecount; i++) {
    if (kernel.sched.current.signalPending) {
      cmaRelease(cma, first, pagecount);
      throw new KernelError("ENOMEM", `${heap.name}: allocation interrupted by a fatal signal`);
    }
    const page = m.pageAlloc.page(first.pfn + i);
    cpuWrite(m, pageAddress(m, page), zero); // lowmem: memset through the linear map
    pages.push(page);
  }
  return { first, pages };
}

async function cmaHeapAllocate(heap: DmaHeap, len: number, fdFlags: number): Promise<DmaBuf> {
  const kernel = heap.kernel;
  const cma = heap.priv as Cma;
  const { first, pages } = cmaHeapPages(heap, len);
  await kernel.sched.schedulePoint();
  try {
    if (HEAPS_ERAS.heapHelpers(kernel)) {
      const buffer = initHeapHelperBuffer(heap, len, pages, (b) =>
        cmaRelease(cma, first, b.pagecount),
      );
      return heapHelperExportDmabuf(buffer, fdFlags);
    }
    const buffer = new CmaHeapBuffer(heap, cma, len, first, pages);
    return dmaBufExport(kernel, {
      expName: heap.name,
      ops: CMA_HEAP_BUF_OPS,
      size: len,
      flags: fdFlags,
      priv: buffer,
    });
  } catch (e) {
    cmaRelease(cma, first, pages.length);
    throw e;
  }
}

/**
 * Register a CMA heap for `cma` (default: the default CMA area, heap name `reserved`). Returns
 * null when there is no such area.
 *
 * **Kernel:** `add_default_cma_heap()` / `__add_cma_heap()`.
 *
 * **Locking:** process context (module init).
 *
 * @throws {@link KernelError} as {@link dmaHeapAdd}
 */
export function cmaHeapCreate(
  kernel: Kernel,
  cma: Cma | null = dmaContiguousDefaultArea(kernel),
): DmaHeap | null {
  if (!cma) {
    return null;
  }
  return dmaHeapAdd(kernel, {
    name: cmaGetName(cma),
    ops: { allocate: (heap, len, fdFlags) => cmaHeapAllocate(heap, len, fdFlags) },
    priv: cma,
  });
}
