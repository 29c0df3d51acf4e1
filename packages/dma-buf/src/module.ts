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
  defineOption,
  defineSubsys,
  type Kernel,
  type KernelModule,
  type Task,
} from "@dmasim/kernel";
import type { DmaBuf, DmaBufAttachment } from "./include/dma-buf";

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
 * The behaviours that changed over time, as the running kernel has them.
 *
 * @internal
 */
export const era = {
  /** `cache_sgt_mapping` exists (5.2 to 6.14). */
  cacheSgt: (k: Kernel): boolean => k.version.between("5.2", "6.15"),
  /** pin/unpin, importer_ops, move_notify, the reservation lock guards the list (5.6+). */
  dynamic: (k: Kernel): boolean => k.version.since("5.6"),
  /** A mapping is made and cached at attach when importer and exporter disagree (5.6 to 6.14). */
  mapAtAttach: (k: Kernel): boolean => k.version.between("5.6", "6.15"),
  /** The dynamic locking specification: resv for every importer, `_unlocked` helpers (6.2+). */
  lockingSpec: (k: Kernel): boolean => k.version.since("6.2"),
  /** Static importers wait for KERNEL fences at map (5.19+). */
  waitKernelFencesAtMap: (k: Kernel): boolean => k.version.since("5.19"),
  /** `dma_buf_vmap()` returns an error code (5.11+), not a NULL pointer. */
  vmapReturnsError: (k: Kernel): boolean => k.version.since("5.11"),
  /** DMA_BUF_SET_NAME exists (5.3+). */
  setName: (k: Kernel): boolean => k.version.since("5.3"),
  /** DMA_BUF_SET_NAME refuses an attached buffer with -EBUSY (until the 2022 removal, 5.19). */
  setNameBusy: (k: Kernel): boolean => k.version.before("5.19"),
  /** DMA_BUF_IOCTL_EXPORT_SYNC_FILE / IMPORT_SYNC_FILE (6.0+). */
  syncFileIoctls: (k: Kernel): boolean => k.version.since("6.0"),
  /** The 2026 changes: invalidate_mappings, optional callback, copy-only DMABUF_DEBUG. */
  latest: (k: Kernel): boolean => k.version.since("latest"),
  /** `CONFIG_DMABUF_DEBUG` exists and is on (5.12+). */
  debug: (k: Kernel): boolean =>
    k.version.since("5.12") && k.options.enabled("CONFIG_DMABUF_DEBUG"),
  /** `CONFIG_DMABUF_MOVE_NOTIFY` in force (always on latest). */
  moveNotify: (k: Kernel): boolean =>
    k.version.since("latest") || k.options.enabled("CONFIG_DMABUF_MOVE_NOTIFY"),
  /** bufinfo prints `<none>` for an unnamed buffer (5.11+; empty before). */
  bufinfoNone: (k: Kernel): boolean => k.version.since("5.11"),
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
