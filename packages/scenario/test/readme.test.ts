import { readFileSync } from "node:fs";
import { join } from "node:path";
import { expect, it } from "vitest";
import { main as custom } from "../examples/custom-op";
import { main } from "../examples/readme";
import { defaultRegistry, opsMarkdownTable, withOpsTable } from "../src/index";

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

it("the README's operation table is the registry's (pnpm gen:docs writes it)", () => {
  const readme = readFileSync(join(__dirname, "..", "README.md"), "utf8");
  expect(withOpsTable(readme, opsMarkdownTable(defaultRegistry()))).toBe(readme);
});

it("the README's own-operation example runs, with its object type and no cast", async () => {
  const r = await custom();
  expect(r).toEqual({ ok: true, heads: ["npu: head 64", "npu: head 96"] });
  const readme = readFileSync(join(__dirname, "..", "README.md"), "utf8");
  const code = readFileSync(join(__dirname, "..", "examples", "custom-op.ts"), "utf8");
  expect(readme).toContain(code.trim());
});
