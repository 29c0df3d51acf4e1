/**
 * GPU buffer objects: placement in VRAM or system memory (GTT), eviction under memory pressure
 * with a KERNEL fence for the copy and a move notification to importers, and pinning.
 *
 * **Kernel:** a simplified amdgpu_object.c with the TTM paths it uses (`ttm_bo_validate()`,
 * `ttm_bo_evict()`, the pipelined move `ttm_bo_move_accel_cleanup()`, `ttm_bo_pin()`).
 *
 * @module
 */
import {
  KernelError,
  PAGE_SIZE,
  WARN_ON_ONCE,
  isKernelError,
  might_sleep,
  sizeT,
} from "@dmasim/kernel";
import {
  GFP_DMA,
  GFP_KERNEL,
  __GFP_ZERO,
  allocPages,
  freePages,
  pfnToPage,
  type Page,
} from "@dmasim/hardware";
import {
  DMA_BIDIRECTIONAL,
  dmaMapSgtable,
  dmaUnmapSgtable,
  sgAllocTableFromPages,
  sgFreeTable,
  sgtDmaRanges,
  type SgTable,
} from "@dmasim/dma-mapping";
import {
  DMA_RESV_USAGE_BOOKKEEP,
  DMA_RESV_USAGE_KERNEL,
  DmaFenceCb,
  dmaFenceAddCallback,
  dmaFencePut,
  dmaResvAddFence,
  dmaResvAssertHeld,
  dmaResvFini,
  dmaResvGetFences,
  dmaResvInit,
  dmaResvLock,
  dmaResvReserveFences,
  dmaResvTrylock,
  dmaResvUnlock,
  type DmaFence,
  type DmaResv,
} from "@dmasim/dma-resv";
import { dmaBufInvalidateMappings, dmaBufMoveNotify, type DmaBuf } from "@dmasim/dma-buf";
import { GPU_FREES_BUSY_BO } from "../module";
import type { GpuDevice } from "./gpu_device";
import { gpuJobCreate, gpuJobRun, type GpuDmaRange, type GpuJob } from "./gpu_job";
import { DRIVERS_ERAS } from "../module";

/** Where a BO lives. **Kernel:** `AMDGPU_GEM_DOMAIN_VRAM` / `AMDGPU_GEM_DOMAIN_GTT`. */
export type GpuPlacement = "vram" | "system";

/** Options of {@link gpuBoCreate}. */
export interface GpuBoCreateOptions {
  /** Initial placement (default `"system"`). */
  readonly placement?: GpuPlacement;
  /** One physically contiguous block (scan-out without an IOMMU). **Kernel:** `AMDGPU_GEM_CREATE_VRAM_CONTIGUOUS`. */
  readonly contiguous?: boolean;
  /** Allocate from ZONE_DMA (e.g. a CMA area below 1 GiB on the Raspberry Pi 4). */
  readonly lowmem?: boolean;
}

/** The memory behind a BO and the GPU's own mapping of it (`GpuBo.backing`). */
export interface GpuBacking {
  readonly placement: GpuPlacement;
  /** Allocation blocks (one for a contiguous BO). */
  readonly blocks: readonly Page[];
  readonly order: number;
  /** Every 4 KiB page, in order. */
  readonly pages: readonly Page[];
  /** The pages mapped for the GPU (its GART / VRAM aperture), BIDIRECTIONAL. */
  readonly sgt: SgTable;
}

/**
 * A buffer object. **Kernel:** `struct amdgpu_bo` (with its `ttm_buffer_object` and GEM object).
 *
 * **Locking:** `backing`, `pinCount` and the attachments change under `resv`.
 */
export class GpuBo {
  /** References: the creator's handle, the export, and each job that uses the BO. */
  refs = 1;
  /** Of `refs`, those held by jobs (submitted and not freed yet). */
  jobRefs = 0;
  pinCount = 0;
  /** The last move (its KERNEL fence is in `resv` until it ran). */
  moving: GpuJob | null = null;
  /** The dma-buf exported from this BO, if any. */
  dmabuf: DmaBuf | null = null;
  /** The last reference went (the BO is freed, or on the delayed-destroy list). */
  released = false;
  /** On the delayed-destroy list: the last reference went while these fences were unsignaled. */
  deleted: { readonly step: number; readonly fences: readonly DmaFence[]; left: number } | null =
    null;
  /** Its pages are freed. */
  freed = false;
  /** The scenario step that created it. */
  readonly step: number;

  constructor(
    readonly gpu: GpuDevice,
    readonly size: number,
    readonly contiguous: boolean,
    readonly lowmem: boolean,
    readonly resv: DmaResv,
    public backing: GpuBacking,
  ) {
    this.step = gpu.kernel.step;
  }

  /** Where the BO lives now. */
  get placement(): GpuPlacement {
    return this.backing.placement;
  }

  /** Number of pages. */
  get npages(): number {
    return this.size / PAGE_SIZE;
  }
}

function orderFor(npages: number): number {
  return npages <= 1 ? 0 : Math.ceil(Math.log2(npages));
}

function allocBacking(
  gpu: GpuDevice,
  npages: number,
  contiguous: boolean,
  lowmem: boolean,
  placement: GpuPlacement,
): GpuBacking {
  // System pages are cleared by the CPU (dirty lines) and cleaned by the map below; VRAM is not
  // CPU-cached, and dmasim leaves its contents as they were (no clear job).
  const gfp = GFP_KERNEL | (lowmem ? GFP_DMA : 0) | (placement === "system" ? __GFP_ZERO : 0);
  const order = contiguous ? orderFor(npages) : 0;
  const blocks: Page[] = [];
  for (let i = 0; i < (contiguous ? 1 : npages); i++) {
    const p = allocPages(gpu.m, order, gfp);
    if (!p) {
      blocks.forEach((b) => freePages(gpu.m, b, order));
      throw new KernelError("ENOMEM", `${gpu.name}: no memory for a ${npages}-page BO`);
    }
    blocks.push(p);
  }
  const pages = contiguous
    ? Array.from({ length: npages }, (_, i) => pfnToPage(gpu.m, (blocks[0] as Page).pfn + i))
    : blocks;
  const sgt = sgAllocTableFromPages(gpu.kernel, pages, 0, npages * PAGE_SIZE);
  dmaMapSgtable(gpu.dev, sgt, DMA_BIDIRECTIONAL);
  return { placement, blocks, order, pages, sgt };
}

function freeBacking(gpu: GpuDevice, b: GpuBacking): void {
  dmaUnmapSgtable(gpu.dev, b.sgt, DMA_BIDIRECTIONAL);
  sgFreeTable(b.sgt);
  for (const p of b.blocks) {
    freePages(gpu.m, p, b.order);
  }
}

/** @internal The DMA ranges of `[offset, offset + len)` in a mapped table. */
export function sgtRanges(sgt: SgTable, offset: number, len: number): GpuDmaRange[] {
  const out = sgtDmaRanges(sgt, offset, len);
  if (!out) {
    throw new KernelError("EINVAL", `bytes ${offset}..${offset + len} lie outside the buffer`);
  }
  return out;
}

/** @internal Make room in VRAM by evicting unpinned BOs nobody holds locked, oldest first. */
function makeRoom(gpu: GpuDevice, npages: number, self: GpuBo | null): void {
  for (const victim of [...gpu.vramLru]) {
    if (gpu.vramUsed + npages <= gpu.vramPages) {
      return;
    }
    if (victim === self || victim.pinCount > 0 || victim.deleted || !dmaResvTrylock(victim.resv)) {
      // TTM skips BOs it cannot lock without blocking; a deleted one it would wait for and free,
      // which dmasim's synchronous eviction cannot: its VRAM comes back when its fences signal
      continue;
    }
    moveLocked(victim, "system");
    dmaResvUnlock(victim.resv);
  }
  if (gpu.vramUsed + npages > gpu.vramPages) {
    throw new KernelError(
      "ENOMEM",
      `${gpu.name}: VRAM full (${gpu.vramUsed}/${gpu.vramPages} pages)`,
    );
  }
}

function account(bo: GpuBo, b: GpuBacking, sign: 1 | -1): void {
  if (b.placement !== "vram") {
    return;
  }
  const gpu = bo.gpu;
  gpu.vramUsed += sign * bo.npages;
  const i = gpu.vramLru.indexOf(bo);
  if (i >= 0) {
    gpu.vramLru.splice(i, 1);
  }
  if (sign === 1) {
    gpu.vramLru.push(bo);
  }
}

function notifyMove(bo: GpuBo): void {
  const b = bo.dmabuf;
  if (!b || !DRIVERS_ERAS.dynamicImporter(bo.gpu.kernel)) {
    return;
  }
  if (DRIVERS_ERAS.invalidateMappings(bo.gpu.kernel)) {
    dmaBufInvalidateMappings(b);
  } else {
    dmaBufMoveNotify(b);
  }
}

/**
 * Move a BO (reservation lock held): allocate the new backing, tell importers, and queue the copy
 * as a job that waits for every fence of the BO, frees the old backing when done, and is
 * published as a KERNEL fence. Returns the move job, or null when the BO is already there.
 *
 * @internal
 */
export function moveLocked(bo: GpuBo, to: GpuPlacement): GpuJob | null {
  dmaResvAssertHeld(bo.resv);
  if (bo.placement === to) {
    return null;
  }
  if (bo.pinCount > 0) {
    throw new KernelError("EBUSY", `${bo.gpu.name}: BO is pinned, it cannot move`);
  }
  const gpu = bo.gpu;
  if (to === "vram") {
    makeRoom(gpu, bo.npages, bo);
  }
  const old = bo.backing;
  const next = allocBacking(gpu, bo.npages, bo.contiguous, bo.lowmem, to);
  notifyMove(bo);
  const deps = dmaResvGetFences(bo.resv, DMA_RESV_USAGE_BOOKKEEP);
  const job = gpuJobCreate(
    gpu,
    deps,
    {
      src: sgtRanges(old.sgt, 0, bo.size),
      dst: sgtRanges(next.sgt, 0, bo.size),
      after: () => freeBacking(gpu, old), // the ghost object dies with the copy
    },
    "move",
  );
  dmaResvReserveFences(bo.resv, 1);
  dmaResvAddFence(bo.resv, job.fence, DMA_RESV_USAGE_KERNEL);
  account(bo, old, -1);
  bo.backing = next;
  account(bo, next, 1);
  bo.moving = job;
  return job;
}

/**
 * Create a BO in VRAM (evicting least recently used BOs when VRAM is full) or in system memory.
 *
 * **Kernel:** `amdgpu_bo_create()` (`ttm_bo_init_reserved()` + placement).
 *
 * **Locking:** may sleep; takes other BOs' reservation locks with trylock to evict them.
 *
 * @throws {@link KernelError} `EINVAL` for a size that is not a positive multiple of the page
 * size, `ENOMEM` for a BO as large as its domain (`amdgpu_bo_validate_size()`: system memory for
 * the GTT placement, VRAM), when VRAM cannot be made free or no memory is left
 */
export async function gpuBoCreate(
  gpu: GpuDevice,
  size: number,
  opts: GpuBoCreateOptions = {},
): Promise<GpuBo> {
  might_sleep(gpu.kernel, "amdgpu_bo_create");
  size = sizeT(size, "amdgpu_bo_create", "size");
  if (size <= 0 || size % PAGE_SIZE !== 0) {
    throw new KernelError("EINVAL", `BO size ${size} is not a positive multiple of ${PAGE_SIZE}`);
  }
  const placement = opts.placement ?? "system";
  // amdgpu_bo_validate_size(): a BO as large as its domain (GTT: system memory; VRAM) is refused
  const domain = placement === "vram" ? gpu.vramPages * PAGE_SIZE : gpu.m.config.ramSize;
  if (size >= domain) {
    throw new KernelError(
      "ENOMEM",
      `BO size ${size} > total memory in domain ${placement} (${domain} bytes)`,
    );
  }
  const npages = size / PAGE_SIZE;
  if (placement === "vram") {
    makeRoom(gpu, npages, null);
  }
  const backing = allocBacking(gpu, npages, !!opts.contiguous, !!opts.lowmem, placement);
  const resv = dmaResvInit(gpu.kernel, `${gpu.name}.bo`);
  const bo = new GpuBo(gpu, size, !!opts.contiguous, !!opts.lowmem, resv, backing);
  account(bo, backing, 1);
  gpu.bos.add(bo);
  await gpu.kernel.sched.schedulePoint();
  return bo;
}

/**
 * Evict a BO to system memory. The copy runs later on the GPU's ring (see `gpuJobRun`): until
 * then its KERNEL fence is unsignaled, and importers must wait for it before touching the new
 * location.
 *
 * **Kernel:** `ttm_bo_evict()` / `amdgpu_bo_evict_vram()` for one BO.
 *
 * **Locking:** takes the BO's reservation lock (the caller must not hold it).
 *
 * @throws {@link KernelError} `EBUSY` when the BO is pinned, `ENOENT` when it was released
 */
export async function gpuBoEvict(bo: GpuBo): Promise<GpuJob | null> {
  gpuBoLookup(bo);
  await dmaResvLock(bo.resv, null);
  try {
    return moveLocked(bo, "system");
  } finally {
    dmaResvUnlock(bo.resv);
  }
}

/**
 * Move a BO into VRAM (evicting others when needed), e.g. before the GPU uses it heavily.
 *
 * **Kernel:** `amdgpu_bo_validate()` with a VRAM placement.
 *
 * **Locking:** takes the BO's reservation lock.
 *
 * @throws {@link KernelError} `EBUSY` (pinned), `ENOMEM` (VRAM full of pinned BOs), `ENOENT`
 * (released)
 */
export async function gpuBoMoveToVram(bo: GpuBo): Promise<GpuJob | null> {
  gpuBoLookup(bo);
  await dmaResvLock(bo.resv, null);
  try {
    return moveLocked(bo, "vram");
  } finally {
    dmaResvUnlock(bo.resv);
  }
}

/**
 * Wait until the BO's last move has run (running it on the ring if nobody has).
 *
 * **Kernel:** `ttm_bo_wait_ctx()` on the move fence.
 *
 * **Locking:** may sleep; may be called with the reservation lock held (the move job takes no
 * lock).
 */
export async function gpuBoWaitMove(bo: GpuBo): Promise<void> {
  if (bo.moving && !bo.moving.executed) {
    await gpuJobRun(bo.moving);
  }
}

/**
 * Pin a BO where it is, or in system memory when `systemOnly` (an importer that cannot reach VRAM
 * as a peer, or CPU access), waiting for the move to finish. A pinned BO is never evicted.
 *
 * **Kernel:** `amdgpu_bo_pin()` / `ttm_bo_pin()`.
 *
 * **Locking:** the reservation lock must be held (asserted).
 *
 * @throws {@link KernelError} `EBUSY` when it must move but is pinned elsewhere
 */
export async function gpuBoPin(bo: GpuBo, systemOnly: boolean): Promise<void> {
  dmaResvAssertHeld(bo.resv);
  if (systemOnly && bo.placement === "vram") {
    moveLocked(bo, "system");
  }
  await gpuBoWaitMove(bo);
  bo.pinCount++;
}

/**
 * Unpin a BO.
 *
 * **Kernel:** `amdgpu_bo_unpin()`.
 *
 * **Locking:** the reservation lock must be held (asserted). A WARN when it was not pinned.
 */
export function gpuBoUnpin(bo: GpuBo): void {
  dmaResvAssertHeld(bo.resv);
  if (bo.pinCount === 0) {
    bo.gpu.kernel.report({
      kind: "warn",
      code: "drivers/gpu/amdgpu_object.c:amdgpu_bo_unpin",
      summary: `${bo.gpu.name}: unpin of a BO that is not pinned`,
      details: {
        site: "drivers/gpu/amdgpu_object.c:amdgpu_bo_unpin",
        hint: "unpin only what was pinned: one amdgpu_bo_unpin per amdgpu_bo_pin (dma_buf_unpin per dma_buf_pin)",
      },
    });
    return;
  }
  bo.pinCount--;
}

/** Free the BO's memory: its pages, its VRAM, its reservation object. */
function gpuBoCleanup(bo: GpuBo): void {
  bo.freed = true;
  bo.gpu.bos.delete(bo);
  account(bo, bo.backing, -1);
  freeBacking(bo.gpu, bo.backing);
  dmaResvFini(bo.resv);
}

/** One fence of a deleted BO signaled; the last one frees the BO (the delayed-delete work). */
function gpuBoDelayedDelete(bo: GpuBo): void {
  const d = bo.deleted as NonNullable<GpuBo["deleted"]>;
  if (--d.left > 0) {
    return;
  }
  const list = bo.gpu.ddestroy;
  list.splice(list.indexOf(bo), 1);
  d.fences.forEach((f) => dmaFencePut(f));
  gpuBoCleanup(bo);
}

/**
 * The last reference to a BO went. An idle BO is freed at once; a BO whose reservation object
 * still has unsignaled fences (any usage: a pending move's KERNEL fence, another device's job on
 * its export, a fence imported from a sync_file) goes on the delayed-destroy list and is freed when
 * the last of those fences signals: until then its pages stay allocated and mapped for the GPU.
 *
 * **Kernel:** `ttm_bo_release()` (WARN_ON_ONCE on a pinned BO; `ttm_bo_individualize_resv()`
 * keeps the fences present at release; not idle → `bo->deleted`, queued on `ttm_bo_delayed_delete()`,
 * which waits for them and frees the resource) as in drivers/gpu/drm/ttm/ttm_bo.c of 6.12 (per-BO
 * delete work since "drm/ttm: use per BO cleanup workers", 9bff18d13473; a device-wide `ddestroy`
 * list before, same outcome). dmasim has no workqueue: the delete runs from the callback of the
 * last fence, taking no lock (nobody can reach a deleted BO's reservation object any more).
 */
function gpuBoRelease(bo: GpuBo): void {
  const gpu = bo.gpu;
  bo.released = true;
  WARN_ON_ONCE(
    gpu.kernel,
    bo.pinCount > 0,
    "drivers/gpu/drm/ttm/ttm_bo.c:ttm_bo_release",
    `${gpu.name}: BO released while pinned (pin_count ${bo.pinCount})`,
  );
  if (gpu.kernel.options.enabled(GPU_FREES_BUSY_BO)) {
    gpuBoCleanup(bo); // the bug: freed while its fences are pending
    return;
  }
  const fences = dmaResvGetFences(bo.resv, DMA_RESV_USAGE_BOOKKEEP);
  if (fences.length === 0) {
    gpuBoCleanup(bo);
    return;
  }
  const d = { step: gpu.kernel.step, fences, left: fences.length + 1 };
  bo.deleted = d;
  gpu.ddestroy.push(bo);
  for (const f of fences) {
    try {
      dmaFenceAddCallback(f, new DmaFenceCb(), () => gpuBoDelayedDelete(bo));
    } catch (e) {
      if (!isKernelError(e, "ENOENT")) {
        throw e;
      }
      d.left--; // signaled meanwhile
    }
  }
  gpuBoDelayedDelete(bo); // the extra count: frees it now if every fence signaled meanwhile
}

/**
 * The BO behind a handle, refused once its last reference went (the handle no longer exists).
 *
 * **Kernel:** `drm_gem_object_lookup()` failing on a closed handle.
 *
 * **Locking:** any context.
 *
 * @throws {@link KernelError} `ENOENT` when the BO was released
 */
export function gpuBoLookup(bo: GpuBo): GpuBo {
  if (bo.released) {
    throw new KernelError("ENOENT", `${bo.gpu.name}: the BO was released (no handle left)`);
  }
  return bo;
}

/** @internal A job takes a reference on a BO it uses. **Kernel:** `drm_gem_object_get()`. */
export function gpuBoGetForJob(bo: GpuBo): void {
  bo.refs++;
  bo.jobRefs++;
}

/** @internal A freed job drops its reference. */
export function gpuBoPutForJob(bo: GpuBo): void {
  bo.jobRefs--;
  gpuBoPut(bo);
}

/**
 * Drop a reference to a BO; the last one releases it: freed at once when idle, else when its
 * fences have signaled (see the delayed destroy above). A job holds a reference on every BO it
 * uses until it is freed, so dropping the handle of a BO a queued job still reads or writes is
 * safe, as in the kernel.
 *
 * **Kernel:** `amdgpu_bo_unref()` / `drm_gem_object_put()` → `ttm_bo_put()` → `ttm_bo_release()`.
 *
 * **Locking:** must not sleep (runs from dma-buf's release).
 */
export function gpuBoPut(bo: GpuBo): void {
  if (bo.refs <= 0) {
    bo.gpu.kernel.report({
      kind: "use-after-free",
      code: "gpu-bo-put",
      summary: `${bo.gpu.name}: a BO reference dropped after the BO was freed`,
      details: { hint: "drop each BO reference once: the last put freed the BO" },
    });
    return;
  }
  bo.refs--;
  if (bo.refs === 0) {
    gpuBoRelease(bo);
  }
}

/**
 * The DMA ranges through which the GPU itself reaches `[offset, offset + len)` of its BO.
 *
 * **Kernel:** the BO's GPU virtual address (`amdgpu_bo_gpu_offset()`).
 *
 * **Locking:** the reservation lock should be held (the ranges change when the BO moves).
 *
 * @throws {@link KernelError} `EINVAL` for a range outside the BO
 */
export function gpuBoRanges(bo: GpuBo, offset: number, len: number): GpuDmaRange[] {
  return sgtRanges(bo.backing.sgt, offset, len);
}
