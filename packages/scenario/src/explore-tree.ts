/**
 * The shape of the search tree: the next run of a depth-first search after a run, the open
 * alternatives (the frontier), and the deterministic split of the tree into units by prefix, which
 * shards and workers share.
 *
 * @module
 */
import type { ResolvedBounds } from "./explore-bounds";
import type { RunTrace } from "./explore-policy";

/** The next prefix to run after `t`, and how many alternatives are still open on its path. */
export interface Successor {
  readonly next: number[] | null;
  readonly frontier: number;
}

/**
 * The lexicographic successor of a run in the tree: the deepest choice point at or after `floor`
 * (and before the cut and the depth bound) with an untried option that the bounds allow.
 */
export function successor(t: RunTrace, floor: number, bounds: ResolvedBounds): Successor {
  const end = Math.min(t.cutAt >= 0 ? t.cutAt : t.picks.length, bounds.depth);
  const used = new Map<string, number>();
  let deepest = -1;
  let frontier = 0;
  for (let j = 0; j < end; j++) {
    const kind = t.kinds[j] ?? "";
    const pick = t.picks[j] ?? 0;
    if (j >= floor) {
      const limit = bounds.choices[kind] ?? Infinity;
      const open = (used.get(kind) ?? 0) < limit ? (t.counts[j] ?? 0) - 1 - pick : 0;
      if (open > 0) {
        deepest = j;
        frontier += open;
      }
    }
    if (pick !== 0) {
      used.set(kind, (used.get(kind) ?? 0) + 1);
    }
  }
  if (deepest < 0) {
    return { next: null, frontier: 0 };
  }
  const next = t.picks.slice(0, deepest);
  next.push((t.picks[deepest] ?? 0) + 1);
  return { next, frontier };
}

/** Compare two prefixes lexicographically. */
export function comparePrefix(a: readonly number[], b: readonly number[]): number {
  for (let i = 0; i < Math.min(a.length, b.length); i++) {
    const d = (a[i] ?? 0) - (b[i] ?? 0);
    if (d !== 0) {
      return d;
    }
  }
  return a.length - b.length;
}

/**
 * Split the tree into at least `target` units (when it has that many branches), each a prefix whose
 * subtree a search explores on its own: breadth-first from the root, expanding each prefix into the
 * options its next choice point allows. `probe(prefix)` runs the prefix (then option 0) and returns
 * its trace. Deterministic: every shard computes the same units.
 */
export async function splitTree(
  probe: (prefix: readonly number[]) => Promise<RunTrace>,
  bounds: ResolvedBounds,
  target: number,
): Promise<number[][]> {
  let queue: number[][] = [[]];
  const units: number[][] = [];
  while (queue.length > 0 && queue.length + units.length < target) {
    const nextLevel: number[][] = [];
    for (const prefix of queue) {
      const t = await probe(prefix);
      const at = prefix.length;
      if (at >= t.picks.length || at >= bounds.depth) {
        units.push(prefix);
        continue;
      }
      const kind = t.kinds[at] ?? "";
      let used = 0;
      prefix.forEach((p, i) => {
        if (p !== 0 && t.kinds[i] === kind) {
          used++;
        }
      });
      const options = used < (bounds.choices[kind] ?? Infinity) ? (t.counts[at] ?? 1) : 1;
      for (let o = 0; o < options; o++) {
        nextLevel.push([...prefix, o]);
      }
    }
    queue = nextLevel;
  }
  return [...units, ...queue].sort(comparePrefix);
}
