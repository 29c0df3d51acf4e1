/**
 * The kmalloc() bouncing rule of 6.5+: on arm64 kmalloc() may return buffers smaller than
 * `ARCH_DMA_MINALIGN`, which may share a cache line with an unrelated object; such small buffers
 * mapped for a non-coherent device in a direction the device writes are bounced through swiotlb.
 *
 * **Kernel:** include/linux/dma-map-ops.h (`dma_kmalloc_safe()`, `dma_kmalloc_size_aligned()`,
 * `dma_kmalloc_needs_bounce()`), mm/slab_common.c (`kmalloc_size_roundup()`).
 *
 * @module
 */
import type { Device } from "@dmasim/hardware";
import { archDmaMinalign, devIsDmaCoherent } from "../arch";
import { DMA_MAPPING_ERAS } from "../era";
import {
  CONFIG_DMA_BOUNCE_UNALIGNED_KMALLOC,
  DMA_DIRECT_SKIP_SYNC_NO_BOUNCE,
  DMA_SKIP_SYNC_NO_KMALLOC_BOUNCE,
  optionOn,
} from "../module";
import { DMA_TO_DEVICE } from "./dma-direction";
import { DMA_ATTR_SKIP_CPU_SYNC } from "./dma-mapping";

/**
 * The size of the kmalloc() bucket a request of `size` bytes lands in (8, 16, 32, 64, 96, 128,
 * 192, 256, then powers of two); 0 for 0, as the kernel returns the size of a
 * `ZERO_SIZE_PTR` request itself.
 *
 * **Kernel:** `kmalloc_size_roundup()`.
 *
 * **Locking:** none (pure).
 */
export function kmallocSizeRoundup(size: number): number {
  if (size === 0) {
    return 0; // kmalloc(0) returns ZERO_SIZE_PTR; the kernel returns the size itself
  }
  if (size <= 8) {
    return 8;
  }
  if (size > 64 && size <= 96) {
    return 96;
  }
  if (size > 128 && size <= 192) {
    return 192;
  }
  return 2 ** Math.ceil(Math.log2(size));
}

/**
 * Whether kmalloc bouncing is in force for this device's machine: the option (6.5+ default) on an
 * arm64 platform, the only architecture that selects it.
 *
 * **Kernel:** `IS_ENABLED(CONFIG_DMA_BOUNCE_UNALIGNED_KMALLOC)`.
 *
 * **Locking:** none.
 */
export function dmaBounceUnalignedKmalloc(dev: Device): boolean {
  const m = dev.machine;
  return (
    m.config.arch === "arm64" &&
    DMA_MAPPING_ERAS.bounceUnalignedKmalloc(m.kernel) &&
    optionOn(m.kernel, CONFIG_DMA_BOUNCE_UNALIGNED_KMALLOC)
  );
}

/**
 * Whether a possible kmalloc() buffer is safe for this device and direction without bouncing:
 * bouncing is off, the device is coherent, or the device only reads. With the named patch
 * `dma-skip-sync-no-kmalloc-bounce` (or the stronger `dma-direct-skip-sync-no-bounce`), also when
 * `DMA_ATTR_SKIP_CPU_SYNC` is given.
 *
 * **Kernel:** `dma_kmalloc_safe()`.
 *
 * **Locking:** none.
 */
export function dmaKmallocSafe(dev: Device, dir: number, attrs: number): boolean {
  if (!dmaBounceUnalignedKmalloc(dev)) {
    return true;
  }
  if (devIsDmaCoherent(dev) || dir === DMA_TO_DEVICE) {
    return true;
  }
  const k = dev.machine.kernel;
  return (
    (attrs & DMA_ATTR_SKIP_CPU_SYNC) !== 0 &&
    (optionOn(k, DMA_SKIP_SYNC_NO_KMALLOC_BOUNCE) || optionOn(k, DMA_DIRECT_SKIP_SYNC_NO_BOUNCE))
  );
}

/**
 * Whether a kmalloc() buffer of `size` bytes is aligned and sized for non-coherent DMA: at least
 * twice `ARCH_DMA_MINALIGN`, or in a bucket whose size is a multiple of it.
 *
 * **Kernel:** `dma_kmalloc_size_aligned()`.
 *
 * **Locking:** none (pure).
 */
export function dmaKmallocSizeAligned(dev: Device, size: number): boolean {
  const align = archDmaMinalign(dev.machine);
  return size >= 2 * align || kmallocSizeRoundup(size) % align === 0;
}

/**
 * Whether a mapping of `size` bytes must be bounced because it may be a small kmalloc() buffer
 * sharing a cache line with another object (hazard H4).
 *
 * **Kernel:** `dma_kmalloc_needs_bounce()`.
 *
 * **Locking:** none.
 */
export function dmaKmallocNeedsBounce(
  dev: Device,
  size: number,
  dir: number,
  attrs: number,
): boolean {
  return !dmaKmallocSafe(dev, dir, attrs) && !dmaKmallocSizeAligned(dev, size);
}
