import { PLATFORM_PRESETS } from "@dmasim/hardware";
import { DEFAULT_KERNEL_VERSION, KERNEL_PROFILES, Kernel } from "@dmasim/kernel";
import { defaultRegistry } from "@dmasim/scenario";
import { listExamples } from "../examples";
import { table, UsageError, type Io } from "../io";

/** What `dmasim list` can list. */
export const LISTABLE = ["kernels", "platforms", "options", "examples", "ops"] as const;

function listKernels(io: Io): void {
  const rows = KERNEL_PROFILES.map((p) => [
    p.name + (p.name === DEFAULT_KERNEL_VERSION ? " (default)" : ""),
    p.summary,
  ]);
  io.out(table([["VERSION", "WHAT CHANGED FOR DMA BUFFER SHARING"], ...rows]) + "\n");
}

function listPlatforms(io: Io): void {
  const gib = (n: number) => `${n / 1024 ** 3} GiB`;
  const rows = Object.values(PLATFORM_PRESETS).map((p) => [
    p.name,
    p.arch,
    `${p.cacheIndexing}${p.cacheIndexing === "vipt" ? `/${p.cacheColours} colours` : ""}, ${p.lineSize}-byte lines`,
    p.devicesCoherent ? "coherent" : "non-coherent",
    gib(p.ramSize),
    p.description,
  ]);
  io.out(table([["PLATFORM", "ARCH", "CACHE", "DEVICES", "RAM", "DESCRIPTION"], ...rows]) + "\n");
}

function listOptions(io: Io, version: string): void {
  const kernel = new Kernel({ version, modules: defaultRegistry().modules });
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

function listExamplesCmd(io: Io): void {
  const rows = listExamples().map((e) => [e.name, e.description]);
  io.out(table([["EXAMPLE", "WHAT IT SHOWS"], ...rows]) + "\n");
}

function listOps(io: Io): void {
  const rows = [...defaultRegistry().ops.values()].map((op) => [op.name, op.layer, op.summary]);
  io.out(table([["OPERATION", "LAYER", "WHAT IT DOES"], ...rows]) + "\n");
}

/** Run `dmasim list WHAT`. */
export function list(io: Io, what: string, opts: { kernel: string }): void {
  switch (what) {
    case "kernels":
      return listKernels(io);
    case "platforms":
      return listPlatforms(io);
    case "options":
      return listOptions(io, opts.kernel);
    case "examples":
      return listExamplesCmd(io);
    case "ops":
      return listOps(io);
    default:
      throw new UsageError(`cannot list "${what}": expected one of ${LISTABLE.join(", ")}`);
  }
}
