/**
 * The module of the heaps layer: its Kconfig symbols and the named patches (review proposals and
 * pre-fix behaviours) that let a bug and its fix run side by side.
 *
 * **Kernel:** drivers/dma-buf/heaps/Kconfig, drivers/staging/android/ion/Kconfig, and patches
 * from review.
 *
 * @module
 */
import { defineOption, type Kernel, type KernelModule } from "@dmasim/kernel";

const OWNER = "@dmasim/heaps";

/**
 * An Android Common Kernel build (off: a mainline kernel). On 5.10 and later it brings the
 * Android-only heap code: the `system-uncached` heap and the dma-buf heap page pools of
 * drivers/dma-buf/heaps/page_pool.c; it also selects the Android error code (`EINTR`) of an
 * allocation interrupted by a fatal signal. **Kernel:** the ACK trees (android12-5.10 and later),
 * modelled as one config symbol.
 */
export const CONFIG_ANDROID = "CONFIG_ANDROID";
/**
 * Legacy ION (`/dev/ion`), in drivers/staging up to 5.10 (removed in 5.11; the option has no
 * effect on later kernels). **Kernel:** `CONFIG_ION`.
 */
export const CONFIG_ION = "CONFIG_ION";
/**
 * Named patch: the `system-uncached` heap without its allocation-time map/unmap for the heap
 * device, i.e. the zeroes `__GFP_ZERO` left dirty in the cacheable linear map stay there and are
 * later written back over the user's data (hazard H5).
 */
export const SYSTEM_UNCACHED_NO_ALLOC_FLUSH = "system-uncached-no-alloc-flush";
/**
 * Named patch (pre-fix behaviour): the CMA heap's fault handler accepts `pgoff == pagecount` (the
 * off-by-one fixed upstream and in stable in 2024; hazard H25).
 */
export const CMA_HEAP_FAULT_OFF_BY_ONE = "cma-heap-fault-off-by-one";
/**
 * Named patch: "staging: android: ion: ensure uncached mappings are only applied to cleaned
 * memory" (November 2018 proposal). User mappings of an uncached ION buffer stay cached until the
 * buffer is first dma-mapped (and so cleaned); then they are zapped and later faults insert
 * write-combine pages.
 */
export const ION_UNCACHED_CLEAN_BEFORE_MAP = "ion-uncached-clean-before-map";
/**
 * Named patch: ION's CPU-access hooks sync only attachments that are dma-mapped (a per-attachment
 * `dma_mapped` flag, as later Android trees have), the fix of hazard H24.
 */
export const ION_SYNC_MAPPED_ONLY = "ion-sync-mapped-only";
/**
 * Named patch: the 2019 dma-heap helpers' begin/end CPU access also invalidate / flush the
 * buffer's vmap alias (`invalidate_kernel_vmap_range` / `flush_kernel_vmap_range`), the fix of
 * hazard H7 for helper-based heaps.
 */
export const HEAP_HELPERS_VMAP_FLUSH = "heap-helpers-vmap-flush";

/**
 * The options of `@dmasim/heaps`. Pass it in `new Kernel({ modules: [HEAPS_MODULE], options: {
 * ... } })` to set them; it loads by itself on first use otherwise.
 *
 * **Kernel:** drivers/dma-buf/heaps/Kconfig, drivers/staging/android/ion/Kconfig.
 */
export const HEAPS_MODULE: KernelModule = {
  name: OWNER,
  options: [
    defineOption({
      name: CONFIG_ANDROID,
      kind: "config",
      owner: OWNER,
      default: false,
      description:
        "Android Common Kernel: the system-uncached heap and dma-buf heap page pools (5.10+), EINTR on a killed allocation",
    }),
    defineOption({
      name: CONFIG_ION,
      kind: "config",
      owner: OWNER,
      default: (v) => v.before("5.11"),
      description: "legacy Android ION (/dev/ion), drivers/staging up to 5.10",
    }),
    defineOption({
      name: SYSTEM_UNCACHED_NO_ALLOC_FLUSH,
      kind: "patch",
      owner: OWNER,
      default: false,
      description:
        "system-uncached heap without the allocation-time flush: dirty zero lines overwrite user data later (H5)",
    }),
    defineOption({
      name: CMA_HEAP_FAULT_OFF_BY_ONE,
      kind: "patch",
      owner: OWNER,
      default: false,
      description:
        "CMA heap fault handler before the 2024 fix: pgoff == pagecount is accepted (H25)",
    }),
    defineOption({
      name: ION_UNCACHED_CLEAN_BEFORE_MAP,
      kind: "patch",
      owner: OWNER,
      default: false,
      description:
        "Nov 2018 proposal: uncached ION user mappings stay cached until the first dma-map cleans the buffer, then are zapped",
    }),
    defineOption({
      name: ION_SYNC_MAPPED_ONLY,
      kind: "patch",
      owner: OWNER,
      default: false,
      description:
        "ION begin/end_cpu_access sync only dma-mapped attachments (the dma_mapped flag; fixes H24)",
    }),
    defineOption({
      name: HEAP_HELPERS_VMAP_FLUSH,
      kind: "patch",
      owner: OWNER,
      default: false,
      description:
        "2019 heap helpers: flush/invalidate_kernel_vmap_range in begin/end_cpu_access (fixes H7)",
    }),
  ],
};

/** @internal whether option `name` is on (loads the module first) */
export function optionOn(kernel: Kernel, name: string): boolean {
  kernel.load(HEAPS_MODULE);
  return kernel.options.enabled(name);
}

/** @internal an Android Common Kernel of 5.10 or later */
export function androidHeaps(kernel: Kernel): boolean {
  return optionOn(kernel, CONFIG_ANDROID) && kernel.version.since("5.10");
}
