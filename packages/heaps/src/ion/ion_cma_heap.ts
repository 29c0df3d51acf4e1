/**
 * ION's CMA heap: one physically contiguous `cma_alloc` per buffer, zeroed through the linear map
 * (lowmem), released with `cma_release`.
 *
 * **Kernel:** drivers/staging/android/ion/ion_cma_heap.c (4.14), one heap per CMA area
 * (`ion_add_cma_heaps()`), named after the area.
 *
 * @module
 */
import { KernelError, PAGE_SIZE, type Kernel } from "@dmasim/kernel";
import {
  CONFIG_CMA_ALIGNMENT,
  cmaAlloc,
  cmaGetName,
  cmaRelease,
  cpuWrite,
  dmaContiguousDefaultArea,
  getMachine,
  getOrder,
  pageAddress,
  type Cma,
  type Page,
} from "@dmasim/hardware";
import { sgAllocTable, sgSetPage } from "@dmasim/dma-mapping";
import { IonHeap, ionDeviceAddHeap, type IonBuffer } from "./ion";
import { ION_HEAP_TYPE_DMA } from "./uapi";

function allocate(heap: IonHeap, buffer: IonBuffer, len: number): void {
  const cma = heap.priv as Cma;
  const m = getMachine(heap.kernel);
  const n = len / PAGE_SIZE;
  const first = cmaAlloc(cma, n, Math.min(getOrder(len), CONFIG_CMA_ALIGNMENT), false);
  if (!first) {
    throw new KernelError("ENOMEM", "ion_cma_allocate: cma_alloc failed");
  }
  cpuWrite(m, pageAddress(m, first), new Uint8Array(len));
  const sgt = sgAllocTable(heap.kernel, 1);
  sgSetPage(sgt.sgl[0]!, first, len, 0);
  buffer.sgTable = sgt;
  buffer.privVirt = first;
}

function free(buffer: IonBuffer): void {
  cmaRelease(buffer.heap.priv as Cma, buffer.privVirt as Page, buffer.size / PAGE_SIZE);
}

/**
 * Add an ION CMA heap for `cma` (default: the default CMA area). Returns null without an area.
 *
 * **Kernel:** `__ion_add_cma_heaps()` → `ion_cma_heap_create()` + `ion_device_add_heap()`.
 *
 * **Locking:** process context (init).
 *
 * @throws {@link KernelError} `ENODEV` without ION
 */
export function ionCmaHeapCreate(
  kernel: Kernel,
  cma: Cma | null = dmaContiguousDefaultArea(kernel),
): IonHeap | null {
  if (!cma) {
    return null;
  }
  return ionDeviceAddHeap(
    kernel,
    new IonHeap(kernel, ION_HEAP_TYPE_DMA, cmaGetName(cma), { allocate, free }, cma),
  );
}
