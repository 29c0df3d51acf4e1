import { existsSync, readdirSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { parse } from "yaml";

/** A bundled example scenario. */
export interface Example {
  readonly name: string;
  readonly file: string;
  readonly description: string;
}

/** The first line of a scenario's description; empty when the file does not parse (`run` reports why). */
function firstLineOfDescription(text: string): string {
  try {
    const doc = parse(text) as { description?: unknown } | null;
    return typeof doc?.description === "string"
      ? (doc.description.trim().split("\n")[0] ?? "")
      : "";
  } catch {
    return "";
  }
}

/** The folder of bundled examples (shipped with @dmasim/scenario). */
export function examplesDir(): string {
  const require = createRequire(import.meta.url);
  return join(dirname(require.resolve("@dmasim/scenario/package.json")), "examples");
}

/** Every bundled example, by name. */
export function listExamples(): Example[] {
  const dir = examplesDir();
  return readdirSync(dir)
    .filter((f) => f.endsWith(".yaml"))
    .sort()
    .map((f) => {
      const file = join(dir, f);
      const description = firstLineOfDescription(readFileSync(file, "utf8"));
      return { name: f.replace(/\.yaml$/, ""), file, description };
    });
}

/** Example `name`, or undefined (reads only that file, not every example). */
export function findExample(name: string): Example | undefined {
  if (!/^[A-Za-z0-9_.-]+$/.test(name)) {
    return undefined;
  }
  const file = join(examplesDir(), `${name}.yaml`);
  if (!existsSync(file)) {
    return undefined;
  }
  return { name, file, description: firstLineOfDescription(readFileSync(file, "utf8")) };
}
