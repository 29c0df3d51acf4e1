/**
 * The simulated machine of one kernel: RAM, the page allocator, the data cache, CPU mappings,
 * devices, IOMMU domains, the swiotlb pool and the coherency checker, built from a platform
 * description and stored in the kernel (`kernel.subsys`).
 *
 * **Kernel:** none (hardware: the board the kernel boots on); boot-time setup mirrors
 * `mem_init()` / `swiotlb_init()`.
 *
 * @module
 */
import {
  KERN_WARNING,
  KernelError,
  PAGE_SIZE,
  defineSubsys,
  digestValue,
  hashText,
  type Kernel,
  type KernelModule,
  type Mm,
} from "@dmasim/kernel";
import { DataCache } from "./cache";
import { Checker } from "./checker";
import type { Device } from "./device";
import { Hasher } from "./internal/hash";
import type { IommuDomain } from "./iommu";
import { PageAllocator } from "./page_alloc";
import { PhysMemory } from "./physmem";
import { PLATFORM_ALIASES, resolvePlatform, type PlatformConfig } from "./platform";
import { tickPoint } from "./speculation";
import { IO_TLB_SIZE, IoTlbPool } from "./swiotlb";
import { VmallocSpace } from "./vmalloc";

/**
 * The hardware layer's module (it defines no kernel options: the machine is described by its
 * platform).
 *
 * **Kernel:** none.
 */
export const HARDWARE_MODULE: KernelModule = { name: "@dmasim/hardware", options: [] };

/** The hardware layer's per-kernel state: the machine, digested by {@link Machine.stateDigest}. */
class HardwareState {
  machine: Machine | null = null;

  /** Used by `kernel.stateDigest()` instead of walking the machine. */
  stateDigest(): string {
    return this.machine ? this.machine.stateDigest() : "no machine";
  }
}

const MACHINE = defineSubsys<HardwareState>("hardware", () => new HardwareState(), HARDWARE_MODULE);

/** Host memory held by the simulator's stores, in bytes. */
export interface MachineFootprint {
  readonly memory: number;
  readonly ideal: number;
  readonly cache: number;
  readonly total: number;
  /** Simulated pages that hold host memory. */
  readonly touchedPages: number;
}

/**
 * One simulated machine.
 *
 * **Kernel:** none (hardware).
 *
 * **Locking:** none (the simulator runs one thread at a time; hardware state changes only inside
 * synchronous calls).
 */
export class Machine {
  readonly memory: PhysMemory;
  readonly checker: Checker;
  readonly cache: DataCache;
  readonly pageAlloc: PageAllocator;
  /** The default swiotlb pool, or null. **Kernel:** `io_tlb_default_mem`. */
  readonly swiotlb: IoTlbPool | null;
  readonly devices = new Map<string, Device>();
  readonly iommuDomains: IommuDomain[] = [];
  /** @internal */
  readonly vmalloc = new VmallocSpace();
  /** @internal cache address-space ids of user address spaces */
  readonly asids = new Map<Mm, number>();
  /** The platform config's hash (it never changes). */
  private readonly configHash: string;

  constructor(
    readonly kernel: Kernel,
    readonly config: PlatformConfig,
  ) {
    this.memory = new PhysMemory(config.ramBase, config.ramSize);
    this.checker = new Checker(
      kernel,
      this.memory,
      config.lineSize,
      config.historyDepth,
      config.checker,
    );
    this.cache = new DataCache(this.memory, this.checker, config);
    this.swiotlb = this.placeSwiotlb();
    const pool = this.swiotlb;
    if (pool) {
      this.checker.learnAliases((pa) => pool.origAddr(pa));
    }
    const reserved = this.swiotlb ? [{ start: this.swiotlb.start, end: this.swiotlb.end }] : [];
    this.pageAlloc = new PageAllocator(kernel, config, reserved);
    this.configHash = hashText(digestValue(config));
  }

  /**
   * A 64-bit hash (16 hex digits) of the machine state that decides the rest of a run, which the
   * kernel's `stateDigest()` uses instead of walking the machine: the platform config, RAM's
   * contents, the checker's ideal memory and whether it is on, the cache (lines, states, data,
   * alias order, LRU order, the recently dropped lines a speculating policy may refill), the page
   * allocator (a running hash of its events), vmap areas, devices, IOMMU domains (page tables,
   * IOTLB), the swiotlb slots, and user address-space ids. Its cost follows what the run touched
   * (pages written since the last digest, cached lines, live mappings, devices), never the size of
   * RAM or of the pool. Left out: line histories, byte writers and other text of findings, host
   * storage layout.
   *
   * **Kernel:** none (a model-checking aid).
   *
   * **Locking:** none.
   */
  stateDigest(): string {
    const h = new Hasher().str(this.configHash);
    h.pair(this.memory.contentHash());
    this.checker.digestInto(h);
    const policy = this.config.cachePolicy;
    this.cache.digestInto(h, policy.name !== "none" && this.config.speculativePrefetch);
    h.pair(this.pageAlloc.eventHash);
    this.vmalloc.digestInto(h);
    h.word(this.devices.size);
    for (const d of this.devices.values()) {
      d.digestInto(h);
    }
    h.word(this.iommuDomains.length);
    for (const d of this.iommuDomains) {
      d.digestInto(h);
    }
    if (this.swiotlb) {
      this.swiotlb.digestInto(h.word(1));
    }
    this.digestAsids(h);
    return h.hex();
  }

  /** User address spaces by the pid of the process that owns them (or their contents). */
  private digestAsids(h: Hasher): void {
    h.word(this.asids.size);
    if (this.asids.size === 0) {
      return;
    }
    const procs = this.kernel.vfs.processes;
    for (const [mm, id] of this.asids) {
      const owner = procs.find((p) => p.mm === mm);
      h.word(id).str(owner ? `pid${owner.pid}` : digestValue(mm));
    }
  }

  /** How a state digest names the machine when another layer holds it (never walked into). */
  digestTag(): string {
    return "HW";
  }

  private placeSwiotlb(): IoTlbPool | null {
    const c = this.config;
    if (c.swiotlbSize === 0) {
      return null;
    }
    const low =
      c.arch === "x86-64" || c.zoneDmaLimit === 0 ? 2 ** 32 : Math.min(c.zoneDmaLimit, 2 ** 32);
    const top = Math.min(low, c.ramBase + c.ramSize);
    let size = c.swiotlbSize;
    while (size >= 1024 * 1024 || size === c.swiotlbSize) {
      const start = Math.floor((top - size) / PAGE_SIZE) * PAGE_SIZE;
      if (start >= c.ramBase) {
        return new IoTlbPool(start, size / IO_TLB_SIZE, c.swiotlbForce);
      }
      size /= 2;
    }
    return null;
  }

  /**
   * A point between operations where the cache may evict dirty lines or refill recently
   * invalidated ones (a choice point under the platform's cache policy). Upper layers call it
   * between the operations of a scenario.
   *
   * **Kernel:** none (hardware: time passing).
   */
  tick(): void {
    tickPoint(this);
  }

  /** Host memory the simulator holds for this machine. */
  footprint(): MachineFootprint {
    const memory = this.memory.hostBytes;
    const ideal = this.checker.hostBytes;
    const cache = this.cache.hostBytes;
    return {
      memory,
      ideal,
      cache,
      total: memory + ideal + cache,
      touchedPages: this.memory.touchedPages,
    };
  }
}

/**
 * Build the machine of `kernel` from a preset name (or a full platform config) and field-by-field
 * overrides, and store it in the kernel.
 *
 * **Kernel:** none (hardware bring-up; what `setup_arch()` / `mem_init()` discover).
 *
 * **Locking:** none (call once, before anything else uses the hardware).
 *
 * @throws {@link KernelError} `EEXIST` when the kernel already has a machine, `EINVAL` for an unknown
 * preset or an invalid field
 */
export function createMachine(
  kernel: Kernel,
  platform: string | PlatformConfig = "x86-64",
  overrides: Partial<PlatformConfig> = {},
): Machine {
  const state = kernel.subsys(MACHINE);
  if (state.machine) {
    throw new KernelError(
      "EEXIST",
      `this kernel already has a machine (${state.machine.config.name})`,
    );
  }
  const m = new Machine(kernel, resolvePlatform(platform, overrides));
  state.machine = m;
  const renamed = typeof platform === "string" ? PLATFORM_ALIASES[platform] : undefined;
  if (renamed) {
    kernel.printk(
      KERN_WARNING,
      `dmasim: platform "${platform as string}" is now "${renamed}" (it models an aliasing VIPT data cache, which is ARMv6; use "armv7" for ARMv7, whose data cache behaves as PIPT)`,
    );
  }
  return m;
}

/**
 * The machine of `kernel`.
 *
 * **Kernel:** none.
 *
 * **Locking:** none.
 *
 * @throws {@link KernelError} `ENODEV` when {@link createMachine} was not called
 */
export function getMachine(kernel: Kernel): Machine {
  const m = kernel.subsys(MACHINE).machine;
  if (!m) {
    throw new KernelError("ENODEV", "no machine: call createMachine(kernel, platform) first");
  }
  return m;
}
