/**
 * What would have prevented each DMA-API debug error: the call to make instead, with the mapping's
 * own size, direction and address where dma-debug tracks one. A finding carries it as
 * `details.hint`.
 *
 * @module
 */
import type { DmaDebugEntry } from "./debug";
import { dmaDirName } from "./include/dma-direction";

const UNMAP: Readonly<Record<DmaDebugEntry["type"], string>> = {
  single: "dma_unmap_single / dma_unmap_page",
  sg: "dma_unmap_sg / dma_unmap_sgtable",
  coherent: "dma_free_coherent",
  resource: "dma_unmap_resource",
};

const MAP_ONLY_PAGES =
  "map only memory from the page allocator or kmalloc (never the stack, vmalloc or kernel text); map a vmalloc buffer page by page";

/** Hints that need no mapping. */
const GENERIC: Readonly<Record<string, string>> = {
  "free-invalid-address": "unmap only an address a dma_map_* call returned",
  "free-not-allocated":
    "unmap only what is mapped, once: the address was never mapped or is unmapped already",
  "sync-not-allocated":
    "sync only a live mapping: the address was never mapped or is unmapped already",
  "map-stack": MAP_ONLY_PAGES,
  "map-kernel-text": MAP_ONLY_PAGES,
  "map-invalid-area": MAP_ONLY_PAGES,
  "map-vmalloc": MAP_ONLY_PAGES,
  "sg-segment-too-long":
    "build the sg table with segments no longer than dma_get_max_seg_size() of the device",
  "sg-segment-across-boundary":
    "build the sg table with no segment crossing dma_get_seg_boundary() of the device",
};

function hex(a: number): string {
  return `0x${a.toString(16)}`;
}

/** Hints about the mapping `e` dma-debug tracks. */
function mappingHint(code: string, e: DmaDebugEntry): string | undefined {
  const dir = dmaDirName(e.direction);
  switch (code) {
    case "free-wrong-size":
      return `unmap with the size it was mapped with: ${e.size} bytes at ${hex(e.devAddr)}`;
    case "free-wrong-direction":
      return `unmap with the direction it was mapped with: ${dir}`;
    case "free-wrong-function":
    case "free-wrong-cpu-address":
      return `free it the way it was made: ${UNMAP[e.type]}, with the addresses the allocation returned`;
    case "free-wrong-sg-count":
    case "sync-wrong-sg-count":
      return `pass the entry count given to dma_map_sg (orig_nents, ${e.sgCallEnts}), not the count it returned`;
    case "unchecked-map-error":
      return `call dma_mapping_error() on ${hex(e.devAddr)} right after mapping it, before the device uses it`;
    case "sync-outside-range":
      return `sync within the mapping: at most ${e.size} bytes from ${hex(e.devAddr)}`;
    case "sync-wrong-direction":
      return `sync with the direction it was mapped with: ${dir}`;
    case "sync-read-only-for-cpu":
      return `a ${dir} mapping is never written by the device: no sync for the CPU is needed; map it DMA_FROM_DEVICE or DMA_BIDIRECTIONAL if the device writes it`;
    case "sync-write-only-to-device":
      return `a ${dir} mapping is never read by the device: no sync for the device is needed; map it DMA_TO_DEVICE or DMA_BIDIRECTIONAL if the device reads it`;
    case "overlapping-cacheline":
    case "cacheline-overlap-limit":
      return `another device-writable mapping shares the cache line of ${hex(e.devAddr)}: give each DMA buffer its own cache lines (ARCH_DMA_MINALIGN alignment)`;
    case "pending-allocations":
      return `unmap every mapping before the driver is released: ${UNMAP[e.type]} of ${hex(e.devAddr)}+${e.size} (${dir}, mapped at step ${e.step}) and the others`;
    default:
      return undefined;
  }
}

/**
 * The hint of a DMA-API debug error `code` about mapping `e` (if dma-debug tracks one).
 *
 * **Kernel:** none (the rules kernel/dma/debug.c checks, said as what to do).
 *
 * **Locking:** none.
 */
export function dmaDebugHint(code: string, e: DmaDebugEntry | undefined): string | undefined {
  return (e && mappingHint(code, e)) ?? GENERIC[code];
}
