/**
 * Errors in scenario files: every problem at once, each with file, line, column, what was expected
 * and what was found.
 *
 * @module
 */

/** One problem in a scenario file. **Kernel:** none (tools/testing input validation). */
export interface ScenarioIssue {
  readonly file: string;
  /** 1-based; 0 when the problem has no position (e.g. an empty file). */
  readonly line: number;
  readonly column: number;
  /** Path into the document, e.g. `threads.t1[2].mutex_lock.lock`. */
  readonly path: string;
  readonly message: string;
  readonly expected?: string;
  readonly received?: string;
}

const SCENARIO_ERROR = Symbol.for("dmasim.ScenarioError");

/**
 * A scenario file that cannot run. Nothing has run when it is thrown.
 *
 * **Kernel:** none (the scenario layer's input validation).
 *
 * **Locking:** none.
 *
 * Use {@link isScenarioError} rather than `instanceof` (it works across the ESM and CJS copies).
 */
export class ScenarioError extends Error {
  override readonly name = "ScenarioError";
  readonly [SCENARIO_ERROR] = true;

  readonly issues: readonly ScenarioIssue[];

  constructor(issues: readonly ScenarioIssue[]) {
    const sorted = [...issues].sort((a, b) => a.line - b.line || a.column - b.column);
    super(sorted.map(formatIssue).join("\n"));
    this.issues = sorted;
  }
}

/**
 * `file:line:column: path: message (expected …, found …)`, as compilers print errors.
 *
 * **Kernel:** none. **Locking:** none.
 */
export function formatIssue(i: ScenarioIssue): string {
  const where = i.line > 0 ? `${i.file}:${i.line}:${i.column}` : i.file;
  const extra = [
    i.expected ? `expected ${i.expected}` : "",
    i.received !== undefined ? `found ${i.received}` : "",
  ]
    .filter(Boolean)
    .join(", ");
  return `${where}: ${i.path ? `${i.path}: ` : ""}${i.message}${extra ? ` (${extra})` : ""}`;
}

/**
 * Whether `e` is a {@link ScenarioError}.
 *
 * **Kernel:** none. **Locking:** none.
 */
export function isScenarioError(e: unknown): e is ScenarioError {
  return (
    typeof e === "object" && e !== null && (e as Record<symbol, unknown>)[SCENARIO_ERROR] === true
  );
}
