/**
 * Whether a device can reach a DMA address range without help.
 *
 * **Kernel:** include/linux/dma-direct.h (`dma_capable()`).
 *
 * @module
 */
import type { Device } from "@dmasim/hardware";
import { DMA_MAPPING_ERROR, SIZE_MAX } from "./dma-mapping";

/**
 * Whether `dev` can address `[addr, addr + size)`: the last byte is within
 * `min_not_zero(*dev->dma_mask, dev->bus_dma_limit)` (and the address is not the error value).
 *
 * **Kernel:** `dma_capable()`.
 *
 * **Locking:** none (pure).
 */
export function dmaCapable(dev: Device, addr: number, size: number): boolean {
  if (addr === DMA_MAPPING_ERROR || addr < 0) {
    return false;
  }
  const len = Math.max(size, 1);
  // `addr + size - 1` in dma_addr_t arithmetic: past SIZE_MAX it wraps (a size of -1 ends just
  // below addr, which every mask covers)
  const end = len - 1 > SIZE_MAX - addr ? addr - (SIZE_MAX - len) - 2 : addr + len - 1;
  return end <= dev.dmaLimit;
}
