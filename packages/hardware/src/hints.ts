/**
 * What would have prevented a hardware finding, said where the finding is raised: the call the
 * agent missed, with the range and the agents the checker knows. A report shows the hint under the
 * finding (`details.hint`).
 *
 * @module
 */
import type { FindingWriter } from "@dmasim/kernel";

function hex(a: number): string {
  return `0x${a.toString(16)}`;
}

function isCpu(agent: string): boolean {
  return agent.startsWith("cpu:");
}

function isDevice(agent: string): boolean {
  return agent.startsWith("dev:");
}

/**
 * The hint of a stale read of `len` bytes at `pa` by `reader`, last written by `writer`; `bounced`
 * when the read went through a swiotlb slot. Undefined when no call of the DMA API would help.
 *
 * **Kernel:** none (a reading of the DMA-API rules). **Locking:** none.
 */
export function staleReadHint(
  reader: string,
  writer: FindingWriter,
  pa: number,
  len: number,
  bounced: boolean,
): string | undefined {
  const range = `phys ${hex(pa)}..${hex(pa + len)}`;
  const wrote = `${writer.agent} wrote it at step ${writer.step}`;
  if (bounced) {
    const sync = isCpu(reader) ? "dma_sync_*_for_cpu" : "dma_sync_*_for_device";
    return `the bounce slot of ${range} is stale: after ${wrote}, ${sync} the mapping before ${reader} reads (the sync copies the bytes across)`;
  }
  if (isCpu(reader) && isDevice(writer.agent)) {
    return `invalidate ${range} after ${wrote} and before ${reader} reads: dma_sync_*_for_cpu (or unmap) with DMA_FROM_DEVICE or DMA_BIDIRECTIONAL; with dma-buf, dma_buf_begin_cpu_access / DMA_BUF_IOCTL_SYNC START`;
  }
  if (isDevice(reader) && isCpu(writer.agent)) {
    return `clean ${range} after ${wrote} and before ${reader} reads: dma_sync_*_for_device (or map) with DMA_TO_DEVICE or DMA_BIDIRECTIONAL; with dma-buf, dma_buf_end_cpu_access / DMA_BUF_IOCTL_SYNC END`;
  }
  if (isCpu(reader) && isCpu(writer.agent)) {
    return `${writer.agent} wrote ${range} at step ${writer.step} through another mapping of the same memory: flush_kernel_vmap_range after writing through an alias and invalidate_kernel_vmap_range before reading through it, or keep one cacheable mapping`;
  }
  return undefined;
}

/**
 * The hint of a write-back (`code` `write-back`) or bounce copy (`bounce-copy`) that put stale
 * bytes over `len` bytes at `pa`, last written by `writer`; `dirtiedBy` dirtied the cache line.
 *
 * **Kernel:** none (a reading of the DMA-API rules). **Locking:** none.
 */
export function clobberHint(
  code: string,
  writer: FindingWriter,
  pa: number,
  len: number,
  dirtiedBy: FindingWriter | undefined,
): string | undefined {
  const range = `phys ${hex(pa)}..${hex(pa + len)}`;
  const newer = `what ${writer.agent} wrote at step ${writer.step}`;
  if (code === "bounce-copy") {
    return `a swiotlb copy-back put the slot's older bytes over ${newer} at ${range}: sync for the CPU only the mapping of the device that wrote, and do not share one bounced buffer mapped with DMA_ATTR_SKIP_CPU_SYNC between devices`;
  }
  if (code === "write-back" && dirtiedBy) {
    return `a dirty line (${dirtiedBy.agent}, step ${dirtiedBy.step}) was written back over ${newer} at ${range}: clean the buffer before the device writes it (dma_sync_*_for_device or map), and do not write it while the device owns it`;
  }
  return undefined;
}

/**
 * The hint of an IOMMU fault of `device` at `iova` (`reason` `translation`: not mapped;
 * `permission`: a write to a read-only mapping).
 *
 * **Kernel:** none. **Locking:** none.
 */
export function iommuFaultHint(device: string, iova: number, len: number, reason: string): string {
  const at = `iova ${hex(iova)}+${len}`;
  return reason === "permission"
    ? `${device} wrote ${at} through a read-only mapping: map the buffer DMA_FROM_DEVICE or DMA_BIDIRECTIONAL when the device writes it`
    : `${at} is not mapped for ${device}: map the buffer (dma_map_*) before the device touches it, and unmap only after its DMA has finished`;
}

/**
 * The hint of a device access beyond its DMA mask (`beyond`) or outside memory.
 *
 * **Kernel:** none. **Locking:** none.
 */
export function dmaRangeHint(device: string, dma: number, len: number, beyond: boolean): string {
  const at = `DMA address ${hex(dma)}+${len}`;
  return beyond
    ? `${at} is beyond ${device}'s DMA mask: map the buffer with the DMA API so it is bounced within reach, or allocate it there (dma_alloc_coherent, GFP_DMA32)`
    : `no memory is at ${at}: program ${device} only with addresses the DMA API returned`;
}

/**
 * The hint of a device access of a page that was freed.
 *
 * **Kernel:** none. **Locking:** none.
 */
export function freedPageHint(device: string, pa: number, write: boolean): string {
  return `${device} ${write ? "wrote" : "read"} phys ${hex(pa)} after it was freed: stop the device's DMA (wait for its fence, unmap) before freeing or moving the pages`;
}
