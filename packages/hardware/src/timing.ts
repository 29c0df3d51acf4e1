/**
 * The work time a trace charges for the hardware's work (see the kernel's `Clock.timeline`): what
 * a person reading the trace in Perfetto sees as a span's length. Orders of magnitude of a current
 * SoC, not a timing model: nothing but the trace reads them, so they change no outcome.
 *
 * @module
 */

/** A DMA transfer: a setup cost and 4 bytes per ns (about 4 GB/s). */
export function dmaTransferNs(len: number): number {
  return 200 + Math.ceil(Math.max(0, len) / 4);
}

/** Cache maintenance by virtual address: a setup cost and 10 ns per line. */
export function cacheMaintenanceNs(bytes: number, lineSize: number): number {
  return 50 + 10 * Math.ceil(Math.max(0, bytes) / lineSize);
}

/** A swiotlb bounce: a memcpy by the CPU at 8 bytes per ns. */
export function bounceCopyNs(len: number): number {
  return 100 + Math.ceil(Math.max(0, len) / 8);
}
