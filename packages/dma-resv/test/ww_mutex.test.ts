/**
 * ww_mutex: wait-die and wound-wait, -EDEADLK / -EALREADY, the slow path, the debug checks and
 * deadlock injection; H16 (back-off mistakes) with its fix; the two-context dance under every
 * schedule.
 */
import { describe, expect, it } from "vitest";
import {
  Kernel,
  RunAborted,
  firstPolicy,
  isKernelError,
  msleep,
  replayPolicy,
  type ChoicePolicy,
} from "@dmasim/kernel";
import {
  DMA_RESV_MODULE,
  defineWwClass,
  reservationWwClass,
  wwAcquireDone,
  wwAcquireFini,
  wwAcquireInit,
  wwMutexInit,
  wwMutexIsLocked,
  wwMutexLock,
  wwMutexLockInterruptible,
  wwMutexLockSlow,
  wwMutexTrylock,
  wwMutexUnlock,
  type WwAcquireCtx,
  type WwClass,
  type WwMutex,
} from "../src/index";
import { exploreAll } from "./explore";
import { unexpectedFindings } from "./helpers";

function warns(k: Kernel, text: string): number {
  return k.findings.filter((f) => f.kind === "warn" && f.summary.includes(text)).length;
}

async function code(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return "0";
  } catch (e) {
    if (isKernelError(e)) {
      return e.code;
    }
    throw e;
  }
}

/** Older context A holds l1, younger B holds l2; then `then(a, b)` runs in thread B. */
async function contend(
  k: Kernel,
  cls: WwClass,
  thenB: (ctxB: WwAcquireCtx, l1: WwMutex, l2: WwMutex) => Promise<void>,
  thenA: (ctxA: WwAcquireCtx, l1: WwMutex, l2: WwMutex) => Promise<void> = async () => {
    await msleep(k, 10);
  },
): Promise<Record<string, unknown>> {
  const l1 = wwMutexInit(k, "L1", cls);
  const l2 = wwMutexInit(k, "L2", cls);
  return k.run({
    A: async () => {
      const ctx = wwAcquireInit(k, cls);
      await wwMutexLock(l1, ctx);
      await msleep(k, 2);
      await thenA(ctx, l1, l2);
      if (l1.ctx === ctx) {
        wwMutexUnlock(l1);
      }
      if (l2.ctx === ctx) {
        wwMutexUnlock(l2);
      }
      wwAcquireFini(ctx);
    },
    B: async () => {
      await msleep(k, 1);
      const ctx = wwAcquireInit(k, cls);
      await wwMutexLock(l2, ctx);
      await thenB(ctx, l1, l2);
      if (l1.ctx === ctx) {
        wwMutexUnlock(l1);
      }
      if (l2.ctx === ctx) {
        wwMutexUnlock(l2);
      }
      wwAcquireFini(ctx);
    },
  });
}

describe("ww_mutex basics", () => {
  it("stamps increase; lock, -EALREADY, acquired count, unlock, fini", async () => {
    const k = new Kernel();
    const a = wwMutexInit(k, "a", reservationWwClass);
    const b = wwMutexInit(k, "b", reservationWwClass);
    const ctx = wwAcquireInit(k, reservationWwClass);
    const ctx2Stamp = ctx.stamp + 1;
    await wwMutexLock(a, ctx);
    await wwMutexLock(b, ctx);
    expect(ctx.acquired).toBe(2);
    expect(await code(wwMutexLock(a, ctx))).toBe("EALREADY");
    expect(ctx.acquired).toBe(2);
    wwAcquireDone(ctx);
    wwMutexUnlock(a);
    wwMutexUnlock(b);
    expect(ctx.acquired).toBe(0);
    wwAcquireFini(ctx);
    expect(wwAcquireInit(k, reservationWwClass).stamp).toBe(ctx2Stamp);
    expect(wwMutexIsLocked(a)).toBe(false);
  });

  it("fini with locks held, locking after acquire_done, and class mismatch WARN", async () => {
    const k = new Kernel();
    const other = defineWwClass("other_class");
    const a = wwMutexInit(k, "a", reservationWwClass);
    const b = wwMutexInit(k, "b", reservationWwClass);
    const c = wwMutexInit(k, "c", other);
    const ctx = wwAcquireInit(k, reservationWwClass);
    await wwMutexLock(a, ctx);
    wwAcquireDone(ctx);
    await wwMutexLock(b, ctx);
    expect(warns(k, "ww_acquire_done()")).toBe(1);
    await wwMutexLock(c, ctx);
    expect(warns(k, "ww_class != ww->ww_class")).toBe(1);
    wwMutexUnlock(c);
    wwMutexUnlock(b);
    wwAcquireFini(ctx);
    expect(warns(k, "still held")).toBe(1);
    wwMutexUnlock(a);
  });

  it("trylock: true when free (counts in the context), false when held, never -EALREADY", async () => {
    const k = new Kernel();
    const a = wwMutexInit(k, "a", reservationWwClass);
    const ctx = wwAcquireInit(k, reservationWwClass);
    expect(wwMutexTrylock(a, ctx)).toBe(true);
    expect(ctx.acquired).toBe(1);
    expect(wwMutexTrylock(a, ctx)).toBe(false);
    wwMutexUnlock(a);
    wwAcquireFini(ctx);
    expect(unexpectedFindings(k)).toEqual([]);
  });

  it("two live contexts of one class in one thread: lockdep recursion on the acquire class", () => {
    const k = new Kernel();
    wwAcquireInit(k, reservationWwClass);
    wwAcquireInit(k, reservationWwClass);
    expect(
      k.findings.some(
        (f) =>
          f.code === "recursive-locking" &&
          String(f.details.cls) === "reservation_ww_class_acquire",
      ),
    ).toBe(true);
  });

  it("interruptible lock ends with -EINTR on a signal", async () => {
    const k = new Kernel();
    const a = wwMutexInit(k, "a", reservationWwClass);
    await wwMutexLock(a, null);
    const t = k.spawn("w", async () => {
      const ctx = wwAcquireInit(k, reservationWwClass);
      try {
        await wwMutexLockInterruptible(a, ctx);
      } finally {
        wwAcquireFini(ctx);
      }
    });
    await msleep(k, 1);
    k.sched.signal(t);
    await k.sched.join([t]);
    expect(isKernelError(t.error, "EINTR")).toBe(true);
    wwMutexUnlock(a);
  });
});

describe("wait-die (reservation_ww_class)", () => {
  it("the younger context holding locks dies (-EDEADLK) on a lock the older holds", async () => {
    const k = new Kernel();
    let r = "";
    await contend(k, reservationWwClass, async (ctx, l1) => {
      r = await code(wwMutexLock(l1, ctx));
      expect(ctx.contendingLock).toBe(l1);
    });
    expect(r).toBe("EDEADLK");
    expect(unexpectedFindings(k)).toEqual([]);
  });

  it("the older context waits for the younger one instead of dying", async () => {
    const k = new Kernel();
    const order: string[] = [];
    await contend(
      k,
      reservationWwClass,
      async () => {
        await msleep(k, 5);
        order.push("B releases");
      },
      async (ctx, _l1, l2) => {
        await wwMutexLock(l2, ctx);
        order.push("A got L2");
      },
    );
    expect(order).toEqual(["B releases", "A got L2"]);
  });

  it("a context that holds nothing never dies: it waits", async () => {
    const k = new Kernel();
    const l = wwMutexInit(k, "L", reservationWwClass);
    const got: string[] = [];
    await k.run({
      old: async () => {
        const ctx = wwAcquireInit(k, reservationWwClass);
        await wwMutexLock(l, ctx);
        await msleep(k, 3);
        wwMutexUnlock(l);
        wwAcquireFini(ctx);
      },
      young: async () => {
        await msleep(k, 1);
        const ctx = wwAcquireInit(k, reservationWwClass);
        await wwMutexLock(l, ctx);
        got.push("young");
        wwMutexUnlock(l);
        wwAcquireFini(ctx);
      },
    });
    expect(got).toEqual(["young"]);
  });
});

describe("wound-wait", () => {
  it("an older requester wounds the younger holder, which gets -EDEADLK at its next contended lock", async () => {
    const k = new Kernel();
    const cls = defineWwClass("test_ww_class");
    const l1 = wwMutexInit(k, "L1", cls);
    const l2 = wwMutexInit(k, "L2", cls);
    const l3 = wwMutexInit(k, "L3", cls);
    let youngResult = "";
    let oldGot = false;
    await k.run({
      old: async () => {
        const ctx = wwAcquireInit(k, cls);
        await wwMutexLock(l1, ctx);
        await msleep(k, 2);
        await wwMutexLock(l2, ctx); // held by young: wound it and wait
        oldGot = true;
        wwMutexUnlock(l2);
        wwMutexUnlock(l1);
        wwAcquireFini(ctx);
      },
      young: async () => {
        await msleep(k, 1);
        const ctx = wwAcquireInit(k, cls);
        await wwMutexLock(l2, ctx);
        await wwMutexLock(l3, ctx); // uncontended: no death yet
        await msleep(k, 2);
        expect(ctx.wounded).toBe(true);
        youngResult = await code(wwMutexLock(l1, ctx)); // contended while wounded: die
        wwMutexUnlock(l3);
        wwMutexUnlock(l2);
        wwAcquireFini(ctx);
      },
    });
    expect(youngResult).toBe("EDEADLK");
    expect(oldGot).toBe(true);
  });
});

/** The right back-off: on -EDEADLK drop everything, slow-lock the contended lock, retry. */
async function lockAllRight(locks: readonly WwMutex[], ctx: WwAcquireCtx): Promise<void> {
  let contended: WwMutex | null = null;
  for (;;) {
    const held: WwMutex[] = [];
    if (contended) {
      await wwMutexLockSlow(contended, ctx);
      held.push(contended);
    }
    let failed: WwMutex | null = null;
    for (const l of locks) {
      if (l === contended) {
        continue;
      }
      try {
        await wwMutexLock(l, ctx);
        held.push(l);
      } catch (e) {
        if (!isKernelError(e, "EDEADLK")) {
          throw e;
        }
        failed = l;
        break;
      }
    }
    if (!failed) {
      return;
    }
    for (const h of held) {
      wwMutexUnlock(h);
    }
    contended = failed;
  }
}

/** H16 mistake: on -EDEADLK keep what is held and wait for the contended lock without the context. */
async function lockAllHoldAndWait(locks: readonly WwMutex[], ctx: WwAcquireCtx): Promise<void> {
  for (const l of locks) {
    try {
      await wwMutexLock(l, ctx);
    } catch (e) {
      if (!isKernelError(e, "EDEADLK")) {
        throw e;
      }
      await wwMutexLock(l, null);
    }
  }
}

type Backoff = (locks: readonly WwMutex[], ctx: WwAcquireCtx) => Promise<void>;

interface DanceResult {
  outcome: "completed" | "deadlock";
  critical: number;
  findings: string[];
  records: ReturnType<Kernel["choice"]["records"]>;
}

/** Two transactions take {L1, L2} in opposite orders, each with a scheduling point inside. */
async function dance(policy: ChoicePolicy, backoff: Backoff, inject = false): Promise<DanceResult> {
  const k = new Kernel({
    policy,
    modules: [DMA_RESV_MODULE],
    options: { CONFIG_DEBUG_WW_MUTEX_SLOWPATH: inject },
  });
  const l1 = wwMutexInit(k, "L1", reservationWwClass);
  const l2 = wwMutexInit(k, "L2", reservationWwClass);
  let critical = 0;
  const body = (locks: WwMutex[]) => async () => {
    const ctx = wwAcquireInit(k, reservationWwClass);
    await backoff(locks, ctx);
    critical++;
    await k.sched.schedulePoint();
    for (const l of locks) {
      if (l.ctx === ctx || l.owner === k.sched.current) {
        wwMutexUnlock(l);
      }
    }
    wwAcquireFini(ctx);
  };
  let outcome: DanceResult["outcome"] = "completed";
  try {
    const errors = await k.run({ t1: body([l1, l2]), t2: body([l2, l1]) });
    for (const e of Object.values(errors)) {
      if (e) {
        throw e;
      }
    }
  } catch (e) {
    if (!(e instanceof RunAborted)) {
      throw e;
    }
    outcome = "deadlock";
  }
  return {
    outcome,
    critical,
    findings: k.findings.map((f) => `${f.kind}/${f.code}`),
    records: k.choice.records(),
  };
}

describe("the two-context dance", () => {
  it("right back-off completes under the first policy and seeds 1..50", async () => {
    const policies: ChoicePolicy[] = [firstPolicy()];
    for (let seed = 1; seed <= 50; seed++) {
      policies.push(new Kernel({ seed }).choice.policy);
    }
    let contended = 0;
    for (const p of policies) {
      const r = await dance(p, lockAllRight);
      expect(r.outcome).toBe("completed");
      expect(r.critical).toBe(2);
      expect(r.findings).toEqual([]);
      if (r.records.length > 2) {
        contended++;
      }
    }
    expect(contended).toBeGreaterThan(0);
  });

  it("right back-off completes under every schedule (exhaustive), also with -EDEADLK injection", async () => {
    for (const inject of [false, true]) {
      let runs = 0;
      const result = await exploreAll(async (policy) => {
        const r = await dance(policy, lockAllRight, inject);
        expect(r.outcome).toBe("completed");
        expect(r.critical).toBe(2);
        expect(r.findings).toEqual([]);
        runs++;
        return r.records;
      }, 20000);
      expect(result.exhausted).toBe(true);
      // 136 schedules without injection, 3740 with, at the time of writing
      expect(runs).toBeGreaterThan(inject ? 1000 : 100);
    }
  });

  it("H16: keeping locks and waiting without the context deadlocks under some schedule (and lockdep sees it)", async () => {
    let deadlocks = 0;
    let completed = 0;
    let lockdep = 0;
    await exploreAll(async (policy) => {
      const r = await dance(policy, lockAllHoldAndWait);
      if (r.outcome === "deadlock") {
        deadlocks++;
        expect(r.findings).toContain("deadlock/all-blocked");
      } else {
        completed++;
      }
      if (r.findings.includes("lockdep/recursive-locking")) {
        lockdep++;
      }
      return r.records;
    }, 20000);
    expect(deadlocks).toBeGreaterThan(0);
    expect(completed).toBeGreaterThan(0); // the bug hides in most schedules
    expect(lockdep).toBeGreaterThanOrEqual(deadlocks);
    // and a random seed finds it too
    let seedHit = false;
    for (let seed = 1; seed <= 50 && !seedHit; seed++) {
      seedHit =
        (await dance(new Kernel({ seed }).choice.policy, lockAllHoldAndWait)).outcome ===
        "deadlock";
    }
    expect(seedHit).toBe(true);
  });
});

describe("H16: debug checks of back-off mistakes", () => {
  it("locking again after -EDEADLK without unlocking everything WARNs", async () => {
    const k = new Kernel();
    const codes: string[] = [];
    await contend(k, reservationWwClass, async (ctx, l1) => {
      codes.push(await code(wwMutexLock(l1, ctx)));
      codes.push(await code(wwMutexLock(l1, ctx))); // still holding L2
    });
    expect(codes).toEqual(["EDEADLK", "EDEADLK"]);
    expect(warns(k, "forgot to unlock everything")).toBe(1);
  });

  it("slow-locking a different lock than the contended one WARNs", async () => {
    const k = new Kernel();
    const l3 = wwMutexInit(k, "L3", reservationWwClass);
    await contend(k, reservationWwClass, async (ctx, l1, l2) => {
      expect(await code(wwMutexLock(l1, ctx))).toBe("EDEADLK");
      wwMutexUnlock(l2);
      await wwMutexLockSlow(l3, ctx);
      wwMutexUnlock(l3);
    });
    expect(warns(k, "was locked instead")).toBe(1);
  });

  it("the slow path without a preceding -EDEADLK WARNs", async () => {
    const k = new Kernel();
    const l = wwMutexInit(k, "L", reservationWwClass);
    const ctx = wwAcquireInit(k, reservationWwClass);
    await wwMutexLockSlow(l, ctx);
    expect(warns(k, "without a preceding -EDEADLK")).toBe(1);
    wwMutexUnlock(l);
    wwAcquireFini(ctx);
  });

  it("slow-locking while still holding others WARNs and returns without the lock (as the kernel does)", async () => {
    const k = new Kernel();
    let ownedAfterSlow: boolean | null = null;
    await contend(k, reservationWwClass, async (ctx, l1) => {
      expect(await code(wwMutexLock(l1, ctx))).toBe("EDEADLK");
      await wwMutexLockSlow(l1, ctx); // L2 still held
      ownedAfterSlow = l1.owner === k.sched.current;
    });
    expect(ownedAfterSlow).toBe(false);
    expect(warns(k, "forgot to unlock everything")).toBe(1);
  });

  it("the fix: unlock everything, slow-lock the contended lock, then retry", async () => {
    const k = new Kernel();
    await contend(k, reservationWwClass, async (ctx, l1, l2) => {
      wwMutexUnlock(l2);
      await lockAllRight([l1, l2], ctx);
    });
    expect(unexpectedFindings(k)).toEqual([]);
  });

  it("mixing a context and NULL: lockdep recursion, then an ABBA deadlock ww cannot see", async () => {
    const k = new Kernel();
    const l1 = wwMutexInit(k, "L1", reservationWwClass);
    const l2 = wwMutexInit(k, "L2", reservationWwClass);
    const run = k.run({
      withCtx: async () => {
        const ctx = wwAcquireInit(k, reservationWwClass);
        await wwMutexLock(l1, ctx);
        await msleep(k, 2);
        await wwMutexLock(l2, ctx);
      },
      withoutCtx: async () => {
        await msleep(k, 1);
        await wwMutexLock(l2, null);
        await wwMutexLock(l1, null);
      },
    });
    await expect(run).rejects.toBeInstanceOf(RunAborted);
    const codes = k.findings.map((f) => `${f.kind}/${f.code}`);
    expect(codes).toContain("lockdep/recursive-locking");
    expect(codes).toContain("deadlock/all-blocked");
  });

  it("assuming -EDEADLK cannot happen with two locks breaks under CONFIG_DEBUG_WW_MUTEX_SLOWPATH", async () => {
    const make = () =>
      new Kernel({
        policy: replayPolicy([1]), // the first "ww-inject" choice injects
        modules: [DMA_RESV_MODULE],
        options: { CONFIG_DEBUG_WW_MUTEX_SLOWPATH: true },
      });
    const k = make();
    const a = wwMutexInit(k, "a", reservationWwClass);
    const b = wwMutexInit(k, "b", reservationWwClass);
    const ctx = wwAcquireInit(k, reservationWwClass);
    await wwMutexLock(a, ctx);
    expect(await code(wwMutexLock(b, ctx))).toBe("EDEADLK"); // naive code would give up here
    expect(wwMutexIsLocked(b)).toBe(false); // the lock was really taken and given back
    expect(ctx.contendingLock).toBe(b);
    expect(k.choice.records()).toEqual([{ kind: "ww-inject", count: 2, pick: 1 }]);
    wwMutexUnlock(a); // back off: drop everything, slow-lock the contended lock, retry
    await wwMutexLockSlow(b, ctx);
    await wwMutexLock(a, ctx);
    expect(ctx.acquired).toBe(2);
    wwMutexUnlock(a);
    wwMutexUnlock(b);
    wwAcquireFini(ctx);
    expect(unexpectedFindings(k)).toEqual([]);
    // option 0 never injects
    const k2 = new Kernel({
      modules: [DMA_RESV_MODULE],
      options: { CONFIG_DEBUG_WW_MUTEX_SLOWPATH: true },
    });
    const c2 = wwAcquireInit(k2, reservationWwClass);
    await wwMutexLock(wwMutexInit(k2, "a", reservationWwClass), c2);
    await wwMutexLock(wwMutexInit(k2, "b", reservationWwClass), c2);
    expect(c2.acquired).toBe(2);
  });
});

describe("re-locking a held ww_mutex without its context", () => {
  it("hangs as the kernel's mutex does: lockdep reports it, then every thread is blocked", async () => {
    const { Kernel, RunAborted } = await import("@dmasim/kernel");
    const { wwMutexInit, wwMutexLock, defineWwClass } = await import("../src/index");
    const k = new Kernel();
    const cls = defineWwClass("self");
    const lock = wwMutexInit(k, "L", cls);
    const run = k.run({
      t: async () => {
        await wwMutexLock(lock, null);
        await wwMutexLock(lock, null);
      },
    });
    await expect(run).rejects.toBeInstanceOf(RunAborted);
    expect(k.findings.map((f) => [f.kind, f.code])).toEqual([
      ["lockdep", "recursive-locking"],
      ["deadlock", "all-blocked"],
    ]);
    expect(String(k.findings[1]?.details.text)).toContain("held by this thread itself");
  });
});
