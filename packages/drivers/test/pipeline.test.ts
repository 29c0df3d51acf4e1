/** The drivers combined: camera -> gpu -> display, across kernel versions and platforms. */
import { describe, expect, it } from "vitest";
import { PAGE_SIZE } from "@dmasim/kernel";
import { addDevice } from "@dmasim/hardware";
import { dmaBufPut } from "@dmasim/dma-buf";
import {
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
  gpuRingFlush,
  gpuSubmit,
} from "../src/index";
import { allFindings, fill, machine } from "./helpers";

async function pipeline(version: string, platform: string) {
  const { kernel, m } = machine(version, {}, platform);
  const rpi = platform === "rpi4";
  const cam = cameraProbe(kernel, addDevice(m, { name: "cam", dmaMask: 32 }));
  const gpu = gpuProbe(
    kernel,
    addDevice(m, {
      name: "gpu",
      dmaMask: rpi ? 32 : 40,
      ...(rpi ? {} : { iommu: "dma" as const }),
    }),
  );
  const disp = displayProbe(kernel, addDevice(m, { name: "disp", dmaMask: rpi ? 30 : 40 }));
  const [frame] = cameraReqbufs(cam, 1, 2 * PAGE_SIZE);
  const { dmabuf: camBuf } = cameraExpbuf(frame!);
  const imp = await gpuImport(gpu, camBuf);
  const scan = await gpuBoCreate(gpu, 2 * PAGE_SIZE, { contiguous: true, lowmem: rpi });
  const scanBuf = gpuBoExport(scan);
  const fb = await displayImport(disp, scanBuf);

  cameraQbuf(frame!);
  cameraCapture(cam, fill(0xc3, 32));
  cameraDqbuf(cam);
  await gpuSubmit(gpu, { src: imp, dst: scan, len: 2 * PAGE_SIZE }); // a blit of the frame
  const shown = [...(await displayScanout(fb, 4, PAGE_SIZE))]; // waits for the blit

  await displayRelease(fb);
  await gpuRingFlush(gpu);
  await gpuImportRelease(imp);
  dmaBufPut(camBuf);
  dmaBufPut(scanBuf);
  gpuBoPut(scan);
  cameraRelease(cam);
  return { shown, findings: allFindings(kernel) };
}

describe("camera -> gpu -> display", () => {
  for (const version of ["5.10", "6.12", "latest"]) {
    for (const platform of ["arm64-soc", "x86-64", "rpi4"]) {
      it(`${version} on ${platform}: the display shows the captured frame, nothing is found`, async () => {
        expect(await pipeline(version, platform)).toEqual({
          shown: [0xc3, 0xc3, 0xc3, 0xc3],
          findings: [],
        });
      });
    }
  }
});
