import { describe, expect, it } from "vitest";
import {
  Kernel,
  MAX_SCHEDULE_TIMEOUT,
  RunAborted,
  complete,
  completeAll,
  completionDone,
  initCompletion,
  initWaitqueueHead,
  isKernelError,
  msleep,
  reinitCompletion,
  scheduleTimeout,
  tryWaitForCompletion,
  waitEvent,
  waitForCompletion,
  waitForCompletionTimeout,
  wakeUp,
  wakeUpAll,
} from "../src/index";

describe("wait queues", () => {
  it("waitEvent sleeps until the condition holds after a wake-up", async () => {
    const k = new Kernel();
    const wq = initWaitqueueHead(k, "wq");
    let ready = false;
    const got: number[] = [];
    await k.run({
      waiter: async () => {
        got.push(await waitEvent(wq, () => ready));
      },
      waker: async () => {
        await msleep(k, 3);
        wakeUp(wq); // spurious: condition still false
        await msleep(k, 3);
        ready = true;
        wakeUpAll(wq);
      },
    });
    expect(got).toEqual([MAX_SCHEDULE_TIMEOUT]);
    expect(wq.waiters).toEqual([]);
  });

  it("wait_event_timeout returns: jiffies left (>= 1) on success, 1 if it held at the timeout, 0 if not", async () => {
    const k = new Kernel({ hz: 1000 });
    const wq = initWaitqueueHead(k, "wq");
    let ready = false;
    // immediate success: the whole timeout is left
    ready = true;
    expect(await waitEvent(wq, () => ready, { timeout: 10 })).toBe(10);
    // timeout 0 and the condition true: 1
    expect(await waitEvent(wq, () => ready, { timeout: 0 })).toBe(1);
    ready = false;
    expect(await waitEvent(wq, () => ready, { timeout: 0 })).toBe(0);
    // success after 4 of 10 jiffies: 6 left
    const r: number[] = [];
    await k.run({
      w: async () => {
        r.push(await waitEvent(wq, () => ready, { timeout: 10 }));
      },
      x: async () => {
        await msleep(k, 4);
        ready = true;
        wakeUpAll(wq);
      },
    });
    expect(r).toEqual([6]);
    // condition became true without a wake-up: seen at the timeout, returns 1
    ready = false;
    const t0 = k.clock.now();
    const r2: number[] = [];
    await k.run({
      w: async () => {
        r2.push(await waitEvent(wq, () => ready, { timeout: 10 }));
      },
      x: async () => {
        await msleep(k, 2);
        ready = true; // no wake_up: a bug in the waker, but the timeout catches it
      },
    });
    expect(r2).toEqual([1]);
    expect(k.clock.now() - t0).toBe(10_000_000);
    // plain timeout
    ready = false;
    expect(await waitEvent(wq, () => ready, { timeout: 5 })).toBe(0);
  });

  it("timeouts expire on jiffy boundaries", async () => {
    const k = new Kernel({ hz: 100 }); // 10 ms per jiffy
    const wq = initWaitqueueHead(k, "wq");
    k.clock.advance(3_000_000); // 3 ms into jiffy 0
    expect(await waitEvent(wq, () => false, { timeout: 2 })).toBe(0);
    expect(k.clock.now()).toBe(20_000_000); // jiffies 0 + 2
  });

  it("interruptible waits end with ERESTARTSYS; a true condition wins over a pending signal", async () => {
    const k = new Kernel();
    const wq = initWaitqueueHead(k, "wq");
    const t = k.spawn("t", async () => {
      await waitEvent(wq, () => false, { interruptible: true });
    });
    await msleep(k, 1);
    k.sched.signal(t);
    await k.sched.join([t]);
    expect(isKernelError(t.error, "ERESTARTSYS")).toBe(true);
    expect(wq.waiters).toEqual([]);
    k.sched.signal(k.sched.init);
    expect(await waitEvent(wq, () => true, { interruptible: true })).toBe(MAX_SCHEDULE_TIMEOUT);
    await expect(waitEvent(wq, () => false, { interruptible: true })).rejects.toSatisfy((e) =>
      isKernelError(e, "ERESTARTSYS"),
    );
  });

  it("schedule_timeout: 0 when the time ran out, the jiffies left when woken early", async () => {
    const k = new Kernel({ hz: 1000 });
    expect(await scheduleTimeout(k, 5)).toBe(0);
    expect(k.clock.now()).toBe(5_000_000);
    const left: number[] = [];
    const t = k.spawn("t", async () => {
      left.push(await scheduleTimeout(k, 10));
    });
    await msleep(k, 3);
    k.sched.wake(t);
    await k.sched.join([t]);
    expect(left).toEqual([7]);
    // interruptible: a signal ends it with the time left
    const u = k.spawn("u", async () => {
      left.push(await scheduleTimeout(k, 10, true));
    });
    await msleep(k, 4);
    k.sched.signal(u);
    await k.sched.join([u]);
    expect(left).toEqual([7, 6]);
  });

  it("schedule_timeout(MAX_SCHEDULE_TIMEOUT) sleeps until woken, without a timer", async () => {
    const k = new Kernel();
    const res: number[] = [];
    const t = k.spawn("t", async () => {
      res.push(await scheduleTimeout(k, MAX_SCHEDULE_TIMEOUT));
    });
    await msleep(k, 1);
    k.sched.wake(t);
    await k.sched.join([t]);
    expect(res).toEqual([MAX_SCHEDULE_TIMEOUT]);
    expect(k.clock.now()).toBe(1_000_000);
    // nobody to wake it: a deadlock, not a jump to the end of time
    await expect(scheduleTimeout(k, MAX_SCHEDULE_TIMEOUT)).rejects.toBeInstanceOf(RunAborted);
    expect(k.clock.now()).toBe(1_000_000);
  });

  it("schedule_timeout with a negative timeout logs an error and returns 0 at once", async () => {
    const k = new Kernel();
    expect(await scheduleTimeout(k, -5)).toBe(0);
    expect(k.dmesg.format()).toContain("schedule_timeout: wrong timeout value -5");
    expect(k.clock.now()).toBe(0);
  });

  it("msleep sleeps the whole time even if woken early", async () => {
    const k = new Kernel();
    const t = k.spawn("t", async () => {
      await msleep(k, 10);
    });
    await msleep(k, 2);
    k.sched.wake(t);
    await k.sched.join([t]);
    expect(k.clock.now()).toBe(10_000_000);
  });
});

describe("completions", () => {
  it("complete() lets one waiter through; complete_all() every waiter, now and later", async () => {
    const k = new Kernel();
    const c = initCompletion(k, "c");
    expect(completionDone(c)).toBe(false);
    expect(tryWaitForCompletion(c)).toBe(false);
    complete(c);
    complete(c);
    expect(completionDone(c)).toBe(true);
    expect(tryWaitForCompletion(c)).toBe(true);
    await waitForCompletion(c);
    expect(completionDone(c)).toBe(false);
    completeAll(c);
    for (let i = 0; i < 5; i++) {
      await waitForCompletion(c);
    }
    expect(completionDone(c)).toBe(true);
    reinitCompletion(c);
    expect(completionDone(c)).toBe(false);
  });

  it("with two waiters, one complete() wakes exactly one", async () => {
    const k = new Kernel();
    const c = initCompletion(k, "c");
    const through: string[] = [];
    const w = ["a", "b"].map((n) =>
      k.spawn(n, async () => {
        await waitForCompletion(c);
        through.push(n);
      }),
    );
    await msleep(k, 1);
    complete(c);
    await msleep(k, 1);
    expect(through).toHaveLength(1);
    complete(c);
    await k.sched.join(w);
    expect(through.sort()).toEqual(["a", "b"]);
  });

  it("wait_for_completion_timeout: 0 on timeout, else jiffies left", async () => {
    const k = new Kernel({ hz: 250 });
    const c = initCompletion(k, "c");
    expect(await waitForCompletionTimeout(c, 5)).toBe(0);
    expect(k.clock.now()).toBe(20_000_000);
    complete(c);
    expect(await waitForCompletionTimeout(c, 5)).toBe(5);
    expect(completionDone(c)).toBe(false);
  });
});
