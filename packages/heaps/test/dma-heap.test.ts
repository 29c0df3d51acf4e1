import { describe, expect, it } from "vitest";
import {
  Kernel,
  MAP_SHARED,
  O_CLOEXEC,
  O_RDONLY,
  O_RDWR,
  PAGE_SIZE,
  PROT_READ,
  PROT_WRITE,
  SEEK_END,
} from "@dmasim/kernel";
import { createMachine } from "@dmasim/hardware";
import { dmaBufExport, type DmaBufOps } from "@dmasim/dma-buf";
import {
  DMA_HEAP_IOCTL_ALLOC,
  HEAPS_MODULE,
  IOC,
  IOC_READ,
  IOC_WRITE,
  NUM_HEAP_MINORS,
  SYSTEM_HEAP_ORDERS,
  dmaHeapAdd,
  dmaHeapBufferAlloc,
  dmaHeapCheckAlloc,
  dmaHeapFind,
  dmaHeapGetDev,
  dmaHeapGetDrvdata,
  dmaHeapGetName,
  dmaHeapIoctlAllocOfSize,
  type DmaHeapOps,
  type SystemHeapBuffer,
} from "../src/index";
import { boot, errno } from "./helpers";

const RW = O_RDWR | O_CLOEXEC;

/** A minimal heap: exports one page-less buffer of the asked size and counts its calls. */
function minimalHeap(kernel: Kernel): { ops: DmaHeapOps; calls: number[] } {
  const calls: number[] = [];
  const bufOps: DmaBufOps = {
    mapDmaBuf: () => null,
    unmapDmaBuf: () => undefined,
    release: () => undefined,
  };
  return {
    calls,
    ops: {
      allocate(_heap, len, fdFlags) {
        calls.push(len);
        return dmaBufExport(kernel, { ops: bufOps, size: len, flags: fdFlags, priv: {} });
      },
    },
  };
}

function kernelWithMachine(version = "6.12"): Kernel {
  const k = new Kernel({ version, modules: [HEAPS_MODULE] });
  createMachine(k, "arm64-soc", { cachePolicy: { name: "none" } });
  return k;
}

describe("dma_heap_add", () => {
  it("registers a heap with a device node, name, drvdata and its own device", async () => {
    const k = kernelWithMachine();
    const { ops } = minimalHeap(k);
    const heap = dmaHeapAdd(k, { name: "mini", ops, priv: 42 });
    expect(heap.path).toBe("/dev/dma_heap/mini");
    expect(k.vfs.lookup("/dev/dma_heap/mini")).toBeDefined();
    expect(dmaHeapGetName(heap)).toBe("mini");
    expect(dmaHeapGetDrvdata(heap)).toBe(42);
    expect(dmaHeapFind(k, "mini")).toBe(heap);
    expect(dmaHeapFind(k, "none")).toBeNull();
    expect(dmaHeapGetDev(heap).name).toBe("dma_heap!mini");
    expect(dmaHeapGetDev(heap).coherent).toBe(false); // arm64 SoC: a device without DMA config
    const app = k.vfs.createProcess("app");
    const fd = await app.open(heap.path);
    expect(() => app.llseek(fd, 0, 0)).toThrow(/ESPIPE|illegal seek/); // nonseekable_open
  });

  it("refuses no name, an empty name, no ops, no allocate, a duplicate, and kernels before 5.6", () => {
    const k = kernelWithMachine();
    const { ops } = minimalHeap(k);
    const code = (fn: () => unknown): string => {
      try {
        fn();
        return "ok";
      } catch (e) {
        return (e as { code: string }).code;
      }
    };
    expect(code(() => dmaHeapAdd(k, { name: null, ops }))).toBe("EINVAL");
    expect(code(() => dmaHeapAdd(k, { name: "", ops }))).toBe("EINVAL");
    expect(code(() => dmaHeapAdd(k, { name: "x", ops: null }))).toBe("EINVAL");
    expect(code(() => dmaHeapAdd(k, { name: "x", ops: {} as DmaHeapOps }))).toBe("EINVAL");
    expect(code(() => dmaHeapAdd(k, { name: "x", ops }))).toBe("ok");
    expect(code(() => dmaHeapAdd(k, { name: "x", ops }))).toBe("EINVAL");
    expect(k.dmesg.format()).toMatch(/Already registered heap named x/);
    expect(code(() => dmaHeapAdd(kernelWithMachine("5.4"), { name: "x", ops }))).toBe("ENODEV");
  });

  it("runs out of minors after 128 heaps (EBUSY)", () => {
    const k = kernelWithMachine();
    const { ops } = minimalHeap(k);
    for (let i = 0; i < NUM_HEAP_MINORS; i++) {
      dmaHeapAdd(k, { name: `h${i}`, ops });
    }
    expect(() => dmaHeapAdd(k, { name: "one-more", ops })).toThrow(/minor/);
  });
});

describe("DMA_HEAP_IOCTL_ALLOC validation (dma_heap_ioctl_allocate)", () => {
  it("checks fd, fd_flags, heap_flags and the aligned length, in that order", () => {
    const ok = dmaHeapCheckAlloc(1n, 0, RW, 0n);
    expect(ok).toBe(BigInt(PAGE_SIZE));
    const code = (fn: () => unknown): string => {
      try {
        fn();
        return "ok";
      } catch (e) {
        return (e as { code: string }).code;
      }
    };
    expect(code(() => dmaHeapCheckAlloc(4096n, 3, RW, 0n))).toBe("EINVAL");
    expect(code(() => dmaHeapCheckAlloc(4096n, 0, 0o100, 0n))).toBe("EINVAL"); // O_CREAT
    expect(code(() => dmaHeapCheckAlloc(4096n, 0, RW, 1n))).toBe("EINVAL");
    expect(code(() => dmaHeapCheckAlloc(0n, 0, RW, 0n))).toBe("EINVAL");
    expect(code(() => dmaHeapCheckAlloc(2n ** 64n - 1n, 0, RW, 0n))).toBe("EINVAL"); // wraps
    expect(code(() => dmaHeapCheckAlloc(4096n, 0, O_RDONLY, 0n))).toBe("ok");
  });

  it("through a process: errnos, size adaptation, unknown numbers and the unchecked magic", async () => {
    const k = kernelWithMachine();
    const { ops, calls } = minimalHeap(k);
    dmaHeapAdd(k, { name: "mini", ops });
    const app = k.vfs.createProcess("app");
    const hfd = await app.open("/dev/dma_heap/mini");
    const alloc = (cmd: number, arg: unknown): Promise<string> => errno(app.ioctl(hfd, cmd, arg));

    expect(await alloc(DMA_HEAP_IOCTL_ALLOC, { len: 10, fd: 0, fdFlags: RW })).toBe("ok");
    expect(calls).toEqual([PAGE_SIZE]); // page-aligned before the heap sees it
    expect(await alloc(DMA_HEAP_IOCTL_ALLOC, { len: 10, fd: 7, fdFlags: RW })).toBe("EINVAL");
    expect(await alloc(DMA_HEAP_IOCTL_ALLOC, { len: 0, fd: 0, fdFlags: RW })).toBe("EINVAL");
    expect(await alloc(DMA_HEAP_IOCTL_ALLOC, { len: 2n ** 64n - 1n, fd: 0, fdFlags: RW })).toBe(
      "EINVAL",
    );
    expect(await alloc(DMA_HEAP_IOCTL_ALLOC, "not a pointer")).toBe("EFAULT");
    // unknown command numbers: EINVAL, not ENOTTY
    expect(await alloc(IOC(IOC_READ | IOC_WRITE, 0x48, 1, 24), {})).toBe("EINVAL");
    // the magic is not checked: 'b' with number 0 is ALLOC
    expect(
      await alloc(IOC(IOC_READ | IOC_WRITE, 0x62, 0, 24), { len: 1, fd: 0, fdFlags: RW }),
    ).toBe("ok");
    // a 16-byte (older) struct: heap_flags is not read, even if the caller's memory has some
    const short = { len: 1, fd: 0, fdFlags: RW, heapFlags: 0x111111 };
    expect(await alloc(dmaHeapIoctlAllocOfSize(16), short)).toBe("ok");
    expect(short.heapFlags).toBe(0x111111); // not written back either
    // a longer struct: the tail is ignored and left as it is
    const long = { len: 1, fd: 0, fdFlags: RW, heapFlags: 0, extra: 0x88888888 };
    expect(await alloc(dmaHeapIoctlAllocOfSize(48), long)).toBe("ok");
    expect(long.extra).toBe(0x88888888);
    expect(long.fd).toBeGreaterThan(0);
    // a command without the write direction copies nothing in: length 0
    expect(await alloc(IOC(IOC_READ, 0x48, 0, 24), { len: 4096, fd: 0, fdFlags: RW })).toBe(
      "EINVAL",
    );
    // without the read direction nothing comes back: the fd is installed but never reported
    const before = app.openFds().length;
    const noOut = { len: 1, fd: 0, fdFlags: RW };
    expect(await alloc(IOC(IOC_WRITE, 0x48, 0, 24), noOut)).toBe("ok");
    expect(noOut.fd).toBe(0);
    expect(app.openFds().length).toBe(before + 1);
  });

  it("fd_flags become the buffer's file flags and the fd's close-on-exec", async () => {
    const { app } = boot("6.12");
    const hfd = await app.open("/dev/dma_heap/system");
    const ro = { len: PAGE_SIZE, fd: 0, fdFlags: O_RDONLY };
    await app.ioctl(hfd, DMA_HEAP_IOCTL_ALLOC, ro);
    expect(app.isCloexec(ro.fd)).toBe(false);
    expect(await errno(app.mmap(PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, ro.fd))).toBe(
      "EACCES",
    );
    const rw = { len: 3 * PAGE_SIZE - 5, fd: 0, fdFlags: RW };
    await app.ioctl(hfd, DMA_HEAP_IOCTL_ALLOC, rw);
    expect(app.isCloexec(rw.fd)).toBe(true);
    expect(app.llseek(rw.fd, 0, SEEK_END)).toBe(3 * PAGE_SIZE);
  });

  it("H28: a read-only argument gets EFAULT after the fd was installed (a leaked fd)", async () => {
    const { k, app } = boot("6.12");
    const hfd = await app.open("/dev/dma_heap/system");
    const before = app.openFds();
    const arg = Object.freeze({ len: PAGE_SIZE, fd: 0, fdFlags: RW });
    expect(await errno(app.ioctl(hfd, DMA_HEAP_IOCTL_ALLOC, arg))).toBe("EFAULT");
    const leaked = app.openFds().filter((fd) => !before.includes(fd));
    expect(leaked).toHaveLength(1); // userspace never learned this number
    expect(app.fdinfo(leaked[0]!)).toMatch(/exp_name:\tsystem/);
    // the fix on the user side: writable memory
    const ok = { len: PAGE_SIZE, fd: 0, fdFlags: RW };
    expect(await errno(app.ioctl(hfd, DMA_HEAP_IOCTL_ALLOC, ok))).toBe("ok");
    expect(app.openFds()).toContain(ok.fd);
    void k;
  });

  it("the in-kernel allocation validates flags and page-aligns", async () => {
    const { k } = boot("6.12");
    const heap = dmaHeapFind(k, "system")!;
    expect(await errno(dmaHeapBufferAlloc(heap, 100, RW, 1))).toBe("EINVAL");
    expect(await errno(dmaHeapBufferAlloc(heap, 0, RW))).toBe("EINVAL");
    const buf = await dmaHeapBufferAlloc(heap, 100, RW);
    expect(buf.size).toBe(PAGE_SIZE);
  });
});

describe("system heap allocation (system_heap_allocate)", () => {
  it("5.11+: orders 8, 4, 0, largest first, never increasing", async () => {
    const { k } = boot("6.12");
    const heap = dmaHeapFind(k, "system")!;
    const buf = await dmaHeapBufferAlloc(heap, (1 << 20) * 2 + 64 * 1024 + 3 * PAGE_SIZE, RW);
    const sb = buf.priv as SystemHeapBuffer;
    expect(sb.pages.map((p) => p.order)).toEqual([8, 8, 4, 0, 0, 0]);
    expect(sb.sgTable.origNents).toBe(6);
    expect(SYSTEM_HEAP_ORDERS).toEqual([8, 4, 0]);
  });

  it("a fatal signal aborts the allocation: ENOMEM on mainline, EINTR on Android", async () => {
    for (const [opts, want] of [
      [{}, "ENOMEM"],
      [{ CONFIG_ANDROID: true }, "EINTR"],
    ] as const) {
      const { k, m } = boot("6.12", opts);
      const heap = dmaHeapFind(k, "system")!;
      const free = m.pageAlloc.freePages;
      let got = "";
      await k.run({
        killed: async () => {
          k.sched.current.signalPending = true;
          got = await errno(dmaHeapBufferAlloc(heap, 1 << 20, RW));
        },
      });
      expect(got).toBe(want);
      expect(m.pageAlloc.freePages).toBe(free);
    }
  });

  it("mainline 5.10 uses order-0 pages (the heap-helpers era)", async () => {
    const { k } = boot("5.10");
    const heap = dmaHeapFind(k, "system")!;
    const buf = await dmaHeapBufferAlloc(heap, 64 * 1024, RW);
    const hb = buf.priv as { pages: { order: number }[] };
    expect(hb.pages).toHaveLength(16);
    expect(hb.pages.every((p) => p.order === 0)).toBe(true);
  });
});
