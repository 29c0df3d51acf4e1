/**
 * The schema of a scenario file's top level: its name, kernel, options, seed and policy, the step
 * lists (each step is parsed on its own), expectations and explore defaults. The layers' sections
 * (`platform`, `devices`, …) are parsed by their own schemas.
 *
 * @module
 */
import { ERRNO, FINDING_KINDS, KERNEL_PROFILES, type ErrnoName } from "@dmasim/kernel";
import { z } from "zod";

const errnoName = z.enum(Object.keys(ERRNO) as [ErrnoName, ...ErrnoName[]]);
const findingKind = z.enum(FINDING_KINDS);

/** A name for an object (`as:`) or a thread. */
export const nameSchema = z
  .string()
  .regex(/^[A-Za-z_][A-Za-z0-9_.-]*$/, { message: "a name of letters, digits, _ . -" });

/** What a step may expect: an errno, a value, findings. @internal */
export const stepExpectSchema = z
  .object({
    errno: errnoName.optional(),
    value: z.unknown().optional(),
    findings: z.union([findingKind, z.array(findingKind)]).optional(),
  })
  .strict();

const findingExpectSchema = z
  .object({
    kind: findingKind,
    code: z.string().optional(),
    step: z.union([z.number().int().min(1), z.string()]).optional(),
    thread: z.string().optional(),
    count: z.number().int().min(0).optional(),
  })
  .strict();

const TOP_SHAPE = {
  name: z.string().min(1),
  description: z.string().optional(),
  kernel: z
    .string()
    .refine((v) => KERNEL_PROFILES.some((p) => p.name === v), {
      message: `a kernel version: ${KERNEL_PROFILES.map((p) => p.name).join(", ")}`,
    })
    .optional(),
  options: z.record(z.string(), z.boolean()).optional(),
  seed: z.number().int().min(0).max(0xffffffff).optional(),
  policy: z.enum(["first", "random"]).optional(),
  setup: z.array(z.unknown()).optional(),
  steps: z.array(z.unknown()).optional(),
  threads: z.record(nameSchema, z.array(z.unknown())).optional(),
  expect: z
    .object({ findings: z.union([z.literal("none"), z.array(findingExpectSchema)]).optional() })
    .strict()
    .optional(),
  explore: z
    .object({
      bounds: z.record(z.string(), z.number().int().min(0)).optional(),
      depth: z.number().int().min(0).optional(),
      runs: z.number().int().min(1).optional(),
    })
    .strict()
    .optional(),
};

/** The top level without the sections (steps unchecked: they are parsed one by one). @internal */
export const topSchema = z.object(TOP_SHAPE).strict();

/** A scenario's top level, parsed. */
export type Top = z.output<typeof topSchema>;

/**
 * The top level with the sections' schemas (for the JSON Schema of scenario files). @internal
 *
 * **Kernel:** none. **Locking:** none.
 */
export function topSchemaWith(sections: readonly { key: string; schema: z.ZodType }[]) {
  const shape: Record<string, z.ZodType> = { ...TOP_SHAPE };
  for (const s of sections) {
    shape[s.key] = s.schema.optional();
  }
  return z.object(shape).strict();
}
