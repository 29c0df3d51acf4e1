/**
 * Sync files: a fence exported to userspace as a file descriptor (explicit synchronisation).
 *
 * **Kernel:** drivers/dma-buf/sync_file.c, include/linux/sync_file.h, include/uapi/linux/sync_file.h.
 *
 * A sync file holds one fence reference (possibly a container) for as long as its file lives: the
 * fence outlives its creator's reference and is put only when the last file reference goes
 * (`sync_file_release()`: the armed poll callback is removed first). `poll()` reports `POLLIN` once
 * the fence has signaled (the first poll arms a callback that wakes the file's wait queue). The
 * ioctls merge two sync files into a new one, describe the fences inside, and pass a deadline hint.
 *
 * @module
 */
import {
  KernelError,
  O_CLOEXEC,
  POLLIN,
  anonInodeGetfile,
  fput,
  initWaitqueueHead,
  isKernelError,
  wakeUpAll,
  type File,
  type FileOperations,
  type Kernel,
  type Process,
  type WaitQueueHead,
} from "@dmasim/kernel";
import {
  DmaFenceCb,
  dmaFenceAddCallback,
  dmaFenceDriverName,
  dmaFenceGet,
  dmaFenceGetStatus,
  dmaFenceIsSignaled,
  dmaFencePut,
  dmaFenceRemoveCallback,
  dmaFenceSetDeadline,
  dmaFenceTimelineName,
  dmaFenceTimestamp,
  type DmaFence,
} from "./dma-fence";
import { dmaFenceUnwrapForEach, dmaFenceUnwrapMerge } from "./dma-fence-unwrap";

const IOC_WRITE = 1;
const IOC_READ = 2;
function ioc(dir: number, type: number, nr: number, size: number): number {
  return ((dir << 30) | (size << 16) | (type << 8) | nr) >>> 0;
}

/** **Kernel:** `SYNC_IOC_MAGIC` (`'>'`). */
export const SYNC_IOC_MAGIC = 0x3e;
/** Merge two sync files into a new one. **Kernel:** `SYNC_IOC_MERGE`, `_IOWR('>', 3, struct sync_merge_data)`. */
export const SYNC_IOC_MERGE = ioc(IOC_READ | IOC_WRITE, SYNC_IOC_MAGIC, 3, 48);
/** Describe the fences. **Kernel:** `SYNC_IOC_FILE_INFO`, `_IOWR('>', 4, struct sync_file_info)`. */
export const SYNC_IOC_FILE_INFO = ioc(IOC_READ | IOC_WRITE, SYNC_IOC_MAGIC, 4, 56);
/** Deadline hint. **Kernel:** `SYNC_IOC_SET_DEADLINE`, `_IOW('>', 5, struct sync_set_deadline)`. */
export const SYNC_IOC_SET_DEADLINE = ioc(IOC_WRITE, SYNC_IOC_MAGIC, 5, 16);

/** **Kernel:** `struct sync_merge_data` (the `fence` field receives the new fd). */
export interface SyncMergeData {
  name: string;
  fd2: number;
  fence: number;
  flags: number;
  pad: number;
}

/** **Kernel:** `struct sync_fence_info`. */
export interface SyncFenceInfo {
  objName: string;
  driverName: string;
  status: number;
  flags: number;
  timestampNs: number;
}

/**
 * **Kernel:** `struct sync_file_info`. Set `numFences` to 0 to learn the count, then to at least
 * the count to receive `syncFenceInfo`.
 */
export interface SyncFileInfo {
  name: string;
  status: number;
  flags: number;
  numFences: number;
  pad: number;
  syncFenceInfo: SyncFenceInfo[];
}

/** **Kernel:** `struct sync_set_deadline`. */
export interface SyncSetDeadline {
  deadlineNs: number;
  pad: number;
}

/**
 * A sync file.
 *
 * **Kernel:** `struct sync_file`.
 *
 * **Locking:** `fence` is set at creation and never changes.
 */
export class SyncFile {
  /** The anon-inode file (`anon_inode:sync_file`). */
  readonly file: File;
  /** Name given by SYNC_IOC_MERGE (at most 31 characters), or "". */
  userName = "";
  /** Pollers wait here. */
  readonly wq: WaitQueueHead;
  /** @internal the poll callback */
  readonly cb = new DmaFenceCb();
  /** @internal POLL_ENABLED */
  pollEnabled = false;

  /** @internal use {@link syncFileCreate} */
  constructor(
    readonly kernel: Kernel,
    /** The fence (a reference owned by the sync file). */
    readonly fence: DmaFence,
  ) {
    this.wq = initWaitqueueHead(kernel, "sync_file->wq");
    this.file = anonInodeGetfile(kernel, "sync_file", SYNC_FILE_FOPS, this, 0);
  }
}

/**
 * Wrap `fence` in a new sync file (taking a reference on it). Install it in a process with
 * {@link syncFileInstall}.
 *
 * **Kernel:** `sync_file_create()`.
 *
 * **Locking:** any non-atomic context.
 */
export function syncFileCreate(fence: DmaFence): SyncFile {
  return new SyncFile(fence.kernel, dmaFenceGet(fence));
}

/**
 * Install the sync file's file in `process`'s fd table (the table takes over the file's
 * reference). Returns the fd.
 *
 * **Kernel:** `get_unused_fd_flags(flags)` + `fd_install(fd, sync_file->file)`.
 *
 * **Locking:** process context.
 *
 * @throws {@link KernelError} `EMFILE` when the table is full (the sync file is then unchanged)
 */
export function syncFileInstall(process: Process, syncFile: SyncFile, flags = 0): number {
  return process.installFd(syncFile.file, flags);
}

function syncFileOf(file: File): SyncFile | null {
  return file.fOp === SYNC_FILE_FOPS ? (file.privateData as SyncFile) : null;
}

/**
 * The sync file behind `fd`, with a file reference the caller must `fput`, or null when `fd` is
 * not open or is not a sync file.
 *
 * **Kernel:** `sync_file_fdget()`.
 *
 * **Locking:** process context.
 */
export function syncFileFdget(process: Process, fd: number): SyncFile | null {
  if (!process.peek(fd)) {
    return null;
  }
  const file = process.fget(fd);
  const sf = syncFileOf(file);
  if (!sf) {
    fput(file);
  }
  return sf;
}

/**
 * A new reference to the fence of the sync file at `fd`, or null when `fd` is not a sync file.
 *
 * **Kernel:** `sync_file_get_fence()`.
 *
 * **Locking:** process context.
 */
export function syncFileGetFence(process: Process, fd: number): DmaFence | null {
  const sf = syncFileFdget(process, fd);
  if (!sf) {
    return null;
  }
  const fence = dmaFenceGet(sf.fence);
  fput(sf.file);
  return fence;
}

/**
 * The sync file's name: its user name, or `<driver>-<timeline><context>-<seqno>`.
 *
 * **Kernel:** `sync_file_get_name()`.
 *
 * **Locking:** any context.
 */
export function syncFileGetName(syncFile: SyncFile): string {
  if (syncFile.userName) {
    return syncFile.userName;
  }
  const f = syncFile.fence;
  return `${dmaFenceDriverName(f)}-${dmaFenceTimelineName(f)}${f.context}-${f.seqno}`;
}

/**
 * A new sync file whose fence is the merge of `a`'s and `b`'s (see {@link dmaFenceUnwrapMerge}).
 *
 * **Kernel:** `sync_file_merge()`.
 *
 * **Locking:** any non-atomic context.
 */
export function syncFileMerge(name: string, a: SyncFile, b: SyncFile): SyncFile {
  const fence = dmaFenceUnwrapMerge(a.kernel, a.fence, b.fence);
  const sf = new SyncFile(a.kernel, fence);
  sf.userName = name.slice(0, 31);
  return sf;
}

function fenceCheckCb(sf: SyncFile): void {
  wakeUpAll(sf.wq);
}

function syncFilePoll(file: File): number {
  const sf = file.privateData as SyncFile;
  if (sf.cb.queuedOn === null && !sf.pollEnabled) {
    sf.pollEnabled = true;
    try {
      dmaFenceAddCallback(sf.fence, sf.cb, () => fenceCheckCb(sf));
    } catch (e) {
      if (!isKernelError(e, "ENOENT")) {
        throw e;
      }
      wakeUpAll(sf.wq);
    }
  }
  return dmaFenceIsSignaled(sf.fence) ? POLLIN : 0;
}

/** The last file reference went: drop the poll callback, then the fence (`sync_file_release()`). */
function syncFileRelease(file: File): void {
  const sf = file.privateData as SyncFile;
  if (sf.pollEnabled) {
    dmaFenceRemoveCallback(sf.fence, sf.cb);
  }
  dmaFencePut(sf.fence);
}

function asObject<T>(arg: unknown): T {
  if (typeof arg !== "object" || arg === null) {
    throw new KernelError("EFAULT", "ioctl argument is not a user pointer");
  }
  return arg as T;
}

function ioctlMerge(sf: SyncFile, arg: unknown, process: Process): number {
  const fd = process.getUnusedFd();
  const data = asObject<SyncMergeData>(arg);
  if (data.flags || data.pad) {
    throw new KernelError("EINVAL", "sync_merge_data: flags and pad must be 0");
  }
  const other = syncFileFdget(process, data.fd2);
  if (!other) {
    throw new KernelError("ENOENT", `fd ${data.fd2} is not a sync file`);
  }
  try {
    const merged = syncFileMerge(String(data.name ?? ""), sf, other);
    data.fence = fd;
    process.installFd(merged.file, O_CLOEXEC);
  } finally {
    fput(other.file);
  }
  return 0;
}

function fillFenceInfo(fence: DmaFence): SyncFenceInfo {
  const status = dmaFenceGetStatus(fence);
  return {
    objName: dmaFenceTimelineName(fence).slice(0, 31),
    driverName: dmaFenceDriverName(fence).slice(0, 31),
    status,
    flags: 0,
    timestampNs: dmaFenceIsSignaled(fence) ? dmaFenceTimestamp(fence) : 0,
  };
}

function ioctlFenceInfo(sf: SyncFile, arg: unknown): number {
  const info = asObject<SyncFileInfo>(arg);
  if (info.flags || info.pad) {
    throw new KernelError("EINVAL", "sync_file_info: flags and pad must be 0");
  }
  let numFences = 0;
  for (const _f of dmaFenceUnwrapForEach(sf.fence)) {
    numFences++;
  }
  const out: SyncFenceInfo[] = [];
  let status: number;
  if (!info.numFences) {
    status = dmaFenceGetStatus(sf.fence);
  } else {
    if (info.numFences < numFences) {
      throw new KernelError(
        "EINVAL",
        `sync_file_info: room for ${info.numFences}, ${numFences} fences`,
      );
    }
    status = 1;
    for (const f of dmaFenceUnwrapForEach(sf.fence)) {
      const fi = fillFenceInfo(f);
      out.push(fi);
      status = status <= 0 ? status : fi.status;
    }
    info.syncFenceInfo = out;
  }
  info.status = status;
  info.name = syncFileGetName(sf);
  info.numFences = numFences;
  return 0;
}

function ioctlSetDeadline(sf: SyncFile, arg: unknown): number {
  const d = asObject<SyncSetDeadline>(arg);
  if (d.pad) {
    throw new KernelError("EINVAL", "sync_set_deadline: pad must be 0");
  }
  dmaFenceSetDeadline(sf.fence, d.deadlineNs);
  return 0;
}

function syncFileIoctl(file: File, cmd: number, arg: unknown, process: Process): number {
  const sf = file.privateData as SyncFile;
  switch (cmd) {
    case SYNC_IOC_MERGE:
      return ioctlMerge(sf, arg, process);
    case SYNC_IOC_FILE_INFO:
      return ioctlFenceInfo(sf, arg);
    case SYNC_IOC_SET_DEADLINE:
      return ioctlSetDeadline(sf, arg);
    default:
      throw new KernelError("ENOTTY", `sync_file: unknown ioctl 0x${cmd.toString(16)}`);
  }
}

/**
 * The file operations of sync files.
 *
 * **Kernel:** `sync_file_fops`.
 */
export const SYNC_FILE_FOPS: FileOperations = {
  name: "sync_file",
  release: syncFileRelease,
  poll: syncFilePoll,
  unlockedIoctl: syncFileIoctl,
};
