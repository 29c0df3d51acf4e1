/**
 * Findings: every problem the simulator detects, with a stable kind, where it happened and why.
 *
 * **Kernel:** what the kernel would print as a splat (lockdep, WARN, BUG, DMA-API debug, KASAN), or
 * what a perfectly coherent machine would disagree with.
 *
 * @module
 */

/** The kinds of finding (DESIGN.md "Findings"). Stable: tests and scenario files name them. */
export const FINDING_KINDS = [
  "stale-read",
  "clobbered-write",
  "iommu-fault",
  "dma-range",
  "dma-api",
  "lockdep",
  "deadlock",
  "use-after-free",
  "warn",
  "bug",
  "leak",
  "expectation",
] as const;

/** One of {@link FINDING_KINDS}. */
export type FindingKind = (typeof FINDING_KINDS)[number];

/** A problem the simulator found. */
export interface Finding {
  readonly kind: FindingKind;
  /**
   * A finer, stable code within the kind, e.g. `"circular-dependency"` for a lockdep finding or
   * `"unmap-wrong-size"` for a DMA-API one.
   */
  readonly code: string;
  /** One line, in the kernel's wording where the kernel prints one. */
  readonly summary: string;
  /** The scenario step during which it happened (the kernel's `step` counter). */
  readonly step: number;
  /** The name of the thread that was running. */
  readonly thread: string;
  /** The simulated time (ns). */
  readonly ns: number;
  /** The event sequence number: orders findings with the trace. */
  readonly seq: number;
  /** Structured details: addresses, bytes, the line's history, the lock chains… */
  readonly details: Readonly<Record<string, unknown>>;
}

/** What a layer supplies to report a finding; the kernel adds step, thread, time and sequence. */
export interface FindingInput {
  readonly kind: FindingKind;
  readonly code: string;
  readonly summary: string;
  readonly details?: Readonly<Record<string, unknown>>;
}

/**
 * Whether a string is a finding kind.
 *
 * **Kernel:** none. **Locking:** none.
 */
export function isFindingKind(s: string): s is FindingKind {
  return (FINDING_KINDS as readonly string[]).includes(s);
}
