/**
 * refcount_t and kref: reference counts that catch use-after-free and leaks.
 *
 * **Kernel:** include/linux/refcount.h, lib/refcount.c, include/linux/kref.h.
 *
 * An increment from 0 or a decrement below 0 is a WARN in the kernel ("refcount_t: addition on 0;
 * use-after-free.") and the count saturates; dmasim records a `use-after-free` finding with the
 * kernel's words and saturates the same way, so later operations stay harmless.
 *
 * @module
 */
import type { Kernel } from "./kernel";
import { KERN_WARNING } from "./printk";

/** `REFCOUNT_SATURATED` (INT_MIN / 2). **Kernel:** include/linux/refcount.h */
export const REFCOUNT_SATURATED = -0x40000000;
/** `REFCOUNT_MAX` (INT_MAX). **Kernel:** include/linux/refcount.h */
export const REFCOUNT_MAX = 0x7fffffff;

/**
 * A reference count. **Kernel:** `refcount_t`.
 *
 * **Locking:** atomic; any context.
 */
export class Refcount {
  constructor(
    readonly kernel: Kernel,
    /** What the count belongs to, for reports ("dma_buf 3"). */
    readonly what: string,
    public value = 1,
  ) {}
}

function warnSaturate(
  r: Refcount,
  kind:
    | "addition on 0; use-after-free."
    | "underflow; use-after-free."
    | "saturated; leaking memory."
    | "decrement hit 0; leaking memory.",
): void {
  const text = `refcount_t: ${kind}`;
  r.kernel.printk(
    KERN_WARNING,
    `------------[ cut here ]------------\n${text}\nWARNING: at lib/refcount.c:refcount_warn_saturate (${r.what})`,
  );
  const uaf = kind.includes("use-after-free");
  r.kernel.report({
    kind: uaf ? "use-after-free" : "warn",
    code: uaf ? "refcount" : "refcount-saturated",
    summary: `${text} (${r.what})`,
    details: {
      object: r.what,
      hint: uaf
        ? `take references to ${r.what} only while it is alive, and drop each once (balance get/put)`
        : `a reference to ${r.what} is never dropped: balance every get with a put`,
    },
  });
  r.value = REFCOUNT_SATURATED;
}

/**
 * **Kernel:** `refcount_set()`.
 *
 * **Locking:** any context.
 */
export function refcountSet(r: Refcount, n: number): void {
  r.value = n;
}

/**
 * **Kernel:** `refcount_read()`.
 *
 * **Locking:** any context.
 */
export function refcountRead(r: Refcount): number {
  return r.value;
}

/**
 * Take a reference. From 0 it is a use-after-free (reported; the count saturates).
 *
 * **Kernel:** `refcount_inc()`.
 *
 * **Locking:** any context.
 */
export function refcountInc(r: Refcount): void {
  const old = r.value;
  if (old === 0) {
    warnSaturate(r, "addition on 0; use-after-free.");
    return;
  }
  if (old < 0 || old >= REFCOUNT_MAX) {
    // lib/refcount.c warns once and pins the count at REFCOUNT_SATURATED; a saturated count stays
    // there silently
    if (old !== REFCOUNT_SATURATED) {
      warnSaturate(r, "saturated; leaking memory.");
    }
    r.value = REFCOUNT_SATURATED;
    return;
  }
  r.value = old + 1;
}

/**
 * Take a reference unless the count is 0. **Kernel:** `refcount_inc_not_zero()`.
 *
 * **Locking:** any context.
 */
export function refcountIncNotZero(r: Refcount): boolean {
  if (r.value === 0) {
    return false;
  }
  refcountInc(r);
  return true;
}

/**
 * Drop a reference; true when it was the last. Below 0 is a use-after-free (reported).
 *
 * **Kernel:** `refcount_dec_and_test()`.
 *
 * **Locking:** any context.
 */
export function refcountDecAndTest(r: Refcount): boolean {
  const old = r.value;
  if (old === 1) {
    r.value = 0;
    return true;
  }
  if (old <= 0) {
    if (old !== REFCOUNT_SATURATED) {
      warnSaturate(r, "underflow; use-after-free.");
    }
    r.value = REFCOUNT_SATURATED;
    return false;
  }
  r.value = old - 1;
  return false;
}

/**
 * Drop a reference that must not be the last: reaching 0 (or going below) is reported as a leak
 * ("decrement hit 0; leaking memory.") and the count saturates.
 *
 * **Kernel:** `refcount_dec()`.
 *
 * **Locking:** any context.
 */
export function refcountDec(r: Refcount): void {
  const old = r.value;
  if (old <= 1) {
    if (old !== REFCOUNT_SATURATED) {
      warnSaturate(r, "decrement hit 0; leaking memory.");
    }
    r.value = REFCOUNT_SATURATED;
    return;
  }
  r.value = old - 1;
}

/**
 * A kref: a refcount with a release function. **Kernel:** `struct kref`.
 *
 * **Locking:** any context; the release runs in the context of the last put.
 */
export class Kref {
  readonly refcount: Refcount;
  constructor(kernel: Kernel, what: string) {
    this.refcount = new Refcount(kernel, what, 1);
  }
}

/**
 * Create a kref with one reference. **Kernel:** `kref_init()`.
 *
 * **Locking:** none.
 */
export function krefInit(kernel: Kernel, what: string): Kref {
  return new Kref(kernel, what);
}

/**
 * **Kernel:** `kref_get()`.
 *
 * **Locking:** the caller must already hold a reference.
 */
export function krefGet(k: Kref): void {
  refcountInc(k.refcount);
}

/**
 * Take a reference unless released. **Kernel:** `kref_get_unless_zero()`.
 *
 * **Locking:** any context.
 */
export function krefGetUnlessZero(k: Kref): boolean {
  return refcountIncNotZero(k.refcount);
}

/**
 * Drop a reference; call `release` when it was the last. Returns true if released.
 *
 * **Kernel:** `kref_put()`.
 *
 * **Locking:** `release` runs in the caller's context.
 */
export function krefPut(k: Kref, release: (k: Kref) => void): boolean {
  if (refcountDecAndTest(k.refcount)) {
    release(k);
    return true;
  }
  return false;
}

/**
 * **Kernel:** `kref_read()`.
 *
 * **Locking:** any context.
 */
export function krefRead(k: Kref): number {
  return refcountRead(k.refcount);
}
