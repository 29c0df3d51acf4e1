import { describe, expect, it } from "vitest";
import {
  HashSum,
  Hasher,
  Kernel,
  digestHash,
  hashText,
  mulberry32,
  randomPolicy,
} from "../src/index";

describe("the one hash and the one generator", () => {
  it("Hasher: words, numbers and strings; equal inputs hash equally, others not", () => {
    const a = new Hasher()
      .word(1)
      .num(2 ** 40 + 3)
      .str("x")
      .hex();
    expect(a).toMatch(/^[0-9a-f]{16}$/);
    expect(
      new Hasher()
        .word(1)
        .num(2 ** 40 + 3)
        .str("x")
        .hex(),
    ).toBe(a);
    expect(
      new Hasher()
        .word(1)
        .num(2 ** 40 + 4)
        .str("x")
        .hex(),
    ).not.toBe(a);
    // words() is word() on each
    const w = Uint32Array.from([5, 6, 7]);
    expect(new Hasher().words(w, 0, 3).hex()).toBe(new Hasher().word(5).word(6).word(7).hex());
  });

  it("hashText and digestHash are built on it", () => {
    expect(hashText("abc")).toBe(new Hasher().str("abc").hex());
    expect(digestHash("abc")).not.toBe(hashText("abc")); // a digest hashes a typed token stream
  });

  it("HashSum: order-independent, add and remove", () => {
    const s = new HashSum();
    const t = new HashSum();
    const x = new Hasher().word(1).done();
    const y = new Hasher().word(2).done();
    s.add(x);
    s.add(y);
    t.add(y);
    t.add(x);
    expect(s.value).toEqual(t.value);
    s.remove(y);
    expect(s.value).toEqual(x);
  });

  it("mulberry32 is what the seeded choice policy draws", () => {
    const r = mulberry32(42);
    const first = [r(), r(), r()];
    expect(first.every((v) => v >= 0 && v < 1)).toBe(true);
    const again = mulberry32(42);
    expect([again(), again(), again()]).toEqual(first);
    const policy = randomPolicy(42);
    const picks = [0, 1, 2].map((index) =>
      policy.pick({ kind: "t", count: 10, index, weights: undefined, thread: 0 }),
    );
    expect(picks).toEqual(first.map((v) => Math.floor(v * 10)));
  });

  it("takeSeq numbers n events at once, as n calls of nextSeq would", () => {
    const k = new Kernel();
    const a = k.nextSeq();
    const first = k.takeSeq(5);
    expect(first).toBe(a + 1);
    expect(k.nextSeq()).toBe(a + 6);
  });
});
