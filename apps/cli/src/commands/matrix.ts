/**
 * `dmasim run FILE --kernel all --platform all` (or comma lists): run every combination and print
 * one table per scenario, kernels down, platforms across, each cell the outcome: `pass`, or the
 * kinds of the unexpected findings, so a reviewer sees at once where a bug bites.
 */
import { isKernelError } from "@dmasim/kernel";
import type { Palette, RunReport, Scenario } from "@dmasim/scenario";
import { envelope } from "../json";
import { EXIT_FINDINGS, EXIT_OK, table, type Io } from "../io";
import { reportEntry, runOne } from "./run-one";

/** The outcome of one run, as a table cell says it. */
export function outcome(r: RunReport): string {
  if (r.ok) {
    return "pass";
  }
  const kinds = [...new Set(r.unexpected.map((f) => f.kind))];
  if (kinds.length > 0) {
    return kinds.join(",");
  }
  if (r.aborted) {
    return r.aborted.reason === "error" ? "internal-error" : r.aborted.reason;
  }
  const failed = r.steps.find((s) => s.status === "failed");
  if (failed && failed.expectation === undefined) {
    return failed.errno ? `step ${failed.id}: ${failed.errno}` : `step ${failed.id} failed`;
  }
  return "expectation";
}

/** One cell of the matrix: a report, or why this combination could not run. */
interface Cell {
  readonly kernel: string | undefined;
  readonly platform: string | undefined;
  readonly report?: RunReport;
  readonly error?: string;
}

async function cell(
  sc: Scenario,
  kernel: string | undefined,
  platform: string | undefined,
  seed: number | undefined,
): Promise<Cell> {
  try {
    return { kernel, platform, report: await runOne(sc, { kernel, platform, seed }) };
  } catch (e) {
    if (isKernelError(e)) {
      return { kernel, platform, error: e.message };
    }
    throw e;
  }
}

function cellText(c: Cell, p: Palette): string {
  if (!c.report) {
    return p.yellow("n/a");
  }
  const o = outcome(c.report);
  return c.report.ok ? p.green(o) : p.red(o);
}

/** Run the matrix for every scenario; print the tables (or the JSON). */
export async function runMatrix(
  io: Io,
  scenarios: readonly Scenario[],
  kernels: readonly (string | undefined)[],
  platforms: readonly (string | undefined)[],
  o: { seed?: number; json: boolean; palette: Palette },
): Promise<number> {
  const cells: (Cell & { sc: Scenario })[] = [];
  for (const sc of scenarios) {
    for (const k of kernels) {
      for (const p of platforms) {
        cells.push({ sc, ...(await cell(sc, k, p, o.seed)) });
      }
    }
  }
  const ok = cells.every((c) => c.report?.ok === true);
  if (o.json) {
    io.out(
      envelope("run", ok, {
        matrix: {
          kernels: kernels.map((k) => k ?? null),
          platforms: platforms.map((p) => p ?? null),
        },
        reports: cells.map((c) =>
          c.report
            ? { ...(reportEntry(c.report, c.platform) as object), outcome: outcome(c.report) }
            : {
                scenario: { name: c.sc.name, file: c.sc.file, description: c.sc.description },
                kernel: c.kernel ?? null,
                platform: c.platform ?? null,
                ok: false,
                outcome: "n/a",
                error: c.error,
              },
        ),
      }),
    );
    return ok ? EXIT_OK : EXIT_FINDINGS;
  }
  for (const sc of scenarios) {
    const mine = cells.filter((c) => c.sc === sc);
    const header = ["KERNEL", ...platforms.map((p) => p ?? "(scenario's platform)")];
    const rows = kernels.map((k) => [
      k ?? "(scenario's)",
      ...platforms.map((p) =>
        cellText(
          mine.find((c) => c.kernel === k && c.platform === p)!,
          o.palette,
        ),
      ),
    ]);
    io.out(`${o.palette.bold(sc.name)} (${sc.file})\n`);
    io.out(`${table([header, ...rows])}\n`);
    for (const c of mine.filter((x) => x.error !== undefined)) {
      io.out(
        `  n/a on ${c.kernel ?? "its kernel"} / ${c.platform ?? "its platform"}: ${c.error}\n`,
      );
    }
    const passed = mine.filter((c) => c.report?.ok).length;
    io.out(`result: ${passed} of ${mine.length} pass\n`);
    if (scenarios.length > 1) {
      io.out("\n");
    }
  }
  return ok ? EXIT_OK : EXIT_FINDINGS;
}
