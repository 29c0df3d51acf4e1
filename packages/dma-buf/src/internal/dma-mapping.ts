/**
 * Stand-ins for the few layer-2 (`@dmasim/dma-mapping`) names the core needs, until that package
 * is merged: the DMA directions and the shape of an sg table.
 *
 * TODO(dma-mapping): replace with `DMA_BIDIRECTIONAL`… and `SgTable` from `@dmasim/dma-mapping`.
 *
 * @module
 * @internal
 */

/** **Kernel:** `DMA_BIDIRECTIONAL`. @internal */
export const DMA_BIDIRECTIONAL = 0;
/** **Kernel:** `DMA_TO_DEVICE`. @internal */
export const DMA_TO_DEVICE = 1;
/** **Kernel:** `DMA_FROM_DEVICE`. @internal */
export const DMA_FROM_DEVICE = 2;
/** **Kernel:** `DMA_NONE`. @internal */
export const DMA_NONE = 3;

/** **Kernel:** `enum dma_data_direction`. @internal */
export type DmaDataDirection = number;

/** The part of `struct scatterlist` the core touches. @internal */
export interface Scatterlist {
  page: unknown;
  offset: number;
  length: number;
  dmaAddress: number;
  dmaLength: number;
  dmaFlags: number;
  isLast: boolean;
}

/** The part of `struct sg_table` the core touches. @internal */
export interface SgTable {
  sgl: Scatterlist[];
  nents: number;
  origNents: number;
}

/** A new table over `sgl`. @internal */
export function newSgTable(sgl: Scatterlist[], nents: number): SgTable {
  return { sgl, nents, origNents: sgl.length };
}
