/**
 * Every registered operation runs at least once, in a scenario whose expectations and probes hold
 * only if the operation did its work. The second test proves it: each case fails when its
 * operation is replaced by one that does nothing (a `spin_lock` that takes no lock, a `dma_sync_*`
 * that syncs nothing, a `dma_buf_put` that drops no reference). An operation added without a case
 * fails the first test.
 */
import { describe, expect, it } from "vitest";
import {
  defaultRegistry,
  formatReport,
  loadScenario,
  runScenario,
  type OpDef,
  type Registry,
  type RunReport,
} from "../src/index";
import { DMA_BUF_CASES } from "./op-cases/dma-buf";
import { DMA_MAPPING_CASES } from "./op-cases/dma-mapping";
import { DMA_RESV_CASES } from "./op-cases/dma-resv";
import { DRIVERS_CASES } from "./op-cases/drivers";
import { HARDWARE_CASES } from "./op-cases/hardware";
import type { OpCase } from "./op-cases/harness";
import { KERNEL_CASES } from "./op-cases/kernel";

const CASES: Readonly<Record<string, OpCase>> = {
  ...KERNEL_CASES,
  ...HARDWARE_CASES,
  ...DMA_MAPPING_CASES,
  ...DMA_RESV_CASES,
  ...DMA_BUF_CASES,
  ...DRIVERS_CASES,
};

/** `op` with its arguments parsed and checked as before, and a run that does nothing. */
function doingNothing(op: OpDef): OpDef {
  return {
    ...op,
    bind(raw) {
      const bound = op.bind(raw);
      return bound.success
        ? { success: true, call: { ...bound.call, run: () => undefined } }
        : bound;
    },
  };
}

/** The default registry with the case's probe, and `name` doing nothing if asked. */
function registryFor(c: OpCase, broken?: string): Registry {
  const registry = defaultRegistry(c.probe ? { ops: [c.probe] } : {});
  if (broken === undefined) {
    return registry;
  }
  const ops = [...registry.ops].map(([k, op]): [string, OpDef] => [
    k,
    k === broken ? doingNothing(op) : op,
  ]);
  return { ...registry, ops: new Map(ops) };
}

async function runCase(name: string, c: OpCase, broken?: string): Promise<RunReport> {
  const registry = registryFor(c, broken);
  const scenario = loadScenario(`name: ${name}\n${c.yaml}`, `${name}.yaml`, registry);
  return runScenario(scenario, { registry });
}

describe("every operation", () => {
  it("has a case, and every case names a registered operation", () => {
    const ops = [...defaultRegistry().ops.keys()].sort();
    expect(Object.keys(CASES).sort()).toEqual(ops);
  });

  it.each(Object.entries(CASES))("%s does its work", async (name, c) => {
    const r = await runCase(name, c);
    const text = formatReport(r);
    expect(
      r.steps.some((s) => s.op === name && s.status === "ok"),
      text,
    ).toBe(true);
    expect(r.ok, text).toBe(true);
    if (c.probe) {
      expect(r.steps.find((s) => s.op === "probe")?.status, text).toBe("ok");
    }
    c.report?.(r);
  });

  it.each(Object.entries(CASES))("%s: its case fails when it does nothing", async (name, c) => {
    const r = await runCase(name, c, name);
    let reported = true;
    try {
      c.report?.(r);
    } catch {
      reported = false;
    }
    expect(r.ok && reported, formatReport(r)).toBe(false);
  });
});
