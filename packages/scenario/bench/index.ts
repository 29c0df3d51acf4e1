/**
 * `pnpm bench`: the explorer on the cache-line model (the real hardware layer, see
 * bench/cache-model.ts), beside the spin model checker on the same model in Promela when spin is
 * installed (Debian package `spin`, and a C compiler). Prints figures only; nothing is asserted.
 *
 * For each model: time to the first counterexample (the variant without the invalidate), time to
 * exhaust the correct variant (with the invalidate), runs or states per second, and dmasim's ratio
 * to spin. Bounds for both tools: at most {@link CACHE_EVENTS} hardware cache events per run.
 *
 * Timing: dmasim's figures are the wall time of `explore()` (the lower layers built, as `dmasim
 * explore` runs them; this package from source) in this process
 * (the best of {@link REPEAT} searches, after a warm-up search, so that the JIT has compiled the
 * simulator); spin's are the wall time of the compiled verifier `pan` (the best of {@link REPEAT}),
 * process start included, compilation (`spin -a`, `gcc`) not. `pan` runs twice: with its default
 * hash table (`-w24`: 128 MiB, whose allocation dominates small models) and with one sized to
 * these models (`-w18`); the ratio is taken to the faster.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
// this package from source; the layers below from their builds (`pnpm bench` builds them first)
import { defaultRegistry, explore, loadScenario } from "../src/index";
import { CACHE_EVENTS, modelPromela, modelScenario } from "./cache-model";

const registry = defaultRegistry();
const BOUNDS = { timeMs: 300_000 };
/** Each measurement is the best of this many (the machine may be shared and noisy). */
const REPEAT = 3;

async function best<T extends { ms: number }>(f: () => Promise<T> | T): Promise<T> {
  let b: T | undefined;
  for (let i = 0; i < REPEAT; i++) {
    const r = await f();
    if (!b || r.ms < b.ms) {
      b = r;
    }
  }
  return b as T;
}

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
  const timed = async (sc: typeof buggy, all: boolean) => {
    const t0 = performance.now();
    const result = await explore(sc, { registry, bounds: BOUNDS, all });
    return { ms: performance.now() - t0, result };
  };
  const first = await best(() => timed(buggy, false));
  const whole = await best(() => timed(fixed, true));
  const found = first.result;
  const all = whole.result;
  return {
    firstMs: first.ms,
    found: found.failures.length > 0,
    exhaustMs: whole.ms,
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

interface Pan {
  readonly ms: number;
  readonly out: string;
}

function compile(dir: string, name: string, source: string): void {
  writeFileSync(join(dir, `${name}.pml`), source);
  execFileSync("spin", ["-a", `${name}.pml`], { cwd: dir });
  execFileSync("gcc", ["-O2", "-DSAFETY", "-o", name, "pan.c"], { cwd: dir });
}

function pan(dir: string, name: string, hashBits: number | undefined): Pan {
  const args = ["-m100000", ...(hashBits !== undefined ? [`-w${hashBits}`] : [])];
  const t0 = performance.now();
  const r = spawnSync(`./${name}`, args, { cwd: dir, encoding: "utf8" });
  return { ms: performance.now() - t0, out: r.stdout };
}

async function spin(n: number, rounds: number, hashBits: number | undefined): Promise<Figures> {
  const dir = mkdtempSync(join(tmpdir(), "dmasim-spin-"));
  compile(dir, "buggy", modelPromela(n, rounds, false, CACHE_EVENTS));
  compile(dir, "fixed", modelPromela(n, rounds, true, CACHE_EVENTS));
  const bad = await best(() => pan(dir, "buggy", hashBits));
  const good = await best(() => pan(dir, "fixed", hashBits));
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
  return `${model.padEnd(12)} ${tool.padEnd(15)} first: ${first.padStart(8)} ms  exhaust: ${exhaust.padStart(9)} ms  ${rates}  (${f.detail})`;
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
await ours(4, 2);
const ratios: string[] = [];
for (const [n, rounds] of models) {
  const model = `${n} line${n > 1 ? "s" : ""} x ${rounds}`;
  const d = await ours(n, rounds);
  console.log(line(model, "dmasim explore", d));
  if (withSpin) {
    const wide = await spin(n, rounds, undefined);
    const sized = await spin(n, rounds, 18);
    console.log(line(model, "spin (-w24)", wide));
    console.log(line(model, "spin (-w18)", sized));
    const first = Math.min(wide.firstMs, sized.firstMs);
    const exhaust = Math.min(wide.exhaustMs, sized.exhaustMs);
    ratios.push(
      `${model.padEnd(12)} first ${(d.firstMs / first).toFixed(1)}x, exhaust ${(d.exhaustMs / exhaust).toFixed(1)}x`,
    );
  }
}
if (ratios.length > 0) {
  console.log(
    "\ndmasim / spin, wall time (to spin's faster run; within 2x of spin means <= 2.0x):",
  );
  for (const r of ratios) {
    console.log(r);
  }
}
