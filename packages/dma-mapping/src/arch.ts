/**
 * The architecture's cache maintenance for non-coherent DMA, per architecture and kernel version,
 * always through the linear-map alias of the physical range (kernel-notes §3.4):
 *
 * | arch | `for_device` | `for_cpu` |
 * |---|---|---|
 * | arm64 ≥ 5.19 | clean to PoC, every direction | invalidate to PoC unless TO_DEVICE |
 * | arm64 < 5.19 | FROM_DEVICE: invalidate; others: clean | the same |
 * | arm (v6/v7) | `dmac_map_area`: FROM_DEVICE invalidate, others clean | `dmac_unmap_area` unless TO_DEVICE (nothing on a non-speculating core) |
 * | riscv | write back, every direction | invalidate unless TO_DEVICE |
 * | parisc | flush (clean + invalidate) | purge (invalidate) unless TO_DEVICE |
 * | x86-64 | nothing: every device counts as coherent | nothing |
 *
 * **Kernel:** `arch_sync_dma_for_device()` / `arch_sync_dma_for_cpu()` /
 * `arch_dma_prep_coherent()` in arch/arm64/mm/dma-mapping.c, arch/arm/mm/dma-mapping.c,
 * arch/riscv/mm/dma-noncoherent.c, arch/parisc/kernel/pci-dma.c; `dev_is_dma_coherent()` and
 * `ARCH_DMA_MINALIGN`.
 *
 * A range that runs past RAM is maintained through addresses the linear map does not map: the
 * cache maintenance instruction faults in kernel mode and the kernel oopses ("Unable to handle
 * kernel paging request", `die_kernel_fault()` in arch/arm64/mm/fault.c and its twins), a
 * `KernelBug` here. It happens when a driver maps or syncs a size or address that is not its
 * buffer's (a negative size is a huge `size_t`).
 *
 * @module
 */
import { BUG_ON, sizeT } from "@dmasim/kernel";
import {
  archDmaCacheInv,
  archDmaCacheWback,
  archDmaCacheWbackInv,
  cacheMaintainRange,
  dcacheCleanInvalPoc,
  dcacheCleanPoc,
  dcacheInvalPoc,
  dmacFlushRange,
  dmacMapArea,
  dmacUnmapArea,
  physToVirt,
  type Device,
  type Machine,
} from "@dmasim/hardware";
import { DMA_MAPPING_ERAS } from "./era";
import { DMA_FROM_DEVICE, DMA_TO_DEVICE, dmaDirName } from "./include/dma-direction";

/**
 * Whether the architecture does cache maintenance for DMA at all. x86 has none
 * (`CONFIG_ARCH_HAS_SYNC_DMA_*` unset), so the kernel treats every device as coherent there.
 *
 * **Kernel:** `CONFIG_ARCH_HAS_SYNC_DMA_FOR_DEVICE` / `_FOR_CPU`.
 *
 * **Locking:** none (pure).
 */
export function archHasSyncDma(m: Machine): boolean {
  return m.config.arch !== "x86-64";
}

/**
 * Whether the kernel treats `dev` as coherent: its firmware flag, or always on architectures
 * without DMA cache maintenance.
 *
 * **Kernel:** `dev_is_dma_coherent()`.
 *
 * **Locking:** none.
 */
export function devIsDmaCoherent(dev: Device): boolean {
  return dev.coherent || !archHasSyncDma(dev.machine);
}

/**
 * The minimum alignment (and size) of a buffer that is safe for non-coherent DMA: 128 on arm64,
 * the cache line elsewhere.
 *
 * **Kernel:** `ARCH_DMA_MINALIGN` / `dma_get_cache_alignment()`.
 *
 * **Locking:** none (pure).
 */
export function archDmaMinalign(m: Machine): number {
  return m.config.arch === "arm64" ? Math.max(128, m.config.lineSize) : m.config.lineSize;
}

/**
 * The kernel's oops when cache maintenance reaches past the linear map (see the module comment).
 */
function linearMapFault(m: Machine, paddr: number, size: number, fn: string): void {
  if (size === 0 || m.memory.contains(paddr, size)) {
    return;
  }
  const bad = paddr < m.memory.base || paddr >= m.memory.end ? paddr : m.memory.end;
  BUG_ON(
    m.kernel,
    true,
    `arch/${m.config.arch === "x86-64" ? "x86" : m.config.arch}/mm/fault.c:die_kernel_fault`,
    `Unable to handle kernel paging request at virtual address ${physToVirt(m, bad).toString(16)} (${fn} of ${size} bytes at phys 0x${paddr.toString(16)})`,
    { paddr, size, function: fn },
  );
}

function trace(m: Machine, name: string, pa: number, size: number, dir: number): void {
  m.kernel.trace("dma", "dma", name, { pa, size, dir: dmaDirName(dir) });
}

/**
 * Cache maintenance before the device accesses `[paddr, paddr + size)` (see the table above).
 *
 * **Kernel:** `arch_sync_dma_for_device()`.
 *
 * **Locking:** any context.
 */
export function archSyncDmaForDevice(m: Machine, paddr: number, size: number, dir: number): void {
  paddr = sizeT(paddr, "arch_sync_dma_for_device", "paddr");
  size = sizeT(size, "arch_sync_dma_for_device", "size");
  const va = physToVirt(m, paddr);
  trace(m, "arch_sync_dma_for_device", paddr, size, dir);
  if (archHasSyncDma(m)) {
    linearMapFault(m, paddr, size, "arch_sync_dma_for_device");
  }
  switch (m.config.arch) {
    case "arm64":
      if (!DMA_MAPPING_ERAS.arm64CleanOnlyForDevice(m.kernel) && dir === DMA_FROM_DEVICE) {
        dcacheInvalPoc(m, va, va + size);
      } else {
        dcacheCleanPoc(m, va, va + size);
      }
      return;
    case "arm":
      dmacMapArea(m, va, size, dir);
      return;
    case "riscv":
      archDmaCacheWback(m, paddr, size);
      return;
    case "parisc":
      cacheMaintainRange(m, va, va + size, "flush", "flush_kernel_dcache_range");
      return;
    case "x86-64":
      return;
  }
}

/**
 * Cache maintenance after the device accessed `[paddr, paddr + size)`, before the CPU reads it:
 * the invalidate that drops lines the CPU may have speculatively loaded during the DMA.
 *
 * **Kernel:** `arch_sync_dma_for_cpu()`.
 *
 * **Locking:** any context.
 */
export function archSyncDmaForCpu(m: Machine, paddr: number, size: number, dir: number): void {
  paddr = sizeT(paddr, "arch_sync_dma_for_cpu", "paddr");
  size = sizeT(size, "arch_sync_dma_for_cpu", "size");
  const va = physToVirt(m, paddr);
  trace(m, "arch_sync_dma_for_cpu", paddr, size, dir);
  if (dir === DMA_TO_DEVICE) {
    return;
  }
  if (archHasSyncDma(m) && (m.config.arch !== "arm" || m.config.speculativePrefetch)) {
    linearMapFault(m, paddr, size, "arch_sync_dma_for_cpu");
  }
  switch (m.config.arch) {
    case "arm64":
      dcacheInvalPoc(m, va, va + size);
      return;
    case "arm":
      if (m.config.speculativePrefetch) {
        dmacUnmapArea(m, va, size, dir);
      }
      return;
    case "riscv":
      archDmaCacheInv(m, paddr, size);
      return;
    case "parisc":
      cacheMaintainRange(m, va, va + size, "inval", "purge_kernel_dcache_range", "discard");
      return;
    case "x86-64":
      return;
  }
}

/**
 * Remove the linear map's cache lines of a coherent allocation before it is remapped uncached:
 * arm64 cleans to PoC since 5.19 (clean + invalidate before), arm and riscv clean + invalidate,
 * parisc flushes.
 *
 * **Kernel:** `arch_dma_prep_coherent()`.
 *
 * **Locking:** any context.
 */
export function archDmaPrepCoherent(m: Machine, paddr: number, size: number): void {
  paddr = sizeT(paddr, "arch_dma_prep_coherent", "paddr");
  size = sizeT(size, "arch_dma_prep_coherent", "size");
  const va = physToVirt(m, paddr);
  trace(m, "arch_dma_prep_coherent", paddr, size, 0);
  if (archHasSyncDma(m)) {
    linearMapFault(m, paddr, size, "arch_dma_prep_coherent");
  }
  switch (m.config.arch) {
    case "arm64":
      if (DMA_MAPPING_ERAS.arm64CleanOnlyForDevice(m.kernel)) {
        dcacheCleanPoc(m, va, va + size);
      } else {
        dcacheCleanInvalPoc(m, va, va + size);
      }
      return;
    case "arm":
      dmacFlushRange(m, va, va + size);
      return;
    case "riscv":
      archDmaCacheWbackInv(m, paddr, size);
      return;
    case "parisc":
      cacheMaintainRange(m, va, va + size, "flush", "flush_kernel_dcache_range");
      return;
    case "x86-64":
      return;
  }
}
