// The README example: an exporter maps a scattered buffer for a non-coherent camera behind an
// IOMMU, the camera writes a frame, and the CPU reads it, once without the sync for the CPU and
// once with it.
import { Kernel, PAGE_SIZE } from "@dmasim/kernel";
import {
  GFP_KERNEL,
  addDevice,
  allocPages,
  cachePrefetch,
  cpuRead,
  createMachine,
  deviceWrite,
  pageAddress,
} from "@dmasim/hardware";
import {
  DMA_FROM_DEVICE,
  dmaDebugCheckLeaks,
  dmaMapSgtable,
  dmaSyncSgtableForCpu,
  dmaUnmapSgtable,
  forEachSgtableDmaSg,
  sgAllocTableFromPages,
  sgDmaAddress,
  sgDmaLen,
  sgFreeTable,
} from "@dmasim/dma-mapping";

export async function main(): Promise<{ buggy: string[]; fixed: string[]; segments: number }> {
  let segments = 0;
  const run = (syncForCpu: boolean): string[] => {
    const kernel = new Kernel({ version: "6.12" });
    const m = createMachine(kernel, "arm64-soc", { cachePolicy: { name: "none" } });
    const cam = addDevice(m, { name: "cam", coherent: false, dmaMask: 32, iommu: "dma" });
    const pages = [0, 1, 2, 3].map(() => allocPages(m, 0, GFP_KERNEL)!);
    const sgt = sgAllocTableFromPages(kernel, pages, 0, 4 * PAGE_SIZE);
    dmaMapSgtable(cam, sgt, DMA_FROM_DEVICE); // arm64: clean to PoC, then map the IOVAs
    segments = sgt.nents; // the IOMMU merged the pages into one DMA segment
    const va = pageAddress(m, pages[0]!);
    cachePrefetch(m, va, 64); // the CPU speculatively loads a line while the camera owns it
    forEachSgtableDmaSg(sgt, (sg) => {
      deviceWrite(cam, sgDmaAddress(sg), new Uint8Array(sgDmaLen(sg)).fill(0x5a));
    });
    if (syncForCpu) {
      dmaSyncSgtableForCpu(cam, sgt, DMA_FROM_DEVICE); // invalidate to PoC
    }
    cpuRead(m, va, 64); // the CPU reads the frame
    dmaUnmapSgtable(cam, sgt, DMA_FROM_DEVICE);
    sgFreeTable(sgt);
    dmaDebugCheckLeaks(kernel); // what the scenario runner does at the end of a run
    return kernel.findings.map((f) => `${f.kind}: ${f.summary}`);
  };
  await Promise.resolve();
  return { buggy: run(false), fixed: run(true), segments };
}
