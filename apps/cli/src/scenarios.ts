/**
 * Reading and validating the scenario files named on the command line: a path, or the name of a
 * bundled example. Every file is loaded before anything runs, and every bad one is reported.
 */
import {
  ScenarioError,
  defaultRegistry,
  loadScenario,
  type Registry,
  type Scenario,
} from "@dmasim/scenario";
import { exampleFile, exampleSuggestion } from "./examples";
import { exists, readInputFile } from "./files";
import { UsageError } from "./io";

/**
 * Read a scenario: a path, or the name of a bundled example.
 *
 * @throws {@link UsageError} for a missing, unreadable or directory path
 */
export function readScenario(arg: string): { text: string; file: string } {
  if (arg.trim() === "") {
    throw new UsageError(`"": expected a scenario file or a bundled example name`);
  }
  if (exists(arg)) {
    return { text: readInputFile(arg, "scenario file (YAML)"), file: arg };
  }
  const ex = exampleFile(arg);
  if (ex !== undefined) {
    return { text: readInputFile(ex), file: ex };
  }
  throw new UsageError(
    `${arg}: no such file, and no bundled example of that name${exampleSuggestion(arg)} (dmasim list examples)`,
  );
}

/** One file's outcome of loading: its scenario, or the error that says why it cannot run. */
export type Loaded =
  | { readonly arg: string; readonly scenario: Scenario; readonly error?: undefined }
  | {
      readonly arg: string;
      readonly scenario?: undefined;
      readonly error: UsageError | ScenarioError;
    };

/**
 * Load every file; errors are kept per file (a file that cannot be read, or that does not validate).
 *
 * @throws anything but a usage or scenario error (an internal error)
 */
export function loadEach(
  args: readonly string[],
  registry: Registry = defaultRegistry(),
): Loaded[] {
  return args.map((arg): Loaded => {
    try {
      const { text, file } = readScenario(arg);
      return { arg, scenario: loadScenario(text, file, registry) };
    } catch (e) {
      if (e instanceof UsageError || e instanceof ScenarioError) {
        return { arg, error: e };
      }
      throw e;
    }
  });
}

/** The text of a load error as the CLI prints it (scenario errors carry file:line:col already). */
export function loadErrorText(e: UsageError | ScenarioError): string {
  return e instanceof ScenarioError ? e.message : `dmasim: ${e.message}`;
}

/**
 * Load every file; when any is bad, report every bad one on stderr and refuse to run anything.
 *
 * @throws {@link FilesRejected} after printing the errors of every bad file
 */
export function loadAll(
  args: readonly string[],
  err: (text: string) => void,
  registry?: Registry,
): Scenario[] {
  const loaded = loadEach(args, registry);
  const bad = loaded.filter((l) => l.error !== undefined);
  if (bad.length > 0) {
    for (const l of bad) {
      err(`${loadErrorText(l.error!)}\n`);
    }
    throw new FilesRejected(bad.length);
  }
  return loaded.map((l) => l.scenario!);
}

/** Thrown by {@link loadAll} after it printed the errors: exit 2 with nothing more to say. */
export class FilesRejected extends Error {
  override readonly name = "FilesRejected";
  constructor(readonly count: number) {
    super(`${count} scenario file${count === 1 ? "" : "s"} rejected`);
  }
}
