import { describe, expect, it } from "vitest";
import { PAGE_SIZE, replayPolicy } from "@dmasim/kernel";
import {
  GFP_KERNEL,
  LINE_CLEAN,
  LINE_DIRTY,
  LINE_INVALID,
  addDevice,
  allocPages,
  allocPagesBulk,
  archDmaCacheInv,
  cacheCleanPhys,
  cacheEvictPhys,
  cacheFlushPhys,
  cacheInvalPhys,
  cachePrefetch,
  cpuRead,
  cpuWrite,
  dcacheCleanInvalPoc,
  dcacheCleanPoc,
  dcacheInvalPoc,
  deviceRead,
  deviceWrite,
  flushCacheAll,
  pageAddress,
  pageToPhys,
  physToDma,
  vmap,
  vunmap,
  type CachePolicy,
  type Machine,
} from "../src/index";
import { boot } from "./helpers";

function states(m: Machine, pfn: number, lines = 4): number[] {
  const a = m.cache.aliasesOf(pfn)[0];
  return a ? [...a.state.subarray(0, lines)] : new Array<number>(lines).fill(LINE_INVALID);
}

function onePage(m: Machine): { va: number; pfn: number; pa: number } {
  const p = allocPages(m, 0, GFP_KERNEL)!;
  return { va: pageAddress(m, p), pfn: p.pfn, pa: pageToPhys(p) };
}

describe("write-back data cache", () => {
  it("writes allocate dirty lines; memory is behind until a clean", () => {
    const { m } = boot("arm64-soc", { cachePolicy: { name: "none" } });
    const { va, pfn, pa } = onePage(m);
    cpuWrite(m, va + 60, new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8])); // crosses lines 0 and 1
    expect(states(m, pfn)).toEqual([LINE_DIRTY, LINE_DIRTY, LINE_INVALID, LINE_INVALID]);
    expect(m.memory.read(pa + 60, 8)).toEqual(new Uint8Array(8));
    expect(cpuRead(m, va + 60, 8)).toEqual(new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8]));
    dcacheCleanPoc(m, va, va + PAGE_SIZE);
    expect(states(m, pfn)).toEqual([LINE_CLEAN, LINE_CLEAN, LINE_INVALID, LINE_INVALID]);
    expect(m.memory.read(pa + 60, 8)).toEqual(new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8]));
  });

  it("reads of any length and alignment across pages", () => {
    const { m } = boot("x86-64", { cachePolicy: { name: "none" } });
    const p = allocPages(m, 1, GFP_KERNEL)!;
    const va = pageAddress(m, p);
    const data = new Uint8Array(300).map((_, i) => i & 0xff);
    cpuWrite(m, va + PAGE_SIZE - 150, data);
    expect(cpuRead(m, va + PAGE_SIZE - 150, 300)).toEqual(data);
    expect(cpuRead(m, va + PAGE_SIZE - 1, 2)).toEqual(new Uint8Array([149, 150]));
  });

  it("dcache_inval_poc discards full lines (dirty data lost) and cleans partial edges", () => {
    const { k, m } = boot("arm64-soc", { cachePolicy: { name: "none" } });
    const { va, pfn, pa } = onePage(m);
    cpuWrite(m, va, new Uint8Array(256).fill(9)); // lines 0..3 dirty
    dcacheInvalPoc(m, va + 32, va + 160); // line 0 and 2 partial, line 1 full
    expect(states(m, pfn)).toEqual([LINE_INVALID, LINE_INVALID, LINE_INVALID, LINE_DIRTY]);
    expect(m.memory.read(pa, 64)).toEqual(new Uint8Array(64).fill(9)); // edge cleaned
    expect(m.memory.read(pa + 64, 64)).toEqual(new Uint8Array(64)); // full line discarded
    expect(m.memory.read(pa + 128, 64)).toEqual(new Uint8Array(64).fill(9));
    expect(cpuRead(m, va + 64, 4)).toEqual(new Uint8Array(4)); // the CPU's own data is gone…
    expect(k.findings.map((f) => f.kind)).toEqual(["stale-read"]); // …and the checker says so
    const hist = m.checker.lineHistory(pa + 64).map((e) => e.kind);
    expect(hist).toEqual(["write", "discard", "fill"]);
  });

  it("a hypervisor upgrades invalidate to clean+invalidate (invalidateCleans)", () => {
    const { m } = boot("arm64-soc", { cachePolicy: { name: "none" }, invalidateCleans: true });
    const { va, pa } = onePage(m);
    cpuWrite(m, va, new Uint8Array(64).fill(9));
    dcacheInvalPoc(m, va, va + 64);
    expect(m.memory.read(pa, 64)).toEqual(new Uint8Array(64).fill(9));
  });

  it("riscv's arch_dma_cache_inv discards partial edge lines too", () => {
    const { m } = boot("arm64-soc", { arch: "riscv", cachePolicy: { name: "none" } });
    const { va, pfn, pa } = onePage(m);
    cpuWrite(m, va, new Uint8Array(64).fill(9));
    archDmaCacheInv(m, pa + 32, 32);
    expect(states(m, pfn, 1)).toEqual([LINE_INVALID]);
    expect(m.memory.read(pa, 64)).toEqual(new Uint8Array(64));
  });

  it("clean+invalidate writes back and drops", () => {
    const { m } = boot("arm64-soc", { cachePolicy: { name: "none" } });
    const { va, pfn, pa } = onePage(m);
    cpuWrite(m, va, new Uint8Array(64).fill(4));
    dcacheCleanInvalPoc(m, va, va + 1);
    expect(states(m, pfn, 1)).toEqual([LINE_INVALID]);
    expect(m.cache.pages).toBe(0);
    expect(m.memory.read(pa, 64)).toEqual(new Uint8Array(64).fill(4));
  });

  it("maintenance of a huge range visits only the cached pages", () => {
    const { m } = boot("x86-64", { cachePolicy: { name: "none" } });
    const pages = allocPagesBulk(m, GFP_KERNEL, 10);
    for (const p of pages) {
      cpuWrite(m, pageAddress(m, p) + 128, new Uint8Array([1]));
    }
    const start = 2 ** 48;
    dcacheCleanPoc(m, start, start + m.config.ramSize); // all 8 GiB
    for (const p of pages) {
      expect(m.memory.read(pageToPhys(p) + 128, 1)).toEqual(new Uint8Array([1]));
    }
    dcacheInvalPoc(m, start, start + m.config.ramSize);
    expect(m.cache.pages).toBe(0);
  });

  it("by physical address on PIPT; EOPNOTSUPP on aliasing caches", () => {
    const { m } = boot("arm64-soc", { cachePolicy: { name: "none" } });
    const { va, pfn, pa } = onePage(m);
    cpuWrite(m, va, new Uint8Array(128).fill(3));
    cacheCleanPhys(m, pa, 64);
    expect(states(m, pfn, 2)).toEqual([LINE_CLEAN, LINE_DIRTY]);
    cacheInvalPhys(m, pa, 64);
    cacheFlushPhys(m, pa + 64, 64);
    expect(m.cache.pages).toBe(0);
    const { m: v } = boot("parisc-vivt");
    expect(() => cacheCleanPhys(v, v.config.ramBase, 64)).toThrow(/EOPNOTSUPP/);
  });

  it("forced prefetch fills clean lines with memory; forced eviction writes back", () => {
    const { m } = boot("arm64-soc", { cachePolicy: { name: "none" } });
    const { va, pfn, pa } = onePage(m);
    m.memory.write(pa, new Uint8Array([7]));
    cachePrefetch(m, va, 64);
    expect(states(m, pfn, 1)).toEqual([LINE_CLEAN]);
    cpuWrite(m, va + 1, new Uint8Array([8]));
    cacheEvictPhys(m, pa, 64);
    expect(states(m, pfn, 1)).toEqual([LINE_INVALID]);
    expect(m.memory.read(pa, 2)).toEqual(new Uint8Array([7, 8]));
    expect(m.checker.lineHistory(pa).map((e) => e.kind)).toEqual(["prefetch", "write", "evict"]);
  });

  it("no speculation through uncached mappings", () => {
    const { m } = boot("arm64-soc", { cachePolicy: { name: "none" } });
    const p = allocPages(m, 0, GFP_KERNEL)!;
    const wc = vmap(m, [p], "uncached")!;
    cachePrefetch(m, wc, PAGE_SIZE);
    expect(m.cache.pages).toBe(0);
  });

  it("capacity and associativity: LRU evicts the oldest line of a full set", () => {
    // 2 sets × 2 ways × 64 B
    const { k, m } = boot("arm64-soc", {
      cachePolicy: { name: "none" },
      cacheSize: 256,
      cacheWays: 2,
    });
    const { va, pa } = onePage(m);
    // lines 0, 2, 4 map to set 0
    cpuWrite(m, va, new Uint8Array([1]));
    cpuWrite(m, va + 128, new Uint8Array([2]));
    cpuRead(m, va, 1); // line 0 most recently used
    cpuWrite(m, va + 256, new Uint8Array([3])); // evicts line 2 (dirty: written back)
    expect(m.memory.read(pa + 128, 1)).toEqual(new Uint8Array([2]));
    expect(m.memory.read(pa, 1)).toEqual(new Uint8Array([0]));
    expect(m.checker.lineHistory(pa + 128).at(-1)).toMatchObject({
      kind: "evict",
      note: expect.stringContaining("capacity"),
    });
    expect(m.cache.validLines()).toBe(2);
    // big accesses still work with a tiny cache
    const big = new Uint8Array(3 * PAGE_SIZE).map((_, i) => i % 251);
    const q = allocPages(m, 2, GFP_KERNEL)!;
    cpuWrite(m, pageAddress(m, q) + 10, big);
    expect(cpuRead(m, pageAddress(m, q) + 10, big.length)).toEqual(big);
    expect(m.cache.validLines()).toBeLessThanOrEqual(4);
    expect(k.findings).toEqual([]);
  });

  it("flush_cache_all cleans and drops everything", () => {
    const { m } = boot("armv6-vipt-aliasing", { cachePolicy: { name: "none" } });
    const { va, pa } = onePage(m);
    cpuWrite(m, va, new Uint8Array([5]));
    flushCacheAll(m);
    expect(m.cache.pages).toBe(0);
    expect(m.memory.read(pa, 1)).toEqual(new Uint8Array([5]));
  });
});

describe("indexing and aliases", () => {
  it("PIPT: a vmap alias shares the physical line", () => {
    const { m } = boot("arm64-soc", { cachePolicy: { name: "none" } });
    const p = allocPages(m, 0, GFP_KERNEL)!;
    const v = vmap(m, [p])!;
    cpuWrite(m, v, new Uint8Array([1, 2]));
    expect(cpuRead(m, pageAddress(m, p), 2)).toEqual(new Uint8Array([1, 2]));
    expect(m.cache.aliasesOf(p.pfn)).toHaveLength(1);
  });

  it("VIVT: every alias is its own line and can disagree", () => {
    const { k, m } = boot("parisc-vivt", { cachePolicy: { name: "none" } });
    const p = allocPages(m, 0, GFP_KERNEL)!;
    const lin = pageAddress(m, p);
    const v = vmap(m, [p])!;
    cpuRead(m, lin, 4); // linear alias cached (zeroes)
    cpuWrite(m, v, new Uint8Array([1, 2, 3, 4]));
    expect(m.cache.aliasesOf(p.pfn)).toHaveLength(2);
    expect(cpuRead(m, lin, 4)).toEqual(new Uint8Array(4));
    expect(k.findings.map((f) => f.kind)).toEqual(["stale-read"]);
  });

  it("VIPT: aliases of the same colour share a line, of different colours do not", () => {
    const { m } = boot("armv6-vipt-aliasing", { cachePolicy: { name: "none" } });
    const p = allocPages(m, 0, GFP_KERNEL)!;
    const lin = pageAddress(m, p);
    const colour = m.cache.colour(lin);
    // a vmap of [filler × n, p] puts p at any colour we like
    const fill = allocPagesBulk(m, GFP_KERNEL, 3);
    const at = (c: number): number => {
      const n = (c - m.cache.colour(m.vmalloc.next) + 4) % 4;
      return vmap(m, [...fill.slice(0, n), p])! + n * PAGE_SIZE;
    };
    const sameVa = at(colour);
    const otherVa = at((colour + 1) % 4);
    expect(m.cache.colour(sameVa)).toBe(colour);
    expect(m.cache.colour(otherVa)).toBe((colour + 1) % 4);
    cpuWrite(m, sameVa, new Uint8Array([9]));
    expect(cpuRead(m, lin, 1)).toEqual(new Uint8Array([9]));
    expect(m.cache.aliasesOf(p.pfn)).toHaveLength(1);
    expect(cpuRead(m, otherVa, 1)).toEqual(new Uint8Array([0])); // memory: the write is still cached
    expect(m.cache.aliasesOf(p.pfn)).toHaveLength(2);
  });

  it("arm VIVT/aliasing VIPT: vmap and vunmap flush the whole cache (flush_cache_vmap)", () => {
    const { m } = boot("armv6-vipt-aliasing", { cachePolicy: { name: "none" } });
    const { va, pa } = onePage(m);
    cpuWrite(m, va, new Uint8Array([6]));
    const q = allocPages(m, 0, GFP_KERNEL)!;
    const v = vmap(m, [q])!;
    expect(m.memory.read(pa, 1)).toEqual(new Uint8Array([6]));
    expect(m.cache.pages).toBe(0);
    cpuWrite(m, v, new Uint8Array([7]));
    vunmap(m, v);
    expect(m.memory.read(pageToPhys(q), 1)).toEqual(new Uint8Array([7]));
  });

  it("vunmap of an unknown address WARNs; access after vunmap oopses", () => {
    const { k, m } = boot("x86-64");
    const p = allocPages(m, 0, GFP_KERNEL)!;
    const v = vmap(m, [p])!;
    vunmap(m, v);
    vunmap(m, v);
    expect(k.findings.at(-1)!.summary).toMatch(/nonexistent vm area/);
    expect(() => cpuRead(m, v, 1)).toThrow(/Unable to handle kernel paging request/);
    expect(vmap(m, [])).toBeNull();
    expect(() => vmap(m, [2 ** 30])).toThrow(/EINVAL/);
  });
});

describe("speculation policies", () => {
  function scenario(policy: CachePolicy, picks: number[] = []) {
    const { k, m } = boot("arm64-soc", { cachePolicy: policy }, replayPolicy(picks));
    const { va, pa } = onePage(m);
    const dev = addDevice(m, { name: "d", dmaMask: 64 });
    cpuWrite(m, va, new Uint8Array(64).fill(1));
    deviceWrite(dev, physToDma(dev, pa), new Uint8Array(64).fill(2));
    m.tick();
    return { k, m };
  }

  it("none offers no choice point at all", () => {
    expect(scenario({ name: "none" }).k.choice.length).toBe(0);
  });

  it("explore offers at most 3 options per point; option 0 changes nothing", () => {
    const { k } = scenario({ name: "explore" });
    const recs = k.choice.records();
    expect(recs.length).toBeGreaterThan(0);
    for (const r of recs) {
      expect(r.kind).toBe("cache");
      expect(r.count).toBeLessThanOrEqual(3);
      expect(r.pick).toBe(0);
    }
    expect(k.findings).toEqual([]);
  });

  it("random asks one yes/no question per candidate line", () => {
    const { k } = scenario({ name: "random", evict: 0.5, prefetch: 0 });
    expect(k.choice.records().every((r) => r.kind === "evict" && r.count === 2)).toBe(true);
  });

  it("picking 'evict' after a device write clobbers the device's data", () => {
    // points: before-write [none, evict, prefetch], after-write [none, evict]
    const { k } = scenario({ name: "explore" }, [0, 1]);
    expect(k.findings.map((f) => f.kind)).toEqual(["clobbered-write"]);
  });

  it("tick may refill recently invalidated lines (H2 through the prefetcher)", () => {
    // tick: [none, prefetch] (no dirty line left); the device write's points answer 0
    const { k, m } = boot("arm64-soc", { cachePolicy: { name: "explore" } }, replayPolicy([1]));
    const { va, pa } = onePage(m);
    const dev = addDevice(m, { name: "d", dmaMask: 64 });
    cpuWrite(m, va, new Uint8Array(64).fill(1));
    dcacheCleanPoc(m, va, va + 64);
    dcacheInvalPoc(m, va, va + 64);
    m.tick();
    expect(k.choice.records()[0]).toEqual({ kind: "cache", count: 2, pick: 1 });
    deviceWrite(dev, physToDma(dev, pa), new Uint8Array(64).fill(2));
    cpuRead(m, va, 64);
    expect(k.findings.map((f) => f.kind)).toEqual(["stale-read"]);
  });

  it("no speculative refill through a removed VIVT alias", () => {
    const { k, m } = boot(
      "parisc-vivt",
      { cachePolicy: { name: "explore" }, speculativePrefetch: true },
      replayPolicy([1, 1, 1]),
    );
    const p = allocPages(m, 0, GFP_KERNEL)!;
    const v = vmap(m, [p])!;
    cpuRead(m, v, 64);
    vunmap(m, v); // flushes the alias: a ghost line whose mapping is gone
    m.tick();
    expect(m.cache.pages).toBe(0);
    expect(k.choice.length).toBe(0);
  });

  it("a coherent device snoops: reads see dirty lines, writes invalidate them", () => {
    const { k, m } = boot("x86-64");
    const { va, pa, pfn } = onePage(m);
    const dev = addDevice(m, { name: "nic", dmaMask: 64 });
    expect(dev.coherent).toBe(true);
    cpuWrite(m, va, new Uint8Array([1, 2, 3]));
    expect(deviceRead(dev, physToDma(dev, pa), 3)).toEqual(new Uint8Array([1, 2, 3]));
    deviceWrite(dev, physToDma(dev, pa + 1), new Uint8Array([9]));
    expect(states(m, pfn, 1)).toEqual([LINE_INVALID]);
    expect(cpuRead(m, va, 3)).toEqual(new Uint8Array([1, 9, 3]));
    expect(k.findings).toEqual([]);
    expect(m.checker.lineHistory(pa).map((e) => e.kind)).toContain("snoop");
  });
});
