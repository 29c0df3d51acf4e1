/**
 * Scenario operations: each step of a scenario names one operation (after the kernel call or uapi
 * it stands for) with its arguments. Layers contribute operations, written with
 * {@link scenarioLayer}; the scenario layer validates and runs them.
 *
 * An operation is written once with its typed arguments ({@link OpSpec}) and registered as an
 * {@link OpDef}, which hides the argument types behind {@link OpDef.bind}: the registry holds
 * operations of every argument type side by side without a cast.
 *
 * @module
 */
import type { Kernel, Process } from "@dmasim/kernel";
import { z } from "zod";
import { describeShape, type ArgDescription } from "./describe";
import type { ObjectTable } from "./objects";
import {
  referencesOf,
  refArgs,
  resolveArgs,
  type ArgShape,
  type ObjectReference,
  type RefArg,
  type ResolvedArgs,
  type WrittenArgs,
} from "./ref";

/** A reference from an argument to a named object, with the type the object must have. */
export interface RefSpec {
  /** The type, or the types, the named object may have. */
  readonly type: string | readonly string[];
  /** The argument holds a list of names. */
  readonly many?: boolean;
  /** The argument may be omitted. */
  readonly optional?: boolean;
}

/** What an operation gives back; `O` is the type of the object it makes. */
export interface OpResult<O = unknown> {
  /** Stored under the step's `as:` name. */
  readonly object?: O;
  /** Compared with the step's `expect.value`. */
  readonly value?: unknown;
  /** One line for the report. */
  readonly text?: string;
}

/** Everything an operation may use while it runs. */
export interface OpContext {
  readonly kernel: Kernel;
  /** The named objects (operations receive theirs resolved; sections store theirs here). */
  readonly objects: ObjectTable;
  /** The scenario thread running the step. */
  readonly thread: string;
  readonly stepId: number;
  /** The step's `as:` name (what the object it makes will be called), if any. */
  readonly as: string | undefined;
  /** A process by name (created on first use; default `"app"`). */
  process(name?: string): Process;
}

/** A step's arguments, parsed and ready to run. */
export interface OpCall {
  /** The arguments as written (objects by name). */
  readonly args: Readonly<Record<string, unknown>>;
  /** Every object the arguments name, in argument order. */
  readonly references: readonly ObjectReference[];
  /** Resolve the references and run the operation. */
  run(ctx: OpContext): OpResult | void | Promise<OpResult | void>;
}

/** What {@link OpDef.bind} gives: a call, or the argument schema's issues. */
export type OpBinding =
  | { readonly success: true; readonly call: OpCall }
  | { readonly success: false; readonly error: z.ZodError };

/**
 * A registered operation, whatever its argument types. **Kernel:** the call or ioctl it stands for.
 */
export interface OpDef {
  /** The step key: the kernel function or uapi name in snake_case, e.g. `"dma_buf_attach"`. */
  readonly name: string;
  /** The package that contributes it. */
  readonly layer: string;
  /** One line for `dmasim list ops` and the docs. */
  readonly summary: string;
  /** The argument schema (an object schema; references are names). */
  readonly args: z.ZodType;
  /** Arguments that name objects, and the type each must have. */
  readonly refs: Readonly<Record<string, RefSpec>>;
  /** The type of the object the step may store with `as:`. */
  readonly produces?: string;
  /** The step must name what it makes with `as:` (an object nobody can refer to is useless). */
  readonly requiresAs?: boolean;
  /** The argument a scalar shorthand (`- mutex_lock: A`) fills. */
  readonly primary?: string;
  /** Each argument with its type, for people (`dmasim list ops`, the README). */
  readonly params: readonly ArgDescription[];
  /** Parse a step's arguments (`raw`: the mapping in the file). */
  bind(raw: unknown): OpBinding;
}

/**
 * An operation as its layer writes it: each argument once, objects as `ref("type")`.
 *
 * @typeParam Types - the object types (type name to TypeScript type), {@link ObjectTypes} or yours
 * @typeParam S - the argument shape
 * @typeParam P - the type name of the object it makes, if any
 */
export interface OpSpec<Types, S extends ArgShape, P extends keyof Types & string> {
  /** The step key: the kernel function or uapi name in snake_case. */
  readonly name: string;
  /** One line for `dmasim list ops` and the docs. */
  readonly summary: string;
  /** Argument name to schema; `ref("dma_buf")` for an argument that names an object. */
  readonly args: S;
  /** The argument a scalar shorthand fills. */
  readonly primary?: keyof S & string;
  /** The type name of the object the step makes (stored with `as:`). */
  readonly produces?: P;
  /** The step must name what it makes with `as:`. */
  readonly requiresAs?: boolean;
  /**
   * Run the step: `args` has every reference resolved; `names` has the arguments as written (the
   * objects' names, for messages).
   */
  run(
    ctx: OpContext,
    args: ResolvedArgs<Types, S>,
    names: WrittenArgs<S>,
  ): OpResult<Types[P]> | void | Promise<OpResult<Types[P]> | void>;
}

function refSpecs(refs: readonly RefArg[]): Record<string, RefSpec> {
  const out: Record<string, RefSpec> = {};
  for (const r of refs) {
    out[r.arg] = {
      type: r.types.length === 1 ? (r.types[0] ?? "") : r.types,
      ...(r.many ? { many: true } : {}),
      ...(r.optional ? { optional: true } : {}),
    };
  }
  return out;
}

/**
 * Turn a layer's {@link OpSpec} into an {@link OpDef}. Use {@link scenarioLayer}, which supplies
 * `layer` and checks the object type names.
 *
 * **Kernel:** none. **Locking:** none.
 */
export function defineOp<Types, S extends ArgShape, P extends keyof Types & string>(
  layer: string,
  spec: OpSpec<Types, S, P>,
): OpDef {
  const schema = z.object(spec.args).strict();
  const refs = refArgs(spec.args);
  const call = (written: WrittenArgs<S>): OpCall => ({
    args: written,
    references: referencesOf(refs, written),
    // the object table checked each type name: the resolved arguments have the types S states
    run: (ctx) =>
      spec.run(ctx, resolveArgs(ctx.objects, refs, written) as ResolvedArgs<Types, S>, written),
  });
  let params: readonly ArgDescription[] | undefined;
  return {
    name: spec.name,
    layer,
    summary: spec.summary,
    args: schema,
    refs: refSpecs(refs),
    get params() {
      return (params ??= describeShape(spec.args));
    },
    ...(spec.produces !== undefined ? { produces: spec.produces } : {}),
    ...(spec.requiresAs !== undefined ? { requiresAs: spec.requiresAs } : {}),
    ...(spec.primary !== undefined ? { primary: spec.primary } : {}),
    bind(raw) {
      const parsed = schema.safeParse(raw);
      return parsed.success
        ? { success: true, call: call(parsed.data) }
        : { success: false, error: parsed.error };
    },
  };
}
