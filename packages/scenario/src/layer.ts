/**
 * The builder each layer writes its scenario operations and sections with. It supplies the layer's
 * name, and types references by the layer's object types: an operation states each object it uses
 * once, as `ref("dma_buf")`, and `run` receives the `DmaBuf` itself.
 *
 * ```ts
 * interface MyTypes extends ObjectTypes { carveout: Carveout }
 * const mine = scenarioLayer<MyTypes>("my-driver");
 * const carveoutExport = mine.op({
 *   name: "carveout_export",
 *   summary: "export a carve-out buffer",
 *   args: { carveout: mine.ref("carveout") },
 *   produces: "dma_buf",
 *   requiresAs: true,
 *   run: (ctx, { carveout }) => ({ object: carveoutExport(ctx.kernel, carveout) }),
 * });
 * const registry = defaultRegistry({ ops: [carveoutExport] });
 * ```
 *
 * @module
 */
import type { ObjectTypes } from "./objects";
import { defineOp, type OpContext, type OpDef, type OpResult, type OpSpec } from "./op";
import { refSchema, type ArgShape, type RefSchema, type ResolvedArgs } from "./ref";
import { defineSection, type SectionDef, type SectionSpec } from "./section";

/** What {@link scenarioLayer} gives: a layer's operation and section builders. */
export interface ScenarioLayer<Types> {
  /** The layer's package name, shown by `dmasim list ops`. */
  readonly layer: string;
  /** An argument naming an object of type `type`; `run` receives the object. */
  ref<T extends keyof Types & string>(type: T): RefSchema<T, false>;
  /**
   * An argument naming an object of any of `types`; `run` receives `{ type, value }`, which
   * narrows on `type`.
   */
  refAny<T extends keyof Types & string>(...types: T[]): RefSchema<T, true>;
  /** An operation of this layer. */
  op<S extends ArgShape, P extends keyof Types & string = never>(spec: OpSpec<Types, S, P>): OpDef;
  /**
   * An operation on one object, which is also its scalar shorthand: `- mutex_lock: A` is
   * `objectOp({ name: "mutex_lock", arg: "lock", type: "mutex", run: (m) => mutexLock(m) })`.
   */
  objectOp<T extends keyof Types & string, K extends string>(
    spec: ObjectOpSpec<Types, T, K>,
  ): OpDef;
  /** A top-level section of scenario files, from this layer. */
  section<V>(spec: SectionSpec<Types, V>): SectionDef;
}

/** An operation on one object of type `T`, named by its argument `arg`. */
export interface ObjectOpSpec<Types, T extends keyof Types & string, K extends string> {
  readonly name: string;
  readonly summary: string;
  /** The argument naming the object (also what a scalar shorthand fills). */
  readonly arg: K;
  readonly type: T;
  run(
    object: ResolvedArgs<Types, Record<K, RefSchema<T, false>>>[K],
    ctx: OpContext,
  ): OpResult<never> | void | Promise<OpResult<never> | void>;
}

/**
 * The builder of a layer's scenario operations and sections.
 *
 * **Kernel:** none (tools/testing). **Locking:** none.
 *
 * @typeParam Types - the object types the layer's operations name: {@link ObjectTypes}, or an
 * interface extending it with your own
 * @param layer - the package that contributes the operations, e.g. `"@dmasim/dma-buf"`
 */
export function scenarioLayer<Types = ObjectTypes>(layer: string): ScenarioLayer<Types> {
  return {
    layer,
    ref: (type) => refSchema([type], false),
    refAny: (...types) => refSchema(types, true),
    op: (spec) => defineOp(layer, spec),
    objectOp: <T extends keyof Types & string, K extends string>(
      spec: ObjectOpSpec<Types, T, K>,
    ) => {
      // a computed key widens to `string`: the shape is exactly { [spec.arg]: ref(spec.type) }
      const args = { [spec.arg]: refSchema([spec.type], false) } as Record<K, RefSchema<T, false>>;
      return defineOp<Types, Record<K, RefSchema<T, false>>, never>(layer, {
        name: spec.name,
        summary: spec.summary,
        args,
        primary: spec.arg,
        run: (ctx, a) => spec.run(a[spec.arg], ctx),
      });
    },
    section: (spec) => defineSection(layer, spec),
  };
}
