// The README example: boot a kernel with its heaps, allocate from /dev/dma_heap/system in a
// process, fill the buffer through mmap inside DMA_BUF_IOCTL_SYNC, and let a non-coherent display
// controller import it and read it.
import { Kernel, MAP_SHARED, O_CLOEXEC, O_RDWR, PROT_READ, PROT_WRITE } from "@dmasim/kernel";
import { addDevice, createMachine, deviceRead, userWrite } from "@dmasim/hardware";
import { DMA_TO_DEVICE, sgDmaAddress } from "@dmasim/dma-mapping";
import {
  DMA_BUF_IOCTL_SYNC,
  DMA_BUF_MODULE,
  DMA_BUF_SYNC_END,
  DMA_BUF_SYNC_START,
  DMA_BUF_SYNC_WRITE,
  dmaBufAttach,
  dmaBufCheckLeaks,
  dmaBufDetach,
  dmaBufGet,
  dmaBufMapAttachmentUnlocked,
  dmaBufPut,
  dmaBufUnmapAttachmentUnlocked,
} from "@dmasim/dma-buf";
import { DMA_HEAP_IOCTL_ALLOC, HEAPS_MODULE, dmaHeapsInit } from "@dmasim/heaps";

export async function main(): Promise<{ heaps: string[]; pixels: number[]; findings: string[] }> {
  const kernel = new Kernel({ version: "6.12", modules: [DMA_BUF_MODULE, HEAPS_MODULE] });
  const m = createMachine(kernel, "arm64-soc", { cachePolicy: { name: "none" } });
  const heaps = dmaHeapsInit(kernel).map((h) => h.path); // system and the default CMA area
  const display = addDevice(m, { name: "display", dmaMask: 64 });
  const app = kernel.vfs.createProcess("compositor");

  // userspace: allocate 64 KiB from the system heap
  const heapFd = await app.open("/dev/dma_heap/system", O_RDWR);
  const alloc = { len: 64 * 1024, fd: 0, fdFlags: O_RDWR | O_CLOEXEC };
  await app.ioctl(heapFd, DMA_HEAP_IOCTL_ALLOC, alloc);

  // userspace: draw into it through mmap, bracketed for CPU writes
  const vma = await app.mmap(alloc.len, PROT_READ | PROT_WRITE, MAP_SHARED, alloc.fd);
  await app.ioctl(alloc.fd, DMA_BUF_IOCTL_SYNC, { flags: DMA_BUF_SYNC_START | DMA_BUF_SYNC_WRITE });
  await userWrite(m, app, vma.start, new Uint8Array(256).fill(0xc0));
  await app.ioctl(alloc.fd, DMA_BUF_IOCTL_SYNC, { flags: DMA_BUF_SYNC_END | DMA_BUF_SYNC_WRITE });

  // the display driver imports the fd and scans the buffer out (map cleans for the device)
  const buf = dmaBufGet(app, alloc.fd);
  const attach = await dmaBufAttach(buf, display);
  const sgt = await dmaBufMapAttachmentUnlocked(attach, DMA_TO_DEVICE);
  const pixels = [...deviceRead(display, sgDmaAddress(sgt.sgl[0]!), 4)];
  await dmaBufUnmapAttachmentUnlocked(attach, sgt, DMA_TO_DEVICE);
  await dmaBufDetach(buf, attach);
  dmaBufPut(buf);

  await app.munmap(vma.start);
  app.close(alloc.fd); // the last reference: the heap frees the pages
  app.close(heapFd);
  dmaBufCheckLeaks(kernel);
  return { heaps, pixels, findings: kernel.findings.map((f) => `${f.kind}: ${f.summary}`) };
}
