/**
 * References from an operation's arguments to named objects. In a scenario file an argument such
 * as `buf: frame` names an object; the operation's schema says which type it must have with
 * `ref("dma_buf")`. The names are checked when the file loads and resolved once when the step runs:
 * the operation receives the objects themselves, typed from {@link ObjectTypes}.
 *
 * @module
 */
import { z } from "zod";
import type { ObjectTable } from "./objects";

/** What a reference schema carries: the types its object may have, and whether it is tagged. */
export interface RefMeta<T extends string = string, Tagged extends boolean = boolean> {
  readonly types: readonly T[];
  /** Several types: the operation receives `{ type, value }` to tell them apart. */
  readonly tagged: Tagged;
}

/**
 * The schema of an argument that names an object of type `T` (a string in the file). Wrap it in
 * `.optional()` or `z.array(…)` as any schema; do not refine it (a refined copy is a plain string).
 */
export type RefSchema<T extends string = string, Tagged extends boolean = boolean> = z.ZodString & {
  readonly "~ref": RefMeta<T, Tagged>;
};

/**
 * The schema of a reference to an object of `types`. Built by {@link scenarioLayer}'s `ref` and
 * `refAny`, which check the type names against the layer's object types.
 *
 * **Kernel:** none. **Locking:** none.
 */
export function refSchema<T extends string, Tagged extends boolean>(
  types: readonly T[],
  tagged: Tagged,
): RefSchema<T, Tagged> {
  const what = `the name of a ${types.join(" or ")} (made with \`as:\`)`;
  return Object.assign(z.string().describe(what), { "~ref": { types, tagged } });
}

/** The value an operation receives for a reference to `M` with the object types `Types`. */
type Resolved<Types, M> =
  M extends RefMeta<infer T, infer Tagged>
    ? Tagged extends true
      ? {
          [K in T]: K extends keyof Types ? { readonly type: K; readonly value: Types[K] } : never;
        }[T]
      : T extends keyof Types
        ? Types[T]
        : never
    : never;

/**
 * What `run` receives for an argument of schema `S`: the object for a reference (a list of them for
 * `z.array(ref(…))`, possibly `undefined` for `ref(…).optional()`), the parsed value otherwise.
 */
export type ArgValue<Types, S> = S extends { readonly "~ref": infer M }
  ? Resolved<Types, M>
  : S extends z.ZodOptional<infer I>
    ? I extends { readonly "~ref": infer M }
      ? Resolved<Types, M> | undefined
      : z.output<S>
    : S extends z.ZodArray<infer I>
      ? I extends { readonly "~ref": infer M }
        ? Resolved<Types, M>[]
        : z.output<S>
      : z.output<S>;

/** An operation's argument shape: argument name to schema. */
export type ArgShape = Readonly<Record<string, z.ZodType>>;

/** The arguments `run` receives: every reference resolved. */
export type ResolvedArgs<Types, S extends ArgShape> = {
  readonly [K in keyof S]: ArgValue<Types, S[K]>;
};

/** The arguments as written in the file (references are names), parsed. */
export type WrittenArgs<S extends ArgShape> = z.output<
  z.ZodObject<z.core.util.Writeable<S>, z.core.$strict>
>;

/** A reference argument found in an argument shape. */
export interface RefArg {
  readonly arg: string;
  readonly types: readonly string[];
  readonly tagged: boolean;
  readonly many: boolean;
  readonly optional: boolean;
}

/** One object a step names: checked at load (it must be made before, with a fitting type). */
export interface ObjectReference {
  readonly arg: string;
  /** The position in a list of names (`z.array(ref(…))`), else undefined. */
  readonly index: number | undefined;
  readonly name: string;
  readonly types: readonly string[];
}

function isRefSchema(s: unknown): s is RefSchema {
  return typeof s === "object" && s !== null && "~ref" in s;
}

/**
 * The reference arguments of a shape, in shape order.
 *
 * **Kernel:** none. **Locking:** none.
 */
export function refArgs(shape: ArgShape): RefArg[] {
  const out: RefArg[] = [];
  for (const [arg, s] of Object.entries(shape)) {
    const optional = s instanceof z.ZodOptional;
    const inner: unknown = optional ? s.unwrap() : s;
    const many = inner instanceof z.ZodArray;
    const ref: unknown = many ? inner.element : inner;
    if (isRefSchema(ref)) {
      out.push({ arg, types: ref["~ref"].types, tagged: ref["~ref"].tagged, many, optional });
    }
  }
  return out;
}

/** The names each reference argument of `written` holds, in order. */
export function referencesOf(
  refs: readonly RefArg[],
  written: Readonly<Record<string, unknown>>,
): ObjectReference[] {
  const out: ObjectReference[] = [];
  for (const r of refs) {
    const v = written[r.arg];
    if (typeof v === "string") {
      out.push({ arg: r.arg, index: undefined, name: v, types: r.types });
    } else if (Array.isArray(v)) {
      v.forEach((name: string, index) => out.push({ arg: r.arg, index, name, types: r.types }));
    }
  }
  return out;
}

/** The object a reference names, as the operation receives it (tagged when it has several types). */
function resolveOne(objects: ObjectTable, r: RefArg, name: string): unknown {
  const o = objects.get(name, r.types);
  return r.tagged ? o : o.value;
}

/**
 * `written` with each reference replaced by its object (looked up once, when the step runs).
 *
 * **Kernel:** none. **Locking:** none.
 *
 * @throws {@link KernelError} `ENOENT` for an object no step has made yet (another thread makes it
 * later), `EINVAL` for one of another type
 */
export function resolveArgs(
  objects: ObjectTable,
  refs: readonly RefArg[],
  written: Readonly<Record<string, unknown>>,
): Record<string, unknown> {
  const out: Record<string, unknown> = { ...written };
  for (const r of refs) {
    const v = written[r.arg];
    if (typeof v === "string") {
      out[r.arg] = resolveOne(objects, r, v);
    } else if (Array.isArray(v)) {
      out[r.arg] = v.map((name: string) => resolveOne(objects, r, name));
    }
  }
  return out;
}
