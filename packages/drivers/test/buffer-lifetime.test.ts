/**
 * Lifetimes of the other holders of memory a device may still touch (issue 20): a camera buffer
 * queued to the device, a framebuffer on the display's plane, a dma-buf whose attachment is still
 * mapped, a udmabuf's pages, a sync_file's fence. Each rule on both sides (busy: kept; idle: freed
 * at once), and a real use after free stays a `use-after-free` finding.
 */
import { describe, expect, it } from "vitest";
import { PAGE_SIZE, krefRead, spinLockInit } from "@dmasim/kernel";
import { addDevice, deviceWrite } from "@dmasim/hardware";
import { DMA_BIDIRECTIONAL, sgDmaAddress } from "@dmasim/dma-mapping";
import {
  dmaFenceContextAlloc,
  dmaFenceGet,
  dmaFenceInit,
  dmaFencePut,
  syncFileCreate,
  syncFileInstall,
} from "@dmasim/dma-resv";
import {
  dmaBufAttach,
  dmaBufGet,
  dmaBufMapAttachmentUnlocked,
  dmaBufPut,
  getDmaBuf,
} from "@dmasim/dma-buf";
import {
  F_SEAL_SHRINK,
  MFD_ALLOW_SEALING,
  cameraCapture,
  cameraExpbuf,
  cameraProbe,
  cameraQbuf,
  cameraRelease,
  cameraReqbufs,
  displayImport,
  displayProbe,
  displayRelease,
  displayScanout,
  memfdAddSeals,
  memfdCreate,
  udmabufCreate,
} from "../src/index";
import { endOfRun, fill, kinds, machine, pageFree } from "./helpers";

describe("camera: a buffer queued to the device", () => {
  async function releaseWhileQueued(options: Record<string, boolean>) {
    const { kernel, m } = machine("6.12", options);
    const cam = cameraProbe(kernel, addDevice(m, { name: "cam", dmaMask: 32 }));
    const [queued, idle] = cameraReqbufs(cam, 2, 2 * PAGE_SIZE);
    cameraQbuf(queued!);
    const pfns = [queued!, idle!].map((b) => b.pages[0]!.pfn);
    cameraRelease(cam); // close(): vb2_core_queue_release()
    const freed = pfns.map((pfn) => pageFree(m, pfn));
    let capture = "captured";
    try {
      cameraCapture(cam, fill(0x5a, 16));
    } catch (e) {
      capture = (e as { code: string }).code;
    }
    return { freed, capture, findings: await endOfRun(kernel) };
  }

  it("released while streaming: stop_streaming stops the DMA first, both buffers freed, the next frame finds none (EAGAIN)", async () => {
    const r = await releaseWhileQueued({});
    expect(r).toEqual({ freed: [true, true], capture: "EAGAIN", findings: [] });
  });

  it("camera-stop-streaming-leaves-dma-running: the next frame is written into the freed pages", async () => {
    const r = await releaseWhileQueued({ "camera-stop-streaming-leaves-dma-running": true });
    expect(r.capture).toBe("captured");
    expect(new Set(r.findings)).toEqual(new Set(["use-after-free/dma-write-free-page"]));
  });

  it("busy: an exported buffer outlives the queue until its dma-buf is released; idle: the unexported one is freed with the queue", async () => {
    const { kernel, m } = machine("6.12");
    const cam = cameraProbe(kernel, addDevice(m, { name: "cam", dmaMask: 32 }));
    const [exported, plain] = cameraReqbufs(cam, 2, PAGE_SIZE);
    const { dmabuf } = cameraExpbuf(exported!);
    cameraRelease(cam);
    expect(pageFree(m, exported!.pages[0]!.pfn)).toBe(false);
    expect(pageFree(m, plain!.pages[0]!.pfn)).toBe(true);
    dmaBufPut(dmabuf); // vb2_dma_sg_put(): the last reference
    expect(pageFree(m, exported!.pages[0]!.pfn)).toBe(true);
    expect(await endOfRun(kernel)).toEqual([]);
  });
});

describe("display: a framebuffer being scanned out", () => {
  async function onScreen() {
    const { kernel, m } = machine("6.12");
    const cam = cameraProbe(kernel, addDevice(m, { name: "cam", dmaMask: 32 }), {
      contiguous: true,
    });
    const disp = displayProbe(kernel, addDevice(m, { name: "disp", dmaMask: 32 }));
    const [frame] = cameraReqbufs(cam, 1, 2 * PAGE_SIZE);
    const { dmabuf } = cameraExpbuf(frame!);
    const fb = await displayImport(disp, dmabuf);
    cameraQbuf(frame!);
    cameraCapture(cam, fill(0x3c, 8));
    expect([...(await displayScanout(fb, 2))]).toEqual([0x3c, 0x3c]);
    expect(disp.plane).toBe(fb);
    cameraRelease(cam);
    dmaBufPut(dmabuf); // the exporter's owner is done; the display's import still holds it
    return { kernel, m, disp, fb, dmabuf, pfn: frame!.pages[0]!.pfn };
  }

  it("busy: the buffer on the plane lives on after its exporter and owner let go; RMFB takes it off the plane, then it is freed", async () => {
    const { kernel, m, disp, fb, dmabuf, pfn } = await onScreen();
    expect([dmabuf.released, pageFree(m, pfn)]).toEqual([false, false]);
    expect([...(await displayScanout(fb, 2))]).toEqual([0x3c, 0x3c]); // still shown, no finding
    await displayRelease(fb);
    expect(disp.plane).toBe(null);
    expect([dmabuf.released, pageFree(m, pfn)]).toEqual([true, true]);
    expect(await endOfRun(kernel)).toEqual([]);
  });

  it("a reference dropped once too often (the low-level free): the exporter frees the pages the plane scans out; the next refresh reads freed memory", async () => {
    const { kernel, m, fb, dmabuf, pfn } = await onScreen();
    dmaBufPut(dmabuf); // steals the display's reference: dma_buf_release() with an attachment
    expect([dmabuf.released, pageFree(m, pfn)]).toEqual([true, true]);
    expect(kinds(kernel.findings)).toEqual(["warn/drivers/dma-buf/dma-buf.c:dma_buf_release"]);
    await displayScanout(fb, 2);
    expect(kinds(kernel.findings)).toContain("use-after-free/dma-read-free-page");
  });
});

describe("dma-buf core: an attachment that is still mapped", () => {
  async function mappedImporter(holdsReference: boolean) {
    const { kernel, m } = machine("6.12");
    const cam = cameraProbe(kernel, addDevice(m, { name: "cam", dmaMask: 32 }));
    const dev = addDevice(m, { name: "dsp", dmaMask: 32 });
    const [buf] = cameraReqbufs(cam, 1, PAGE_SIZE);
    const { dmabuf } = cameraExpbuf(buf!);
    cameraRelease(cam);
    if (holdsReference) {
      getDmaBuf(dmabuf);
    }
    const attach = await dmaBufAttach(dmabuf, dev);
    const sgt = await dmaBufMapAttachmentUnlocked(attach, DMA_BIDIRECTIONAL);
    dmaBufPut(dmabuf); // the exporter side's last reference
    const released = dmabuf.released;
    deviceWrite(dev, sgDmaAddress(sgt.sgl[0]!), fill(0x77, 4)); // the importer's device keeps going
    return { kernel, m, released, pfn: buf!.pages[0]!.pfn, findings: kinds(kernel.findings) };
  }

  it("busy: an importer that holds its reference keeps the buffer and its pages while mapped", async () => {
    const r = await mappedImporter(true);
    expect([r.released, pageFree(r.m, r.pfn), r.findings]).toEqual([false, false, []]);
  });

  it("the core keeps nothing alive for an attachment: without the importer's reference the last put releases it (WARN), and the device's DMA is a use-after-free", async () => {
    const r = await mappedImporter(false);
    expect(r.released).toBe(true);
    expect(pageFree(r.m, r.pfn)).toBe(true);
    expect(r.findings).toEqual([
      "warn/drivers/dma-buf/dma-buf.c:dma_buf_release",
      "use-after-free/dma-write-free-page",
    ]);
  });
});

describe("udmabuf: the memfd's pages", () => {
  async function udmabufOverMiddlePage() {
    const { kernel, m } = machine("6.12");
    const app = kernel.vfs.createProcess("app");
    const mfd = memfdCreate(app, "frames", 3 * PAGE_SIZE, MFD_ALLOW_SEALING);
    memfdAddSeals(app, mfd, F_SEAL_SHRINK);
    const { dmabuf, fd } = udmabufCreate(app, {
      memfd: mfd,
      flags: 0,
      offset: PAGE_SIZE,
      size: PAGE_SIZE,
    });
    const pfns = (dmabuf.priv as { memfd: { pages: { pfn: number }[] } }).memfd.pages.map(
      (p) => p.pfn,
    );
    return { kernel, m, app, mfd, fd, dmabuf, pfns };
  }

  it("busy: closing the memfd frees the pages no udmabuf holds; the udmabuf's page lives until the udmabuf is released", async () => {
    const { kernel, m, app, mfd, fd, pfns } = await udmabufOverMiddlePage();
    app.close(mfd);
    expect(pfns.map((pfn) => pageFree(m, pfn))).toEqual([true, false, true]);
    app.close(fd);
    expect(pfns.map((pfn) => pageFree(m, pfn))).toEqual([true, true, true]);
    expect(await endOfRun(kernel)).toEqual([]);
  });

  it("idle: a memfd no udmabuf uses frees every page when closed", async () => {
    const { kernel, m } = machine("6.12");
    const app = kernel.vfs.createProcess("app");
    const mfd = memfdCreate(app, "frames", 2 * PAGE_SIZE);
    const file = app.peek(mfd)!;
    const pfns = (file.privateData as { pages: { pfn: number }[] }).pages.map((p) => p.pfn);
    app.close(mfd);
    expect(pfns.map((pfn) => pageFree(m, pfn))).toEqual([true, true]);
    expect(await endOfRun(kernel)).toEqual([]);
  });

  it("a device mapped through an importer that dropped its reference writes the page udmabuf released: use-after-free", async () => {
    const { kernel, m, app, mfd, fd, dmabuf, pfns } = await udmabufOverMiddlePage();
    const dev = addDevice(m, { name: "enc", dmaMask: 64 });
    const b = dmaBufGet(app, fd);
    const attach = await dmaBufAttach(b, dev);
    const sgt = await dmaBufMapAttachmentUnlocked(attach, DMA_BIDIRECTIONAL);
    dmaBufPut(b); // the importer forgets it needs a reference
    app.close(mfd);
    app.close(fd); // the last reference: release_udmabuf() puts the page
    expect([dmabuf.released, pageFree(m, pfns[1]!)]).toEqual([true, true]);
    deviceWrite(dev, sgDmaAddress(sgt.sgl[0]!), fill(1, 4));
    expect(kinds(kernel.findings)).toEqual([
      "warn/drivers/dma-buf/dma-buf.c:dma_buf_release",
      "use-after-free/dma-write-free-page",
    ]);
  });
});

describe("sync_file: its fence", () => {
  function fenceOf(kernelArgs: ReturnType<typeof machine>) {
    const { kernel } = kernelArgs;
    return dmaFenceInit(
      kernel,
      { getDriverName: () => "test", getTimelineName: () => "ring" },
      spinLockInit(kernel, "ring.lock", "ring_lock"),
      dmaFenceContextAlloc(kernel, 1),
      1,
    );
  }

  it("busy: the sync_file keeps the fence after its creator's put; closing the file releases it; idle: with another holder it stays", async () => {
    const k = machine("6.12");
    const app = k.kernel.vfs.createProcess("app");
    const fence = fenceOf(k);
    const fd = syncFileInstall(app, syncFileCreate(fence));
    dmaFencePut(fence); // the creator's reference
    expect([krefRead(fence.refcount), fence.released]).toEqual([1, false]);
    app.close(fd); // sync_file_release(): dma_fence_put()
    expect(fence.released).toBe(true);

    const other = fenceOf(k);
    const fd2 = syncFileInstall(app, syncFileCreate(dmaFenceGet(other)));
    dmaFencePut(other);
    app.close(fd2);
    expect([krefRead(other.refcount), other.released]).toEqual([1, false]);
    dmaFencePut(other);
    expect(await endOfRun(k.kernel)).toEqual([]);
  });

  it("a fence reference dropped once too often frees the fence under the sync_file: closing it is a refcount use-after-free", async () => {
    const k = machine("6.12");
    const app = k.kernel.vfs.createProcess("app");
    const fence = fenceOf(k);
    const fd = syncFileInstall(app, syncFileCreate(fence));
    dmaFencePut(fence);
    dmaFencePut(fence); // steals the sync_file's reference
    expect(fence.released).toBe(true);
    app.close(fd);
    expect(kinds(k.kernel.findings)).toEqual(["use-after-free/refcount"]);
  });
});
