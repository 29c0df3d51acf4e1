/**
 * The seed cases of layer 4 on simulated hardware, each beside its fix: the cached sg table shared
 * by two devices (with and without an IOMMU), the dynamic-ness mismatch, and hazards H9, H10, H11,
 * H13, H14 and H15 of kernel-notes §8 (H12 and H26 are in attach-map / cpu-mmap-vmap tests).
 */
import { describe, expect, it } from "vitest";
import { Kernel, PAGE_SIZE, msleep, spinLockInit, type Finding } from "@dmasim/kernel";
import {
  addDevice,
  cachePrefetch,
  cpuRead,
  cpuWrite,
  createMachine,
  deviceRead,
  deviceWrite,
  pageAddress,
  type Device,
} from "@dmasim/hardware";
import {
  DMA_BIDIRECTIONAL,
  DMA_FROM_DEVICE,
  DMA_MAPPING_MODULE,
  DMA_TO_DEVICE,
  dmaDebugCheckLeaks,
  sgDmaAddress,
  type DmaDataDirection,
  type SgTable,
} from "@dmasim/dma-mapping";
import {
  DMA_RESV_USAGE_KERNEL,
  DMA_RESV_USAGE_WRITE,
  dmaFenceContextAlloc,
  dmaFenceInit,
  dmaFenceSignal,
  dmaResvAddFence,
  dmaResvLock,
  dmaResvReserveFences,
  dmaResvUnlock,
  dmaResvWaitTimeout,
  type DmaFence,
  type DmaResvUsage,
} from "@dmasim/dma-resv";
import {
  DMA_BUF_IOCTL_SYNC,
  DMA_BUF_MODULE,
  DMA_BUF_SYNC_READ,
  DMA_BUF_SYNC_START,
  dmaBufAttach,
  dmaBufDetach,
  dmaBufDynamicAttach,
  dmaBufExport,
  dmaBufFd,
  dmaBufMapAttachment,
  dmaBufMapAttachmentUnlocked,
  dmaBufUnmapAttachment,
  dmaBufUnmapAttachmentUnlocked,
  type DmaBuf,
  type DmaBufAttachment,
} from "../src/index";
import { SysmemBuffer } from "./sysmem-exporter";

function machine(version: string, options: Record<string, boolean> = {}, platform = "arm64-soc") {
  const kernel = new Kernel({ version, modules: [DMA_BUF_MODULE, DMA_MAPPING_MODULE], options });
  const m = createMachine(kernel, platform, { cachePolicy: { name: "none" } });
  return { kernel, m };
}

const fill = (v: number, n = 64): Uint8Array => new Uint8Array(n).fill(v);
const kinds = (fs: readonly Finding[]): string[] => fs.map((f) => `${f.kind}/${f.code}`);

/** Map the way the era allows a static importer: `_unlocked` from 6.2, unlocked before. */
async function mapU(a: DmaBufAttachment, dir: DmaDataDirection): Promise<SgTable> {
  return a.dmabuf.kernel.version.since("6.2")
    ? dmaBufMapAttachmentUnlocked(a, dir)
    : dmaBufMapAttachment(a, dir);
}

async function unmapU(a: DmaBufAttachment, s: SgTable, dir: DmaDataDirection): Promise<void> {
  return a.dmabuf.kernel.version.since("6.2")
    ? dmaBufUnmapAttachmentUnlocked(a, s, dir)
    : dmaBufUnmapAttachment(a, s, dir);
}

async function addFence(
  k: Kernel,
  b: DmaBuf,
  usage: DmaResvUsage,
  name = "gpu",
): Promise<DmaFence> {
  const f = dmaFenceInit(
    k,
    { getDriverName: () => name, getTimelineName: () => "ring" },
    spinLockInit(k, `${name}->lock`),
    dmaFenceContextAlloc(k, 1),
    1,
  );
  await dmaResvLock(b.resv, null);
  dmaResvReserveFences(b.resv, 1);
  dmaResvAddFence(b.resv, f, usage);
  dmaResvUnlock(b.resv);
  return f;
}

/**
 * Seed case 1: a non-coherent camera writes a buffer whose exporter caches its sg table and
 * unmaps; a coherent GPU maps and reads it; the CPU reads it last (relying on the unmap).
 */
async function sharedCachedTable(
  version: string,
  cacheSgt: boolean,
  iommu: boolean,
): Promise<{ findings: string[]; summaries: string[]; gpuSaw: number }> {
  const { kernel, m } = machine(version);
  const cam = addDevice(
    m,
    iommu ? { name: "cam", coherent: false, iommu: "dma" } : { name: "cam", coherent: false },
  );
  const gpu = addDevice(m, { dmaMask: 64, name: "gpu", coherent: true });
  const buf = new SysmemBuffer(kernel, 1, { cacheSgt });
  const b = buf.export();
  const va = pageAddress(m, buf.pages[0]!);
  const a1 = await dmaBufAttach(b, cam);
  const s1 = await mapU(a1, DMA_FROM_DEVICE);
  const camDma = sgDmaAddress(s1.sgl[0]!);
  cachePrefetch(m, va, 64); // the CPU speculatively loads a line while the camera owns the buffer
  deviceWrite(cam, camDma, fill(0x22));
  await unmapU(a1, s1, DMA_FROM_DEVICE); // invalidates ... unless the table is cached
  const a2 = await dmaBufAttach(b, gpu);
  const s2 = await mapU(a2, DMA_TO_DEVICE);
  const gpuSaw = deviceRead(gpu, sgDmaAddress(s2.sgl[0]!), 64)[0]!;
  await unmapU(a2, s2, DMA_TO_DEVICE);
  cpuRead(m, va, 64); // a driver that trusted the unmap for CPU coherency (H10)
  await dmaBufDetach(b, a1);
  await dmaBufDetach(b, a2);
  return {
    findings: kinds(kernel.findings),
    summaries: kernel.findings.map((f) => f.summary),
    gpuSaw,
  };
}

describe("seed 1: a cached sg table shared by a non-coherent and a coherent device", () => {
  it.each(["5.4", "6.12", "6.15"])(
    "%s with cache_sgt_mapping (up to 6.15; b72f66f22c0e dropped it for 6.16): the unmap skips the invalidate: stale-read",
    async (v) => {
      const r = await sharedCachedTable(v, true, false);
      // the coherent GPU snoops the CPU's stale line, then the CPU reads it too
      expect(r.gpuSaw).toBe(0);
      expect(r.findings).toEqual(["stale-read/stale-read", "stale-read/stale-read"]);
      expect(r.summaries[0]).toMatch(/stale read by dev:gpu/);
      expect(r.summaries[1]).toMatch(/stale read by cpu/);
    },
  );

  it.each([
    ["6.12", false],
    ["6.16", true],
    ["latest", true],
  ] as const)(
    "%s (caching requested: %s): no caching, the unmap invalidates: no finding",
    async (v, cache) => {
      const r = await sharedCachedTable(v, cache, false);
      expect(r.gpuSaw).toBe(0x22);
      expect(r.findings).toEqual([]);
    },
  );

  it("with an IOMMU, the cached mapping stays in the IOMMU after unmap: the camera still reaches the buffer (lost sandboxing)", async () => {
    const cached = await sharedCachedTable("6.12", true, true);
    expect(cached.findings.filter((f) => f.startsWith("iommu-fault"))).toEqual([]);
    const { kernel, m } = machine("6.12");
    const cam = addDevice(m, { dmaMask: 64, name: "cam", coherent: false, iommu: "dma" });
    for (const cacheSgt of [true, false]) {
      const buf = new SysmemBuffer(kernel, 1, { cacheSgt });
      const b = buf.export();
      const a = await dmaBufAttach(b, cam);
      const s = await dmaBufMapAttachmentUnlocked(a, DMA_FROM_DEVICE);
      const iova = sgDmaAddress(s.sgl[0]!);
      await dmaBufUnmapAttachmentUnlocked(a, s, DMA_FROM_DEVICE);
      const before = kernel.findings.length;
      const n = deviceWrite(cam, iova, fill(0x44, 16));
      const faults = kinds(kernel.findings.slice(before));
      if (cacheSgt) {
        expect(n).toBe(16); // still mapped: the write lands
        expect(faults).toEqual([]);
      } else {
        expect(n).toBe(0);
        expect(faults).toEqual(["iommu-fault/translation-fault"]);
      }
      await dmaBufDetach(b, a);
    }
  });
});

describe("seed 2: importer and exporter disagree on dynamic-ness (5.6-6.15)", () => {
  it("a dynamic importer of a static exporter, and the reverse: mapped and cached BIDIRECTIONAL at attach; no exporter call afterwards", async () => {
    for (const [dynImporter, dynExporter] of [
      [true, false],
      [false, true],
    ] as const) {
      const { kernel, m } = machine("6.12");
      const dev = addDevice(m, { dmaMask: 64, name: "dev", coherent: false });
      const buf = new SysmemBuffer(kernel, 2, { dynamic: dynExporter });
      const b = buf.export();
      const a = dynImporter
        ? await dmaBufDynamicAttach(b, dev, { moveNotify: () => undefined })
        : await dmaBufAttach(b, dev);
      expect(a.sgt).not.toBe(null);
      expect(a.dir).toBe(DMA_BIDIRECTIONAL);
      await dmaResvLock(b.resv, null);
      const s = await dmaBufMapAttachment(a, DMA_FROM_DEVICE);
      expect(s === a.sgt).toBe(true); // BIDIRECTIONAL serves every direction
      await dmaBufUnmapAttachment(a, s, DMA_FROM_DEVICE); // does nothing
      dmaResvUnlock(b.resv);
      await dmaBufDetach(b, a);
      expect(kinds(kernel.findings)).toEqual([]);
      expect(kinds(dmaDebugCheckLeaks(kernel))).toEqual([]);
    }
  });

  it("a table cached in one direction refuses another with EBUSY up to 6.15; 6.16 maps on demand in any direction", async () => {
    for (const v of ["6.12", "6.15", "6.16"]) {
      const { kernel, m } = machine(v);
      const dev = addDevice(m, { dmaMask: 64, name: "dev", coherent: false });
      const b = new SysmemBuffer(kernel, 1, { cacheSgt: true, freshTable: true }).export();
      const a = await dmaBufAttach(b, dev);
      const s = await dmaBufMapAttachmentUnlocked(a, DMA_TO_DEVICE);
      const other = dmaBufMapAttachmentUnlocked(a, DMA_FROM_DEVICE);
      if (v !== "6.16") {
        await expect(other).rejects.toThrow(/EBUSY/);
      } else {
        await dmaBufUnmapAttachmentUnlocked(a, await other, DMA_FROM_DEVICE);
        await dmaBufUnmapAttachmentUnlocked(a, s, DMA_TO_DEVICE);
      }
      await dmaBufDetach(b, a);
      expect(kinds(dmaDebugCheckLeaks(kernel)), v).toEqual([]);
    }
  });

  it("an exporter with both cache_sgt_mapping and pin is refused at export with EINVAL", () => {
    const { kernel } = machine("6.12");
    const buf = new SysmemBuffer(kernel, 1, { cacheSgt: true, dynamic: true });
    expect(() => dmaBufExport(kernel, { ops: buf.ops, size: PAGE_SIZE, priv: buf })).toThrow(
      /EINVAL/,
    );
  });
});

describe("H9: begin_cpu_access invalidates before it waits for the fences", () => {
  async function run(waitFirst: boolean): Promise<string[]> {
    const { kernel, m } = machine("6.12");
    const dev = addDevice(m, { dmaMask: 64, name: "dev", coherent: false });
    const buf = new SysmemBuffer(kernel, 1);
    const b = buf.export();
    const app = kernel.vfs.createProcess("app");
    const fd = dmaBufFd(b, 0, app);
    const va = pageAddress(m, buf.pages[0]!);
    const a = await dmaBufAttach(b, dev);
    const s = await dmaBufMapAttachmentUnlocked(a, DMA_FROM_DEVICE);
    const job = await addFence(kernel, b, DMA_RESV_USAGE_WRITE);
    await kernel.run({
      device: async () => {
        await msleep(kernel, 2);
        deviceWrite(dev, sgDmaAddress(s.sgl[0]!), fill(0x5a));
        dmaFenceSignal(job);
      },
      cpu: async () => {
        if (waitFirst) {
          await dmaResvWaitTimeout(b.resv, DMA_RESV_USAGE_WRITE, true, 1000);
        }
        await app.ioctl(fd, DMA_BUF_IOCTL_SYNC, { flags: DMA_BUF_SYNC_START | DMA_BUF_SYNC_READ });
        cpuRead(m, va, 64);
      },
      speculation: async () => {
        await msleep(kernel, 1);
        cachePrefetch(m, va, 64); // while the SYNC_START waits, before the device writes
      },
    });
    await dmaBufUnmapAttachmentUnlocked(a, s, DMA_FROM_DEVICE);
    return kinds(kernel.findings);
  }

  it("SYNC_START while the device still writes: the speculative refill during the wait is read: stale", async () => {
    expect(await run(false)).toEqual(["stale-read/stale-read"]);
  });

  it("fix: wait for the fences first (poll / sync_file), then SYNC_START", async () => {
    expect(await run(true)).toEqual([]);
  });
});

describe("H10: relying on unmap for cache maintenance with a cached mapping", () => {
  it("≤6.15: the CPU reads stale data after the unmap; with begin_cpu_access it does not", async () => {
    for (const bracket of [false, true]) {
      const { kernel, m } = machine("6.12");
      const dev = addDevice(m, { dmaMask: 64, name: "dev", coherent: false });
      const buf = new SysmemBuffer(kernel, 1, { cacheSgt: true });
      const b = buf.export();
      const app = kernel.vfs.createProcess("app");
      const fd = dmaBufFd(b, 0, app);
      const va = pageAddress(m, buf.pages[0]!);
      const a = await dmaBufAttach(b, dev);
      const s = await dmaBufMapAttachmentUnlocked(a, DMA_FROM_DEVICE);
      cachePrefetch(m, va, 64);
      deviceWrite(dev, sgDmaAddress(s.sgl[0]!), fill(0x66));
      await dmaBufUnmapAttachmentUnlocked(a, s, DMA_FROM_DEVICE);
      if (bracket) {
        await app.ioctl(fd, DMA_BUF_IOCTL_SYNC, { flags: DMA_BUF_SYNC_READ });
      }
      cpuRead(m, va, 64);
      expect(kinds(kernel.findings), String(bracket)).toEqual(
        bracket ? [] : ["stale-read/stale-read"],
      );
      await dmaBufDetach(b, a);
    }
  });
});

describe("H11: an exporter that returns the same sg table for repeated maps", () => {
  it("two maps without unmap (legal from 6.16): the IOVA of the first leaks and the second unmap frees what is gone; a fresh table per map is clean", async () => {
    for (const freshTable of [false, true]) {
      const { kernel, m } = machine("6.16");
      const dev = addDevice(m, { dmaMask: 64, name: "gpu", coherent: false, iommu: "dma" });
      const b = new SysmemBuffer(kernel, 2, { freshTable }).export();
      const a = await dmaBufAttach(b, dev);
      const s1 = await dmaBufMapAttachmentUnlocked(a, DMA_TO_DEVICE);
      const iova1 = sgDmaAddress(s1.sgl[0]!);
      const s2 = await dmaBufMapAttachmentUnlocked(a, DMA_TO_DEVICE);
      expect(s1 === s2).toBe(!freshTable);
      expect(sgDmaAddress(s1.sgl[0]!) === iova1).toBe(freshTable);
      await dmaBufUnmapAttachmentUnlocked(a, s1, DMA_TO_DEVICE);
      await dmaBufUnmapAttachmentUnlocked(a, s2, DMA_TO_DEVICE);
      await dmaBufDetach(b, a);
      const found = [...kinds(kernel.findings), ...kinds(dmaDebugCheckLeaks(kernel))];
      if (freshTable) {
        expect(found).toEqual([]);
      } else {
        // the second map overwrote the table's IOVA: the first range leaks, the second is freed
        // twice (the IOMMU unmaps nothing the second time)
        expect(found).toEqual([
          "warn/drivers/iommu/dma-iommu.c:__iommu_dma_unmap",
          "warn/drivers/iommu/iova.c:free_iova",
          "leak/dma-mapping-leak",
        ]);
      }
    }
  });
});

/** A dynamic importer on a coherent device that tracks move notifications. */
function importer(dev: Device) {
  const state = { invalid: false, notified: 0 };
  const ops = {
    moveNotify: () => {
      state.invalid = true;
      state.notified++;
    },
  };
  return { dev, state, ops };
}

describe("H13: a map without the reservation lock races with a move", () => {
  async function run(fixed: boolean): Promise<string[]> {
    const { kernel, m } = machine(
      "6.12",
      { CONFIG_PROVE_LOCKING: false, CONFIG_DMABUF_MOVE_NOTIFY: true },
      "x86-64",
    );
    const dev = addDevice(m, { dmaMask: 64, name: "gpu" });
    const buf = new SysmemBuffer(kernel, 1, { dynamic: true, freshTable: true, mapSleep: 2 });
    const b = buf.export();
    const imp = importer(dev);
    const a = await dmaBufDynamicAttach(b, dev, imp.ops);
    await kernel.run({
      importer: async () => {
        let s = fixed
          ? await dmaBufMapAttachmentUnlocked(a, DMA_TO_DEVICE)
          : await dmaBufMapAttachment(a, DMA_TO_DEVICE); // no resv, lockdep off: no splat
        if (fixed && imp.state.invalid) {
          await dmaBufUnmapAttachmentUnlocked(a, s, DMA_TO_DEVICE);
          s = await dmaBufMapAttachmentUnlocked(a, DMA_TO_DEVICE);
          imp.state.invalid = false;
        }
        deviceWrite(dev, sgDmaAddress(s.sgl[0]!), fill(0x77));
        if (fixed) {
          await dmaBufUnmapAttachmentUnlocked(a, s, DMA_TO_DEVICE);
        }
      },
      exporter: async () => {
        await msleep(kernel, 1);
        await buf.move(); // lock, new pages, move_notify, free the old pages
      },
    });
    return kinds(kernel.findings);
  }

  it("unlocked map: the table points at the pages the move freed: the device writes freed memory", async () => {
    expect(await run(false)).toContain("use-after-free/dma-write-free-page");
  });

  it("fix: map under the lock (_unlocked): the move waits, notifies, and the importer re-maps", async () => {
    expect(await run(true)).toEqual([]);
  });
});

describe("H14: a dynamic importer ignores the KERNEL fences of a move/clear", () => {
  async function run(waitKernel: boolean): Promise<number> {
    const { kernel, m } = machine("6.12", { CONFIG_DMABUF_MOVE_NOTIFY: true }, "x86-64");
    const gpu = addDevice(m, { dmaMask: 64, name: "gpu" });
    const buf = new SysmemBuffer(kernel, 1, { dynamic: true, freshTable: true });
    const b = buf.export();
    cpuWrite(m, pageAddress(m, buf.pages[0]!), fill(0xee)); // the previous owner's secrets
    const clear = await addFence(kernel, b, DMA_RESV_USAGE_KERNEL, "sdma");
    const a = await dmaBufDynamicAttach(b, gpu, importer(gpu).ops);
    let seen = -1;
    await kernel.run({
      copyEngine: async () => {
        await msleep(kernel, 2);
        cpuWrite(m, pageAddress(m, buf.pages[0]!), fill(0)); // the clear engine's zeroes land
        dmaFenceSignal(clear);
      },
      importer: async () => {
        await dmaResvLock(b.resv, null);
        const s = await dmaBufMapAttachment(a, DMA_FROM_DEVICE); // the core does not wait
        dmaResvUnlock(b.resv);
        if (waitKernel) {
          await dmaResvWaitTimeout(b.resv, DMA_RESV_USAGE_KERNEL, false, 1000);
        }
        seen = deviceRead(gpu, sgDmaAddress(s.sgl[0]!), 1)[0]!;
        await dmaBufUnmapAttachmentUnlocked(a, s, DMA_FROM_DEVICE);
      },
    });
    return seen;
  }

  it("the device reads the previous owner's data (an information leak)", async () => {
    expect(await run(false)).toBe(0xee);
  });

  it("fix: wait for DMA_RESV_USAGE_KERNEL before the device touches the mapping", async () => {
    expect(await run(true)).toBe(0);
  });
});

describe("H15: using a mapping after the move notification", () => {
  async function run(honour: boolean): Promise<string[]> {
    const { kernel, m } = machine("latest", {}, "x86-64");
    const dev = addDevice(m, { dmaMask: 64, name: "gpu" });
    const buf = new SysmemBuffer(kernel, 1, { dynamic: true, freshTable: true });
    const b = buf.export();
    const imp = importer(dev);
    const a = await dmaBufDynamicAttach(b, dev, imp.ops);
    await dmaResvLock(b.resv, null);
    let s = await dmaBufMapAttachment(a, DMA_TO_DEVICE);
    dmaResvUnlock(b.resv);
    deviceWrite(dev, sgDmaAddress(s.sgl[0]!), fill(1));
    await buf.move();
    expect(imp.state.notified).toBe(1);
    if (honour && imp.state.invalid) {
      await dmaResvLock(b.resv, null);
      await dmaBufUnmapAttachment(a, s, DMA_TO_DEVICE);
      s = await dmaBufMapAttachment(a, DMA_TO_DEVICE);
      dmaResvUnlock(b.resv);
    }
    deviceWrite(dev, sgDmaAddress(s.sgl[0]!), fill(2));
    return kinds(kernel.findings);
  }

  it("the next DMA with the old mapping hits memory the exporter freed", async () => {
    expect(await run(false)).toContain("use-after-free/dma-write-free-page");
  });

  it("fix: drop and re-create the mapping under the lock before the next DMA", async () => {
    expect(await run(true)).toEqual([]);
  });
});
