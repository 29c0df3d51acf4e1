/**
 * `struct iosys_map`: a pointer to memory that is either system memory (`vaddr`) or I/O memory
 * (`vaddr_iomem`), as `dma_buf_vmap()` hands it out.
 *
 * **Kernel:** include/linux/iosys-map.h (`struct dma_buf_map` in 5.11–5.17, a plain `void *` before).
 *
 * @module
 */

/**
 * A kernel virtual address of system or I/O memory; `vaddr === null` is the null map.
 *
 * **Kernel:** `struct iosys_map`.
 */
export interface IosysMap {
  /** The kernel virtual address (`vaddr` or `vaddr_iomem`), or null. */
  vaddr: number | null;
  /** Whether the address is I/O memory. */
  isIomem: boolean;
}

/**
 * A new null map.
 *
 * **Kernel:** `IOSYS_MAP_INIT_VADDR(NULL)`.
 *
 * **Locking:** none.
 */
export function iosysMapInit(): IosysMap {
  return { vaddr: null, isIomem: false };
}

/**
 * Make `map` null.
 *
 * **Kernel:** `iosys_map_clear()`.
 *
 * **Locking:** none.
 */
export function iosysMapClear(map: IosysMap): void {
  map.vaddr = null;
  map.isIomem = false;
}

/**
 * Point `map` at system memory.
 *
 * **Kernel:** `iosys_map_set_vaddr()`.
 *
 * **Locking:** none.
 */
export function iosysMapSetVaddr(map: IosysMap, vaddr: number): void {
  map.vaddr = vaddr;
  map.isIomem = false;
}

/**
 * Point `map` at I/O memory.
 *
 * **Kernel:** `iosys_map_set_vaddr_iomem()`.
 *
 * **Locking:** none.
 */
export function iosysMapSetVaddrIomem(map: IosysMap, vaddr: number): void {
  map.vaddr = vaddr;
  map.isIomem = true;
}

/**
 * Whether `map` is null.
 *
 * **Kernel:** `iosys_map_is_null()`.
 *
 * **Locking:** none.
 */
export function iosysMapIsNull(map: IosysMap): boolean {
  return map.vaddr === null;
}

/**
 * Whether `map` is set.
 *
 * **Kernel:** `iosys_map_is_set()`.
 *
 * **Locking:** none.
 */
export function iosysMapIsSet(map: IosysMap): boolean {
  return map.vaddr !== null;
}

/**
 * Whether two maps point at the same memory (same kind and address).
 *
 * **Kernel:** `iosys_map_is_equal()`.
 *
 * **Locking:** none.
 */
export function iosysMapIsEqual(a: IosysMap, b: IosysMap): boolean {
  return a.isIomem === b.isIomem && a.vaddr === b.vaddr;
}
