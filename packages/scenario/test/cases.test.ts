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
});
