import { describe, expect, it } from "vitest";
import {
  PAGE_SIZE,
  VM_READ,
  VM_SHARED,
  VM_WRITE,
  VM_FAULT_NOPAGE,
  Vma,
  vmfInsertPfn,
} from "@dmasim/kernel";
import {
  GFP_KERNEL,
  addDevice,
  allocPages,
  asidOf,
  cacheEvict,
  cachePrefetch,
  cpuRead,
  dcacheCleanPoc,
  deviceRead,
  flushCacheRange,
  pageAddress,
  pageToPhys,
  physToDma,
  userRead,
  userWrite,
} from "../src/index";
import { boot, kinds } from "./helpers";

function mapUser(
  k: ReturnType<typeof boot>["k"],
  pfn: number,
  prot: "cacheable" | "writecombine",
  writable = true,
) {
  const proc = k.vfs.createProcess("app");
  const start = 0x4000_0000;
  const vma = new Vma(
    proc.mm,
    start,
    start + PAGE_SIZE,
    0,
    VM_READ | VM_SHARED | (writable ? VM_WRITE : 0),
    null,
  );
  vma.pageProt = prot;
  vma.vmOps = { fault: (vmf) => (vmfInsertPfn(vmf.vma, vmf.address, pfn), VM_FAULT_NOPAGE) };
  proc.mm.vmas.push(vma);
  return { proc, start, vma };
}

describe("user mappings", () => {
  it("faults pages in through the VMA and shares the physical line on PIPT", async () => {
    const { k, m } = boot("arm64-soc", { cachePolicy: { name: "none" } });
    const p = allocPages(m, 0, GFP_KERNEL)!;
    const { proc, start, vma } = mapUser(k, p.pfn, "cacheable");
    await userWrite(m, proc, start + 8, new Uint8Array([1, 2]));
    expect(vma.ptes.size).toBe(1);
    expect(cpuRead(m, pageAddress(m, p) + 8, 2)).toEqual(new Uint8Array([1, 2]));
    expect(await userRead(m, proc, start + 8, 2)).toEqual(new Uint8Array([1, 2]));
    expect(k.findings).toEqual([]);
  });

  it("SIGSEGV outside any VMA and for writes to read-only mappings", async () => {
    const { k, m } = boot("arm64-soc");
    const p = allocPages(m, 0, GFP_KERNEL)!;
    const { proc, start } = mapUser(k, p.pfn, "cacheable", false);
    await expect(userRead(m, proc, 0x1000, 1)).rejects.toThrow(/EFAULT/);
    await expect(userWrite(m, proc, start, new Uint8Array(1))).rejects.toThrow(/EFAULT/);
    await userRead(m, proc, start, 1);
    await expect(userWrite(m, proc, start, new Uint8Array(1))).rejects.toThrow(/read-only/);
  });

  it("a write-combine user mapping goes to memory; the device sees it", async () => {
    const { k, m } = boot("arm64-soc", { cachePolicy: { name: "none" } });
    const p = allocPages(m, 0, GFP_KERNEL)!;
    const { proc, start } = mapUser(k, p.pfn, "writecombine");
    await userWrite(m, proc, start, new Uint8Array([9]));
    const dev = addDevice(m, { name: "d", dmaMask: 64 });
    expect(deviceRead(dev, physToDma(dev, pageToPhys(p)), 1)).toEqual(new Uint8Array([9]));
    cachePrefetch(m, start, PAGE_SIZE, proc); // no speculation through WC
    expect(m.cache.pages).toBe(0);
    expect(k.findings).toEqual([]);
  });

  it("VIVT: the user alias has its own lines; kernel maintenance does not reach them", async () => {
    const { k, m } = boot("parisc-vivt", { cachePolicy: { name: "none" } });
    const p = allocPages(m, 0, GFP_KERNEL)!;
    const { proc, start } = mapUser(k, p.pfn, "cacheable");
    await userWrite(m, proc, start, new Uint8Array([5]));
    expect(asidOf(m, proc.mm)).toBe(1);
    dcacheCleanPoc(m, pageAddress(m, p), pageAddress(m, p) + PAGE_SIZE);
    const dev = addDevice(m, { name: "d", dmaMask: 64 });
    deviceRead(dev, physToDma(dev, pageToPhys(p)), 1);
    expect(kinds(k.findings)).toEqual(["stale-read"]);
    flushCacheRange(m, proc, start, start + PAGE_SIZE);
    deviceRead(dev, physToDma(dev, pageToPhys(p)), 1);
    expect(kinds(k.findings)).toEqual(["stale-read"]);
    cacheEvict(m, start, PAGE_SIZE, proc);
  });
});
