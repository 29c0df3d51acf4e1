/**
 * Bring-up of the heaps a kernel builds in: the dma-buf heaps (`CONFIG_DMABUF_HEAPS_SYSTEM`,
 * `CONFIG_DMABUF_HEAPS_CMA`) from 5.6 and legacy ION up to 5.10, each as the kernel's version and
 * options select.
 *
 * **Kernel:** the `module_init()` / `device_initcall()` of drivers/dma-buf/heaps/system_heap.c,
 * cma_heap.c and drivers/staging/android/ion/ (ion_system_heap.c, ion_cma_heap.c; the carveout
 * heap comes from platform code).
 *
 * @module
 */
import type { Kernel } from "@dmasim/kernel";
import type { DmaHeap } from "./dma-heap";
import { cmaHeapCreate } from "./heaps/cma_heap";
import { systemHeapCreate } from "./heaps/system_heap";
import { ionDeviceCreate, type IonDevice } from "./ion/ion";
import { ionCarveoutHeapCreate } from "./ion/ion_carveout_heap";
import { ionCmaHeapCreate } from "./ion/ion_cma_heap";
import { ionSystemContigHeapCreate, ionSystemHeapCreate } from "./ion/ion_system_heap";
import { HEAPS_ERAS } from "./module";

/**
 * Register the dma-buf heaps of this kernel: nothing before 5.6; `system` (plus
 * `system-uncached` on Android 5.10+) and a CMA heap for the default CMA area (`reserved`, when
 * the platform has one). Returns the heaps registered.
 *
 * **Kernel:** the heaps' module init functions.
 *
 * **Locking:** process context (boot).
 *
 * @throws {@link KernelError} as `dmaHeapAdd` (a second call: `EINVAL`, already registered)
 */
export function dmaHeapsInit(kernel: Kernel): DmaHeap[] {
  if (!HEAPS_ERAS.dmaHeaps(kernel)) {
    return [];
  }
  const heaps = systemHeapCreate(kernel);
  const cma = cmaHeapCreate(kernel);
  if (cma) {
    heaps.push(cma);
  }
  return heaps;
}

/**
 * Create `/dev/ion` with the system, system-contig and CMA (default area) heaps, and a carveout
 * heap of `carveoutSize` bytes when given. Returns null when ION is not built (`CONFIG_ION` off,
 * or 5.11+).
 *
 * **Kernel:** `ion_device_create()` and the heaps' initcalls.
 *
 * **Locking:** process context (boot).
 *
 * @throws {@link KernelError} the carveout reservation's errors
 */
export function ionInit(kernel: Kernel, opts: { carveoutSize?: number } = {}): IonDevice | null {
  const dev = ionDeviceCreate(kernel);
  if (!dev) {
    return null;
  }
  ionSystemHeapCreate(kernel);
  ionSystemContigHeapCreate(kernel);
  if (opts.carveoutSize) {
    ionCarveoutHeapCreate(kernel, opts.carveoutSize);
  }
  ionCmaHeapCreate(kernel);
  return dev;
}
