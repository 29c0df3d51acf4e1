/**
 * The harness of the registry-wide operation test: each operation's case is a scenario whose
 * expectations (values, errnos, findings) and `probe` step hold only if the operation did its work.
 */
import type {
  ArgShape,
  ObjectTypes,
  OpContext,
  OpDef,
  ResolvedArgs,
  RunReport,
} from "../../src/index";
import { scenarioLayer } from "../../src/index";

/** The test's own layer: its `probe` operation asserts on the objects a case names. */
export const T = scenarioLayer("test");

/**
 * The `probe` operation of a case: `- probe: { lock: L }` runs `check` on the objects it names
 * (declared with `T.ref`), with the run's context (kernel, processes).
 */
export function probe<S extends ArgShape>(
  args: S,
  check: (a: ResolvedArgs<ObjectTypes, S>, ctx: OpContext) => void,
): OpDef {
  return T.op({
    name: "probe",
    summary: "assert on objects (test only)",
    args,
    run: (ctx, a) => {
      check(a, ctx);
    },
  });
}

/** One operation's case. */
export interface OpCase {
  /** A scenario running the operation; its `expect:` entries hold only if the operation works. */
  readonly yaml: string;
  /** Object assertions, run by the scenario's `- probe:` step. */
  readonly probe?: OpDef;
  /** Assertions on the report. */
  readonly report?: (r: RunReport) => void;
  /** The run must fail (a BUG or an error the case provokes on purpose). */
  readonly fails?: boolean;
}

/** The end of a scenario that must run without any finding. */
export const NO_FINDINGS = `expect:
  findings: none
`;

/** A platform with a non-coherent device `cam` and a coherent `gpu`, no spontaneous cache events. */
export const ARM64 = `platform: { preset: arm64-soc, cache_policy: none }
devices:
  - { name: cam, dma_mask: 64 }
  - { name: gpu, dma_mask: 64, coherent: true }
`;

/** ARM64 with a two-page zeroed allocation `buf` and its linear map `lin`. */
export const PAGES = `${ARM64}setup:
  - alloc_pages: { order: 1, gfp: GFP_KERNEL | __GFP_ZERO }
    as: buf
  - linear_map: buf
    as: lin
`;
