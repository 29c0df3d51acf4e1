import { describe, expect, it } from "vitest";
import { Kernel, isKernelError } from "@dmasim/kernel";
import {
  PLATFORM_PRESETS,
  createMachine,
  getMachine,
  listPlatforms,
  resolvePlatform,
} from "../src/index";

describe("platforms", () => {
  it("lists the six presets with a description each", () => {
    const list = listPlatforms();
    expect(list.map((p) => p.name)).toEqual([
      "x86-64",
      "arm64-soc",
      "rpi4",
      "armv7",
      "armv6-vipt-aliasing",
      "parisc-vivt",
    ]);
    for (const p of list) {
      expect(p.description.length).toBeGreaterThan(20);
    }
  });

  it("presets say what the issue asks", () => {
    expect(PLATFORM_PRESETS["x86-64"]).toMatchObject({
      devicesCoherent: true,
      cacheIndexing: "pipt",
    });
    expect(PLATFORM_PRESETS["arm64-soc"]).toMatchObject({
      devicesCoherent: false,
      speculativePrefetch: true,
      arch: "arm64",
    });
    expect(PLATFORM_PRESETS["rpi4"]).toMatchObject({ arch: "arm64", zoneDmaLimit: 1024 ** 3 });
    expect(PLATFORM_PRESETS["armv6-vipt-aliasing"]).toMatchObject({
      cacheIndexing: "vipt",
      arch: "arm",
    });
    expect(PLATFORM_PRESETS["armv6-vipt-aliasing"]!.cacheColours).toBeGreaterThan(1);
    // ARMv7 data caches behave as PIPT (arch/arm/kernel/setup.c cacheid_init(): "PIPT / VIPT
    // nonaliasing" for the ARMv7 cache type register format; aliasing VIPT only on ARMv6)
    expect(PLATFORM_PRESETS["armv7"]).toMatchObject({
      cacheIndexing: "pipt",
      cacheColours: 1,
      arch: "arm",
      speculativePrefetch: true,
      lineSize: 32,
    });
    expect(PLATFORM_PRESETS["parisc-vivt"]).toMatchObject({
      cacheIndexing: "vivt",
      arch: "parisc",
    });
  });

  it("the old name armv7-vipt still works, as the ARMv6 preset it modelled, and warns once", () => {
    expect(resolvePlatform("armv7-vipt")).toEqual(PLATFORM_PRESETS["armv6-vipt-aliasing"]);
    const k = new Kernel();
    const m = createMachine(k, "armv7-vipt");
    expect(m.config.name).toBe("armv6-vipt-aliasing");
    const warnings = k.dmesg.records.filter((r) => r.text.includes("armv7-vipt"));
    expect(warnings).toHaveLength(1);
    expect(warnings[0]!.text).toMatch(/is now "armv6-vipt-aliasing"/);
    const k2 = new Kernel();
    createMachine(k2, "armv6-vipt-aliasing");
    expect(k2.dmesg.records.filter((r) => r.text.includes("armv7"))).toEqual([]);
  });

  it("overrides field by field", () => {
    const c = resolvePlatform("arm64-soc", { lineSize: 128, devicesCoherent: true });
    expect(c.lineSize).toBe(128);
    expect(c.devicesCoherent).toBe(true);
    expect(c.cacheIndexing).toBe("pipt");
  });

  it.each([
    [{ lineSize: 48 }, /lineSize/],
    [{ lineSize: 8192 }, /lineSize/],
    [{ ramSize: 1000 }, /ramSize/],
    [{ ramBase: 123 }, /ramBase/],
    [{ cacheColours: 3 }, /cacheColours/],
    [{ cacheSize: 1000 }, /cacheSize/],
    [{ swiotlbSize: 1000 }, /swiotlbSize/],
    [{ fragmentation: 2 }, /fragmentation/],
    [{ allocChoices: 3 }, /allocChoices/],
    [{ cachePolicy: { name: "random", evict: 0.8, prefetch: 0.8 } as const }, /probabilities/],
  ])("rejects %o with EINVAL", (o, msg) => {
    expect(() => resolvePlatform("x86-64", o)).toThrow(msg);
    try {
      resolvePlatform("x86-64", o);
    } catch (e) {
      expect(isKernelError(e, "EINVAL")).toBe(true);
    }
  });

  it("rejects an unknown preset, and a non-VIPT cache with colours", () => {
    expect(() => resolvePlatform("vax")).toThrow(/unknown platform "vax"/);
    expect(() => resolvePlatform("x86-64", { cacheColours: 4 })).toThrow(/vipt only/);
  });

  it("one machine per kernel, found again with getMachine", () => {
    const k = new Kernel();
    expect(() => getMachine(k)).toThrow(/ENODEV/);
    const m = createMachine(k, "rpi4");
    expect(getMachine(k)).toBe(m);
    expect(() => createMachine(k, "rpi4")).toThrow(/EEXIST/);
    expect(new Kernel() === k).toBe(false);
  });
});
