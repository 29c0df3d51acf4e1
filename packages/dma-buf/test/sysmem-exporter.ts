/**
 * A system-memory exporter for the hazard tests, shaped like the system heap: one page per 4 KiB,
 * a per-attachment sg table, map = `dma_map_sgtable` for the attachment's device, begin/end CPU
 * access = sync every mapped attachment, cacheable mmap and vmap. Options pick the variants the
 * hazards need: `cacheSgt` (cache_sgt_mapping), `freshTable` (a new table per map: the H11 fix),
 * `dynamic` (pin/unpin and a `move()` that migrates the pages).
 */
import { PAGE_SIZE, remapPfnRange, type Kernel, type Vma } from "@dmasim/kernel";
import {
  GFP_KERNEL,
  __GFP_ZERO,
  allocPages,
  freePages,
  getMachine,
  vmap,
  vunmap,
  type Device,
  type Machine,
  type Page,
} from "@dmasim/hardware";
import {
  dmaMapSgtable,
  dmaSyncSgtableForCpu,
  dmaSyncSgtableForDevice,
  dmaUnmapSgtable,
  sgAllocTableFromPages,
  sgFreeTable,
  type DmaDataDirection,
  type SgTable,
} from "@dmasim/dma-mapping";
import { dmaResvAssertHeld, dmaResvLock, dmaResvUnlock } from "@dmasim/dma-resv";
import {
  dmaBufExport,
  dmaBufInvalidateMappings,
  dmaBufMoveNotify,
  type DmaBuf,
  type DmaBufAttachment,
  type DmaBufOps,
  type IosysMap,
} from "../src/index";

export interface SysmemOptions {
  readonly cacheSgt?: boolean;
  readonly freshTable?: boolean;
  readonly dynamic?: boolean;
  /** ms that map_dma_buf sleeps after reading the page list (a GFP_KERNEL allocation). */
  readonly mapSleep?: number;
}

interface AttachState {
  readonly dev: Device;
  table: SgTable | null;
  mapped: boolean;
}

export class SysmemBuffer {
  pages: Page[];
  readonly m: Machine;
  dmabuf: DmaBuf | null = null;
  readonly attachments = new Set<AttachState>();
  vaddr: number | null = null;

  constructor(
    readonly kernel: Kernel,
    readonly npages: number,
    readonly opts: SysmemOptions = {},
  ) {
    this.m = getMachine(kernel);
    this.pages = this.alloc();
  }

  private alloc(): Page[] {
    return Array.from({ length: this.npages }, () =>
      allocPages(this.m, 0, GFP_KERNEL | __GFP_ZERO)!,
    );
  }

  private table(): SgTable {
    return sgAllocTableFromPages(this.kernel, this.pages, 0, this.npages * PAGE_SIZE);
  }

  get ops(): DmaBufOps {
    const o = this.opts;
    const ops: DmaBufOps = {
      cacheSgtMapping: o.cacheSgt ?? false,
      attach: (_b, a) => {
        const st: AttachState = {
          dev: a.dev,
          table: o.freshTable ? null : this.table(),
          mapped: false,
        };
        a.priv = st;
        this.attachments.add(st);
      },
      detach: (_b, a) => {
        const st = a.priv as AttachState;
        if (st.table) {
          sgFreeTable(st.table);
        }
        this.attachments.delete(st);
      },
      mapDmaBuf: async (a: DmaBufAttachment, dir: DmaDataDirection) => {
        const st = a.priv as AttachState;
        const sgt = o.freshTable ? this.table() : (st.table as SgTable);
        if (o.mapSleep) {
          const { msleep } = await import("@dmasim/kernel");
          await msleep(this.kernel, o.mapSleep);
        }
        dmaMapSgtable(a.dev, sgt, dir);
        st.mapped = true;
        if (o.freshTable) {
          st.table = sgt;
        }
        return sgt;
      },
      unmapDmaBuf: (a: DmaBufAttachment, sgt: SgTable, dir: DmaDataDirection) => {
        const st = a.priv as AttachState;
        st.mapped = false;
        dmaUnmapSgtable(a.dev, sgt, dir);
        if (o.freshTable) {
          sgFreeTable(sgt);
        }
      },
      release: () => {
        for (const p of this.pages) {
          freePages(this.m, p);
        }
      },
      beginCpuAccess: (_b, dir) => {
        for (const st of this.attachments) {
          if (st.mapped && st.table) {
            dmaSyncSgtableForCpu(st.dev, st.table, dir);
          }
        }
      },
      endCpuAccess: (_b, dir) => {
        for (const st of this.attachments) {
          if (st.mapped && st.table) {
            dmaSyncSgtableForDevice(st.dev, st.table, dir);
          }
        }
      },
      mmap: (_b, vma: Vma) => {
        this.pages.slice(vma.pgoff, vma.pgoff + vma.pages).forEach((p, i) => {
          remapPfnRange(vma, vma.start + i * PAGE_SIZE, p.pfn, PAGE_SIZE);
        });
      },
      vmap: (_b, map: IosysMap) => {
        map.vaddr = vmap(this.m, this.pages);
        this.vaddr = map.vaddr;
      },
      vunmap: (_b, map: IosysMap) => {
        vunmap(this.m, map.vaddr as number);
        this.vaddr = null;
      },
    };
    if (o.dynamic) {
      ops.pin = () => undefined;
      ops.unpin = () => undefined;
    }
    return ops;
  }

  export(): DmaBuf {
    this.dmabuf = dmaBufExport(this.kernel, {
      ops: this.ops,
      size: this.npages * PAGE_SIZE,
      priv: this,
      expName: "sysmem",
    });
    return this.dmabuf;
  }

  /** Migrate to new pages (a dynamic exporter's eviction): notify, then free the old pages. */
  async move(): Promise<void> {
    const b = this.dmabuf as DmaBuf;
    await dmaResvLock(b.resv, null);
    dmaResvAssertHeld(b.resv);
    const old = this.pages;
    this.pages = this.alloc();
    if (this.kernel.version.since("latest")) {
      dmaBufInvalidateMappings(b);
    } else {
      dmaBufMoveNotify(b);
    }
    for (const p of old) {
      freePages(this.m, p);
    }
    dmaResvUnlock(b.resv);
  }
}
