/**
 * The per-kernel state of layer 3 and its kernel options: fence context numbers, the stub fence,
 * the lockdep maps of the fence signalling annotations and of memory reclaim, the irq_work queue
 * that containers use to signal themselves, and the ww_class stamp counters.
 *
 * **Kernel:** the `static` state of drivers/dma-buf/dma-fence.c (`dma_fence_context_counter`,
 * `dma_fence_stub`, `dma_fence_lockdep_map`), mm/page_alloc.c (`__fs_reclaim_map`),
 * kernel/irq_work.c, and the `stamp` counter inside each `struct ww_class`.
 *
 * @module
 */
import {
  defineEras,
  defineOption,
  defineSubsys,
  type Kernel,
  type KernelModule,
  type LockdepMap,
  type Spinlock,
} from "@dmasim/kernel";
import type { DmaFence } from "./dma-fence";

/**
 * Layer 3's history: each behaviour of dma-fence / dma-resv that changed over time, named once with
 * its boundary and the commit or release that drew it. Ask an entry, never the version.
 *
 * **Kernel:** drivers/dma-buf/dma-fence.c and dma-resv.c as of each release.
 *
 * @internal
 */
export const DMA_RESV_ERAS = defineEras("dma-resv", {
  reserveZeroWarns: {
    since: "6.11",
    summary: "dma_resv_reserve_fences(obj, 0) WARNs and fails with EINVAL (returned 0 before)",
    citation:
      'Christian König, "dma-buf: add a warning when drv try to reserve 0 fence slots" (posted 2024-05-29, drm-misc-next for 6.11, v6.11)',
  },
  fenceInlineLock: {
    since: "latest",
    summary: "a fence may be initialised without a spinlock (it uses its inline lock)",
    citation: "dma-fence inline-lock rework, current mainline (2026)",
  },
  signalDropsOps: {
    since: "latest",
    summary: "signalling a fence whose ops have neither release nor wait drops its ops pointer",
    citation: "dma-fence ops-detach at signal, current mainline (2026)",
  },
});

/**
 * The kernel options this package defines.
 *
 * - `CONFIG_DEBUG_WW_MUTEX_SLOWPATH` (default off): `ww_mutex_lock()` with an acquire context that
 *   already holds a lock may return a spurious `-EDEADLK` after really taking and then dropping the
 *   lock. The kernel injects when a per-context countdown expires (the interval grows 1, 3, 10,
 *   35, …); here each expiry is a `"ww-inject"` choice point (option 0: no injection), so a random
 *   policy or the explorer can drive every caller through its back-off path.
 *
 * The ww_mutex debug checks and the debug-only reset of unused fence reservations at
 * `dma_resv_unlock()` follow the core's `CONFIG_DEBUG_MUTEXES` (default on).
 *
 * **Kernel:** lib/Kconfig.debug.
 */
export const DMA_RESV_MODULE: KernelModule = {
  name: "@dmasim/dma-resv",
  eras: Object.values(DMA_RESV_ERAS),
  options: [
    defineOption({
      name: "CONFIG_DEBUG_WW_MUTEX_SLOWPATH",
      kind: "config",
      owner: "@dmasim/dma-resv",
      default: false,
      description: "ww_mutex: inject spurious -EDEADLK (a choice point) to exercise back-off paths",
    }),
  ],
};

/** @internal per-kernel state of this layer */
export interface DmaResvState {
  /** Next fence context number (`dma_fence_context_counter`, starts at 1). */
  nextContext: number;
  /** The global signaled stub fence (created on first use). */
  stub: DmaFence | null;
  /** `dma_fence_stub_lock` (created on first use). */
  stubLock: Spinlock | null;
  /** `dma_fence_lockdep_map` ("dma_fence_map"). */
  readonly fenceMap: LockdepMap;
  /** `__fs_reclaim_map` ("fs_reclaim"). */
  readonly fsReclaimMap: LockdepMap;
  /** `__mmu_notifier_invalidate_range_start_map`. */
  readonly mmuNotifierMap: LockdepMap;
  /** Pending irq_work items. */
  readonly irqWork: (() => void)[];
  irqWorkRunning: boolean;
  /** Per ww_class stamp counters. */
  readonly stamps: Map<string, number>;
}

/** Lock class names used by the boot-time priming of `dma_resv_lockdep()`. */
const PRIMED_ORDER = [
  "mmap_lock",
  "reservation_ww_class_acquire",
  "reservation_ww_class_mutex",
  "fs_reclaim",
  "&mapping->i_mmap_rwsem",
  "mmu_notifier_invalidate_range_start",
  "dma_fence_map",
] as const;

function create(kernel: Kernel): DmaResvState {
  const state: DmaResvState = {
    nextContext: 1,
    stub: null,
    stubLock: null,
    fenceMap: kernel.lockdep.map("dma_fence_map", "dma_fence_map"),
    fsReclaimMap: kernel.lockdep.map("fs_reclaim", "fs_reclaim"),
    mmuNotifierMap: kernel.lockdep.map(
      "mmu_notifier_invalidate_range_start",
      "mmu_notifier_invalidate_range_start",
    ),
    irqWork: [],
    irqWorkRunning: false,
    stamps: new Map(),
  };
  // dma_resv_lockdep() is a subsys_initcall: the order is known before any driver runs.
  kernel.lockdep.prime(
    PRIMED_ORDER.map((name) => kernel.lockdep.lockClass(name)),
    "primed at boot by dma_resv_lockdep()",
  );
  return state;
}

/** @internal */
export const DMA_RESV_SUBSYS = defineSubsys("@dmasim/dma-resv", create, DMA_RESV_MODULE);

/** @internal */
export function resvState(kernel: Kernel): DmaResvState {
  return kernel.subsys(DMA_RESV_SUBSYS);
}

/**
 * Queue `fn` to run soon, outside the current spinlock, with interrupts enabled.
 *
 * @internal **Kernel:** `irq_work_queue()`: the work runs from the interrupt that follows; here it
 * runs when the outermost fence operation of the running thread has dropped its locks.
 */
export function irqWorkQueue(kernel: Kernel, fn: () => void): void {
  resvState(kernel).irqWork.push(fn);
}

/**
 * Run queued irq_work now if the running thread is not in atomic context.
 *
 * @internal **Kernel:** the irq_work interrupt.
 */
export function irqWorkRun(kernel: Kernel): void {
  const state = resvState(kernel);
  if (state.irqWorkRunning || state.irqWork.length === 0) {
    return;
  }
  const t = kernel.sched.current;
  if (t.irqsDisabled || t.preemptCount > 0) {
    return;
  }
  state.irqWorkRunning = true;
  try {
    for (let fn = state.irqWork.shift(); fn; fn = state.irqWork.shift()) {
      fn();
    }
  } finally {
    state.irqWorkRunning = false;
  }
}
