import { describe, expect, it } from "vitest";
import { PAGE_SIZE, msleep } from "@dmasim/kernel";
import { dmaResvLock, dmaResvUnlock } from "@dmasim/dma-resv";
import { addDevice } from "@dmasim/hardware";
import {
  gpuBoCreate,
  gpuBoEvict,
  gpuBoExport,
  gpuBoPut,
  gpuImport,
  gpuImportRelease,
  gpuJobRun,
  gpuProbe,
  gpuRingFlush,
  gpuSubmit,
} from "../src/index";
import { dmaBufPut } from "@dmasim/dma-buf";
import { allFindings, fill, kinds, machine } from "./helpers";

async function twoGpus(version: string, options: Record<string, boolean>, platform: string) {
  const { kernel, m } = machine(version, options, platform);
  const g0 = gpuProbe(kernel, addDevice(m, { name: "gpu0", dmaMask: 64 }), { vramPages: 4 });
  const g1 = gpuProbe(kernel, addDevice(m, { name: "gpu1", dmaMask: 64 }));
  return { kernel, m, g0, g1 };
}

describe("gpu: exporter and dynamic importer", () => {
  for (const platform of ["x86-64", "arm64-soc"]) {
    it(`${platform}: a VRAM BO shared peer-to-peer, evicted, read again: the data follows, no finding`, async () => {
      const { kernel, g0, g1 } = await twoGpus("latest", {}, platform);
      const bo = await gpuBoCreate(g0, 2 * PAGE_SIZE, { placement: "vram" });
      const buf = gpuBoExport(bo);
      const w = await gpuSubmit(g0, { dst: bo, data: fill(0x42) });
      const imp = await gpuImport(g1, buf);
      const r1 = await gpuSubmit(g1, { src: imp, len: 4 });
      await gpuJobRun(r1); // runs the write first (its WRITE fence is a dependency)
      expect(w.executed).toBe(true);
      expect([...r1.result!]).toEqual([0x42, 0x42, 0x42, 0x42]);
      const move = await gpuBoEvict(bo);
      expect(bo.placement).toBe("system");
      expect(imp.notified).toBe(1);
      const r2 = await gpuSubmit(g1, { src: imp, len: 4 });
      await gpuJobRun(r2);
      expect(move!.executed).toBe(true);
      expect([...r2.result!]).toEqual([0x42, 0x42, 0x42, 0x42]);
      await gpuImportRelease(imp);
      dmaBufPut(buf);
      gpuBoPut(bo);
      await gpuRingFlush(g0);
      expect(allFindings(kernel)).toEqual([]);
    });
  }
});

/** gpu0 exports a VRAM BO holding 0x42; gpu1 imports and reads it; gpu0 evicts it; gpu1 reads again. */
async function evictWhileImported(options: Record<string, boolean>, version = "latest") {
  const { kernel, g0, g1 } = await twoGpus(version, options, "x86-64");
  const bo = await gpuBoCreate(g0, PAGE_SIZE, { placement: "vram" });
  const buf = gpuBoExport(bo);
  await gpuRingFlush(g0);
  await gpuJobRun(await gpuSubmit(g0, { dst: bo, data: fill(0x42) }));
  const imp = await gpuImport(g1, buf);
  await gpuJobRun(await gpuSubmit(g1, { src: imp, len: 1 }));
  await gpuBoEvict(bo);
  const again = await gpuSubmit(g1, { src: imp, len: 1 });
  await gpuJobRun(again);
  await gpuRingFlush(g0);
  return { kernel, seen: again.result![0], findings: kinds(kernel.findings) };
}

describe("gpu: the importer's bugs", () => {
  it("H15 gpu-importer-ignores-move-notify: the next job DMAs to the VRAM the move freed", async () => {
    const r = await evictWhileImported({ "gpu-importer-ignores-move-notify": true });
    expect(r.findings).toContain("use-after-free/dma-read-free-page");
  });

  it("H14 gpu-importer-skips-kernel-fences: the job reads the new pages before the copy lands", async () => {
    const r = await evictWhileImported({ "gpu-importer-skips-kernel-fences": true });
    expect(r.seen).toBe(0); // not 0x42: the copy engine had not run
    expect(r.findings).toEqual([]); // no checker finding: the wrong data is only in the value
  });

  it("fixes: honouring move_notify and the KERNEL fences reads 0x42 with no finding", async () => {
    const r = await evictWhileImported({});
    expect(r.seen).toBe(0x42);
    expect(r.findings).toEqual([]);
  });

  it("6.12 without CONFIG_DMABUF_MOVE_NOTIFY the core pins at map: eviction is refused (EBUSY)", async () => {
    const { g0, g1 } = await twoGpus("6.12", {}, "x86-64");
    const bo = await gpuBoCreate(g0, PAGE_SIZE, { placement: "vram" });
    const imp = await gpuImport(g1, gpuBoExport(bo));
    await gpuSubmit(g1, { src: imp, len: 1 });
    await expect(gpuBoEvict(bo)).rejects.toMatchObject({ code: "EBUSY" });
  });

  it("H13 gpu-importer-maps-unlocked: lockdep reports the map without the reservation lock (6.2+)", async () => {
    const { kernel, g0, g1 } = await twoGpus(
      "6.12",
      { "gpu-importer-maps-unlocked": true },
      "x86-64",
    );
    const bo = await gpuBoCreate(g0, PAGE_SIZE);
    const imp = await gpuImport(g1, gpuBoExport(bo));
    await gpuSubmit(g1, { src: imp, len: 1 });
    expect(kinds(kernel.findings)).toContain("lockdep/assert-held");
  });

  it("H13 with lockdep off: a move between the unlocked map and the submit leaves the job on freed pages", async () => {
    const { kernel, g0, g1 } = await twoGpus(
      "6.12",
      {
        "gpu-importer-maps-unlocked": true,
        CONFIG_PROVE_LOCKING: false,
        CONFIG_DMABUF_MOVE_NOTIFY: true,
      },
      "x86-64",
    );
    const bo = await gpuBoCreate(g0, PAGE_SIZE, { placement: "vram" });
    const imp = await gpuImport(g1, gpuBoExport(bo));
    let job: Awaited<ReturnType<typeof gpuSubmit>> | null = null;
    await kernel.run({
      evictor: async () => {
        await dmaResvLock(bo.resv, null); // busy with the BO while the importer maps
        await msleep(kernel, 2);
        dmaResvUnlock(bo.resv);
        await gpuBoEvict(bo); // moves before the importer gets the lock
      },
      importer: async () => {
        await msleep(kernel, 1);
        job = await gpuSubmit(g1, { src: imp, len: 1 }); // maps unlocked, then waits for the lock
      },
    });
    await gpuJobRun(job!);
    expect(kinds(kernel.findings)).toContain("use-after-free/dma-read-free-page");
  });
});

describe("gpu: VRAM pressure", () => {
  it("a BO that does not fit evicts the least recently used unpinned one; pinned ones stay", async () => {
    const { g0 } = await twoGpus("latest", {}, "x86-64");
    const a = await gpuBoCreate(g0, 2 * PAGE_SIZE, { placement: "vram" });
    const b = await gpuBoCreate(g0, 2 * PAGE_SIZE, { placement: "vram" });
    await gpuBoCreate(g0, 2 * PAGE_SIZE, { placement: "vram" });
    expect([a.placement, b.placement]).toEqual(["system", "vram"]);
    expect(g0.vramUsed).toBe(4);
    await expect(gpuBoCreate(g0, 8 * PAGE_SIZE, { placement: "vram" })).rejects.toMatchObject({
      code: "ENOMEM",
    });
  });

  it("rejects a size that is not a multiple of the page size", async () => {
    const { g0 } = await twoGpus("latest", {}, "x86-64");
    await expect(gpuBoCreate(g0, 100)).rejects.toMatchObject({ code: "EINVAL" });
    await expect(gpuSubmit(g0, {})).rejects.toMatchObject({ code: "EINVAL" });
  });
});
