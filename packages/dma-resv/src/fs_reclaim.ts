/**
 * The `fs_reclaim` lockdep annotation: a pseudo-lock "taken" by every allocation that may enter
 * direct reclaim (GFP_KERNEL). Reclaim may wait for fences (shrinkers) and MMU notifiers may wait
 * for fences, so lockdep learns at boot that `fs_reclaim` comes before `dma_fence_map`
 * (see `dma_resv_lockdep()`); an allocation inside a fence-signalling section is then reported as
 * a circular dependency.
 *
 * **Kernel:** mm/page_alloc.c (`fs_reclaim_acquire()`, `fs_reclaim_release()`), and `might_alloc()`
 * in include/linux/sched/mm.h.
 *
 * @module
 */
import { might_sleep, type Kernel } from "@dmasim/kernel";
import { resvState } from "./module";

/**
 * Enter the reclaim annotation, as an allocation that may reclaim does (GFP_KERNEL). Also teaches
 * lockdep that MMU notifiers may run from here.
 *
 * **Kernel:** `fs_reclaim_acquire(GFP_KERNEL)`.
 *
 * **Locking:** pairs with {@link fsReclaimRelease}; no sleeping of its own.
 */
export function fsReclaimAcquire(kernel: Kernel): void {
  const s = resvState(kernel);
  kernel.lockdep.acquire(s.fsReclaimMap);
  kernel.lockdep.mightLock(s.mmuNotifierMap);
}

/**
 * Leave the reclaim annotation.
 *
 * **Kernel:** `fs_reclaim_release(GFP_KERNEL)`.
 *
 * **Locking:** pairs with {@link fsReclaimAcquire}.
 */
export function fsReclaimRelease(kernel: Kernel): void {
  kernel.lockdep.release(resvState(kernel).fsReclaimMap);
}

/**
 * Annotate a GFP_KERNEL allocation: it may sleep and it may enter reclaim. Call it where a
 * simulated driver allocates memory, so that allocating inside a fence-signalling section or
 * under a lock that reclaim needs is reported by lockdep.
 *
 * **Kernel:** `might_alloc(GFP_KERNEL)`.
 *
 * **Locking:** may sleep (reports sleeping in atomic context); not a scheduling point itself.
 */
export function mightAlloc(kernel: Kernel): void {
  might_sleep(kernel, "might_alloc(GFP_KERNEL)");
  fsReclaimAcquire(kernel);
  fsReclaimRelease(kernel);
}
