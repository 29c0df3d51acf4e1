import { describe, expect, it } from "vitest";
import {
  Kernel,
  RunAborted,
  encodeReplayToken,
  initCompletion,
  complete,
  waitForCompletion,
  waitForCompletionTimeout,
  msleep,
  mutexInit,
  mutexLock,
  mutexUnlock,
  mutexLockInterruptible,
  isKernelError,
  replayPolicy,
  randomPolicy,
} from "../src/index";

describe("scheduler", () => {
  it("runs threads to completion, one at a time, deterministically", async () => {
    const k = new Kernel();
    const log: string[] = [];
    const m = mutexInit(k, "m");
    await k.run({
      a: async () => {
        for (let i = 0; i < 3; i++) {
          await mutexLock(m);
          log.push(`a${i}`);
          mutexUnlock(m);
        }
      },
      b: async () => {
        for (let i = 0; i < 3; i++) {
          await mutexLock(m);
          log.push(`b${i}`);
          mutexUnlock(m);
        }
      },
    });
    // option 0 everywhere: no preemption, a runs until done
    expect(log).toEqual(["a0", "a1", "a2", "b0", "b1", "b2"]);
    expect(k.findings).toEqual([]);
  });

  it("replays a recorded choice sequence exactly; other seeds interleave differently", async () => {
    async function once(policySeed: number | number[]) {
      const k = new Kernel(
        typeof policySeed === "number"
          ? { seed: policySeed }
          : { policy: replayPolicy(policySeed) },
      );
      const log: string[] = [];
      const m = mutexInit(k, "m");
      const body = (n: string) => async () => {
        for (let i = 0; i < 4; i++) {
          await mutexLock(m);
          log.push(`${n}${i}`);
          mutexUnlock(m);
        }
      };
      await k.run({ a: body("a"), b: body("b"), c: body("c") });
      return { log, seq: k.choice.sequence(), dmesg: k.dmesg.format() };
    }
    const seen = new Set<string>();
    for (let seed = 1; seed <= 10; seed++) {
      const r = await once(seed);
      const again = await once(r.seq);
      expect(again.log).toEqual(r.log);
      expect(again.dmesg).toEqual(r.dmesg);
      expect(again.seq).toEqual(r.seq);
      seen.add(r.log.join(","));
    }
    expect(seen.size).toBeGreaterThan(1);
    expect(encodeReplayToken([1, 0, 35])).toBe("v1.1-0-z");
  });

  it("detects a deadlock, names each thread and what it waits for, and aborts the run", async () => {
    const k = new Kernel();
    const a = mutexInit(k, "A");
    const b = mutexInit(k, "B");
    const run = k.run({
      t1: async () => {
        await mutexLock(a);
        await msleep(k, 1);
        await mutexLock(b);
      },
      t2: async () => {
        await mutexLock(b);
        await msleep(k, 1);
        await mutexLock(a);
      },
    });
    await expect(run).rejects.toBeInstanceOf(RunAborted);
    const dl = k.findings.find((f) => f.kind === "deadlock");
    expect(dl?.summary).toContain("t1");
    expect(String(dl?.details.text)).toMatch(/t1\/\d waits for mutex B/);
    expect(String(dl?.details.text)).toMatch(/t2\/\d waits for mutex A/);
    // lockdep saw the inversion too
    expect(k.findings.some((f) => f.kind === "lockdep" && f.code === "circular-dependency")).toBe(
      true,
    );
  });

  it("times out waits on the simulated clock", async () => {
    const k = new Kernel({ hz: 1000 });
    const c = initCompletion(k, "done");
    const left = await waitForCompletionTimeout(c, 50);
    expect(left).toBe(0);
    expect(k.clock.now()).toBe(50_000_000);
    const results: number[] = [];
    await k.run({
      waiter: async () => {
        results.push(await waitForCompletionTimeout(c, 100));
      },
      completer: async () => {
        await msleep(k, 10);
        complete(c);
      },
    });
    expect(results[0]).toBeGreaterThan(0);
    await k.run({
      w: () => waitForCompletion(c).then(() => undefined),
      x: async () => complete(c),
    });
  });

  it("interruptible waits end with EINTR on a signal", async () => {
    const k = new Kernel();
    const m = mutexInit(k, "m");
    await mutexLock(m);
    const t = k.spawn("sig", async () => {
      await mutexLockInterruptible(m);
    });
    await msleep(k, 1);
    k.sched.signal(t);
    await k.sched.join([t]);
    expect(isKernelError(t.error, "EINTR")).toBe(true);
    mutexUnlock(m);
  });

  it("a different seed policy name is reported", () => {
    expect(randomPolicy(7).name).toBe("random(7)");
  });
});

describe("scheduler: more", () => {
  it("option 0 continues the running thread; spawned threads first run at a scheduling point", async () => {
    const k = new Kernel();
    const log: string[] = [];
    const t = k.spawn("t", async () => {
      log.push("t");
    });
    log.push("init-before");
    expect(t.state).toBe("runnable");
    await k.sched.join([t]);
    log.push("init-after");
    expect(log).toEqual(["init-before", "t", "init-after"]);
    expect(t.state).toBe("done");
  });

  it("which runnable thread runs is a sched choice point naming the thread", async () => {
    const points: { kind: string; count: number; thread: number }[] = [];
    const k = new Kernel({
      policy: {
        name: "spy-last",
        pick: (p) => (points.push({ kind: p.kind, count: p.count, thread: p.thread }), p.count - 1),
      },
    });
    const log: string[] = [];
    await k.run({
      a: async () => {
        log.push("a1");
        await k.sched.schedulePoint();
        log.push("a2");
      },
      b: async () => {
        log.push("b1");
        await k.sched.schedulePoint();
        log.push("b2");
      },
    });
    expect(points.every((p) => p.kind === "sched" || p.kind === "preempt")).toBe(true);
    // a yield with another thread runnable offers a preemption; a thread ending only picks the next
    expect(points.some((p) => p.kind === "preempt")).toBe(true);
    expect(points.some((p) => p.kind === "sched")).toBe(true);
    // always the last runnable: the yielding thread is preempted each time
    expect(log).toEqual(["b1", "a1", "b2", "a2"]);
    expect(k.sched.preemptions).toBeGreaterThan(0);
  });

  it("a scheduling point with nobody else runnable makes no choice", async () => {
    const k = new Kernel({ seed: 1 });
    await k.sched.schedulePoint();
    await k.sched.schedulePoint();
    expect(k.choice.length).toBe(0);
    expect(k.sched.switches).toBe(2);
  });

  it("run resolves with each thread's error; a KernelError does not stop the run", async () => {
    const k = new Kernel();
    const res = await k.run({
      ok: async () => undefined,
      bad: async () => {
        throw new Error("boom");
      },
      later: async () => {
        await msleep(k, 5);
      },
    });
    expect(res.ok).toBeUndefined();
    expect((res.bad as Error).message).toBe("boom");
    expect(res.later).toBeUndefined();
    expect(k.sched.abortReason).toBeNull();
  });

  it("deadlock: every thread is killed and init gets RunAborted with reason deadlock", async () => {
    const k = new Kernel();
    const c = initCompletion(k, "never");
    let after = false;
    const run = k.run({
      w1: async () => {
        await waitForCompletion(c);
        after = true;
      },
      w2: async () => {
        await waitForCompletion(c);
        after = true;
      },
    });
    const err = await run.then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(RunAborted);
    expect((err as RunAborted).reason).toBe("deadlock");
    expect(after).toBe(false);
    expect(k.sched.all.map((t) => t.state)).toEqual(["running", "dead", "dead"]);
    const dl = k.findings.filter((f) => f.kind === "deadlock");
    expect(dl).toHaveLength(1);
    expect(dl[0]!.code).toBe("all-blocked");
    expect(dl[0]!.details.threads).toEqual([
      { thread: "init", id: 0, waitingFor: expect.stringMatching(/^thread w1\/1 to exit$/) },
      { thread: "w1", id: 1, waitingFor: "waitqueue never" },
      { thread: "w2", id: 2, waitingFor: "waitqueue never" },
    ]);
    expect(k.dmesg.format()).toContain("INFO: task hung");
    // aborted: no new threads, no more sleeping
    expect(() => k.spawn("x", async () => undefined)).toThrow(/aborted/);
    await expect(msleep(k, 1)).rejects.toBeInstanceOf(RunAborted);
    expect(k.findings.filter((f) => f.kind === "deadlock")).toHaveLength(1);
  });

  it("init alone blocking forever is a deadlock too", async () => {
    const k = new Kernel();
    const c = initCompletion(k, "c");
    await expect(waitForCompletion(c)).rejects.toBeInstanceOf(RunAborted);
    expect(k.findings[0]?.details.threads).toEqual([
      { thread: "init", id: 0, waitingFor: "waitqueue c" },
    ]);
  });

  it("a thread that ends holding a lock is reported; its waiters then deadlock", async () => {
    const k = new Kernel();
    const m = mutexInit(k, "&dev->lock", "dev_lock");
    const run = k.run({
      leaker: async () => {
        await mutexLock(m);
      },
      waiter: async () => {
        await msleep(k, 1);
        await mutexLock(m);
      },
    });
    await expect(run).rejects.toBeInstanceOf(RunAborted);
    const held = k.findings.find((f) => f.code === "held-at-exit");
    expect(held?.kind).toBe("lockdep");
    expect(held?.thread).toBe("leaker");
    expect(held?.details.held).toEqual(["&dev->lock"]);
    expect(String(held?.details.text)).toContain(
      "leaker/1 is leaving the kernel with locks still held!",
    );
    const dl = k.findings.find((f) => f.kind === "deadlock");
    expect(String(dl?.details.text)).toMatch(
      /waiter\/2 waits for mutex &dev->lock \(held by leaker\/1\)/,
    );
  });

  it("join() from a thread waits for the others, never for init", async () => {
    const k = new Kernel();
    const log: string[] = [];
    await k.run({
      boss: async () => {
        k.spawn("helper", async () => {
          await msleep(k, 3);
          log.push("helper");
        });
        await k.sched.join();
        log.push("boss");
      },
    });
    expect(log).toEqual(["helper", "boss"]);
    expect(k.findings).toEqual([]);
  });

  it("a wake-up and a timeout never both count", async () => {
    const k = new Kernel({ hz: 1000 });
    const c = initCompletion(k, "c");
    const got: number[] = [];
    await k.run({
      waiter: async () => {
        got.push(await waitForCompletionTimeout(c, 10));
      },
      waker: async () => {
        await msleep(k, 10); // fires at the same instant as the waiter's timeout
        complete(c);
      },
    });
    // the waiter's timer (armed first) fires first: it sees the completion not yet done
    expect(got).toEqual([0]);
    expect(c.done).toBe(1);
    expect(k.clock.now()).toBe(10_000_000);
  });

  it("a timer that became due because a thread advanced the clock fires at the next scheduling point", async () => {
    // always switch: the sleeper can only run first if its timer fired at busy's scheduling point
    const k = new Kernel({ hz: 1000, policy: { name: "last", pick: (p) => p.count - 1 } });
    const log: string[] = [];
    await k.run({
      sleeper: async () => {
        await msleep(k, 5);
        log.push(`sleeper@${k.clock.now()}`);
      },
      busy: async () => {
        await k.sched.schedulePoint();
        k.clock.advance(20_000_000); // mdelay(20): busy-waiting moves time
        await k.sched.schedulePoint();
        log.push("busy");
      },
    });
    expect(log).toEqual(["sleeper@20000000", "busy"]);
  });

  it("a pending signal ends an interruptible sleep at once, not an uninterruptible one", async () => {
    const k = new Kernel();
    k.sched.signal(k.sched.init);
    expect(await k.sched.block("x", { interruptible: true })).toBe("signal");
    expect(await k.sched.block("y", { timeoutNs: 1000 })).toBe("timeout");
    expect(k.clock.now()).toBe(1000);
    expect(await k.sched.block("z", { timeoutNs: 0 })).toBe("timeout");
  });

  it("wake() of a thread that is not blocked returns false", () => {
    const k = new Kernel();
    expect(k.sched.wake(k.sched.init)).toBe(false);
  });
});
