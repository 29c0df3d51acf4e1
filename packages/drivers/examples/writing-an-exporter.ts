// docs/writing-an-exporter.md: a custom exporter and a custom importer on @dmasim/dma-buf.
import { Kernel, PAGE_SIZE, remapPfnRange } from "@dmasim/kernel";
import {
  GFP_KERNEL,
  __GFP_ZERO,
  addDevice,
  allocPages,
  cachePrefetch,
  cpuRead,
  createMachine,
  deviceWrite,
  freePages,
  pageAddress,
  pfnToPage,
  type Device,
  type Machine,
  type Page,
} from "@dmasim/hardware";
import {
  DMA_FROM_DEVICE,
  dmaMapSgtable,
  dmaSyncSgtableForCpu,
  dmaSyncSgtableForDevice,
  dmaUnmapSgtable,
  forEachSgtableDmaSg,
  sgAllocTableFromPages,
  sgDmaAddress,
  sgDmaLen,
  sgFreeTable,
  type DmaDataDirection,
  type SgTable,
} from "@dmasim/dma-mapping";
import {
  DMA_BUF_MODULE,
  dmaBufAttach,
  dmaBufBeginCpuAccess,
  dmaBufCheckLeaks,
  dmaBufDetach,
  dmaBufEndCpuAccess,
  dmaBufExport,
  dmaBufMapAttachmentUnlocked,
  dmaBufPut,
  dmaBufUnmapAttachmentUnlocked,
  type DmaBuf,
  type DmaBufOps,
} from "@dmasim/dma-buf";

// Step 1: the exporter's private state: its pages and the tables it handed out.
export interface Carveout {
  readonly m: Machine;
  readonly pages: Page[];
  readonly mapped: Map<SgTable, { dev: Device; dir: DmaDataDirection }>;
}

// Step 2: the ops. map = a fresh table per call, mapped for the importer's device; the CPU hooks
// sync every live mapping with the direction it was mapped with.
function carveoutOps(kernel: Kernel): DmaBufOps {
  const cv = (b: DmaBuf): Carveout => b.priv as Carveout;
  return {
    mapDmaBuf(attach, dir) {
      const c = cv(attach.dmabuf);
      const sgt = sgAllocTableFromPages(kernel, c.pages, 0, c.pages.length * PAGE_SIZE);
      try {
        dmaMapSgtable(attach.dev, sgt, dir);
      } catch (e) {
        sgFreeTable(sgt);
        throw e; // the kernel's ERR_PTR
      }
      c.mapped.set(sgt, { dev: attach.dev, dir });
      return sgt;
    },
    unmapDmaBuf(attach, sgt, dir) {
      dmaUnmapSgtable(attach.dev, sgt, dir);
      cv(attach.dmabuf).mapped.delete(sgt);
      sgFreeTable(sgt);
    },
    beginCpuAccess(dmabuf) {
      for (const [sgt, { dev, dir }] of cv(dmabuf).mapped) {
        dmaSyncSgtableForCpu(dev, sgt, dir);
      }
    },
    endCpuAccess(dmabuf) {
      for (const [sgt, { dev, dir }] of cv(dmabuf).mapped) {
        dmaSyncSgtableForDevice(dev, sgt, dir);
      }
    },
    mmap(dmabuf, vma) {
      cv(dmabuf)
        .pages.slice(vma.pgoff, vma.pgoff + vma.pages)
        .forEach((p, i) => {
          remapPfnRange(vma, vma.start + i * PAGE_SIZE, p.pfn, PAGE_SIZE);
        });
    },
    release(dmabuf) {
      const c = cv(dmabuf);
      freePages(c.m, pfnToPage(c.m, c.pages[0]!.pfn), 1);
    },
  };
}

// Step 3: carve out two contiguous pages, and export them.
export function carveoutAlloc(m: Machine): Carveout {
  const block = allocPages(m, 1, GFP_KERNEL | __GFP_ZERO)!;
  return { m, pages: [block, pfnToPage(m, block.pfn + 1)], mapped: new Map() };
}

export function carveoutExport(kernel: Kernel, priv: Carveout): DmaBuf {
  return dmaBufExport(kernel, {
    ops: carveoutOps(kernel),
    size: 2 * PAGE_SIZE,
    priv,
    expName: "carveout",
  });
}

// Step 4: a static importer: attach, map without holding the lock (_unlocked), program the
// device with DMA segments only (never sg.page), unmap, detach.
async function captureInto(buf: DmaBuf, dev: Device, value: number): Promise<void> {
  const attach = await dmaBufAttach(buf, dev);
  const sgt = await dmaBufMapAttachmentUnlocked(attach, DMA_FROM_DEVICE);
  forEachSgtableDmaSg(sgt, (sg) => {
    deviceWrite(dev, sgDmaAddress(sg), new Uint8Array(sgDmaLen(sg)).fill(value));
  });
  await dmaBufUnmapAttachmentUnlocked(attach, sgt, DMA_FROM_DEVICE);
  await dmaBufDetach(buf, attach);
}

// Step 5: run it. The CPU holds a stale line while the device writes; unmap invalidates it (the
// exporter's dma_unmap_sgtable), and begin/end_cpu_access bracket the CPU's read.
export async function main(): Promise<{ read: number; findings: string[] }> {
  const kernel = new Kernel({ version: "6.12", modules: [DMA_BUF_MODULE] });
  const m = createMachine(kernel, "arm64-soc", { cachePolicy: { name: "none" } });
  const dev = addDevice(m, { name: "dev", dmaMask: 64 });
  const carveout = carveoutAlloc(m);
  const buf = carveoutExport(kernel, carveout);
  const va = pageAddress(m, carveout.pages[1]!);
  cachePrefetch(m, va, 64);
  await captureInto(buf, dev, 0x6b);
  await dmaBufBeginCpuAccess(buf, DMA_FROM_DEVICE);
  const read = cpuRead(m, va, 1)[0]!;
  await dmaBufEndCpuAccess(buf, DMA_FROM_DEVICE);
  dmaBufPut(buf);
  dmaBufCheckLeaks(kernel);
  return { read, findings: kernel.findings.map((f) => `${f.kind}/${f.code}`) };
}
