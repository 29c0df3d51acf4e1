/**
 * Mapping an attachment for its device: the locked and unlocked entry points, the sg-table cache
 * of 5.2–6.15, the pins the core takes, the KERNEL-fence wait for static importers, and the
 * `CONFIG_DMABUF_DEBUG` hiding of the table's pages.
 *
 * **Kernel:** drivers/dma-buf/dma-buf.c (`dma_buf_map_attachment`, `dma_buf_unmap_attachment`, their
 * `_unlocked` variants, `__map_dma_buf`, `__unmap_dma_buf`, `mangle_sg_table`, the 2026
 * `dma_buf_wrap_sg_table`).
 *
 * Three eras: up to 5.5 (no locking rule, `cache_sgt_mapping` from 5.2); 5.6–6.15 (the cached
 * table, the reservation lock asserted for dynamic users, and from 6.2 for everyone); 6.16+
 * (nothing cached; a dynamic exporter is pinned at map for static importers).
 *
 * @module
 */
import {
  KERN_DEBUG,
  KernelError,
  MAX_SCHEDULE_TIMEOUT,
  PAGE_SIZE,
  WARN_ON,
  WARN_ON_ONCE,
  isKernelError,
  might_sleep,
  type Kernel,
} from "@dmasim/kernel";
import {
  DMA_RESV_USAGE_KERNEL,
  dmaResvAssertHeld,
  dmaResvLock,
  dmaResvUnlock,
  dmaResvWaitTimeout,
} from "@dmasim/dma-resv";
import { dmaBufAttachmentIsDynamic, dmaBufIsDynamic } from "./dma-buf";
import type { DmaBufAttachment } from "./include/dma-buf";
import {
  CONFIG_DMA_API_DEBUG,
  DMA_BIDIRECTIONAL,
  Scatterlist,
  SgTable,
  type DmaDataDirection,
} from "@dmasim/dma-mapping";
import { dmaBufCheckAlive, era, exporterCall, inExporter } from "./module";

const SITE = "drivers/dma-buf/dma-buf.c";

/** What the core hid from the importer, to undo before the exporter sees the table again. */
interface Hidden {
  readonly orig: SgTable;
  readonly pages: unknown[];
  reported: boolean;
}

const hidden = new WeakMap<SgTable, Hidden>();

function reportPageAccess(kernel: Kernel, attach: DmaBufAttachment, h: Hidden): void {
  if (h.reported || inExporter(kernel)) {
    return;
  }
  h.reported = true;
  kernel.report({
    kind: "dma-api",
    code: "dmabuf-sg-page-access",
    summary: `importer ${attach.dev.name} touched the struct page of a dma-buf sg_table (CONFIG_DMABUF_DEBUG); importers may use only sg_dma_address() and sg_dma_len()`,
    details: {
      device: attach.dev.name,
      ino: attach.dmabuf.ino,
      hint: "program the device with sg_dma_address() and sg_dma_len() of the first nents entries only; never read sg_page() of an importer's table",
    },
  });
}

/**
 * Hide the pages: up to 6.15 the table itself is "mangled" (reading `sg.page` is reported and
 * yields the page, where the kernel would crash on the scrambled pointer); on `latest` the importer
 * gets a copy with DMA addresses and lengths only (reading `sg.page` is reported and yields null).
 */
function mangle(kernel: Kernel, attach: DmaBufAttachment, sgt: SgTable): SgTable {
  if (!era.debug(kernel)) {
    return sgt;
  }
  if (era.latest(kernel)) {
    const h: Hidden = { orig: sgt, pages: [], reported: false };
    const copy: Scatterlist[] = sgt.sgl.slice(0, sgt.nents).map((sg, i, all) => {
      const e = new Scatterlist();
      e.dmaAddress = sg.dmaAddress;
      e.dmaLength = sg.dmaLength;
      e.dmaFlags = sg.dmaFlags;
      e.isLast = i === all.length - 1;
      Object.defineProperty(e, "page", {
        configurable: true,
        enumerable: false, // a structural walk (the state digest) must not trip the trap
        get: () => {
          reportPageAccess(kernel, attach, h);
          return null;
        },
        set: () => undefined,
      });
      return e;
    });
    const wrapped = new SgTable(copy);
    hidden.set(wrapped, h);
    return wrapped;
  }
  return toggle(kernel, attach, sgt);
}

/**
 * The in-place mangling of ≤2025 is an XOR: applied twice (an exporter that hands out the same
 * table again, hazard H11) it undoes itself, and the importer gets the plain table.
 */
function toggle(kernel: Kernel, attach: DmaBufAttachment, sgt: SgTable): SgTable {
  const old = hidden.get(sgt);
  if (old) {
    restore(sgt, old);
    return sgt;
  }
  const h: Hidden = { orig: sgt, pages: sgt.sgl.map((sg) => sg.page), reported: false };
  sgt.sgl.forEach((sg, i) => {
    Object.defineProperty(sg, "page", {
      configurable: true,
      enumerable: false, // a structural walk (the state digest) must not trip the trap
      get: () => {
        reportPageAccess(kernel, attach, h);
        return h.pages[i];
      },
      set: (v: unknown) => {
        h.pages[i] = v;
      },
    });
  });
  hidden.set(sgt, h);
  return sgt;
}

function restore(sgt: SgTable, h: Hidden): void {
  hidden.delete(sgt);
  sgt.sgl.forEach((sg, i) => {
    Object.defineProperty(sg, "page", {
      configurable: true,
      enumerable: true,
      writable: true,
      value: h.pages[i],
    });
  });
}

/** Undo {@link mangle}: the table the exporter gave out. */
function unmangle(kernel: Kernel, attach: DmaBufAttachment, sgt: SgTable): SgTable {
  const h = hidden.get(sgt);
  if (h && h.orig !== sgt) {
    hidden.delete(sgt);
    return h.orig;
  }
  if (!era.debug(kernel) || era.latest(kernel)) {
    return sgt;
  }
  return toggle(kernel, attach, sgt);
}

/**
 * `__map_dma_buf()`: the exporter's map, then (5.19+) for a static importer an interruptible wait
 * for the KERNEL fences (an error unmaps), then the debug hiding. Returns null when the exporter
 * did.
 *
 * @internal
 */
export async function mapDmaBufInternal(
  attach: DmaBufAttachment,
  dir: DmaDataDirection,
): Promise<SgTable | null> {
  const dmabuf = attach.dmabuf;
  const kernel = dmabuf.kernel;
  const sgt = await exporterCall(kernel, () => dmabuf.ops.mapDmaBuf(attach, dir), "map_dma_buf");
  if (!sgt) {
    return null;
  }
  if (!dmaBufAttachmentIsDynamic(attach) && era.waitKernelFencesAtMap(kernel)) {
    try {
      await dmaResvWaitTimeout(dmabuf.resv, DMA_RESV_USAGE_KERNEL, true, MAX_SCHEDULE_TIMEOUT);
    } catch (e) {
      await exporterCall(kernel, () => dmabuf.ops.unmapDmaBuf(attach, sgt, dir), "unmap_dma_buf");
      throw e;
    }
  }
  return mangle(kernel, attach, sgt);
}

/**
 * `__unmap_dma_buf()`: undo the debug hiding and give the table back to the exporter.
 *
 * @internal
 */
export async function unmapDmaBufInternal(
  attach: DmaBufAttachment,
  sgt: SgTable,
  dir: DmaDataDirection,
): Promise<void> {
  const orig = unmangle(attach.dmabuf.kernel, attach, sgt);
  await exporterCall(
    attach.dmabuf.kernel,
    () => attach.dmabuf.ops.unmapDmaBuf(attach, orig, dir),
    "unmap_dma_buf",
  );
}

function checkLive(attach: DmaBufAttachment, fn: string): void {
  if (attach.detached) {
    attach.dmabuf.kernel.report({
      kind: "use-after-free",
      code: "dma-buf-attachment-freed",
      summary: `${fn} on an attachment of ${attach.dev.name} that dma_buf_detach() freed`,
      details: {
        device: attach.dev.name,
        ino: attach.dmabuf.ino,
        hint: `call ${fn} before dma_buf_detach(), which frees the attachment`,
      },
    });
    throw new KernelError("EINVAL", `${fn}: attachment already detached`);
  }
}

/** The alignment check of `CONFIG_DMA_API_DEBUG`: a debug message only. */
function checkAlignment(kernel: Kernel, sgt: SgTable): void {
  if (!kernel.options.has(CONFIG_DMA_API_DEBUG) || !kernel.options.enabled(CONFIG_DMA_API_DEBUG)) {
    return;
  }
  for (const sg of sgt.sgl.slice(0, sgt.nents)) {
    const addr = sg.dmaAddress;
    const len = sg.dmaLength;
    if (addr % PAGE_SIZE !== 0 || len % PAGE_SIZE !== 0) {
      kernel.printk(
        KERN_DEBUG,
        `dma_buf_map_attachment: addr ${addr.toString(16)} or len ${len.toString(16)} is not page aligned!`,
      );
      return;
    }
  }
}

function record(attach: DmaBufAttachment, sgt: SgTable, dir: DmaDataDirection): SgTable {
  attach.mappings.push({ sgt, dir, step: attach.dmabuf.kernel.step });
  checkAlignment(attach.dmabuf.kernel, sgt);
  return sgt;
}

function forget(attach: DmaBufAttachment, sgt: SgTable): void {
  const i = attach.mappings.findIndex((m) => m.sgt === sgt);
  if (i >= 0) {
    attach.mappings.splice(i, 1);
  }
}

/** 6.16+: `pin_on_map` — the exporter is pinned for the mapping's lifetime. */
function pinOnMap(attach: DmaBufAttachment): boolean {
  const k = attach.dmabuf.kernel;
  if (!dmaBufIsDynamic(attach.dmabuf)) {
    return false;
  }
  if (!dmaBufAttachmentIsDynamic(attach)) {
    return true;
  }
  return !era.latest(k) && !era.moveNotify(k);
}

async function corePin(attach: DmaBufAttachment): Promise<void> {
  const pin = attach.dmabuf.ops.pin as NonNullable<typeof attach.dmabuf.ops.pin>;
  await exporterCall(attach.dmabuf.kernel, () => pin(attach), "pin");
  attach.corePins++;
}

async function coreUnpin(attach: DmaBufAttachment): Promise<void> {
  const unpin = attach.dmabuf.ops.unpin as NonNullable<typeof attach.dmabuf.ops.unpin>;
  attach.corePins--;
  await exporterCall(attach.dmabuf.kernel, () => unpin(attach), "unpin");
}

async function mapNew(
  attach: DmaBufAttachment,
  dir: DmaDataDirection,
  pinned: boolean,
): Promise<SgTable> {
  let sgt: SgTable | null;
  try {
    sgt = await mapDmaBufInternal(attach, dir);
    if (!sgt) {
      throw new KernelError("ENOMEM", "dma_buf_map_attachment: map_dma_buf returned NULL");
    }
  } catch (e) {
    if (pinned) {
      await coreUnpin(attach);
    }
    throw e;
  }
  return sgt;
}

async function mapModern(attach: DmaBufAttachment, dir: DmaDataDirection): Promise<SgTable> {
  const kernel = attach.dmabuf.kernel;
  dmaResvAssertHeld(attach.dmabuf.resv);
  const pin = pinOnMap(attach);
  if (pin) {
    try {
      await corePin(attach);
    } catch (e) {
      WARN_ON_ONCE(
        kernel,
        isKernelError(e, "EBUSY"),
        `${SITE}:dma_buf_map_attachment`,
        "exporter's pin() returned -EBUSY while attachments exist",
      );
      throw e;
    }
  }
  return record(attach, await mapNew(attach, dir, pin), dir);
}

async function mapCaching(attach: DmaBufAttachment, dir: DmaDataDirection): Promise<SgTable> {
  const kernel = attach.dmabuf.kernel;
  const dmabuf = attach.dmabuf;
  const spec = era.lockingSpec(kernel);
  if (spec || (era.dynamic(kernel) && dmaBufAttachmentIsDynamic(attach))) {
    dmaResvAssertHeld(dmabuf.resv);
  }
  if (attach.sgt) {
    if (attach.dir !== dir && attach.dir !== DMA_BIDIRECTIONAL) {
      throw new KernelError(
        "EBUSY",
        `dma_buf_map_attachment: ${attach.dev.name} has a cached mapping in direction ${attach.dir}, asked for ${dir}`,
      );
    }
    return attach.sgt;
  }
  let pinned = false;
  if (dmaBufIsDynamic(dmabuf)) {
    if (!spec) {
      dmaResvAssertHeld(dmabuf.resv);
    }
    if (!era.moveNotify(kernel)) {
      await corePin(attach);
      pinned = true;
    }
  }
  const sgt = await mapNew(attach, dir, pinned);
  if (dmabuf.ops.cacheSgtMapping === true && era.cacheSgt(kernel)) {
    attach.sgt = sgt;
    attach.dir = dir;
    checkAlignment(kernel, sgt);
    return sgt;
  }
  return record(attach, sgt, dir);
}

/**
 * Map the attachment for its device and return the sg table (use only `sg_dma_address` /
 * `sg_dma_len` of its first `nents` entries; `CONFIG_DMABUF_DEBUG` reports any use of the pages).
 *
 * **Kernel:** `dma_buf_map_attachment()`, per era:
 * - ≤6.15 with a cached table (`cache_sgt_mapping`, or the mapping made at attach when importer and
 *   exporter disagree on dynamic-ness): returned at once, with **no exporter call and no cache
 *   maintenance**; `EBUSY` if it was cached in another direction than `dir` and not
 *   `DMA_BIDIRECTIONAL` (hazard H10). Otherwise a dynamic exporter is pinned first when
 *   `CONFIG_DMABUF_MOVE_NOTIFY` is off, the exporter maps, a static importer waits for the KERNEL
 *   fences (5.19+), and with `cache_sgt_mapping` the table is cached.
 * - 6.16+: a dynamic exporter is pinned for a static importer (and for a dynamic one with
 *   `CONFIG_DMABUF_MOVE_NOTIFY` off, before `latest`); a pin failing with `EBUSY` WARNs once.
 * - A dynamic importer must itself wait for the KERNEL fences before its device touches the
 *   memory (hazard H14); the core does not.
 *
 * **Locking:** may sleep. 6.2+: the caller must hold `dmabuf.resv` (asserted: a `lockdep` finding
 * otherwise; hazard H13). 5.6–6.1: asserted only for a dynamic importer or exporter. ≤5.5: no rule.
 * The exporter's `mapDmaBuf` runs with whatever the caller holds.
 *
 * @throws {@link KernelError} `EBUSY` (cached direction conflict), `ENOMEM` (exporter returned
 * null), `ERESTARTSYS` (signal during the fence wait), `EINVAL` (a detached attachment), or the
 * exporter's `pin` / `mapDmaBuf` error
 */
export async function dmaBufMapAttachment(
  attach: DmaBufAttachment,
  dir: DmaDataDirection,
): Promise<SgTable> {
  const kernel = attach.dmabuf.kernel;
  dmaBufCheckAlive(attach.dmabuf, "dma_buf_map_attachment");
  might_sleep(kernel, `${SITE}:dma_buf_map_attachment`);
  checkLive(attach, "dma_buf_map_attachment");
  await kernel.sched.schedulePoint();
  kernel.trace("dma-buf", "dma-buf", "map", { dev: attach.dev.name, dir });
  return era.pinOnMap(kernel) ? mapModern(attach, dir) : mapCaching(attach, dir);
}

/**
 * Undo a mapping. A cached table (≤6.15) is left alone: the call does nothing at all (no exporter
 * call, hence no `dma_sync_*_for_cpu`: hazard H10), the table is released at detach.
 *
 * **Kernel:** `dma_buf_unmap_attachment()`: WARN and return for a null table; then the exporter's
 * unmap, and the unpin matching the map's pin (≤6.15: dynamic exporter and
 * `CONFIG_DMABUF_MOVE_NOTIFY` off, through `dma_buf_unpin()`; 6.16+: `pin_on_map`).
 *
 * **Locking:** may sleep; the same reservation-lock rule as {@link dmaBufMapAttachment}.
 */
export async function dmaBufUnmapAttachment(
  attach: DmaBufAttachment,
  sgt: SgTable | null,
  dir: DmaDataDirection,
): Promise<void> {
  const dmabuf = attach.dmabuf;
  const kernel = dmabuf.kernel;
  dmaBufCheckAlive(dmabuf, "dma_buf_unmap_attachment");
  might_sleep(kernel, `${SITE}:dma_buf_unmap_attachment`);
  if (WARN_ON(kernel, !sgt, `${SITE}:dma_buf_unmap_attachment`, "NULL sg_table")) {
    return;
  }
  const table = sgt as SgTable;
  await kernel.sched.schedulePoint();
  kernel.trace("dma-buf", "dma-buf", "unmap", { dev: attach.dev.name, dir });
  if (era.pinOnMap(kernel)) {
    dmaResvAssertHeld(dmabuf.resv);
    forget(attach, table);
    await unmapDmaBufInternal(attach, table, dir);
    if (pinOnMap(attach)) {
      await coreUnpin(attach);
    }
    return;
  }
  const spec = era.lockingSpec(kernel);
  if (spec || (era.dynamic(kernel) && dmaBufAttachmentIsDynamic(attach))) {
    dmaResvAssertHeld(dmabuf.resv);
  }
  if (attach.sgt === table) {
    return;
  }
  if (!spec && dmaBufIsDynamic(dmabuf)) {
    dmaResvAssertHeld(dmabuf.resv);
  }
  forget(attach, table);
  await unmapDmaBufInternal(attach, table, dir);
  if (dmaBufIsDynamic(dmabuf) && !era.moveNotify(kernel)) {
    WARN_ON(
      kernel,
      !dmaBufAttachmentIsDynamic(attach),
      `${SITE}:dma_buf_unpin`,
      "dma_buf_unpin() on a static attachment",
    );
    dmaResvAssertHeld(dmabuf.resv);
    await coreUnpin(attach);
  }
}

function needUnlockedEra(kernel: Kernel, fn: string): void {
  if (!era.lockingSpec(kernel)) {
    throw new KernelError(
      "ENOSYS",
      `${fn}() does not exist before 6.2 (kernel ${kernel.version.name}): call the locked variant`,
    );
  }
}

/**
 * {@link dmaBufMapAttachment} with the reservation lock taken and dropped around it (no acquire
 * context). The caller must **not** hold it: doing so is a self-deadlock (lockdep reports the
 * recursion; hazard H12 b).
 *
 * **Kernel:** `dma_buf_map_attachment_unlocked()` (6.2+).
 *
 * **Locking:** may sleep; takes `dmabuf.resv`.
 *
 * @throws {@link KernelError} as {@link dmaBufMapAttachment}; `ENOSYS` before 6.2 (no such function)
 */
export async function dmaBufMapAttachmentUnlocked(
  attach: DmaBufAttachment,
  dir: DmaDataDirection,
): Promise<SgTable> {
  const kernel = attach.dmabuf.kernel;
  needUnlockedEra(kernel, "dma_buf_map_attachment_unlocked");
  dmaBufCheckAlive(attach.dmabuf, "dma_buf_map_attachment_unlocked");
  might_sleep(kernel, `${SITE}:dma_buf_map_attachment_unlocked`);
  checkLive(attach, "dma_buf_map_attachment_unlocked");
  await dmaResvLock(attach.dmabuf.resv, null);
  try {
    return await dmaBufMapAttachment(attach, dir);
  } finally {
    dmaResvUnlock(attach.dmabuf.resv);
  }
}

/**
 * {@link dmaBufUnmapAttachment} with the reservation lock taken and dropped around it.
 *
 * **Kernel:** `dma_buf_unmap_attachment_unlocked()` (6.2+): WARN and return for a null table.
 *
 * **Locking:** may sleep; takes `dmabuf.resv` (the caller must not hold it).
 *
 * @throws {@link KernelError} `ENOSYS` before 6.2 (no such function)
 */
export async function dmaBufUnmapAttachmentUnlocked(
  attach: DmaBufAttachment,
  sgt: SgTable | null,
  dir: DmaDataDirection,
): Promise<void> {
  const kernel = attach.dmabuf.kernel;
  needUnlockedEra(kernel, "dma_buf_unmap_attachment_unlocked");
  dmaBufCheckAlive(attach.dmabuf, "dma_buf_unmap_attachment_unlocked");
  might_sleep(kernel, `${SITE}:dma_buf_unmap_attachment_unlocked`);
  if (WARN_ON(kernel, !sgt, `${SITE}:dma_buf_unmap_attachment_unlocked`, "NULL sg_table")) {
    return;
  }
  await dmaResvLock(attach.dmabuf.resv, null);
  try {
    await dmaBufUnmapAttachment(attach, sgt, dir);
  } finally {
    dmaResvUnlock(attach.dmabuf.resv);
  }
}
