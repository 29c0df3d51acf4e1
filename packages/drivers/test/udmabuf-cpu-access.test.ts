/**
 * udmabuf's begin/end_cpu_access hooks (284562e1f348, v5.6): the first begin maps the pages for the
 * misc device in the caller's direction; before 5.6 udmabuf had no CPU-access hooks.
 */
import { describe, expect, it } from "vitest";
import { PAGE_SIZE } from "@dmasim/kernel";
import {
  DMA_BIDIRECTIONAL,
  DMA_FROM_DEVICE,
  DMA_TO_DEVICE,
  dmaDebugEntries,
} from "@dmasim/dma-mapping";
import { dmaBufBeginCpuAccess, dmaBufEndCpuAccess } from "@dmasim/dma-buf";
import {
  F_SEAL_SHRINK,
  MFD_ALLOW_SEALING,
  memfdAddSeals,
  memfdCreate,
  udmabufCreate,
  udmabufInit,
} from "../src/index";
import { machine } from "./helpers";

function create(version: string) {
  const { kernel } = machine(version);
  const app = kernel.vfs.createProcess("app");
  const mfd = memfdCreate(app, "buf", PAGE_SIZE, MFD_ALLOW_SEALING);
  memfdAddSeals(app, mfd, F_SEAL_SHRINK);
  const { dmabuf } = udmabufCreate(app, { memfd: mfd, flags: 0, offset: 0, size: PAGE_SIZE });
  return { kernel, dmabuf, misc: udmabufInit(kernel) };
}

describe("udmabuf begin/end_cpu_access", () => {
  it.each([
    ["DMA_FROM_DEVICE", DMA_FROM_DEVICE],
    ["DMA_TO_DEVICE", DMA_TO_DEVICE],
    ["DMA_BIDIRECTIONAL", DMA_BIDIRECTIONAL],
  ] as const)(
    "5.6+: the first begin_cpu_access(%s) maps the misc device's table in that direction",
    async (_n, dir) => {
      for (const version of ["5.10", "6.12", "latest"]) {
        const { dmabuf, misc } = create(version);
        await dmaBufBeginCpuAccess(dmabuf, dir);
        const entries = dmaDebugEntries(misc);
        expect(entries.length, version).toBeGreaterThan(0);
        expect(
          entries.every((e) => e.direction === dir),
          version,
        ).toBe(true);
        await dmaBufEndCpuAccess(dmabuf, dir);
      }
    },
  );

  it("5.6+: end_cpu_access before any begin is EINVAL", async () => {
    const { dmabuf } = create("6.12");
    await expect(dmaBufEndCpuAccess(dmabuf, DMA_TO_DEVICE)).rejects.toThrow(/EINVAL/);
  });

  it("before 5.6 (5.4): udmabuf has no CPU-access hooks: nothing is mapped, end succeeds", async () => {
    const { dmabuf, misc } = create("5.4");
    await dmaBufBeginCpuAccess(dmabuf, DMA_FROM_DEVICE);
    expect(dmaDebugEntries(misc)).toEqual([]);
    await expect(dmaBufEndCpuAccess(dmabuf, DMA_TO_DEVICE)).resolves.not.toThrow();
  });
});
