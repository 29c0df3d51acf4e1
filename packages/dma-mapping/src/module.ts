/**
 * The module of the DMA mapping layer: its named kernel options (Kconfig symbols and the named
 * patch from review) and their defaults.
 *
 * **Kernel:** the Kconfig entries of kernel/dma/Kconfig (`DMA_API_DEBUG`, `DMA_API_DEBUG_SG`,
 * `DMA_BOUNCE_UNALIGNED_KMALLOC`) and a patch proposed in review.
 *
 * @module
 */
import { defineOption, defineSubsys, type Kernel, type KernelModule } from "@dmasim/kernel";
import type { Device } from "@dmasim/hardware";
import { devIsDmaCoherent } from "./arch";
import { DMA_MAPPING_ERAS } from "./era";

/** **Kernel:** `CONFIG_DMA_API_DEBUG` (kernel/dma/debug.c). */
export const CONFIG_DMA_API_DEBUG = "CONFIG_DMA_API_DEBUG";
/** **Kernel:** `CONFIG_DMA_API_DEBUG_SG` (segment length and boundary checks). */
export const CONFIG_DMA_API_DEBUG_SG = "CONFIG_DMA_API_DEBUG_SG";
/** **Kernel:** `CONFIG_DMA_BOUNCE_UNALIGNED_KMALLOC` (arm64 selects it with swiotlb, 6.5+). */
export const CONFIG_DMA_BOUNCE_UNALIGNED_KMALLOC = "CONFIG_DMA_BOUNCE_UNALIGNED_KMALLOC";
/**
 * The named patch as posted: Catalin Marinas's untested patch in the May 2024 review of T.J.
 * Mercier's "dma-direct: Set SG_DMA_SWIOTLB flag for dma-direct" (his reply of 2024-05-08,
 * <Zju0JOx_ij1qH-34@arm.com>): `dma_kmalloc_safe()` takes the attributes and treats a
 * `DMA_ATTR_SKIP_CPU_SYNC` mapping as safe, so only the kmalloc-alignment bounce is skipped. A
 * mapping the device cannot reach (DMA mask) or `swiotlb=force` still bounces, which the same reply
 * notes is as incompatible with buffer sharing.
 */
export const DMA_SKIP_SYNC_NO_KMALLOC_BOUNCE = "dma-skip-sync-no-kmalloc-bounce";
/**
 * The stronger idea from that review: a buffer shared with `DMA_ATTR_SKIP_CPU_SYNC` must never be
 * bounced at all; when the device cannot reach the memory (or swiotlb is forced) the mapping fails
 * instead of handing the device a private copy. Implies {@link DMA_SKIP_SYNC_NO_KMALLOC_BOUNCE}.
 */
export const DMA_DIRECT_SKIP_SYNC_NO_BOUNCE = "dma-direct-skip-sync-no-bounce";

/**
 * The options of `@dmasim/dma-mapping`. Pass it in `new Kernel({ modules: [DMA_MAPPING_MODULE],
 * options: { ... } })` to set them; it loads by itself on first use otherwise.
 *
 * **Kernel:** kernel/dma/Kconfig.
 */
export const DMA_MAPPING_MODULE: KernelModule = {
  name: "@dmasim/dma-mapping",
  get eras() {
    return Object.values(DMA_MAPPING_ERAS);
  },
  options: [
    defineOption({
      name: CONFIG_DMA_API_DEBUG,
      kind: "config",
      owner: "@dmasim/dma-mapping",
      default: true,
      description:
        "DMA-API debugging: check every map, unmap, sync and free against the mappings made (kernel/dma/debug.c)",
    }),
    defineOption({
      name: CONFIG_DMA_API_DEBUG_SG,
      kind: "config",
      owner: "@dmasim/dma-mapping",
      default: true,
      description:
        "DMA-API debugging of scatterlists: segments longer than the device's maximum or across its boundary",
    }),
    defineOption({
      name: CONFIG_DMA_BOUNCE_UNALIGNED_KMALLOC,
      kind: "config",
      owner: "@dmasim/dma-mapping",
      default: (v) => DMA_MAPPING_ERAS.bounceUnalignedKmalloc(v),
      description:
        "bounce small, cache-line-unaligned buffers of non-coherent devices through swiotlb (arm64, 6.5+)",
    }),
    defineOption({
      name: DMA_SKIP_SYNC_NO_KMALLOC_BOUNCE,
      kind: "patch",
      owner: "@dmasim/dma-mapping",
      default: false,
      description:
        "May 2024 patch as posted (Catalin Marinas): DMA_ATTR_SKIP_CPU_SYNC skips only the kmalloc-alignment bounce; mask and swiotlb=force still bounce",
    }),
    defineOption({
      name: DMA_DIRECT_SKIP_SYNC_NO_BOUNCE,
      kind: "patch",
      owner: "@dmasim/dma-mapping",
      default: false,
      description:
        "May 2024 review, the stronger idea: never bounce a DMA_ATTR_SKIP_CPU_SYNC (shared) mapping; fail it when the device cannot reach the memory",
    }),
  ],
};

/** Per-device DMA state the hardware `Device` does not hold. */
export interface DevDmaState {
  /**
   * Syncs may be skipped: the device is coherent and no swiotlb buffer was used for it yet.
   * **Kernel:** `dev->dma_skip_sync` (6.10+).
   */
  skipSync: boolean;
}

const DEV_STATE = defineSubsys(
  "dma-mapping:devices",
  () => new Map<Device, DevDmaState>(),
  DMA_MAPPING_MODULE,
);

/** @internal the DMA state of `dev`, created on first use */
export function devDma(dev: Device): DevDmaState {
  const map = dev.machine.kernel.subsys(DEV_STATE);
  let st = map.get(dev);
  if (!st) {
    st = { skipSync: DMA_MAPPING_ERAS.devSkipSync(dev.machine.kernel) && devIsDmaCoherent(dev) };
    map.set(dev, st);
  }
  return st;
}

/** @internal whether option `name` is on (loads the module first) */
export function optionOn(kernel: Kernel, name: string): boolean {
  kernel.load(DMA_MAPPING_MODULE);
  return kernel.options.enabled(name);
}
