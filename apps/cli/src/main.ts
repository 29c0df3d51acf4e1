/**
 * The dmasim command line, as a function: `main(argv, io)` returns the exit code. `cli.ts` binds it
 * to the process; tests call it directly. Each command loads what it needs when it runs (`list`
 * never loads the scenario layer, its schemas or the explorer), so that start-up stays short.
 *
 * @packageDocumentation
 */
import { Command, CommanderError } from "commander";
import type { ExploreFlags } from "./commands/explore";
import type { RunFlags } from "./commands/run";
import pkg from "../package.json" with { type: "json" };
import { EXIT_OK, EXIT_USAGE, type Io } from "./io";
import { LISTABLE } from "./listable";

export { EXIT_FINDINGS, EXIT_INCOMPLETE, EXIT_OK, EXIT_USAGE, type Io } from "./io";

function runCommand(cmd: Command, io: Io, setCode: (code: number) => void): void {
  cmd
    .command("run")
    .description(
      "run scenarios (files, or names of bundled examples) and report steps, findings and expectations",
    )
    .argument("<file...>", "scenario files (YAML) or bundled example names")
    .option("--json", "print a machine-readable report instead of text (dmasim schema report)")
    .option("--trace <file>", "write Chrome trace-event JSON (open it in Perfetto)")
    .option(
      "-k, --kernel <version>",
      "run as this kernel version instead of the scenario's; all, or a comma list, runs each",
    )
    .option(
      "-p, --platform <preset>",
      "run on this platform preset (the scenario's overrides kept); all, or a comma list, runs each",
    )
    .option(
      "-s, --seed <n>",
      "use the seeded random policy for every choice (schedules, evictions, …)",
    )
    .option("--replay <token>", "replay the exact run a report's replay token names")
    .option("--no-color", "never colour the report (colour is used only on a terminal)")
    .action(async (files: string[], flags: RunFlags) => {
      const { run } = await import("./commands/run");
      setCode(await run(io, files, flags));
    });
}

function exploreCommand(cmd: Command, io: Io, setCode: (code: number) => void): void {
  cmd
    .command("explore")
    .description(
      "re-run a scenario over its choice points (schedules, evictions, prefetches, -EDEADLK injection,\n" +
        "allocator placement) until a run fails or the space within the bounds is exhausted",
    )
    .argument("[file...]", "a scenario file or bundled example name (with --merge: result files)")
    .option("--strategy <name>", "dfs (exhaustive, default), random or pct")
    .option("--reduction <name>", "dfs reduction: state (state hashing, default) or none")
    .option("--preemptions <n>", "preemptions per run (default 2)")
    .option("--evictions <n>", "cache evictions per run (default 2)")
    .option("--prefetches <n>", "speculative prefetches per run (default 2)")
    .option(
      "--bound <kind=n>",
      "non-zero picks per run of any choice kind, e.g. ww-inject=1, alloc=inf (repeatable)",
      (v: string, prev: string[] = []) => [...prev, v],
    )
    .option(
      "--depth <n>",
      "explore alternatives at the first n choice points of a run (default 1000)",
    )
    .option("--runs <n>", "stop after n runs (default 1000000)")
    .option("--time <duration>", "stop after this long, e.g. 30s, 5m")
    .option("--all", "keep going after a failure; group failures by finding")
    .option("-s, --seed <n>", "seed of the random and pct strategies (default 1)")
    .option("--pct-depth <d>", "PCT bug depth: d-1 priority changes per run (default 3)")
    .option("--workers <n>", "worker threads (a number up to the cores, or auto for every core)")
    .option("--shard <i/n>", "explore only shard i of n (0-based); merge the parts with --merge")
    .option("--out <file>", "write the result as JSON (for --merge)")
    .option("--merge", "merge result files written by --shard ... --out")
    .option("--json", "print the result as JSON instead of text (dmasim schema report)")
    .option(
      "--progress <mode>",
      "auto (a bar when stderr is a terminal, NDJSON otherwise), bar, ndjson, none",
    )
    .option("-k, --kernel <version>", "run as this kernel version instead of the scenario's")
    .action(async (files: string[], flags: ExploreFlags) => {
      const { exploreCommand: explore } = await import("./commands/explore");
      setCode(await explore(io, files, flags));
    });
}

function otherCommands(cmd: Command, io: Io, setCode: (code: number) => void): void {
  cmd
    .command("check")
    .description("validate scenario files without running them (every file, every problem)")
    .argument("<file...>", "scenario files (YAML) or bundled example names")
    .option("--json", "print the result as JSON (dmasim schema report)")
    .action(async (files: string[], flags: { json?: boolean }) => {
      const { check } = await import("./commands/check");
      setCode(check(io, files, flags));
    });

  cmd
    .command("schema")
    .description(
      "print a JSON Schema: of scenario files (for editors), or of the --json reports (report)",
    )
    .argument("[what]", "scenario (default) or report", "scenario")
    .action(async (what: string) => {
      const { schema } = await import("./commands/schema");
      schema(io, what);
    });

  cmd
    .command("list")
    .description(`list what dmasim knows: ${LISTABLE.join(", ")}`)
    .argument("<what>", LISTABLE.join(" | "))
    .option("-k, --kernel <version>", "kernel version to describe (options, heaps)", "latest")
    .option("-p, --platform <preset>", "platform to boot (heaps)", "arm64-soc")
    .action(async (what: string, opts: { kernel: string; platform: string }) => {
      const { listCommand } = await import("./commands/list-command");
      await listCommand(io, what, opts);
    });

  cmd
    .command("example")
    .description("print a bundled example scenario, to start your own from")
    .argument("<name>", "an example name (dmasim list examples)")
    .action(async (name: string) => {
      const { example } = await import("./examples");
      io.out(example(name));
    });

  cmd
    .command("completion")
    .description("print a shell completion script: dmasim completion bash > ~/.dmasim-completion")
    .argument("<shell>", "bash, zsh or fish")
    .action(async (shell: string) => {
      const { completionScript } = await import("./completion");
      io.out(await completionScript(shell));
    });

  cmd
    .command("complete", { hidden: true })
    .description("answer a completion request of the shell scripts (dmasim complete -- WORDS)")
    .argument("[words...]")
    .allowUnknownOption()
    .helpOption(false)
    .action(async (words: string[]) => {
      const { complete } = await import("./completion");
      io.out(await complete(program(io, setCode), words));
    });
}

/** The command tree (also what completion walks). */
export function program(io: Io, setCode: (code: number) => void = () => undefined): Command {
  const cmd = new Command("dmasim")
    .description(
      "An executable model of the Linux kernel's DMA buffer-sharing stack: caches, DMA mapping,\n" +
        "swiotlb, IOMMU, dma-buf, dma-resv and heaps, with a coherency checker and lockdep.",
    )
    .version(pkg.version, "-V, --version", "print the dmasim version")
    .helpOption("-h, --help", "show help for a command")
    .configureOutput({ writeOut: (s) => io.out(s), writeErr: (s) => io.err(s) })
    .exitOverride()
    .showHelpAfterError("(run dmasim --help for usage)")
    .showSuggestionAfterError(true);
  runCommand(cmd, io, setCode);
  exploreCommand(cmd, io, setCode);
  otherCommands(cmd, io, setCode);
  return cmd;
}

/** Whether `e` is an error the CLI reports as bad input, by its class name (any copy of a layer). */
function inputError(e: unknown): e is Error {
  const name = (e as { name?: unknown } | null)?.name;
  return name === "UsageError" || name === "KernelError" || name === "ScenarioError";
}

/**
 * Run the CLI with `argv` (without the node and script names). Resolves with the exit code:
 * 0 success, 1 findings or failed expectations, 2 bad input or usage, 3 a search that found
 * nothing but did not cover its space.
 */
export async function main(argv: readonly string[], io: Io): Promise<number> {
  let code = EXIT_OK;
  try {
    await program(io, (c) => {
      code = c;
    }).parseAsync([...argv], { from: "user" });
    return code;
  } catch (e) {
    if (e instanceof CommanderError) {
      return e.exitCode === 0 ? EXIT_OK : EXIT_USAGE;
    }
    if ((e as { name?: unknown } | null)?.name === "FilesRejected") {
      return EXIT_USAGE;
    }
    if (inputError(e)) {
      io.err(e.name === "ScenarioError" ? `${e.message}\n` : `dmasim: ${e.message}\n`);
      return EXIT_USAGE;
    }
    throw e;
  }
}
