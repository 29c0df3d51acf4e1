import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { main } from "../examples/readme";

describe("README example", () => {
  it("runs: a stale read without the sync for the CPU, nothing with it", async () => {
    const { buggy, fixed, segments } = await main();
    expect(segments).toBe(1);
    expect(buggy).toHaveLength(1);
    expect(buggy[0]).toMatch(/^stale-read: stale read by cpu:init/);
    expect(fixed).toEqual([]);
  });

  it("is the code the README shows", () => {
    const readme = readFileSync(new URL("../README.md", import.meta.url), "utf8");
    const example = readFileSync(new URL("../examples/readme.ts", import.meta.url), "utf8");
    expect(readme).toContain(example.replaceAll('"../src/index"', '"@dmasim/dma-mapping"').trim());
  });
});
