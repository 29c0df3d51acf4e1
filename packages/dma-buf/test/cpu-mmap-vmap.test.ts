/** §1.8–§1.10: begin/end CPU access, mmap, vmap/vunmap. */
import { describe, expect, it } from "vitest";
import {
  KernelBug,
  MAP_SHARED,
  O_RDONLY,
  PROT_READ,
  PROT_WRITE,
  isKernelError,
  msleep,
  remapPfnRange,
  spinLockInit,
  type Kernel,
  type Vma,
} from "@dmasim/kernel";
import {
  DMA_RESV_USAGE_READ,
  DMA_RESV_USAGE_WRITE,
  dmaFenceContextAlloc,
  dmaFenceInit,
  dmaFenceSignal,
  dmaResvAddFence,
  dmaResvLock,
  dmaResvReserveFences,
  dmaResvUnlock,
  type DmaFence,
  type DmaResvUsage,
} from "@dmasim/dma-resv";
import {
  dmaBufBeginCpuAccess,
  dmaBufCheckLeaks,
  dmaBufEndCpuAccess,
  dmaBufFd,
  dmaBufMmap,
  dmaBufPut,
  dmaBufVmap,
  dmaBufVmapUnlocked,
  dmaBufVunmap,
  dmaBufVunmapUnlocked,
  iosysMapInit,
  iosysMapIsNull,
  type DmaBuf,
} from "../src/index";
import { DMA_BIDIRECTIONAL, DMA_FROM_DEVICE, DMA_TO_DEVICE } from "@dmasim/dma-mapping";
import { MockExporter, codes, setup } from "./helpers";

async function addFence(k: Kernel, b: DmaBuf, usage: DmaResvUsage): Promise<DmaFence> {
  const f = dmaFenceInit(
    k,
    { getDriverName: () => "gpu", getTimelineName: () => "ring" },
    spinLockInit(k, "gpu->lock"),
    dmaFenceContextAlloc(k, 1),
    1,
  );
  await dmaResvLock(b.resv, null);
  dmaResvReserveFences(b.resv, 1);
  dmaResvAddFence(b.resv, f, usage);
  dmaResvUnlock(b.resv);
  return f;
}

async function expectErr(p: Promise<unknown>, code: string): Promise<void> {
  let err: unknown;
  try {
    await p;
  } catch (e) {
    err = e;
  }
  expect(isKernelError(err, code as never), `expected ${code}, got ${String(err)}`).toBe(true);
}

describe("begin/end_cpu_access", () => {
  it("the exporter's hook runs before the fence wait (H9's order); a CPU read waits for writers only", async () => {
    const { kernel } = setup();
    const order: string[] = [];
    const ex = new MockExporter({ beginCpuAccess: () => void order.push("exporter hook") });
    const b = ex.export(kernel);
    const rd = await addFence(kernel, b, DMA_RESV_USAGE_READ);
    const wr = await addFence(kernel, b, DMA_RESV_USAGE_WRITE);
    await kernel.run({
      cpu: async () => {
        await dmaBufBeginCpuAccess(b, DMA_FROM_DEVICE);
        order.push("read may start");
      },
      gpu: async () => {
        await msleep(kernel, 3);
        order.push("write fence signals");
        dmaFenceSignal(wr);
      },
    });
    expect(order).toEqual(["exporter hook", "write fence signals", "read may start"]);
    dmaFenceSignal(rd);
  });

  it("a CPU write (TO_DEVICE, BIDIRECTIONAL) waits for readers too", async () => {
    for (const dir of [DMA_TO_DEVICE, DMA_BIDIRECTIONAL] as const) {
      const { kernel } = setup();
      const b = new MockExporter().export(kernel);
      const rd = await addFence(kernel, b, DMA_RESV_USAGE_READ);
      const order: string[] = [];
      await kernel.run({
        cpu: async () => {
          await dmaBufBeginCpuAccess(b, dir);
          order.push("write may start");
        },
        gpu: async () => {
          await msleep(kernel, 3);
          order.push("read fence signals");
          dmaFenceSignal(rd);
        },
      });
      expect(order).toEqual(["read fence signals", "write may start"]);
    }
  });

  it("an exporter error skips the wait and is returned; end calls the hook and never waits", async () => {
    const { kernel } = setup();
    const { KernelError } = await import("@dmasim/kernel");
    const seen: string[] = [];
    const ex = new MockExporter({
      beginCpuAccess: () => {
        throw new KernelError("ERESTARTSYS", "signal");
      },
      endCpuAccess: (_b, dir) => void seen.push(`end ${dir}`),
    });
    const b = ex.export(kernel);
    const wr = await addFence(kernel, b, DMA_RESV_USAGE_WRITE);
    await expectErr(dmaBufBeginCpuAccess(b, DMA_FROM_DEVICE), "ERESTARTSYS");
    await dmaBufEndCpuAccess(b, DMA_TO_DEVICE);
    expect(seen).toEqual(["end 1"]);
    dmaFenceSignal(wr);
  });

  it("a signal during the wait is ERESTARTSYS", async () => {
    const { kernel } = setup();
    const b = new MockExporter().export(kernel);
    const wr = await addFence(kernel, b, DMA_RESV_USAGE_WRITE);
    let err: unknown;
    const t = kernel.spawn("cpu", async () => {
      await dmaBufBeginCpuAccess(b, DMA_FROM_DEVICE).catch((e: unknown) => (err = e));
    });
    kernel.spawn("killer", async () => {
      await msleep(kernel, 1);
      kernel.sched.signal(t);
    });
    await kernel.sched.join();
    expect(isKernelError(err, "ERESTARTSYS")).toBe(true);
    dmaFenceSignal(wr);
  });

  it("H12 (c): begin/end with the reservation lock held is a lockdep finding from 6.2 (might_lock)", async () => {
    for (const [v, want] of [
      ["6.12", ["lockdep/recursive-locking"]],
      ["6.1", []],
    ] as const) {
      const { kernel } = setup(v);
      const b = new MockExporter().export(kernel);
      await dmaResvLock(b.resv, null);
      await dmaBufBeginCpuAccess(b, DMA_FROM_DEVICE);
      await dmaBufEndCpuAccess(b, DMA_FROM_DEVICE);
      dmaResvUnlock(b.resv);
      expect(codes(kernel), v).toEqual(want);
    }
  });
});

function mmapOps(ex: MockExporter) {
  return {
    ...ex.ops,
    mmap: (_b: DmaBuf, vma: Vma) => {
      ex.calls.push(`mmap pgoff ${vma.pgoff} pages ${vma.pages}`);
      remapPfnRange(vma, vma.start, 0x80000 + vma.pgoff, vma.end - vma.start);
    },
  };
}

describe("mmap", () => {
  it("maps within the buffer; beyond its (rounded-down) pages is EINVAL; no ops.mmap is EINVAL", async () => {
    const { kernel } = setup();
    const ex = new MockExporter();
    const p = kernel.vfs.createProcess("app");
    const b = ex.export(kernel, mmapOps(ex), { size: 3 * 4096 + 100 });
    const fd = dmaBufFd(b, 0, p);
    const vma = await p.mmap(3 * 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    expect(vma.ptes.size).toBe(3);
    await p.mmap(4096, PROT_READ, MAP_SHARED, fd, 2 * 4096);
    await expectErr(p.mmap(4 * 4096, PROT_READ, MAP_SHARED, fd, 0), "EINVAL");
    await expectErr(p.mmap(4096, PROT_READ, MAP_SHARED, fd, 3 * 4096), "EINVAL");
    expect(ex.calls).toEqual(["mmap pgoff 0 pages 3", "mmap pgoff 2 pages 1"]);
    const c = ex.export(kernel);
    const cfd = dmaBufFd(c, 0, p);
    await expectErr(p.mmap(4096, PROT_READ, MAP_SHARED, cfd, 0), "EINVAL");
    // the VFS enforces the access mode first
    const ro = ex.export(kernel, mmapOps(ex), { flags: O_RDONLY });
    const rfd = dmaBufFd(ro, 0, p);
    await expectErr(p.mmap(4096, PROT_READ | PROT_WRITE, MAP_SHARED, rfd, 0), "EACCES");
  });

  it("dma_buf_mmap: the VMA's file becomes the buffer's, pgoff is set; EINVAL, EOVERFLOW, WARN for no vma", async () => {
    const { kernel } = setup();
    const ex = new MockExporter();
    const p = kernel.vfs.createProcess("app");
    const b = ex.export(kernel, mmapOps(ex));
    const importer = ex.export(kernel, {
      ...ex.ops,
      mmap: async (_x: DmaBuf, vma: Vma) => dmaBufMmap(b, vma, 1),
    });
    const fd = dmaBufFd(importer, 0, p);
    const vma = await p.mmap(2 * 4096, PROT_READ, MAP_SHARED, fd, 0);
    expect(vma.file).toBe(b.file);
    expect(vma.pgoff).toBe(1);
    expect(b.file?.fCount.value).toBe(2);
    expect(importer.file?.fCount.value).toBe(1);
    await expectErr(dmaBufMmap(b, vma, 3), "EINVAL");
    await expectErr(dmaBufMmap(b, vma, Number.MAX_SAFE_INTEGER), "EOVERFLOW");
    await expectErr(dmaBufMmap(ex.export(kernel), vma, 0), "EINVAL");
    await expectErr(dmaBufMmap(b, null, 0), "EINVAL");
    expect(codes(kernel)).toEqual(["warn/drivers/dma-buf/dma-buf.c:dma_buf_mmap"]);
  });

  it("≤5.10 puts the importer's file back when the exporter fails; later kernels do not", async () => {
    for (const [v, restored] of [
      ["5.10", true],
      ["6.12", false],
    ] as const) {
      const { kernel } = setup(v);
      const ex = new MockExporter();
      const p = kernel.vfs.createProcess("app");
      const { KernelError } = await import("@dmasim/kernel");
      const b = ex.export(kernel, {
        ...ex.ops,
        mmap: () => {
          throw new KernelError("ENOMEM", "no");
        },
      });
      let vma: Vma | null = null;
      const importer = ex.export(kernel, {
        ...ex.ops,
        mmap: async (_x: DmaBuf, v2: Vma) => {
          vma = v2;
          await dmaBufMmap(b, v2, 0);
        },
      });
      const fd = dmaBufFd(importer, 0, p);
      await expectErr(p.mmap(4096, PROT_READ, MAP_SHARED, fd, 0), "ENOMEM");
      expect((vma as Vma | null)?.file === importer.file, v).toBe(restored);
    }
  });
});

describe("vmap / vunmap", () => {
  it("counts: the exporter maps once and unmaps at the last vunmap (6.2+: under resv)", async () => {
    const { kernel } = setup("6.12");
    const ex = new MockExporter();
    const b = ex.export(kernel, ex.vmapOps());
    const m1 = await dmaBufVmapUnlocked(b, iosysMapInit());
    const m2 = await dmaBufVmapUnlocked(b, iosysMapInit());
    expect(m1).toEqual({ vaddr: ex.vaddr, isIomem: false });
    expect(m2).toEqual(m1);
    expect(b.vmappingCounter).toBe(2);
    expect(dmaBufCheckLeaks(kernel).map((f) => f.code)).toEqual([
      "dma-buf-leak",
      "dma-buf-vmap-leak",
    ]);
    await dmaBufVunmapUnlocked(b, m1);
    await dmaBufVunmapUnlocked(b, m2);
    expect(ex.calls).toEqual(["vmap", "vunmap"]);
    expect(iosysMapIsNull(b.vmapPtr)).toBe(true);
    await dmaResvLock(b.resv, null);
    await dmaBufVmap(b, iosysMapInit());
    dmaResvUnlock(b.resv);
    await dmaBufVmap(b, iosysMapInit());
    expect(codes(kernel).slice(-1)).toEqual(["lockdep/assert-held"]);
  });

  it("EINVAL without ops.vmap (map left null); the exporter's error WARNs once and is returned", async () => {
    const { kernel } = setup("6.12");
    const { KernelError } = await import("@dmasim/kernel");
    const ex = new MockExporter();
    const b = ex.export(kernel);
    const map = { vaddr: 5, isIomem: true };
    await expectErr(dmaBufVmapUnlocked(b, map), "EINVAL");
    expect(iosysMapIsNull(map)).toBe(true);
    const c = ex.export(kernel, {
      ...ex.ops,
      vmap: () => {
        throw new KernelError("ENOMEM", "vmalloc space");
      },
    });
    await expectErr(dmaBufVmapUnlocked(c, iosysMapInit()), "ENOMEM");
    await expectErr(dmaBufVmapUnlocked(c, iosysMapInit()), "ENOMEM");
    expect(codes(kernel)).toEqual(["warn/drivers/dma-buf/dma-buf.c:dma_buf_vmap"]);
    expect(c.vmappingCounter).toBe(0);
  });

  it("≤5.10: failures give a null map (the kernel's NULL), nothing thrown; ≤6.1 no resv rule", async () => {
    const { kernel } = setup("5.10");
    const ex = new MockExporter();
    const b = ex.export(kernel);
    expect(iosysMapIsNull(await dmaBufVmap(b, iosysMapInit()))).toBe(true);
    const c = ex.export(kernel, ex.vmapOps());
    const m = await dmaBufVmap(c, iosysMapInit());
    expect(m.vaddr).toBe(ex.vaddr);
    await dmaBufVunmap(c, m);
    expect(kernel.findings).toEqual([]);
    await expectErr(dmaBufVmapUnlocked(c, iosysMapInit()), "ENOSYS");
    await expectErr(dmaBufVunmapUnlocked(c, m), "ENOSYS");
  });

  it("H26: vunmap more often than vmap is a BUG", async () => {
    const { kernel } = setup("6.12");
    const ex = new MockExporter();
    const b = ex.export(kernel, ex.vmapOps());
    const m = await dmaBufVmapUnlocked(b, iosysMapInit());
    await dmaBufVunmapUnlocked(b, m);
    await expect(dmaBufVunmapUnlocked(b, m)).rejects.toBeInstanceOf(KernelBug);
    expect(codes(kernel)).toEqual(["bug/drivers/dma-buf/dma-buf.c:dma_buf_vunmap"]);
    expect(kernel.findings[0]?.summary).toMatch(/vmap_ptr is null/);
  });

  it("H26: vunmap with another map is a BUG", async () => {
    const { kernel } = setup("6.12");
    const ex = new MockExporter();
    const b = ex.export(kernel, ex.vmapOps());
    await dmaBufVmapUnlocked(b, iosysMapInit());
    await expect(dmaBufVunmapUnlocked(b, { vaddr: 1234, isIomem: false })).rejects.toBeInstanceOf(
      KernelBug,
    );
    expect(kernel.findings[0]?.summary).toMatch(/is not the buffer's vmap/);
  });

  it("H26: vunmap with the counter at 0 but a stale vmap_ptr is a BUG", async () => {
    const { kernel } = setup("6.12");
    const ex = new MockExporter();
    const b = ex.export(kernel, ex.vmapOps());
    b.vmapPtr.vaddr = ex.vaddr;
    await expect(
      dmaBufVunmapUnlocked(b, { vaddr: ex.vaddr, isIomem: false }),
    ).rejects.toBeInstanceOf(KernelBug);
    expect(kernel.findings[0]?.summary).toMatch(/vmapping_counter is 0/);
  });

  it("H26: the last put while vmapped is a BUG in release", async () => {
    const { kernel } = setup("6.12");
    const ex = new MockExporter();
    const b = ex.export(kernel, ex.vmapOps());
    await dmaBufVmapUnlocked(b, iosysMapInit());
    expect(() => dmaBufPut(b)).toThrow(KernelBug);
    expect(codes(kernel)).toEqual(["bug/drivers/dma-buf/dma-buf.c:dma_buf_release"]);
  });
});
