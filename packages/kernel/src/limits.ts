/**
 * The C integer types of kernel function arguments, as a JavaScript number meets them.
 *
 * **Kernel:** include/linux/limits.h (`SIZE_MAX`, `UINT_MAX`, `INT_MAX`), include/linux/types.h
 * (`size_t`, `u32`), include/linux/mm.h (`PAGE_ALIGN`).
 *
 * A library call passes plain numbers where the kernel takes `size_t`, `unsigned int` or `int`.
 * dmasim answers every number the way the kernel answers the value C would have handed it:
 *
 * - a value no C caller can pass (`NaN`, `±Infinity`, a fraction) is refused with `EINVAL`, naming
 *   the function and the parameter (dmasim's own argument check: there is no kernel path for it);
 * - a negative number for an unsigned parameter is what C's conversion makes of it, a huge value
 *   (`-1` becomes `SIZE_MAX`), answered as the kernel answers that value;
 * - a huge value is answered as the kernel does (an allocation larger than RAM fails, a page count
 *   past `UINT_MAX` wraps, `PAGE_ALIGN(SIZE_MAX)` wraps to 0).
 *
 * dmasim's `size_t` holds 53 bits (`SIZE_MAX` is `Number.MAX_SAFE_INTEGER`), like its DMA
 * addresses: every value above it is beyond any simulated memory, so the behaviour of a 64-bit
 * kernel is kept.
 *
 * @module
 */
import { KernelError } from "./errno";
import { PAGE_SIZE } from "./mm";

/** The largest `size_t` (53 bits here). **Kernel:** `SIZE_MAX`. */
export const SIZE_MAX = Number.MAX_SAFE_INTEGER;
/** **Kernel:** `UINT_MAX` (`U32_MAX`). */
export const UINT_MAX = 0xffff_ffff;
/** **Kernel:** `INT_MAX`. */
export const INT_MAX = 0x7fff_ffff;
/** **Kernel:** `INT_MIN`. */
export const INT_MIN = -0x8000_0000;

/**
 * Refuse a number no C caller can pass as an integer argument.
 *
 * **Kernel:** none (a C argument is always a whole number); dmasim's check of a library call.
 *
 * **Locking:** none (pure).
 *
 * @param fn - the kernel function, e.g. `"dma_alloc_attrs"`
 * @param param - the parameter, e.g. `"size"`
 * @throws {@link KernelError} `EINVAL` for `NaN`, `±Infinity`, a fraction or a non-number
 */
export function cInteger(value: number, fn: string, param: string): number {
  if (typeof value !== "number" || !Number.isInteger(value)) {
    throw new KernelError(
      "EINVAL",
      `${fn}: ${param} ${String(value)} is not an integer (a C caller cannot pass it)`,
    );
  }
  return value;
}

/**
 * A `size_t` argument: an integer, a negative one converted as C does (`-n` becomes
 * `SIZE_MAX + 1 - n`, a huge size).
 *
 * **Kernel:** the implicit conversion to `size_t` / `unsigned long` at a call.
 *
 * **Locking:** none (pure).
 *
 * @throws {@link KernelError} `EINVAL` for a value {@link cInteger} refuses
 */
export function sizeT(value: number, fn: string, param: string): number {
  const v = cInteger(value, fn, param);
  if (v >= 0) {
    return v;
  }
  const wrapped = SIZE_MAX + 1 + v;
  return wrapped >= 0 ? wrapped : SIZE_MAX;
}

/**
 * An `unsigned int` / `u32` argument: an integer taken modulo 2^32, as C converts it.
 *
 * **Kernel:** the implicit conversion to `unsigned int` at a call.
 *
 * **Locking:** none (pure).
 *
 * @throws {@link KernelError} `EINVAL` for a value {@link cInteger} refuses
 */
export function uintT(value: number, fn: string, param: string): number {
  const v = cInteger(value, fn, param);
  if (v >= 0 && v <= UINT_MAX) {
    return v;
  }
  // beyond 2^53 the low bits are lost: every such value is "huge"; keep it out of range
  if (!Number.isSafeInteger(v)) {
    return UINT_MAX;
  }
  return ((v % 2 ** 32) + 2 ** 32) % 2 ** 32;
}

/**
 * An `int` argument: an integer, an out-of-range one wrapped to 32 bits as gcc converts it.
 *
 * **Kernel:** the implicit conversion to `int` at a call.
 *
 * **Locking:** none (pure).
 *
 * @throws {@link KernelError} `EINVAL` for a value {@link cInteger} refuses
 */
export function intT(value: number, fn: string, param: string): number {
  const v = cInteger(value, fn, param);
  if (v >= INT_MIN && v <= INT_MAX) {
    return v;
  }
  const u = uintT(v, fn, param);
  return u > INT_MAX ? u - 2 ** 32 : u;
}

/**
 * Round a size up to a whole page, wrapping to 0 past `SIZE_MAX` as the kernel's unsigned
 * arithmetic does (`PAGE_ALIGN(SIZE_MAX) == 0`).
 *
 * **Kernel:** `PAGE_ALIGN()`.
 *
 * **Locking:** none (pure).
 */
export function pageAlign(size: number): number {
  if (size > SIZE_MAX) {
    return Math.ceil(size / PAGE_SIZE) * PAGE_SIZE; // a 64-bit value that does not wrap
  }
  const aligned = Math.ceil(size / PAGE_SIZE) * PAGE_SIZE;
  return aligned > SIZE_MAX ? aligned - (SIZE_MAX + 1) : aligned;
}
