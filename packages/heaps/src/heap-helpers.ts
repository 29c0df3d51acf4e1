/**
 * The 2019 dma-heap helpers: generic dma-buf operations for heaps whose buffer is an array of
 * pages (the mainline system and CMA heaps of 5.6–5.10 are built on them). A per-attachment sg
 * table built from the pages, mapping through the DMA API, user mappings filled by a fault
 * handler, and a refcounted cacheable vmap of the pages beside the linear map.
 *
 * Begin/end CPU access invalidate / flush the vmap range when the buffer is vmapped
 * (`invalidate_kernel_vmap_range` / `flush_kernel_vmap_range`, as merged: heap-helpers.c of v5.10
 * read at torvalds/linux 20e76f1a7059), then sync every attachment through the DMA API. The named
 * patch {@link HEAP_HELPERS_V6_NO_VMAP_FLUSH} is the v6 posting (June 2019) without the vmap
 * maintenance: the DMA API maintains only the linear-map alias, so on a VIVT or aliasing VIPT cache
 * CPU writes through the vmap stay in the vmap alias's lines and a device reads stale memory
 * (hazard H7); on PIPT both runs behave the same.
 *
 * **Kernel:** drivers/dma-buf/heaps/heap-helpers.c and heap-helpers.h ("dma-buf: heaps: Add heap
 * helpers", 5.6; removed in 5.11 when the heaps got their own operations).
 *
 * @module
 */
import {
  heapBufferAttach,
  heapBufferDetach,
  heapBufferVmap,
  heapBufferVunmap,
} from "./internal/heap-buffer";
import {
  KernelError,
  VM_SHARED,
  VM_FAULT_SIGBUS,
  mutexInit,
  mutexLock,
  mutexUnlock,
  vmfInsertPfn,
  WARN_ON,
  type Kernel,
  type Mutex,
  type VmFault,
  type Vma,
} from "@dmasim/kernel";
import {
  flushKernelVmapRange,
  getMachine,
  invalidateKernelVmapRange,
  vunmap,
  type Device,
  type Page,
} from "@dmasim/hardware";
import {
  dmaMapSgtable,
  dmaSyncSgForCpu,
  dmaSyncSgForDevice,
  dmaUnmapSgtable,
  sgAllocTableFromPages,
  sgFreeTable,
  type DmaDataDirection,
  type SgTable,
} from "@dmasim/dma-mapping";
import { dmaBufExport, type DmaBuf, type DmaBufOps } from "@dmasim/dma-buf";
import type { DmaHeap } from "./dma-heap";
import { HEAP_HELPERS_V6_NO_VMAP_FLUSH, optionOn } from "./module";

/** One device's attachment. **Kernel:** `struct dma_heaps_attachment`. */
export interface HeapHelperAttachment {
  readonly dev: Device;
  readonly table: SgTable;
}

/**
 * A heap buffer built on the helpers.
 *
 * **Kernel:** `struct heap_helper_buffer`.
 *
 * **Locking:** `lock` protects `attachments`, `vmapCnt` and `vaddr`.
 */
export class HeapHelperBuffer {
  readonly attachments: HeapHelperAttachment[] = [];
  readonly lock: Mutex;
  vmapCnt = 0;
  vaddr: number | null = null;
  /** The heap's own data (the CMA heap keeps its area here). */
  privVirt: unknown = null;

  /** @internal use {@link initHeapHelperBuffer} */
  constructor(
    readonly kernel: Kernel,
    readonly heap: DmaHeap,
    readonly size: number,
    readonly pages: Page[],
    /** Frees the pages (called at release). */
    readonly free: (buffer: HeapHelperBuffer) => void,
  ) {
    this.lock = mutexInit(kernel, "&buffer->lock", "heap_helper_buffer_lock");
  }

  /** Pages. **Kernel:** `buffer->pagecount`. */
  get pagecount(): number {
    return this.pages.length;
  }
}

/**
 * Make a helper buffer of `pages` (order-0 pages) for `heap`.
 *
 * **Kernel:** `init_heap_helper_buffer()`.
 *
 * **Locking:** none.
 */
export function initHeapHelperBuffer(
  heap: DmaHeap,
  size: number,
  pages: Page[],
  free: (buffer: HeapHelperBuffer) => void,
): HeapHelperBuffer {
  return new HeapHelperBuffer(heap.kernel, heap, size, pages, free);
}

/**
 * Export the buffer as a dma-buf with the helpers' operations and file flags `fdFlags`.
 *
 * **Kernel:** `heap_helper_export_dmabuf()`.
 *
 * **Locking:** process context.
 *
 * @throws {@link KernelError} as `dmaBufExport`
 */
export function heapHelperExportDmabuf(buffer: HeapHelperBuffer, fdFlags: number): DmaBuf {
  return dmaBufExport(buffer.kernel, {
    expName: buffer.heap.name,
    ops: HEAP_HELPER_OPS,
    size: buffer.size,
    flags: fdFlags,
    priv: buffer,
  });
}

const buf = (d: DmaBuf): HeapHelperBuffer => d.priv as HeapHelperBuffer;

function vmFault(vmf: VmFault): number {
  const buffer = vmf.vma.privateData as HeapHelperBuffer;
  const page = buffer.pages[vmf.pgoff];
  if (vmf.pgoff >= buffer.pagecount || !page) {
    return VM_FAULT_SIGBUS;
  }
  return vmfInsertPfn(vmf.vma, vmf.address, page.pfn);
}

async function syncAll(dmabuf: DmaBuf, dir: DmaDataDirection, forCpu: boolean): Promise<void> {
  const buffer = buf(dmabuf);
  const m = getMachine(buffer.kernel);
  await mutexLock(buffer.lock);
  try {
    if (
      buffer.vmapCnt &&
      buffer.vaddr !== null &&
      !optionOn(buffer.kernel, HEAP_HELPERS_V6_NO_VMAP_FLUSH)
    ) {
      if (forCpu) {
        invalidateKernelVmapRange(m, buffer.vaddr, buffer.size);
      } else {
        flushKernelVmapRange(m, buffer.vaddr, buffer.size);
      }
    }
    for (const a of buffer.attachments) {
      if (forCpu) {
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
 * The helpers' dma-buf operations.
 *
 * **Kernel:** `heap_helper_ops`.
 */
export const HEAP_HELPER_OPS: DmaBufOps = {
  async attach(dmabuf, attachment) {
    const buffer = buf(dmabuf);
    const table = sgAllocTableFromPages(buffer.kernel, buffer.pages, 0, buffer.pagecount * 4096);
    const a: HeapHelperAttachment = { dev: attachment.dev, table };
    attachment.priv = a;
    await heapBufferAttach(buffer, a);
  },
  async detach(dmabuf, attachment) {
    const a = attachment.priv as HeapHelperAttachment;
    await heapBufferDetach(buf(dmabuf), a);
    sgFreeTable(a.table);
  },
  mapDmaBuf(attachment, dir) {
    const a = attachment.priv as HeapHelperAttachment;
    dmaMapSgtable(attachment.dev, a.table, dir, 0);
    return a.table;
  },
  unmapDmaBuf(attachment, table, dir) {
    dmaUnmapSgtable(attachment.dev, table, dir, 0);
  },
  mmap(dmabuf, vma: Vma) {
    if ((vma.vmFlags & VM_SHARED) === 0) {
      throw new KernelError("EINVAL", "dma_heap_mmap: private mappings are not supported");
    }
    vma.vmOps = { fault: vmFault };
    vma.privateData = buf(dmabuf);
  },
  release(dmabuf) {
    const buffer = buf(dmabuf);
    if (
      WARN_ON(
        buffer.kernel,
        buffer.vmapCnt > 0,
        "drivers/dma-buf/heaps/heap-helpers.c:dma_heap_buffer_destroy",
        "dma_heap_buffer_destroy: buffer still mapped in the kernel",
      )
    ) {
      vunmap(getMachine(buffer.kernel), buffer.vaddr!);
    }
    buffer.free(buffer);
  },
  async beginCpuAccess(dmabuf, dir) {
    await syncAll(dmabuf, dir, true);
  },
  async endCpuAccess(dmabuf, dir) {
    await syncAll(dmabuf, dir, false);
  },
  async vmap(dmabuf, map) {
    const buffer = buf(dmabuf);
    await heapBufferVmap(
      buffer.kernel,
      buffer,
      map,
      () => buffer.pages,
      "cacheable",
      "dma_heap_map_kernel",
    );
  },
  async vunmap(dmabuf, map) {
    const buffer = buf(dmabuf);
    await heapBufferVunmap(buffer.kernel, buffer, map);
  },
};
