// Issue 14 items 7 and 11 for the drivers: counts and sizes the types allow are answered as the
// drivers' kernel code answers them, never with a hang, a TypeError or a leak.
import { describe, expect, it } from "vitest";
import { Kernel, PAGE_SIZE, isKernelError } from "@dmasim/kernel";
import { addDevice, createMachine } from "@dmasim/hardware";
import { DMA_MAPPING_MODULE } from "@dmasim/dma-mapping";
import {
  DRIVERS_MODULE,
  VB2_MAX_FRAME,
  cameraProbe,
  cameraRelease,
  cameraReqbufs,
  gpuBoCreate,
  gpuBoPut,
  gpuProbe,
} from "../src/index";
import { machine } from "./helpers";

async function code(p: Promise<unknown> | (() => unknown)): Promise<string> {
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

describe("amdgpu_bo_create(): sizes (amdgpu_bo_validate_size)", () => {
  it("a BO as large as its domain is ENOMEM at once: system memory for GTT, VRAM for VRAM", async () => {
    const { kernel, m } = machine();
    const gpu = gpuProbe(kernel, addDevice(m, { name: "gpu", dmaMask: 40 }), { vramPages: 16 });
    const free = m.pageAlloc.freePages;
    expect(await code(gpuBoCreate(gpu, m.config.ramSize))).toBe("ENOMEM");
    expect(await code(gpuBoCreate(gpu, 2 ** 52))).toBe("ENOMEM"); // once hung in orderFor()
    expect(await code(gpuBoCreate(gpu, 2 ** 40, { contiguous: true }))).toBe("ENOMEM");
    expect(await code(gpuBoCreate(gpu, -PAGE_SIZE))).toBe("ENOMEM"); // a u64: huge
    expect(await code(gpuBoCreate(gpu, 16 * PAGE_SIZE, { placement: "vram" }))).toBe("ENOMEM");
    expect(m.pageAlloc.freePages).toBe(free);
  });

  it("NaN, a fraction or a size that is not a page multiple: EINVAL; 15 of 16 VRAM pages fit", async () => {
    const { kernel, m } = machine();
    const gpu = gpuProbe(kernel, addDevice(m, { name: "gpu", dmaMask: 40 }), { vramPages: 16 });
    expect(await code(gpuBoCreate(gpu, NaN))).toBe("EINVAL");
    expect(await code(gpuBoCreate(gpu, 0.5))).toBe("EINVAL");
    expect(await code(gpuBoCreate(gpu, PAGE_SIZE + 1))).toBe("EINVAL");
    const bo = await gpuBoCreate(gpu, 15 * PAGE_SIZE, { placement: "vram" });
    gpuBoPut(bo);
  });
});

describe("VIDIOC_REQBUFS (vb2_core_reqbufs): the count", () => {
  it(`is a __u32 clamped to VB2_MAX_FRAME (${VB2_MAX_FRAME}): -1 is huge, 2^32 + 5 is 5`, () => {
    for (const [count, n] of [
      [1000, VB2_MAX_FRAME],
      [-1, VB2_MAX_FRAME],
      [2 ** 32 + 5, 5],
      [2 ** 40, 0],
    ] as const) {
      const { kernel, m } = machine();
      const cam = cameraProbe(kernel, addDevice(m, { name: "cam", dmaMask: 32 }));
      expect(cameraReqbufs(cam, count, PAGE_SIZE)).toHaveLength(n);
      cameraRelease(cam);
    }
  });

  it("0 asks for none; NaN is EINVAL", async () => {
    const { kernel, m } = machine();
    const cam = cameraProbe(kernel, addDevice(m, { name: "cam", dmaMask: 32 }));
    expect(cameraReqbufs(cam, 0, PAGE_SIZE)).toEqual([]);
    expect(await code(() => cameraReqbufs(cam, NaN, PAGE_SIZE))).toBe("EINVAL");
  });

  it("memory running out part-way keeps the buffers allocated so far; none at all is ENOMEM", async () => {
    const kernel = new Kernel({ version: "6.12", modules: [DMA_MAPPING_MODULE, DRIVERS_MODULE] });
    const m = createMachine(kernel, "arm64-soc", {
      cachePolicy: { name: "none" },
      ramSize: 32 * 2 ** 20,
      swiotlbSize: 0,
      cmaSize: 0,
    });
    const cam = cameraProbe(kernel, addDevice(m, { name: "cam", dmaMask: 32 }), {
      contiguous: true,
    });
    // 1 MiB contiguous buffers: 32 MiB of RAM holds a few dozen order-8 blocks at most, not 32
    const bufs = cameraReqbufs(cam, 32, 2 ** 20);
    expect(bufs.length).toBeGreaterThan(0);
    expect(bufs.length).toBeLessThan(32);
    cameraRelease(cam);
    const free = m.pageAlloc.freePages;
    const cam2 = cameraProbe(kernel, addDevice(m, { name: "cam2", dmaMask: 32 }), {
      contiguous: true,
    });
    expect(await code(() => cameraReqbufs(cam2, 2, 2 ** 40))).toBe("ENOMEM");
    expect(m.pageAlloc.freePages).toBe(free);
  });
});
