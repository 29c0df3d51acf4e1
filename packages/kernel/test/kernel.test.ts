import { describe, expect, it } from "vitest";
import {
  CORE_MODULE,
  Kernel,
  defineOption,
  defineSubsys,
  isKernelError,
  msleep,
  mutexInit,
  mutexLock,
  mutexUnlock,
  replayPolicy,
  type KernelModule,
} from "../src/index";

const MOD: KernelModule = {
  name: "@dmasim/demo",
  options: [
    defineOption({
      name: "demo-fix",
      kind: "patch",
      owner: "@dmasim/demo",
      default: false,
      description: "demo",
    }),
  ],
};

describe("Kernel", () => {
  it("two kernels share nothing", async () => {
    const a = new Kernel({ seed: 1 });
    const b = new Kernel({ seed: 1 });
    const ma = mutexInit(a, "m");
    const mb = mutexInit(b, "m");
    expect(a.lockdep.lockClass("m")).not.toBe(b.lockdep.lockClass("m"));
    await mutexLock(ma);
    expect(mb.owner).toBeNull();
    expect(b.lockdep.heldLocks(b.sched.init)).toEqual([]);
    a.printk(3, "only in a");
    a.report({ kind: "warn", code: "x", summary: "x", details: {} });
    a.clock.advance(5);
    expect(b.dmesg.records).toEqual([]);
    expect(b.findings).toEqual([]);
    expect(b.clock.now()).toBe(0);
    // lock order learnt in one kernel is unknown to the other
    const a2 = mutexInit(a, "n");
    await mutexLock(a2);
    mutexUnlock(a2);
    mutexUnlock(ma);
    const nb = mutexInit(b, "n");
    await mutexLock(nb);
    await mutexLock(mb);
    mutexUnlock(mb);
    mutexUnlock(nb);
    expect(b.findings).toEqual([]);
    // processes, device nodes and inode numbers are per kernel
    a.vfs.registerDevice("/dev/x", { name: "x" });
    expect(b.vfs.lookup("/dev/x")).toBeUndefined();
    expect(a.vfs.createProcess("p").pid).toBe(b.vfs.createProcess("p").pid);
  });

  it("two kernels can run threads interleaved in one process", async () => {
    const log: string[] = [];
    const mk = (name: string) => {
      const k = new Kernel();
      return k.run({
        t: async () => {
          for (let i = 0; i < 3; i++) {
            await msleep(k, 1);
            log.push(`${name}${i}@${k.clock.now()}`);
          }
        },
      });
    };
    await Promise.all([mk("a"), mk("b")]);
    expect(log.filter((l) => l.startsWith("a"))).toEqual([
      "a0@1000000",
      "a1@2000000",
      "a2@3000000",
    ]);
    expect(log.filter((l) => l.startsWith("b"))).toEqual([
      "b0@1000000",
      "b1@2000000",
      "b2@3000000",
    ]);
  });

  it("refuses unknown versions and options with EINVAL", () => {
    for (const cfg of [
      { version: "9.9" },
      { options: { CONFIG_UNKNOWN: true } },
      { options: { "demo-fix": true } },
    ]) {
      let err: unknown;
      try {
        new Kernel(cfg);
      } catch (e) {
        err = e;
      }
      expect(isKernelError(err, "EINVAL")).toBe(true);
    }
    expect(
      new Kernel({ modules: [MOD], options: { "demo-fix": true } }).options.enabled("demo-fix"),
    ).toBe(true);
  });

  it("the policy defaults to first, or seeded random; an explicit policy wins", () => {
    expect(new Kernel().choice.policy.name).toBe("first");
    expect(new Kernel({ seed: 9 }).choice.policy.name).toBe("random(9)");
    expect(new Kernel({ seed: 9, policy: replayPolicy([]) }).choice.policy.name).toBe("replay(0)");
  });

  it("subsys state is created once per kernel, on first use, and loads its module", () => {
    let created = 0;
    const KEY = defineSubsys("demo", (k) => ({ k, n: ++created }), MOD);
    const a = new Kernel();
    const b = new Kernel();
    expect(a.options.has("demo-fix")).toBe(false);
    const sa = a.subsys(KEY);
    expect(a.subsys(KEY)).toBe(sa);
    expect(sa.k).toBe(a);
    expect(a.options.has("demo-fix")).toBe(true);
    expect(a.options.enabled("demo-fix")).toBe(false);
    const sb = b.subsys(KEY);
    expect(sb).not.toBe(sa);
    expect(created).toBe(2);
    const noMod = defineSubsys("bare", () => 1);
    expect(a.subsys(noMod)).toBe(1);
  });

  it("the core module is loaded", () => {
    const k = new Kernel();
    expect(CORE_MODULE.name).toBe("@dmasim/kernel");
    expect(k.options.list().map((o) => o.def.owner)).toEqual(
      (CORE_MODULE.options ?? []).map(() => "@dmasim/kernel"),
    );
  });

  it("replay: the same choice sequence gives identical dmesg, findings and state", async () => {
    async function scenario(kcfg: ConstructorParameters<typeof Kernel>[0]) {
      const k = new Kernel(kcfg);
      const a = mutexInit(k, "A");
      const b = mutexInit(k, "B");
      let counter = 0;
      const body = (first: typeof a, second: typeof a, name: string) => async () => {
        for (let i = 0; i < 3; i++) {
          await mutexLock(first);
          await k.sched.schedulePoint();
          await mutexLock(second);
          counter = counter * 3 + (name === "x" ? 1 : 2);
          k.printk(6, `${name} ${i} ${counter}`);
          mutexUnlock(second);
          mutexUnlock(first);
          await msleep(k, 1);
        }
      };
      const err = await k.run({ x: body(a, b, "x"), y: body(b, a, "y"), z: body(a, b, "z") }).then(
        () => null,
        (e: unknown) => (e as Error).name,
      );
      return {
        err,
        counter,
        dmesg: k.dmesg.format(),
        findings: JSON.stringify(k.findings),
        seq: k.choice.sequence(),
        states: k.sched.all.map((t) => t.state),
        now: k.clock.now(),
      };
    }
    const outcomes = new Set<string>();
    for (let seed = 0; seed < 12; seed++) {
      const r = await scenario({ seed });
      const again = await scenario({ policy: replayPolicy(r.seq) });
      expect(again).toEqual(r);
      outcomes.add(`${r.err}:${r.counter}`);
    }
    expect(outcomes.size).toBeGreaterThan(1);
  });
});
