import { describe, expect, it } from "vitest";
import {
  Kernel,
  REFCOUNT_MAX,
  REFCOUNT_SATURATED,
  Refcount,
  krefGet,
  krefGetUnlessZero,
  krefInit,
  krefPut,
  krefRead,
  refcountDec,
  refcountDecAndTest,
  refcountInc,
  refcountIncNotZero,
  refcountRead,
  refcountSet,
  type Kref,
} from "../src/index";

describe("refcount_t", () => {
  it("counts up and down; dec_and_test is true on the last", () => {
    const k = new Kernel();
    const r = new Refcount(k, "obj");
    expect(refcountRead(r)).toBe(1);
    refcountInc(r);
    refcountInc(r);
    expect(refcountRead(r)).toBe(3);
    refcountDec(r);
    expect(refcountDecAndTest(r)).toBe(false);
    expect(refcountDecAndTest(r)).toBe(true);
    expect(refcountRead(r)).toBe(0);
    expect(k.findings).toEqual([]);
  });

  it("addition on 0 is a use-after-free; the count saturates and stays silent", () => {
    const k = new Kernel();
    const r = new Refcount(k, "dma_buf 3", 0);
    refcountInc(r);
    expect(refcountRead(r)).toBe(REFCOUNT_SATURATED);
    expect(k.findings.map((f) => [f.kind, f.code, f.summary])).toEqual([
      ["use-after-free", "refcount", "refcount_t: addition on 0; use-after-free. (dma_buf 3)"],
    ]);
    expect(k.dmesg.format()).toContain("refcount_t: addition on 0; use-after-free.");
    refcountInc(r);
    expect(refcountDecAndTest(r)).toBe(false);
    refcountDec(r);
    expect(refcountRead(r)).toBe(REFCOUNT_SATURATED);
    expect(k.findings).toHaveLength(1);
  });

  it("inc_not_zero refuses a dead object without a report", () => {
    const k = new Kernel();
    const r = new Refcount(k, "obj", 0);
    expect(refcountIncNotZero(r)).toBe(false);
    expect(refcountRead(r)).toBe(0);
    refcountSet(r, 2);
    expect(refcountIncNotZero(r)).toBe(true);
    expect(refcountRead(r)).toBe(3);
    expect(k.findings).toEqual([]);
  });

  it("dec_and_test below 0 is an underflow use-after-free", () => {
    const k = new Kernel();
    const r = new Refcount(k, "obj", 0);
    expect(refcountDecAndTest(r)).toBe(false);
    expect(refcountRead(r)).toBe(REFCOUNT_SATURATED);
    expect(k.findings.map((f) => f.summary)).toEqual([
      "refcount_t: underflow; use-after-free. (obj)",
    ]);
  });

  it("refcount_dec hitting 0 (or from 0) is a leak warning, as lib/refcount.c words it", () => {
    const k = new Kernel();
    const r = new Refcount(k, "a");
    refcountDec(r);
    expect(refcountRead(r)).toBe(REFCOUNT_SATURATED);
    const z = new Refcount(k, "b", 0);
    refcountDec(z);
    expect(k.findings.map((f) => [f.kind, f.summary])).toEqual([
      ["warn", "refcount_t: decrement hit 0; leaking memory. (a)"],
      ["warn", "refcount_t: decrement hit 0; leaking memory. (b)"],
    ]);
  });

  it("an increment past REFCOUNT_MAX saturates with a leak warning", () => {
    const k = new Kernel();
    const r = new Refcount(k, "hot", REFCOUNT_MAX - 1);
    refcountInc(r);
    expect(refcountRead(r)).toBe(REFCOUNT_MAX);
    expect(k.findings).toEqual([]);
    refcountInc(r);
    expect(refcountRead(r)).toBe(REFCOUNT_SATURATED);
    expect(k.findings.map((f) => [f.code, f.summary])).toEqual([
      ["refcount-saturated", "refcount_t: saturated; leaking memory. (hot)"],
    ]);
    // a negative count that is not the saturation value is treated as saturated too
    const n = new Refcount(k, "neg", -5);
    refcountInc(n);
    expect(refcountRead(n)).toBe(REFCOUNT_SATURATED);
    expect(k.findings).toHaveLength(2);
  });
});

describe("kref", () => {
  it("calls release on the last put, once", () => {
    const k = new Kernel();
    const ref = krefInit(k, "obj");
    const released: Kref[] = [];
    krefGet(ref);
    expect(krefRead(ref)).toBe(2);
    expect(krefPut(ref, (x) => released.push(x))).toBe(false);
    expect(krefPut(ref, (x) => released.push(x))).toBe(true);
    expect(released).toEqual([ref]);
    expect(k.findings).toEqual([]);
  });

  it("use after release is detected: get, get_unless_zero and put", () => {
    const k = new Kernel();
    const ref = krefInit(k, "obj");
    let releases = 0;
    krefPut(ref, () => releases++);
    expect(krefGetUnlessZero(ref)).toBe(false);
    expect(k.findings).toEqual([]);
    krefGet(ref);
    expect(k.findings.map((f) => f.kind)).toEqual(["use-after-free"]);
    expect(krefPut(ref, () => releases++)).toBe(false);
    expect(releases).toBe(1);
    const k2 = new Kernel();
    const r2 = krefInit(k2, "obj2");
    krefPut(r2, () => undefined);
    krefPut(r2, () => undefined);
    expect(k2.findings.map((f) => f.summary)).toEqual([
      "refcount_t: underflow; use-after-free. (obj2)",
    ]);
  });
});
