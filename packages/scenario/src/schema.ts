/**
 * A JSON Schema of scenario files, for editors (completion and checking as you type, e.g. with the
 * YAML language server's `# yaml-language-server: $schema=...`). It is generated from the same zod
 * schemas the loader uses, with one alternative per operation for steps.
 *
 * @module
 */
import { KERNEL_PROFILES } from "@dmasim/kernel";
import { z } from "zod";
import { stepExpectSchema, topSchemaWith } from "./load/top";
import type { Registry } from "./registry";

type Json = Record<string, unknown>;

function toJson(schema: z.ZodType): Json {
  return z.toJSONSchema(schema, {
    target: "draft-2020-12",
    unrepresentable: "any",
    io: "input",
  }) as Json;
}

function stepSchema(registry: Registry): Json {
  const common: Json = {
    as: { type: "string", description: "names the object the step makes" },
    label: { type: "string", description: "a name for the step in expectations" },
    note: { type: "string", description: "a comment shown in the report" },
    expect: strip(toJson(stepExpectSchema)),
  };
  const alternatives = [...registry.ops.values()].map((op) => {
    const args = strip(toJson(op.args));
    const value: Json = op.primary
      ? {
          anyOf: [
            args,
            {
              type: ["string", "number", "boolean"],
              description: `shorthand for { ${op.primary}: … }`,
            },
          ],
        }
      : args;
    return {
      type: "object",
      description: `${op.summary} (${op.layer})`,
      properties: { [op.name]: { ...value, description: op.summary }, ...common },
      required: [op.name],
      additionalProperties: false,
    };
  });
  return { anyOf: alternatives };
}

/** Drop the `$schema` key of a nested schema. */
function strip(s: Json): Json {
  const { $schema: _drop, ...rest } = s;
  return rest;
}

/**
 * The JSON Schema (draft 2020-12) of scenario files for a registry.
 *
 * **Kernel:** none (tools/testing).
 *
 * **Locking:** none.
 */
export function scenarioJsonSchema(registry: Registry): Json {
  const top = toJson(topSchemaWith([...registry.sections.values()]));
  const props = (top.properties ?? {}) as Record<string, Json>;
  const step = stepSchema(registry);
  const steps = { type: "array", items: { $ref: "#/$defs/step" } };
  props.setup = { ...steps, description: "steps run by init before the threads start" };
  props.steps = { ...steps, description: "the steps of a single thread, main" };
  props.threads = {
    type: "object",
    description: "threads by name, each a list of steps",
    additionalProperties: steps,
  };
  props.kernel = {
    enum: KERNEL_PROFILES.map((p) => p.name),
    description: "the kernel version to run as",
  };
  const optionNames = registry.modules.flatMap((m) => (m.options ?? []).map((o) => o.name));
  props.options = {
    type: "object",
    description: "named kernel options (dmasim list options)",
    propertyNames: { enum: optionNames },
    additionalProperties: { type: "boolean" },
  };
  return {
    $schema: "https://json-schema.org/draft/2020-12/schema",
    $id: "https://dmasim.invalid/scenario.schema.json",
    title: "dmasim scenario",
    ...top,
    properties: props,
    $defs: { step },
  };
}
