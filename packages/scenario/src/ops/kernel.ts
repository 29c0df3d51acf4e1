/**
 * Operations of layer 0 (@dmasim/kernel): mutexes, spinlocks, completions, sleeps.
 *
 * @module
 */
import {
  complete,
  completeAll,
  initCompletion,
  msleep,
  mutexInit,
  mutexLock,
  mutexLockInterruptible,
  mutexTrylock,
  mutexUnlock,
  reinitCompletion,
  spinLock,
  spinLockInit,
  spinUnlock,
  waitForCompletion,
  waitForCompletionTimeout,
  type Completion,
  type Mutex,
  type Spinlock,
} from "@dmasim/kernel";
import { z } from "zod";
import { defineOp, type OpDef } from "../op";

const LAYER = "@dmasim/kernel";
const lockArg = z.object({ lock: z.string() }).strict();
const initArg = z.object({ class: z.string().optional() }).strict();
const completionArg = z.object({ completion: z.string() }).strict();

/** The layer-0 operations. **Kernel:** kernel/locking, kernel/sched. */
export const KERNEL_OPS: readonly OpDef<never>[] = [
  defineOp({
    name: "mutex_init",
    layer: LAYER,
    summary: "create a mutex (its lockdep class is `class`, default: its name)",
    args: initArg,
    produces: "mutex",
    requiresAs: true,
    run: (ctx, args) => ({
      object: mutexInit(ctx.kernel, ctx.as ?? "mutex", args.class ?? ctx.as ?? "mutex"),
    }),
  }),
  defineOp({
    name: "mutex_lock",
    layer: LAYER,
    summary: "take a mutex (may sleep)",
    args: lockArg,
    refs: { lock: { type: "mutex" } },
    primary: "lock",
    run: async (ctx, args) => {
      await mutexLock(ctx.objects.get<Mutex>(args.lock, "mutex"));
    },
  }),
  defineOp({
    name: "mutex_lock_interruptible",
    layer: LAYER,
    summary: "take a mutex; a signal ends the wait with EINTR",
    args: lockArg,
    refs: { lock: { type: "mutex" } },
    primary: "lock",
    run: async (ctx, args) => {
      await mutexLockInterruptible(ctx.objects.get<Mutex>(args.lock, "mutex"));
    },
  }),
  defineOp({
    name: "mutex_trylock",
    layer: LAYER,
    summary: "take a mutex if free; value: true or false",
    args: lockArg,
    refs: { lock: { type: "mutex" } },
    primary: "lock",
    run: (ctx, args) => ({ value: mutexTrylock(ctx.objects.get<Mutex>(args.lock, "mutex")) }),
  }),
  defineOp({
    name: "mutex_unlock",
    layer: LAYER,
    summary: "release a mutex",
    args: lockArg,
    refs: { lock: { type: "mutex" } },
    primary: "lock",
    run: (ctx, args) => {
      mutexUnlock(ctx.objects.get<Mutex>(args.lock, "mutex"));
    },
  }),
  defineOp({
    name: "spin_lock_init",
    layer: LAYER,
    summary: "create a spinlock",
    args: initArg,
    produces: "spinlock",
    requiresAs: true,
    run: (ctx, args) => ({
      object: spinLockInit(ctx.kernel, ctx.as ?? "lock", args.class ?? ctx.as ?? "lock"),
    }),
  }),
  defineOp({
    name: "spin_lock",
    layer: LAYER,
    summary: "take a spinlock (enters atomic context)",
    args: lockArg,
    refs: { lock: { type: "spinlock" } },
    primary: "lock",
    run: (ctx, args) => {
      spinLock(ctx.objects.get<Spinlock>(args.lock, "spinlock"));
    },
  }),
  defineOp({
    name: "spin_unlock",
    layer: LAYER,
    summary: "release a spinlock",
    args: lockArg,
    refs: { lock: { type: "spinlock" } },
    primary: "lock",
    run: (ctx, args) => {
      spinUnlock(ctx.objects.get<Spinlock>(args.lock, "spinlock"));
    },
  }),
  defineOp({
    name: "msleep",
    layer: LAYER,
    summary: "sleep for `ms` milliseconds of simulated time",
    args: z.object({ ms: z.number().int().min(0) }).strict(),
    primary: "ms",
    run: async (ctx, args) => {
      await msleep(ctx.kernel, args.ms);
    },
  }),
  defineOp({
    name: "init_completion",
    layer: LAYER,
    summary: "create a completion",
    args: z.object({}).strict(),
    produces: "completion",
    requiresAs: true,
    run: (ctx) => ({ object: initCompletion(ctx.kernel, ctx.as ?? "completion") }),
  }),
  defineOp({
    name: "complete",
    layer: LAYER,
    summary: "wake one waiter of a completion",
    args: completionArg,
    refs: { completion: { type: "completion" } },
    primary: "completion",
    run: (ctx, args) => {
      complete(ctx.objects.get<Completion>(args.completion, "completion"));
    },
  }),
  defineOp({
    name: "complete_all",
    layer: LAYER,
    summary: "wake every waiter of a completion, now and later",
    args: completionArg,
    refs: { completion: { type: "completion" } },
    primary: "completion",
    run: (ctx, args) => {
      completeAll(ctx.objects.get<Completion>(args.completion, "completion"));
    },
  }),
  defineOp({
    name: "reinit_completion",
    layer: LAYER,
    summary: "re-arm a completion (done = 0) for its next use",
    args: completionArg,
    refs: { completion: { type: "completion" } },
    primary: "completion",
    run: (ctx, args) => {
      reinitCompletion(ctx.objects.get<Completion>(args.completion, "completion"));
    },
  }),
  defineOp({
    name: "wait_for_completion",
    layer: LAYER,
    summary: "wait until a completion is completed (may sleep)",
    args: completionArg,
    refs: { completion: { type: "completion" } },
    primary: "completion",
    run: async (ctx, args) => {
      await waitForCompletion(ctx.objects.get<Completion>(args.completion, "completion"));
    },
  }),
  defineOp({
    name: "wait_for_completion_timeout",
    layer: LAYER,
    summary: "wait up to `timeout_ms`; value: jiffies left, 0 on timeout",
    args: z.object({ completion: z.string(), timeout_ms: z.number().int().min(0) }).strict(),
    refs: { completion: { type: "completion" } },
    run: async (ctx, args) => {
      const c = ctx.objects.get<Completion>(args.completion, "completion");
      const left = await waitForCompletionTimeout(
        c,
        ctx.kernel.clock.msecsToJiffies(args.timeout_ms),
      );
      return { value: left, text: left === 0 ? "timed out" : `${left} jiffies left` };
    },
  }),
] as unknown as readonly OpDef<never>[];
