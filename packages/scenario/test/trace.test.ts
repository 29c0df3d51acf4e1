// Issue #15 item 5: a trace worth opening in Perfetto: durations on the run's timeline, nested
// spans, lock holds and fence waits, flow arrows from a stale line's writer to its reader.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { Kernel } from "@dmasim/kernel";
import { describe, expect, it } from "vitest";
import {
  defaultRegistry,
  loadScenario,
  runScenario,
  toChromeTrace,
  type ChromeTraceEvent,
} from "../src/index";

const registry = defaultRegistry();
const root = join(__dirname, "..", "..", "..");
const load = (file: string) => loadScenario(readFileSync(file, "utf8"), file, registry);
const example = (name: string) => load(join(__dirname, "..", "examples", `${name}.yaml`));
const tutorial = () => load(join(root, "docs", "tutorial", "frame.yaml"));

async function traceOf(sc: ReturnType<typeof load>) {
  const r = await runScenario(sc, { trace: true });
  const t = toChromeTrace(r);
  const track = new Map<number, string>();
  for (const e of t.traceEvents) {
    if (e.name === "thread_name") {
      track.set(e.tid, String(e.args?.["name"]));
    }
  }
  const on = (name: string) => t.traceEvents.filter((e) => track.get(e.tid) === name);
  return { r, t, on, events: t.traceEvents.filter((e) => e.ph !== "M") };
}

/** The slices of one track from its B/E pairs, checking that they nest. */
function slices(
  events: readonly ChromeTraceEvent[],
): { name: string; from: number; to: number; depth: number }[] {
  const stack: ChromeTraceEvent[] = [];
  const out: { name: string; from: number; to: number; depth: number }[] = [];
  for (const e of events) {
    if (e.ph === "B") {
      stack.push(e);
    } else if (e.ph === "E") {
      const b = stack.pop();
      expect(b, `an E without a B at ${e.ts}`).toBeDefined();
      expect(e.ts).toBeGreaterThanOrEqual(b!.ts);
      out.push({ name: b!.name, from: b!.ts, to: e.ts, depth: stack.length });
    }
  }
  expect(stack).toEqual([]);
  return out;
}

describe("Chrome trace", () => {
  it("every step is a slice of at least a microsecond on its thread's track, in order", async () => {
    const { on, r } = await traceOf(tutorial());
    const steps = [...slices(on("init")), ...slices(on("main"))].filter((s) => s.depth === 0);
    expect(steps.map((s) => s.name)).toEqual(r.steps.map((s) => `${s.id} ${s.op}`));
    for (const s of steps) {
      expect(s.to - s.from).toBeGreaterThanOrEqual(1);
    }
    for (let i = 1; i < steps.length; i++) {
      expect(steps[i]!.from).toBeGreaterThanOrEqual(steps[i - 1]!.to);
    }
  });

  it("DMA transfers and cache maintenance are slices on the device's and the cache's track", async () => {
    const { on } = await traceOf(tutorial());
    const write = on("dev:cam").find((e) => e.name === "write");
    expect(write).toMatchObject({ ph: "X", cat: "dma" });
    expect(write!.dur).toBeGreaterThan(0.2);
    const clean = on("cache").find((e) => e.name === "dcache_clean_poc");
    expect(clean).toMatchObject({ ph: "X" });
    // a 4 KiB clean of 64-byte lines is longer than a 64-byte transfer
    expect(clean!.dur).toBeGreaterThan(write!.dur!);
  });

  it("a flow arrow goes from the device's write to the step whose read was stale", async () => {
    const { t, on, r } = await traceOf(tutorial());
    expect(r.findings.map((f) => f.kind)).toEqual(["stale-read"]);
    const start = t.traceEvents.find((e) => e.ph === "s");
    const end = t.traceEvents.find((e) => e.ph === "f");
    expect(start?.id).toBe(end?.id);
    expect(end?.bp).toBe("e");
    const write = on("dev:cam").find((e) => e.name === "write")!;
    expect(on("dev:cam")).toContain(start);
    expect(start!.ts).toBeGreaterThan(write.ts);
    expect(start!.ts).toBeLessThan(write.ts + write.dur!);
    // the arrow's head lies inside step 7 (the cpu_read), not on the boundary with step 6
    const read = slices(on("main")).find((s) => s.name === "7 cpu_read")!;
    expect(on("main")).toContain(end);
    expect(end!.ts).toBeGreaterThan(read.from);
    expect(end!.ts).toBeLessThan(read.to);
  });

  it("exporter callbacks are slices nested in the step that called them", async () => {
    const { on } = await traceOf(example("cached-sgt-skipped-invalidate"));
    const all = ["init", "main"].flatMap((th) => slices(on(th)));
    const map = all.find((s) => s.name === "map_dma_buf");
    expect(map?.depth).toBe(1);
    expect(map!.to - map!.from).toBeGreaterThanOrEqual(0.1);
    const step = all.find((s) => s.depth === 0 && s.from <= map!.from && s.to >= map!.to);
    expect(step?.name).toMatch(/dma_buf_map_attachment/);
  });

  it("each lock's holds are slices on the lock's own track, named by holder", async () => {
    const { on } = await traceOf(example("lockdep-abba"));
    const a = on("lock A").filter((e) => e.ph === "X");
    expect(a.map((e) => e.name)).toEqual(["held by t1", "held by t2"]);
    expect(a[0]!.ts + a[0]!.dur!).toBeLessThanOrEqual(a[1]!.ts);
    for (const h of a) {
      expect(h.dur).toBeGreaterThanOrEqual(1);
    }
  });

  it("a fence wait is a slice on the waiting thread, until the signal", async () => {
    const sc = loadScenario(
      `name: fence-wait
setup:
  - dma_fence_context_alloc: {}
    as: tl
  - dma_fence_init: { timeline: tl }
    as: f
threads:
  waiter:
    - dma_fence_wait_timeout: { fence: f, timeout_ms: 100 }
  signaller:
    - msleep: 5
    - dma_fence_signal: f
`,
      "fence-wait.yaml",
      registry,
    );
    const { on } = await traceOf(sc);
    const waits = slices(on("waiter")).filter((s) => s.name.startsWith("dma_fence_wait "));
    expect(waits).toHaveLength(1);
    // the signaller's msleep(5) is 5 ms of kernel time inside the wait
    expect(waits[0]!.to - waits[0]!.from).toBeGreaterThanOrEqual(5000);
  });

  it("is the same for a replay, and tracing changes neither the outcome nor the state digest", async () => {
    const sc = example("h1-skipped-invalidate");
    const a = await runScenario(sc, { trace: true });
    const b = await runScenario(sc, { trace: true, replay: a.replay });
    expect(JSON.stringify(toChromeTrace(b))).toBe(JSON.stringify(toChromeTrace(a)));
    const digest = async (trace: boolean) => {
      let k: Kernel | undefined;
      const r = await runScenario(sc, { trace, observe: (kernel) => (k = kernel) });
      return { d: k!.stateDigest(), ns: k!.clock.now(), ok: r.ok, f: r.findings.length };
    };
    expect(await digest(true)).toEqual(await digest(false));
  });
});
