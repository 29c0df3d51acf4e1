/**
 * Scenario YAML with positions: parse a document keeping where every node is, find the line and
 * column of a path of keys and indexes, and report the parser's syntax errors.
 *
 * @module
 */
import { isNode, LineCounter, parseDocument, type Document } from "yaml";
import type { ScenarioIssue } from "../errors";

/** A parsed YAML document that can say where a path is. */
export interface Located {
  readonly doc: Document.Parsed;
  readonly lines: LineCounter;
}

/** Parse YAML text, keeping positions. **Kernel:** none. **Locking:** none. */
export function parseLocated(text: string): Located {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  return { doc, lines };
}

/**
 * Line and column (1-based) of the node at `path`, or of its nearest existing ancestor.
 *
 * **Kernel:** none. **Locking:** none.
 */
export function positionOf(
  loc: Located,
  path: readonly PropertyKey[],
): { line: number; column: number } {
  for (let n = path.length; n >= 0; n--) {
    const node: unknown =
      n === 0 ? loc.doc.contents : loc.doc.getIn(path.slice(0, n) as (string | number)[], true);
    if (isNode(node) && node.range) {
      const p = loc.lines.linePos(node.range[0]);
      return { line: p.line, column: p.col };
    }
  }
  return { line: 1, column: 1 };
}

/** `threads.t1[2].mutex_lock` from `["threads", "t1", 2, "mutex_lock"]`. */
export function pathText(path: readonly PropertyKey[]): string {
  let out = "";
  for (const p of path) {
    if (typeof p === "number") {
      out += `[${p}]`;
    } else {
      out += out ? `.${String(p)}` : String(p);
    }
  }
  return out;
}

/**
 * The YAML syntax errors of a document, one issue each (the first line of the parser's message).
 *
 * **Kernel:** none. **Locking:** none.
 */
export function yamlIssues(loc: Located, file: string): ScenarioIssue[] {
  return loc.doc.errors.map((e) => {
    const p = loc.lines.linePos(e.pos[0]);
    return {
      file,
      line: p.line,
      column: p.col,
      path: "",
      message: `YAML: ${e.message.split("\n")[0] ?? e.message}`,
    };
  });
}
