import { defineConfig } from "tsup";

export default defineConfig({
  entry: { cli: "src/cli.ts", main: "src/main.ts", "explore-worker": "src/explore-worker.ts" },
  format: ["esm"],
  dts: { entry: { main: "src/main.ts" } },
  target: "node20",
  platform: "node",
  sourcemap: true,
  clean: true,
  splitting: false,
  banner: { js: "#!/usr/bin/env node" },
});
