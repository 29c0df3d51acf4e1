/**
 * Cases of the @dmasim/dma-resv operations: ww_mutex classes, locks and acquire contexts; fences on
 * a scenario timeline; reservation objects; sync_file fds.
 */
import {
  DMA_FENCE_FLAG_ENABLE_SIGNAL_BIT,
  DMA_RESV_USAGE_BOOKKEEP,
  dmaFenceIsArray,
  dmaFenceIsChain,
  dmaResvGetFences,
  dmaResvIsLocked,
  dmaResvLockingCtx,
} from "@dmasim/dma-resv";
import { krefRead } from "@dmasim/kernel";
import { expect } from "vitest";
import { NO_FINDINGS, T, probe, type OpCase } from "./harness";

/** A wait-die class `wd`, two of its ww_mutexes `A` and `B`. */
const WW = `setup:
  - ww_class_define: { wait_die: true }
    as: wd
  - ww_mutex_init: wd
    as: A
  - ww_mutex_init: wd
    as: B
`;
/** A timeline `tl` with fences `f1` and `f2`. */
const FENCES = `setup:
  - dma_fence_context_alloc: {}
    as: tl
  - dma_fence_init: tl
    as: f1
  - dma_fence_init: tl
    as: f2
`;
/** Two reservation objects `r1`, `r2` and a timeline fence `f`. */
const RESV = `setup:
  - dma_resv_init: {}
    as: r1
  - dma_resv_init: {}
    as: r2
  - dma_fence_context_alloc: {}
    as: tl
  - dma_fence_init: tl
    as: f
`;
/** RESV with `f` added to `r1` as a writer. */
const RESV_FENCED = `${RESV}  - dma_resv_lock: r1
  - dma_resv_reserve_fences: { obj: r1, num: 1 }
  - dma_resv_add_fence: { obj: r1, fence: f, usage: WRITE }
  - dma_resv_unlock: r1
`;

/** t2 holds the lock with its context. */
const wwHeld = probe({ lock: T.ref("ww_mutex") }, ({ lock }) => {
  expect(lock.owner?.name).toBe("t2");
  expect(lock.ctx?.task.name).toBe("t2");
});

/** Two threads contend for A and B in opposite orders with contexts of class wd: t2 backs off. */
const backoff = (lock: string, slow: string) => `${WW}threads:
  t1:
    - ww_acquire_init: wd
      as: c1
    - ${lock}: { lock: A, ctx: c1 }
    - msleep: 10
    - ${lock}: { lock: B, ctx: c1 }
    - ww_mutex_unlock: B
    - ww_mutex_unlock: A
    - ww_acquire_fini: c1
  t2:
    - msleep: 1
    - ww_acquire_init: wd
      as: c2
    - ww_mutex_lock: { lock: B, ctx: c2 }
    - msleep: 20
    - ww_mutex_lock: { lock: A, ctx: c2 }
      expect: { errno: EDEADLK }
    - ww_mutex_unlock: B
    - ${slow}: { lock: A, ctx: c2 }
    - probe: { lock: A }
    - ww_mutex_lock: { lock: B, ctx: c2 }
    - ww_mutex_unlock: B
    - ww_mutex_unlock: A
    - ww_acquire_fini: c2
${NO_FINDINGS}`;

export const DMA_RESV_CASES: Readonly<Record<string, OpCase>> = {
  ww_class_define: {
    yaml: `setup:
  - ww_class_define: { wait_die: false }
    as: ww
  - ww_mutex_init: ww
    as: A
steps:
  - probe: { lock: A }
`,
    probe: probe({ lock: T.ref("ww_mutex") }, ({ lock }) => {
      expect(lock.wwClass).toMatchObject({ name: "ww", isWaitDie: false });
    }),
  },
  ww_mutex_init: {
    yaml: `${WW}steps:
  - probe: { lock: A }
`,
    probe: probe({ lock: T.ref("ww_mutex") }, ({ lock }) => {
      expect(lock.name).toBe("A");
      expect(lock.wwClass.name).toBe("wd");
      expect(lock.owner).toBeNull();
    }),
  },
  ww_acquire_init: {
    yaml: `${WW}steps:
  - ww_acquire_init: wd
    as: c
  - probe: { c: c }
  - ww_acquire_fini: c
`,
    probe: probe({ c: T.ref("ww_ctx") }, ({ c }) => {
      expect(c.wwClass.name).toBe("wd");
      expect(c.task.name).toBe("main");
      expect(c.acquired).toBe(0);
    }),
  },
  ww_acquire_done: {
    // taking another lock after ww_acquire_done is a WARN
    yaml: `${WW}steps:
  - ww_acquire_init: wd
    as: c
  - ww_mutex_lock: { lock: A, ctx: c }
  - ww_acquire_done: c
  - probe: { c: c }
  - ww_mutex_lock: { lock: B, ctx: c }
    expect: { findings: warn }
  - ww_mutex_unlock: B
  - ww_mutex_unlock: A
  - ww_acquire_fini: c
`,
    probe: probe({ c: T.ref("ww_ctx") }, ({ c }) => expect(c.doneAcquire).toBe(true)),
  },
  ww_acquire_fini: {
    // a context still holding a lock at fini is a WARN
    yaml: `${WW}steps:
  - ww_acquire_init: wd
    as: c
  - ww_mutex_lock: { lock: A, ctx: c }
  - ww_acquire_fini: c
    expect: { findings: warn }
  - ww_mutex_unlock: A
`,
  },
  ww_mutex_lock: { yaml: backoff("ww_mutex_lock", "ww_mutex_lock_slow"), probe: wwHeld },
  ww_mutex_lock_interruptible: {
    yaml: backoff("ww_mutex_lock_interruptible", "ww_mutex_lock_slow"),
    probe: wwHeld,
  },
  ww_mutex_lock_slow: { yaml: backoff("ww_mutex_lock", "ww_mutex_lock_slow"), probe: wwHeld },
  ww_mutex_trylock: {
    yaml: `${WW}threads:
  t1:
    - ww_mutex_trylock: A
      expect: { value: true }
    - msleep: 10
    - ww_mutex_unlock: A
  t2:
    - msleep: 5
    - ww_mutex_trylock: A
      expect: { value: false }
`,
  },
  ww_mutex_unlock: {
    yaml: `${WW}steps:
  - ww_mutex_lock: A
  - ww_mutex_unlock: A
  - probe: { lock: A }
  - ww_mutex_trylock: A
    expect: { value: true }
  - ww_mutex_unlock: A
`,
    probe: probe({ lock: T.ref("ww_mutex") }, ({ lock }) => expect(lock.owner).toBeNull()),
  },
  dma_fence_context_alloc: {
    yaml: `${FENCES}  - dma_fence_context_alloc: {}
    as: tl2
steps:
  - probe: { a: tl, b: tl2, f: f2 }
`,
    probe: probe(
      { a: T.ref("fence_timeline"), b: T.ref("fence_timeline"), f: T.ref("fence") },
      ({ a, b, f }) => {
        expect(b.context).not.toBe(a.context);
        expect(f.context).toBe(a.context);
      },
    ),
  },
  dma_fence_init: {
    yaml: `${FENCES}  - dma_fence_init: { timeline: tl, seqno: 10 }
    as: f10
steps:
  - probe: { f1: f1, f2: f2, f10: f10 }
  - dma_fence_is_signaled: f1
    expect: { value: false }
`,
    probe: probe(
      { f1: T.ref("fence"), f2: T.ref("fence"), f10: T.ref("fence") },
      ({ f1, f2, f10 }) => {
        expect([f1.seqno, f2.seqno, f10.seqno]).toEqual([1, 2, 10]);
        expect(krefRead(f1.refcount)).toBe(1);
      },
    ),
  },
  dma_fence_signal: {
    // a waiter is woken; a second signal answers -EINVAL
    yaml: `${FENCES}threads:
  t1:
    - dma_fence_wait_timeout: f1
      expect: { value: 9007199254740991 }
  t2:
    - msleep: 3
    - dma_fence_signal: f1
      expect: { value: 0 }
    - dma_fence_signal: f1
      expect: { value: -22 }
    - dma_fence_is_signaled: f1
      expect: { value: true }
`,
  },
  dma_fence_set_error: {
    yaml: `${FENCES}steps:
  - dma_fence_set_error: { fence: f1, errno: EIO }
  - dma_fence_signal: f1
  - dma_fence_get_status: f1
    expect: { value: -5 }
`,
  },
  dma_fence_is_signaled: {
    yaml: `${FENCES}steps:
  - dma_fence_is_signaled: f1
    expect: { value: false }
  - dma_fence_signal: f1
  - dma_fence_is_signaled: f1
    expect: { value: true }
  - dma_fence_is_signaled: f2
    expect: { value: false }
`,
  },
  dma_fence_get_status: {
    yaml: `${FENCES}steps:
  - dma_fence_get_status: f1
    expect: { value: 0 }
  - dma_fence_signal: f1
  - dma_fence_get_status: f1
    expect: { value: 1 }
`,
  },
  dma_fence_wait_timeout: {
    yaml: `${FENCES}threads:
  t1:
    - dma_fence_wait_timeout: { fence: f1, timeout_ms: 4 }
      expect: { value: 0 }
    - dma_fence_wait_timeout: { fence: f1, timeout_ms: 100 }
    - probe: { f: f1 }
  t2:
    - msleep: 10
    - dma_fence_signal: f1
`,
    probe: probe({ f: T.ref("fence") }, (_a, ctx) => {
      expect(ctx.kernel.clock.now()).toBe(10_000_000); // woken by the signal, not the timeout
    }),
  },
  dma_fence_enable_sw_signaling: {
    yaml: `${FENCES}steps:
  - dma_fence_enable_sw_signaling: f1
  - probe: { f: f1, g: f2 }
`,
    probe: probe({ f: T.ref("fence"), g: T.ref("fence") }, ({ f, g }) => {
      const bit = 1 << DMA_FENCE_FLAG_ENABLE_SIGNAL_BIT;
      expect(f.flags & bit).toBe(bit);
      expect(g.flags & bit).toBe(0);
    }),
  },
  dma_fence_array_create: {
    yaml: `${FENCES}steps:
  - dma_fence_array_create: { fences: [f1, f2] }
    as: all
  - probe: { a: all }
  - dma_fence_signal: f1
  - dma_fence_is_signaled: all
    expect: { value: false }
  - dma_fence_signal: f2
  - dma_fence_is_signaled: all
    expect: { value: true }
`,
    probe: probe({ a: T.ref("fence") }, ({ a }) => expect(dmaFenceIsArray(a)).toBe(true)),
  },
  dma_fence_chain_init: {
    yaml: `${FENCES}steps:
  - dma_fence_chain_init: { fence: f1, seqno: 1 }
    as: p1
  - dma_fence_chain_init: { prev: p1, fence: f2, seqno: 2 }
    as: p2
  - probe: { p: p2 }
  - dma_fence_signal: f2
  - dma_fence_is_signaled: p2
    expect: { value: false }
  - dma_fence_signal: f1
  - dma_fence_is_signaled: p2
    expect: { value: true }
`,
    probe: probe({ p: T.ref("fence") }, ({ p }) => {
      expect(dmaFenceIsChain(p)).toBe(true);
      expect(p.seqno).toBe(2);
    }),
  },
  dma_fence_unwrap_merge: {
    yaml: `${FENCES}steps:
  - dma_fence_unwrap_merge: { fences: [f1, f2] }
    as: m
  - dma_fence_signal: f1
  - dma_fence_is_signaled: m
    expect: { value: false }
  - dma_fence_signal: f2
  - dma_fence_is_signaled: m
    expect: { value: true }
`,
  },
  dma_fence_put: {
    yaml: `${FENCES}steps:
  - sync_file_create: f1
    as: sf
  - probe: { f: f1 }
  - close: sf
  - dma_fence_put: f1
  - dma_fence_signal: f1
    expect: { findings: use-after-free }
`,
    probe: probe({ f: T.ref("fence") }, ({ f }) => expect(krefRead(f.refcount)).toBe(2)),
  },
  dma_resv_init: {
    yaml: `${RESV}steps:
  - probe: { r: r1 }
`,
    probe: probe({ r: T.ref("resv") }, ({ r }) => {
      expect(r.name).toBe("r1");
      expect(r.lock.wwClass.name).toBe("reservation_ww_class");
      expect(dmaResvIsLocked(r)).toBe(false);
    }),
  },
  dma_resv_lock: {
    yaml: `${RESV}steps:
  - dma_resv_lock: r1
  - probe: { r: r1 }
  - dma_resv_unlock: r1
`,
    probe: probe({ r: T.ref("resv") }, ({ r }) => {
      expect(dmaResvIsLocked(r)).toBe(true);
      expect(r.lock.owner?.name).toBe("main");
      expect(dmaResvLockingCtx(r)).toBeNull();
    }),
  },
  dma_resv_lock_interruptible: {
    yaml: `${RESV}steps:
  - dma_resv_lock_interruptible: r1
  - probe: { r: r1 }
  - dma_resv_unlock: r1
`,
    probe: probe({ r: T.ref("resv") }, ({ r }) => {
      expect(r.lock.owner?.name).toBe("main");
    }),
  },
  dma_resv_lock_slow: {
    // t2 holds r2 and wants r1 held by the older t1: -EDEADLK, then the slow path waits for r1.
    // A scenario cannot name reservation_ww_class, so each lock with a context of its own wait-die
    // class is the class-mismatch WARN (4 of them)
    yaml: `${RESV}  - ww_class_define: {}
    as: wd
threads:
  t1:
    - ww_acquire_init: wd
      as: c1
    - dma_resv_lock: { obj: r1, ctx: c1 }
    - msleep: 10
    - dma_resv_lock: { obj: r2, ctx: c1 }
    - dma_resv_unlock: r2
    - dma_resv_unlock: r1
    - ww_acquire_fini: c1
  t2:
    - msleep: 1
    - ww_acquire_init: wd
      as: c2
    - dma_resv_lock: { obj: r2, ctx: c2 }
    - msleep: 20
    - dma_resv_lock: { obj: r1, ctx: c2 }
      expect: { errno: EDEADLK }
    - dma_resv_unlock: r2
    - dma_resv_lock_slow: { obj: r1, ctx: c2 }
    - probe: { r: r1 }
    - dma_resv_unlock: r1
    - ww_acquire_fini: c2
expect:
  findings:
    - { kind: warn, code: "kernel/locking/ww_mutex.h:ww_mutex_lock_acquired", count: 4 }
`,
    probe: probe({ r: T.ref("resv") }, ({ r }) => expect(r.lock.owner?.name).toBe("t2")),
  },
  dma_resv_trylock: {
    yaml: `${RESV}threads:
  t1:
    - dma_resv_trylock: r1
      expect: { value: true }
    - msleep: 10
    - dma_resv_unlock: r1
  t2:
    - msleep: 5
    - dma_resv_trylock: r1
      expect: { value: false }
`,
  },
  dma_resv_unlock: {
    yaml: `${RESV}steps:
  - dma_resv_lock: r1
  - dma_resv_unlock: r1
  - probe: { r: r1 }
`,
    probe: probe({ r: T.ref("resv") }, ({ r }) => expect(dmaResvIsLocked(r)).toBe(false)),
  },
  dma_resv_reserve_fences: {
    // adding without a reserved slot is a BUG; with one, it is fine
    yaml: `${RESV}steps:
  - dma_resv_lock: r1
  - dma_resv_reserve_fences: { obj: r1, num: 2 }
  - probe: { r: r1 }
  - dma_resv_add_fence: { obj: r1, fence: f, usage: READ }
  - dma_resv_unlock: r1
`,
    probe: probe({ r: T.ref("resv") }, ({ r }) => {
      expect((r.fences?.maxFences ?? 0) - (r.fences?.numFences ?? 0)).toBeGreaterThanOrEqual(2);
    }),
  },
  dma_resv_add_fence: {
    yaml: `${RESV_FENCED}steps:
  - probe: { r: r1, f: f }
  - dma_resv_test_signaled: { obj: r1, usage: READ }
    expect: { value: false }
`,
    probe: probe({ r: T.ref("resv"), f: T.ref("fence") }, ({ r, f }) => {
      expect(dmaResvGetFences(r, DMA_RESV_USAGE_BOOKKEEP)).toEqual([f]);
    }),
  },
  dma_resv_wait_timeout: {
    yaml: `${RESV_FENCED}threads:
  t1:
    - dma_resv_wait_timeout: { obj: r1, usage: READ, timeout_ms: 2 }
      expect: { value: 0 }
    - dma_resv_wait_timeout: { obj: r1, usage: READ }
    - probe: { r: r1 }
  t2:
    - msleep: 6
    - dma_fence_signal: f
`,
    probe: probe({ r: T.ref("resv") }, (_a, ctx) => {
      expect(ctx.kernel.clock.now()).toBe(6_000_000);
    }),
  },
  dma_resv_test_signaled: {
    // a WRITE fence counts for READ (its usage or lower), not for KERNEL
    yaml: `${RESV_FENCED}steps:
  - dma_resv_test_signaled: { obj: r1, usage: KERNEL }
    expect: { value: true }
  - dma_resv_test_signaled: { obj: r1, usage: READ }
    expect: { value: false }
  - dma_fence_signal: f
  - dma_resv_test_signaled: { obj: r1, usage: READ }
    expect: { value: true }
`,
  },
  dma_resv_get_fences: {
    yaml: `${RESV_FENCED}steps:
  - dma_resv_get_fences: { obj: r1, usage: WRITE }
    expect: { value: 1 }
  - dma_resv_get_fences: { obj: r1, usage: KERNEL }
    expect: { value: 0 }
  - probe: { f: f }
`,
    probe: probe({ f: T.ref("fence") }, ({ f }) => expect(krefRead(f.refcount)).toBe(2)),
  },
  dma_resv_copy_fences: {
    yaml: `${RESV_FENCED}steps:
  - dma_resv_lock: r2
  - dma_resv_copy_fences: { dst: r2, src: r1 }
  - dma_resv_unlock: r2
  - dma_resv_test_signaled: { obj: r2, usage: READ }
    expect: { value: false }
  - probe: { r: r2, f: f }
`,
    probe: probe({ r: T.ref("resv"), f: T.ref("fence") }, ({ r, f }) => {
      expect(dmaResvGetFences(r, DMA_RESV_USAGE_BOOKKEEP)).toEqual([f]);
    }),
  },
  sync_file_create: {
    yaml: `${FENCES}steps:
  - sync_file_create: f1
    as: sf
  - sync_file_get_fence: sf
    as: back
  - probe: { fd: sf, f: f1, back: back }
  - close: sf
`,
    probe: probe(
      { fd: T.ref("fd"), f: T.ref("fence"), back: T.ref("fence") },
      ({ fd, f, back }) => {
        expect(fd.process.peek(fd.fd)?.path).toBe("anon_inode:sync_file");
        expect(back).toBe(f);
      },
    ),
  },
  sync_file_get_fence: {
    yaml: `${FENCES}steps:
  - sync_file_create: f2
    as: sf
  - sync_file_get_fence: sf
    as: g
  - dma_fence_signal: f2
  - dma_fence_is_signaled: g
    expect: { value: true }
  - close: sf
`,
  },
  sync_file_merge: {
    yaml: `${FENCES}steps:
  - sync_file_create: f1
    as: s1
  - sync_file_create: f2
    as: s2
  - sync_file_merge: { fd: s1, fd2: s2, name: both }
    as: m
  - dma_fence_signal: f1
  - poll: m
    expect: { value: 0 }
  - dma_fence_signal: f2
  - poll: m
    expect: { value: 1 }
  - close: s1
  - close: s2
  - close: m
`,
  },
};
