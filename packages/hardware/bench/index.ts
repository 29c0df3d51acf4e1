// `pnpm bench`: printed figures, never assertions. Run with
//   pnpm --filter @dmasim/hardware bench
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { Kernel, PAGE_SIZE } from "@dmasim/kernel";
import {
  GFP_KERNEL,
  __GFP_ZERO,
  addDevice,
  allocPages,
  deviceMemset,
  cpuWrite,
  createMachine,
  dcacheCleanPoc,
  dcacheInvalPoc,
  deviceWrite,
  pageAddress,
  pageToPhys,
  physToDma,
  type Machine,
} from "../src/index";

const MiB = 1024 * 1024;
const SIZE = 64 * MiB;
const BLOCK = 4 * MiB; // one order-10 allocation

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

// collect the previous runs' machines before each timed run, so one run does not pay for another
setFlagsFromString("--expose-gc");
const gc = runInNewContext("gc") as () => void;

function time(fn: () => void): number {
  gc();
  const t = performance.now();
  fn();
  return performance.now() - t;
}

function rate(bytes: number, ms: number): string {
  return `${((bytes / MiB) * (1000 / ms)).toFixed(0)} MiB/s`;
}

function sparse(touched: number, uniform: boolean): void {
  const before = process.memoryUsage();
  const k = new Kernel();
  const m = createMachine(k, "x86-64", { ramSize: 8 * 1024 * MiB, allocChoices: 1 });
  const created = process.memoryUsage();
  const va = pageAddress(m, m.pageAlloc.page((5 * 1024 * MiB) / PAGE_SIZE)); // CPU stores through the linear map
  const data = uniform ? new Uint8Array(touched).fill(1) : src.subarray(0, touched);
  cpuWrite(m, va, data);
  dcacheCleanPoc(m, va, va + touched);
  const after = process.memoryUsage();
  const fp = m.footprint();
  console.log(
    `\n8 GiB of simulated RAM, ${touched / MiB} MiB touched with ${uniform ? "one byte value" : "varied bytes"} (CPU write + clean):`,
  );
  console.log(
    `  simulator stores: memory ${(fp.memory / MiB).toFixed(1)} MiB, ideal ${(fp.ideal / MiB).toFixed(1)} MiB, cache ${(fp.cache / MiB).toFixed(1)} MiB, total ${(fp.total / MiB).toFixed(1)} MiB; ${fp.touchedPages} pages touched`,
  );
  console.log(
    `  process: arrayBuffers +${((after.arrayBuffers - before.arrayBuffers) / MiB).toFixed(1)} MiB (machine creation alone +${((created.arrayBuffers - before.arrayBuffers) / MiB).toFixed(1)} MiB)`,
  );
}

// varied bytes: no page holds one value (so none is stored as a uniform extent)
const src = new Uint8Array(SIZE);
for (let i = 0; i < SIZE; i += 256) {
  src[i] = (i >> 8) & 0xff;
  src[i + 1] = 1;
}

console.log(`@dmasim/hardware bench (node ${process.version})`);
sparse(MiB, false);
sparse(16 * MiB, false);
sparse(16 * MiB, true);

// ---- baseline: a plain Buffer copy of the same size ------------------------------------------
const cold = median(
  [0, 1, 2, 3, 4].map(() =>
    time(() => {
      const dst = Buffer.allocUnsafe(SIZE);
      Buffer.from(src.buffer).copy(dst);
    }),
  ),
);
const warmDst = Buffer.alloc(SIZE);
const warm = median([0, 1, 2, 3, 4].map(() => time(() => Buffer.from(src.buffer).copy(warmDst))));

function machineWithBlocks(platform: string): { m: Machine; blocks: number[] } {
  const k = new Kernel();
  const m = createMachine(k, platform, { allocChoices: 1 });
  const blocks: number[] = [];
  for (let i = 0; i < SIZE / BLOCK; i++) {
    blocks.push(pageToPhys(allocPages(m, 10, GFP_KERNEL)!));
  }
  return { m, blocks };
}

/**
 * 64 MiB of device writes (varied bytes, or one value with `deviceMemset`): the first on fresh
 * pages, or the median of 5 repeats on written pages.
 */
function deviceRun(platform: string, coherent: boolean, written: boolean, fill = false): number {
  const { m, blocks } = machineWithBlocks(platform);
  const dev = addDevice(m, { name: "dma", coherent, dmaMask: 64 });
  const once = (): void => {
    blocks.forEach((pa, i) =>
      fill
        ? deviceMemset(dev, physToDma(dev, pa), 0x5a, BLOCK)
        : deviceWrite(dev, physToDma(dev, pa), src.subarray(i * BLOCK, (i + 1) * BLOCK)),
    );
  };
  const ms = written ? (once(), median([0, 1, 2, 3, 4].map(() => time(once)))) : time(once);
  if (m.kernel.findings.length > 0) {
    throw new Error(`unexpected findings: ${m.kernel.findings[0]!.summary}`);
  }
  return ms;
}

/** 64 MiB of CPU stores through the linear map, on fresh lines or (median of 5) on dirty lines. */
function cpuRun(platform: string, written: boolean): number {
  const { m, blocks } = machineWithBlocks(platform);
  const once = (): void => {
    blocks.forEach((pa, i) =>
      cpuWrite(
        m,
        pageAddress(m, m.pageAlloc.page(pa / PAGE_SIZE)),
        src.subarray(i * BLOCK, (i + 1) * BLOCK),
      ),
    );
  };
  return written ? (once(), median([0, 1, 2, 3, 4].map(() => time(once)))) : time(once);
}

console.log(
  `\nplain Buffer copy of 64 MiB (median of 5): cold (fresh buffer) ${cold.toFixed(1)} ms = ${rate(SIZE, cold)}; warm ${warm.toFixed(1)} ms = ${rate(SIZE, warm)}`,
);
// warm up the JIT and the process heap first (not timed)
deviceRun("arm64-soc", false, true);
cpuRun("arm64-soc", true);
const runs = (fn: () => number): number => median([0, 1, 2, 3, 4].map(fn));
const rows: [string, number][] = [
  [
    "device writes, non-coherent (arm64-soc), fresh pages",
    runs(() => deviceRun("arm64-soc", false, false)),
  ],
  ["device writes, coherent (x86-64), fresh pages", runs(() => deviceRun("x86-64", true, false))],
  [
    "device writes, non-coherent (arm64-soc), pages written before",
    deviceRun("arm64-soc", false, true),
  ],
  ["device writes, coherent (x86-64), pages written before", deviceRun("x86-64", true, true)],
  [
    "device fill of one value (deviceMemset), non-coherent (arm64-soc)",
    runs(() => deviceRun("arm64-soc", false, false, true)),
  ],
  ["CPU writes via linear map (arm64-soc), fresh lines", runs(() => cpuRun("arm64-soc", false))],
  ["CPU writes via linear map (arm64-soc), lines already dirty", cpuRun("arm64-soc", true)],
];
console.log("\n64 MiB with the checker on (median of 5, after a warm-up):");
for (const [name, ms] of rows) {
  console.log(
    `  ${name}: ${ms.toFixed(1)} ms = ${rate(SIZE, ms)}; ratio to plain copy: ${(cold / ms).toFixed(2)} (cold) / ${(warm / ms).toFixed(2)} (warm)`,
  );
}

// ---- range maintenance cost follows the cached lines, not the range -----------------------------
function maintenance(range: number): number {
  const k = new Kernel();
  const m = createMachine(k, "arm64-soc", { allocChoices: 1, cachePolicy: { name: "none" } });
  const base = m.config.ramBase + 512 * MiB;
  const va0 = pageAddress(m, m.pageAlloc.page(base / PAGE_SIZE));
  const line = new Uint8Array(64).fill(7);
  const iters = 200;
  let total = 0;
  for (let it = 0; it < iters; it++) {
    for (let i = 0; i < 100; i++) {
      cpuWrite(m, va0 + Math.floor((i * range) / 100 / 64) * 64, line);
    }
    total += time(() => {
      dcacheCleanPoc(m, va0, va0 + range);
      dcacheInvalPoc(m, va0, va0 + range);
    });
  }
  return (total / iters) * 1000;
}
const small = maintenance(MiB);
const big = maintenance(1024 * MiB);
console.log(`\nclean + invalidate of a range holding 100 dirty lines (mean of 200):`);
console.log(
  `  1 MiB range: ${small.toFixed(1)} µs; 1 GiB range: ${big.toFixed(1)} µs; ratio ${(big / small).toFixed(2)}`,
);

// ---- a large zeroed buffer: what the cost follows (extents, not bytes) -----------------------------
/** __GFP_ZERO of `bytes` in max-order blocks, then a clean and an invalidate of it (a DMA map/unmap). */
function zeroedBuffer(bytes: number): { ms: number; total: number; entries: number } {
  const k = new Kernel();
  const m = createMachine(k, "arm64-soc", { allocChoices: 1, cachePolicy: { name: "none" } });
  const t = performance.now();
  const blocks: number[] = [];
  for (let done = 0; done < bytes; done += BLOCK) {
    const order = Math.min(10, Math.log2(Math.min(BLOCK, bytes) / PAGE_SIZE));
    blocks.push(pageToPhys(allocPages(m, order, GFP_KERNEL | __GFP_ZERO)!));
  }
  const entries = m.cache.entries().length;
  for (const pa of blocks) {
    const va = pageAddress(m, m.pageAlloc.page(pa / PAGE_SIZE));
    const len = Math.min(BLOCK, bytes);
    dcacheCleanPoc(m, va, va + len);
    dcacheInvalPoc(m, va, va + len);
  }
  return { ms: performance.now() - t, total: m.footprint().total, entries };
}
zeroedBuffer(MiB); // warm-up
console.log(
  "\n__GFP_ZERO of a buffer in max-order blocks, then clean + invalidate of each (checker on):",
);
for (const bytes of [MiB, 64 * MiB, 1024 * MiB]) {
  const r = zeroedBuffer(bytes);
  console.log(
    `  ${bytes / MiB} MiB: ${r.ms.toFixed(1)} ms; ${r.entries} cache extent(s) after zeroing; simulator stores ${(r.total / MiB).toFixed(2)} MiB`,
  );
}

// ---- state digest (what `dmasim explore` pays at every choice point) ---------------------------
function digestMs(k: Kernel, reps: number): number {
  k.stateDigest(); // the first call after a change pays for the pages written since the last one
  return median(
    [0, 1, 2, 3, 4].map(
      () =>
        time(() => {
          for (let i = 0; i < reps; i++) {
            k.stateDigest();
          }
        }) / reps,
    ),
  );
}

/** Digest cost of a machine with `touched` bytes written by a device and `lines` cached lines. */
function digestRun(platform: string, ramSize: number, touched: number, lines: number): string {
  const k = new Kernel();
  const m = createMachine(k, platform, { ramSize, allocChoices: 1 });
  const fresh = digestMs(k, 200);
  const dev = addDevice(m, { name: "dma", coherent: true, dmaMask: 64 });
  const base = m.config.ramBase + 256 * MiB;
  const once = (): void => {
    deviceWrite(dev, physToDma(dev, base), new Uint8Array(touched).fill(3));
    for (let i = 0; i < lines; i++) {
      cpuWrite(
        m,
        pageAddress(m, m.pageAlloc.page(base / PAGE_SIZE + i * 7)) + (i % 64) * 64,
        src.subarray(0, 8),
      );
    }
  };
  once();
  const first = time(() => k.stateDigest()); // rehashes the touched pages
  const steady = digestMs(k, 200);
  return `fresh ${(fresh * 1000).toFixed(0)} µs; ${touched / MiB} MiB touched + ${lines} cached lines: first digest ${first.toFixed(2)} ms, then ${(steady * 1000).toFixed(0)} µs`;
}
console.log("\nkernel.stateDigest() with a machine (median of 5 × 200 calls):");
digestRun("arm64-soc", 1024 * MiB, MiB, 100); // warm-up
for (const [platform, ram] of [
  ["arm64-soc", 1024 * MiB],
  ["arm64-soc", 4096 * MiB],
  ["x86-64", 8192 * MiB],
] as const) {
  console.log(`  ${platform}, ${ram / 1024 / MiB} GiB: ${digestRun(platform, ram, MiB, 100)}`);
}
