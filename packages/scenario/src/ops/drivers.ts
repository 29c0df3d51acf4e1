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
  type Decoder,
  type DecoderBuffer,
  type Display,
  type DisplayFb,
  type GpuBo,
  type GpuDevice,
  type GpuImport,
  type GpuJob,
  type GpuTarget,
} from "@dmasim/drivers";
import type { DmaBuf } from "@dmasim/dma-buf";
import type { Device } from "@dmasim/hardware";
import { KernelError } from "@dmasim/kernel";
import { z } from "zod";
import { bytesSchema, hexSummary, toBytes } from "../bytes";
import { defineOp, type OpContext, type OpDef } from "../op";
import type { RegistryPart } from "../registry";
import type { FdObject } from "./dma-resv";
import { sizeSchema } from "./hardware";

const LAYER = "@dmasim/drivers";
const get = <T>(ctx: OpContext, name: string, type: string): T => ctx.objects.get<T>(name, type);
const dev = (ctx: OpContext, name: string): Device => get<Device>(ctx, name, "device");
const target = (ctx: OpContext, name: string): GpuTarget =>
  ctx.objects.getAny(name, ["gpu_bo", "gpu_import"]).value as GpuTarget;

/** The driver operations. **Kernel:** drivers/gpu, drivers/media, drivers/dma-buf/udmabuf.c. */
export const DRIVERS_OPS = [
  defineOp({
    name: "gpu_probe",
    layer: LAYER,
    summary: "bind the GPU driver to a device (vram_pages: VRAM size, default 16)",
    args: z.object({ device: z.string(), vram_pages: z.number().int().min(0).optional() }).strict(),
    refs: { device: { type: "device" } },
    primary: "device",
    produces: "gpu",
    requiresAs: true,
    run: (ctx, a) => ({
      object: gpuProbe(ctx.kernel, dev(ctx, a.device), {
        ...(a.vram_pages !== undefined ? { vramPages: a.vram_pages } : {}),
      }),
    }),
  }),
  defineOp({
    name: "gpu_bo_create",
    layer: LAYER,
    summary:
      "create a BO in vram or system memory (contiguous: one block for scan-out; lowmem: ZONE_DMA)",
    args: z
      .object({
        gpu: z.string(),
        size: sizeSchema,
        placement: z.enum(["vram", "system"]).optional(),
        contiguous: z.boolean().optional(),
        lowmem: z.boolean().optional(),
      })
      .strict(),
    refs: { gpu: { type: "gpu" } },
    produces: "gpu_bo",
    requiresAs: true,
    run: async (ctx, a) => {
      const bo = await gpuBoCreate(get<GpuDevice>(ctx, a.gpu, "gpu"), a.size, {
        ...(a.placement ? { placement: a.placement } : {}),
        ...(a.contiguous !== undefined ? { contiguous: a.contiguous } : {}),
        ...(a.lowmem !== undefined ? { lowmem: a.lowmem } : {}),
      });
      return {
        object: bo,
        text: `${bo.placement}, pfn 0x${bo.backing.pages[0]!.pfn.toString(16)}`,
      };
    },
  }),
  defineOp({
    name: "gpu_bo_export",
    layer: LAYER,
    summary: "export a BO as a dma-buf sharing its reservation object (PRIME export)",
    args: z.object({ bo: z.string() }).strict(),
    refs: { bo: { type: "gpu_bo" } },
    primary: "bo",
    produces: "dma_buf",
    requiresAs: true,
    run: (ctx, a) => ({ object: gpuBoExport(get<GpuBo>(ctx, a.bo, "gpu_bo")) }),
  }),
  defineOp({
    name: "gpu_bo_put",
    layer: LAYER,
    summary: "drop the handle's reference to a BO (exports keep it alive)",
    args: z.object({ bo: z.string() }).strict(),
    refs: { bo: { type: "gpu_bo" } },
    primary: "bo",
    run: (ctx, a) => {
      gpuBoPut(get<GpuBo>(ctx, a.bo, "gpu_bo"));
    },
  }),
  defineOp({
    name: "gpu_bo_evict",
    layer: LAYER,
    summary:
      "evict a BO to system memory: move_notify now, the copy as a job behind a KERNEL fence (EBUSY if pinned)",
    args: z.object({ bo: z.string() }).strict(),
    refs: { bo: { type: "gpu_bo" } },
    primary: "bo",
    produces: "gpu_job",
    run: async (ctx, a) => {
      const job = await gpuBoEvict(get<GpuBo>(ctx, a.bo, "gpu_bo"));
      return {
        ...(job ? { object: job } : {}),
        text: job ? "copy queued" : "already in system memory",
      };
    },
  }),
  defineOp({
    name: "gpu_gem_wait_idle",
    layer: LAYER,
    summary: "wait until every job using a BO has finished (the jobs run meanwhile)",
    args: z.object({ bo: z.string() }).strict(),
    refs: { bo: { type: "gpu_bo" } },
    primary: "bo",
    run: async (ctx, a) => {
      await gpuBoWaitIdle(get<GpuBo>(ctx, a.bo, "gpu_bo"));
    },
  }),
  defineOp({
    name: "gpu_import",
    layer: LAYER,
    summary:
      "import a dma-buf into a GPU (a dynamic attachment with move_notify, peer-to-peer allowed)",
    args: z.object({ gpu: z.string(), buf: z.string() }).strict(),
    refs: { gpu: { type: "gpu" }, buf: { type: "dma_buf" } },
    produces: "gpu_import",
    requiresAs: true,
    run: async (ctx, a) => ({
      object: await gpuImport(
        get<GpuDevice>(ctx, a.gpu, "gpu"),
        get<DmaBuf>(ctx, a.buf, "dma_buf"),
      ),
    }),
  }),
  defineOp({
    name: "gpu_import_release",
    layer: LAYER,
    summary: "release an import: unmap, detach, drop the buffer reference",
    args: z.object({ import: z.string() }).strict(),
    refs: { import: { type: "gpu_import" } },
    primary: "import",
    run: async (ctx, a) => {
      await gpuImportRelease(get<GpuImport>(ctx, a.import, "gpu_import"));
    },
  }),
  defineOp({
    name: "gpu_submit",
    layer: LAYER,
    summary:
      "submit a job (CS ioctl): write `data` to `dst`, read `len` bytes of `src`, or copy; its fence goes in as WRITE/READ",
    args: z
      .object({
        gpu: z.string(),
        src: z.string().optional(),
        src_offset: z.number().int().min(0).optional(),
        dst: z.string().optional(),
        dst_offset: z.number().int().min(0).optional(),
        data: bytesSchema.optional(),
        len: z.number().int().min(1).optional(),
      })
      .strict(),
    refs: {
      gpu: { type: "gpu" },
      src: { type: ["gpu_bo", "gpu_import"], optional: true },
      dst: { type: ["gpu_bo", "gpu_import"], optional: true },
    },
    produces: "gpu_job",
    run: async (ctx, a) => {
      const job = await gpuSubmit(get<GpuDevice>(ctx, a.gpu, "gpu"), {
        ...(a.src !== undefined ? { src: target(ctx, a.src) } : {}),
        ...(a.dst !== undefined ? { dst: target(ctx, a.dst) } : {}),
        ...(a.src_offset !== undefined ? { srcOffset: a.src_offset } : {}),
        ...(a.dst_offset !== undefined ? { dstOffset: a.dst_offset } : {}),
        ...(a.data !== undefined ? { data: toBytes(a.data) } : {}),
        ...(a.len !== undefined ? { len: a.len } : {}),
      });
      return {
        object: job,
        text: `${job.kind} job, seqno ${job.fence.seqno}, ${job.deps.length} dependencies`,
      };
    },
  }),
  defineOp({
    name: "gpu_job_run",
    layer: LAYER,
    summary: "the GPU runs a job (after the jobs it depends on); value: what a read job read",
    args: z.object({ job: z.string() }).strict(),
    refs: { job: { type: "gpu_job" } },
    primary: "job",
    run: async (ctx, a) => {
      const job = get<GpuJob>(ctx, a.job, "gpu_job");
      await gpuJobRun(job);
      return job.result ? { value: job.result, text: hexSummary(job.result) } : {};
    },
  }),
  defineOp({
    name: "gpu_ring_flush",
    layer: LAYER,
    summary: "the GPU runs every job submitted so far",
    args: z.object({ gpu: z.string() }).strict(),
    refs: { gpu: { type: "gpu" } },
    primary: "gpu",
    run: async (ctx, a) => {
      await gpuRingFlush(get<GpuDevice>(ctx, a.gpu, "gpu"));
    },
  }),
  defineOp({
    name: "camera_probe",
    layer: LAYER,
    summary:
      "bind the V4L2 capture driver to a device (contiguous: dma-contig buffers, else dma-sg)",
    args: z.object({ device: z.string(), contiguous: z.boolean().optional() }).strict(),
    refs: { device: { type: "device" } },
    primary: "device",
    produces: "camera",
    requiresAs: true,
    run: (ctx, a) => ({
      object: cameraProbe(ctx.kernel, dev(ctx, a.device), { contiguous: !!a.contiguous }),
    }),
  }),
  defineOp({
    name: "camera_reqbufs",
    layer: LAYER,
    summary:
      "VIDIOC_REQBUFS: allocate `count` capture buffers of `size` bytes (indices 0..count-1)",
    args: z
      .object({ camera: z.string(), count: z.number().int().min(1), size: sizeSchema })
      .strict(),
    refs: { camera: { type: "camera" } },
    run: (ctx, a) => {
      cameraReqbufs(get<Camera>(ctx, a.camera, "camera"), a.count, a.size);
    },
  }),
  defineOp({
    name: "camera_expbuf",
    layer: LAYER,
    summary: "VIDIOC_EXPBUF: export buffer `index` as a dma-buf",
    args: z.object({ camera: z.string(), index: z.number().int().min(0) }).strict(),
    refs: { camera: { type: "camera" } },
    produces: "dma_buf",
    requiresAs: true,
    run: (ctx, a) => {
      const cam = get<Camera>(ctx, a.camera, "camera");
      const buf = cam.buffers[a.index];
      if (!buf) {
        throw new KernelError("EINVAL", `${cam.name}: no buffer ${a.index}`);
      }
      return { object: cameraExpbuf(buf).dmabuf };
    },
  }),
  defineOp({
    name: "camera_qbuf",
    layer: LAYER,
    summary: "VIDIOC_QBUF: queue buffer `index` for capture (synced for the camera)",
    args: z.object({ camera: z.string(), index: z.number().int().min(0) }).strict(),
    refs: { camera: { type: "camera" } },
    run: (ctx, a) => {
      const cam = get<Camera>(ctx, a.camera, "camera");
      const buf = cam.buffers[a.index];
      if (!buf) {
        throw new KernelError("EINVAL", `${cam.name}: no buffer ${a.index}`);
      }
      cameraQbuf(buf);
    },
  }),
  defineOp({
    name: "camera_capture",
    layer: LAYER,
    summary:
      "the camera writes a frame (`data`, repeated to fill) into the oldest queued buffer; value: its index",
    args: z.object({ camera: z.string(), data: bytesSchema }).strict(),
    refs: { camera: { type: "camera" } },
    run: (ctx, a) => ({
      value: cameraCapture(get<Camera>(ctx, a.camera, "camera"), toBytes(a.data)).index,
    }),
  }),
  defineOp({
    name: "camera_dqbuf",
    layer: LAYER,
    summary:
      "VIDIOC_DQBUF: dequeue the oldest filled buffer (synced for the CPU); value: its index",
    args: z.object({ camera: z.string() }).strict(),
    refs: { camera: { type: "camera" } },
    primary: "camera",
    run: (ctx, a) => ({ value: cameraDqbuf(get<Camera>(ctx, a.camera, "camera")).index }),
  }),
  defineOp({
    name: "camera_release",
    layer: LAYER,
    summary:
      "VIDIOC_REQBUFS with count 0: free the queue's buffers (exported ones live on with their dma-buf)",
    args: z.object({ camera: z.string() }).strict(),
    refs: { camera: { type: "camera" } },
    primary: "camera",
    run: (ctx, a) => {
      cameraRelease(get<Camera>(ctx, a.camera, "camera"));
    },
  }),
  defineOp({
    name: "display_probe",
    layer: LAYER,
    summary: "bind the GEM-DMA display driver to a device",
    args: z.object({ device: z.string() }).strict(),
    refs: { device: { type: "device" } },
    primary: "device",
    produces: "display",
    requiresAs: true,
    run: (ctx, a) => ({ object: displayProbe(ctx.kernel, dev(ctx, a.device)) }),
  }),
  defineOp({
    name: "display_import",
    layer: LAYER,
    summary:
      "PRIME import a dma-buf as a framebuffer (EINVAL: not contiguous, or it would be bounced)",
    args: z.object({ display: z.string(), buf: z.string() }).strict(),
    refs: { display: { type: "display" }, buf: { type: "dma_buf" } },
    produces: "display_fb",
    requiresAs: true,
    run: async (ctx, a) => ({
      object: await displayImport(
        get<Display>(ctx, a.display, "display"),
        get<DmaBuf>(ctx, a.buf, "dma_buf"),
      ),
    }),
  }),
  defineOp({
    name: "display_scanout",
    layer: LAYER,
    summary: "commit a framebuffer (waits for its writers) and scan it out; value: the bytes read",
    args: z
      .object({
        fb: z.string(),
        len: z.number().int().min(1).optional(),
        offset: z.number().int().min(0).optional(),
      })
      .strict(),
    refs: { fb: { type: "display_fb" } },
    primary: "fb",
    run: async (ctx, a) => {
      const v = await displayScanout(
        get<DisplayFb>(ctx, a.fb, "display_fb"),
        a.len ?? 16,
        a.offset ?? 0,
      );
      return { value: v, text: hexSummary(v) };
    },
  }),
  defineOp({
    name: "display_release",
    layer: LAYER,
    summary: "release a framebuffer: unmap, detach, drop the buffer",
    args: z.object({ fb: z.string() }).strict(),
    refs: { fb: { type: "display_fb" } },
    primary: "fb",
    run: async (ctx, a) => {
      await displayRelease(get<DisplayFb>(ctx, a.fb, "display_fb"));
    },
  }),
  defineOp({
    name: "decoder_probe",
    layer: LAYER,
    summary: "bind the V4L2 decoder driver to a device (sets a 32-bit DMA mask)",
    args: z.object({ device: z.string() }).strict(),
    refs: { device: { type: "device" } },
    primary: "device",
    produces: "decoder",
    requiresAs: true,
    run: (ctx, a) => ({ object: decoderProbe(ctx.kernel, dev(ctx, a.device)) }),
  }),
  defineOp({
    name: "decoder_import",
    layer: LAYER,
    summary: "VIDIOC_QBUF (DMABUF) first use: attach a dma-buf as a capture buffer",
    args: z.object({ decoder: z.string(), buf: z.string() }).strict(),
    refs: { decoder: { type: "decoder" }, buf: { type: "dma_buf" } },
    produces: "decoder_buffer",
    requiresAs: true,
    run: async (ctx, a) => ({
      object: await decoderImport(
        get<Decoder>(ctx, a.decoder, "decoder"),
        get<DmaBuf>(ctx, a.buf, "dma_buf"),
      ),
    }),
  }),
  defineOp({
    name: "decoder_qbuf",
    layer: LAYER,
    summary: "queue a capture buffer: map it (EFAULT not contiguous, EINVAL bounced)",
    args: z.object({ buffer: z.string() }).strict(),
    refs: { buffer: { type: "decoder_buffer" } },
    primary: "buffer",
    run: async (ctx, a) => {
      await decoderQbuf(get<DecoderBuffer>(ctx, a.buffer, "decoder_buffer"));
    },
  }),
  defineOp({
    name: "decoder_decode",
    layer: LAYER,
    summary: "the decoder writes a decoded frame (`data`, repeated to fill) into a queued buffer",
    args: z.object({ buffer: z.string(), data: bytesSchema }).strict(),
    refs: { buffer: { type: "decoder_buffer" } },
    run: (ctx, a) => {
      decoderDecode(get<DecoderBuffer>(ctx, a.buffer, "decoder_buffer"), toBytes(a.data));
    },
  }),
  defineOp({
    name: "decoder_dqbuf",
    layer: LAYER,
    summary: "dequeue a capture buffer: unmap it",
    args: z.object({ buffer: z.string() }).strict(),
    refs: { buffer: { type: "decoder_buffer" } },
    primary: "buffer",
    run: async (ctx, a) => {
      await decoderDqbuf(get<DecoderBuffer>(ctx, a.buffer, "decoder_buffer"));
    },
  }),
  defineOp({
    name: "decoder_release",
    layer: LAYER,
    summary: "release a capture buffer: detach, drop the buffer reference",
    args: z.object({ buffer: z.string() }).strict(),
    refs: { buffer: { type: "decoder_buffer" } },
    primary: "buffer",
    run: async (ctx, a) => {
      await decoderRelease(get<DecoderBuffer>(ctx, a.buffer, "decoder_buffer"));
    },
  }),
  defineOp({
    name: "memfd_create",
    layer: LAYER,
    summary:
      "memfd_create + ftruncate: a shmem file of `size` bytes (allow_sealing: MFD_ALLOW_SEALING)",
    args: z
      .object({
        size: sizeSchema,
        process: z.string().optional(),
        allow_sealing: z.boolean().optional(),
      })
      .strict(),
    produces: "fd",
    requiresAs: true,
    run: (ctx, a) => {
      const process = ctx.process(a.process);
      const fd = memfdCreate(
        process,
        ctx.as ?? "memfd",
        a.size,
        a.allow_sealing ? MFD_ALLOW_SEALING : 0,
      );
      return { object: { process, fd } satisfies FdObject, text: `fd ${fd}` };
    },
  }),
  defineOp({
    name: "memfd_add_seals",
    layer: LAYER,
    summary: "fcntl(F_ADD_SEALS): SEAL, SHRINK, GROW, WRITE",
    args: z
      .object({ fd: z.string(), seals: z.array(z.enum(["SEAL", "SHRINK", "GROW", "WRITE"])) })
      .strict(),
    refs: { fd: { type: "fd" } },
    run: (ctx, a) => {
      const o = get<FdObject>(ctx, a.fd, "fd");
      const bits = {
        SEAL: F_SEAL_SEAL,
        SHRINK: F_SEAL_SHRINK,
        GROW: F_SEAL_GROW,
        WRITE: F_SEAL_WRITE,
      };
      memfdAddSeals(
        o.process,
        o.fd,
        a.seals.reduce((n, s) => n | bits[s], 0),
      );
    },
  }),
  defineOp({
    name: "udmabuf_create",
    layer: LAYER,
    summary: "UDMABUF_CREATE: a dma-buf fd over [offset, offset+size) of a sealed memfd",
    args: z.object({ memfd: z.string(), offset: sizeSchema.optional(), size: sizeSchema }).strict(),
    refs: { memfd: { type: "fd" } },
    produces: "fd",
    requiresAs: true,
    run: (ctx, a) => {
      const o = get<FdObject>(ctx, a.memfd, "fd");
      const { fd } = udmabufCreate(o.process, {
        memfd: o.fd,
        flags: 0,
        offset: a.offset ?? 0,
        size: a.size,
      });
      return { object: { process: o.process, fd } satisfies FdObject, text: `fd ${fd}` };
    },
  }),
] as unknown as readonly OpDef<never>[];

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
