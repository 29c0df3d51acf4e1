import { describe, expect, it } from "vitest";
import {
  Kernel,
  RunAborted,
  isKernelError,
  msleep,
  mutexDestroy,
  mutexInit,
  mutexIsLocked,
  mutexLock,
  mutexLockInterruptible,
  mutexTrylock,
  mutexUnlock,
} from "../src/index";

describe("mutex", () => {
  it("tracks its owner; trylock and is_locked", async () => {
    const k = new Kernel();
    const m = mutexInit(k, "m");
    expect(mutexIsLocked(m)).toBe(false);
    await mutexLock(m);
    expect(m.owner).toBe(k.sched.init);
    expect(mutexIsLocked(m)).toBe(true);
    expect(k.lockdep.isHeld(m.dep)).toBe(true);
    expect(mutexTrylock(m)).toBe(false);
    mutexUnlock(m);
    expect(m.owner).toBeNull();
    expect(mutexTrylock(m)).toBe(true);
    expect(m.owner).toBe(k.sched.init);
    mutexUnlock(m);
    expect(k.findings).toEqual([]);
  });

  it("contended: the waiter sleeps until the owner unlocks", async () => {
    const k = new Kernel();
    const m = mutexInit(k, "m");
    const log: string[] = [];
    await k.run({
      a: async () => {
        await mutexLock(m);
        log.push("a locked");
        await msleep(k, 10);
        log.push("a unlocks");
        mutexUnlock(m);
      },
      b: async () => {
        await msleep(k, 1);
        log.push("b tries");
        await mutexLock(m);
        log.push(`b locked at ${k.clock.now()}`);
        mutexUnlock(m);
      },
    });
    expect(log).toEqual(["a locked", "b tries", "a unlocks", "b locked at 10000000"]);
  });

  it("a woken waiter that loses the race keeps its place at the head of the queue", async () => {
    const k = new Kernel();
    const m = mutexInit(k, "m");
    const order: string[] = [];
    await mutexLock(m);
    const w1 = k.spawn("w1", async () => {
      await mutexLock(m);
      order.push("w1");
      mutexUnlock(m);
    });
    const w2 = k.spawn("w2", async () => {
      await msleep(k, 1);
      await mutexLock(m);
      order.push("w2");
      mutexUnlock(m);
    });
    await msleep(k, 5); // both are queued: w1 then w2
    expect(m.waiters.map((t) => t.name)).toEqual(["w1", "w2"]);
    mutexUnlock(m); // wakes w1 ...
    expect(mutexTrylock(m)).toBe(true); // ... but init steals the lock before w1 runs
    await msleep(k, 1); // w1 runs, finds it taken, sleeps again
    expect(m.waiters.map((t) => t.name)).toEqual(["w1", "w2"]);
    mutexUnlock(m);
    await k.sched.join([w1, w2]);
    expect(order).toEqual(["w1", "w2"]);
  });

  it("interruptible lock: a signal ends the wait with EINTR and leaves no trace in lockdep or the queue", async () => {
    const k = new Kernel();
    const m = mutexInit(k, "m");
    await mutexLock(m);
    const t = k.spawn("t", async () => {
      await mutexLockInterruptible(m);
    });
    await msleep(k, 1);
    expect(m.waiters).toEqual([t]);
    k.sched.signal(t);
    await k.sched.join([t]);
    expect(isKernelError(t.error, "EINTR")).toBe(true);
    expect(m.waiters).toEqual([]);
    expect(k.lockdep.heldLocks(t)).toEqual([]);
    expect(m.owner).toBe(k.sched.init);
    mutexUnlock(m);
    // no held-at-exit report for t
    expect(k.findings).toEqual([]);
  });

  it("an uninterruptible lock ignores signals", async () => {
    const k = new Kernel();
    const m = mutexInit(k, "m");
    await mutexLock(m);
    const t = k.spawn("t", async () => {
      await mutexLock(m);
      mutexUnlock(m);
    });
    await msleep(k, 1);
    k.sched.signal(t);
    await msleep(k, 1);
    expect(t.state).toBe("blocked");
    mutexUnlock(m);
    await k.sched.join([t]);
    expect(t.error).toBeUndefined();
  });

  it("unlock by a non-owner is a WARN (CONFIG_DEBUG_MUTEXES) and a lockdep bad unlock", async () => {
    const k = new Kernel();
    const m = mutexInit(k, "m");
    await mutexLock(m);
    await k.run({
      thief: async () => {
        mutexUnlock(m);
      },
    });
    expect(k.findings.map((f) => [f.kind, f.code])).toEqual([
      ["warn", "kernel/locking/mutex.c:__mutex_unlock_slowpath"],
      ["lockdep", "bad-unlock-balance"],
    ]);
    expect(k.findings[0]!.summary).toContain("m owned by init/0, released by thief/1");
  });

  it("unlocking an unlocked mutex is a bad unlock balance", () => {
    const k = new Kernel();
    const m = mutexInit(k, "m");
    mutexUnlock(m);
    expect(k.findings.map((f) => f.code)).toEqual(["bad-unlock-balance"]);
  });

  it("CONFIG_DEBUG_MUTEXES=n: no owner WARN", async () => {
    const k = new Kernel({ options: { CONFIG_DEBUG_MUTEXES: false } });
    const m = mutexInit(k, "m");
    await mutexLock(m);
    await k.run({ thief: async () => mutexUnlock(m) });
    mutexDestroy(mutexInit(k, "held"));
    expect(k.findings.map((f) => f.kind)).toEqual(["lockdep"]);
  });

  it("mutex_destroy of a held mutex is a WARN", async () => {
    const k = new Kernel();
    const m = mutexInit(k, "m");
    mutexDestroy(m);
    expect(k.findings).toEqual([]);
    await mutexLock(m);
    mutexDestroy(m);
    expect(k.findings.map((f) => f.code)).toEqual(["kernel/locking/mutex-debug.c:mutex_destroy"]);
    mutexUnlock(m);
  });

  it("ABBA between two threads deadlocks under some schedule, and lockdep reports it in every one", async () => {
    let deadlocks = 0;
    for (let seed = 0; seed < 20; seed++) {
      const k = new Kernel({ seed });
      const a = mutexInit(k, "A");
      const b = mutexInit(k, "B");
      const err = await k
        .run({
          t1: async () => {
            await mutexLock(a);
            await mutexLock(b);
            mutexUnlock(b);
            mutexUnlock(a);
          },
          t2: async () => {
            await mutexLock(b);
            await mutexLock(a);
            mutexUnlock(a);
            mutexUnlock(b);
          },
        })
        .then(
          () => null,
          (e: unknown) => e,
        );
      if (err) {
        expect(err).toBeInstanceOf(RunAborted);
        deadlocks++;
      }
      expect(k.findings.filter((f) => f.code === "circular-dependency")).toHaveLength(1);
    }
    expect(deadlocks).toBeGreaterThan(0);
    expect(deadlocks).toBeLessThan(20);
  });
});
