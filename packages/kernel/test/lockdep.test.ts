/**
 * Ports of the cases of the kernel's lib/locking-selftest.c (AA, ABBA, ABBCCA, ABCABC, ABBCCDDA,
 * ABCDBDDA, ABCDBCDA, double unlock, bad unlock order, recursive read-lock, mixed read/write) plus
 * the asserts, might_lock, nest locks, subclasses, trylocks and priming.
 */
import { describe, expect, it } from "vitest";
import {
  Kernel,
  downRead,
  downWrite,
  initRwsem,
  mutexInit,
  mutexLock,
  mutexTrylock,
  mutexUnlock,
  spinLock,
  spinLockInit,
  spinUnlock,
  upRead,
  upWrite,
  type LockChainLink,
  type LockdepMap,
} from "../src/index";

function codes(k: Kernel): string[] {
  return k.findings.filter((f) => f.kind === "lockdep").map((f) => f.code);
}

/** One kernel with lock instances X1, X2 of class X (and so on), taken with lockdep only. */
function setup(opts: { config?: ConstructorParameters<typeof Kernel>[0] } = {}) {
  const k = new Kernel(opts.config);
  const ld = k.lockdep;
  const m = (name: string) => ld.map(name, name[0]);
  const L: Record<string, LockdepMap> = {};
  for (const n of ["A", "B", "C", "D", "X1", "X2", "Y1"]) {
    L[n] = m(n);
  }
  const lock = (n: string) => ld.acquire(L[n]!);
  const unlock = (n: string) => ld.release(L[n]!);
  const lockUnlock2 = (a: string, b: string) => {
    lock(a);
    lock(b);
    unlock(b);
    unlock(a);
  };
  return { k, ld, L, lock, unlock, lockUnlock2 };
}

describe("lockdep: locking-selftest ports", () => {
  it("A-A: recursive locking of a spinlock, mutex and rwsem (write) is reported", async () => {
    const { k, lock } = setup();
    lock("X1");
    lock("X1");
    expect(codes(k)).toEqual(["recursive-locking"]);
    const f = k.findings[0]!;
    expect(f.summary).toBe("possible recursive locking detected");
    expect(String(f.details.text)).toContain("*** DEADLOCK ***");
    expect(String(f.details.text)).toContain("but task is already holding lock:");

    // real locks: a spinlock recursion is the lockdep splat and then the spinlock-debug BUG
    const k2 = new Kernel();
    const s = spinLockInit(k2, "s");
    spinLock(s);
    expect(() => spinLock(s)).toThrow(/spinlock recursion/);
    expect(codes(k2)).toEqual(["recursive-locking"]);

    // a mutex recursion is reported and then really deadlocks
    const k3 = new Kernel();
    const mx = mutexInit(k3, "mx");
    await mutexLock(mx);
    await expect(mutexLock(mx)).rejects.toThrow(/deadlock/);
    expect(k3.findings.map((x) => x.code)).toEqual(["recursive-locking", "all-blocked"]);

    const k4 = new Kernel();
    const sem = initRwsem(k4, "sem");
    await downWrite(sem);
    await expect(downWrite(sem)).rejects.toThrow(/deadlock/);
    expect(codes(k4)).toEqual(["recursive-locking"]);
  });

  it("A-A on two instances of one class is reported, with the nesting hint", () => {
    const { k, lock } = setup();
    lock("X1");
    lock("X2");
    expect(codes(k)).toEqual(["recursive-locking"]);
    expect(String(k.findings[0]!.details.text)).toContain(
      "May be due to missing lock nesting notation",
    );
  });

  it("A-B-B-A in one thread (no deadlock happened) is a circular dependency naming both chains", () => {
    const { k, lockUnlock2 } = setup();
    lockUnlock2("A", "B");
    expect(codes(k)).toEqual([]);
    lockUnlock2("B", "A");
    expect(codes(k)).toEqual(["circular-dependency"]);
    const f = k.findings[0]!;
    expect(f.summary).toBe("possible circular locking dependency detected");
    const [existing, current] = f.details.chains as LockChainLink[][];
    expect(existing!.map((l) => l.cls)).toEqual(["A", "B"]);
    expect(current!.map((l) => l.cls)).toEqual(["B", "A"]);
    const text = String(f.details.text);
    expect(text).toContain("which lock already depends on the new lock.");
    expect(text).toMatch(/-> #1 \(B\): after A in init\/0/);
    expect(text).toMatch(/-> #0 \(A\): being acquired by init\/0/);
    expect(text).toContain("CPU0                    CPU1");
  });

  // [name, pairs taken in order (the last closes the cycle), the existing chain lockdep must name]
  const cycles: [string, [string, string][], string[]][] = [
    [
      "A-B-B-C-C-A",
      [
        ["A", "B"],
        ["B", "C"],
        ["C", "A"],
      ],
      ["A", "B", "C"],
    ],
    [
      "A-B-C-A-B-C",
      [
        ["A", "B"],
        ["C", "A"],
        ["B", "C"],
      ],
      ["C", "A", "B"],
    ],
    [
      "A-B-B-C-C-D-D-A",
      [
        ["A", "B"],
        ["B", "C"],
        ["C", "D"],
        ["D", "A"],
      ],
      ["A", "B", "C", "D"],
    ],
    [
      "A-B-C-D-B-D-D-A",
      [
        ["A", "B"],
        ["C", "D"],
        ["B", "D"],
        ["D", "A"],
      ],
      ["A", "B", "D"],
    ],
    [
      "A-B-C-D-B-C-D-A",
      [
        ["A", "B"],
        ["C", "D"],
        ["B", "C"],
        ["D", "A"],
      ],
      ["A", "B", "C", "D"],
    ],
  ];
  for (const [name, pairs, chain] of cycles) {
    it(`${name}: only the pair that closes the cycle is reported, with the whole existing chain`, () => {
      const { k, lockUnlock2 } = setup();
      pairs.forEach(([a, b], i) => {
        lockUnlock2(a, b);
        expect(codes(k)).toEqual(i === pairs.length - 1 ? ["circular-dependency"] : []);
      });
      const [last] = pairs.slice(-1) as [[string, string]];
      const [existing, current] = k.findings[0]!.details.chains as LockChainLink[][];
      // from the lock being taken, through the graph, to the lock held
      expect(existing!.map((l) => l.cls)).toEqual(chain);
      expect(current!.map((l) => l.cls)).toEqual(last);
      expect(String(k.findings[0]!.details.text)).toContain(`-> #${chain.length - 1} (${last[0]})`);
    });
  }

  it("double unlock is a bad unlock balance", () => {
    const { k, lock, unlock } = setup();
    lock("A");
    unlock("A");
    expect(k.lockdep.release(k.lockdep.map("A2", "A"))).toBe(false);
    unlock("A");
    expect(codes(k)).toEqual(["bad-unlock-balance"]);
    expect(String(k.findings[0]!.details.text)).toContain(
      "but there are no more locks to release!",
    );
  });

  it("bad unlock order and non-nested unlock are fine", () => {
    const { k, lock, unlock, ld } = setup();
    lock("A");
    lock("B");
    unlock("A");
    unlock("B");
    lock("A");
    lock("B");
    lock("C");
    unlock("B");
    unlock("A");
    unlock("C");
    expect(codes(k)).toEqual([]);
    expect(ld.heldLocks()).toEqual([]);
  });

  it("recursive read-lock: allowed for recursive readers (rwlock_t, rcu), reported for rwsem readers", async () => {
    const { k, ld, L } = setup();
    ld.acquire(L.X1!, { read: true, recursive: true });
    ld.acquire(L.X1!, { read: true, recursive: true });
    ld.acquire(L.X2!, { read: true, recursive: true }); // #2: another instance of the class
    expect(codes(k)).toEqual([]);

    const k2 = new Kernel();
    const sem = initRwsem(k2, "sem");
    await downRead(sem);
    await downRead(sem);
    expect(codes(k2)).toEqual(["recursive-locking"]);
    upRead(sem);
    upRead(sem);
  });

  it("mixed read-write and write-read locking of one class are reported", () => {
    const a = setup();
    a.ld.acquire(a.L.X1!, { read: true, recursive: true });
    a.ld.acquire(a.L.X2!);
    expect(codes(a.k)).toEqual(["recursive-locking"]);
    const b = setup();
    b.ld.acquire(b.L.X1!);
    b.ld.acquire(b.L.X2!, { read: true, recursive: true });
    expect(codes(b.k)).toEqual(["recursive-locking"]);
  });

  it("an inversion between two threads is reported even though neither blocked", async () => {
    const k = new Kernel();
    const a = mutexInit(k, "&a->lock", "a_lock");
    const b = mutexInit(k, "&b->lock", "b_lock");
    await k.run({
      t1: async () => {
        await mutexLock(a);
        await mutexLock(b);
        mutexUnlock(b);
        mutexUnlock(a);
      },
      t2: async () => {
        await mutexLock(b);
        await mutexLock(a);
        mutexUnlock(a);
        mutexUnlock(b);
      },
    });
    expect(k.findings.map((f) => [f.kind, f.code, f.thread])).toEqual([
      ["lockdep", "circular-dependency", "t2"],
    ]);
    const [existing, current] = k.findings[0]!.details.chains as LockChainLink[][];
    expect(existing!.map((l) => [l.lock, l.thread])).toEqual([
      ["&a->lock", "t1/1"],
      ["&b->lock", "t1/1"],
    ]);
    expect(current!.map((l) => [l.lock, l.thread])).toEqual([
      ["&b->lock", "t2/2"],
      ["&a->lock", "t2/2"],
    ]);
  });

  it("repeated splats are reported once", () => {
    const { k, lock, unlock, lockUnlock2 } = setup();
    lockUnlock2("A", "B");
    lockUnlock2("B", "A");
    lockUnlock2("B", "A");
    lock("C");
    lock("C");
    unlock("C");
    lock("C");
    expect(codes(k)).toEqual(["circular-dependency", "recursive-locking"]);
  });
});

describe("lockdep: annotations", () => {
  it("lockdep_assert_held / _not_held", () => {
    const { k, ld, L, lock, unlock } = setup();
    expect(ld.assertHeld(L.A!)).toBe(false);
    lock("A");
    expect(ld.assertHeld(L.A!)).toBe(true);
    expect(ld.assertNotHeld(L.A!, "obj->resv")).toBe(false);
    unlock("A");
    expect(ld.assertNotHeld(L.A!)).toBe(true);
    expect(codes(k)).toEqual(["assert-held", "assert-not-held"]);
    expect(k.findings[0]!.summary).toBe("lockdep_assert_held(A) failed");
    expect(k.findings[1]!.summary).toBe("lockdep_assert_not_held(obj->resv) failed");
    expect(String(k.findings[0]!.details.text)).toContain("no locks held by init/0.");
    expect(String(k.findings[1]!.details.text)).toMatch(/1 lock held by init\/0:\n #0: A\(A\)/);
  });

  it("assertHeld is per thread: another thread's hold does not count", async () => {
    const k = new Kernel();
    const m = mutexInit(k, "m");
    await mutexLock(m);
    await k.run({
      other: async () => {
        k.lockdep.assertHeld(m.dep);
      },
    });
    mutexUnlock(m);
    expect(codes(k)).toEqual(["assert-held"]);
    expect(k.findings[0]!.thread).toBe("other");
  });

  it("might_lock teaches the order without taking the lock, so an inversion is caught", () => {
    const { k, ld, L, lock, unlock } = setup();
    lock("A");
    ld.mightLock(L.B!);
    unlock("A");
    expect(ld.heldLocks()).toEqual([]);
    expect(ld.dependsOn(L.A!.cls, L.B!.cls)).toBe(true);
    lock("B");
    ld.mightLock(L.A!);
    unlock("B");
    expect(codes(k)).toEqual(["circular-dependency"]);
  });

  it("might_lock of a lock the thread holds is recursion", () => {
    const { k, ld, L, lock } = setup();
    lock("A");
    ld.mightLock(L.A!);
    expect(codes(k)).toEqual(["recursive-locking"]);
  });

  it("a nest lock allows several locks of one class; a missing nest lock is reported", () => {
    const { k, ld, L } = setup();
    const ctx = ld.map("ww_ctx", "ww_acquire_ctx");
    ld.acquire(ctx);
    ld.acquire(L.X1!, { nestLock: ctx });
    ld.acquire(L.X2!, { nestLock: ctx });
    expect(codes(k)).toEqual([]);
    ld.release(L.X2!);
    ld.release(L.X1!);
    ld.release(ctx);
    ld.acquire(L.X1!, { nestLock: ctx });
    expect(codes(k)).toEqual(["nest-lock-not-held"]);
    ld.acquire(L.X2!, { nestLock: ctx });
    expect(codes(k)).toEqual(["nest-lock-not-held", "recursive-locking"]);
  });

  it("a different subclass (mutex_lock_nested) is not recursion", async () => {
    const k = new Kernel();
    const parent = mutexInit(k, "&parent->lock", "inode_lock");
    const child = mutexInit(k, "&child->lock", "inode_lock");
    await mutexLock(parent);
    await mutexLock(child, { subclass: 1 });
    mutexUnlock(child);
    mutexUnlock(parent);
    expect(codes(k)).toEqual([]);
  });

  it("a trylock is neither recursion nor an ordering", () => {
    const { k, ld, L, lock, unlock } = setup();
    lock("X1");
    ld.acquire(L.X2!, { trylock: true });
    expect(codes(k)).toEqual([]);
    ld.release(L.X2!);
    unlock("X1");
    lock("A");
    ld.acquire(L.B!, { trylock: true });
    expect(ld.dependsOn(L.A!.cls, L.B!.cls)).toBe(false);
    // locks taken under a trylocked lock do depend on it
    lock("C");
    expect(ld.dependsOn(L.B!.cls, L.C!.cls)).toBe(true);
    expect(codes(k)).toEqual([]);
  });

  it("mutex_trylock adds no dependency: B held, trylock A does not invert A -> B", async () => {
    const k = new Kernel();
    const a = mutexInit(k, "a");
    const b = mutexInit(k, "b");
    await mutexLock(a);
    await mutexLock(b);
    mutexUnlock(b);
    mutexUnlock(a);
    await mutexLock(b);
    expect(mutexTrylock(a)).toBe(true);
    mutexUnlock(a);
    mutexUnlock(b);
    expect(codes(k)).toEqual([]);
  });

  it("a primed order catches the first inversion, and says it was primed", () => {
    const { k, ld, L, lockUnlock2 } = setup();
    ld.prime([L.A!.cls, L.B!.cls, L.C!.cls], "dma_resv_lockdep()");
    expect(ld.dependsOn(L.A!.cls, L.C!.cls)).toBe(true);
    lockUnlock2("C", "A");
    expect(codes(k)).toEqual(["circular-dependency"]);
    const text = String(k.findings[0]!.details.text);
    expect(text).toContain("(dma_resv_lockdep())");
  });

  it("sleeping with a spinlock held is reported", async () => {
    const k = new Kernel();
    const s = spinLockInit(k, "s");
    const m = mutexInit(k, "m");
    spinLock(s);
    await mutexLock(m);
    mutexUnlock(m);
    spinUnlock(s);
    expect(codes(k)).toEqual(["sleep-in-atomic"]);
  });

  it("with CONFIG_PROVE_LOCKING=n nothing is checked but held stacks still work", async () => {
    const { k, ld, L, lock, unlock, lockUnlock2 } = setup({
      config: { options: { CONFIG_PROVE_LOCKING: false } },
    });
    expect(ld.enabled).toBe(false);
    lockUnlock2("A", "B");
    lockUnlock2("B", "A");
    lock("C");
    lock("C");
    unlock("C");
    unlock("C");
    unlock("C");
    expect(ld.assertHeld(L.A!)).toBe(true);
    lock("D");
    expect(ld.isHeld(L.D!)).toBe(true);
    expect(codes(k)).toEqual([]);
    const w = mutexInit(k, "w");
    await mutexLock(w);
    expect(ld.isHeld(w.dep)).toBe(true);
    mutexUnlock(w);
    expect(k.findings).toEqual([]);
  });

  it("classes are by name; held locks are listed oldest first", () => {
    const { ld, L, lock } = setup();
    expect(ld.lockClass("A")).toBe(L.A!.cls);
    expect(String(L.X1)).toBe("X1(X)");
    lock("A");
    lock("B");
    expect(ld.heldLocks().map((h) => h.map.name)).toEqual(["A", "B"]);
    expect(ld.isClassHeld(L.B!.cls)).toBe(true);
    expect(ld.isClassHeld(L.C!.cls)).toBe(false);
  });

  it("rwsem writers and readers of mmap_lock order against other locks", async () => {
    const k = new Kernel();
    const mmap = initRwsem(k, "&mm->mmap_lock", "mmap_lock");
    const resv = mutexInit(k, "&obj->resv", "reservation_ww_class_mutex");
    await downRead(mmap);
    await mutexLock(resv);
    mutexUnlock(resv);
    upRead(mmap);
    await mutexLock(resv);
    await downWrite(mmap);
    upWrite(mmap);
    mutexUnlock(resv);
    expect(codes(k)).toEqual(["circular-dependency"]);
  });
});
