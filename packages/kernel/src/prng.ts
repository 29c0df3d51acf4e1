/**
 * The one pseudo-random generator of dmasim (mulberry32): the seeded choice policy, the explorer's
 * random strategies and the boot-time memory fragmentation all draw from it, so a seed means the
 * same sequence everywhere.
 *
 * **Kernel:** none (like `prandom_u32_state()` with a fixed seed: deterministic, not a source of
 * entropy).
 *
 * @module
 */

/**
 * A generator of numbers in [0, 1) seeded with `seed` (its low 32 bits): mulberry32.
 *
 * **Kernel:** none (a seeded `prandom` state). **Locking:** none (each caller owns its generator).
 */
export function mulberry32(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
