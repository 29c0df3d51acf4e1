import { DRIVERS_MODULE } from "@dmasim/drivers";
import { PLATFORM_PRESETS, createMachine } from "@dmasim/hardware";
import { HEAPS_MODULE, dmaHeapList, dmaHeapsInit, ionDevice, ionInit } from "@dmasim/heaps";
import { DMA_BUF_MODULE } from "@dmasim/dma-buf";
import { DMA_MAPPING_MODULE } from "@dmasim/dma-mapping";
import { DMA_RESV_MODULE } from "@dmasim/dma-resv";
import {
  CORE_MODULE,
  DEFAULT_KERNEL_VERSION,
  ERA_LAYERS,
  Kernel,
  kernelHistory,
  type Era,
  type KernelChange,
} from "@dmasim/kernel";
import { listExamples } from "../examples";
import { table, UsageError, type Io } from "../io";
import { LISTABLE } from "../listable";

export { LISTABLE };

/** The scenario layer's registry, loaded only by the listings that need it (start-up time). */
async function defaultRegistry() {
  return (await import("@dmasim/scenario")).defaultRegistry();
}

/** The era tables of every loaded layer (each package's module registers its own). */
function eraTables(): Era[][] {
  const modules = [
    CORE_MODULE,
    DMA_MAPPING_MODULE,
    DMA_RESV_MODULE,
    DMA_BUF_MODULE,
    HEAPS_MODULE,
    DRIVERS_MODULE,
  ];
  return modules.map((m) => [...(m.eras ?? [])]);
}

/** One row per change: what began (+) or ended (-) in a layer between two profiles. */
function changeRows(c: KernelChange): string[][] {
  const rows: string[][] = [];
  for (const layer of ERA_LAYERS) {
    for (const e of c.began.filter((x) => x.layer === layer)) {
      rows.push([layer, `+ ${e.since ?? ""}: ${e.summary}`, e.citation]);
    }
    for (const e of c.ended.filter((x) => x.layer === layer)) {
      rows.push([layer, `- ${e.until ?? ""}: ${e.summary}`, e.citation]);
    }
  }
  return rows.length > 0 ? rows : [["", "(no modelled change)", ""]];
}

/** `dmasim list kernels`: generated from the layers' era tables (kernelHistory). */
function listKernels(io: Io): void {
  const rows: string[][] = [["VERSION", "LAYER", "WHAT CHANGED (+ begins, - ends)", "SOURCE"]];
  for (const c of kernelHistory(eraTables())) {
    const name = c.profile.name + (c.profile.name === DEFAULT_KERNEL_VERSION ? " (default)" : "");
    changeRows(c).forEach((r, i) => rows.push([i === 0 ? name : "", ...r]));
  }
  io.out(table(rows) + "\n");
}

function listPlatforms(io: Io): void {
  const gib = (n: number) => `${n / 1024 ** 3} GiB`;
  const rows = Object.values(PLATFORM_PRESETS).map((p) => [
    p.name,
    p.arch,
    `${p.cacheIndexing}${p.cacheIndexing === "vipt" ? `/${p.cacheColours} colours` : ""}, ${p.lineSize}-byte lines`,
    p.devicesCoherent ? "coherent" : "non-coherent",
    gib(p.ramSize),
    p.description,
  ]);
  io.out(table([["PLATFORM", "ARCH", "CACHE", "DEVICES", "RAM", "DESCRIPTION"], ...rows]) + "\n");
}

/** The heaps a kernel boots with: dma-heaps under /dev/dma_heap/, and ION's heaps on kernels that have it. */
async function heapsOf(version: string, platform: string, android: boolean): Promise<string[][]> {
  const kernel = new Kernel({
    version,
    modules: [...(await defaultRegistry()).modules, HEAPS_MODULE],
    options: { CONFIG_ANDROID: android },
  });
  createMachine(kernel, platform);
  dmaHeapsInit(kernel);
  ionInit(kernel);
  const rows = dmaHeapList(kernel).map((h) => [h.name, "dma-heap", `/dev/dma_heap/${h.name}`]);
  for (const h of ionDevice(kernel)?.heaps ?? []) {
    rows.push([h.name, `ION (type ${h.type}, id ${h.id})`, "/dev/ion"]);
  }
  return rows;
}

async function listHeaps(io: Io, version: string, platform: string): Promise<void> {
  const plain = await heapsOf(version, platform, false);
  const android = await heapsOf(version, platform, true);
  const rows = [
    ...plain.map((r) => [...r, ""]),
    ...android
      .filter((a) => !plain.some((r) => r[0] === a[0] && r[1] === a[1]))
      .map((r) => [...r, "Android kernels (CONFIG_ANDROID)"]),
  ];
  if (rows.length === 0) {
    io.out(`kernel ${version} has no dma-heaps (they arrived in 5.6) and no ION\n`);
    return;
  }
  io.out(table([["HEAP", "KIND", "DEVICE NODE", "ONLY ON"], ...rows]) + "\n");
}

/** What each example driver models (its kernel counterparts). */
const DRIVERS: readonly [string, string][] = [
  [
    "gpu",
    "a dynamic exporter and importer (amdgpu + TTM style): VRAM/system placement, eviction with move_notify, pin, peer2peer, command submission",
  ],
  [
    "camera",
    "a static exporter for a non-coherent capture device (videobuf2 dma-sg and dma-contig)",
  ],
  ["display", "a static importer needing contiguous DMA addresses (DRM GEM-DMA), scans frames out"],
  ["decoder", "an importer with a 32-bit DMA mask (videobuf2 dma-contig)"],
  ["udmabuf", "an exporter of memfd pages (drivers/dma-buf/udmabuf.c)"],
];

function listDrivers(io: Io): void {
  const options = DRIVERS_MODULE.options ?? [];
  const rows = DRIVERS.map(([name, what]) => [
    name,
    what,
    options
      .filter((o) => o.name.startsWith(`${name}-`))
      .map((o) => o.name)
      .join(", ") || "-",
  ]);
  io.out(table([["DRIVER", "WHAT IT MODELS", "OPTIONS THAT REINTRODUCE A BUG"], ...rows]) + "\n");
}

async function listOptions(io: Io, version: string): Promise<void> {
  const kernel = new Kernel({ version, modules: (await defaultRegistry()).modules });
  const rows = kernel.options
    .list()
    .map(({ def, value }) => [
      def.name,
      def.kind,
      value ? "on" : "off",
      def.owner,
      def.description,
    ]);
  io.out(
    table([["OPTION", "KIND", `DEFAULT (${version})`, "DEFINED BY", "DESCRIPTION"], ...rows]) +
      "\n",
  );
}

function listExamplesCmd(io: Io): void {
  const rows = listExamples().map((e) => [e.name, e.description]);
  io.out(table([["EXAMPLE", "WHAT IT SHOWS"], ...rows]) + "\n");
}

/** Every operation with its layer and summary, its arguments and their types on the next line. */
async function listOps(io: Io): Promise<void> {
  const { defaultRegistry, describeArgs } = await import("@dmasim/scenario");
  const ops = [...defaultRegistry().ops.values()];
  const rows = ops.map((op) => [op.name, op.layer, op.summary]);
  const [head = "", ...lines] = table([["OPERATION", "LAYER", "WHAT IT DOES"], ...rows]).split(
    "\n",
  );
  const withArgs = lines.flatMap((line, i) => {
    const op = ops[i];
    return op && op.params.length > 0 ? [line, `    ${describeArgs(op)}`] : [line];
  });
  io.out([head, ...withArgs].join("\n") + "\n");
}

/** Run `dmasim list WHAT`. */
export async function list(
  io: Io,
  what: string,
  opts: { kernel: string; platform: string },
): Promise<void> {
  switch (what) {
    case "kernels":
      return listKernels(io);
    case "platforms":
      return listPlatforms(io);
    case "heaps":
      return listHeaps(io, opts.kernel, opts.platform);
    case "drivers":
      return listDrivers(io);
    case "options":
      return listOptions(io, opts.kernel);
    case "examples":
      return listExamplesCmd(io);
    case "ops":
      return listOps(io);
    default:
      throw new UsageError(`cannot list "${what}": expected one of ${LISTABLE.join(", ")}`);
  }
}
