/**
 * Files, device nodes and processes with fd tables: the part of the VFS that dma-buf, dma-heap and
 * sync_file stand on.
 *
 * **Kernel:** fs/file.c (fd tables, `fd_install`, `get_unused_fd_flags`), fs/file_table.c (`fput`),
 * fs/anon_inodes.c, fs/open.c, fs/ioctl.c, fs/read_write.c (`llseek`), fs/select.c (`poll`),
 * mm/mmap.c (`mmap`), fs/proc/fd.c (`/proc/PID/fdinfo`).
 *
 * @module
 */
import { KernelError } from "./errno";
import type { Kernel } from "./kernel";
import { fput, getFile } from "./file_table";
import { Refcount } from "./kref";
import {
  MAP_PRIVATE,
  MAP_SHARED,
  Mm,
  PAGE_SIZE,
  PROT_READ,
  PROT_WRITE,
  VM_MAYWRITE,
  VM_READ,
  VM_SHARED,
  VM_WRITE,
  Vma,
} from "./mm";
import { downWrite, upWrite } from "./rwsem";

/** open flags. **Kernel:** include/uapi/asm-generic/fcntl.h */
export const O_RDONLY = 0o0;
/** **Kernel:** `O_WRONLY`. */
export const O_WRONLY = 0o1;
/** **Kernel:** `O_RDWR`. */
export const O_RDWR = 0o2;
/** **Kernel:** `O_ACCMODE`. */
export const O_ACCMODE = 0o3;
/** **Kernel:** `O_NONBLOCK`. */
export const O_NONBLOCK = 0o4000;
/** **Kernel:** `O_CLOEXEC`. */
export const O_CLOEXEC = 0o2000000;

/** lseek whence. **Kernel:** `SEEK_SET`. */
export const SEEK_SET = 0;
/** **Kernel:** `SEEK_CUR`. */
export const SEEK_CUR = 1;
/** **Kernel:** `SEEK_END`. */
export const SEEK_END = 2;
/** The largest whence `lseek` accepts (`SEEK_HOLE`). */
const SEEK_MAX = 4;

/** poll events. **Kernel:** include/uapi/asm-generic/poll.h */
export const POLLIN = 0x0001;
/** **Kernel:** `POLLPRI`. */
export const POLLPRI = 0x0002;
/** **Kernel:** `POLLOUT`. */
export const POLLOUT = 0x0004;
/** **Kernel:** `POLLERR`. */
export const POLLERR = 0x0008;
/** **Kernel:** `POLLHUP`. */
export const POLLHUP = 0x0010;
/** **Kernel:** `POLLNVAL`. */
export const POLLNVAL = 0x0020;
/** **Kernel:** `POLLRDNORM`. */
export const POLLRDNORM = 0x0040;
/** **Kernel:** `POLLWRNORM`. */
export const POLLWRNORM = 0x0100;
/** What poll reports for a file without a poll operation. **Kernel:** `DEFAULT_POLLMASK`. */
export const DEFAULT_POLLMASK = POLLIN | POLLOUT | POLLRDNORM | POLLWRNORM;

/** The default `RLIMIT_NOFILE` soft limit. **Kernel:** `INR_OPEN_CUR`. */
export const INR_OPEN_CUR = 1024;

/**
 * File callbacks supplied by upper layers. **Kernel:** `struct file_operations`.
 *
 * Each member is optional, as in the kernel; the VFS gives the errno a real kernel gives when one
 * is missing (ENOTTY for ioctl, ENODEV for mmap, ESPIPE for llseek, DEFAULT_POLLMASK for poll).
 */
export interface FileOperations {
  /** Name used for anon inodes: `"dmabuf"`, `"sync_file"`. */
  readonly name: string;
  /** Called by `open()` of a device node. May sleep. */
  open?(file: File): void | Promise<void>;
  /** The last reference was dropped. Must not sleep. */
  release?(file: File): void;
  /**
   * `unlocked_ioctl`: returns a non-negative result or throws a {@link KernelError}. May sleep.
   * `process` is the calling process (the kernel's `current`, whose fd table an ioctl that
   * creates or looks up fds uses).
   */
  unlockedIoctl?(file: File, cmd: number, arg: unknown, process: Process): number | Promise<number>;
  /** Set up `vma` (called with `mmap_lock` held for write). May sleep. */
  mmap?(file: File, vma: Vma): void | Promise<void>;
  /** Return the new position or throw. */
  llseek?(file: File, offset: number, whence: number): number;
  /** Return the ready mask. */
  poll?(file: File, events: number): number;
  /** Extra lines for `/proc/PID/fdinfo/N`. */
  showFdinfo?(file: File): string;
}

/**
 * An open file. **Kernel:** `struct file`.
 *
 * **Locking:** `fCount` is atomic; `pos` is protected by the caller (the kernel's `f_pos_lock`).
 */
export class File {
  pos = 0;
  released = false;
  readonly fCount: Refcount;

  constructor(
    readonly kernel: Kernel,
    readonly fOp: FileOperations,
    public privateData: unknown,
    /** `f_flags`: access mode and O_* flags. */
    public flags: number,
    /** The path (`/dev/dma_heap/system`) or `anon_inode:<name>`. */
    readonly path: string,
    readonly ino: number,
  ) {
    this.fCount = new Refcount(kernel, `file ${path}`, 1);
  }

  /** `f_mode` access: readable. */
  get readable(): boolean {
    return (this.flags & O_ACCMODE) !== O_WRONLY;
  }

  /** `f_mode` access: writable. */
  get writable(): boolean {
    return (this.flags & O_ACCMODE) !== O_RDONLY;
  }
}

/**
 * Make a file on an anonymous inode (no path).
 *
 * **Kernel:** `anon_inode_getfile()` / `alloc_file_pseudo()`.
 *
 * **Locking:** none.
 */
export function anonInodeGetfile(
  kernel: Kernel,
  name: string,
  fOp: FileOperations,
  privateData: unknown,
  flags: number,
): File {
  return new File(kernel, fOp, privateData, flags, `anon_inode:${name}`, kernel.vfs.nextIno());
}

/** A device node that `open()` can find. **Kernel:** a character device and its `/dev` entry. */
export interface DeviceNode {
  readonly path: string;
  readonly fOp: FileOperations;
  /** The object the node stands for, given to `open` as `file.privateData`. */
  readonly privateData: unknown;
}

/**
 * The VFS of one kernel: device nodes, processes, inode numbers.
 *
 * **Kernel:** the mount table and `/dev`.
 *
 * **Locking:** none (registration happens at init).
 */
export class Vfs {
  private readonly nodes = new Map<string, DeviceNode>();
  readonly processes: Process[] = [];
  private ino = 1000;
  private pid = 0;

  constructor(private readonly kernel: Kernel) {}

  /** @internal */
  nextIno(): number {
    return ++this.ino;
  }

  /**
   * Create `/dev/...` for a device.
   *
   * **Kernel:** `cdev_add()` + `device_create()`.
   *
   * @throws {@link KernelError} `EEXIST` when the path exists, `EINVAL` for a path outside `/dev/`
   */
  registerDevice(path: string, fOp: FileOperations, privateData: unknown = null): DeviceNode {
    if (!path.startsWith("/dev/")) {
      throw new KernelError("EINVAL", `device node ${path} is not under /dev/`);
    }
    if (this.nodes.has(path)) {
      throw new KernelError("EEXIST", `device node ${path} already exists`);
    }
    const node = { path, fOp, privateData };
    this.nodes.set(path, node);
    return node;
  }

  /** Remove a device node. **Kernel:** `device_destroy()`. */
  unregisterDevice(path: string): void {
    this.nodes.delete(path);
  }

  /** The device node at `path`, if any. */
  lookup(path: string): DeviceNode | undefined {
    return this.nodes.get(path);
  }

  /** Every device node path, sorted. */
  devices(): string[] {
    return [...this.nodes.keys()].sort();
  }

  /**
   * Create a process. **Kernel:** `fork()` + `exec()` of a fresh program.
   */
  createProcess(comm: string): Process {
    const p = new Process(this.kernel, ++this.pid + 100, comm);
    this.processes.push(p);
    return p;
  }
}

interface FdEntry {
  readonly file: File;
  cloexec: boolean;
}

/**
 * A user process with an fd table and an address space. Its methods are the system calls.
 *
 * **Kernel:** `struct task_struct` of a user process, its `files_struct` and `mm_struct`.
 *
 * **Locking:** system calls run in the calling thread's context; `mmap` takes `mmap_lock`.
 */
export class Process {
  private readonly fds: (FdEntry | undefined)[] = [];
  /** fds handed out by get_unused_fd_flags() but not yet installed (an open in progress). */
  private readonly reserved = new Set<number>();
  /** `RLIMIT_NOFILE`. */
  rlimitNofile = INR_OPEN_CUR;
  readonly mm: Mm;
  exited = false;

  constructor(
    readonly kernel: Kernel,
    readonly pid: number,
    readonly comm: string,
  ) {
    this.mm = new Mm(kernel);
  }

  /**
   * The lowest free fd. **Kernel:** `get_unused_fd_flags()`.
   *
   * @throws {@link KernelError} `EMFILE` when the table is full
   */
  getUnusedFd(): number {
    for (let fd = 0; fd < this.rlimitNofile; fd++) {
      if (!this.fds[fd] && !this.reserved.has(fd)) {
        return fd;
      }
    }
    throw new KernelError(
      "EMFILE",
      `process ${this.comm}[${this.pid}] has ${this.rlimitNofile} fds open`,
    );
  }

  /**
   * Install `file` (whose reference passes to the table) in the lowest free fd.
   *
   * **Kernel:** `get_unused_fd_flags()` + `fd_install()`.
   *
   * @throws {@link KernelError} `EMFILE` when the table is full (the reference is not taken)
   */
  installFd(file: File, flags = 0): number {
    const fd = this.getUnusedFd();
    this.fds[fd] = { file, cloexec: (flags & O_CLOEXEC) !== 0 };
    return fd;
  }

  /**
   * The file behind `fd`, with a new reference the caller must `fput`.
   *
   * **Kernel:** `fget()`.
   *
   * @throws {@link KernelError} `EBADF` for a closed or never-opened fd
   */
  fget(fd: number): File {
    return getFile(this.entry(fd).file);
  }

  /** The file behind `fd` without taking a reference, or undefined. **Kernel:** `files_lookup_fd_raw()`. */
  peek(fd: number): File | undefined {
    return Number.isInteger(fd) && fd >= 0 ? this.fds[fd]?.file : undefined;
  }

  private entry(fd: number): FdEntry {
    const e = Number.isInteger(fd) && fd >= 0 ? this.fds[fd] : undefined;
    if (!e) {
      throw new KernelError("EBADF", `fd ${fd} is not open in ${this.comm}[${this.pid}]`);
    }
    return e;
  }

  /** Open fds, ascending. */
  openFds(): number[] {
    const out: number[] = [];
    this.fds.forEach((e, fd) => {
      if (e) {
        out.push(fd);
      }
    });
    return out;
  }

  /**
   * Open a device node.
   *
   * **Kernel:** `open(2)`.
   *
   * **Locking:** may sleep (the driver's `open`).
   *
   * @throws {@link KernelError} `ENOENT` for an unknown path, `EMFILE` for a full table, or the
   * driver's error
   */
  async open(path: string, flags = O_RDWR): Promise<number> {
    const node = this.kernel.vfs.lookup(path);
    if (!node) {
      throw new KernelError("ENOENT", `${path}: no such file or directory`);
    }
    // reserve the fd first, as do_sys_open() does, so that a concurrent open cannot take it while
    // the driver's open sleeps; a failed open gives it back and never calls release
    const fd = this.getUnusedFd();
    this.reserved.add(fd);
    try {
      const file = new File(
        this.kernel,
        node.fOp,
        node.privateData,
        flags & ~O_CLOEXEC,
        path,
        this.kernel.vfs.nextIno(),
      );
      await node.fOp.open?.(file);
      this.fds[fd] = { file, cloexec: (flags & O_CLOEXEC) !== 0 };
      return fd;
    } finally {
      this.reserved.delete(fd);
    }
  }

  /**
   * Close `fd`; the file is released when its last reference goes.
   *
   * **Kernel:** `close(2)`.
   *
   * @throws {@link KernelError} `EBADF`
   */
  close(fd: number): void {
    const e = this.entry(fd);
    this.fds[fd] = undefined;
    fput(e.file);
  }

  /**
   * Duplicate `fd` to the lowest free fd (without `O_CLOEXEC`).
   *
   * **Kernel:** `dup(2)`.
   *
   * @throws {@link KernelError} `EBADF`, `EMFILE`
   */
  dup(fd: number): number {
    const e = this.entry(fd);
    const nfd = this.getUnusedFd();
    this.fds[nfd] = { file: getFile(e.file), cloexec: false };
    return nfd;
  }

  /**
   * Whether `fd` is close-on-exec. **Kernel:** `fcntl(F_GETFD) & FD_CLOEXEC`.
   *
   * @throws {@link KernelError} `EBADF`
   */
  isCloexec(fd: number): boolean {
    return this.entry(fd).cloexec;
  }

  /**
   * Call the file's ioctl handler.
   *
   * **Kernel:** `ioctl(2)` → `vfs_ioctl()`: `ENOTTY` when the file has no `unlocked_ioctl`, and
   * `ENOIOCTLCMD` from a driver becomes `ENOTTY`.
   *
   * **Locking:** may sleep.
   *
   * @throws {@link KernelError} `EBADF`, `ENOTTY`, or the driver's error
   */
  async ioctl(fd: number, cmd: number, arg: unknown = null): Promise<number> {
    const file = this.fget(fd);
    try {
      const op = file.fOp.unlockedIoctl;
      if (!op) {
        throw new KernelError(
          "ENOTTY",
          `inappropriate ioctl 0x${cmd.toString(16)} for ${file.path}`,
        );
      }
      try {
        return await op(file, cmd, arg, this);
      } catch (e) {
        if ((e as { code?: unknown }).code === "ENOIOCTLCMD") {
          throw new KernelError(
            "ENOTTY",
            `inappropriate ioctl 0x${cmd.toString(16)} for ${file.path}`,
            { cause: e },
          );
        }
        throw e;
      }
    } finally {
      fput(file);
    }
  }

  /**
   * Map `length` bytes of `fd` at page offset `offset / PAGE_SIZE`.
   *
   * **Kernel:** `mmap(2)` → `do_mmap()`: `EINVAL` for a zero length, an unaligned offset or neither
   * MAP_SHARED nor MAP_PRIVATE; `EACCES` for a writable shared mapping of a file not opened for
   * writing, or any mapping of a file not opened for reading; `ENODEV` when the file has no `mmap`.
   *
   * **Locking:** takes `mmap_lock` for write, then calls the file's `mmap` (which may sleep).
   *
   * @throws {@link KernelError} `EBADF`, `EINVAL`, `EACCES`, `ENODEV`, `ENOMEM`, or the driver's error
   */
  async mmap(length: number, prot: number, flags: number, fd: number, offset = 0): Promise<Vma> {
    const file = this.fget(fd);
    try {
      if (length <= 0) {
        throw new KernelError("EINVAL", "mmap of length 0");
      }
      if (offset % PAGE_SIZE !== 0 || offset < 0) {
        throw new KernelError("EINVAL", `mmap offset ${offset} is not page-aligned`);
      }
      // MAP_SHARED | MAP_PRIVATE is MAP_SHARED_VALIDATE: a shared mapping
      const type =
        flags & (MAP_SHARED | MAP_PRIVATE) ? (flags & MAP_SHARED ? MAP_SHARED : MAP_PRIVATE) : 0;
      if (type === 0) {
        throw new KernelError("EINVAL", "mmap needs MAP_SHARED or MAP_PRIVATE");
      }
      if (!file.readable || (type === MAP_SHARED && prot & PROT_WRITE && !file.writable)) {
        throw new KernelError("EACCES", `mmap prot ${prot} not allowed by the file's open mode`);
      }
      if (!file.fOp.mmap) {
        throw new KernelError("ENODEV", `${file.path} cannot be mapped`);
      }
      const len = Math.ceil(length / PAGE_SIZE) * PAGE_SIZE;
      // do_mmap(): every mapping may become writable unless it is a shared mapping of a file not
      // open for writing, which also loses VM_SHARED
      let vmFlags = VM_MAYWRITE;
      if (prot & PROT_READ) {
        vmFlags |= VM_READ;
      }
      if (prot & PROT_WRITE) {
        vmFlags |= VM_WRITE;
      }
      if (type === MAP_SHARED) {
        vmFlags |= VM_SHARED;
        if (!file.writable) {
          vmFlags &= ~(VM_MAYWRITE | VM_SHARED);
        }
      }
      await downWrite(this.mm.mmapLock);
      try {
        const start = this.mm.nextAddress;
        const vma = new Vma(
          this.mm,
          start,
          start + len,
          offset / PAGE_SIZE,
          vmFlags,
          getFile(file),
        );
        try {
          await file.fOp.mmap(file, vma);
        } catch (e) {
          fput(file);
          throw e;
        }
        this.mm.nextAddress += len + PAGE_SIZE;
        this.mm.vmas.push(vma);
        return vma;
      } finally {
        upWrite(this.mm.mmapLock);
      }
    } finally {
      fput(file);
    }
  }

  /**
   * Remove the mapping that starts at `address`.
   *
   * **Kernel:** `munmap(2)` (whole VMAs only): calls `vm_ops->close` and drops the file reference.
   *
   * **Locking:** takes `mmap_lock` for write.
   *
   * @throws {@link KernelError} `EINVAL` when no mapping starts at `address`
   */
  async munmap(address: number): Promise<void> {
    await downWrite(this.mm.mmapLock);
    try {
      const i = this.mm.vmas.findIndex((v) => v.start === address);
      const vma = this.mm.vmas[i];
      if (!vma) {
        throw new KernelError("EINVAL", `no mapping starts at 0x${address.toString(16)}`);
      }
      this.mm.vmas.splice(i, 1);
      removeVma(vma);
    } finally {
      upWrite(this.mm.mmapLock);
    }
  }

  /**
   * Reposition the file offset.
   *
   * **Kernel:** `lseek(2)`: `EINVAL` for a whence beyond `SEEK_MAX`, `ESPIPE` when the file has no
   * llseek (`no_llseek`).
   *
   * @throws {@link KernelError} `EBADF`, `ESPIPE`, `EINVAL`, or the driver's error
   */
  llseek(fd: number, offset: number, whence: number): number {
    const file = this.entry(fd).file;
    if (!Number.isInteger(whence) || whence < 0 || whence > SEEK_MAX) {
      throw new KernelError("EINVAL", `lseek whence ${whence} is not SEEK_SET..SEEK_HOLE`);
    }
    if (!file.fOp.llseek) {
      throw new KernelError("ESPIPE", `illegal seek on ${file.path}`);
    }
    const pos = file.fOp.llseek(file, offset, whence);
    file.pos = pos;
    return pos;
  }

  /**
   * Poll `fd` once (no wait): the ready mask.
   *
   * **Kernel:** `poll(2)` with a zero timeout → `vfs_poll()`; `POLLNVAL` for a closed fd, 0 for a
   * negative one (ignored).
   *
   * **Locking:** none.
   */
  poll(fd: number, events = POLLIN | POLLOUT): number {
    if (fd < 0) {
      // poll(2) ignores negative fds: revents is 0
      return 0;
    }
    const file = this.peek(fd);
    if (!file) {
      return POLLNVAL;
    }
    const mask = file.fOp.poll ? file.fOp.poll(file, events) : DEFAULT_POLLMASK;
    return mask & (events | POLLERR | POLLHUP | POLLNVAL);
  }

  /**
   * The text of `/proc/PID/fdinfo/FD`.
   *
   * **Kernel:** fs/proc/fd.c `seq_show()` (pos, flags in octal, mnt_id, ino) then the file's
   * `show_fdinfo`.
   *
   * @throws {@link KernelError} `ENOENT` for a closed fd (the proc file does not exist)
   */
  fdinfo(fd: number): string {
    const e = Number.isInteger(fd) && fd >= 0 ? this.fds[fd] : undefined;
    if (!e) {
      throw new KernelError("ENOENT", `/proc/${this.pid}/fdinfo/${fd}: no such file`);
    }
    const flags = e.file.flags | (e.cloexec ? O_CLOEXEC : 0);
    const head = `pos:\t${e.file.pos}\nflags:\t0${flags.toString(8)}\nmnt_id:\t15\nino:\t${e.file.ino}\n`;
    return head + (e.file.fOp.showFdinfo?.(e.file) ?? "");
  }

  /**
   * Close every fd and unmap everything.
   *
   * **Kernel:** `do_exit()` → `exit_files()`, `exit_mm()`.
   *
   * **Locking:** the process's own context.
   */
  exit(): void {
    for (const fd of this.openFds()) {
      this.close(fd);
    }
    for (const vma of this.mm.vmas.splice(0)) {
      removeVma(vma);
    }
    this.exited = true;
  }
}

function removeVma(vma: Vma): void {
  vma.vmOps?.close?.(vma);
  vma.ptes.clear();
  if (vma.file) {
    fput(vma.file);
  }
}
