import { PAGE_SIZE, digestValue } from "@dmasim/kernel";
import { describe, expect, it, vi } from "vitest";
import {
  GFP_KERNEL,
  IOMMU_DOMAIN_DMA,
  IOMMU_DOMAIN_DMA_FQ,
  IOMMU_READ,
  IOMMU_WRITE,
  addDevice,
  allocPages,
  cpuRead,
  cpuWrite,
  dcacheCleanPoc,
  dcacheInvalPoc,
  deviceRead,
  deviceWrite,
  freePages,
  iommuAttachDevice,
  iommuDomainAlloc,
  iommuFlushIotlbAll,
  iommuIotlbGatherInit,
  iommuIotlbSync,
  iommuMap,
  iommuUnmap,
  iommuUnmapFast,
  pageAddress,
  physToDma,
  physToVirt,
  swiotlbAllocSlots,
  swiotlbReleaseSlots,
  vmap,
  vunmap,
  type Machine,
  type PlatformConfig,
} from "../src/index";
import { HashedMap, Hasher, PageHashes } from "../src/internal/hash";
import { boot } from "./helpers";

const MiB = 1024 * 1024;

/** A linear-map address `off` bytes into RAM at `pageIndex` pages from its base (no allocation). */
function va(m: Machine, pageIndex: number, off = 0): number {
  return physToVirt(m, m.config.ramBase + pageIndex * PAGE_SIZE + off);
}

/** Whether `change` changes the machine's digest (and the kernel's). */
function changes(m: Machine, change: () => void): boolean {
  const before = m.stateDigest();
  const kBefore = m.kernel.stateDigest();
  change();
  const moved = m.stateDigest() !== before;
  expect(m.kernel.stateDigest() !== kBefore).toBe(moved);
  return moved;
}

/** The same scenario of hardware operations, step by step. */
function scenario(m: Machine): void {
  const page = allocPages(m, 2, GFP_KERNEL)!;
  const a = pageAddress(m, page);
  cpuWrite(m, a, new Uint8Array(300).fill(5));
  dcacheCleanPoc(m, a, a + 128);
  const dev = addDevice(m, { name: "dma", coherent: false, dmaMask: 64 });
  deviceWrite(dev, physToDma(dev, page.pfn * PAGE_SIZE + PAGE_SIZE), new Uint8Array(64).fill(9));
  const dom = iommuDomainAlloc(m);
  const gpu = addDevice(m, { name: "gpu", dmaMask: 64 });
  iommuAttachDevice(dom, gpu);
  iommuMap(dom, 0x10000, page.pfn * PAGE_SIZE, 2 * PAGE_SIZE, IOMMU_READ | IOMMU_WRITE);
  deviceRead(gpu, 0x10000, 16);
  swiotlbAllocSlots(m, dev, page.pfn * PAGE_SIZE, 1000);
  vmap(m, [page.pfn + 1, page.pfn + 3]);
}

describe("machine state digest: equal states", () => {
  for (const platform of ["x86-64", "arm64-soc", "armv6-vipt-aliasing", "parisc-vivt"]) {
    it(`the same operations in the same order give the same digest (${platform})`, () => {
      const one = boot(platform);
      const two = boot(platform);
      expect(one.m.stateDigest()).toBe(two.m.stateDigest());
      scenario(one.m);
      scenario(two.m);
      expect(one.m.stateDigest()).toMatch(/^[0-9a-f]{16}$/);
      expect(one.m.stateDigest()).toBe(two.m.stateDigest());
      expect(one.k.stateDigest()).toBe(two.k.stateDigest());
      // digesting is not a state change, and the incremental parts agree with a fresh pass
      const three = boot(platform);
      scenario(three.m);
      expect(one.m.stateDigest()).toBe(three.m.stateDigest());
    });
  }

  it("differs between platforms and platform fields", () => {
    expect(boot("x86-64").m.stateDigest()).not.toBe(boot("arm64-soc").m.stateDigest());
    expect(boot("x86-64").m.stateDigest()).not.toBe(
      boot("x86-64", { swiotlbForce: true }).m.stateDigest(),
    );
  });

  it("comes back when memory, ideal memory or the IOMMU tables return to an earlier state", () => {
    const { m } = boot("arm64-soc");
    const dom = iommuDomainAlloc(m);
    const fresh = m.stateDigest();
    const pa = m.config.ramBase + 7 * PAGE_SIZE;
    m.memory.write(pa + 5, new Uint8Array([1, 2, 3]));
    m.checker.idealWritePage(pa, new Uint8Array([4]), 0, 1, 0);
    iommuMap(dom, 0, pa, PAGE_SIZE, IOMMU_READ);
    iommuMap(dom, PAGE_SIZE, pa, PAGE_SIZE, IOMMU_WRITE);
    expect(m.stateDigest()).not.toBe(fresh);
    // a page of zeroes reads like an untouched one; the tables are hashed regardless of order
    m.memory.write(pa + 5, new Uint8Array(3));
    m.checker.idealWritePage(pa, new Uint8Array([0]), 0, 1, 0);
    iommuUnmap(dom, 0, PAGE_SIZE);
    iommuUnmap(dom, PAGE_SIZE, PAGE_SIZE);
    expect(m.stateDigest()).toBe(fresh);
    // the same mappings made in another order
    iommuMap(dom, PAGE_SIZE, pa, PAGE_SIZE, IOMMU_WRITE);
    const oneMapping = m.stateDigest();
    iommuMap(dom, 0, pa, PAGE_SIZE, IOMMU_READ);
    const { m: m2 } = boot("arm64-soc");
    const dom2 = iommuDomainAlloc(m2);
    iommuMap(dom2, 0, pa, PAGE_SIZE, IOMMU_READ);
    iommuMap(dom2, PAGE_SIZE, pa, PAGE_SIZE, IOMMU_WRITE);
    expect(m.stateDigest()).toBe(m2.stateDigest());
    expect(oneMapping).not.toBe(m.stateDigest());
  });
});

describe("machine state digest: every kind of state change changes it", () => {
  it("a byte of memory, of the ideal memory, and the checker switch", () => {
    const { m } = boot("arm64-soc");
    const pa = m.config.ramBase + 3 * PAGE_SIZE + 100;
    expect(changes(m, () => m.memory.write(pa, new Uint8Array([1])))).toBe(true);
    expect(changes(m, () => m.memory.write(pa + 4000, new Uint8Array([1])))).toBe(true);
    expect(changes(m, () => m.memory.write(pa, new Uint8Array([2])))).toBe(true);
    expect(changes(m, () => m.memory.write(pa, new Uint8Array([2])))).toBe(false);
    expect(changes(m, () => m.checker.idealWritePage(pa, new Uint8Array([7]), 0, 1, 0))).toBe(true);
    expect(changes(m, () => (m.checker.enabled = false))).toBe(true);
  });

  it("a cache line's state (clean / dirty / invalid) with the same data", () => {
    const { m } = boot("arm64-soc", { cachePolicy: { name: "none" } });
    const a = va(m, 5);
    expect(changes(m, () => cpuRead(m, a, 4))).toBe(true); // clean line of zeroes
    // a store of the same zeroes: memory and ideal memory unchanged, the line dirty
    expect(changes(m, () => cpuWrite(m, a, new Uint8Array(4)))).toBe(true);
    expect(changes(m, () => dcacheCleanPoc(m, a, a + 64))).toBe(true); // dirty -> clean
    expect(changes(m, () => dcacheInvalPoc(m, a, a + 64))).toBe(true); // clean -> invalid
    expect(m.stateDigest()).toBe(
      boot("arm64-soc", { cachePolicy: { name: "none" } }).m.stateDigest(),
    );
  });

  it("which line of a page is dirty (same counts of valid and dirty lines)", () => {
    const cfg: Partial<PlatformConfig> = { cachePolicy: { name: "none" } };
    const dirtyLine = (l: number): string => {
      const { m } = boot("arm64-soc", cfg);
      cpuRead(m, va(m, 2, (1 - l) * 64), 1);
      cpuWrite(m, va(m, 2, l * 64), new Uint8Array(1));
      return m.stateDigest();
    };
    expect(dirtyLine(0)).not.toBe(dirtyLine(1));
  });

  it("the order of a physical page's aliases (snoops and maintenance follow it)", () => {
    const cfg: Partial<PlatformConfig> = { cachePolicy: { name: "none" } };
    const aliasOrder = (linearFirst: boolean): string => {
      const { m } = boot("armv6-vipt-aliasing", cfg);
      const y = m.config.ramBase / PAGE_SIZE + 8;
      const area = vmap(m, [y + 1, y])!; // x = y + 1 at colour 0, y at colour 1
      expect([m.cache.colour(va(m, 8)), m.cache.colour(va(m, 9))]).toEqual([0, 1]);
      cpuRead(m, va(m, 8), 1); // y: colour 0, then colour 1 (both alias spaces exist)
      cpuRead(m, area + PAGE_SIZE, 1);
      const reads = [va(m, 9), area];
      for (const a of linearFirst ? reads : reads.reverse()) {
        cpuRead(m, a, 1);
      }
      expect(m.cache.aliasesOf(y + 1)).toHaveLength(2);
      return m.stateDigest();
    };
    expect(aliasOrder(true)).not.toBe(aliasOrder(false));
  });

  it("a cache line's data", () => {
    const { m } = boot("armv6-vipt-aliasing", { cachePolicy: { name: "none" } });
    cpuRead(m, va(m, 9), 4);
    const p = m.cache.allPages()[0]!;
    expect(changes(m, () => (p.data[p.base + 3] = 0x55))).toBe(true);
  });

  it("which alias (VIPT colour) caches a line", () => {
    const cfg: Partial<PlatformConfig> = { cachePolicy: { name: "none" } };
    const readThrough = (viaVmap: boolean): Machine => {
      const { m } = boot("armv6-vipt-aliasing", cfg);
      const alias = vmap(m, [m.config.ramBase / PAGE_SIZE + 9])!;
      expect(m.cache.colour(alias)).not.toBe(m.cache.colour(va(m, 9)));
      cpuRead(m, viaVmap ? alias : va(m, 9), 4);
      return m;
    };
    expect(readThrough(true).stateDigest()).not.toBe(readThrough(false).stateDigest());
    expect(readThrough(true).stateDigest()).toBe(readThrough(true).stateDigest());
  });

  it("the LRU order of a set when the cache has a capacity", () => {
    // 2 ways × 64 sets: line l of every page falls in set l
    const cfg: Partial<PlatformConfig> = {
      cachePolicy: { name: "none" },
      cacheSize: 2 * 64 * 64,
      cacheWays: 2,
    };
    const digestAfter = (first: number, second: number): string => {
      const { m } = boot("arm64-soc", cfg);
      cpuRead(m, va(m, 1, 5 * 64), 1); // bring both pages in, in a fixed order
      cpuRead(m, va(m, 2, 5 * 64), 1);
      cpuRead(m, va(m, first), 1);
      cpuRead(m, va(m, second), 1);
      return m.stateDigest();
    };
    expect(digestAfter(1, 2)).not.toBe(digestAfter(2, 1));
    expect(digestAfter(1, 2)).toBe(digestAfter(1, 2));
  });

  it("the recently dropped lines, when the policy refills them at a tick (and only then)", () => {
    const dropped = (overrides: Partial<PlatformConfig>): [string, string] => {
      const { m } = boot("arm64-soc", overrides);
      const fresh = m.stateDigest();
      const a = va(m, 4);
      cpuRead(m, a, 4);
      dcacheInvalPoc(m, a, a + 64);
      expect(m.cache.validLines()).toBe(0);
      expect(m.cache.recentGhosts()).toHaveLength(1);
      return [fresh, m.stateDigest()];
    };
    const [f1, d1] = dropped({});
    expect(d1).not.toBe(f1);
    const [f2, d2] = dropped({ cachePolicy: { name: "none" } });
    expect(d2).toBe(f2);
    const [f3, d3] = dropped({ speculativePrefetch: false });
    expect(d3).toBe(f3);
  });

  it("IOMMU page tables, IOTLB entries, domain type and attachment", () => {
    const { m } = boot("arm64-soc", { cachePolicy: { name: "none" } });
    const dom = iommuDomainAlloc(m, IOMMU_DOMAIN_DMA_FQ);
    const dev = addDevice(m, { name: "gpu", dmaMask: 64 });
    const pa = m.config.ramBase + 16 * PAGE_SIZE;
    expect(changes(m, () => iommuAttachDevice(dom, dev))).toBe(true);
    expect(changes(m, () => iommuMap(dom, 0x4000, pa, PAGE_SIZE, IOMMU_READ))).toBe(true);
    // a device access fills the IOTLB
    expect(changes(m, () => deviceRead(dev, 0x4000, 8))).toBe(true);
    expect(dom.iotlb.size).toBe(1);
    const gather = iommuIotlbGatherInit();
    // a lazy unmap: the table entry goes, the IOTLB keeps the stale translation
    expect(changes(m, () => iommuUnmapFast(dom, 0x4000, PAGE_SIZE, gather))).toBe(true);
    expect(changes(m, () => iommuIotlbSync(dom, gather))).toBe(true);
    expect(dom.iotlb.size).toBe(0);
    iommuMap(dom, 0x4000, pa, PAGE_SIZE, IOMMU_READ);
    deviceRead(dev, 0x4000, 8);
    expect(changes(m, () => iommuFlushIotlbAll(dom))).toBe(true);
    // same page, other permission
    iommuUnmap(dom, 0x4000, PAGE_SIZE);
    const read = m.stateDigest();
    iommuMap(dom, 0x4000, pa, PAGE_SIZE, IOMMU_WRITE);
    expect(m.stateDigest()).not.toBe(read);
    expect(changes(m, () => (dom.type = IOMMU_DOMAIN_DMA))).toBe(true);
    expect(changes(m, () => iommuDomainAlloc(m))).toBe(true);
  });

  it("swiotlb slots and their original addresses", () => {
    const { m } = boot("x86-64");
    const dev = addDevice(m, { name: "nic", dmaMask: 32 });
    let tlb = 0;
    expect(changes(m, () => (tlb = swiotlbAllocSlots(m, dev, 0x1234_0000, 3000)!))).toBe(true);
    expect(changes(m, () => swiotlbReleaseSlots(m, dev, tlb))).toBe(true);
    const orig = (o: number): string => {
      const x = boot("x86-64").m;
      swiotlbAllocSlots(x, addDevice(x, { name: "nic", dmaMask: 32 }), o, 3000);
      return x.stateDigest();
    };
    expect(orig(0x1234_0000)).not.toBe(orig(0x1234_1000));
    expect(orig(0x1234_0000)).toBe(orig(0x1234_0000));
  });

  it("allocations, frees and page orders", () => {
    const { m } = boot("x86-64");
    let page = allocPages(m, 0, GFP_KERNEL)!;
    expect(changes(m, () => (page = allocPages(m, 1, GFP_KERNEL)!))).toBe(true);
    expect(changes(m, () => freePages(m, page, 1))).toBe(true);
    const p = m.pageAlloc.page(page.pfn + 100);
    expect(changes(m, () => (p.order = 3))).toBe(true);
    expect(changes(m, () => (p.order = 0))).toBe(true);
    // a running hash of events: the same allocations agree in the same order, not in another
    const after = (orders: number[]): string => {
      const x = boot("x86-64").m;
      orders.forEach((o) => allocPages(x, o, GFP_KERNEL));
      return x.stateDigest();
    };
    expect(after([0, 3])).toBe(after([0, 3]));
    expect(after([0, 3])).not.toBe(after([3, 0]));
  });

  it("vmap areas, devices and address-space ids", () => {
    const { k, m } = boot("parisc-vivt");
    const pfn = m.config.ramBase / PAGE_SIZE + 20;
    let area = 0;
    expect(changes(m, () => (area = vmap(m, [pfn, pfn + 1])!))).toBe(true);
    expect(changes(m, () => vunmap(m, area))).toBe(true);
    expect(changes(m, () => addDevice(m, { name: "d", coherent: true }))).toBe(true);
    const proc = k.vfs.createProcess("app");
    expect(changes(m, () => m.asids.set(proc.mm, 1))).toBe(true);
  });
});

describe("machine state digest: other layers holding hardware objects", () => {
  it("Machine, Device, IommuDomain, Page, VmArea, the pool and the stores print as tags", () => {
    const { m } = boot("x86-64");
    const dev = addDevice(m, { name: "gpu", dmaMask: 64 });
    const dom = iommuDomainAlloc(m);
    const page = allocPages(m, 2, GFP_KERNEL)!;
    cpuRead(m, pageAddress(m, page), 1);
    const held = {
      m,
      dev,
      dom,
      page,
      pool: m.swiotlb,
      cache: m.cache,
      cachePage: m.cache.allPages()[0],
      memory: m.memory,
      checker: m.checker,
      alloc: m.pageAlloc,
      zone: m.pageAlloc.zones[0],
      area: m.vmalloc.areas[0] ?? null,
    };
    const text = digestValue(held);
    expect(text.length).toBeLessThan(400);
    expect(text).toContain("dev:gpu");
    expect(text).toContain(`iommu${dom.id}`);
    expect(text).toContain(`pg${page.pfn}/2`);
  });

  it("the kernel digest sees a held device's state through the machine's digest", () => {
    const { k, m } = boot("x86-64");
    const dev = addDevice(m, { name: "gpu", dmaMask: 64 });
    k.addStateDigest("holder", () => ({ dev }));
    const before = k.stateDigest();
    iommuAttachDevice(iommuDomainAlloc(m), dev);
    expect(k.stateDigest()).not.toBe(before);
  });
});

describe("machine state digest: cost", () => {
  /** Words fed to the hasher by one digest (a cost measure that does not depend on timing). */
  function wordsHashed(m: Machine): number {
    const word = vi.spyOn(Hasher.prototype, "word");
    const words = vi.spyOn(Hasher.prototype, "words");
    m.stateDigest();
    const n = word.mock.calls.length + words.mock.calls.reduce((s, c) => s + c[2], 0);
    word.mockRestore();
    words.mockRestore();
    return n;
  }

  it("does not grow with RAM size, and only rehashes pages written since the last digest", () => {
    const small = boot("x86-64", { ramSize: 1024 * MiB }).m;
    const big = boot("x86-64", { ramSize: 8192 * MiB }).m;
    const fresh = wordsHashed(small);
    expect(wordsHashed(big)).toBe(fresh);
    expect(fresh).toBeLessThan(200);
    // 1 MiB of device writes of varied bytes (no cache lines): the next digest hashes it once,
    // then not again
    const dev = addDevice(big, { name: "dma", coherent: true, dmaMask: 64 });
    deviceWrite(
      dev,
      5 * 1024 * MiB,
      Uint8Array.from({ length: MiB }, (_, i) => i & 0xff),
    );
    const first = wordsHashed(big);
    expect(first).toBeGreaterThan(2 * (MiB / 4)); // memory and ideal memory
    const again = wordsHashed(big);
    expect(again).toBeLessThan(300);
    // 1 MiB of one byte value is one run in memory and in the ideal memory: nothing to rehash
    deviceWrite(dev, 6 * 1024 * MiB, new Uint8Array(MiB).fill(1));
    expect(wordsHashed(big)).toBeLessThan(300);
  });

  it("grows with the cached lines", () => {
    const { m } = boot("arm64-soc", { cachePolicy: { name: "none" } });
    const base = wordsHashed(m);
    for (let i = 0; i < 100; i++) {
      cpuRead(m, va(m, i * 3, (i % 64) * 64), 1);
    }
    const lines = wordsHashed(m) - base;
    expect(lines).toBeGreaterThan(100 * 16);
    expect(lines).toBeLessThan(100 * (16 + 12));
  });
});

describe("hash helpers", () => {
  it("HashedMap keeps an order-independent hash through set, overwrite, delete and clear", () => {
    const elem = (k: number, v: number) => new Hasher().num(k).num(v).done();
    const a = new HashedMap<number>(elem);
    const b = new HashedMap<number>(elem);
    const empty = a.contentHash;
    a.set(1, 10).set(2, 20);
    b.set(2, 20).set(1, 11).set(1, 10);
    expect(a.contentHash).toEqual(b.contentHash);
    expect(a.delete(3)).toBe(false);
    a.delete(1);
    expect(a.contentHash).not.toEqual(b.contentHash);
    b.clear();
    b.set(2, 20);
    expect(a.contentHash).toEqual(b.contentHash);
    a.clear();
    expect(a.contentHash).toEqual(empty);
  });

  it("PageHashes counts a page of zeroes as absent and rehashes touched chunks only", () => {
    const store = new Map<number, Uint32Array>();
    const locate = (pfn: number) => {
      const w = store.get(pfn);
      return w ? { words: w, from: 0 } : null;
    };
    const hashes = new PageHashes(32, locate); // two 64-byte chunks per page
    const none = hashes.digest();
    store.set(1, new Uint32Array(32));
    hashes.touch(1, 0, 128);
    expect(hashes.digest()).toEqual(none);
    store.get(1)![2] = 7;
    expect(hashes.digest()).toEqual(none); // not touched: not rehashed
    hashes.touch(1, 8, 4);
    const one = hashes.digest();
    expect(one).not.toEqual(none);
    store.get(1)![20] = 9; // in the second chunk
    hashes.touch(1, 0, 64); // the first chunk only
    expect(hashes.digest()).toEqual(one);
    hashes.touch(1, 80, 4);
    const two = hashes.digest();
    expect(two).not.toEqual(one);
    store.set(2, new Uint32Array(32));
    store.get(2)![2] = 7;
    store.get(2)![20] = 9;
    hashes.touch(2, 0, 128);
    expect(hashes.digest()).not.toEqual(two); // same bytes at another pfn
    // the same contents reached another way hash the same
    const other = new PageHashes(32, locate);
    other.touch(2, 0, 128);
    other.touch(1, 0, 128);
    expect(other.digest()).toEqual(hashes.digest());
    // back to zeroes: absent again
    store.get(1)!.fill(0);
    store.get(2)!.fill(0);
    hashes.touch(1, 0, 128);
    hashes.touch(2, 0, 128);
    expect(hashes.digest()).toEqual(none);
  });

  it("Hasher separates numbers above 32 bits and negative markers", () => {
    const h = (x: number): string => new Hasher().num(x).hex();
    expect(h(2 ** 32)).not.toBe(h(0));
    expect(h(-1)).not.toBe(h(2 ** 32 - 1));
    expect(new Hasher().str("ab").hex()).not.toBe(new Hasher().str("ba").hex());
  });
});
