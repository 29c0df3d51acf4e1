import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { main } from "../examples/readme";

describe("README example", () => {
  it("runs and shows the stale read and its fix", async () => {
    const { stale, fixed } = await main();
    expect(stale).toHaveLength(1);
    expect(stale[0]).toMatch(/^stale-read: stale read by cpu:init/);
    expect(fixed).toEqual([]);
  });

  it("is the code the README shows", () => {
    const readme = readFileSync(new URL("../README.md", import.meta.url), "utf8");
    const example = readFileSync(new URL("../examples/readme.ts", import.meta.url), "utf8");
    expect(readme).toContain(example.replaceAll('"../src/index"', '"@dmasim/hardware"').trim());
  });
});
