import { dirname, join } from "node:path";
import { defineConfig, type Options } from "tsup";
import type { Plugin } from "esbuild";

/**
 * Smaller start-up: take yaml's ES module build (its `node` build is CommonJS, which a bundle
 * keeps whole and evaluates eagerly), and keep only zod's English messages (zod's namespace
 * object `z` holds every locale, so that no bundler can drop the other 48).
 */
const leanDependencies: Plugin = {
  name: "lean-dependencies",
  setup(build) {
    build.onResolve({ filter: /^yaml$/ }, async (args) => {
      const pkg = await build.resolve("yaml/package.json", {
        resolveDir: args.resolveDir,
        kind: args.kind,
      });
      return { path: join(dirname(pkg.path), "browser", "index.js") };
    });
    build.onResolve({ filter: /\/locales\/index\.js$/ }, (args) =>
      /[/\\]zod[/\\]/.test(args.importer)
        ? { path: join(args.resolveDir, args.path), namespace: "zod-locales" }
        : undefined,
    );
    build.onLoad({ filter: /.*/, namespace: "zod-locales" }, (args) => ({
      contents: 'export { default as en } from "./en.js";',
      resolveDir: dirname(args.path),
      loader: "js",
    }));
  },
};

/**
 * Each command is a bundle of its own, loaded when the command runs: the command line's skeleton
 * (`cli.cjs`, `main`) imports them by their built file, not their source.
 */
const COMMANDS: Readonly<Record<string, string>> = {
  "./commands/run": "command-run",
  "./commands/explore": "command-explore",
  "./commands/check": "command-check",
  "./commands/schema": "command-schema",
  "./commands/list-command": "command-list",
  "./examples": "command-example",
  "./completion": "command-completion",
};

const commandsApart: Plugin = {
  name: "commands-apart",
  setup(build) {
    build.onResolve({ filter: /^\.\// }, (args) => {
      const out = COMMANDS[args.path];
      return out !== undefined && /[/\\]src[/\\]main\.ts$/.test(args.importer)
        ? { path: `./${out}.cjs`, external: true }
        : undefined;
    });
  },
};

const common = {
  target: "node20",
  platform: "node",
  sourcemap: true,
  // DMASIM_NO_MINIFY=1: readable bundles, for a CPU profile of start-up
  minify: process.env.DMASIM_NO_MINIFY !== "1",
  noExternal: [/.*/],
  esbuildPlugins: [leanDependencies],
  // the layers from their TypeScript sources (the same code as their dist, without a build order)
  esbuildOptions(options) {
    options.conditions = ["@dmasim/source"];
    // maps name files and lines; the sources themselves ship with the layers' packages
    options.sourcesContent = false;
  },
  // import.meta.url in CommonJS (the examples folder, the worker's file)
  shims: true,
} satisfies Options;

// The executable is CommonJS bundles of the CLI, the layers and their dependencies: Node 20 starts
// CommonJS faster than ES modules. `cli.cjs` (which bin/dmasim.cjs loads) holds the command line's
// skeleton; each command is a bundle of its own that loads when it runs, so `--version` loads
// commander only and `list` never loads the scenario layer's schemas. The programmatic entry
// (`main`) is built for import and require, and loads the same command bundles.
export default defineConfig([
  {
    ...common,
    entry: {
      cli: "src/cli.ts",
      "explore-worker": "src/explore-worker.ts",
      ...Object.fromEntries(
        Object.entries(COMMANDS).map(([src, out]) => [out, `src/${src.slice(2)}.ts`]),
      ),
    },
    format: ["cjs"],
    esbuildPlugins: [leanDependencies, commandsApart],
    splitting: false,
  },
  {
    ...common,
    entry: { main: "src/main.ts" },
    format: ["esm", "cjs"],
    esbuildPlugins: [leanDependencies, commandsApart],
    dts: true,
    splitting: false,
    // bundled CommonJS dependencies (commander) call require(): give the ES module Node's
    banner: (ctx) =>
      ctx.format === "esm"
        ? {
            js: [
              'import { createRequire as __dmasimCreateRequire } from "node:module";',
              "const require = __dmasimCreateRequire(import.meta.url);",
            ].join("\n"),
          }
        : {},
  },
]);
