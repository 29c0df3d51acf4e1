import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { defaultRegistry, loadScenario, runScenario, type ScenarioError } from "../src/index";

const registry = defaultRegistry();
const dir = join(__dirname, "..", "examples");
const load = (text: string) => loadScenario(text, "t.yaml", registry);

describe("bundled examples", () => {
  const files = readdirSync(dir).filter((f) => f.endsWith(".yaml"));
  const run = (f: string) =>
    runScenario(loadScenario(readFileSync(join(dir, f), "utf8"), f, registry));

  it.each(files.filter((f) => f.endsWith("-fixed.yaml")))("%s (a fix) passes", async (f) => {
    const r = await run(f);
    expect(r.unexpected.map((x) => x.summary)).toEqual([]);
    expect(r.expectations.filter((e) => !e.ok)).toEqual([]);
    expect(r.ok).toBe(true);
  });

  // Buggy examples state the correct behaviour, so they fail where the bug bites. Those whose bug
  // needs a nondeterministic event force it with a step; the intermittent ones are found by explore.
  it.each([
    ["h1-skipped-invalidate.yaml", ["stale-read"]],
    ["h21-unchecked-mapping-error.yaml", ["dma-api"]],
    ["swiotlb-skip-sync-shared.yaml", ["stale-read"]],
    ["h2-speculative-refill.yaml", ["stale-read"]],
    ["h3-dirty-writeback.yaml", ["clobbered-write", "stale-read"]],
    ["cached-sgt-skipped-invalidate.yaml", ["stale-read"]],
    ["dynamic-mismatch-direction.yaml", ["leak", "leak", "leak"]],
    ["ion-uncached-dirty-alias.yaml", ["clobbered-write", "stale-read", "stale-read"]],
    ["heap-vmap-vivt.yaml", ["stale-read"]],
  ])("%s fails under run with %j", async (f, kinds) => {
    const r = await run(f);
    expect(r.ok).toBe(false);
    expect(r.unexpected.map((x) => x.kind)).toEqual(kinds);
  });

  it("every buggy example has a -fixed variant that states what findings it expects", () => {
    const names = files.map((f) => f.replace(/\.yaml$/, ""));
    for (const n of names.filter((x) => !x.endsWith("-fixed"))) {
      expect(names).toContain(`${n}-fixed`);
      const fixed = readFileSync(join(dir, `${n}-fixed.yaml`), "utf8");
      expect(fixed).toMatch(/\n {2}findings:/);
    }
  });
});

describe("hardware operations", () => {
  const base = `name: t
platform: { preset: arm64-soc, cache_policy: none }
devices:
  - { name: cam, dma_mask: 32 }
  - { name: gpu, coherent: true }
setup:
  - alloc_pages: { order: 1, gfp: GFP_KERNEL | GFP_DMA32 | __GFP_ZERO }
    as: buf
  - linear_map: buf
    as: lin
  - vmap: { pages: buf, prot: writecombine }
    as: wc
`;

  it("a coherent device snoops the CPU's dirty line; a non-coherent one sees memory", async () => {
    const r = await runScenario(
      load(`${base}steps:
  - cpu_write: { mapping: lin, offset: 100, data: "aa bb" }
  - device_read: { device: gpu, pages: buf, offset: 100, len: 2 }
    expect: { value: "aa bb" }
  - device_read: { device: cam, pages: buf, offset: 100, len: 2 }
    expect: { value: "00 00", findings: stale-read }
expect:
  findings: [{ kind: stale-read }]
`),
    );
    expect(r.ok).toBe(true);
  });

  it("accesses across the page boundary of a 2-page block and through a write-combine vmap", async () => {
    const r = await runScenario(
      load(`${base}steps:
  - cpu_write: { mapping: wc, offset: 4094, data: "01 02 03 04" }
  - device_read: { device: cam, pages: buf, offset: 4094, len: 4 }
    expect: { value: "01 02 03 04" }
  - cpu_read: { mapping: wc, offset: 4094, len: 4 }
    expect: { value: "01 02 03 04" }
expect:
  findings: none
`),
    );
    expect(r.steps.map((s) => s.expectation)).toEqual([
      undefined,
      undefined,
      undefined,
      undefined,
      undefined,
      undefined,
    ]);
    expect(r.ok).toBe(true);
  });

  it("rejects out-of-range accesses with EFAULT, and a device on a missing platform", async () => {
    const r = await runScenario(
      load(`${base}steps:
  - cpu_read: { mapping: lin, offset: 8190, len: 4 }
    expect: { errno: EFAULT }
`),
    );
    expect(r.ok).toBe(true);
    const noPlatform = await runScenario(
      load(`name: t
steps:
  - alloc_pages: {}
    as: p
    expect: { errno: ENODEV }
`),
    );
    expect(noPlatform.ok).toBe(true);
  });

  it("--platform overrides the preset and keeps the overrides", async () => {
    const sc = load(`${base}steps:
  - cpu_write: { mapping: lin, offset: 0, data: "aa" }
  - device_read: { device: cam, pages: buf, offset: 0, len: 1 }
`);
    const arm = await runScenario(sc);
    expect(arm.findings.map((f) => f.kind)).toEqual(["stale-read"]);
    const x86 = await runScenario(sc, { platform: "x86-64" });
    expect(x86.findings).toEqual([]); // x86 devices snoop
    await expect(runScenario(sc, { platform: "vax" })).rejects.toThrow(/unknown platform "vax"/);
  });

  it("validates platform, devices and references to them", () => {
    let err: ScenarioError | undefined;
    try {
      load(`name: t
platform: { preset: arm65-soc, line_sise: 64 }
devices:
  - { name: cam, dma_mask: 99 }
setup:
  - alloc_pages: { gfp: GFP_KERNAL }
    as: p
steps:
  - device_read: { device: camera, pages: p, len: 4 }
`);
    } catch (e) {
      err = e as ScenarioError;
    }
    const text = err?.message ?? "";
    expect(text).toMatch(/t\.yaml:2:\d+: platform/);
    expect(text).toMatch(/t\.yaml:4:\d+: devices\[0\]\.dma_mask/);
  });

  it("reports unknown device names with a suggestion", () => {
    expect(() =>
      load(`name: t
platform: arm64-soc
devices: [{ name: cam }]
setup:
  - alloc_pages: {}
    as: p
steps:
  - device_read: { device: cma, pages: p, len: 4 }
`),
    ).toThrow(/no step makes a device named "cma" \(did you mean cam\?\)/);
  });
});
