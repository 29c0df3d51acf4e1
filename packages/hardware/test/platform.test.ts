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
  it("lists the five presets with a description each", () => {
    const list = listPlatforms();
    expect(list.map((p) => p.name)).toEqual([
      "x86-64",
      "arm64-soc",
      "rpi4",
      "armv7-vipt",
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
    expect(PLATFORM_PRESETS["armv7-vipt"]).toMatchObject({ cacheIndexing: "vipt", arch: "arm" });
    expect(PLATFORM_PRESETS["armv7-vipt"]!.cacheColours).toBeGreaterThan(1);
    expect(PLATFORM_PRESETS["parisc-vivt"]).toMatchObject({
      cacheIndexing: "vivt",
      arch: "parisc",
    });
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
