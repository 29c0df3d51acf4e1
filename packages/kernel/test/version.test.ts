import { describe, expect, it } from "vitest";
import {
  DEFAULT_KERNEL_VERSION,
  KERNEL_PROFILES,
  Kernel,
  KernelVersion,
  isKernelError,
} from "../src/index";

describe("kernel versions", () => {
  it("has a profile for every version the issue names, oldest first, latest last", () => {
    const names = KERNEL_PROFILES.map((p) => p.name);
    for (const v of ["4.19", "5.4", "5.10", "6.1", "6.12", "6.15", "6.16", "latest"]) {
      expect(names).toContain(v);
    }
    expect(names.at(-1)).toBe("latest");
    for (let i = 1; i < KERNEL_PROFILES.length; i++) {
      const [a, b] = [KERNEL_PROFILES[i - 1], KERNEL_PROFILES[i]];
      const cmp = a!.number[0] - b!.number[0] || a!.number[1] - b!.number[1];
      expect(cmp).toBeLessThan(0);
    }
    expect(DEFAULT_KERNEL_VERSION).toBe("latest");
    expect(new Kernel().version.name).toBe("latest");
  });

  it("orders versions numerically, not as strings", () => {
    const v = new KernelVersion("5.10");
    expect(v.since("5.4")).toBe(true);
    expect(v.since("5.9")).toBe(true);
    expect(v.since("5.10")).toBe(true);
    expect(v.since("5.11")).toBe(false);
    expect(v.before("5.11")).toBe(true);
    expect(v.before("5.10")).toBe(false);
    expect(new KernelVersion("6.1").since("5.19")).toBe(true);
    expect(new KernelVersion("4.19").before("5.2")).toBe(true);
  });

  it("latest is after every numbered release", () => {
    const v = new KernelVersion("latest");
    expect(v.since("6.15")).toBe(true);
    expect(v.since("7.3")).toBe(true);
    expect(v.since("latest")).toBe(true);
    expect(v.before("latest")).toBe(false);
    expect(new KernelVersion("6.15").before("latest")).toBe(true);
  });

  it("between is half-open and accepts open bounds", () => {
    const v = new KernelVersion("6.1");
    expect(v.between("5.6", "6.2")).toBe(true);
    expect(v.between("6.1", "6.2")).toBe(true);
    expect(v.between("5.6", "6.1")).toBe(false);
    expect(v.between(undefined, "6.2")).toBe(true);
    expect(v.between("6.2", undefined)).toBe(false);
    expect(v.between(undefined, undefined)).toBe(true);
  });

  it("refuses unknown versions with EINVAL", () => {
    expect(() => new KernelVersion("5.7")).toThrow(/unknown kernel version "5.7"/);
    try {
      new KernelVersion("2.6");
    } catch (e) {
      expect(isKernelError(e, "EINVAL")).toBe(true);
    }
    expect(() => new Kernel({ version: "3.0" })).toThrow(/unknown kernel version/);
  });

  it("refuses a malformed comparison argument with EINVAL", () => {
    const v = new KernelVersion("6.12");
    for (const bad of ["6", "six.one", "6.1.2", ""]) {
      let err: unknown;
      try {
        v.since(bad);
      } catch (e) {
        err = e;
      }
      expect(isKernelError(err, "EINVAL")).toBe(true);
    }
  });

  it("prints as its name", () => {
    expect(String(new KernelVersion("6.12"))).toBe("6.12");
  });
});
