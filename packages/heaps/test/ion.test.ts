/** Legacy ION: /dev/ion, its ioctls, H24, uncached buffers and the November 2018 proposal. */
import { describe, expect, it } from "vitest";
import {
  MAP_SHARED,
  PAGE_SIZE,
  PROT_READ,
  PROT_WRITE,
  SEEK_END,
  type Process,
} from "@dmasim/kernel";
import {
  addDevice,
  cacheEvict,
  deviceRead,
  deviceWrite,
  pageAddress,
  pfnToPage,
  userRead,
  userWrite,
  type Machine,
} from "@dmasim/hardware";
import {
  DMA_BUF_CACHE_SGT_UNLESS_PIN,
  DMA_BUF_IOCTL_SYNC,
  DMA_BUF_SYNC_READ,
  DMA_BUF_SYNC_START,
  dmaBufAttach,
  dmaBufGet,
  dmaBufBeginCpuAccess,
  dmaBufDetach,
  dmaBufMapAttachment,
  dmaBufPut,
  dmaBufUnmapAttachment,
  dmaBufVmap,
  iosysMapInit,
} from "@dmasim/dma-buf";
import {
  DMA_BIDIRECTIONAL,
  DMA_FROM_DEVICE,
  DMA_TO_DEVICE,
  sgDmaAddress,
} from "@dmasim/dma-mapping";
import {
  ION_FLAG_CACHED,
  ION_HEAP_TYPE_DMA,
  ION_HEAP_TYPE_SYSTEM,
  ION_HEAP_TYPE_SYSTEM_CONTIG,
  ION_IOC_ALLOC,
  ION_IOC_HEAP_QUERY,
  ION_SYNC_MAPPED_ONLY,
  ION_UNCACHED_CLEAN_BEFORE_MAP,
  IOWR,
  ionCarveoutHeapCreate,
  type IonBuffer,
  type IonHeapData,
} from "../src/index";
import { boot, codes, errno } from "./helpers";

const SYSTEM = 1 << 0; // ids in registration order: system 0, system-contig 1, CMA 2
const CONTIG = 1 << 1;
const CMA = 1 << 2;

async function ionAlloc(app: Process, len: number, mask: number, flags: number): Promise<number> {
  const ion = await app.open("/dev/ion");
  const data = { len, heapIdMask: mask, flags, fd: 0 };
  await app.ioctl(ion, ION_IOC_ALLOC, data);
  app.close(ion);
  return data.fd;
}

describe("/dev/ion", () => {
  it("exists up to 5.10 with CONFIG_ION, and not from 5.11", () => {
    expect(boot("4.14").k.vfs.lookup("/dev/ion")).toBeDefined();
    expect(boot("5.10").k.vfs.lookup("/dev/ion")).toBeDefined();
    expect(boot("5.15").k.vfs.lookup("/dev/ion")).toBeUndefined();
    expect(boot("4.14", { CONFIG_ION: false }).k.vfs.lookup("/dev/ion")).toBeUndefined();
    expect(boot("5.15", { CONFIG_ION: true }).k.vfs.lookup("/dev/ion")).toBeUndefined();
  });

  it("HEAP_QUERY: the count, then the heaps in priority order (higher id first)", async () => {
    const { app } = boot("4.14");
    const ion = await app.open("/dev/ion");
    const count = { cnt: 0, heaps: null };
    await app.ioctl(ion, ION_IOC_HEAP_QUERY, count);
    expect(count.cnt).toBe(3);
    const list = { cnt: 8, heaps: [] as IonHeapData[] };
    await app.ioctl(ion, ION_IOC_HEAP_QUERY, list);
    expect(list.cnt).toBe(3);
    expect(list.heaps).toEqual([
      { name: "reserved", type: ION_HEAP_TYPE_DMA, heapId: 2 },
      { name: "ion_system_contig_heap", type: ION_HEAP_TYPE_SYSTEM_CONTIG, heapId: 1 },
      { name: "ion_system_heap", type: ION_HEAP_TYPE_SYSTEM, heapId: 0 },
    ]);
    const two = { cnt: 2, heaps: [] as IonHeapData[] };
    await app.ioctl(ion, ION_IOC_HEAP_QUERY, two);
    expect(two.heaps.map((h) => h.heapId)).toEqual([2, 1]);
  });

  it("ioctl errors: reserved fields, cnt 0, unknown command, oversized argument, bad pointers", async () => {
    const { app } = boot("4.14");
    const ion = await app.open("/dev/ion");
    const q = (arg: unknown, cmd = ION_IOC_HEAP_QUERY): Promise<string> =>
      errno(app.ioctl(ion, cmd, arg));
    expect(await q({ cnt: 0, heaps: null, reserved1: 1 })).toBe("EINVAL");
    expect(await q({ cnt: 0, heaps: [] })).toBe("EINVAL");
    expect(await q({}, IOWR(0x49, 5, 24))).toBe("ENOTTY");
    expect(await q({}, IOWR(0x49, 0, 64))).toBe("EINVAL");
    expect(await q(null)).toBe("EFAULT");
    expect(await q({ len: PAGE_SIZE, heapIdMask: 0, flags: 0, fd: 0 }, ION_IOC_ALLOC)).toBe(
      "ENODEV",
    );
    expect(await q({ len: 0, heapIdMask: SYSTEM, flags: 0, fd: 0 }, ION_IOC_ALLOC)).toBe("EINVAL");
    const frozen = Object.freeze({ len: PAGE_SIZE, heapIdMask: SYSTEM, flags: 0, fd: 0 });
    expect(await q(frozen, ION_IOC_ALLOC)).toBe("EFAULT");
  });

  it("ALLOC: an O_CLOEXEC dma-buf fd of the page-aligned size from the first matching heap", async () => {
    const { k, m, app } = boot("4.14");
    const fd = await ionAlloc(app, 5000, SYSTEM | CONTIG | CMA, ION_FLAG_CACHED);
    expect(app.isCloexec(fd)).toBe(true);
    expect(app.llseek(fd, 0, SEEK_END)).toBe(2 * PAGE_SIZE);
    const buf = dmaBufGet(app, fd);
    expect((buf.priv as IonBuffer).heap.name).toBe("reserved"); // highest id first
    const contig = dmaBufGet(app, await ionAlloc(app, 3 * PAGE_SIZE, CONTIG, 0));
    const cb = contig.priv as IonBuffer;
    expect(cb.sgTable!.origNents).toBe(1);
    // the sg table's "DMA addresses" are the physical addresses
    expect(cb.sgTable!.sgl[0]!.dmaAddress).toBe(cb.pfns()[0]! * PAGE_SIZE);
    expect(m.pageAlloc.isFree(cb.pfns()[2]! + 1)).toBe(true); // split_page freed the tail
    expect(codes(k.findings)).toEqual([]);
  });

  it("a carveout heap hands out its reserved region", async () => {
    const { k, app } = boot("4.14");
    const heap = ionCarveoutHeapCreate(k, 4 * 1024 * 1024);
    const fd = await ionAlloc(app, PAGE_SIZE, 1 << heap.id, 0);
    const b = dmaBufGet(app, fd).priv as IonBuffer;
    const region = heap.priv as { basePfn: number };
    expect(b.pfns()[0]).toBe(region.basePfn);
  });
});

describe("H24: ION 4.14 syncs attachments that were never mapped", () => {
  /**
   * A recycled page: the previous buffer's 0xff reached memory, the release zeroed the page
   * through the cacheable kernel mapping (dirty zero lines). The new buffer is attached to a
   * device that has not mapped it; the application starts a CPU read.
   */
  async function run(fix: boolean): Promise<{ seen: number; findings: string[] }> {
    const { k, m, app } = boot("4.14", { [ION_SYNC_MAPPED_ONLY]: fix });
    const old = await ionAlloc(app, PAGE_SIZE, SYSTEM, ION_FLAG_CACHED);
    const v1 = await app.mmap(PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, old);
    await userWrite(m, app, v1.start, new Uint8Array(PAGE_SIZE).fill(0xff));
    const pfn = v1.ptes.get(0)!.pfn;
    cacheEvict(m, pageAddress(m, pfnToPage(m, pfn)), PAGE_SIZE); // 0xff reaches memory
    await app.munmap(v1.start);
    app.close(old); // zeroed through a cacheable mapping, back to the pool
    const fd = await ionAlloc(app, PAGE_SIZE, SYSTEM, ION_FLAG_CACHED);
    const dev = addDevice(m, { name: "dev" });
    await dmaBufAttach(dmaBufGet(app, fd), dev); // attached, not mapped
    const vma = await app.mmap(PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd);
    expect(vma.ptes.get(0)!.pfn).toBe(pfn); // the recycled page
    await app.ioctl(fd, DMA_BUF_IOCTL_SYNC, { flags: DMA_BUF_SYNC_START | DMA_BUF_SYNC_READ });
    const seen = (await userRead(m, app, vma.start, 1))[0]!;
    return { seen, findings: codes(k.findings) };
  }

  it("SYNC_START syncs the unmapped attachment's copied table: its physical 'DMA addresses' are invalidated and the zeroes are lost", async () => {
    const r = await run(false);
    expect(r.seen).toBe(0xff); // the previous user's data
    expect(r.findings).toEqual(["stale-read/stale-read"]);
  });

  it("with a per-attachment dma_mapped flag nothing is synced", async () => {
    const r = await run(true);
    expect(r.seen).toBe(0);
    expect(r.findings).toEqual([]);
  });
});

describe("uncached ION buffers and the November 2018 proposal", () => {
  function linearAlias(m: Machine, pfn: number): number {
    return pageAddress(m, pfnToPage(m, pfn));
  }

  it("the hazard: a write-combine user mapping of pages whose cacheable alias holds dirty zeroes", async () => {
    const { k, m, app } = boot("4.14");
    const fd = await ionAlloc(app, PAGE_SIZE, SYSTEM, 0);
    const vma = await app.mmap(PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd);
    expect(vma.ptes.get(0)!.prot).toBe("writecombine");
    await userWrite(m, app, vma.start, new Uint8Array(64).fill(0x5a));
    cacheEvict(m, linearAlias(m, vma.ptes.get(0)!.pfn), PAGE_SIZE);
    expect((await userRead(m, app, vma.start, 1))[0]).toBe(0);
    expect(codes(k.findings)).toEqual(["clobbered-write/write-back", "stale-read/stale-read"]);
  });

  it("the fix: cached until the first dma-map cleans, then zapped and faulted back write-combine", async () => {
    const { k, m, app } = boot("4.14", { [ION_UNCACHED_CLEAN_BEFORE_MAP]: true });
    const fd = await ionAlloc(app, PAGE_SIZE, SYSTEM, 0);
    const buf = dmaBufGet(app, fd);
    const ib = buf.priv as IonBuffer;
    const vma = await app.mmap(PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd);
    expect(vma.ptes.size).toBe(0); // nothing until the first touch
    await userWrite(m, app, vma.start, new Uint8Array(64).fill(0x5a));
    expect(vma.ptes.get(0)!.prot).toBe("cacheable");
    const pfn = vma.ptes.get(0)!.pfn;
    cacheEvict(m, linearAlias(m, pfn), PAGE_SIZE); // writes back the user's data: harmless
    const dev = addDevice(m, { name: "dev" });
    const attach = await dmaBufAttach(buf, dev);
    await dmaBufMapAttachment(attach, DMA_BIDIRECTIONAL); // cleans, then zaps the user PTEs
    expect(ib.cleaned).toBe(true);
    expect(vma.ptes.size).toBe(0);
    expect(ib.faults).toBe(1);
    expect((await userRead(m, app, vma.start, 1))[0]).toBe(0x5a);
    expect(ib.faults).toBe(2); // the cost: the access faults again
    expect(vma.ptes.get(0)!.prot).toBe("writecombine");
    expect(codes(k.findings)).toEqual([]);
  });

  it("the kernel vmap of an uncached buffer stays write-combine under the draft; a held vmap is no warning at the first dma-map", async () => {
    const { k, m, app } = boot("4.14", { [ION_UNCACHED_CLEAN_BEFORE_MAP]: true });
    const buf = dmaBufGet(app, await ionAlloc(app, PAGE_SIZE, SYSTEM, 0));
    await dmaBufVmap(buf, iosysMapInit());
    expect((buf.priv as IonBuffer).vaddrProt).toBe("writecombine");
    await dmaBufMapAttachment(
      await dmaBufAttach(buf, addDevice(m, { name: "dev" })),
      DMA_BIDIRECTIONAL,
    );
    expect(codes(k.findings)).toEqual([]);
  });

  it('a buffer freed while vmapped: ion_buffer_destroy\'s pr_warn_once "buffer still mapped in the kernel" (a dmesg line, once, no WARN)', async () => {
    const { k, app } = boot("4.14");
    for (let i = 0; i < 2; i++) {
      const fd = await ionAlloc(app, PAGE_SIZE, SYSTEM, ION_FLAG_CACHED);
      const buf = dmaBufGet(app, fd);
      await dmaBufBeginCpuAccess(buf, DMA_FROM_DEVICE); // takes ION's kernel mapping
      expect((buf.priv as IonBuffer).kmapCnt).toBe(1);
      dmaBufPut(buf);
      app.close(fd); // released without the end_cpu_access that drops it
    }
    const lines = k.dmesg.records.filter((r) => /buffer still mapped in the kernel/.test(r.text));
    expect(lines.length).toBe(1);
    expect(codes(k.findings).filter((c) => c.startsWith("warn"))).toEqual([]);
  });

  it.each(["parisc-vivt", "armv7-vipt"])(
    "%s (aliasing cache): the draft passes: zap_page_range flushes the user alias (flush_cache_range) before the write-combine faults",
    async (platform) => {
      const { k, m, app } = boot("4.14", { [ION_UNCACHED_CLEAN_BEFORE_MAP]: true }, platform);
      const fd = await ionAlloc(app, PAGE_SIZE, SYSTEM, 0);
      const buf = dmaBufGet(app, fd);
      const vma = await app.mmap(PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd);
      await userWrite(m, app, vma.start, new Uint8Array(64).fill(0x5a)); // dirty in the user alias
      const dev = addDevice(m, { name: "dev" });
      const sgt = await dmaBufMapAttachment(await dmaBufAttach(buf, dev), DMA_BIDIRECTIONAL);
      expect(deviceRead(dev, sgDmaAddress(sgt.sgl[0]!), 1)[0]).toBe(0x5a);
      expect((await userRead(m, app, vma.start, 1))[0]).toBe(0x5a);
      expect(vma.ptes.get(0)!.prot).toBe("writecombine");
      expect(codes(k.findings)).toEqual([]);
    },
  );
});

describe("seed 000 (April 2019): caching every attachment's sg_table unless the exporter implements pin", () => {
  /**
   * ION (4.14/4.19) does its cache maintenance in map_dma_buf / unmap_dma_buf (dma_map_sg /
   * dma_unmap_sg on the attachment's copied table). The steps of the thread: attach a
   * non-coherent device; the CPU fills the buffer; the driver maps it TO_DEVICE and the device
   * reads; the device writes a result, the driver unmaps and maps FROM_DEVICE again, and the CPU
   * reads the result.
   */
  async function run(version: string, proposal: boolean) {
    const { k, m, app } = boot(version, { [DMA_BUF_CACHE_SGT_UNLESS_PIN]: proposal });
    const fd = await ionAlloc(app, PAGE_SIZE, SYSTEM, ION_FLAG_CACHED);
    const buf = dmaBufGet(app, fd);
    const dev = addDevice(m, { name: "dev", coherent: false });
    const a = await dmaBufAttach(buf, dev);
    const vma = await app.mmap(PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd);
    await userWrite(m, app, vma.start, new Uint8Array(64).fill(0x5a)); // dirty in the CPU cache
    const out = await dmaBufMapAttachment(a, DMA_TO_DEVICE);
    const devSaw = deviceRead(dev, sgDmaAddress(out.sgl[0]!), 64)[0];
    await dmaBufUnmapAttachment(a, out, DMA_TO_DEVICE);
    const back = await dmaBufMapAttachment(a, DMA_FROM_DEVICE);
    deviceWrite(dev, sgDmaAddress(back.sgl[0]!), new Uint8Array(64).fill(0xa5));
    await dmaBufUnmapAttachment(a, back, DMA_FROM_DEVICE);
    const cpuSaw = (await userRead(m, app, vma.start, 1))[0];
    const cached = a.sgt !== null;
    await dmaBufDetach(buf, a);
    return { devSaw, cpuSaw, cached, findings: codes(k.findings) };
  }

  it.each(["4.14", "4.19"])(
    "%s as released: every map and unmap reaches ION, which cleans and invalidates: both sides see the data",
    async (v) => {
      const r = await run(v, false);
      expect(r).toMatchObject({ devSaw: 0x5a, cpuSaw: 0xa5, cached: false });
      expect(r.findings.filter((f) => f.startsWith("stale-read"))).toEqual([]);
    },
  );

  it.each(["4.14", "4.19"])(
    "%s with the proposal: ION's table is mapped BIDIRECTIONAL at attach and cached; later maps and unmaps do no maintenance: the device and then the CPU read stale data",
    async (v) => {
      const r = await run(v, true);
      expect(r.cached).toBe(true);
      expect(r.devSaw).toBe(0); // the CPU's 0x5a is still dirty in its cache
      expect(r.findings.filter((f) => f.startsWith("stale-read")).length).toBeGreaterThanOrEqual(1);
    },
  );
});
