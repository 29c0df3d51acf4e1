/**
 * Operations and sections of layer 1 (@dmasim/hardware): the platform, devices, pages, CPU
 * mappings and accesses, device accesses at physical addresses, and explicit cache maintenance,
 * evictions and prefetches.
 *
 * @module
 */
import * as hw from "@dmasim/hardware";
import {
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
  vmap,
  vunmap,
  type Machine,
  type Page,
  type PlatformConfig,
} from "@dmasim/hardware";
import {
  KernelError,
  PAGE_SIZE,
  isKernelError,
  type Kernel,
  type PageProt,
  type Process,
} from "@dmasim/kernel";
import { z } from "zod";
import { bytesSchema, hexSummary, toBytes } from "../bytes";
import { defineOp, type OpDef } from "../op";
import type { RegistryPart, SectionDef } from "../registry";

const LAYER = "@dmasim/hardware";

/** An allocation of pages: one high-order block, or several scattered pages. */
export interface PagesObject {
  readonly pages: readonly Page[];
  /** Pages per entry (1 << order). */
  readonly order: number;
  readonly size: number;
}

/** A CPU view of memory: the linear map, a vmap, or a user mapping; contiguous in virtual space or not. */
export interface MappingObject {
  readonly kind: "linear" | "vmap" | "user";
  readonly segments: readonly { readonly va: number; readonly len: number }[];
  readonly size: number;
  readonly proc?: Process;
  readonly prot: PageProt;
}

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

/** Split `[offset, offset + len)` of a mapping into virtual-address pieces. */
export function mappingPieces(
  m: MappingObject,
  offset: number,
  len: number,
): { va: number; len: number }[] {
  if (offset < 0 || len < 0 || offset + len > m.size) {
    throw new KernelError(
      "EFAULT",
      `bytes ${offset}..${offset + len} lie outside the ${m.size}-byte mapping`,
    );
  }
  const out: { va: number; len: number }[] = [];
  let skip = offset;
  let left = len;
  for (const s of m.segments) {
    if (left === 0) {
      break;
    }
    if (skip >= s.len) {
      skip -= s.len;
      continue;
    }
    const n = Math.min(s.len - skip, left);
    out.push({ va: s.va + skip, len: n });
    left -= n;
    skip = 0;
  }
  return out;
}

/** Physical pieces of `[offset, offset + len)` of a page allocation. */
export function pagesPieces(
  p: PagesObject,
  offset: number,
  len: number,
): { pa: number; len: number }[] {
  if (offset < 0 || len < 0 || offset + len > p.size) {
    throw new KernelError(
      "EFAULT",
      `bytes ${offset}..${offset + len} lie outside the ${p.size}-byte allocation`,
    );
  }
  const block = PAGE_SIZE << p.order;
  const out: { pa: number; len: number }[] = [];
  let at = offset;
  let left = len;
  while (left > 0) {
    const page = p.pages[Math.floor(at / block)] as Page;
    const within = at % block;
    const n = Math.min(block - within, left);
    out.push({ pa: pageToPhys(page) + within, len: n });
    at += n;
    left -= n;
  }
  return out;
}

const GFP_NAMES = Object.keys(hw).filter((k) => /^_{0,2}GFP_/.test(k));
const gfpSchema = z
  .string()
  .refine((s) => s.split("|").every((part) => GFP_NAMES.includes(part.trim())), {
    message: `GFP flags joined by |, e.g. "GFP_KERNEL | __GFP_ZERO"`,
  });
function parseGfp(s: string): number {
  return s
    .split("|")
    .reduce((acc, part) => acc | ((hw as unknown as Record<string, number>)[part.trim()] ?? 0), 0);
}

/** Sizes: a number of bytes, or `"64K"`, `"2M"`, `"1G"`. */
export const sizeSchema = z.union([
  z.number().int().min(0),
  z
    .string()
    .regex(/^\d+\s*[KMG]i?B?$/i, { message: 'a size such as 4096, "64K", "2M" or "1G"' })
    .transform((s) => {
      const m = /^(\d+)\s*([KMG])/i.exec(s) as RegExpExecArray;
      const unit = { K: 1024, M: 1024 ** 2, G: 1024 ** 3 }[
        (m[2] as string).toUpperCase() as "K" | "M" | "G"
      ];
      return Number(m[1]) * unit;
    }),
]);

const presetName = z.enum([...Object.keys(PLATFORM_PRESETS), ...Object.keys(PLATFORM_ALIASES)] as [
  string,
  ...string[],
]);
const cachePolicySchema = z.union([
  z.enum(["none", "explore", "random"]),
  z
    .object({
      name: z.enum(["none", "explore", "random"]),
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

const FIELD: Record<string, keyof PlatformConfig> = {
  ram_size: "ramSize",
  line_size: "lineSize",
  cache_indexing: "cacheIndexing",
  cache_colours: "cacheColours",
  cache_size: "cacheSize",
  cache_ways: "cacheWays",
  speculative_prefetch: "speculativePrefetch",
  devices_coherent: "devicesCoherent",
  snoop_clean: "snoopClean",
  zone_dma_limit: "zoneDmaLimit",
  swiotlb_size: "swiotlbSize",
  swiotlb_force: "swiotlbForce",
  iommu_strict: "iommuStrict",
  invalidate_cleans: "invalidateCleans",
  fragmentation: "fragmentation",
  alloc_choices: "allocChoices",
  checker: "checker",
  history_depth: "historyDepth",
};

const platformSection: SectionDef<PlatformValue> = {
  key: "platform",
  layer: LAYER,
  summary: "the machine: a preset (dmasim list platforms), or { preset, ...overrides }",
  schema: platformSchema,
  order: 10,
  override: (old, arg) => {
    const preset = presetName.parse(arg);
    return old === undefined || typeof old === "string" ? preset : { ...old, preset };
  },
  apply(ctx, value) {
    if (typeof value === "string") {
      createMachine(ctx.kernel, value);
      return;
    }
    const overrides: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) {
      if (k === "cache_policy") {
        overrides.cachePolicy =
          typeof v === "string"
            ? { ...(v === "none" ? {} : { evict: 0.05, prefetch: 0.05 }), name: v }
            : v;
      } else if (FIELD[k]) {
        overrides[FIELD[k]] = v;
      }
    }
    createMachine(ctx.kernel, value.preset, overrides as Partial<PlatformConfig>);
  },
};

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
type DeviceValue = z.infer<typeof deviceSchema>;

const devicesSection: SectionDef<DeviceValue[]> = {
  key: "devices",
  layer: LAYER,
  summary: "bus-mastering devices: name, coherent, dma_mask (bits), iommu, untrusted, …",
  schema: z.array(deviceSchema),
  order: 20,
  names: (v) => v.map((d) => ({ name: d.name, type: "device" })),
  apply(ctx, devices) {
    const m = machineOf(ctx.kernel);
    for (const d of devices) {
      const dev = addDevice(m, {
        name: d.name,
        ...(d.coherent !== undefined ? { coherent: d.coherent } : {}),
        ...(d.dma_mask !== undefined ? { dmaMask: d.dma_mask } : {}),
        ...(d.coherent_dma_mask !== undefined ? { coherentDmaMask: d.coherent_dma_mask } : {}),
        ...(d.bus_offset !== undefined ? { busOffset: d.bus_offset } : {}),
        ...(d.bus_dma_limit !== undefined ? { busDmaLimit: d.bus_dma_limit } : {}),
        ...(d.iommu !== undefined ? { iommu: d.iommu } : {}),
        ...(d.max_segment_size !== undefined ? { maxSegmentSize: d.max_segment_size } : {}),
        ...(d.segment_boundary_mask !== undefined
          ? { segmentBoundaryMask: d.segment_boundary_mask }
          : {}),
        ...(d.min_align_mask !== undefined ? { minAlignMask: d.min_align_mask } : {}),
        ...(d.untrusted !== undefined ? { untrusted: d.untrusted } : {}),
      });
      ctx.objects.set(d.name, "device", dev);
    }
  },
};

const range = {
  offset: z.number().int().min(0).optional(),
  len: z.number().int().min(1).optional(),
};
const mappingRange = z.object({ mapping: z.string(), ...range }).strict();

function pieces(
  ctx: { objects: { get<T>(n: string, t: string): T } },
  a: { mapping: string; offset?: number | undefined; len?: number | undefined },
) {
  const map = ctx.objects.get<MappingObject>(a.mapping, "mapping");
  const offset = a.offset ?? 0;
  return { map, parts: mappingPieces(map, offset, a.len ?? map.size - offset) };
}

function maintenance(
  name: string,
  summary: string,
  fn: (m: Machine, va: number, len: number) => void,
) {
  return defineOp({
    name,
    layer: LAYER,
    summary,
    args: mappingRange,
    refs: { mapping: { type: "mapping" } },
    primary: "mapping",
    run: (ctx, a) => {
      const m = machineOf(ctx.kernel);
      for (const p of pieces(ctx, a).parts) {
        fn(m, p.va, p.len);
      }
    },
  });
}

/** The layer-1 operations. **Kernel:** mm/page_alloc.c, mm/vmalloc.c, arch cache maintenance. */
export const HARDWARE_OPS = [
  defineOp({
    name: "alloc_pages",
    layer: LAYER,
    summary: "allocate 2^order physically contiguous pages (gfp: GFP flags joined by |)",
    args: z
      .object({ order: z.number().int().min(0).max(10).optional(), gfp: gfpSchema.optional() })
      .strict(),
    produces: "pages",
    requiresAs: true,
    run: (ctx, a) => {
      const m = machineOf(ctx.kernel);
      const order = a.order ?? 0;
      const page = allocPages(m, order, parseGfp(a.gfp ?? "GFP_KERNEL"));
      if (!page) {
        throw new KernelError("ENOMEM", `alloc_pages(order ${order}) failed`);
      }
      const obj: PagesObject = { pages: [page], order, size: PAGE_SIZE << order };
      return { object: obj, text: `pfn 0x${page.pfn.toString(16)}, ${obj.size} bytes` };
    },
  }),
  defineOp({
    name: "alloc_pages_bulk",
    layer: LAYER,
    summary: "allocate `count` single pages (usually not contiguous)",
    args: z.object({ count: z.number().int().min(1), gfp: gfpSchema.optional() }).strict(),
    produces: "pages",
    requiresAs: true,
    run: (ctx, a) => {
      const m = machineOf(ctx.kernel);
      const pages = allocPagesBulk(m, parseGfp(a.gfp ?? "GFP_KERNEL"), a.count);
      if (pages.length < a.count) {
        for (const p of pages) {
          freePages(m, p, 0);
        }
        throw new KernelError("ENOMEM", `alloc_pages_bulk: ${pages.length} of ${a.count} pages`);
      }
      return {
        object: { pages, order: 0, size: pages.length * PAGE_SIZE } satisfies PagesObject,
        text: pages.map((p) => `0x${p.pfn.toString(16)}`).join(" "),
      };
    },
  }),
  defineOp({
    name: "free_pages",
    layer: LAYER,
    summary: "free an allocation",
    args: z.object({ pages: z.string() }).strict(),
    refs: { pages: { type: "pages" } },
    primary: "pages",
    run: (ctx, a) => {
      const m = machineOf(ctx.kernel);
      const p = ctx.objects.get<PagesObject>(a.pages, "pages");
      for (const page of p.pages) {
        freePages(m, page, p.order);
      }
    },
  }),
  defineOp({
    name: "linear_map",
    layer: LAYER,
    summary: "the kernel linear-map view (cacheable) of an allocation",
    args: z.object({ pages: z.string() }).strict(),
    refs: { pages: { type: "pages" } },
    primary: "pages",
    produces: "mapping",
    requiresAs: true,
    run: (ctx, a) => {
      const m = machineOf(ctx.kernel);
      const p = ctx.objects.get<PagesObject>(a.pages, "pages");
      const len = PAGE_SIZE << p.order;
      const obj: MappingObject = {
        kind: "linear",
        segments: p.pages.map((pg) => ({ va: pageAddress(m, pg), len })),
        size: p.size,
        prot: "cacheable",
      };
      return { object: obj };
    },
  }),
  defineOp({
    name: "vmap",
    layer: LAYER,
    summary:
      "map an allocation's pages contiguously in kernel virtual space (prot: cacheable, writecombine, uncached)",
    args: z
      .object({
        pages: z.string(),
        prot: z.enum(["cacheable", "writecombine", "uncached"]).optional(),
      })
      .strict(),
    refs: { pages: { type: "pages" } },
    produces: "mapping",
    requiresAs: true,
    run: (ctx, a) => {
      const m = machineOf(ctx.kernel);
      const p = ctx.objects.get<PagesObject>(a.pages, "pages");
      const pfns = p.pages.flatMap((pg) =>
        Array.from({ length: 1 << p.order }, (_, i) => pg.pfn + i),
      );
      const prot = a.prot ?? "cacheable";
      const va = vmap(m, pfns, prot);
      if (va === null) {
        throw new KernelError("ENOMEM", "vmap failed");
      }
      return {
        object: {
          kind: "vmap",
          segments: [{ va, len: p.size }],
          size: p.size,
          prot,
        } satisfies MappingObject,
        text: `va 0x${va.toString(16)}`,
      };
    },
  }),
  defineOp({
    name: "vunmap",
    layer: LAYER,
    summary: "remove a vmap",
    args: z.object({ mapping: z.string() }).strict(),
    refs: { mapping: { type: "mapping" } },
    primary: "mapping",
    run: (ctx, a) => {
      const map = ctx.objects.get<MappingObject>(a.mapping, "mapping");
      if (map.kind !== "vmap") {
        throw new KernelError("EINVAL", `${a.mapping} is a ${map.kind} mapping, not a vmap`);
      }
      vunmap(machineOf(ctx.kernel), (map.segments[0] as { va: number }).va);
    },
  }),
  defineOp({
    name: "cpu_write",
    layer: LAYER,
    summary: "the CPU stores bytes through a mapping",
    args: z
      .object({
        mapping: z.string(),
        offset: z.number().int().min(0).optional(),
        data: bytesSchema,
      })
      .strict(),
    refs: { mapping: { type: "mapping" } },
    run: async (ctx, a) => {
      const m = machineOf(ctx.kernel);
      const data = toBytes(a.data);
      const map = ctx.objects.get<MappingObject>(a.mapping, "mapping");
      let at = 0;
      for (const p of mappingPieces(map, a.offset ?? 0, data.length)) {
        const chunk = data.subarray(at, at + p.len);
        if (map.proc) {
          await hw.userWrite(m, map.proc, p.va, chunk);
        } else {
          cpuWrite(m, p.va, chunk);
        }
        at += p.len;
      }
      return { text: `${data.length} bytes: ${hexSummary(data)}` };
    },
  }),
  defineOp({
    name: "cpu_read",
    layer: LAYER,
    summary: "the CPU loads bytes through a mapping; value: the bytes",
    args: z
      .object({
        mapping: z.string(),
        offset: z.number().int().min(0).optional(),
        len: z.number().int().min(1),
      })
      .strict(),
    refs: { mapping: { type: "mapping" } },
    run: async (ctx, a) => {
      const m = machineOf(ctx.kernel);
      const map = ctx.objects.get<MappingObject>(a.mapping, "mapping");
      const out = new Uint8Array(a.len);
      let at = 0;
      for (const p of mappingPieces(map, a.offset ?? 0, a.len)) {
        out.set(
          map.proc ? await hw.userRead(m, map.proc, p.va, p.len) : cpuRead(m, p.va, p.len),
          at,
        );
        at += p.len;
      }
      return { value: out };
    },
  }),
  maintenance(
    "dcache_clean_poc",
    "arm64: write dirty lines of the range back to memory (DC CVAC)",
    (m, va, len) => dcacheCleanPoc(m, va, va + len),
  ),
  maintenance(
    "dcache_inval_poc",
    "arm64: invalidate the range (partial edge lines cleaned first)",
    (m, va, len) => dcacheInvalPoc(m, va, va + len),
  ),
  maintenance(
    "dcache_clean_inval_poc",
    "arm64: clean and invalidate the range (DC CIVAC)",
    (m, va, len) => dcacheCleanInvalPoc(m, va, va + len),
  ),
  maintenance(
    "flush_kernel_vmap_range",
    "write back a vmap alias's lines (no-op on non-aliasing caches)",
    (m, va, len) => flushKernelVmapRange(m, va, len),
  ),
  maintenance(
    "invalidate_kernel_vmap_range",
    "discard a vmap alias's lines (no-op on non-aliasing caches)",
    (m, va, len) => invalidateKernelVmapRange(m, va, len),
  ),
  defineOp({
    name: "evict",
    layer: LAYER,
    summary: "force the cache to evict the lines of a range (dirty ones are written back)",
    args: mappingRange,
    refs: { mapping: { type: "mapping" } },
    primary: "mapping",
    run: (ctx, a) => {
      const m = machineOf(ctx.kernel);
      const { map, parts } = pieces(ctx, a);
      for (const p of parts) {
        cacheEvict(m, p.va, p.len, map.proc);
      }
    },
  }),
  defineOp({
    name: "prefetch",
    layer: LAYER,
    summary: "force a speculative load of the lines of a range through its mapping",
    args: mappingRange,
    refs: { mapping: { type: "mapping" } },
    primary: "mapping",
    run: (ctx, a) => {
      const m = machineOf(ctx.kernel);
      const { map, parts } = pieces(ctx, a);
      for (const p of parts) {
        cachePrefetch(m, p.va, p.len, map.proc);
      }
    },
  }),
] as unknown as readonly OpDef<never>[];

/** What layer 1 adds to scenarios. **Kernel:** none. */
export const HARDWARE_PART: RegistryPart = {
  ops: HARDWARE_OPS,
  sections: [
    platformSection as unknown as SectionDef<never>,
    devicesSection as unknown as SectionDef<never>,
  ],
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
