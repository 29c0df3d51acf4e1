import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { Ajv2020 } from "ajv/dist/2020.js";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { defaultRegistry, scenarioJsonSchema } from "../src/index";

const schema = scenarioJsonSchema(defaultRegistry());
const ajv = new Ajv2020({ strict: false, allErrors: true });
const validate = ajv.compile(schema);
const dir = join(__dirname, "..", "examples");

describe("the JSON Schema for editors", () => {
  it.each(readdirSync(dir).filter((f) => f.endsWith(".yaml")))(
    "accepts the bundled example %s",
    (f) => {
      const ok = validate(parse(readFileSync(join(dir, f), "utf8")));
      expect(validate.errors ?? []).toEqual([]);
      expect(ok).toBe(true);
    },
  );

  it("rejects an unknown operation, a bad argument, an unknown option and a bad kernel", () => {
    const bad = (doc: unknown) => !validate(doc);
    expect(bad({ name: "t", steps: [{ mutex_lok: "A" }] })).toBe(true);
    expect(bad({ name: "t", steps: [{ msleep: { ms: -1 } }] })).toBe(true);
    expect(bad({ name: "t", options: { CONFIG_NOPE: true }, steps: [] })).toBe(true);
    expect(bad({ name: "t", kernel: "2.6", steps: [] })).toBe(true);
    expect(bad({ name: "t", steps: [{ msleep: 5, as: "x" }] })).toBe(false);
  });

  it("describes every operation", () => {
    const step = (
      schema.$defs as { step: { anyOf: { required: string[]; description: string }[] } }
    ).step;
    expect(step.anyOf.map((a) => a.required[0])).toEqual([...defaultRegistry().ops.keys()]);
    expect(step.anyOf.every((a) => a.description.length > 10)).toBe(true);
  });
});
