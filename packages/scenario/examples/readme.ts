import { defaultRegistry, formatReport, loadScenario, runScenario } from "@dmasim/scenario";

/** Load a scenario from text, run it, and return its verdict and report. */
export async function main(): Promise<{ ok: boolean; kinds: string[]; report: string }> {
  const text = `
name: abba
setup:
  - mutex_init: {}
    as: A
  - mutex_init: {}
    as: B
threads:
  t1: [{ mutex_lock: A }, { mutex_lock: B }, { mutex_unlock: B }, { mutex_unlock: A }]
  t2: [{ mutex_lock: B }, { mutex_lock: A }, { mutex_unlock: A }, { mutex_unlock: B }]
expect:
  findings:
    - { kind: lockdep, code: circular-dependency }
`;
  const scenario = loadScenario(text, "abba.yaml", defaultRegistry());
  const report = await runScenario(scenario, { kernel: "6.12" });
  return { ok: report.ok, kinds: report.findings.map((f) => f.kind), report: formatReport(report) };
}
