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
import { scenarioLayer } from "../layer";
import type { PagesObject } from "../objects";
import type { RegistryPart } from "../registry";
import type { Span } from "./common";
import { dmaPieces, type DmaTarget } from "./dma-mapping";
import { pagesPieces } from "./hardware";

const L = scenarioLayer("@dmasim/hardware");

const target = {
  device: L.ref("device"),
  pages: L.ref("pages").optional(),
  dma: L.refAny("dma_mapping", "sg_mapping").optional(),
  offset: z.number().int().min(0).optional(),
};

/** What a device access names: raw pages, or a DMA mapping / mapped sg table. */
interface Target {
  readonly device: Device;
  readonly pages: PagesObject | undefined;
  readonly dma: DmaTarget | undefined;
  readonly offset: number | undefined;
}

/** The DMA address pieces a device access of `len` bytes touches. */
function addresses(a: Target, len: number): Span[] {
  if ((a.pages === undefined) === (a.dma === undefined)) {
    throw new KernelError(
      "EINVAL",
      "name exactly one of `pages` (raw bus access) or `dma` (a DMA mapping or mapped sg table)",
    );
  }
  const offset = a.offset ?? 0;
  if (a.pages !== undefined) {
    return pagesPieces(a.pages, offset, len).map((p) => ({
      at: physToDma(a.device, p.at),
      len: p.len,
    }));
  }
  return a.dma ? dmaPieces(a.dma, offset, len) : [];
}

/** Device reads and writes. **Kernel:** none (hardware: bus-master DMA). */
export const DEVICE_OPS = [
  L.op({
    name: "device_write",
    summary:
      "a device writes bytes at `pages` (raw bus address) or through a DMA mapping / mapped sg table `dma`",
    args: { ...target, data: bytesSchema },
    run: (_ctx, a) => {
      const data = toBytes(a.data);
      let at = 0;
      for (const p of addresses(a, data.length)) {
        deviceWrite(a.device, p.at, data.subarray(at, at + p.len));
        at += p.len;
      }
      return { text: `${data.length} bytes: ${hexSummary(data)}` };
    },
  }),
  L.op({
    name: "device_read",
    summary: "a device reads bytes at `pages` or through `dma`; value: what it saw",
    args: { ...target, len: z.number().int().min(1) },
    run: (_ctx, a) => {
      const out = new Uint8Array(a.len);
      let at = 0;
      for (const p of addresses(a, a.len)) {
        out.set(deviceRead(a.device, p.at, p.len), at);
        at += p.len;
      }
      return { value: out };
    },
  }),
];

/** Device accesses as a registry part. **Kernel:** none. */
export const DEVICE_PART: RegistryPart = { ops: DEVICE_OPS };
