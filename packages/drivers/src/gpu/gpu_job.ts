/**
 * GPU jobs and their fences: a job is a list of DMA transfers the GPU performs when it runs, with
 * the fences it must wait for first; its own fence signals when it is done.
 *
 * **Kernel:** a simplified amdgpu_job.c with the drm_sched dependency handling
 * (`drm_sched_job_add_dependency()`, `run_job`) and amdgpu_fence.c.
 *
 * The hardware runs a job when {@link gpuJobRun} (or {@link gpuRingFlush}) is called, or when a job
 * that depends on it runs: a scenario chooses when the GPU makes progress, and a job whose
 * dependency has not run cannot overtake it (the scheduler would not start it).
 *
 * @module
 */
import { deviceRead, deviceWrite } from "@dmasim/hardware";
import {
  dmaFenceDefaultWait,
  dmaFenceInit,
  dmaFenceIsSignaled,
  dmaFencePut,
  dmaFenceSignal,
  dmaFenceWait,
  type DmaFence,
  type DmaFenceOps,
} from "@dmasim/dma-resv";
import { GPU_SUBSYS, type GpuDevice } from "./gpu_device";

/** One contiguous range of DMA addresses the GPU reaches. */
export interface GpuDmaRange {
  readonly addr: number;
  readonly len: number;
}

/** What a job does: a write of `data` to `dst`, a read of `len` bytes of `src`, or a copy. */
export interface GpuJobWork {
  readonly src?: readonly GpuDmaRange[];
  readonly dst?: readonly GpuDmaRange[];
  /** Bytes to write (a fill or an upload); without it a job with `src` and `dst` copies. */
  readonly data?: Uint8Array;
  /** Run after the transfers and before the fence signals (e.g. free a moved BO's old pages). */
  readonly after?: () => void;
}

/**
 * A reference a job holds on an object it uses (a BO or an imported buffer), dropped when the job
 * is freed after its fence signaled.
 */
export interface GpuJobRef {
  /** What the reference is to, in leak reports (`BO 3`, `import of dma-buf 2`). */
  readonly what: string;
  /** Drop the reference (may sleep: an import's last reference unmaps under its lock). */
  readonly put: () => void | Promise<void>;
}

/**
 * The ring's fence ops. Waiting for a job's fence makes the GPU run it (and what it depends on):
 * the hardware progresses while a thread sleeps on it.
 */
const GPU_FENCE_OPS: DmaFenceOps = {
  getDriverName: () => "dmasim-gpu",
  getTimelineName: (f) => `ring.${f.context}`,
  wait: async (f, intr, timeout) => {
    const job = f.kernel.subsys(GPU_SUBSYS).jobs.get(f);
    if (job) {
      await gpuJobRun(job);
    }
    return dmaFenceDefaultWait(f, intr, timeout);
  },
};

/**
 * A submitted job. **Kernel:** `struct amdgpu_job` with its `drm_sched_fence`.
 *
 * **Locking:** none; only the ring runs it.
 */
export class GpuJob {
  /** Whether the GPU has run it. */
  executed = false;
  /** What a read job saw (null until it ran). */
  result: Uint8Array | null = null;
  /** The references the job holds on what it uses (dropped when it is freed). */
  readonly refs: GpuJobRef[] = [];
  /** The scenario step that submitted it. */
  readonly step: number;
  private running = false;

  constructor(
    readonly gpu: GpuDevice,
    readonly fence: DmaFence,
    readonly deps: readonly DmaFence[],
    readonly work: GpuJobWork,
    /** What the job is for, in traces: `copy`, `write`, `read`, `move`. */
    readonly kind: string,
  ) {
    this.step = gpu.kernel.step;
  }

  /** @internal */
  claim(): boolean {
    if (this.running || this.executed) {
      return false;
    }
    this.running = true;
    return true;
  }
}

/**
 * Create a job on the GPU's ring (the fence is not published anywhere yet).
 *
 * **Kernel:** `amdgpu_job_alloc()` + `drm_sched_job_arm()`.
 *
 * **Locking:** any context.
 */
export function gpuJobCreate(
  gpu: GpuDevice,
  deps: readonly DmaFence[],
  work: GpuJobWork,
  kind: string,
): GpuJob {
  const fence = dmaFenceInit(gpu.kernel, GPU_FENCE_OPS, gpu.fenceLock, gpu.fenceContext, gpu.seqno);
  gpu.seqno++;
  const job = new GpuJob(gpu, fence, deps, work, kind);
  gpu.kernel.subsys(GPU_SUBSYS).jobs.set(fence, job);
  gpu.pending.push(job);
  return job;
}

function transfer(job: GpuJob): void {
  const dev = job.gpu.dev;
  const { src, dst, data } = job.work;
  let bytes: Uint8Array | null = data ?? null;
  if (src) {
    const total = src.reduce((n, r) => n + r.len, 0);
    const out = new Uint8Array(total);
    let at = 0;
    for (const r of src) {
      out.set(deviceRead(dev, r.addr, r.len), at);
      at += r.len;
    }
    job.result = out;
    bytes ??= out;
  }
  if (dst && bytes) {
    let at = 0;
    for (const r of dst) {
      deviceWrite(dev, r.addr, bytes.subarray(at, at + r.len));
      at += r.len;
    }
  }
}

/**
 * The GPU runs a job: first the jobs it depends on (on any GPU), then it waits for its other
 * dependencies, performs its transfers, and signals its fence. Running a job twice does nothing.
 *
 * **Kernel:** `drm_sched_main()` picking the job once its dependencies signaled, `run_job`, and the
 * fence interrupt (`amdgpu_fence_process()`).
 *
 * **Locking:** may sleep (waits for foreign fences); must not hold a reservation lock that a
 * dependency's signaller needs.
 */
export async function gpuJobRun(job: GpuJob): Promise<void> {
  if (!job.claim()) {
    return;
  }
  const jobs = job.gpu.kernel.subsys(GPU_SUBSYS).jobs;
  for (const dep of job.deps) {
    const other = jobs.get(dep);
    if (other && !other.executed) {
      await gpuJobRun(other);
    }
    if (!dmaFenceIsSignaled(dep)) {
      await dmaFenceWait(dep, false);
    }
  }
  await job.gpu.kernel.sched.schedulePoint();
  transfer(job);
  job.work.after?.();
  job.executed = true;
  const i = job.gpu.pending.indexOf(job);
  if (i >= 0) {
    job.gpu.pending.splice(i, 1);
  }
  jobs.delete(job.fence);
  dmaFenceSignal(job.fence);
  job.gpu.retiring.push(job);
  await gpuRetire(job.gpu);
}

/** Whether the running thread may free jobs now: process context, no lock held. */
function mayRetire(gpu: GpuDevice): boolean {
  const task = gpu.kernel.sched.current;
  return !task.inAtomic() && gpu.kernel.lockdep.heldLocks(task).length === 0;
}

async function gpuJobFree(job: GpuJob): Promise<void> {
  for (const dep of job.deps) {
    dmaFencePut(dep);
  }
  for (const ref of job.refs.splice(0)) {
    await ref.put();
  }
}

/**
 * Free the jobs of a GPU that have run: drop the fences they depended on and the references they
 * hold on the BOs and imports they used (the last one frees the object). The kernel frees a job
 * from the scheduler's work item once its finished fence signaled; dmasim frees it in the thread
 * that ran it, or, when that thread holds a lock or is atomic (a job run from inside a wait under
 * a reservation lock), at the next GPU call made without one.
 *
 * **Kernel:** drm_sched's `free_job` (`drm_sched_job_cleanup()`; the drivers' job free, e.g.
 * `panfrost_job_cleanup()` / `v3d_job_free()` dropping the job's BO references).
 *
 * **Locking:** may sleep; does nothing unless the caller holds no lock.
 */
export async function gpuRetire(gpu: GpuDevice): Promise<void> {
  while (gpu.retiring.length > 0 && mayRetire(gpu)) {
    await gpuJobFree(gpu.retiring.shift() as GpuJob);
  }
}

/**
 * Run every pending job of a GPU, oldest first (those submitted so far).
 *
 * **Kernel:** the ring draining (what `amdgpu_fence_wait_empty()` waits for).
 *
 * **Locking:** as {@link gpuJobRun}.
 */
export async function gpuRingFlush(gpu: GpuDevice): Promise<void> {
  for (const job of [...gpu.pending]) {
    await gpuJobRun(job); // a job another thread is running already is left to it
  }
  await gpuRetire(gpu);
}
