/** Hazards H5, H7 and H25 of kernel-notes §8 on the dma-buf heaps, each with its fix. */
import { describe, expect, it } from "vitest";
import {
  MAP_PRIVATE,
  MAP_SHARED,
  O_CLOEXEC,
  O_RDWR,
  PAGE_SIZE,
  PROT_READ,
  PROT_WRITE,
  Vma,
  type Process,
} from "@dmasim/kernel";
import {
  addDevice,
  cacheEvict,
  cpuWrite,
  deviceRead,
  pageAddress,
  pfnToPage,
  userRead,
  userWrite,
  type Machine,
} from "@dmasim/hardware";
import { DMA_TO_DEVICE, sgDmaAddress } from "@dmasim/dma-mapping";
import {
  dmaBufAttach,
  dmaBufBeginCpuAccess,
  dmaBufEndCpuAccess,
  dmaBufGet,
  dmaBufMapAttachment,
  dmaBufMapAttachmentUnlocked,
  dmaBufVmap,
  dmaBufVmapUnlocked,
  iosysMapInit,
} from "@dmasim/dma-buf";
import {
  CMA_HEAP_FAULT_OFF_BY_ONE,
  DMA_HEAP_IOCTL_ALLOC,
  HEAP_HELPERS_V6_NO_VMAP_FLUSH,
  SYSTEM_UNCACHED_NO_ALLOC_FLUSH,
  dmaHeapBufferAlloc,
  dmaHeapFind,
} from "../src/index";
import { boot, codes, errno } from "./helpers";

async function allocFd(app: Process, heap: string, len: number): Promise<number> {
  const hfd = await app.open(`/dev/dma_heap/${heap}`);
  const data = { len, fd: 0, fdFlags: O_RDWR | O_CLOEXEC };
  await app.ioctl(hfd, DMA_HEAP_IOCTL_ALLOC, data);
  app.close(hfd);
  return data.fd;
}

function linearAlias(m: Machine, vma: Vma, index = 0): number {
  return pageAddress(m, pfnToPage(m, vma.ptes.get(index)!.pfn));
}

describe("H5: allocator zeroing leaves dirty lines in uncached buffers (system-uncached)", () => {
  async function run(
    noFlush: boolean,
    coherentHeapDevice = false,
  ): Promise<{ seen: number; findings: string[] }> {
    const { k, m, app } = boot(
      "6.12",
      { CONFIG_ANDROID: true, [SYSTEM_UNCACHED_NO_ALLOC_FLUSH]: noFlush },
      "arm64-soc",
      { devicesCoherent: coherentHeapDevice },
    );
    const fd = await allocFd(app, "system-uncached", PAGE_SIZE);
    const vma = await app.mmap(PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd);
    expect(vma.ptes.get(0)!.prot).toBe("writecombine");
    await userWrite(m, app, vma.start, new Uint8Array(64).fill(0x5a)); // straight to memory
    cacheEvict(m, linearAlias(m, vma), PAGE_SIZE); // the cache evicts the kernel alias's lines
    const seen = (await userRead(m, app, vma.start, 64))[0]!;
    return { seen, findings: codes(k.findings) };
  }

  it("without the allocation-time flush a dirty zero line overwrites the user's data", async () => {
    const r = await run(true);
    expect(r.seen).toBe(0);
    expect(r.findings).toContain("clobbered-write/write-back");
    expect(r.findings).toContain("stale-read/stale-read");
  });

  it("with the map/unmap for the heap device at allocation, nothing is left to evict", async () => {
    const r = await run(false);
    expect(r.seen).toBe(0x5a);
    expect(r.findings).toEqual([]);
  });

  it("H29: a heap device wrongly described as coherent makes the flush a no-op: H5 again", async () => {
    const r = await run(false, true);
    expect(r.seen).toBe(0);
    expect(r.findings).toContain("clobbered-write/write-back");
  });

  it("devices map uncached buffers with DMA_ATTR_SKIP_CPU_SYNC and CPU access syncs nothing", async () => {
    const cacheOps = async (heap: string): Promise<number> => {
      const { k, m, app } = boot("6.12", { CONFIG_ANDROID: true });
      const fd = await allocFd(app, heap, PAGE_SIZE);
      const dev = addDevice(m, { name: "dev", dmaMask: 64 });
      const buf = dmaBufGet(app, fd);
      const attach = await dmaBufAttach(buf, dev);
      k.tracing = true;
      await dmaBufMapAttachmentUnlocked(attach, DMA_TO_DEVICE);
      await dmaBufBeginCpuAccess(buf, DMA_TO_DEVICE);
      await dmaBufEndCpuAccess(buf, DMA_TO_DEVICE);
      return k.events.filter((e) => e.cat === "cache").length;
    };
    expect(await cacheOps("system")).toBeGreaterThan(0); // map, sync for CPU, sync for device
    expect(await cacheOps("system-uncached")).toBe(0);
  });
});

describe("H7: the heap helpers' vmap alias on VIVT / aliasing VIPT caches", () => {
  async function run(platform: string, flush: boolean, version = "5.10"): Promise<string[]> {
    const opts = version === "6.12" ? {} : { [HEAP_HELPERS_V6_NO_VMAP_FLUSH]: !flush };
    const { k, m } = boot(version, opts, platform);
    const dev = addDevice(m, { name: "dev" });
    const heap = dmaHeapFind(k, "system")!;
    const buf = await dmaHeapBufferAlloc(heap, PAGE_SIZE, O_RDWR);
    const attach = await dmaBufAttach(buf, dev);
    const locking = k.version.since("6.2");
    const sgt = locking
      ? await dmaBufMapAttachmentUnlocked(attach, DMA_TO_DEVICE)
      : await dmaBufMapAttachment(attach, DMA_TO_DEVICE);
    const map = locking
      ? await dmaBufVmapUnlocked(buf, iosysMapInit())
      : await dmaBufVmap(buf, iosysMapInit());
    await dmaBufBeginCpuAccess(buf, DMA_TO_DEVICE);
    cpuWrite(m, map.vaddr!, new Uint8Array(64).fill(0x77)); // the kernel writes through the vmap
    await dmaBufEndCpuAccess(buf, DMA_TO_DEVICE);
    deviceRead(dev, sgDmaAddress(sgt.sgl[0]!), 64);
    return codes(k.findings);
  }

  it("VIVT, the v6 posting (heap-helpers-v6-no-vmap-flush): the device reads stale memory", async () => {
    expect(await run("parisc-vivt", false)).toEqual(["stale-read/stale-read"]);
  });

  it("VIVT, 5.6-5.10 as merged (default): flush_kernel_vmap_range in end_cpu_access, the device reads the CPU's data", async () => {
    expect(await run("parisc-vivt", true)).toEqual([]);
    expect(boot("5.10", {}, "parisc-vivt").k.options.enabled(HEAP_HELPERS_V6_NO_VMAP_FLUSH)).toBe(
      false,
    );
  });

  it("aliasing VIPT: the same hazard and fix", async () => {
    expect(await run("armv6-vipt-aliasing", false)).toEqual(["stale-read/stale-read"]);
    expect(await run("armv6-vipt-aliasing", true)).toEqual([]);
  });

  it("PIPT: no difference", async () => {
    expect(await run("arm64-soc", false)).toEqual([]);
    expect(await run("arm64-soc", true)).toEqual([]);
  });

  it("the 5.11+ system heap always flushes its vmap range", async () => {
    expect(await run("parisc-vivt", false, "6.12")).toEqual([]);
  });
});

describe("H25: the CMA heap's fault handler off-by-one", () => {
  /** mremap growing the VMA by one page (the VMA has no VM_DONTEXPAND). */
  function grow(app: Process, vma: Vma): Vma {
    const big = new Vma(app.mm, vma.start, vma.end + PAGE_SIZE, vma.pgoff, vma.vmFlags, vma.file);
    big.vmOps = vma.vmOps;
    big.privateData = vma.privateData;
    big.pageProt = vma.pageProt;
    vma.ptes.forEach((pte, i) => big.ptes.set(i, pte));
    app.mm.vmas.splice(app.mm.vmas.indexOf(vma), 1, big);
    return big;
  }

  async function run(offByOne: boolean): Promise<{ result: string; findings: string[] }> {
    const { k, m, app } = boot("6.12", { [CMA_HEAP_FAULT_OFF_BY_ONE]: offByOne });
    const fd = await allocFd(app, "reserved", 2 * PAGE_SIZE);
    const vma = await app.mmap(2 * PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd);
    expect(vma.ptes.size).toBe(0); // pages are inserted by the fault handler
    await userRead(m, app, vma.start, 8);
    expect(vma.ptes.size).toBe(1);
    const big = grow(app, vma);
    const result = await errno(userRead(m, app, big.start + 2 * PAGE_SIZE, 8));
    return { result, findings: codes(k.findings) };
  }

  it("before the 2024 fix, pgoff == pagecount maps a page past the buffer", async () => {
    const r = await run(true);
    expect(r.result).toBe("ok");
    expect(r.findings).toEqual(["use-after-free/slab-out-of-bounds"]);
  });

  it("with the fix the access gets SIGBUS", async () => {
    const r = await run(false);
    expect(r.result).toBe("EFAULT");
    expect(r.findings).toEqual([]);
  });

  it("private mappings are refused; buffers are physically contiguous", async () => {
    const { k, m, app } = boot("6.12");
    const fd = await allocFd(app, "reserved", 4 * PAGE_SIZE);
    expect(await errno(app.mmap(4 * PAGE_SIZE, PROT_READ, MAP_PRIVATE, fd))).toBe("EINVAL");
    const dev = addDevice(m, { name: "dev", dmaMask: 64 });
    const attach = await dmaBufAttach(dmaBufGet(app, fd), dev);
    const sgt = await dmaBufMapAttachmentUnlocked(attach, DMA_TO_DEVICE);
    expect(sgt.nents).toBe(1);
    expect(codes(k.findings)).toEqual([]);
  });
});
