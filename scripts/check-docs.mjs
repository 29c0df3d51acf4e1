// Every export of every package's src/index.ts carries TSDoc. Exported functions and classes must name
// their kernel counterpart (**Kernel:**) and their locking rule (**Locking:**); a function whose own
// body throws must document it with @throws. Types and constants need a doc comment at least.
import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import ts from "typescript";

const entries = ["packages", "apps"]
  .flatMap((group) => (existsSync(group) ? readdirSync(group).map((d) => join(group, d)) : []))
  .map((dir) => join(dir, "src", "index.ts"))
  .filter((file) => existsSync(file) && !file.startsWith("apps"));

const program = ts.createProgram(entries, {
  target: ts.ScriptTarget.ES2022,
  module: ts.ModuleKind.ESNext,
  moduleResolution: ts.ModuleResolutionKind.Bundler,
  customConditions: ["@dmasim/source"],
  noEmit: true,
  skipLibCheck: true,
});
const checker = program.getTypeChecker();
const errors = [];
let checked = 0;

function docOf(decl) {
  const tags = ts.getJSDocCommentsAndTags(decl);
  return tags.map((t) => t.getText()).join("\n");
}

function bodyThrows(decl) {
  let found = false;
  const visit = (node) => {
    if (found) return;
    if (ts.isThrowStatement(node)) {
      found = true;
      return;
    }
    if (ts.isFunctionLike(node) && node !== decl) return; // nested functions have their own docs
    ts.forEachChild(node, visit);
  };
  if (decl.body) ts.forEachChild(decl.body, visit);
  return found;
}

function where(decl) {
  const sf = decl.getSourceFile();
  const { line } = sf.getLineAndCharacterOfPosition(decl.getStart());
  return `${sf.fileName}:${line + 1}`;
}

for (const entry of entries) {
  const source = program.getSourceFile(entry);
  if (!source) continue;
  const moduleSymbol = checker.getSymbolAtLocation(source);
  if (!moduleSymbol) continue;
  for (const exported of checker.getExportsOfModule(moduleSymbol)) {
    const symbol =
      exported.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(exported) : exported;
    const decl = symbol.declarations?.[0];
    if (!decl) continue;
    checked++;
    const target = ts.isVariableDeclaration(decl) ? decl.parent.parent : decl;
    const doc = docOf(target);
    const name = exported.getName();
    if (!doc) {
      errors.push(`${where(decl)}: export ${name} has no TSDoc`);
      continue;
    }
    const callable = ts.isFunctionDeclaration(decl) || ts.isClassDeclaration(decl);
    if (!callable) continue;
    if (!doc.includes("**Kernel:**"))
      errors.push(`${where(decl)}: ${name}: TSDoc lacks **Kernel:**`);
    if (!doc.includes("**Locking:**"))
      errors.push(`${where(decl)}: ${name}: TSDoc lacks **Locking:**`);
    if (ts.isFunctionDeclaration(decl) && bodyThrows(decl) && !doc.includes("@throws")) {
      errors.push(`${where(decl)}: ${name}: throws but its TSDoc has no @throws`);
    }
  }
}

if (errors.length > 0) {
  console.error(errors.join("\n"));
  console.error(`\ncheck-docs: ${errors.length} problem(s) in ${checked} exports`);
  process.exit(1);
}
console.log(`check-docs: ${checked} exports of ${entries.length} packages documented`);
