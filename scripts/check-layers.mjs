// The layer rule of DESIGN.md: a workspace package may depend on (and import) only packages of a
// lower layer. The order is "dmasim.layers" in the root package.json, lowest first.
// Fails on: a package missing from the list; an upward or sideways dependency (devDependencies too);
// an import of an @dmasim/* package the importer does not declare; a self-import by name (outside
// examples/, which show user code); a deep import; an import cycle among a package's src/ files that
// runs at load time (every edge a static import or re-export that stays in the emitted code: under
// `verbatimModuleSyntax` only `import type` / `export type` are erased, and `import { type A }`
// still loads the module; a dynamic `import()` runs later and does not count).
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import ts from "typescript";

const root = JSON.parse(readFileSync("package.json", "utf8"));
const layers = root.dmasim.layers;
const rank = new Map(layers.map((name, i) => [name, i]));
const SCOPE = /^(@dmasim\/[^/"']+|dmasim)(\/[^"']*)?$/;
const IMPORT = /(?:from\s+|import\s*\(\s*|require\s*\(\s*|import\s+)["']([^"']+)["']/g;
const DEP_FIELDS = ["dependencies", "peerDependencies", "optionalDependencies", "devDependencies"];
const errors = [];

for (const field of DEP_FIELDS) {
  for (const dep of Object.keys(root[field] ?? {})) {
    if (rank.has(dep))
      errors.push(
        `package.json: the root must not declare ${dep} (it would be reachable from every package)`,
      );
  }
}

function* sourceFiles(dir) {
  if (!existsSync(dir)) return;
  for (const entry of readdirSync(dir)) {
    const path = join(dir, entry);
    if (statSync(path).isDirectory()) {
      if (entry !== "node_modules" && entry !== "dist") yield* sourceFiles(path);
    } else if (/\.(c|m)?(t|j)sx?$/.test(entry)) {
      yield path;
    }
  }
}

function checkPackage(dir) {
  const pkgPath = join(dir, "package.json");
  const pkg = JSON.parse(readFileSync(pkgPath, "utf8"));
  const own = rank.get(pkg.name);
  if (own === undefined) {
    errors.push(`${pkgPath}: ${pkg.name} is not listed in dmasim.layers of the root package.json`);
    return 0;
  }
  const declared = new Set();
  for (const field of DEP_FIELDS) {
    for (const dep of Object.keys(pkg[field] ?? {})) {
      if (!rank.has(dep)) continue;
      declared.add(dep);
      if (rank.get(dep) >= own) {
        errors.push(
          `${pkgPath}: ${field} -> ${dep} points up or sideways (layer ${rank.get(dep)} >= ${own})`,
        );
      }
    }
  }
  let scanned = 0;
  for (const file of ["src", "test", "examples", "bench"].flatMap((sub) => [
    ...sourceFiles(join(dir, sub)),
  ])) {
    scanned++;
    const text = readFileSync(file, "utf8");
    for (const [, spec] of text.matchAll(IMPORT)) {
      const match = SCOPE.exec(spec);
      if (!match) continue;
      const [, name, subpath] = match;
      // examples/ show user code, which imports the package by name (Node's self-reference).
      const inExamples = file.startsWith(join(dir, "examples"));
      if (name === pkg.name) {
        if (!inExamples)
          errors.push(`${file}: imports its own package "${spec}"; use a relative import`);
      } else if (!declared.has(name))
        errors.push(`${file}: imports ${name}, which ${pkgPath} does not declare`);
      if (subpath && /^\/(src|dist|internal)(\/|$)/.test(subpath)) {
        errors.push(`${file}: deep import "${spec}"; use the package's exports`);
      }
    }
  }
  return scanned;
}

/** The src/ file a relative specifier names, or undefined (not a source file of this tree). */
function resolveRelative(from, spec) {
  const base = resolve(dirname(from), spec);
  const stem = base.replace(/\.(c|m)?js$/, "");
  for (const cand of [base, `${stem}.ts`, `${stem}.tsx`, `${stem}.mts`, join(base, "index.ts")]) {
    if (existsSync(cand) && statSync(cand).isFile()) return cand;
  }
  return undefined;
}

/** The relative modules `file` loads when it is loaded (static imports and re-exports, not type-only). */
function loadTimeImports(file) {
  const src = ts.createSourceFile(file, readFileSync(file, "utf8"), ts.ScriptTarget.Latest, false);
  const out = [];
  for (const st of src.statements) {
    let spec;
    if (ts.isImportDeclaration(st)) {
      if (st.importClause?.isTypeOnly) continue;
      spec = st.moduleSpecifier;
    } else if (ts.isExportDeclaration(st) && st.moduleSpecifier) {
      if (st.isTypeOnly) continue;
      spec = st.moduleSpecifier;
    } else if (ts.isImportEqualsDeclaration(st) && !st.isTypeOnly) {
      const ref = st.moduleReference;
      if (ts.isExternalModuleReference(ref)) spec = ref.expression;
    }
    if (spec && ts.isStringLiteral(spec) && spec.text.startsWith(".")) {
      const target = resolveRelative(file, spec.text);
      if (target) out.push(target);
    }
  }
  return out;
}

/** Every cycle of load-time imports among `files` (one per strongly connected component; Tarjan). */
function loadTimeCycles(files) {
  const edges = new Map(files.map((f) => [f, loadTimeImports(f).filter((t) => t !== f)]));
  const index = new Map();
  const low = new Map();
  const stack = [];
  const onStack = new Set();
  const cycles = [];
  let next = 0;
  const strong = (v) => {
    index.set(v, next);
    low.set(v, next++);
    stack.push(v);
    onStack.add(v);
    for (const w of edges.get(v) ?? []) {
      if (!index.has(w)) {
        if (!edges.has(w)) continue;
        strong(w);
        low.set(v, Math.min(low.get(v), low.get(w)));
      } else if (onStack.has(w)) {
        low.set(v, Math.min(low.get(v), index.get(w)));
      }
    }
    if (low.get(v) === index.get(v)) {
      const comp = [];
      let w;
      do {
        w = stack.pop();
        onStack.delete(w);
        comp.push(w);
      } while (w !== v);
      if (comp.length > 1) cycles.push(cyclePath(comp, edges));
    }
  };
  for (const f of files) if (!index.has(f)) strong(f);
  return cycles;
}

/** One concrete cycle through a strongly connected component, for the message. */
function cyclePath(comp, edges) {
  const inComp = new Set(comp);
  const start = [...comp].sort()[0];
  const path = [start];
  const seen = new Set([start]);
  let at = start;
  for (;;) {
    const nexts = (edges.get(at) ?? []).filter((w) => inComp.has(w));
    const back = nexts.find((w) => w === start);
    if (back && path.length > 1) break;
    const w = nexts.find((x) => !seen.has(x)) ?? back;
    if (!w || w === start) break;
    path.push(w);
    seen.add(w);
    at = w;
  }
  return [...path, start].map((f) => relative(process.cwd(), f)).join(" -> ");
}

let files = 0;
let packages = 0;
for (const group of ["packages", "apps"]) {
  for (const entry of existsSync(group) ? readdirSync(group) : []) {
    const dir = join(group, entry);
    if (!existsSync(join(dir, "package.json"))) continue;
    packages++;
    files += checkPackage(dir);
    for (const cycle of loadTimeCycles([...sourceFiles(join(dir, "src"))].map((f) => resolve(f)))) {
      errors.push(`${dir}: import cycle that runs at load time: ${cycle}`);
    }
  }
}

if (errors.length > 0) {
  console.error(errors.join("\n"));
  console.error(`\ncheck-layers: ${errors.length} violation(s)`);
  process.exit(1);
}
console.log(
  `check-layers: ${packages} packages, ${files} files, ${layers.length} layers, no violations`,
);
