/** Cases of the @dmasim/kernel operations: locks, completions, sleeps, fds and user mappings. */
import { mutexIsLocked, spinIsLocked } from "@dmasim/kernel";
import { expect } from "vitest";
import { ARM64, T, probe, type OpCase } from "./harness";

const MUTEX = `setup:
  - mutex_init: { class: dev_lock }
    as: A
`;
const SPIN = `setup:
  - spin_lock_init: {}
    as: L
`;
const COMPLETION = `setup:
  - init_completion: {}
    as: done
`;
/** A sync_file fd `sf` of an unsignaled fence `f`. */
const SYNC_FILE = `setup:
  - dma_fence_context_alloc: {}
    as: tl
  - dma_fence_init: tl
    as: f
  - sync_file_create: f
    as: sf
`;
/** A system-heap dma-buf fd `fd` of one page. */
const HEAP_FD = `${ARM64}heaps: true
setup:
  - dma_heap_alloc: { heap: system, len: 4096 }
    as: fd
`;

const heldBy = (thread: string) =>
  probe({ lock: T.ref("mutex") }, ({ lock }) => {
    expect(mutexIsLocked(lock)).toBe(true);
    expect(lock.owner?.name).toBe(thread);
  });

export const KERNEL_CASES: Readonly<Record<string, OpCase>> = {
  mutex_init: {
    yaml: `${MUTEX}steps:
  - probe: { lock: A }
`,
    probe: probe({ lock: T.ref("mutex") }, ({ lock }) => {
      expect(lock.name).toBe("A");
      expect(lock.dep.cls.name).toBe("dev_lock");
      expect(mutexIsLocked(lock)).toBe(false);
    }),
  },
  mutex_lock: {
    yaml: `${MUTEX}steps:
  - mutex_lock: A
  - probe: { lock: A }
  - mutex_unlock: A
`,
    probe: heldBy("main"),
  },
  mutex_lock_interruptible: {
    yaml: `${MUTEX}steps:
  - mutex_lock_interruptible: A
  - probe: { lock: A }
  - mutex_unlock: A
`,
    probe: heldBy("main"),
  },
  mutex_trylock: {
    yaml: `${MUTEX}threads:
  t1:
    - mutex_trylock: A
      expect: { value: true }
    - probe: { lock: A }
    - msleep: 10
    - mutex_unlock: A
  t2:
    - msleep: 5
    - mutex_trylock: A
      expect: { value: false }
`,
    probe: heldBy("t1"),
  },
  mutex_unlock: {
    yaml: `${MUTEX}steps:
  - mutex_lock: A
  - mutex_unlock: A
  - probe: { lock: A }
`,
    probe: probe({ lock: T.ref("mutex") }, ({ lock }) => {
      expect(mutexIsLocked(lock)).toBe(false);
      expect(lock.owner).toBeNull();
    }),
  },
  spin_lock_init: {
    yaml: `${SPIN}steps:
  - probe: { lock: L }
`,
    probe: probe({ lock: T.ref("spinlock") }, ({ lock }) => {
      expect(lock.name).toBe("L");
      expect(spinIsLocked(lock)).toBe(false);
    }),
  },
  spin_lock: {
    // held, and atomic context: sleeping under it is a lockdep finding
    yaml: `${SPIN}steps:
  - spin_lock: L
  - probe: { lock: L }
  - msleep: 1
    expect: { findings: lockdep }
  - spin_unlock: L
`,
    probe: probe({ lock: T.ref("spinlock") }, ({ lock }, ctx) => {
      expect(spinIsLocked(lock)).toBe(true);
      expect(lock.owner?.name).toBe("main");
      expect(ctx.kernel.lockdep.isHeld(lock.dep)).toBe(true);
    }),
  },
  spin_unlock: {
    yaml: `${SPIN}steps:
  - spin_lock: L
  - spin_unlock: L
  - probe: { lock: L }
  - msleep: 1
`,
    probe: probe({ lock: T.ref("spinlock") }, ({ lock }, ctx) => {
      expect(spinIsLocked(lock)).toBe(false);
      expect(ctx.kernel.lockdep.isHeld(lock.dep)).toBe(false);
    }),
  },
  msleep: {
    yaml: `${MUTEX}steps:
  - msleep: 7
  - probe: { lock: A }
`,
    probe: probe({ lock: T.ref("mutex") }, (_a, ctx) => {
      expect(ctx.kernel.clock.now()).toBe(7_000_000);
    }),
  },
  init_completion: {
    yaml: `${COMPLETION}steps:
  - probe: { c: done }
`,
    probe: probe({ c: T.ref("completion") }, ({ c }) => expect(c.done).toBe(0)),
  },
  complete: {
    yaml: `${COMPLETION}steps:
  - complete: done
  - probe: { c: done }
`,
    probe: probe({ c: T.ref("completion") }, ({ c }) => expect(c.done).toBe(1)),
  },
  complete_all: {
    yaml: `${COMPLETION}steps:
  - complete_all: done
  - wait_for_completion: done
  - wait_for_completion: done
  - probe: { c: done }
`,
    probe: probe({ c: T.ref("completion") }, ({ c }) => expect(c.done).toBeGreaterThan(1e9)),
  },
  reinit_completion: {
    yaml: `${COMPLETION}steps:
  - complete: done
  - reinit_completion: done
  - probe: { c: done }
  - wait_for_completion_timeout: { completion: done, timeout_ms: 10 }
    expect: { value: 0 }
`,
    probe: probe({ c: T.ref("completion") }, ({ c }) => expect(c.done).toBe(0)),
  },
  wait_for_completion: {
    // waits until t2 completes at 5 ms, and consumes the completion
    yaml: `${COMPLETION}threads:
  t1:
    - wait_for_completion: done
    - probe: { c: done }
  t2:
    - msleep: 5
    - complete: done
`,
    probe: probe({ c: T.ref("completion") }, ({ c }, ctx) => {
      expect(c.done).toBe(0);
      expect(ctx.kernel.clock.now()).toBe(5_000_000);
    }),
  },
  wait_for_completion_timeout: {
    yaml: `${COMPLETION}threads:
  t1:
    - wait_for_completion_timeout: { completion: done, timeout_ms: 20 }
      expect: { value: 0 }
    - probe: { c: done }
    - wait_for_completion_timeout: { completion: done, timeout_ms: 20 }
      label: woken
  t2:
    - msleep: 25
    - complete: done
`,
    probe: probe({ c: T.ref("completion") }, (_a, ctx) => {
      expect(ctx.kernel.clock.now()).toBe(20_000_000);
    }),
    report: (r) => {
      const woken = r.steps.find((s) => s.label === "woken");
      expect(woken?.status).toBe("ok");
      expect(woken?.text).toMatch(/^\d+ jiffies left$/);
    },
  },
  poll: {
    yaml: `${SYNC_FILE}steps:
  - poll: sf
    expect: { value: 0 }
  - dma_fence_signal: f
  - poll: sf
    expect: { value: 1 }
`,
  },
  close: {
    // poll of a closed fd answers POLLNVAL
    yaml: `${SYNC_FILE}steps:
  - probe: { fd: sf }
  - close: sf
  - poll: sf
    expect: { value: 0x20 }
`,
    probe: probe({ fd: T.ref("fd") }, ({ fd }) => {
      expect(fd.process.peek(fd.fd)).toBeDefined();
    }),
  },
  fdinfo: {
    yaml: `${HEAP_FD}steps:
  - fdinfo: fd
  - close: fd
`,
    report: (r) => {
      const text = r.steps.find((s) => s.op === "fdinfo")?.text ?? "";
      expect(text).toMatch(/^pos:\s+0 \| flags:\s+\d+/);
      expect(text).toMatch(/size:\s+4096/);
      expect(text).toMatch(/exp_name:\s+system/);
    },
  },
  llseek: {
    yaml: `${HEAP_FD}steps:
  - llseek: { fd: fd, offset: 0, whence: SEEK_END }
    expect: { value: 4096 }
  - llseek: { fd: fd, offset: 0, whence: SEEK_SET }
    expect: { value: 0 }
  - close: fd
`,
  },
  munmap: {
    yaml: `${HEAP_FD}steps:
  - dma_buf_mmap: { fd: fd, write: true }
    as: user
  - probe: { m: user }
  - munmap: user
  - cpu_read: { mapping: user, len: 4 }
    expect: { errno: EFAULT }
  - close: fd
`,
    probe: probe({ m: T.ref("mapping") }, ({ m }) => {
      expect(m.proc?.mm.findVma(m.segments[0]?.va ?? -1)).toBeDefined();
    }),
  },
};
