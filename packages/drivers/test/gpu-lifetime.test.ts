/**
 * GPU buffer lifetimes (issue 20): a job holds what it uses; the last reference to a BO whose
 * reservation object still has unsignaled fences puts it on TTM's delayed-destroy list (6.12
 * ttm_bo_release()); an idle BO is freed at once; the end-of-run check says what is still pending.
 */
import { describe, expect, it } from "vitest";
import { PAGE_SIZE, spinLockInit } from "@dmasim/kernel";
import { addDevice } from "@dmasim/hardware";
import { DMA_FROM_DEVICE } from "@dmasim/dma-mapping";
import {
  DMA_RESV_USAGE_WRITE,
  dmaFenceContextAlloc,
  dmaFenceInit,
  dmaFenceSignal,
  dmaResvAddFence,
  dmaResvLock,
  dmaResvReserveFences,
  dmaResvUnlock,
} from "@dmasim/dma-resv";
import { dmaBufBeginCpuAccess, dmaBufEndCpuAccess, dmaBufPut } from "@dmasim/dma-buf";
import {
  driversCheckLeaks,
  gpuBoCreate,
  gpuBoEvict,
  gpuBoExport,
  gpuBoPin,
  gpuBoPut,
  gpuBoWaitIdle,
  gpuImport,
  gpuImportRelease,
  gpuJobRun,
  gpuProbe,
  gpuRingFlush,
  gpuSubmit,
} from "../src/index";
import { endOfRun, fill, kinds, machine, pageFree } from "./helpers";

function oneGpu(version = "6.12", options: Record<string, boolean> = {}) {
  const { kernel, m } = machine(version, options);
  const gpu = gpuProbe(kernel, addDevice(m, { name: "gpu0", dmaMask: 40 }), { vramPages: 4 });
  return { kernel, m, gpu };
}

/** Issue 20's minimal case: fill src, copy src -> dst, put src, wait for dst. */
async function putWhileCopying(options: Record<string, boolean>) {
  const { kernel, m, gpu } = oneGpu("6.12", options);
  const src = await gpuBoCreate(gpu, PAGE_SIZE);
  const dst = await gpuBoCreate(gpu, PAGE_SIZE);
  await gpuSubmit(gpu, { dst: src, data: fill(0x5a, PAGE_SIZE) });
  const copy = await gpuSubmit(gpu, { src, dst, len: PAGE_SIZE });
  const pfn = src.backing.pages[0]!.pfn;
  gpuBoPut(src);
  const afterPut = { freed: src.freed, pageFree: pageFree(m, pfn), refs: src.refs };
  await gpuBoWaitIdle(dst);
  const check = await gpuSubmit(gpu, { src: dst, len: 2 });
  await gpuJobRun(check);
  const afterWait = { copied: copy.executed, freed: src.freed, pageFree: pageFree(m, pfn) };
  gpuBoPut(dst);
  return { afterPut, afterWait, seen: [...check.result!], findings: await endOfRun(kernel) };
}

describe("gpu: a job holds the BOs it uses (drm_sched free_job)", () => {
  it("busy: src put while the fill and the copy are queued stays allocated (2 job references) and is freed once the copy ran", async () => {
    const r = await putWhileCopying({});
    expect(r.afterPut).toEqual({ freed: false, pageFree: false, refs: 2 });
    expect(r.afterWait).toEqual({ copied: true, freed: true, pageFree: true });
    expect(r.seen).toEqual([0x5a, 0x5a]);
    expect(r.findings).toEqual([]);
  });

  it("idle: a BO whose jobs all ran is freed at its last put", async () => {
    const { kernel, m, gpu } = oneGpu();
    const bo = await gpuBoCreate(gpu, 2 * PAGE_SIZE);
    await gpuJobRun(await gpuSubmit(gpu, { dst: bo, data: fill(1) }));
    const pfns = bo.backing.pages.map((p) => p.pfn);
    gpuBoPut(bo);
    expect(bo.freed).toBe(true);
    expect(pfns.every((pfn) => pageFree(m, pfn))).toBe(true);
    expect(gpu.ddestroy).toEqual([]);
    expect(await endOfRun(kernel)).toEqual([]);
  });

  it("gpu-frees-busy-bo: the BO goes at once; the fill writes and the copy reads freed pages", async () => {
    const r = await putWhileCopying({ "gpu-frees-busy-bo": true });
    expect(r.afterPut).toEqual({ freed: true, pageFree: true, refs: 0 });
    expect(r.findings).toEqual([
      "use-after-free/dma-write-free-page",
      "use-after-free/dma-read-free-page",
    ]);
  });

  it("a BO reference dropped once more than taken is a use-after-free (gpu-bo-put)", async () => {
    const { kernel, gpu } = oneGpu();
    const bo = await gpuBoCreate(gpu, PAGE_SIZE);
    gpuBoPut(bo);
    gpuBoPut(bo);
    expect(kinds(kernel.findings)).toEqual(["use-after-free/gpu-bo-put"]);
  });
});

describe("gpu: TTM's delayed destroy (ttm_bo_release() of 6.12)", () => {
  it("busy: a BO put while its eviction copy is queued waits on the delayed-destroy list; the copy frees both placements", async () => {
    const { kernel, m, gpu } = oneGpu("latest");
    const bo = await gpuBoCreate(gpu, PAGE_SIZE, { placement: "vram" });
    await gpuJobRun(await gpuSubmit(gpu, { dst: bo, data: fill(7) }));
    const move = await gpuBoEvict(bo); // the copy is a job behind a KERNEL fence; no BO reference
    const vramPfn = move!.work.src![0]!.addr / PAGE_SIZE;
    const sysPfn = bo.backing.pages[0]!.pfn;
    gpuBoPut(bo);
    expect(bo.deleted?.fences).toContain(move!.fence);
    expect(gpu.ddestroy).toEqual([bo]);
    expect([pageFree(m, vramPfn), pageFree(m, sysPfn), bo.freed]).toEqual([false, false, false]);
    await gpuJobRun(move!); // copies into the system pages (still allocated), then signals
    expect(gpu.ddestroy).toEqual([]);
    expect([pageFree(m, vramPfn), pageFree(m, sysPfn), bo.freed]).toEqual([true, true, true]);
    expect(await endOfRun(kernel)).toEqual([]);
  });

  it("a fence that never signals keeps the BO: the end-of-run check reports gpu-bo-delayed-destroy, not a handle leak; signalling it frees the BO", async () => {
    const { kernel, m, gpu } = oneGpu();
    const bo = await gpuBoCreate(gpu, PAGE_SIZE);
    const pfn = bo.backing.pages[0]!.pfn;
    const fence = dmaFenceInit(
      kernel,
      { getDriverName: () => "other", getTimelineName: () => "engine" },
      spinLockInit(kernel, "other.lock", "other_lock"),
      dmaFenceContextAlloc(kernel, 1),
      1,
    );
    await dmaResvLock(bo.resv, null);
    dmaResvReserveFences(bo.resv, 1);
    dmaResvAddFence(bo.resv, fence, DMA_RESV_USAGE_WRITE);
    dmaResvUnlock(bo.resv);
    gpuBoPut(bo);
    const leaks = await driversCheckLeaks(kernel);
    expect(kinds(leaks)).toEqual(["leak/gpu-bo-delayed-destroy"]);
    expect(leaks[0]!.summary).toContain(`fence ${fence.context}:1 (other engine) never signaled`);
    expect(pageFree(m, pfn)).toBe(false);
    dmaFenceSignal(fence);
    expect([bo.freed, pageFree(m, pfn)]).toEqual([true, true]);
    expect(kinds(await driversCheckLeaks(kernel))).toEqual([]);
  });

  it("a BO released while pinned: WARN_ON_ONCE in ttm_bo_release", async () => {
    const { kernel, gpu } = oneGpu();
    const bo = await gpuBoCreate(gpu, PAGE_SIZE);
    await dmaResvLock(bo.resv, null);
    await gpuBoPin(bo, false);
    dmaResvUnlock(bo.resv);
    gpuBoPut(bo);
    expect(kinds(kernel.findings)).toEqual(["warn/drivers/gpu/drm/ttm/ttm_bo.c:ttm_bo_release"]);
  });
});

describe("gpu: an import is kept by the jobs that use it", () => {
  async function twoGpus(version = "latest") {
    const { kernel, m } = machine(version);
    const g0 = gpuProbe(kernel, addDevice(m, { name: "gpu0", dmaMask: 64 }), { vramPages: 4 });
    const g1 = gpuProbe(kernel, addDevice(m, { name: "gpu1", dmaMask: 64 }));
    return { kernel, m, g0, g1 };
  }

  it("busy: import, dma-buf and BO all put while gpu1's read is queued: the mapping and the buffer stay until it ran", async () => {
    const { kernel, g0, g1 } = await twoGpus();
    const bo = await gpuBoCreate(g0, PAGE_SIZE);
    const buf = gpuBoExport(bo);
    await gpuJobRun(await gpuSubmit(g0, { dst: bo, data: fill(0x42) }));
    const imp = await gpuImport(g1, buf);
    const read = await gpuSubmit(g1, { src: imp, len: 2 });
    await gpuImportRelease(imp);
    dmaBufPut(buf);
    gpuBoPut(bo);
    expect([buf.attachments.length, buf.released, bo.freed]).toEqual([1, false, false]);
    await gpuJobRun(read);
    expect([...read.result!]).toEqual([0x42, 0x42]);
    expect([buf.attachments.length, buf.released, bo.freed]).toEqual([0, true, true]);
    expect(await endOfRun(kernel)).toEqual([]);
  });

  it("idle: releasing an import no job uses unmaps and detaches at once", async () => {
    const { kernel, g0, g1 } = await twoGpus();
    const bo = await gpuBoCreate(g0, PAGE_SIZE);
    const buf = gpuBoExport(bo);
    const imp = await gpuImport(g1, buf);
    await gpuJobRun(await gpuSubmit(g1, { src: imp, len: 1 }));
    await gpuImportRelease(imp);
    expect(buf.attachments.length).toBe(0);
    dmaBufPut(buf);
    gpuBoPut(bo);
    expect(await endOfRun(kernel)).toEqual([]);
  });

  it("a job freed under a reservation lock (run from the exporter's move wait) leaves the import to the next GPU call; no lockdep finding", async () => {
    const { kernel, g0, g1 } = await twoGpus();
    const bo = await gpuBoCreate(g0, PAGE_SIZE, { placement: "vram" });
    const buf = gpuBoExport(bo);
    const imp = await gpuImport(g1, buf);
    const read = await gpuSubmit(g1, { src: imp, len: 1 }); // a READ fence: begin_cpu_access(FROM_DEVICE) does not wait for it
    await gpuImportRelease(imp);
    await dmaBufBeginCpuAccess(buf, DMA_FROM_DEVICE); // locks, moves to system, waits for the move (which runs the read)
    expect(read.executed).toBe(true);
    expect(g1.retiring).toEqual([read]);
    expect(buf.attachments.length).toBe(1);
    await dmaBufEndCpuAccess(buf, DMA_FROM_DEVICE);
    await gpuRingFlush(g1);
    expect(g1.retiring).toEqual([]);
    expect(buf.attachments.length).toBe(0);
    dmaBufPut(buf);
    gpuBoPut(bo);
    expect(await endOfRun(kernel)).toEqual([]);
  });

  it("an import released twice: use-after-free (gpu-import-put), nothing else touched", async () => {
    const { kernel, g0, g1 } = await twoGpus();
    const bo = await gpuBoCreate(g0, PAGE_SIZE);
    const buf = gpuBoExport(bo);
    const imp = await gpuImport(g1, buf);
    await gpuImportRelease(imp);
    await gpuImportRelease(imp);
    dmaBufPut(buf);
    gpuBoPut(bo);
    expect(await endOfRun(kernel)).toEqual(["use-after-free/gpu-import-put"]);
  });
});

describe("gpu: the end-of-run check", () => {
  it("a BO never put is a gpu-bo-leak (and dma-debug's mapping leak); an exported one is left to the dma-buf check", async () => {
    const { kernel, gpu } = oneGpu();
    await gpuBoCreate(gpu, PAGE_SIZE);
    const shared = await gpuBoCreate(gpu, PAGE_SIZE);
    gpuBoExport(shared);
    gpuBoPut(shared); // only the (leaked) dma-buf holds it now
    const found = await endOfRun(kernel);
    expect(found.sort()).toEqual([
      "leak/dma-buf-leak",
      "leak/dma-mapping-leak",
      "leak/gpu-bo-leak",
    ]);
    expect(kernel.findings.find((f) => f.code === "gpu-bo-leak")!.summary).toMatch(
      /gpu0 BO of 4096 bytes \(system, created at step 0\) still has 1 handle reference/,
    );
  });

  it("a job that never ran is reported with what it holds; its BO is not reported as a handle leak", async () => {
    const { kernel, gpu } = oneGpu();
    const bo = await gpuBoCreate(gpu, PAGE_SIZE);
    await gpuSubmit(gpu, { dst: bo, data: fill(3) });
    gpuBoPut(bo);
    const leaks = await driversCheckLeaks(kernel);
    expect(kinds(leaks)).toEqual(["leak/gpu-job-pending"]);
    expect(leaks[0]!.summary).toMatch(
      /write job \(seqno 1, .*\) never ran; it still holds gpu0 BO/,
    );
  });
});

describe("gpu: handles that are gone", () => {
  it("a released BO or import can no longer be named: ENOENT, as the handle lookup fails", async () => {
    const { kernel, m } = machine("latest");
    const g0 = gpuProbe(kernel, addDevice(m, { name: "gpu0", dmaMask: 64 }));
    const g1 = gpuProbe(kernel, addDevice(m, { name: "gpu1", dmaMask: 64 }));
    const gone = await gpuBoCreate(g0, PAGE_SIZE);
    gpuBoPut(gone);
    await expect(gpuSubmit(g0, { dst: gone, data: fill(1) })).rejects.toMatchObject({
      code: "ENOENT",
    });
    await expect(gpuBoWaitIdle(gone)).rejects.toMatchObject({ code: "ENOENT" });
    await expect(gpuBoEvict(gone)).rejects.toMatchObject({ code: "ENOENT" });
    expect(() => gpuBoExport(gone)).toThrow(/ENOENT/);
    const bo = await gpuBoCreate(g0, PAGE_SIZE);
    const buf = gpuBoExport(bo);
    gpuBoPut(bo); // the dma-buf keeps it: still usable
    await gpuJobRun(await gpuSubmit(g0, { dst: bo, data: fill(2) }));
    const imp = await gpuImport(g1, buf);
    await gpuImportRelease(imp);
    await expect(gpuSubmit(g1, { src: imp, len: 1 })).rejects.toMatchObject({ code: "ENOENT" });
    dmaBufPut(buf);
    expect(await endOfRun(kernel)).toEqual([]);
  });
});
