/**
 * The problems of a scenario file, collected with their positions: every problem is reported at
 * once, each with line, column, path, what was expected and what was found.
 *
 * @module
 */
import type { z } from "zod";
import type { ScenarioIssue } from "../errors";
import { pathText, positionOf, type Located } from "./yaml";

type ZodIssue = z.core.$ZodIssue;

function expectedOf(issue: ZodIssue): string | undefined {
  if (issue.code === "invalid_value") {
    return `one of ${issue.values.map((v) => JSON.stringify(v)).join(", ")}`;
  }
  return issue.code === "invalid_type" ? issue.expected : undefined;
}

function receivedOf(issue: ZodIssue): string | undefined {
  if (issue.code === "unrecognized_keys") {
    return issue.keys.join(", ");
  }
  const input = issue.input;
  return input === undefined ? undefined : (JSON.stringify(input)?.slice(0, 60) ?? String(input));
}

/** The deepest path an issue list reaches: how far the author got in that union branch. */
function depth(issues: readonly ZodIssue[]): number {
  return Math.max(0, ...issues.map((i) => i.path.length));
}

/**
 * The issues of one scenario file.
 *
 * **Kernel:** none. **Locking:** none.
 */
export class IssueList {
  readonly issues: ScenarioIssue[] = [];

  constructor(
    private readonly file: string,
    private readonly loc: Located,
  ) {}

  /** A problem at `path`. */
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

  /** A schema's issues, under `base`. */
  addZod(base: readonly PropertyKey[], error: { issues: readonly ZodIssue[] }): void {
    for (const issue of error.issues) {
      this.addZodIssue(base, issue);
    }
  }

  private addZodIssue(base: readonly PropertyKey[], issue: ZodIssue): void {
    if (issue.code === "invalid_union" && issue.errors.length > 0) {
      // Report the branch that got furthest (the deepest path): what the author most likely meant.
      const best = [...issue.errors].sort((a, b) => depth(b) - depth(a))[0] ?? [];
      if (depth(best) > 0) {
        this.addZod([...base, ...issue.path], { issues: best });
        return;
      }
    }
    this.add([...base, ...issue.path], issue.message, expectedOf(issue), receivedOf(issue));
  }
}
