import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { basename, extname } from "node:path";
import {
  defaultRegistry,
  formatReport,
  loadScenario,
  reportJson,
  runScenario,
  toChromeTrace,
  type Palette,
  type RunReport,
  type Scenario,
} from "@dmasim/scenario";
import pc from "picocolors";
import { findExample } from "../examples";
import { EXIT_FINDINGS, EXIT_OK, UsageError, type Io } from "../io";

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

/** Read a scenario: a path, or the name of a bundled example. */
export function readScenario(arg: string): { text: string; file: string } {
  if (existsSync(arg)) {
    return { text: readFileSync(arg, "utf8"), file: arg };
  }
  const ex = findExample(arg);
  if (ex) {
    return { text: readFileSync(ex.file, "utf8"), file: ex.file };
  }
  throw new UsageError(
    `${arg}: no such file, and no bundled example of that name (dmasim list examples)`,
  );
}

/** Load every file first: a bad file stops everything before anything runs. */
export function loadAll(files: readonly string[]): Scenario[] {
  const registry = defaultRegistry();
  return files.map((f) => {
    const { text, file } = readScenario(f);
    return loadScenario(text, file, registry);
  });
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

/** `dmasim run FILE...`: run each scenario and report. */
export async function run(io: Io, files: readonly string[], flags: RunFlags): Promise<number> {
  const seed = parseSeed(flags.seed);
  if (flags.replay !== undefined && files.length > 1) {
    throw new UsageError("--replay replays one run: give exactly one FILE");
  }
  const scenarios = loadAll(files);
  const palette: Palette = flags.color
    ? pc
    : { red: String, green: String, yellow: String, dim: String, bold: String };
  const reports: RunReport[] = [];
  for (const sc of scenarios) {
    const r = await runScenario(sc, {
      ...(flags.kernel !== undefined ? { kernel: flags.kernel } : {}),
      ...(flags.platform !== undefined ? { platform: flags.platform } : {}),
      ...(seed !== undefined ? { seed } : {}),
      ...(flags.replay !== undefined ? { replay: flags.replay } : {}),
      trace: flags.trace !== undefined,
    });
    reports.push(r);
    if (flags.trace !== undefined) {
      writeFileSync(
        traceFile(flags.trace, r, scenarios.length > 1),
        JSON.stringify(toChromeTrace(r)),
      );
    }
    if (!flags.json) {
      io.out(formatReport(r, palette));
      if (scenarios.length > 1) {
        io.out("\n");
      }
    }
  }
  if (flags.json) {
    io.out(
      JSON.stringify(
        reports.length === 1 ? reportJson(reports[0] as RunReport) : reports.map(reportJson),
        null,
        2,
      ) + "\n",
    );
  }
  return reports.every((r) => r.ok) ? EXIT_OK : EXIT_FINDINGS;
}

/** `dmasim check FILE...`: validate only. */
export function check(io: Io, files: readonly string[]): number {
  const scenarios = loadAll(files);
  for (const sc of scenarios) {
    const steps = sc.setup.length + sc.threads.reduce((n, t) => n + t.steps.length, 0);
    io.out(
      `${sc.file}: ok (${steps} steps, ${sc.threads.length} thread${sc.threads.length === 1 ? "" : "s"})\n`,
    );
  }
  return EXIT_OK;
}
