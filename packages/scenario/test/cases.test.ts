/**
 * The cases dmasim grew out of, run across kernels and platforms: the same buggy file fails where
 * the bug exists and passes where it does not (`dmasim run FILE --kernel` / `--platform`).
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { defaultRegistry, loadScenario, runScenario, type RunOptions } from "../src/index";

const registry = defaultRegistry();
const dir = join(__dirname, "..", "examples");
const run = (name: string, opts: RunOptions = {}) =>
  runScenario(loadScenario(readFileSync(join(dir, `${name}.yaml`), "utf8"), name, registry), opts);

describe("the same example across kernels", () => {
  it("cached-sgt-skipped-invalidate: fails on 6.12 (its kernel), passes with --kernel 6.15", async () => {
    const bug = await run("cached-sgt-skipped-invalidate");
    expect(bug.kernel).toBe("6.12");
    expect(bug.ok).toBe(false);
    expect(bug.unexpected[0]?.kind).toBe("stale-read");
    const fixed = await run("cached-sgt-skipped-invalidate", { kernel: "6.15" });
    expect(fixed.kernel).toBe("6.15");
    expect(fixed.unexpected).toEqual([]);
    expect(fixed.ok).toBe(true);
  });

  it("dynamic-mismatch-direction: EBUSY on 6.12 (the second map), passes with --kernel 6.15", async () => {
    const bug = await run("dynamic-mismatch-direction");
    expect(bug.ok).toBe(false);
    const busy = bug.steps.find((s) => s.status === "failed");
    expect(busy?.op).toBe("dma_buf_map_attachment_unlocked");
    expect(busy?.errno).toBe("EBUSY");
    const fixed = await run("dynamic-mismatch-direction", { kernel: "6.15" });
    expect(fixed.ok).toBe(true);
  });
});

describe("the same example across platforms", () => {
  it("heap-vmap-vivt: fails on parisc-vivt (its platform), passes with --platform arm64-soc (PIPT)", async () => {
    const bug = await run("heap-vmap-vivt");
    expect(bug.ok).toBe(false);
    expect(bug.unexpected[0]?.kind).toBe("stale-read");
    const pipt = await run("heap-vmap-vivt", { platform: "arm64-soc" });
    expect(pipt.unexpected).toEqual([]);
    expect(pipt.ok).toBe(true);
  });

  it("heap-vmap-vivt: fails on aliasing VIPT too (armv6-vipt-aliasing)", async () => {
    expect((await run("heap-vmap-vivt", { platform: "armv6-vipt-aliasing" })).ok).toBe(false);
  });
});

describe("ion-uncached-dirty-alias", () => {
  it("the eviction puts the zeroing's dirty line over the application's data; the proposal's clean-and-zap prevents it", async () => {
    const bug = await run("ion-uncached-dirty-alias");
    expect(bug.unexpected.slice(0, 2).map((f) => `${f.kind}/${f.code}`)).toEqual([
      "clobbered-write/write-back",
      "stale-read/stale-read",
    ]);
    const fixed = await run("ion-uncached-dirty-alias-fixed");
    expect(fixed.ok).toBe(true);
  });
});
