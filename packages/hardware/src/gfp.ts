/**
 * GFP flags: how an allocation may behave and which zones it may use.
 *
 * **Kernel:** include/linux/gfp_types.h (bit values as in the 5.x/6.x headers; compare flags by
 * name, never by value).
 *
 * @module
 */

/** A set of GFP flags. **Kernel:** `gfp_t`. */
export type GfpFlags = number;

/** Allocate from ZONE_DMA. **Kernel:** `__GFP_DMA`. */
export const __GFP_DMA = 0x01;
/** Highmem allowed (there is no highmem here: ignored). **Kernel:** `__GFP_HIGHMEM`. */
export const __GFP_HIGHMEM = 0x02;
/** Allocate from ZONE_DMA32 or below. **Kernel:** `__GFP_DMA32`. */
export const __GFP_DMA32 = 0x04;
/** **Kernel:** `__GFP_MOVABLE`. */
export const __GFP_MOVABLE = 0x08;
/** **Kernel:** `__GFP_RECLAIMABLE`. */
export const __GFP_RECLAIMABLE = 0x10;
/** Access to reserves (atomic). **Kernel:** `__GFP_HIGH`. */
export const __GFP_HIGH = 0x20;
/** **Kernel:** `__GFP_IO`. */
export const __GFP_IO = 0x40;
/** **Kernel:** `__GFP_FS`. */
export const __GFP_FS = 0x80;
/** Return zeroed pages (zeroed by the CPU through the cacheable linear map). **Kernel:** `__GFP_ZERO`. */
export const __GFP_ZERO = 0x100;
/** The caller may sleep to reclaim. **Kernel:** `__GFP_DIRECT_RECLAIM`. */
export const __GFP_DIRECT_RECLAIM = 0x400;
/** **Kernel:** `__GFP_KSWAPD_RECLAIM`. */
export const __GFP_KSWAPD_RECLAIM = 0x800;
/** **Kernel:** `__GFP_WRITE`. */
export const __GFP_WRITE = 0x1000;
/** Do not print the allocation-failure warning. **Kernel:** `__GFP_NOWARN`. */
export const __GFP_NOWARN = 0x2000;
/** **Kernel:** `__GFP_RETRY_MAYFAIL`. */
export const __GFP_RETRY_MAYFAIL = 0x4000;
/** **Kernel:** `__GFP_NOFAIL`. */
export const __GFP_NOFAIL = 0x8000;
/** **Kernel:** `__GFP_NORETRY`. */
export const __GFP_NORETRY = 0x10000;
/** **Kernel:** `__GFP_MEMALLOC`. */
export const __GFP_MEMALLOC = 0x20000;
/** Compound page. **Kernel:** `__GFP_COMP`. */
export const __GFP_COMP = 0x40000;
/** **Kernel:** `__GFP_NOMEMALLOC`. */
export const __GFP_NOMEMALLOC = 0x80000;
/** **Kernel:** `__GFP_HARDWALL`. */
export const __GFP_HARDWALL = 0x100000;
/** **Kernel:** `__GFP_THISNODE`. */
export const __GFP_THISNODE = 0x200000;
/** **Kernel:** `__GFP_ACCOUNT`. */
export const __GFP_ACCOUNT = 0x400000;
/** **Kernel:** `__GFP_RECLAIM`. */
export const __GFP_RECLAIM = __GFP_DIRECT_RECLAIM | __GFP_KSWAPD_RECLAIM;

/** Atomic context: no sleeping, may use reserves. **Kernel:** `GFP_ATOMIC`. */
export const GFP_ATOMIC = __GFP_HIGH | __GFP_KSWAPD_RECLAIM;
/** Normal kernel allocation; may sleep. **Kernel:** `GFP_KERNEL`. */
export const GFP_KERNEL = __GFP_RECLAIM | __GFP_IO | __GFP_FS;
/** No sleeping, no reserves. **Kernel:** `GFP_NOWAIT`. */
export const GFP_NOWAIT = __GFP_KSWAPD_RECLAIM;
/** **Kernel:** `GFP_NOIO`. */
export const GFP_NOIO = __GFP_RECLAIM;
/** **Kernel:** `GFP_NOFS`. */
export const GFP_NOFS = __GFP_RECLAIM | __GFP_IO;
/** **Kernel:** `GFP_USER`. */
export const GFP_USER = __GFP_RECLAIM | __GFP_IO | __GFP_FS | __GFP_HARDWALL;
/** **Kernel:** `GFP_HIGHUSER`. */
export const GFP_HIGHUSER = GFP_USER | __GFP_HIGHMEM;
/** ZONE_DMA only (combine with GFP_KERNEL or GFP_ATOMIC). **Kernel:** `GFP_DMA`. */
export const GFP_DMA = __GFP_DMA;
/** ZONE_DMA32 or below. **Kernel:** `GFP_DMA32`. */
export const GFP_DMA32 = __GFP_DMA32;

/**
 * Every GFP flag and combination by its kernel name, for tools that read names (scenario files,
 * command lines): `GFP_KERNEL | __GFP_ZERO` is `GFP_FLAGS.GFP_KERNEL | GFP_FLAGS.__GFP_ZERO`.
 *
 * **Kernel:** include/linux/gfp_types.h; the names `%pGg` prints (`gfpflag_names`).
 */
export const GFP_FLAGS = {
  // the combinations, as %pGg prints them first
  GFP_KERNEL,
  GFP_ATOMIC,
  GFP_NOWAIT,
  GFP_NOIO,
  GFP_NOFS,
  GFP_USER,
  GFP_HIGHUSER,
  GFP_DMA,
  GFP_DMA32,
  // the single bits, in bit order
  __GFP_DMA,
  __GFP_HIGHMEM,
  __GFP_DMA32,
  __GFP_MOVABLE,
  __GFP_RECLAIMABLE,
  __GFP_HIGH,
  __GFP_IO,
  __GFP_FS,
  __GFP_ZERO,
  __GFP_DIRECT_RECLAIM,
  __GFP_KSWAPD_RECLAIM,
  __GFP_RECLAIM,
  __GFP_WRITE,
  __GFP_NOWARN,
  __GFP_RETRY_MAYFAIL,
  __GFP_NOFAIL,
  __GFP_NORETRY,
  __GFP_MEMALLOC,
  __GFP_COMP,
  __GFP_NOMEMALLOC,
  __GFP_HARDWALL,
  __GFP_THISNODE,
  __GFP_ACCOUNT,
} as const satisfies Readonly<Record<string, GfpFlags>>;

/** A GFP flag's kernel name, e.g. `"GFP_KERNEL"`. */
export type GfpFlagName = keyof typeof GFP_FLAGS;

/**
 * Whether an allocation with these flags may sleep.
 *
 * **Kernel:** `gfpflags_allow_blocking()`.
 *
 * **Locking:** none (pure).
 */
export function gfpflagsAllowBlocking(gfp: GfpFlags): boolean {
  return (gfp & __GFP_DIRECT_RECLAIM) !== 0;
}

/**
 * Format flags as the kernel's `%pGg` does (`GFP_KERNEL|__GFP_ZERO`).
 *
 * **Kernel:** `format_flags()` with `gfpflag_names` (lib/vsprintf.c).
 *
 * **Locking:** none (pure).
 */
export function gfpString(gfp: GfpFlags): string {
  const parts: string[] = [];
  let rest = gfp;
  for (const [name, v] of [
    ["GFP_KERNEL", GFP_KERNEL],
    ["GFP_ATOMIC", GFP_ATOMIC],
    ["GFP_NOWAIT", GFP_NOWAIT],
  ] as const) {
    if ((rest & v) === v) {
      parts.push(name);
      rest &= ~v;
      break;
    }
  }
  const names: [string, number][] = [
    ["__GFP_DMA", __GFP_DMA],
    ["__GFP_HIGHMEM", __GFP_HIGHMEM],
    ["__GFP_DMA32", __GFP_DMA32],
    ["__GFP_MOVABLE", __GFP_MOVABLE],
    ["__GFP_HIGH", __GFP_HIGH],
    ["__GFP_IO", __GFP_IO],
    ["__GFP_FS", __GFP_FS],
    ["__GFP_ZERO", __GFP_ZERO],
    ["__GFP_DIRECT_RECLAIM", __GFP_DIRECT_RECLAIM],
    ["__GFP_KSWAPD_RECLAIM", __GFP_KSWAPD_RECLAIM],
    ["__GFP_NOWARN", __GFP_NOWARN],
    ["__GFP_RETRY_MAYFAIL", __GFP_RETRY_MAYFAIL],
    ["__GFP_NOFAIL", __GFP_NOFAIL],
    ["__GFP_NORETRY", __GFP_NORETRY],
    ["__GFP_COMP", __GFP_COMP],
    ["__GFP_HARDWALL", __GFP_HARDWALL],
    ["__GFP_ACCOUNT", __GFP_ACCOUNT],
  ];
  for (const [name, v] of names) {
    if (rest & v) {
      parts.push(name);
      rest &= ~v;
    }
  }
  if (rest) {
    parts.push(`0x${rest.toString(16)}`);
  }
  return parts.join("|") || "0";
}
