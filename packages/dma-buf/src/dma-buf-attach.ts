/**
 * Attaching devices to a buffer, and the dynamic side: pin, unpin and move notification.
 *
 * **Kernel:** drivers/dma-buf/dma-buf.c (`dma_buf_dynamic_attach`, `dma_buf_attach`,
 * `dma_buf_detach`, `dma_buf_pin`, `dma_buf_unpin`, `dma_buf_move_notify`, and the 2026
 * `dma_buf_invalidate_mappings`, `dma_buf_attach_revocable`).
 *
 * @module
 */
import {
  KernelError,
  WARN_ON,
  might_sleep,
  mutexLock,
  mutexUnlock,
  type Kernel,
} from "@dmasim/kernel";
import type { Device } from "@dmasim/hardware";
import { dmaResvAssertHeld, dmaResvLock, dmaResvUnlock } from "@dmasim/dma-resv";
import { dmaBufAttachmentIsDynamic, dmaBufIsDynamic } from "./dma-buf";
import { mapDmaBufInternal, unmapDmaBufInternal } from "./dma-buf-map";
import { DmaBufAttachment, type DmaBuf, type DmaBufAttachOps } from "./include/dma-buf";
import { DMA_BIDIRECTIONAL, type SgTable } from "@dmasim/dma-mapping";
import { dmaBufCheckAlive, dmaBufState, era, exporterCall } from "./module";

const SITE = "drivers/dma-buf/dma-buf.c";

function warnInval(kernel: Kernel, fn: string, cond: boolean, msg: string): void {
  if (WARN_ON(kernel, cond, `${SITE}:${fn}`, msg)) {
    throw new KernelError("EINVAL", `${fn}: ${msg}`);
  }
}

/**
 * 5.5–6.15: map (and pin) at attach when importer and exporter disagree on dynamic-ness. Until 6.2
 * the reservation lock is taken around the map only for a dynamic exporter (a static exporter's
 * `map_dma_buf` runs unlocked and may take the lock itself: read in dma-buf.c of v5.15 and v6.1);
 * from 6.2 ("dma-buf: Move dma_buf_attach() to dynamic locking specification", 809d9c72c2f8) for
 * every exporter.
 */
async function mapAtAttach(dmabuf: DmaBuf, attach: DmaBufAttachment): Promise<void> {
  const kernel = dmabuf.kernel;
  const lock = era.lockingSpec(kernel) || dmaBufIsDynamic(dmabuf);
  if (lock) {
    await dmaResvLock(dmabuf.resv, null);
  }
  let sgt: SgTable | null = null;
  let pinned = false;
  try {
    if (dmaBufIsDynamic(dmabuf)) {
      const pin = dmabuf.ops.pin as NonNullable<typeof dmabuf.ops.pin>;
      await exporterCall(kernel, () => pin(attach), "pin");
      pinned = true;
    }
    sgt = await mapDmaBufInternal(attach, DMA_BIDIRECTIONAL);
    if (!sgt) {
      throw new KernelError("ENOMEM", "dma_buf_dynamic_attach: map_dma_buf returned NULL");
    }
  } catch (e) {
    if (pinned) {
      const unpin = dmabuf.ops.unpin as NonNullable<typeof dmabuf.ops.unpin>;
      await exporterCall(kernel, () => unpin(attach), "unpin");
    }
    if (lock) {
      dmaResvUnlock(dmabuf.resv);
    }
    await dmaBufDetach(dmabuf, attach);
    throw e;
  }
  if (lock) {
    dmaResvUnlock(dmabuf.resv);
  }
  attach.sgt = sgt;
  attach.dir = DMA_BIDIRECTIONAL;
}

/**
 * The April 2019 proposal (named option `dma-buf-cache-sgt-unless-pin`): map the new attachment
 * `DMA_BIDIRECTIONAL` now and keep the table unless the exporter implements `pin`. A failure
 * detaches again, as the proposal's attach did.
 */
async function cacheAtAttach2019(dmabuf: DmaBuf, attach: DmaBufAttachment): Promise<void> {
  if (attach.sgt || !era.cacheAtAttach2019(dmabuf.kernel, dmabuf.ops.pin !== undefined)) {
    return;
  }
  let sgt: SgTable | null;
  try {
    sgt = await mapDmaBufInternal(attach, DMA_BIDIRECTIONAL);
    if (!sgt) {
      throw new KernelError("ENOMEM", "dma_buf_attach: map_dma_buf returned NULL");
    }
  } catch (e) {
    await dmaBufDetach(dmabuf, attach);
    throw e;
  }
  attach.sgt = sgt;
  attach.dir = DMA_BIDIRECTIONAL;
}

/**
 * Attach `dev` to the buffer as a dynamic importer (with `importerOps`) or a static one (null).
 * The new attachment goes to the head of `dmabuf.attachments`.
 *
 * **Kernel:** `dma_buf_dynamic_attach()`: WARN + `EINVAL` for a null device; (5.6 to 6.15) WARN +
 * `EINVAL` for importer ops without `move_notify` (optional on `latest`); `peer2peer` from
 * `allow_peer2peer`; `ops.attach` (its error is returned); the list insertion under the reservation
 * lock (`dmabuf.lock` up to 5.5, which then also covers `ops.attach`). 5.6–6.15: when the importer
 * and the exporter disagree on dynamic-ness, the buffer is pinned (dynamic exporter) and mapped
 * `DMA_BIDIRECTIONAL` now, and the table cached until detach (an error detaches again). 6.16+:
 * nothing is mapped.
 *
 * **Locking:** may sleep. The caller must **not** hold `dmabuf.resv` (hazard H12 b: self-deadlock,
 * reported by lockdep as recursive locking).
 *
 * @throws {@link KernelError} `EINVAL` (after a WARN), `ENOSYS` (importer ops before 5.7), the
 * exporter's `attach`, `pin` or `mapDmaBuf` error, `ENOMEM`, `ERESTARTSYS`
 */
export async function dmaBufDynamicAttach(
  dmabuf: DmaBuf,
  dev: Device | null,
  importerOps: DmaBufAttachOps | null,
  importerPriv: unknown = null,
): Promise<DmaBufAttachment> {
  const kernel = dmabuf.kernel;
  dmaBufCheckAlive(dmabuf, "dma_buf_dynamic_attach");
  warnInval(kernel, "dma_buf_dynamic_attach", !dev, "NULL device");
  if (importerOps && !era.dynamic(kernel)) {
    throw new KernelError(
      "ENOSYS",
      `dma_buf_dynamic_attach() does not exist before ${era.dynamic.since} (kernel ${kernel.version.name})`,
    );
  }
  if (!era.latest(kernel)) {
    warnInval(
      kernel,
      "dma_buf_dynamic_attach",
      importerOps !== null && !importerOps.moveNotify,
      "importer_ops without move_notify",
    );
  }
  might_sleep(kernel, `${SITE}:dma_buf_dynamic_attach`);
  const peer2peer = era.peer2peer(kernel) && (importerOps?.allowPeer2peer ?? false);
  const attach = new DmaBufAttachment(dmabuf, dev as Device, importerOps, importerPriv, peer2peer);
  kernel.trace("dma-buf", "dma-buf", "attach", { ino: dmabuf.ino, dev: attach.dev.name });
  if (!era.resvList(kernel)) {
    await mutexLock(dmabuf.lock);
    try {
      if (dmabuf.ops.attach) {
        const op = dmabuf.ops.attach;
        await exporterCall(kernel, () => op(dmabuf, attach), "attach");
      }
      dmabuf.attachments.unshift(attach);
    } finally {
      mutexUnlock(dmabuf.lock);
    }
    await cacheAtAttach2019(dmabuf, attach);
    return attach;
  }
  if (dmabuf.ops.attach) {
    const op = dmabuf.ops.attach;
    await exporterCall(kernel, () => op(dmabuf, attach), "attach");
  }
  await dmaResvLock(dmabuf.resv, null);
  dmabuf.attachments.unshift(attach);
  dmaResvUnlock(dmabuf.resv);
  if (era.mapAtAttach(kernel) && dmaBufAttachmentIsDynamic(attach) !== dmaBufIsDynamic(dmabuf)) {
    await mapAtAttach(dmabuf, attach);
  }
  await cacheAtAttach2019(dmabuf, attach);
  return attach;
}

/**
 * Attach `dev` as a static importer.
 *
 * **Kernel:** `dma_buf_attach()` (= `dma_buf_dynamic_attach(dmabuf, dev, NULL, NULL)`).
 *
 * **Locking:** may sleep; must not hold `dmabuf.resv`.
 *
 * @throws {@link KernelError} as {@link dmaBufDynamicAttach}
 */
export async function dmaBufAttach(dmabuf: DmaBuf, dev: Device | null): Promise<DmaBufAttachment> {
  return dmaBufDynamicAttach(dmabuf, dev, null, null);
}

/**
 * Detach: release the cached mapping (≤6.15; unpin for a dynamic exporter), leave the list, call
 * `ops.detach`, free the attachment. Mappings the importer did not unmap are not checked (they
 * leak; {@link dmaBufCheckLeaks} reports them).
 *
 * **Kernel:** `dma_buf_detach()`: WARN and return when `attach` belongs to another buffer or was
 * already freed.
 *
 * **Locking:** may sleep; must not hold `dmabuf.resv` (taken inside; `dmabuf.lock` up to 5.5).
 */
export async function dmaBufDetach(dmabuf: DmaBuf, attach: DmaBufAttachment): Promise<void> {
  const kernel = dmabuf.kernel;
  dmaBufCheckAlive(dmabuf, "dma_buf_detach");
  if (
    WARN_ON(
      kernel,
      attach.dmabuf !== dmabuf || attach.detached,
      `${SITE}:dma_buf_detach`,
      attach.detached ? "attachment already detached" : "attachment of another dma_buf",
    )
  ) {
    return;
  }
  might_sleep(kernel, `${SITE}:dma_buf_detach`);
  kernel.trace("dma-buf", "dma-buf", "detach", { ino: dmabuf.ino, dev: attach.dev.name });
  if (!era.resvList(kernel)) {
    if (attach.sgt) {
      await unmapDmaBufInternal(attach, attach.sgt, attach.dir);
      attach.sgt = null;
    }
    await mutexLock(dmabuf.lock);
    try {
      removeFromList(dmabuf, attach);
      await callDetach(dmabuf, attach);
    } finally {
      mutexUnlock(dmabuf.lock);
    }
    attach.detached = true;
    return;
  }
  if (era.lockingSpec(kernel)) {
    await dmaResvLock(dmabuf.resv, null);
    try {
      await releaseCached(dmabuf, attach);
      removeFromList(dmabuf, attach);
    } finally {
      dmaResvUnlock(dmabuf.resv);
    }
  } else {
    await detachCachedPre62(dmabuf, attach);
    await dmaResvLock(dmabuf.resv, null);
    removeFromList(dmabuf, attach);
    dmaResvUnlock(dmabuf.resv);
  }
  await callDetach(dmabuf, attach);
  attach.detached = true;
}

/** Unmap the cached table (and unpin a dynamic exporter); the caller holds what the era needs. */
async function releaseCached(dmabuf: DmaBuf, attach: DmaBufAttachment): Promise<void> {
  if (!attach.sgt) {
    return;
  }
  const sgt = attach.sgt;
  attach.sgt = null;
  await unmapDmaBufInternal(attach, sgt, attach.dir);
  if (dmaBufIsDynamic(dmabuf)) {
    const unpin = dmabuf.ops.unpin as NonNullable<typeof dmabuf.ops.unpin>;
    await exporterCall(dmabuf.kernel, () => unpin(attach), "unpin");
  }
}

/**
 * 5.5–6.1: the cached table is released under the reservation lock only for a dynamic exporter;
 * a static exporter's `unmap_dma_buf` runs unlocked (dma-buf.c of v5.15 and v6.1). 6.2
 * (809d9c72c2f8) moved it under the lock for every exporter.
 */
async function detachCachedPre62(dmabuf: DmaBuf, attach: DmaBufAttachment): Promise<void> {
  const lock = attach.sgt !== null && dmaBufIsDynamic(dmabuf);
  if (lock) {
    await dmaResvLock(dmabuf.resv, null);
  }
  try {
    await releaseCached(dmabuf, attach);
  } finally {
    if (lock) {
      dmaResvUnlock(dmabuf.resv);
    }
  }
}

function removeFromList(dmabuf: DmaBuf, attach: DmaBufAttachment): void {
  const i = dmabuf.attachments.indexOf(attach);
  if (i >= 0) {
    dmabuf.attachments.splice(i, 1);
  }
}

async function callDetach(dmabuf: DmaBuf, attach: DmaBufAttachment): Promise<void> {
  if (attach.mappings.length > 0) {
    dmaBufState(dmabuf.kernel).orphans.push(attach);
  }
  if (dmabuf.ops.detach) {
    const op = dmabuf.ops.detach;
    await exporterCall(dmabuf.kernel, () => op(dmabuf, attach), "detach");
  }
}

function needDynamicEra(kernel: Kernel, fn: string): void {
  if (!era.dynamic(kernel)) {
    throw new KernelError(
      "ENOSYS",
      `${fn}() does not exist before ${era.dynamic.since} (kernel ${kernel.version.name})`,
    );
  }
}

/**
 * Pin the buffer for a dynamic importer (long-lived uses such as scan-out only); undo with
 * {@link dmaBufUnpin}. An exporter without `pin` succeeds without doing anything.
 *
 * **Kernel:** `dma_buf_pin()` (5.6+): WARN when the attachment is not dynamic (and carries on).
 *
 * **Locking:** the caller must hold `dmabuf.resv` (asserted). May sleep (the exporter's `pin`).
 *
 * @throws {@link KernelError} the exporter's `pin` error; `ENOSYS` before 5.7
 */
export async function dmaBufPin(attach: DmaBufAttachment): Promise<void> {
  const dmabuf = attach.dmabuf;
  const kernel = dmabuf.kernel;
  needDynamicEra(kernel, "dma_buf_pin");
  dmaBufCheckAlive(dmabuf, "dma_buf_pin");
  WARN_ON(kernel, !dmaBufAttachmentIsDynamic(attach), `${SITE}:dma_buf_pin`, "static attachment");
  dmaResvAssertHeld(dmabuf.resv);
  if (dmabuf.ops.pin) {
    const pin = dmabuf.ops.pin;
    await exporterCall(kernel, () => pin(attach), "pin");
  }
}

/**
 * Undo a {@link dmaBufPin}: the exporter may move the buffer again (and tell the importer through
 * `moveNotify`).
 *
 * **Kernel:** `dma_buf_unpin()` (5.6+): WARN when the attachment is not dynamic.
 *
 * **Locking:** the caller must hold `dmabuf.resv` (asserted).
 *
 * @throws {@link KernelError} `ENOSYS` before 5.7
 */
export async function dmaBufUnpin(attach: DmaBufAttachment): Promise<void> {
  const dmabuf = attach.dmabuf;
  const kernel = dmabuf.kernel;
  needDynamicEra(kernel, "dma_buf_unpin");
  dmaBufCheckAlive(dmabuf, "dma_buf_unpin");
  WARN_ON(kernel, !dmaBufAttachmentIsDynamic(attach), `${SITE}:dma_buf_unpin`, "static attachment");
  dmaResvAssertHeld(dmabuf.resv);
  if (dmabuf.ops.unpin) {
    const unpin = dmabuf.ops.unpin;
    await exporterCall(kernel, () => unpin(attach), "unpin");
  }
}

/**
 * Tell every dynamic importer that the buffer moves: each `importerOps.moveNotify(attach)` is
 * called, newest attachment first, with the lock held. Existing mappings are not torn down; the
 * exporter describes the move with KERNEL fences, after which importers must not touch the old
 * location (hazard H15).
 *
 * **Kernel:** `dma_buf_move_notify()` (5.6 to 6.15; renamed on `latest`).
 *
 * **Locking:** the exporter must hold `dmabuf.resv` (asserted). Synchronous.
 *
 * @throws {@link KernelError} `ENOSYS` before 5.7 and on `latest` (use {@link dmaBufInvalidateMappings})
 */
export function dmaBufMoveNotify(dmabuf: DmaBuf): void {
  const kernel = dmabuf.kernel;
  needDynamicEra(kernel, "dma_buf_move_notify");
  if (era.latest(kernel)) {
    throw new KernelError(
      "ENOSYS",
      "dma_buf_move_notify() was renamed dma_buf_invalidate_mappings() (kernel latest)",
    );
  }
  dmaBufCheckAlive(dmabuf, "dma_buf_move_notify");
  dmaResvAssertHeld(dmabuf.resv);
  for (const attach of [...dmabuf.attachments]) {
    attach.importerOps?.moveNotify?.(attach);
  }
}

/**
 * Ask every importer that implements `invalidateMappings` (or, for drivers written against older
 * kernels, `moveNotify`) to drop its mappings; attachments without the callback are skipped.
 *
 * **Kernel:** `dma_buf_invalidate_mappings()` (`latest` only).
 *
 * **Locking:** the exporter must hold `dmabuf.resv` (asserted). Synchronous.
 *
 * @throws {@link KernelError} `ENOSYS` before `latest` (use {@link dmaBufMoveNotify})
 */
export function dmaBufInvalidateMappings(dmabuf: DmaBuf): void {
  const kernel = dmabuf.kernel;
  if (!era.latest(kernel)) {
    throw new KernelError(
      "ENOSYS",
      `dma_buf_invalidate_mappings() does not exist on ${kernel.version.name}: use dma_buf_move_notify()`,
    );
  }
  dmaBufCheckAlive(dmabuf, "dma_buf_invalidate_mappings");
  dmaResvAssertHeld(dmabuf.resv);
  for (const attach of [...dmabuf.attachments]) {
    const ops = attach.importerOps;
    const cb = ops?.invalidateMappings ?? ops?.moveNotify;
    cb?.call(ops, attach);
  }
}

/**
 * Whether the importer can be told to give the buffer back (it implements `invalidateMappings`),
 * for exporters that must be able to revoke access (VFIO).
 *
 * **Kernel:** `dma_buf_attach_revocable()` (`latest`; false before).
 *
 * **Locking:** none.
 */
export function dmaBufAttachRevocable(attach: DmaBufAttachment): boolean {
  return (
    era.latest(attach.dmabuf.kernel) &&
    attach.importerOps !== null &&
    (attach.importerOps.invalidateMappings ?? attach.importerOps.moveNotify) !== undefined
  );
}
