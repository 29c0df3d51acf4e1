/**
 * Operations of layer 3 (@dmasim/dma-resv): ww_mutex classes, locks and acquire contexts; fences
 * (a software timeline a scenario signals itself); reservation objects; sync_file fds. Also the
 * generic fd operations `close` and `poll`.
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
  dmaFenceUnwrapMerge,
  dmaResvCopyFences,
  dmaResvGetFences,
  dmaFenceGetStatus,
  dmaFenceInit,
  dmaFenceIsSignaled,
  dmaFencePut,
  dmaFenceSetError,
  dmaFenceSignal,
  dmaFenceWaitTimeout,
  dmaResvAddFence,
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
  type DmaFence,
  type DmaFenceOps,
  type DmaResv,
  type DmaResvUsage,
  type SyncMergeData,
  type WwAcquireCtx,
  type WwClass,
  type WwMutex,
} from "@dmasim/dma-resv";
import {
  ERRNO,
  KernelError,
  MAX_SCHEDULE_TIMEOUT,
  O_CLOEXEC,
  POLLIN,
  POLLOUT,
  spinLockInit,
  type ErrnoName,
  type Process,
  type Spinlock,
} from "@dmasim/kernel";
import { z } from "zod";
import { defineOp, type OpContext, type OpDef } from "../op";
import type { RegistryPart } from "../registry";

const LAYER = "@dmasim/dma-resv";

/** An open file descriptor of a scenario process. */
export interface FdObject {
  readonly process: Process;
  readonly fd: number;
}

/** A fence timeline: a context number, the next seqno, and the lock its fences share (as a driver's ring has). */
interface TimelineObject {
  readonly context: number;
  next: number;
  readonly name: string;
  readonly lock: Spinlock;
}

const SCENARIO_FENCE_OPS: DmaFenceOps = {
  getDriverName: () => "scenario",
  getTimelineName: (f) => `timeline ${f.context}`,
};

const USAGE: Record<string, DmaResvUsage> = {
  KERNEL: DMA_RESV_USAGE_KERNEL,
  WRITE: DMA_RESV_USAGE_WRITE,
  READ: DMA_RESV_USAGE_READ,
  BOOKKEEP: DMA_RESV_USAGE_BOOKKEEP,
};
const usageSchema = z.enum(["KERNEL", "WRITE", "READ", "BOOKKEEP"]);
const errnoSchema = z.enum(Object.keys(ERRNO) as [ErrnoName, ...ErrnoName[]]);
const timeoutMs = z.number().int().min(0).optional();

function jiffies(ctx: OpContext, ms: number | undefined): number {
  return ms === undefined ? MAX_SCHEDULE_TIMEOUT : ctx.kernel.clock.msecsToJiffies(ms);
}

const get = <T>(ctx: OpContext, name: string, type: string): T => ctx.objects.get<T>(name, type);

/** The layer-3 operations. **Kernel:** kernel/locking/ww_mutex, drivers/dma-buf/dma-fence*.c, dma-resv.c, sync_file.c. */
export const DMA_RESV_OPS = [
  defineOp({
    name: "ww_class_define",
    layer: LAYER,
    summary: "a ww_mutex class: wait-die (`wait_die: true`, as reservation_ww_class) or wound-wait",
    args: z.object({ wait_die: z.boolean().optional() }).strict(),
    produces: "ww_class",
    requiresAs: true,
    run: (ctx, a) => ({
      object:
        (a.wait_die ?? true)
          ? defineWdClass(ctx.as ?? "ww_class")
          : defineWwClass(ctx.as ?? "ww_class"),
    }),
  }),
  defineOp({
    name: "ww_mutex_init",
    layer: LAYER,
    summary: "a ww_mutex of a class",
    args: z.object({ class: z.string() }).strict(),
    refs: { class: { type: "ww_class" } },
    primary: "class",
    produces: "ww_mutex",
    requiresAs: true,
    run: (ctx, a) => ({
      object: wwMutexInit(ctx.kernel, ctx.as ?? "ww", get<WwClass>(ctx, a.class, "ww_class")),
    }),
  }),
  defineOp({
    name: "ww_acquire_init",
    layer: LAYER,
    summary: "start an acquire context (a stamp: older contexts win)",
    args: z.object({ class: z.string() }).strict(),
    refs: { class: { type: "ww_class" } },
    primary: "class",
    produces: "ww_ctx",
    requiresAs: true,
    run: (ctx, a) => ({
      object: wwAcquireInit(ctx.kernel, get<WwClass>(ctx, a.class, "ww_class")),
    }),
  }),
  defineOp({
    name: "ww_acquire_done",
    layer: LAYER,
    summary: "mark that the context takes no more locks",
    args: z.object({ ctx: z.string() }).strict(),
    refs: { ctx: { type: "ww_ctx" } },
    primary: "ctx",
    run: (ctx, a) => {
      wwAcquireDone(get<WwAcquireCtx>(ctx, a.ctx, "ww_ctx"));
    },
  }),
  defineOp({
    name: "ww_acquire_fini",
    layer: LAYER,
    summary: "end an acquire context (every lock must be released)",
    args: z.object({ ctx: z.string() }).strict(),
    refs: { ctx: { type: "ww_ctx" } },
    primary: "ctx",
    run: (ctx, a) => {
      wwAcquireFini(get<WwAcquireCtx>(ctx, a.ctx, "ww_ctx"));
    },
  }),
  ...(["ww_mutex_lock", "ww_mutex_lock_interruptible"] as const).map((name) =>
    defineOp({
      name,
      layer: LAYER,
      summary: `take a ww_mutex with a context (or none); may fail with EDEADLK or EALREADY${name.endsWith("interruptible") ? " or EINTR" : ""}`,
      args: z.object({ lock: z.string(), ctx: z.string().optional() }).strict(),
      refs: { lock: { type: "ww_mutex" }, ctx: { type: "ww_ctx", optional: true } },
      primary: "lock",
      run: async (ctx, a) => {
        const c = a.ctx === undefined ? null : get<WwAcquireCtx>(ctx, a.ctx, "ww_ctx");
        const lock = get<WwMutex>(ctx, a.lock, "ww_mutex");
        await (name === "ww_mutex_lock" ? wwMutexLock(lock, c) : wwMutexLockInterruptible(lock, c));
      },
    }),
  ),
  defineOp({
    name: "ww_mutex_lock_slow",
    layer: LAYER,
    summary: "after EDEADLK and releasing every lock: wait for the contended lock",
    args: z.object({ lock: z.string(), ctx: z.string() }).strict(),
    refs: { lock: { type: "ww_mutex" }, ctx: { type: "ww_ctx" } },
    run: async (ctx, a) => {
      await wwMutexLockSlow(
        get<WwMutex>(ctx, a.lock, "ww_mutex"),
        get<WwAcquireCtx>(ctx, a.ctx, "ww_ctx"),
      );
    },
  }),
  defineOp({
    name: "ww_mutex_trylock",
    layer: LAYER,
    summary: "take a ww_mutex if free; value: true or false",
    args: z.object({ lock: z.string(), ctx: z.string().optional() }).strict(),
    refs: { lock: { type: "ww_mutex" }, ctx: { type: "ww_ctx", optional: true } },
    primary: "lock",
    run: (ctx, a) => ({
      value: wwMutexTrylock(
        get<WwMutex>(ctx, a.lock, "ww_mutex"),
        a.ctx === undefined ? null : get<WwAcquireCtx>(ctx, a.ctx, "ww_ctx"),
      ),
    }),
  }),
  defineOp({
    name: "ww_mutex_unlock",
    layer: LAYER,
    summary: "release a ww_mutex",
    args: z.object({ lock: z.string() }).strict(),
    refs: { lock: { type: "ww_mutex" } },
    primary: "lock",
    run: (ctx, a) => {
      wwMutexUnlock(get<WwMutex>(ctx, a.lock, "ww_mutex"));
    },
  }),
  defineOp({
    name: "dma_fence_context_alloc",
    layer: LAYER,
    summary: "a fence timeline (a new fence context); fences on it get increasing seqnos",
    args: z.object({}).strict(),
    produces: "fence_timeline",
    requiresAs: true,
    run: (ctx) => {
      const name = ctx.as ?? "timeline";
      const t: TimelineObject = {
        context: dmaFenceContextAlloc(ctx.kernel, 1),
        next: 1,
        name,
        lock: spinLockInit(ctx.kernel, `${name}.lock`, "scenario_fence_lock"),
      };
      return { object: t, text: `context ${t.context}` };
    },
  }),
  defineOp({
    name: "dma_fence_init",
    layer: LAYER,
    summary: "a fence on a timeline (seqno: the next one, or given); the scenario signals it",
    args: z.object({ timeline: z.string(), seqno: z.number().int().min(0).optional() }).strict(),
    refs: { timeline: { type: "fence_timeline" } },
    primary: "timeline",
    produces: "fence",
    requiresAs: true,
    run: (ctx, a) => {
      const t = get<TimelineObject>(ctx, a.timeline, "fence_timeline");
      const seqno = a.seqno ?? t.next;
      t.next = Math.max(t.next, seqno + 1);
      const f = dmaFenceInit(ctx.kernel, SCENARIO_FENCE_OPS, t.lock, t.context, seqno);
      return { object: f, text: `fence ${t.context}:${seqno}` };
    },
  }),
  defineOp({
    name: "dma_fence_signal",
    layer: LAYER,
    summary:
      "signal a fence (runs its callbacks, wakes waiters); value: 0, or -22 if already signaled",
    args: z.object({ fence: z.string() }).strict(),
    refs: { fence: { type: "fence" } },
    primary: "fence",
    run: (ctx, a) => ({ value: dmaFenceSignal(get<DmaFence>(ctx, a.fence, "fence")) }),
  }),
  defineOp({
    name: "dma_fence_set_error",
    layer: LAYER,
    summary: "record an error on a fence before it signals",
    args: z.object({ fence: z.string(), errno: errnoSchema }).strict(),
    refs: { fence: { type: "fence" } },
    run: (ctx, a) => {
      dmaFenceSetError(get<DmaFence>(ctx, a.fence, "fence"), -ERRNO[a.errno]);
    },
  }),
  defineOp({
    name: "dma_fence_is_signaled",
    layer: LAYER,
    summary: "value: whether the fence has signaled",
    args: z.object({ fence: z.string() }).strict(),
    refs: { fence: { type: "fence" } },
    primary: "fence",
    run: (ctx, a) => ({ value: dmaFenceIsSignaled(get<DmaFence>(ctx, a.fence, "fence")) }),
  }),
  defineOp({
    name: "dma_fence_get_status",
    layer: LAYER,
    summary: "value: 0 pending, 1 signaled, or the negative error",
    args: z.object({ fence: z.string() }).strict(),
    refs: { fence: { type: "fence" } },
    primary: "fence",
    run: (ctx, a) => ({ value: dmaFenceGetStatus(get<DmaFence>(ctx, a.fence, "fence")) }),
  }),
  defineOp({
    name: "dma_fence_wait_timeout",
    layer: LAYER,
    summary: "wait for a fence (timeout_ms: none = forever); value: jiffies left, 0 on timeout",
    args: z
      .object({ fence: z.string(), interruptible: z.boolean().optional(), timeout_ms: timeoutMs })
      .strict(),
    refs: { fence: { type: "fence" } },
    primary: "fence",
    run: async (ctx, a) => {
      const left = await dmaFenceWaitTimeout(
        get<DmaFence>(ctx, a.fence, "fence"),
        a.interruptible ?? false,
        jiffies(ctx, a.timeout_ms),
      );
      return { value: left, text: left === 0 ? "timed out" : "signaled" };
    },
  }),
  defineOp({
    name: "dma_fence_enable_sw_signaling",
    layer: LAYER,
    summary: "ask the fence's driver to signal it (enable_signaling)",
    args: z.object({ fence: z.string() }).strict(),
    refs: { fence: { type: "fence" } },
    primary: "fence",
    run: (ctx, a) => {
      dmaFenceEnableSwSignaling(get<DmaFence>(ctx, a.fence, "fence"));
    },
  }),
  defineOp({
    name: "dma_fence_array_create",
    layer: LAYER,
    summary:
      "a fence array over `fences` on a new context: signals when all (or, with signal_on_any, one) have",
    args: z
      .object({ fences: z.array(z.string()).min(1), signal_on_any: z.boolean().optional() })
      .strict(),
    refs: { fences: { type: "fence", many: true } },
    produces: "fence",
    requiresAs: true,
    run: (ctx, a) => {
      const fences = a.fences.map((n) => dmaFenceGet(get<DmaFence>(ctx, n, "fence")));
      const arr = dmaFenceArrayCreate(
        ctx.kernel,
        fences,
        dmaFenceContextAlloc(ctx.kernel, 1),
        1,
        a.signal_on_any ?? false,
      );
      return { object: arr, text: `array of ${fences.length}` };
    },
  }),
  defineOp({
    name: "dma_fence_chain_init",
    layer: LAYER,
    summary: "a timeline point: chain `fence` after `prev` (a chain node or none) with a seqno",
    args: z
      .object({ prev: z.string().optional(), fence: z.string(), seqno: z.number().int().min(0) })
      .strict(),
    refs: { prev: { type: "fence", optional: true }, fence: { type: "fence" } },
    produces: "fence",
    requiresAs: true,
    run: (ctx, a) => {
      const prev = a.prev === undefined ? null : dmaFenceGet(get<DmaFence>(ctx, a.prev, "fence"));
      const node = dmaFenceChainInit(
        ctx.kernel,
        prev,
        dmaFenceGet(get<DmaFence>(ctx, a.fence, "fence")),
        a.seqno,
      );
      return { object: node, text: `chain point ${a.seqno}` };
    },
  }),
  defineOp({
    name: "dma_fence_unwrap_merge",
    layer: LAYER,
    summary: "one fence for every unsignaled leaf of `fences` (containers unwrapped)",
    args: z.object({ fences: z.array(z.string()).min(1) }).strict(),
    refs: { fences: { type: "fence", many: true } },
    produces: "fence",
    requiresAs: true,
    run: (ctx, a) => ({
      object: dmaFenceUnwrapMerge(
        ctx.kernel,
        ...a.fences.map((n) => get<DmaFence>(ctx, n, "fence")),
      ),
    }),
  }),
  defineOp({
    name: "dma_fence_put",
    layer: LAYER,
    summary: "drop the scenario's reference to a fence",
    args: z.object({ fence: z.string() }).strict(),
    refs: { fence: { type: "fence" } },
    primary: "fence",
    run: (ctx, a) => {
      dmaFencePut(get<DmaFence>(ctx, a.fence, "fence"));
    },
  }),
  defineOp({
    name: "dma_resv_init",
    layer: LAYER,
    summary: "a reservation object (its lock is a wait-die ww_mutex of reservation_ww_class)",
    args: z.object({}).strict(),
    produces: "resv",
    requiresAs: true,
    run: (ctx) => ({ object: dmaResvInit(ctx.kernel, ctx.as) }),
  }),
  ...(["dma_resv_lock", "dma_resv_lock_interruptible"] as const).map((name) =>
    defineOp({
      name,
      layer: LAYER,
      summary:
        "lock a reservation object, alone or in an acquire context; may fail with EDEADLK or EALREADY",
      args: z.object({ obj: z.string(), ctx: z.string().optional() }).strict(),
      refs: { obj: { type: "resv" }, ctx: { type: "ww_ctx", optional: true } },
      primary: "obj",
      run: async (ctx, a) => {
        const c = a.ctx === undefined ? null : get<WwAcquireCtx>(ctx, a.ctx, "ww_ctx");
        const obj = get<DmaResv>(ctx, a.obj, "resv");
        await (name === "dma_resv_lock" ? dmaResvLock(obj, c) : dmaResvLockInterruptible(obj, c));
      },
    }),
  ),
  defineOp({
    name: "dma_resv_lock_slow",
    layer: LAYER,
    summary: "after EDEADLK and unlocking everything: wait for the contended reservation lock",
    args: z.object({ obj: z.string(), ctx: z.string() }).strict(),
    refs: { obj: { type: "resv" }, ctx: { type: "ww_ctx" } },
    run: async (ctx, a) => {
      await dmaResvLockSlow(
        get<DmaResv>(ctx, a.obj, "resv"),
        get<WwAcquireCtx>(ctx, a.ctx, "ww_ctx"),
      );
    },
  }),
  defineOp({
    name: "dma_resv_trylock",
    layer: LAYER,
    summary: "lock a reservation object if free; value: true or false",
    args: z.object({ obj: z.string() }).strict(),
    refs: { obj: { type: "resv" } },
    primary: "obj",
    run: (ctx, a) => ({ value: dmaResvTrylock(get<DmaResv>(ctx, a.obj, "resv")) }),
  }),
  defineOp({
    name: "dma_resv_unlock",
    layer: LAYER,
    summary: "unlock a reservation object",
    args: z.object({ obj: z.string() }).strict(),
    refs: { obj: { type: "resv" } },
    primary: "obj",
    run: (ctx, a) => {
      dmaResvUnlock(get<DmaResv>(ctx, a.obj, "resv"));
    },
  }),
  defineOp({
    name: "dma_resv_reserve_fences",
    layer: LAYER,
    summary: "reserve slots for fences about to be added (the object must be locked; 0 is EINVAL)",
    args: z.object({ obj: z.string(), num: z.number().int().min(0) }).strict(),
    refs: { obj: { type: "resv" } },
    run: (ctx, a) => {
      dmaResvReserveFences(get<DmaResv>(ctx, a.obj, "resv"), a.num);
    },
  }),
  defineOp({
    name: "dma_resv_add_fence",
    layer: LAYER,
    summary: "add a fence with a usage: KERNEL < WRITE < READ < BOOKKEEP (a slot must be reserved)",
    args: z.object({ obj: z.string(), fence: z.string(), usage: usageSchema }).strict(),
    refs: { obj: { type: "resv" }, fence: { type: "fence" } },
    run: (ctx, a) => {
      dmaResvAddFence(
        get<DmaResv>(ctx, a.obj, "resv"),
        get<DmaFence>(ctx, a.fence, "fence"),
        USAGE[a.usage] as DmaResvUsage,
      );
    },
  }),
  defineOp({
    name: "dma_resv_wait_timeout",
    layer: LAYER,
    summary: "wait for every fence of the usage or lower; value: jiffies left, 0 on timeout",
    args: z
      .object({
        obj: z.string(),
        usage: usageSchema,
        interruptible: z.boolean().optional(),
        timeout_ms: timeoutMs,
      })
      .strict(),
    refs: { obj: { type: "resv" } },
    run: async (ctx, a) => {
      const left = await dmaResvWaitTimeout(
        get<DmaResv>(ctx, a.obj, "resv"),
        USAGE[a.usage] as DmaResvUsage,
        a.interruptible ?? false,
        jiffies(ctx, a.timeout_ms),
      );
      return { value: left, text: left === 0 ? "timed out" : "all signaled" };
    },
  }),
  defineOp({
    name: "dma_resv_test_signaled",
    layer: LAYER,
    summary: "value: whether every fence of the usage or lower has signaled",
    args: z.object({ obj: z.string(), usage: usageSchema }).strict(),
    refs: { obj: { type: "resv" } },
    run: (ctx, a) => ({
      value: dmaResvTestSignaled(get<DmaResv>(ctx, a.obj, "resv"), USAGE[a.usage] as DmaResvUsage),
    }),
  }),
  defineOp({
    name: "dma_resv_get_fences",
    layer: LAYER,
    summary: "value: how many fences of the usage or lower the object holds (dma_resv_get_fences)",
    args: z.object({ obj: z.string(), usage: usageSchema }).strict(),
    refs: { obj: { type: "resv" } },
    run: (ctx, a) => {
      const fences = dmaResvGetFences(
        get<DmaResv>(ctx, a.obj, "resv"),
        USAGE[a.usage] as DmaResvUsage,
      );
      fences.forEach((f) => dmaFencePut(f));
      return { value: fences.length };
    },
  }),
  defineOp({
    name: "dma_resv_copy_fences",
    layer: LAYER,
    summary: "replace dst's fences with a copy of src's (dst must be locked)",
    args: z.object({ dst: z.string(), src: z.string() }).strict(),
    refs: { dst: { type: "resv" }, src: { type: "resv" } },
    run: (ctx, a) => {
      dmaResvCopyFences(get<DmaResv>(ctx, a.dst, "resv"), get<DmaResv>(ctx, a.src, "resv"));
    },
  }),
  defineOp({
    name: "sync_file_create",
    layer: LAYER,
    summary: "a sync_file fd for a fence, in a process's fd table (process: default app)",
    args: z
      .object({
        fence: z.string(),
        process: z.string().optional(),
        cloexec: z.boolean().optional(),
      })
      .strict(),
    refs: { fence: { type: "fence" } },
    primary: "fence",
    produces: "fd",
    requiresAs: true,
    run: (ctx, a) => {
      const process = ctx.process(a.process);
      const fd = syncFileInstall(
        process,
        syncFileCreate(get<DmaFence>(ctx, a.fence, "fence")),
        a.cloexec ? O_CLOEXEC : 0,
      );
      return { object: { process, fd } satisfies FdObject, text: `fd ${fd}` };
    },
  }),
  defineOp({
    name: "sync_file_get_fence",
    layer: LAYER,
    summary: "the fence behind a sync_file fd (EINVAL if the fd is not a sync_file)",
    args: z.object({ fd: z.string() }).strict(),
    refs: { fd: { type: "fd" } },
    primary: "fd",
    produces: "fence",
    requiresAs: true,
    run: (ctx, a) => {
      const o = get<FdObject>(ctx, a.fd, "fd");
      const f = syncFileGetFence(o.process, o.fd);
      if (!f) {
        throw new KernelError("EINVAL", `fd ${o.fd} is not a sync_file`);
      }
      return { object: f };
    },
  }),
  defineOp({
    name: "sync_file_merge",
    layer: LAYER,
    summary: "SYNC_IOC_MERGE: a new sync_file fd signaling when both fds' fences have",
    args: z.object({ fd: z.string(), fd2: z.string(), name: z.string().optional() }).strict(),
    refs: { fd: { type: "fd" }, fd2: { type: "fd" } },
    produces: "fd",
    requiresAs: true,
    run: async (ctx, a) => {
      const o = get<FdObject>(ctx, a.fd, "fd");
      const o2 = get<FdObject>(ctx, a.fd2, "fd");
      const data: SyncMergeData = {
        name: a.name ?? ctx.as ?? "merged",
        fd2: o2.fd,
        fence: -1,
        flags: 0,
        pad: 0,
      };
      await o.process.ioctl(o.fd, SYNC_IOC_MERGE, data);
      return {
        object: { process: o.process, fd: data.fence } satisfies FdObject,
        text: `fd ${data.fence}`,
      };
    },
  }),
  defineOp({
    name: "poll",
    layer: "@dmasim/kernel",
    summary: "poll an fd once (events: IN, OUT or both); value: the ready mask",
    args: z.object({ fd: z.string(), events: z.enum(["IN", "OUT", "INOUT"]).optional() }).strict(),
    refs: { fd: { type: "fd" } },
    primary: "fd",
    run: (ctx, a) => {
      const o = get<FdObject>(ctx, a.fd, "fd");
      const ev = a.events === "OUT" ? POLLOUT : a.events === "INOUT" ? POLLIN | POLLOUT : POLLIN;
      const mask = o.process.poll(o.fd, ev);
      return { value: mask, text: `0x${mask.toString(16)}` };
    },
  }),
  defineOp({
    name: "close",
    layer: "@dmasim/kernel",
    summary: "close an fd (the file is released with its last reference)",
    args: z.object({ fd: z.string() }).strict(),
    refs: { fd: { type: "fd" } },
    primary: "fd",
    run: (ctx, a) => {
      const o = get<FdObject>(ctx, a.fd, "fd");
      o.process.close(o.fd);
    },
  }),
] as unknown as readonly OpDef<never>[];

/** What layer 3 adds to scenarios. **Kernel:** none. */
export const DMA_RESV_PART: RegistryPart = { ops: DMA_RESV_OPS, modules: [DMA_RESV_MODULE] };
