// Extents (issue #18): memory, the ideal memory, writers, cache lines and line histories are kept
// as runs of whole pages, and that must change nothing but the cost. Two ways to check it:
// - differential: the same random operations on a PIPT cache (which keeps runs) and on a VIPT cache
//   with one colour (which behaves as PIPT but keeps a page of lines per cached page, as the model
//   always did) give the same findings, line histories, memory, ideal memory and cache lines;
// - the cases the issue names: a uniform extent split by a write, a partial clean, an eviction, a
//   bounce slot and a stale read in the middle of a large range, each against what the lines must be.
import { describe, expect, it } from "vitest";
import { Kernel, PAGE_SIZE, mulberry32, randomPolicy, type Finding } from "@dmasim/kernel";
import {
  CacheRun,
  GFP_KERNEL,
  LINE_CLEAN,
  LINE_DIRTY,
  LINE_INVALID,
  __GFP_ZERO,
  addDevice,
  allocPages,
  cacheEvict,
  cacheEvictPhys,
  cachePrefetch,
  cpuMemset,
  cpuRead,
  cpuWrite,
  createMachine,
  dcacheCleanInvalPoc,
  dcacheCleanPoc,
  dcacheInvalPoc,
  deviceRead,
  deviceWrite,
  flushCacheAll,
  pageAddress,
  pageToPhys,
  physToDma,
  physToVirt,
  swiotlbAllocSlots,
  swiotlbBounce,
  swiotlbReleaseSlots,
  vmap,
  type Device,
  type Machine,
  type PlatformConfig,
} from "../src/index";
import { boot } from "./helpers";

const MiB = 1024 * 1024;

/** A line's state and bytes, whatever holds it. */
function lineView(m: Machine, pa: number): string {
  const pfn = Math.floor(pa / PAGE_SIZE);
  const l = (pa % PAGE_SIZE) >> m.cache.lineShift;
  const e = m.cache.entryAt(0, pfn);
  if (!e) {
    return "-";
  }
  if (e instanceof CacheRun) {
    return `${e.state}:${e.value.toString(16)}*`;
  }
  const st = e.state[l] as number;
  if (st === LINE_INVALID) {
    return "-";
  }
  const off = e.base + (l << m.cache.lineShift);
  const bytes = e.data.subarray(off, off + m.cache.lineSize);
  return bytes.every((b) => b === bytes[0])
    ? `${st}:${(bytes[0] as number).toString(16)}*`
    : `${st}:${Buffer.from(bytes).toString("hex")}`;
}

/** A finding without what names the alias (VIPT notes "colour 0"; PIPT names none). */
function comparable(f: Finding): unknown {
  const { history, alias, ...details } = f.details as Record<string, unknown>;
  void alias;
  return {
    kind: f.kind,
    code: f.code,
    summary: f.summary,
    seq: f.seq,
    step: f.step,
    details,
    history: (
      history as { seq: number; kind: string; agent: string; pa: number; len: number }[] | undefined
    )?.map((e) => [e.seq, e.kind, e.agent, e.pa, e.len]),
  };
}

interface World {
  readonly k: Kernel;
  readonly m: Machine;
  readonly base: number;
  readonly pages: number;
  readonly nc: Device;
  readonly coh: Device;
}

function world(seed: number, overrides: Partial<PlatformConfig>): World {
  const k = new Kernel({ policy: randomPolicy(seed) });
  const m = createMachine(k, "x86-64", {
    ramSize: 512 * MiB,
    allocChoices: 1,
    ...overrides,
  });
  const block = allocPages(m, 6, GFP_KERNEL)!; // 64 pages to play in
  const nc = addDevice(m, { name: "nc", coherent: false, dmaMask: 64 });
  const coh = addDevice(m, { name: "coh", coherent: true, dmaMask: 64 });
  return { k, m, base: pageToPhys(block), pages: 64, nc, coh };
}

/** One random operation, the same on both worlds (all randomness from `rand`). */
function step(w: World, rand: () => number, alloc: { pas: number[] }): void {
  const { m } = w;
  const size = w.pages * PAGE_SIZE;
  const pick = (n: number): number => Math.floor(rand() * n);
  const range = (): [number, number] => {
    const whole = rand() < 0.5;
    if (whole) {
      const p0 = pick(w.pages);
      const n = 1 + pick(Math.min(8, w.pages - p0));
      return [w.base + p0 * PAGE_SIZE, n * PAGE_SIZE];
    }
    const a = pick(size - 1);
    return [w.base + a, 1 + pick(Math.min(size - a, 3 * PAGE_SIZE))];
  };
  const data = (len: number): Uint8Array =>
    rand() < 0.6
      ? new Uint8Array(len).fill(pick(4))
      : Uint8Array.from({ length: len }, () => pick(256));
  const [pa, len] = range();
  const va = physToVirt(m, pa);
  switch (pick(14)) {
    case 0:
      cpuWrite(m, va, data(len));
      break;
    case 1:
      cpuRead(m, va, len);
      break;
    case 2:
      cpuMemset(m, va, pick(3), len);
      break;
    case 3:
      dcacheCleanPoc(m, va, va + len);
      break;
    case 4:
      dcacheInvalPoc(m, va, va + len);
      break;
    case 5:
      dcacheCleanInvalPoc(m, va, va + len);
      break;
    case 6:
      deviceWrite(rand() < 0.5 ? w.nc : w.coh, physToDma(w.nc, pa), data(len));
      break;
    case 7:
      deviceRead(rand() < 0.5 ? w.nc : w.coh, physToDma(w.nc, pa), len);
      break;
    case 8:
      if (rand() < 0.5) {
        cacheEvict(m, va, len);
      } else {
        cacheEvictPhys(m, pa, len);
      }
      break;
    case 9:
      cachePrefetch(m, va, len);
      break;
    case 10:
      m.tick();
      break;
    case 11: {
      const p = allocPages(m, pick(3), GFP_KERNEL | __GFP_ZERO);
      if (p) {
        alloc.pas.push(pageToPhys(p));
        cpuRead(m, pageAddress(m, p), 64);
      }
      break;
    }
    case 12: {
      // bounce a piece of the region through the pool and back
      const n = Math.min(len, 8 * 2048);
      const tlb = swiotlbAllocSlots(m, w.nc, pa, n);
      if (tlb !== null) {
        swiotlbBounce(m, w.nc, tlb, n, 1);
        deviceWrite(w.nc, physToDma(w.nc, tlb), data(Math.min(n, 100)));
        swiotlbBounce(m, w.nc, tlb, n, 2);
        swiotlbReleaseSlots(m, w.nc, tlb);
      }
      break;
    }
    case 13:
      if (rand() < 0.2) {
        flushCacheAll(m);
      } else {
        cpuWrite(m, va, data(Math.min(len, 200)));
      }
      break;
  }
}

function snapshot(w: World, alloc: { pas: number[] }): unknown {
  const { m } = w;
  const lines: string[] = [];
  const ideal: string[] = [];
  const mem: string[] = [];
  const pages = [w.base, ...alloc.pas];
  for (const start of pages) {
    const n = start === w.base ? w.pages : 1;
    for (let pa = start; pa < start + n * PAGE_SIZE; pa += m.cache.lineSize) {
      lines.push(lineView(m, pa));
    }
    mem.push(Buffer.from(m.memory.read(start, n * PAGE_SIZE)).toString("base64"));
    ideal.push(Buffer.from(m.checker.idealRead(start, n * PAGE_SIZE)).toString("base64"));
  }
  return {
    lines,
    mem,
    ideal,
    findings: w.k.findings.map(comparable),
    valid: m.cache.validLines(),
    ghosts: m.cache.recentGhosts().map((g) => [g.pfn, g.line]),
  };
}

describe("extents change nothing but the cost", () => {
  const agree = (seeds: number, policy: PlatformConfig["cachePolicy"]): void => {
    for (let seed = 1; seed <= seeds; seed++) {
      const a = world(seed, { cachePolicy: policy });
      const b = world(seed, { cachePolicy: policy, cacheIndexing: "vipt", cacheColours: 1 });
      expect(a.m.cache.runsEnabled).toBe(true);
      expect(b.m.cache.runsEnabled).toBe(false);
      const ra = mulberry32(seed * 7919);
      const rb = mulberry32(seed * 7919);
      const allocA = { pas: [] as number[] };
      const allocB = { pas: [] as number[] };
      for (let i = 0; i < 60; i++) {
        a.k.step = i + 1;
        b.k.step = i + 1;
        step(a, ra, allocA);
        step(b, rb, allocB);
        if (i % 6 !== 5) {
          expect(a.k.findings.map(comparable)).toEqual(b.k.findings.map(comparable));
          continue;
        }
        const sa = snapshot(a, allocA);
        const sb = snapshot(b, allocB);
        if (JSON.stringify(sa) !== JSON.stringify(sb)) {
          expect({ seed, op: i, ...(sa as object) }).toEqual({ seed, op: i, ...(sb as object) });
        }
      }
      // the line histories of every line agree too (kinds, agents, numbers, ranges)
      for (let pa = a.base; pa < a.base + a.pages * PAGE_SIZE; pa += 64) {
        const ha = a.m.checker
          .lineHistory(pa)
          .map((e) => [e.seq, e.kind, e.agent, e.pa, e.len, e.step]);
        const hb = b.m.checker
          .lineHistory(pa)
          .map((e) => [e.seq, e.kind, e.agent, e.pa, e.len, e.step]);
        expect(ha).toEqual(hb);
      }
      expect(a.m.cache.pages).toBe(b.m.cache.pages);
    }
  };

  it("a PIPT cache (runs) and a one-colour VIPT cache (pages of lines) agree: random cache policy (a choice per line)", () => {
    agree(8, { name: "random", evict: 0.02, prefetch: 0.02 });
  }, 120_000);

  it("…and under the explore policy (a choice per speculation site, whole runs evicted or filled at once)", () => {
    agree(8, { name: "explore", evict: 0.3, prefetch: 0.3 });
  }, 120_000);
});

describe("a large uniform extent, split in the middle", () => {
  /** 64 MiB of RAM zeroed by the CPU through the linear map (one dirty extent), in arm64-soc. */
  function bigBuffer(): {
    k: Kernel;
    m: Machine;
    pa: number;
    va: number;
    size: number;
    dev: Device;
  } {
    const { k, m } = boot("arm64-soc", { cachePolicy: { name: "none" } });
    const size = 64 * MiB;
    const pa = m.config.ramBase + 256 * MiB;
    const va = physToVirt(m, pa);
    cpuMemset(m, va, 0, size, "cpu:init");
    const dev = addDevice(m, { name: "cam", coherent: false, dmaMask: 64 });
    return { k, m, pa, va, size, dev };
  }

  it("__GFP_ZERO of a max-order block is one dirty extent, its history one event per page", () => {
    const { m } = boot("arm64-soc", { cachePolicy: { name: "none" } });
    const pa = pageToPhys(allocPages(m, 10, GFP_KERNEL | __GFP_ZERO)!);
    expect(m.cache.entries()).toHaveLength(1);
    expect(m.cache.pages).toBe(1024);
    const h = m.checker.lineHistory(pa + 5 * PAGE_SIZE + 64);
    expect(h.map((e) => [e.kind, e.pa, e.len, e.note])).toEqual([
      ["write", pa + 5 * PAGE_SIZE, PAGE_SIZE, "__GFP_ZERO clear_page"],
    ]);
    // numbered as if recorded page by page
    expect(h[0]!.seq - m.checker.lineHistory(pa)[0]!.seq).toBe(5);
  });

  it("zeroing leaves one dirty extent; a clean turns it into one clean extent; nothing is stored per page", () => {
    const { m, pa, va, size } = bigBuffer();
    expect(m.cache.pages).toBe(size / PAGE_SIZE);
    expect(m.cache.validLines()).toBe(size / 64);
    expect(lineView(m, pa)).toBe(`${LINE_DIRTY}:0*`);
    expect(m.footprint().cache).toBe(0);
    dcacheCleanPoc(m, va, va + size);
    expect(lineView(m, pa + size - 64)).toBe(`${LINE_CLEAN}:0*`);
    expect(m.footprint()).toMatchObject({ memory: 0, cache: 0, ideal: 0 });
    // every line's history has its own zeroing and its own clean
    const h = m.checker.lineHistory(pa + 32 * MiB + 640).map((e) => [e.kind, e.pa, e.len]);
    expect(h).toEqual([
      ["write", pa + 32 * MiB, PAGE_SIZE],
      ["clean", pa + 32 * MiB + 640, 64],
    ]);
    expect(m.cache.entries()).toHaveLength(1);
  });

  it("a write in the middle splits the extent: only that page gets lines of its own", () => {
    const { m, pa, va, size } = bigBuffer();
    dcacheCleanPoc(m, va, va + size);
    const mid = pa + 16 * MiB + 100;
    cpuWrite(m, physToVirt(m, mid), new Uint8Array([1, 2, 3]));
    expect(lineView(m, mid)).toBe(`${LINE_DIRTY}:${"00".repeat(36)}010203${"00".repeat(25)}`);
    expect(lineView(m, mid - 100)).toBe(`${LINE_CLEAN}:0*`); // line 0 of that page: untouched
    expect(lineView(m, mid - 4096)).toBe(`${LINE_CLEAN}:0*`);
    expect(lineView(m, mid + 4096)).toBe(`${LINE_CLEAN}:0*`);
    expect(m.footprint().cache).toBeLessThanOrEqual(16 * 1024); // one page slot (one slab)
    expect(cpuRead(m, physToVirt(m, mid - 1), 5)).toEqual(new Uint8Array([0, 1, 2, 3, 0]));
  });

  it("a partial clean writes back exactly the lines it covers", () => {
    const { m, pa, va } = bigBuffer();
    const from = 8 * MiB + 3 * 64 + 5; // a partial line at each end
    const to = 8 * MiB + 2 * PAGE_SIZE + 7 * 64 - 1;
    dcacheCleanPoc(m, va + from, va + to);
    expect(lineView(m, pa + from - 5 - 64)).toBe(`${LINE_DIRTY}:0*`);
    expect(lineView(m, pa + from - 5)).toBe(`${LINE_CLEAN}:0*`);
    expect(lineView(m, pa + 8 * MiB + PAGE_SIZE)).toBe(`${LINE_CLEAN}:0*`);
    expect(lineView(m, pa + to - 63)).toBe(`${LINE_CLEAN}:0*`);
    expect(lineView(m, pa + to + 1)).toBe(`${LINE_DIRTY}:0*`);
    const cleaned = m.checker.lineHistory(pa + 8 * MiB + PAGE_SIZE).map((e) => e.kind);
    expect(cleaned).toEqual(["write", "clean"]);
    expect(m.checker.lineHistory(pa + to + 1).map((e) => e.kind)).toEqual(["write"]);
  });

  it("an eviction in the middle writes back and drops only its lines", () => {
    const { m, pa, va } = bigBuffer();
    const at = 40 * MiB;
    cacheEvict(m, va + at, 3 * PAGE_SIZE);
    expect(lineView(m, pa + at - 64)).toBe(`${LINE_DIRTY}:0*`);
    expect(lineView(m, pa + at)).toBe("-");
    expect(lineView(m, pa + at + 3 * PAGE_SIZE - 64)).toBe("-");
    expect(lineView(m, pa + at + 3 * PAGE_SIZE)).toBe(`${LINE_DIRTY}:0*`);
    expect(m.cache.recentGhosts()).toHaveLength(3 * 64);
    expect(m.checker.lineHistory(pa + at + 64).map((e) => [e.kind, e.note])).toEqual([
      ["write", undefined],
      ["evict", "forced eviction (dirty: written back)"],
    ]);
  });

  it("a device write in the middle under a dirty extent: the later write-back clobbers just those lines", () => {
    const { k, m, pa, va, size, dev } = bigBuffer();
    const at = 20 * MiB + 128;
    deviceWrite(dev, physToDma(dev, pa + at), new Uint8Array(256).fill(0x5a));
    dcacheCleanPoc(m, va, va + size); // the zeroes written back over the device's bytes
    const clobbers = k.findings.filter((f) => f.kind === "clobbered-write"); // (the pages are free RAM)
    expect(clobbers.map((f) => [f.kind, f.details["line"]])).toEqual([
      ["clobbered-write", pa + at],
      ["clobbered-write", pa + at + 64],
      ["clobbered-write", pa + at + 128],
      ["clobbered-write", pa + at + 192],
    ]);
    const h = clobbers[0]!.details["history"] as readonly { kind: string }[];
    expect(h.map((e) => e.kind)).toEqual(["write", "dma-write"]);
    // the clean of each clobbering line comes right after its finding
    const cleanSeq = m.checker.lineHistory(pa + at).at(-1)!;
    expect(cleanSeq.kind).toBe("clean");
    expect(cleanSeq.seq).toBe(clobbers[0]!.seq + 1);
  });

  it("a stale read in the middle: the CPU's clean extent hides the device's bytes", () => {
    const { k, m, pa, va, size, dev } = bigBuffer();
    dcacheCleanPoc(m, va, va + size);
    const at = 33 * MiB + 4000;
    deviceWrite(dev, physToDma(dev, pa + at), new Uint8Array(200).fill(7));
    const seen = cpuRead(m, va + at, 200);
    expect(seen).toEqual(new Uint8Array(200)); // stale zeroes
    const stale = k.findings.filter((f) => f.kind === "stale-read"); // (the pages are free RAM)
    expect(stale).toHaveLength(1);
    expect(stale[0]!.summary).toMatch(/200 bytes in 4 lines differ/);
    const h = (stale[0]!.details["history"] as readonly { kind: string }[]).map((e) => e.kind);
    expect(h).toEqual(["write", "clean", "dma-write"]);
    dcacheInvalPoc(m, va + at, va + at + 200);
    expect(cpuRead(m, va + at, 200)).toEqual(new Uint8Array(200).fill(7));
  });

  it("a bounce slot in the middle: bounced in and out through the cache, the extent stays whole elsewhere", () => {
    const { k, m } = boot("x86-64", { cachePolicy: { name: "none" } });
    const dev = addDevice(m, { name: "d", dmaMask: 32 });
    const block = allocPages(m, 10, GFP_KERNEL | __GFP_ZERO)!;
    const pa = pageToPhys(block);
    const orig = pa + 2 * MiB;
    const tlb = swiotlbAllocSlots(m, dev, orig, 8192)!;
    swiotlbBounce(m, dev, tlb, 8192, 1); // zeroes to the device
    deviceWrite(dev, physToDma(dev, tlb), new Uint8Array(64).fill(9));
    swiotlbBounce(m, dev, tlb, 8192, 2); // back to the original, through the cache
    swiotlbReleaseSlots(m, dev, tlb);
    expect(k.findings).toEqual([]);
    expect(cpuRead(m, physToVirt(m, orig), 66)).toEqual(
      Uint8Array.from({ length: 66 }, (_, i) => (i < 64 ? 9 : 0)),
    );
    expect(lineView(m, orig + PAGE_SIZE)).toBe(`${LINE_DIRTY}:0*`); // written by the copy
    expect(lineView(m, pa)).toBe(`${LINE_DIRTY}:0*`); // the zeroing, untouched
    expect(m.checker.lineHistory(orig).map((e) => e.kind)).toEqual([
      "write",
      "bounce-in",
      "dma-write",
      "write",
      "bounce-out",
    ]);
  });
});

describe("digests see states, not how they are stored", () => {
  it("a run and pages of lines that hold the same lines digest equally", () => {
    const make = (asRun: boolean): string => {
      const { m } = boot("arm64-soc", { cachePolicy: { name: "none" } });
      const va = physToVirt(m, m.config.ramBase + 64 * MiB);
      if (asRun) {
        cpuMemset(m, va, 7, 2 * PAGE_SIZE);
      } else {
        for (let off = 0; off < 2 * PAGE_SIZE; off += 64) {
          cpuWrite(m, va + off, new Uint8Array(64).fill(7)); // line by line: pages of lines
        }
      }
      return m.stateDigest();
    };
    expect(make(false)).toBe(make(true));
  });

  it("memory written page by page or as one extent digests equally", () => {
    const make = (whole: boolean): string => {
      const { m } = boot("arm64-soc", { cachePolicy: { name: "none" } });
      const pa = m.config.ramBase + 64 * MiB;
      if (whole) {
        m.memory.fill(pa, 3 * PAGE_SIZE, 9);
      } else {
        for (let off = 0; off < 3 * PAGE_SIZE; off += 100) {
          m.memory.write(pa + off, new Uint8Array(Math.min(100, 3 * PAGE_SIZE - off)).fill(9));
        }
      }
      return m.stateDigest();
    };
    expect(make(false)).toBe(make(true));
  });
});

describe("line histories as ranges", () => {
  it("each line shows its own newest events, whatever else the page or the range saw", () => {
    const { k, m } = boot("arm64-soc", { cachePolicy: { name: "none" }, historyDepth: 8 });
    const base = m.config.ramBase + 128 * MiB;
    const rand = mulberry32(5);
    const all: { seq: number; pa: number; len: number }[] = [];
    for (let i = 0; i < 3000; i++) {
      const whole = rand() < 0.1;
      const pa = base + Math.floor(rand() * (whole ? 2 : 16 * PAGE_SIZE));
      const len = whole ? Math.floor(rand() * 8 * PAGE_SIZE) + 1 : Math.floor(rand() * 300) + 1;
      k.step = i;
      const first = k.takeSeq(0); // the next number
      m.checker.record("write", "cpu:t", pa, len);
      // one event per page piece, numbered in order
      for (let a = pa, n = 0; a < pa + len; n++) {
        const end = Math.min(pa + len, a - (a % PAGE_SIZE) + PAGE_SIZE);
        all.push({ seq: first + n, pa: a, len: end - a });
        a = end;
      }
    }
    for (let line = base; line < base + 18 * PAGE_SIZE; line += 64 * 7) {
      const want = all
        .filter((e) => e.pa < line + 64 && e.pa + e.len > line)
        .slice(-8)
        .map((e) => [e.seq, e.pa, e.len]);
      const got = m.checker.lineHistory(line).map((e) => [e.seq, e.pa, e.len]);
      expect(got).toEqual(want);
    }
  });
});

describe("stores of one value through an uncached mapping", () => {
  it("go to memory as one extent, one event per page naming its own address", () => {
    const { m } = boot("arm64-soc", { cachePolicy: { name: "none" } });
    const block = allocPages(m, 4, GFP_KERNEL)!; // 16 contiguous pages
    const pfns = Array.from({ length: 16 }, (_, i) => block.pfn + i);
    const va = vmap(m, pfns, "writecombine")!;
    cpuMemset(m, va, 0x3c, 16 * PAGE_SIZE);
    const pa = pageToPhys(block);
    expect(m.memory.read(pa + 5 * PAGE_SIZE, 3)).toEqual(new Uint8Array(3).fill(0x3c));
    expect(m.checker.idealRead(pa + 15 * PAGE_SIZE, 2)).toEqual(new Uint8Array(2).fill(0x3c));
    expect(m.footprint().memory).toBe(0);
    const first = m.checker.lineHistory(pa)[0]!;
    const sixth = m.checker.lineHistory(pa + 5 * PAGE_SIZE + 64)[0]!;
    expect(first.note).toBe(`writecombine mapping at va 0x${va.toString(16)}`);
    expect(sixth).toMatchObject({
      kind: "write-uncached",
      pa: pa + 5 * PAGE_SIZE,
      len: PAGE_SIZE,
      seq: first.seq + 5,
      note: `writecombine mapping at va 0x${(va + 5 * PAGE_SIZE).toString(16)}`,
    });
  });
});
