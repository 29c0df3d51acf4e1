/**
 * Brands of dmasim's error classes: a symbol property each class sets, so that a type guard
 * recognises an error across the ESM and CJS copies of a package (where `instanceof` fails) and
 * without reading its `name` or `message`.
 *
 * @module
 */

/** The brand of {@link KernelBug}. **Kernel:** none. */
export const KERNEL_BUG_BRAND = Symbol.for("dmasim.KernelBug");
/** The brand of {@link RunAborted}. **Kernel:** none. */
export const RUN_ABORTED_BRAND = Symbol.for("dmasim.RunAborted");
/** The brand of {@link ReplayDiverged}. **Kernel:** none. */
export const REPLAY_DIVERGED_BRAND = Symbol.for("dmasim.ReplayDiverged");

/**
 * Whether `e` carries `brand`.
 *
 * **Kernel:** none. **Locking:** none.
 */
export function hasBrand(e: unknown, brand: symbol): boolean {
  return typeof e === "object" && e !== null && (e as Record<symbol, unknown>)[brand] === true;
}
