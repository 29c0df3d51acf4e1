/**
 * The dma-buf core: export, file descriptors and references, release, and the file operations of
 * a dma-buf fd (llseek, poll, ioctl dispatch, fdinfo).
 *
 * **Kernel:** drivers/dma-buf/dma-buf.c (`dma_buf_export`, `dma_buf_fd`, `dma_buf_get`,
 * `dma_buf_put`, `dma_buf_release`, `dma_buf_file_release`, `dma_buf_llseek`, `dma_buf_poll`,
 * `dma_buf_ioctl`, `dma_buf_show_fdinfo`, `dmabuffs_dname`, `dma_buf_set_name`).
 *
 * The other sections of dma-buf.c live beside this file: attach (dma-buf-attach.ts), map
 * (dma-buf-map.ts), CPU access (dma-buf-cpu-access.ts), mmap (dma-buf-mmap.ts), vmap
 * (dma-buf-vmap.ts), the sync_file ioctls (dma-buf-sync-file.ts), debugfs (dma-buf-debugfs.ts).
 *
 * @module
 */
import {
  BUG_ON,
  KernelError,
  O_ACCMODE,
  O_NONBLOCK,
  O_RDWR,
  POLLERR,
  POLLIN,
  POLLOUT,
  WARN_ON,
  anonInodeGetfile,
  fput,
  getFile,
  initWaitqueueHead,
  might_sleep,
  mutexInit,
  mutexLock,
  mutexUnlock,
  refcountRead,
  sizeT,
  wakeUpAll,
  type File,
  type FileOperations,
  type Kernel,
  type Process,
} from "@dmasim/kernel";
import {
  DMA_RESV_USAGE_READ,
  DMA_RESV_USAGE_WRITE,
  dmaFenceAddCallback,
  dmaFenceGet,
  dmaFencePut,
  dmaResvFini,
  dmaResvForEachFenceUnlocked,
  dmaResvInit,
  dmaResvIterBegin,
  dmaResvIterEnd,
  dmaResvLock,
  dmaResvUnlock,
  type DmaFence,
} from "@dmasim/dma-resv";
import {
  DmaBuf,
  type DmaBufAttachment,
  type DmaBufExportInfo,
  type DmaBufPollCb,
} from "./include/dma-buf";
import { dmaBufCheckAlive, dmaBufState, era, exporterCallSync } from "./module";
import { dmaBufIoctlSync } from "./dma-buf-cpu-access";
import { dmaBufMmapInternal } from "./dma-buf-mmap";
import { dmaBufExportSyncFile, dmaBufImportSyncFile } from "./dma-buf-sync-file";
import {
  DMA_BUF_IOCTL_EXPORT_SYNC_FILE,
  DMA_BUF_IOCTL_IMPORT_SYNC_FILE,
  DMA_BUF_IOCTL_SYNC,
  DMA_BUF_NAME_LEN,
  DMA_BUF_SET_NAME_A,
  DMA_BUF_SET_NAME_B,
} from "./uapi/dma-buf";

const SITE = "drivers/dma-buf/dma-buf.c";

/** `FMODE_READ`, `FMODE_WRITE`, `FMODE_LSEEK`, `FMODE_OPENED` (bufinfo's `mode` column). */
const FMODE_READ = 0x1;
const FMODE_WRITE = 0x2;
const FMODE_LSEEK = 0x4;
const FMODE_OPENED = 0x80000;

/**
 * Whether the exporter is dynamic: it has `pin` (5.6+; never before).
 *
 * **Kernel:** `dma_buf_is_dynamic()`.
 *
 * **Locking:** none.
 */
export function dmaBufIsDynamic(dmabuf: DmaBuf): boolean {
  return era.dynamic(dmabuf.kernel) && dmabuf.ops.pin !== undefined;
}

/**
 * Whether the attachment is dynamic: the importer gave `importer_ops`.
 *
 * **Kernel:** `dma_buf_attachment_is_dynamic()`.
 *
 * **Locking:** none.
 */
export function dmaBufAttachmentIsDynamic(attach: DmaBufAttachment): boolean {
  return attach.importerOps !== null;
}

/**
 * Whether `file` is a dma-buf.
 *
 * **Kernel:** `is_dma_buf_file()`.
 *
 * **Locking:** none.
 */
export function isDmaBufFile(file: File): boolean {
  return file.fOp === DMA_BUF_FOPS;
}

function fail(kernel: Kernel, fn: string, cond: boolean, msg: string): void {
  if (WARN_ON(kernel, cond, `${SITE}:${fn}`, msg)) {
    throw new KernelError("EINVAL", `${fn}: ${msg}`);
  }
}

/**
 * Wrap an exporter's buffer in a new dma-buf. The buffer holds one file reference and **no fd**:
 * give it one with {@link dmaBufFd} or drop it with {@link dmaBufPut}.
 *
 * **Kernel:** `dma_buf_export()`. Validation in the kernel's order: WARN + `EINVAL` for a null
 * `priv`, no `ops` or a missing `map_dma_buf` / `unmap_dma_buf` / `release`; (5.2–6.15) WARN +
 * `EINVAL` for `cacheSgtMapping` with `pin` or `unpin`; (5.6+) WARN + `EINVAL` when only one of
 * `pin`/`unpin` is given; `ENOENT` when the owner module is going away.
 *
 * **Locking:** may sleep (checked with `might_sleep`; synchronous). The caller must not hold the
 * buffer's reservation lock (it is new, or the exporter's shared one).
 *
 * @throws {@link KernelError} `EINVAL` (after a WARN), `ENOENT`
 */
export function dmaBufExport(kernel: Kernel, expInfo: DmaBufExportInfo): DmaBuf {
  const ops = expInfo.ops as Partial<DmaBufExportInfo["ops"]> | undefined | null;
  fail(
    kernel,
    "dma_buf_export",
    expInfo.priv === null ||
      expInfo.priv === undefined ||
      !ops ||
      !ops.mapDmaBuf ||
      !ops.unmapDmaBuf ||
      !ops.release,
    "priv, ops and ops->map_dma_buf/unmap_dma_buf/release are mandatory",
  );
  const o = expInfo.ops;
  if (era.cacheSgt(kernel)) {
    fail(
      kernel,
      "dma_buf_export",
      o.cacheSgtMapping === true && (o.pin !== undefined || o.unpin !== undefined),
      "cache_sgt_mapping cannot be combined with pin/unpin",
    );
  }
  if (era.dynamic(kernel)) {
    fail(
      kernel,
      "dma_buf_export",
      (o.pin === undefined) !== (o.unpin === undefined),
      "pin and unpin come together",
    );
  }
  const size = sizeT(expInfo.size, "dma_buf_export", "size");
  const owner = expInfo.owner ?? null;
  if (owner?.going) {
    throw new KernelError("ENOENT", `dma_buf_export: module ${owner.name} is going away`);
  }
  might_sleep(kernel, `${SITE}:dma_buf_export`);
  if (owner) {
    owner.refs++;
  }
  const state = dmaBufState(kernel);
  const resv = expInfo.resv ?? dmaResvInit(kernel, "&dmabuf->resv");
  const dmabuf = new DmaBuf(
    kernel,
    o,
    size,
    expInfo.expName ?? "dmasim",
    owner,
    expInfo.priv,
    resv,
    !expInfo.resv,
    mutexInit(kernel, "&dmabuf->lock", "&dmabuf->lock"),
    initWaitqueueHead(kernel, "&dmabuf->poll"),
  );
  dmabuf.ino = ++state.inode;
  const flags = (expInfo.flags ?? O_RDWR) & (O_ACCMODE | O_NONBLOCK);
  dmabuf.file = anonInodeGetfile(kernel, "dmabuf", DMA_BUF_FOPS, dmabuf, flags);
  state.buffers.unshift(dmabuf);
  kernel.trace("dma-buf", "dma-buf", "export", {
    ino: dmabuf.ino,
    size: dmabuf.size,
    exp: dmabuf.expName,
  });
  return dmabuf;
}

/**
 * Install the buffer's file in `process`'s fd table. The fd consumes the reference
 * {@link dmaBufExport} returned (no new reference is taken). Only `O_CLOEXEC` in `flags` matters.
 *
 * **Kernel:** `dma_buf_fd()` (`get_unused_fd_flags()` + `fd_install()` in `current`'s table).
 *
 * **Locking:** process context; must not hold the reservation lock.
 *
 * @throws {@link KernelError} `EINVAL` for a null buffer or one without a file; `EMFILE`
 */
export function dmaBufFd(dmabuf: DmaBuf | null, flags: number, process: Process): number {
  if (!dmabuf || !dmabuf.file) {
    throw new KernelError("EINVAL", "dma_buf_fd: no dma_buf or no file");
  }
  dmaBufCheckAlive(dmabuf, "dma_buf_fd");
  return process.installFd(dmabuf.file, flags);
}

/**
 * The buffer behind `fd` in `process`, with a new reference the caller drops with
 * {@link dmaBufPut}.
 *
 * **Kernel:** `dma_buf_get()`.
 *
 * **Locking:** process context; must not hold the reservation lock.
 *
 * @throws {@link KernelError} `EBADF` when `fd` is not open; `EINVAL` when it is not a dma-buf (the
 * temporary reference is dropped first)
 */
export function dmaBufGet(process: Process, fd: number): DmaBuf {
  const file = process.fget(fd);
  if (!isDmaBufFile(file)) {
    fput(file);
    throw new KernelError("EINVAL", `dma_buf_get: fd ${fd} is not a dma-buf`);
  }
  return file.privateData as DmaBuf;
}

/**
 * Take a reference on the buffer.
 *
 * **Kernel:** `get_dma_buf()` (`get_file()`).
 *
 * **Locking:** any context.
 */
export function getDmaBuf(dmabuf: DmaBuf): void {
  if (dmabuf.file) {
    getFile(dmabuf.file);
  }
}

/**
 * Drop a reference; the last one releases the buffer (`ops.release`, see {@link DmaBufOps}). A
 * reference dropped twice is a refcount underflow (`use-after-free` finding), as in the kernel
 * (hazard H26).
 *
 * **Kernel:** `dma_buf_put()`: WARN and return for a buffer without a file, else `fput()`.
 *
 * **Locking:** any context; must not hold the reservation lock (the release may need it).
 */
export function dmaBufPut(dmabuf: DmaBuf): void {
  if (WARN_ON(dmabuf.kernel, !dmabuf.file, `${SITE}:dma_buf_put`, "dma_buf_put: no file")) {
    return;
  }
  fput(dmabuf.file as File);
}

/** The last file reference is gone: list removal, then the dentry's release. */
function dmaBufFileRelease(file: File): void {
  const dmabuf = file.privateData as DmaBuf;
  const state = dmaBufState(dmabuf.kernel);
  const i = state.buffers.indexOf(dmabuf);
  if (i >= 0) {
    state.buffers.splice(i, 1);
  }
  dmaBufRelease(dmabuf);
}

/**
 * Free a buffer whose last reference was dropped: BUG if it is still vmapped or a poll callback
 * is armed, `ops.release`, finalise the embedded reservation object, WARN if attachments remain
 * (after the exporter already freed its state), drop the module reference.
 *
 * @internal **Kernel:** `dma_buf_release()` (the dentry's `d_release`).
 */
function dmaBufRelease(dmabuf: DmaBuf): void {
  const kernel = dmabuf.kernel;
  BUG_ON(
    kernel,
    dmabuf.vmappingCounter !== 0,
    `${SITE}:dma_buf_release`,
    `dma-buf ${dmabuf.ino} released while vmapped (vmapping_counter ${dmabuf.vmappingCounter})`,
  );
  BUG_ON(
    kernel,
    dmabuf.cbIn.active !== 0 || dmabuf.cbOut.active !== 0,
    `${SITE}:dma_buf_release`,
    `dma-buf ${dmabuf.ino} released with a poll callback armed`,
  );
  exporterCallSync(kernel, () => dmabuf.ops.release(dmabuf), "release");
  dmabuf.released = true;
  dmabuf.releasedAt = kernel.step;
  if (dmabuf.ownsResv) {
    dmaResvFini(dmabuf.resv);
  }
  WARN_ON(
    kernel,
    dmabuf.attachments.length !== 0,
    `${SITE}:dma_buf_release`,
    `dma-buf ${dmabuf.ino} released with ${dmabuf.attachments.length} attachment(s): ${dmabuf.attachments.map((a) => a.dev.name).join(", ")}`,
  );
  if (dmabuf.owner) {
    dmabuf.owner.refs--;
  }
  kernel.trace("dma-buf", "dma-buf", "release", { ino: dmabuf.ino });
}

/**
 * The name of the buffer's file in `/proc/PID/fd` and `/proc/PID/maps`: `/dmabuf:<name>` (nothing
 * after the colon when unnamed).
 *
 * **Kernel:** `dmabuffs_dname()`.
 *
 * **Locking:** takes the name lock (any context).
 */
export function dmaBufDname(dmabuf: DmaBuf): string {
  return `/dmabuf:${dmabuf.name ?? ""}`;
}

function dmaBufLlseek(file: File, offset: number, whence: number): number {
  if (!isDmaBufFile(file)) {
    throw new KernelError("EBADF", "dma_buf_llseek: not a dma-buf");
  }
  const dmabuf = file.privateData as DmaBuf;
  let base: number;
  if (whence === 2 /* SEEK_END */) {
    base = dmabuf.size;
  } else if (whence === 0 /* SEEK_SET */) {
    base = 0;
  } else {
    throw new KernelError(
      "EINVAL",
      `dma_buf_llseek: whence ${whence} (only SEEK_SET and SEEK_END)`,
    );
  }
  if (offset !== 0) {
    throw new KernelError("EINVAL", `dma_buf_llseek: offset ${offset} (only 0)`);
  }
  return base + offset;
}

function pollCb(dmabuf: DmaBuf, dcb: DmaBufPollCb, fence: DmaFence | null): void {
  wakeUpAll(dmabuf.poll);
  dcb.active = 0;
  dmaFencePut(fence);
  fput(dmabuf.file as File);
}

/** Arm `dcb` on the first unsignaled fence of the usage; false when there is none. */
function pollAddCb(dmabuf: DmaBuf, write: boolean, dcb: DmaBufPollCb): boolean {
  const cursor = dmaResvIterBegin(dmabuf.resv, write ? DMA_RESV_USAGE_READ : DMA_RESV_USAGE_WRITE);
  try {
    for (const fence of dmaResvForEachFenceUnlocked(cursor)) {
      const f = dmaFenceGet(fence);
      try {
        dmaFenceAddCallback(f, dcb.cb, (done) => pollCb(dmabuf, dcb, done));
        return true;
      } catch {
        dmaFencePut(f);
      }
    }
  } finally {
    dmaResvIterEnd(cursor);
  }
  return false;
}

function pollOne(dmabuf: DmaBuf, events: number, ev: number, dcb: DmaBufPollCb): number {
  if (!(events & ev)) {
    return events;
  }
  if (dcb.active) {
    return events & ~ev;
  }
  dcb.active = ev;
  getFile(dmabuf.file as File);
  if (!pollAddCb(dmabuf, ev === POLLOUT, dcb)) {
    pollCb(dmabuf, dcb, null);
    return events;
  }
  return events & ~ev;
}

/**
 * poll(): `POLLIN` is ready when no KERNEL/WRITE fence is pending, `POLLOUT` when no
 * KERNEL/WRITE/READ fence is; a pending one arms a one-shot callback (holding a file reference)
 * that wakes the pollers when it signals. Readiness says nothing about caches.
 *
 * Deviation: the kernel (5.15+) takes the reservation lock around this; the VFS poll of dmasim
 * cannot sleep, so the fences are read locklessly (as ≤5.14 did with RCU).
 */
function dmaBufPoll(file: File, requested: number): number {
  const dmabuf = file.privateData as DmaBuf | null;
  if (!dmabuf || dmabuf.released) {
    return POLLERR;
  }
  let events = requested & (POLLIN | POLLOUT);
  if (!events) {
    return 0;
  }
  events = pollOne(dmabuf, events, POLLOUT, dmabuf.cbOut);
  events = pollOne(dmabuf, events, POLLIN, dmabuf.cbIn);
  return events;
}

function userString(arg: unknown): string {
  if (typeof arg !== "string") {
    throw new KernelError("EFAULT", "DMA_BUF_SET_NAME: bad user pointer");
  }
  // strndup_user(ptr, DMA_BUF_NAME_LEN): the NUL must be within the first 32 bytes
  if (arg.length + 1 > DMA_BUF_NAME_LEN) {
    throw new KernelError(
      "EINVAL",
      `DMA_BUF_SET_NAME: name of ${arg.length} characters has no NUL within ${DMA_BUF_NAME_LEN} bytes`,
    );
  }
  return arg;
}

/**
 * Name the buffer (bufinfo, fdinfo, `/proc/PID/fd`). Up to 5.18 it fails with `EBUSY` while
 * devices are attached (checked under the reservation lock, or `dmabuf.lock` before 5.6); since
 * then it always renames (the in-source documentation still promises `EBUSY`: hazard H27).
 *
 * **Kernel:** `dma_buf_set_name()` (what `DMA_BUF_SET_NAME` calls after copying the string).
 *
 * **Locking:** may sleep (≤5.18: takes the reservation lock); must not hold it.
 *
 * @throws {@link KernelError} `EBUSY` (≤5.18, attached); `EINVAL` for a name of 32 characters or more
 */
export async function dmaBufSetName(dmabuf: DmaBuf, name: string): Promise<void> {
  const kernel = dmabuf.kernel;
  dmaBufCheckAlive(dmabuf, "dma_buf_set_name");
  if (name.length + 1 > DMA_BUF_NAME_LEN) {
    throw new KernelError("EINVAL", `dma_buf_set_name: name longer than ${DMA_BUF_NAME_LEN - 1}`);
  }
  if (!era.setNameBusy(kernel)) {
    dmabuf.name = name;
    return;
  }
  const locked = era.resvList(kernel);
  if (locked) {
    await dmaResvLock(dmabuf.resv, null);
  } else {
    await mutexLock(dmabuf.lock);
  }
  try {
    if (dmabuf.attachments.length > 0) {
      throw new KernelError(
        "EBUSY",
        `dma_buf_set_name: dma-buf ${dmabuf.ino} is attached to ${dmabuf.attachments.length} device(s)`,
      );
    }
    dmabuf.name = name;
  } finally {
    if (locked) {
      dmaResvUnlock(dmabuf.resv);
    } else {
      mutexUnlock(dmabuf.lock);
    }
  }
}

async function dmaBufIoctl(
  file: File,
  cmd: number,
  arg: unknown,
  process: Process,
): Promise<number> {
  const dmabuf = file.privateData as DmaBuf;
  const kernel = dmabuf.kernel;
  switch (cmd) {
    case DMA_BUF_IOCTL_SYNC:
      return dmaBufIoctlSync(dmabuf, arg);
    case DMA_BUF_SET_NAME_A:
    case DMA_BUF_SET_NAME_B:
      if (!era.setName(kernel)) {
        break;
      }
      await dmaBufSetName(dmabuf, userString(arg));
      return 0;
    case DMA_BUF_IOCTL_EXPORT_SYNC_FILE:
      if (!era.syncFileIoctls(kernel)) {
        break;
      }
      return dmaBufExportSyncFile(dmabuf, arg, process);
    case DMA_BUF_IOCTL_IMPORT_SYNC_FILE:
      if (!era.syncFileIoctls(kernel)) {
        break;
      }
      return dmaBufImportSyncFile(dmabuf, arg, process);
    default:
      break;
  }
  throw new KernelError("ENOTTY", `dma_buf_ioctl: unknown command 0x${cmd.toString(16)}`);
}

/**
 * The dma-buf lines of `/proc/PID/fdinfo/FD`. `count` is the file's reference count: the kernel
 * prints `file_count - 1` to hide procfs's own temporary reference, which dmasim's procfs does not
 * take, so the numbers agree.
 */
function dmaBufShowFdinfo(file: File): string {
  const dmabuf = file.privateData as DmaBuf;
  let out = `size:\t${dmabuf.size}\ncount:\t${refcountRead(file.fCount)}\nexp_name:\t${dmabuf.expName}\n`;
  if (dmabuf.name !== null) {
    out += `name:\t${dmabuf.name}\n`;
  }
  return out;
}

/** `f_mode` as bufinfo prints it. @internal */
export function dmaBufFmode(file: File): number {
  return (
    (file.readable ? FMODE_READ : 0) |
    (file.writable ? FMODE_WRITE : 0) |
    FMODE_LSEEK |
    FMODE_OPENED
  );
}

/**
 * The file operations of a dma-buf fd: release, mmap (bounds-checked, then the exporter's),
 * llseek (`SEEK_END`/`SEEK_SET` with offset 0 only), poll (implicit fences), ioctl (`SYNC`,
 * `SET_NAME_A/B`, `EXPORT_SYNC_FILE`, `IMPORT_SYNC_FILE`; `ENOTTY` otherwise) and fdinfo. No read
 * or write.
 *
 * **Kernel:** `dma_buf_fops`.
 */
export const DMA_BUF_FOPS: FileOperations = {
  name: "dmabuf",
  release: dmaBufFileRelease,
  mmap: dmaBufMmapInternal,
  llseek: dmaBufLlseek,
  poll: dmaBufPoll,
  unlockedIoctl: dmaBufIoctl,
  showFdinfo: dmaBufShowFdinfo,
};
