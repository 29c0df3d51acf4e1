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
  it("cached-sgt-skipped-invalidate: fails on 6.12 (its kernel), fails on 6.15 too, passes with --kernel 6.16 (b72f66f22c0e)", async () => {
    const bug = await run("cached-sgt-skipped-invalidate");
    expect(bug.kernel).toBe("6.12");
    expect(bug.ok).toBe(false);
    expect(bug.unexpected[0]?.kind).toBe("stale-read");
    // 6.15 still caches: b72f66f22c0e "dma-buf: drop caching of sg_tables" landed for 6.16
    const last = await run("cached-sgt-skipped-invalidate", { kernel: "6.15" });
    expect(last.ok).toBe(false);
    expect(last.unexpected[0]?.kind).toBe("stale-read");
    const fixed = await run("cached-sgt-skipped-invalidate", { kernel: "6.16" });
    expect(fixed.kernel).toBe("6.16");
    expect(fixed.unexpected).toEqual([]);
    expect(fixed.ok).toBe(true);
  });

  it("dynamic-mismatch-direction: EBUSY on 6.12 (the second map), fails on 6.15 too, passes with --kernel 6.16 (b72f66f22c0e)", async () => {
    const bug = await run("dynamic-mismatch-direction");
    expect(bug.ok).toBe(false);
    const busy = bug.steps.find((s) => s.status === "failed");
    expect(busy?.op).toBe("dma_buf_map_attachment_unlocked");
    expect(busy?.errno).toBe("EBUSY");
    const last = await run("dynamic-mismatch-direction", { kernel: "6.15" });
    expect(last.steps.find((s) => s.status === "failed")?.errno).toBe("EBUSY");
    const fixed = await run("dynamic-mismatch-direction", { kernel: "6.16" });
    expect(fixed.ok).toBe(true);
  });
});

describe("the same example across platforms", () => {
  it("ion-uncached-dirty-alias-fixed (the 2018 zap-and-fault draft) passes on VIVT and aliasing VIPT too: zap_page_range flushes the user alias", async () => {
    for (const platform of ["arm64-soc", "parisc-vivt", "armv7-vipt"]) {
      const r = await run("ion-uncached-dirty-alias-fixed", { platform });
      expect(r.unexpected, platform).toEqual([]);
      expect(r.ok, platform).toBe(true);
    }
  });

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
