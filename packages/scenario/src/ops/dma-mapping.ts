/**
 * Operations of layer 2 (@dmasim/dma-mapping): the streaming DMA API (single buffers, pages, sg
 * tables), syncs, coherent allocations, and the end-of-run dma-debug leak check.
 *
 * @module
 */
import { DMA_BIT_MASK, GFP_KERNEL, pfnToPage, type Device } from "@dmasim/hardware";
import {
  DMA_ATTRS,
  DMA_DIRECTIONS,
  DMA_MAPPING_ERROR,
  DMA_MAPPING_MODULE,
  dmaAddressingLimited,
  dmaAllocAttrs,
  dmaDebugCheckLeaks,
  dmaFreeAttrs,
  dmaMapPageAttrs,
  dmaMapSgtable,
  dmaMapSingleAttrs,
  dmaMappingError,
  dmaMaxMappingSize,
  dmaSetMaskAndCoherent,
  dmaSyncSgtableForCpu,
  dmaSyncSgtableForDevice,
  dmaSyncSingleForCpu,
  dmaSyncSingleForDevice,
  dmaUnmapPageAttrs,
  dmaUnmapSgtable,
  sgAllocTableFromPages,
  sgFreeTable,
  sgtDmaRanges,
  type DmaDirectionName,
} from "@dmasim/dma-mapping";
import { KernelError, PAGE_SIZE } from "@dmasim/kernel";
import { z } from "zod";
import { scenarioLayer } from "../layer";
import type { DmaMappingObject, ObjectTypes, SgMappingObject } from "../objects";
import type { OpDef } from "../op";
import type { RegistryPart } from "../registry";
import { anyDirSchema, checkRange, machineOf, sizeSchema, type Span } from "./common";
import { mappingPieces } from "./hardware";

const L = scenarioLayer("@dmasim/dma-mapping");

const ATTRS = new Map<string, number>(Object.entries(DMA_ATTRS));
const ATTR_NAMES = [...ATTRS.keys()].sort();
const attrsSchema = z
  .array(
    z.string().refine((a) => ATTRS.has(a) || ATTRS.has(`DMA_ATTR_${a}`), {
      message: `an attribute: ${ATTR_NAMES.join(", ")}`,
    }),
  )
  .meta({ title: "DMA_ATTR_*[]" });
function attrBits(list: readonly string[] | undefined): number {
  const bit = (a: string) => ATTRS.get(a) ?? ATTRS.get(`DMA_ATTR_${a}`) ?? 0;
  return (list ?? []).reduce((acc, a) => acc | bit(a), 0);
}

/** A direction given by name, or the mapping's own. */
function dirOr(name: DmaDirectionName | undefined, own: number): number {
  return name ? DMA_DIRECTIONS[name] : own;
}

/** A DMA mapping or a mapped sg table, as `refAny("dma_mapping", "sg_mapping")` resolves it. */
export type DmaTarget =
  | { readonly type: "dma_mapping"; readonly value: DmaMappingObject }
  | { readonly type: "sg_mapping"; readonly value: SgMappingObject };

/**
 * The DMA address pieces of `[offset, offset + len)` of a DMA mapping or a mapped sg table (walking
 * its DMA segments, `nents` of them, as an importer must).
 *
 * @throws {@link KernelError} `EFAULT` when the range lies outside the mapping
 */
export function dmaPieces(target: DmaTarget, offset: number, len: number): Span[] {
  if (target.type === "dma_mapping") {
    checkRange(target.value.size, offset, len, "DMA mapping");
    return [{ at: target.value.addr + offset, len }];
  }
  const ranges = sgtDmaRanges(target.value.sgt, offset, len);
  if (!ranges) {
    throw new KernelError(
      "EFAULT",
      `bytes ${offset}..${offset + len} lie outside the mapped sg table`,
    );
  }
  return ranges.map((r) => ({ at: r.addr, len: r.len }));
}

const mapArgs = {
  device: L.ref("device"),
  offset: z.number().int().min(0).optional(),
  size: sizeSchema.optional(),
  dir: anyDirSchema,
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
  return {
    object: { dev, kind, addr, size, dir, attrs, unmapped: false },
    text: addr === DMA_MAPPING_ERROR ? "DMA_MAPPING_ERROR" : `dma 0x${addr.toString(16)}`,
  };
}

/** A coherent allocation's CPU address, or EINVAL for another mapping. */
function coherentCpuAddr(m: DmaMappingObject, name: string): number {
  if (m.cpuAddr === undefined) {
    throw new KernelError("EINVAL", `${name} is not a coherent allocation`);
  }
  return m.cpuAddr;
}

/** A sync of a single/page mapping (or a range of it) for the CPU or the device. */
function syncSingleOp(name: string, summary: string, fn: typeof dmaSyncSingleForCpu): OpDef {
  return L.op({
    name,
    summary,
    args: {
      dma: L.ref("dma_mapping"),
      offset: z.number().int().min(0).optional(),
      size: sizeSchema.optional(),
      dir: anyDirSchema.optional(),
    },
    primary: "dma",
    run: (_ctx, { dma, offset = 0, size, dir }) => {
      fn(dma.dev, dma.addr + offset, size ?? dma.size - offset, dirOr(dir, dma.dir));
    },
  });
}

/** A sync of a mapped sg table for the CPU or the device. */
function syncSgtableOp(name: string, summary: string, fn: typeof dmaSyncSgtableForCpu): OpDef {
  return L.op({
    name,
    summary,
    args: { mapping: L.ref("sg_mapping"), dir: anyDirSchema.optional() },
    primary: "mapping",
    run: (_ctx, { mapping, dir }) => {
      fn(mapping.dev, mapping.sgt, dirOr(dir, mapping.dir));
    },
  });
}

/** The streaming API for single buffers and pages. **Kernel:** kernel/dma/mapping.c. */
const STREAMING_OPS: readonly OpDef[] = [
  L.op({
    name: "dma_map_single",
    summary:
      "map a kernel buffer (a linear-map mapping) for a device; check the result with dma_mapping_error",
    args: { ...mapArgs, mapping: L.ref("mapping") },
    produces: "dma_mapping",
    requiresAs: true,
    run: (_ctx, { device, mapping, offset = 0, size, dir, attrs }) => {
      const len = size ?? mapping.size - offset;
      const [first] = mappingPieces(mapping, offset, len);
      const bits = attrBits(attrs);
      const addr = dmaMapSingleAttrs(device, first?.at ?? 0, len, DMA_DIRECTIONS[dir], bits);
      return streamingMapping(device, "single", addr, len, DMA_DIRECTIONS[dir], bits);
    },
  }),
  L.op({
    name: "dma_map_page",
    summary: "map part of a page allocation for a device (dma_map_page_attrs)",
    args: { ...mapArgs, pages: L.ref("pages") },
    produces: "dma_mapping",
    requiresAs: true,
    run: (_ctx, { device, pages, offset = 0, size, dir, attrs }, names) => {
      const len = size ?? pages.size - offset;
      const block = PAGE_SIZE << pages.order;
      const page = pages.pages[Math.floor(offset / block)];
      if (!page || (offset % block) + len > block) {
        throw new KernelError(
          "EINVAL",
          `dma_map_page: ${offset}+${len} does not lie within one contiguous block of ${names.pages}`,
        );
      }
      const bits = attrBits(attrs);
      const addr = dmaMapPageAttrs(device, page, offset % block, len, DMA_DIRECTIONS[dir], bits);
      return streamingMapping(device, "page", addr, len, DMA_DIRECTIONS[dir], bits);
    },
  }),
  L.objectOp({
    name: "dma_mapping_error",
    summary:
      "check a mapping's address (dma-debug records that it was checked); value: true if it failed",
    arg: "dma",
    type: "dma_mapping",
    run: (dma) => ({ value: dmaMappingError(dma.dev, dma.addr) }),
  }),
  L.op({
    name: "dma_unmap",
    summary:
      "unmap a single/page mapping (size, dir and attrs default to the map's; override to misuse)",
    args: {
      dma: L.ref("dma_mapping"),
      size: sizeSchema.optional(),
      dir: anyDirSchema.optional(),
      attrs: attrsSchema.optional(),
    },
    primary: "dma",
    run: (_ctx, { dma, size, dir, attrs }, names) => {
      if (dma.kind === "coherent") {
        throw new KernelError(
          "EINVAL",
          `${names.dma} is a coherent allocation: use dma_free_coherent`,
        );
      }
      const bits = attrs ? attrBits(attrs) : dma.attrs;
      dmaUnmapPageAttrs(dma.dev, dma.addr, size ?? dma.size, dirOr(dir, dma.dir), bits);
      dma.unmapped = true;
    },
  }),
  syncSingleOp(
    "dma_sync_single_for_cpu",
    "give a mapping (or a range of it) back to the CPU: invalidate / copy bounce data back",
    dmaSyncSingleForCpu,
  ),
  syncSingleOp(
    "dma_sync_single_for_device",
    "give a mapping (or a range of it) to the device: copy into the bounce buffer / clean",
    dmaSyncSingleForDevice,
  ),
];

/** sg tables and their mappings. **Kernel:** lib/scatterlist.c, kernel/dma/mapping.c. */
const SGTABLE_OPS: readonly OpDef[] = [
  L.op({
    name: "sg_alloc_table_from_pages",
    summary: "an sg table over a page allocation (contiguous pages merge into one entry)",
    args: {
      pages: L.ref("pages"),
      offset: z.number().int().min(0).optional(),
      size: sizeSchema.optional(),
    },
    primary: "pages",
    produces: "sg_table",
    requiresAs: true,
    run: (ctx, { pages, offset = 0, size }) => {
      const m = machineOf(ctx.kernel);
      const each = pages.pages.flatMap((pg) =>
        Array.from({ length: 1 << pages.order }, (_, i) =>
          i === 0 ? pg : pfnToPage(m, pg.pfn + i),
        ),
      );
      const sgt = sgAllocTableFromPages(ctx.kernel, each, offset, size ?? pages.size - offset);
      return { object: sgt, text: `${sgt.origNents} entries` };
    },
  }),
  L.objectOp({
    name: "sg_free_table",
    summary: "free an sg table",
    arg: "sgt",
    type: "sg_table",
    run: (sgt) => sgFreeTable(sgt),
  }),
  L.op({
    name: "dma_map_sgtable",
    summary: "map an sg table for a device (nents may be fewer than orig_nents behind an IOMMU)",
    args: {
      device: L.ref("device"),
      sgt: L.ref("sg_table"),
      dir: anyDirSchema,
      attrs: attrsSchema.optional(),
    },
    produces: "sg_mapping",
    requiresAs: true,
    run: (_ctx, { device, sgt, dir, attrs }) => {
      const bits = attrBits(attrs);
      dmaMapSgtable(device, sgt, DMA_DIRECTIONS[dir], bits);
      const object = { dev: device, sgt, dir: DMA_DIRECTIONS[dir], attrs: bits, unmapped: false };
      const segs = `${sgt.nents} DMA segment${sgt.nents === 1 ? "" : "s"}`;
      return { object, text: `${segs} of ${sgt.origNents} entries` };
    },
  }),
  L.op({
    name: "dma_unmap_sgtable",
    summary: "unmap a mapped sg table (dir and attrs default to the map's)",
    args: {
      mapping: L.ref("sg_mapping"),
      dir: anyDirSchema.optional(),
      attrs: attrsSchema.optional(),
    },
    primary: "mapping",
    run: (_ctx, { mapping, dir, attrs }, names) => {
      if (mapping.unmapped) {
        throw new KernelError("EINVAL", `${names.mapping} is already unmapped`);
      }
      const bits = attrs ? attrBits(attrs) : mapping.attrs;
      dmaUnmapSgtable(mapping.dev, mapping.sgt, dirOr(dir, mapping.dir), bits);
      mapping.unmapped = true;
    },
  }),
  syncSgtableOp(
    "dma_sync_sgtable_for_cpu",
    "give a mapped sg table back to the CPU",
    dmaSyncSgtableForCpu,
  ),
  syncSgtableOp(
    "dma_sync_sgtable_for_device",
    "give a mapped sg table to the device",
    dmaSyncSgtableForDevice,
  ),
];

/** Device masks and limits. **Kernel:** kernel/dma/mapping.c. */
const DEVICE_OPS: readonly OpDef[] = [
  L.op({
    name: "dma_set_mask_and_coherent",
    summary: "set a device's streaming and coherent DMA masks (bits); EIO if unsupported",
    args: { device: L.ref("device"), bits: z.number().int().min(1).max(64) },
    run: (_ctx, { device, bits }) => dmaSetMaskAndCoherent(device, DMA_BIT_MASK(bits)),
  }),
  L.objectOp({
    name: "dma_addressing_limited",
    summary: "value: whether the device cannot reach all of memory (its mappings may bounce)",
    arg: "device",
    type: "device",
    run: (dev) => ({ value: dmaAddressingLimited(dev) }),
  }),
  L.objectOp({
    name: "dma_max_mapping_size",
    summary: "value: the largest mapping the device can get (the swiotlb limit when it bounces)",
    arg: "device",
    type: "device",
    run: (dev) => ({ value: dmaMaxMappingSize(dev) }),
  }),
];

/** Coherent allocations. **Kernel:** kernel/dma/mapping.c (`dma_alloc_attrs`, `dma_free_attrs`). */
const COHERENT_OPS: readonly OpDef[] = [
  L.op({
    name: "dma_alloc_coherent",
    summary:
      "coherent memory for a device (uncached or write-combine CPU mapping on non-coherent devices)",
    args: { device: L.ref("device"), size: sizeSchema, attrs: attrsSchema.optional() },
    produces: "dma_mapping",
    requiresAs: true,
    run: (_ctx, { device, size, attrs }) => {
      const bits = attrBits(attrs);
      const c = dmaAllocAttrs(device, size, GFP_KERNEL, bits);
      if (!c) {
        throw new KernelError("ENOMEM", `dma_alloc_coherent(${size}) failed`);
      }
      const object: ObjectTypes["dma_mapping"] = {
        dev: device,
        kind: "coherent",
        addr: c.dmaHandle,
        size,
        dir: 0,
        attrs: bits,
        cpuAddr: c.cpuAddr,
        unmapped: false,
      };
      return {
        object,
        text: `dma 0x${c.dmaHandle.toString(16)}, cpu 0x${c.cpuAddr.toString(16)}`,
      };
    },
  }),
  L.op({
    name: "dma_coherent_cpu_map",
    summary:
      "the CPU mapping of a coherent allocation (what dma_alloc_coherent returned as cpu_addr)",
    args: { dma: L.ref("dma_mapping") },
    primary: "dma",
    produces: "mapping",
    requiresAs: true,
    run: (ctx, { dma }, names) => {
      const va = coherentCpuAddr(dma, names.dma);
      machineOf(ctx.kernel);
      const prot = dma.dev.coherent ? "cacheable" : "uncached";
      return { object: { kind: "vmap", segments: [{ va, len: dma.size }], size: dma.size, prot } };
    },
  }),
  L.op({
    name: "dma_free_coherent",
    summary: "free a coherent allocation",
    args: { dma: L.ref("dma_mapping") },
    primary: "dma",
    run: (_ctx, { dma }, names) => {
      dmaFreeAttrs(dma.dev, dma.size, coherentCpuAddr(dma, names.dma), dma.addr, dma.attrs);
      dma.unmapped = true;
    },
  }),
];

/** The layer-2 operations. **Kernel:** kernel/dma/mapping.c, lib/scatterlist.c. */
export const DMA_MAPPING_OPS: readonly OpDef[] = [
  ...STREAMING_OPS,
  ...SGTABLE_OPS,
  ...DEVICE_OPS,
  ...COHERENT_OPS,
];

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
