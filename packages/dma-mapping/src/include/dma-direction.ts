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

/**
 * Each direction by its kernel name, in value order (the index is the value).
 *
 * **Kernel:** `dir2name[]` in kernel/dma/debug.c.
 */
export const DMA_DIRECTION_NAMES = [
  "DMA_BIDIRECTIONAL",
  "DMA_TO_DEVICE",
  "DMA_FROM_DEVICE",
  "DMA_NONE",
] as const;

/** A direction's kernel name, e.g. `"DMA_TO_DEVICE"`. **Kernel:** `enum dma_data_direction`. */
export type DmaDirectionName = (typeof DMA_DIRECTION_NAMES)[number];

/**
 * The directions by kernel name, for tools that read names (scenario files, command lines).
 *
 * **Kernel:** `enum dma_data_direction`.
 */
export const DMA_DIRECTIONS: Readonly<Record<DmaDirectionName, DmaDataDirection>> = {
  DMA_BIDIRECTIONAL,
  DMA_TO_DEVICE,
  DMA_FROM_DEVICE,
  DMA_NONE,
};

/**
 * The kernel's name of a direction (`"DMA_TO_DEVICE"`…), as dma-debug prints it; `"invalid"` for
 * other values.
 *
 * **Kernel:** `dir2name[]` in kernel/dma/debug.c.
 *
 * **Locking:** none (pure).
 */
export function dmaDirName(dir: number): string {
  return DMA_DIRECTION_NAMES[dir] ?? "invalid";
}
