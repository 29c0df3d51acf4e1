/**
 * The dmasim command line, as a function: `main(argv, io)` returns the exit code. `cli.ts` binds it
 * to the process; tests call it directly.
 *
 * @packageDocumentation
 */
import { readFileSync } from "node:fs";
import { isKernelError } from "@dmasim/kernel";
import { ScenarioError, defaultRegistry, scenarioJsonSchema } from "@dmasim/scenario";
import { Command, CommanderError } from "commander";
import pkg from "../package.json" with { type: "json" };
import { exploreCommand, type ExploreFlags } from "./commands/explore";
import { list, LISTABLE } from "./commands/list";
import { check, run, type RunFlags } from "./commands/run";
import { findExample } from "./examples";
import { EXIT_OK, EXIT_USAGE, UsageError, type Io } from "./io";

export { EXIT_FINDINGS, EXIT_OK, EXIT_USAGE, type Io } from "./io";

function program(io: Io, setCode: (code: number) => void): Command {
  const cmd = new Command("dmasim")
    .description(
      "An executable model of the Linux kernel's DMA buffer-sharing stack: caches, DMA mapping,\n" +
        "swiotlb, IOMMU, dma-buf, dma-resv and heaps, with a coherency checker and lockdep.",
    )
    .version(pkg.version, "-V, --version", "print the dmasim version")
    .helpOption("-h, --help", "show help for a command")
    .configureOutput({ writeOut: (s) => io.out(s), writeErr: (s) => io.err(s) })
    .exitOverride()
    .showHelpAfterError("(run dmasim --help for usage)");

  cmd
    .command("run")
    .description(
      "run scenarios (files, or names of bundled examples) and report steps, findings and expectations",
    )
    .argument("<file...>", "scenario files (YAML) or bundled example names")
    .option("--json", "print a machine-readable report instead of text")
    .option("--trace <file>", "write Chrome trace-event JSON (open it in Perfetto)")
    .option("-k, --kernel <version>", "run as this kernel version instead of the scenario's")
    .option(
      "-p, --platform <preset>",
      "run on this platform preset instead of the scenario's (its overrides kept)",
    )
    .option(
      "-s, --seed <n>",
      "use the seeded random policy for every choice (schedules, evictions, …)",
    )
    .option("--replay <token>", "replay the exact run a report's replay token names")
    .option("--no-color", "never colour the report (colour is used only on a terminal)")
    .action(async (files: string[], flags: RunFlags & { color: boolean }) => {
      setCode(await run(io, files, { ...flags, color: flags.color && io.isTTY }));
    });

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
    .option("--workers <n>", "worker threads (a number, or auto for every core)")
    .option("--shard <i/n>", "explore only shard i of n (0-based); merge the parts with --merge")
    .option("--out <file>", "write the result as JSON (for --merge)")
    .option("--merge", "merge result files written by --shard ... --out")
    .option("--json", "print the result as JSON instead of text")
    .option("--progress <mode>", "auto (bar on a terminal, NDJSON otherwise), bar, ndjson, none")
    .option("-k, --kernel <version>", "run as this kernel version instead of the scenario's")
    .action(async (files: string[], flags: ExploreFlags) => {
      setCode(await exploreCommand(io, files, flags));
    });

  cmd
    .command("check")
    .description("validate scenario files without running them")
    .argument("<file...>", "scenario files (YAML) or bundled example names")
    .action((files: string[]) => {
      setCode(check(io, files));
    });

  cmd
    .command("schema")
    .description(
      "print the JSON Schema of scenario files (for editors: completion and checking as you type)",
    )
    .action(() => {
      io.out(JSON.stringify(scenarioJsonSchema(defaultRegistry()), null, 2) + "\n");
    });

  cmd
    .command("list")
    .description(`list what dmasim knows: ${LISTABLE.join(", ")}`)
    .argument("<what>", LISTABLE.join(" | "))
    .option("-k, --kernel <version>", "kernel version to describe (options, heaps)", "latest")
    .option("-p, --platform <preset>", "platform to boot (heaps)", "arm64-soc")
    .action((what: string, opts: { kernel: string; platform: string }) => {
      list(io, what, opts);
    });

  cmd
    .command("example")
    .description("print a bundled example scenario, to start your own from")
    .argument("<name>", "an example name (dmasim list examples)")
    .action((name: string) => {
      const ex = findExample(name);
      if (!ex) {
        throw new UsageError(`no bundled example "${name}" (dmasim list examples)`);
      }
      io.out(readFileSync(ex.file, "utf8"));
    });
  return cmd;
}

/**
 * Run the CLI with `argv` (without the node and script names). Resolves with the exit code:
 * 0 success, 1 findings or failed expectations, 2 bad input or usage.
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
    if (e instanceof ScenarioError) {
      io.err(`${e.message}\n`);
      return EXIT_USAGE;
    }
    if (e instanceof UsageError || isKernelError(e)) {
      io.err(`dmasim: ${e.message}\n`);
      return EXIT_USAGE;
    }
    throw e;
  }
}
