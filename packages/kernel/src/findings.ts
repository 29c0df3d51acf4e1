/**
 * Findings: every problem the simulator detects, with a stable kind, where it happened and why.
 *
 * **Kernel:** what the kernel would print as a splat (lockdep, WARN, BUG, DMA-API debug, KASAN), or
 * what a perfectly coherent machine would disagree with.
 *
 * @module
 */
import type { LockChainLink } from "./lockdep";

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

/** What every finding's details may carry. */
export type FindingDetailsBase = {
  /** The splat as the kernel prints it, when it says more than the summary. */
  readonly text?: string;
  /**
   * What would have prevented it, set where the finding is raised: the specific call, direction
   * and range where the raiser knows them. Reports fall back to a hint per kind without it.
   */
  readonly hint?: string | undefined;
};

/** Who last wrote a byte (in the checker's ideal memory). */
export interface FindingWriter {
  /** `cpu:<thread>`, `dev:<name>`, … */
  readonly agent: string;
  readonly step: number;
}

/** One event in a physical cache line's history (the hardware layer's `LineEvent`). */
export interface FindingLineEvent {
  readonly seq: number;
  readonly step: number;
  /** `fill`, `write`, `clean`, `invalidate`, `evict`, `snoop`, `dma-read`, `bounce-in`, … */
  readonly kind: string;
  readonly agent: string;
  /** First physical byte concerned. */
  readonly pa: number;
  readonly len: number;
  readonly note?: string;
  /** The address the agent used, when it was not the physical one (a DMA address). */
  readonly addr?: number;
}

/** A mapping dma-debug tracks, as its findings carry it. */
export interface FindingDmaMapping {
  /** `single`, `page`, `sg`, `coherent`, … */
  readonly type: string;
  readonly devAddr: number;
  readonly size: number;
  /** `DMA_TO_DEVICE`, … */
  readonly direction: string;
  readonly step: number;
  readonly thread: string;
}

/** `stale-read`: an agent read bytes that differ from the ideal memory. */
export type StaleReadDetails = FindingDetailsBase & {
  readonly agent: string;
  /** The address the agent used, in `space`. */
  readonly address: number;
  readonly space: string;
  /** The physical address read (a bounce slot when `chargedTo` is set). */
  readonly phys: number;
  /** The original page's address when the read went through a swiotlb slot. */
  readonly chargedTo: number | undefined;
  readonly bytes: number;
  readonly lines: number;
  /** The first stale line. */
  readonly line: number;
  readonly lineOffset: number;
  readonly expected: string;
  readonly seen: string;
  readonly lastWriter: FindingWriter;
  readonly history: readonly FindingLineEvent[];
};

/** `clobbered-write`: a write-back, bounce copy or eviction put older bytes over newer ones. */
export type ClobberedWriteDetails = FindingDetailsBase & {
  readonly agent: string;
  /** What wrote: `eviction`, `dcache_clean_poc`, `swiotlb bounce from …`. */
  readonly cause: string;
  readonly phys: number;
  readonly bytes: number;
  readonly line: number;
  readonly expected: string;
  readonly written: string;
  readonly memoryBefore: string;
  readonly lastWriter: FindingWriter;
  readonly history: readonly FindingLineEvent[];
  /** A cache write-back: who dirtied the line, and through which alias. */
  readonly dirtiedBy?: FindingWriter;
  readonly alias?: string | undefined;
  /** A bounce copy: the slot it came from, and the device it was for. */
  readonly bounce?: number;
  readonly device?: string;
};

/** `iommu-fault`: a device touched an unmapped IOVA or wrote a read-only mapping. */
export type IommuFaultDetails = FindingDetailsBase & {
  readonly device: string;
  readonly domain: number;
  readonly iova: number;
  readonly len: number;
  readonly write: boolean;
  /** `translation` or `permission`. */
  readonly reason: string;
  /** The domain's fault handler handled it. */
  readonly handled: boolean;
};

/** `dma-range`: a device address beyond the device's DMA mask or outside any memory. */
export type DmaRangeDetails = FindingDetailsBase & {
  readonly device: string;
  readonly dma: number;
  readonly len: number;
  readonly write: boolean;
  readonly mask: number;
  readonly busDmaLimit: number;
};

/** `dma-api`: a DMA-API debug rule broken (the code names the rule). */
export type DmaApiDetails = FindingDetailsBase & {
  readonly device: string;
  /** dma-debug printed it (it stops printing after its error limit). */
  readonly printed?: boolean;
  /** The mapping the rule concerns, when dma-debug tracks one. */
  readonly mapping?: FindingDmaMapping;
  /** The dma-buf concerned (dma-buf's own checks). */
  readonly ino?: number;
};

/** `lockdep`: which fields are set depends on the code (the splat is in `text`). */
export type LockdepDetails = FindingDetailsBase & {
  readonly lock?: string;
  readonly cls?: string;
  /** The lock held (`circular-dependency`), or every lock held (`held-at-exit`, `sleep-in-atomic`). */
  readonly held?: string | readonly string[];
  /** `circular-dependency`: the existing chain and the new one; `recursive-locking`: both takes. */
  readonly chains?: readonly (readonly LockChainLink[])[];
  /** `nest-lock-not-held`: the outer lock that was not held. */
  readonly nestLock?: string;
  /** `sleep-in-atomic`: where it slept, and the atomic state. */
  readonly site?: string;
  readonly preemptCount?: number;
  readonly irqsDisabled?: boolean;
  readonly rcuReadDepth?: number;
};

/** `deadlock`: every live thread is blocked. */
export type DeadlockDetails = FindingDetailsBase & {
  readonly threads: readonly {
    readonly thread: string;
    readonly id: number;
    readonly waitingFor: string | null;
  }[];
};

/** `use-after-free`: an object, a page or a mapping used after it was freed (per code). */
export type UseAfterFreeDetails = FindingDetailsBase & {
  readonly device?: string;
  readonly ino?: number;
  /** A fence: context and seqno. */
  readonly context?: number;
  readonly seqno?: number;
  /** A DMA access of a free page. */
  readonly phys?: number;
  readonly dma?: number;
  readonly write?: boolean;
  /** KASAN in a fault handler. */
  readonly pgoff?: number;
  readonly pagecount?: number;
  readonly pfn?: number;
  readonly address?: number;
  /** A refcount's object. */
  readonly object?: string;
  /** The kernel function that used the freed object. */
  readonly function?: string;
  /** A dma-buf: its exporter and the step that released it. */
  readonly exporter?: string;
  readonly releasedAt?: number;
  /** An sg entry: the step that freed its table. */
  readonly freedAtStep?: number;
};

/** `warn` / `bug`: where (`site`), and whatever the caller of `WARN_ON` / `BUG_ON` adds. */
export type WarnDetails = FindingDetailsBase & {
  readonly site?: string;
  readonly [context: string]: unknown;
};

/** `leak`: what is still held at the end of a run (per code). */
export type LeakDetails = FindingDetailsBase & {
  readonly device?: string;
  /** A dma-buf: its inode number, exporter, size and references or vmaps left. */
  readonly ino?: number;
  readonly expName?: string;
  readonly size?: number;
  readonly refs?: number;
  readonly vmaps?: number;
  /** An attachment's mapping: its direction and the step that mapped it. */
  readonly dir?: number;
  readonly step?: number;
  readonly detached?: boolean;
  /** dma-debug's mappings still held by a device. */
  readonly mappings?: readonly FindingDmaMapping[];
  /** An fd still open. */
  readonly fd?: number;
  /** A GPU's job or buffer object (drivers): the GPU, the job's seqno, the step that released it. */
  readonly gpu?: string;
  readonly seqno?: number;
  readonly released?: number;
  /** Handles still held on a BO. */
  readonly handles?: number;
  /** The unsignaled fences it waits for, and what a pending job still holds. */
  readonly waits?: readonly string[];
  readonly holds?: readonly string[];
};

/** The details of each kind of finding. */
export interface FindingDetailsByKind {
  readonly "stale-read": StaleReadDetails;
  readonly "clobbered-write": ClobberedWriteDetails;
  readonly "iommu-fault": IommuFaultDetails;
  readonly "dma-range": DmaRangeDetails;
  readonly "dma-api": DmaApiDetails;
  readonly lockdep: LockdepDetails;
  readonly deadlock: DeadlockDetails;
  readonly "use-after-free": UseAfterFreeDetails;
  readonly warn: WarnDetails;
  readonly bug: WarnDetails;
  readonly leak: LeakDetails;
  readonly expectation: FindingDetailsBase;
}

/** The details of a finding of kind `K` (of any kind by default). */
export type FindingDetails<K extends FindingKind = FindingKind> = FindingDetailsByKind[K];

/** A problem the simulator found, of kind `K`. */
export interface FindingOf<K extends FindingKind> {
  readonly kind: K;
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
  /**
   * Structured details: addresses, bytes, the line's history, the lock chains, the hint… Typed by
   * `kind` (narrow on it); any key reads as `unknown` otherwise, as the JSON report has it.
   */
  readonly details: FindingDetailsByKind[K] & AnyDetails;
}

/** Details read without narrowing on the kind: any key, of unknown type. */
export interface AnyDetails {
  readonly [key: string]: unknown;
}

/** A problem the simulator found: `kind` tells which details it has. */
export type Finding = { readonly [K in FindingKind]: FindingOf<K> }[FindingKind];

/** What a layer supplies to report a finding of kind `K` (`details: {}` when it has none). */
export interface FindingInputOf<K extends FindingKind> {
  readonly kind: K;
  readonly code: string;
  readonly summary: string;
  readonly details: FindingDetailsByKind[K];
}

/** What a layer supplies to report a finding; the kernel adds step, thread, time and sequence. */
export type FindingInput = { readonly [K in FindingKind]: FindingInputOf<K> }[FindingKind];

/**
 * Whether a string is a finding kind.
 *
 * **Kernel:** none. **Locking:** none.
 */
export function isFindingKind(s: string): s is FindingKind {
  return (FINDING_KINDS as readonly string[]).includes(s);
}
