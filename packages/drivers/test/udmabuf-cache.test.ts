/** udmabuf's cache_sgt_mapping (5.6-6.15): the core keeps the first mapping of each attachment. */
import { describe, expect, it } from "vitest";
import { PAGE_SIZE } from "@dmasim/kernel";
import { addDevice } from "@dmasim/hardware";
import { DMA_FROM_DEVICE, DMA_TO_DEVICE } from "@dmasim/dma-mapping";
import {
  dmaBufAttach,
  dmaBufDetach,
  dmaBufMapAttachment,
  dmaBufMapAttachmentUnlocked,
  dmaBufPut,
  dmaBufUnmapAttachment,
  dmaBufUnmapAttachmentUnlocked,
} from "@dmasim/dma-buf";
import {
  F_SEAL_SHRINK,
  MFD_ALLOW_SEALING,
  memfdAddSeals,
  memfdCreate,
  udmabufCreate,
} from "../src/index";
import { allFindings, machine } from "./helpers";

async function twoDirections(version: string): Promise<{ second: string; same: boolean }> {
  const { kernel, m } = machine(version);
  const dev = addDevice(m, { name: "dev", dmaMask: 64 });
  const app = kernel.vfs.createProcess("app");
  const mfd = memfdCreate(app, "buf", PAGE_SIZE, MFD_ALLOW_SEALING);
  memfdAddSeals(app, mfd, F_SEAL_SHRINK);
  const { dmabuf } = udmabufCreate(app, { memfd: mfd, flags: 0, offset: 0, size: PAGE_SIZE });
  const unlocked = kernel.version.since("6.2");
  const map = unlocked ? dmaBufMapAttachmentUnlocked : dmaBufMapAttachment;
  const unmap = unlocked ? dmaBufUnmapAttachmentUnlocked : dmaBufUnmapAttachment;
  const a = await dmaBufAttach(dmabuf, dev);
  const s1 = await map(a, DMA_TO_DEVICE);
  await unmap(a, s1, DMA_TO_DEVICE);
  let second = "ok";
  let same = false;
  try {
    const s2 = await map(a, DMA_FROM_DEVICE);
    same = s2 === s1;
    await unmap(a, s2, DMA_FROM_DEVICE);
  } catch (e) {
    second = (e as { code?: string }).code ?? String(e);
  }
  await dmaBufDetach(dmabuf, a);
  dmaBufPut(dmabuf);
  expect(allFindings(kernel).filter((f) => !f.startsWith("leak/dma-buf-leak"))).toEqual([]);
  return { second, same };
}

describe("udmabuf caches its sg table (cache_sgt_mapping) from 5.6 to 6.15", () => {
  it("5.10, 6.12 and 6.15: the first map's direction is kept until detach; another direction is EBUSY", async () => {
    expect(await twoDirections("5.10")).toEqual({ second: "EBUSY", same: false });
    expect(await twoDirections("6.12")).toEqual({ second: "EBUSY", same: false });
    expect(await twoDirections("6.15")).toEqual({ second: "EBUSY", same: false });
  });

  it("5.4 (before udmabuf set the flag) and 6.16 (caching dropped, b72f66f22c0e): every map calls the exporter", async () => {
    expect(await twoDirections("5.4")).toEqual({ second: "ok", same: false });
    expect(await twoDirections("6.16")).toEqual({ second: "ok", same: false });
  });
});
