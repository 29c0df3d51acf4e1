import { replayPolicy, type ChoicePolicy, type ChoiceRecord } from "@dmasim/kernel";

/**
 * Stateless exploration of every choice sequence of a deterministic run (depth-first over the
 * tree of choice points, each alternative once). `runOnce` builds a fresh kernel with the given
 * policy, runs, and returns the kernel's recorded choices. Stops after `limit` runs.
 */
export async function exploreAll(
  runOnce: (policy: ChoicePolicy) => Promise<readonly ChoiceRecord[]>,
  limit: number,
): Promise<{ runs: number; exhausted: boolean }> {
  const stack: number[][] = [[]];
  let runs = 0;
  while (stack.length > 0) {
    if (runs >= limit) {
      return { runs, exhausted: false };
    }
    const prefix = stack.pop() as number[];
    const records = await runOnce(replayPolicy(prefix));
    runs++;
    for (let i = records.length - 1; i >= prefix.length; i--) {
      const r = records[i] as ChoiceRecord;
      for (let alt = r.count - 1; alt > r.pick; alt--) {
        stack.push([...records.slice(0, i).map((x) => x.pick), alt]);
      }
    }
  }
  return { runs, exhausted: true };
}
