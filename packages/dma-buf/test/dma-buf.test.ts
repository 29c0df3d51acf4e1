/** §1.2, §1.3, §1.11–§1.13: export, references, release, the file operations, ioctls, bufinfo. */
import { describe, expect, it } from "vitest";
import {
  KernelBug,
  O_CLOEXEC,
  O_RDONLY,
  O_RDWR,
  POLLERR,
  POLLIN,
  POLLOUT,
  SEEK_CUR,
  SEEK_END,
  SEEK_SET,
  isKernelError,
  spinLockInit,
  type Kernel,
} from "@dmasim/kernel";
import {
  DMA_RESV_USAGE_BOOKKEEP,
  DMA_RESV_USAGE_KERNEL,
  DMA_RESV_USAGE_READ,
  DMA_RESV_USAGE_WRITE,
  dmaFenceContextAlloc,
  dmaFenceInit,
  dmaFenceIsSignaled,
  dmaFencePut,
  dmaFenceSignal,
  dmaResvAddFence,
  dmaResvGetFences,
  dmaResvInit,
  dmaResvLock,
  dmaResvReserveFences,
  dmaResvUnlock,
  syncFileCreate,
  syncFileGetFence,
  syncFileInstall,
  type DmaFence,
  type DmaResvUsage,
} from "@dmasim/dma-resv";
import {
  DMA_BUF_IOCTL_EXPORT_SYNC_FILE,
  DMA_BUF_IOCTL_IMPORT_SYNC_FILE,
  DMA_BUF_IOCTL_SYNC,
  DMA_BUF_SET_NAME,
  DMA_BUF_SET_NAME_A,
  DMA_BUF_SET_NAME_B,
  DMA_BUF_SYNC_END,
  DMA_BUF_SYNC_READ,
  DMA_BUF_SYNC_RW,
  DMA_BUF_SYNC_START,
  DMA_BUF_SYNC_WRITE,
  DmaBufOwner,
  dmaBufAttach,
  dmaBufCheckLeaks,
  dmaBufDebugfsBufinfo,
  dmaBufDetach,
  dmaBufDname,
  dmaBufExport,
  dmaBufFd,
  dmaBufGet,
  dmaBufList,
  dmaBufPut,
  getDmaBuf,
  isDmaBufFile,
  type DmaBufOps,
} from "../src/index";
import { MockExporter, codes, setup } from "./helpers";

const NOP = (): void => undefined;
const NULL = (): null => null;
const ERR = (code: string) => (e: unknown) => isKernelError(e) && e.code === code;

async function rejects(p: Promise<unknown> | (() => unknown), code: string): Promise<void> {
  let err: unknown = null;
  try {
    await (typeof p === "function" ? p() : p);
  } catch (e) {
    err = e;
  }
  expect(err, `expected ${code}`).toSatisfy(ERR(code));
}

function fence(k: Kernel): DmaFence {
  return dmaFenceInit(
    k,
    { getDriverName: () => "gpu", getTimelineName: () => "ring0" },
    spinLockInit(k, "gpu->lock"),
    dmaFenceContextAlloc(k, 1),
    1,
  );
}

async function addFence(k: Kernel, resv: ReturnType<typeof dmaResvInit>, usage: DmaResvUsage) {
  const f = fence(k);
  await dmaResvLock(resv, null);
  dmaResvReserveFences(resv, 1);
  dmaResvAddFence(resv, f, usage);
  dmaResvUnlock(resv);
  return f;
}

describe("dma_buf_export", () => {
  it("exports with no fd, one reference, an embedded resv, newest first in the list", () => {
    const { kernel } = setup();
    const ex = new MockExporter();
    const a = ex.export(kernel);
    const b = ex.export(kernel);
    expect(a.file?.fCount.value).toBe(1);
    expect(a.ownsResv).toBe(true);
    expect(dmaBufList(kernel)).toEqual([b, a]);
    expect(b.ino).toBe(a.ino + 1);
    expect(isDmaBufFile(a.file!)).toBe(true);
    expect(a.size).toBe(16384);
  });

  it("keeps only O_ACCMODE | O_NONBLOCK of the flags; accepts size 0", () => {
    const { kernel } = setup();
    const ex = new MockExporter();
    const b = ex.export(kernel, ex.ops, { flags: O_RDONLY | O_CLOEXEC | 0o4000, size: 0 });
    expect(b.file?.flags).toBe(O_RDONLY | 0o4000);
    expect(b.size).toBe(0);
  });

  it.each([
    ["a null priv", { priv: null }],
    ["no map_dma_buf", { ops: { unmapDmaBuf: NOP, release: NOP } }],
    ["no unmap_dma_buf", { ops: { mapDmaBuf: NULL, release: NOP } }],
    ["no release", { ops: { mapDmaBuf: NULL, unmapDmaBuf: NOP } }],
  ])("WARN + EINVAL for %s, nothing exported", (_what, patch) => {
    const { kernel } = setup();
    const ex = new MockExporter();
    expect(() =>
      dmaBufExport(kernel, { ops: ex.ops, size: 4096, priv: ex, ...(patch as object) }),
    ).toThrow(/EINVAL/);
    expect(codes(kernel)).toEqual(["warn/drivers/dma-buf/dma-buf.c:dma_buf_export"]);
    expect(dmaBufList(kernel)).toEqual([]);
  });

  it("cache_sgt_mapping with pin is refused up to 6.15 but not from 6.16 (b72f66f22c0e)", () => {
    for (const [v, ok] of [
      ["6.12", false],
      ["5.10", false],
      ["6.15", false],
      ["6.16", true],
    ] as const) {
      const { kernel } = setup(v);
      const ex = new MockExporter();
      const ops: DmaBufOps = { ...ex.dynamic(), cacheSgtMapping: true };
      if (ok) {
        expect(ex.export(kernel, ops).ops).toBe(ops);
      } else {
        expect(() => ex.export(kernel, ops)).toThrow(/EINVAL.*cache_sgt_mapping/);
        expect(kernel.findings[0]?.kind).toBe("warn");
      }
    }
  });

  it("pin without unpin (or the reverse) is refused from 5.6; ignored before", () => {
    const { kernel } = setup("6.12");
    const ex = new MockExporter();
    expect(() => ex.export(kernel, { ...ex.ops, pin: () => undefined })).toThrow(/pin and unpin/);
    expect(() => ex.export(kernel, { ...ex.ops, unpin: () => undefined })).toThrow(/EINVAL/);
    const old = setup("5.4");
    const b = ex.export(old.kernel, { ...ex.ops, pin: () => undefined });
    expect(old.kernel.findings).toEqual([]);
    expect(b.ops.pin).toBeDefined();
  });

  it("ENOENT while the owner module is going away; the module is pinned for the buffer's life", () => {
    const { kernel } = setup();
    const ex = new MockExporter();
    const owner = new DmaBufOwner("heap_mod");
    const b = ex.export(kernel, ex.ops, { owner });
    expect(owner.refs).toBe(1);
    dmaBufPut(b);
    expect(owner.refs).toBe(0);
    owner.going = true;
    expect(() => ex.export(kernel, ex.ops, { owner })).toThrow(/ENOENT/);
  });

  it("a shared resv is used and not finalised at release", async () => {
    const { kernel } = setup();
    const resv = dmaResvInit(kernel);
    const f = await addFence(kernel, resv, DMA_RESV_USAGE_WRITE);
    const ex = new MockExporter();
    const b = ex.export(kernel, ex.ops, { resv });
    expect(b.resv).toBe(resv);
    expect(b.ownsResv).toBe(false);
    dmaBufPut(b);
    expect(resv.fences?.numFences).toBe(1); // still there
    dmaFenceSignal(f);
    dmaFencePut(f);
  });
});

describe("fd, get, put, release", () => {
  it("dma_buf_fd consumes the export reference; get adds one; close + put release it", () => {
    const { kernel } = setup();
    const p = kernel.vfs.createProcess("app");
    const ex = new MockExporter();
    const b = ex.export(kernel);
    const fd = dmaBufFd(b, O_CLOEXEC, p);
    expect(b.file?.fCount.value).toBe(1);
    expect(p.isCloexec(fd)).toBe(true);
    const g = dmaBufGet(p, fd);
    expect(g).toBe(b);
    expect(b.file?.fCount.value).toBe(2);
    getDmaBuf(b);
    expect(b.file?.fCount.value).toBe(3);
    dmaBufPut(b);
    dmaBufPut(b);
    p.close(fd);
    expect(ex.calls).toEqual(["release"]);
    expect(b.released).toBe(true);
    expect(dmaBufList(kernel)).toEqual([]);
  });

  it("dma_buf_fd: EINVAL without a file, EMFILE when the table is full", () => {
    const { kernel } = setup();
    const p = kernel.vfs.createProcess("app");
    const ex = new MockExporter();
    const b = ex.export(kernel);
    expect(() => dmaBufFd(null, 0, p)).toThrow(/EINVAL/);
    p.rlimitNofile = 0;
    expect(() => dmaBufFd(b, 0, p)).toThrow(/EMFILE/);
    dmaBufPut(b);
  });

  it("dma_buf_get: EBADF for a closed fd, EINVAL for a non-dma-buf (its reference dropped)", () => {
    const { kernel } = setup();
    const p = kernel.vfs.createProcess("app");
    expect(() => dmaBufGet(p, 7)).toThrow(/EBADF/);
    const f = fence(kernel);
    const sf = syncFileCreate(f);
    const fd = syncFileInstall(p, sf);
    expect(() => dmaBufGet(p, fd)).toThrow(/EINVAL/);
    expect(sf.file.fCount.value).toBe(1);
    dmaFenceSignal(f);
  });

  it("H26: a put too many is a refcount underflow (use-after-free)", () => {
    const { kernel } = setup();
    const ex = new MockExporter();
    const b = ex.export(kernel);
    dmaBufPut(b);
    dmaBufPut(b);
    expect(codes(kernel)).toEqual(["use-after-free/refcount"]);
    expect(ex.calls).toEqual(["release"]);
  });

  it("dma_buf_put WARNs for a buffer without a file", () => {
    const { kernel } = setup();
    const ex = new MockExporter();
    const b = ex.export(kernel);
    const file = b.file;
    b.file = null;
    dmaBufPut(b);
    expect(codes(kernel)).toEqual(["warn/drivers/dma-buf/dma-buf.c:dma_buf_put"]);
    b.file = file;
    dmaBufPut(b);
  });

  it("H26: the last put with attachments left WARNs after ops.release ran", async () => {
    const { kernel, dev } = setup();
    const ex = new MockExporter();
    const b = ex.export(kernel);
    await dmaBufAttach(b, dev);
    dmaBufPut(b);
    expect(ex.calls).toEqual(["release"]);
    expect(codes(kernel)).toEqual(["warn/drivers/dma-buf/dma-buf.c:dma_buf_release"]);
    expect(kernel.findings[0]?.summary).toMatch(/1 attachment\(s\): dev0/);
  });

  it("the dentry name is /dmabuf:<name>", () => {
    const { kernel } = setup();
    const b = new MockExporter().export(kernel);
    expect(dmaBufDname(b)).toBe("/dmabuf:");
    b.name = "frame";
    expect(dmaBufDname(b)).toBe("/dmabuf:frame");
  });
});

describe("file operations", () => {
  it("llseek: SEEK_END gives the size, SEEK_SET 0, everything else EINVAL", () => {
    const { kernel } = setup();
    const p = kernel.vfs.createProcess("app");
    const fd = dmaBufFd(new MockExporter().export(kernel), 0, p);
    expect(p.llseek(fd, 0, SEEK_END)).toBe(16384);
    expect(p.llseek(fd, 0, SEEK_SET)).toBe(0);
    expect(() => p.llseek(fd, 0, SEEK_CUR)).toThrow(/EINVAL/);
    expect(() => p.llseek(fd, 4, SEEK_END)).toThrow(/EINVAL/);
    expect(() => p.llseek(fd, 4, SEEK_SET)).toThrow(/EINVAL/);
  });

  it("read and write are not there: unknown ioctls are ENOTTY", async () => {
    const { kernel } = setup();
    const p = kernel.vfs.createProcess("app");
    const fd = dmaBufFd(new MockExporter().export(kernel), 0, p);
    await rejects(p.ioctl(fd, 0x1234, {}), "ENOTTY");
  });

  it("fdinfo: size, count, exp_name, and name only when set", async () => {
    const { kernel } = setup();
    const p = kernel.vfs.createProcess("app");
    const b = new MockExporter().export(kernel);
    const fd = dmaBufFd(b, O_CLOEXEC, p);
    const info = p.fdinfo(fd);
    expect(info).toMatch(/^pos:\t0\nflags:\t02000002\n/);
    expect(info).toContain("size:\t16384\ncount:\t1\nexp_name:\tmock\n");
    expect(info).not.toContain("name:\tframe");
    getDmaBuf(b);
    await p.ioctl(fd, DMA_BUF_SET_NAME, "frame");
    expect(p.fdinfo(fd)).toContain("count:\t2\nexp_name:\tmock\nname:\tframe\n");
    dmaBufPut(b);
  });

  it("poll: EPOLLIN waits for KERNEL/WRITE fences, EPOLLOUT also for READ; BOOKKEEP is invisible", async () => {
    const { kernel } = setup();
    const p = kernel.vfs.createProcess("app");
    const b = new MockExporter().export(kernel);
    const fd = dmaBufFd(b, 0, p);
    expect(p.poll(fd, POLLIN | POLLOUT)).toBe(POLLIN | POLLOUT);
    expect(p.poll(fd, 0)).toBe(0);
    const bk = await addFence(kernel, b.resv, DMA_RESV_USAGE_BOOKKEEP);
    expect(p.poll(fd, POLLIN | POLLOUT)).toBe(POLLIN | POLLOUT);
    const rd = await addFence(kernel, b.resv, DMA_RESV_USAGE_READ);
    expect(p.poll(fd, POLLIN | POLLOUT)).toBe(POLLIN);
    expect(b.cbOut.active).toBe(POLLOUT);
    expect(b.file?.fCount.value).toBe(2); // the armed callback holds a reference
    // armed already: still not ready, nothing new armed
    expect(p.poll(fd, POLLOUT)).toBe(0);
    dmaFenceSignal(rd);
    expect(b.cbOut.active).toBe(0);
    expect(b.file?.fCount.value).toBe(1);
    expect(p.poll(fd, POLLOUT)).toBe(POLLOUT);
    const wr = await addFence(kernel, b.resv, DMA_RESV_USAGE_KERNEL);
    expect(p.poll(fd, POLLIN | POLLOUT)).toBe(0);
    dmaFenceSignal(wr);
    expect(p.poll(fd, POLLIN | POLLOUT)).toBe(POLLIN | POLLOUT);
    dmaFenceSignal(bk);
    for (const f of [bk, rd, wr]) {
      dmaFencePut(f);
    }
  });

  it("BUG if the buffer is released while a poll callback is armed", async () => {
    const { kernel } = setup();
    const b = new MockExporter().export(kernel);
    const f = await addFence(kernel, b.resv, DMA_RESV_USAGE_WRITE);
    const p = kernel.vfs.createProcess("app");
    const fd = dmaBufFd(b, 0, p);
    expect(p.poll(fd, POLLIN)).toBe(0);
    // the armed callback holds a file reference; forge the imbalance the BUG is there for
    b.file!.fCount.value = 1;
    expect(() => p.close(fd)).toThrow(KernelBug);
    expect(codes(kernel)).toEqual(["bug/drivers/dma-buf/dma-buf.c:dma_buf_release"]);
    void f;
  });

  it("poll of a released buffer is EPOLLERR", () => {
    const { kernel } = setup();
    const c = new MockExporter().export(kernel);
    dmaBufPut(c);
    expect(c.file!.fOp.poll!(c.file!, POLLIN)).toBe(POLLERR);
  });
});

describe("DMA_BUF_IOCTL_SYNC", () => {
  it("maps READ/WRITE/RW to the directions and START/END to begin/end", async () => {
    const { kernel } = setup();
    const seen: string[] = [];
    const ex = new MockExporter({
      beginCpuAccess: (_b, dir) => void seen.push(`begin ${dir}`),
      endCpuAccess: (_b, dir) => void seen.push(`end ${dir}`),
    });
    const p = kernel.vfs.createProcess("app");
    const fd = dmaBufFd(ex.export(kernel), 0, p);
    await p.ioctl(fd, DMA_BUF_IOCTL_SYNC, { flags: DMA_BUF_SYNC_START | DMA_BUF_SYNC_READ });
    await p.ioctl(fd, DMA_BUF_IOCTL_SYNC, { flags: DMA_BUF_SYNC_END | DMA_BUF_SYNC_WRITE });
    await p.ioctl(fd, DMA_BUF_IOCTL_SYNC, { flags: DMA_BUF_SYNC_RW });
    expect(seen).toEqual(["begin 2", "end 1", "begin 0"]);
  });

  it("EFAULT for a bad pointer, EINVAL for unknown bits or neither READ nor WRITE", async () => {
    const { kernel } = setup();
    const p = kernel.vfs.createProcess("app");
    const fd = dmaBufFd(new MockExporter().export(kernel), 0, p);
    await rejects(p.ioctl(fd, DMA_BUF_IOCTL_SYNC, null), "EFAULT");
    await rejects(p.ioctl(fd, DMA_BUF_IOCTL_SYNC, { flags: 8 | DMA_BUF_SYNC_READ }), "EINVAL");
    await rejects(p.ioctl(fd, DMA_BUF_IOCTL_SYNC, { flags: DMA_BUF_SYNC_END }), "EINVAL");
    await rejects(p.ioctl(fd, DMA_BUF_IOCTL_SYNC, { flags: 0 }), "EINVAL");
  });

  it("the exporter's error is the ioctl's", async () => {
    const { kernel } = setup();
    const ex = new MockExporter({
      beginCpuAccess: () => {
        throw Object.assign(new Error("x"), { code: "EINTR" });
      },
    });
    const p = kernel.vfs.createProcess("app");
    const fd = dmaBufFd(ex.export(kernel), 0, p);
    await expect(p.ioctl(fd, DMA_BUF_IOCTL_SYNC, { flags: DMA_BUF_SYNC_READ })).rejects.toThrow(
      "x",
    );
  });
});

describe("DMA_BUF_SET_NAME", () => {
  it("A and B both rename; a second rename replaces the name, even while attached (5.19+)", async () => {
    const { kernel, dev } = setup("6.12");
    const p = kernel.vfs.createProcess("app");
    const b = new MockExporter().export(kernel);
    const fd = dmaBufFd(b, 0, p);
    expect(await p.ioctl(fd, DMA_BUF_SET_NAME_A, "one")).toBe(0);
    expect(b.name).toBe("one");
    await dmaBufAttach(b, dev);
    expect(await p.ioctl(fd, DMA_BUF_SET_NAME_B, "two")).toBe(0);
    expect(b.name).toBe("two");
  });

  it("EBUSY while attached up to 5.18 (the stale kernel-doc of H27 describes this era)", async () => {
    const { kernel, dev } = setup("5.15");
    const p = kernel.vfs.createProcess("app");
    const b = new MockExporter().export(kernel);
    const fd = dmaBufFd(b, 0, p);
    await p.ioctl(fd, DMA_BUF_SET_NAME, "one");
    const a = await dmaBufAttach(b, dev);
    await rejects(p.ioctl(fd, DMA_BUF_SET_NAME, "two"), "EBUSY");
    expect(b.name).toBe("one");
    await dmaBufDetach(b, a);
    await p.ioctl(fd, DMA_BUF_SET_NAME, "two");
    expect(b.name).toBe("two");
  });

  it("EFAULT for a bad pointer, EINVAL with no NUL within 32 bytes; ENOTTY before 5.3", async () => {
    const { kernel } = setup();
    const p = kernel.vfs.createProcess("app");
    const fd = dmaBufFd(new MockExporter().export(kernel), 0, p);
    await rejects(p.ioctl(fd, DMA_BUF_SET_NAME, 42), "EFAULT");
    await rejects(p.ioctl(fd, DMA_BUF_SET_NAME, "x".repeat(32)), "EINVAL");
    expect(await p.ioctl(fd, DMA_BUF_SET_NAME, "x".repeat(31))).toBe(0);
    const old = setup("4.19");
    const q = old.kernel.vfs.createProcess("app");
    const ofd = dmaBufFd(new MockExporter().export(old.kernel), 0, q);
    await rejects(q.ioctl(ofd, DMA_BUF_SET_NAME, "x"), "ENOTTY");
  });
});

describe("sync_file export / import (6.0+)", () => {
  it("export: READ gives the writers, WRITE also the readers; none gives the signaled stub", async () => {
    const { kernel } = setup();
    const p = kernel.vfs.createProcess("app");
    const b = new MockExporter().export(kernel);
    const fd = dmaBufFd(b, 0, p);
    const arg = { flags: DMA_BUF_SYNC_READ, fd: -1 };
    await p.ioctl(fd, DMA_BUF_IOCTL_EXPORT_SYNC_FILE, arg);
    expect(p.isCloexec(arg.fd)).toBe(true);
    const stub = syncFileGetFence(p, arg.fd)!;
    expect(dmaFenceIsSignaled(stub)).toBe(true);
    dmaFencePut(stub);
    const rd = await addFence(kernel, b.resv, DMA_RESV_USAGE_READ);
    await p.ioctl(fd, DMA_BUF_IOCTL_EXPORT_SYNC_FILE, arg);
    const r = syncFileGetFence(p, arg.fd)!;
    expect(dmaFenceIsSignaled(r)).toBe(true); // readers do not block a reader
    const w = { flags: DMA_BUF_SYNC_WRITE, fd: -1 };
    await p.ioctl(fd, DMA_BUF_IOCTL_EXPORT_SYNC_FILE, w);
    const wf = syncFileGetFence(p, w.fd)!;
    expect(wf).toBe(rd);
    dmaFenceSignal(rd);
    for (const f of [r, wf, rd]) {
      dmaFencePut(f);
    }
  });

  it("export: EFAULT/EINVAL validation; a failed copy-out installs no fd (unlike H28)", async () => {
    const { kernel } = setup();
    const p = kernel.vfs.createProcess("app");
    const fd = dmaBufFd(new MockExporter().export(kernel), 0, p);
    await rejects(p.ioctl(fd, DMA_BUF_IOCTL_EXPORT_SYNC_FILE, 3), "EFAULT");
    await rejects(p.ioctl(fd, DMA_BUF_IOCTL_EXPORT_SYNC_FILE, { flags: 0, fd: 0 }), "EINVAL");
    await rejects(p.ioctl(fd, DMA_BUF_IOCTL_EXPORT_SYNC_FILE, { flags: 4, fd: 0 }), "EINVAL");
    await rejects(
      p.ioctl(fd, DMA_BUF_IOCTL_EXPORT_SYNC_FILE, Object.freeze({ flags: 1, fd: 0 })),
      "EFAULT",
    );
    expect(p.openFds()).toEqual([fd]);
    p.rlimitNofile = 1;
    await rejects(p.ioctl(fd, DMA_BUF_IOCTL_EXPORT_SYNC_FILE, { flags: 1, fd: 0 }), "EMFILE");
  });

  it("import: WRITE adds a WRITE fence, READ a READ fence; EINVAL for a non-sync-file", async () => {
    const { kernel } = setup();
    const p = kernel.vfs.createProcess("app");
    const b = new MockExporter().export(kernel);
    const fd = dmaBufFd(b, 0, p);
    const f = fence(kernel);
    const sfd = syncFileInstall(p, syncFileCreate(f));
    await p.ioctl(fd, DMA_BUF_IOCTL_IMPORT_SYNC_FILE, { flags: DMA_BUF_SYNC_WRITE, fd: sfd });
    expect(dmaResvGetFences(b.resv, DMA_RESV_USAGE_WRITE)).toEqual([f]);
    const g = fence(kernel);
    const gfd = syncFileInstall(p, syncFileCreate(g));
    await p.ioctl(fd, DMA_BUF_IOCTL_IMPORT_SYNC_FILE, { flags: DMA_BUF_SYNC_READ, fd: gfd });
    expect(dmaResvGetFences(b.resv, DMA_RESV_USAGE_WRITE)).toEqual([f]);
    expect(dmaResvGetFences(b.resv, DMA_RESV_USAGE_READ)).toEqual([f, g]);
    await rejects(p.ioctl(fd, DMA_BUF_IOCTL_IMPORT_SYNC_FILE, { flags: 1, fd }), "EINVAL");
    await rejects(p.ioctl(fd, DMA_BUF_IOCTL_IMPORT_SYNC_FILE, { flags: 8, fd: sfd }), "EINVAL");
    await rejects(p.ioctl(fd, DMA_BUF_IOCTL_IMPORT_SYNC_FILE, null), "EFAULT");
    dmaFenceSignal(f);
    dmaFenceSignal(g);
  });

  it("ENOTTY before 6.0", async () => {
    const { kernel } = setup("5.15");
    const p = kernel.vfs.createProcess("app");
    const fd = dmaBufFd(new MockExporter().export(kernel), 0, p);
    await rejects(p.ioctl(fd, DMA_BUF_IOCTL_EXPORT_SYNC_FILE, { flags: 1, fd: 0 }), "ENOTTY");
    await rejects(p.ioctl(fd, DMA_BUF_IOCTL_IMPORT_SYNC_FILE, { flags: 1, fd: 0 }), "ENOTTY");
  });
});

describe("debugfs bufinfo and the leak check", () => {
  it("prints the kernel's format, newest first, with fences and devices", async () => {
    const { kernel, dev, dev2 } = setup();
    const p = kernel.vfs.createProcess("app");
    const ex = new MockExporter();
    const a = ex.export(kernel, ex.ops, { size: 8192 });
    const b = ex.export(kernel);
    dmaBufFd(a, 0, p);
    b.name = "frame";
    await dmaBufAttach(b, dev);
    await dmaBufAttach(b, dev2);
    const f = await addFence(kernel, b.resv, DMA_RESV_USAGE_WRITE);
    const text = await dmaBufDebugfsBufinfo(kernel);
    expect(text).toBe(
      "\nDma-buf Objects:\n" +
        "size    \tflags   \tmode    \tcount   \texp_name\tino     \tname\n" +
        `00016384\t00000002\t00080007\t00000001\tmock\t${String(b.ino).padStart(8, "0")}\tframe\n` +
        "\twrite fence:gpu ring0 seq 1 unsignalled\n" +
        "\tAttached Devices:\n\tdev1\n\tdev0\nTotal 2 devices attached\n\n" +
        `00008192\t00000002\t00080007\t00000001\tmock\t${String(a.ino).padStart(8, "0")}\t<none>\n` +
        "\tAttached Devices:\nTotal 0 devices attached\n\n" +
        "\nTotal 2 objects, 24576 bytes\n",
    );
    dmaFenceSignal(f);
  });

  it("an unnamed buffer shows an empty name up to 5.10", async () => {
    const { kernel } = setup("5.10");
    new MockExporter().export(kernel);
    expect(await dmaBufDebugfsBufinfo(kernel)).toMatch(/\tmock\t00000001\t\n/);
  });

  it("reports buffers, attachments, mappings and vmaps still held", async () => {
    const { kernel, dev } = setup();
    const ex = new MockExporter();
    const b = ex.export(kernel);
    await dmaBufAttach(b, dev);
    const clean = ex.export(kernel);
    dmaBufPut(clean);
    const found = dmaBufCheckLeaks(kernel);
    expect(found.map((f) => f.code)).toEqual(["dma-buf-leak", "dma-buf-attachment-leak"]);
    expect(found[0]?.summary).toMatch(/dma-buf 1 \(mock, 16384 bytes\) still has 1 reference/);
    expect(O_RDWR).toBe(2);
  });
});
