/**
 * One step of a scenario file: a mapping with one operation key (its arguments, or a scalar for the
 * operation's main argument) and the common keys `as`, `label`, `note` and `expect`.
 *
 * @module
 */
import type { OpCall, OpDef } from "../op";
import type { Registry } from "../registry";
import type { IssueList } from "./issues";
import { suggest } from "./suggest";
import { nameSchema, stepExpectSchema } from "./top";
import type { ScenarioStep, StepExpect } from "./types";
import { positionOf, type Located } from "./yaml";

const COMMON_KEYS = new Set(["as", "label", "expect", "note"]);

/** A step as found in the file, before parsing. */
export interface RawStep {
  readonly raw: unknown;
  readonly path: readonly PropertyKey[];
  readonly thread: string;
}

/** Where a step is parsed: its path, the registry, and where problems go. */
interface StepContext {
  readonly path: readonly PropertyKey[];
  readonly registry: Registry;
  readonly issues: IssueList;
}

function isMapping(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** The step's operation, or null (with an issue) when it names none, several or an unknown one. */
function operationOf(obj: Record<string, unknown>, c: StepContext): OpDef | null {
  const opKeys = Object.keys(obj).filter((k) => !COMMON_KEYS.has(k));
  const key = opKeys[0];
  if (opKeys.length !== 1 || key === undefined) {
    c.issues.add(
      c.path,
      opKeys.length === 0
        ? "the step names no operation"
        : `the step names ${opKeys.length} operations (${opKeys.join(", ")}); one per step`,
    );
    return null;
  }
  const op = c.registry.ops.get(key);
  if (!op) {
    c.issues.add(
      c.path,
      `unknown operation "${key}"${suggest(key, c.registry.ops.keys())}`,
      "an operation (dmasim list ops)",
    );
  }
  return op ?? null;
}

/** The operation's argument mapping: as written, `{}` for nothing, or a scalar as the main argument. */
function argsOf(op: OpDef, raw: unknown, c: StepContext): Record<string, unknown> | null {
  if (raw === null || raw === undefined) {
    return {};
  }
  if (isMapping(raw)) {
    return raw;
  }
  if (!op.primary) {
    c.issues.add(
      [...c.path, op.name],
      `${op.name} takes a mapping of arguments`,
      "a mapping",
      JSON.stringify(raw),
    );
    return null;
  }
  return { [op.primary]: raw };
}

/** The operation bound to its arguments; null (with the schema's issues) when they do not fit. */
function bindArgs(op: OpDef, args: Record<string, unknown>, c: StepContext): OpCall | null {
  const bound = op.bind(args);
  if (!bound.success) {
    c.issues.addZod([...c.path, op.name], bound.error);
    return null;
  }
  return bound.call;
}

/** The step's `as:` name, checked against what the operation makes; false on a problem. */
function asName(op: OpDef, as: unknown, c: StepContext): string | undefined | false {
  if (as !== undefined && (typeof as !== "string" || !nameSchema.safeParse(as).success)) {
    c.issues.add(
      [...c.path, "as"],
      "`as` names the object the step makes",
      "a name",
      JSON.stringify(as),
    );
    return false;
  }
  if (as !== undefined && !op.produces) {
    c.issues.add([...c.path, "as"], `${op.name} makes nothing to name`);
    return false;
  }
  if (as === undefined && op.requiresAs) {
    const what = op.produces ?? "object";
    c.issues.add(c.path, `${op.name} needs \`as: NAME\` for the ${what} it makes`);
    return false;
  }
  return as;
}

/** A `note:` or `label:` string; false on a problem. */
function text(key: "note" | "label", v: unknown, c: StepContext): string | undefined | false {
  if (v !== undefined && typeof v !== "string") {
    c.issues.add([...c.path, key], `a ${key} is a string`, "a string", JSON.stringify(v));
    return false;
  }
  return v;
}

/** The step's `expect:`; false on a problem. */
function expectation(v: unknown, c: StepContext): StepExpect | undefined | false {
  if (v === undefined) {
    return undefined;
  }
  const e = stepExpectSchema.safeParse(v);
  if (!e.success) {
    c.issues.addZod([...c.path, "expect"], e.error);
    return false;
  }
  const f = e.data.findings;
  return {
    ...(e.data.errno !== undefined ? { errno: e.data.errno } : {}),
    ...(e.data.value !== undefined ? { value: e.data.value } : {}),
    ...(f !== undefined ? { findings: Array.isArray(f) ? f : [f] } : {}),
  };
}

/**
 * Parse step `id`; null (with every problem in `issues`) when it is invalid.
 *
 * **Kernel:** none. **Locking:** none.
 */
export function parseStep(
  step: RawStep,
  id: number,
  registry: Registry,
  issues: IssueList,
  loc: Located,
): ScenarioStep | null {
  const c: StepContext = { path: step.path, registry, issues };
  if (!isMapping(step.raw)) {
    issues.add(
      step.path,
      "a step is a mapping with one operation, e.g. `- mutex_lock: A`",
      "a mapping",
      JSON.stringify(step.raw),
    );
    return null;
  }
  const obj = step.raw;
  const op = operationOf(obj, c);
  const args = op && argsOf(op, obj[op.name], c);
  if (!op || !args) {
    return null;
  }
  // every problem of the step is reported, so the rest is checked even when the arguments fail
  const call = bindArgs(op, args, c);
  const as = asName(op, obj.as, c);
  const note = text("note", obj.note, c);
  const label = text("label", obj.label, c);
  const expect = expectation(obj.expect, c);
  if (!call || as === false || note === false || label === false || expect === false) {
    return null;
  }
  const { line, column } = positionOf(loc, step.path);
  return {
    id,
    thread: step.thread,
    op,
    args: call.args,
    call,
    as,
    label,
    expect,
    note,
    line,
    column,
  };
}
