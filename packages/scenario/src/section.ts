/**
 * Top-level sections of a scenario file (`platform`, `devices`, `heaps`, …): each layer may add
 * one, applied in order before the setup steps. Written with {@link scenarioLayer}'s `section`;
 * registered as a {@link SectionDef}, which hides the value's type behind {@link SectionDef.bind}.
 *
 * @module
 */
import type { z } from "zod";
import type { OpContext } from "./op";

/** An object a section makes, so that steps may name it. */
export interface SectionName {
  readonly name: string;
  readonly type: string;
}

/** A section's value, parsed and ready to apply. */
export interface SectionUse {
  readonly def: SectionDef;
  /** The value as parsed. */
  readonly value: unknown;
  /** The objects it makes. */
  names(): readonly SectionName[];
  /** The section with a CLI override (e.g. `--platform`) applied, when the section has one. */
  override?(arg: string): SectionUse;
  apply(ctx: OpContext): void | Promise<void>;
}

/** What {@link SectionDef.bind} gives. */
export type SectionBinding =
  | { readonly success: true; readonly use: SectionUse }
  | { readonly success: false; readonly error: z.ZodError };

/** A registered top-level section of a scenario file, whatever its value's type. */
export interface SectionDef {
  readonly key: string;
  readonly layer: string;
  readonly summary: string;
  /** The value's schema (for the JSON Schema of scenario files). */
  readonly schema: z.ZodType;
  /** Order among sections (lower first). */
  readonly order: number;
  /** Parse the section's value. */
  bind(raw: unknown): SectionBinding;
  /** A CLI override (e.g. `--platform`) when the file has no such section. */
  override?(arg: string): SectionUse;
}

/** A section as its layer writes it, with the value's type `V`. */
export interface SectionSpec<Types, V> {
  readonly key: string;
  readonly summary: string;
  readonly schema: z.ZodType<V>;
  /** Order among sections (lower first). */
  readonly order: number;
  /** The objects the section makes (so that steps may name them), e.g. each device. */
  names?(value: V): readonly { readonly name: string; readonly type: keyof Types & string }[];
  /** A CLI override of the section (e.g. `--platform`): the new value from the old one (or none). */
  override?(old: V | undefined, arg: string): V;
  apply(ctx: OpContext, value: V): void | Promise<void>;
}

/**
 * Turn a layer's {@link SectionSpec} into a {@link SectionDef}. Use {@link scenarioLayer}.
 *
 * **Kernel:** none. **Locking:** none.
 */
export function defineSection<Types, V>(layer: string, spec: SectionSpec<Types, V>): SectionDef {
  const ov = spec.override;
  const use = (value: V): SectionUse => ({
    def,
    value,
    names: () => spec.names?.(value) ?? [],
    ...(ov ? { override: (arg: string) => use(ov(value, arg)) } : {}),
    apply: (ctx) => spec.apply(ctx, value),
  });
  const def: SectionDef = {
    key: spec.key,
    layer,
    summary: spec.summary,
    schema: spec.schema,
    order: spec.order,
    bind(raw) {
      const parsed = spec.schema.safeParse(raw);
      return parsed.success
        ? { success: true, use: use(parsed.data) }
        : { success: false, error: parsed.error };
    },
    ...(ov ? { override: (arg: string) => use(ov(undefined, arg)) } : {}),
  };
  return def;
}
