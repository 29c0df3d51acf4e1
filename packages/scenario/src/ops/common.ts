/**
 * What the operations of several layers share: argument schemas (sizes, directions), the machine of
 * a run, byte ranges of objects, and the result of a step that makes an fd.
 *
 * @module
 */
import { getMachine, type Machine } from "@dmasim/hardware";
import { DMA_DIRECTION_NAMES, validDmaDirection } from "@dmasim/dma-mapping";
import { KernelError, isKernelError, type Kernel, type Process } from "@dmasim/kernel";
import { z } from "zod";
import type { FdObject } from "../objects";
import type { OpResult } from "../op";

const UNITS: Readonly<Record<string, number>> = { K: 1024, M: 1024 ** 2, G: 1024 ** 3 };

/** Sizes: a number of bytes, or `"64K"`, `"2M"`, `"1G"`. */
export const sizeSchema = z
  .union([
    z.number().int().min(0),
    z
      .string()
      .regex(/^\d+\s*[KMG]i?B?$/i, { message: 'a size such as 4096, "64K", "2M" or "1G"' })
      .transform((s) => {
        const m = /^(\d+)\s*([KMG])/i.exec(s);
        return Number(m?.[1]) * (UNITS[m?.[2]?.toUpperCase() ?? ""] ?? 0);
      }),
  ])
  .meta({ title: "size" });

/** Every DMA direction by name (`DMA_NONE` included: the DMA API's checks reject it). */
export const anyDirSchema = z.enum(DMA_DIRECTION_NAMES);

/** The directions a mapping may use, by name. */
export const dirSchema = z.enum(DMA_DIRECTION_NAMES.filter((_, v) => validDmaDirection(v)));

/** The machine of a scenario's kernel. */
export function machineOf(kernel: Kernel): Machine {
  try {
    return getMachine(kernel);
  } catch (e) {
    if (isKernelError(e, "ENODEV")) {
      throw new KernelError("ENODEV", "this scenario has no machine: add a `platform:` section");
    }
    throw e;
  }
}

/** A range of addresses. */
export interface Span {
  readonly at: number;
  readonly len: number;
}

/**
 * Check that bytes `[offset, offset + len)` lie within an object of `size` bytes (a `what`).
 *
 * @throws {@link KernelError} `EFAULT` when they do not
 */
export function checkRange(size: number, offset: number, len: number, what: string): void {
  if (offset < 0 || len < 0 || offset + len > size) {
    throw new KernelError(
      "EFAULT",
      `bytes ${offset}..${offset + len} lie outside the ${size}-byte ${what}`,
    );
  }
}

/**
 * The pieces of bytes `[offset, offset + len)` of an object laid out as `spans` one after the other
 * (a mapping's virtual segments, an allocation's blocks); as many as the spans hold.
 */
export function sliceSpans(spans: Iterable<Span>, offset: number, len: number): Span[] {
  const out: Span[] = [];
  let skip = offset;
  let left = len;
  for (const s of spans) {
    if (left === 0) {
      break;
    }
    if (skip >= s.len) {
      skip -= s.len;
      continue;
    }
    const n = Math.min(s.len - skip, left);
    out.push({ at: s.at + skip, len: n });
    left -= n;
    skip = 0;
  }
  return out;
}

/** The result of a step that installs `fd` in `process`: the fd object, and `fd N` for the report. */
export function fdResult(process: Process, fd: number): OpResult<FdObject> {
  return { object: { process, fd }, text: `fd ${fd}` };
}

/** `T` without its absent values: what an optional field takes under `exactOptionalPropertyTypes`. */
export type Compact<T> = { [K in keyof T]?: NonNullable<T[K]> };

/** `o` without its absent fields (a scenario's optional arguments as a lower layer's options). */
export function compact<T extends object>(o: T): Compact<T> {
  const out: Compact<T> = {};
  for (const k in o) {
    const v = o[k];
    if (v !== undefined && v !== null) {
      out[k] = v;
    }
  }
  return out;
}
