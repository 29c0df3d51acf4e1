// The README example: a non-coherent device writes a buffer the CPU still has in its cache.
import { Kernel } from "@dmasim/kernel";
import {
  GFP_DMA32,
  GFP_KERNEL,
  __GFP_ZERO,
  addDevice,
  allocPages,
  cpuRead,
  cpuWrite,
  createMachine,
  dcacheCleanPoc,
  dcacheInvalPoc,
  deviceWrite,
  pageAddress,
  pageToPhys,
  physToDma,
} from "@dmasim/hardware";

export async function main(): Promise<{ stale: string[]; fixed: string[] }> {
  const run = (invalidateAfterDma: boolean): string[] => {
    const kernel = new Kernel();
    const m = createMachine(kernel, "arm64-soc", { cachePolicy: { name: "none" } });
    const cam = addDevice(m, { name: "cam", dmaMask: 32 }); // non-coherent on this platform
    const page = allocPages(m, 0, GFP_KERNEL | GFP_DMA32 | __GFP_ZERO)!; // below 4 GiB
    const va = pageAddress(m, page); // the cacheable linear map
    cpuWrite(m, va, new Uint8Array(64).fill(0x11)); // the CPU fills the buffer
    dcacheCleanPoc(m, va, va + 4096); // dma_map_single(..., DMA_FROM_DEVICE) on arm64: clean
    deviceWrite(cam, physToDma(cam, pageToPhys(page)), new Uint8Array(64).fill(0x22));
    if (invalidateAfterDma) {
      dcacheInvalPoc(m, va, va + 4096); // dma_sync_single_for_cpu: invalidate
    }
    cpuRead(m, va, 64); // the CPU reads the frame
    return kernel.findings.map((f) => `${f.kind}: ${f.summary}`);
  };
  await Promise.resolve();
  return { stale: run(false), fixed: run(true) };
}
