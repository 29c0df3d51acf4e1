import { Kernel, type ChoicePolicy, type KernelConfig } from "@dmasim/kernel";
import { createMachine, type Machine, type PlatformConfig } from "@dmasim/hardware";
import { DMA_MAPPING_MODULE } from "../src/index";

/** A tracing kernel (with the dma-mapping module) and a machine with no spontaneous cache events. */
export function boot(
  platform: string,
  overrides: Partial<PlatformConfig> = {},
  config: KernelConfig = {},
): { k: Kernel; m: Machine } {
  const k = new Kernel({ tracing: true, modules: [DMA_MAPPING_MODULE], ...config });
  const m = createMachine(k, platform, {
    allocChoices: 1,
    cachePolicy: { name: "none" },
    ...overrides,
  });
  return { k, m };
}

/** A policy that answers every choice with 0. */
export const firstChoice: ChoicePolicy = { name: "first", pick: () => 0 };

/**
 * The DMA-relevant events since `from` (an index into `k.events`): arch hooks with their
 * direction, cache maintenance routines, swiotlb copies, IOMMU map/unmap/flush.
 */
export function ops(k: Kernel, from = 0): string[] {
  const out: string[] = [];
  for (const e of k.events.slice(from)) {
    if (e.cat === "dma" && e.name.startsWith("arch_")) {
      out.push(`${e.name}(${String(e.args?.["dir"] ?? "")})`);
    } else if (e.cat === "cache") {
      out.push(e.name);
    } else if (e.track === "swiotlb" && e.name.startsWith("bounce-")) {
      out.push(e.name);
    } else if (e.cat === "iommu") {
      out.push(`iommu-${e.name}`);
    }
  }
  return out;
}

/** `[kind, code]` of each finding. */
export function codes(k: Kernel): [string, string][] {
  return k.findings.map((f) => [f.kind, f.code]);
}

/** n bytes of value v. */
export function bytes(n: number, v: number): Uint8Array {
  return new Uint8Array(n).fill(v);
}
