/**
 * Operations of layer 3 (@dmasim/dma-resv): ww_mutex classes, locks and acquire contexts; fences
 * (a software timeline a scenario signals itself); reservation objects; sync_file fds.
 *
 * @module
 */
import {
  DMA_RESV_MODULE,
  DMA_RESV_USAGE_BOOKKEEP,
  DMA_RESV_USAGE_KERNEL,
  DMA_RESV_USAGE_READ,
  DMA_RESV_USAGE_WRITE,
  SYNC_IOC_MERGE,
  defineWdClass,
  defineWwClass,
  dmaFenceArrayCreate,
  dmaFenceChainInit,
  dmaFenceContextAlloc,
  dmaFenceEnableSwSignaling,
  dmaFenceGet,
  dmaFenceGetStatus,
  dmaFenceInit,
  dmaFenceIsSignaled,
  dmaFencePut,
  dmaFenceSetError,
  dmaFenceSignal,
  dmaFenceUnwrapMerge,
  dmaFenceWaitTimeout,
  dmaResvAddFence,
  dmaResvCopyFences,
  dmaResvGetFences,
  dmaResvInit,
  dmaResvLock,
  dmaResvLockInterruptible,
  dmaResvLockSlow,
  dmaResvReserveFences,
  dmaResvTestSignaled,
  dmaResvTrylock,
  dmaResvUnlock,
  dmaResvWaitTimeout,
  syncFileCreate,
  syncFileGetFence,
  syncFileInstall,
  wwAcquireDone,
  wwAcquireFini,
  wwAcquireInit,
  wwMutexInit,
  wwMutexLock,
  wwMutexLockInterruptible,
  wwMutexLockSlow,
  wwMutexTrylock,
  wwMutexUnlock,
  type DmaFenceOps,
  type SyncMergeData,
} from "@dmasim/dma-resv";
import {
  ERRNO,
  KernelError,
  MAX_SCHEDULE_TIMEOUT,
  O_CLOEXEC,
  spinLockInit,
  type ErrnoName,
  type Kernel,
} from "@dmasim/kernel";
import { z } from "zod";
import { scenarioLayer } from "../layer";
import type { OpDef } from "../op";
import type { RegistryPart } from "../registry";
import { fdResult } from "./common";

const L = scenarioLayer("@dmasim/dma-resv");

const SCENARIO_FENCE_OPS: DmaFenceOps = {
  getDriverName: () => "scenario",
  getTimelineName: (f) => `timeline ${f.context}`,
};

const USAGE = {
  KERNEL: DMA_RESV_USAGE_KERNEL,
  WRITE: DMA_RESV_USAGE_WRITE,
  READ: DMA_RESV_USAGE_READ,
  BOOKKEEP: DMA_RESV_USAGE_BOOKKEEP,
} as const;
const usageSchema = z.enum(["KERNEL", "WRITE", "READ", "BOOKKEEP"]);
const errnoSchema = z
  .enum(Object.keys(ERRNO) as [ErrnoName, ...ErrnoName[]])
  .meta({ title: "errno" });
const timeoutMs = z.number().int().min(0).optional();

function jiffies(kernel: Kernel, ms: number | undefined): number {
  return ms === undefined ? MAX_SCHEDULE_TIMEOUT : kernel.clock.msecsToJiffies(ms);
}

/** ww_mutex classes, locks and acquire contexts. **Kernel:** kernel/locking/ww_mutex.h. */
const WW_OPS: readonly OpDef[] = [
  L.op({
    name: "ww_class_define",
    summary: "a ww_mutex class: wait-die (`wait_die: true`, as reservation_ww_class) or wound-wait",
    args: { wait_die: z.boolean().optional() },
    produces: "ww_class",
    requiresAs: true,
    run: (ctx, { wait_die = true }) => ({
      object: (wait_die ? defineWdClass : defineWwClass)(ctx.as ?? "ww_class"),
    }),
  }),
  L.op({
    name: "ww_mutex_init",
    summary: "a ww_mutex of a class",
    args: { class: L.ref("ww_class") },
    primary: "class",
    produces: "ww_mutex",
    requiresAs: true,
    run: (ctx, a) => ({ object: wwMutexInit(ctx.kernel, ctx.as ?? "ww", a.class) }),
  }),
  L.op({
    name: "ww_acquire_init",
    summary: "start an acquire context (a stamp: older contexts win)",
    args: { class: L.ref("ww_class") },
    primary: "class",
    produces: "ww_ctx",
    requiresAs: true,
    run: (ctx, a) => ({ object: wwAcquireInit(ctx.kernel, a.class) }),
  }),
  L.objectOp({
    name: "ww_acquire_done",
    summary: "mark that the context takes no more locks",
    arg: "ctx",
    type: "ww_ctx",
    run: (c) => wwAcquireDone(c),
  }),
  L.objectOp({
    name: "ww_acquire_fini",
    summary: "end an acquire context (every lock must be released)",
    arg: "ctx",
    type: "ww_ctx",
    run: (c) => wwAcquireFini(c),
  }),
  ...(["ww_mutex_lock", "ww_mutex_lock_interruptible"] as const).map((name) =>
    L.op({
      name,
      summary: `take a ww_mutex with a context (or none); may fail with EDEADLK or EALREADY${name.endsWith("interruptible") ? " or EINTR" : ""}`,
      args: { lock: L.ref("ww_mutex"), ctx: L.ref("ww_ctx").optional() },
      primary: "lock",
      run: async (_ctx, { lock, ctx }) => {
        const fn = name === "ww_mutex_lock" ? wwMutexLock : wwMutexLockInterruptible;
        await fn(lock, ctx ?? null);
      },
    }),
  ),
  L.op({
    name: "ww_mutex_lock_slow",
    summary: "after EDEADLK and releasing every lock: wait for the contended lock",
    args: { lock: L.ref("ww_mutex"), ctx: L.ref("ww_ctx") },
    run: async (_ctx, { lock, ctx }) => {
      await wwMutexLockSlow(lock, ctx);
    },
  }),
  L.op({
    name: "ww_mutex_trylock",
    summary: "take a ww_mutex if free; value: true or false",
    args: { lock: L.ref("ww_mutex"), ctx: L.ref("ww_ctx").optional() },
    primary: "lock",
    run: (_ctx, { lock, ctx }) => ({ value: wwMutexTrylock(lock, ctx ?? null) }),
  }),
  L.objectOp({
    name: "ww_mutex_unlock",
    summary: "release a ww_mutex",
    arg: "lock",
    type: "ww_mutex",
    run: (lock) => wwMutexUnlock(lock),
  }),
];

/** Fences on a timeline the scenario signals. **Kernel:** drivers/dma-buf/dma-fence*.c. */
const FENCE_OPS: readonly OpDef[] = [
  L.op({
    name: "dma_fence_context_alloc",
    summary: "a fence timeline (a new fence context); fences on it get increasing seqnos",
    args: {},
    produces: "fence_timeline",
    requiresAs: true,
    run: (ctx) => {
      const name = ctx.as ?? "timeline";
      const context = dmaFenceContextAlloc(ctx.kernel, 1);
      const lock = spinLockInit(ctx.kernel, `${name}.lock`, "scenario_fence_lock");
      return { object: { context, next: 1, name, lock }, text: `context ${context}` };
    },
  }),
  L.op({
    name: "dma_fence_init",
    summary: "a fence on a timeline (seqno: the next one, or given); the scenario signals it",
    args: { timeline: L.ref("fence_timeline"), seqno: z.number().int().min(0).optional() },
    primary: "timeline",
    produces: "fence",
    requiresAs: true,
    run: (ctx, { timeline: t, seqno = t.next }) => {
      t.next = Math.max(t.next, seqno + 1);
      const f = dmaFenceInit(ctx.kernel, SCENARIO_FENCE_OPS, t.lock, t.context, seqno);
      return { object: f, text: `fence ${t.context}:${seqno}` };
    },
  }),
  L.objectOp({
    name: "dma_fence_signal",
    summary:
      "signal a fence (runs its callbacks, wakes waiters); value: 0, or -22 if already signaled",
    arg: "fence",
    type: "fence",
    run: (f) => ({ value: dmaFenceSignal(f) }),
  }),
  L.op({
    name: "dma_fence_set_error",
    summary: "record an error on a fence before it signals",
    args: { fence: L.ref("fence"), errno: errnoSchema },
    run: (_ctx, { fence, errno }) => dmaFenceSetError(fence, -ERRNO[errno]),
  }),
  L.objectOp({
    name: "dma_fence_is_signaled",
    summary: "value: whether the fence has signaled",
    arg: "fence",
    type: "fence",
    run: (f) => ({ value: dmaFenceIsSignaled(f) }),
  }),
  L.objectOp({
    name: "dma_fence_get_status",
    summary: "value: 0 pending, 1 signaled, or the negative error",
    arg: "fence",
    type: "fence",
    run: (f) => ({ value: dmaFenceGetStatus(f) }),
  }),
  L.op({
    name: "dma_fence_wait_timeout",
    summary: "wait for a fence (timeout_ms: none = forever); value: jiffies left, 0 on timeout",
    args: { fence: L.ref("fence"), interruptible: z.boolean().optional(), timeout_ms: timeoutMs },
    primary: "fence",
    run: async (ctx, { fence, interruptible = false, timeout_ms }) => {
      const left = await dmaFenceWaitTimeout(fence, interruptible, jiffies(ctx.kernel, timeout_ms));
      return { value: left, text: left === 0 ? "timed out" : "signaled" };
    },
  }),
  L.objectOp({
    name: "dma_fence_enable_sw_signaling",
    summary: "ask the fence's driver to signal it (enable_signaling)",
    arg: "fence",
    type: "fence",
    run: (f) => dmaFenceEnableSwSignaling(f),
  }),
  L.op({
    name: "dma_fence_array_create",
    summary:
      "a fence array over `fences` on a new context: signals when all (or, with signal_on_any, one) have",
    args: { fences: z.array(L.ref("fence")).min(1), signal_on_any: z.boolean().optional() },
    produces: "fence",
    requiresAs: true,
    run: (ctx, { fences, signal_on_any = false }) => {
      const refs = fences.map(dmaFenceGet);
      const context = dmaFenceContextAlloc(ctx.kernel, 1);
      const arr = dmaFenceArrayCreate(ctx.kernel, refs, context, 1, signal_on_any);
      return { object: arr, text: `array of ${refs.length}` };
    },
  }),
  L.op({
    name: "dma_fence_chain_init",
    summary: "a timeline point: chain `fence` after `prev` (a chain node or none) with a seqno",
    args: {
      prev: L.ref("fence").optional(),
      fence: L.ref("fence"),
      seqno: z.number().int().min(0),
    },
    produces: "fence",
    requiresAs: true,
    run: (ctx, { prev, fence, seqno }) => {
      const node = dmaFenceChainInit(
        ctx.kernel,
        prev === undefined ? null : dmaFenceGet(prev),
        dmaFenceGet(fence),
        seqno,
      );
      return { object: node, text: `chain point ${seqno}` };
    },
  }),
  L.op({
    name: "dma_fence_unwrap_merge",
    summary: "one fence for every unsignaled leaf of `fences` (containers unwrapped)",
    args: { fences: z.array(L.ref("fence")).min(1) },
    produces: "fence",
    requiresAs: true,
    run: (ctx, { fences }) => ({ object: dmaFenceUnwrapMerge(ctx.kernel, ...fences) }),
  }),
  L.objectOp({
    name: "dma_fence_put",
    summary: "drop the scenario's reference to a fence",
    arg: "fence",
    type: "fence",
    run: (f) => dmaFencePut(f),
  }),
];

/** Reservation objects. **Kernel:** drivers/dma-buf/dma-resv.c. */
const RESV_OPS: readonly OpDef[] = [
  L.op({
    name: "dma_resv_init",
    summary: "a reservation object (its lock is a wait-die ww_mutex of reservation_ww_class)",
    args: {},
    produces: "resv",
    requiresAs: true,
    run: (ctx) => ({ object: dmaResvInit(ctx.kernel, ctx.as) }),
  }),
  ...(["dma_resv_lock", "dma_resv_lock_interruptible"] as const).map((name) =>
    L.op({
      name,
      summary:
        "lock a reservation object, alone or in an acquire context; may fail with EDEADLK or EALREADY",
      args: { obj: L.ref("resv"), ctx: L.ref("ww_ctx").optional() },
      primary: "obj",
      run: async (_ctx, { obj, ctx }) => {
        const fn = name === "dma_resv_lock" ? dmaResvLock : dmaResvLockInterruptible;
        await fn(obj, ctx ?? null);
      },
    }),
  ),
  L.op({
    name: "dma_resv_lock_slow",
    summary: "after EDEADLK and unlocking everything: wait for the contended reservation lock",
    args: { obj: L.ref("resv"), ctx: L.ref("ww_ctx") },
    run: async (_ctx, { obj, ctx }) => {
      await dmaResvLockSlow(obj, ctx);
    },
  }),
  L.objectOp({
    name: "dma_resv_trylock",
    summary: "lock a reservation object if free; value: true or false",
    arg: "obj",
    type: "resv",
    run: (obj) => ({ value: dmaResvTrylock(obj) }),
  }),
  L.objectOp({
    name: "dma_resv_unlock",
    summary: "unlock a reservation object",
    arg: "obj",
    type: "resv",
    run: (obj) => dmaResvUnlock(obj),
  }),
  L.op({
    name: "dma_resv_reserve_fences",
    summary: "reserve slots for fences about to be added (the object must be locked; 0 is EINVAL)",
    args: { obj: L.ref("resv"), num: z.number().int().min(0) },
    run: (_ctx, { obj, num }) => dmaResvReserveFences(obj, num),
  }),
  L.op({
    name: "dma_resv_add_fence",
    summary: "add a fence with a usage: KERNEL < WRITE < READ < BOOKKEEP (a slot must be reserved)",
    args: { obj: L.ref("resv"), fence: L.ref("fence"), usage: usageSchema },
    run: (_ctx, { obj, fence, usage }) => dmaResvAddFence(obj, fence, USAGE[usage]),
  }),
  L.op({
    name: "dma_resv_wait_timeout",
    summary: "wait for every fence of the usage or lower; value: jiffies left, 0 on timeout",
    args: {
      obj: L.ref("resv"),
      usage: usageSchema,
      interruptible: z.boolean().optional(),
      timeout_ms: timeoutMs,
    },
    run: async (ctx, { obj, usage, interruptible = false, timeout_ms }) => {
      const t = jiffies(ctx.kernel, timeout_ms);
      const left = await dmaResvWaitTimeout(obj, USAGE[usage], interruptible, t);
      return { value: left, text: left === 0 ? "timed out" : "all signaled" };
    },
  }),
  L.op({
    name: "dma_resv_test_signaled",
    summary: "value: whether every fence of the usage or lower has signaled",
    args: { obj: L.ref("resv"), usage: usageSchema },
    run: (_ctx, { obj, usage }) => ({ value: dmaResvTestSignaled(obj, USAGE[usage]) }),
  }),
  L.op({
    name: "dma_resv_get_fences",
    summary: "value: how many fences of the usage or lower the object holds (dma_resv_get_fences)",
    args: { obj: L.ref("resv"), usage: usageSchema },
    run: (_ctx, { obj, usage }) => {
      const fences = dmaResvGetFences(obj, USAGE[usage]);
      fences.forEach((f) => dmaFencePut(f));
      return { value: fences.length };
    },
  }),
  L.op({
    name: "dma_resv_copy_fences",
    summary: "replace dst's fences with a copy of src's (dst must be locked)",
    args: { dst: L.ref("resv"), src: L.ref("resv") },
    run: (_ctx, { dst, src }) => dmaResvCopyFences(dst, src),
  }),
];

/** sync_file fds. **Kernel:** drivers/dma-buf/sync_file.c. */
const SYNC_FILE_OPS: readonly OpDef[] = [
  L.op({
    name: "sync_file_create",
    summary: "a sync_file fd for a fence, in a process's fd table (process: default app)",
    args: {
      fence: L.ref("fence"),
      process: z.string().optional(),
      cloexec: z.boolean().optional(),
    },
    primary: "fence",
    produces: "fd",
    requiresAs: true,
    run: (ctx, a) => {
      const process = ctx.process(a.process);
      const file = syncFileCreate(a.fence);
      return fdResult(process, syncFileInstall(process, file, a.cloexec ? O_CLOEXEC : 0));
    },
  }),
  L.op({
    name: "sync_file_get_fence",
    summary: "the fence behind a sync_file fd (EINVAL if the fd is not a sync_file)",
    args: { fd: L.ref("fd") },
    primary: "fd",
    produces: "fence",
    requiresAs: true,
    run: (_ctx, { fd }) => {
      const f = syncFileGetFence(fd.process, fd.fd);
      if (!f) {
        throw new KernelError("EINVAL", `fd ${fd.fd} is not a sync_file`);
      }
      return { object: f };
    },
  }),
  L.op({
    name: "sync_file_merge",
    summary: "SYNC_IOC_MERGE: a new sync_file fd signaling when both fds' fences have",
    args: { fd: L.ref("fd"), fd2: L.ref("fd"), name: z.string().optional() },
    produces: "fd",
    requiresAs: true,
    run: async (ctx, { fd, fd2, name }) => {
      const data: SyncMergeData = {
        name: name ?? ctx.as ?? "merged",
        fd2: fd2.fd,
        fence: -1,
        flags: 0,
        pad: 0,
      };
      await fd.process.ioctl(fd.fd, SYNC_IOC_MERGE, data);
      return fdResult(fd.process, data.fence);
    },
  }),
];

/** The layer-3 operations. **Kernel:** kernel/locking/ww_mutex, drivers/dma-buf/dma-fence*.c, dma-resv.c, sync_file.c. */
export const DMA_RESV_OPS: readonly OpDef[] = [
  ...WW_OPS,
  ...FENCE_OPS,
  ...RESV_OPS,
  ...SYNC_FILE_OPS,
];

/** What layer 3 adds to scenarios. **Kernel:** none. */
export const DMA_RESV_PART: RegistryPart = { ops: DMA_RESV_OPS, modules: [DMA_RESV_MODULE] };
