/**
 * Platform descriptions: what a machine is made of (RAM, cache geometry and indexing, device
 * coherency, DMA zones, the swiotlb pool) and the named presets a scenario picks from.
 *
 * **Kernel:** none (hardware: the SoC or board, as firmware and the device tree describe it). The
 * fields correspond to what the kernel reads at boot: `CTR_EL0` (line size), `dma-coherent` /
 * `_CCA` (device coherency), `zone_dma_bits` and `ZONE_DMA32`, the `swiotlb=` and `iommu.strict=`
 * parameters.
 *
 * @module
 */
import { KernelError, PAGE_SIZE } from "@dmasim/kernel";

/** The architecture whose cache-maintenance routines and rules apply. */
export type Arch = "x86-64" | "arm64" | "arm" | "riscv" | "parisc";

/**
 * How the data cache is indexed and tagged. `pipt`: one line per physical line. `vipt`: the page
 * colour of the virtual address takes part in the index, so two virtual aliases of a page with
 * different colours are different lines (with `cacheColours` 1 it behaves as PIPT). `vivt`: every
 * virtual alias (per address space) is its own line.
 */
export type CacheIndexing = "pipt" | "vipt" | "vivt";

/**
 * When the cache evicts or speculatively fetches lines on its own (DESIGN.md: "a cacheable line may
 * be evicted or speculatively fetched at any moment").
 *
 * - `none`: never; no choice point is offered.
 * - `explore`: one choice per speculation point (option 0 nothing, then "evict the candidate
 *   lines", then "prefetch the candidate lines"), weighted by `evict` / `prefetch` for random
 *   policies. The explorer enumerates these; the branching stays at most 3 per point.
 * - `random`: one yes/no choice per candidate line, with the given probabilities.
 *
 * Speculation points: before every device access (lines aliasing the bytes it touches), after every
 * non-coherent device write (dirty lines aliasing them), and at {@link Machine.tick}.
 */
export type CachePolicy =
  | { readonly name: "none" }
  | { readonly name: "explore"; readonly evict?: number; readonly prefetch?: number }
  | { readonly name: "random"; readonly evict: number; readonly prefetch: number };

/**
 * What a coherent device's read that hits a CLEAN CPU line returns (kernel-notes §7.5). The line
 * normally holds what memory holds; the two differ only when memory changed behind the line (a
 * non-coherent device wrote it and nobody invalidated the line).
 *
 * - `memory`: the interconnect reads memory (only dirty lines are snooped for data);
 * - `cache`: the snooped CPU cache supplies the line, clean or dirty;
 * - `choice`: implementation-defined: a choice point (kind `"snoop"`, option 0 memory, 1 the cache)
 *   that `explore` covers, offered for a read that hits a clean line whose bytes differ from memory.
 */
export type SnoopClean = "memory" | "cache" | "choice";

/** Everything that describes one simulated machine. Every field can be overridden. */
export interface PlatformConfig {
  /** Preset name (or a user's own). */
  readonly name: string;
  /** One line for `dmasim list platforms`. */
  readonly description: string;
  readonly arch: Arch;
  /** First physical address of RAM (page-aligned). */
  readonly ramBase: number;
  /** Bytes of RAM (page multiple). Stored sparsely: only written pages cost host memory. */
  readonly ramSize: number;
  readonly cacheIndexing: CacheIndexing;
  /** VIPT only: number of page colours (way size / PAGE_SIZE); 1 means non-aliasing. */
  readonly cacheColours: number;
  /** Cache line size in bytes (power of two, 16..PAGE_SIZE). **Kernel:** `CTR_EL0.DminLine`, `L1_CACHE_BYTES`. */
  readonly lineSize: number;
  /** Capacity in bytes; 0 means unlimited (no capacity evictions). */
  readonly cacheSize: number;
  /** Associativity when `cacheSize` is set (LRU replacement within a set). */
  readonly cacheWays: number;
  /** Whether the CPU speculatively fills lines of cacheable mappings (arm64, armv7, x86). */
  readonly speculativePrefetch: boolean;
  /** Default coherency of devices added without saying (x86: snooped; arm SoCs: not). */
  readonly devicesCoherent: boolean;
  /**
   * Where a coherent device's read that hits a clean CPU line gets its data: see
   * {@link SnoopClean}.
   */
  readonly snoopClean: SnoopClean;
  /** End address of ZONE_DMA (0: no ZONE_DMA). x86: 16 MiB; Raspberry Pi 4: 1 GiB (`zone_dma_bits` = 30). */
  readonly zoneDmaLimit: number;
  /** Whether ZONE_DMA32 (memory below 4 GiB not in ZONE_DMA) exists. */
  readonly zoneDma32: boolean;
  /** Bytes of the default swiotlb pool (0: none). **Kernel:** `IO_TLB_DEFAULT_SIZE`, `swiotlb=`. */
  readonly swiotlbSize: number;
  /**
   * Bytes of the default CMA area (0: none), reserved on first use below the DMA limit.
   * **Kernel:** the `cma=` parameter / `CONFIG_CMA_SIZE_MBYTES` (`dma_contiguous_reserve()`).
   */
  readonly cmaSize: number;
  /** Bounce every mapping (`swiotlb=force`). */
  readonly swiotlbForce: boolean;
  /** IOTLB invalidation of default DMA domains: strict (`IOMMU_DOMAIN_DMA`) or lazy (`IOMMU_DOMAIN_DMA_FQ`). **Kernel:** `iommu.strict=`. */
  readonly iommuStrict: boolean;
  /** A hypervisor upgrades every invalidate to clean+invalidate (arm64 guest with stage 2). */
  readonly invalidateCleans: boolean;
  /** Fraction (0..1) of the boot-fragmented pages that boot kept; the rest are scattered free pages. */
  readonly fragmentation: number;
  /** How many free-list ends the page allocator may choose between (1: always the hot head; 2: head or tail, a choice point). */
  readonly allocChoices: number;
  /** Seed of the boot-time fragmentation (deterministic). */
  readonly seed: number;
  readonly cachePolicy: CachePolicy;
  /** Events of line history kept per physical page (older ones are dropped). */
  readonly historyDepth: number;
  /** Whether the coherency checker runs (ideal memory, stale reads, clobbered writes). */
  readonly checker: boolean;
}

const GiB = 1024 * 1024 * 1024;
const MiB = 1024 * 1024;

const COMMON = {
  cacheSize: 0,
  cmaSize: 16 * 1024 * 1024,
  cacheWays: 16,
  swiotlbForce: false,
  invalidateCleans: false,
  fragmentation: 0.5,
  allocChoices: 2,
  seed: 1,
  cachePolicy: { name: "explore", evict: 0.05, prefetch: 0.05 },
  historyDepth: 64,
  checker: true,
} as const satisfies Partial<PlatformConfig>;

/**
 * The named platforms, each named after what it models. **Kernel:** none (hardware presets; the
 * cache types are what arch/arm/kernel/setup.c `cacheid_init()` reports for each architecture).
 *
 * `snoopClean` per preset (what a coherent device's read that hits a clean CPU line returns):
 * - `x86-64`: `cache`: Intel Data Direct I/O (Xeon E5 and later) makes the CPU cache the source of
 *   device reads that hit it;
 * - `arm64-soc`, `rpi4`: `choice`: ACE and CHI let a snoop that hits a clean line return its data or
 *   not, and implementations differ: Cortex-A53/A57/A72 clusters answer snoop hits with data (TRM,
 *   "Snoop channel properties"), CCI-400/500/550 and CMN interconnects forward it, some system caches
 *   make it configurable (e.g. AMD/Xilinx system cache `C_SNOOP_PASS_READ_ONCE`);
 * - `armv7`: `cache`: the Cortex-A9 MPCore ACP reads coherent data "directly from the relevant
 *   processor" when a CPU holds the line (Cortex-A9 MPCore TRM, 2.4.1 "ACP requests");
 * - `armv6-vipt-aliasing`, `parisc-vivt`: `memory` (no coherent master port models a clean-line
 *   forward there; devices are non-coherent).
 */
export const PLATFORM_PRESETS: Readonly<Record<string, PlatformConfig>> = {
  "x86-64": {
    ...COMMON,
    name: "x86-64",
    description:
      "x86-64 PC: 8 GiB RAM, PIPT 64-byte lines, snooping (coherent) devices, ZONE_DMA 16 MiB + DMA32, 64 MiB swiotlb, lazy IOMMU",
    arch: "x86-64",
    ramBase: 0,
    ramSize: 8 * GiB,
    cacheIndexing: "pipt",
    cacheColours: 1,
    lineSize: 64,
    speculativePrefetch: true,
    devicesCoherent: true,
    snoopClean: "cache",
    zoneDmaLimit: 16 * MiB,
    zoneDma32: true,
    swiotlbSize: 64 * MiB,
    iommuStrict: false,
  },
  "arm64-soc": {
    ...COMMON,
    name: "arm64-soc",
    description:
      "arm64 SoC: 4 GiB RAM at 1 GiB, PIPT 64-byte lines, non-coherent devices, speculative prefetch, 64 MiB swiotlb, strict IOMMU",
    arch: "arm64",
    ramBase: 1 * GiB,
    ramSize: 4 * GiB,
    cacheIndexing: "pipt",
    cacheColours: 1,
    lineSize: 64,
    speculativePrefetch: true,
    devicesCoherent: false,
    snoopClean: "choice",
    zoneDmaLimit: 4 * GiB,
    zoneDma32: false,
    swiotlbSize: 64 * MiB,
    iommuStrict: true,
  },
  rpi4: {
    ...COMMON,
    name: "rpi4",
    description:
      "Raspberry Pi 4: arm64, 4 GiB RAM, ZONE_DMA below 1 GiB (30-bit devices), non-coherent devices, swiotlb below 1 GiB",
    arch: "arm64",
    ramBase: 0,
    ramSize: 4 * GiB,
    cacheIndexing: "pipt",
    cacheColours: 1,
    lineSize: 64,
    speculativePrefetch: true,
    devicesCoherent: false,
    snoopClean: "choice",
    zoneDmaLimit: 1 * GiB,
    zoneDma32: true,
    swiotlbSize: 64 * MiB,
    iommuStrict: true,
  },
  armv7: {
    ...COMMON,
    name: "armv7",
    description:
      "32-bit ARMv7 (Cortex-A9 class): data cache behaving as PIPT, 32-byte lines, 1 GiB RAM at 0x60000000, non-coherent devices (a coherent one reads clean lines from the cache, as the A9 ACP), speculative prefetch, no swiotlb",
    arch: "arm",
    ramBase: 0x6000_0000,
    ramSize: 1 * GiB,
    cacheIndexing: "pipt",
    cacheColours: 1,
    lineSize: 32,
    speculativePrefetch: true,
    devicesCoherent: false,
    snoopClean: "cache",
    zoneDmaLimit: 0,
    zoneDma32: false,
    swiotlbSize: 0,
    iommuStrict: true,
  },
  "armv6-vipt-aliasing": {
    ...COMMON,
    name: "armv6-vipt-aliasing",
    description:
      "32-bit ARMv6 (ARM1136/1176) with an aliasing VIPT data cache (4 colours, 32-byte lines), 1 GiB RAM at 0x60000000, non-coherent devices, no swiotlb",
    arch: "arm",
    ramBase: 0x6000_0000,
    ramSize: 1 * GiB,
    cacheIndexing: "vipt",
    cacheColours: 4,
    lineSize: 32,
    speculativePrefetch: true,
    devicesCoherent: false,
    snoopClean: "memory",
    zoneDmaLimit: 0,
    zoneDma32: false,
    swiotlbSize: 0,
    iommuStrict: true,
  },
  "parisc-vivt": {
    ...COMMON,
    name: "parisc-vivt",
    description:
      "PA-RISC style VIVT data cache (every virtual alias its own line, 64-byte lines), 1 GiB RAM, non-coherent devices, no speculation",
    arch: "parisc",
    ramBase: 0,
    ramSize: 1 * GiB,
    cacheIndexing: "vivt",
    cacheColours: 1,
    lineSize: 64,
    speculativePrefetch: false,
    devicesCoherent: false,
    snoopClean: "memory",
    zoneDmaLimit: 0,
    zoneDma32: false,
    swiotlbSize: 0,
    iommuStrict: true,
  },
};

/** The name of a preset. */
export type PlatformName =
  "x86-64" | "arm64-soc" | "rpi4" | "armv7" | "armv6-vipt-aliasing" | "parisc-vivt";

/**
 * Old preset names still accepted, and the preset each now names. `armv7-vipt` modelled an aliasing
 * VIPT data cache, which is ARMv6 (ARM1136/1176): ARMv7 data caches behave as PIPT (the kernel's
 * `cacheid_init()` reports ARMv7 data caches as "PIPT / VIPT nonaliasing"); the preset is now
 * `armv6-vipt-aliasing`, and `armv7` models ARMv7. Using an old name warns once (at machine
 * creation).
 *
 * **Kernel:** none (hardware presets).
 */
export const PLATFORM_ALIASES: Readonly<Record<string, PlatformName>> = {
  "armv7-vipt": "armv6-vipt-aliasing",
};

/**
 * The presets with a one-line description each, for `dmasim list platforms`.
 *
 * **Kernel:** none (hardware presets).
 *
 * **Locking:** none (pure).
 */
export function listPlatforms(): { name: string; description: string }[] {
  return Object.values(PLATFORM_PRESETS).map((p) => ({ name: p.name, description: p.description }));
}

function isPow2(n: number): boolean {
  return Number.isInteger(n) && n > 0 && (n & (n - 1)) === 0;
}

/**
 * Build a platform from a preset (or a full config) and field-by-field overrides, and validate it.
 *
 * **Kernel:** none (hardware description).
 *
 * **Locking:** none (pure).
 *
 * @throws {@link KernelError} `EINVAL` for an unknown preset or an inconsistent field (line size not
 * a power of two in 16..PAGE_SIZE, RAM not page-aligned, colours not a power of two, capacity not a
 * multiple of ways × line size, a probability outside 0..1, …)
 */
export function resolvePlatform(
  base: string | PlatformConfig,
  overrides: Partial<PlatformConfig> = {},
): PlatformConfig {
  let preset: PlatformConfig | undefined;
  if (typeof base === "string") {
    preset = PLATFORM_PRESETS[PLATFORM_ALIASES[base] ?? base];
    if (!preset) {
      throw new KernelError(
        "EINVAL",
        `unknown platform "${base}" (known: ${Object.keys(PLATFORM_PRESETS).join(", ")})`,
      );
    }
  } else {
    preset = base;
  }
  const c: PlatformConfig = { ...preset, ...overrides };
  const bad = (msg: string): never => {
    throw new KernelError("EINVAL", `platform ${c.name}: ${msg}`);
  };
  if (!isPow2(c.lineSize) || c.lineSize < 16 || c.lineSize > PAGE_SIZE) {
    bad(`lineSize ${c.lineSize} must be a power of two in 16..${PAGE_SIZE}`);
  }
  if (c.ramBase % PAGE_SIZE !== 0 || c.ramBase < 0) {
    bad(`ramBase 0x${c.ramBase.toString(16)} must be page-aligned`);
  }
  if (c.ramSize % PAGE_SIZE !== 0 || c.ramSize <= 0) {
    bad(`ramSize ${c.ramSize} must be a positive multiple of ${PAGE_SIZE}`);
  }
  if (c.ramBase + c.ramSize > 2 ** 42) {
    bad("RAM must end below 4 TiB (2^42)");
  }
  if (!isPow2(c.cacheColours) || c.cacheColours > 64) {
    bad(`cacheColours ${c.cacheColours} must be a power of two <= 64`);
  }
  if (c.cacheIndexing !== "vipt" && c.cacheColours !== 1) {
    bad("cacheColours applies to vipt only (use 1)");
  }
  if (c.cacheSize !== 0) {
    if (!isPow2(c.cacheWays) || c.cacheSize % (c.cacheWays * c.lineSize) !== 0) {
      bad(`cacheSize ${c.cacheSize} must be a multiple of cacheWays × lineSize`);
    }
    if (!isPow2(c.cacheSize / (c.cacheWays * c.lineSize))) {
      bad("cacheSize / (cacheWays × lineSize) (the number of sets) must be a power of two");
    }
  }
  if (c.swiotlbSize < 0 || c.swiotlbSize % 2048 !== 0) {
    bad(`swiotlbSize ${c.swiotlbSize} must be a multiple of IO_TLB_SIZE (2048)`);
  }
  if (c.cmaSize < 0 || c.cmaSize % (4 * 1024 * 1024) !== 0) {
    bad(`cmaSize ${c.cmaSize} must be a multiple of 4 MiB (the CMA area alignment)`);
  }
  if (c.zoneDmaLimit < 0 || c.zoneDmaLimit % PAGE_SIZE !== 0) {
    bad("zoneDmaLimit must be page-aligned");
  }
  if (!(c.fragmentation >= 0 && c.fragmentation <= 1)) {
    bad("fragmentation must be in 0..1");
  }
  if (c.allocChoices !== 1 && c.allocChoices !== 2) {
    bad("allocChoices must be 1 or 2");
  }
  if (!Number.isInteger(c.historyDepth) || c.historyDepth < 1) {
    bad("historyDepth must be a positive integer");
  }
  if (!["memory", "cache", "choice"].includes(c.snoopClean)) {
    bad(`snoopClean "${String(c.snoopClean)}" must be memory, cache or choice`);
  }
  const p = c.cachePolicy;
  const probs = p.name === "none" ? [] : [p.evict ?? 0, p.prefetch ?? 0];
  if (probs.some((x) => !(x >= 0 && x <= 1)) || probs[0]! + (probs[1] ?? 0) > 1) {
    bad("cachePolicy probabilities must be in 0..1 and sum to at most 1");
  }
  return c;
}
