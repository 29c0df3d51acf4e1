import { describe, expect, it } from "vitest";
import {
  DEFAULT_POLLMASK,
  INR_OPEN_CUR,
  KernelError,
  Kernel,
  MAP_PRIVATE,
  MAP_SHARED,
  O_CLOEXEC,
  O_RDONLY,
  O_RDWR,
  O_WRONLY,
  PAGE_SIZE,
  POLLERR,
  POLLIN,
  POLLNVAL,
  POLLOUT,
  PROT_READ,
  PROT_WRITE,
  SEEK_SET,
  VM_MAYWRITE,
  VM_READ,
  VM_SHARED,
  VM_WRITE,
  anonInodeGetfile,
  fput,
  getFile,
  isKernelError,
  msleep,
  type ErrnoName,
  type File,
  type FileOperations,
} from "../src/index";

async function errno(p: Promise<unknown> | (() => unknown)): Promise<ErrnoName | undefined> {
  try {
    await (typeof p === "function" ? p() : p);
  } catch (e) {
    if (isKernelError(e)) {
      return e.code;
    }
    throw e;
  }
  return undefined;
}

function setup(fops: Partial<FileOperations> = {}) {
  const k = new Kernel();
  const released: File[] = [];
  const ops: FileOperations = { name: "test", release: (f) => released.push(f), ...fops };
  k.vfs.registerDevice("/dev/test", ops, { dev: 1 });
  const p = k.vfs.createProcess("app");
  return { k, p, ops, released };
}

describe("device nodes", () => {
  it("registers under /dev only, once per path", async () => {
    const { k, ops } = setup();
    expect(await errno(() => k.vfs.registerDevice("/tmp/x", ops))).toBe("EINVAL");
    expect(await errno(() => k.vfs.registerDevice("/dev/test", ops))).toBe("EEXIST");
    k.vfs.registerDevice("/dev/a", ops);
    expect(k.vfs.devices()).toEqual(["/dev/a", "/dev/test"]);
    k.vfs.unregisterDevice("/dev/a");
    expect(k.vfs.lookup("/dev/a")).toBeUndefined();
  });
});

describe("open / close / dup", () => {
  it("open gives the lowest free fd, with the node's private data and flags", async () => {
    const { p } = setup();
    expect(await p.open("/dev/test")).toBe(0);
    expect(await p.open("/dev/test", O_RDONLY)).toBe(1);
    p.close(0);
    expect(await p.open("/dev/test")).toBe(0);
    expect(p.openFds()).toEqual([0, 1]);
    expect(p.peek(0)?.privateData).toEqual({ dev: 1 });
    expect(p.peek(1)?.readable).toBe(true);
    expect(p.peek(1)?.writable).toBe(false);
  });

  it("open of a missing path is ENOENT; the driver's open error is passed through and no fd is used", async () => {
    const { k, p } = setup();
    expect(await errno(p.open("/dev/nope"))).toBe("ENOENT");
    let released = 0;
    k.vfs.registerDevice("/dev/busy", {
      name: "busy",
      open: () => {
        throw new KernelError("EBUSY", "in use");
      },
      release: () => released++,
    });
    expect(await errno(p.open("/dev/busy"))).toBe("EBUSY");
    expect(p.openFds()).toEqual([]);
    expect(released).toBe(0); // ->release is not called for a file whose ->open failed
  });

  it("an fd is reserved while the driver's open sleeps", async () => {
    const { k, p } = setup();
    k.vfs.registerDevice("/dev/slow", {
      name: "slow",
      open: async () => {
        await msleep(k, 5);
      },
    });
    const fds: Record<string, number> = {};
    await k.run({
      slow: async () => {
        fds.slow = await p.open("/dev/slow");
      },
      fast: async () => {
        fds.fast = await p.open("/dev/test");
      },
    });
    expect(fds).toEqual({ slow: 0, fast: 1 });
  });

  it("EMFILE when RLIMIT_NOFILE fds are open, for open, dup and installFd", async () => {
    const { k, p } = setup();
    expect(p.rlimitNofile).toBe(INR_OPEN_CUR);
    p.rlimitNofile = 3;
    for (let i = 0; i < 3; i++) {
      await p.open("/dev/test");
    }
    expect(await errno(p.open("/dev/test"))).toBe("EMFILE");
    expect(await errno(() => p.dup(0))).toBe("EMFILE");
    const f = anonInodeGetfile(k, "x", { name: "x" }, null, O_RDWR);
    expect(await errno(() => p.installFd(f))).toBe("EMFILE");
    expect(f.fCount.value).toBe(1); // the reference stays with the caller
  });

  it("close and dup of a bad fd are EBADF", async () => {
    const { p } = setup();
    for (const fd of [0, -1, 5, 1.5]) {
      expect(await errno(() => p.close(fd))).toBe("EBADF");
      expect(await errno(() => p.dup(fd))).toBe("EBADF");
      expect(await errno(() => p.fget(fd))).toBe("EBADF");
    }
    const fd = await p.open("/dev/test");
    p.close(fd);
    expect(await errno(() => p.close(fd))).toBe("EBADF");
  });

  it("dup shares the file; release runs on the last close only", async () => {
    const { p, released } = setup();
    const fd = await p.open("/dev/test");
    const file = p.peek(fd)!;
    const d = p.dup(fd);
    expect(d).toBe(1);
    expect(p.peek(d)).toBe(file);
    expect(file.fCount.value).toBe(2);
    p.close(fd);
    expect(released).toEqual([]);
    p.close(d);
    expect(released).toEqual([file]);
    expect(file.released).toBe(true);
  });

  it("close-on-exec is per fd and dup clears it", async () => {
    const { p } = setup();
    const fd = await p.open("/dev/test", O_RDWR | O_CLOEXEC);
    expect(p.isCloexec(fd)).toBe(true);
    expect(p.peek(fd)!.flags & O_CLOEXEC).toBe(0);
    const d = p.dup(fd);
    expect(p.isCloexec(d)).toBe(false);
    expect(await errno(() => p.isCloexec(9))).toBe("EBADF");
  });

  it("fget/getFile/fput keep the file alive; a put after release is a use-after-free", async () => {
    const { k, p, released } = setup();
    const fd = await p.open("/dev/test");
    const file = p.fget(fd);
    p.close(fd);
    expect(released).toEqual([]);
    getFile(file);
    fput(file);
    fput(file);
    expect(released).toEqual([file]);
    fput(file);
    expect(k.findings.map((f) => f.kind)).toEqual(["use-after-free"]);
    expect(released).toHaveLength(1);
  });

  it("exit closes every fd", async () => {
    const { p, released } = setup();
    await p.open("/dev/test");
    await p.open("/dev/test");
    p.exit();
    expect(p.exited).toBe(true);
    expect(p.openFds()).toEqual([]);
    expect(released).toHaveLength(2);
  });
});

describe("ioctl", () => {
  it("calls unlocked_ioctl with cmd and arg and returns its result", async () => {
    const { p } = setup({
      unlockedIoctl: (_f, cmd, arg) => cmd + (arg as number),
    });
    const fd = await p.open("/dev/test");
    expect(await p.ioctl(fd, 40, 2)).toBe(42);
  });

  it("EBADF for a bad fd; ENOTTY without unlocked_ioctl; ENOIOCTLCMD becomes ENOTTY", async () => {
    const { k, p } = setup();
    expect(await errno(p.ioctl(3, 1))).toBe("EBADF");
    const fd = await p.open("/dev/test");
    expect(await errno(p.ioctl(fd, 1))).toBe("ENOTTY");
    k.vfs.registerDevice("/dev/picky", {
      name: "picky",
      unlockedIoctl: (_f, cmd) => {
        if (cmd === 1) {
          throw new KernelError("ENOIOCTLCMD", "unknown");
        }
        throw new KernelError("EFAULT", "bad arg");
      },
    });
    const pf = await p.open("/dev/picky");
    let err: unknown;
    try {
      await p.ioctl(pf, 1);
    } catch (e) {
      err = e;
    }
    expect(isKernelError(err, "ENOTTY")).toBe(true);
    expect(isKernelError((err as Error).cause, "ENOIOCTLCMD")).toBe(true);
    expect(await errno(p.ioctl(pf, 2))).toBe("EFAULT");
  });

  it("holds a file reference across the call: a close during the ioctl does not release the file", async () => {
    const { k, p, released } = setup({
      unlockedIoctl: async () => {
        await msleep(k, 5);
        return 0;
      },
    });
    const fd = await p.open("/dev/test");
    await k.run({
      caller: async () => {
        await p.ioctl(fd, 1);
        expect(released).toHaveLength(1);
      },
      closer: async () => {
        await msleep(k, 1);
        p.close(fd);
        expect(released).toEqual([]);
      },
    });
    expect(released).toHaveLength(1);
  });
});

describe("mmap", () => {
  const mmapOps = (seen: { len?: number; flags?: number; pgoff?: number }) => ({
    mmap: (_f: File, vma: { pages: number; vmFlags: number; pgoff: number }) => {
      seen.len = vma.pages;
      seen.flags = vma.vmFlags;
      seen.pgoff = vma.pgoff;
    },
  });

  it("maps whole pages at the page offset, with the VMA flags do_mmap computes", async () => {
    const seen: { len?: number; flags?: number; pgoff?: number } = {};
    const { p } = setup(mmapOps(seen));
    const fd = await p.open("/dev/test");
    const vma = await p.mmap(100, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 2 * PAGE_SIZE);
    expect(seen).toEqual({ len: 1, pgoff: 2, flags: VM_READ | VM_WRITE | VM_SHARED | VM_MAYWRITE });
    expect(vma.end - vma.start).toBe(PAGE_SIZE);
    expect(p.mm.findVma(vma.start)).toBe(vma);
    expect(vma.file).toBe(p.peek(fd));
    expect(p.peek(fd)!.fCount.value).toBe(2);
    // a private mapping may become writable too
    const priv = await p.mmap(PAGE_SIZE, PROT_READ, MAP_PRIVATE, fd);
    expect(priv.vmFlags).toBe(VM_READ | VM_MAYWRITE);
    // MAP_SHARED | MAP_PRIVATE is MAP_SHARED_VALIDATE: shared
    const val = await p.mmap(PAGE_SIZE, PROT_READ, MAP_SHARED | MAP_PRIVATE, fd);
    expect(val.vmFlags & VM_SHARED).toBe(VM_SHARED);
  });

  it("a shared mapping of a read-only file is neither VM_SHARED nor VM_MAYWRITE", async () => {
    const seen: { flags?: number } = {};
    const { p } = setup(mmapOps(seen));
    const fd = await p.open("/dev/test", O_RDONLY);
    await p.mmap(PAGE_SIZE, PROT_READ, MAP_SHARED, fd);
    expect(seen.flags).toBe(VM_READ);
  });

  it("error paths: EBADF, EINVAL, EACCES, ENODEV, and the driver's error, with no reference leaked", async () => {
    const { k, p } = setup();
    expect(await errno(p.mmap(PAGE_SIZE, PROT_READ, MAP_SHARED, 7))).toBe("EBADF");
    const fd = await p.open("/dev/test");
    expect(await errno(p.mmap(PAGE_SIZE, PROT_READ, MAP_SHARED, fd))).toBe("ENODEV");
    k.vfs.registerDevice("/dev/m", { name: "m", mmap: () => undefined });
    const m = await p.open("/dev/m");
    expect(await errno(p.mmap(0, PROT_READ, MAP_SHARED, m))).toBe("EINVAL");
    expect(await errno(p.mmap(PAGE_SIZE, PROT_READ, MAP_SHARED, m, 100))).toBe("EINVAL");
    expect(await errno(p.mmap(PAGE_SIZE, PROT_READ, MAP_SHARED, m, -PAGE_SIZE))).toBe("EINVAL");
    expect(await errno(p.mmap(PAGE_SIZE, PROT_READ, 0, m))).toBe("EINVAL");
    const ro = await p.open("/dev/m", O_RDONLY);
    expect(await errno(p.mmap(PAGE_SIZE, PROT_WRITE, MAP_SHARED, ro))).toBe("EACCES");
    // a private writable mapping of a read-only file is fine (copy-on-write)
    await p.mmap(PAGE_SIZE, PROT_WRITE, MAP_PRIVATE, ro);
    const wo = await p.open("/dev/m", O_WRONLY);
    expect(await errno(p.mmap(PAGE_SIZE, PROT_WRITE, MAP_SHARED, wo))).toBe("EACCES");
    k.vfs.registerDevice("/dev/bad", {
      name: "bad",
      mmap: () => {
        throw new KernelError("EINVAL", "too big");
      },
    });
    const bad = await p.open("/dev/bad");
    expect(await errno(p.mmap(PAGE_SIZE, PROT_READ, MAP_SHARED, bad))).toBe("EINVAL");
    expect(p.peek(bad)!.fCount.value).toBe(1);
    expect(p.peek(m)!.fCount.value).toBe(1);
    expect(p.mm.vmas).toHaveLength(1);
    expect(k.lockdep.heldLocks()).toEqual([]);
  });

  it("the driver's mmap runs with mmap_lock held for write", async () => {
    const { k, p } = setup();
    let held = false;
    k.vfs.registerDevice("/dev/m", {
      name: "m",
      mmap: (_f, vma) => {
        held = vma.mm.mmapLock.writer === k.sched.current && k.lockdep.isHeld(vma.mm.mmapLock.dep);
      },
    });
    await p.mmap(PAGE_SIZE, PROT_READ, MAP_SHARED, await p.open("/dev/m"));
    expect(held).toBe(true);
  });

  it("munmap calls vm_ops->close and drops the file reference; EINVAL when nothing starts there", async () => {
    const { k, p, released } = setup();
    let closed = 0;
    k.vfs.registerDevice("/dev/m", {
      name: "m",
      mmap: (_f, vma) => {
        vma.vmOps = { close: () => closed++ };
      },
      release: (f) => released.push(f),
    });
    const fd = await p.open("/dev/m");
    const vma = await p.mmap(PAGE_SIZE, PROT_READ, MAP_SHARED, fd);
    p.close(fd);
    expect(released).toEqual([]); // the mapping keeps the file
    expect(await errno(p.munmap(vma.start + PAGE_SIZE))).toBe("EINVAL");
    await p.munmap(vma.start);
    expect(closed).toBe(1);
    expect(released).toHaveLength(1);
    expect(p.mm.vmas).toEqual([]);
  });

  it("exit unmaps everything", async () => {
    const { k, p, released } = setup();
    k.vfs.registerDevice("/dev/m", {
      name: "m",
      mmap: () => undefined,
      release: (f) => released.push(f),
    });
    const fd = await p.open("/dev/m");
    await p.mmap(PAGE_SIZE, PROT_READ, MAP_SHARED, fd);
    p.exit();
    expect(p.mm.vmas).toEqual([]);
    expect(released).toHaveLength(1);
  });
});

describe("llseek, poll, fdinfo", () => {
  it("llseek: ESPIPE without an llseek op, EINVAL for a bad whence, EBADF for a bad fd", async () => {
    const { k, p } = setup();
    expect(await errno(() => p.llseek(4, 0, SEEK_SET))).toBe("EBADF");
    const fd = await p.open("/dev/test");
    expect(await errno(() => p.llseek(fd, 0, SEEK_SET))).toBe("ESPIPE");
    k.vfs.registerDevice("/dev/s", {
      name: "s",
      llseek: (_f, off, whence) => {
        if (whence !== SEEK_SET) {
          throw new KernelError("EINVAL", "only SEEK_SET");
        }
        return off;
      },
    });
    const s = await p.open("/dev/s");
    expect(p.llseek(s, 4096, SEEK_SET)).toBe(4096);
    expect(p.peek(s)!.pos).toBe(4096);
    expect(await errno(() => p.llseek(s, 0, 2))).toBe("EINVAL");
    expect(await errno(() => p.llseek(s, 0, 5))).toBe("EINVAL");
    expect(await errno(() => p.llseek(fd, 0, 9))).toBe("EINVAL");
    expect(p.peek(s)!.pos).toBe(4096);
  });

  it("poll: DEFAULT_POLLMASK without a poll op, the op's mask filtered by events, POLLNVAL for a closed fd, 0 for a negative one", async () => {
    const { k, p } = setup();
    const fd = await p.open("/dev/test");
    expect(p.poll(fd, POLLIN)).toBe(POLLIN);
    expect(p.poll(fd, POLLIN | POLLOUT)).toBe(POLLIN | POLLOUT);
    expect(DEFAULT_POLLMASK & POLLIN).toBe(POLLIN);
    k.vfs.registerDevice("/dev/p", { name: "p", poll: () => POLLIN | POLLOUT | POLLERR });
    const pf = await p.open("/dev/p");
    expect(p.poll(pf, POLLOUT)).toBe(POLLOUT | POLLERR);
    expect(p.poll(9)).toBe(POLLNVAL);
    p.close(fd);
    expect(p.poll(fd)).toBe(POLLNVAL);
    expect(p.poll(-1)).toBe(0);
  });

  it("fdinfo prints pos, flags in octal as fs/proc/fd.c does (close-on-exec included), then the file's lines", async () => {
    const { k, p } = setup();
    k.vfs.registerDevice("/dev/i", { name: "i", showFdinfo: () => "size:\t4096\n" });
    const fd = await p.open("/dev/i", O_RDWR | O_CLOEXEC);
    const ino = p.peek(fd)!.ino;
    expect(p.fdinfo(fd)).toBe(
      `pos:\t0\nflags:\t02000002\nmnt_id:\t15\nino:\t${ino}\nsize:\t4096\n`,
    );
    const ro = await p.open("/dev/test", O_RDONLY);
    expect(p.fdinfo(ro)).toMatch(/^pos:\t0\nflags:\t00\nmnt_id:\t15\nino:\t\d+\n$/);
    expect(await errno(() => p.fdinfo(42))).toBe("ENOENT");
  });

  it("anon inode files are named anon_inode:<name> and can be installed", () => {
    const k = new Kernel();
    const p = k.vfs.createProcess("a");
    const f = anonInodeGetfile(k, "dmabuf", { name: "dmabuf" }, { id: 1 }, O_RDWR);
    expect(f.path).toBe("anon_inode:dmabuf");
    expect(p.installFd(f, O_CLOEXEC)).toBe(0);
    expect(p.isCloexec(0)).toBe(true);
    expect(p.peek(0)).toBe(f);
    const q = k.vfs.createProcess("b");
    expect(q.pid).not.toBe(p.pid);
    expect(k.vfs.processes).toEqual([p, q]);
  });
});
