/**
 * User-space loads and stores through a process's mappings. PTEs come from the kernel layer's
 * {@link Vma} (pfn + memory type); a missing PTE is resolved with `handleMmFault`, which may call a
 * driver's fault handler, so these accesses are async.
 *
 * **Kernel:** none (hardware: the CPU running user code); faults go through `handle_mm_fault()`.
 *
 * @module
 */
import {
  KernelError,
  PAGE_SIZE,
  handleMmFault,
  type Mm,
  type Process,
  type Pte,
} from "@dmasim/kernel";
import type { CheckSegment } from "./checker";
import { cpuAccessPage, cpuAgent } from "./cpu";
import type { Machine } from "./machine";

/**
 * The cache address-space id of a process: VIVT lines are tagged with it (an ASID-tagged cache, so
 * nothing is flushed at a context switch).
 *
 * **Kernel:** none (hardware: the ASID; the kernel's is `ASID(mm)`).
 *
 * **Locking:** none.
 */
export function asidOf(m: Machine, mm: Mm): number {
  let id = m.asids.get(mm);
  if (id === undefined) {
    id = m.asids.size + 1;
    m.asids.set(mm, id);
  }
  return id;
}

/** The PTE of a present page, without faulting (speculation and maintenance never fault). */
export function userPteNoFault(mm: Mm, va: number): Pte | undefined {
  const vma = mm.findVma(va);
  return vma?.ptes.get(Math.floor((va - vma.start) / PAGE_SIZE));
}

/**
 * Bytes `[0, n)` of `len` at user address `va` that lie in the VMAs of `mm` (one after the other,
 * without a hole): what an access can touch before it faults for good. No fault is taken.
 */
function userMappedPrefix(mm: Mm, va: number, len: number): number {
  let at = va;
  while (at < va + len) {
    const vma = mm.findVma(at);
    if (!vma) {
      break;
    }
    at = vma.end;
  }
  return Math.min(len, at - va);
}

async function userWalk(
  m: Machine,
  proc: Process,
  va: number,
  len: number,
  write: boolean,
  source: (done: number) => [Uint8Array, number],
  agent: string,
  segs: CheckSegment[] | null,
): Promise<void> {
  const wid = write ? m.checker.writerId(agent) : 0;
  const asid = asidOf(m, proc.mm);
  let done = 0;
  while (done < len) {
    const a = va + done;
    const n = Math.min(len - done, PAGE_SIZE - (a % PAGE_SIZE));
    const pte = userPteNoFault(proc.mm, a) ?? (await handleMmFault(proc.mm, a, write));
    if (write && !pte.writable) {
      throw new KernelError(
        "EFAULT",
        `SIGSEGV: write to read-only page at 0x${a.toString(16)} in ${proc.comm}`,
      );
    }
    const pa = pte.pfn * PAGE_SIZE + (a % PAGE_SIZE);
    if (!m.memory.contains(pa, n)) {
      throw new KernelError(
        "EFAULT",
        `SIGBUS: 0x${a.toString(16)} maps pfn 0x${pte.pfn.toString(16)}, which is not RAM`,
      );
    }
    const [buf, off] = source(done);
    cpuAccessPage(m, a, pa, pte.prot, asid, write, buf, off, n, agent, wid);
    segs?.push({ pa, actual: pa, off: done, len: n });
    done += n;
  }
}

/**
 * Read `len` bytes at user address `va` of `proc` (faulting pages in as needed), checked.
 *
 * **Kernel:** none (hardware: user loads); faults call `handle_mm_fault()`.
 *
 * **Locking:** may sleep (a fault handler may); user context.
 *
 * @throws {@link KernelError} `EFAULT` for SIGSEGV/SIGBUS (no mapping, refused fault, not RAM)
 */
export async function userRead(
  m: Machine,
  proc: Process,
  va: number,
  len: number,
  agent: string = cpuAgent(m),
): Promise<Uint8Array> {
  // bytes past the mappings fault for good: never allocate for them
  const out = new Uint8Array(Math.min(len, userMappedPrefix(proc.mm, va, len) + PAGE_SIZE));
  const segs: CheckSegment[] = [];
  await userWalk(m, proc, va, len, false, (done) => [out, done], agent, segs);
  m.checker.checkRead(agent, out, segs, { address: va, space: `user va (${proc.comm})` });
  m.kernel.trace(agent, "cpu", "user-read", { va, len, pid: proc.pid });
  return out;
}

/**
 * Write `data` at user address `va` of `proc` (faulting pages in as needed).
 *
 * **Kernel:** none (hardware: user stores); faults call `handle_mm_fault()`.
 *
 * **Locking:** may sleep (a fault handler may); user context.
 *
 * @throws {@link KernelError} `EFAULT` for SIGSEGV/SIGBUS (no mapping, read-only, refused fault)
 */
export async function userWrite(
  m: Machine,
  proc: Process,
  va: number,
  data: Uint8Array,
  agent: string = cpuAgent(m),
): Promise<void> {
  await userWalk(m, proc, va, data.length, true, (done) => [data, done], agent, null);
  m.kernel.trace(agent, "cpu", "user-write", { va, len: data.length, pid: proc.pid });
}

/**
 * Fill `len` bytes at user address `va` of `proc` with `value` (faulting pages in as needed),
 * without building the bytes: host memory follows the pages touched, and a fill past the mappings
 * fails with `EFAULT` at the first page it cannot map.
 *
 * **Kernel:** none (hardware: user stores, a `memset` in user space); faults call
 * `handle_mm_fault()`.
 *
 * **Locking:** may sleep (a fault handler may); user context.
 *
 * @throws {@link KernelError} `EFAULT` for SIGSEGV/SIGBUS (no mapping, read-only, refused fault)
 */
export async function userMemset(
  m: Machine,
  proc: Process,
  va: number,
  value: number,
  len: number,
  agent: string = cpuAgent(m),
): Promise<void> {
  const page = new Uint8Array(Math.min(len, PAGE_SIZE)).fill(value);
  await userWalk(m, proc, va, len, true, () => [page, 0], agent, null);
  m.kernel.trace(agent, "cpu", "user-write", { va, len, pid: proc.pid });
}
