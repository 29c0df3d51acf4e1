import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { main } from "../examples/readme";

const here = dirname(fileURLToPath(import.meta.url));

describe("README example", () => {
  it("runs: lockdep reports the inverted order although the run did not deadlock", async () => {
    const { findings, log } = await main();
    expect(findings.map((f) => [f.kind, f.code, f.thread])).toEqual([
      ["lockdep", "circular-dependency", "importer"],
    ]);
    expect(log).toEqual([
      "exporter: mapped",
      "importer: attached",
      "lockdep/circular-dependency in importer: possible circular locking dependency detected",
    ]);
  });

  it("is the code the README shows", () => {
    const readme = readFileSync(join(here, "../README.md"), "utf8");
    const example = readFileSync(join(here, "../examples/readme.ts"), "utf8");
    const block = /## Example\n\n[^\n]*\n\n```ts\n([\s\S]*?)```/.exec(readme)?.[1];
    expect(block).toBe(example);
  });
});
