/**
 * Port of drivers/dma-buf/st-dma-fence.c (KUnit suite "dma-buf-fence").
 */
import { describe, expect, it } from "vitest";
import { Kernel, isKernelError, msleep, spinLockInit } from "@dmasim/kernel";
import {
  DmaFenceCb,
  dmaFenceAddCallback,
  dmaFenceCheckAndSignal,
  dmaFenceEnableSwSignaling,
  dmaFenceGet,
  dmaFenceGetStatus,
  dmaFenceGetStub,
  dmaFenceIsSignaled,
  dmaFenceLockIrqsave,
  dmaFencePut,
  dmaFenceRemoveCallback,
  dmaFenceSetError,
  dmaFenceSignal,
  dmaFenceTestSignaledFlag,
  dmaFenceUnlockIrqrestore,
  dmaFenceWait,
  dmaFenceWaitTimeout,
  type DmaFence,
} from "../src/index";
import { mockFence, unexpectedFindings } from "./helpers";

const EIO = -5;

function simpleCb(): { cb: DmaFenceCb; seen: () => boolean; func: () => void } {
  let seen = false;
  return {
    cb: new DmaFenceCb(),
    seen: () => seen,
    func: () => {
      seen = true;
    },
  };
}

describe("st-dma-fence", () => {
  it("sanitycheck: create, enable signalling, signal, put", () => {
    const k = new Kernel();
    const f = mockFence(k);
    dmaFenceEnableSwSignaling(f);
    dmaFenceSignal(f);
    dmaFencePut(f);
    expect(f.released).toBe(true);
    expect(unexpectedFindings(k)).toEqual([]);
  });

  it("test_signaling: not signaled at first, signals once, ops cleared (latest)", () => {
    const k = new Kernel();
    const f = mockFence(k);
    dmaFenceEnableSwSignaling(f);
    expect(dmaFenceIsSignaled(f)).toBe(false);
    expect(dmaFenceCheckAndSignal(f)).toBe(false);
    expect(dmaFenceIsSignaled(f)).toBe(true);
    expect(dmaFenceTestSignaledFlag(f)).toBe(true);
    expect(f.ops).toBeNull();
    // the <=2025 int convention: a second signal reports -EINVAL
    expect(dmaFenceSignal(f)).toBe(-22);
    dmaFencePut(f);
  });

  it("test_signaling on 6.12: signal returns 0 then non-zero, ops kept", () => {
    const k = new Kernel({ version: "6.12" });
    const f = mockFence(k);
    dmaFenceEnableSwSignaling(f);
    expect(dmaFenceSignal(f)).toBe(0);
    expect(dmaFenceSignal(f)).not.toBe(0);
    expect(f.ops).not.toBeNull();
    dmaFencePut(f);
  });

  it("test_add_callback: the callback runs at signal time", () => {
    const k = new Kernel();
    const f = mockFence(k);
    const s = simpleCb();
    dmaFenceAddCallback(f, s.cb, s.func);
    expect(s.seen()).toBe(false);
    dmaFenceSignal(f);
    expect(s.seen()).toBe(true);
    dmaFencePut(f);
  });

  it("test_late_add_callback: -ENOENT on a signaled fence, never called", () => {
    const k = new Kernel();
    const f = mockFence(k);
    const s = simpleCb();
    dmaFenceEnableSwSignaling(f);
    dmaFenceSignal(f);
    let err: unknown;
    try {
      dmaFenceAddCallback(f, s.cb, s.func);
    } catch (e) {
      err = e;
    }
    expect(isKernelError(err, "ENOENT")).toBe(true);
    dmaFenceSignal(f);
    expect(s.seen()).toBe(false);
    // its node was initialised: removal reports "not pending"
    expect(dmaFenceRemoveCallback(f, s.cb)).toBe(false);
    dmaFencePut(f);
  });

  it("test_rm_callback: a removed callback does not run", () => {
    const k = new Kernel();
    const f = mockFence(k);
    const s = simpleCb();
    dmaFenceAddCallback(f, s.cb, s.func);
    expect(dmaFenceRemoveCallback(f, s.cb)).toBe(true);
    dmaFenceSignal(f);
    expect(s.seen()).toBe(false);
    dmaFencePut(f);
  });

  it("test_late_rm_callback: removal after it ran returns false", () => {
    const k = new Kernel();
    const f = mockFence(k);
    const s = simpleCb();
    dmaFenceAddCallback(f, s.cb, s.func);
    dmaFenceSignal(f);
    expect(s.seen()).toBe(true);
    expect(dmaFenceRemoveCallback(f, s.cb)).toBe(false);
    dmaFencePut(f);
  });

  it("test_status: 0 before, 1 after signalling", () => {
    const k = new Kernel();
    const f = mockFence(k);
    dmaFenceEnableSwSignaling(f);
    expect(dmaFenceGetStatus(f)).toBe(0);
    dmaFenceSignal(f);
    expect(dmaFenceGetStatus(f)).toBe(1);
    dmaFencePut(f);
  });

  it("test_error: the error shows only after signalling", () => {
    const k = new Kernel();
    const f = mockFence(k);
    dmaFenceEnableSwSignaling(f);
    dmaFenceSetError(f, EIO);
    expect(dmaFenceGetStatus(f)).toBe(0);
    dmaFenceSignal(f);
    expect(dmaFenceGetStatus(f)).toBe(EIO);
    dmaFencePut(f);
    expect(unexpectedFindings(k)).toEqual([]);
  });

  it("set_error after signalling, or with a non-errno, WARNs", () => {
    const k = new Kernel();
    const f = mockFence(k);
    dmaFenceSetError(f, 5);
    dmaFenceSignal(f);
    dmaFenceSetError(f, EIO);
    expect(k.findings.filter((x) => x.kind === "warn")).toHaveLength(2);
    dmaFencePut(f);
  });

  it("test_wait: zero-timeout wait is 0 before and 1 after signalling", async () => {
    const k = new Kernel();
    const f = mockFence(k);
    dmaFenceEnableSwSignaling(f);
    expect(await dmaFenceWaitTimeout(f, false, 0)).toBe(0);
    dmaFenceSignal(f);
    expect(await dmaFenceWaitTimeout(f, false, 0)).toBe(1);
    dmaFencePut(f);
  });

  it("test_wait_timeout: 1 jiffy times out; a timer thread signals within HZ", async () => {
    const k = new Kernel({ hz: 250 });
    const f = mockFence(k);
    dmaFenceEnableSwSignaling(f);
    const t0 = k.clock.jiffies;
    expect(await dmaFenceWaitTimeout(f, false, 1)).toBe(0);
    expect(k.clock.jiffies).toBe(t0 + 1);
    let left = -1;
    await k.run({
      waiter: async () => {
        left = await dmaFenceWaitTimeout(f, false, k.clock.hz);
      },
      timer: async () => {
        await msleep(k, k.clock.jiffiesToMsecs(1));
        dmaFenceSignal(f);
      },
    });
    expect(left).toBeGreaterThan(0);
    expect(left).toBeLessThan(k.clock.hz);
    dmaFencePut(f);
    expect(unexpectedFindings(k)).toEqual([]);
  });

  it("negative timeouts WARN and fail with EINVAL", async () => {
    const k = new Kernel();
    const f = mockFence(k);
    await expect(dmaFenceWaitTimeout(f, false, -1)).rejects.toMatchObject({ code: "EINVAL" });
    expect(k.findings.some((x) => x.kind === "warn")).toBe(true);
    dmaFenceSignal(f);
    dmaFencePut(f);
  });

  it("interruptible waits end with ERESTARTSYS on a signal", async () => {
    const k = new Kernel();
    const f = mockFence(k);
    const t = k.spawn("w", async () => {
      await dmaFenceWait(f, true);
    });
    await msleep(k, 1);
    k.sched.signal(t);
    await k.sched.join([t]);
    expect(isKernelError(t.error, "ERESTARTSYS")).toBe(true);
    expect(f.cbList).toHaveLength(0);
    dmaFenceSignal(f);
    dmaFencePut(f);
  });

  it("test_stub: 64 references to the stub are all signaled", () => {
    const k = new Kernel();
    const stubs: DmaFence[] = [];
    for (let i = 0; i < 64; i++) {
      const s = dmaFenceGetStub(k);
      expect(dmaFenceIsSignaled(s)).toBe(true);
      stubs.push(s);
    }
    expect(new Set(stubs).size).toBe(1);
    stubs.forEach((s) => dmaFencePut(s));
    expect(stubs[0]?.released).toBe(false);
    expect(stubs[0]?.context).toBe(0);
  });

  /**
   * race_signal_callback: two threads; each publishes its own fence, grabs the peer's, signals its
   * own before (pass 1) or after (pass 0) adding a callback to the peer's, and checks that a
   * callback that was added has run once the peer signaled (after a wait and a lock/unlock of
   * the peer's lock to flush callbacks). The kernel runs each pass ~50 ms; here each thread does a
   * fixed number of iterations under many schedules.
   */
  for (const before of [false, true]) {
    it(`race_signal_callback (signal ${before ? "before" : "after"} add_callback) over 30 seeds`, async () => {
      let hits = 0;
      let misses = 0;
      for (let seed = 1; seed <= 30; seed++) {
        const k = new Kernel({ seed });
        const slots: (DmaFence | null)[] = [null, null];
        const lock = spinLockInit(k, "mock lock", "mock_fence_lock");
        const errors: string[] = [];
        const thread = (id: 0 | 1) => async () => {
          for (let pass = 0; pass < 20; pass++) {
            const f1 = mockFence(k, 0, 0, lock);
            dmaFenceEnableSwSignaling(f1);
            slots[id] = f1;
            let f2: DmaFence | null = null;
            for (let spins = 0; !f2 && spins < 50; spins++) {
              const peer = slots[id === 0 ? 1 : 0];
              f2 = peer ? dmaFenceGet(peer) : null;
              if (!f2) {
                await k.sched.schedulePoint();
              }
            }
            if (before) {
              dmaFenceSignal(f1);
            }
            let seen = false;
            const cb = new DmaFenceCb();
            let added = false;
            if (f2) {
              try {
                dmaFenceAddCallback(f2, cb, () => {
                  seen = true;
                });
                added = true;
              } catch (e) {
                if (!isKernelError(e, "ENOENT")) {
                  throw e;
                }
              }
            }
            if (!added) {
              misses++;
              seen = true;
            } else {
              hits++;
            }
            if (!before) {
              dmaFenceSignal(f1);
            }
            if (!seen && f2) {
              await dmaFenceWait(f2, false);
              dmaFenceLockIrqsave(f2);
              dmaFenceUnlockIrqrestore(f2);
            }
            if (!seen) {
              errors.push(`thread ${id} pass ${pass}: callback not seen`);
            }
            dmaFencePut(f2);
            slots[id] = null;
            await k.sched.schedulePoint();
            dmaFencePut(f1);
          }
        };
        await k.run({ "dma-fence:0": thread(0), "dma-fence:1": thread(1) });
        expect(errors).toEqual([]);
        expect(unexpectedFindings(k)).toEqual([]);
      }
      // both outcomes of the race happened: callbacks really armed, and late adds refused
      expect(hits).toBeGreaterThan(0);
      expect(misses).toBeGreaterThan(0);
    });
  }
});
