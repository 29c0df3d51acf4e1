/**
 * The choice source: every nondeterministic decision of a run goes through it, so that a run is a
 * pure function of (scenario, choice sequence). Thread interleavings, cache evictions, speculative
 * prefetches, allocator placement and `-EDEADLK` injection are all choice points.
 *
 * **Kernel:** no counterpart; it stands for the hardware and scheduler nondeterminism the kernel
 * lives with.
 *
 * A choice point with a single option is answered without being recorded, so the recorded sequence
 * holds only real decisions and stays short. The explorer drives the source through a
 * {@link ChoicePolicy}.
 *
 * @module
 */
import { REPLAY_DIVERGED_BRAND, hasBrand } from "./brand";
import { KernelError } from "./errno";
import { mulberry32 } from "./prng";

/** One decision to make. Kept small: the explorer makes millions of them. */
export interface ChoicePoint {
  /**
   * What is being decided: `"preempt"` (option 0 lets the running thread go on), `"sched"` (who runs
   * after a thread blocked), `"evict"`, `"prefetch"`, `"alloc"`, `"ww-inject"`, …
   */
  readonly kind: string;
  /** How many options (>= 2); the answer is an index in `[0, count)`. */
  readonly count: number;
  /** Optional weights (one per option) that a random policy honours; option 0 is the default. */
  readonly weights: readonly number[] | undefined;
  /** The index of this point in the run's recorded sequence. */
  readonly index: number;
  /** The id of the thread that reached it (0 for init). */
  readonly thread: number;
}

/** Picks an option at each choice point. **Kernel:** none (the simulated world's nondeterminism). */
export interface ChoicePolicy {
  readonly name: string;
  /** Return an index in `[0, point.count)`. */
  pick(point: ChoicePoint): number;
}

/** One recorded decision. */
export interface ChoiceRecord {
  readonly kind: string;
  readonly count: number;
  readonly pick: number;
}

/**
 * Always option 0: no eviction, no prefetch, the lowest-numbered runnable thread.
 *
 * **Kernel:** none. **Locking:** none.
 */
export function firstPolicy(): ChoicePolicy {
  return { name: "first", pick: () => 0 };
}

/**
 * A seeded pseudo-random policy ({@link mulberry32}). Honours weights when the point has them.
 *
 * **Kernel:** none (like `prandom` seeded by a test).
 *
 * **Locking:** none.
 */
export function randomPolicy(seed: number): ChoicePolicy {
  const next = mulberry32(seed);
  return {
    name: `random(${seed >>> 0})`,
    pick(point) {
      const r = next();
      if (!point.weights) {
        return Math.floor(r * point.count);
      }
      let total = 0;
      for (const w of point.weights) {
        total += w;
      }
      let acc = 0;
      for (let i = 0; i < point.count; i++) {
        acc += point.weights[i] ?? 0;
        if (r * total < acc) {
          return i;
        }
      }
      return point.count - 1;
    },
  };
}

/**
 * A replayed run took another path than the recorded one: a recorded pick does not fit the choice
 * point it reaches (a replay token of another scenario, kernel or platform, or a nondeterministic
 * scenario). Bad input, not a kernel outcome: an `EINVAL` {@link KernelError} the harness must not
 * count as the step's errno.
 *
 * **Kernel:** none.
 *
 * **Locking:** none.
 *
 * Use {@link isReplayDiverged} rather than `instanceof` (it works across the ESM and CJS copies).
 */
export class ReplayDiverged extends KernelError {
  readonly [REPLAY_DIVERGED_BRAND] = true;

  /** @param where - where the run left the recorded path, e.g. `choice 3 (sched): 2 options, recorded pick 4` */
  constructor(where: string) {
    super("EINVAL", `replay diverged at ${where}`);
  }
}

/**
 * Whether `e` is a {@link ReplayDiverged}.
 *
 * **Kernel:** none. **Locking:** none.
 */
export function isReplayDiverged(e: unknown): e is ReplayDiverged {
  return hasBrand(e, REPLAY_DIVERGED_BRAND);
}

/**
 * Replay a recorded sequence of picks; past its end, defer to `then` (default: {@link firstPolicy}).
 *
 * **Kernel:** none.
 *
 * **Locking:** none.
 *
 * @throws {@link ReplayDiverged} (from `pick`) when a recorded pick does not fit the point: the
 * run has diverged from the one recorded.
 */
export function replayPolicy(
  picks: readonly number[],
  then: ChoicePolicy = firstPolicy(),
): ChoicePolicy {
  return {
    name: `replay(${picks.length})`,
    pick(point) {
      if (point.index >= picks.length) {
        return then.pick(point);
      }
      const p = picks[point.index] ?? 0;
      if (p >= point.count) {
        throw new ReplayDiverged(
          `choice ${point.index} (${point.kind}): ${point.count} options, recorded pick ${p}`,
        );
      }
      return p;
    },
  };
}

/**
 * The kernel's source of choices. Records every decision with two or more options.
 *
 * **Kernel:** none.
 *
 * **Locking:** none (synchronous; a choice is never a scheduling point by itself).
 */
export class ChoiceSource {
  private readonly picks: number[] = [];
  private readonly kinds: string[] = [];
  private readonly counts: number[] = [];
  /** The id of the thread running now; the scheduler keeps it current. */
  thread = 0;

  constructor(public policy: ChoicePolicy) {}

  /**
   * Decide among `count` options. Returns 0 at once (and records nothing) when `count <= 1`.
   *
   * @throws {@link KernelError} `EINVAL` when the policy returns an index out of range
   */
  choose(kind: string, count: number, weights?: readonly number[]): number {
    if (count <= 1) {
      return 0;
    }
    const index = this.picks.length;
    const pick = this.policy.pick({ kind, count, weights, index, thread: this.thread });
    if (!Number.isInteger(pick) || pick < 0 || pick >= count) {
      throw new KernelError(
        "EINVAL",
        `policy ${this.policy.name} picked ${pick} of ${count} at ${kind}`,
      );
    }
    this.picks.push(pick);
    this.kinds.push(kind);
    this.counts.push(count);
    return pick;
  }

  /**
   * A yes/no decision that a random policy answers yes with probability `p`; option 0 is "no".
   */
  chooseBool(kind: string, p: number): boolean {
    if (p <= 0) {
      return false;
    }
    return this.choose(kind, 2, [1 - p, p]) === 1;
  }

  /** How many decisions have been recorded. */
  get length(): number {
    return this.picks.length;
  }

  /** The recorded picks (the replay sequence). */
  sequence(): number[] {
    return this.picks.slice();
  }

  /** The recorded decisions with their kinds and option counts. */
  records(): ChoiceRecord[] {
    return this.picks.map((pick, i) => ({
      kind: this.kinds[i] ?? "",
      count: this.counts[i] ?? 0,
      pick,
    }));
  }
}

/**
 * Encode a pick sequence as a compact, copy-pasteable token (`v1.` then base-36 picks).
 *
 * **Kernel:** none. **Locking:** none.
 */
export function encodeReplayToken(picks: readonly number[]): string {
  return `v1.${picks.map((p) => p.toString(36)).join("-")}`;
}

/**
 * Decode a token made by {@link encodeReplayToken}.
 *
 * **Kernel:** none. **Locking:** none.
 *
 * @throws {@link KernelError} `EINVAL` for a malformed token, saying where it went wrong
 */
export function decodeReplayToken(token: string): number[] {
  if (!token.startsWith("v1.")) {
    throw new KernelError(
      "EINVAL",
      `replay token must start with "v1." (got "${token.slice(0, 12)}")`,
    );
  }
  const body = token.slice(3);
  if (body === "") {
    return [];
  }
  return body.split("-").map((part, i) => {
    if (!/^[0-9a-z]+$/.test(part)) {
      throw new KernelError("EINVAL", `replay token: item ${i} "${part}" is not a base-36 number`);
    }
    return parseInt(part, 36);
  });
}
