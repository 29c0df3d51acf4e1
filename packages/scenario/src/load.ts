/**
 * Loading a scenario: YAML with positions, the schema, the operations of every step, and the
 * cross-references between steps. Every problem is reported at once; an invalid file runs nothing.
 *
 * @module
 */
import {
  ERRNO,
  FINDING_KINDS,
  KERNEL_PROFILES,
  type ErrnoName,
  type FindingKind,
} from "@dmasim/kernel";
import { z } from "zod";
import { ScenarioError, type ScenarioIssue } from "./errors";
import { parseLocated, pathText, positionOf, type Located } from "./locate";
import type { OpDef } from "./op";
import type { Registry, SectionDef } from "./registry";

/** What a step expects. */
export interface StepExpect {
  /** The step must fail with this errno. */
  readonly errno?: ErrnoName;
  /** The step's value must equal this (bytes, number, boolean or string). */
  readonly value?: unknown;
  /** Findings of these kinds must happen during this step. */
  readonly findings?: readonly FindingKind[];
}

/** One step, validated. */
export interface ScenarioStep {
  /** 1-based, unique across the file (setup first, then threads in file order). */
  readonly id: number;
  readonly thread: string;
  readonly op: OpDef<unknown>;
  readonly args: unknown;
  readonly as: string | undefined;
  readonly label: string | undefined;
  readonly expect: StepExpect | undefined;
  /** A comment for the report. */
  readonly note: string | undefined;
  readonly line: number;
  readonly column: number;
}

/** A finding the scenario expects at the end of the run. */
export interface FindingExpectation {
  readonly kind: FindingKind;
  readonly code?: string;
  /** A step id or label. */
  readonly step?: number | string;
  readonly thread?: string;
  /** Exactly this many (default: at least one). */
  readonly count?: number;
}

/**
 * How `dmasim explore` should search this scenario when the command line does not say otherwise:
 * bounds on the non-zero picks per choice kind (`preempt`, `evict`, `prefetch`, …), the depth and
 * the number of runs.
 */
export interface ScenarioExplore {
  readonly bounds?: Readonly<Record<string, number>>;
  readonly depth?: number;
  readonly runs?: number;
}

/** A validated scenario, ready to run. */
export interface Scenario {
  readonly file: string;
  readonly name: string;
  readonly description: string;
  readonly kernel: string | undefined;
  readonly options: Readonly<Record<string, boolean>>;
  readonly seed: number | undefined;
  readonly policy: "first" | "random" | undefined;
  readonly sections: readonly { readonly def: SectionDef<unknown>; readonly value: unknown }[];
  readonly setup: readonly ScenarioStep[];
  readonly threads: readonly { readonly name: string; readonly steps: readonly ScenarioStep[] }[];
  /** `"none"`: no finding may happen; a list: these must, and no other. */
  readonly expectFindings: "none" | readonly FindingExpectation[] | undefined;
  /** The `explore:` section: default bounds for `dmasim explore`. */
  readonly explore: ScenarioExplore | undefined;
  readonly source: string;
}

const COMMON_KEYS = new Set(["as", "label", "expect", "note"]);
const errnoName = z.enum(Object.keys(ERRNO) as [ErrnoName, ...ErrnoName[]]);
const findingKind = z.enum(FINDING_KINDS);
const name = z
  .string()
  .regex(/^[A-Za-z_][A-Za-z0-9_.-]*$/, { message: "a name of letters, digits, _ . -" });

/** @internal */
export const stepExpectSchema = z
  .object({
    errno: errnoName.optional(),
    value: z.unknown().optional(),
    findings: z.union([findingKind, z.array(findingKind)]).optional(),
  })
  .strict();

const findingExpectSchema = z
  .object({
    kind: findingKind,
    code: z.string().optional(),
    step: z.union([z.number().int().min(1), z.string()]).optional(),
    thread: z.string().optional(),
    count: z.number().int().min(0).optional(),
  })
  .strict();

/** The schema of a scenario's top level (steps unchecked: they are parsed one by one). @internal */
export function topSchema(sections: readonly SectionDef<unknown>[]) {
  const shape: Record<string, z.ZodType> = {
    name: z.string().min(1),
    description: z.string().optional(),
    kernel: z
      .string()
      .refine((v) => KERNEL_PROFILES.some((p) => p.name === v), {
        message: `a kernel version: ${KERNEL_PROFILES.map((p) => p.name).join(", ")}`,
      })
      .optional(),
    options: z.record(z.string(), z.boolean()).optional(),
    seed: z.number().int().min(0).max(0xffffffff).optional(),
    policy: z.enum(["first", "random"]).optional(),
    setup: z.array(z.unknown()).optional(),
    steps: z.array(z.unknown()).optional(),
    threads: z.record(name, z.array(z.unknown())).optional(),
    expect: z
      .object({ findings: z.union([z.literal("none"), z.array(findingExpectSchema)]).optional() })
      .strict()
      .optional(),
    explore: z
      .object({
        bounds: z.record(z.string(), z.number().int().min(0)).optional(),
        depth: z.number().int().min(0).optional(),
        runs: z.number().int().min(1).optional(),
      })
      .strict()
      .optional(),
  };
  for (const s of sections) {
    shape[s.key] = s.schema.optional();
  }
  return z.object(shape).strict();
}

class IssueList {
  readonly issues: ScenarioIssue[] = [];
  constructor(
    private readonly file: string,
    private readonly loc: Located,
  ) {}

  add(path: readonly PropertyKey[], message: string, expected?: string, received?: string): void {
    const { line, column } = positionOf(this.loc, path);
    this.issues.push({
      file: this.file,
      line,
      column,
      path: pathText(path),
      message,
      ...(expected !== undefined ? { expected } : {}),
      ...(received !== undefined ? { received } : {}),
    });
  }

  addZod(base: readonly PropertyKey[], error: { issues: readonly z.core.$ZodIssue[] }): void {
    for (const issue of error.issues) {
      const branches = (issue as { errors?: z.core.$ZodIssue[][] }).errors;
      if (issue.code === "invalid_union" && branches && branches.length > 0) {
        // Report the branch that got furthest (the deepest path): what the author most likely meant.
        const depth = (b: z.core.$ZodIssue[]) => Math.max(0, ...b.map((i) => i.path.length));
        const best = [...branches].sort((a, b) => depth(b) - depth(a))[0] ?? [];
        if (depth(best) > 0) {
          this.addZod([...base, ...issue.path], { issues: best });
          continue;
        }
      }
      const path = [...base, ...issue.path];
      const { expected, received } = describeZodIssue(issue);
      this.add(path, issue.message, expected, received);
    }
  }
}

function describeZodIssue(issue: z.core.$ZodIssue): { expected?: string; received?: string } {
  const raw = issue as unknown as {
    expected?: unknown;
    input?: unknown;
    values?: unknown[];
    keys?: string[];
  };
  const out: { expected?: string; received?: string } = {};
  if (issue.code === "invalid_value" && Array.isArray(raw.values)) {
    out.expected = `one of ${raw.values.map((v) => JSON.stringify(v)).join(", ")}`;
  } else if (typeof raw.expected === "string") {
    out.expected = raw.expected;
  }
  if (issue.code === "unrecognized_keys" && raw.keys) {
    out.received = raw.keys.join(", ");
  } else if (raw.input !== undefined) {
    out.received = JSON.stringify(raw.input)?.slice(0, 60) ?? String(raw.input);
  }
  return out;
}

/** Levenshtein distance, for "did you mean" suggestions. */
function distance(a: string, b: string): number {
  const d = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let prev = d[0] ?? 0;
    d[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = d[j] ?? 0;
      d[j] = Math.min((d[j] ?? 0) + 1, (d[j - 1] ?? 0) + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = tmp;
    }
  }
  return d[b.length] ?? 0;
}

function suggest(word: string, options: Iterable<string>): string {
  const close = [...options]
    .map((o) => ({ o, d: distance(word, o) }))
    .filter((x) => x.d <= Math.max(2, Math.floor(word.length / 3)))
    .sort((a, b) => a.d - b.d)
    .slice(0, 3)
    .map((x) => x.o);
  return close.length ? ` (did you mean ${close.join(", ")}?)` : "";
}

interface RawStep {
  readonly raw: unknown;
  readonly path: readonly PropertyKey[];
  readonly thread: string;
}

function parseStep(
  step: RawStep,
  id: number,
  registry: Registry,
  issues: IssueList,
  loc: Located,
): ScenarioStep | null {
  const { raw, path } = step;
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) {
    issues.add(
      path,
      "a step is a mapping with one operation, e.g. `- mutex_lock: A`",
      "a mapping",
      JSON.stringify(raw),
    );
    return null;
  }
  const obj = raw as Record<string, unknown>;
  const opKeys = Object.keys(obj).filter((k) => !COMMON_KEYS.has(k));
  if (opKeys.length !== 1) {
    issues.add(
      path,
      opKeys.length === 0
        ? "the step names no operation"
        : `the step names ${opKeys.length} operations (${opKeys.join(", ")}); one per step`,
    );
    return null;
  }
  const key = opKeys[0] as string;
  const op = registry.ops.get(key);
  if (!op) {
    issues.add(
      path,
      `unknown operation "${key}"${suggest(key, registry.ops.keys())}`,
      "an operation (dmasim list ops)",
    );
    return null;
  }
  let argsRaw = obj[key];
  if (argsRaw === null || argsRaw === undefined) {
    argsRaw = {};
  } else if (typeof argsRaw !== "object" || Array.isArray(argsRaw)) {
    if (!op.primary) {
      issues.add(
        [...path, key],
        `${key} takes a mapping of arguments`,
        "a mapping",
        JSON.stringify(argsRaw),
      );
      return null;
    }
    argsRaw = { [op.primary]: argsRaw };
  }
  const parsed = op.args.safeParse(argsRaw);
  if (!parsed.success) {
    issues.addZod([...path, key], parsed.error);
  }
  let ok = parsed.success;
  const as = obj.as;
  if (as !== undefined && (typeof as !== "string" || !name.safeParse(as).success)) {
    issues.add(
      [...path, "as"],
      "`as` names the object the step makes",
      "a name",
      JSON.stringify(as),
    );
    ok = false;
  } else if (as !== undefined && !op.produces) {
    issues.add([...path, "as"], `${key} makes nothing to name`);
    ok = false;
  } else if (as === undefined && op.requiresAs) {
    issues.add(path, `${key} needs \`as: NAME\` for the ${op.produces ?? "object"} it makes`);
    ok = false;
  }
  const note = obj.note;
  if (note !== undefined && typeof note !== "string") {
    issues.add([...path, "note"], "a note is a string", "a string", JSON.stringify(note));
    ok = false;
  }
  const label = obj.label;
  if (label !== undefined && typeof label !== "string") {
    issues.add([...path, "label"], "a label is a string", "a string", JSON.stringify(label));
    ok = false;
  }
  let expect: StepExpect | undefined;
  if (obj.expect !== undefined) {
    const e = stepExpectSchema.safeParse(obj.expect);
    if (!e.success) {
      issues.addZod([...path, "expect"], e.error);
      ok = false;
    } else {
      const f = e.data.findings;
      expect = {
        ...(e.data.errno !== undefined ? { errno: e.data.errno } : {}),
        ...(e.data.value !== undefined ? { value: e.data.value } : {}),
        ...(f !== undefined ? { findings: Array.isArray(f) ? f : [f] } : {}),
      };
    }
  }
  if (!ok) {
    return null;
  }
  const pos = positionOf(loc, path);
  return {
    id,
    thread: step.thread,
    op,
    args: parsed.data,
    as: as as string | undefined,
    label: label as string | undefined,
    expect,
    note: note as string | undefined,
    line: pos.line,
    column: pos.column,
  };
}

function checkRefs(
  steps: readonly { step: ScenarioStep; path: readonly PropertyKey[] }[],
  issues: IssueList,
  sectionNames: readonly { name: string; type: string; key: string }[],
): void {
  const made = new Map<string, { type: string; origin: string; short: string }>();
  for (const n of sectionNames) {
    if (made.has(n.name)) {
      issues.add([n.key], `"${n.name}" is named twice`);
    }
    made.set(n.name, {
      type: n.type,
      origin: `the \`${n.key}\` section`,
      short: `the \`${n.key}\` section`,
    });
  }
  for (const { step, path } of steps) {
    if (step.as === undefined || !step.op.produces) {
      continue;
    }
    const prev = made.get(step.as);
    if (prev) {
      issues.add([...path, "as"], `"${step.as}" is already made by ${prev.origin}`);
      continue;
    }
    made.set(step.as, {
      type: step.op.produces,
      origin: `step ${step.id} (line ${step.line})`,
      short: `step ${step.id}`,
    });
  }
  for (const { step, path } of steps) {
    const args = step.args as Record<string, unknown>;
    for (const [arg, spec] of Object.entries(step.op.refs ?? {})) {
      const v = args[arg];
      if (v === undefined) {
        continue;
      }
      const names = Array.isArray(v) ? (v as unknown[]) : [v];
      const types: readonly string[] = typeof spec.type === "string" ? [spec.type] : spec.type;
      const want = types.join(" or ");
      names.forEach((n, i) => {
        const where = [...path, step.op.name, arg, ...(Array.isArray(v) ? [i] : [])];
        const m = typeof n === "string" ? made.get(n) : undefined;
        if (!m) {
          const same = [...made.entries()]
            .filter(([, x]) => types.includes(x.type))
            .map(([k]) => k);
          issues.add(
            where,
            `no step makes a ${want} named ${JSON.stringify(n)}${suggest(String(n), same)}`,
            `a ${want} made with \`as:\``,
          );
        } else if (!types.includes(m.type)) {
          issues.add(
            where,
            `"${String(n)}" is a ${m.type} (made by ${m.short}), not a ${want}`,
            `a ${want}`,
            m.type,
          );
        }
      });
    }
  }
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
  for (const e of loc.doc.errors) {
    const p = loc.lines.linePos(e.pos[0]);
    issues.issues.push({
      file,
      line: p.line,
      column: p.col,
      path: "",
      message: `YAML: ${e.message.split("\n")[0] ?? e.message}`,
    });
  }
  if (issues.issues.length > 0) {
    throw new ScenarioError(issues.issues);
  }
  const data: unknown = loc.doc.toJS();
  const top = topSchema([...registry.sections.values()]).safeParse(data ?? {});
  if (!top.success) {
    issues.addZod([], top.error);
    throw new ScenarioError(issues.issues);
  }
  const t = top.data as Record<string, unknown> & {
    name: string;
    description?: string;
    kernel?: string;
    options?: Record<string, boolean>;
    seed?: number;
    policy?: "first" | "random";
    setup?: unknown[];
    steps?: unknown[];
    threads?: Record<string, unknown[]>;
    expect?: { findings?: "none" | FindingExpectation[] };
    explore?: ScenarioExplore;
  };
  const knownOptions = new Set(
    registry.modules.flatMap((m) => (m.options ?? []).map((o) => o.name)),
  );
  for (const opt of Object.keys(t.options ?? {})) {
    if (!knownOptions.has(opt)) {
      issues.add(
        ["options", opt],
        `unknown kernel option "${opt}"${suggest(opt, knownOptions)}`,
        "an option from `dmasim list options`",
      );
    }
  }
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
  const parsed: { step: ScenarioStep; path: readonly PropertyKey[] }[] = [];
  raws.forEach((r, i) => {
    const step = parseStep(r, i + 1, registry, issues, loc);
    if (step) {
      parsed.push({ step, path: r.path });
    }
  });
  const sectionNames = [...registry.sections.values()].flatMap((def) =>
    t[def.key] !== undefined && def.names
      ? def.names(t[def.key]).map((n) => ({ ...n, key: def.key }))
      : [],
  );
  checkRefs(parsed, issues, sectionNames);
  const steps = parsed.map((p) => p.step);
  const findingsExpect = t.expect?.findings;
  if (Array.isArray(findingsExpect)) {
    findingsExpect.forEach((f, i) => {
      if (typeof f.step === "number" && !steps.some((s) => s.id === f.step)) {
        issues.add(
          ["expect", "findings", i, "step"],
          `there is no step ${f.step}`,
          `1..${raws.length}`,
        );
      }
      if (typeof f.step === "string" && !steps.some((s) => s.label === f.step)) {
        issues.add(["expect", "findings", i, "step"], `no step is labelled "${f.step}"`);
      }
    });
  }
  const sections: { def: SectionDef<unknown>; value: unknown }[] = [];
  for (const def of registry.sections.values()) {
    if (t[def.key] !== undefined) {
      sections.push({ def, value: t[def.key] });
    }
  }
  if (issues.issues.length > 0) {
    throw new ScenarioError(issues.issues);
  }
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
    setup: steps.filter((s) => s.thread === "init"),
    threads: threadNames.map((n) => ({ name: n, steps: steps.filter((s) => s.thread === n) })),
    expectFindings: findingsExpect,
    explore: t.explore,
    source: text,
  };
}
