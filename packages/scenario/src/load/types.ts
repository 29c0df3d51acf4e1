/**
 * A scenario as the loader gives it to the runner: validated, every step bound to its operation.
 *
 * @module
 */
import type { ErrnoName, FindingKind } from "@dmasim/kernel";
import type { OpCall, OpDef } from "../op";
import type { SectionUse } from "../section";

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
  readonly op: OpDef;
  /** The arguments as written (objects by name), parsed. */
  readonly args: Readonly<Record<string, unknown>>;
  /** The operation bound to the arguments: what the runner runs. */
  readonly call: OpCall;
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
  readonly code?: string | undefined;
  /** A step id or label. */
  readonly step?: number | string | undefined;
  readonly thread?: string | undefined;
  /** Exactly this many (default: at least one). */
  readonly count?: number | undefined;
}

/**
 * How `dmasim explore` should search this scenario when the command line does not say otherwise:
 * bounds on the non-zero picks per choice kind (`preempt`, `evict`, `prefetch`, …), the depth and
 * the number of runs.
 */
export interface ScenarioExplore {
  readonly bounds?: Readonly<Record<string, number>> | undefined;
  readonly depth?: number | undefined;
  readonly runs?: number | undefined;
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
  /** The file's sections, parsed, in section order. */
  readonly sections: readonly SectionUse[];
  readonly setup: readonly ScenarioStep[];
  readonly threads: readonly { readonly name: string; readonly steps: readonly ScenarioStep[] }[];
  /** `"none"`: no finding may happen; a list: these must, and no other. */
  readonly expectFindings: "none" | readonly FindingExpectation[] | undefined;
  /** The `explore:` section: default bounds for `dmasim explore`. */
  readonly explore: ScenarioExplore | undefined;
  readonly source: string;
}
