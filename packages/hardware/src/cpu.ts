/**
 * CPU loads and stores through kernel virtual addresses (the linear map and vmap areas), each
 * attributed to an agent and checked by the coherency checker. A cacheable mapping goes through
 * the data cache; write-combine and uncached mappings go straight to memory (write-combine stores
 * are modelled as reaching memory at once; no write buffer).
 *
 * **Kernel:** none (hardware: the CPU's loads and stores and its MMU); the kernel code that does
 * this is `memcpy()` / `readl()`-style accesses through `page_address()` or a vmap.
 *
 * @module
 */
import { BUG_ON, PAGE_SIZE, type PageProt } from "@dmasim/kernel";
import { KERNEL_ASID } from "./cache";
import type { CheckSegment } from "./checker";
import type { Machine } from "./machine";
import { isUniform } from "./internal/bytestore";
import { PAGE_OFFSET, virtAddrValid } from "./memory";

/** A resolved kernel mapping of one page. */
export interface KernelMapping {
  readonly pfn: number;
  readonly prot: PageProt;
}

const ZERO_PAGE = new Uint8Array(PAGE_SIZE);

/**
 * Resolve a kernel virtual address (linear map or vmap), or null when nothing is mapped there.
 *
 * **Kernel:** none (hardware: a page-table walk of the kernel page tables).
 *
 * **Locking:** none.
 */
export function kernelTranslate(m: Machine, va: number): KernelMapping | null {
  if (virtAddrValid(m, va)) {
    return {
      pfn: Math.floor((va - PAGE_OFFSET + m.config.ramBase) / PAGE_SIZE),
      prot: "cacheable",
    };
  }
  const a = m.vmalloc.find(va);
  if (a) {
    const pfn = a.pfns[Math.floor((va - a.start) / PAGE_SIZE)];
    if (pfn !== undefined) {
      return { pfn, prot: a.prot };
    }
  }
  return null;
}

/**
 * The default agent name of the running thread: `cpu:<thread>`.
 *
 * **Kernel:** none (the checker's naming of `current`).
 *
 * **Locking:** none.
 */
export function cpuAgent(m: Machine): string {
  return `cpu:${m.kernel.sched.current.name}`;
}

/** @internal one page's worth of a CPU access */
export function cpuAccessPage(
  m: Machine,
  va: number,
  pa: number,
  prot: PageProt,
  asid: number,
  write: boolean,
  buf: Uint8Array,
  off: number,
  n: number,
  agent: string,
  wid: number,
  note?: string,
): void {
  if (write) {
    // the ideal memory first: a line evicted while the store allocates already carries new data
    m.checker.idealWritePage(pa, buf, off, n, wid);
  }
  if (prot === "cacheable") {
    if (write) {
      m.cache.write(va, pa, asid, buf, off, n, agent, wid, note);
    } else {
      m.cache.read(va, pa, asid, buf, off, n, agent);
    }
  } else if (write) {
    m.memory.writePage(pa, buf, off, n);
    m.checker.record("write-uncached", agent, pa, n, `${prot} mapping at va 0x${va.toString(16)}`);
  } else {
    m.memory.readPage(pa, buf, off, n);
    m.checker.record("read-uncached", agent, pa, n, `${prot} mapping at va 0x${va.toString(16)}`);
  }
}

/**
 * Bytes `[0, n)` of `len` at kernel address `va` up to and including the first unmapped page (a
 * large access is checked page by page first, so that nothing is allocated for bytes it cannot
 * reach); `len` when every page is mapped.
 */
function kernelMappedPrefix(m: Machine, va: number, len: number): number {
  if (len <= 16 * PAGE_SIZE) {
    return len;
  }
  for (let done = 0; done < len;) {
    const a = va + done;
    const n = Math.min(len - done, PAGE_SIZE - (a % PAGE_SIZE));
    if (!kernelTranslate(m, a)) {
      return done + n;
    }
    done += n;
  }
  return len;
}

/** The mapping of kernel address `a`, or a BUG (a kernel paging-request oops). */
function translateOrDie(m: Machine, a: number, agent: string): KernelMapping {
  const t = kernelTranslate(m, a);
  BUG_ON(
    m.kernel,
    t === null,
    "arch/arm64/mm/fault.c:die_kernel_fault",
    `Unable to handle kernel paging request at virtual address 0x${a.toString(16)}`,
    { va: a, agent },
  );
  return t!;
}

/** CPU loads of `len` bytes at `va` into `buf`, page piece by page piece, noting each piece in `segs`. */
function loads(
  m: Machine,
  va: number,
  len: number,
  buf: Uint8Array,
  agent: string,
  segs: CheckSegment[],
): void {
  let done = 0;
  while (done < len) {
    const a = va + done;
    const n = Math.min(len - done, PAGE_SIZE - (a % PAGE_SIZE));
    const t = translateOrDie(m, a, agent);
    const pa = t.pfn * PAGE_SIZE + (a % PAGE_SIZE);
    cpuAccessPage(m, a, pa, t.prot, KERNEL_ASID, false, buf, done, n, agent, 0);
    segs.push({ pa, actual: pa, off: done, len: n });
    done += n;
  }
}

/**
 * Read `len` bytes at kernel virtual address `va` (any length and alignment, across lines and
 * pages) as `agent` (default `cpu:<thread>`); the checker compares them with the ideal memory.
 *
 * **Kernel:** none (hardware: CPU loads through the kernel page tables).
 *
 * **Locking:** any context (never sleeps).
 *
 * @throws {@link KernelBug} for an unmapped address (a kernel paging-request oops)
 */
export function cpuRead(
  m: Machine,
  va: number,
  len: number,
  agent: string = cpuAgent(m),
): Uint8Array {
  // bytes past an unmapped page are never read (the access oopses there): never allocate them
  const out = new Uint8Array(kernelMappedPrefix(m, va, len));
  const segs: CheckSegment[] = [];
  loads(m, va, len, out, agent, segs);
  m.checker.checkRead(agent, out, segs, { address: va, space: "va" });
  m.kernel.trace(agent, "cpu", "read", { va, len });
  return out;
}

/**
 * Write `data` at kernel virtual address `va` as `agent` (default `cpu:<thread>`).
 *
 * **Kernel:** none (hardware: CPU stores through the kernel page tables).
 *
 * **Locking:** any context (never sleeps).
 *
 * @throws {@link KernelBug} for an unmapped address (a kernel paging-request oops)
 */
export function cpuWrite(
  m: Machine,
  va: number,
  data: Uint8Array,
  agent: string = cpuAgent(m),
): void {
  stores(m, va, data.length, agent, (done, n) => ({
    buf: data,
    off: done,
    value: n === PAGE_SIZE && isUniform(data, done, n) ? (data[done] as number) : -1,
  }));
  m.kernel.trace(agent, "cpu", "write", { va, len: data.length });
}

/** Whole cacheable pages `[pfn, pfn + pages)` mapped contiguously from `va`, stored at once. */
interface FillRun {
  va: number;
  pfn: number;
  pages: number;
}

/**
 * CPU stores of `value` over the whole cacheable pages of `run` (one extent of dirty lines on a cache
 * that keeps runs): what a store of each page does, with one "write" event per page.
 */
function fillCached(
  m: Machine,
  run: FillRun,
  value: number,
  agent: string,
  wid: number,
  note?: string,
): void {
  const pa = run.pfn * PAGE_SIZE;
  const len = run.pages * PAGE_SIZE;
  m.checker.idealFill(pa, len, value, wid); // the ideal memory first, as cpuAccessPage does
  m.cache.fillPages(run.pfn, run.pfn + run.pages, run.va, value, wid);
  m.checker.record("write", agent, pa, len, note);
}

/** Bytes a walk of CPU stores writes on one page piece: `buf[off..]`, and their one value or -1. */
interface StoreSource {
  readonly buf: Uint8Array;
  readonly off: number;
  readonly value: number;
}

/**
 * CPU stores of `len` bytes at `va`, page piece by page piece (`source(done, n)` gives the bytes of
 * each). Whole cacheable pages of one value, contiguous in virtual and physical space, are stored
 * at once as one extent on a cache that keeps runs (one "write" event per page); the rest page by
 * page. A fault BUGs after the stores before it, as the CPU would.
 */
function stores(
  m: Machine,
  va: number,
  len: number,
  agent: string,
  source: (done: number, n: number) => StoreSource,
): void {
  const wid = m.checker.writerId(agent);
  let run: (FillRun & { value: number; prot?: string }) | null = null;
  const flush = (): void => {
    if (!run) {
      return;
    }
    if (run.prot) {
      const pa = run.pfn * PAGE_SIZE;
      const len = run.pages * PAGE_SIZE;
      m.checker.idealFill(pa, len, run.value, wid);
      m.memory.fill(pa, len, run.value);
      m.checker.recordMapped(
        "write-uncached",
        agent,
        pa,
        len,
        `${run.prot} mapping at va `,
        run.va,
      );
    } else {
      fillCached(m, run, run.value, agent, wid);
    }
    run = null;
  };
  let done = 0;
  while (done < len) {
    const a = va + done;
    const n = Math.min(len - done, PAGE_SIZE - (a % PAGE_SIZE));
    let t = kernelTranslate(m, a);
    if (!t) {
      flush(); // the stores before the faulting page happened
      t = translateOrDie(m, a, agent);
    }
    const src = source(done, n);
    if (n === PAGE_SIZE && src.value >= 0 && t.prot !== "cacheable") {
      // whole pages of one value through an uncached or write-combine mapping: memory at once
      const r = run as (FillRun & { value: number; prot?: string }) | null;
      if (
        r &&
        r.prot === t.prot &&
        r.value === src.value &&
        r.pfn + r.pages === t.pfn &&
        r.va + r.pages * PAGE_SIZE === a
      ) {
        r.pages++;
      } else {
        flush();
        run = { va: a, pfn: t.pfn, pages: 1, value: src.value, prot: t.prot };
      }
    } else if (n === PAGE_SIZE && src.value >= 0 && t.prot === "cacheable" && m.cache.runsEnabled) {
      const r = run as (FillRun & { value: number; prot?: string }) | null;
      if (
        r &&
        r.prot === undefined &&
        r.value === src.value &&
        r.pfn + r.pages === t.pfn &&
        r.va + r.pages * PAGE_SIZE === a
      ) {
        r.pages++;
      } else {
        flush();
        run = { va: a, pfn: t.pfn, pages: 1, value: src.value };
      }
    } else {
      flush();
      const pa = t.pfn * PAGE_SIZE + (a % PAGE_SIZE);
      cpuAccessPage(m, a, pa, t.prot, KERNEL_ASID, true, src.buf, src.off, n, agent, wid);
    }
    done += n;
  }
  flush();
}

/**
 * Fill `len` bytes at `va` with `value` (a CPU `memset`). Whole cacheable pages on a cache that keeps
 * runs are stored as one extent, whatever their number; the rest page by page.
 *
 * **Kernel:** `memset()` through a kernel mapping.
 *
 * **Locking:** any context.
 *
 * @throws {@link KernelBug} for an unmapped address
 */
export function cpuMemset(
  m: Machine,
  va: number,
  value: number,
  len: number,
  agent: string = cpuAgent(m),
): void {
  const page = new Uint8Array(Math.min(len, PAGE_SIZE)).fill(value);
  stores(m, va, len, agent, () => ({ buf: page, off: 0, value }));
  m.kernel.trace(agent, "cpu", "write", { va, len });
}

/**
 * @internal `clear_page()` of `count` pages from `pfn` through the linear map (for `__GFP_ZERO`):
 * on a cache that keeps runs, one extent of dirty zero lines whatever the count.
 */
export function cpuZeroPages(m: Machine, pfn: number, count: number): void {
  const agent = cpuAgent(m);
  const wid = m.checker.writerId(agent);
  const va = PAGE_OFFSET + (pfn * PAGE_SIZE - m.config.ramBase);
  if (m.cache.runsEnabled) {
    fillCached(m, { va, pfn, pages: count }, 0, agent, wid, "__GFP_ZERO clear_page");
    return;
  }
  for (let i = 0; i < count; i++) {
    const pa = (pfn + i) * PAGE_SIZE;
    cpuAccessPage(
      m,
      va + i * PAGE_SIZE,
      pa,
      "cacheable",
      KERNEL_ASID,
      true,
      ZERO_PAGE,
      0,
      PAGE_SIZE,
      agent,
      wid,
      "__GFP_ZERO clear_page",
    );
  }
}
