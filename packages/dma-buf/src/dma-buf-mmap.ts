/**
 * User mappings of a dma-buf: mmap() of the fd, and `dma_buf_mmap()` for importers that forward
 * their own mmap to the exporter.
 *
 * **Kernel:** drivers/dma-buf/dma-buf.c (`dma_buf_mmap_internal`, `dma_buf_mmap`).
 *
 * The mapping is not coherent by contract: user accesses through it must be bracketed with
 * `DMA_BUF_IOCTL_SYNC`.
 *
 * @module
 */
import {
  KernelError,
  PAGE_SHIFT,
  WARN_ON,
  fput,
  getFile,
  might_sleep,
  type File,
  type Vma,
  sizeT,
} from "@dmasim/kernel";
import type { DmaBuf } from "./include/dma-buf";
import { dmaBufCheckAlive, era, exporterCall } from "./module";

const SITE = "drivers/dma-buf/dma-buf.c";

function sizePages(dmabuf: DmaBuf): number {
  // size >> PAGE_SHIFT: rounded down, so a partial tail page can never be mapped
  return Math.floor(dmabuf.size / 2 ** PAGE_SHIFT);
}

/** The fd's mmap. @internal */
export async function dmaBufMmapInternal(file: File, vma: Vma): Promise<void> {
  const dmabuf = file.privateData as DmaBuf;
  if (!dmabuf.ops.mmap) {
    throw new KernelError("EINVAL", "dma-buf mmap: the exporter has no mmap");
  }
  if (vma.pgoff + vma.pages > sizePages(dmabuf)) {
    throw new KernelError(
      "EINVAL",
      `dma-buf mmap: pages ${vma.pgoff}..${vma.pgoff + vma.pages} beyond the buffer's ${sizePages(dmabuf)}`,
    );
  }
  const op = dmabuf.ops.mmap;
  await exporterCall(dmabuf.kernel, () => op(dmabuf, vma), "mmap");
}

/**
 * Set up `vma` (an importer's user mapping) to map the buffer from page `pgoff`: the VMA's file
 * becomes the dma-buf's (the reference moves) and the exporter's `mmap` fills it.
 *
 * **Kernel:** `dma_buf_mmap()`: WARN + `EINVAL` for a null VMA; `EINVAL` without `ops.mmap`;
 * `EOVERFLOW` when `pgoff + pages` wraps; `EINVAL` beyond the (page-rounded-down) size. Up to 5.10
 * the VMA's old file was restored when the exporter failed; since then it is not.
 *
 * **Locking:** may sleep (the exporter's `mmap`); the caller holds `mmap_lock` (an mmap file
 * operation) and must not hold `dmabuf.resv`.
 *
 * @throws {@link KernelError} `EINVAL`, `EOVERFLOW`, or the exporter's error
 */
export async function dmaBufMmap(dmabuf: DmaBuf, vma: Vma | null, pgoff: number): Promise<void> {
  const kernel = dmabuf.kernel;
  dmaBufCheckAlive(dmabuf, "dma_buf_mmap");
  if (WARN_ON(kernel, !vma, `${SITE}:dma_buf_mmap`, "NULL vma")) {
    throw new KernelError("EINVAL", "dma_buf_mmap: NULL vma");
  }
  const v = vma as Vma;
  might_sleep(kernel, `${SITE}:dma_buf_mmap`);
  if (!dmabuf.ops.mmap) {
    throw new KernelError("EINVAL", "dma_buf_mmap: the exporter has no mmap");
  }
  pgoff = sizeT(pgoff, "dma_buf_mmap", "pgoff"); // unsigned long: -1 wraps, then overflows
  if (pgoff + v.pages > Number.MAX_SAFE_INTEGER) {
    throw new KernelError("EOVERFLOW", `dma_buf_mmap: pgoff ${pgoff} + ${v.pages} pages overflows`);
  }
  if (pgoff + v.pages > sizePages(dmabuf)) {
    throw new KernelError(
      "EINVAL",
      `dma_buf_mmap: pages ${pgoff}..${pgoff + v.pages} beyond the buffer's ${sizePages(dmabuf)}`,
    );
  }
  const old = v.file;
  const oldPgoff = v.pgoff;
  const restore = era.mmapRestoresFile(kernel);
  v.file = getFile(dmabuf.file as File);
  v.pgoff = pgoff;
  if (old && !restore) {
    fput(old);
  }
  const op = dmabuf.ops.mmap;
  try {
    await exporterCall(kernel, () => op(dmabuf, v), "mmap");
  } catch (e) {
    if (restore) {
      // 5.10 and older put the importer's file back
      v.file = old;
      v.pgoff = oldPgoff;
      fput(dmabuf.file as File);
    }
    throw e;
  }
  if (old && restore) {
    fput(old);
  }
}
