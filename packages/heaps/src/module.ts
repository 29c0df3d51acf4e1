/**
 * The module of the heaps layer: its Kconfig symbols and the named patches (review proposals and
 * pre-fix behaviours) that let a bug and its fix run side by side.
 *
 * **Kernel:** drivers/dma-buf/heaps/Kconfig, drivers/staging/android/ion/Kconfig, and patches
 * from review.
 *
 * @module
 */
import { defineEras, defineOption, type Kernel, type KernelModule } from "@dmasim/kernel";

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
 * Named patch: the heap helpers as posted for review ("dma-buf: heaps: Add heap helpers", v6,
 * June 2019), whose begin/end CPU access sync the attachments only and leave the buffer's vmap
 * alias alone: on a VIVT or aliasing VIPT cache the kernel's writes through the vmap stay in that
 * alias's lines (hazard H7). The helpers as merged for 5.6 (and through 5.10) call
 * `invalidate_kernel_vmap_range` / `flush_kernel_vmap_range` when the buffer is vmapped, so this
 * is off by default.
 */
export const HEAP_HELPERS_V6_NO_VMAP_FLUSH = "heap-helpers-v6-no-vmap-flush";

/**
 * The heaps layer's history: each heap behaviour that changed over time, named once with its
 * boundary and the commit or release that drew it. Ask an entry, never the version.
 *
 * **Kernel:** drivers/dma-buf/dma-heap.c, drivers/dma-buf/heaps/, drivers/staging/android/ion/ and
 * the Android Common Kernel trees, as of each release.
 *
 * @internal
 */
export const HEAPS_ERAS = defineEras("heaps", {
  ionLegacy: {
    until: "5.11",
    summary: "Android ION (/dev/ion) in drivers/staging",
    citation: 'ION removed from drivers/staging for v5.11 ("staging: ion: remove from the tree")',
  },
  androidModularIon: {
    since: "5.4",
    summary: "Android's modular ION (CONFIG_ANDROID): CPU syncs skipped for uncached buffers",
    citation: "Android Common Kernel android-5.4 ION (modular heaps, ION_IOC_ABI_VERSION 2)",
  },
  dmaHeaps: {
    since: "5.6",
    summary: "dma-heaps: /dev/dma_heap/ with the system and CMA heaps",
    citation:
      '"dma-buf: Add dma-buf heaps framework", "dma-buf: heaps: Add system heap to dmabuf heaps", "… Add CMA heap …" (v5.6)',
  },
  heapHelpers: {
    since: "5.6",
    until: "5.11",
    summary:
      "the system and CMA heaps are built on the heap helpers (vmap range invalidated/flushed in begin/end_cpu_access)",
    citation:
      '"dma-buf: heaps: Add heap helpers" (v5.6; heap-helpers.c of v5.10 read at torvalds/linux 20e76f1a7059); removed when the heaps got their own ops (v5.11)',
  },
  androidUncachedHeap: {
    since: "5.10",
    summary: "Android (CONFIG_ANDROID): the system-uncached heap and the dma-buf heap page pools",
    citation:
      "Android Common Kernel android12-5.10 drivers/dma-buf/heaps/system_heap.c, page_pool.c",
  },
});

/**
 * The options of `@dmasim/heaps`. Pass it in `new Kernel({ modules: [HEAPS_MODULE], options: {
 * ... } })` to set them; it loads by itself on first use otherwise.
 *
 * **Kernel:** drivers/dma-buf/heaps/Kconfig, drivers/staging/android/ion/Kconfig.
 */
export const HEAPS_MODULE: KernelModule = {
  name: OWNER,
  eras: Object.values(HEAPS_ERAS),
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
      default: (v) => HEAPS_ERAS.ionLegacy(v),
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
      name: HEAP_HELPERS_V6_NO_VMAP_FLUSH,
      kind: "patch",
      owner: OWNER,
      default: false,
      description:
        "heap helpers as posted in v6 (June 2019): no invalidate/flush_kernel_vmap_range of the vmap in begin/end_cpu_access (H7)",
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
  return optionOn(kernel, CONFIG_ANDROID) && HEAPS_ERAS.androidUncachedHeap(kernel);
}
