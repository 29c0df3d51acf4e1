import { describe, expect, it } from "vitest";
import { PAGE_SIZE } from "@dmasim/kernel";
import {
  GFP_KERNEL,
  INVALID_PHYS_ADDR,
  IO_TLB_SEGSIZE,
  IO_TLB_SIZE,
  addDevice,
  allocPages,
  cpuRead,
  cpuWrite,
  dcacheCleanPoc,
  dcacheInvalPoc,
  deviceRead,
  deviceWrite,
  isSwiotlbActive,
  isSwiotlbBuffer,
  isSwiotlbForceBounce,
  pageAddress,
  pageToPhys,
  physToDma,
  physToVirt,
  swiotlbAllocSlots,
  swiotlbBounce,
  swiotlbMaxMappingSize,
  swiotlbOrigAddr,
  swiotlbReleaseSlots,
  type Machine,
} from "../src/index";
import { boot, kinds } from "./helpers";

const MiB = 1024 * 1024;
const TO_DEVICE = 1;
const FROM_DEVICE = 2;

describe("swiotlb pool", () => {
  it("is placed in low memory and reserved", () => {
    const { m } = boot("x86-64");
    const pool = m.swiotlb!;
    expect(pool.nslabs).toBe((64 * MiB) / IO_TLB_SIZE);
    expect(pool.end).toBeLessThanOrEqual(2 ** 32);
    expect(isSwiotlbActive(m)).toBe(true);
    expect(isSwiotlbForceBounce(m)).toBe(false);
    const { m: rpi } = boot("rpi4");
    expect(rpi.swiotlb!.end).toBeLessThanOrEqual(1024 * MiB);
    const { m: v7 } = boot("armv6-vipt-aliasing");
    expect(isSwiotlbActive(v7)).toBe(false);
    expect(boot("x86-64", { swiotlbForce: true }).m.swiotlb!.force).toBe(true);
  });

  it("allocates slots that remember the original address", () => {
    const { m } = boot("x86-64");
    const dev = addDevice(m, { name: "d", dmaMask: 32 });
    const orig = 0x1_2345_6000 + 100;
    const tlb = swiotlbAllocSlots(m, dev, orig, 3000)!;
    expect(isSwiotlbBuffer(m, tlb)).toBe(true);
    expect(isSwiotlbBuffer(m, orig)).toBe(false);
    expect(swiotlbOrigAddr(m, tlb)).toBe(orig);
    expect(swiotlbOrigAddr(m, tlb + 2500)).toBe(orig + 2500);
    expect(m.swiotlb!.used).toBe(2);
    swiotlbReleaseSlots(m, dev, tlb);
    expect(m.swiotlb!.used).toBe(0);
    expect(swiotlbOrigAddr(m, tlb)).toBe(INVALID_PHYS_ADDR);
  });

  it("page-sized requests are page aligned; min_align_mask keeps the low bits", () => {
    const { m } = boot("x86-64");
    const dev = addDevice(m, { name: "d" });
    swiotlbAllocSlots(m, dev, 0x1000, 100); // move the search index off a page boundary
    expect(swiotlbAllocSlots(m, dev, 0x2000, PAGE_SIZE)! % PAGE_SIZE).toBe(0);
    const nvme = addDevice(m, { name: "nvme", minAlignMask: 0xfff });
    const tlb = swiotlbAllocSlots(m, nvme, 0x3000 + 0x234, 512)!;
    expect(tlb % PAGE_SIZE).toBe(0x234);
    expect(swiotlbMaxMappingSize(dev)).toBe(256 * 1024);
    expect(swiotlbMaxMappingSize(nvme)).toBe(256 * 1024 - PAGE_SIZE);
  });

  it("more than one segment (256 KiB) fails with the kernel's message; NO_WARN is silent", () => {
    const { k, m } = boot("x86-64");
    const dev = addDevice(m, { name: "d" });
    expect(swiotlbAllocSlots(m, dev, 0x1000, IO_TLB_SIZE * IO_TLB_SEGSIZE)).not.toBeNull();
    expect(swiotlbAllocSlots(m, dev, 0x1000, IO_TLB_SIZE * IO_TLB_SEGSIZE + 1)).toBeNull();
    expect(k.dmesg.format()).toMatch(
      /swiotlb buffer is full \(sz: 262145 bytes\), total 32768 \(slots\), used 128 \(slots\)/,
    );
    const before = k.dmesg.format();
    expect(swiotlbAllocSlots(m, dev, 0x1000, 300 * 1024, { noWarn: true })).toBeNull();
    expect(k.dmesg.format()).toBe(before);
  });

  it("exhaustion, then release merges free runs so a full segment fits again", () => {
    const { m } = boot("x86-64", { swiotlbSize: 256 * 1024 }); // one segment
    const dev = addDevice(m, { name: "d" });
    const a = swiotlbAllocSlots(m, dev, 0x1000, 64 * 1024)!;
    const b = swiotlbAllocSlots(m, dev, 0x1000, 64 * 1024)!;
    const c = swiotlbAllocSlots(m, dev, 0x1000, 128 * 1024)!;
    expect(swiotlbAllocSlots(m, dev, 0x1000, 2048)).toBeNull();
    swiotlbReleaseSlots(m, dev, b);
    expect(swiotlbAllocSlots(m, dev, 0x1000, 128 * 1024)).toBeNull();
    swiotlbReleaseSlots(m, dev, a);
    swiotlbReleaseSlots(m, dev, c);
    expect(m.swiotlb!.used).toBe(0);
    expect(swiotlbAllocSlots(m, dev, 0x1000, 256 * 1024)).not.toBeNull();
  });

  it("releasing a free slot WARNs once and does nothing", () => {
    const { k, m } = boot("x86-64");
    const dev = addDevice(m, { name: "d" });
    const t = swiotlbAllocSlots(m, dev, 0x1000, 100)!;
    swiotlbReleaseSlots(m, dev, t);
    swiotlbReleaseSlots(m, dev, t);
    expect(kinds(k.findings)).toEqual(["warn"]);
    expect(m.swiotlb!.used).toBe(0);
  });

  it("no pool: allocation fails with the kernel's message", () => {
    const { k, m } = boot("armv6-vipt-aliasing");
    const dev = addDevice(m, { name: "d" });
    expect(swiotlbAllocSlots(m, dev, 0x6000_0000, 64)).toBeNull();
    expect(k.dmesg.format()).toMatch(/Can not allocate SWIOTLB buffer/);
  });
});

/** A 32-bit device and a buffer above 4 GiB, bounced through swiotlb. */
function bounced(m: Machine, coherent: boolean) {
  const dev = addDevice(m, { name: "d32", dmaMask: 32, coherent });
  const page = allocPages(m, 0, GFP_KERNEL)!;
  const orig = pageToPhys(page);
  const va = pageAddress(m, page);
  cpuWrite(m, va, new Uint8Array(256).fill(1));
  const tlb = swiotlbAllocSlots(m, dev, orig, 256)!;
  swiotlbBounce(m, dev, tlb, 256, TO_DEVICE); // the map-time copy
  return { dev, orig, va, tlb, dma: physToDma(dev, tlb) };
}

describe("bounce copies and the checker", () => {
  it("device accesses to a slot are charged to the original; the copy back makes the CPU see them", () => {
    const { k, m } = boot("x86-64");
    const { dev, va, tlb, dma, orig } = bounced(m, true);
    expect(deviceRead(dev, dma, 256)).toEqual(new Uint8Array(256).fill(1));
    deviceWrite(dev, dma, new Uint8Array(128).fill(2));
    expect(m.checker.idealRead(orig, 2)).toEqual(new Uint8Array([2, 2])); // charged
    swiotlbBounce(m, dev, tlb, 256, FROM_DEVICE);
    expect(cpuRead(m, va, 256)).toEqual(
      new Uint8Array([...new Array<number>(128).fill(2), ...new Array<number>(128).fill(1)]),
    );
    expect(k.findings).toEqual([]);
    const kindsOnOrig = m.checker.lineHistory(orig).map((e) => e.kind);
    expect(kindsOnOrig).toEqual(expect.arrayContaining(["bounce-in", "dma-write", "bounce-out"]));
  });

  it("H23: unmapping with SKIP_CPU_SYNC (no copy back) loses the device's data", () => {
    const { k, m } = boot("x86-64");
    const { dev, va, tlb, dma } = bounced(m, true);
    deviceWrite(dev, dma, new Uint8Array(256).fill(2));
    swiotlbReleaseSlots(m, dev, tlb);
    cpuRead(m, va, 256);
    expect(kinds(k.findings)).toEqual(["stale-read"]);
    expect(k.findings[0]!.details["lastWriter"]).toMatchObject({ agent: "dev:d32" });
  });

  it("H23 (pre-5.17): without the map-time copy, a partial device write copies stale slot bytes back", () => {
    const { k, m } = boot("x86-64");
    const dev = addDevice(m, { name: "d32", dmaMask: 32 });
    const page = allocPages(m, 0, GFP_KERNEL)!;
    cpuWrite(m, pageAddress(m, page), new Uint8Array(256).fill(1));
    // an earlier user left garbage in the slot
    const old = swiotlbAllocSlots(m, dev, 0x1000, 256)!;
    deviceWrite(dev, physToDma(dev, old), new Uint8Array(256).fill(0xee));
    swiotlbReleaseSlots(m, dev, old);
    const tlb = swiotlbAllocSlots(m, dev, pageToPhys(page), 256)!; // FROM_DEVICE map: no copy
    deviceWrite(dev, physToDma(dev, tlb), new Uint8Array(64).fill(2)); // partial write
    swiotlbBounce(m, dev, tlb, 256, FROM_DEVICE);
    expect(k.findings.map((f) => f.code)).toEqual(["bounce-copy"]);
    expect(k.findings[0]!.summary).toMatch(/192 stale bytes/);
  });

  it("H8: a stale bounce copy put back over another device's newer data is a clobbered write", () => {
    const { k, m } = boot("x86-64");
    const { dev, tlb, orig } = bounced(m, true);
    const d2 = addDevice(m, { name: "d2", dmaMask: 64 });
    deviceWrite(d2, physToDma(d2, orig), new Uint8Array(256).fill(7)); // D2 works on the original
    swiotlbBounce(m, dev, tlb, 256, FROM_DEVICE); // sync_for_cpu of D1's mapping
    expect(k.findings.map((f) => [f.kind, f.code])).toEqual([["clobbered-write", "bounce-copy"]]);
    expect(k.findings[0]!.details["lastWriter"]).toMatchObject({ agent: "dev:d2" });
  });

  it("non-coherent: the bounce buffer must be invalidated before the CPU copies it back", () => {
    for (const fix of [false, true]) {
      const { k, m } = boot("arm64-soc", {
        cachePolicy: { name: "none" },
        ramSize: 4 * 1024 * MiB,
      });
      const { dev, tlb, dma, va } = bounced(m, false);
      const tlbVa = physToVirt(m, tlb);
      dcacheCleanPoc(m, tlbVa, tlbVa + 256); // sync_for_device: the copy-in reaches memory
      deviceWrite(dev, dma, new Uint8Array(256).fill(2));
      if (fix) {
        dcacheInvalPoc(m, tlbVa, tlbVa + 256); // sync_for_cpu before the copy back
      }
      swiotlbBounce(m, dev, tlb, 256, FROM_DEVICE);
      if (fix) {
        expect(cpuRead(m, va, 4)).toEqual(new Uint8Array(4).fill(2));
        expect(k.findings).toEqual([]);
      } else {
        expect(k.findings.map((f) => f.code)).toEqual(["bounce-copy"]);
      }
    }
  });

  it("overruns WARN once and are truncated", () => {
    const { k, m } = boot("x86-64");
    const { dev, tlb } = bounced(m, true);
    swiotlbBounce(m, dev, tlb, 4096, FROM_DEVICE);
    expect(k.findings.map((f) => f.summary)).toEqual([
      expect.stringMatching(/Buffer overflow detected/),
    ]);
    swiotlbBounce(m, dev, tlb + 5000, 16, FROM_DEVICE); // beyond the allocation: slot is free, skipped
  });
});
