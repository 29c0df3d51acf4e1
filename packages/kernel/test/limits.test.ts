// The C integer types of library arguments (issue 14 item 11): what C makes of a JavaScript
// number, and EINVAL for what no C caller can pass.
import { describe, expect, it } from "vitest";
import {
  SIZE_MAX,
  UINT_MAX,
  cInteger,
  intT,
  isKernelError,
  pageAlign,
  sizeT,
  uintT,
} from "../src/index";

const code = (f: () => unknown): string => {
  try {
    f();
    return "ok";
  } catch (e) {
    return isKernelError(e) ? e.code : String(e);
  }
};

describe("C argument conversions", () => {
  it("refuses NaN, infinities, fractions and non-numbers with EINVAL naming the call", () => {
    for (const v of [NaN, Infinity, -Infinity, 0.5, "1" as unknown as number]) {
      expect(code(() => cInteger(v, "dma_alloc_attrs", "size"))).toBe("EINVAL");
    }
    expect(() => sizeT(NaN, "dma_alloc_attrs", "size")).toThrow(
      "EINVAL: dma_alloc_attrs: size NaN is not an integer",
    );
  });

  it("size_t: a negative value is what C's conversion makes of it (-1 is SIZE_MAX)", () => {
    expect(sizeT(-1, "f", "size")).toBe(SIZE_MAX);
    expect(sizeT(-4096, "f", "size")).toBe(SIZE_MAX - 4095);
    expect(sizeT(2 ** 60, "f", "size")).toBe(2 ** 60);
    expect(sizeT(0, "f", "size")).toBe(0);
  });

  it("unsigned int wraps modulo 2^32; int wraps to 32 bits (two's complement)", () => {
    expect(uintT(-1, "f", "n")).toBe(UINT_MAX);
    expect(uintT(2 ** 32, "f", "n")).toBe(0);
    expect(uintT(2 ** 32 + 5, "f", "n")).toBe(5);
    expect(uintT(2 ** 60, "f", "n")).toBe(UINT_MAX);
    expect(intT(2 ** 31, "f", "n")).toBe(-(2 ** 31));
    expect(intT(-5, "f", "n")).toBe(-5);
  });

  it("PAGE_ALIGN wraps past SIZE_MAX to 0, as unsigned arithmetic does", () => {
    expect(pageAlign(1)).toBe(4096);
    expect(pageAlign(4096)).toBe(4096);
    expect(pageAlign(0)).toBe(0);
    expect(pageAlign(SIZE_MAX)).toBe(0);
    expect(pageAlign(SIZE_MAX - 4095)).toBe(SIZE_MAX - 4095); // 2^53 - 4096 is aligned
    expect(pageAlign(SIZE_MAX - 4094)).toBe(0);
  });
});
