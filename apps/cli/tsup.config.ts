import { dirname, join } from "node:path";
import { defineConfig } from "tsup";
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

// The CLI is one bundle of its own code, the layers and its third-party dependencies, split by
// command: `cli.js` loads only the command line's skeleton (commander), and each command loads its
// chunk when it runs (`list kernels` never loads zod, the scenario layer or the explorer). One file
// per module of a few hundred would cost more start-up than the commands themselves.
export default defineConfig({
  entry: { cli: "src/cli.ts", main: "src/main.ts", "explore-worker": "src/explore-worker.ts" },
  format: ["esm"],
  dts: { entry: { main: "src/main.ts" } },
  target: "node20",
  platform: "node",
  sourcemap: true,
  clean: true,
  splitting: true,
  minify: true,
  noExternal: [/.*/],
  esbuildPlugins: [leanDependencies],
  // the layers from their TypeScript sources (the same code as their dist, without a build order)
  esbuildOptions(options) {
    options.conditions = ["@dmasim/source"];
  },
  // bundled CommonJS dependencies (commander) call require(): give them Node's
  banner: {
    js: [
      "#!/usr/bin/env node",
      'import { createRequire as __dmasimCreateRequire } from "node:module";',
      "const require = __dmasimCreateRequire(import.meta.url);",
    ].join("\n"),
  },
});
