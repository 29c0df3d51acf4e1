/** Test helpers: a kernel with a machine, a recording mock exporter, finding filters. */
import { Kernel } from "@dmasim/kernel";
import { addDevice, createMachine, type Device, type Machine, type Page } from "@dmasim/hardware";
import {
  DMA_BUF_MODULE,
  dmaBufExport,
  type DmaBuf,
  type DmaBufAttachment,
  type DmaBufExportInfo,
  type DmaBufOps,
  type IosysMap,
} from "../src/index";
import { Scatterlist, SgTable } from "@dmasim/dma-mapping";

export interface Setup {
  kernel: Kernel;
  m: Machine;
  dev: Device;
  dev2: Device;
}

/** A kernel of `version` on an arm64 SoC (no spontaneous cache events) with two devices. */
export function setup(version = "latest", options: Record<string, boolean> = {}): Setup {
  const kernel = new Kernel({ version, modules: [DMA_BUF_MODULE], options });
  const m = createMachine(kernel, "arm64-soc", { cachePolicy: { name: "none" } });
  const dev = addDevice(m, { name: "dev0" });
  const dev2 = addDevice(m, { name: "dev1" });
  return { kernel, m, dev, dev2 };
}

/** A fresh one-entry table (the mock exporter's mapping). */
export function mockTable(tag: number): SgTable {
  const sg = new Scatterlist();
  sg.page = { tag } as unknown as Page;
  sg.length = 4096;
  sg.dmaAddress = 0x10000 * tag;
  sg.dmaLength = 4096;
  sg.isLast = true;
  return new SgTable([sg]);
}

/** A recording exporter that maps to fresh mock tables. */
export class MockExporter {
  readonly calls: string[] = [];
  private next = 1;
  vaddr = 0xffff_0000_1000;

  constructor(readonly extra: Partial<DmaBufOps> = {}) {}

  get ops(): DmaBufOps {
    const base: DmaBufOps = {
      mapDmaBuf: (a: DmaBufAttachment, dir: number) => {
        this.calls.push(`map ${a.dev.name} ${dir}`);
        return mockTable(this.next++);
      },
      unmapDmaBuf: (a: DmaBufAttachment, _sgt: SgTable, dir: number) => {
        this.calls.push(`unmap ${a.dev.name} ${dir}`);
      },
      release: () => {
        this.calls.push("release");
      },
    };
    return { ...base, ...this.extra };
  }

  /** Ops with pin/unpin (a dynamic exporter). */
  dynamic(): DmaBufOps {
    return {
      ...this.ops,
      pin: (a: DmaBufAttachment) => {
        this.calls.push(`pin ${a.dev.name}`);
      },
      unpin: (a: DmaBufAttachment) => {
        this.calls.push(`unpin ${a.dev.name}`);
      },
    };
  }

  vmapOps(): DmaBufOps {
    return {
      ...this.ops,
      vmap: (_d: DmaBuf, map: IosysMap) => {
        this.calls.push("vmap");
        map.vaddr = this.vaddr;
      },
      vunmap: () => {
        this.calls.push("vunmap");
      },
    };
  }

  export(kernel: Kernel, ops: DmaBufOps = this.ops, info: Partial<DmaBufExportInfo> = {}): DmaBuf {
    return dmaBufExport(kernel, { ops, size: 4 * 4096, priv: this, expName: "mock", ...info });
  }
}

/** `kind/code` of every finding. */
export function codes(k: Kernel): string[] {
  return k.findings.map((f) => `${f.kind}/${f.code}`);
}
