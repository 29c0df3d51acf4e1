import { describe, expect, it } from "vitest";
import { PAGE_SIZE } from "@dmasim/kernel";
import {
  GFP_KERNEL,
  IOMMU_DOMAIN_BLOCKED,
  IOMMU_DOMAIN_DMA,
  IOMMU_DOMAIN_DMA_FQ,
  IOMMU_DOMAIN_IDENTITY,
  IOMMU_READ,
  IOMMU_WRITE,
  addDevice,
  allocPages,
  deviceRead,
  deviceWrite,
  iommuAttachDevice,
  iommuDetachDevice,
  iommuDomainAlloc,
  iommuFlushIotlbAll,
  iommuIotlbGatherInit,
  iommuIotlbSync,
  iommuIovaToPhys,
  iommuMap,
  iommuSetFaultHandler,
  iommuUnmap,
  iommuUnmapFast,
  pageToPhys,
} from "../src/index";
import { boot, kinds } from "./helpers";

describe("IOMMU domains", () => {
  it("default domains follow the platform's iommu.strict, untrusted devices are always strict", () => {
    const { m } = boot("x86-64");
    expect(addDevice(m, { name: "a", iommu: "default" }).domain!.type).toBe(IOMMU_DOMAIN_DMA_FQ);
    expect(addDevice(m, { name: "b", iommu: "dma-fq", untrusted: true }).domain!.type).toBe(
      IOMMU_DOMAIN_DMA,
    );
    expect(addDevice(m, { name: "c", iommu: "identity" }).domain!.type).toBe(IOMMU_DOMAIN_IDENTITY);
    const { m: arm } = boot("arm64-soc");
    expect(addDevice(arm, { name: "a", iommu: "default" }).domain!.type).toBe(IOMMU_DOMAIN_DMA);
  });

  it("translates IOVA pages to scattered physical pages", () => {
    const { k, m } = boot("arm64-soc");
    const dev = addDevice(m, { name: "gpu", iommu: "dma", dmaMask: 32 });
    const a = allocPages(m, 0, GFP_KERNEL)!;
    const b = allocPages(m, 0, GFP_KERNEL)!;
    iommuMap(dev.domain!, 0x10000, pageToPhys(a), PAGE_SIZE, IOMMU_READ | IOMMU_WRITE);
    iommuMap(dev.domain!, 0x11000, pageToPhys(b), PAGE_SIZE, IOMMU_READ | IOMMU_WRITE);
    expect(iommuIovaToPhys(dev.domain!, 0x11010)).toBe(pageToPhys(b) + 0x10);
    expect(deviceWrite(dev, 0x10ff0, new Uint8Array(32).fill(5))).toBe(32);
    expect(m.memory.read(pageToPhys(a) + 0xff0, 16)).toEqual(new Uint8Array(16).fill(5));
    expect(m.memory.read(pageToPhys(b), 16)).toEqual(new Uint8Array(16).fill(5));
    expect(k.findings).toEqual([]);
  });

  it("an unmapped IOVA faults; only the faulting pages are blocked; a handler is told", () => {
    const { k, m } = boot("arm64-soc");
    const dev = addDevice(m, { name: "gpu", iommu: "dma" });
    const a = allocPages(m, 0, GFP_KERNEL)!;
    iommuMap(dev.domain!, 0x10000, pageToPhys(a), PAGE_SIZE, IOMMU_READ | IOMMU_WRITE);
    const seen: number[] = [];
    iommuSetFaultHandler(dev.domain!, (_d, _dev, iova) => {
      seen.push(iova);
      return 0;
    });
    expect(deviceWrite(dev, 0x10ff0, new Uint8Array(32).fill(5))).toBe(16);
    expect(seen).toEqual([0x11000]);
    expect(k.findings.map((f) => [f.kind, f.code, f.details["iova"]])).toEqual([
      ["iommu-fault", "translation-fault", 0x11000],
    ]);
    const r = deviceRead(dev, 0x10ff8, 16);
    expect([...r]).toEqual([
      5, 5, 5, 5, 5, 5, 5, 5, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    ]);
  });

  it("the IOVA is checked against the device's mask", () => {
    const { k, m } = boot("arm64-soc");
    const dev = addDevice(m, { name: "d32", iommu: "dma", dmaMask: 32 });
    deviceRead(dev, 2 ** 32, 4);
    expect(kinds(k.findings)).toEqual(["dma-range"]);
  });

  it("map errors: unaligned, zero, already mapped, non-paging domain; all or nothing", () => {
    const { m } = boot("arm64-soc");
    const d = iommuDomainAlloc(m);
    const a = allocPages(m, 1, GFP_KERNEL)!;
    expect(() => iommuMap(d, 0x1001, pageToPhys(a), PAGE_SIZE, IOMMU_READ)).toThrow(/EINVAL/);
    expect(() => iommuMap(d, 0x1000, pageToPhys(a), 0, IOMMU_READ)).toThrow(/EINVAL/);
    iommuMap(d, 0x2000, pageToPhys(a), PAGE_SIZE, IOMMU_READ);
    expect(() => iommuMap(d, 0x1000, pageToPhys(a), 2 * PAGE_SIZE, IOMMU_READ)).toThrow(/EEXIST/);
    expect(d.mappedPages).toBe(1); // 0x1000 was not mapped by the failed call
    expect(() => iommuMap(iommuDomainAlloc(m, IOMMU_DOMAIN_IDENTITY), 0, 0, PAGE_SIZE, 0)).toThrow(
      /EINVAL/,
    );
    expect(() => iommuDomainAlloc(m, 0x40)).toThrow(/EINVAL/);
  });

  it("unmap returns what it unmapped, stops at a hole, and refuses unaligned ranges", () => {
    const { k, m } = boot("arm64-soc");
    const d = iommuDomainAlloc(m);
    const a = allocPages(m, 1, GFP_KERNEL)!;
    iommuMap(d, 0x1000, pageToPhys(a), 2 * PAGE_SIZE, IOMMU_READ);
    expect(iommuUnmap(d, 0x1000, 3 * PAGE_SIZE)).toBe(2 * PAGE_SIZE);
    expect(iommuUnmap(d, 0x1000, PAGE_SIZE)).toBe(0);
    expect(iommuUnmap(d, 0x1001, PAGE_SIZE)).toBe(0);
    expect(k.dmesg.format()).toMatch(/unaligned/);
  });

  it("unmap_fast leaves used translations in the IOTLB until iotlb_sync", () => {
    const { k, m } = boot("arm64-soc");
    const dev = addDevice(m, { name: "d", iommu: "dma-fq" });
    const a = allocPages(m, 0, GFP_KERNEL)!;
    iommuMap(dev.domain!, 0x5000, pageToPhys(a), PAGE_SIZE, IOMMU_READ);
    deviceRead(dev, 0x5000, 4);
    const g = iommuIotlbGatherInit();
    iommuUnmapFast(dev.domain!, 0x5000, PAGE_SIZE, g);
    expect(iommuIovaToPhys(dev.domain!, 0x5000)).toBe(0);
    deviceRead(dev, 0x5000, 4); // stale translation still used
    expect(k.findings).toEqual([]);
    iommuIotlbSync(dev.domain!, g);
    deviceRead(dev, 0x5000, 4);
    expect(kinds(k.findings)).toEqual(["iommu-fault"]);
  });

  it("a translation the device never used is not cached", () => {
    const { k, m } = boot("arm64-soc");
    const dev = addDevice(m, { name: "d", iommu: "dma-fq" });
    const a = allocPages(m, 0, GFP_KERNEL)!;
    iommuMap(dev.domain!, 0x5000, pageToPhys(a), PAGE_SIZE, IOMMU_READ);
    iommuUnmapFast(dev.domain!, 0x5000, PAGE_SIZE, iommuIotlbGatherInit());
    deviceRead(dev, 0x5000, 4);
    expect(kinds(k.findings)).toEqual(["iommu-fault"]);
    iommuFlushIotlbAll(dev.domain!);
  });

  it("blocked and identity domains; attach and detach", () => {
    const { k, m } = boot("arm64-soc");
    const dev = addDevice(m, { name: "d", dmaMask: 64 });
    const blocked = iommuDomainAlloc(m, IOMMU_DOMAIN_BLOCKED);
    iommuAttachDevice(blocked, dev);
    expect(() => iommuAttachDevice(iommuDomainAlloc(m), dev)).toThrow(/EBUSY/);
    const a = allocPages(m, 0, GFP_KERNEL)!;
    deviceRead(dev, pageToPhys(a), 4);
    expect(kinds(k.findings)).toEqual(["iommu-fault"]);
    iommuDetachDevice(blocked, dev);
    const id = iommuDomainAlloc(m, IOMMU_DOMAIN_IDENTITY);
    iommuAttachDevice(id, dev);
    expect(iommuIovaToPhys(id, 0x1234)).toBe(0x1234);
    deviceRead(dev, pageToPhys(a), 4);
    expect(kinds(k.findings)).toEqual(["iommu-fault"]);
  });
});
