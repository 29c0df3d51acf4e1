/**
 * Kernel version profiles. A scenario names the kernel it runs on; every behaviour the kernel changed
 * over time is selected by comparing against that version.
 *
 * **Kernel:** `LINUX_VERSION_CODE` / `KERNEL_VERSION(a, b, c)` in include/generated/uapi/linux/version.h.
 *
 * @module
 */
import { KernelError } from "./errno";

/** One known kernel release that dmasim can run as. **Kernel:** a tagged release. */
export interface KernelProfile {
  /** The name used in scenarios and on the command line: `"6.12"`, `"latest"`. */
  readonly name: string;
  /** `[major, minor]` used for ordering; `latest` sorts after every numbered release. */
  readonly number: readonly [number, number];
  /** One line: what this release changed for DMA buffer sharing. */
  readonly summary: string;
}

/**
 * The kernel profiles dmasim knows, oldest first. `latest` (current mainline, 2026) is the default.
 *
 * **Kernel:** the releases whose behaviour kernel-notes.md tags.
 */
export const KERNEL_PROFILES: readonly KernelProfile[] = [
  {
    name: "4.14",
    number: [4, 14],
    summary: "legacy ION; dmabuf->lock; reservation objects with exclusive/shared fences",
  },
  {
    name: "4.19",
    number: [4, 19],
    summary: "legacy ION (4.12+ uapi); the core caches no sg tables",
  },
  {
    name: "5.4",
    number: [5, 4],
    summary: "cache_sgt_mapping (5.2+); legacy ION; no dma-heaps yet",
  },
  {
    name: "5.10",
    number: [5, 10],
    summary: "dynamic dma-buf and dma-heaps (5.6+); the last release with ION",
  },
  {
    name: "5.15",
    number: [5, 15],
    summary: "ION removed (5.11); swiotlb still skips the copy-in for FROM_DEVICE",
  },
  {
    name: "6.1",
    number: [6, 1],
    summary: "dma_resv usage levels (5.19); swiotlb copies in for every direction (5.17)",
  },
  {
    name: "6.6",
    number: [6, 6],
    summary: "the reservation lock for every importer and _unlocked variants (6.2+)",
  },
  {
    name: "6.12",
    number: [6, 12],
    summary: "reference baseline (Android GKI 6.12): sg-table caching still present",
  },
  {
    name: "6.15",
    number: [6, 15],
    summary: "the last release with sg-table caching (cache_sgt_mapping, mapping at attach)",
  },
  {
    name: "6.16",
    number: [6, 16],
    summary: "sg-table caching removed: nothing is mapped at attach, nothing cached",
  },
  {
    name: "latest",
    number: [99, 0],
    summary: "current mainline (2026): dma_buf_invalidate_mappings, copy-only DMABUF_DEBUG",
  },
];

const BY_NAME = new Map(KERNEL_PROFILES.map((p) => [p.name, p]));

function parseVersion(v: string): readonly [number, number] {
  const profile = BY_NAME.get(v);
  if (profile) {
    return profile.number;
  }
  const m = /^(\d+)\.(\d+)$/.exec(v);
  if (!m) {
    throw new KernelError(
      "EINVAL",
      `"${v}" is not a kernel version (expected MAJOR.MINOR or "latest")`,
    );
  }
  return [Number(m[1]), Number(m[2])];
}

function compare(a: readonly [number, number], b: readonly [number, number]): number {
  return a[0] - b[0] || a[1] - b[1];
}

/**
 * Order two versions (`"5.10"` after `"5.9"`, `"latest"` after every numbered one): negative,
 * zero or positive. For era tables only: code asks an era entry, never a version.
 *
 * **Kernel:** comparing two `KERNEL_VERSION()` codes.
 *
 * **Locking:** none (pure).
 *
 * @throws {@link KernelError} `EINVAL` for a string that is not a version
 */
export function compareVersions(a: string, b: string): number {
  return compare(parseVersion(a), parseVersion(b));
}

/**
 * The version a kernel runs as, with the comparisons that select era-dependent behaviour.
 *
 * **Kernel:** `LINUX_VERSION_CODE >= KERNEL_VERSION(a, b, 0)`.
 *
 * **Locking:** none (immutable).
 */
export class KernelVersion {
  readonly name: string;
  readonly number: readonly [number, number];

  /**
   * @param name - a name from {@link KERNEL_PROFILES}
   * @throws {@link KernelError} `EINVAL` for a version dmasim has no profile for
   */
  constructor(name: string) {
    const profile = BY_NAME.get(name);
    if (!profile) {
      throw new KernelError(
        "EINVAL",
        `unknown kernel version "${name}" (known: ${KERNEL_PROFILES.map((p) => p.name).join(", ")})`,
      );
    }
    this.name = profile.name;
    this.number = profile.number;
  }

  /** Whether this kernel is release `v` or newer (`v` may be any MAJOR.MINOR, e.g. `"5.17"`). */
  since(v: string): boolean {
    return compare(this.number, parseVersion(v)) >= 0;
  }

  /** Whether this kernel is older than release `v`. */
  before(v: string): boolean {
    return !this.since(v);
  }

  /** Whether `from <= this < until` (either bound may be omitted with `undefined`). */
  between(from: string | undefined, until: string | undefined): boolean {
    return (from === undefined || this.since(from)) && (until === undefined || this.before(until));
  }

  toString(): string {
    return this.name;
  }
}

/** The default kernel version of a new {@link Kernel}: `latest`. */
export const DEFAULT_KERNEL_VERSION = "latest";
