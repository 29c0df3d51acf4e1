/**
 * The dmasim command line, as a function: `main(argv, io)` returns the exit code. `cli.ts` binds it
 * to the process; tests call it directly.
 *
 * @packageDocumentation
 */
import { Command, CommanderError } from "commander";
import { isKernelError } from "@dmasim/kernel";
import pkg from "../package.json" with { type: "json" };
import { list, LISTABLE } from "./commands/list";
import { EXIT_OK, EXIT_USAGE, UsageError, type Io } from "./io";

export { EXIT_FINDINGS, EXIT_OK, EXIT_USAGE, type Io } from "./io";

function program(io: Io): Command {
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
    .command("list")
    .description(`list what dmasim knows: ${LISTABLE.join(", ")}`)
    .argument("<what>", LISTABLE.join(" | "))
    .option("-k, --kernel <version>", "kernel version whose defaults to show (options)", "latest")
    .action((what: string, opts: { kernel: string }) => {
      list(io, what, opts);
    });
  return cmd;
}

/**
 * Run the CLI with `argv` (without the node and script names). Resolves with the exit code:
 * 0 success, 1 findings or failed expectations, 2 bad input or usage.
 */
export async function main(argv: readonly string[], io: Io): Promise<number> {
  try {
    await program(io).parseAsync([...argv], { from: "user" });
    return EXIT_OK;
  } catch (e) {
    if (e instanceof CommanderError) {
      return e.exitCode === 0 ? EXIT_OK : EXIT_USAGE;
    }
    if (e instanceof UsageError || isKernelError(e)) {
      io.err(`dmasim: ${e.message}\n`);
      return EXIT_USAGE;
    }
    throw e;
  }
}
