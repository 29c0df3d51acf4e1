/**
 * Operations of layer 6 (@dmasim/drivers), named after the driver calls and ioctls a user makes:
 * the GPU (BOs, export/import, jobs, eviction), the camera (V4L2 capture and export), the display
 * (import, scan-out), the decoder (DMABUF capture queue) and udmabuf (memfd pages).
 *
 * @module
 */
import {
  DRIVERS_MODULE,
  F_SEAL_GROW,
  F_SEAL_SEAL,
  F_SEAL_SHRINK,
  F_SEAL_WRITE,
  MFD_ALLOW_SEALING,
  cameraCapture,
  cameraDqbuf,
  cameraExpbuf,
  cameraProbe,
  cameraQbuf,
  cameraRelease,
  cameraReqbufs,
  decoderDecode,
  decoderDqbuf,
  decoderImport,
  decoderProbe,
  decoderQbuf,
  decoderRelease,
  displayImport,
  driversCheckLeaks,
  displayProbe,
  displayRelease,
  displayScanout,
  gpuBoCreate,
  gpuBoEvict,
  gpuBoExport,
  gpuBoPut,
  gpuBoWaitIdle,
  gpuImport,
  gpuImportRelease,
  gpuJobRun,
  gpuProbe,
  gpuRingFlush,
  gpuSubmit,
  memfdAddSeals,
  memfdCreate,
  udmabufCreate,
  type Camera,
} from "@dmasim/drivers";
import { KernelError } from "@dmasim/kernel";
import { z } from "zod";
import { bytesSchema, hexSummary, toBytes } from "../bytes";
import { scenarioLayer } from "../layer";
import type { OpDef } from "../op";
import type { RegistryPart } from "../registry";
import { compact, fdResult, sizeSchema } from "./common";

const L = scenarioLayer("@dmasim/drivers");

/** A camera's buffer `index`, or EINVAL. */
function cameraBuffer(cam: Camera, index: number) {
  const buf = cam.buffers[index];
  if (!buf) {
    throw new KernelError("EINVAL", `${cam.name}: no buffer ${index}`);
  }
  return buf;
}

/** The GPU: BOs, PRIME export and import, command submission. **Kernel:** drivers/gpu/drm/amd. */
const GPU_OPS: readonly OpDef[] = [
  L.op({
    name: "gpu_probe",
    summary: "bind the GPU driver to a device (vram_pages: VRAM size, default 16)",
    args: { device: L.ref("device"), vram_pages: z.number().int().min(0).optional() },
    primary: "device",
    produces: "gpu",
    requiresAs: true,
    run: (ctx, { device, vram_pages }) => ({
      object: gpuProbe(ctx.kernel, device, compact({ vramPages: vram_pages })),
    }),
  }),
  L.op({
    name: "gpu_bo_create",
    summary:
      "create a BO in vram or system memory (contiguous: one block for scan-out; lowmem: ZONE_DMA)",
    args: {
      gpu: L.ref("gpu"),
      size: sizeSchema,
      placement: z.enum(["vram", "system"]).optional(),
      contiguous: z.boolean().optional(),
      lowmem: z.boolean().optional(),
    },
    produces: "gpu_bo",
    requiresAs: true,
    run: async (_ctx, { gpu, size, placement, contiguous, lowmem }) => {
      const bo = await gpuBoCreate(gpu, size, compact({ placement, contiguous, lowmem }));
      const pfn = bo.backing.pages[0]?.pfn ?? 0;
      return { object: bo, text: `${bo.placement}, pfn 0x${pfn.toString(16)}` };
    },
  }),
  L.op({
    name: "gpu_bo_export",
    summary: "export a BO as a dma-buf sharing its reservation object (PRIME export)",
    args: { bo: L.ref("gpu_bo") },
    primary: "bo",
    produces: "dma_buf",
    requiresAs: true,
    run: (_ctx, { bo }) => ({ object: gpuBoExport(bo) }),
  }),
  L.objectOp({
    name: "gpu_bo_put",
    summary: "drop the handle's reference to a BO (exports keep it alive)",
    arg: "bo",
    type: "gpu_bo",
    run: (bo) => gpuBoPut(bo),
  }),
  L.op({
    name: "gpu_bo_evict",
    summary:
      "evict a BO to system memory: move_notify now, the copy as a job behind a KERNEL fence (EBUSY if pinned)",
    args: { bo: L.ref("gpu_bo") },
    primary: "bo",
    produces: "gpu_job",
    run: async (_ctx, { bo }) => {
      const job = await gpuBoEvict(bo);
      return job ? { object: job, text: "copy queued" } : { text: "already in system memory" };
    },
  }),
  L.objectOp({
    name: "gpu_gem_wait_idle",
    summary: "wait until every job using a BO has finished (the jobs run meanwhile)",
    arg: "bo",
    type: "gpu_bo",
    run: (bo) => gpuBoWaitIdle(bo),
  }),
  L.op({
    name: "gpu_import",
    summary:
      "import a dma-buf into a GPU (a dynamic attachment with move_notify, peer-to-peer allowed)",
    args: { gpu: L.ref("gpu"), buf: L.ref("dma_buf") },
    produces: "gpu_import",
    requiresAs: true,
    run: async (_ctx, { gpu, buf }) => ({ object: await gpuImport(gpu, buf) }),
  }),
  L.objectOp({
    name: "gpu_import_release",
    summary: "release an import: unmap, detach, drop the buffer reference",
    arg: "import",
    type: "gpu_import",
    run: (imp) => gpuImportRelease(imp),
  }),
  L.op({
    name: "gpu_submit",
    summary:
      "submit a job (CS ioctl): write `data` to `dst`, read `len` bytes of `src`, or copy; its fence goes in as WRITE/READ",
    args: {
      gpu: L.ref("gpu"),
      src: L.refAny("gpu_bo", "gpu_import").optional(),
      src_offset: z.number().int().min(0).optional(),
      dst: L.refAny("gpu_bo", "gpu_import").optional(),
      dst_offset: z.number().int().min(0).optional(),
      data: bytesSchema.optional(),
      len: z.number().int().min(1).optional(),
    },
    produces: "gpu_job",
    run: async (_ctx, a) => {
      const job = await gpuSubmit(
        a.gpu,
        compact({
          src: a.src?.value,
          dst: a.dst?.value,
          srcOffset: a.src_offset,
          dstOffset: a.dst_offset,
          data: a.data === undefined ? undefined : toBytes(a.data),
          len: a.len,
        }),
      );
      return {
        object: job,
        text: `${job.kind} job, seqno ${job.fence.seqno}, ${job.deps.length} dependencies`,
      };
    },
  }),
  L.objectOp({
    name: "gpu_job_run",
    summary: "the GPU runs a job (after the jobs it depends on); value: what a read job read",
    arg: "job",
    type: "gpu_job",
    run: async (job) => {
      await gpuJobRun(job);
      return job.result ? { value: job.result, text: hexSummary(job.result) } : {};
    },
  }),
  L.objectOp({
    name: "gpu_ring_flush",
    summary: "the GPU runs every job submitted so far",
    arg: "gpu",
    type: "gpu",
    run: (gpu) => gpuRingFlush(gpu),
  }),
];

/** The V4L2 capture driver. **Kernel:** drivers/media (videobuf2). */
const CAMERA_OPS: readonly OpDef[] = [
  L.op({
    name: "camera_probe",
    summary:
      "bind the V4L2 capture driver to a device (contiguous: dma-contig buffers, else dma-sg)",
    args: { device: L.ref("device"), contiguous: z.boolean().optional() },
    primary: "device",
    produces: "camera",
    requiresAs: true,
    run: (ctx, { device, contiguous }) => ({
      object: cameraProbe(ctx.kernel, device, { contiguous: !!contiguous }),
    }),
  }),
  L.op({
    name: "camera_reqbufs",
    summary:
      "VIDIOC_REQBUFS: allocate `count` capture buffers of `size` bytes (indices 0..count-1)",
    args: { camera: L.ref("camera"), count: z.number().int().min(1), size: sizeSchema },
    run: (_ctx, { camera, count, size }) => {
      cameraReqbufs(camera, count, size);
    },
  }),
  L.op({
    name: "camera_expbuf",
    summary: "VIDIOC_EXPBUF: export buffer `index` as a dma-buf",
    args: { camera: L.ref("camera"), index: z.number().int().min(0) },
    produces: "dma_buf",
    requiresAs: true,
    run: (_ctx, { camera, index }) => ({
      object: cameraExpbuf(cameraBuffer(camera, index)).dmabuf,
    }),
  }),
  L.op({
    name: "camera_qbuf",
    summary: "VIDIOC_QBUF: queue buffer `index` for capture (synced for the camera)",
    args: { camera: L.ref("camera"), index: z.number().int().min(0) },
    run: (_ctx, { camera, index }) => cameraQbuf(cameraBuffer(camera, index)),
  }),
  L.op({
    name: "camera_capture",
    summary:
      "the camera writes a frame (`data`, repeated to fill) into the oldest queued buffer; value: its index",
    args: { camera: L.ref("camera"), data: bytesSchema },
    run: (_ctx, { camera, data }) => ({ value: cameraCapture(camera, toBytes(data)).index }),
  }),
  L.objectOp({
    name: "camera_dqbuf",
    summary:
      "VIDIOC_DQBUF: dequeue the oldest filled buffer (synced for the CPU); value: its index",
    arg: "camera",
    type: "camera",
    run: (cam) => ({ value: cameraDqbuf(cam).index }),
  }),
  L.objectOp({
    name: "camera_release",
    summary:
      "VIDIOC_REQBUFS with count 0: free the queue's buffers (exported ones live on with their dma-buf)",
    arg: "camera",
    type: "camera",
    run: (cam) => cameraRelease(cam),
  }),
];

/** The GEM-DMA display and the V4L2 decoder. **Kernel:** drivers/gpu/drm, drivers/media. */
const IMPORTER_OPS: readonly OpDef[] = [
  L.op({
    name: "display_probe",
    summary: "bind the GEM-DMA display driver to a device",
    args: { device: L.ref("device") },
    primary: "device",
    produces: "display",
    requiresAs: true,
    run: (ctx, { device }) => ({ object: displayProbe(ctx.kernel, device) }),
  }),
  L.op({
    name: "display_import",
    summary:
      "PRIME import a dma-buf as a framebuffer (EINVAL: not contiguous, or it would be bounced)",
    args: { display: L.ref("display"), buf: L.ref("dma_buf") },
    produces: "display_fb",
    requiresAs: true,
    run: async (_ctx, { display, buf }) => ({ object: await displayImport(display, buf) }),
  }),
  L.op({
    name: "display_scanout",
    summary: "commit a framebuffer (waits for its writers) and scan it out; value: the bytes read",
    args: {
      fb: L.ref("display_fb"),
      len: z.number().int().min(1).optional(),
      offset: z.number().int().min(0).optional(),
    },
    primary: "fb",
    run: async (_ctx, { fb, len = 16, offset = 0 }) => {
      const v = await displayScanout(fb, len, offset);
      return { value: v, text: hexSummary(v) };
    },
  }),
  L.objectOp({
    name: "display_release",
    summary: "release a framebuffer: unmap, detach, drop the buffer",
    arg: "fb",
    type: "display_fb",
    run: (fb) => displayRelease(fb),
  }),
  L.op({
    name: "decoder_probe",
    summary: "bind the V4L2 decoder driver to a device (sets a 32-bit DMA mask)",
    args: { device: L.ref("device") },
    primary: "device",
    produces: "decoder",
    requiresAs: true,
    run: (ctx, { device }) => ({ object: decoderProbe(ctx.kernel, device) }),
  }),
  L.op({
    name: "decoder_import",
    summary: "VIDIOC_QBUF (DMABUF) first use: attach a dma-buf as a capture buffer",
    args: { decoder: L.ref("decoder"), buf: L.ref("dma_buf") },
    produces: "decoder_buffer",
    requiresAs: true,
    run: async (_ctx, { decoder, buf }) => ({ object: await decoderImport(decoder, buf) }),
  }),
  L.objectOp({
    name: "decoder_qbuf",
    summary: "queue a capture buffer: map it (EFAULT not contiguous, EINVAL bounced)",
    arg: "buffer",
    type: "decoder_buffer",
    run: (b) => decoderQbuf(b),
  }),
  L.op({
    name: "decoder_decode",
    summary: "the decoder writes a decoded frame (`data`, repeated to fill) into a queued buffer",
    args: { buffer: L.ref("decoder_buffer"), data: bytesSchema },
    run: (_ctx, { buffer, data }) => decoderDecode(buffer, toBytes(data)),
  }),
  L.objectOp({
    name: "decoder_dqbuf",
    summary: "dequeue a capture buffer: unmap it",
    arg: "buffer",
    type: "decoder_buffer",
    run: (b) => decoderDqbuf(b),
  }),
  L.objectOp({
    name: "decoder_release",
    summary: "release a capture buffer: detach, drop the buffer reference",
    arg: "buffer",
    type: "decoder_buffer",
    run: (b) => decoderRelease(b),
  }),
];

const SEALS = { SEAL: F_SEAL_SEAL, SHRINK: F_SEAL_SHRINK, GROW: F_SEAL_GROW, WRITE: F_SEAL_WRITE };

/** memfd and udmabuf. **Kernel:** mm/memfd.c, drivers/dma-buf/udmabuf.c. */
const UDMABUF_OPS: readonly OpDef[] = [
  L.op({
    name: "memfd_create",
    summary:
      "memfd_create + ftruncate: a shmem file of `size` bytes (allow_sealing: MFD_ALLOW_SEALING)",
    args: {
      size: sizeSchema,
      process: z.string().optional(),
      allow_sealing: z.boolean().optional(),
    },
    produces: "fd",
    requiresAs: true,
    run: (ctx, a) => {
      const process = ctx.process(a.process);
      const flags = a.allow_sealing ? MFD_ALLOW_SEALING : 0;
      return fdResult(process, memfdCreate(process, ctx.as ?? "memfd", a.size, flags));
    },
  }),
  L.op({
    name: "memfd_add_seals",
    summary: "fcntl(F_ADD_SEALS): SEAL, SHRINK, GROW, WRITE",
    args: { fd: L.ref("fd"), seals: z.array(z.enum(["SEAL", "SHRINK", "GROW", "WRITE"])) },
    run: (_ctx, { fd, seals }) => {
      memfdAddSeals(
        fd.process,
        fd.fd,
        seals.reduce((n, s) => n | SEALS[s], 0),
      );
    },
  }),
  L.op({
    name: "udmabuf_create",
    summary: "UDMABUF_CREATE: a dma-buf fd over [offset, offset+size) of a sealed memfd",
    args: { memfd: L.ref("fd"), offset: sizeSchema.optional(), size: sizeSchema },
    produces: "fd",
    requiresAs: true,
    run: (_ctx, { memfd, offset = 0, size }) => {
      const { fd } = udmabufCreate(memfd.process, { memfd: memfd.fd, flags: 0, offset, size });
      return fdResult(memfd.process, fd);
    },
  }),
];

/** The driver operations. **Kernel:** drivers/gpu, drivers/media, drivers/dma-buf/udmabuf.c. */
export const DRIVERS_OPS: readonly OpDef[] = [
  ...GPU_OPS,
  ...CAMERA_OPS,
  ...IMPORTER_OPS,
  ...UDMABUF_OPS,
];

/** What layer 6 adds to scenarios; the drivers' leak check runs at the end of every run. **Kernel:** none. */
export const DRIVERS_PART: RegistryPart = {
  ops: DRIVERS_OPS,
  modules: [DRIVERS_MODULE],
  hooks: {
    async atEnd(ctx) {
      await driversCheckLeaks(ctx.kernel);
    },
  },
};
