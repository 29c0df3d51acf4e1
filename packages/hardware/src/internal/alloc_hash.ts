/**
 * The page allocator's part of the machine's state digest, kept current as the allocator changes:
 * a running hash of its events since boot (allocations, frees, splits, CMA ranges, in order) and an
 * order-independent sum of the orders of the page objects whose order is not 0. O(1) to read: the
 * free lists and page objects are never walked.
 *
 * **Kernel:** none (a model-checking aid).
 *
 * @module
 * @internal
 */
import { HashSum, Hasher, type HashPair } from "@dmasim/kernel";

/** Allocator events, as chained into the running hash. */
export const ALLOC_EVENT = { take: 1, free: 2, split: 3, cmaReserve: 4, cmaAlloc: 5, cmaFree: 6 };

/** The allocator's running hash and its sum of page orders. */
export class AllocatorHash {
  private events: HashPair = [0, 0];
  private readonly orders = new HashSum();

  /** Chain one event and its numbers into the running hash. */
  chain(op: number, ...args: (number | string)[]): void {
    const h = new Hasher().pair(this.events).word(op);
    for (const a of args) {
      if (typeof a === "string") {
        h.str(a);
      } else {
        h.num(a);
      }
    }
    this.events = h.done();
  }

  /** A page object's order changed from `from` to `to` (0: not counted). */
  pageOrder(pfn: number, from: number, to: number): void {
    if (from !== 0) {
      this.orders.remove(pageOrderHash(pfn, from));
    }
    if (to !== 0) {
      this.orders.add(pageOrderHash(pfn, to));
    }
  }

  /** The allocator's digest part: the running hash and the sum of orders. */
  get value(): HashPair {
    return new Hasher().pair(this.events).pair(this.orders.value).done();
  }
}

function pageOrderHash(pfn: number, order: number): HashPair {
  return new Hasher().num(pfn).num(order).done();
}
