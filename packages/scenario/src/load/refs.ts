/**
 * The cross-references of a scenario: every object a step names must be made before, by a section
 * or by a step's `as:`, with a type the operation accepts; no name is made twice.
 *
 * @module
 */
import type { ObjectReference } from "../ref";
import type { IssueList } from "./issues";
import { suggest } from "./suggest";
import type { ScenarioStep } from "./types";

/** A step with where it is in the file. */
export interface PlacedStep {
  readonly step: ScenarioStep;
  readonly path: readonly PropertyKey[];
}

/** An object a section makes (e.g. each device of `devices:`). */
export interface SectionObject {
  readonly name: string;
  readonly type: string;
  /** The section's key. */
  readonly key: string;
}

/** What made a name: its type, and the maker for messages. */
interface Made {
  readonly type: string;
  readonly origin: string;
  readonly short: string;
}

function madeBySections(objects: readonly SectionObject[], issues: IssueList): Map<string, Made> {
  const made = new Map<string, Made>();
  for (const n of objects) {
    if (made.has(n.name)) {
      issues.add([n.key], `"${n.name}" is named twice`);
    }
    const origin = `the \`${n.key}\` section`;
    made.set(n.name, { type: n.type, origin, short: origin });
  }
  return made;
}

function addMadeBySteps(
  made: Map<string, Made>,
  steps: readonly PlacedStep[],
  issues: IssueList,
): void {
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
}

function checkReference(
  r: ObjectReference,
  where: readonly PropertyKey[],
  made: ReadonlyMap<string, Made>,
  issues: IssueList,
): void {
  const want = r.types.join(" or ");
  const m = made.get(r.name);
  if (!m) {
    const same = [...made.entries()].filter(([, x]) => r.types.includes(x.type)).map(([k]) => k);
    issues.add(
      where,
      `no step makes a ${want} named ${JSON.stringify(r.name)}${suggest(r.name, same)}`,
      `a ${want} made with \`as:\``,
    );
  } else if (!r.types.includes(m.type)) {
    issues.add(
      where,
      `"${r.name}" is a ${m.type} (made by ${m.short}), not a ${want}`,
      `a ${want}`,
      m.type,
    );
  }
}

/**
 * Check every reference of `steps` against what the sections and the steps make.
 *
 * **Kernel:** none. **Locking:** none.
 */
export function checkRefs(
  steps: readonly PlacedStep[],
  issues: IssueList,
  sectionObjects: readonly SectionObject[],
): void {
  const made = madeBySections(sectionObjects, issues);
  addMadeBySteps(made, steps, issues);
  for (const { step, path } of steps) {
    for (const r of step.call.references) {
      const where = [...path, step.op.name, r.arg, ...(r.index === undefined ? [] : [r.index])];
      checkReference(r, where, made, issues);
    }
  }
}
