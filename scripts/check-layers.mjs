// The layer rule of DESIGN.md: a workspace package may depend on (and import) only packages of a
// lower layer. The order is "dmasim.layers" in the root package.json, lowest first.
// Fails on: a package missing from the list; an upward or sideways dependency (devDependencies too);
// an import of an @dmasim/* package the importer does not declare; a self-import by name (outside
// examples/, which show user code); a deep import.
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";

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

let files = 0;
let packages = 0;
for (const group of ["packages", "apps"]) {
  for (const entry of existsSync(group) ? readdirSync(group) : []) {
    const dir = join(group, entry);
    if (!existsSync(join(dir, "package.json"))) continue;
    packages++;
    files += checkPackage(dir);
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
