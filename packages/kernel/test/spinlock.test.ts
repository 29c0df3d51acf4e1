import { describe, expect, it } from "vitest";
import {
  KernelBug,
  Kernel,
  preemptDisable,
  preemptEnable,
  rcuReadLock,
  rcuReadUnlock,
  spinIsLocked,
  spinLock,
  spinLockInit,
  spinLockIrqsave,
  spinTrylock,
  spinUnlock,
  spinUnlockIrqrestore,
} from "../src/index";

describe("spinlock", () => {
  it("taking it enters atomic context; releasing leaves it", () => {
    const k = new Kernel();
    const l = spinLockInit(k, "l");
    const me = k.sched.current;
    spinLock(l);
    expect(spinIsLocked(l)).toBe(true);
    expect(l.owner).toBe(me);
    expect(me.preemptCount).toBe(1);
    expect(me.inAtomic()).toBe(true);
    spinUnlock(l);
    expect(spinIsLocked(l)).toBe(false);
    expect(me.preemptCount).toBe(0);
    expect(me.inAtomic()).toBe(false);
    expect(k.findings).toEqual([]);
  });

  it("irqsave/irqrestore nest and restore the previous interrupt state", () => {
    const k = new Kernel();
    const a = spinLockInit(k, "a");
    const b = spinLockInit(k, "b");
    const me = k.sched.current;
    spinLockIrqsave(a);
    expect(me.irqsDisabled).toBe(true);
    spinLockIrqsave(b);
    spinUnlockIrqrestore(b);
    expect(me.irqsDisabled).toBe(true);
    spinUnlockIrqrestore(a);
    expect(me.irqsDisabled).toBe(false);
    expect(me.preemptCount).toBe(0);
  });

  it("trylock fails on a held lock without any report", () => {
    const k = new Kernel();
    const l = spinLockInit(k, "l");
    expect(spinTrylock(l)).toBe(true);
    expect(spinTrylock(l)).toBe(false);
    expect(k.sched.current.preemptCount).toBe(1);
    spinUnlock(l);
    expect(k.findings).toEqual([]);
  });

  it("recursion is a lockdep splat, then the spinlock-debug BUG", () => {
    const k = new Kernel();
    const l = spinLockInit(k, "l");
    spinLock(l);
    expect(() => spinLock(l)).toThrow(KernelBug);
    expect(k.findings.map((f) => [f.kind, f.code])).toEqual([
      ["lockdep", "recursive-locking"],
      ["bug", "kernel/locking/spinlock_debug.c:spin_bug"],
    ]);
  });

  it("a lock held by a thread that slept is a lockup BUG", async () => {
    const k = new Kernel({ options: { CONFIG_DEBUG_ATOMIC_SLEEP: false } });
    const l = spinLockInit(k, "l");
    const err = await k
      .run({
        sleeper: async () => {
          spinLock(l);
          await k.sched.block("something", { timeoutNs: 1000 });
          spinUnlock(l);
        },
        other: async () => {
          spinLock(l);
        },
      })
      .then(
        () => null,
        (e: unknown) => e,
      );
    expect((err as Error).name).toBe("RunAborted");
    expect(k.findings.find((f) => f.kind === "bug")?.summary).toMatch(/spinlock lockup suspected/);
  });

  it("unlocking an unlocked lock, or another thread's lock, is a BUG", async () => {
    const k = new Kernel();
    const l = spinLockInit(k, "l");
    expect(() => spinUnlock(l)).toThrow(/spinlock already unlocked/);
    const k2 = new Kernel();
    const l2 = spinLockInit(k2, "l2");
    spinLock(l2);
    await k2.sched.block("x", { timeoutNs: 1 }); // init sleeps with it held (reported)
    const err = await k2.run({ t: async () => spinUnlock(l2) }).then(
      () => null,
      (e: unknown) => e,
    );
    expect((err as Error).name).toBe("RunAborted");
    expect(k2.findings.find((f) => f.kind === "bug")?.summary).toMatch(/spinlock wrong owner/);
  });

  it("preempt_disable nests; an unbalanced preempt_enable is a WARN", () => {
    const k = new Kernel();
    const me = k.sched.current;
    preemptDisable(k);
    preemptDisable(k);
    expect(me.preemptCount).toBe(2);
    preemptEnable(k);
    preemptEnable(k);
    expect(me.preemptCount).toBe(0);
    expect(k.findings).toEqual([]);
    preemptEnable(k);
    expect(me.preemptCount).toBe(0);
    expect(k.findings.map((f) => f.code)).toEqual(["kernel/sched/core.c:preempt_count_sub"]);
  });

  it("rcu_read_lock nests without a lockdep report and is atomic context", () => {
    const k = new Kernel();
    const me = k.sched.current;
    rcuReadLock(k);
    rcuReadLock(k);
    expect(me.rcuReadDepth).toBe(2);
    expect(me.inAtomic()).toBe(true);
    rcuReadUnlock(k);
    rcuReadUnlock(k);
    expect(me.inAtomic()).toBe(false);
    expect(k.findings).toEqual([]);
    rcuReadUnlock(k);
    expect(me.rcuReadDepth).toBe(0);
    expect(k.findings.map((f) => f.code)).toEqual(["bad-unlock-balance"]);
  });

  it("the rcu lock map is per kernel", () => {
    const a = new Kernel();
    const b = new Kernel();
    rcuReadLock(a);
    expect(b.lockdep.heldLocks(b.sched.init)).toEqual([]);
    expect(a.lockdep.heldLocks(a.sched.init).map((h) => h.map.name)).toEqual(["rcu_read_lock"]);
  });
});
