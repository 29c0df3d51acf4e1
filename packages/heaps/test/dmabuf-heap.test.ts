/**
 * A port of tools/testing/selftests/dmabuf-heaps/dmabuf-heap.c (6.x): every entry of
 * /dev/dma_heap, 11 results per heap, through a process's fds. The vgem import runs against a
 * simulated importer device named "vgem" (attach + map, as DRM PRIME import does).
 */
import { describe, expect, it } from "vitest";
import { MAP_SHARED, O_CLOEXEC, O_RDWR, PROT_READ, PROT_WRITE, type Process } from "@dmasim/kernel";
import { getMachine, userRead, userWrite, type Device } from "@dmasim/hardware";
import {
  DMA_BUF_IOCTL_SYNC,
  DMA_BUF_SYNC_END,
  DMA_BUF_SYNC_RW,
  DMA_BUF_SYNC_START,
  dmaBufCheckLeaks,
} from "@dmasim/dma-buf";
import { DMA_HEAP_IOCTL_ALLOC, dmaHeapIoctlAllocOfSize } from "../src/index";
import { boot, codes, errno, vgemDevice, vgemImport } from "./helpers";

const ONE_MEG = 1024 * 1024;

async function heapAlloc(
  app: Process,
  heapFd: number,
  len: number,
  heapFlags = 0,
): Promise<number> {
  const data = { len, fd: 0, fdFlags: O_RDWR | O_CLOEXEC, heapFlags };
  await app.ioctl(heapFd, DMA_HEAP_IOCTL_ALLOC, data);
  return data.fd;
}

async function sync(app: Process, fd: number, startStop: number): Promise<number> {
  return app.ioctl(fd, DMA_BUF_IOCTL_SYNC, { flags: startStop | DMA_BUF_SYNC_RW });
}

type Result = "PASS" | "FAIL" | "SKIP";

async function testAllocAndImport(
  app: Process,
  heapFd: number,
  vgem: Device | null,
): Promise<Result[]> {
  const m = getMachine(app.kernel);
  const fd = await heapAlloc(app, heapFd, ONE_MEG);
  const vma = await app.mmap(ONE_MEG, PROT_READ | PROT_WRITE, MAP_SHARED, fd);
  await sync(app, fd, DMA_BUF_SYNC_START);
  await userWrite(m, app, vma.start, new Uint8Array(ONE_MEG / 2).fill(1));
  await userWrite(m, app, vma.start + ONE_MEG / 2, new Uint8Array(ONE_MEG / 2));
  await sync(app, fd, DMA_BUF_SYNC_END);
  const out: Result[] = [];
  if (!vgem) {
    out.push("SKIP", "SKIP");
  } else {
    const handle = await vgemImport(app, vgem, fd);
    out.push("PASS");
    const r1 = await sync(app, fd, DMA_BUF_SYNC_START);
    await userWrite(m, app, vma.start, new Uint8Array(ONE_MEG).fill(0xff));
    const r2 = await sync(app, fd, DMA_BUF_SYNC_END);
    out.push(r1 >= 0 && r2 >= 0 ? "PASS" : "FAIL");
    await handle.close();
  }
  await app.munmap(vma.start);
  app.close(fd);
  return out;
}

async function testAllocZeroed(app: Process, heapFd: number, size: number): Promise<Result[]> {
  const m = getMachine(app.kernel);
  const fds: number[] = [];
  for (let i = 0; i < 32; i++) {
    const fd = await heapAlloc(app, heapFd, size);
    const vma = await app.mmap(size, PROT_READ | PROT_WRITE, MAP_SHARED, fd);
    await sync(app, fd, DMA_BUF_SYNC_START);
    await userWrite(m, app, vma.start, new Uint8Array(size).fill(0xff));
    await sync(app, fd, DMA_BUF_SYNC_END);
    await app.munmap(vma.start);
    fds.push(fd);
  }
  fds.splice(0).forEach((fd) => app.close(fd));
  let zeroed = true;
  for (let i = 0; i < 32; i++) {
    const fd = await heapAlloc(app, heapFd, size);
    const vma = await app.mmap(size, PROT_READ | PROT_WRITE, MAP_SHARED, fd);
    await sync(app, fd, DMA_BUF_SYNC_START);
    const bytes = await userRead(m, app, vma.start, size);
    zeroed &&= bytes.every((b) => b === 0);
    await sync(app, fd, DMA_BUF_SYNC_END);
    await app.munmap(vma.start);
    fds.push(fd);
  }
  fds.forEach((fd) => app.close(fd));
  return ["PASS", zeroed ? "PASS" : "FAIL"];
}

async function testAllocCompat(app: Process, heapFd: number): Promise<Result[]> {
  const older = { len: ONE_MEG, fd: 0, fdFlags: O_RDWR | O_CLOEXEC };
  const r1 = await errno(app.ioctl(heapFd, dmaHeapIoctlAllocOfSize(16), older));
  const newer = {
    len: ONE_MEG,
    fd: 0,
    fdFlags: O_RDWR | O_CLOEXEC,
    heapFlags: 0,
    garbage1: 0xffffffff,
    garbage2: 0x88888888,
    garbage3: 0x11111111,
  };
  const r2 = await errno(app.ioctl(heapFd, dmaHeapIoctlAllocOfSize(48), newer));
  app.close(older.fd);
  app.close(newer.fd);
  return [r1 === "ok" ? "PASS" : "FAIL", r2 === "ok" ? "PASS" : "FAIL"];
}

async function testAllocErrors(
  app: Process,
  heapFd: number,
): Promise<{ r: Result[]; e: string[] }> {
  const e1 = await errno(heapAlloc(app, 0, 4096, 0x111111)); // fd 0 is not a heap
  const e2 = await errno(heapAlloc(app, heapFd, 4096, 0x111111));
  const bad = { len: 4096, fd: 0, fdFlags: ~(O_RDWR | O_CLOEXEC), heapFlags: 0 };
  const e3 = await errno(app.ioctl(heapFd, DMA_HEAP_IOCTL_ALLOC, bad));
  const e = [e1, e2, e3];
  return { r: e.map((x) => (x === "ok" ? "FAIL" : "PASS")), e };
}

async function runSelftest(
  version: string,
  options: Record<string, boolean> = {},
  withVgem = true,
) {
  // a CMA area large enough for 32 buffers of 1 MiB (the kselftest's zeroing test)
  const { k, m, app } = boot(version, options, "arm64-soc", { cmaSize: 64 * ONE_MEG });
  // fd 0: a terminal (no ioctl of its own), as stdin is for the kselftest
  k.vfs.registerDevice("/dev/console", { name: "tty" });
  expect(await app.open("/dev/console")).toBe(0);
  const vgem = withVgem ? vgemDevice(m) : null;
  const heaps = k.vfs.devices().filter((p) => p.startsWith("/dev/dma_heap/"));
  const results = new Map<string, Result[]>();
  const errnos = new Map<string, string[]>();
  for (const path of heaps) {
    const heapFd = await app.open(path, O_RDWR);
    const r: Result[] = [];
    r.push(...(await testAllocAndImport(app, heapFd, vgem)));
    r.push(...(await testAllocZeroed(app, heapFd, 4 * 1024)));
    r.push(...(await testAllocZeroed(app, heapFd, ONE_MEG)));
    r.push(...(await testAllocCompat(app, heapFd)));
    const errs = await testAllocErrors(app, heapFd);
    r.push(...errs.r);
    results.set(path, r);
    errnos.set(path, errs.e);
    app.close(heapFd);
  }
  return { k, results, errnos };
}

describe("dmabuf-heap kselftest", () => {
  it("mainline 6.12: system and the default CMA heap pass all 11 results each, no findings", async () => {
    const { k, results, errnos } = await runSelftest("6.12");
    expect([...results.keys()]).toEqual(["/dev/dma_heap/reserved", "/dev/dma_heap/system"]);
    for (const r of results.values()) {
      expect(r).toHaveLength(11);
      expect(r.every((x) => x === "PASS")).toBe(true);
    }
    // fd 0 is a terminal: ENOTTY; then heap_flags and fd_flags: EINVAL
    expect(errnos.get("/dev/dma_heap/system")).toEqual(["ENOTTY", "EINVAL", "EINVAL"]);
    expect(dmaBufCheckLeaks(k)).toEqual([]);
    expect(codes(k.findings)).toEqual([]);
  });

  it("Android 6.12: system, system-uncached (pools re-zero recycled pages) and CMA pass", async () => {
    // Android kernels do not build CONFIG_DMA_API_DEBUG_SG; with it, see the next test
    const { k, results } = await runSelftest("6.12", {
      CONFIG_ANDROID: true,
      CONFIG_DMA_API_DEBUG_SG: false,
    });
    expect([...results.keys()]).toEqual([
      "/dev/dma_heap/reserved",
      "/dev/dma_heap/system",
      "/dev/dma_heap/system-uncached",
    ]);
    for (const r of results.values()) {
      expect(r.every((x) => x === "PASS")).toBe(true);
    }
    expect(codes(k.findings)).toEqual([]);
  });

  it("with CONFIG_DMA_API_DEBUG_SG the uncached heap's own device (64 KiB segments) is reported", async () => {
    const { k, results } = await runSelftest("6.12", { CONFIG_ANDROID: true });
    expect([...results.values()].flat().every((x) => x === "PASS")).toBe(true);
    const devs = new Set(
      k.findings.map((f) => `${f.code} ${String(f.details.device ?? f.summary.split(" ")[1])}`),
    );
    expect([...devs]).toEqual(["sg-segment-too-long dma_heap!system-uncached"]);
  });

  it("mainline 5.10 (heap helpers): both heaps pass", async () => {
    const { k, results } = await runSelftest("5.10");
    expect(results.size).toBe(2);
    for (const r of results.values()) {
      expect(r.every((x) => x === "PASS")).toBe(true);
    }
    expect(codes(k.findings)).toEqual([]);
  });

  it("without a vgem device the import results are SKIP", async () => {
    const { results } = await runSelftest("6.12", {}, false);
    expect(results.get("/dev/dma_heap/system")!.slice(0, 2)).toEqual(["SKIP", "SKIP"]);
  });

  it("no /dev/dma_heap before 5.6: the whole test would SKIP", async () => {
    const { k } = boot("5.4");
    expect(k.vfs.devices().filter((p) => p.startsWith("/dev/dma_heap/"))).toEqual([]);
  });
});
