/**
 * The dma-buf objects and the two callback tables that exporters and importers implement.
 *
 * **Kernel:** include/linux/dma-buf.h (`struct dma_buf`, `struct dma_buf_attachment`,
 * `struct dma_buf_ops`, `struct dma_buf_attach_ops`, `struct dma_buf_export_info`).
 *
 * Errors: where the kernel's callback returns a negative errno (or an `ERR_PTR`), a callback here
 * throws a `KernelError` with that errno; the core passes it on as the kernel does. Every callback
 * may return a Promise (the core awaits it) unless it says it must not sleep.
 *
 * @module
 */
import type { File, Kernel, Mutex, Vma, WaitQueueHead } from "@dmasim/kernel";
import type { Device } from "@dmasim/hardware";
import { DmaFenceCb, type DmaResv } from "@dmasim/dma-resv";
import type { DmaDataDirection, SgTable } from "@dmasim/dma-mapping";
import { iosysMapInit, type IosysMap } from "./iosys-map";

/**
 * The exporter's callbacks.
 *
 * **Kernel:** `struct dma_buf_ops`.
 *
 * "resv held" below means the core calls the member with `dmabuf.resv` locked by the caller (from
 * 6.2 for every importer; 5.6–6.1 only on the dynamic paths): the member must not lock it again
 * (hazard H12: a self-deadlock, or `-EALREADY` with an acquire context) and may use
 * `dmaResvAssertHeld`. "resv not held" members may lock it.
 */
export interface DmaBufOps {
  /**
   * Ask the core to cache the first mapping of each attachment (5.2 to 6.14; ignored elsewhere):
   * later maps return it without calling {@link DmaBufOps.mapDmaBuf} and without any cache
   * maintenance, a map in another direction fails with `EBUSY`, and unmap does nothing until
   * detach. Mutually exclusive with `pin`/`unpin` (export fails with `EINVAL`).
   */
  readonly cacheSgtMapping?: boolean;
  /**
   * A device is being attached. Optional. Called without resv (with `dmabuf.lock` held up to 5.5).
   * Store per-attachment state in `attach.priv`. Throw to refuse the device: `EBUSY` when the
   * backing storage cannot be reached by it and cannot move, `EOPNOTSUPP`, `ENOMEM`.
   * Peer-to-peer memory may be handed out only when `attach.peer2peer` is set.
   */
  attach?(dmabuf: DmaBuf, attach: DmaBufAttachment): void | Promise<void>;
  /** The attachment is going away (after its cached mapping was unmapped). Optional; resv not held. */
  detach?(dmabuf: DmaBuf, attach: DmaBufAttachment): void | Promise<void>;
  /**
   * Pin the backing storage in place for `attach` (5.6+). Optional, but its presence makes the
   * exporter dynamic; must come with `unpin`. Called with resv held. On return the memory must be
   * usable by the attachment's device (moves and clears finished or fenced with KERNEL fences).
   * Throw on failure (`ENOMEM`, `EINTR`; never `EBUSY` while attachments exist: 6.16+ WARNs).
   */
  pin?(attach: DmaBufAttachment): void | Promise<void>;
  /** Undo one `pin` (5.6+). Mandatory if and only if `pin` is given. Called with resv held. */
  unpin?(attach: DmaBufAttachment): void | Promise<void>;
  /**
   * Map the buffer for `attach.dev` in direction `dir` and return a *new* sg table (ownership
   * passes to the caller) whose DMA addresses and lengths are page aligned. Mandatory. Called with
   * resv held (6.2+; before, only for dynamic importers or exporters). May sleep. A static exporter
   * must have finished moves and clears before it returns; a dynamic exporter describes them with
   * KERNEL fences. Throw `ENOMEM`, `EINTR`, `ERESTARTSYS`, or return null (the core turns it into
   * `ENOMEM`).
   */
  mapDmaBuf(
    attach: DmaBufAttachment,
    dir: DmaDataDirection,
  ): SgTable | null | Promise<SgTable | null>;
  /**
   * Unmap and free a table that `mapDmaBuf` returned (the core has undone its debug mangling).
   * Mandatory. Called with resv held (6.2+). `dir` is what the importer passed, which the core does
   * not compare with the map direction.
   */
  unmapDmaBuf(attach: DmaBufAttachment, sgt: SgTable, dir: DmaDataDirection): void | Promise<void>;
  /**
   * The last reference is gone: free the exporter's state. Mandatory. Must not sleep (it runs from
   * the final `fput`). Attachments still present at this point are a WARN after this call.
   */
  release(dmabuf: DmaBuf): void;
  /**
   * The CPU is about to access the buffer in direction `dir`: make it coherent (invalidate, copy
   * bounce buffers back). Optional; resv not held (it may lock it). The core waits for the implicit
   * fences only *after* this returns (hazard H9). Throw `ERESTARTSYS` / `EINTR` to fail the call.
   */
  beginCpuAccess?(dmabuf: DmaBuf, dir: DmaDataDirection): void | Promise<void>;
  /** The CPU is done: write back for the devices. Optional; resv not held; may throw. */
  endCpuAccess?(dmabuf: DmaBuf, dir: DmaDataDirection): void | Promise<void>;
  /**
   * Set up a user mapping: install PTEs (`remapPfnRange`, or a fault handler in `vma.vmOps`) with
   * the memory type the buffer needs (`vma.pageProt`). Optional (without it mmap fails with
   * `EINVAL`). The core has already checked the size. resv not held; `mmap_lock` is held.
   */
  mmap?(dmabuf: DmaBuf, vma: Vma): void | Promise<void>;
  /**
   * Map the whole buffer into kernel address space and fill `map`. Optional (without it vmap fails
   * with `EINVAL`). Called with resv held (6.2+; `dmabuf.lock` before). Called only for the first
   * of nested vmaps. Throw `ENOMEM` on failure.
   */
  vmap?(dmabuf: DmaBuf, map: IosysMap): void | Promise<void>;
  /** Undo `vmap` (the last vunmap). Optional. Called with resv held (6.2+). */
  vunmap?(dmabuf: DmaBuf, map: IosysMap): void | Promise<void>;
}

/**
 * The importer's callbacks of a dynamic attachment ({@link dmaBufDynamicAttach}).
 *
 * **Kernel:** `struct dma_buf_attach_ops`.
 */
export interface DmaBufAttachOps {
  /** The importer can use DMA addresses without a `struct page` (peer-to-peer, 5.8+). */
  readonly allowPeer2peer?: boolean;
  /**
   * The exporter is moving the buffer (5.6 to 6.15: mandatory; `dmaBufDynamicAttach` WARNs and
   * fails with `EINVAL` without it). Called with resv held by the exporter, from
   * {@link dmaBufMoveNotify}. Existing mappings stay valid only until the move's KERNEL fences
   * signal: drop and re-create them (under resv) before the next DMA, and add fences for work that
   * cannot be stopped. Must not sleep on resv.
   */
  moveNotify?(attach: DmaBufAttachment): void;
  /**
   * The `latest` name of `moveNotify` (optional there): called by
   * {@link dmaBufInvalidateMappings}. Until the importer unmaps it may still read (results
   * discarded) but must not write; it must unmap within bounded time. On `latest` a `moveNotify`
   * given instead is called in its place (for drivers written against older kernels).
   */
  invalidateMappings?(attach: DmaBufAttachment): void;
}

/**
 * The module that owns an exporter: `dma_buf_export` takes a reference on it for the buffer's
 * lifetime and fails with `ENOENT` while it is being unloaded.
 *
 * **Kernel:** `struct module` (`THIS_MODULE`), `try_module_get()` / `module_put()`.
 *
 * **Locking:** none (counted atomically).
 */
export class DmaBufOwner {
  /** References held (one per live buffer). */
  refs = 0;
  /** The module is being unloaded: `try_module_get` fails. */
  going = false;

  constructor(readonly name: string) {}
}

/**
 * What an exporter passes to {@link dmaBufExport}.
 *
 * **Kernel:** `struct dma_buf_export_info` (`DEFINE_DMA_BUF_EXPORT_INFO()` fills `exp_name` and
 * `owner` with the module's).
 */
export interface DmaBufExportInfo {
  /** The exporter's name (bufinfo, fdinfo). Default `"dmasim"` (the kernel's `KBUILD_MODNAME`). */
  readonly expName?: string;
  /** The owning module; default: none (built in, always gettable). */
  readonly owner?: DmaBufOwner;
  readonly ops: DmaBufOps;
  /** Bytes (not validated: 0 is accepted, as in the kernel). */
  readonly size: number;
  /** File flags: only `O_ACCMODE` and `O_NONBLOCK` are kept (default `O_RDWR`). */
  readonly flags?: number;
  /** A reservation object to share (e.g. a GEM object's); default: an embedded one. */
  readonly resv?: DmaResv | null;
  /** The exporter's private object. Mandatory (non-null). */
  readonly priv: unknown;
}

/**
 * One of the two poll callback slots.
 *
 * **Kernel:** `struct dma_buf_poll_cb_t`.
 *
 * **Locking:** `active` is protected by the poll wait queue's lock.
 */
export class DmaBufPollCb {
  /** The event (`POLLIN` / `POLLOUT`) armed, or 0. */
  active = 0;
  readonly cb = new DmaFenceCb();
}

/**
 * A shared buffer.
 *
 * **Kernel:** `struct dma_buf`.
 *
 * **Locking:** `attachments`, `vmappingCounter` and `vmapPtr` are protected by `resv` (6.2+; the
 * attachment list by `resv` from 5.6, everything by `lock` before); `name` by the name spinlock
 * (a plain field here: one thread runs between scheduling points).
 */
export class DmaBuf {
  /**
   * The anonymous file; its reference count is the buffer's. It stays set after the release (as
   * a stale pointer would), so that a put too many is a refcount underflow.
   */
  file: File | null = null;
  /** Attachments, newest first. */
  readonly attachments: DmaBufAttachment[] = [];
  /** Nested vmaps. */
  vmappingCounter = 0;
  /** The shared vmap. */
  readonly vmapPtr: IosysMap = iosysMapInit();
  /** The user-set name (`DMA_BUF_SET_NAME`), or null. */
  name: string | null = null;
  /** Pollers wait here. */
  readonly poll: WaitQueueHead;
  /** The `POLLIN` callback slot. */
  readonly cbIn = new DmaBufPollCb();
  /** The `POLLOUT` callback slot. */
  readonly cbOut = new DmaBufPollCb();
  /** The inode number (unique per buffer; bufinfo's `ino`, sysfs's directory). */
  ino = 0;
  /** `ops.release` has run. */
  released = false;
  /** The step of the release (for the use-after-free report), or -1. */
  releasedAt = -1;

  /** @internal use {@link dmaBufExport} */
  constructor(
    readonly kernel: Kernel,
    readonly ops: DmaBufOps,
    readonly size: number,
    readonly expName: string,
    readonly owner: DmaBufOwner | null,
    /** The exporter's private object. */
    readonly priv: unknown,
    /** The reservation object (embedded or the exporter's). */
    readonly resv: DmaResv,
    /** Whether `resv` is the embedded one (finalised at release). */
    readonly ownsResv: boolean,
    /** `dmabuf->lock` (up to 6.1): the attachment list (≤5.5) and vmap. */
    readonly lock: Mutex,
    poll: WaitQueueHead,
  ) {
    this.poll = poll;
  }
}

/** A mapping an importer holds and has not unmapped yet (what the leak check reports). */
export interface DmaBufMapping {
  readonly sgt: SgTable;
  readonly dir: DmaDataDirection;
  readonly step: number;
}

/**
 * One device's attachment to a buffer.
 *
 * **Kernel:** `struct dma_buf_attachment`.
 *
 * **Locking:** `sgt`/`dir` and the list membership are protected by `dmabuf.resv` (5.6+).
 */
export class DmaBufAttachment {
  /** The exporter's per-attachment state (set it in `ops.attach`). */
  priv: unknown = null;
  /** The cached mapping (5.2 to 6.14), or null. */
  sgt: SgTable | null = null;
  /** The direction of the cached mapping. */
  dir: DmaDataDirection = 0;
  /** `dma_buf_detach` has freed it. */
  detached = false;
  /** Mappings handed to the importer and not yet unmapped (a table cached by the core excluded). */
  readonly mappings: DmaBufMapping[] = [];
  /** @internal pins taken by the core at map (6.16+ pin_on_map, ≤6.15 !MOVE_NOTIFY) */
  corePins = 0;

  /** @internal use {@link dmaBufAttach} / {@link dmaBufDynamicAttach} */
  constructor(
    readonly dmabuf: DmaBuf,
    /** The importer's device (its DMA parameters decide the mapping). */
    readonly dev: Device,
    /** The importer's callbacks: set for a dynamic attachment. */
    readonly importerOps: DmaBufAttachOps | null,
    /** The importer's private object. */
    readonly importerPriv: unknown,
    /** The importer handles DMA addresses without struct page (`allow_peer2peer`). */
    readonly peer2peer: boolean,
  ) {}
}
