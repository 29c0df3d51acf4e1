// The README example: a small system-memory exporter, a camera that writes into its buffer, and
// an application that reads the frame through mmap, bracketed with DMA_BUF_IOCTL_SYNC.
import { Kernel, MAP_SHARED, PAGE_SIZE, PROT_READ, remapPfnRange } from "@dmasim/kernel";
import {
  GFP_KERNEL,
  addDevice,
  allocPages,
  cachePrefetch,
  createMachine,
  deviceWrite,
  freePages,
  getMachine,
  pageAddress,
  userRead,
  type Device,
  type Page,
} from "@dmasim/hardware";
import {
  DMA_FROM_DEVICE,
  DMA_MAPPING_MODULE,
  dmaMapSgtable,
  dmaSyncSgtableForCpu,
  dmaSyncSgtableForDevice,
  dmaUnmapSgtable,
  sgAllocTableFromPages,
  sgDmaAddress,
  sgDmaLen,
  sgFreeTable,
  type SgTable,
} from "@dmasim/dma-mapping";
import {
  DMA_BUF_IOCTL_SYNC,
  DMA_BUF_MODULE,
  DMA_BUF_SYNC_END,
  DMA_BUF_SYNC_READ,
  DMA_BUF_SYNC_START,
  dmaBufAttach,
  dmaBufCheckLeaks,
  dmaBufDetach,
  dmaBufExport,
  dmaBufFd,
  dmaBufGet,
  dmaBufMapAttachmentUnlocked,
  dmaBufPut,
  dmaBufUnmapAttachmentUnlocked,
  type DmaBufOps,
} from "@dmasim/dma-buf";

/** The exporter: pages, and the tables of the attachments that are mapped right now. */
interface Buffer {
  pages: Page[];
  mapped: Map<Device, SgTable>;
}

function sysmemOps(kernel: Kernel): DmaBufOps {
  const buf = (priv: unknown): Buffer => priv as Buffer;
  return {
    mapDmaBuf(attach, dir) {
      const b = buf(attach.dmabuf.priv);
      const sgt = sgAllocTableFromPages(kernel, b.pages, 0, b.pages.length * PAGE_SIZE);
      dmaMapSgtable(attach.dev, sgt, dir); // a fresh table per map
      b.mapped.set(attach.dev, sgt);
      return sgt;
    },
    unmapDmaBuf(attach, sgt, dir) {
      dmaUnmapSgtable(attach.dev, sgt, dir);
      sgFreeTable(sgt);
      buf(attach.dmabuf.priv).mapped.delete(attach.dev);
    },
    beginCpuAccess(dmabuf, dir) {
      for (const [dev, sgt] of buf(dmabuf.priv).mapped) {
        dmaSyncSgtableForCpu(dev, sgt, dir);
      }
    },
    endCpuAccess(dmabuf, dir) {
      for (const [dev, sgt] of buf(dmabuf.priv).mapped) {
        dmaSyncSgtableForDevice(dev, sgt, dir);
      }
    },
    mmap(dmabuf, vma) {
      buf(dmabuf.priv)
        .pages.slice(vma.pgoff, vma.pgoff + vma.pages)
        .forEach((p, i) => remapPfnRange(vma, vma.start + i * PAGE_SIZE, p.pfn, PAGE_SIZE));
    },
    release(dmabuf) {
      for (const p of buf(dmabuf.priv).pages) {
        freePages(getMachine(kernel), p);
      }
    },
  };
}

export async function main(): Promise<{ frame: number[]; findings: string[] }> {
  const kernel = new Kernel({ version: "6.12", modules: [DMA_BUF_MODULE, DMA_MAPPING_MODULE] });
  const m = createMachine(kernel, "arm64-soc", { cachePolicy: { name: "none" } });
  const cam = addDevice(m, { name: "cam", coherent: false, dmaMask: 64 });
  const app = kernel.vfs.createProcess("app");

  // Exporter: two pages, exported and handed to the application as an fd.
  const priv: Buffer = {
    pages: [0, 1].map(() => allocPages(m, 0, GFP_KERNEL)!),
    mapped: new Map(),
  };
  const dmabuf = dmaBufExport(kernel, { ops: sysmemOps(kernel), size: 2 * PAGE_SIZE, priv });
  const fd = dmaBufFd(dmabuf, 0, app);

  // The application maps the buffer before the camera runs.
  const vma = await app.mmap(2 * PAGE_SIZE, PROT_READ, MAP_SHARED, fd);

  // Importer (the camera driver): get the buffer from the fd, attach, map, capture, unmap.
  const buf = dmaBufGet(app, fd);
  const attach = await dmaBufAttach(buf, cam);
  const sgt = await dmaBufMapAttachmentUnlocked(attach, DMA_FROM_DEVICE);
  const sg = sgt.sgl[0]!;
  cachePrefetch(m, pageAddress(m, priv.pages[0]!), 64); // speculation while the camera owns it
  deviceWrite(cam, sgDmaAddress(sg), new Uint8Array(sgDmaLen(sg)).fill(0x5a));

  // The application brackets its read: SYNC_START invalidates the CPU's view for the camera.
  await app.ioctl(fd, DMA_BUF_IOCTL_SYNC, { flags: DMA_BUF_SYNC_START | DMA_BUF_SYNC_READ });
  const frame = [...(await userRead(m, app, vma.start, 4))];
  await app.ioctl(fd, DMA_BUF_IOCTL_SYNC, { flags: DMA_BUF_SYNC_END | DMA_BUF_SYNC_READ });

  await dmaBufUnmapAttachmentUnlocked(attach, sgt, DMA_FROM_DEVICE);
  await dmaBufDetach(buf, attach);
  dmaBufPut(buf);
  await app.munmap(vma.start);
  app.close(fd); // the last reference: the exporter's release frees the pages
  dmaBufCheckLeaks(kernel); // what the scenario runner does at the end of a run
  return { frame, findings: kernel.findings.map((f) => `${f.kind}: ${f.summary}`) };
}
