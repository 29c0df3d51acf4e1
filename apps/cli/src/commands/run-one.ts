import { reportJson, runScenario, type RunReport, type Scenario } from "@dmasim/scenario";

/** A report in the `--json` output: the run's report, with the platform it was forced to. */
export function reportEntry(r: RunReport, platform: string | undefined): unknown {
  return { ...(reportJson(r) as object), platform: platform ?? null };
}

/** Run one scenario with the CLI's overrides. */
export function runOne(
  sc: Scenario,
  o: {
    kernel?: string | undefined;
    platform?: string | undefined;
    seed?: number | undefined;
    replay?: string | undefined;
    trace?: string | undefined;
  },
): Promise<RunReport> {
  return runScenario(sc, {
    ...(o.kernel !== undefined ? { kernel: o.kernel } : {}),
    ...(o.platform !== undefined ? { platform: o.platform } : {}),
    ...(o.seed !== undefined ? { seed: o.seed } : {}),
    ...(o.replay !== undefined ? { replay: o.replay } : {}),
    trace: o.trace !== undefined,
  });
}
