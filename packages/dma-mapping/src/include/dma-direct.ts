/**
 * Whether a device can reach a DMA address range without help.
 *
 * **Kernel:** include/linux/dma-direct.h (`dma_capable()`).
 *
 * @module
 */
import type { Device } from "@dmasim/hardware";
import { DMA_MAPPING_ERROR } from "./dma-mapping";

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
  const end = addr + Math.max(size, 1) - 1;
  return end <= dev.dmaLimit;
}
