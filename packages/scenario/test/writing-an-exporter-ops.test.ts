import { readFileSync } from "node:fs";
import { join } from "node:path";
import { expect, it } from "vitest";
import { scenarioMain } from "../examples/writing-an-exporter-ops";

const DRIVING = "## Driving it from a scenario";

it("docs/writing-an-exporter.md part 2: the carve-out exporter runs from a scenario with its own operations", async () => {
  const r = await scenarioMain();
  expect(r.report).toContain("carveout_mapped");
  expect(r.ok, r.report).toBe(true);
});

it("docs/writing-an-exporter.md part 2 shows exactly examples/writing-an-exporter-ops.ts", () => {
  const doc = readFileSync(
    join(__dirname, "..", "..", "..", "docs", "writing-an-exporter.md"),
    "utf8",
  );
  const part2 = doc.slice(doc.indexOf(DRIVING));
  const code = readFileSync(
    join(__dirname, "..", "examples", "writing-an-exporter-ops.ts"),
    "utf8",
  );
  const blocks = [...part2.matchAll(/```ts\n([\s\S]*?)```/g)].map((b) => b[1]).join("");
  expect(blocks).toBe(code);
});
