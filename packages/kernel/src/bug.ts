/**
 * WARN_ON, WARN_ON_ONCE, BUG_ON and might_sleep.
 *
 * **Kernel:** include/asm-generic/bug.h, kernel/panic.c (`__warn`), kernel/sched/core.c
 * (`__might_sleep`).
 *
 * A WARN prints a warning to dmesg, records a `warn` finding and carries on exactly as the kernel
 * does. A BUG records a `bug` finding and throws {@link KernelBug}: the thread dies and the run stops.
 *
 * @module
 */
import { KERNEL_BUG_BRAND, hasBrand } from "./brand";
import type { Kernel } from "./kernel";
import { KERN_WARNING, KERN_EMERG, KERN_ERR } from "./printk";
import { RunAborted } from "./sched";

/**
 * Thrown by {@link BUG_ON}: the simulated kernel crashed. The run stops there.
 *
 * **Kernel:** `BUG()`: an oops, the task killed.
 *
 * **Locking:** none.
 *
 * Use {@link isKernelBug} rather than `instanceof` (it works across the ESM and CJS copies).
 */
export class KernelBug extends Error {
  override readonly name = "KernelBug";
  readonly [KERNEL_BUG_BRAND] = true;
  constructor(
    message: string,
    readonly site: string,
  ) {
    super(message);
  }
}

/**
 * Whether `e` is a {@link KernelBug}.
 *
 * **Kernel:** none (an oops is recognised by its splat). **Locking:** none.
 */
export function isKernelBug(e: unknown): e is KernelBug {
  return hasBrand(e, KERNEL_BUG_BRAND);
}

/**
 * If `condition` holds, print `WARNING: … at <site>`, record a `warn` finding and return true.
 *
 * **Kernel:** `WARN_ON()` / `WARN()` (the message is `WARN()`'s format).
 *
 * **Locking:** any context.
 *
 * @param site - where it would be in the kernel, e.g. `"drivers/dma-buf/dma-buf.c:dma_buf_release"`
 * @param details - structured details for the finding
 */
export function WARN_ON(
  kernel: Kernel,
  condition: boolean,
  site: string,
  message?: string,
  details: Readonly<Record<string, unknown>> = {},
): boolean {
  if (!condition) {
    return false;
  }
  const task = kernel.sched.current;
  const text = message ?? `WARN_ON at ${site}`;
  kernel.printk(
    KERN_WARNING,
    `------------[ cut here ]------------\n${message ? `${message}\n` : ""}WARNING: CPU: 0 PID: ${task.id} at ${site}\nComm: ${task.name}\n---[ end trace ]---`,
  );
  kernel.report({
    kind: "warn",
    code: site,
    summary: `WARNING at ${site}: ${text}`,
    details: { site, ...details },
  });
  return true;
}

/**
 * Like {@link WARN_ON} but warns only the first time per `site` in this kernel; still returns the
 * condition every time.
 *
 * **Kernel:** `WARN_ON_ONCE()`.
 *
 * **Locking:** any context.
 */
export function WARN_ON_ONCE(
  kernel: Kernel,
  condition: boolean,
  site: string,
  message?: string,
  details: Readonly<Record<string, unknown>> = {},
): boolean {
  if (!condition) {
    return false;
  }
  if (kernel.warnedOnce.has(site)) {
    return true;
  }
  kernel.warnedOnce.add(site);
  return WARN_ON(kernel, true, site, message, details);
}

/**
 * If `condition` holds, print `kernel BUG at <site>!`, record a `bug` finding, turn lockdep off
 * (as `oops_enter()` does) and throw {@link KernelBug}.
 *
 * **Kernel:** `BUG_ON()`.
 *
 * **Locking:** any context.
 *
 * @throws {@link KernelBug} when `condition` holds
 */
export function BUG_ON(
  kernel: Kernel,
  condition: boolean,
  site: string,
  message?: string,
  details: Readonly<Record<string, unknown>> = {},
): void {
  if (!condition) {
    return;
  }
  const task = kernel.sched.current;
  kernel.printk(
    KERN_EMERG,
    `------------[ cut here ]------------\nkernel BUG at ${site}!\n${message ? `${message}\n` : ""}Internal error: Oops - BUG: 0 [#1] SMP\nComm: ${task.name} PID: ${task.id}`,
  );
  kernel.lockdep.debugLocksOff();
  kernel.report({
    kind: "bug",
    code: site,
    summary: `kernel BUG at ${site}!${message ? ` ${message}` : ""}`,
    details: { site, ...details },
  });
  const bug = new KernelBug(`kernel BUG at ${site}!${message ? ` ${message}` : ""}`, site);
  if (task === kernel.sched.init) {
    // init oopsed: the machine stops here (a thread's BUG stops it when the thread dies)
    kernel.sched.abort(
      new RunAborted("bug", `BUG in thread ${task.toString()}: ${bug.message}`, { cause: bug }),
    );
  }
  throw bug;
}

/**
 * Report sleeping in atomic context: a `lockdep` finding (code `sleep-in-atomic`) with the kernel's
 * wording. Does not sleep itself; sleeping functions call it on entry.
 *
 * **Kernel:** `might_sleep()` → `__might_sleep()` ("BUG: sleeping function called from invalid
 * context"), with `CONFIG_DEBUG_ATOMIC_SLEEP`.
 *
 * **Locking:** the caller must not be in atomic context; that is what it checks. Nothing is checked
 * with `CONFIG_DEBUG_ATOMIC_SLEEP` off.
 */
export function might_sleep(kernel: Kernel, site = "might_sleep"): void {
  const task = kernel.sched.current;
  if (!task.inAtomic() || !kernel.options.enabled("CONFIG_DEBUG_ATOMIC_SLEEP")) {
    return;
  }
  const held = kernel.lockdep.heldLocks(task).map((h) => h.map.name);
  const text =
    `BUG: sleeping function called from invalid context at ${site}\n` +
    `in_atomic(): ${task.preemptCount > 0 ? 1 : 0}, irqs_disabled(): ${task.irqsDisabled ? 1 : 0}, ` +
    `rcu_read_lock nesting: ${task.rcuReadDepth}, pid: ${task.id}, name: ${task.name}` +
    (held.length ? `\nlocks held: ${held.join(", ")}` : "");
  kernel.printk(KERN_ERR, text);
  kernel.report({
    kind: "lockdep",
    code: "sleep-in-atomic",
    summary: `BUG: sleeping function called from invalid context at ${site}`,
    details: {
      site,
      preemptCount: task.preemptCount,
      irqsDisabled: task.irqsDisabled,
      rcuReadDepth: task.rcuReadDepth,
      held,
      text,
      hint: `do not sleep (${site}) in atomic context: ${held.length ? `release ${held.join(", ")} first, or ` : ""}use a variant that does not sleep`,
    },
  });
}
