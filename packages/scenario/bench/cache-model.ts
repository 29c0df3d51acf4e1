/**
 * The benchmark model: N CPU cache lines that may be evicted or speculatively prefetched before any
 * operation, a non-coherent device writing memory, an optional invalidate, and a coherent (snooping)
 * read that must see what the device wrote. One round per line: write, [invalidate], read; R rounds.
 *
 * TODO(hardware): this is a stand-in built on the kernel's choice points ("evict", "prefetch") with
 * the same choice structure as @dmasim/hardware's cache. When the hardware layer has landed, build
 * the same scenarios from its ops (a non-coherent device's DMA write, dma_sync_single_for_cpu as the
 * invalidate, a coherent device's read) and drop `CACHE_MODEL_OPS`.
 */
import { defineSubsys, type Kernel } from "@dmasim/kernel";
import { z } from "zod";
import { defineOp, type OpDef } from "../src/index";

interface Line {
  valid: boolean;
  cache: number;
  mem: number;
  ideal: number;
}

const LINES = defineSubsys("bench-lines", () => ({ lines: [] as Line[] }));

function lines(kernel: Kernel, n: number): Line[] {
  const s = kernel.subsys(LINES).lines;
  while (s.length < n) {
    s.push({ valid: false, cache: 0, mem: 0, ideal: 0 });
  }
  return s;
}

/** What the hardware may do before any operation: evict one valid line, prefetch one invalid line. */
function hazards(kernel: Kernel, all: Line[]): void {
  const valid = all.filter((l) => l.valid);
  const e = kernel.choice.choose("evict", valid.length + 1);
  if (e > 0) {
    (valid[e - 1] as Line).valid = false;
  }
  const invalid = all.filter((l) => !l.valid);
  const p = kernel.choice.choose("prefetch", invalid.length + 1);
  if (p > 0) {
    const l = invalid[p - 1] as Line;
    l.valid = true;
    l.cache = l.mem;
  }
}

const arg = z.object({ line: z.number().int().min(0), of: z.number().int().min(1) }).strict();
const writeArg = z
  .object({ line: z.number().int().min(0), of: z.number().int().min(1), value: z.number() })
  .strict();

/** The model's operations. */
export const CACHE_MODEL_OPS = [
  defineOp({
    name: "dev_write",
    layer: "bench",
    summary: "a non-coherent device writes a line in memory",
    args: writeArg,
    run: (ctx, a) => {
      const all = lines(ctx.kernel, a.of);
      hazards(ctx.kernel, all);
      const l = all[a.line] as Line;
      l.mem = a.value;
      l.ideal = a.value;
    },
  }),
  defineOp({
    name: "cpu_inv",
    layer: "bench",
    summary: "invalidate the CPU's copy of a line",
    args: arg,
    run: (ctx, a) => {
      const all = lines(ctx.kernel, a.of);
      hazards(ctx.kernel, all);
      (all[a.line] as Line).valid = false;
    },
  }),
  defineOp({
    name: "snoop_read",
    layer: "bench",
    summary: "a coherent device reads a line (it sees the CPU's copy when there is one)",
    args: arg,
    run: (ctx, a) => {
      const all = lines(ctx.kernel, a.of);
      hazards(ctx.kernel, all);
      const l = all[a.line] as Line;
      const seen = l.valid ? l.cache : l.mem;
      if (seen !== l.ideal) {
        ctx.kernel.report({
          kind: "stale-read",
          code: "stale-cache-line",
          summary: `line ${a.line}: read ${seen}, the device wrote ${l.ideal}`,
        });
      }
    },
  }),
] as unknown as readonly OpDef<never>[];

/** The scenario text: `n` lines, `rounds` rounds, with or without the invalidate. */
export function modelScenario(n: number, rounds: number, invalidate: boolean): string {
  const steps: string[] = [];
  for (let r = 1; r <= rounds; r++) {
    for (let i = 0; i < n; i++) {
      steps.push(`  - dev_write: { line: ${i}, of: ${n}, value: ${r} }`);
      if (invalidate) {
        steps.push(`  - cpu_inv: { line: ${i}, of: ${n} }`);
      }
      steps.push(`  - snoop_read: { line: ${i}, of: ${n} }`);
    }
  }
  return `name: lines-${n}x${rounds}${invalidate ? "-fixed" : ""}\nsteps:\n${steps.join("\n")}\nexpect:\n  findings: none\n`;
}

/** The same model in Promela, for spin (same bounds: at most `ev` evictions, `pf` prefetches). */
export function modelPromela(
  n: number,
  rounds: number,
  invalidate: boolean,
  ev: number,
  pf: number,
): string {
  return `#define N ${n}
#define ROUNDS ${rounds}
byte mem[N]; byte ideal[N]; bool valid[N]; byte cache[N];
byte ev = 0; byte pf = 0;

inline hazards() {
  if
  :: skip
  :: ev < ${ev} -> select(k : 0 .. N - 1);
     if :: valid[k] -> valid[k] = false; ev++ :: else -> skip fi
  fi;
  if
  :: skip
  :: pf < ${pf} -> select(k : 0 .. N - 1);
     if :: !valid[k] -> valid[k] = true; cache[k] = mem[k]; pf++ :: else -> skip fi
  fi
}

active proctype main() {
  byte r = 1; byte i; byte k;
  do
  :: r <= ROUNDS ->
     i = 0;
     do
     :: i < N ->
        hazards(); mem[i] = r; ideal[i] = r;
${invalidate ? "        hazards(); valid[i] = false;\n" : ""}        hazards();
        assert((valid[i] -> cache[i] : mem[i]) == ideal[i]);
        i++
     :: else -> break
     od;
     r++
  :: else -> break
  od
}
`;
}
