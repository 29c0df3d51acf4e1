// The README example: camera -> GPU -> display on a non-coherent arm64 SoC. The camera exports a
// captured frame, the GPU imports it (a dynamic attachment) and blits it into a contiguous
// scan-out BO, the display imports that BO and shows it once the blit's fence signaled.
import { Kernel, PAGE_SIZE } from "@dmasim/kernel";
import { addDevice, createMachine } from "@dmasim/hardware";
import { DMA_MAPPING_MODULE } from "@dmasim/dma-mapping";
import { DMA_BUF_MODULE, dmaBufCheckLeaks, dmaBufPut } from "@dmasim/dma-buf";
import {
  DRIVERS_MODULE,
  cameraCapture,
  cameraDqbuf,
  cameraExpbuf,
  cameraProbe,
  cameraQbuf,
  cameraRelease,
  cameraReqbufs,
  displayImport,
  displayProbe,
  displayRelease,
  displayScanout,
  gpuBoCreate,
  gpuBoExport,
  gpuBoPut,
  gpuImport,
  gpuImportRelease,
  gpuProbe,
  gpuSubmit,
} from "@dmasim/drivers";

export async function main(): Promise<{ shown: number[]; findings: string[] }> {
  const kernel = new Kernel({
    version: "6.12",
    modules: [DMA_BUF_MODULE, DMA_MAPPING_MODULE, DRIVERS_MODULE],
  });
  const m = createMachine(kernel, "arm64-soc", { cachePolicy: { name: "none" } });
  const cam = cameraProbe(kernel, addDevice(m, { name: "cam", dmaMask: 32 }));
  const gpu = gpuProbe(kernel, addDevice(m, { name: "gpu", dmaMask: 40, iommu: "dma" }));
  const disp = displayProbe(kernel, addDevice(m, { name: "disp", dmaMask: 40 }));

  // Set up: a capture buffer exported to the GPU, a scan-out BO exported to the display.
  const [frame] = cameraReqbufs(cam, 1, 2 * PAGE_SIZE);
  const { dmabuf: camBuf } = cameraExpbuf(frame!);
  const src = await gpuImport(gpu, camBuf);
  const scan = await gpuBoCreate(gpu, 2 * PAGE_SIZE, { contiguous: true });
  const scanBuf = gpuBoExport(scan);
  const fb = await displayImport(disp, scanBuf);

  // One frame: capture, blit, scan out (the display waits for the blit's WRITE fence).
  cameraQbuf(frame!);
  cameraCapture(cam, new Uint8Array([0xc3]));
  cameraDqbuf(cam);
  await gpuSubmit(gpu, { src, dst: scan, len: 2 * PAGE_SIZE });
  const shown = [...(await displayScanout(fb, 4))];

  // Tear down in reverse order.
  await displayRelease(fb);
  await gpuImportRelease(src);
  dmaBufPut(camBuf);
  dmaBufPut(scanBuf);
  gpuBoPut(scan);
  cameraRelease(cam);
  dmaBufCheckLeaks(kernel);
  return { shown, findings: kernel.findings.map((f) => `${f.kind}: ${f.summary}`) };
}
