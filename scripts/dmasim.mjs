#!/usr/bin/env node
// `npx dmasim ...` from the repository's root (the root's own bin): runs the built CLI, or says
// how to build it. After the Quick start (`npx -y pnpm@10.34.8 install && npx -y pnpm@10.34.8 run
// demo`) it is built.
import { existsSync } from "node:fs";

const cli = new URL("../apps/cli/dist/cli.cjs", import.meta.url);
if (!existsSync(cli)) {
  process.stderr.write(
    "dmasim: the CLI is not built yet: run `npx -y pnpm@10.34.8 install && npx -y pnpm@10.34.8 run build` first\n",
  );
  process.exit(2);
}
await import(new URL("../apps/cli/bin/dmasim.cjs", import.meta.url).href);
