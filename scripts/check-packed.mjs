// The published packages as a new user gets them: pack every workspace package, check each
// tarball (LICENSE, README, repository/homepage/bugs, every export, main, types and bin target
// shipped, no workspace: range left), install the tarballs into a fresh npm project outside the
// repository (third-party dependencies from the registry or npm's cache; our own packages only
// from the tarballs, pinned with overrides), then run there, as an ES module and as CommonJS,
// each package's README example and the exporter guide's code, type-check them under --strict,
// load the CLI's programmatic entry with import() and require(), and run the CLI through npx.
// Last, the root README's `npx dmasim ...` commands run from the repository's root.
// Run after the build: `pnpm check:packed` (part of `pnpm run check`).
import { spawn, spawnSync } from "node:child_process";
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { basename, join, resolve } from "node:path";
import ts from "typescript";

const root = resolve(import.meta.dirname, "..");
const rootPkg = JSON.parse(readFileSync(join(root, "package.json"), "utf8"));
const dirs = ["packages", "apps"]
  .flatMap((g) => readdirSync(join(root, g)).map((d) => join(root, g, d)))
  .filter((d) => existsSync(join(d, "package.json")));
const errors = [];
const t0 = Date.now();
const say = (s) =>
  process.stdout.write(`check-packed: ${s} (${((Date.now() - t0) / 1000).toFixed(1)}s)\n`);

function run(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { encoding: "utf8", timeout: 120_000, ...opts });
  return {
    code: r.status ?? -1,
    out: r.stdout ?? "",
    err: (r.stderr ?? "") + (r.error ? String(r.error) : ""),
  };
}

/** As run(), without blocking: several programs run at once. */
function runAsync(cmd, args, opts = {}) {
  return new Promise((done) => {
    const child = spawn(cmd, args, { ...opts, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    let err = "";
    child.stdout.on("data", (d) => (out += d));
    child.stderr.on("data", (d) => (err += d));
    const timer = setTimeout(() => child.kill(), opts.timeout ?? 180_000);
    child.on("error", (e) => (err += String(e)));
    child.on("close", (code) => {
      clearTimeout(timer);
      done({ code: code ?? -1, out, err });
    });
  });
}

function must(what, r) {
  if (r.code !== 0) {
    errors.push(`${what}: exit ${r.code}\n${r.err.trim() || r.out.trim()}`);
  }
  return r;
}

// ---- pack ---------------------------------------------------------------------------------
const work = mkdtempSync(join(tmpdir(), "dmasim-packed-"));
const tarballs = join(work, "tarballs");
mkdirSync(tarballs);
const pnpm = process.env.npm_execpath?.includes("pnpm")
  ? [process.execPath, [process.env.npm_execpath]]
  : ["npx", ["-y", "pnpm@10.34.8"]];
const packed = must(
  "pnpm -r pack",
  run(pnpm[0], [...pnpm[1], "-r", "pack", "--pack-destination", tarballs], { cwd: root }),
);
const packages = [];
let current;
for (const line of packed.out.split("\n")) {
  const name = /^📦\s+(.+)@[^@]+$/u.exec(line.trim())?.[1];
  if (name) current = name;
  else if (current && line.trim().endsWith(".tgz")) {
    const dir = dirs.find(
      (d) => JSON.parse(readFileSync(join(d, "package.json"), "utf8")).name === current,
    );
    packages.push({ dir, name: current, tarball: resolve(tarballs, line.trim()) });
    current = undefined;
  }
}
const published = dirs.filter(
  (d) => !JSON.parse(readFileSync(join(d, "package.json"), "utf8")).private,
);
if (packages.length !== published.length) {
  errors.push(`pnpm -r pack packed ${packages.length} packages, expected ${published.length}`);
}
say(`packed ${packages.length} packages`);

// ---- each tarball -------------------------------------------------------------------------
function targets(exp, out = []) {
  if (typeof exp === "string") out.push(exp);
  else if (exp && typeof exp === "object") for (const v of Object.values(exp)) targets(v, out);
  return out;
}
const repoUrl = rootPkg.repository?.url;
for (const p of packages) {
  const list = new Set(
    run("tar", ["-tzf", p.tarball])
      .out.split("\n")
      .filter(Boolean)
      .map((f) => f.replace(/^package\//, "")),
  );
  const pkg = JSON.parse(run("tar", ["-xOzf", p.tarball, "package/package.json"]).out);
  const where = `${p.name} (${basename(p.tarball)})`;
  for (const f of ["LICENSE", "README.md", "package.json"]) {
    if (!list.has(f)) errors.push(`${where}: the tarball has no ${f}`);
  }
  if (
    list.has("LICENSE") &&
    run("tar", ["-xOzf", p.tarball, "package/LICENSE"]).out !==
      readFileSync(join(root, "LICENSE"), "utf8")
  ) {
    errors.push(`${where}: its LICENSE differs from the repository's`);
  }
  if (pkg.license !== "MIT") errors.push(`${where}: license is ${pkg.license}, expected MIT`);
  if (pkg.repository?.url !== repoUrl)
    errors.push(`${where}: repository.url ${pkg.repository?.url} is not the root's ${repoUrl}`);
  if (typeof pkg.homepage !== "string") errors.push(`${where}: no homepage`);
  if (typeof pkg.bugs?.url !== "string") errors.push(`${where}: no bugs.url`);
  const shipped = [
    ...targets(pkg.exports),
    ...targets(pkg.bin),
    ...[pkg.main, pkg.module, pkg.types].filter(Boolean),
  ].map((f) => f.replace(/^\.\//, ""));
  for (const f of shipped) {
    if (!list.has(f))
      errors.push(`${where}: package.json points at ${f}, which the tarball does not ship`);
  }
  for (const [dep, range] of Object.entries({ ...pkg.dependencies, ...pkg.peerDependencies })) {
    if (String(range).startsWith("workspace:"))
      errors.push(`${where}: dependency ${dep} is still ${range}`);
  }
}
say("checked the tarballs");

// ---- a fresh npm project ------------------------------------------------------------------
const project = join(work, "project");
mkdirSync(project);
const own = Object.fromEntries(packages.map((p) => [p.name, `file:${p.tarball}`]));
writeFileSync(
  join(project, "package.json"),
  JSON.stringify(
    {
      name: "dmasim-packed-check",
      version: "0.0.0",
      private: true,
      dependencies: own,
      overrides: own,
    },
    null,
    2,
  ),
);
must(
  "npm install of the tarballs",
  run("npm", ["install", "--no-audit", "--no-fund", "--prefer-offline", "--loglevel=error"], {
    cwd: project,
    timeout: 300_000,
  }),
);
say("installed the tarballs in a fresh project");

// the code a user pastes: each README's example (the first TypeScript block under "## Example")
// and the exporter guide's code blocks, joined
const guide = readFileSync(join(root, "docs", "writing-an-exporter.md"), "utf8");
const exampleOf = (readme) =>
  /^## Example\n[\s\S]*?```ts\n([\s\S]*?)```/m.exec(readFileSync(readme, "utf8"))?.[1];
const programs = [
  ...packages
    .map((p) => ({
      name: `${basename(p.dir)}-readme`,
      code: exampleOf(join(p.dir, "README.md")),
      readme: join(p.dir, "README.md"),
    }))
    .filter((p) => p.code !== undefined),
  // the guide's part 1 is the exporter module (`./carveout`), part 2 drives it from scenarios
  ...guide.split(/^## Driving it from a scenario$/m).map((part, i) => ({
    name: i === 0 ? "carveout" : "carveout-scenario",
    code: [...part.matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1]).join(""),
    readme: join(root, "docs", "writing-an-exporter.md"),
    main: i === 0 ? "main" : "scenarioMain",
  })),
];

const imported = (code) => [...code.matchAll(/from "(@dmasim\/[^"/]+|dmasim)"/g)].map((m) => m[1]);
const show =
  "(r) => console.log(JSON.stringify(r, (k, v) => (v instanceof Uint8Array ? [...v] : v)))";
for (const prog of programs) {
  // every package the code imports is on the document's install line
  const text = readFileSync(prog.readme, "utf8");
  const line = [...text.matchAll(/(?:npm install|pnpm add) ([^\n]+)/g)].flatMap((m) =>
    (m[1] ?? "").split(/\s+/),
  );
  for (const name of new Set(imported(prog.code))) {
    if (!line.includes(name))
      errors.push(
        `${prog.readme}: its example imports ${name}, which its install line does not list`,
      );
  }
  // a relative import names the sibling program of the same module kind, with its extension
  const code = (ext) => prog.code.replace(/from "\.\/([\w-]+)"/g, `from "./$1.${ext}"`);
  const transpile = (module, ext) =>
    ts.transpileModule(code(ext), {
      compilerOptions: { module, target: ts.ScriptTarget.ES2022 },
    }).outputText;
  const main = prog.main ?? "main";
  writeFileSync(join(project, `${prog.name}.mjs`), transpile(ts.ModuleKind.ESNext, "mjs"));
  writeFileSync(join(project, `${prog.name}.cjs`), transpile(ts.ModuleKind.CommonJS, "cjs"));
  writeFileSync(join(project, `${prog.name}.mts`), code("mjs"));
  writeFileSync(join(project, `${prog.name}.cts`), code("cjs"));
  writeFileSync(
    join(project, `run-${prog.name}.mjs`),
    `import { ${main} } from "./${prog.name}.mjs";\n(${show})(await ${main}());\n`,
  );
  writeFileSync(
    join(project, `run-${prog.name}.cjs`),
    `require("./${prog.name}.cjs").${main}().then(${show});\n`,
  );
}
async function runPrograms() {
  await Promise.all(
    programs.map(async (prog) => {
      const [esm, cjs] = await Promise.all(
        ["mjs", "cjs"].map((ext) =>
          runAsync(process.execPath, [`run-${prog.name}.${ext}`], { cwd: project }),
        ),
      );
      must(`${prog.name} as an ES module`, esm);
      must(`${prog.name} as CommonJS`, cjs);
      if (esm.code === 0 && cjs.code === 0 && esm.out !== cjs.out) {
        errors.push(
          `${prog.name}: the ES module and CommonJS runs differ:\n${esm.out}\n${cjs.out}`,
        );
      }
    }),
  );
  say(`ran ${programs.length} programs as ES modules and CommonJS`);
}

// the same code type-checks under --strict against the published types, ESM and CJS
async function typeCheck() {
  const tsc = join(root, "node_modules", "typescript", "bin", "tsc");
  writeFileSync(
    join(project, "tsconfig.json"),
    JSON.stringify({
      compilerOptions: {
        strict: true,
        noEmit: true,
        target: "es2022",
        module: "nodenext",
        types: [],
      },
      files: programs.flatMap((p) => [`${p.name}.mts`, `${p.name}.cts`]),
    }),
  );
  must(
    "tsc --strict (nodenext) of the examples",
    await runAsync(process.execPath, [tsc, "-p", "."], { cwd: project }),
  );
  say("type-checked the examples (.mts and .cts)");
}

// the CLI: its programmatic entry, and the executable through npx
async function cli() {
  const entry =
    "(m) => { if (typeof m.main !== 'function') { console.error('no main export'); process.exit(1); } }";
  writeFileSync(join(project, "cli-import.mjs"), `(${entry})(await import("dmasim"));\n`);
  writeFileSync(join(project, "cli-require.cjs"), `(${entry})(require("dmasim"));\n`);
  const checks = [
    ['import("dmasim")', [process.execPath, ["cli-import.mjs"]], 0],
    ['require("dmasim")', [process.execPath, ["cli-require.cjs"]], 0],
    // npx finds the installed bin; the rest run that bin directly (npx costs a second each)
    ["npx dmasim --version (installed)", ["npx", ["--no-install", "dmasim", "--version"]], 0],
    ...[
      [["run", "lockdep-abba"], 0],
      [["run", "h1-skipped-invalidate"], 1],
      [["explore", "lockdep-abba-fixed", "--progress", "none"], 0],
      [["check", "no-such-example"], 2],
    ].map(([args, want]) => [
      `dmasim ${args.join(" ")} (installed)`,
      [process.execPath, [join(project, "node_modules", "dmasim", "bin", "dmasim.cjs"), ...args]],
      want,
    ]),
  ];
  await Promise.all(
    checks.map(async ([what, [cmd, args], want]) => {
      const r = await runAsync(cmd, args, { cwd: project });
      if (r.code !== want)
        errors.push(`${what}: exit ${r.code}, expected ${want}\n${r.err.trim()}`);
    }),
  );
  say("loaded the CLI's entry with import() and require(), ran it through npx");
}

await Promise.all([runPrograms(), typeCheck(), cli()]);

// ---- the root README's commands, from the repository's root -------------------------------
// each `npx dmasim ...` in a code span or a shell block; a block's `# exit N` comment is the exit
// code it must have, others must give a verdict (0 or 1), never a usage error or a crash
const readme = readFileSync(join(root, "README.md"), "utf8");
const commands = new Map();
for (const m of readme.matchAll(/`npx dmasim ([^`]+)`|^(?:\$ )?npx dmasim (.+)$/gm)) {
  const text = m[1] ?? m[2];
  const want = /#\s*exit (\d+)/.exec(text)?.[1];
  const c = text.replace(/\s+#.*$/, "").trim();
  if (!/[<>|&;$*]|\.\.\./.test(c)) {
    commands.set(c, want === undefined ? [0, 1] : [Number(want)]);
  }
}
// npx finds the root's own bin (scripts/dmasim.mjs); the commands then run that bin directly
const viaNpx = await runAsync("npx", ["--no-install", "dmasim", "--version"], { cwd: root });
if (viaNpx.code !== 0) {
  errors.push(`README: npx dmasim --version from the root: exit ${viaNpx.code}\n${viaNpx.err}`);
}
// the commands may write files (a --trace): remove what they leave in the root
const before = new Set(readdirSync(root));
await Promise.all(
  [...commands].map(async ([c, want]) => {
    const bin = join(root, rootPkg.bin.dmasim);
    const r = await runAsync(process.execPath, [bin, ...c.split(/\s+/)], { cwd: root });
    if (!want.includes(r.code)) {
      errors.push(
        `README: npx dmasim ${c}: exit ${r.code}, expected ${want.join(" or ")}\n${r.err.trim()}`,
      );
    }
  }),
);
for (const entry of readdirSync(root)) {
  if (!before.has(entry)) {
    rmSync(join(root, entry), { recursive: true, force: true });
  }
}
say(`ran the README's ${commands.size} npx dmasim commands from the repository's root`);

if (errors.length > 0) {
  process.stderr.write(
    `check-packed: ${errors.length} problem(s) (work folder kept: ${work})\n${errors.map((e) => `  ${e}`).join("\n")}\n`,
  );
  process.exitCode = 1;
} else {
  rmSync(work, { recursive: true, force: true });
  say("the published packages install and work as documented");
}
