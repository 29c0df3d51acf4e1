/**
 * `pnpm bench`: the explorer on the cache-line model, beside the spin model checker on the same
 * model in Promela when spin is installed (Debian package `spin`, and a C compiler). Prints figures
 * only; nothing is asserted.
 *
 * For each model: time to the first counterexample (the variant without the invalidate), time to
 * exhaust the correct variant (with the invalidate), runs or states per second. Bounds for both
 * tools: at most 2 evictions and 2 prefetches per run.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { KERNEL_OPS, createRegistry, explore, loadScenario, type OpDef } from "../src/index";
import { CACHE_MODEL_OPS, modelPromela, modelScenario } from "./cache-model";

const registry = createRegistry([
  { ops: [...KERNEL_OPS, ...CACHE_MODEL_OPS] as unknown as OpDef<never>[] },
]);
const BOUNDS = { choices: { evict: 2, prefetch: 2 }, timeMs: 120_000 };

interface Row {
  readonly model: string;
  readonly tool: string;
  readonly firstMs: string;
  readonly exhaustMs: string;
  readonly rate: string;
  readonly detail: string;
}

const fmt = (ms: number) => ms.toFixed(ms < 10 ? 2 : 0);

async function ours(n: number, rounds: number): Promise<Row> {
  const buggy = loadScenario(modelScenario(n, rounds, false), "buggy.yaml", registry);
  const fixed = loadScenario(modelScenario(n, rounds, true), "fixed.yaml", registry);
  const t0 = performance.now();
  const found = await explore(buggy, { registry, bounds: BOUNDS });
  const firstMs = performance.now() - t0;
  const t1 = performance.now();
  const all = await explore(fixed, { registry, bounds: BOUNDS, all: true });
  const exhaustMs = performance.now() - t1;
  const secs = exhaustMs / 1000;
  return {
    model: `${n} line${n > 1 ? "s" : ""} x ${rounds}`,
    tool: "dmasim explore",
    firstMs: found.failures.length > 0 ? fmt(firstMs) : `none in ${fmt(firstMs)}`,
    exhaustMs: all.complete ? fmt(exhaustMs) : `stopped at ${fmt(exhaustMs)}`,
    rate: `${Math.round(all.runs / secs)} runs/s, ${Math.round(all.states / secs)} states/s`,
    detail: `${found.runs} runs to the first; ${all.runs} runs (${all.pruned} cut), ${all.states} states to exhaust`,
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

function spin(n: number, rounds: number): Row {
  const dir = mkdtempSync(join(tmpdir(), "dmasim-spin-"));
  const bad = pan(dir, "buggy", modelPromela(n, rounds, false, 2, 2));
  const good = pan(dir, "fixed", modelPromela(n, rounds, true, 2, 2));
  const num = (out: string, re: RegExp) => Number(re.exec(out)?.[1] ?? NaN);
  const stored = num(good.out, /([\d.e+]+) states, stored/);
  const badErrors = num(bad.out, /errors: (\d+)/);
  const goodErrors = num(good.out, /errors: (\d+)/);
  return {
    model: `${n} line${n > 1 ? "s" : ""} x ${rounds}`,
    tool: "spin",
    firstMs: badErrors > 0 ? fmt(bad.ms) : `none in ${fmt(bad.ms)}`,
    exhaustMs: goodErrors === 0 ? fmt(good.ms) : `${goodErrors} errors`,
    rate: `${Math.round(stored / (good.ms / 1000))} states/s`,
    detail: `${num(bad.out, /([\d.e+]+) states, stored/)} states to the first; ${stored} states to exhaust (pan run time, with process start; compile not counted)`,
  };
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
  "NOTE: the model is a kernel-level stand-in for @dmasim/hardware's cache (see bench/cache-model.ts)",
);
const rows: Row[] = [];
for (const [n, rounds] of models) {
  rows.push(await ours(n, rounds));
  if (withSpin) {
    rows.push(spin(n, rounds));
  }
  const r = rows.slice(withSpin ? -2 : -1);
  for (const x of r) {
    console.log(
      `${x.model.padEnd(12)} ${x.tool.padEnd(15)} first: ${x.firstMs.padStart(8)} ms  exhaust: ${x.exhaustMs.padStart(10)} ms  ${x.rate}  (${x.detail})`,
    );
  }
}
