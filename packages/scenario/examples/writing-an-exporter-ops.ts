// docs/writing-an-exporter.md, part 2: the carve-out exporter driven from scenario files.
import { getMachine } from "@dmasim/hardware";
import {
  defaultRegistry,
  formatReport,
  loadScenario,
  runScenario,
  scenarioLayer,
  type ObjectTypes,
} from "@dmasim/scenario";
import { carveoutAlloc, carveoutExport, type Carveout } from "./carveout";

// Step 6: your object types beside the built-in ones (`dma_buf`, `device`, …); your layer's
// builder types every reference with them.
interface CarveoutTypes extends ObjectTypes {
  carveout: Carveout;
}
const carveout = scenarioLayer<CarveoutTypes>("carveout-example");

// Step 7: the operations. Each names the objects it uses once, `carveout.ref("carveout")`, and
// `run` receives them resolved and typed; `produces` types the object it returns.
export const CARVEOUT_OPS = [
  carveout.op({
    name: "carveout_alloc",
    summary: "carve out two contiguous pages",
    args: {},
    produces: "carveout",
    requiresAs: true,
    run: (ctx) => ({ object: carveoutAlloc(getMachine(ctx.kernel)) }),
  }),
  carveout.op({
    name: "carveout_export",
    summary: "export a carve-out as a dma-buf",
    args: { carveout: carveout.ref("carveout") },
    primary: "carveout",
    produces: "dma_buf",
    requiresAs: true,
    run: (ctx, a) => ({ object: carveoutExport(ctx.kernel, a.carveout) }),
  }),
  carveout.op({
    name: "carveout_mapped",
    summary: "value: how many tables the exporter has handed out",
    args: { carveout: carveout.ref("carveout") },
    primary: "carveout",
    run: (_ctx, a) => ({ value: a.carveout.mapped.size }),
  }),
];

// Step 8: a scenario mixing them with the built-in operations, run as `dmasim run` runs one.
const SCENARIO = `
name: carveout
kernel: "6.12"
platform: { preset: arm64-soc, cache_policy: none }
devices:
  - { name: dev, dma_mask: 64 }
setup:
  - carveout_alloc: {}
    as: cv
  - carveout_export: cv
    as: buf
steps:
  - dma_buf_attach: { buf: buf, device: dev }
    as: at
  - dma_buf_map_attachment_unlocked: { attachment: at, dir: DMA_FROM_DEVICE }
    as: map
  - carveout_mapped: cv
    expect: { value: 1 }
  - device_write: { device: dev, dma: map, data: { fill: 0x6b, len: 8192 } }
  - dma_buf_unmap_attachment_unlocked: map
  - carveout_mapped: cv
    expect: { value: 0 }
  - dma_buf_detach: at
  - dma_buf_put: buf
expect:
  findings: none
`;

export async function scenarioMain(): Promise<{ ok: boolean; report: string }> {
  const registry = defaultRegistry({ ops: CARVEOUT_OPS });
  const scenario = loadScenario(SCENARIO, "carveout.yaml", registry);
  const report = await runScenario(scenario, { registry });
  return { ok: report.ok, report: formatReport(report) };
}
