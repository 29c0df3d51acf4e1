/** Shared setup for the driver tests: a kernel with every module, a machine, kinds of findings. */
import { Kernel, type Finding } from "@dmasim/kernel";
import { createMachine, type Machine } from "@dmasim/hardware";
import { DMA_MAPPING_MODULE, dmaDebugCheckLeaks } from "@dmasim/dma-mapping";
import { DMA_RESV_MODULE } from "@dmasim/dma-resv";
import { DMA_BUF_MODULE, dmaBufCheckLeaks } from "@dmasim/dma-buf";
import { DRIVERS_MODULE, driversCheckLeaks } from "../src/index";

export function machine(
  version = "6.12",
  options: Record<string, boolean> = {},
  platform = "arm64-soc",
): { kernel: Kernel; m: Machine } {
  const kernel = new Kernel({
    version,
    modules: [DMA_BUF_MODULE, DMA_MAPPING_MODULE, DMA_RESV_MODULE, DRIVERS_MODULE],
    options,
  });
  const m = createMachine(kernel, platform, { cachePolicy: { name: "none" } });
  return { kernel, m };
}

export const kinds = (fs: readonly Finding[]): string[] => fs.map((f) => `${f.kind}/${f.code}`);

/** Every finding of the run, with the end-of-run leak checks the scenario runner does. */
export function allFindings(kernel: Kernel): string[] {
  dmaBufCheckLeaks(kernel);
  dmaDebugCheckLeaks(kernel);
  return kinds(kernel.findings);
}

export const fill = (v: number, n = 64): Uint8Array => new Uint8Array(n).fill(v);

/** {@link allFindings} with the drivers' own end-of-run check (GPU jobs, BOs, delayed destroys). */
export async function endOfRun(kernel: Kernel): Promise<string[]> {
  dmaBufCheckLeaks(kernel);
  dmaDebugCheckLeaks(kernel);
  await driversCheckLeaks(kernel);
  return kinds(kernel.findings);
}

/** Whether the page frame `pfn` is free in the machine's allocator. */
export const pageFree = (m: Machine, pfn: number): boolean => m.pageAlloc.isFree(pfn);
