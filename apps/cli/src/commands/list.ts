import { KERNEL_PROFILES, DEFAULT_KERNEL_VERSION, Kernel } from "@dmasim/kernel";
import { table, UsageError, type Io } from "../io";

/** What `dmasim list` can list. */
export const LISTABLE = ["kernels", "options"] as const;

/** `dmasim list kernels`: the kernel versions dmasim can run as, oldest first. */
function listKernels(io: Io): void {
  const rows = KERNEL_PROFILES.map((p) => [
    p.name + (p.name === DEFAULT_KERNEL_VERSION ? " (default)" : ""),
    p.summary,
  ]);
  io.out(table([["VERSION", "WHAT CHANGED FOR DMA BUFFER SHARING"], ...rows]) + "\n");
}

/** `dmasim list options`: the named kernel options (CONFIG symbols and patches) and their defaults. */
function listOptions(io: Io, version: string): void {
  const kernel = new Kernel({ version });
  const rows = kernel.options
    .list()
    .map(({ def, value }) => [
      def.name,
      def.kind,
      value ? "on" : "off",
      def.owner,
      def.description,
    ]);
  io.out(
    table([["OPTION", "KIND", `DEFAULT (${version})`, "DEFINED BY", "DESCRIPTION"], ...rows]) +
      "\n",
  );
}

/** Run `dmasim list WHAT`. */
export function list(io: Io, what: string, opts: { kernel: string }): void {
  switch (what) {
    case "kernels":
      listKernels(io);
      return;
    case "options":
      listOptions(io, opts.kernel);
      return;
    default:
      throw new UsageError(`cannot list "${what}": expected one of ${LISTABLE.join(", ")}`);
  }
}
