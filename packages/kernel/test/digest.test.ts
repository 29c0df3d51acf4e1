import { describe, expect, it } from "vitest";
import {
  Kernel,
  defineSubsys,
  digestHash,
  digestValue,
  hashText,
  mutexInit,
  mutexLock,
  mutexUnlock,
  replayPolicy,
  type ChoicePolicy,
} from "../src/index";

describe("digestValue", () => {
  it("prints equal structures equally and different ones differently", () => {
    const a = { x: 1, list: [1, 2], m: new Map([["k", new Set([3])]]), b: new Uint8Array([1, 2]) };
    const b = { x: 1, list: [1, 2], m: new Map([["k", new Set([3])]]), b: new Uint8Array([1, 2]) };
    expect(digestValue(a)).toBe(digestValue(b));
    b.b[1] = 9;
    expect(digestValue(a)).not.toBe(digestValue(b));
    expect(digestValue({ s: "1" })).not.toBe(digestValue({ s: 1 }));
    expect(digestValue([undefined])).not.toBe(digestValue([null]));
  });

  it("handles cycles and shared objects with back-references", () => {
    const a: { self?: unknown; n: number } = { n: 1 };
    a.self = a;
    expect(digestValue(a)).toBe("Object{n:1,self:@0,}");
  });

  it("prints tasks and the kernel by tag, functions and promises as opaque markers", () => {
    const k = new Kernel();
    expect(digestValue({ k, t: k.sched.init })).toBe("Object{k:K,t:T0,}");
    expect(digestValue([() => 1, Promise.resolve(), new WeakMap()])).toBe("[f,~,~,]");
  });
});

describe("digestHash", () => {
  it("hashes what digestValue prints: equal structures equally, different ones differently", () => {
    const make = () => ({
      x: 1,
      big: 2 ** 40 + 3,
      f: 0.5,
      list: [1, "2", true, undefined, null],
      m: new Map<unknown, unknown>([["k", new Set([3])]]),
      b: new Uint8Array([1, 2]),
    });
    const a = make();
    const b = make();
    expect(digestHash(a)).toMatch(/^[0-9a-f]{16}$/);
    expect(digestHash(a)).toBe(digestHash(b));
    b.b[1] = 9;
    expect(digestHash(a)).not.toBe(digestHash(b));
    const pairs: [unknown, unknown][] = [
      [{ s: "1" }, { s: 1 }],
      [[undefined], [null]],
      [[true], [1]],
      [
        ["ab", "c"],
        ["a", "bc"],
      ],
      [
        [[1], 2],
        [1, [2]],
      ],
      [2 ** 32, 0],
      [-1, 2 ** 32 - 1],
      [0.1, 0.2],
      [new Map([[1, 2]]), new Set([1, 2])],
      [{ a: 1 }, new Map([["a", 1]])],
      [new Uint8Array([1]), [1]],
    ];
    for (const [x, y] of pairs) {
      expect(digestHash(x)).not.toBe(digestHash(y));
      expect(digestValue(x)).not.toBe(digestValue(y));
    }
  });

  it("follows cycles and shared objects as back-references, and tags as digestValue does", () => {
    const a: { self?: unknown; n: number } = { n: 1 };
    a.self = a;
    const b: { self?: unknown; n: number } = { n: 1 };
    b.self = b;
    expect(digestHash(a)).toBe(digestHash(b));
    const shared = { v: 1 };
    expect(digestHash([shared, shared])).not.toBe(digestHash([{ v: 1 }, { v: 1 }]));
    const k = new Kernel();
    expect(digestHash({ k, t: k.sched.init })).toBe(
      digestHash({ k: new Kernel(), t: k.sched.init }),
    );
    expect(digestHash([() => 1, Promise.resolve()])).toBe(digestHash([() => 2, Promise.resolve()]));
  });
});

describe("hashText", () => {
  it("gives 16 hex digits, stable, and different for different text", () => {
    expect(hashText("abc")).toMatch(/^[0-9a-f]{16}$/);
    expect(hashText("abc")).toBe(hashText("abc"));
    expect(hashText("abc")).not.toBe(hashText("abd"));
    expect(hashText("")).not.toBe(hashText("\0"));
  });
});

const COUNTER = defineSubsys("test-counter", () => ({ n: 0 }));

describe("Kernel.stateDigest", () => {
  it("is equal for two fresh kernels and changes with findings, subsystems and parts", () => {
    const a = new Kernel();
    const b = new Kernel();
    expect(a.stateDigest()).toBe(b.stateDigest());
    a.report({ kind: "warn", code: "x", summary: "x", details: {} });
    expect(a.stateDigest()).not.toBe(b.stateDigest());
    b.report({ kind: "warn", code: "x", summary: "a different summary", details: {} });
    // the summary text does not decide the future; kind, code, step and thread do
    expect(a.stateDigest()).toBe(b.stateDigest());
    const before = a.stateDigest();
    a.subsys(COUNTER).n++;
    expect(a.stateDigest()).not.toBe(before);
    let extra = 0;
    b.addStateDigest("extra", () => extra);
    const b0 = b.stateDigest();
    extra = 1;
    expect(b.stateDigest()).not.toBe(b0);
  });

  it("uses a subsystem's own stateDigest() method when it has one", () => {
    const OWN = defineSubsys("test-own", () => ({ noise: 0, stateDigest: () => "same" }));
    const a = new Kernel();
    const b = new Kernel();
    a.subsys(OWN).noise = 1;
    b.subsys(OWN).noise = 2;
    expect(a.stateDigest()).toBe(b.stateDigest());
  });

  it("sees held locks (lockdep's held stack lives in a WeakMap) and mutex waits", async () => {
    const k = new Kernel();
    const m = mutexInit(k, "m");
    const seen: string[] = [];
    await k.run({
      a: async () => {
        seen.push(k.stateDigest());
        await mutexLock(m);
        seen.push(k.stateDigest());
        mutexUnlock(m);
        seen.push(k.stateDigest());
      },
    });
    expect(seen[1]).not.toBe(seen[0]);
    expect(seen[2]).not.toBe(seen[1]);
  });

  it("counts a thread's scheduling points since its step began, and resets on a new step", async () => {
    const k = new Kernel();
    await k.run({
      a: async () => {
        k.step = 5;
        const t = k.sched.current;
        expect(t.position).toBe(0);
        await k.sched.schedulePoint();
        await k.sched.schedulePoint();
        expect(t.position).toBe(2);
        k.step = 5;
        expect(t.position).toBe(2);
        k.step = 6;
        expect(t.position).toBe(0);
      },
    });
  });

  it("is equal after two schedules of commuting work, whatever the preemption counters say", async () => {
    const runWith = async (policy: ChoicePolicy) => {
      const k = new Kernel({ policy });
      const counter = k.subsys(COUNTER);
      const body = async () => {
        k.step = 1;
        await k.sched.schedulePoint();
        counter.n++;
        k.step = 2;
      };
      await k.run({ a: body, b: body });
      k.step = 3;
      return { digest: k.stateDigest(), choices: k.choice.sequence(), n: counter.n };
    };
    const first = await runWith(replayPolicy([]));
    const other = await runWith(replayPolicy([1, 1, 1, 1]));
    expect(other.choices).not.toEqual(first.choices);
    expect(first.n).toBe(2);
    expect(other.digest).toBe(first.digest);
    const k = new Kernel();
    k.subsys(COUNTER).n = 2;
    expect(k.stateDigest()).not.toBe(first.digest);
  });
});
