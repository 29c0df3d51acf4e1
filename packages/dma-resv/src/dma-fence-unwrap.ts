/**
 * Unwrapping containers: iterate the plain fences inside chains and arrays, and merge several
 * fences into one de-duplicated container.
 *
 * **Kernel:** drivers/dma-buf/dma-fence-unwrap.c, include/linux/dma-fence-unwrap.h.
 *
 * @module
 */
import type { Kernel } from "@dmasim/kernel";
import { dmaFenceArrayCreate, dmaFenceArrayFirst, dmaFenceArrayNext } from "./dma-fence-array";
import { dmaFenceChainContained, dmaFenceChainWalk } from "./dma-fence-chain";
import {
  dmaFenceAllocatePrivateStub,
  dmaFenceContextAlloc,
  dmaFenceGet,
  dmaFenceIsLater,
  dmaFenceIsSignaled,
  dmaFencePut,
  dmaFenceTimestamp,
  type DmaFence,
} from "./dma-fence";

/**
 * The position of an unwrap iteration.
 *
 * **Kernel:** `struct dma_fence_unwrap`.
 *
 * **Locking:** owned by the iterating caller.
 */
export class DmaFenceUnwrap {
  /** The chain node being unwrapped (referenced), or null when done. */
  chain: DmaFence | null = null;
  /** The array (or plain fence) inside that node. */
  array: DmaFence | null = null;
  /** Index inside the array. */
  index = 0;
}

function unwrapArray(cursor: DmaFenceUnwrap): DmaFence | null {
  cursor.array = dmaFenceChainContained(cursor.chain);
  cursor.index = 0;
  return dmaFenceArrayFirst(cursor.array);
}

/**
 * Start unwrapping `head`: the first plain fence inside it (it takes a reference on `head`,
 * dropped when the iteration ends).
 *
 * **Kernel:** `dma_fence_unwrap_first()`.
 *
 * **Locking:** any context.
 */
export function dmaFenceUnwrapFirst(head: DmaFence, cursor: DmaFenceUnwrap): DmaFence | null {
  cursor.chain = dmaFenceGet(head);
  return unwrapArray(cursor);
}

/**
 * The next plain fence, or null at the end.
 *
 * **Kernel:** `dma_fence_unwrap_next()`.
 *
 * **Locking:** any context.
 */
export function dmaFenceUnwrapNext(cursor: DmaFenceUnwrap): DmaFence | null {
  cursor.index++;
  const tmp = dmaFenceArrayNext(cursor.array, cursor.index);
  if (tmp) {
    return tmp;
  }
  cursor.chain = cursor.chain ? dmaFenceChainWalk(cursor.chain) : null;
  return unwrapArray(cursor);
}

/**
 * Every plain fence inside `head` (through one chain, each node's array): `head` itself when it is
 * not a container. No references are taken on the yielded fences; the container keeps them alive.
 * Breaking out early drops the iteration's reference.
 *
 * **Kernel:** `dma_fence_unwrap_for_each()`.
 *
 * **Locking:** any context.
 */
export function* dmaFenceUnwrapForEach(
  head: DmaFence,
  cursor: DmaFenceUnwrap = new DmaFenceUnwrap(),
): Generator<DmaFence, void, undefined> {
  try {
    for (let f = dmaFenceUnwrapFirst(head, cursor); f; f = dmaFenceUnwrapNext(cursor)) {
      yield f;
    }
  } finally {
    dmaFencePut(cursor.chain);
    cursor.chain = null;
  }
}

/** Order by context, and the latest first within one context. */
function fenceCmp(a: DmaFence, b: DmaFence): number {
  if (a.context !== b.context) {
    return a.context < b.context ? -1 : 1;
  }
  if (dmaFenceIsLater(b, a)) {
    return 1;
  }
  if (dmaFenceIsLater(a, b)) {
    return -1;
  }
  return 0;
}

/**
 * Merge the fences inside `fences` into one fence: signaled fences are dropped, only the latest
 * fence of each context is kept, the rest are sorted by context. None left: a new signaled stub
 * (with the latest timestamp seen); one left: that fence; else a new array on a fresh context.
 * The result carries a new reference; the inputs keep theirs.
 *
 * **Kernel:** `dma_fence_unwrap_merge()` / `__dma_fence_unwrap_merge()`.
 *
 * **Locking:** any context.
 */
export function dmaFenceUnwrapMerge(kernel: Kernel, ...fences: DmaFence[]): DmaFence {
  let timestamp = 0;
  const pending: DmaFence[] = [];
  for (const head of fences) {
    for (const f of dmaFenceUnwrapForEach(head)) {
      if (!dmaFenceIsSignaled(f)) {
        pending.push(dmaFenceGet(f));
      } else {
        timestamp = Math.max(timestamp, dmaFenceTimestamp(f));
      }
    }
  }
  if (pending.length === 0) {
    return dmaFenceAllocatePrivateStub(kernel, timestamp);
  }
  if (pending.length === 1) {
    return pending[0] as DmaFence;
  }
  pending.sort(fenceCmp);
  const kept: DmaFence[] = [pending[0] as DmaFence];
  for (let i = 1; i < pending.length; i++) {
    const f = pending[i] as DmaFence;
    if (f.context === (kept[kept.length - 1] as DmaFence).context) {
      dmaFencePut(f);
    } else {
      kept.push(f);
    }
  }
  if (kept.length === 1) {
    return kept[0] as DmaFence;
  }
  return dmaFenceArrayCreate(kernel, kept, dmaFenceContextAlloc(kernel, 1), 1, false);
}
