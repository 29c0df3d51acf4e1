/**
 * vmap areas: kernel virtual aliases of arbitrary pages, with a memory type (cacheable,
 * write-combine, uncached). On aliasing caches (VIVT, aliasing VIPT) a vmap alias has lines of its
 * own that the linear map's maintenance does not touch (kernel-notes §7.1, hazard H7).
 *
 * **Kernel:** mm/vmalloc.c (`vmap`, `vunmap`, `find_vm_area`, `vmalloc_to_pfn`), with the
 * architecture's `flush_cache_vmap()` / `flush_cache_vunmap()` hooks.
 *
 * @module
 */
import { KernelError, PAGE_SIZE, WARN_ON, might_sleep, type PageProt } from "@dmasim/kernel";
import { flushCacheVmap, flushCacheVunmap } from "./cacheflush";
import { Hasher, type HashPair } from "./internal/hash";
import type { Machine } from "./machine";
import { VMALLOC_END, VMALLOC_START } from "./memory";
import type { Page } from "./page_alloc";

/**
 * One vmap area.
 *
 * **Kernel:** `struct vm_struct`.
 *
 * **Locking:** none (immutable once mapped).
 */
export class VmArea {
  private rev: Map<number, number[]> | null = null;

  constructor(
    readonly start: number,
    readonly pfns: readonly number[],
    readonly prot: PageProt,
  ) {}

  /** Indexes of each pfn in `pfns` (a page may be mapped more than once), built on first use. */
  get reverse(): ReadonlyMap<number, readonly number[]> {
    if (!this.rev) {
      const rev = new Map<number, number[]>();
      this.pfns.forEach((pfn, i) => {
        const list = rev.get(pfn);
        if (list) {
          list.push(i);
        } else {
          rev.set(pfn, [i]);
        }
      });
      this.rev = rev;
    }
    return this.rev;
  }

  private hash: HashPair | null = null;

  /** @internal a hash of the area (start, memory type, pages), computed once */
  get contentHash(): HashPair {
    if (!this.hash) {
      const h = new Hasher().num(this.start).str(this.prot).word(this.pfns.length);
      for (const pfn of this.pfns) {
        h.num(pfn);
      }
      this.hash = h.done();
    }
    return this.hash;
  }

  /** Mapped size in bytes. */
  get size(): number {
    return this.pfns.length * PAGE_SIZE;
  }

  /** One past the last mapped byte. */
  get end(): number {
    return this.start + this.size;
  }

  /**
   * How a state digest names the area when another layer holds it (areas are in the machine's
   * digest; a start address is never reused).
   */
  digestTag(): string {
    return `vm${this.start}`;
  }
}

/** @internal the vmap state of a machine */
export class VmallocSpace {
  readonly areas: VmArea[] = [];
  next = VMALLOC_START;

  find(va: number): VmArea | undefined {
    let lo = 0;
    let hi = this.areas.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      const a = this.areas[mid]!;
      if (va < a.start) {
        hi = mid - 1;
      } else if (va >= a.end) {
        lo = mid + 1;
      } else {
        return a;
      }
    }
    return undefined;
  }

  /**
   * Feed the live areas (start, memory type, pages) and the next free address to a digest. An
   * area never changes, so its hash is computed once: a digest costs the number of areas.
   */
  digestInto(h: Hasher): void {
    h.num(this.next).word(this.areas.length);
    for (const a of this.areas) {
      h.pair(a.contentHash);
    }
  }

  /** Areas overlapping `[start, end)`. */
  overlapping(start: number, end: number): VmArea[] {
    return this.areas.filter((a) => a.start < end && a.end > start);
  }
}

/**
 * Map `pages` contiguously in the vmalloc area with memory type `prot`; returns the address, or
 * null when `pages` is empty or the area is exhausted. A guard page follows every area. On
 * aliasing caches the architecture's `flush_cache_vmap()` runs (arm: the whole cache; parisc: the
 * new range).
 *
 * **Kernel:** `vmap(pages, count, VM_MAP, prot)`; `prot` is `PAGE_KERNEL`,
 * `pgprot_writecombine(PAGE_KERNEL)` or `pgprot_noncached(PAGE_KERNEL)`.
 *
 * **Locking:** may sleep (`might_sleep()`); synchronous here.
 *
 * @throws {@link KernelError} `EINVAL` when a page is outside RAM
 */
export function vmap(
  m: Machine,
  pages: readonly (Page | number)[],
  prot: PageProt = "cacheable",
): number | null {
  might_sleep(m.kernel, "mm/vmalloc.c:vmap");
  const pfns = pages.map((p) => (typeof p === "number" ? p : p.pfn));
  for (const pfn of pfns) {
    if (!m.memory.contains(pfn * PAGE_SIZE, PAGE_SIZE)) {
      throw new KernelError("EINVAL", `vmap: pfn 0x${pfn.toString(16)} is not RAM`);
    }
  }
  const space = m.vmalloc;
  if (pfns.length === 0 || space.next + (pfns.length + 1) * PAGE_SIZE > VMALLOC_END) {
    return null;
  }
  const area = new VmArea(space.next, pfns, prot);
  space.next += (pfns.length + 1) * PAGE_SIZE;
  space.areas.push(area);
  flushCacheVmap(m, area.start, area.end);
  m.kernel.trace("vmalloc", "mm", "vmap", { va: area.start, pages: pfns.length, prot });
  return area.start;
}

/**
 * Remove a vmap area. On aliasing caches the architecture's `flush_cache_vunmap()` runs first. An
 * address that is not the start of an area WARNs ("Trying to vunmap() nonexistent vm area") and
 * does nothing.
 *
 * **Kernel:** `vunmap()`.
 *
 * **Locking:** may sleep (`might_sleep()`); must not be called in interrupt context.
 */
export function vunmap(m: Machine, va: number): void {
  might_sleep(m.kernel, "mm/vmalloc.c:vunmap");
  const space = m.vmalloc;
  const i = space.areas.findIndex((a) => a.start === va);
  if (
    WARN_ON(
      m.kernel,
      i < 0,
      "mm/vmalloc.c:vunmap",
      `Trying to vunmap() nonexistent vm area (0x${va.toString(16)})`,
    )
  ) {
    return;
  }
  const area = space.areas[i]!;
  flushCacheVunmap(m, area.start, area.end);
  space.areas.splice(i, 1);
  m.kernel.trace("vmalloc", "mm", "vunmap", { va });
}

/**
 * The vmap area containing `va`. **Kernel:** `find_vm_area()`.
 *
 * **Locking:** none.
 */
export function findVmArea(m: Machine, va: number): VmArea | undefined {
  return m.vmalloc.find(va);
}

/**
 * The pfn behind a vmap address, or -1. **Kernel:** `vmalloc_to_pfn()`.
 *
 * **Locking:** none.
 */
export function vmallocToPfn(m: Machine, va: number): number {
  const a = m.vmalloc.find(va);
  return a ? (a.pfns[Math.floor((va - a.start) / PAGE_SIZE)] ?? -1) : -1;
}
