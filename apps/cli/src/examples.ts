import { existsSync, readdirSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { parse } from "yaml";
import { UsageError } from "./io";
import { didYouMean } from "./suggest";

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

/** The names of every bundled example, sorted. */
export function exampleNames(): string[] {
  return readdirSync(examplesDir())
    .filter((f) => f.endsWith(".yaml"))
    .map((f) => f.replace(/\.yaml$/, ""))
    .sort();
}

/** Every bundled example, by name. */
export function listExamples(): Example[] {
  const dir = examplesDir();
  return exampleNames().map((name) => {
    const file = join(dir, `${name}.yaml`);
    return { name, file, description: firstLineOfDescription(readFileSync(file, "utf8")) };
  });
}

/** The file of example `name`, or undefined (looks at that file only). */
export function exampleFile(name: string): string | undefined {
  if (!/^[A-Za-z0-9_.-]+$/.test(name)) {
    return undefined;
  }
  const file = join(examplesDir(), `${name}.yaml`);
  return existsSync(file) ? file : undefined;
}

/** Example `name`, or undefined (reads only that file, not every example). */
export function findExample(name: string): Example | undefined {
  const file = exampleFile(name);
  return file === undefined
    ? undefined
    : { name, file, description: firstLineOfDescription(readFileSync(file, "utf8")) };
}

/** ` (did you mean …?)` among the example names, for a name that is none. */
export function exampleSuggestion(name: string): string {
  return didYouMean(name, exampleNames());
}

/**
 * The text of example `name` (`dmasim example NAME`).
 *
 * @throws {@link UsageError} when there is no such example (naming the closest)
 */
export function example(name: string): string {
  const file = exampleFile(name);
  if (file === undefined) {
    throw new UsageError(
      `no bundled example "${name}"${exampleSuggestion(name)} (dmasim list examples)`,
    );
  }
  return readFileSync(file, "utf8");
}
