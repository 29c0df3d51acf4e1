/**
 * Operations described for people: each argument with its type (`lock: mutex`, `order?: int 0..10`),
 * as `dmasim list ops` prints them and the README's operation table shows them. Generated from the
 * registry, so the docs cannot drift from the code.
 *
 * @module
 */
import { z } from "zod";
import type { OpDef } from "./op";
import { refArgs, type ArgShape } from "./ref";
import type { Registry } from "./registry";

/** One argument of an operation, for people. */
export interface ArgDescription {
  readonly name: string;
  /** `mutex`, `fence[]`, `gpu_bo | gpu_import`, `int 0..10`, `READ | WRITE | RW`, `size`, … */
  readonly type: string;
  readonly optional: boolean;
}

type Json = { readonly [k: string]: unknown };

function isJson(v: unknown): v is Json {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** A bound, unless it is only the safe-integer limit zod adds to every integer. */
function bound(v: unknown): number | undefined {
  return typeof v === "number" && Math.abs(v) < Number.MAX_SAFE_INTEGER ? v : undefined;
}

function range(kind: string, j: Json): string {
  const min = bound(j.minimum);
  const max = bound(j.maximum);
  if (min !== undefined && max !== undefined) {
    return `${kind} ${min}..${max}`;
  }
  return min !== undefined ? `${kind} >= ${min}` : kind;
}

/** A JSON Schema as a short type: its title, else its shape. */
function typeText(j: unknown): string {
  if (!isJson(j)) {
    return "any";
  }
  if (typeof j.title === "string") {
    return j.title;
  }
  if (Array.isArray(j.enum)) {
    return j.enum.map((v) => (typeof v === "string" ? v : JSON.stringify(v))).join(" | ");
  }
  if (j.const !== undefined) {
    return JSON.stringify(j.const);
  }
  if (Array.isArray(j.anyOf)) {
    return j.anyOf.map(typeText).join(" | ");
  }
  switch (j.type) {
    case "integer":
      return range("int", j);
    case "number":
      return range("number", j);
    case "boolean":
      return "bool";
    case "string":
      return "string";
    case "array": {
      const item = typeText(j.items);
      return item.includes(" ") ? `(${item})[]` : `${item}[]`;
    }
    default:
      return "any";
  }
}

/**
 * The arguments of an argument shape, described.
 *
 * **Kernel:** none. **Locking:** none.
 */
export function describeShape(shape: ArgShape): ArgDescription[] {
  const refs = new Map(refArgs(shape).map((r) => [r.arg, r]));
  return Object.entries(shape).map(([name, schema]) => {
    const r = refs.get(name);
    const optional = schema.safeParse(undefined).success;
    if (r) {
      return { name, type: `${r.types.join(" | ")}${r.many ? "[]" : ""}`, optional };
    }
    const json = z.toJSONSchema(schema, { unrepresentable: "any", io: "input" });
    return { name, type: typeText(json), optional };
  });
}

/**
 * `lock: mutex` / `order?: int 0..10, gfp?: gfp flags`: an operation's arguments on one line.
 *
 * **Kernel:** none. **Locking:** none.
 */
export function describeArgs(op: OpDef): string {
  return op.params.map((p) => `${p.name}${p.optional ? "?" : ""}: ${p.type}`).join(", ");
}

function cell(s: string): string {
  return s.replace(/\|/g, "\\|");
}

/**
 * The Markdown table of every operation of a registry: operation, layer, arguments, summary.
 *
 * **Kernel:** none. **Locking:** none.
 */
export function opsMarkdownTable(registry: Registry): string {
  const rows = [...registry.ops.values()].map(
    (op) => `| \`${op.name}\` | ${op.layer} | ${cell(describeArgs(op))} | ${cell(op.summary)} |`,
  );
  return ["| operation | layer | arguments | what it does |", "|---|---|---|---|", ...rows].join(
    "\n",
  );
}

const BEGIN = "<!-- ops:begin (generated from the registry by `pnpm gen:docs`: do not edit) -->";
const END = "<!-- ops:end -->";

/**
 * `markdown` with the text between its operation-table markers replaced by `table`.
 *
 * **Kernel:** none. **Locking:** none.
 *
 * @throws {@link Error} when the markers are missing
 */
export function withOpsTable(markdown: string, table: string): string {
  const from = markdown.indexOf(BEGIN);
  const to = markdown.indexOf(END);
  if (from < 0 || to < from) {
    throw new Error(`no operation table markers (${BEGIN} … ${END})`);
  }
  return `${markdown.slice(0, from + BEGIN.length)}\n\n${table}\n\n${markdown.slice(to)}`;
}
