/**
 * A V4L2 capture driver for a non-coherent camera: request buffers, queue them, the camera writes
 * frames, dequeue them, export them as dma-bufs.
 *
 * **Kernel:** a simplified capture driver on videobuf2-core (`vb2_core_reqbufs`, `vb2_core_qbuf`,
 * `vb2_buffer_done`, `vb2_core_dqbuf`, `vb2_core_expbuf`).
 *
 * @module
 */
import { KernelError, isKernelError, uintT, type Kernel, type Process } from "@dmasim/kernel";
import { deviceWrite, getMachine, type Device, type Machine } from "@dmasim/hardware";
import { forEachSgtableDmaSg, sgDmaAddress, sgDmaLen } from "@dmasim/dma-mapping";
import { dmaBufFd, type DmaBuf } from "@dmasim/dma-buf";
import { CAMERA_STOP_STREAMING_LEAVES_DMA_RUNNING, DRIVERS_MODULE } from "../module";
import type { CameraBuffer } from "./videobuf2-dma-sg";
import { vb2Alloc, vb2Finish, vb2GetDmabuf, vb2Prepare, vb2Put } from "./videobuf2-dma-sg";

/** A range of DMA addresses the capture engine writes. */
interface DmaRange {
  readonly addr: number;
  readonly len: number;
}

function dmaRanges(buf: CameraBuffer): DmaRange[] {
  const out: DmaRange[] = [];
  forEachSgtableDmaSg(buf.sgt, (sg) => {
    out.push({ addr: sgDmaAddress(sg), len: sgDmaLen(sg) });
  });
  return out;
}

/** Options of {@link cameraProbe}. */
export interface CameraProbeOptions {
  /** Buffers of one contiguous block (videobuf2-dma-contig) instead of scattered pages. */
  readonly contiguous?: boolean;
}

/**
 * A camera. **Kernel:** the capture driver's device with its `vb2_queue`.
 *
 * **Locking:** the queue's lock (one thread at a time in the simulator).
 */
export class Camera {
  readonly buffers: CameraBuffer[] = [];
  /**
   * Buffers the capture DMA still targets after the queue was released: empty for a correct
   * driver; filled only with `camera-stop-streaming-leaves-dma-running`.
   */
  readonly dmaLeftovers: { buf: CameraBuffer; ranges: DmaRange[] }[] = [];
  /** Frames captured so far. */
  sequence = 0;

  constructor(
    readonly kernel: Kernel,
    readonly m: Machine,
    readonly dev: Device,
    readonly contiguous: boolean,
  ) {}

  /** The device's name. */
  get name(): string {
    return this.dev.name;
  }
}

/**
 * Probe a camera on a hardware device.
 *
 * **Kernel:** the capture driver's `probe()` with `vb2_queue_init()`.
 *
 * **Locking:** process context.
 *
 * @throws {@link KernelError} `ENODEV` without a machine
 */
export function cameraProbe(kernel: Kernel, dev: Device, opts: CameraProbeOptions = {}): Camera {
  kernel.load(DRIVERS_MODULE);
  return new Camera(kernel, getMachine(kernel), dev, !!opts.contiguous);
}

/** The most buffers a queue holds. **Kernel:** `VB2_MAX_FRAME` (the default `max_num_buffers`). */
export const VB2_MAX_FRAME = 32;

/**
 * Allocate `count` capture buffers of `size` bytes (V4L2_MEMORY_MMAP). `count` is the `__u32` of
 * `struct v4l2_requestbuffers`: a negative one wraps, and any count is clamped to
 * {@link VB2_MAX_FRAME}; 0 asks for no buffers (the kernel's way to free them; with none allocated
 * it returns at once). When memory runs out part-way, the buffers allocated so far are kept and
 * returned (`*count = allocated_buffers`; the queue setup accepts fewer), and only a queue that
 * got none fails with `ENOMEM`.
 *
 * **Kernel:** `VIDIOC_REQBUFS` → `vb2_core_reqbufs()` (`__vb2_queue_alloc()`).
 *
 * **Locking:** may sleep.
 *
 * @throws {@link KernelError} `EBUSY` when buffers exist, `EINVAL` (a size that is not a positive
 * multiple of the page size, a count no C caller can pass), `ENOMEM` (not even one buffer)
 */
export function cameraReqbufs(cam: Camera, count: number, size: number): CameraBuffer[] {
  if (cam.buffers.length > 0) {
    throw new KernelError("EBUSY", `${cam.name}: buffers already allocated`);
  }
  const n = Math.min(uintT(count, "vb2_core_reqbufs", "count"), VB2_MAX_FRAME);
  for (let i = 0; i < n; i++) {
    try {
      cam.buffers.push(vb2Alloc(cam, i, size));
    } catch (e) {
      if (i === 0 || !isKernelError(e, "ENOMEM")) {
        cam.buffers.forEach((b) => vb2Put(b));
        cam.buffers.length = 0;
        throw e;
      }
      break;
    }
  }
  return [...cam.buffers];
}

/**
 * Queue a buffer for capture: it is synced for the camera first.
 *
 * **Kernel:** `VIDIOC_QBUF` → `vb2_core_qbuf()` (buf_prepare).
 *
 * **Locking:** process context.
 *
 * @throws {@link KernelError} `EINVAL` when the buffer is not dequeued
 */
export function cameraQbuf(buf: CameraBuffer): void {
  if (buf.state !== "dequeued") {
    throw new KernelError("EINVAL", `${buf.cam.name}: buffer ${buf.index} is ${buf.state}`);
  }
  vb2Prepare(buf);
  buf.state = "queued";
}

/**
 * The camera captures a frame into the oldest queued buffer: it writes `frame` (repeated to fill
 * the buffer when shorter) through its DMA mapping. Returns that buffer. (With
 * `camera-stop-streaming-leaves-dma-running`, after the queue was released, the DMA still writes
 * the buffer it was given last.)
 *
 * **Kernel:** the capture interrupt and `vb2_buffer_done()`.
 *
 * **Locking:** any context (an interrupt handler).
 *
 * @throws {@link KernelError} `EAGAIN` when no buffer is queued
 */
export function cameraCapture(cam: Camera, frame: Uint8Array): CameraBuffer {
  const queued = cam.buffers.find((b) => b.state === "queued");
  const target = queued ? { buf: queued, ranges: dmaRanges(queued) } : cam.dmaLeftovers.shift();
  if (!target) {
    throw new KernelError("EAGAIN", `${cam.name}: no buffer queued`);
  }
  if (frame.length === 0) {
    throw new KernelError("EINVAL", `${cam.name}: an empty frame`);
  }
  const buf = target.buf;
  const whole = new Uint8Array(buf.size);
  for (let at = 0; at < whole.length; at += frame.length) {
    whole.set(frame.subarray(0, Math.min(frame.length, whole.length - at)), at);
  }
  let at = 0;
  for (const r of target.ranges) {
    deviceWrite(cam.dev, r.addr, whole.subarray(at, at + r.len));
    at += r.len;
  }
  buf.sequence = cam.sequence++;
  buf.state = "done";
  return buf;
}

/**
 * Dequeue the oldest filled buffer: it is synced for the CPU first.
 *
 * **Kernel:** `VIDIOC_DQBUF` → `vb2_core_dqbuf()` (buf_finish).
 *
 * **Locking:** process context.
 *
 * @throws {@link KernelError} `EAGAIN` when no buffer is done
 */
export function cameraDqbuf(cam: Camera): CameraBuffer {
  const buf = cam.buffers
    .filter((b) => b.state === "done")
    .sort((a, b) => a.sequence - b.sequence)[0];
  if (!buf) {
    throw new KernelError("EAGAIN", `${cam.name}: no buffer done`);
  }
  vb2Finish(buf);
  buf.state = "dequeued";
  return buf;
}

/**
 * Export a buffer as a dma-buf, and install it as an fd when a process is given.
 *
 * **Kernel:** `VIDIOC_EXPBUF` → `vb2_core_expbuf()`.
 *
 * **Locking:** process context.
 *
 * @throws {@link KernelError} `EMFILE`
 */
export function cameraExpbuf(
  buf: CameraBuffer,
  process?: Process,
): { dmabuf: DmaBuf; fd: number | null } {
  const dmabuf = vb2GetDmabuf(buf);
  return { dmabuf, fd: process ? dmaBufFd(dmabuf, 0, process) : null };
}

/**
 * Release the queue: stop streaming, then free the queue's buffers. Stopping comes first: the
 * driver's `stop_streaming` stops the capture DMA and hands every queued buffer back (as errored),
 * so no frame lands in a buffer once it is freed. An exported buffer lives on until its dma-buf is
 * released (the export holds a buffer reference, `vb2_dma_sg_put()` frees on the last one); the
 * others are freed at once. With `camera-stop-streaming-leaves-dma-running` the DMA is not stopped:
 * the next frame is written to a buffer the queue freed (`use-after-free` when its pages were
 * freed; into the exporter's live pages when it was exported).
 *
 * **Kernel:** `vb2_core_queue_release()` (closing the video node; `VIDIOC_REQBUFS` with count 0
 * when not streaming) → `__vb2_queue_cancel()` (`stop_streaming`, queued buffers returned with
 * `VB2_BUF_STATE_ERROR`) → `__vb2_queue_free()` (each buffer's `put`), videobuf2-core.c.
 *
 * **Locking:** process context.
 */
export function cameraRelease(cam: Camera): void {
  const leaveDma = cam.kernel.options.enabled(CAMERA_STOP_STREAMING_LEAVES_DMA_RUNNING);
  for (const b of cam.buffers.splice(0)) {
    if (b.state === "queued") {
      b.state = "dequeued"; // returned by stop_streaming
      if (leaveDma) {
        cam.dmaLeftovers.push({ buf: b, ranges: dmaRanges(b) }); // the bug: the DMA keeps its address
      }
    }
    vb2Put(b);
  }
}
