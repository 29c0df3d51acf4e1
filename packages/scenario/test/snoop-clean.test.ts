/**
 * The cached sg-table review's coherent importer (issue #13 item 1): a non-coherent camera and a
 * coherent GPU import one udmabuf; the camera maps, writes and unmaps; the GPU maps and reads. On a
 * kernel whose dma-buf core caches the camera's mapping, the unmap never reaches the exporter, the
 * CPU's clean lines of the buffer are not invalidated, and the GPU's snooping read may be served
 * from them (the platform's `snoop_clean`: on arm64 SoCs a choice point that `explore` covers).
 */
import { describe, expect, it } from "vitest";
import { defaultRegistry, explore, loadScenario, runScenario } from "../src/index";

const registry = defaultRegistry();

function review(kernel: string, platform: string): string {
  return [
    "name: cached-sgt-coherent-importer",
    `kernel: "${kernel}"`,
    `platform: ${platform}`,
    "devices:",
    "  - { name: cam, dma_mask: 64 }",
    "  - { name: gpu, dma_mask: 64, coherent: true }",
    "setup:",
    "  - memfd_create: { size: 4096, allow_sealing: true }",
    "    as: mfd",
    "  - memfd_add_seals: { fd: mfd, seals: [SHRINK] }",
    "  - udmabuf_create: { memfd: mfd, size: 4096 }",
    "    as: ufd",
    "  - dma_buf_get: ufd",
    "    as: buf",
    "steps:",
    "  - dma_buf_attach: { buf: buf, device: cam }",
    "    as: cam_at",
    "  - dma_buf_attach: { buf: buf, device: gpu }",
    "    as: gpu_at",
    "  - dma_buf_map_attachment_unlocked: { attachment: cam_at, dir: DMA_FROM_DEVICE }",
    "    as: cam_map",
    "  - device_write: { device: cam, dma: cam_map, data: { fill: 0x22, len: 64 } }",
    "  - dma_buf_unmap_attachment_unlocked: cam_map",
    "  - dma_buf_map_attachment_unlocked: { attachment: gpu_at, dir: DMA_BIDIRECTIONAL }",
    "    as: gpu_map",
    "  - device_read: { device: gpu, dma: gpu_map, len: 64 }",
    "    expect: { value: { fill: 0x22, len: 64 } }",
    "  - dma_buf_unmap_attachment_unlocked: gpu_map",
    "  - dma_buf_detach: gpu_at",
    "  - dma_buf_detach: cam_at",
    "  - dma_buf_put: buf",
    "  - close: ufd",
    "  - close: mfd",
    "expect:",
    "  findings: none",
    "",
  ].join("\n");
}

const load = (kernel: string, platform: string) =>
  loadScenario(review(kernel, platform), "review.yaml", registry);

describe("a coherent importer reads a stale clean line the cached mapping left", () => {
  it("arm64-soc (snoop_clean: choice), 6.12 (the core caches the table): explore finds the stale read", async () => {
    const sc = load("6.12", "{ preset: arm64-soc, alloc_choices: 1, cache_policy: none }");
    expect((await runScenario(sc, { registry })).ok).toBe(true); // option 0: memory answers
    const r = await explore(sc, { registry, all: true });
    expect(r.complete).toBe(true);
    expect(r.failures.map((f) => f.key)).toContain("stale-read/stale-read at step 11");
    const replayed = await runScenario(sc, { registry, replay: r.failures[0]!.replay });
    const f = replayed.unexpected[0]!;
    expect(f.summary).toMatch(/stale read by dev:gpu/);
    const h = (f.details["history"] as { kind: string; note?: string }[]).map((e) => e.kind);
    expect(h).toEqual(["write", "clean", "dma-write", "snoop", "dma-read"]);
  });

  it("snoop_clean: cache fails under run; memory passes under explore", async () => {
    const cache = load(
      "6.12",
      "{ preset: arm64-soc, alloc_choices: 1, cache_policy: none, snoop_clean: cache }",
    );
    expect((await runScenario(cache, { registry })).unexpected[0]?.kind).toBe("stale-read");
    const memory = load(
      "6.12",
      "{ preset: arm64-soc, alloc_choices: 1, cache_policy: none, snoop_clean: memory }",
    );
    const r = await explore(memory, { registry, all: true });
    expect(r.complete).toBe(true);
    expect(r.failures).toEqual([]);
  });

  it("a kernel whose unmap reaches the exporter (the invalidate runs): nothing stale under explore", async () => {
    const sc = load("latest", "{ preset: arm64-soc, alloc_choices: 1, cache_policy: none }");
    const r = await explore(sc, { registry, all: true });
    expect(r.complete).toBe(true);
    expect(r.failures).toEqual([]);
  });

  it("the old preset name still loads, as armv6-vipt-aliasing", async () => {
    const sc = loadScenario(
      "name: x\nplatform: armv7-vipt\nsteps:\n  - msleep: 1\n",
      "x.yaml",
      registry,
    );
    expect((await runScenario(sc, { registry })).ok).toBe(true);
  });
});
