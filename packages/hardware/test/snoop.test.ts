// A coherent device's read that hits a CLEAN CPU line (issue #13 item 1, kernel-notes §7.5): the
// platform's `snoopClean` says whether the line or memory supplies the data; `choice` makes it a
// choice point of kind "snoop" that exploring covers.
import { describe, expect, it } from "vitest";
import { PAGE_SIZE, type ChoicePolicy } from "@dmasim/kernel";
import {
  GFP_KERNEL,
  PLATFORM_PRESETS,
  __GFP_ZERO,
  addDevice,
  allocPages,
  cpuRead,
  dcacheCleanPoc,
  dcacheInvalPoc,
  deviceRead,
  deviceWrite,
  pageAddress,
  pageToPhys,
  physToDma,
  resolvePlatform,
  type Machine,
  type SnoopClean,
} from "../src/index";
import { boot, kinds } from "./helpers";

/** A zeroed page cleaned (a clean line), then written by a non-coherent device behind it. */
function staleCleanLine(snoopClean: SnoopClean, policy?: ChoicePolicy, invalidate = false) {
  const { k, m } = boot("arm64-soc", { cachePolicy: { name: "none" }, snoopClean }, policy);
  const page = allocPages(m, 0, GFP_KERNEL | __GFP_ZERO)!;
  const va = pageAddress(m, page);
  dcacheCleanPoc(m, va, va + PAGE_SIZE); // map for the camera: the zeroes reach memory, lines stay
  const cam = addDevice(m, { name: "cam", coherent: false, dmaMask: 64 });
  const gpu = addDevice(m, { name: "gpu", coherent: true, dmaMask: 64 });
  deviceWrite(cam, physToDma(cam, pageToPhys(page)), new Uint8Array(64).fill(0x22));
  if (invalidate) {
    dcacheInvalPoc(m, va, va + PAGE_SIZE); // the unmap's invalidate
  }
  const seen = deviceRead(gpu, physToDma(gpu, pageToPhys(page)), 64);
  return { k, m, seen, pa: pageToPhys(page) };
}

describe("snoop_clean: a coherent read that hits a clean line", () => {
  it("memory: the device reads memory (the camera's bytes)", () => {
    const { k, seen } = staleCleanLine("memory");
    expect(seen).toEqual(new Uint8Array(64).fill(0x22));
    expect(k.findings).toEqual([]);
  });

  it("cache: the clean line supplies its stale bytes: a stale read, with the snoop in the line's history", () => {
    const { k, m, seen, pa } = staleCleanLine("cache");
    expect(seen).toEqual(new Uint8Array(64));
    expect(kinds(k.findings)).toEqual(["stale-read"]);
    const h = m.checker.lineHistory(pa).map((e) => [e.kind, e.agent, e.note ?? ""]);
    expect(h.at(-2)).toEqual([
      "snoop",
      "dev:gpu",
      "read snooped a clean line (memory changed behind it)",
    ]);
    expect(h.map((e) => e[0])).toEqual(["write", "clean", "dma-write", "snoop", "dma-read"]);
  });

  it("cache, after the invalidate the DMA API owes: nothing stale to hit", () => {
    const { k, seen } = staleCleanLine("cache", undefined, true);
    expect(seen).toEqual(new Uint8Array(64).fill(0x22));
    expect(k.findings).toEqual([]);
  });

  it("choice: a choice point of kind snoop, option 0 memory, option 1 the cache", () => {
    const picks: string[] = [];
    const policy = (answer: number): ChoicePolicy => ({
      name: `snoop=${answer}`,
      pick(point) {
        picks.push(`${point.kind}/${point.count}`);
        return point.kind === "snoop" ? answer : 0;
      },
    });
    expect(kinds(staleCleanLine("choice", policy(0)).k.findings)).toEqual([]);
    expect(picks).toEqual(["snoop/2"]);
    expect(kinds(staleCleanLine("choice", policy(1)).k.findings)).toEqual(["stale-read"]);
  });

  it("choice: no choice point when no clean line differs from memory (the answer would not matter)", () => {
    const picks: string[] = [];
    const policy: ChoicePolicy = { name: "count", pick: (p) => (picks.push(p.kind), 0) };
    const { k } = staleCleanLine("choice", policy, true);
    expect(picks).toEqual([]);
    expect(k.findings).toEqual([]);
  });

  it("dirty lines are snooped whatever the setting, and win over clean aliases", () => {
    for (const s of ["memory", "cache", "choice"] as const) {
      const { m } = boot("arm64-soc", { cachePolicy: { name: "none" }, snoopClean: s });
      const page = allocPages(m, 0, GFP_KERNEL | __GFP_ZERO)!;
      const gpu = addDevice(m, { name: "gpu", coherent: true, dmaMask: 64 });
      expect(deviceRead(gpu, physToDma(gpu, pageToPhys(page)), 4)).toEqual(new Uint8Array(4));
      expect(cpuRead(m, pageAddress(m, page), 4)).toEqual(new Uint8Array(4));
    }
  });

  it("presets: x86 and the Cortex-A9 class read clean hits from the cache, arm64 SoCs leave it to a choice", () => {
    const want: Record<string, SnoopClean> = {
      "x86-64": "cache",
      "arm64-soc": "choice",
      rpi4: "choice",
      armv7: "cache",
      "armv6-vipt-aliasing": "memory",
      "parisc-vivt": "memory",
    };
    for (const [name, v] of Object.entries(want)) {
      expect(PLATFORM_PRESETS[name]!.snoopClean).toBe(v);
    }
    expect(() => resolvePlatform("arm64-soc", { snoopClean: "sometimes" as SnoopClean })).toThrow(
      /snoopClean/,
    );
  });

  it("the setting is part of the machine's state digest (a choice site changes what follows)", () => {
    const digest = (s: SnoopClean, m?: Machine): string =>
      (m ?? boot("arm64-soc", { snoopClean: s }).m).stateDigest();
    expect(digest("memory")).not.toBe(digest("cache"));
    expect(digest("cache")).not.toBe(digest("choice"));
  });
});
