/**
 * Operations of layer 0 (@dmasim/kernel): mutexes, spinlocks, completions, sleeps; and the
 * system calls on fds and user mappings (close, poll, fdinfo, llseek, munmap).
 *
 * @module
 */
import {
  KernelError,
  POLLIN,
  POLLOUT,
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
} from "@dmasim/kernel";
import { z } from "zod";
import { scenarioLayer } from "../layer";
import type { OpDef } from "../op";
import type { RegistryPart } from "../registry";

const L = scenarioLayer("@dmasim/kernel");
const initArg = { class: z.string().optional() };

/** The locking, completion and sleep operations. **Kernel:** kernel/locking, kernel/sched. */
const LOCKING_OPS: readonly OpDef[] = [
  L.op({
    name: "mutex_init",
    summary: "create a mutex (its lockdep class is `class`, default: its name)",
    args: initArg,
    produces: "mutex",
    requiresAs: true,
    run: (ctx, a) => ({
      object: mutexInit(ctx.kernel, ctx.as ?? "mutex", a.class ?? ctx.as ?? "mutex"),
    }),
  }),
  L.objectOp({
    name: "mutex_lock",
    summary: "take a mutex (may sleep)",
    arg: "lock",
    type: "mutex",
    run: async (m) => {
      await mutexLock(m);
    },
  }),
  L.objectOp({
    name: "mutex_lock_interruptible",
    summary: "take a mutex; a signal ends the wait with EINTR",
    arg: "lock",
    type: "mutex",
    run: async (m) => {
      await mutexLockInterruptible(m);
    },
  }),
  L.objectOp({
    name: "mutex_trylock",
    summary: "take a mutex if free; value: true or false",
    arg: "lock",
    type: "mutex",
    run: (lock) => ({ value: mutexTrylock(lock) }),
  }),
  L.objectOp({
    name: "mutex_unlock",
    summary: "release a mutex",
    arg: "lock",
    type: "mutex",
    run: (m) => mutexUnlock(m),
  }),
  L.op({
    name: "spin_lock_init",
    summary: "create a spinlock",
    args: initArg,
    produces: "spinlock",
    requiresAs: true,
    run: (ctx, a) => ({
      object: spinLockInit(ctx.kernel, ctx.as ?? "lock", a.class ?? ctx.as ?? "lock"),
    }),
  }),
  L.objectOp({
    name: "spin_lock",
    summary: "take a spinlock (enters atomic context)",
    arg: "lock",
    type: "spinlock",
    run: (l) => spinLock(l),
  }),
  L.objectOp({
    name: "spin_unlock",
    summary: "release a spinlock",
    arg: "lock",
    type: "spinlock",
    run: (l) => spinUnlock(l),
  }),
  L.op({
    name: "msleep",
    summary: "sleep for `ms` milliseconds of simulated time",
    args: { ms: z.number().int().min(0) },
    primary: "ms",
    run: async (ctx, a) => {
      await msleep(ctx.kernel, a.ms);
    },
  }),
  L.op({
    name: "init_completion",
    summary: "create a completion",
    args: {},
    produces: "completion",
    requiresAs: true,
    run: (ctx) => ({ object: initCompletion(ctx.kernel, ctx.as ?? "completion") }),
  }),
  L.objectOp({
    name: "complete",
    summary: "wake one waiter of a completion",
    arg: "completion",
    type: "completion",
    run: (c) => complete(c),
  }),
  L.objectOp({
    name: "complete_all",
    summary: "wake every waiter of a completion, now and later",
    arg: "completion",
    type: "completion",
    run: (c) => completeAll(c),
  }),
  L.objectOp({
    name: "reinit_completion",
    summary: "re-arm a completion (done = 0) for its next use",
    arg: "completion",
    type: "completion",
    run: (c) => reinitCompletion(c),
  }),
  L.objectOp({
    name: "wait_for_completion",
    summary: "wait until a completion is completed (may sleep)",
    arg: "completion",
    type: "completion",
    run: async (c) => {
      await waitForCompletion(c);
    },
  }),
  L.op({
    name: "wait_for_completion_timeout",
    summary: "wait up to `timeout_ms`; value: jiffies left, 0 on timeout",
    args: { completion: L.ref("completion"), timeout_ms: z.number().int().min(0) },
    run: async (ctx, a) => {
      const jiffies = ctx.kernel.clock.msecsToJiffies(a.timeout_ms);
      const left = await waitForCompletionTimeout(a.completion, jiffies);
      return { value: left, text: left === 0 ? "timed out" : `${left} jiffies left` };
    },
  }),
];

/** The system calls on fds and user mappings. **Kernel:** fs/ (close, poll, lseek, fdinfo), mm/mmap.c. */
const FD_OPS: readonly OpDef[] = [
  L.op({
    name: "poll",
    summary: "poll an fd once (events: IN, OUT or both); value: the ready mask",
    args: { fd: L.ref("fd"), events: z.enum(["IN", "OUT", "INOUT"]).optional() },
    primary: "fd",
    run: (_ctx, { fd, events }) => {
      const ev = events === "OUT" ? POLLOUT : events === "INOUT" ? POLLIN | POLLOUT : POLLIN;
      const mask = fd.process.poll(fd.fd, ev);
      return { value: mask, text: `0x${mask.toString(16)}` };
    },
  }),
  L.objectOp({
    name: "close",
    summary: "close an fd (the file is released with its last reference)",
    arg: "fd",
    type: "fd",
    run: (fd) => fd.process.close(fd.fd),
  }),
  L.objectOp({
    name: "fdinfo",
    summary:
      "value: the text of /proc/PID/fdinfo/FD (pos, flags, and the file's own lines, e.g. a dma-buf's size and exporter)",
    arg: "fd",
    type: "fd",
    run: (fd) => {
      const text = fd.process.fdinfo(fd.fd);
      return { value: text, text: text.trim().split("\n").join(" | ") };
    },
  }),
  L.op({
    name: "llseek",
    summary: "lseek(2) on an fd (whence SEEK_SET, SEEK_CUR or SEEK_END); value: the new position",
    args: {
      fd: L.ref("fd"),
      offset: z.number().int(),
      whence: z.enum(["SEEK_SET", "SEEK_CUR", "SEEK_END"]),
    },
    run: (_ctx, { fd, offset, whence }) => {
      const w = { SEEK_SET: 0, SEEK_CUR: 1, SEEK_END: 2 }[whence];
      return { value: fd.process.llseek(fd.fd, offset, w) };
    },
  }),
  L.op({
    name: "munmap",
    summary: "munmap(2) a user mapping (its file reference is dropped)",
    args: { mapping: L.ref("mapping") },
    primary: "mapping",
    run: async (_ctx, { mapping }, names) => {
      const start = mapping.segments[0];
      if (mapping.kind !== "user" || !mapping.proc || !start) {
        throw new KernelError("EINVAL", `${names.mapping} is not a user mapping`);
      }
      await mapping.proc.munmap(start.va);
    },
  }),
];

/** The layer-0 operations. **Kernel:** kernel/locking, kernel/sched, fs/, mm/mmap.c. */
export const KERNEL_OPS: readonly OpDef[] = [...LOCKING_OPS, ...FD_OPS];

/** What layer 0 adds to scenarios. **Kernel:** none. */
export const KERNEL_PART: RegistryPart = { ops: KERNEL_OPS };
