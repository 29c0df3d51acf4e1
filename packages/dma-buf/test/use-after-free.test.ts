// Issue 14 item 8: an importer that uses a dma-buf after its release. dma_buf_release() frees the
// struct dma_buf, so every later call reads freed memory (KASAN's slab-use-after-free); dmasim
// reports a `use-after-free` finding (dma-buf-freed) and refuses the call with EINVAL. A reference
// dropped once too often stays lib/refcount.c's own report ("refcount_t: underflow;
// use-after-free."), and one taken on a released buffer "addition on 0; use-after-free.".
import { describe, expect, it } from "vitest";
import { isKernelError, type Kernel } from "@dmasim/kernel";
import { DMA_BIDIRECTIONAL, DMA_TO_DEVICE } from "@dmasim/dma-mapping";
import { dmaResvLock, dmaResvUnlock } from "@dmasim/dma-resv";
import {
  dmaBufAttach,
  dmaBufBeginCpuAccess,
  dmaBufDetach,
  dmaBufEndCpuAccess,
  dmaBufFd,
  dmaBufMapAttachment,
  dmaBufMapAttachmentUnlocked,
  dmaBufMmap,
  dmaBufPut,
  dmaBufSetName,
  dmaBufUnmapAttachmentUnlocked,
  dmaBufVmapUnlocked,
  getDmaBuf,
  iosysMapInit,
  type DmaBuf,
} from "../src/index";
import { MockExporter, codes, setup } from "./helpers";
import { Vma } from "@dmasim/kernel";

async function errnoOf(p: Promise<unknown> | (() => unknown)): Promise<string> {
  try {
    await (typeof p === "function" ? p() : p);
    return "ok";
  } catch (e) {
    if (isKernelError(e)) {
      return e.code;
    }
    throw e;
  }
}

/** A buffer attached and mapped by dev0 whose only reference the exporter then drops. */
async function released(version = "6.12"): Promise<{
  kernel: Kernel;
  buf: DmaBuf;
  exp: MockExporter;
  attach: Awaited<ReturnType<typeof dmaBufAttach>>;
  sgt: Awaited<ReturnType<typeof dmaBufMapAttachmentUnlocked>>;
}> {
  const { kernel, dev } = setup(version);
  const exp = new MockExporter();
  const buf = exp.export(kernel, exp.vmapOps());
  const attach = await dmaBufAttach(buf, dev);
  const sgt = await dmaBufMapAttachmentUnlocked(attach, DMA_TO_DEVICE);
  dmaBufPut(buf); // the importer never took a reference of its own: this is the last one
  expect(codes(kernel)).toEqual(["warn/drivers/dma-buf/dma-buf.c:dma_buf_release"]);
  kernel.findings.length = 0;
  return { kernel, buf, exp, attach, sgt };
}

describe("a released dma-buf used by its importer (dma_buf_release freed it)", () => {
  it("unmap, detach, map: each a use-after-free finding and EINVAL; the exporter is not called", async () => {
    const { kernel, buf, exp, attach, sgt } = await released();
    const calls = exp.calls.length;
    expect(await errnoOf(dmaBufUnmapAttachmentUnlocked(attach, sgt, DMA_TO_DEVICE))).toBe("EINVAL");
    expect(await errnoOf(dmaBufDetach(buf, attach))).toBe("EINVAL");
    expect(await errnoOf(dmaBufMapAttachmentUnlocked(attach, DMA_BIDIRECTIONAL))).toBe("EINVAL");
    expect(codes(kernel)).toEqual([
      "use-after-free/dma-buf-freed",
      "use-after-free/dma-buf-freed",
      "use-after-free/dma-buf-freed",
    ]);
    expect(kernel.findings[0]!.summary).toMatch(
      /KASAN: slab-use-after-free in dma_buf_unmap_attachment_unlocked: dma-buf \d+ \(mock\) was released at step/,
    );
    expect(exp.calls.length).toBe(calls);
  });

  it("begin/end_cpu_access, vmap, mmap, set_name: use-after-free and EINVAL", async () => {
    const { kernel, buf } = await released();
    expect(await errnoOf(dmaBufBeginCpuAccess(buf, DMA_TO_DEVICE))).toBe("EINVAL");
    expect(await errnoOf(dmaBufEndCpuAccess(buf, DMA_TO_DEVICE))).toBe("EINVAL");
    expect(await errnoOf(dmaBufVmapUnlocked(buf, iosysMapInit()))).toBe("EINVAL");
    const vma = new Vma(kernel.vfs.createProcess("app").mm, 0x1000_0000, 0x1000_1000, 0, 0, null);
    expect(await errnoOf(dmaBufMmap(buf, vma, 0))).toBe("EINVAL");
    expect(await errnoOf(dmaBufSetName(buf, "late"))).toBe("EINVAL");
    expect(codes(kernel)).toEqual(Array(5).fill("use-after-free/dma-buf-freed"));
  });

  it("the locked map under the (freed) reservation lock: use-after-free", async () => {
    const { kernel, buf, attach } = await released("6.6");
    await dmaResvLock(buf.resv, null);
    expect(await errnoOf(dmaBufMapAttachment(attach, DMA_TO_DEVICE))).toBe("EINVAL");
    dmaResvUnlock(buf.resv);
    expect(codes(kernel)).toContain("use-after-free/dma-buf-freed");
  });

  it("dma_buf_fd on a released buffer: use-after-free, and no fd is installed", async () => {
    const { kernel, buf } = await released();
    const app = kernel.vfs.createProcess("app");
    expect(await errnoOf(() => dmaBufFd(buf, 0, app))).toBe("EINVAL");
    expect(codes(kernel)).toEqual(["use-after-free/dma-buf-freed"]);
    expect(await errnoOf(() => app.fget(0))).toBe("EBADF");
  });

  it("a put too many is refcount_t's underflow report", async () => {
    const { kernel, buf } = await released();
    dmaBufPut(buf);
    expect(codes(kernel)).toEqual(["use-after-free/refcount"]);
    expect(kernel.findings[0]!.summary).toMatch(/^refcount_t: underflow; use-after-free\./);
  });

  it("a reference taken on a released buffer is refcount_t's addition on 0", async () => {
    const { kernel, buf } = await released();
    getDmaBuf(buf);
    expect(codes(kernel)).toEqual(["use-after-free/refcount"]);
    expect(kernel.findings[0]!.summary).toMatch(/^refcount_t: addition on 0; use-after-free\./);
  });
});

describe("numbers dma-buf takes (issue 14 item 11)", () => {
  it("dma_buf_export: a size no C caller can pass is EINVAL; -1 is SIZE_MAX, accepted as the kernel does", () => {
    const { kernel } = setup("6.12");
    const exp = new MockExporter();
    expect(() => exp.export(kernel, exp.ops, { size: NaN })).toThrow(/dma_buf_export: size NaN/);
    const huge = exp.export(kernel, exp.ops, { size: -1 });
    expect(huge.size).toBe(Number.MAX_SAFE_INTEGER);
    dmaBufPut(huge);
  });

  it("dma_buf_mmap: pgoff -1 wraps and overflows (EOVERFLOW); NaN is EINVAL", async () => {
    const { kernel } = setup("6.12");
    const exp = new MockExporter({ mmap: () => undefined });
    const buf = exp.export(kernel);
    const vma = new Vma(kernel.vfs.createProcess("app").mm, 0x1000_0000, 0x1000_1000, 0, 0, null);
    expect(await errnoOf(dmaBufMmap(buf, vma, -1))).toBe("EOVERFLOW");
    expect(await errnoOf(dmaBufMmap(buf, vma, NaN))).toBe("EINVAL");
    dmaBufPut(buf);
  });
});
