import { describe, expect, it } from "vitest";
import { PAGE_SIZE } from "@dmasim/kernel";
import {
  DMA_BIT_MASK,
  GFP_KERNEL,
  addDevice,
  allocPages,
  cpuRead,
  cpuWrite,
  deviceRead,
  deviceWrite,
  dmaToPhys,
  freePages,
  getDevice,
  pageAddress,
  pageToPhys,
  physToDma,
} from "../src/index";
import { boot, kinds } from "./helpers";

describe("devices", () => {
  it("masks, bus offsets and the default coherency of the platform", () => {
    const { m } = boot("rpi4");
    const dev = addDevice(m, {
      name: "emmc2",
      dmaMask: 32,
      busOffset: 0xc000_0000,
      busDmaLimit: 0xffff_ffff,
    });
    expect(dev.coherent).toBe(false);
    expect(dev.dmaMask).toBe(0xffff_ffff);
    expect(physToDma(dev, 0x1000)).toBe(0xc000_1000);
    expect(dmaToPhys(dev, 0xc000_1000)).toBe(0x1000);
    expect(DMA_BIT_MASK(64)).toBe(Number.MAX_SAFE_INTEGER);
    expect(DMA_BIT_MASK(30)).toBe(0x3fff_ffff);
    expect(getDevice(m, "emmc2")).toBe(dev);
    expect(() => getDevice(m, "nope")).toThrow(/ENODEV/);
    expect(() => addDevice(m, { name: "emmc2" })).toThrow(/EEXIST/);
    expect(() => addDevice(m, { name: "bad", dmaMask: 0 })).toThrow(/EINVAL/);
    expect(() => addDevice(m, { name: "bad", dmaMask: 65 })).toThrow(/EINVAL/);
  });

  it("an address beyond the mask is a dma-range finding and touches nothing", () => {
    const { k, m } = boot("x86-64");
    const dev = addDevice(m, { name: "old", dmaMask: 32 });
    const high = allocPages(m, 0, GFP_KERNEL)!; // above 4 GiB on x86-64
    expect(pageToPhys(high)).toBeGreaterThan(2 ** 32);
    expect(deviceWrite(dev, physToDma(dev, pageToPhys(high)), new Uint8Array([1]))).toBe(0);
    expect(deviceRead(dev, physToDma(dev, pageToPhys(high)), 2)).toEqual(
      new Uint8Array([0xff, 0xff]),
    );
    expect(k.findings.map((f) => [f.kind, f.code])).toEqual([
      ["dma-range", "beyond-dma-mask"],
      ["dma-range", "beyond-dma-mask"],
    ]);
    expect(m.memory.read(pageToPhys(high), 1)).toEqual(new Uint8Array([0]));
  });

  it("a mask widened after probe (dma_set_mask) lets the device reach high memory", () => {
    const { k, m } = boot("x86-64");
    const dev = addDevice(m, { name: "late", dmaMask: 32 });
    const high = allocPages(m, 0, GFP_KERNEL)!;
    const dma = physToDma(dev, pageToPhys(high));
    expect(deviceWrite(dev, dma, new Uint8Array([7]))).toBe(0);
    dev.dmaMaskBits = 64;
    dev.coherentDmaMaskBits = 64;
    expect(dev.dmaMask).toBe(Number.MAX_SAFE_INTEGER);
    expect(dev.coherentDmaMask).toBe(Number.MAX_SAFE_INTEGER);
    expect(deviceWrite(dev, dma, new Uint8Array([7]))).toBe(1);
    expect(m.memory.read(pageToPhys(high), 1)).toEqual(new Uint8Array([7]));
    expect(k.findings.map((f) => f.code)).toEqual(["beyond-dma-mask"]);
    dev.dmaMaskBits = 32;
    expect(deviceRead(dev, dma, 1)).toEqual(new Uint8Array([0xff]));
    expect(k.findings.map((f) => f.code)).toEqual(["beyond-dma-mask", "beyond-dma-mask"]);
  });

  it("the bus limit counts as well as the mask (min_not_zero)", () => {
    const { k, m } = boot("rpi4");
    const dev = addDevice(m, { name: "legacy", dmaMask: 32, busDmaLimit: 0x3fff_ffff });
    deviceRead(dev, 0x4000_0000, 1);
    expect(kinds(k.findings)).toEqual(["dma-range"]);
  });

  it("an address outside memory is a dma-range finding", () => {
    const { k, m } = boot("arm64-soc");
    const dev = addDevice(m, { name: "d", dmaMask: 64 });
    deviceWrite(dev, 0x1000, new Uint8Array(4)); // below RAM (which starts at 1 GiB)
    expect(k.findings.map((f) => f.code)).toEqual(["outside-memory"]);
  });

  it("DMA to a free page is a use-after-free finding", () => {
    const { k, m } = boot("x86-64");
    const dev = addDevice(m, { name: "d", dmaMask: 64 });
    const p = allocPages(m, 0, GFP_KERNEL)!;
    freePages(m, p);
    deviceWrite(dev, physToDma(dev, pageToPhys(p)), new Uint8Array(4));
    expect(k.findings.map((f) => f.code)).toEqual(["dma-write-free-page"]);
  });

  it("a non-coherent device sees memory, not dirty lines; a stale read names the bytes and the history", () => {
    const { k, m } = boot("arm64-soc", { cachePolicy: { name: "none" } });
    const dev = addDevice(m, { name: "isp", dmaMask: 64 });
    const p = allocPages(m, 0, GFP_KERNEL)!;
    m.kernel.step = 3;
    cpuWrite(m, pageAddress(m, p) + 2, new Uint8Array([0xab]));
    m.kernel.step = 4;
    const seen = deviceRead(dev, physToDma(dev, pageToPhys(p)), 4);
    expect(seen).toEqual(new Uint8Array(4));
    const f = k.findings[0]!;
    expect(f.kind).toBe("stale-read");
    expect(f.step).toBe(4);
    expect(f.details).toMatchObject({
      agent: "dev:isp",
      bytes: 1,
      lines: 1,
      expected: "00 00 ab 00",
      seen: "00 00 00 00",
      lastWriter: { agent: "cpu:init", step: 3 },
    });
    expect(
      (f.details["history"] as { kind: string; step: number }[]).map((e) => [e.kind, e.step]),
    ).toEqual([
      ["fill", 3],
      ["write", 3],
      ["dma-read", 4],
    ]);
  });

  it("reads across pages return what the device saw", () => {
    const { m } = boot("x86-64");
    const dev = addDevice(m, { name: "d", dmaMask: 64 });
    const p = allocPages(m, 1, GFP_KERNEL)!;
    const data = new Uint8Array(100).map((_, i) => i);
    deviceWrite(dev, physToDma(dev, pageToPhys(p) + PAGE_SIZE - 50), data);
    expect(deviceRead(dev, physToDma(dev, pageToPhys(p) + PAGE_SIZE - 50), 100)).toEqual(data);
    expect(cpuRead(m, pageAddress(m, p) + PAGE_SIZE - 50, 100)).toEqual(data);
  });
});
