import { describe, expect, it } from "vitest";
import {
  BUG_ON,
  KernelBug,
  Kernel,
  RunAborted,
  WARN_ON,
  WARN_ON_ONCE,
  might_sleep,
  mutexInit,
  mutexLock,
  mutexUnlock,
  preemptDisable,
  preemptEnable,
  rcuReadLock,
  rcuReadUnlock,
  spinLock,
  spinLockInit,
  spinLockIrqsave,
  spinUnlock,
  spinUnlockIrqrestore,
} from "../src/index";

describe("WARN_ON", () => {
  it("does nothing when the condition is false", () => {
    const k = new Kernel();
    expect(WARN_ON(k, false, "a.c:f")).toBe(false);
    expect(k.findings).toEqual([]);
    expect(k.dmesg.records).toEqual([]);
  });

  it("prints a cut-here splat, records a warn finding and returns true", () => {
    const k = new Kernel();
    expect(WARN_ON(k, true, "drivers/x.c:x_release", "x still mapped", { id: 7 })).toBe(true);
    expect(k.findings).toHaveLength(1);
    const f = k.findings[0]!;
    expect(f.kind).toBe("warn");
    expect(f.code).toBe("drivers/x.c:x_release");
    expect(f.summary).toBe("WARNING at drivers/x.c:x_release: x still mapped");
    expect(f.details).toEqual({ site: "drivers/x.c:x_release", id: 7 });
    expect(f.thread).toBe("init");
    const log = k.dmesg.format();
    expect(log).toContain("------------[ cut here ]------------");
    expect(log).toContain("WARNING: CPU: 0 PID: 0 at drivers/x.c:x_release");
    expect(log).toContain("x still mapped");
    expect(log).toContain("---[ end trace ]---");
  });

  it("WARN_ON_ONCE warns once per site per kernel but returns the condition every time", () => {
    const k = new Kernel();
    expect(WARN_ON_ONCE(k, true, "a.c:f")).toBe(true);
    expect(WARN_ON_ONCE(k, true, "a.c:f")).toBe(true);
    expect(WARN_ON_ONCE(k, false, "a.c:f")).toBe(false);
    expect(WARN_ON_ONCE(k, true, "b.c:g")).toBe(true);
    expect(k.findings.map((f) => f.code)).toEqual(["a.c:f", "b.c:g"]);
    // another kernel has its own "once" state
    const k2 = new Kernel();
    expect(WARN_ON_ONCE(k2, true, "a.c:f")).toBe(true);
    expect(k2.findings).toHaveLength(1);
  });
});

describe("BUG_ON", () => {
  it("does nothing when the condition is false", () => {
    const k = new Kernel();
    BUG_ON(k, false, "a.c:f");
    expect(k.findings).toEqual([]);
  });

  it("in init: records a bug finding, throws KernelBug and stops the run", () => {
    const k = new Kernel();
    let err: unknown;
    try {
      BUG_ON(k, true, "mm/foo.c:bar", "bad page");
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(KernelBug);
    expect((err as KernelBug).site).toBe("mm/foo.c:bar");
    expect((err as KernelBug).message).toBe("kernel BUG at mm/foo.c:bar! bad page");
    expect(k.findings.map((f) => [f.kind, f.code])).toEqual([["bug", "mm/foo.c:bar"]]);
    expect(k.dmesg.format()).toContain("kernel BUG at mm/foo.c:bar!");
    expect(k.sched.abortReason?.reason).toBe("bug");
    expect(() => k.spawn("late", async () => undefined)).toThrow(/aborted/);
  });

  it("in a thread: the thread dies, the others are killed and init gets RunAborted", async () => {
    const k = new Kernel();
    const m = mutexInit(k, "m");
    let otherFinished = false;
    const run = k.run({
      holder: async () => {
        await mutexLock(m);
        await k.sched.schedulePoint();
        await mutexLock(m); // never gets it
        otherFinished = true;
      },
      crasher: async () => {
        BUG_ON(k, true, "drivers/crash.c:crash");
      },
    });
    const err = await run.then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(RunAborted);
    expect((err as RunAborted).reason).toBe("bug");
    expect((err as RunAborted).cause).toBeInstanceOf(KernelBug);
    expect(otherFinished).toBe(false);
    const states = Object.fromEntries(k.sched.all.map((t) => [t.name, t.state]));
    expect(states).toEqual({ init: "running", holder: "dead", crasher: "done" });
    expect(k.findings.filter((f) => f.kind === "bug")).toHaveLength(1);
    expect(k.findings.find((f) => f.kind === "bug")?.thread).toBe("crasher");
    // the machine stays dead: no more sleeping in init
    await expect(k.sched.block("anything")).rejects.toBeInstanceOf(RunAborted);
    expect(k.findings.filter((f) => f.kind === "deadlock")).toEqual([]);
  });
});

describe("might_sleep", () => {
  it("is silent outside atomic context", () => {
    const k = new Kernel();
    might_sleep(k, "here");
    expect(k.findings).toEqual([]);
  });

  it("reports sleeping under a spinlock, with the held locks", () => {
    const k = new Kernel();
    const l = spinLockInit(k, "&dev->lock", "dev_lock");
    spinLock(l);
    might_sleep(k, "mutex_lock(x)");
    spinUnlock(l);
    expect(k.findings).toHaveLength(1);
    const f = k.findings[0]!;
    expect(f.kind).toBe("lockdep");
    expect(f.code).toBe("sleep-in-atomic");
    expect(f.summary).toBe("BUG: sleeping function called from invalid context at mutex_lock(x)");
    expect(f.details).toMatchObject({ preemptCount: 1, irqsDisabled: false, held: ["&dev->lock"] });
    expect(k.dmesg.format()).toContain("in_atomic(): 1, irqs_disabled(): 0");
  });

  it("reports with interrupts disabled, with preemption disabled and under rcu_read_lock", () => {
    const k = new Kernel();
    const l = spinLockInit(k, "l");
    spinLockIrqsave(l);
    might_sleep(k, "a");
    spinUnlockIrqrestore(l);
    preemptDisable(k);
    might_sleep(k, "b");
    preemptEnable(k);
    rcuReadLock(k);
    might_sleep(k, "c");
    rcuReadUnlock(k);
    might_sleep(k, "d");
    expect(k.findings.map((f) => f.details.site)).toEqual(["a", "b", "c"]);
    expect(k.findings[0]!.details).toMatchObject({ irqsDisabled: true });
    expect(k.findings[2]!.details).toMatchObject({ rcuReadDepth: 1 });
  });

  it("is off with CONFIG_DEBUG_ATOMIC_SLEEP=n", () => {
    const k = new Kernel({ options: { CONFIG_DEBUG_ATOMIC_SLEEP: false } });
    preemptDisable(k);
    might_sleep(k, "x");
    preemptEnable(k);
    expect(k.findings).toEqual([]);
  });

  it("a sleeping lock taken in atomic context is reported, and the thread is not preempted there", async () => {
    const k = new Kernel();
    const l = spinLockInit(k, "l");
    const m = mutexInit(k, "m");
    const order: string[] = [];
    await k.run({
      a: async () => {
        spinLock(l);
        await mutexLock(m); // uncontended: might_sleep splat, but no switch in atomic context
        order.push("a-locked");
        mutexUnlock(m);
        spinUnlock(l);
      },
      b: async () => {
        order.push("b");
      },
    });
    expect(order).toEqual(["a-locked", "b"]);
    expect(k.findings.map((f) => f.code)).toEqual(["sleep-in-atomic"]);
  });
});

describe("after a BUG", () => {
  it("lockdep is off for the rest of the run, as oops_enter() turns debug_locks off", async () => {
    const { Kernel, BUG_ON, mutexInit, mutexLock } = await import("../src/index");
    const k = new Kernel();
    const m = mutexInit(k, "m");
    const t = k.spawn("t", async () => {
      await mutexLock(m);
      BUG_ON(k, true, "test.c:f");
    });
    await expect(k.sched.join([t])).rejects.toThrow(/BUG/);
    // the dead thread held m: no "lock held when returning to user space" splat after the oops
    expect(k.findings.map((f) => f.kind)).toEqual(["bug"]);
    expect(k.lockdep.enabled).toBe(false);
  });
});
