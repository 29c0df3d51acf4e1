/**
 * Scenario operations: each step of a scenario names one operation (after the kernel call or uapi
 * it stands for) with its arguments. Layers contribute operations; the scenario layer validates and
 * runs them.
 *
 * @module
 */
import type { Kernel, Process } from "@dmasim/kernel";
import { KernelError } from "@dmasim/kernel";
import type { z } from "zod";

/** A reference from an argument to a named object, with the type the object must have. */
export interface RefSpec {
  /** The type, or the types, the named object may have. */
  readonly type: string | readonly string[];
  /** The argument holds a list of names. */
  readonly many?: boolean;
  /** The argument may be omitted. */
  readonly optional?: boolean;
}

/** What an operation gives back. */
export interface OpResult {
  /** Stored under the step's `as:` name. */
  readonly object?: unknown;
  /** Compared with the step's `expect.value`. */
  readonly value?: unknown;
  /** One line for the report. */
  readonly text?: string;
}

/** Everything an operation may use while it runs. */
export interface OpContext {
  readonly kernel: Kernel;
  readonly objects: ObjectTable;
  /** The scenario thread running the step. */
  readonly thread: string;
  readonly stepId: number;
  /** The step's `as:` name (what the object it makes will be called), if any. */
  readonly as: string | undefined;
  /** A process by name (created on first use; default `"app"`). */
  process(name?: string): Process;
}

/** The definition of one operation. **Kernel:** the call or ioctl it stands for. */
export interface OpDef<A = unknown> {
  /** The step key: the kernel function or uapi name in snake_case, e.g. `"dma_buf_attach"`. */
  readonly name: string;
  /** The package that contributes it. */
  readonly layer: string;
  /** One line for `dmasim list ops` and the docs. */
  readonly summary: string;
  /** The argument schema (an object schema). */
  readonly args: z.ZodType<A>;
  /** Arguments that name objects, and the type each must have. */
  readonly refs?: Readonly<Record<string, RefSpec>>;
  /** The type of the object the step may store with `as:`. */
  readonly produces?: string;
  /** The step must name what it makes with `as:` (an object nobody can refer to is useless). */
  readonly requiresAs?: boolean;
  /** The argument a scalar shorthand (`- mutex_lock: A`) fills. */
  readonly primary?: string;
  run(ctx: OpContext, args: A): OpResult | void | Promise<OpResult | void>;
}

/**
 * Define an operation (keeps the argument type for `run`).
 *
 * **Kernel:** none. **Locking:** none.
 */
export function defineOp<A>(def: OpDef<A>): OpDef<A> {
  return def;
}

/**
 * The named objects of a run: what steps stored with `as:`.
 *
 * **Kernel:** none (the scenario's symbol table).
 *
 * **Locking:** none.
 */
export class ObjectTable {
  private readonly objects = new Map<string, { type: string; value: unknown }>();

  /** Store `value` as `name`. */
  set(name: string, type: string, value: unknown): void {
    this.objects.set(name, { type, value });
  }

  /**
   * The object `name`, which must have type `type`.
   *
   * @throws {@link KernelError} `ENOENT` when no step has stored it yet (a thread used it before
   * another thread made it), `EINVAL` when it has another type
   */
  get<T>(name: string, type: string): T {
    const o = this.objects.get(name);
    if (!o) {
      throw new KernelError("ENOENT", `no ${type} named "${name}" exists yet`);
    }
    if (o.type !== type) {
      throw new KernelError("EINVAL", `"${name}" is a ${o.type}, not a ${type}`);
    }
    return o.value as T;
  }

  /**
   * The object `name`, with whichever of `types` it has.
   *
   * @throws {@link KernelError} `ENOENT` when it does not exist yet, `EINVAL` for another type
   */
  getAny(name: string, types: readonly string[]): { type: string; value: unknown } {
    const o = this.objects.get(name);
    if (!o) {
      throw new KernelError("ENOENT", `no ${types.join(" or ")} named "${name}" exists yet`);
    }
    if (!types.includes(o.type)) {
      throw new KernelError("EINVAL", `"${name}" is a ${o.type}, not a ${types.join(" or ")}`);
    }
    return o;
  }

  /** Whether `name` exists. */
  has(name: string): boolean {
    return this.objects.has(name);
  }

  /** Every object, in creation order. */
  entries(): [string, { type: string; value: unknown }][] {
    return [...this.objects.entries()];
  }
}
