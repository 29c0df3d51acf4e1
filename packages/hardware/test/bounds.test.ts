// Host memory follows what is touched, or the request is refused at once (issue #14 item 7, the
// hardware's part): fills never build their bytes, reads never allocate past what they can reach,
// and the page allocator says how much RAM there is to ask for.
import { describe, expect, it } from "vitest";
import {
  KernelBug,
  PAGE_SIZE,
  VM_FAULT_NOPAGE,
  VM_READ,
  VM_SHARED,
  VM_WRITE,
  Vma,
  vmfInsertPfn,
} from "@dmasim/kernel";
import {
  GFP_KERNEL,
  addDevice,
  allocPages,
  cpuRead,
  deviceMemset,
  deviceRead,
  deviceWrite,
  pageAddress,
  pageToPhys,
  physToDma,
  totalramPages,
  userMemset,
  userRead,
  vmap,
} from "../src/index";
import { boot, kinds } from "./helpers";

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;

function thrown(f: () => unknown): unknown {
  try {
    f();
  } catch (e) {
    return e;
  }
  return undefined;
}

describe("fills and reads bounded by what they can reach", () => {
  it("deviceMemset is deviceWrite of those bytes, without building them", () => {
    const run = (fill: boolean) => {
      const { k, m } = boot("arm64-soc", { cachePolicy: { name: "none" } });
      const p = allocPages(m, 4, GFP_KERNEL)!;
      const dev = addDevice(m, { name: "d", coherent: false, dmaMask: 64 });
      const dma = physToDma(dev, pageToPhys(p)) + 100;
      const n = fill
        ? deviceMemset(dev, dma, 0x3c, 5 * PAGE_SIZE)
        : deviceWrite(dev, dma, new Uint8Array(5 * PAGE_SIZE).fill(0x3c));
      const seen = deviceRead(dev, dma - 100, 16 * PAGE_SIZE);
      return {
        n,
        seen,
        history: m.checker.lineHistory(pageToPhys(p) + 2 * PAGE_SIZE),
        findings: kinds(k.findings),
        memory: m.footprint().memory,
      };
    };
    const filled = run(true);
    expect(filled).toEqual(run(false));
    expect(filled.n).toBe(5 * PAGE_SIZE);
    expect(filled.memory).toBeLessThanOrEqual(16 * 1024); // the two partial pages, in one slab
  });

  it("a 4 GiB device fill beyond the device's mask or RAM is a dma-range finding, at once", () => {
    const { k, m } = boot("arm64-soc", { cachePolicy: { name: "none" } });
    const dev = addDevice(m, { name: "d", coherent: false, dmaMask: 32 });
    expect(deviceMemset(dev, m.config.ramBase, 0, 4 * GiB)).toBe(0);
    expect(kinds(k.findings)).toEqual(["dma-range"]);
    expect(m.footprint().total).toBe(0);
  });

  it("a huge CPU read past a mapping oopses at the first unmapped page, without allocating the rest", () => {
    const { m } = boot("arm64-soc", { cachePolicy: { name: "none" } });
    const p = allocPages(m, 0, GFP_KERNEL)!;
    const va = vmap(m, [p])!;
    const e = thrown(() => cpuRead(m, va, 8 * GiB));
    expect(e).toBeInstanceOf(KernelBug);
    expect(String((e as Error).message)).toMatch(/paging request/);
    // a read inside the mapping still returns its bytes
    expect(cpuRead(m, pageAddress(m, p), 3 * 64)).toHaveLength(192);
  });

  it("userMemset fills a user mapping, and a fill far past it fails EFAULT at its end", async () => {
    const { k, m } = boot("arm64-soc", { cachePolicy: { name: "none" } });
    const p = allocPages(m, 0, GFP_KERNEL)!;
    const proc = k.vfs.createProcess("app");
    const start = 0x4000_0000;
    const vma = new Vma(proc.mm, start, start + PAGE_SIZE, 0, VM_READ | VM_WRITE | VM_SHARED, null);
    vma.pageProt = "cacheable";
    vma.vmOps = { fault: (vmf) => (vmfInsertPfn(vmf.vma, vmf.address, p.pfn), VM_FAULT_NOPAGE) };
    proc.mm.vmas.push(vma);
    await userMemset(m, proc, start + 10, 0x77, 20);
    expect(await userRead(m, proc, start + 8, 24)).toEqual(
      Uint8Array.from({ length: 24 }, (_, i) => (i >= 2 && i < 22 ? 0x77 : 0)),
    );
    await expect(userMemset(m, proc, start, 0x11, 4 * GiB)).rejects.toThrow(/EFAULT/);
    // the page it could reach was written, in full
    expect(cpuRead(m, pageAddress(m, p), PAGE_SIZE).every((b) => b === 0x11)).toBe(true);
    await expect(userRead(m, proc, start, 4 * GiB)).rejects.toThrow(/EFAULT/);
  });

  it("totalram_pages: RAM minus what boot reserved", () => {
    const { m } = boot("arm64-soc");
    const total = totalramPages(m);
    expect(total).toBeLessThan((4 * GiB) / PAGE_SIZE);
    expect(total).toBeGreaterThan((4 * GiB - 64 * MiB - 64 * MiB) / PAGE_SIZE); // swiotlb, boot
    expect(m.pageAlloc.freePages).toBeLessThanOrEqual(total);
  });
});
