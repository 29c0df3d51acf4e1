/**
 * The bridge between implicit and explicit synchronisation: export the buffer's fences as a
 * sync_file, import a sync_file's fences into the buffer's reservation object.
 *
 * **Kernel:** drivers/dma-buf/dma-buf.c (`dma_buf_export_sync_file`, `dma_buf_import_sync_file`;
 * 6.0+, `CONFIG_SYNC_FILE`).
 *
 * @module
 */
import { KernelError, O_CLOEXEC, fput, type Process } from "@dmasim/kernel";
import {
  DMA_RESV_USAGE_READ,
  DMA_RESV_USAGE_WRITE,
  dmaFenceGetStub,
  dmaFencePut,
  dmaFenceUnwrapForEach,
  dmaResvAddFence,
  dmaResvGetSingleton,
  dmaResvLock,
  dmaResvReserveFences,
  dmaResvUnlock,
  dmaResvUsageRw,
  syncFileCreate,
  syncFileGetFence,
} from "@dmasim/dma-resv";
import type { DmaBuf } from "./include/dma-buf";
import {
  DMA_BUF_SYNC_RW,
  DMA_BUF_SYNC_WRITE,
  type DmaBufExportSyncFile,
  type DmaBufImportSyncFile,
} from "./uapi/dma-buf";

function copyIn<T extends { flags: number }>(arg: unknown, what: string): T {
  if (typeof arg !== "object" || arg === null) {
    throw new KernelError("EFAULT", `${what}: bad user pointer`);
  }
  const a = arg as T;
  const flags = Number(a.flags);
  if (!Number.isInteger(flags) || flags < 0 || flags & ~DMA_BUF_SYNC_RW) {
    throw new KernelError(
      "EINVAL",
      `${what}: flags 0x${flags.toString(16)} outside DMA_BUF_SYNC_RW`,
    );
  }
  if ((flags & DMA_BUF_SYNC_RW) === 0) {
    throw new KernelError("EINVAL", `${what}: neither DMA_BUF_SYNC_READ nor DMA_BUF_SYNC_WRITE`);
  }
  return a;
}

/**
 * `DMA_BUF_IOCTL_EXPORT_SYNC_FILE`: a snapshot of the fences a CPU access in `flags`'s direction
 * would wait for (WRITE: KERNEL, WRITE and READ fences; READ: KERNEL and WRITE), or the signaled
 * stub fence, as a new close-on-exec sync_file fd written to `arg.fd`. The fd is installed only
 * after the copy-out succeeded (a frozen `arg` stands for unwritable user memory: `EFAULT`, no fd).
 *
 * @internal
 */
export function dmaBufExportSyncFile(dmabuf: DmaBuf, arg: unknown, process: Process): number {
  const a = copyIn<DmaBufExportSyncFile>(arg, "DMA_BUF_IOCTL_EXPORT_SYNC_FILE");
  const fd = process.getUnusedFd();
  const usage = dmaResvUsageRw((a.flags & DMA_BUF_SYNC_WRITE) !== 0);
  const fence = dmaResvGetSingleton(dmabuf.resv, usage) ?? dmaFenceGetStub(dmabuf.kernel);
  const sf = syncFileCreate(fence);
  dmaFencePut(fence);
  if (Object.isFrozen(a)) {
    fput(sf.file);
    throw new KernelError("EFAULT", "DMA_BUF_IOCTL_EXPORT_SYNC_FILE: cannot write the fd back");
  }
  a.fd = fd;
  process.installFd(sf.file, O_CLOEXEC);
  return 0;
}

/**
 * `DMA_BUF_IOCTL_IMPORT_SYNC_FILE`: add every leaf fence of the sync_file at `arg.fd` to the
 * buffer's reservation object, as WRITE fences with `DMA_BUF_SYNC_WRITE`, else READ.
 *
 * @internal
 */
export async function dmaBufImportSyncFile(
  dmabuf: DmaBuf,
  arg: unknown,
  process: Process,
): Promise<number> {
  const a = copyIn<DmaBufImportSyncFile>(arg, "DMA_BUF_IOCTL_IMPORT_SYNC_FILE");
  const fence = syncFileGetFence(process, a.fd);
  if (!fence) {
    throw new KernelError(
      "EINVAL",
      `DMA_BUF_IOCTL_IMPORT_SYNC_FILE: fd ${a.fd} is not a sync_file`,
    );
  }
  const usage = a.flags & DMA_BUF_SYNC_WRITE ? DMA_RESV_USAGE_WRITE : DMA_RESV_USAGE_READ;
  try {
    const leaves = [...dmaFenceUnwrapForEach(fence)];
    if (leaves.length > 0) {
      await dmaResvLock(dmabuf.resv, null);
      try {
        dmaResvReserveFences(dmabuf.resv, leaves.length);
        for (const f of leaves) {
          dmaResvAddFence(dmabuf.resv, f, usage);
        }
      } finally {
        dmaResvUnlock(dmabuf.resv);
      }
    }
  } finally {
    dmaFencePut(fence);
  }
  return 0;
}
