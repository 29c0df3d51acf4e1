/**
 * The kernel's virtual memory layout and the linear map: every byte of RAM is mapped cacheable at
 * `PAGE_OFFSET + (pa - ramBase)`; vmap areas live in `[VMALLOC_START, VMALLOC_END)`; user space below
 * `TASK_SIZE`.
 *
 * **Kernel:** arch/arm64/include/asm/memory.h (`PAGE_OFFSET`, `__va`, `__pa`, `virt_addr_valid`),
 * arch/x86/include/asm/page.h. The layout keeps the kernel's order (user < linear map < vmalloc) but
 * its values are chosen so that every address is an exact JavaScript number (below 2^53).
 *
 * @module
 */
import { PAGE_SIZE, WARN_ON } from "@dmasim/kernel";
import type { Machine } from "./machine";

/** Start of the linear map. **Kernel:** `PAGE_OFFSET` (value differs: 2^48 here). */
export const PAGE_OFFSET = 2 ** 48;
/** Start of the vmalloc/vmap area. **Kernel:** `VMALLOC_START`. */
export const VMALLOC_START = PAGE_OFFSET + 2 ** 46;
/** End of the vmalloc/vmap area. **Kernel:** `VMALLOC_END`. */
export const VMALLOC_END = PAGE_OFFSET + 2 ** 47;
/** End of user space. **Kernel:** `TASK_SIZE`. */
export const TASK_SIZE = 2 ** 47;

/**
 * The linear-map address of physical address `pa`. No check (as in the kernel).
 *
 * **Kernel:** `phys_to_virt()` / `__va()`.
 *
 * **Locking:** none (pure).
 */
export function physToVirt(m: Machine, pa: number): number {
  return PAGE_OFFSET + (pa - m.config.ramBase);
}

/**
 * Whether `va` is a linear-map address of RAM. **Kernel:** `virt_addr_valid()`.
 *
 * **Locking:** none (pure).
 */
export function virtAddrValid(m: Machine, va: number): boolean {
  return va >= PAGE_OFFSET && va < PAGE_OFFSET + m.config.ramSize;
}

/**
 * The physical address of a linear-map address. For any other address the result is meaningless;
 * it WARNs as `CONFIG_DEBUG_VIRTUAL` does ("virt_to_phys used for non-linear address") and returns
 * the bogus value, as the kernel would.
 *
 * **Kernel:** `virt_to_phys()` / `__pa()`.
 *
 * **Locking:** none.
 */
export function virtToPhys(m: Machine, va: number): number {
  WARN_ON(
    m.kernel,
    !virtAddrValid(m, va),
    "arch/arm64/mm/physaddr.c:__virt_to_phys",
    `virt_to_phys used for non-linear address: 0x${va.toString(16)}`,
  );
  return va - PAGE_OFFSET + m.config.ramBase;
}

/**
 * Whether `va` lies in the vmalloc/vmap area. **Kernel:** `is_vmalloc_addr()`.
 *
 * **Locking:** none (pure).
 */
export function isVmallocAddr(va: number): boolean {
  return va >= VMALLOC_START && va < VMALLOC_END;
}

/**
 * The page frame number of a physical address. **Kernel:** `PHYS_PFN()`.
 *
 * **Locking:** none (pure).
 */
export function physPfn(pa: number): number {
  return Math.floor(pa / PAGE_SIZE);
}
