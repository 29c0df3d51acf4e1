import { describe, expect, it } from "vitest";
import {
  Kernel,
  downRead,
  downReadTrylock,
  downWrite,
  downWriteKillable,
  initRwsem,
  isKernelError,
  msleep,
  upRead,
  upWrite,
} from "../src/index";

describe("rwsem", () => {
  it("readers share, a writer excludes", async () => {
    const k = new Kernel();
    const s = initRwsem(k, "s");
    const log: string[] = [];
    await k.run({
      r1: async () => {
        await downRead(s);
        log.push(`r1 in ${k.clock.now()}`);
        await msleep(k, 10);
        upRead(s);
      },
      r2: async () => {
        await downRead(s);
        log.push(`r2 in ${k.clock.now()}`);
        await msleep(k, 10);
        upRead(s);
      },
      w: async () => {
        await msleep(k, 1);
        await downWrite(s);
        log.push(`w in ${k.clock.now()}`);
        upWrite(s);
      },
    });
    expect(log).toEqual(["r1 in 0", "r2 in 0", "w in 10000000"]);
    expect(k.findings).toEqual([]);
  });

  it("fairness: a waiting writer stops new readers, and is served before them", async () => {
    const k = new Kernel();
    const s = initRwsem(k, "s");
    const log: string[] = [];
    await k.run({
      r1: async () => {
        await downRead(s);
        await msleep(k, 10);
        log.push("r1 out");
        upRead(s);
      },
      w: async () => {
        await msleep(k, 1);
        await downWrite(s);
        log.push("w in");
        await msleep(k, 5);
        log.push("w out");
        upWrite(s);
      },
      r2: async () => {
        await msleep(k, 2);
        expect(downReadTrylock(s)).toBe(false);
        await downRead(s);
        log.push("r2 in");
        upRead(s);
      },
    });
    expect(log).toEqual(["r1 out", "w in", "w out", "r2 in"]);
  });

  it("readers queued behind a writer are all let in when it leaves", async () => {
    const k = new Kernel();
    const s = initRwsem(k, "s");
    const inside: number[] = [];
    await downWrite(s);
    const readers = [1, 2, 3].map((i) =>
      k.spawn(`r${i}`, async () => {
        await downRead(s);
        inside.push(k.clock.now());
        await msleep(k, 1);
        upRead(s);
      }),
    );
    await msleep(k, 5);
    expect(s.waiters.map((w) => w.task.name)).toEqual(["r1", "r2", "r3"]);
    upWrite(s);
    await k.sched.join(readers);
    expect(inside).toEqual([5_000_000, 5_000_000, 5_000_000]);
  });

  it("a killed writer at the head of the queue lets the readers behind it in", async () => {
    const k = new Kernel();
    const s = initRwsem(k, "s");
    await downRead(s);
    const w = k.spawn("w", async () => {
      await downWriteKillable(s);
    });
    const r = k.spawn("r", async () => {
      await msleep(k, 1);
      await downRead(s);
      upRead(s);
    });
    await msleep(k, 2);
    expect(s.waiters.map((x) => x.task.name)).toEqual(["w", "r"]);
    k.sched.signal(w);
    await k.sched.join([w, r]);
    expect(isKernelError(w.error, "EINTR")).toBe(true);
    expect(r.error).toBeUndefined();
    expect(r.state).toBe("done");
    expect(s.waiters).toEqual([]);
    upRead(s);
    expect(k.findings).toEqual([]);
  });

  it("trylock takes a free or read-held semaphore, not a write-held one", async () => {
    const k = new Kernel();
    const s = initRwsem(k, "s");
    expect(downReadTrylock(s)).toBe(true);
    expect(s.readers.has(k.sched.init)).toBe(true);
    upRead(s);
    await downWrite(s);
    expect(downReadTrylock(s)).toBe(false);
    upWrite(s);
    expect(s.writer).toBeNull();
  });

  it("releasing what is not held is a bad unlock balance", () => {
    const k = new Kernel();
    const s = initRwsem(k, "s");
    upRead(s);
    upWrite(s);
    expect(k.findings.map((f) => f.code)).toEqual(["bad-unlock-balance"]);
  });

  it("down_read is a sleeping function", () => {
    const k = new Kernel();
    const s = initRwsem(k, "s");
    k.sched.current.preemptCount++;
    void downRead(s);
    k.sched.current.preemptCount--;
    expect(k.findings.map((f) => f.code)).toEqual(["sleep-in-atomic"]);
  });
});
