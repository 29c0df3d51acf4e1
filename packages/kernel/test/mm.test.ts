import { describe, expect, it } from "vitest";
import {
  Kernel,
  MAP_SHARED,
  O_RDWR,
  PAGE_SIZE,
  PROT_NONE,
  PROT_READ,
  PROT_WRITE,
  VM_DONTDUMP,
  VM_DONTEXPAND,
  VM_FAULT_NOPAGE,
  VM_FAULT_OOM,
  VM_FAULT_SIGBUS,
  VM_IO,
  VM_PFNMAP,
  handleMmFault,
  isKernelError,
  mutexInit,
  mutexLock,
  mutexUnlock,
  remapPfnRange,
  vmfInsertPfn,
  zapVmaPtes,
  type Vma,
  type VmOperations,
} from "../src/index";

async function mapped(pages: number, prot = PROT_READ | PROT_WRITE, setup?: (vma: Vma) => void) {
  const k = new Kernel();
  k.vfs.registerDevice("/dev/buf", {
    name: "buf",
    mmap: (_f, vma) => setup?.(vma),
  });
  const p = k.vfs.createProcess("app");
  const fd = await p.open("/dev/buf", O_RDWR);
  const vma = await p.mmap(pages * PAGE_SIZE, prot, MAP_SHARED, fd);
  return { k, p, vma };
}

async function faultErr(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (e) {
    expect(isKernelError(e, "EFAULT")).toBe(true);
    return (e as Error).message;
  }
  return "no error";
}

describe("remap_pfn_range", () => {
  it("installs one PTE per page with the VMA's protection and marks the VMA as PFN-mapped", async () => {
    const { vma } = await mapped(4, PROT_READ | PROT_WRITE, (v) => {
      v.pageProt = "writecombine";
      remapPfnRange(v, v.start, 100, 3 * PAGE_SIZE);
    });
    expect([...vma.ptes.entries()]).toEqual([
      [0, { pfn: 100, prot: "writecombine", writable: true }],
      [1, { pfn: 101, prot: "writecombine", writable: true }],
      [2, { pfn: 102, prot: "writecombine", writable: true }],
    ]);
    const want = VM_IO | VM_PFNMAP | VM_DONTEXPAND | VM_DONTDUMP;
    expect(vma.vmFlags & want).toBe(want);
  });

  it("rounds the size up to whole pages", async () => {
    const { vma } = await mapped(2, PROT_READ, (v) => remapPfnRange(v, v.start, 7, 10));
    expect([...vma.ptes.keys()]).toEqual([0]);
    expect(vma.ptes.get(0)?.writable).toBe(false);
  });

  it("EINVAL for an unaligned address or a range outside the VMA", async () => {
    const { vma } = await mapped(2);
    for (const [addr, size] of [
      [vma.start + 1, PAGE_SIZE],
      [vma.start - PAGE_SIZE, PAGE_SIZE],
      [vma.start + PAGE_SIZE, 2 * PAGE_SIZE],
      [vma.start, 0],
    ] as const) {
      let err: unknown;
      try {
        remapPfnRange(vma, addr, 1, size);
      } catch (e) {
        err = e;
      }
      expect(isKernelError(err, "EINVAL")).toBe(true);
    }
    expect(vma.ptes.size).toBe(0);
  });
});

describe("vmf_insert_pfn and zap_vma_ptes", () => {
  it("inserts at the page of the address; SIGBUS outside the VMA; a present PTE is kept", async () => {
    const { vma } = await mapped(2);
    expect(vmfInsertPfn(vma, vma.start + PAGE_SIZE + 12, 9)).toBe(VM_FAULT_NOPAGE);
    expect(vma.ptes.get(1)?.pfn).toBe(9);
    expect(vmfInsertPfn(vma, vma.start + PAGE_SIZE, 10)).toBe(VM_FAULT_NOPAGE);
    expect(vma.ptes.get(1)?.pfn).toBe(9);
    expect(vmfInsertPfn(vma, vma.end, 1)).toBe(VM_FAULT_SIGBUS);
    expect(vmfInsertPfn(vma, vma.start - 1, 1)).toBe(VM_FAULT_SIGBUS);
  });

  it("zap removes the PTEs of every page the range touches, the whole VMA by default", async () => {
    const { vma } = await mapped(4, PROT_READ, (v) => remapPfnRange(v, v.start, 0, 4 * PAGE_SIZE));
    zapVmaPtes(vma, vma.start + PAGE_SIZE + 100, PAGE_SIZE);
    expect([...vma.ptes.keys()]).toEqual([0, 3]);
    zapVmaPtes(vma, vma.start, 8 * PAGE_SIZE); // not inside the VMA: ignored
    expect([...vma.ptes.keys()]).toEqual([0, 3]);
    zapVmaPtes(vma);
    expect(vma.ptes.size).toBe(0);
  });
});

describe("handle_mm_fault", () => {
  it("returns a present PTE without calling the handler", async () => {
    let calls = 0;
    const { p, vma } = await mapped(1, PROT_READ, (v) => {
      remapPfnRange(v, v.start, 5, PAGE_SIZE);
      v.vmOps = { fault: () => (calls++, VM_FAULT_SIGBUS) };
    });
    expect((await handleMmFault(p.mm, vma.start + 8, false)).pfn).toBe(5);
    expect(calls).toBe(0);
  });

  it("calls the fault handler with the page address and file offset, and returns the PTE it installed", async () => {
    const seen: { address: number; pgoff: number; write: boolean }[] = [];
    const ops: VmOperations = {
      fault: (vmf) => {
        seen.push({ address: vmf.address, pgoff: vmf.pgoff, write: vmf.write });
        return vmfInsertPfn(vmf.vma, vmf.address, 1000 + vmf.pgoff);
      },
    };
    const { p, vma } = await mapped(3, PROT_READ | PROT_WRITE, (v) => (v.vmOps = ops));
    const pte = await handleMmFault(p.mm, vma.start + 2 * PAGE_SIZE + 5, true);
    expect(pte).toEqual({ pfn: 1002, prot: "cacheable", writable: true });
    expect(seen).toEqual([{ address: vma.start + 2 * PAGE_SIZE, pgoff: 2, write: true }]);
  });

  it("SIGSEGV: no VMA, a write to a read-only VMA, any access to a PROT_NONE VMA", async () => {
    const { p, vma } = await mapped(1, PROT_READ);
    expect(await faultErr(handleMmFault(p.mm, 0x1000, false))).toMatch(/SIGSEGV: no mapping/);
    expect(await faultErr(handleMmFault(p.mm, vma.start, true))).toMatch(
      /SIGSEGV: write to read-only/,
    );
    const none = await mapped(1, PROT_NONE, (v) => remapPfnRange(v, v.start, 1, PAGE_SIZE));
    expect(await faultErr(handleMmFault(none.p.mm, none.vma.start, false))).toMatch(
      /SIGSEGV: access to PROT_NONE/,
    );
  });

  it("SIGBUS: no fault handler, a handler that refuses, or one that installs nothing", async () => {
    const a = await mapped(1);
    expect(await faultErr(handleMmFault(a.p.mm, a.vma.start, false))).toMatch(
      /SIGBUS: no page and no fault handler/,
    );
    const b = await mapped(1, PROT_READ, (v) => (v.vmOps = { fault: () => VM_FAULT_SIGBUS }));
    expect(await faultErr(handleMmFault(b.p.mm, b.vma.start, false))).toMatch(
      /SIGBUS: fault handler refused/,
    );
    const c = await mapped(1, PROT_READ, (v) => (v.vmOps = { fault: () => VM_FAULT_NOPAGE }));
    expect(await faultErr(handleMmFault(c.p.mm, c.vma.start, false))).toMatch(/SIGBUS/);
    const d = await mapped(1, PROT_READ, (v) => (v.vmOps = { fault: () => VM_FAULT_OOM }));
    expect(await faultErr(handleMmFault(d.p.mm, d.vma.start, false))).toMatch(/VM_FAULT_OOM/);
    expect(d.k.lockdep.heldLocks()).toEqual([]);
  });

  it("runs the handler under mmap_lock (read), so lockdep sees mmap_lock -> the handler's locks", async () => {
    const k0 = await mapped(1);
    const resv = mutexInit(k0.k, "&obj->resv", "reservation_ww_class_mutex");
    k0.vma.vmOps = {
      fault: async (vmf) => {
        expect(k0.k.lockdep.isHeld(vmf.vma.mm.mmapLock.dep)).toBe(true);
        await mutexLock(resv);
        const r = vmfInsertPfn(vmf.vma, vmf.address, 1);
        mutexUnlock(resv);
        return r;
      },
    };
    await handleMmFault(k0.p.mm, k0.vma.start, false);
    expect(k0.k.lockdep.dependsOn(k0.p.mm.mmapLock.dep.cls, resv.dep.cls)).toBe(true);
    // touching user memory (a fault) while holding the reservation lock is then an inversion
    zapVmaPtes(k0.vma);
    await mutexLock(resv);
    await handleMmFault(k0.p.mm, k0.vma.start, false).catch(() => undefined);
    mutexUnlock(resv);
    expect(k0.k.findings.map((f) => f.code)).toContain("circular-dependency");
  });
});

describe("vmaSetFile", () => {
  it("swaps the VMA's file, taking a reference on the new one and dropping the old", async () => {
    const { Kernel, O_RDWR, anonInodeGetfile, vmaSetFile, MAP_SHARED, PROT_READ, PROT_WRITE } =
      await import("../src/index");
    const k = new Kernel();
    let released = 0;
    const ops = { name: "x", mmap: () => undefined, release: () => void released++ };
    const p = k.vfs.createProcess("app");
    const fd = p.installFd(anonInodeGetfile(k, "x", ops, null, O_RDWR));
    const vma = await p.mmap(4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd);
    const other = anonInodeGetfile(k, "y", ops, null, O_RDWR);
    const old = vma.file!;
    vmaSetFile(vma, other);
    expect(vma.file).toBe(other);
    expect(other.fCount.value).toBe(2);
    p.close(fd); // the old file's last reference was the VMA's: now gone too
    expect(old.released).toBe(true);
    expect(released).toBe(1);
  });
});
