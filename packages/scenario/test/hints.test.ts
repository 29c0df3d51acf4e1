/**
 * The hint under a finding is set where the finding is raised, with the call, the direction and
 * the range the raiser knows; a finding without one shows the hint of its kind.
 */
import { describe, expect, it } from "vitest";
import {
  defaultRegistry,
  formatReport,
  loadScenario,
  runScenario,
  type RunReport,
} from "../src/index";

const registry = defaultRegistry();
const run = (text: string): Promise<RunReport> =>
  runScenario(loadScenario(`name: t\n${text}`, "t.yaml", registry));
const PLATFORM = `platform: { preset: arm64-soc, cache_policy: none }
devices: [{ name: cam, dma_mask: 64 }]
`;

describe("hints set where the finding is raised", () => {
  it("dma-debug: sync with the direction the mapping was made with", async () => {
    const r = await run(`${PLATFORM}setup:
  - alloc_pages: {}
    as: p
  - linear_map: p
    as: lin
steps:
  - dma_map_single: { device: cam, mapping: lin, size: 64, dir: DMA_TO_DEVICE }
    as: d
  - dma_mapping_error: d
  - dma_sync_single_for_cpu: { dma: d, dir: DMA_FROM_DEVICE }
  - dma_unmap: d
`);
    const f = r.findings.find((x) => x.code === "sync-wrong-direction");
    expect(f?.kind === "dma-api" && f.details.hint).toBe(
      "sync with the direction it was mapped with: DMA_TO_DEVICE",
    );
    expect(formatReport(r)).toContain(
      "would have prevented it: sync with the direction it was mapped with: DMA_TO_DEVICE",
    );
  });

  it("lockdep: the two lock classes, in one order everywhere", async () => {
    const r = await run(`setup:
  - mutex_init: {}
    as: A
  - mutex_init: {}
    as: B
steps:
  - mutex_lock: A
  - mutex_lock: B
  - mutex_unlock: B
  - mutex_unlock: A
  - mutex_lock: B
  - mutex_lock: A
  - mutex_unlock: A
  - mutex_unlock: B
`);
    expect(r.findings.map((f) => f.details.hint)).toEqual([
      "take B and A in one order everywhere: here A is taken under B, the existing chain takes them the other way round",
    ]);
  });

  it("leaks: which reference, attachment or mapping to drop", async () => {
    const r = await run(`${PLATFORM}heaps: true
steps:
  - dma_heap_alloc: { heap: system, len: 4096 }
    as: fd
  - dma_buf_get: fd
    as: buf
  - dma_buf_attach: { buf: buf, device: cam }
    as: at
  - close: fd
`);
    expect(r.findings.map((f) => [f.code, f.details.hint])).toEqual([
      [
        "dma-buf-leak",
        "drop every reference to dma-buf 1: one dma_buf_put per dma_buf_get (and close its fds)",
      ],
      [
        "dma-buf-attachment-leak",
        "dma_buf_detach cam from dma-buf 1 when it is done with the buffer",
      ],
    ]);
  });

  it("a finding without a hint of its own shows its kind's", async () => {
    const r = await run("steps: [{ msleep: 1 }]\n");
    const text = formatReport({
      ...r,
      findings: [
        {
          kind: "deadlock",
          code: "all-blocked",
          summary: "deadlock",
          step: 1,
          thread: "main",
          ns: 0,
          seq: 1,
          details: { threads: [] },
        },
      ],
    });
    expect(text).toContain(
      "would have prevented it: take locks in one global order; back off (drop every lock) on -EDEADLK",
    );
  });
});
