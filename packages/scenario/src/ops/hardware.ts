/**
 * Operations and sections of layer 1 (@dmasim/hardware): the platform, devices, pages, CPU
 * mappings and accesses, and explicit cache maintenance, evictions and prefetches.
 *
 * @module
 */
import {
  GFP_FLAGS,
  HARDWARE_MODULE,
  PLATFORM_ALIASES,
  PLATFORM_PRESETS,
  addDevice,
  allocPages,
  allocPagesBulk,
  cacheEvict,
  cachePrefetch,
  cpuRead,
  cpuWrite,
  createMachine,
  dcacheCleanInvalPoc,
  dcacheCleanPoc,
  dcacheInvalPoc,
  flushKernelVmapRange,
  freePages,
  getMachine,
  invalidateKernelVmapRange,
  pageAddress,
  pageToPhys,
  userRead,
  userWrite,
  vmap,
  vunmap,
  type CachePolicy,
  type Machine,
} from "@dmasim/hardware";
import { KernelError, PAGE_SIZE, isKernelError } from "@dmasim/kernel";
import { z } from "zod";
import { bytesSchema, hexSummary, toBytes } from "../bytes";
import { scenarioLayer } from "../layer";
import type { MappingObject, PagesObject } from "../objects";
import type { OpDef } from "../op";
import type { RegistryPart } from "../registry";
import { checkRange, compact, machineOf, sizeSchema, sliceSpans, type Span } from "./common";

const L = scenarioLayer("@dmasim/hardware");

/** The virtual-address pieces of bytes `[offset, offset + len)` of a mapping. */
export function mappingPieces(m: MappingObject, offset: number, len: number): Span[] {
  checkRange(m.size, offset, len, "mapping");
  return sliceSpans(
    m.segments.map((s) => ({ at: s.va, len: s.len })),
    offset,
    len,
  );
}

/** The physical pieces of bytes `[offset, offset + len)` of a page allocation. */
export function pagesPieces(p: PagesObject, offset: number, len: number): Span[] {
  checkRange(p.size, offset, len, "allocation");
  const block = PAGE_SIZE << p.order;
  const first = Math.floor(offset / block);
  function* blocks(): Generator<Span> {
    for (let i = first; i < p.pages.length; i++) {
      const page = p.pages[i];
      if (page) {
        yield { at: pageToPhys(page), len: block };
      }
    }
  }
  return sliceSpans(blocks(), offset - first * block, len);
}

const GFP = new Map<string, number>(Object.entries(GFP_FLAGS));
const gfpSchema = z
  .string()
  .refine((s) => s.split("|").every((part) => GFP.has(part.trim())), {
    message: `GFP flags joined by |, e.g. "GFP_KERNEL | __GFP_ZERO"`,
  })
  .meta({ title: "GFP flags" });
function parseGfp(s: string | undefined): number {
  return (s ?? "GFP_KERNEL").split("|").reduce((acc, part) => acc | (GFP.get(part.trim()) ?? 0), 0);
}

const presetName = z.enum([...Object.keys(PLATFORM_PRESETS), ...Object.keys(PLATFORM_ALIASES)]);
const cachePolicyName = z.enum(["none", "explore", "random"]);
const cachePolicySchema = z.union([
  cachePolicyName,
  z
    .object({
      name: cachePolicyName,
      evict: z.number().min(0).max(1).optional(),
      prefetch: z.number().min(0).max(1).optional(),
    })
    .strict(),
]);
const platformObject = z
  .object({
    preset: presetName,
    ram_size: sizeSchema.optional(),
    line_size: z.number().int().optional(),
    cache_indexing: z.enum(["pipt", "vipt", "vivt"]).optional(),
    cache_colours: z.number().int().min(1).optional(),
    cache_size: sizeSchema.optional(),
    cache_ways: z.number().int().min(1).optional(),
    speculative_prefetch: z.boolean().optional(),
    devices_coherent: z.boolean().optional(),
    snoop_clean: z.enum(["memory", "cache", "choice"]).optional(),
    zone_dma_limit: sizeSchema.optional(),
    swiotlb_size: sizeSchema.optional(),
    swiotlb_force: z.boolean().optional(),
    iommu_strict: z.boolean().optional(),
    invalidate_cleans: z.boolean().optional(),
    fragmentation: z.number().min(0).max(1).optional(),
    alloc_choices: z.number().int().min(1).max(2).optional(),
    cache_policy: cachePolicySchema.optional(),
    checker: z.boolean().optional(),
    history_depth: z.number().int().min(1).optional(),
  })
  .strict();
const platformSchema = z.union([presetName, platformObject]);
type PlatformValue = z.infer<typeof platformSchema>;

/** A cache policy by name (`explore` and `random` evict and prefetch with 0.05 each) or in full. */
function cachePolicy(v: z.infer<typeof cachePolicySchema> | undefined): CachePolicy | undefined {
  const o = typeof v === "string" ? { name: v, evict: 0.05, prefetch: 0.05 } : v;
  if (o === undefined || o.name === "none") {
    return o && { name: "none" };
  }
  return { name: o.name, evict: o.evict ?? 0, prefetch: o.prefetch ?? 0 };
}

function createPlatform(kernel: Parameters<typeof createMachine>[0], v: PlatformValue): void {
  if (typeof v === "string") {
    createMachine(kernel, v);
    return;
  }
  createMachine(
    kernel,
    v.preset,
    compact({
      ramSize: v.ram_size,
      lineSize: v.line_size,
      cacheIndexing: v.cache_indexing,
      cacheColours: v.cache_colours,
      cacheSize: v.cache_size,
      cacheWays: v.cache_ways,
      speculativePrefetch: v.speculative_prefetch,
      devicesCoherent: v.devices_coherent,
      snoopClean: v.snoop_clean,
      zoneDmaLimit: v.zone_dma_limit,
      swiotlbSize: v.swiotlb_size,
      swiotlbForce: v.swiotlb_force,
      iommuStrict: v.iommu_strict,
      invalidateCleans: v.invalidate_cleans,
      fragmentation: v.fragmentation,
      allocChoices: v.alloc_choices,
      cachePolicy: cachePolicy(v.cache_policy),
      checker: v.checker,
      historyDepth: v.history_depth,
    }),
  );
}

const platformSection = L.section({
  key: "platform",
  summary: "the machine: a preset (dmasim list platforms), or { preset, ...overrides }",
  schema: platformSchema,
  order: 10,
  override: (old, arg) => {
    const preset = presetName.parse(arg);
    return old === undefined || typeof old === "string" ? preset : { ...old, preset };
  },
  apply: (ctx, value) => createPlatform(ctx.kernel, value),
});

const deviceSchema = z
  .object({
    name: z.string().regex(/^[A-Za-z_][A-Za-z0-9_.-]*$/),
    coherent: z.boolean().optional(),
    dma_mask: z.number().int().min(1).max(64).optional(),
    coherent_dma_mask: z.number().int().min(1).max(64).optional(),
    bus_offset: z.number().int().optional(),
    bus_dma_limit: sizeSchema.optional(),
    iommu: z.enum(["dma", "dma-fq", "default", "identity"]).optional(),
    max_segment_size: sizeSchema.optional(),
    segment_boundary_mask: z.number().int().optional(),
    min_align_mask: z.number().int().optional(),
    untrusted: z.boolean().optional(),
  })
  .strict();

const devicesSection = L.section({
  key: "devices",
  summary: "bus-mastering devices: name, coherent, dma_mask (bits), iommu, untrusted, …",
  schema: z.array(deviceSchema),
  order: 20,
  names: (v) => v.map((d) => ({ name: d.name, type: "device" as const })),
  apply(ctx, devices) {
    const m = machineOf(ctx.kernel);
    for (const d of devices) {
      const spec = compact({
        coherent: d.coherent,
        dmaMask: d.dma_mask,
        coherentDmaMask: d.coherent_dma_mask,
        busOffset: d.bus_offset,
        busDmaLimit: d.bus_dma_limit,
        iommu: d.iommu,
        maxSegmentSize: d.max_segment_size,
        segmentBoundaryMask: d.segment_boundary_mask,
        minAlignMask: d.min_align_mask,
        untrusted: d.untrusted,
      });
      ctx.objects.set(d.name, "device", addDevice(m, { name: d.name, ...spec }));
    }
  },
});

const range = {
  offset: z.number().int().min(0).optional(),
  len: z.number().int().min(1).optional(),
};

/** A range operation on a mapping: `- evict: { mapping: lin, offset: 64, len: 64 }`. */
function rangeOp(
  name: string,
  summary: string,
  fn: (m: Machine, va: number, len: number, map: MappingObject) => void,
): OpDef {
  return L.op({
    name,
    summary,
    args: { mapping: L.ref("mapping"), ...range },
    primary: "mapping",
    run: (ctx, { mapping, offset = 0, len }) => {
      const m = machineOf(ctx.kernel);
      for (const p of mappingPieces(mapping, offset, len ?? mapping.size - offset)) {
        fn(m, p.at, p.len, mapping);
      }
    },
  });
}

/** The page frames of an allocation, in order. */
function pfnsOf(p: PagesObject): number[] {
  return p.pages.flatMap((pg) => Array.from({ length: 1 << p.order }, (_, i) => pg.pfn + i));
}

/** Page allocation and kernel mappings. **Kernel:** mm/page_alloc.c, mm/vmalloc.c. */
const MM_OPS: readonly OpDef[] = [
  L.op({
    name: "alloc_pages",
    summary: "allocate 2^order physically contiguous pages (gfp: GFP flags joined by |)",
    args: { order: z.number().int().min(0).max(10).optional(), gfp: gfpSchema.optional() },
    produces: "pages",
    requiresAs: true,
    run: (ctx, { order = 0, gfp }) => {
      const page = allocPages(machineOf(ctx.kernel), order, parseGfp(gfp));
      if (!page) {
        throw new KernelError("ENOMEM", `alloc_pages(order ${order}) failed`);
      }
      const size = PAGE_SIZE << order;
      return {
        object: { pages: [page], order, size },
        text: `pfn 0x${page.pfn.toString(16)}, ${size} bytes`,
      };
    },
  }),
  L.op({
    name: "alloc_pages_bulk",
    summary: "allocate `count` single pages (usually not contiguous)",
    args: { count: z.number().int().min(1), gfp: gfpSchema.optional() },
    produces: "pages",
    requiresAs: true,
    run: (ctx, { count, gfp }) => {
      const m = machineOf(ctx.kernel);
      const pages = allocPagesBulk(m, parseGfp(gfp), count);
      if (pages.length < count) {
        pages.forEach((p) => freePages(m, p, 0));
        throw new KernelError("ENOMEM", `alloc_pages_bulk: ${pages.length} of ${count} pages`);
      }
      return {
        object: { pages, order: 0, size: pages.length * PAGE_SIZE },
        text: pages.map((p) => `0x${p.pfn.toString(16)}`).join(" "),
      };
    },
  }),
  L.objectOp({
    name: "free_pages",
    summary: "free an allocation",
    arg: "pages",
    type: "pages",
    run: (p, ctx) => {
      const m = machineOf(ctx.kernel);
      p.pages.forEach((page) => freePages(m, page, p.order));
    },
  }),
  L.op({
    name: "linear_map",
    summary: "the kernel linear-map view (cacheable) of an allocation",
    args: { pages: L.ref("pages") },
    primary: "pages",
    produces: "mapping",
    requiresAs: true,
    run: (ctx, { pages }) => {
      const m = machineOf(ctx.kernel);
      const len = PAGE_SIZE << pages.order;
      const segments = pages.pages.map((pg) => ({ va: pageAddress(m, pg), len }));
      return { object: { kind: "linear", segments, size: pages.size, prot: "cacheable" } };
    },
  }),
  L.op({
    name: "vmap",
    summary:
      "map an allocation's pages contiguously in kernel virtual space (prot: cacheable, writecombine, uncached)",
    args: {
      pages: L.ref("pages"),
      prot: z.enum(["cacheable", "writecombine", "uncached"]).optional(),
    },
    produces: "mapping",
    requiresAs: true,
    run: (ctx, { pages, prot = "cacheable" }) => {
      const va = vmap(machineOf(ctx.kernel), pfnsOf(pages), prot);
      if (va === null) {
        throw new KernelError("ENOMEM", "vmap failed");
      }
      const segments = [{ va, len: pages.size }];
      return {
        object: { kind: "vmap", segments, size: pages.size, prot },
        text: `va 0x${va.toString(16)}`,
      };
    },
  }),
  L.op({
    name: "vunmap",
    summary: "remove a vmap",
    args: { mapping: L.ref("mapping") },
    primary: "mapping",
    run: (ctx, { mapping }, names) => {
      const start = mapping.segments[0];
      if (mapping.kind !== "vmap" || !start) {
        throw new KernelError(
          "EINVAL",
          `${names.mapping} is a ${mapping.kind} mapping, not a vmap`,
        );
      }
      vunmap(machineOf(ctx.kernel), start.va);
    },
  }),
];

/** CPU accesses through a mapping (a user mapping faults its pages in as user space would). */
const CPU_OPS: readonly OpDef[] = [
  L.op({
    name: "cpu_write",
    summary: "the CPU stores bytes through a mapping",
    args: {
      mapping: L.ref("mapping"),
      offset: z.number().int().min(0).optional(),
      data: bytesSchema,
    },
    run: async (ctx, { mapping, offset = 0, data }) => {
      const m = machineOf(ctx.kernel);
      const bytes = toBytes(data);
      let at = 0;
      for (const p of mappingPieces(mapping, offset, bytes.length)) {
        const chunk = bytes.subarray(at, at + p.len);
        if (mapping.proc) {
          await userWrite(m, mapping.proc, p.at, chunk);
        } else {
          cpuWrite(m, p.at, chunk);
        }
        at += p.len;
      }
      return { text: `${bytes.length} bytes: ${hexSummary(bytes)}` };
    },
  }),
  L.op({
    name: "cpu_read",
    summary: "the CPU loads bytes through a mapping; value: the bytes",
    args: {
      mapping: L.ref("mapping"),
      offset: z.number().int().min(0).optional(),
      len: z.number().int().min(1),
    },
    run: async (ctx, { mapping, offset = 0, len }) => {
      const m = machineOf(ctx.kernel);
      const out = new Uint8Array(len);
      let at = 0;
      for (const p of mappingPieces(mapping, offset, len)) {
        const proc = mapping.proc;
        out.set(proc ? await userRead(m, proc, p.at, p.len) : cpuRead(m, p.at, p.len), at);
        at += p.len;
      }
      return { value: out };
    },
  }),
];

/** Explicit cache maintenance, evictions and prefetches. **Kernel:** arch cache maintenance. */
const CACHE_OPS: readonly OpDef[] = [
  rangeOp(
    "dcache_clean_poc",
    "arm64: write dirty lines of the range back to memory (DC CVAC)",
    (m, va, len) => dcacheCleanPoc(m, va, va + len),
  ),
  rangeOp(
    "dcache_inval_poc",
    "arm64: invalidate the range (partial edge lines cleaned first)",
    (m, va, len) => dcacheInvalPoc(m, va, va + len),
  ),
  rangeOp(
    "dcache_clean_inval_poc",
    "arm64: clean and invalidate the range (DC CIVAC)",
    (m, va, len) => dcacheCleanInvalPoc(m, va, va + len),
  ),
  rangeOp(
    "flush_kernel_vmap_range",
    "write back a vmap alias's lines (no-op on non-aliasing caches)",
    flushKernelVmapRange,
  ),
  rangeOp(
    "invalidate_kernel_vmap_range",
    "discard a vmap alias's lines (no-op on non-aliasing caches)",
    invalidateKernelVmapRange,
  ),
  rangeOp(
    "evict",
    "force the cache to evict the lines of a range (dirty ones are written back)",
    (m, va, len, map) => cacheEvict(m, va, len, map.proc),
  ),
  rangeOp(
    "prefetch",
    "force a speculative load of the lines of a range through its mapping",
    (m, va, len, map) => cachePrefetch(m, va, len, map.proc),
  ),
];

/** The layer-1 operations. **Kernel:** mm/page_alloc.c, mm/vmalloc.c, arch cache maintenance. */
export const HARDWARE_OPS: readonly OpDef[] = [...MM_OPS, ...CPU_OPS, ...CACHE_OPS];

/** What layer 1 adds to scenarios. **Kernel:** none. */
export const HARDWARE_PART: RegistryPart = {
  ops: HARDWARE_OPS,
  sections: [platformSection, devicesSection],
  modules: [HARDWARE_MODULE],
  hooks: {
    afterStep(ctx) {
      try {
        getMachine(ctx.kernel).tick();
      } catch (e) {
        if (!isKernelError(e, "ENODEV")) {
          throw e;
        }
      }
    },
  },
};
