/**
 * `pnpm bench` (packages/scenario): real buffer sizes. Prints figures only; nothing is asserted.
 *
 * Each case is a scenario run at 4 KiB, 1 MiB, 64 MiB, 256 MiB and 1 GiB, every one in a fresh
 * child process (so that its peak RSS is its own): the wall time of loading and running the
 * scenario inside the child, the child's whole wall time (Node start and module loading included)
 * and its peak RSS. The cases (issue #18):
 *
 * - `heap`: a system-heap buffer (`heaps: true`, arm64-soc) attached by one non-coherent device,
 *   mapped, 256 bytes written by the device, unmapped, begin/end_cpu_access, freed;
 * - `pages`: alloc_pages (`__GFP_ZERO`, blocks of at most 4 MiB) + dma_map_page of each block, 256
 *   bytes written by the device, dma_unmap, free_pages;
 * - `coherent`: dma_alloc_coherent, 256 bytes written by the device, dma_free_coherent;
 * - `udmabuf`: a sealed memfd, udmabuf over it, then the `heap` steps;
 * - `iommu`: the `heap` case with the device behind a strict IOMMU domain;
 * - `swiotlb`: `swiotlb=force` (x86-64): the buffer mapped in 256 KiB pieces, each bounced to the
 *   device, written 256 bytes, bounced back (the pool holds one piece at a time).
 *
 * Then a device streaming through a 64 MiB mapping (checker on) beside a plain Buffer copy of the
 * same bytes, and `explore` of a bundled example at 4 KiB and enlarged to 64 MiB.
 *
 * Run: `pnpm --filter @dmasim/scenario bench` (both benches), or
 * `npx tsx --conditions=@dmasim/source bench/sizes.ts [case ...]` in this package.
 */
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { defaultRegistry, explore, loadScenario, runScenario } from "../src/index";

const KiB = 1024;
const MiB = 1024 * KiB;
const GiB = 1024 * MiB;
const SIZES = [4 * KiB, MiB, 64 * MiB, 256 * MiB, GiB];
const CASES = ["heap", "pages", "coherent", "udmabuf", "iommu", "swiotlb"] as const;
type Case = (typeof CASES)[number];
/** A child that runs longer than this is stopped (the figure says so). */
const CHILD_TIMEOUT_MS = 600_000;

function size(n: number): string {
  return n >= GiB ? `${n / GiB} GiB` : n >= MiB ? `${n / MiB} MiB` : `${n / KiB} KiB`;
}

const header = (name: string, platform: string, devices: string, heaps: boolean): string[] => [
  `name: bench-${name}`,
  'kernel: "6.12"',
  `platform: ${platform}`,
  "devices:",
  `  - ${devices}`,
  ...(heaps ? ["heaps: true"] : []),
];

/** The dma-buf steps of the `heap`, `udmabuf` and `iommu` cases, over fd `fd`. */
function dmaBufSteps(): string[] {
  return [
    "  - dma_buf_get: fd",
    "    as: buf",
    "  - dma_buf_attach: { buf: buf, device: dev }",
    "    as: at",
    "  - dma_buf_map_attachment_unlocked: { attachment: at, dir: DMA_BIDIRECTIONAL }",
    "    as: map",
    "  - device_write: { device: dev, dma: map, offset: OFF, data: { fill: 0x5a, len: 256 } }",
    "  - dma_buf_unmap_attachment_unlocked: map",
    "  - dma_buf_begin_cpu_access: { buf: buf, dir: DMA_FROM_DEVICE }",
    "  - dma_buf_end_cpu_access: { buf: buf, dir: DMA_FROM_DEVICE }",
    "  - dma_buf_detach: at",
    "  - dma_buf_put: buf",
    "  - close: fd",
  ];
}

/** Blocks of at most 4 MiB (one order-10 allocation) covering `bytes`. */
function blocks(bytes: number): { order: number; count: number } {
  const pages = bytes / 4096;
  const order = Math.min(10, Math.log2(pages));
  return { order, count: pages >> order };
}

/** The scenario text of `c` at `bytes`. */
export function scenarioText(c: Case, bytes: number): string {
  const arm = "{ preset: arm64-soc, alloc_choices: 1 }";
  const lines: string[] = [];
  switch (c) {
    case "heap":
    case "iommu":
      lines.push(
        ...header(
          c,
          arm,
          c === "iommu"
            ? "{ name: dev, dma_mask: 64, max_segment_size: 1G, iommu: dma }"
            : "{ name: dev, dma_mask: 64, max_segment_size: 1G }",
          true,
        ),
        "steps:",
        `  - dma_heap_alloc: { heap: system, len: ${bytes} }`,
        "    as: fd",
        ...dmaBufSteps(),
      );
      break;
    case "udmabuf":
      lines.push(
        ...header(c, arm, "{ name: dev, dma_mask: 64, max_segment_size: 1G }", false),
        "steps:",
        `  - memfd_create: { size: ${bytes}, allow_sealing: true }`,
        "    as: mfd",
        "  - memfd_add_seals: { fd: mfd, seals: [SHRINK] }",
        `  - udmabuf_create: { memfd: mfd, size: ${bytes} }`,
        "    as: fd",
        ...dmaBufSteps(),
        "  - close: mfd",
      );
      break;
    case "pages": {
      const { order, count } = blocks(bytes);
      lines.push(
        ...header(c, arm, "{ name: dev, dma_mask: 64, max_segment_size: 1G }", false),
        "steps:",
      );
      for (let i = 0; i < count; i++) {
        lines.push(
          `  - alloc_pages: { order: ${order}, gfp: GFP_KERNEL | __GFP_ZERO }`,
          `    as: p${i}`,
          `  - dma_map_page: { device: dev, pages: p${i}, dir: DMA_BIDIRECTIONAL }`,
          `    as: d${i}`,
          `  - dma_mapping_error: d${i}`,
        );
      }
      lines.push(
        "  - device_write: { device: dev, dma: d0, offset: 0, data: { fill: 0x5a, len: 256 } }",
      );
      for (let i = 0; i < count; i++) {
        lines.push(`  - dma_unmap: d${i}`, `  - free_pages: p${i}`);
      }
      break;
    }
    case "coherent":
      lines.push(
        ...header(c, arm, "{ name: dev, dma_mask: 64, max_segment_size: 1G }", false),
        "steps:",
        `  - dma_alloc_coherent: { device: dev, size: ${bytes} }`,
        "    as: c",
        "  - device_write: { device: dev, dma: c, offset: 0, data: { fill: 0x5a, len: 256 } }",
        "  - dma_free_coherent: c",
      );
      break;
    case "swiotlb": {
      const { order, count } = blocks(bytes);
      const piece = Math.min(bytes, 256 * KiB);
      lines.push(
        ...header(
          c,
          "{ preset: x86-64, alloc_choices: 1, swiotlb_force: true }",
          "{ name: dev, dma_mask: 64, max_segment_size: 1G }",
          false,
        ),
        "steps:",
      );
      for (let i = 0; i < count; i++) {
        lines.push(
          `  - alloc_pages: { order: ${order}, gfp: GFP_KERNEL | __GFP_ZERO }`,
          `    as: p${i}`,
        );
        for (let off = 0; off < 4096 << order; off += piece) {
          lines.push(
            `  - dma_map_page: { device: dev, pages: p${i}, offset: ${off}, size: ${piece}, dir: DMA_BIDIRECTIONAL }`,
            `    as: d${i}_${off}`,
            `  - dma_mapping_error: d${i}_${off}`,
            `  - device_write: { device: dev, dma: d${i}_${off}, offset: 0, data: { fill: 0x5a, len: 256 } }`,
            `  - dma_unmap: d${i}_${off}`,
          );
        }
        lines.push(`  - free_pages: p${i}`);
      }
      break;
    }
  }
  return [...lines, ""].join("\n").replace(/OFF/g, String(bytes > 4096 ? 4096 : 0));
}

interface ChildResult {
  readonly ms: number;
  readonly steps: number;
  readonly failed: string;
  readonly findings: number;
  readonly maxRssMb: number;
}

/** In the child: load and run one case, print the figures as JSON. */
async function child(c: Case, bytes: number): Promise<void> {
  const registry = defaultRegistry();
  const t0 = performance.now();
  const sc = loadScenario(scenarioText(c, bytes), `${c}.yaml`, registry);
  const r = await runScenario(sc, { registry });
  const ms = performance.now() - t0;
  const bad = r.steps.find((s) => s.status === "failed");
  const res: ChildResult = {
    ms,
    steps: r.steps.length,
    failed: bad ? `step ${bad.id} ${bad.op}: ${String(bad.error ?? "").slice(0, 80)}` : "",
    findings: r.findings.length,
    maxRssMb: process.resourceUsage().maxRSS / 1024,
  };
  console.log(JSON.stringify(res));
}

function runChild(c: Case, bytes: number): string {
  const t0 = performance.now();
  const r = spawnSync(
    process.execPath,
    [...process.execArgv, process.argv[1] as string, "--child", c, String(bytes)],
    { encoding: "utf8", timeout: CHILD_TIMEOUT_MS, maxBuffer: 1 << 24 },
  );
  const wall = performance.now() - t0;
  if (r.status !== 0) {
    const why = r.signal ? `killed (${r.signal}) after ${(wall / 1000).toFixed(0)} s` : "failed";
    return `${why}: ${(r.stderr || r.stdout).trim().split("\n").slice(-1)[0] ?? ""}`;
  }
  const res = JSON.parse(r.stdout.trim().split("\n").pop() as string) as ChildResult;
  return (
    `${res.ms.toFixed(0).padStart(7)} ms run, ${(wall / 1000).toFixed(2).padStart(6)} s process, ` +
    `peak RSS ${res.maxRssMb.toFixed(0).padStart(5)} MB; ${res.steps} steps, ${res.findings} findings` +
    (res.failed ? `; ${res.failed}` : "")
  );
}

// ---- a device streaming through a 64 MiB mapping -----------------------------------------------

/** Wall time of the `heap` case at `bytes` with `extra` more steps after the device's write. */
async function heapWith(bytes: number, extra: string[]): Promise<number> {
  const registry = defaultRegistry();
  const text = scenarioText("heap", bytes).replace(
    /( {2}- dma_buf_unmap_attachment_unlocked)/,
    `${extra.join("\n")}${extra.length ? "\n" : ""}$1`,
  );
  const sc = loadScenario(text, "stream.yaml", registry);
  const t0 = performance.now();
  const r = await runScenario(sc, { registry });
  const ms = performance.now() - t0;
  const bad = r.steps.find((s) => s.status === "failed");
  if (bad) {
    throw new Error(`stream: step ${bad.id} ${bad.op} failed: ${String(bad.error)}`);
  }
  return ms;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] as number;
}

/** A plain Buffer copy of `bytes`: into a fresh buffer, and into one already written (median of 5). */
function plainCopy(bytes: number): { cold: number; warm: number } {
  const src = new Uint8Array(bytes).fill(0x33);
  const timed = (dst: () => Buffer): number =>
    median(
      [0, 1, 2, 3, 4].map(() => {
        const t = performance.now();
        Buffer.from(src.buffer).copy(dst());
        return performance.now() - t;
      }),
    );
  const fixed = Buffer.alloc(bytes);
  return { cold: timed(() => Buffer.allocUnsafe(bytes)), warm: timed(() => fixed) };
}

/**
 * A device streaming through the heap buffer's mapping with `device_write` / `device_read` steps
 * (what a scenario does), the cost of one step beside a plain Buffer copy of the same bytes.
 */
async function streaming(bytes: number): Promise<void> {
  const n = 4;
  const write = `  - device_write: { device: dev, dma: map, data: { fill: 0x33, len: ${bytes} } }`;
  const read = `  - device_read: { device: dev, dma: map, len: ${bytes} }`;
  const { cold, warm } = plainCopy(bytes);
  await heapWith(bytes, [write, read]); // warm-up
  const none: number[] = [];
  const writes: number[] = [];
  const reads: number[] = [];
  for (let i = 0; i < 3; i++) {
    none.push(await heapWith(bytes, []));
    writes.push(await heapWith(bytes, Array<string>(n).fill(write)));
    reads.push(await heapWith(bytes, Array<string>(n).fill(read)));
  }
  const w = (median(writes) - median(none)) / n;
  const r = (median(reads) - median(none)) / n;
  const rate = (ms: number): string => `${((bytes / MiB) * (1000 / ms)).toFixed(0)} MiB/s`;
  console.log(
    `\ndevice streaming through a ${size(bytes)} heap mapping (scenario steps, checker on):`,
  );
  console.log(
    `  plain Buffer copy: into a fresh buffer ${cold.toFixed(1)} ms = ${rate(cold)}; into a written one ${warm.toFixed(1)} ms = ${rate(warm)}`,
  );
  for (const [name, ms] of [
    ["device_write step", w],
    ["device_read step ", r],
  ] as const) {
    console.log(
      `  ${name}: ${ms.toFixed(1)} ms = ${rate(ms)}; ${(cold / ms).toFixed(2)}x of the fresh copy, ${(warm / ms).toFixed(2)}x of the warm one`,
    );
  }
}

// ---- explore of a bundled example, at 4 KiB and enlarged ------------------------------------

async function exploreSizes(): Promise<void> {
  const registry = defaultRegistry();
  const file = "cached-sgt-skipped-invalidate.yaml";
  const text = readFileSync(join(import.meta.dirname, "../examples", file), "utf8");
  const time = async (t: string): Promise<{ ms: number; runs: number }> => {
    const sc = loadScenario(t, file, registry);
    const t0 = performance.now();
    const r = await explore(sc, { registry, all: true });
    return { ms: performance.now() - t0, runs: r.runs };
  };
  await time(text); // warm-up
  const small = await time(text);
  const big = await time(text.replace(/size: 4096/g, `size: ${64 * MiB}`));
  console.log(
    `\nexplore ${file}: 4 KiB ${small.ms.toFixed(0)} ms (${small.runs} runs); 64 MiB ${big.ms.toFixed(0)} ms (${big.runs} runs); ratio ${(big.ms / small.ms).toFixed(2)}`,
  );
}

// ---- main ----------------------------------------------------------------------------------

const argv = process.argv.slice(2);
const isMain = import.meta.url === pathToFileURL(process.argv[1] ?? "").href;
if (!isMain) {
  // imported (tests, one-off runs): nothing to do
} else if (argv[0] === "--child") {
  await child(argv[1] as Case, Number(argv[2]));
} else {
  const only = argv.filter((a) => !a.startsWith("-"));
  const cases = CASES.filter((c) => only.length === 0 || only.includes(c));
  console.log(`@dmasim/scenario bench: real buffer sizes (node ${process.version})`);
  for (const c of cases) {
    console.log(`\n${c}:`);
    for (const bytes of SIZES) {
      console.log(`  ${size(bytes).padStart(7)}: ${runChild(c, bytes)}`);
    }
  }
  if (only.length === 0 || only.includes("stream")) {
    await streaming(64 * MiB);
  }
  if (only.length === 0 || only.includes("explore")) {
    await exploreSizes();
  }
}
