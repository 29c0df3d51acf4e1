/**
 * Command submission: lock every buffer a job uses (ww_mutex acquire context with back-off),
 * validate imported buffers, collect the implicit-sync dependencies, publish the job's fence as
 * WRITE (buffers it writes) or READ (buffers it reads), unlock.
 *
 * **Kernel:** a simplified amdgpu_cs.c (`amdgpu_cs_parser_bos()` with `drm_exec`,
 * `amdgpu_cs_sync_rings()` / `amdgpu_sync_resv()`, `amdgpu_cs_submit()`).
 *
 * @module
 */
import { KernelError, MAX_SCHEDULE_TIMEOUT, isKernelError } from "@dmasim/kernel";
import {
  DMA_RESV_USAGE_KERNEL,
  DMA_RESV_USAGE_READ,
  DMA_RESV_USAGE_WRITE,
  dmaFenceGet,
  dmaResvAddFence,
  dmaResvForEachFence,
  dmaResvIterBegin,
  dmaResvIterEnd,
  dmaResvIterUsage,
  dmaResvLock,
  dmaResvLockSlow,
  dmaResvReserveFences,
  dmaResvUnlock,
  dmaResvUsageRw,
  dmaResvWaitTimeout,
  reservationWwClass,
  wwAcquireDone,
  wwAcquireFini,
  wwAcquireInit,
  type DmaFence,
  type DmaResv,
  type WwAcquireCtx,
} from "@dmasim/dma-resv";
import {
  GPU_FREES_BUSY_BO,
  GPU_IMPORTER_MAPS_UNLOCKED,
  GPU_IMPORTER_SKIPS_KERNEL_FENCES,
} from "../module";
import type { GpuDevice } from "./gpu_device";
import {
  GpuImport,
  gpuImportGetForJob,
  gpuImportPutForJob,
  gpuImportRanges,
  gpuImportValidate,
} from "./gpu_dma_buf";
import { gpuJobCreate, gpuRetire, type GpuDmaRange, type GpuJob } from "./gpu_job";
import { GpuBo, gpuBoGetForJob, gpuBoLookup, gpuBoPutForJob, gpuBoRanges } from "./gpu_object";

/** A buffer a job may use: one of the GPU's BOs or an imported dma-buf. */
export type GpuTarget = GpuBo | GpuImport;

/**
 * A job: write `data` into `dst`, read `len` bytes of `src` (the job's `result`), or copy `len`
 * bytes from `src` to `dst`.
 */
export interface GpuSubmitSpec {
  readonly src?: GpuTarget;
  readonly srcOffset?: number;
  readonly dst?: GpuTarget;
  readonly dstOffset?: number;
  readonly data?: Uint8Array;
  readonly len?: number;
}

const resvOf = (t: GpuTarget): DmaResv => (t instanceof GpuBo ? t.resv : t.dmabuf.resv);

/**
 * Lock every reservation object with one acquire context, backing off on `-EDEADLK` (drop
 * everything, sleep on the contended lock, retry), as `drm_exec` does.
 */
async function lockAll(gpu: GpuDevice, objs: readonly DmaResv[]): Promise<WwAcquireCtx> {
  const ctx = wwAcquireInit(gpu.kernel, reservationWwClass);
  let contended: DmaResv | null = null;
  for (;;) {
    const held: DmaResv[] = [];
    let trying: DmaResv | null = null;
    try {
      if (contended) {
        trying = contended;
        await dmaResvLockSlow(contended, ctx);
        held.push(contended);
      }
      for (const obj of objs) {
        if (obj !== contended) {
          trying = obj;
          await dmaResvLock(obj, ctx);
          held.push(obj);
        }
      }
      wwAcquireDone(ctx);
      return ctx;
    } catch (e) {
      held.forEach((o) => dmaResvUnlock(o));
      if (isKernelError(e, "EDEADLK")) {
        contended = trying;
        continue;
      }
      wwAcquireFini(ctx);
      throw e;
    }
  }
}

/** The fences a job touching `t` must wait for: writers for a read, everyone for a write. */
function dependencies(gpu: GpuDevice, t: GpuTarget, write: boolean): DmaFence[] {
  const skipKernel =
    t instanceof GpuImport && gpu.kernel.options.enabled(GPU_IMPORTER_SKIPS_KERNEL_FENCES);
  const out: DmaFence[] = [];
  const cursor = dmaResvIterBegin(resvOf(t), dmaResvUsageRw(write));
  for (const f of dmaResvForEachFence(cursor)) {
    if (skipKernel && dmaResvIterUsage(cursor) === DMA_RESV_USAGE_KERNEL) {
      continue; // the bug: the exporter's move/clear is not waited for (H14)
    }
    out.push(dmaFenceGet(f));
  }
  dmaResvIterEnd(cursor);
  return out;
}

/** The job keeps what it uses alive until it is freed (after its fence signaled). */
function holdTargets(job: GpuJob, targets: readonly GpuTarget[]): void {
  const holdBos = !job.gpu.kernel.options.enabled(GPU_FREES_BUSY_BO);
  for (const t of targets) {
    if (t instanceof GpuBo) {
      if (!holdBos) {
        continue; // the bug: the job does not keep its BOs alive
      }
      gpuBoGetForJob(t);
      job.refs.push({ what: `${t.gpu.name} BO`, put: () => gpuBoPutForJob(t) });
    } else {
      gpuImportGetForJob(t);
      job.refs.push({
        what: `${t.gpu.name} import of dma-buf ${t.dmabuf.ino}`,
        put: () => gpuImportPutForJob(t),
      });
    }
  }
}

function ranges(t: GpuTarget, offset: number, len: number): GpuDmaRange[] {
  return t instanceof GpuBo ? gpuBoRanges(t, offset, len) : gpuImportRanges(t, offset, len);
}

function sizeOf(t: GpuTarget): number {
  return t instanceof GpuBo ? t.size : t.dmabuf.size;
}

/** The handles a job names must still exist (the CS ioctl looks them up). */
function lookup(t: GpuTarget): void {
  if (t instanceof GpuBo) {
    gpuBoLookup(t);
  } else if (t.handleReleased) {
    throw new KernelError("ENOENT", `${t.gpu.name}: the import was released (no handle left)`);
  }
}

function checkSpec(s: GpuSubmitSpec): number {
  const len = s.data ? s.data.length : (s.len ?? 0);
  if ((!s.src && !s.dst) || (s.dst && !s.src && !s.data) || (s.src && !s.dst && !s.len)) {
    throw new KernelError("EINVAL", "a job writes data to dst, reads len bytes of src, or copies");
  }
  if (len <= 0) {
    throw new KernelError("EINVAL", "a job moves at least one byte");
  }
  for (const [t, off] of [
    [s.src, s.srcOffset ?? 0],
    [s.dst, s.dstOffset ?? 0],
  ] as const) {
    if (t) {
      lookup(t);
    }
    if (t && (off < 0 || off + len > sizeOf(t))) {
      throw new KernelError("EINVAL", `bytes ${off}..${off + len} lie outside the buffer`);
    }
  }
  return len;
}

/**
 * Submit a job: lock the buffers, make imported mappings current, take the implicit-sync
 * dependencies (and the exporter's KERNEL fences), publish the job's fence (WRITE on `dst`, READ
 * on `src`), unlock. The job runs later (`gpuJobRun`, or when someone waits for its fence); it
 * holds a reference on each buffer it uses until it is freed after running, so the buffers'
 * handles may be dropped at once (as drm_sched drivers' jobs and i915 requests keep theirs).
 *
 * **Kernel:** `amdgpu_cs_ioctl()`.
 *
 * **Locking:** may sleep; takes the buffers' reservation locks (the caller must hold none).
 *
 * @throws {@link KernelError} `EINVAL` for a malformed job, `ENOENT` for a released BO or import;
 * the errors of mapping an import
 */
export async function gpuSubmit(gpu: GpuDevice, spec: GpuSubmitSpec): Promise<GpuJob> {
  const len = checkSpec(spec);
  await gpuRetire(gpu);
  const targets = [...new Set([spec.src, spec.dst].filter((t): t is GpuTarget => !!t))];
  const unlocked = gpu.kernel.options.enabled(GPU_IMPORTER_MAPS_UNLOCKED);
  if (unlocked) {
    for (const t of targets) {
      if (t instanceof GpuImport) {
        await gpuImportValidate(t); // the bug: no reservation lock around the map (H13)
      }
    }
  }
  const ctx = await lockAll(gpu, [...new Set(targets.map(resvOf))]);
  try {
    for (const t of targets) {
      if (t instanceof GpuImport && !unlocked) {
        await gpuImportValidate(t);
      }
    }
    const deps = targets.flatMap((t) => dependencies(gpu, t, t === spec.dst));
    const job = gpuJobCreate(
      gpu,
      deps,
      {
        ...(spec.src ? { src: ranges(spec.src, spec.srcOffset ?? 0, len) } : {}),
        ...(spec.dst ? { dst: ranges(spec.dst, spec.dstOffset ?? 0, len) } : {}),
        ...(spec.data ? { data: spec.data } : {}),
      },
      spec.src && spec.dst ? "copy" : spec.dst ? "write" : "read",
    );
    holdTargets(job, targets);
    for (const t of targets) {
      dmaResvReserveFences(resvOf(t), 1);
      dmaResvAddFence(
        resvOf(t),
        job.fence,
        t === spec.dst ? DMA_RESV_USAGE_WRITE : DMA_RESV_USAGE_READ,
      );
    }
    return job;
  } finally {
    for (const obj of new Set(targets.map(resvOf))) {
      dmaResvUnlock(obj);
    }
    wwAcquireFini(ctx);
  }
}

/**
 * Wait until every job using a BO has finished (the jobs run meanwhile).
 *
 * **Kernel:** `amdgpu_gem_wait_idle_ioctl()` (`dma_resv_wait_timeout()` on every usage).
 *
 * **Locking:** may sleep; must not hold the BO's reservation lock.
 *
 * @throws {@link KernelError} `ERESTARTSYS` when interrupted, `ENOENT` when the BO was released
 */
export async function gpuBoWaitIdle(bo: GpuBo): Promise<void> {
  gpuBoLookup(bo);
  await dmaResvWaitTimeout(bo.resv, DMA_RESV_USAGE_READ, true, MAX_SCHEDULE_TIMEOUT);
  await gpuRetire(bo.gpu);
}
