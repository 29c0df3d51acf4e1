/**
 * Fence arrays: one fence that signals when all (or any) of a set of fences have signaled.
 *
 * **Kernel:** drivers/dma-buf/dma-fence-array.c, include/linux/dma-fence-array.h.
 *
 * The array owns one reference to each member. It arms a callback on every member when signalling
 * is enabled; the last member callback (or the first, with `signalOnAny`) queues an irq_work that
 * signals the array outside the member's lock. The first member error becomes the array's error.
 * An array is a container: it must not hold other containers, nor be added to a `dma_resv`.
 *
 * @module
 */
import { WARN_ON, spinLockInit, type Kernel } from "@dmasim/kernel";
import {
  DMA_FENCE_FLAG_ENABLE_SIGNAL_BIT,
  DmaFence,
  DmaFenceCb,
  dmaFenceAddCallback,
  dmaFenceGet,
  dmaFenceIsContainer,
  dmaFenceIsSignaled,
  dmaFencePut,
  dmaFenceSignal,
  type DmaFenceOps,
} from "./dma-fence";
import { irqWorkQueue } from "./module";

/** The error an array carries until it knows better. **Kernel:** `PENDING_ERROR`. */
const PENDING_ERROR = 1;

/**
 * A fence array.
 *
 * **Kernel:** `struct dma_fence_array`.
 *
 * **Locking:** `numPending` is atomic in the kernel; the members never change.
 */
export class DmaFenceArray extends DmaFence {
  override readonly kind = "array";
  /** Members not yet signaled (1 with `signalOnAny`). */
  numPending: number;
  /** The members (the array owns one reference to each). */
  readonly fences: readonly DmaFence[];
  /** @internal one callback per member */
  readonly callbacks: DmaFenceCb[];

  /** @internal use {@link dmaFenceArrayCreate} */
  constructor(
    kernel: Kernel,
    fences: readonly DmaFence[],
    context: number,
    seqno: number,
    readonly signalOnAny: boolean,
  ) {
    super(
      kernel,
      DMA_FENCE_ARRAY_OPS,
      spinLockInit(kernel, "&array->lock", "dma_fence_array_lock"),
      context,
      seqno,
    );
    this.fences = fences;
    this.numPending = signalOnAny ? 1 : fences.length;
    this.callbacks = fences.map(() => new DmaFenceCb());
    this.error = PENDING_ERROR;
  }
}

function setPendingError(array: DmaFenceArray, error: number): void {
  if (error && array.error === PENDING_ERROR) {
    array.error = error;
  }
}

function clearPendingError(array: DmaFenceArray): void {
  if (array.error === PENDING_ERROR) {
    array.error = 0;
  }
}

function arrayWork(array: DmaFenceArray): void {
  clearPendingError(array);
  dmaFenceSignal(array);
  dmaFencePut(array);
}

function memberSignaled(array: DmaFenceArray, member: DmaFence): void {
  setPendingError(array, member.error);
  array.numPending--;
  if (array.numPending === 0) {
    irqWorkQueue(array.kernel, () => arrayWork(array));
  } else {
    dmaFencePut(array);
  }
}

function enableSignaling(fence: DmaFence): boolean {
  const array = fence as DmaFenceArray;
  for (let i = 0; i < array.fences.length; i++) {
    const member = array.fences[i] as DmaFence;
    // The core only keeps the array alive until it signals; each armed callback holds its own.
    dmaFenceGet(array);
    try {
      dmaFenceAddCallback(member, array.callbacks[i] as DmaFenceCb, () =>
        memberSignaled(array, member),
      );
    } catch {
      setPendingError(array, member.error);
      dmaFencePut(array);
      array.numPending--;
      if (array.numPending === 0) {
        clearPendingError(array);
        return false;
      }
    }
  }
  return true;
}

function signaled(fence: DmaFence): boolean {
  const array = fence as DmaFenceArray;
  let pending = array.numPending;
  if (array.flags & (1 << DMA_FENCE_FLAG_ENABLE_SIGNAL_BIT)) {
    if (pending <= 0) {
      clearPendingError(array);
      return true;
    }
    return false;
  }
  for (const member of array.fences) {
    if (dmaFenceIsSignaled(member) && --pending === 0) {
      clearPendingError(array);
      return true;
    }
  }
  return false;
}

function release(fence: DmaFence): void {
  for (const member of (fence as DmaFenceArray).fences) {
    dmaFencePut(member);
  }
}

/**
 * The operations of fence arrays.
 *
 * **Kernel:** `dma_fence_array_ops`.
 */
export const DMA_FENCE_ARRAY_OPS: DmaFenceOps = {
  getDriverName: () => "dma_fence_array",
  getTimelineName: () => "unbound",
  enableSignaling,
  signaled,
  release,
};

/**
 * Create an array of `fences`, taking over the caller's reference to each. It signals when all of
 * them have signaled, or when the first has if `signalOnAny`. WARNs for a member that is itself a
 * container.
 *
 * **Kernel:** `dma_fence_array_create()`.
 *
 * **Locking:** any context.
 */
export function dmaFenceArrayCreate(
  kernel: Kernel,
  fences: readonly DmaFence[],
  context: number,
  seqno: number,
  signalOnAny: boolean,
): DmaFenceArray {
  const array = new DmaFenceArray(kernel, [...fences], context, seqno, signalOnAny);
  for (let i = fences.length - 1; i >= 0; i--) {
    WARN_ON(
      kernel,
      dmaFenceIsContainer(fences[i] as DmaFence),
      "drivers/dma-buf/dma-fence-array.c:dma_fence_array_init",
      "WARN_ON(dma_fence_is_container(fences[num_fences])): a fence array must not contain containers",
    );
  }
  return array;
}

/**
 * The array behind `fence`, or null if it is not an array.
 *
 * **Kernel:** `to_dma_fence_array()`.
 *
 * **Locking:** any context.
 */
export function toDmaFenceArray(fence: DmaFence | null): DmaFenceArray | null {
  return fence instanceof DmaFenceArray ? fence : null;
}

/**
 * Whether `fence` is a fence array.
 *
 * **Kernel:** `dma_fence_is_array()`.
 *
 * **Locking:** any context.
 */
export function dmaFenceIsArray(fence: DmaFence): boolean {
  return fence instanceof DmaFenceArray;
}

/**
 * The first member of an array, `head` itself if it is not an array, or null for an empty array
 * or a null head.
 *
 * **Kernel:** `dma_fence_array_first()`.
 *
 * **Locking:** any context.
 */
export function dmaFenceArrayFirst(head: DmaFence | null): DmaFence | null {
  if (!head) {
    return null;
  }
  const array = toDmaFenceArray(head);
  if (!array) {
    return head;
  }
  return array.fences[0] ?? null;
}

/**
 * Member `index` of an array, or null past the end or when `head` is not an array.
 *
 * **Kernel:** `dma_fence_array_next()`.
 *
 * **Locking:** any context.
 */
export function dmaFenceArrayNext(head: DmaFence | null, index: number): DmaFence | null {
  const array = toDmaFenceArray(head);
  if (!array) {
    return null;
  }
  return array.fences[index] ?? null;
}
