import { describe, expect, it } from "vitest";
import {
  KERNEL_PROFILES,
  Kernel,
  KernelVersion,
  compareVersions,
  defineEras,
  kernelHistory,
} from "../src/index";

const T = defineEras("dma-buf", {
  cacheSgt: { since: "5.2", until: "6.16", summary: "cache_sgt_mapping", citation: "x (v6.16)" },
  lockingSpec: { since: "6.2", summary: "resv for every importer", citation: "809d9c72c2f8" },
  legacy: { until: "5.6", summary: "dmabuf->lock", citation: "v5.6" },
});

describe("era tables", () => {
  it("an entry answers for a kernel or a version, half-open [since, until)", () => {
    expect(T.cacheSgt(new Kernel({ version: "6.15" }))).toBe(true);
    expect(T.cacheSgt(new Kernel({ version: "6.16" }))).toBe(false);
    expect(T.cacheSgt(new KernelVersion("4.19"))).toBe(false);
    expect(T.cacheSgt(new KernelVersion("5.4"))).toBe(true);
    expect(T.lockingSpec(new KernelVersion("6.1"))).toBe(false);
    expect(T.lockingSpec(new KernelVersion("latest"))).toBe(true);
    expect(T.legacy(new KernelVersion("5.4"))).toBe(true);
    expect(T.legacy(new KernelVersion("5.10"))).toBe(false);
  });

  it("carries its name, layer, bounds, summary and citation", () => {
    expect(T.cacheSgt.name).toBe("cacheSgt");
    expect(T.cacheSgt.layer).toBe("dma-buf");
    expect(T.cacheSgt.until).toBe("6.16");
    expect(T.lockingSpec.citation).toBe("809d9c72c2f8");
  });

  it("refuses a bound that is not a version, an entry without bounds or citation", () => {
    expect(() => defineEras("heaps", { a: { since: "5.x", summary: "s", citation: "c" } })).toThrow(
      /not a version/,
    );
    expect(() => defineEras("heaps", { a: { summary: "s", citation: "c" } })).toThrow(
      /neither since nor until/,
    );
    expect(() => defineEras("heaps", { a: { since: "5.6", summary: "s", citation: " " } })).toThrow(
      /citation are required/,
    );
  });

  it("orders versions numerically with latest last", () => {
    expect(compareVersions("5.10", "5.9")).toBeGreaterThan(0);
    expect(compareVersions("6.16", "latest")).toBeLessThan(0);
    expect(compareVersions("6.2", "6.2")).toBe(0);
  });

  it("history: an entry begins and ends at the first profile at or after its bounds", () => {
    const h = kernelHistory([Object.values(T)]);
    expect(h.map((c) => c.profile.name)).toEqual(KERNEL_PROFILES.map((p) => p.name));
    const at = (v: string) => h.find((c) => c.profile.name === v)!;
    expect(at("5.4").began.map((e) => e.name)).toEqual(["cacheSgt"]);
    expect(at("5.10").ended.map((e) => e.name)).toEqual(["legacy"]);
    expect(at("6.6").began.map((e) => e.name)).toEqual(["lockingSpec"]);
    expect(at("6.15").ended).toEqual([]);
    expect(at("6.16").ended.map((e) => e.name)).toEqual(["cacheSgt"]);
  });

  it("history refuses the same layer and name from two tables", () => {
    const U = defineEras("dma-buf", {
      cacheSgt: { since: "5.2", summary: "again", citation: "y" },
    });
    expect(() => kernelHistory([Object.values(T), Object.values(U)])).toThrow(/registered twice/);
    expect(() => kernelHistory([Object.values(T), Object.values(T)])).not.toThrow();
  });
});
