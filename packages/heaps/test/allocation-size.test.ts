// Issue 14 item 7: an allocation larger than RAM is refused as the kernel refuses it, at once and
// without touching memory; the heaps' own size checks where the kernel has one.
import { describe, expect, it } from "vitest";
import { O_RDWR, PAGE_SIZE } from "@dmasim/kernel";
import { DMA_HEAP_IOCTL_ALLOC, ION_IOC_ALLOC, dmaHeapBufferAlloc, dmaHeapFind } from "../src/index";
import { boot, codes, errno } from "./helpers";

const GiB = 2 ** 30;

describe("DMA_HEAP_IOCTL_ALLOC larger than RAM (drivers/dma-buf/heaps/system_heap.c)", () => {
  it.each(["5.10", "6.12", "latest"])(
    "%s: ENOMEM from the system heap's page loop, no page touched, nothing leaked",
    async (v) => {
      const { k, m, app } = boot(v, {}, "arm64-soc"); // 4 GiB of RAM
      const free = m.pageAlloc.freePages;
      const heap = await app.open("/dev/dma_heap/system", O_RDWR);
      const data = { len: 8 * GiB, fd: 0, fdFlags: O_RDWR, heapFlags: 0 };
      expect(await errno(app.ioctl(heap, DMA_HEAP_IOCTL_ALLOC, data))).toBe("ENOMEM");
      expect(data.fd).toBe(0);
      expect(m.pageAlloc.freePages).toBe(free);
      expect(codes(k.findings)).toEqual([]);
    },
  );

  it("the Android system heap (pools) and its uncached twin refuse it the same way", async () => {
    const { m, k } = boot("6.12", { CONFIG_ANDROID: true });
    const free = m.pageAlloc.freePages;
    for (const name of ["system", "system-uncached"]) {
      expect(await errno(dmaHeapBufferAlloc(dmaHeapFind(k, name)!, 5 * GiB, O_RDWR))).toBe(
        "ENOMEM",
      );
    }
    expect(m.pageAlloc.freePages).toBe(free);
  });

  it("the CMA heap: a count past the area is cma_alloc()'s failure, ENOMEM", async () => {
    const { k, m } = boot("6.12");
    const free = m.pageAlloc.freePages;
    expect(await errno(dmaHeapBufferAlloc(dmaHeapFind(k, "reserved")!, 8 * GiB, O_RDWR))).toBe(
      "ENOMEM",
    );
    expect(m.pageAlloc.freePages).toBe(free);
  });

  it("a length that wraps in PAGE_ALIGN (2^64 - 1) is dma-heap's EINVAL, a NaN length is 0: EINVAL", async () => {
    const { k, app } = boot("6.12");
    const heap = await app.open("/dev/dma_heap/system", O_RDWR);
    const data = { len: 2n ** 64n - 1n, fd: 0, fdFlags: O_RDWR, heapFlags: 0 };
    expect(await errno(app.ioctl(heap, DMA_HEAP_IOCTL_ALLOC, data))).toBe("EINVAL");
    expect(await errno(dmaHeapBufferAlloc(dmaHeapFind(k, "system")!, NaN, O_RDWR))).toBe("EINVAL");
  });

  it("just under RAM still runs the loop: ENOMEM when the free pages run out (no size check in mainline)", async () => {
    const { m, app } = boot("6.12", {}, "arm64-soc", { ramSize: 64 * 2 ** 20 });
    const free = m.pageAlloc.freePages;
    const heap = await app.open("/dev/dma_heap/system", O_RDWR);
    const data = { len: 64 * 2 ** 20, fd: 0, fdFlags: O_RDWR, heapFlags: 0 };
    expect(await errno(app.ioctl(heap, DMA_HEAP_IOCTL_ALLOC, data))).toBe("ENOMEM");
    expect(m.pageAlloc.freePages).toBe(free);
  });
});

describe("ION's own check (drivers/staging/android/ion/ion_system_heap.c, 4.14-5.10)", () => {
  it("more than half of RAM from the ION system heap: ENOMEM before any page is taken", async () => {
    const { m, app } = boot("4.19");
    const free = m.pageAlloc.freePages;
    const ion = await app.open("/dev/ion");
    const data = { len: 2 * GiB + PAGE_SIZE, heapIdMask: 1, flags: 0, fd: 0 };
    expect(await errno(app.ioctl(ion, ION_IOC_ALLOC, data))).toBe("ENOMEM");
    expect(m.pageAlloc.freePages).toBe(free);
  });
});
