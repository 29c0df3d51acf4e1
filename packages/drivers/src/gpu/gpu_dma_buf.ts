/**
 * The GPU's dma-buf side: a dynamic exporter (pin/unpin, map under the reservation lock, VRAM
 * handed to peer-to-peer importers as bus addresses, CPU access that migrates to system memory)
 * and a dynamic importer (move_notify invalidates the mapping, the next job re-maps it under the
 * lock).
 *
 * **Kernel:** a simplified amdgpu_dma_buf.c (`amdgpu_dma_buf_attach/pin/unpin/map/unmap`,
 * `amdgpu_dma_buf_begin_cpu_access`, `amdgpu_gem_prime_import`, `amdgpu_dma_buf_move_notify`)
 * with amdgpu_vram_mgr.c's `amdgpu_vram_mgr_alloc_sgt()` for VRAM.
 *
 * @module
 */
import { KernelError, O_RDWR, PAGE_SIZE, remapPfnRange, type Vma } from "@dmasim/kernel";
import { vmap, vunmap, type Device, type Page } from "@dmasim/hardware";
import {
  DMA_ATTR_SKIP_CPU_SYNC,
  DMA_BIDIRECTIONAL,
  dmaMapResource,
  dmaMapSgtable,
  dmaMappingError,
  dmaSyncSgtableForCpu,
  dmaSyncSgtableForDevice,
  dmaUnmapResource,
  dmaUnmapSgtable,
  sgAllocTable,
  sgAllocTableFromPages,
  sgFreeTable,
  type DmaDataDirection,
  type SgTable,
} from "@dmasim/dma-mapping";
import { dmaResvHeld, dmaResvLock, dmaResvUnlock } from "@dmasim/dma-resv";
import {
  dmaBufAttach,
  dmaBufDetach,
  dmaBufDynamicAttach,
  dmaBufExport,
  dmaBufMapAttachment,
  dmaBufPut,
  dmaBufUnmapAttachment,
  getDmaBuf,
  type DmaBuf,
  type DmaBufAttachOps,
  type DmaBufAttachment,
  type DmaBufOps,
  type IosysMap,
} from "@dmasim/dma-buf";
import { DRIVERS_ERAS, GPU_IMPORTER_IGNORES_MOVE_NOTIFY } from "../module";
import type { GpuDevice } from "./gpu_device";
import {
  gpuBoLookup,
  gpuBoPin,
  gpuBoPut,
  gpuBoUnpin,
  gpuBoWaitMove,
  moveLocked,
  sgtRanges,
  type GpuBo,
} from "./gpu_object";
import { gpuRetire, type GpuDmaRange } from "./gpu_job";

/** What the exporter keeps per attachment: its live tables and how each was made. */
interface AttachPriv {
  readonly maps: Map<SgTable, { dir: DmaDataDirection; resource: boolean }>;
}

const priv = (a: DmaBufAttachment): AttachPriv => a.priv as AttachPriv;
const boOf = (b: DmaBuf): GpuBo => b.priv as GpuBo;

/** Physically contiguous runs of a page list. */
function runs(pages: readonly Page[]): { pa: number; len: number }[] {
  const out: { pa: number; len: number }[] = [];
  for (const p of pages) {
    const last = out[out.length - 1];
    const pa = p.pfn * PAGE_SIZE;
    if (last && last.pa + last.len === pa) {
      last.len += PAGE_SIZE;
    } else {
      out.push({ pa, len: PAGE_SIZE });
    }
  }
  return out;
}

/** VRAM for a peer: bus addresses through dma_map_resource(), no pages in the table. */
function mapVramForPeer(bo: GpuBo, dev: Device, dir: DmaDataDirection): SgTable {
  const chunks = runs(bo.backing.pages);
  const sgt = sgAllocTable(bo.gpu.kernel, chunks.length);
  chunks.forEach((c, i) => {
    const addr = dmaMapResource(dev, c.pa, c.len, dir);
    if (dmaMappingError(dev, addr)) {
      for (const sg of sgt.sgl.slice(0, i)) {
        dmaUnmapResource(dev, sg.dmaAddress, sg.dmaLength, dir);
      }
      sgFreeTable(sgt);
      throw new KernelError("EFAULT", `${bo.gpu.name}: dma_map_resource of VRAM failed`);
    }
    const sg = sgt.sgl[i]!;
    sg.dmaAddress = addr;
    sg.dmaLength = c.len;
  });
  return sgt;
}

function gpuDmaBufOps(): DmaBufOps {
  return {
    attach: (_b, a) => {
      a.priv = { maps: new Map() } satisfies AttachPriv;
    },
    detach: () => undefined,
    pin: async (a) => {
      await gpuBoPin(boOf(a.dmabuf), !a.peer2peer);
    },
    unpin: (a) => {
      gpuBoUnpin(boOf(a.dmabuf));
    },
    mapDmaBuf: async (a, dir) => {
      const bo = boOf(a.dmabuf);
      if (bo.placement === "vram" && !a.peer2peer) {
        // amdgpu validates the BO into GTT for an importer that cannot reach VRAM
        moveLocked(bo, "system");
        await gpuBoWaitMove(bo);
      }
      const resource = bo.placement === "vram";
      let sgt: SgTable;
      if (resource) {
        sgt = mapVramForPeer(bo, a.dev, dir);
      } else {
        sgt = sgAllocTableFromPages(bo.gpu.kernel, bo.backing.pages, 0, bo.size);
        try {
          // as amdgpu: the exporter does the CPU-side maintenance itself (begin/end_cpu_access)
          dmaMapSgtable(a.dev, sgt, dir, DMA_ATTR_SKIP_CPU_SYNC);
        } catch (e) {
          sgFreeTable(sgt);
          throw e;
        }
      }
      priv(a).maps.set(sgt, { dir, resource });
      return sgt;
    },
    unmapDmaBuf: (a, sgt, dir) => {
      const m = priv(a).maps.get(sgt);
      if (m?.resource) {
        for (const sg of sgt.sgl) {
          dmaUnmapResource(a.dev, sg.dmaAddress, sg.dmaLength, dir);
        }
      } else {
        dmaUnmapSgtable(a.dev, sgt, dir, DMA_ATTR_SKIP_CPU_SYNC);
      }
      priv(a).maps.delete(sgt);
      sgFreeTable(sgt);
    },
    release: (b) => {
      const bo = boOf(b);
      bo.dmabuf = null;
      gpuBoPut(bo);
    },
    beginCpuAccess: async (b, dir) => cpuAccess(b, dir, true),
    endCpuAccess: async (b, dir) => cpuAccess(b, dir, false),
    mmap: async (b, vma: Vma) => {
      const bo = boOf(b);
      await dmaResvLock(bo.resv, null);
      try {
        await toSystem(bo);
        bo.backing.pages.slice(vma.pgoff, vma.pgoff + vma.pages).forEach((p, i) => {
          remapPfnRange(vma, vma.start + i * PAGE_SIZE, p.pfn, PAGE_SIZE);
        });
      } finally {
        dmaResvUnlock(bo.resv);
      }
    },
    vmap: async (b, map: IosysMap) => {
      const bo = boOf(b);
      const lock = !dmaResvHeld(bo.resv); // before 6.2 the core calls vmap without the lock
      if (lock) {
        await dmaResvLock(bo.resv, null);
      }
      try {
        await gpuBoPin(bo, true);
        map.vaddr = vmap(bo.gpu.m, bo.backing.pages);
      } finally {
        if (lock) {
          dmaResvUnlock(bo.resv);
        }
      }
    },
    vunmap: async (b, map: IosysMap) => {
      const bo = boOf(b);
      vunmap(bo.gpu.m, map.vaddr as number);
      const lock = !dmaResvHeld(bo.resv);
      if (lock) {
        await dmaResvLock(bo.resv, null);
      }
      gpuBoUnpin(bo);
      if (lock) {
        dmaResvUnlock(bo.resv);
      }
    },
  };
}

/** Move to system memory for the CPU (lock held) and wait for the copy. */
async function toSystem(bo: GpuBo): Promise<void> {
  if (bo.placement === "vram" && bo.pinCount === 0) {
    moveLocked(bo, "system");
  }
  await gpuBoWaitMove(bo);
}

/**
 * begin/end_cpu_access: move a VRAM BO to system memory (as amdgpu does), then hand the CPU's view
 * over: the GPU's own mapping with the CPU's direction, and every attachment's system-memory table
 * with the direction it was mapped with (what that device may have written or will read).
 */
async function cpuAccess(b: DmaBuf, dir: DmaDataDirection, begin: boolean): Promise<void> {
  const bo = boOf(b);
  await dmaResvLock(bo.resv, null);
  try {
    if (begin) {
      await toSystem(bo);
    }
    const sync = begin ? dmaSyncSgtableForCpu : dmaSyncSgtableForDevice;
    sync(bo.gpu.dev, bo.backing.sgt, dir);
    for (const a of b.attachments) {
      for (const [sgt, m] of priv(a).maps) {
        if (!m.resource) {
          sync(a.dev, sgt, m.dir);
        }
      }
    }
  } finally {
    dmaResvUnlock(bo.resv);
  }
}

/**
 * Export a BO as a dma-buf that shares the BO's reservation object (implicit sync with every job).
 * The dma-buf holds a reference to the BO.
 *
 * **Kernel:** `amdgpu_gem_prime_export()` (`drm_gem_prime_export()` with amdgpu's dma_buf_ops).
 *
 * **Locking:** process context; must not hold the BO's reservation lock.
 *
 * @throws {@link KernelError} `EBUSY` when the BO is already exported (dmasim keeps one export per
 * BO), `ENOENT` when it was released
 */
export function gpuBoExport(bo: GpuBo, flags: number = O_RDWR): DmaBuf {
  gpuBoLookup(bo);
  if (bo.dmabuf) {
    throw new KernelError("EBUSY", `${bo.gpu.name}: BO already exported`);
  }
  const dmabuf = dmaBufExport(bo.gpu.kernel, {
    ops: gpuDmaBufOps(),
    size: bo.size,
    priv: bo,
    expName: "amdgpu",
    flags,
    resv: bo.resv,
  });
  bo.refs++;
  bo.dmabuf = dmabuf;
  return dmabuf;
}

/**
 * A dma-buf imported by the GPU: a dynamic attachment and the mapping the GPU's jobs use.
 *
 * **Kernel:** the imported GEM object of `amdgpu_gem_prime_import()` with its attachment.
 *
 * **Locking:** `sgt` and `invalid` change under the buffer's reservation lock.
 */
export class GpuImport {
  /** References: the importer's handle and each job that uses the import. */
  refs = 1;
  /** Of `refs`, those held by jobs (submitted and not freed yet). */
  jobRefs = 0;
  /** The importer dropped its handle ({@link gpuImportRelease}). */
  handleReleased = false;
  /** The current mapping (null before the first job). */
  sgt: SgTable | null = null;
  /** The exporter moved the buffer since `sgt` was made. */
  invalid = false;
  /** Move notifications received. */
  notified = 0;
  attach: DmaBufAttachment | null = null;
  readonly dir: DmaDataDirection = DMA_BIDIRECTIONAL;

  constructor(
    readonly gpu: GpuDevice,
    readonly dmabuf: DmaBuf,
  ) {}
}

function importerOps(imp: GpuImport): DmaBufAttachOps {
  const onMove = (): void => {
    imp.notified++;
    if (!imp.gpu.kernel.options.enabled(GPU_IMPORTER_IGNORES_MOVE_NOTIFY)) {
      imp.invalid = true; // amdgpu invalidates the VM mappings; the next job re-validates
    }
  };
  return DRIVERS_ERAS.invalidateMappings(imp.gpu.kernel)
    ? { allowPeer2peer: true, invalidateMappings: onMove }
    : { allowPeer2peer: true, moveNotify: onMove };
}

/**
 * Import a dma-buf for the GPU: a dynamic attachment (peer-to-peer allowed) from 5.6, a static one
 * before. Takes a reference to the buffer.
 *
 * **Kernel:** `amdgpu_gem_prime_import()` (`dma_buf_dynamic_attach()` with
 * `amdgpu_dma_buf_attach_ops`).
 *
 * **Locking:** may sleep; must not hold the buffer's reservation lock.
 *
 * @throws {@link KernelError} the attach errors of `dmaBufDynamicAttach`
 */
export async function gpuImport(gpu: GpuDevice, dmabuf: DmaBuf): Promise<GpuImport> {
  const imp = new GpuImport(gpu, dmabuf);
  getDmaBuf(dmabuf);
  try {
    imp.attach = DRIVERS_ERAS.dynamicImporter(gpu.kernel)
      ? await dmaBufDynamicAttach(dmabuf, gpu.dev, importerOps(imp), imp)
      : await dmaBufAttach(dmabuf, gpu.dev);
  } catch (e) {
    dmaBufPut(dmabuf);
    throw e;
  }
  return imp;
}

/**
 * Make the import's mapping current: drop a mapping the exporter invalidated and map again. The
 * caller holds the reservation lock (or, with `gpu-importer-maps-unlocked`, does not: H13).
 *
 * **Kernel:** `amdgpu_bo_validate()` of an imported BO (`amdgpu_ttm_backend_bind()` →
 * `dma_buf_map_attachment()`).
 *
 * **Locking:** the buffer's reservation lock (asserted by dma-buf from 6.2).
 *
 * @throws {@link KernelError} the map errors of `dmaBufMapAttachment`
 */
export async function gpuImportValidate(imp: GpuImport): Promise<void> {
  const attach = imp.attach as DmaBufAttachment;
  if (imp.sgt && !imp.invalid) {
    return;
  }
  if (imp.sgt) {
    await dmaBufUnmapAttachment(attach, imp.sgt, imp.dir);
    imp.sgt = null;
  }
  imp.sgt = await dmaBufMapAttachment(attach, imp.dir);
  imp.invalid = false;
}

/**
 * The DMA ranges of `[offset, offset + len)` of an imported buffer, from its current mapping.
 *
 * **Kernel:** the GPU page-table entries of the imported BO.
 *
 * **Locking:** after {@link gpuImportValidate}, under the reservation lock.
 *
 * @throws {@link KernelError} `EINVAL` when not mapped or outside the buffer
 */
export function gpuImportRanges(imp: GpuImport, offset: number, len: number): GpuDmaRange[] {
  if (!imp.sgt) {
    throw new KernelError("EINVAL", `${imp.gpu.name}: imported buffer is not mapped`);
  }
  return sgtRanges(imp.sgt, offset, len);
}

/** The last reference went: unmap under the lock, detach, drop the buffer reference. */
async function gpuImportFree(imp: GpuImport): Promise<void> {
  const attach = imp.attach as DmaBufAttachment;
  if (imp.sgt) {
    await dmaResvLock(imp.dmabuf.resv, null);
    await dmaBufUnmapAttachment(attach, imp.sgt, imp.dir);
    dmaResvUnlock(imp.dmabuf.resv);
    imp.sgt = null;
  }
  await dmaBufDetach(imp.dmabuf, attach);
  dmaBufPut(imp.dmabuf);
}

async function gpuImportPut(imp: GpuImport): Promise<void> {
  imp.refs--;
  if (imp.refs === 0) {
    await gpuImportFree(imp);
  }
}

/** @internal A job takes a reference on an import it uses. **Kernel:** `drm_gem_object_get()`. */
export function gpuImportGetForJob(imp: GpuImport): void {
  imp.refs++;
  imp.jobRefs++;
}

/** @internal A freed job drops its reference (the last one unmaps and detaches). */
export async function gpuImportPutForJob(imp: GpuImport): Promise<void> {
  imp.jobRefs--;
  await gpuImportPut(imp);
}

/**
 * Release an import: drop the importer's handle. The last reference unmaps (under the lock),
 * detaches and drops the buffer reference; while a job that uses the import has not been freed,
 * that job's reference keeps the mapping, the attachment and the buffer. Releasing twice is a
 * `use-after-free` finding (code `gpu-import-put`).
 *
 * **Kernel:** `amdgpu_bo_unref()` of the imported BO → `drm_prime_gem_destroy()` (TTM's release
 * of an imported BO is always delayed until its fences signalled: `ttm_bo_release()`).
 *
 * **Locking:** may sleep; must not hold the reservation lock.
 */
export async function gpuImportRelease(imp: GpuImport): Promise<void> {
  if (imp.handleReleased) {
    imp.gpu.kernel.report({
      kind: "use-after-free",
      code: "gpu-import-put",
      summary: `${imp.gpu.name}: the import of dma-buf ${imp.dmabuf.ino} released twice`,
      details: {
        device: imp.gpu.name,
        ino: imp.dmabuf.ino,
        hint: "drop each GEM handle of an import once (gpu_import_release once per import)",
      },
    });
    return;
  }
  imp.handleReleased = true;
  await gpuRetire(imp.gpu);
  await gpuImportPut(imp);
}
