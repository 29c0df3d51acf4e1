/**
 * Operations of layer 2 (@dmasim/dma-mapping): the streaming DMA API (single buffers, pages, sg
 * tables), syncs, coherent allocations, and the end-of-run dma-debug leak check.
 *
 * @module
 */
import { DMA_BIT_MASK, GFP_KERNEL, pfnToPage, type Device } from "@dmasim/hardware";
import * as dm from "@dmasim/dma-mapping";
import {
  DMA_MAPPING_MODULE,
  dmaAddressingLimited,
  dmaAllocAttrs,
  dmaMaxMappingSize,
  dmaSetMaskAndCoherent,
  dmaDebugCheckLeaks,
  dmaFreeAttrs,
  dmaMapPageAttrs,
  dmaMapSgtable,
  dmaMapSingleAttrs,
  dmaMappingError,
  dmaSyncSgtableForCpu,
  dmaSyncSgtableForDevice,
  dmaSyncSingleForCpu,
  dmaSyncSingleForDevice,
  dmaUnmapPageAttrs,
  dmaUnmapSgtable,
  forEachSgtableDmaSg,
  sgAllocTableFromPages,
  sgDmaAddress,
  sgDmaLen,
  sgFreeTable,
  type SgTable,
} from "@dmasim/dma-mapping";
import { KernelError, PAGE_SIZE } from "@dmasim/kernel";
import { z } from "zod";
import { defineOp, type OpContext, type OpDef } from "../op";
import type { RegistryPart } from "../registry";
import {
  machineOf,
  mappingPieces,
  sizeSchema,
  type MappingObject,
  type PagesObject,
} from "./hardware";

const LAYER = "@dmasim/dma-mapping";

/** A streaming or coherent mapping of one contiguous DMA range. */
export interface DmaMappingObject {
  readonly dev: Device;
  readonly kind: "single" | "page" | "coherent";
  readonly addr: number;
  readonly size: number;
  readonly dir: number;
  readonly attrs: number;
  /** Coherent allocations: the CPU address. */
  readonly cpuAddr?: number;
  unmapped: boolean;
}

/** An sg table mapped for a device. */
export interface SgMappingObject {
  readonly dev: Device;
  readonly sgt: SgTable;
  readonly dir: number;
  readonly attrs: number;
  unmapped: boolean;
}

const DIRS = { DMA_BIDIRECTIONAL: 0, DMA_TO_DEVICE: 1, DMA_FROM_DEVICE: 2, DMA_NONE: 3 } as const;
const dirSchema = z.enum(["DMA_BIDIRECTIONAL", "DMA_TO_DEVICE", "DMA_FROM_DEVICE", "DMA_NONE"]);
const ATTR_NAMES = Object.keys(dm).filter((k) => k.startsWith("DMA_ATTR_"));
const attrsSchema = z.array(
  z.string().refine((a) => ATTR_NAMES.includes(a) || ATTR_NAMES.includes(`DMA_ATTR_${a}`), {
    message: `an attribute: ${ATTR_NAMES.join(", ")}`,
  }),
);
function attrBits(list: readonly string[] | undefined): number {
  const table = dm as unknown as Record<string, number>;
  return (list ?? []).reduce((acc, a) => acc | (table[a] ?? table[`DMA_ATTR_${a}`] ?? 0), 0);
}

const get = <T>(ctx: OpContext, name: string, type: string): T => ctx.objects.get<T>(name, type);

/**
 * The DMA address pieces of `[offset, offset + len)` of a DMA mapping or a mapped sg table (walking
 * its DMA segments, `nents` of them, as an importer must).
 */
export function dmaPieces(
  ctx: OpContext,
  name: string,
  offset: number,
  len: number,
): { addr: number; len: number }[] {
  const o = ctx.objects.getAny(name, ["dma_mapping", "sg_mapping"]);
  if (o.type === "dma_mapping") {
    const m = o.value as DmaMappingObject;
    if (offset + len > m.size) {
      throw new KernelError(
        "EFAULT",
        `bytes ${offset}..${offset + len} lie outside the ${m.size}-byte DMA mapping`,
      );
    }
    return [{ addr: m.addr + offset, len }];
  }
  const m = o.value as SgMappingObject;
  const out: { addr: number; len: number }[] = [];
  let skip = offset;
  let left = len;
  forEachSgtableDmaSg(m.sgt, (sg) => {
    const segLen = sgDmaLen(sg);
    if (left === 0) {
      return;
    }
    if (skip >= segLen) {
      skip -= segLen;
      return;
    }
    const n = Math.min(segLen - skip, left);
    out.push({ addr: sgDmaAddress(sg) + skip, len: n });
    left -= n;
    skip = 0;
  });
  if (left > 0) {
    throw new KernelError(
      "EFAULT",
      `bytes ${offset}..${offset + len} lie outside the mapped sg table`,
    );
  }
  return out;
}

const mapArgs = {
  device: z.string(),
  offset: z.number().int().min(0).optional(),
  size: sizeSchema.optional(),
  dir: dirSchema,
  attrs: attrsSchema.optional(),
};

/** The object and report line of a single or page mapping (its address may be DMA_MAPPING_ERROR). */
function streamingMapping(
  dev: Device,
  kind: "single" | "page",
  addr: number,
  size: number,
  dir: number,
  attrs: number,
): { object: DmaMappingObject; text: string } {
  const object: DmaMappingObject = { dev, kind, addr, size, dir, attrs, unmapped: false };
  return {
    object,
    text: addr === dm.DMA_MAPPING_ERROR ? "DMA_MAPPING_ERROR" : `dma 0x${addr.toString(16)}`,
  };
}

function checkMapped(m: { unmapped: boolean }, name: string): void {
  if (m.unmapped) {
    throw new KernelError("EINVAL", `${name} is already unmapped`);
  }
}

/** The layer-2 operations. **Kernel:** kernel/dma/mapping.c, lib/scatterlist.c. */
export const DMA_MAPPING_OPS = [
  defineOp({
    name: "dma_map_single",
    layer: LAYER,
    summary:
      "map a kernel buffer (a linear-map mapping) for a device; check the result with dma_mapping_error",
    args: z.object({ ...mapArgs, mapping: z.string() }).strict(),
    refs: { device: { type: "device" }, mapping: { type: "mapping" } },
    produces: "dma_mapping",
    requiresAs: true,
    run: (ctx, a) => {
      const dev = get<Device>(ctx, a.device, "device");
      const map = get<MappingObject>(ctx, a.mapping, "mapping");
      const offset = a.offset ?? 0;
      const size = a.size ?? map.size - offset;
      const [first] = mappingPieces(map, offset, size);
      const attrs = attrBits(a.attrs);
      const addr = dmaMapSingleAttrs(dev, (first as { va: number }).va, size, DIRS[a.dir], attrs);
      return streamingMapping(dev, "single", addr, size, DIRS[a.dir], attrs);
    },
  }),
  defineOp({
    name: "dma_map_page",
    layer: LAYER,
    summary: "map part of a page allocation for a device (dma_map_page_attrs)",
    args: z.object({ ...mapArgs, pages: z.string() }).strict(),
    refs: { device: { type: "device" }, pages: { type: "pages" } },
    produces: "dma_mapping",
    requiresAs: true,
    run: (ctx, a) => {
      const dev = get<Device>(ctx, a.device, "device");
      const p = get<PagesObject>(ctx, a.pages, "pages");
      const offset = a.offset ?? 0;
      const size = a.size ?? p.size - offset;
      const block = PAGE_SIZE << p.order;
      const page = p.pages[Math.floor(offset / block)];
      if (!page || (offset % block) + size > block) {
        throw new KernelError(
          "EINVAL",
          `dma_map_page: ${offset}+${size} does not lie within one contiguous block of ${a.pages}`,
        );
      }
      const attrs = attrBits(a.attrs);
      const addr = dmaMapPageAttrs(dev, page, offset % block, size, DIRS[a.dir], attrs);
      return streamingMapping(dev, "page", addr, size, DIRS[a.dir], attrs);
    },
  }),
  defineOp({
    name: "dma_mapping_error",
    layer: LAYER,
    summary:
      "check a mapping's address (dma-debug records that it was checked); value: true if it failed",
    args: z.object({ dma: z.string() }).strict(),
    refs: { dma: { type: "dma_mapping" } },
    primary: "dma",
    run: (ctx, a) => {
      const m = get<DmaMappingObject>(ctx, a.dma, "dma_mapping");
      return { value: dmaMappingError(m.dev, m.addr) };
    },
  }),
  defineOp({
    name: "dma_unmap",
    layer: LAYER,
    summary:
      "unmap a single/page mapping (size, dir and attrs default to the map's; override to misuse)",
    args: z
      .object({
        dma: z.string(),
        size: sizeSchema.optional(),
        dir: dirSchema.optional(),
        attrs: attrsSchema.optional(),
      })
      .strict(),
    refs: { dma: { type: "dma_mapping" } },
    primary: "dma",
    run: (ctx, a) => {
      const m = get<DmaMappingObject>(ctx, a.dma, "dma_mapping");
      if (m.kind === "coherent") {
        throw new KernelError("EINVAL", `${a.dma} is a coherent allocation: use dma_free_coherent`);
      }
      dmaUnmapPageAttrs(
        m.dev,
        m.addr,
        a.size ?? m.size,
        a.dir ? DIRS[a.dir] : m.dir,
        a.attrs ? attrBits(a.attrs) : m.attrs,
      );
      m.unmapped = true;
    },
  }),
  ...(["dma_sync_single_for_cpu", "dma_sync_single_for_device"] as const).map((name) =>
    defineOp({
      name,
      layer: LAYER,
      summary:
        name === "dma_sync_single_for_cpu"
          ? "give a mapping (or a range of it) back to the CPU: invalidate / copy bounce data back"
          : "give a mapping (or a range of it) to the device: copy into the bounce buffer / clean",
      args: z
        .object({
          dma: z.string(),
          offset: z.number().int().min(0).optional(),
          size: sizeSchema.optional(),
          dir: dirSchema.optional(),
        })
        .strict(),
      refs: { dma: { type: "dma_mapping" } },
      primary: "dma",
      run: (ctx, a) => {
        const m = get<DmaMappingObject>(ctx, a.dma, "dma_mapping");
        const offset = a.offset ?? 0;
        const fn =
          name === "dma_sync_single_for_cpu" ? dmaSyncSingleForCpu : dmaSyncSingleForDevice;
        fn(m.dev, m.addr + offset, a.size ?? m.size - offset, a.dir ? DIRS[a.dir] : m.dir);
      },
    }),
  ),
  defineOp({
    name: "sg_alloc_table_from_pages",
    layer: LAYER,
    summary: "an sg table over a page allocation (contiguous pages merge into one entry)",
    args: z
      .object({
        pages: z.string(),
        offset: z.number().int().min(0).optional(),
        size: sizeSchema.optional(),
      })
      .strict(),
    refs: { pages: { type: "pages" } },
    primary: "pages",
    produces: "sg_table",
    requiresAs: true,
    run: (ctx, a) => {
      const p = get<PagesObject>(ctx, a.pages, "pages");
      const m = machineOf(ctx.kernel);
      const pages = p.pages.flatMap((pg) =>
        Array.from({ length: 1 << p.order }, (_, i) => (i === 0 ? pg : pfnToPage(m, pg.pfn + i))),
      );
      const offset = a.offset ?? 0;
      const sgt = sgAllocTableFromPages(ctx.kernel, pages, offset, a.size ?? p.size - offset);
      return { object: sgt, text: `${sgt.origNents} entries` };
    },
  }),
  defineOp({
    name: "sg_free_table",
    layer: LAYER,
    summary: "free an sg table",
    args: z.object({ sgt: z.string() }).strict(),
    refs: { sgt: { type: "sg_table" } },
    primary: "sgt",
    run: (ctx, a) => {
      sgFreeTable(get<SgTable>(ctx, a.sgt, "sg_table"));
    },
  }),
  defineOp({
    name: "dma_map_sgtable",
    layer: LAYER,
    summary: "map an sg table for a device (nents may be fewer than orig_nents behind an IOMMU)",
    args: z
      .object({
        device: z.string(),
        sgt: z.string(),
        dir: dirSchema,
        attrs: attrsSchema.optional(),
      })
      .strict(),
    refs: { device: { type: "device" }, sgt: { type: "sg_table" } },
    produces: "sg_mapping",
    requiresAs: true,
    run: (ctx, a) => {
      const dev = get<Device>(ctx, a.device, "device");
      const sgt = get<SgTable>(ctx, a.sgt, "sg_table");
      const attrs = attrBits(a.attrs);
      dmaMapSgtable(dev, sgt, DIRS[a.dir], attrs);
      const obj: SgMappingObject = { dev, sgt, dir: DIRS[a.dir], attrs, unmapped: false };
      return {
        object: obj,
        text: `${sgt.nents} DMA segment${sgt.nents === 1 ? "" : "s"} of ${sgt.origNents} entries`,
      };
    },
  }),
  defineOp({
    name: "dma_unmap_sgtable",
    layer: LAYER,
    summary: "unmap a mapped sg table (dir and attrs default to the map's)",
    args: z
      .object({ mapping: z.string(), dir: dirSchema.optional(), attrs: attrsSchema.optional() })
      .strict(),
    refs: { mapping: { type: "sg_mapping" } },
    primary: "mapping",
    run: (ctx, a) => {
      const m = get<SgMappingObject>(ctx, a.mapping, "sg_mapping");
      checkMapped(m, a.mapping);
      dmaUnmapSgtable(
        m.dev,
        m.sgt,
        a.dir ? DIRS[a.dir] : m.dir,
        a.attrs ? attrBits(a.attrs) : m.attrs,
      );
      m.unmapped = true;
    },
  }),
  ...(["dma_sync_sgtable_for_cpu", "dma_sync_sgtable_for_device"] as const).map((name) =>
    defineOp({
      name,
      layer: LAYER,
      summary: name.endsWith("cpu")
        ? "give a mapped sg table back to the CPU"
        : "give a mapped sg table to the device",
      args: z.object({ mapping: z.string(), dir: dirSchema.optional() }).strict(),
      refs: { mapping: { type: "sg_mapping" } },
      primary: "mapping",
      run: (ctx, a) => {
        const m = get<SgMappingObject>(ctx, a.mapping, "sg_mapping");
        (name.endsWith("cpu") ? dmaSyncSgtableForCpu : dmaSyncSgtableForDevice)(
          m.dev,
          m.sgt,
          a.dir ? DIRS[a.dir] : m.dir,
        );
      },
    }),
  ),
  defineOp({
    name: "dma_set_mask_and_coherent",
    layer: LAYER,
    summary: "set a device's streaming and coherent DMA masks (bits); EIO if unsupported",
    args: z.object({ device: z.string(), bits: z.number().int().min(1).max(64) }).strict(),
    refs: { device: { type: "device" } },
    run: (ctx, a) => {
      dmaSetMaskAndCoherent(get<Device>(ctx, a.device, "device"), DMA_BIT_MASK(a.bits));
    },
  }),
  defineOp({
    name: "dma_addressing_limited",
    layer: LAYER,
    summary: "value: whether the device cannot reach all of memory (its mappings may bounce)",
    args: z.object({ device: z.string() }).strict(),
    refs: { device: { type: "device" } },
    primary: "device",
    run: (ctx, a) => ({ value: dmaAddressingLimited(get<Device>(ctx, a.device, "device")) }),
  }),
  defineOp({
    name: "dma_max_mapping_size",
    layer: LAYER,
    summary: "value: the largest mapping the device can get (the swiotlb limit when it bounces)",
    args: z.object({ device: z.string() }).strict(),
    refs: { device: { type: "device" } },
    primary: "device",
    run: (ctx, a) => ({ value: dmaMaxMappingSize(get<Device>(ctx, a.device, "device")) }),
  }),
  defineOp({
    name: "dma_alloc_coherent",
    layer: LAYER,
    summary:
      "coherent memory for a device (uncached or write-combine CPU mapping on non-coherent devices)",
    args: z
      .object({ device: z.string(), size: sizeSchema, attrs: attrsSchema.optional() })
      .strict(),
    refs: { device: { type: "device" } },
    produces: "dma_mapping",
    requiresAs: true,
    run: (ctx, a) => {
      const dev = get<Device>(ctx, a.device, "device");
      const attrs = attrBits(a.attrs);
      const c = dmaAllocAttrs(dev, a.size, GFP_KERNEL, attrs);
      if (!c) {
        throw new KernelError("ENOMEM", `dma_alloc_coherent(${a.size}) failed`);
      }
      const obj: DmaMappingObject = {
        dev,
        kind: "coherent",
        addr: c.dmaHandle,
        size: a.size,
        dir: 0,
        attrs,
        cpuAddr: c.cpuAddr,
        unmapped: false,
      };
      return {
        object: obj,
        text: `dma 0x${c.dmaHandle.toString(16)}, cpu 0x${c.cpuAddr.toString(16)}`,
      };
    },
  }),
  defineOp({
    name: "dma_coherent_cpu_map",
    layer: LAYER,
    summary:
      "the CPU mapping of a coherent allocation (what dma_alloc_coherent returned as cpu_addr)",
    args: z.object({ dma: z.string() }).strict(),
    refs: { dma: { type: "dma_mapping" } },
    primary: "dma",
    produces: "mapping",
    requiresAs: true,
    run: (ctx, a) => {
      const m = get<DmaMappingObject>(ctx, a.dma, "dma_mapping");
      if (m.cpuAddr === undefined) {
        throw new KernelError("EINVAL", `${a.dma} is not a coherent allocation`);
      }
      machineOf(ctx.kernel);
      const obj: MappingObject = {
        kind: "vmap",
        segments: [{ va: m.cpuAddr, len: m.size }],
        size: m.size,
        prot: m.dev.coherent ? "cacheable" : "uncached",
      };
      return { object: obj };
    },
  }),
  defineOp({
    name: "dma_free_coherent",
    layer: LAYER,
    summary: "free a coherent allocation",
    args: z.object({ dma: z.string() }).strict(),
    refs: { dma: { type: "dma_mapping" } },
    primary: "dma",
    run: (ctx, a) => {
      const m = get<DmaMappingObject>(ctx, a.dma, "dma_mapping");
      if (m.cpuAddr === undefined) {
        throw new KernelError("EINVAL", `${a.dma} is not a coherent allocation`);
      }
      dmaFreeAttrs(m.dev, m.size, m.cpuAddr, m.addr, m.attrs);
      m.unmapped = true;
    },
  }),
] as unknown as readonly OpDef<never>[];

/** What layer 2 adds to scenarios: its operations, its options, and the leak check at the end. */
export const DMA_MAPPING_PART: RegistryPart = {
  ops: DMA_MAPPING_OPS,
  modules: [DMA_MAPPING_MODULE],
  hooks: {
    atEnd(ctx) {
      dmaDebugCheckLeaks(ctx.kernel);
    },
  },
};
