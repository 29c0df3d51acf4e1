import { readFileSync } from "node:fs";
import { join } from "node:path";
import { expect, it } from "vitest";
import { main } from "../examples/readme";

it("the README example runs and finds the ABBA inversion", async () => {
  const r = await main();
  expect(r.ok).toBe(true);
  expect(r.kinds).toEqual(["lockdep"]);
  expect(r.report).toContain("result: PASS");
});

it("the README shows the example file verbatim", () => {
  const readme = readFileSync(join(__dirname, "..", "README.md"), "utf8");
  const code = readFileSync(join(__dirname, "..", "examples", "readme.ts"), "utf8");
  expect(readme).toContain(code.trim());
});
