/**
 * Capture buffers of a non-coherent camera and their dma-buf export: scattered pages (the
 * videobuf2-dma-sg allocator) or one contiguous block (the videobuf2-dma-contig allocator with
 * non-coherent memory), mapped once for the camera, synced for the device when queued and for the
 * CPU when dequeued or bracketed with begin/end_cpu_access.
 *
 * **Kernel:** a simplified drivers/media/common/videobuf2/videobuf2-dma-sg.c (`vb2_dma_sg_alloc`,
 * `vb2_dma_sg_prepare/finish`, `vb2_dma_sg_get_dmabuf` and `vb2_dma_sg_dmabuf_ops`), with the
 * contiguous allocation of videobuf2-dma-contig.c.
 *
 * @module
 */
import { KernelError, O_RDWR, PAGE_SIZE, remapPfnRange, type Vma } from "@dmasim/kernel";
import {
  GFP_DMA32,
  GFP_KERNEL,
  __GFP_ZERO,
  allocPages,
  freePages,
  pfnToPage,
  vmap,
  vunmap,
  type Page,
} from "@dmasim/hardware";
import {
  DMA_ATTR_SKIP_CPU_SYNC,
  DMA_FROM_DEVICE,
  dmaMapSgtable,
  dmaSyncSgtableForCpu,
  dmaSyncSgtableForDevice,
  dmaSyncSingleForCpu,
  dmaUnmapSgtable,
  sgAllocTableFromPages,
  sgDmaAddress,
  sgFreeTable,
  type DmaDataDirection,
  type SgTable,
} from "@dmasim/dma-mapping";
import { dmaBufExport, type DmaBuf, type DmaBufOps, type IosysMap } from "@dmasim/dma-buf";
import { CAMERA_SYNCS_FIRST_PAGE_ONLY, CAMERA_SYNCS_FOR_DEVICE_AT_DQBUF } from "../module";
import type { Camera } from "./camera";

/** Where a buffer is in the V4L2 queue. */
export type CameraBufferState = "dequeued" | "queued" | "done";

/**
 * One capture buffer. **Kernel:** `struct vb2_dma_sg_buf`.
 *
 * **Locking:** the queue's lock (the simulator runs one thread at a time).
 */
export class CameraBuffer {
  state: CameraBufferState = "dequeued";
  /** References: the queue and each export. */
  refs = 1;
  /** Frames captured into it. */
  sequence = -1;

  constructor(
    readonly cam: Camera,
    readonly index: number,
    readonly size: number,
    readonly blocks: readonly Page[],
    readonly order: number,
    readonly pages: readonly Page[],
    /** The camera's own mapping, FROM_DEVICE. */
    readonly sgt: SgTable,
  ) {}

  /** The direction of the camera's mapping. **Kernel:** `buf->dma_dir`. */
  get dmaDir(): DmaDataDirection {
    return DMA_FROM_DEVICE;
  }
}

/**
 * The queue's `gfp_flags`: a 32-bit camera allocates below 4 GiB so that its buffers are never
 * bounced (a bounced capture buffer is copied back by the CPU at DQBUF, leaving dirty lines that a
 * non-coherent importer would not see).
 */
function queueGfp(cam: Camera): number {
  return cam.dev.dmaMaskBits <= 32 ? GFP_DMA32 : 0;
}

function orderFor(npages: number): number {
  let order = 0;
  while (1 << order < npages) {
    order++;
  }
  return order;
}

/**
 * Allocate a capture buffer and map it for the camera (FROM_DEVICE, no CPU sync: prepare does it).
 *
 * **Kernel:** `vb2_dma_sg_alloc()` (`vb2_dc_alloc()` for the contiguous variant).
 *
 * **Locking:** may sleep (GFP_KERNEL).
 *
 * @throws {@link KernelError} `EINVAL` for a bad size, `ENOMEM`, the mapping's errors
 */
export function vb2Alloc(cam: Camera, index: number, size: number): CameraBuffer {
  if (!Number.isInteger(size) || size <= 0 || size % PAGE_SIZE !== 0) {
    throw new KernelError(
      "EINVAL",
      `buffer size ${size} is not a positive multiple of ${PAGE_SIZE}`,
    );
  }
  const npages = size / PAGE_SIZE;
  const order = cam.contiguous ? orderFor(npages) : 0;
  const blocks: Page[] = [];
  for (let i = 0; i < (cam.contiguous ? 1 : npages); i++) {
    const p = allocPages(cam.m, order, GFP_KERNEL | __GFP_ZERO | queueGfp(cam));
    if (!p) {
      blocks.forEach((b) => freePages(cam.m, b, order));
      throw new KernelError("ENOMEM", `${cam.name}: no memory for a ${size}-byte buffer`);
    }
    blocks.push(p);
  }
  const pages = cam.contiguous
    ? Array.from({ length: npages }, (_, i) => pfnToPage(cam.m, (blocks[0] as Page).pfn + i))
    : blocks;
  const sgt = sgAllocTableFromPages(cam.kernel, pages, 0, size);
  dmaMapSgtable(cam.dev, sgt, DMA_FROM_DEVICE, DMA_ATTR_SKIP_CPU_SYNC);
  return new CameraBuffer(cam, index, size, blocks, order, pages, sgt);
}

/**
 * Drop a reference; the last one unmaps and frees the buffer.
 *
 * **Kernel:** `vb2_dma_sg_put()`.
 *
 * **Locking:** must not sleep.
 */
export function vb2Put(buf: CameraBuffer): void {
  buf.refs--;
  if (buf.refs > 0) {
    return;
  }
  dmaUnmapSgtable(buf.cam.dev, buf.sgt, DMA_FROM_DEVICE, DMA_ATTR_SKIP_CPU_SYNC);
  sgFreeTable(buf.sgt);
  buf.blocks.forEach((b) => freePages(buf.cam.m, b, buf.order));
}

/**
 * Hand the buffer to the camera before it is queued: the CPU's dirty lines are written back.
 *
 * **Kernel:** `vb2_dma_sg_prepare()` (`dma_sync_sgtable_for_device()`).
 *
 * **Locking:** any context.
 */
export function vb2Prepare(buf: CameraBuffer): void {
  dmaSyncSgtableForDevice(buf.cam.dev, buf.sgt, buf.dmaDir);
}

/**
 * Hand the buffer back to the CPU after the camera wrote it: the CPU's view of the whole buffer
 * is invalidated. The options `camera-syncs-first-page-only` and
 * `camera-syncs-for-device-at-dqbuf` reintroduce the two classic mistakes.
 *
 * **Kernel:** `vb2_dma_sg_finish()` (`dma_sync_sgtable_for_cpu()`).
 *
 * **Locking:** any context.
 */
export function vb2Finish(buf: CameraBuffer): void {
  const k = buf.cam.kernel;
  const dev = buf.cam.dev;
  if (k.options.enabled(CAMERA_SYNCS_FOR_DEVICE_AT_DQBUF)) {
    dmaSyncSgtableForDevice(dev, buf.sgt, buf.dmaDir); // the bug: a clean, not an invalidate
  } else if (k.options.enabled(CAMERA_SYNCS_FIRST_PAGE_ONLY)) {
    const sg = buf.sgt.sgl[0]!;
    dmaSyncSingleForCpu(dev, sgDmaAddress(sg), PAGE_SIZE, buf.dmaDir); // the bug: one page
  } else {
    dmaSyncSgtableForCpu(dev, buf.sgt, buf.dmaDir);
  }
}

interface ExpAttach {
  sgt: SgTable | null;
}

function dmabufOps(buf: CameraBuffer): DmaBufOps {
  return {
    attach: (_b, a) => {
      a.priv = { sgt: null } satisfies ExpAttach;
    },
    mapDmaBuf: (a, dir) => {
      const sgt = sgAllocTableFromPages(buf.cam.kernel, buf.pages, 0, buf.size);
      try {
        dmaMapSgtable(a.dev, sgt, dir, DMA_ATTR_SKIP_CPU_SYNC); // CPU syncs are the queue's job
      } catch (e) {
        sgFreeTable(sgt);
        throw e;
      }
      (a.priv as ExpAttach).sgt = sgt;
      return sgt;
    },
    unmapDmaBuf: (a, sgt, dir) => {
      dmaUnmapSgtable(a.dev, sgt, dir, DMA_ATTR_SKIP_CPU_SYNC);
      sgFreeTable(sgt);
      (a.priv as ExpAttach).sgt = null;
    },
    release: () => vb2Put(buf),
    beginCpuAccess: () => vb2Finish(buf),
    endCpuAccess: () => vb2Prepare(buf),
    mmap: (_b, vma: Vma) => {
      buf.pages.slice(vma.pgoff, vma.pgoff + vma.pages).forEach((p, i) => {
        remapPfnRange(vma, vma.start + i * PAGE_SIZE, p.pfn, PAGE_SIZE);
      });
    },
    vmap: (_b, map: IosysMap) => {
      map.vaddr = vmap(buf.cam.m, buf.pages);
    },
    vunmap: (_b, map: IosysMap) => {
      vunmap(buf.cam.m, map.vaddr as number);
    },
  };
}

/**
 * Export a capture buffer as a dma-buf (a static exporter). The dma-buf holds a buffer reference.
 *
 * **Kernel:** `vb2_dma_sg_get_dmabuf()` (VIDIOC_EXPBUF).
 *
 * **Locking:** process context.
 */
export function vb2GetDmabuf(buf: CameraBuffer, flags: number = O_RDWR): DmaBuf {
  const dmabuf = dmaBufExport(buf.cam.kernel, {
    ops: dmabufOps(buf),
    size: buf.size,
    priv: buf,
    expName: "videobuf2_dma_sg",
    flags,
  });
  buf.refs++;
  return dmabuf;
}
