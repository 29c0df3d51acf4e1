/**
 * Device accesses: a device reads or writes bytes at the DMA address of raw pages (a bus master
 * with no DMA API), or through a DMA mapping or a mapped sg table (what a driver programs).
 *
 * @module
 */
import { deviceRead, deviceWrite, physToDma, type Device } from "@dmasim/hardware";
import { KernelError } from "@dmasim/kernel";
import { z } from "zod";
import { bytesSchema, hexSummary, toBytes } from "../bytes";
import { defineOp, type OpContext, type OpDef } from "../op";
import type { RegistryPart } from "../registry";
import { dmaPieces } from "./dma-mapping";
import { pagesPieces, type PagesObject } from "./hardware";

const target = {
  device: z.string(),
  pages: z.string().optional(),
  dma: z.string().optional(),
  offset: z.number().int().min(0).optional(),
};
const refs = {
  device: { type: "device" },
  pages: { type: "pages", optional: true },
  dma: { type: ["dma_mapping", "sg_mapping"], optional: true },
} as const;

function addresses(
  ctx: OpContext,
  dev: Device,
  a: { pages?: string | undefined; dma?: string | undefined; offset?: number | undefined },
  len: number,
) {
  if ((a.pages === undefined) === (a.dma === undefined)) {
    throw new KernelError(
      "EINVAL",
      "name exactly one of `pages` (raw bus access) or `dma` (a DMA mapping or mapped sg table)",
    );
  }
  const offset = a.offset ?? 0;
  if (a.pages !== undefined) {
    return pagesPieces(ctx.objects.get<PagesObject>(a.pages, "pages"), offset, len).map((p) => ({
      addr: physToDma(dev, p.pa),
      len: p.len,
    }));
  }
  return dmaPieces(ctx, a.dma as string, offset, len);
}

/** Device reads and writes. **Kernel:** none (hardware: bus-master DMA). */
export const DEVICE_OPS = [
  defineOp({
    name: "device_write",
    layer: "@dmasim/hardware",
    summary:
      "a device writes bytes at `pages` (raw bus address) or through a DMA mapping / mapped sg table `dma`",
    args: z.object({ ...target, data: bytesSchema }).strict(),
    refs,
    run: (ctx, a) => {
      const dev = ctx.objects.get<Device>(a.device, "device");
      const data = toBytes(a.data);
      let at = 0;
      for (const p of addresses(ctx, dev, a, data.length)) {
        deviceWrite(dev, p.addr, data.subarray(at, at + p.len));
        at += p.len;
      }
      return { text: `${data.length} bytes: ${hexSummary(data)}` };
    },
  }),
  defineOp({
    name: "device_read",
    layer: "@dmasim/hardware",
    summary: "a device reads bytes at `pages` or through `dma`; value: what it saw",
    args: z.object({ ...target, len: z.number().int().min(1) }).strict(),
    refs,
    run: (ctx, a) => {
      const dev = ctx.objects.get<Device>(a.device, "device");
      const out = new Uint8Array(a.len);
      let at = 0;
      for (const p of addresses(ctx, dev, a, a.len)) {
        out.set(deviceRead(dev, p.addr, p.len), at);
        at += p.len;
      }
      return { value: out };
    },
  }),
] as unknown as readonly OpDef<never>[];

/** Device accesses as a registry part. **Kernel:** none. */
export const DEVICE_PART: RegistryPart = { ops: DEVICE_OPS };
