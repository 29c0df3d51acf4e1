import { Kernel, msleep, spinLockInit } from "@dmasim/kernel";
import {
  DMA_RESV_USAGE_WRITE,
  dmaFenceContextAlloc,
  dmaFenceInit,
  dmaFenceIsSignaled,
  dmaFencePut,
  dmaFenceSignal,
  dmaResvAddFence,
  dmaResvInit,
  dmaResvLock,
  dmaResvReserveFences,
  dmaResvUnlock,
  dmaResvUsageRw,
  dmaResvWaitTimeout,
  syncFileCreate,
  syncFileGetFence,
  syncFileInstall,
} from "@dmasim/dma-resv";

export async function main(): Promise<{
  waited: number;
  exportedSignaled: boolean;
  findings: number;
}> {
  const kernel = new Kernel({ seed: 1 });
  const resv = dmaResvInit(kernel);
  const gpuLock = spinLockInit(kernel, "gpu->fence_lock");
  const ops = { getDriverName: () => "gpu", getTimelineName: () => "ring0" };
  const context = dmaFenceContextAlloc(kernel, 1);
  const app = kernel.vfs.createProcess("app");
  let waited = 0;
  let exportedSignaled = false;

  await kernel.run({
    gpu: async () => {
      // Submit a job that writes the buffer: publish its fence in the reservation object.
      const job = dmaFenceInit(kernel, ops, gpuLock, context, 1);
      await dmaResvLock(resv, null);
      dmaResvReserveFences(resv, 1);
      dmaResvAddFence(resv, job, DMA_RESV_USAGE_WRITE);
      dmaResvUnlock(resv);
      // Hand the same fence to userspace as a sync_file.
      const fd = syncFileInstall(app, syncFileCreate(job));
      await msleep(kernel, 4); // the job runs
      dmaFenceSignal(job);
      const back = syncFileGetFence(app, fd);
      exportedSignaled = back !== null && dmaFenceIsSignaled(back);
      dmaFencePut(back);
      dmaFencePut(job);
    },
    cpu: async () => {
      await msleep(kernel, 1);
      // A reader waits for the writers (and the kernel's own fences) before touching the buffer.
      waited = await dmaResvWaitTimeout(resv, dmaResvUsageRw(false), true, 100);
    },
  });
  return { waited, exportedSignaled, findings: kernel.findings.length };
}
