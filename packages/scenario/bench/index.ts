/**
 * `pnpm bench`: the explorer on the cache-line model (the real hardware layer, see
 * bench/cache-model.ts), beside the spin model checker on the same model in Promela when spin is
 * installed (Debian package `spin`, and a C compiler). Prints figures only; nothing is asserted.
 *
 * For each model: time to the first counterexample (the variant without the invalidate), time to
 * exhaust the correct variant (with the invalidate), runs or states per second, and dmasim's ratio
 * to spin. Bounds for both tools: at most {@link CACHE_EVENTS} hardware cache events per run.
 *
 * Timing: dmasim's figures are the wall time of `explore()` in this process (after one warm-up
 * search of the smallest model, so that the JIT has compiled the simulator); spin's are the wall
 * time of the compiled verifier `pan`, process start included, compilation (`spin -a`, `gcc`) not.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { defaultRegistry, explore, loadScenario } from "../src/index";
import { CACHE_EVENTS, modelPromela, modelScenario } from "./cache-model";

const registry = defaultRegistry();
const BOUNDS = { timeMs: 300_000 };

interface Figures {
  readonly firstMs: number;
  readonly found: boolean;
  readonly exhaustMs: number;
  readonly complete: boolean;
  /** Runs (dmasim) or stored states (spin) to the first counterexample. */
  readonly toFirst: number;
  readonly runs: number;
  readonly states: number;
  readonly detail: string;
}

const fmt = (ms: number): string => ms.toFixed(ms < 10 ? 2 : 0);
const rate = (n: number, ms: number): string => `${Math.round(n / (ms / 1000))}`;

async function ours(n: number, rounds: number): Promise<Figures> {
  const buggy = loadScenario(modelScenario(n, rounds, false), "buggy.yaml", registry);
  const fixed = loadScenario(modelScenario(n, rounds, true), "fixed.yaml", registry);
  const t0 = performance.now();
  const found = await explore(buggy, { registry, bounds: BOUNDS });
  const firstMs = performance.now() - t0;
  const t1 = performance.now();
  const all = await explore(fixed, { registry, bounds: BOUNDS, all: true });
  const exhaustMs = performance.now() - t1;
  return {
    firstMs,
    found: found.failures.length > 0,
    exhaustMs,
    complete: all.complete && all.failures.length === 0,
    toFirst: found.runs,
    runs: all.runs,
    states: all.states,
    detail: `${found.runs} run(s) to the first (${found.failures[0]?.key ?? "none"}); ${all.runs} runs (${all.pruned} cut), ${all.states} states to exhaust`,
  };
}

function have(cmd: string): boolean {
  return spawnSync("sh", ["-c", `command -v ${cmd}`]).status === 0;
}

function pan(dir: string, name: string, source: string): { ms: number; out: string } {
  const pml = join(dir, `${name}.pml`);
  writeFileSync(pml, source);
  execFileSync("spin", ["-a", `${name}.pml`], { cwd: dir });
  execFileSync("gcc", ["-O2", "-DSAFETY", "-o", name, "pan.c"], { cwd: dir });
  const t0 = performance.now();
  const r = spawnSync(`./${name}`, ["-m100000"], { cwd: dir, encoding: "utf8" });
  return { ms: performance.now() - t0, out: r.stdout };
}

function spin(n: number, rounds: number): Figures {
  const dir = mkdtempSync(join(tmpdir(), "dmasim-spin-"));
  const bad = pan(dir, "buggy", modelPromela(n, rounds, false, CACHE_EVENTS));
  const good = pan(dir, "fixed", modelPromela(n, rounds, true, CACHE_EVENTS));
  const num = (out: string, re: RegExp): number => Number(re.exec(out)?.[1] ?? NaN);
  const stored = num(good.out, /([\d.e+]+) states, stored/);
  const badStored = num(bad.out, /([\d.e+]+) states, stored/);
  const badErrors = num(bad.out, /errors: (\d+)/);
  const goodErrors = num(good.out, /errors: (\d+)/);
  return {
    firstMs: bad.ms,
    found: badErrors > 0,
    exhaustMs: good.ms,
    complete: goodErrors === 0,
    toFirst: badStored,
    runs: NaN,
    states: stored,
    detail: `${badStored} states to the first; ${stored} states to exhaust`,
  };
}

function line(model: string, tool: string, f: Figures): string {
  const first = f.found ? fmt(f.firstMs) : `none in ${fmt(f.firstMs)}`;
  const exhaust = f.complete ? fmt(f.exhaustMs) : `NOT ${fmt(f.exhaustMs)}`;
  const rates = Number.isNaN(f.runs)
    ? `${rate(f.states, f.exhaustMs)} states/s`
    : `${rate(f.runs, f.exhaustMs)} runs/s, ${rate(f.states, f.exhaustMs)} states/s`;
  return `${model.padEnd(12)} ${tool.padEnd(14)} first: ${first.padStart(8)} ms  exhaust: ${exhaust.padStart(9)} ms  ${rates}  (${f.detail})`;
}

const models: [number, number][] = [
  [1, 1],
  [4, 2],
  [5, 2],
  [6, 2],
  [7, 2],
  [8, 2],
];
const withSpin = have("spin") && have("gcc");
if (!withSpin) {
  console.log("spin not installed (Debian package `spin`, and gcc): dmasim figures only");
}
console.log(
  `model: @dmasim/hardware (arm64-soc, cache policy explore), at most ${CACHE_EVENTS} cache events per run; see bench/cache-model.ts`,
);
await ours(1, 1); // warm-up
const ratios: string[] = [];
for (const [n, rounds] of models) {
  const model = `${n} line${n > 1 ? "s" : ""} x ${rounds}`;
  const d = await ours(n, rounds);
  console.log(line(model, "dmasim explore", d));
  if (withSpin) {
    const s = spin(n, rounds);
    console.log(line(model, "spin", s));
    ratios.push(
      `${model.padEnd(12)} dmasim / spin: first ${(d.firstMs / s.firstMs).toFixed(1)}x, exhaust ${(d.exhaustMs / s.exhaustMs).toFixed(1)}x`,
    );
  }
}
if (ratios.length > 0) {
  console.log("\nratio of wall times (within 2x of spin means <= 2.0x):");
  for (const r of ratios) {
    console.log(r);
  }
}
