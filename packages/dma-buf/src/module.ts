/**
 * The per-kernel state of the dma-buf core and its kernel options: the global buffer list (newest
 * first), the inode counter, and the era switches that the rest of the package asks.
 *
 * **Kernel:** the `static` state of drivers/dma-buf/dma-buf.c (`dmabuf_list`, `dmabuf_list_mutex`,
 * the `dmabuf_inode` counter of `dma_buf_getfile()`), and drivers/dma-buf/Kconfig.
 *
 * @module
 */
import {
  KernelError,
  defineEras,
  defineOption,
  defineSubsys,
  type Kernel,
  type KernelModule,
  type Task,
} from "@dmasim/kernel";
import type { DmaBuf, DmaBufAttachment } from "./include/dma-buf";

/**
 * Named patch: Christian König's "[PATCH 03/12] dma-buf: start caching of sg_table objects" as
 * posted on 2019-04-26 (the version Liam Mark objected to for ION): `dma_buf_attach()` maps every
 * attachment `DMA_BIDIRECTIONAL` and caches the table unless the exporter implements `pin` (the
 * opt-out); `dma_buf_map_attachment()` returns the cached table in any direction, an unmap of it
 * does nothing, and detach unmaps it. What was merged for 5.2 made caching opt-in
 * (`cache_sgt_mapping`). Effective up to 6.15 (6.16 removed caching altogether).
 */
export const DMA_BUF_CACHE_SGT_UNLESS_PIN = "dma-buf-cache-sgt-unless-pin";

/**
 * The kernel options of this package. Pass it in `new Kernel({ modules: [DMA_BUF_MODULE], options })`
 * to set them.
 *
 * - `CONFIG_DMABUF_DEBUG` (default on, as it follows `CONFIG_DMA_API_DEBUG`; effective from 5.12):
 *   the core hides the pages of every sg table it gives an importer: up to 6.15 by mangling the
 *   table in place (an importer that reads `sg.page` gets a `dma-api` finding
 *   `dmabuf-sg-page-access`), on `latest` by handing the importer a copy that carries DMA addresses
 *   and lengths only (reading a page of it is the same finding).
 * - `CONFIG_DMABUF_MOVE_NOTIFY` (default off, as in Kconfig; 5.6 to 6.15): a dynamic exporter is no
 *   longer pinned at every map of a dynamic importer; the importer's `move_notify` is relied upon.
 *   On `latest` the option is gone and the behaviour is always on.
 *
 * **Kernel:** drivers/dma-buf/Kconfig.
 */
export const DMA_BUF_MODULE: KernelModule = {
  name: "@dmasim/dma-buf",
  get eras() {
    return Object.values(DMA_BUF_ERAS);
  },
  options: [
    defineOption({
      name: "CONFIG_DMABUF_DEBUG",
      kind: "config",
      owner: "@dmasim/dma-buf",
      default: true,
      description:
        "dma-buf: hide sg-table pages from importers (mangle up to 6.15, DMA-only copy on latest); 5.12+",
    }),
    defineOption({
      name: DMA_BUF_CACHE_SGT_UNLESS_PIN,
      kind: "patch",
      owner: "@dmasim/dma-buf",
      default: false,
      description:
        "April 2019 proposal (dma-buf: start caching of sg_table objects, v1): map every attachment BIDIRECTIONAL at attach and cache it unless the exporter implements pin (before 6.16)",
    }),
    defineOption({
      name: "CONFIG_DMABUF_MOVE_NOTIFY",
      kind: "config",
      owner: "@dmasim/dma-buf",
      default: false,
      description:
        "dma-buf: dynamic importers rely on move_notify instead of pinning the exporter at map (5.6-6.15; always on in latest)",
    }),
  ],
};

/** @internal per-kernel state of the dma-buf core */
export interface DmaBufState {
  /** Every live buffer, newest first (`list_add` at the head). */
  readonly buffers: DmaBuf[];
  /** The private inode counter of `dma_buf_getfile()`. */
  inode: number;
  /** Attachments detached while the importer still held mappings (the core does not check). */
  readonly orphans: DmaBufAttachment[];
  /** Threads inside an exporter callback the core made, with their nesting depth. */
  readonly inExporter: Map<Task, number>;
}

function create(): DmaBufState {
  return { buffers: [], inode: 0, orphans: [], inExporter: new Map() };
}

/** @internal */
export const DMA_BUF_SUBSYS = defineSubsys("@dmasim/dma-buf", create, DMA_BUF_MODULE);

/** @internal */
export function dmaBufState(kernel: Kernel): DmaBufState {
  return kernel.subsys(DMA_BUF_SUBSYS);
}

/**
 * The dma-buf core's history: each behaviour the core changed over time, named once with its
 * boundary and the commit or release that drew it. Ask an entry (`era.cacheSgt(kernel)`), never the
 * version; `dmasim list kernels` prints this table.
 *
 * **Kernel:** drivers/dma-buf/dma-buf.c and include/linux/dma-buf.h as of each release.
 *
 * @internal
 */
export const DMA_BUF_ERAS = defineEras("dma-buf", {
  cacheSgt: {
    since: "5.2",
    until: "6.16",
    summary: "dma_buf_ops.cache_sgt_mapping: the core keeps each attachment's first mapping",
    citation:
      'f13e143e7444 "dma-buf: start caching of sg_table objects v2" (v5.2); removed by b72f66f22c0e "dma-buf: drop caching of sg_tables" (v6.16)',
  },
  setName: {
    since: "5.3",
    summary: "DMA_BUF_SET_NAME ioctl",
    citation: 'bb2bb9030425 "dma-buf: add DMA_BUF_SET_NAME ioctls" (v5.3)',
  },
  resvList: {
    since: "5.5",
    summary: "the reservation lock guards the attachment list (dmabuf->lock before)",
    citation:
      'f45f57cce584 "dma-buf: stop using the dmabuf->lock so much v2", 15fd552d186c "dma-buf: change DMA-buf locking convention v3" (v5.5)',
  },
  mapAtAttach: {
    since: "5.5",
    until: "6.16",
    summary:
      "importer and exporter disagree on dynamic-ness: mapped BIDIRECTIONAL at attach, cached",
    citation:
      '15fd552d186c (v5.5); removed by de68b17d5d07 "dma-buf: dma-buf: stop mapping sg_tables on attach v2" (v6.16)',
  },
  dynamic: {
    since: "5.7",
    summary: "dynamic dma-buf: pin/unpin, importer_ops and move_notify",
    citation: 'bb42df4662a4 "dma-buf: add dynamic DMA-buf handling v15" (v5.7)',
  },
  peer2peer: {
    since: "5.8",
    summary: "attach->peer2peer from importer_ops->allow_peer2peer",
    citation: '"dma-buf: add peer2peer flag" (Christian König, posted 2020-03/04, v5.8)',
  },
  vmapReturnsError: {
    since: "5.11",
    summary:
      "dma_buf_vmap() fills a struct dma_buf_map and returns an errno (a NULL pointer before)",
    citation: '"dma-buf: Use struct dma_buf_map in dma_buf_vmap() interfaces" (v5.11)',
  },
  mmapRestoresFile: {
    until: "5.11",
    summary: "dma_buf_mmap() restores the old vm_file when the exporter's mmap fails",
    citation: '"mm: introduce vma_set_file function v5" (v5.11)',
  },
  bufinfoNone: {
    since: "5.11",
    summary: 'debugfs bufinfo prints "<none>" for an unnamed buffer (an empty field before)',
    citation: "drivers/dma-buf/dma-buf.c dma_buf_debug_show() (v5.11)",
  },
  debugConfig: {
    since: "5.12",
    summary: "CONFIG_DMABUF_DEBUG: the core mangles the sg-table pages it hands importers",
    citation: '"dma-buf: Add debug option" (v5.12; mangle_sg_table() read in dma-buf.c of v5.15)',
  },
  waitKernelFencesAtMap: {
    since: "5.19",
    summary: "a static importer's map waits for the exporter's KERNEL fences",
    citation:
      "absent from __map_dma_buf() of v5.15, present in v6.1 (both read); came with the dma_resv usage rework (v5.19)",
  },
  setNameBusy: {
    until: "5.19",
    summary: "DMA_BUF_SET_NAME refuses an attached buffer with EBUSY",
    citation:
      "EBUSY in dma_buf_set_name() of v5.15, gone in v6.1 (both read); removed by Guangming Cao's 2022 patch (≈v5.19, kernel-notes §1.11)",
  },
  syncFileIoctls: {
    since: "6.0",
    summary: "DMA_BUF_IOCTL_EXPORT_SYNC_FILE / IMPORT_SYNC_FILE",
    citation:
      '"dma-buf: Add an API for exporting sync files (v14)" and its import twin (v6.0; both read in dma-buf.c of v6.1)',
  },
  lockingSpec: {
    since: "6.2",
    summary:
      "dynamic locking specification: every importer holds the reservation lock, _unlocked helpers, dmabuf->lock gone",
    citation:
      '809d9c72c2f8 "dma-buf: Move dma_buf_attach() to dynamic locking specification", 47e982d5195d (map), 34c7797f9ef4 (vmap), 28743e25fa1c "dma-buf: Remove obsoleted internal lock" (v6.2)',
  },
  pinOnMap: {
    since: "6.16",
    summary:
      "nothing cached, nothing mapped at attach; a static importer pins a dynamic exporter at each map (pin_on_map)",
    citation:
      'b72f66f22c0e "dma-buf: drop caching of sg_tables", de68b17d5d07 "dma-buf: dma-buf: stop mapping sg_tables on attach v2" (linux-next 2025-03-07, merged for v6.16-rc1)',
  },
  latest: {
    since: "latest",
    summary:
      "2026 mainline: move_notify renamed invalidate_mappings (optional), CONFIG_DMABUF_MOVE_NOTIFY always on, DMA-only debug copies",
    citation: "current mainline (2026), after v6.16",
  },
});

/**
 * The behaviours that changed over time, as the running kernel has them: the era entries, and the
 * two that also depend on a Kconfig option.
 *
 * @internal
 */
export const era = {
  ...DMA_BUF_ERAS,
  /** `CONFIG_DMABUF_DEBUG` exists and is on (5.12+). */
  debug: (k: Kernel): boolean =>
    DMA_BUF_ERAS.debugConfig(k) && k.options.enabled("CONFIG_DMABUF_DEBUG"),
  /** The April 2019 caching proposal is applied to this buffer (its exporter has no `pin`). */
  cacheAtAttach2019: (k: Kernel, hasPin: boolean): boolean =>
    !hasPin && !DMA_BUF_ERAS.pinOnMap(k) && k.options.enabled(DMA_BUF_CACHE_SGT_UNLESS_PIN),
  /** `CONFIG_DMABUF_MOVE_NOTIFY` in force (always on latest). */
  moveNotify: (k: Kernel): boolean =>
    DMA_BUF_ERAS.latest(k) || k.options.enabled("CONFIG_DMABUF_MOVE_NOTIFY"),
};

/** The shortest span a trace shows for an exporter callback (ns of work time). */
const CALLBACK_NS = 100;

/**
 * Run an exporter callback, remembering that the running thread is inside the exporter (so that
 * `CONFIG_DMABUF_DEBUG` does not charge the exporter's own use of its pages to an importer). With
 * tracing, the callback is a span named `op` on the calling thread's track.
 *
 * @internal
 */
export async function exporterCall<T>(
  kernel: Kernel,
  fn: () => T | Promise<T>,
  op = "exporter callback",
): Promise<T> {
  const map = dmaBufState(kernel).inExporter;
  const task = kernel.sched.current;
  map.set(task, (map.get(task) ?? 0) + 1);
  kernel.traceBegin(task.name, "exporter", op);
  try {
    return await fn();
  } finally {
    kernel.traceEnd(task.name, "exporter", op, CALLBACK_NS);
    const n = (map.get(task) ?? 1) - 1;
    if (n <= 0) {
      map.delete(task);
    } else {
      map.set(task, n);
    }
  }
}

/** As {@link exporterCall}, for a callback that must not sleep. @internal */
export function exporterCallSync<T>(kernel: Kernel, fn: () => T, op = "exporter callback"): T {
  const map = dmaBufState(kernel).inExporter;
  const task = kernel.sched.current;
  map.set(task, (map.get(task) ?? 0) + 1);
  kernel.traceBegin(task.name, "exporter", op);
  try {
    return fn();
  } finally {
    kernel.traceEnd(task.name, "exporter", op, CALLBACK_NS);
    const n = (map.get(task) ?? 1) - 1;
    if (n <= 0) {
      map.delete(task);
    } else {
      map.set(task, n);
    }
  }
}

/** Whether the running thread is inside an exporter callback. @internal */
export function inExporter(kernel: Kernel): boolean {
  return dmaBufState(kernel).inExporter.has(kernel.sched.current);
}

/**
 * A dma-buf used after its release: `dma_buf_release()` freed the `struct dma_buf` (and the
 * exporter its buffer), so any later use reads freed memory. KASAN reports it
 * ("BUG: KASAN: slab-use-after-free in <fn>"); dmasim records a `use-after-free` finding
 * (`dma-buf-freed`) and refuses the call with `EINVAL` rather than run the exporter on freed
 * state, as it does for a detached attachment.
 *
 * @internal
 * @throws {@link KernelError} `EINVAL` when the buffer was released
 */
export function dmaBufCheckAlive(dmabuf: DmaBuf, fn: string): void {
  if (!dmabuf.released) {
    return;
  }
  dmabuf.kernel.report({
    kind: "use-after-free",
    code: "dma-buf-freed",
    summary: `BUG: KASAN: slab-use-after-free in ${fn}: dma-buf ${dmabuf.ino} (${dmabuf.expName}) was released at step ${dmabuf.releasedAt}`,
    details: {
      function: fn,
      ino: dmabuf.ino,
      exporter: dmabuf.expName,
      releasedAt: dmabuf.releasedAt,
      hint: `hold a reference (get_dma_buf / the fd) for as long as ${fn} may run on dma-buf ${dmabuf.ino}; drop it (dma_buf_put) only after the last use`,
    },
  });
  throw new KernelError("EINVAL", `${fn}: dma-buf ${dmabuf.ino} was already released`);
}
