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
