/**
 * CPU access bracketing: begin/end_cpu_access and the `DMA_BUF_IOCTL_SYNC` ioctl that forwards to
 * them.
 *
 * **Kernel:** drivers/dma-buf/dma-buf.c (`dma_buf_begin_cpu_access`, `__dma_buf_begin_cpu_access`,
 * `dma_buf_end_cpu_access`, the `DMA_BUF_IOCTL_SYNC` case of `dma_buf_ioctl`).
 *
 * @module
 */
import { KernelError, MAX_SCHEDULE_TIMEOUT, might_sleep } from "@dmasim/kernel";
import { dmaResvLockdepMap, dmaResvUsageRw, dmaResvWaitTimeout } from "@dmasim/dma-resv";
import type { DmaBuf } from "./include/dma-buf";
import {
  DMA_BIDIRECTIONAL,
  DMA_FROM_DEVICE,
  DMA_TO_DEVICE,
  type DmaDataDirection,
} from "@dmasim/dma-mapping";
import { dmaBufCheckAlive, era, exporterCall } from "./module";
import {
  DMA_BUF_SYNC_END,
  DMA_BUF_SYNC_READ,
  DMA_BUF_SYNC_RW,
  DMA_BUF_SYNC_VALID_FLAGS_MASK,
  DMA_BUF_SYNC_WRITE,
  type DmaBufSync,
} from "./uapi/dma-buf";

const SITE = "drivers/dma-buf/dma-buf.c";

function mightLockResv(dmabuf: DmaBuf): void {
  if (era.lockingSpec(dmabuf.kernel)) {
    dmabuf.kernel.lockdep.mightLock(dmaResvLockdepMap(dmabuf.resv));
  }
}

/**
 * Prepare the buffer for CPU access in direction `dir`: the exporter's `beginCpuAccess` (cache
 * maintenance), then — only if it succeeded — an interruptible wait for the implicit fences: a CPU
 * write (`DMA_BIDIRECTIONAL`, `DMA_TO_DEVICE`) waits for readers and writers (usage READ), a CPU
 * read for writers (usage WRITE). The maintenance runs **before** the wait, as in the kernel: lines
 * refilled while waiting are stale (hazard H9). Explicitly synchronised DMA is not waited for.
 *
 * **Kernel:** `dma_buf_begin_cpu_access()`.
 *
 * **Locking:** may sleep. 6.2+: `might_lock(resv)`: calling it with the reservation lock held is a
 * lockdep finding (recursive locking; hazard H12 c). The exporter's hook runs without resv.
 *
 * @throws {@link KernelError} the exporter's error (`ERESTARTSYS`, `EINTR`), or `ERESTARTSYS` when
 * a signal ends the fence wait
 */
export async function dmaBufBeginCpuAccess(dmabuf: DmaBuf, dir: DmaDataDirection): Promise<void> {
  const kernel = dmabuf.kernel;
  dmaBufCheckAlive(dmabuf, "dma_buf_begin_cpu_access");
  might_sleep(kernel, `${SITE}:dma_buf_begin_cpu_access`);
  mightLockResv(dmabuf);
  await kernel.sched.schedulePoint();
  kernel.trace("dma-buf", "dma-buf", "begin_cpu_access", { ino: dmabuf.ino, dir });
  if (dmabuf.ops.beginCpuAccess) {
    const op = dmabuf.ops.beginCpuAccess;
    await exporterCall(kernel, () => op(dmabuf, dir), "begin_cpu_access");
  }
  const write = dir === DMA_BIDIRECTIONAL || dir === DMA_TO_DEVICE;
  await dmaResvWaitTimeout(dmabuf.resv, dmaResvUsageRw(write), true, MAX_SCHEDULE_TIMEOUT);
}

/**
 * End CPU access: the exporter's `endCpuAccess` (write back for the devices); no fence wait.
 *
 * **Kernel:** `dma_buf_end_cpu_access()`.
 *
 * **Locking:** may sleep; 6.2+ `might_lock(resv)` as {@link dmaBufBeginCpuAccess}.
 *
 * @throws {@link KernelError} the exporter's error
 */
export async function dmaBufEndCpuAccess(dmabuf: DmaBuf, dir: DmaDataDirection): Promise<void> {
  const kernel = dmabuf.kernel;
  dmaBufCheckAlive(dmabuf, "dma_buf_end_cpu_access");
  might_sleep(kernel, `${SITE}:dma_buf_end_cpu_access`);
  mightLockResv(dmabuf);
  await kernel.sched.schedulePoint();
  kernel.trace("dma-buf", "dma-buf", "end_cpu_access", { ino: dmabuf.ino, dir });
  if (dmabuf.ops.endCpuAccess) {
    const op = dmabuf.ops.endCpuAccess;
    await exporterCall(kernel, () => op(dmabuf, dir), "end_cpu_access");
  }
}

/** `DMA_BUF_IOCTL_SYNC`. @internal */
export async function dmaBufIoctlSync(dmabuf: DmaBuf, arg: unknown): Promise<number> {
  if (typeof arg !== "object" || arg === null) {
    throw new KernelError("EFAULT", "DMA_BUF_IOCTL_SYNC: bad user pointer");
  }
  const flags = Number((arg as DmaBufSync).flags);
  if (!Number.isInteger(flags) || flags & ~DMA_BUF_SYNC_VALID_FLAGS_MASK || flags < 0) {
    throw new KernelError("EINVAL", `DMA_BUF_IOCTL_SYNC: invalid flags 0x${flags.toString(16)}`);
  }
  let dir: DmaDataDirection;
  switch (flags & DMA_BUF_SYNC_RW) {
    case DMA_BUF_SYNC_READ:
      dir = DMA_FROM_DEVICE;
      break;
    case DMA_BUF_SYNC_WRITE:
      dir = DMA_TO_DEVICE;
      break;
    case DMA_BUF_SYNC_RW:
      dir = DMA_BIDIRECTIONAL;
      break;
    default:
      throw new KernelError("EINVAL", "DMA_BUF_IOCTL_SYNC: neither READ nor WRITE");
  }
  if (flags & DMA_BUF_SYNC_END) {
    await dmaBufEndCpuAccess(dmabuf, dir);
  } else {
    await dmaBufBeginCpuAccess(dmabuf, dir);
  }
  return 0;
}
