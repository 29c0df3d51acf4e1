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

/**
 * Run `body` once per answer sequence of the `"cache"` choice points (depth first; other choice
 * kinds answer 0) and collect each run's findings.
 */
export function exploreCache(
  body: (policy: ChoicePolicy) => readonly { kind: string }[],
  limit = 200,
): { picks: number[]; kinds: string[] }[] {
  const runs: { picks: number[]; kinds: string[] }[] = [];
  let next: number[] | null = [];
  while (next && runs.length < limit) {
    const prefix: number[] = next;
    const picks: number[] = [];
    const counts: number[] = [];
    const policy: ChoicePolicy = {
      name: "dfs",
      pick(point) {
        if (point.kind !== "cache") {
          return 0;
        }
        const p = prefix[picks.length] ?? 0;
        picks.push(p);
        counts.push(point.count);
        return p;
      },
    };
    runs.push({ picks, kinds: body(policy).map((f) => f.kind) });
    next = null;
    for (let i = picks.length - 1; i >= 0; i--) {
      if (picks[i]! + 1 < counts[i]!) {
        next = [...picks.slice(0, i), picks[i]! + 1];
        break;
      }
    }
  }
  return runs;
}
