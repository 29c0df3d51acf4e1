import { readFileSync } from "node:fs";
import { join } from "node:path";
import { expect, it } from "vitest";
import { main } from "../examples/writing-an-exporter";

it("docs/writing-an-exporter.md: its code runs, the CPU reads what the device wrote, nothing found", async () => {
  expect(await main()).toEqual({ read: 0x6b, findings: [] });
});

it("docs/writing-an-exporter.md shows exactly examples/writing-an-exporter.ts", () => {
  const doc = readFileSync(
    join(__dirname, "..", "..", "..", "docs", "writing-an-exporter.md"),
    "utf8",
  );
  const code = readFileSync(join(__dirname, "..", "examples", "writing-an-exporter.ts"), "utf8");
  // part 1 (part 2, the scenario operations, is the scenario package's example)
  const part1 = doc.slice(0, doc.indexOf("## Driving it from a scenario"));
  const blocks = [...part1.matchAll(/```ts\n([\s\S]*?)```/g)].map((b) => b[1]).join("");
  expect(blocks).toBe(code);
});
