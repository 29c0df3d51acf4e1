import type { Device } from "@dmasim/hardware";
import {
  defaultRegistry,
  loadScenario,
  runScenario,
  scenarioLayer,
  type ObjectTypes,
} from "@dmasim/scenario";
import { z } from "zod";

/** Your driver's own object: a command ring of a device. */
interface Ring {
  readonly dev: Device;
  head: number;
}

/** Your object types, beside the built-in ones. */
interface MyTypes extends ObjectTypes {
  ring: Ring;
}

/** The builder of your layer: `ref` is typed by your object types, `run` gets the objects. */
const mine = scenarioLayer<MyTypes>("my-driver");

const ringInit = mine.op({
  name: "ring_init",
  summary: "a command ring for a device",
  args: { device: mine.ref("device") },
  primary: "device",
  produces: "ring",
  requiresAs: true,
  run: (_ctx, { device }) => ({ object: { dev: device, head: 0 } }),
});

const ringPush = mine.op({
  name: "ring_push",
  summary: "queue `bytes` of commands; value: the new head",
  args: { ring: mine.ref("ring"), bytes: z.number().int().min(1) },
  run: (_ctx, { ring, bytes }) => {
    ring.head += bytes;
    return { value: ring.head, text: `${ring.dev.name}: head ${ring.head}` };
  },
});

/** Your operations beside dmasim's, in a scenario. */
export async function main(): Promise<{ ok: boolean; heads: string[] }> {
  const registry = defaultRegistry({ ops: [ringInit, ringPush] });
  const text = `
name: ring
platform: arm64-soc
devices: [{ name: npu }]
setup:
  - ring_init: npu
    as: r
steps:
  - ring_push: { ring: r, bytes: 64 }
  - ring_push: { ring: r, bytes: 32 }
    expect: { value: 96 }
`;
  const report = await runScenario(loadScenario(text, "ring.yaml", registry), { registry });
  const pushes = report.steps.filter((s) => s.op === "ring_push");
  return { ok: report.ok, heads: pushes.map((s) => s.text ?? "") };
}
