import { basename, extname } from "node:path";
import { PLAIN, formatReport, toChromeTrace, type Palette, type RunReport } from "@dmasim/scenario";
import { createColors } from "picocolors";
import { checkOutputFile, writeOutputFile } from "../files";
import { envelope } from "../json";
import { EXIT_FINDINGS, EXIT_OK, UsageError, useColor, type Io } from "../io";
import { loadAll } from "../scenarios";
import { checkKernel, checkPlatform, expandList, kernelNames, platformNames } from "../targets";
import { runMatrix } from "./matrix";
import { reportEntry, runOne } from "./run-one";

/** Options of `dmasim run`. */
export interface RunFlags {
  json?: boolean;
  trace?: string;
  kernel?: string;
  platform?: string;
  seed?: string;
  replay?: string;
  color?: boolean;
}

function parseSeed(seed: string | undefined): number | undefined {
  if (seed === undefined) {
    return undefined;
  }
  if (!/^\d+$/.test(seed) || Number(seed) > 0xffffffff) {
    throw new UsageError(`--seed ${seed}: expected a whole number from 0 to 4294967295`);
  }
  return Number(seed);
}

function traceFile(base: string, report: RunReport, many: boolean): string {
  if (!many) {
    return base;
  }
  const ext = extname(base) || ".json";
  return `${base.slice(0, base.length - extname(base).length)}.${basename(report.scenario.name)}${ext}`;
}

/** The palette of reports on stdout. */
export function palette(io: Io, color: boolean | undefined): Palette {
  return useColor(io, "out", color ?? true) ? createColors(true) : PLAIN;
}

/** `dmasim run FILE...`: run each scenario (or each of a kernel/platform matrix) and report. */
export async function run(io: Io, files: readonly string[], flags: RunFlags): Promise<number> {
  const seed = parseSeed(flags.seed);
  const kernels = expandList("--kernel", flags.kernel, kernelNames, checkKernel);
  const platforms = expandList("--platform", flags.platform, platformNames, checkPlatform);
  const matrix = (kernels?.length ?? 0) > 1 || (platforms?.length ?? 0) > 1;
  if (flags.replay !== undefined && (files.length > 1 || matrix)) {
    throw new UsageError(
      "--replay replays one run: give exactly one FILE, one --kernel and one --platform",
    );
  }
  if (flags.trace !== undefined) {
    checkOutputFile("--trace", flags.trace);
    if (matrix) {
      throw new UsageError(
        "--trace writes the trace of one run: not with a kernel/platform matrix",
      );
    }
  }
  const scenarios = loadAll(files, (s) => io.err(s));
  const c = palette(io, flags.color);
  if (matrix) {
    return runMatrix(io, scenarios, kernels ?? [undefined], platforms ?? [undefined], {
      ...(seed !== undefined ? { seed } : {}),
      json: flags.json === true,
      palette: c,
    });
  }
  const kernel = kernels?.[0];
  const platform = platforms?.[0];
  const reports: RunReport[] = [];
  for (const sc of scenarios) {
    const r = await runOne(sc, {
      kernel,
      platform,
      seed,
      replay: flags.replay,
      trace: flags.trace,
    });
    reports.push(r);
    if (flags.trace !== undefined) {
      const file = traceFile(flags.trace, r, scenarios.length > 1);
      writeOutputFile("--trace", file, JSON.stringify(toChromeTrace(r)));
    }
    if (!flags.json) {
      io.out(formatReport(r, c));
      if (scenarios.length > 1) {
        io.out("\n");
      }
    }
  }
  const ok = reports.every((r) => r.ok);
  if (flags.json) {
    io.out(envelope("run", ok, { reports: reports.map((r) => reportEntry(r, platform)) }));
  }
  return ok ? EXIT_OK : EXIT_FINDINGS;
}
