/**
 * The direction of a DMA transfer, from the point of view of the device.
 *
 * **Kernel:** include/linux/dma-direction.h (`enum dma_data_direction`, `valid_dma_direction()`).
 *
 * @module
 */

/** The device may read and write the buffer. **Kernel:** `DMA_BIDIRECTIONAL` (0). */
export const DMA_BIDIRECTIONAL = 0;
/** The CPU wrote the buffer, the device reads it. **Kernel:** `DMA_TO_DEVICE` (1). */
export const DMA_TO_DEVICE = 1;
/** The device writes the buffer, the CPU reads it afterwards. **Kernel:** `DMA_FROM_DEVICE` (2). */
export const DMA_FROM_DEVICE = 2;
/** A debugging value only; every entry point rejects it. **Kernel:** `DMA_NONE` (3). */
export const DMA_NONE = 3;

/** One of the four direction values. **Kernel:** `enum dma_data_direction`. */
export type DmaDataDirection =
  typeof DMA_BIDIRECTIONAL | typeof DMA_TO_DEVICE | typeof DMA_FROM_DEVICE | typeof DMA_NONE;

/**
 * Whether `dir` is a direction a mapping may use (bidirectional, to device, from device).
 *
 * **Kernel:** `valid_dma_direction()`.
 *
 * **Locking:** none (pure).
 */
export function validDmaDirection(dir: number): boolean {
  return dir === DMA_BIDIRECTIONAL || dir === DMA_TO_DEVICE || dir === DMA_FROM_DEVICE;
}

const NAMES = ["DMA_BIDIRECTIONAL", "DMA_TO_DEVICE", "DMA_FROM_DEVICE", "DMA_NONE"] as const;

/**
 * The kernel's name of a direction (`"DMA_TO_DEVICE"`…), as dma-debug prints it; `"invalid"` for
 * other values.
 *
 * **Kernel:** `dir2name[]` in kernel/dma/debug.c.
 *
 * **Locking:** none (pure).
 */
export function dmaDirName(dir: number): string {
  return NAMES[dir] ?? "invalid";
}
