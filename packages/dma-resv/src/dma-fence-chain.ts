/**
 * Fence chains: timeline points. Each node wraps one fence and links to the previous node; a node
 * signals once its fence and every earlier node have signaled.
 *
 * **Kernel:** drivers/dma-buf/dma-fence-chain.c, include/linux/dma-fence-chain.h.
 *
 * Walking a chain ({@link dmaFenceChainWalk}) garbage-collects nodes whose fences have signaled by
 * unlinking them, which is why {@link dmaFenceChainFindSeqno} may land on an earlier node (or on
 * nothing at all) than the one that was created for a seqno. Nodes reuse the previous node's
 * context when their seqno is later; otherwise they get a fresh context.
 *
 * @module
 */
import { KernelError, krefRead, spinLockInit, type Kernel } from "@dmasim/kernel";
import {
  DMA_FENCE_FLAG_SEQNO64_BIT,
  DmaFence,
  DmaFenceCb,
  dmaFenceAddCallback,
  dmaFenceContextAlloc,
  dmaFenceGet,
  dmaFenceIsSignaled,
  dmaFencePut,
  dmaFenceSeqnoIsLater,
  dmaFenceSignal,
  type DmaFenceOps,
} from "./dma-fence";
import { irqWorkQueue } from "./module";

/**
 * A chain node.
 *
 * **Kernel:** `struct dma_fence_chain`.
 *
 * **Locking:** `prev` changes only by garbage collection (a compare-and-swap in the kernel).
 */
export class DmaFenceChain extends DmaFence {
  override readonly kind = "chain";
  /** The previous node (or plain fence), or null; the node owns a reference. */
  prev: DmaFence | null;
  /** The previous node's seqno when this node shares its context, else 0. */
  readonly prevSeqno: number;
  /** The fence of this timeline point; the node owns a reference. */
  readonly fence: DmaFence;
  /** @internal the callback armed by enable_signaling */
  readonly cb = new DmaFenceCb();

  /** @internal use {@link dmaFenceChainInit} */
  constructor(
    kernel: Kernel,
    prev: DmaFence | null,
    fence: DmaFence,
    context: number,
    seqno: number,
    prevSeqno: number,
  ) {
    super(
      kernel,
      DMA_FENCE_CHAIN_OPS,
      spinLockInit(kernel, "&chain->lock", "dma_fence_chain_lock"),
      context,
      seqno,
    );
    this.flags |= 1 << DMA_FENCE_FLAG_SEQNO64_BIT;
    this.prev = prev;
    this.fence = fence;
    this.prevSeqno = prevSeqno;
  }
}

/**
 * The chain node behind `fence`, or null if it is not a chain node.
 *
 * **Kernel:** `to_dma_fence_chain()`.
 *
 * **Locking:** any context.
 */
export function toDmaFenceChain(fence: DmaFence | null): DmaFenceChain | null {
  return fence instanceof DmaFenceChain ? fence : null;
}

/**
 * Whether `fence` is a chain node.
 *
 * **Kernel:** `dma_fence_is_chain()`.
 *
 * **Locking:** any context.
 */
export function dmaFenceIsChain(fence: DmaFence): boolean {
  return fence instanceof DmaFenceChain;
}

/**
 * The fence a node wraps, or `fence` itself if it is not a chain node.
 *
 * **Kernel:** `dma_fence_chain_contained()`.
 *
 * **Locking:** any context.
 */
export function dmaFenceChainContained(fence: DmaFence | null): DmaFence | null {
  const chain = toDmaFenceChain(fence);
  return chain ? chain.fence : fence;
}

function getPrev(chain: DmaFenceChain): DmaFence | null {
  return chain.prev ? dmaFenceGet(chain.prev) : null;
}

/**
 * Step from `fence` (whose reference is consumed) to the previous node, unlinking predecessors
 * that have already signaled. Returns the previous node with a reference, or null at the end.
 *
 * **Kernel:** `dma_fence_chain_walk()`.
 *
 * **Locking:** any context.
 */
export function dmaFenceChainWalk(fence: DmaFence): DmaFence | null {
  const chain = toDmaFenceChain(fence);
  if (!chain) {
    dmaFencePut(fence);
    return null;
  }
  let prev: DmaFence | null;
  while ((prev = getPrev(chain))) {
    const prevChain = toDmaFenceChain(prev);
    let replacement: DmaFence | null;
    if (prevChain) {
      if (!dmaFenceIsSignaled(prevChain.fence)) {
        break;
      }
      replacement = getPrev(prevChain);
    } else {
      if (!dmaFenceIsSignaled(prev)) {
        break;
      }
      replacement = null;
    }
    if (chain.prev === prev) {
      chain.prev = replacement;
      dmaFencePut(prev);
    } else {
      dmaFencePut(replacement);
    }
    dmaFencePut(prev);
  }
  dmaFencePut(fence);
  return prev;
}

/**
 * Iterate from `head` towards older nodes, as `dma_fence_chain_for_each()`: each yielded fence is
 * referenced while the loop body runs. Breaking out early drops the reference.
 *
 * **Kernel:** `dma_fence_chain_for_each()`.
 *
 * **Locking:** any context.
 */
export function* dmaFenceChainForEach(head: DmaFence): Generator<DmaFence, void, undefined> {
  let iter: DmaFence | null = dmaFenceGet(head);
  try {
    while (iter) {
      yield iter;
      iter = dmaFenceChainWalk(iter);
    }
  } finally {
    dmaFencePut(iter);
  }
}

/**
 * Move `*pfence` (a chain node, whose reference is consumed) to the node that will signal
 * `seqno`: the oldest node still pending that covers it, or null when everything up to `seqno`
 * has signaled. Returns the new fence (with a reference). Seqno 0 returns `pfence` unchanged.
 *
 * **Kernel:** `dma_fence_chain_find_seqno()`.
 *
 * **Locking:** any context.
 *
 * @throws {@link KernelError} `EINVAL` when `pfence` is not a chain node or `seqno` is beyond its
 * seqno (nothing changes then; the caller keeps its reference)
 */
export function dmaFenceChainFindSeqno(pfence: DmaFence, seqno: number): DmaFence | null {
  if (!seqno) {
    return pfence;
  }
  const chain = toDmaFenceChain(pfence);
  if (!chain || chain.seqno < seqno) {
    throw new KernelError(
      "EINVAL",
      chain
        ? `chain point ${chain.seqno} has not reached seqno ${seqno}`
        : `fence ${pfence.context}:${pfence.seqno} is not a chain node`,
    );
  }
  let result: DmaFence | null = null;
  for (const f of dmaFenceChainForEach(chain)) {
    const node = toDmaFenceChain(f);
    if (f.context !== chain.context || !node || node.prevSeqno < seqno) {
      result = dmaFenceGet(f);
      break;
    }
  }
  dmaFencePut(chain);
  return result;
}

function chainCb(chain: DmaFenceChain, f: DmaFence): void {
  irqWorkQueue(chain.kernel, () => {
    if (!enableSignaling(chain)) {
      dmaFenceSignal(chain);
    }
    dmaFencePut(chain);
  });
  dmaFencePut(f);
}

function enableSignaling(fence: DmaFence): boolean {
  const head = fence as DmaFenceChain;
  dmaFenceGet(head);
  for (const node of dmaFenceChainForEach(head)) {
    const f = dmaFenceChainContained(node) as DmaFence;
    dmaFenceGet(f);
    try {
      dmaFenceAddCallback(f, head.cb, () => chainCb(head, f));
      return true;
    } catch {
      dmaFencePut(f);
    }
  }
  dmaFencePut(head);
  return false;
}

function signaled(fence: DmaFence): boolean {
  for (const node of dmaFenceChainForEach(fence)) {
    const f = dmaFenceChainContained(node) as DmaFence;
    if (!dmaFenceIsSignaled(f)) {
      return false;
    }
  }
  return true;
}

function release(fence: DmaFence): void {
  const chain = fence as DmaFenceChain;
  // Release the predecessors iteratively so that a long chain does not recurse.
  let prev = chain.prev;
  chain.prev = null;
  while (prev) {
    const prevChain = toDmaFenceChain(prev);
    if (!prevChain || krefRead(prev.refcount) !== 1) {
      dmaFencePut(prev);
      break;
    }
    const next = prevChain.prev;
    prevChain.prev = null;
    dmaFencePut(prev);
    prev = next;
  }
  dmaFencePut(chain.fence);
}

/**
 * The operations of chain nodes.
 *
 * **Kernel:** `dma_fence_chain_ops`.
 */
export const DMA_FENCE_CHAIN_OPS: DmaFenceOps = {
  getDriverName: () => "dma_fence_chain",
  getTimelineName: () => "unbound",
  enableSignaling,
  signaled,
  release,
};

/**
 * Create a chain node for `fence` at `seqno` after `prev`, taking over the caller's references
 * to both. If `prev` is a chain node and `seqno` is later than its seqno, the node joins its
 * context; otherwise it starts a fresh context (and takes the larger seqno).
 *
 * **Kernel:** `dma_fence_chain_alloc()` + `dma_fence_chain_init()`.
 *
 * **Locking:** any context.
 */
export function dmaFenceChainInit(
  kernel: Kernel,
  prev: DmaFence | null,
  fence: DmaFence,
  seqno: number,
): DmaFenceChain {
  const prevChain = toDmaFenceChain(prev);
  let context: number;
  let prevSeqno = 0;
  if (prevChain && dmaFenceSeqnoIsLater(prevChain, seqno, prevChain.seqno)) {
    context = prevChain.context;
    prevSeqno = prevChain.seqno;
  } else {
    context = dmaFenceContextAlloc(kernel, 1);
    if (prevChain) {
      seqno = Math.max(prevChain.seqno, seqno);
    }
  }
  return new DmaFenceChain(kernel, prev, fence, context, seqno, prevSeqno);
}
