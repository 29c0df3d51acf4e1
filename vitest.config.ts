import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { defineConfig } from "vitest/config";

const packageDirs = ["packages", "apps"]
  .flatMap((group) => (existsSync(group) ? readdirSync(group).map((dir) => join(group, dir)) : []))
  .filter((dir) => existsSync(join(dir, "package.json")));

function packageName(dir: string): string {
  return (JSON.parse(readFileSync(join(dir, "package.json"), "utf8")) as { name: string }).name;
}

export default defineConfig({
  // Resolve @dmasim/* to their TypeScript sources: no build before tests.
  resolve: { conditions: ["@dmasim/source"] },
  ssr: { resolve: { conditions: ["@dmasim/source"] } },
  test: {
    restoreMocks: true,
    // Simulation-heavy tests (exploration, kselftest ports) take seconds on a loaded 2-core machine;
    // a timeout is a safety net against hangs, not a performance assertion.
    testTimeout: 30_000,
    reporters: ["default", "./scripts/summary-reporter.ts"],
    projects: packageDirs.map((dir) => ({
      extends: true,
      test: {
        name: packageName(dir),
        root: dir,
        include: ["src/**/*.test.ts", "test/**/*.test.ts"],
      },
    })),
  },
});
