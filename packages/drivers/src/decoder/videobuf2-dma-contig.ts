/**
 * A V4L2 video decoder whose capture queue imports dma-bufs (V4L2_MEMORY_DMABUF): a static
 * importer on a device with a 32-bit DMA mask. Each buffer is mapped when queued (it must be one
 * contiguous DMA range), the decoder writes the decoded frame, and the buffer is unmapped when
 * dequeued.
 *
 * **Kernel:** a simplified drivers/media/common/videobuf2/videobuf2-dma-contig.c importer side
 * (`vb2_dc_attach_dmabuf`, `vb2_dc_map_dmabuf`, `vb2_dc_unmap_dmabuf`, `vb2_dc_detach_dmabuf`) for
 * a stateless decoder whose probe sets `dma_set_mask_and_coherent(dev, DMA_BIT_MASK(32))`.
 *
 * @module
 */
import { KernelError, type Kernel } from "@dmasim/kernel";
import { DMA_BIT_MASK, deviceWrite, getMachine, type Device, type Machine } from "@dmasim/hardware";
import {
  DMA_FROM_DEVICE,
  dmaSetMaskAndCoherent,
  forEachSgtableDmaSg,
  sgDmaAddress,
  sgDmaLen,
  type SgTable,
} from "@dmasim/dma-mapping";
import {
  dmaBufDetach,
  dmaBufPut,
  getDmaBuf,
  type DmaBuf,
  type DmaBufAttachment,
} from "@dmasim/dma-buf";
import { DECODER_DECODES_INTO_BOUNCED_BUFFERS, DRIVERS_MODULE } from "../module";
import { importerAttach, importerMap, importerUnmap, needsBounce } from "../importer";

/**
 * A decoder. **Kernel:** the m2m decoder's device with its capture `vb2_queue`.
 *
 * **Locking:** the queue's lock (one thread at a time in the simulator).
 */
export class Decoder {
  constructor(
    readonly kernel: Kernel,
    readonly m: Machine,
    readonly dev: Device,
  ) {}

  /** The device's name. */
  get name(): string {
    return this.dev.name;
  }
}

/**
 * An imported capture buffer. **Kernel:** `struct vb2_dc_buf` of a DMABUF buffer.
 *
 * **Locking:** the queue's lock.
 */
export class DecoderBuffer {
  /** The mapping while queued. */
  sgt: SgTable | null = null;
  released = false;

  constructor(
    readonly dec: Decoder,
    readonly dmabuf: DmaBuf,
    readonly attach: DmaBufAttachment,
  ) {}
}

/**
 * Probe a decoder: its DMA mask is set to 32 bits.
 *
 * **Kernel:** the driver's `probe()` with `dma_set_mask_and_coherent(dev, DMA_BIT_MASK(32))`.
 *
 * **Locking:** process context.
 *
 * @throws {@link KernelError} `EIO` when the platform cannot honour a 32-bit mask
 */
export function decoderProbe(kernel: Kernel, dev: Device): Decoder {
  kernel.load(DRIVERS_MODULE);
  dmaSetMaskAndCoherent(dev, DMA_BIT_MASK(32));
  return new Decoder(kernel, getMachine(kernel), dev);
}

/**
 * Import a dma-buf as a capture buffer (attach only; mapping happens at queue time).
 *
 * **Kernel:** `VIDIOC_QBUF` (DMABUF) → `vb2_dc_attach_dmabuf()`.
 *
 * **Locking:** may sleep.
 *
 * @throws {@link KernelError} the exporter's attach errors
 */
export async function decoderImport(dec: Decoder, dmabuf: DmaBuf): Promise<DecoderBuffer> {
  getDmaBuf(dmabuf);
  try {
    return new DecoderBuffer(dec, dmabuf, await importerAttach(dmabuf, dec.dev));
  } catch (e) {
    dmaBufPut(dmabuf);
    throw e;
  }
}

function contiguous(sgt: SgTable, size: number): boolean {
  let next = -1;
  let n = 0;
  let ok = true;
  forEachSgtableDmaSg(sgt, (sg) => {
    ok &&= next < 0 || sgDmaAddress(sg) === next;
    next = sgDmaAddress(sg) + sgDmaLen(sg);
    n += sgDmaLen(sg);
  });
  return ok && n >= size;
}

/**
 * Queue a capture buffer: map it FROM_DEVICE. Refused with `EFAULT` when the DMA addresses are not
 * contiguous ("contiguous chunk is too small"), and (unless
 * `decoder-decodes-into-bounced-buffers`) with `EINVAL` when the mapping is bounced: the decoder
 * would write a bounce copy that an exporter mapping with `DMA_ATTR_SKIP_CPU_SYNC` never copies
 * back.
 *
 * **Kernel:** `vb2_dc_map_dmabuf()`.
 *
 * **Locking:** may sleep; must not hold the reservation lock.
 *
 * @throws {@link KernelError} `EFAULT`, `EINVAL`, `EBUSY` (already queued), the map errors
 */
export async function decoderQbuf(buf: DecoderBuffer): Promise<void> {
  if (buf.sgt || buf.released) {
    throw new KernelError("EBUSY", `${buf.dec.name}: buffer already queued or released`);
  }
  const sgt = await importerMap(buf.attach, DMA_FROM_DEVICE);
  let err: KernelError | null = null;
  if (!contiguous(sgt, buf.dmabuf.size)) {
    err = new KernelError("EFAULT", `${buf.dec.name}: contiguous chunk is too small`);
  } else if (
    needsBounce(buf.dec.m, buf.dec.dev, sgt) &&
    !buf.dec.kernel.options.enabled(DECODER_DECODES_INTO_BOUNCED_BUFFERS)
  ) {
    err = new KernelError("EINVAL", `${buf.dec.name}: buffer beyond the 32-bit DMA mask (bounced)`);
  }
  if (err) {
    await importerUnmap(buf.attach, sgt, DMA_FROM_DEVICE);
    throw err;
  }
  buf.sgt = sgt;
}

/**
 * The decoder writes a decoded frame (repeated to fill the buffer when shorter) into a queued
 * buffer.
 *
 * **Kernel:** the decode job (`device_run`) and its completion interrupt.
 *
 * **Locking:** any context.
 *
 * @throws {@link KernelError} `EINVAL` when the buffer is not queued or the frame is empty
 */
export function decoderDecode(buf: DecoderBuffer, frame: Uint8Array): void {
  const sgt = buf.sgt;
  if (!sgt || frame.length === 0) {
    throw new KernelError("EINVAL", `${buf.dec.name}: buffer not queued, or an empty frame`);
  }
  const whole = new Uint8Array(buf.dmabuf.size);
  for (let at = 0; at < whole.length; at += frame.length) {
    whole.set(frame.subarray(0, Math.min(frame.length, whole.length - at)), at);
  }
  let at = 0;
  forEachSgtableDmaSg(sgt, (sg) => {
    deviceWrite(buf.dec.dev, sgDmaAddress(sg), whole.subarray(at, at + sgDmaLen(sg)));
    at += sgDmaLen(sg);
  });
}

/**
 * Dequeue a capture buffer: unmap it.
 *
 * **Kernel:** `VIDIOC_DQBUF` → `vb2_dc_unmap_dmabuf()`.
 *
 * **Locking:** may sleep.
 *
 * @throws {@link KernelError} `EINVAL` when the buffer is not queued
 */
export async function decoderDqbuf(buf: DecoderBuffer): Promise<void> {
  if (!buf.sgt) {
    throw new KernelError("EINVAL", `${buf.dec.name}: buffer not queued`);
  }
  await importerUnmap(buf.attach, buf.sgt, DMA_FROM_DEVICE);
  buf.sgt = null;
}

/**
 * Release an imported buffer (dequeued first if needed): detach and drop the reference.
 *
 * **Kernel:** `vb2_dc_detach_dmabuf()`.
 *
 * **Locking:** may sleep.
 */
export async function decoderRelease(buf: DecoderBuffer): Promise<void> {
  if (buf.released) {
    return;
  }
  if (buf.sgt) {
    await decoderDqbuf(buf);
  }
  buf.released = true;
  await dmaBufDetach(buf.dmabuf, buf.attach);
  dmaBufPut(buf.dmabuf);
}
