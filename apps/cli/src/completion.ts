/**
 * Shell completion for bash, zsh and fish (and PowerShell), with @bomb.sh/tab: `dmasim completion
 * SHELL` prints the script; the script asks `dmasim complete -- WORDS` for the candidates, which
 * come from the command tree (commands, options) and from what dmasim knows (kernel versions,
 * platforms, bundled examples, scenario files on disk).
 */
import { readdirSync } from "node:fs";
import { dirname, join } from "node:path";
import type { Argument as TabArgument, Complete, RootCommand } from "@bomb.sh/tab";
import type { Command } from "commander";
import { UsageError } from "./io";
import { LISTABLE } from "./listable";

const SHELLS = ["bash", "zsh", "fish", "powershell"];

/** Run `fn`, which prints with `console.log`, and return what it printed. */
function printed(fn: () => void): string {
  const lines: string[] = [];
  const log = console.log;
  console.log = (...args: unknown[]) => {
    lines.push(args.map(String).join(" "));
  };
  try {
    fn();
  } finally {
    console.log = log;
  }
  return lines.map((l) => `${l}\n`).join("");
}

/**
 * The completion script for `shell`.
 *
 * @throws {@link UsageError} for a shell it cannot complete in
 */
export async function completionScript(shell: string): Promise<string> {
  if (!SHELLS.includes(shell)) {
    throw new UsageError(`completion ${shell}: expected bash, zsh or fish (or powershell)`);
  }
  const { script } = await import("@bomb.sh/tab");
  return printed(() => script(shell, "dmasim", "dmasim"));
}

/** Scenario files and folders that complete `word` (a path being typed). */
function scenarioFiles(word: string, complete: Complete): void {
  const dir = word.endsWith("/") ? word : dirname(word);
  const base = dir === "." && !word.startsWith("./") ? "" : dir.endsWith("/") ? dir : `${dir}/`;
  let entries;
  try {
    entries = readdirSync(dir === "" ? "." : dir, { withFileTypes: true });
  } catch {
    return;
  }
  for (const e of entries) {
    if (e.name.startsWith(".") && !word.slice(base.length).startsWith(".")) {
      continue;
    }
    if (e.isDirectory()) {
      complete(join(base, e.name) + "/", "");
    } else if (/\.ya?ml$/.test(e.name)) {
      complete(`${base}${e.name}`, "scenario file");
    }
  }
}

/** What dmasim knows, for the values of options and arguments. */
interface Known {
  readonly kernels: readonly string[];
  readonly platforms: readonly string[];
  readonly examples: readonly string[];
}

async function known(): Promise<Known> {
  const [{ kernelNames, platformNames }, { exampleNames }] = await Promise.all([
    import("./targets"),
    import("./examples"),
  ]);
  return { kernels: kernelNames(), platforms: platformNames(), examples: exampleNames() };
}

const each =
  (values: readonly string[], what = "") =>
  (complete: Complete) => {
    for (const v of values) {
      complete(v, what);
    }
  };

const OPTION_VALUES: Readonly<Record<string, readonly string[]>> = {
  strategy: ["dfs", "random", "pct"],
  reduction: ["state", "none"],
  progress: ["auto", "bar", "ndjson", "none"],
};

function optionHandler(long: string, k: Known): ((c: Complete) => void) | undefined {
  if (long === "kernel") {
    return each(["all", ...k.kernels], "kernel version");
  }
  if (long === "platform") {
    return each(["all", ...k.platforms], "platform preset");
  }
  const values = OPTION_VALUES[long];
  return values ? each(values) : undefined;
}

function argumentHandler(
  command: string,
  word: string,
  k: Known,
): ((this: TabArgument, c: Complete) => void) | undefined {
  switch (command) {
    case "run":
    case "check":
    case "explore":
      return (c) => {
        each(k.examples, "bundled example")(c);
        scenarioFiles(word, c);
      };
    case "example":
      return each(k.examples, "bundled example");
    case "list":
      return each(LISTABLE);
    case "schema":
      return each(["scenario", "report"]);
    case "completion":
      return each(SHELLS.slice(0, 3));
    default:
      return undefined;
  }
}

/** The tab tree of the program's commands, options and arguments. */
function tree(root: RootCommand, program: Command, word: string, k: Known): void {
  const help = program.createHelp();
  for (const cmd of help.visibleCommands(program)) {
    if (cmd.name() === "help") {
      continue;
    }
    const t = root.command(cmd.name(), cmd.description().split("\n")[0] ?? "");
    for (const o of help.visibleOptions(cmd)) {
      const long = o.long?.replace(/^--/, "");
      if (!long || long === "help") {
        continue;
      }
      const short = o.short?.replace(/^-/, "");
      const takesValue = o.required || o.optional;
      const handler = takesValue ? (optionHandler(long, k) ?? (() => undefined)) : undefined;
      if (handler) {
        t.option(long, o.description, handler, short);
      } else {
        t.option(long, o.description, short);
      }
    }
    for (const a of cmd.registeredArguments) {
      t.argument(a.name(), argumentHandler(cmd.name(), word, k), a.variadic);
    }
  }
}

/** The candidates for a completion request `words` (the command line after `dmasim`). */
export async function complete(program: Command, words: readonly string[]): Promise<string> {
  const { RootCommand } = await import("@bomb.sh/tab");
  const root = new RootCommand();
  const word = words.at(-1) ?? "";
  tree(root, program, word, await known());
  return printed(() => root.parse([...words]));
}
