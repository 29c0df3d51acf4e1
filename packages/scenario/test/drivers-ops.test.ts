import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { defaultRegistry, loadScenario, runScenario } from "../src/index";

const registry = defaultRegistry();
const dir = join(__dirname, "..", "examples");
const run = (f: string) =>
  runScenario(loadScenario(readFileSync(join(dir, f), "utf8"), f, registry));

describe("driver examples", () => {
  it("gpu-ignores-move-notify fails under run: the job reads the VRAM the move freed", async () => {
    const r = await run("gpu-ignores-move-notify.yaml");
    expect(r.ok).toBe(false);
    expect(r.unexpected.map((f) => `${f.kind}/${f.code}`)).toEqual([
      "use-after-free/dma-read-free-page",
    ]);
  });

  it("gpu-cpu-read-while-writing passes the default schedule (the wait runs the job at once); explore finds H9", async () => {
    expect((await run("gpu-cpu-read-while-writing.yaml")).ok).toBe(true);
  });

  it.each([
    ["camera-partial-sync.yaml", ["stale-read", "expectation"]],
    ["camera-wrong-direction.yaml", ["stale-read", "expectation"]],
    ["udmabuf-inverted-sync.yaml", ["stale-read", "expectation"]],
    ["rpi4-green-frame.yaml", ["stale-read", "expectation"]],
    ["camera-gpu-display.yaml", ["stale-read", "expectation"]],
  ])("%s fails under run with %j", async (f, kinds) => {
    const r = await run(f);
    expect(r.ok).toBe(false);
    // the first unexpected finding is the bug's, and the read's value expectation fails too
    expect(r.unexpected[0]?.kind).toBe(kinds[0]);
    expect(r.expectations.some((e) => !e.ok && e.text.startsWith("step"))).toBe(true);
  });
});
