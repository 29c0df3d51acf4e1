import { describe, expect, it } from "vitest";
import { Kernel, POLLIN, POLLOUT, isKernelError, msleep, waitEvent } from "@dmasim/kernel";
import {
  SYNC_IOC_FILE_INFO,
  SYNC_IOC_MERGE,
  SYNC_IOC_SET_DEADLINE,
  dmaFenceContextAlloc,
  dmaFenceInit,
  dmaFenceIsSignaled,
  dmaFencePut,
  dmaFenceSetError,
  dmaFenceSignal,
  syncFileCreate,
  syncFileFdget,
  syncFileGetFence,
  syncFileGetName,
  syncFileInstall,
  type DmaFence,
  type SyncFileInfo,
  type SyncMergeData,
} from "../src/index";
import { MOCK_OPS, mockFence } from "./helpers";

async function errCode(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return "0";
  } catch (e) {
    return isKernelError(e) ? e.code : String(e);
  }
}

describe("sync_file", () => {
  it("create, install, get the fence back; the file holds a reference until closed", () => {
    const k = new Kernel();
    const p = k.vfs.createProcess("app");
    const f = mockFence(k, dmaFenceContextAlloc(k, 1), 3);
    const sf = syncFileCreate(f);
    const fd = syncFileInstall(p, sf);
    expect(p.fdinfo(fd)).toContain("ino:");
    expect(sf.file.path).toBe("anon_inode:sync_file");
    const got = syncFileGetFence(p, fd);
    expect(got).toBe(f);
    dmaFencePut(got);
    expect(syncFileGetName(sf)).toBe(`mock-mock${f.context}-3`);
    dmaFencePut(f);
    expect(f.released).toBe(false);
    p.close(fd);
    expect(f.released).toBe(true);
  });

  it("get_fence of a closed fd or of a file that is not a sync file is NULL", () => {
    const k = new Kernel();
    const p = k.vfs.createProcess("app");
    expect(syncFileGetFence(p, 5)).toBeNull();
    const other = syncFileCreate(mockFence(k));
    const fd = syncFileInstall(p, other);
    p.close(fd);
    expect(syncFileFdget(p, fd)).toBeNull();
  });

  it("poll: 0 until the fence signals, then POLLIN; the first poll arms a wake-up", async () => {
    const k = new Kernel();
    const p = k.vfs.createProcess("app");
    const f = mockFence(k);
    const sf = syncFileCreate(f);
    const fd = syncFileInstall(p, sf);
    expect(p.poll(fd, POLLIN)).toBe(0);
    expect(f.cbList).toHaveLength(1);
    let woke = false;
    await k.run({
      poller: async () => {
        await waitEvent(sf.wq, () => (p.poll(fd, POLLIN) & POLLIN) !== 0);
        woke = true;
      },
      gpu: async () => {
        await msleep(k, 1);
        dmaFenceSignal(f);
      },
    });
    expect(woke).toBe(true);
    expect(p.poll(fd, POLLIN | POLLOUT)).toBe(POLLIN);
    p.close(fd);
  });

  it("closing a polled sync file removes its callback", () => {
    const k = new Kernel();
    const p = k.vfs.createProcess("app");
    const f = mockFence(k);
    const fd = syncFileInstall(p, syncFileCreate(f));
    p.poll(fd, POLLIN);
    p.close(fd);
    expect(f.cbList).toHaveLength(0);
    dmaFenceSignal(f);
    dmaFencePut(f);
    expect(k.findings).toEqual([]);
  });

  it("SYNC_IOC_MERGE: a new O_CLOEXEC fd whose fence merges both", async () => {
    const k = new Kernel();
    const p = k.vfs.createProcess("app");
    const ctx = dmaFenceContextAlloc(k, 2);
    const a = mockFence(k, ctx, 1);
    const b = mockFence(k, ctx + 1, 1);
    const fdA = syncFileInstall(p, syncFileCreate(a));
    const fdB = syncFileInstall(p, syncFileCreate(b));
    const data: SyncMergeData = { name: "merged", fd2: fdB, fence: -1, flags: 0, pad: 0 };
    expect(await p.ioctl(fdA, SYNC_IOC_MERGE, data)).toBe(0);
    expect(data.fence).toBe(2);
    expect(p.isCloexec(data.fence)).toBe(true);
    const merged = syncFileGetFence(p, data.fence) as DmaFence;
    expect(merged.kind).toBe("array");
    dmaFenceSignal(a);
    expect(dmaFenceIsSignaled(merged)).toBe(false);
    dmaFenceSignal(b);
    expect(dmaFenceIsSignaled(merged)).toBe(true);
    dmaFencePut(merged);
    const info: SyncFileInfo = {
      name: "",
      status: 0,
      flags: 0,
      numFences: 0,
      pad: 0,
      syncFenceInfo: [],
    };
    expect(await p.ioctl(data.fence, SYNC_IOC_FILE_INFO, info)).toBe(0);
    expect(info).toMatchObject({ name: "merged", numFences: 2, status: 1 });
  });

  it("SYNC_IOC_MERGE errors: flags (EINVAL), a non-sync-file fd2 (ENOENT), a bad argument (EFAULT)", async () => {
    const k = new Kernel();
    const p = k.vfs.createProcess("app");
    const fd = syncFileInstall(p, syncFileCreate(mockFence(k)));
    expect(
      await errCode(p.ioctl(fd, SYNC_IOC_MERGE, { name: "", fd2: fd, fence: 0, flags: 1, pad: 0 })),
    ).toBe("EINVAL");
    expect(
      await errCode(p.ioctl(fd, SYNC_IOC_MERGE, { name: "", fd2: 99, fence: 0, flags: 0, pad: 0 })),
    ).toBe("ENOENT");
    expect(await errCode(p.ioctl(fd, SYNC_IOC_MERGE, null))).toBe("EFAULT");
    expect(await errCode(p.ioctl(fd, 0x1234, null))).toBe("ENOTTY");
    expect(p.openFds()).toEqual([fd]);
  });

  it("SYNC_IOC_FILE_INFO: count first, then per-fence info with status and error", async () => {
    const k = new Kernel();
    const p = k.vfs.createProcess("app");
    const ctx = dmaFenceContextAlloc(k, 2);
    const a = dmaFenceInit(k, MOCK_OPS, null, ctx, 1);
    const b = dmaFenceInit(k, MOCK_OPS, null, ctx + 1, 1);
    const fdA = syncFileInstall(p, syncFileCreate(a));
    const fdB = syncFileInstall(p, syncFileCreate(b));
    const data: SyncMergeData = { name: "m", fd2: fdB, fence: -1, flags: 0, pad: 0 };
    await p.ioctl(fdA, SYNC_IOC_MERGE, data);
    dmaFenceSetError(a, -5);
    dmaFenceSignal(a);
    const info: SyncFileInfo = {
      name: "",
      status: 0,
      flags: 0,
      numFences: 0,
      pad: 0,
      syncFenceInfo: [],
    };
    await p.ioctl(data.fence, SYNC_IOC_FILE_INFO, info);
    expect(info.numFences).toBe(2);
    expect(info.status).toBe(0);
    info.numFences = 1;
    expect(await errCode(p.ioctl(data.fence, SYNC_IOC_FILE_INFO, info))).toBe("EINVAL");
    info.numFences = 2;
    await p.ioctl(data.fence, SYNC_IOC_FILE_INFO, info);
    expect(info.syncFenceInfo.map((x) => x.status)).toEqual([-5, 0]);
    expect(info.status).toBe(-5);
    // latest kernels detach the ops of a signaled fence that has no release/wait op
    expect(info.syncFenceInfo[0]).toMatchObject({
      objName: "signaled-timeline",
      driverName: "detached-driver",
    });
    expect(info.syncFenceInfo[1]).toMatchObject({
      objName: "mock",
      driverName: "mock",
      timestampNs: 0,
    });
    expect(await errCode(p.ioctl(data.fence, SYNC_IOC_FILE_INFO, { ...info, flags: 1 }))).toBe(
      "EINVAL",
    );
    expect(await p.ioctl(fdA, SYNC_IOC_SET_DEADLINE, { deadlineNs: 5, pad: 0 })).toBe(0);
    expect(await errCode(p.ioctl(fdA, SYNC_IOC_SET_DEADLINE, { deadlineNs: 5, pad: 1 }))).toBe(
      "EINVAL",
    );
  });
});
