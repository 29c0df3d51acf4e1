/**
 * Loading a scenario: YAML with positions (load/yaml.ts), the top level's schema (load/top.ts),
 * the layers' sections, every step (load/step.ts) and the cross-references between steps
 * (load/refs.ts). Every problem is collected (load/issues.ts) and reported at once; an invalid file
 * runs nothing.
 *
 * @module
 */
import { ScenarioError } from "./errors";
import type { Registry } from "./registry";
import type { SectionUse } from "./section";
import { IssueList } from "./load/issues";
import { checkRefs, type PlacedStep, type SectionObject } from "./load/refs";
import { parseStep, type RawStep } from "./load/step";
import { suggest } from "./load/suggest";
import { topSchema, type Top } from "./load/top";
import type { Scenario } from "./load/types";
import { parseLocated, yamlIssues } from "./load/yaml";

export type {
  FindingExpectation,
  Scenario,
  ScenarioExplore,
  ScenarioStep,
  StepExpect,
} from "./load/types";

/** The document split into the top level proper and the layers' sections. */
interface Document {
  readonly top: unknown;
  readonly sections: readonly { readonly key: string; readonly raw: unknown }[];
}

function isMapping(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function splitSections(data: unknown, registry: Registry): Document {
  if (!isMapping(data)) {
    return { top: data ?? {}, sections: [] };
  }
  const top: Record<string, unknown> = {};
  const sections: { key: string; raw: unknown }[] = [];
  for (const [key, raw] of Object.entries(data)) {
    if (registry.sections.has(key) && raw !== undefined) {
      sections.push({ key, raw });
    } else {
      top[key] = raw;
    }
  }
  return { top, sections };
}

/** The sections the file has, bound (in section order); their problems go to `issues`. */
function bindSections(doc: Document, registry: Registry, issues: IssueList): SectionUse[] {
  const uses: SectionUse[] = [];
  for (const def of registry.sections.values()) {
    const s = doc.sections.find((x) => x.key === def.key);
    const bound = s && def.bind(s.raw);
    if (bound?.success) {
      uses.push(bound.use);
    } else if (bound) {
      issues.addZod([def.key], bound.error);
    }
  }
  return uses;
}

function checkOptions(t: Top, registry: Registry, issues: IssueList): void {
  const known = new Set(registry.modules.flatMap((m) => (m.options ?? []).map((o) => o.name)));
  for (const opt of Object.keys(t.options ?? {})) {
    if (!known.has(opt)) {
      issues.add(
        ["options", opt],
        `unknown kernel option "${opt}"${suggest(opt, known)}`,
        "an option from `dmasim list options`",
      );
    }
  }
}

/** Every step of the file in id order: setup, then `steps` or each thread in file order. */
function rawSteps(t: Top, issues: IssueList): RawStep[] {
  if (t.steps && t.threads) {
    issues.add(["steps"], "use `steps` (one thread) or `threads` (several), not both");
  }
  if (!t.steps && !t.threads && !t.setup) {
    issues.add([], "the scenario has no steps", "`steps`, `threads` or `setup`");
  }
  const raws: RawStep[] = [];
  (t.setup ?? []).forEach((raw, i) => raws.push({ raw, path: ["setup", i], thread: "init" }));
  (t.steps ?? []).forEach((raw, i) => raws.push({ raw, path: ["steps", i], thread: "main" }));
  for (const [thread, list] of Object.entries(t.threads ?? {})) {
    if (thread === "init") {
      issues.add(
        ["threads", thread],
        '"init" is the name of the setup context; choose another thread name',
      );
    }
    list.forEach((raw, i) => raws.push({ raw, path: ["threads", thread, i], thread }));
  }
  return raws;
}

/** The finding expectations name steps that exist. */
function checkFindingSteps(
  t: Top,
  steps: readonly PlacedStep[],
  total: number,
  issues: IssueList,
): void {
  const list = t.expect?.findings;
  if (!Array.isArray(list)) {
    return;
  }
  list.forEach((f, i) => {
    const where = ["expect", "findings", i, "step"];
    if (typeof f.step === "number" && !steps.some((s) => s.step.id === f.step)) {
      issues.add(where, `there is no step ${f.step}`, `1..${total}`);
    }
    if (typeof f.step === "string" && !steps.some((s) => s.step.label === f.step)) {
      issues.add(where, `no step is labelled "${f.step}"`);
    }
  });
}

function sectionObjects(sections: readonly SectionUse[]): SectionObject[] {
  return sections.flatMap((s) => s.names().map((n) => ({ ...n, key: s.def.key })));
}

function scenarioOf(
  file: string,
  text: string,
  t: Top,
  sections: readonly SectionUse[],
  steps: readonly PlacedStep[],
): Scenario {
  const all = steps.map((p) => p.step);
  const threadNames = t.steps ? ["main"] : Object.keys(t.threads ?? {});
  return {
    file,
    name: t.name,
    description: t.description ?? "",
    kernel: t.kernel,
    options: t.options ?? {},
    seed: t.seed,
    policy: t.policy,
    sections,
    setup: all.filter((s) => s.thread === "init"),
    threads: threadNames.map((n) => ({ name: n, steps: all.filter((s) => s.thread === n) })),
    expectFindings: t.expect?.findings,
    explore: t.explore,
    source: text,
  };
}

/**
 * Parse and validate a scenario. Every problem is collected and thrown together.
 *
 * **Kernel:** none (tools/testing).
 *
 * **Locking:** none.
 *
 * @param text - the YAML source
 * @param file - the file name used in error positions
 * @param registry - the operations and sections available (see `defaultRegistry()`)
 * @throws {@link ScenarioError} with every issue, each with line and column
 */
export function loadScenario(text: string, file: string, registry: Registry): Scenario {
  const loc = parseLocated(text);
  const issues = new IssueList(file, loc);
  issues.issues.push(...yamlIssues(loc, file));
  if (issues.issues.length > 0) {
    throw new ScenarioError(issues.issues);
  }
  const doc = splitSections(loc.doc.toJS(), registry);
  const top = topSchema.safeParse(doc.top);
  if (!top.success) {
    issues.addZod([], top.error);
  }
  const sections = bindSections(doc, registry, issues);
  if (!top.success || issues.issues.length > 0) {
    throw new ScenarioError(issues.issues);
  }
  const t = top.data;
  checkOptions(t, registry, issues);
  const raws = rawSteps(t, issues);
  const steps: PlacedStep[] = [];
  raws.forEach((r, i) => {
    const step = parseStep(r, i + 1, registry, issues, loc);
    if (step) {
      steps.push({ step, path: r.path });
    }
  });
  checkRefs(steps, issues, sectionObjects(sections));
  checkFindingSteps(t, steps, raws.length, issues);
  if (issues.issues.length > 0) {
    throw new ScenarioError(issues.issues);
  }
  return scenarioOf(file, text, t, sections, steps);
}
