import { describe, expect, it } from "vitest";
import { MAP_SHARED, PAGE_SIZE, PROT_READ, PROT_WRITE } from "@dmasim/kernel";
import { addDevice, cachePrefetch, pageAddress, userRead, userWrite } from "@dmasim/hardware";
import {
  DMA_BUF_IOCTL_SYNC,
  DMA_BUF_SYNC_END,
  DMA_BUF_SYNC_READ,
  DMA_BUF_SYNC_START,
  DMA_BUF_SYNC_WRITE,
  dmaBufPut,
} from "@dmasim/dma-buf";
import {
  cameraCapture,
  cameraDqbuf,
  cameraExpbuf,
  cameraProbe,
  cameraQbuf,
  cameraRelease,
  cameraReqbufs,
  decoderDecode,
  decoderImport,
  decoderProbe,
  decoderQbuf,
  decoderRelease,
  displayImport,
  displayProbe,
  displayRelease,
  displayScanout,
  gpuBoCreate,
  gpuBoExport,
  gpuBoPut,
  gpuProbe,
  memfdAddSeals,
  memfdCreate,
  F_SEAL_SHRINK,
  MFD_ALLOW_SEALING,
  udmabufCreate,
} from "../src/index";
import { allFindings, fill, machine } from "./helpers";

/** The camera captures a 2-page frame while the CPU holds speculative lines of both pages. */
async function capture(options: Record<string, boolean>, contiguous: boolean) {
  const { kernel, m } = machine("6.12", options);
  const cam = cameraProbe(kernel, addDevice(m, { name: "cam", dmaMask: 32 }), { contiguous });
  const [buf] = cameraReqbufs(cam, 1, 2 * PAGE_SIZE);
  const app = kernel.vfs.createProcess("app");
  const { fd } = cameraExpbuf(buf!, app);
  const vma = await app.mmap(2 * PAGE_SIZE, PROT_READ, MAP_SHARED, fd!);
  cameraQbuf(buf!);
  for (const p of buf!.pages) {
    cachePrefetch(m, pageAddress(m, p), 64); // speculation while the camera owns the buffer
  }
  cameraCapture(cam, fill(0x5a, 16));
  cameraDqbuf(cam);
  await app.ioctl(fd!, DMA_BUF_IOCTL_SYNC, { flags: DMA_BUF_SYNC_START | DMA_BUF_SYNC_READ });
  const seen = [...(await userRead(m, app, vma.start + PAGE_SIZE, 2))];
  await app.ioctl(fd!, DMA_BUF_IOCTL_SYNC, { flags: DMA_BUF_SYNC_END | DMA_BUF_SYNC_READ });
  await app.munmap(vma.start);
  app.close(fd!);
  cameraRelease(cam);
  return { seen, findings: allFindings(kernel) };
}

describe("camera: a non-coherent capture exporter", () => {
  for (const contiguous of [false, true]) {
    const v = contiguous ? "contig" : "sg";
    it(`${v}: DQBUF and SYNC_START invalidate the whole frame: the CPU reads it, no finding`, async () => {
      const r = await capture({}, contiguous);
      expect(r.seen).toEqual([0x5a, 0x5a]);
      expect(r.findings).toEqual([]);
    });
    it(`${v}: camera-syncs-first-page-only: the second page is read stale`, async () => {
      const r = await capture({ "camera-syncs-first-page-only": true }, contiguous);
      expect(r.findings).toEqual(["stale-read/stale-read"]);
    });
    it(`${v}: camera-syncs-for-device-at-dqbuf: a clean instead of an invalidate, stale`, async () => {
      const r = await capture({ "camera-syncs-for-device-at-dqbuf": true }, contiguous);
      expect(r.findings[0]).toBe("stale-read/stale-read");
    });
  }

  it("errors: EBUSY on a second REQBUFS, EAGAIN with nothing queued or done, EINVAL for a bad size", () => {
    const { kernel, m } = machine("6.12");
    const cam = cameraProbe(kernel, addDevice(m, { name: "cam", dmaMask: 32 }));
    expect(() => cameraReqbufs(cam, 1, 100)).toThrow(/EINVAL/);
    cameraReqbufs(cam, 1, PAGE_SIZE);
    expect(() => cameraReqbufs(cam, 1, PAGE_SIZE)).toThrow(/EBUSY/);
    expect(() => cameraCapture(cam, fill(1))).toThrow(/EAGAIN/);
    expect(() => cameraDqbuf(cam)).toThrow(/EAGAIN/);
  });
});

describe("display: a contiguous scan-out importer", () => {
  it("refuses a scattered buffer without an IOMMU; accepts it behind an IOMMU", async () => {
    for (const iommu of [false, true]) {
      const { kernel, m } = machine("6.12");
      const disp = displayProbe(
        kernel,
        addDevice(
          m,
          iommu ? { name: "disp", dmaMask: 32, iommu: "dma" } : { name: "disp", dmaMask: 32 },
        ),
      );
      const cam = cameraProbe(kernel, addDevice(m, { name: "cam", dmaMask: 32 }));
      const [buf] = cameraReqbufs(cam, 1, 4 * PAGE_SIZE);
      const { dmabuf } = cameraExpbuf(buf!);
      if (iommu) {
        const fb = await displayImport(disp, dmabuf);
        expect(await displayScanout(fb, 4)).toEqual(new Uint8Array(4));
        await displayRelease(fb);
      } else {
        await expect(displayImport(disp, dmabuf)).rejects.toMatchObject({ code: "EINVAL" });
      }
      dmaBufPut(dmabuf);
      cameraRelease(cam);
      expect(allFindings(kernel)).toEqual([]);
    }
  });
});

describe("decoder + display on rpi4: the bounced scan-out (green frame)", () => {
  async function run(options: Record<string, boolean>, lowmem: boolean) {
    const { kernel, m } = machine("6.12", options, "rpi4");
    const gpu = gpuProbe(kernel, addDevice(m, { name: "v3d", dmaMask: 32 }));
    const dec = decoderProbe(kernel, addDevice(m, { name: "hevc", dmaMask: 32 }));
    const disp = displayProbe(kernel, addDevice(m, { name: "hvs", dmaMask: 30 }));
    const bo = await gpuBoCreate(gpu, 2 * PAGE_SIZE, { contiguous: true, lowmem });
    const dmabuf = gpuBoExport(bo);
    gpuBoPut(bo);
    let scanned: number[] | string = "";
    try {
      const fb = await displayImport(disp, dmabuf); // maps (and bounces) before the frame exists
      const cap = await decoderImport(dec, dmabuf);
      await decoderQbuf(cap);
      decoderDecode(cap, fill(0x80, 32)); // a grey frame; zeroes would be green in YUV
      await decoderRelease(cap);
      scanned = [...(await displayScanout(fb, 2))];
      await displayRelease(fb);
    } catch (e) {
      scanned = (e as { code: string }).code;
    }
    dmaBufPut(dmabuf);
    return { scanned, findings: allFindings(kernel) };
  }

  it("display-scans-out-bounced-buffers: the display reads the bounce copy made at import", async () => {
    const r = await run({ "display-scans-out-bounced-buffers": true }, false);
    expect(r.scanned).toEqual([0, 0]);
    expect(r.findings).toContain("stale-read/stale-bounce-read");
  });

  it("fix: the import of a buffer above 1 GiB is refused (EINVAL), nothing found", async () => {
    expect(await run({}, false)).toEqual({ scanned: "EINVAL", findings: [] });
  });

  it("fix: a buffer allocated below 1 GiB is scanned out directly", async () => {
    expect(await run({}, true)).toEqual({ scanned: [0x80, 0x80], findings: [] });
  });
});

describe("udmabuf: memfd pages as a dma-buf", () => {
  async function upload(options: Record<string, boolean>) {
    const { kernel, m } = machine("6.12", options);
    const dev = addDevice(m, { name: "dev", dmaMask: 64 });
    const app = kernel.vfs.createProcess("app");
    const mfd = memfdCreate(app, "frame", 2 * PAGE_SIZE, MFD_ALLOW_SEALING);
    memfdAddSeals(app, mfd, F_SEAL_SHRINK);
    const { dmabuf, fd } = udmabufCreate(app, {
      memfd: mfd,
      flags: 0,
      offset: 0,
      size: 2 * PAGE_SIZE,
    });
    const {
      dmaBufAttach,
      dmaBufMapAttachmentUnlocked,
      dmaBufUnmapAttachmentUnlocked,
      dmaBufDetach,
    } = await import("@dmasim/dma-buf");
    const { deviceRead } = await import("@dmasim/hardware");
    const a = await dmaBufAttach(dmabuf, dev); // the device maps the buffer once, up front
    const sgt = await dmaBufMapAttachmentUnlocked(a, 1);
    const vma = await app.mmap(2 * PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd);
    const w = DMA_BUF_SYNC_WRITE;
    await app.ioctl(fd, DMA_BUF_IOCTL_SYNC, { flags: DMA_BUF_SYNC_START | w });
    await userWrite(m, app, vma.start, fill(0x33));
    await app.ioctl(fd, DMA_BUF_IOCTL_SYNC, { flags: DMA_BUF_SYNC_END | w });
    const seen = deviceRead(dev, sgt.sgl[0]!.dmaAddress, 1)[0];
    await dmaBufUnmapAttachmentUnlocked(a, sgt, 1);
    await dmaBufDetach(dmabuf, a);
    await app.munmap(vma.start);
    app.close(fd);
    app.close(mfd);
    return { seen, findings: allFindings(kernel) };
  }

  it("SYNC_END(WRITE) cleans the CPU's writes: the device reads them", async () => {
    // the first SYNC_START maps the misc device's table with the caller's direction (TO_DEVICE
    // here, udmabuf.c get_sg_table(dev, buf, direction)); release unmaps it BIDIRECTIONAL, which
    // dma-debug reports for each entry, as on the kernel
    expect(await upload({})).toEqual({
      seen: 0x33,
      findings: ["dma-api/free-wrong-direction", "dma-api/free-wrong-direction"],
    });
  });

  it("udmabuf-inverted-cpu-access: SYNC_END syncs for the CPU (nothing on arm64): the device reads stale memory", async () => {
    const r = await upload({ "udmabuf-inverted-cpu-access": true });
    expect(r.seen).toBe(0);
    expect(r.findings).toContain("stale-read/stale-read");
  });

  it("refuses an unsealed memfd, an unaligned range, a non-memfd fd", async () => {
    const { kernel } = machine("6.12");
    const app = kernel.vfs.createProcess("app");
    const mfd = memfdCreate(app, "x", PAGE_SIZE, MFD_ALLOW_SEALING);
    expect(() => udmabufCreate(app, { memfd: mfd, flags: 0, offset: 0, size: PAGE_SIZE })).toThrow(
      /EINVAL/,
    );
    memfdAddSeals(app, mfd, F_SEAL_SHRINK);
    expect(() => udmabufCreate(app, { memfd: mfd, flags: 0, offset: 1, size: PAGE_SIZE })).toThrow(
      /EINVAL/,
    );
    expect(() => udmabufCreate(app, { memfd: mfd, flags: 8, offset: 0, size: PAGE_SIZE })).toThrow(
      /EINVAL/,
    );
    expect(() => udmabufCreate(app, { memfd: 99, flags: 0, offset: 0, size: PAGE_SIZE })).toThrow(
      /EBADF/,
    );
    const nosl = memfdCreate(app, "y", PAGE_SIZE);
    expect(() => memfdAddSeals(app, nosl, F_SEAL_SHRINK)).toThrow(/EPERM/);
  });
});

describe("decoder: a 32-bit importer on a machine with RAM above 4 GiB", () => {
  async function run(options: Record<string, boolean>) {
    const { kernel, m } = machine("6.12", options, "arm64-soc");
    const gpu = gpuProbe(kernel, addDevice(m, { name: "gpu", dmaMask: 40 }));
    const dec = decoderProbe(kernel, addDevice(m, { name: "dec", dmaMask: 64 }));
    const disp = displayProbe(kernel, addDevice(m, { name: "disp", dmaMask: 40 }));
    expect(dec.dev.dmaMaskBits).toBe(32); // probe narrowed it
    const bo = await gpuBoCreate(gpu, PAGE_SIZE, { contiguous: true }); // above 4 GiB here
    const dmabuf = gpuBoExport(bo);
    gpuBoPut(bo);
    const fb = await displayImport(disp, dmabuf);
    const cap = await decoderImport(dec, dmabuf);
    let shown: number[] | string;
    try {
      await decoderQbuf(cap);
      decoderDecode(cap, fill(0x80, 16));
      await decoderRelease(cap); // unmap: the exporter maps with SKIP_CPU_SYNC, no copy back
      shown = [...(await displayScanout(fb, 2))];
    } catch (e) {
      shown = (e as { code: string }).code;
      await decoderRelease(cap);
    }
    await displayRelease(fb);
    dmaBufPut(dmabuf);
    return { shown, findings: allFindings(kernel) };
  }

  it("decoder-decodes-into-bounced-buffers: the frame stays in the bounce slot; the display reads stale memory", async () => {
    const r = await run({ "decoder-decodes-into-bounced-buffers": true });
    expect(r.shown).toEqual([0, 0]);
    expect(r.findings).toContain("stale-read/stale-read");
  });

  it("fix: the decoder refuses to queue a bounced buffer (EINVAL), nothing found", async () => {
    expect(await run({})).toEqual({ shown: "EINVAL", findings: [] });
  });
});
