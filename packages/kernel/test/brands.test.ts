/**
 * The harness errors are told apart by their brands (a `Symbol.for` property, as `KernelError`
 * has), never by `name` or message text: a copy of the class from the other module format is
 * recognised, a look-alike is not.
 */
import { describe, expect, it } from "vitest";
import {
  BUG_ON,
  Kernel,
  KernelBug,
  ReplayDiverged,
  RunAborted,
  isKernelBug,
  isKernelError,
  isReplayDiverged,
  isRunAborted,
  replayPolicy,
} from "../src/index";

function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (e) {
    return e;
  }
  return undefined;
}

describe("error brands", () => {
  it("BUG_ON throws a KernelBug: a bug, not an errno nor an aborted run", () => {
    const e = thrown(() => BUG_ON(new Kernel(), true, "mm/x.c:f", "bad"));
    expect([isKernelBug(e), isRunAborted(e), isKernelError(e), isReplayDiverged(e)]).toEqual([
      true,
      false,
      false,
      false,
    ]);
  });

  it("RunAborted carries its reason", () => {
    const e: unknown = new RunAborted("deadlock", "every thread is blocked");
    expect(isRunAborted(e) && e.reason).toBe("deadlock");
    expect(isKernelBug(e)).toBe(false);
  });

  it("a diverged replay is a ReplayDiverged, an EINVAL KernelError the harness tells apart", () => {
    const policy = replayPolicy([5]);
    const e = thrown(() =>
      policy.pick({ index: 0, kind: "sched", count: 2, thread: 0, weights: undefined }),
    );
    expect(isReplayDiverged(e)).toBe(true);
    expect(isKernelError(e, "EINVAL")).toBe(true);
    expect(e instanceof ReplayDiverged && e.message).toBe(
      "EINVAL: replay diverged at choice 0 (sched): 2 options, recorded pick 5",
    );
  });

  it("a look-alike by name or message is not recognised; a branded copy is", () => {
    const lookAlike = Object.assign(new Error("replay diverged at choice 0"), {
      name: "KernelBug",
    });
    expect([isKernelBug(lookAlike), isReplayDiverged(lookAlike), isRunAborted(lookAlike)]).toEqual([
      false,
      false,
      false,
    ]);
    const copy = { [Symbol.for("dmasim.KernelBug")]: true, message: "kernel BUG" };
    expect(isKernelBug(copy)).toBe(true);
    expect(isKernelBug(new KernelBug("kernel BUG at x!", "x"))).toBe(true);
  });
});
