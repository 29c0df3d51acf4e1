import { Kernel, type ChoicePolicy, type Finding } from "@dmasim/kernel";
import { createMachine, type Machine, type PlatformConfig } from "../src/index";

/** A kernel with a machine; option 0 everywhere unless a policy is given. */
export function boot(
  platform: string,
  overrides: Partial<PlatformConfig> = {},
  policy?: ChoicePolicy,
): { k: Kernel; m: Machine } {
  const k = new Kernel(policy ? { policy } : {});
  const m = createMachine(k, platform, { allocChoices: 1, ...overrides });
  return { k, m };
}

/** Depth-first enumeration of every answer to the `"cache"` choice points (others answer 0). */
export async function exploreCache(
  run: (policy: ChoicePolicy) => Promise<Finding[]> | Finding[],
  limit = 500,
): Promise<{ picks: number[]; findings: Finding[] }[]> {
  const out: { picks: number[]; findings: Finding[] }[] = [];
  let prefix: number[] | null = [];
  while (prefix && out.length < limit) {
    const picks: number[] = [];
    const counts: number[] = [];
    const p: number[] = prefix;
    const policy: ChoicePolicy = {
      name: "dfs",
      pick(point) {
        if (point.kind !== "cache") {
          return 0;
        }
        const pick = picks.length < p.length ? (p[picks.length] ?? 0) : 0;
        picks.push(pick);
        counts.push(point.count);
        return pick;
      },
    };
    const findings = await run(policy);
    out.push({ picks: picks.slice(), findings });
    prefix = null;
    for (let i = picks.length - 1; i >= 0; i--) {
      if ((picks[i] ?? 0) + 1 < (counts[i] ?? 0)) {
        prefix = [...picks.slice(0, i), (picks[i] ?? 0) + 1];
        break;
      }
    }
  }
  return out;
}

/** The kinds of a list of findings. */
export function kinds(findings: readonly Finding[]): string[] {
  return findings.map((f) => f.kind);
}
