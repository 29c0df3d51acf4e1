/**
 * Issue 20 as a user meets it: scenario files in test/lifetimes/ where a buffer outlives its last
 * handle while the hardware still uses it (as the kernel keeps it), and their buggy-driver twins
 * where the object truly goes first and the hardware's access is a use-after-free.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { defaultRegistry, loadScenario, runScenario } from "../src/index";

const registry = defaultRegistry();
const dir = join(__dirname, "lifetimes");

/** Run a file, optionally with kernel options added to its header. */
async function run(file: string, options?: string) {
  let text = readFileSync(join(dir, file), "utf8");
  if (options) {
    text = text.replace(/^platform: .*$/m, (line) => `${line}\noptions: ${options}`);
  }
  const r = await runScenario(loadScenario(text, file, registry));
  return { ...r, kinds: r.findings.map((f) => `${f.kind}/${f.code}`) };
}

describe("GPU: a busy BO outlives its last handle (6.12, arm64-soc)", () => {
  it("issue 20's minimal case: src is put while the copy reads it; no finding, dst holds the fill", async () => {
    const r = await run("gpu-put-busy-bo.yaml");
    expect(r.kinds).toEqual([]);
    expect(r.ok).toBe(true);
  });

  it("gpu-frees-busy-bo: the same steps write and read freed pages (the two findings issue 20 saw)", async () => {
    const r = await run("gpu-put-busy-bo-buggy.yaml");
    expect(r.ok).toBe(true); // the file expects exactly these
    expect(r.kinds).toEqual([
      "use-after-free/dma-write-free-page",
      "use-after-free/dma-read-free-page",
    ]);
  });

  it("IGT prime_mmap_coherency `write`: BO 2 destroyed right after queuing the blit; BO 2' reads all 0x11", async () => {
    const r = await run("igt-prime-mmap-coherency-write.yaml");
    expect(r.kinds).toEqual([]);
    expect(r.ok).toBe(true);
  });

  it("IGT `write` on a driver that frees busy BOs: the first blit reads the freed BO 2", async () => {
    const r = await run("igt-prime-mmap-coherency-write.yaml", "{ gpu-frees-busy-bo: true }");
    expect(r.ok).toBe(false);
    expect(r.kinds).toContain("use-after-free/dma-read-free-page");
  });

  it("a fence that never signals keeps a released BO on the delayed-destroy list: the end-of-run check names it", async () => {
    const r = await run("gpu-delayed-destroy-unsignaled.yaml");
    expect(r.ok).toBe(true);
    expect(r.kinds).toEqual(["leak/dma-mapping-leak", "leak/gpu-bo-delayed-destroy"]);
    const f = r.findings.find((x) => x.code === "gpu-bo-delayed-destroy");
    expect(f?.summary).toMatch(/fence \d+:1 \(scenario .*\) never signaled/);
    expect(r.kinds).not.toContain("leak/gpu-bo-leak");
  });
});

describe("camera: releasing the queue while a buffer is queued", () => {
  it("vb2 stops streaming before freeing: the next frame finds no buffer (EAGAIN), no finding", async () => {
    const r = await run("camera-release-streaming.yaml");
    expect(r.ok).toBe(true);
    expect(r.kinds).toEqual([]);
  });

  it("camera-stop-streaming-leaves-dma-running: the next frame lands in the freed pages", async () => {
    const r = await run("camera-release-streaming-buggy.yaml");
    expect(r.ok).toBe(true);
    expect(new Set(r.kinds)).toEqual(new Set(["use-after-free/dma-write-free-page"]));
  });
});
