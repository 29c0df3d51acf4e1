/**
 * The drivers' end-of-run check: what the example drivers still hold when a run ends, said the way
 * a driver engineer reads it — a GPU job that never ran (and what it keeps alive), a released BO
 * still on the delayed-destroy list because a fence never signaled, a BO whose handle was never
 * dropped (a driver-private object no dma-buf check sees).
 *
 * **Kernel:** none (the scenario runner's end-of-run check, beside dma-buf's and dma-debug's).
 *
 * @module
 */
import type { Finding, Kernel } from "@dmasim/kernel";
import {
  dmaFenceDriverName,
  dmaFenceIsSignaled,
  dmaFenceTimelineName,
  type DmaFence,
} from "@dmasim/dma-resv";
import { GPU_SUBSYS, type GpuDevice } from "./gpu/gpu_device";
import { gpuRetire, type GpuJob } from "./gpu/gpu_job";
import type { GpuBo } from "./gpu/gpu_object";

const fenceName = (f: DmaFence): string =>
  `${f.context}:${f.seqno} (${dmaFenceDriverName(f)} ${dmaFenceTimelineName(f)})`;

function boName(bo: GpuBo): string {
  return `${bo.gpu.name} BO of ${bo.size} bytes (${bo.placement}, created at step ${bo.step})`;
}

function pendingJob(kernel: Kernel, job: GpuJob): Finding {
  const waits = job.deps.filter((f) => !dmaFenceIsSignaled(f)).map(fenceName);
  const holds = job.refs.map((r) => r.what);
  return kernel.report({
    kind: "leak",
    code: "gpu-job-pending",
    summary: `${job.gpu.name}: ${job.kind} job (seqno ${job.fence.seqno}, submitted at step ${job.step}) never ran${waits.length ? `; it waits for fence ${waits.join(", ")}` : ""}${holds.length ? `; it still holds ${holds.join(", ")}` : ""}`,
    details: { gpu: job.gpu.name, seqno: job.fence.seqno, step: job.step, waits, holds },
  });
}

function delayedDestroy(kernel: Kernel, bo: GpuBo): Finding {
  const d = bo.deleted as NonNullable<GpuBo["deleted"]>;
  const waits = d.fences.filter((f) => !dmaFenceIsSignaled(f)).map(fenceName);
  return kernel.report({
    kind: "leak",
    code: "gpu-bo-delayed-destroy",
    summary: `${boName(bo)}, released at step ${d.step}, is still on the delayed-destroy list: fence ${waits.join(", ")} never signaled, so its ${bo.npages} page(s) stay allocated`,
    details: { gpu: bo.gpu.name, size: bo.size, step: bo.step, released: d.step, waits },
  });
}

function handleLeak(kernel: Kernel, bo: GpuBo, handles: number): Finding {
  return kernel.report({
    kind: "leak",
    code: "gpu-bo-leak",
    summary: `${boName(bo)} still has ${handles} handle reference(s) at the end of the run`,
    details: { gpu: bo.gpu.name, size: bo.size, step: bo.step, handles },
  });
}

function checkGpu(kernel: Kernel, gpu: GpuDevice): Finding[] {
  const found = gpu.pending.map((job) => pendingJob(kernel, job));
  for (const bo of gpu.bos) {
    if (bo.deleted) {
      found.push(delayedDestroy(kernel, bo));
      continue;
    }
    // the export's reference is the dma-buf's (its own leak check reports a buffer never put);
    // the jobs' references are reported with their jobs
    const handles = bo.refs - bo.jobRefs - (bo.dmabuf ? 1 : 0);
    if (handles > 0) {
      found.push(handleLeak(kernel, bo, handles));
    }
  }
  return found;
}

/**
 * At the end of a run: first free the GPU jobs that ran and could not be freed yet (the kernel's
 * scheduler work would have), then report, as `leak` findings, every GPU job that never ran
 * (`gpu-job-pending`, with the fences it waits for and what it holds), every released BO still on
 * the delayed-destroy list (`gpu-bo-delayed-destroy`, with the fences that never signaled) and
 * every BO whose handle was never dropped (`gpu-bo-leak`). Returns the new findings.
 *
 * **Kernel:** none (the scenario runner's end-of-run check).
 *
 * **Locking:** may sleep (freeing a job may unmap an import under its reservation lock); the caller
 * must hold no lock.
 */
export async function driversCheckLeaks(kernel: Kernel): Promise<Finding[]> {
  const gpus = kernel.subsys(GPU_SUBSYS).devices;
  for (const gpu of gpus) {
    await gpuRetire(gpu);
  }
  return gpus.flatMap((gpu) => checkGpu(kernel, gpu));
}
