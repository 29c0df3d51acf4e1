/**
 * ION's carveout heap: a physically contiguous region set aside at boot, handed out by a
 * first-fit allocator; zeroed when created and when a buffer is freed (through a mapping with the
 * buffer's memory type).
 *
 * **Kernel:** drivers/staging/android/ion/ion_carveout_heap.c (a `gen_pool` over the region). The
 * region is reserved as a CMA area of `@dmasim/hardware` (so that the page allocator never hands it
 * out) and its first-fit bitmap stands for the gen_pool.
 *
 * @module
 */
import { KernelError, PAGE_SIZE, type Kernel } from "@dmasim/kernel";
import {
  cmaAlloc,
  cmaDeclareContiguous,
  cmaRelease,
  cpuWrite,
  getMachine,
  pageAddress,
  type Cma,
  type Page,
} from "@dmasim/hardware";
import { sgAllocTable, sgSetPage } from "@dmasim/dma-mapping";
import { IonHeap, ionDeviceAddHeap, ionHeapBufferZero, type IonBuffer } from "./ion";
import { ION_HEAP_TYPE_CARVEOUT } from "./uapi";

function allocate(heap: IonHeap, buffer: IonBuffer, len: number): void {
  const pool = heap.priv as Cma;
  const first = cmaAlloc(pool, len / PAGE_SIZE, 0, true);
  if (!first) {
    throw new KernelError("ENOMEM", "ion_carveout_heap_allocate: carveout exhausted");
  }
  const sgt = sgAllocTable(heap.kernel, 1);
  sgSetPage(sgt.sgl[0]!, first, len, 0);
  buffer.sgTable = sgt;
  buffer.privVirt = first;
}

function free(buffer: IonBuffer): void {
  ionHeapBufferZero(buffer);
  cmaRelease(buffer.heap.priv as Cma, buffer.privVirt as Page, buffer.size / PAGE_SIZE);
}

/**
 * Reserve `size` bytes (a multiple of 4 MiB) and add them as ION's carveout heap
 * (`carveout`); the region is zeroed through the linear map.
 *
 * **Kernel:** `ion_carveout_heap_create()` (the platform's reserved-memory region) +
 * `ion_device_add_heap()`.
 *
 * **Locking:** process context (init).
 *
 * @throws {@link KernelError} `ENODEV` without ION; the reservation's errors (`EINVAL`, `ENOMEM`)
 */
export function ionCarveoutHeapCreate(kernel: Kernel, size: number, base = 0): IonHeap {
  const m = getMachine(kernel);
  const region = cmaDeclareContiguous(m, { size, base, name: "ion-carveout" });
  const zero = new Uint8Array(PAGE_SIZE);
  for (let i = 0; i < region.count; i++) {
    cpuWrite(m, pageAddress(m, m.pageAlloc.page(region.basePfn + i)), zero);
  }
  return ionDeviceAddHeap(
    kernel,
    new IonHeap(kernel, ION_HEAP_TYPE_CARVEOUT, "carveout", { allocate, free }, region),
  );
}
