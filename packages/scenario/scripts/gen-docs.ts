/**
 * `pnpm gen:docs`: write the README's operation table from the registry (between its
 * `<!-- ops:begin -->` and `<!-- ops:end -->` markers). test/readme.test.ts fails when it is out of
 * date.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { defaultRegistry, opsMarkdownTable, withOpsTable } from "../src/index";

const file = join(import.meta.dirname, "..", "README.md");
const before = readFileSync(file, "utf8");
const after = withOpsTable(before, opsMarkdownTable(defaultRegistry()));
if (after !== before) {
  writeFileSync(file, after);
}
console.log(after === before ? "README.md: up to date" : "README.md: operation table updated");
