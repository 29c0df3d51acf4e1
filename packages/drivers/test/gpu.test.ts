import { describe, expect, it } from "vitest";
import { PAGE_SIZE } from "@dmasim/kernel";
import { addDevice } from "@dmasim/hardware";
import {
  gpuBoCreate,
  gpuBoEvict,
  gpuBoExport,
  gpuBoPut,
  gpuImport,
  gpuImportRelease,
  gpuJobRun,
  gpuProbe,
  gpuRingFlush,
  gpuSubmit,
} from "../src/index";
import { dmaBufPut } from "@dmasim/dma-buf";
import { allFindings, fill, machine } from "./helpers";

async function twoGpus(version: string, options: Record<string, boolean>, platform: string) {
  const { kernel, m } = machine(version, options, platform);
  const g0 = gpuProbe(kernel, addDevice(m, { name: "gpu0", dmaMask: 64 }), { vramPages: 4 });
  const g1 = gpuProbe(kernel, addDevice(m, { name: "gpu1", dmaMask: 64 }));
  return { kernel, m, g0, g1 };
}

describe("gpu: exporter and dynamic importer", () => {
  for (const platform of ["x86-64", "arm64-soc"]) {
    it(`${platform}: a VRAM BO shared peer-to-peer, evicted, read again: the data follows, no finding`, async () => {
      const { kernel, g0, g1 } = await twoGpus("latest", {}, platform);
      const bo = await gpuBoCreate(g0, 2 * PAGE_SIZE, { placement: "vram" });
      const buf = gpuBoExport(bo);
      const w = await gpuSubmit(g0, { dst: bo, data: fill(0x42) });
      const imp = await gpuImport(g1, buf);
      const r1 = await gpuSubmit(g1, { src: imp, len: 4 });
      await gpuJobRun(r1); // runs the write first (its WRITE fence is a dependency)
      expect(w.executed).toBe(true);
      expect([...r1.result!]).toEqual([0x42, 0x42, 0x42, 0x42]);
      const move = await gpuBoEvict(bo);
      expect(bo.placement).toBe("system");
      expect(imp.notified).toBe(1);
      const r2 = await gpuSubmit(g1, { src: imp, len: 4 });
      await gpuJobRun(r2);
      expect(move!.executed).toBe(true);
      expect([...r2.result!]).toEqual([0x42, 0x42, 0x42, 0x42]);
      await gpuImportRelease(imp);
      dmaBufPut(buf);
      gpuBoPut(bo);
      await gpuRingFlush(g0);
      expect(allFindings(kernel)).toEqual([]);
    });
  }
});
