/**
 * Kernel virtual mappings of a whole buffer, counted: the exporter maps once and the nested
 * vmaps share that mapping.
 *
 * **Kernel:** drivers/dma-buf/dma-buf.c (`dma_buf_vmap`, `dma_buf_vunmap`, `dma_buf_vmap_unlocked`,
 * `dma_buf_vunmap_unlocked`).
 *
 * CPU accesses through the vmap must still be bracketed with begin/end_cpu_access (exporters
 * flush and invalidate the vmap alias there on aliasing caches).
 *
 * @module
 */
import {
  BUG_ON,
  KernelError,
  WARN_ON_ONCE,
  might_sleep,
  mutexLock,
  mutexUnlock,
  type Kernel,
} from "@dmasim/kernel";
import { dmaResvAssertHeld, dmaResvLock, dmaResvUnlock } from "@dmasim/dma-resv";
import type { DmaBuf } from "./include/dma-buf";
import {
  iosysMapClear,
  iosysMapInit,
  iosysMapIsEqual,
  iosysMapIsNull,
  iosysMapIsSet,
  type IosysMap,
} from "./include/iosys-map";
import { dmaBufCheckAlive, era, exporterCall } from "./module";

const SITE = "drivers/dma-buf/dma-buf.c";

async function vmapLocked(dmabuf: DmaBuf, map: IosysMap): Promise<void> {
  const kernel = dmabuf.kernel;
  if (dmabuf.vmappingCounter) {
    dmabuf.vmappingCounter++;
    BUG_ON(kernel, iosysMapIsNull(dmabuf.vmapPtr), `${SITE}:dma_buf_vmap`, "vmap_ptr is null");
    map.vaddr = dmabuf.vmapPtr.vaddr;
    map.isIomem = dmabuf.vmapPtr.isIomem;
    return;
  }
  BUG_ON(kernel, iosysMapIsSet(dmabuf.vmapPtr), `${SITE}:dma_buf_vmap`, "vmap_ptr already set");
  const ptr = iosysMapInit();
  const op = dmabuf.ops.vmap as NonNullable<typeof dmabuf.ops.vmap>;
  try {
    await exporterCall(kernel, () => op(dmabuf, ptr), "vmap");
  } catch (e) {
    WARN_ON_ONCE(kernel, true, `${SITE}:dma_buf_vmap`, `exporter's vmap failed: ${String(e)}`);
    if (era.vmapReturnsError(kernel)) {
      throw e;
    }
    return;
  }
  if (!era.vmapReturnsError(kernel) && iosysMapIsNull(ptr)) {
    return;
  }
  dmabuf.vmapPtr.vaddr = ptr.vaddr;
  dmabuf.vmapPtr.isIomem = ptr.isIomem;
  dmabuf.vmappingCounter = 1;
  map.vaddr = ptr.vaddr;
  map.isIomem = ptr.isIomem;
}

/**
 * Map the whole buffer into kernel address space and fill `map` (cleared first, so a failure
 * leaves it null). The first vmap calls the exporter; nested ones share its mapping and only count.
 *
 * **Kernel:** `dma_buf_vmap()`: `EINVAL` without `ops.vmap`; BUG if the counter and the stored
 * mapping disagree; the exporter's error WARNs once and is returned (the counter stays 0). Up to
 * 5.10 the kernel returned a pointer, NULL on any failure: then `map` stays null and nothing is
 * thrown.
 *
 * **Locking:** may sleep. 6.2+: the caller must hold `dmabuf.resv` (asserted); up to 6.1 it takes
 * `dmabuf.lock` itself.
 *
 * @throws {@link KernelError} `EINVAL` (no `ops.vmap`, 5.11+), the exporter's error (5.11+)
 */
export async function dmaBufVmap(dmabuf: DmaBuf, map: IosysMap): Promise<IosysMap> {
  const kernel = dmabuf.kernel;
  iosysMapClear(map);
  dmaBufCheckAlive(dmabuf, "dma_buf_vmap");
  might_sleep(kernel, `${SITE}:dma_buf_vmap`);
  if (era.lockingSpec(kernel)) {
    dmaResvAssertHeld(dmabuf.resv);
  }
  if (!dmabuf.ops.vmap) {
    if (era.vmapReturnsError(kernel)) {
      throw new KernelError("EINVAL", "dma_buf_vmap: the exporter has no vmap");
    }
    return map;
  }
  if (era.lockingSpec(kernel)) {
    await vmapLocked(dmabuf, map);
    return map;
  }
  await mutexLock(dmabuf.lock);
  try {
    await vmapLocked(dmabuf, map);
  } finally {
    mutexUnlock(dmabuf.lock);
  }
  return map;
}

async function vunmapLocked(dmabuf: DmaBuf, map: IosysMap): Promise<void> {
  const kernel = dmabuf.kernel;
  BUG_ON(kernel, iosysMapIsNull(dmabuf.vmapPtr), `${SITE}:dma_buf_vunmap`, "vmap_ptr is null");
  BUG_ON(kernel, dmabuf.vmappingCounter === 0, `${SITE}:dma_buf_vunmap`, "vmapping_counter is 0");
  BUG_ON(
    kernel,
    !iosysMapIsEqual(dmabuf.vmapPtr, map),
    `${SITE}:dma_buf_vunmap`,
    `map ${String(map.vaddr)} is not the buffer's vmap ${String(dmabuf.vmapPtr.vaddr)}`,
  );
  if (--dmabuf.vmappingCounter === 0) {
    if (dmabuf.ops.vunmap) {
      const op = dmabuf.ops.vunmap;
      await exporterCall(kernel, () => op(dmabuf, map), "vunmap");
    }
    iosysMapClear(dmabuf.vmapPtr);
  }
}

/**
 * Drop one vmap; the last calls the exporter's `vunmap`.
 *
 * **Kernel:** `dma_buf_vunmap()`: BUG when the buffer is not vmapped, when the counter is 0, or when
 * `map` is not the buffer's mapping (hazard H26).
 *
 * **Locking:** may sleep. 6.2+: the caller must hold `dmabuf.resv` (asserted); up to 6.1 it takes
 * `dmabuf.lock`.
 *
 * @throws {@link KernelBug} on the BUG paths
 */
export async function dmaBufVunmap(dmabuf: DmaBuf, map: IosysMap): Promise<void> {
  const kernel = dmabuf.kernel;
  dmaBufCheckAlive(dmabuf, "dma_buf_vunmap");
  might_sleep(kernel, `${SITE}:dma_buf_vunmap`);
  if (era.lockingSpec(kernel)) {
    dmaResvAssertHeld(dmabuf.resv);
    await vunmapLocked(dmabuf, map);
    return;
  }
  await mutexLock(dmabuf.lock);
  try {
    await vunmapLocked(dmabuf, map);
  } finally {
    mutexUnlock(dmabuf.lock);
  }
}

function needUnlockedEra(kernel: Kernel, fn: string): void {
  if (!era.lockingSpec(kernel)) {
    throw new KernelError(
      "ENOSYS",
      `${fn}() does not exist before 6.2 (kernel ${kernel.version.name}): call the locked variant`,
    );
  }
}

/**
 * {@link dmaBufVmap} with the reservation lock taken and dropped around it.
 *
 * **Kernel:** `dma_buf_vmap_unlocked()` (6.2+).
 *
 * **Locking:** may sleep; takes `dmabuf.resv` (the caller must not hold it: hazard H12 b).
 *
 * @throws {@link KernelError} as {@link dmaBufVmap}; `ENOSYS` before 6.2
 */
export async function dmaBufVmapUnlocked(dmabuf: DmaBuf, map: IosysMap): Promise<IosysMap> {
  iosysMapClear(map);
  needUnlockedEra(dmabuf.kernel, "dma_buf_vmap_unlocked");
  dmaBufCheckAlive(dmabuf, "dma_buf_vmap_unlocked");
  await dmaResvLock(dmabuf.resv, null);
  try {
    return await dmaBufVmap(dmabuf, map);
  } finally {
    dmaResvUnlock(dmabuf.resv);
  }
}

/**
 * {@link dmaBufVunmap} with the reservation lock taken and dropped around it.
 *
 * **Kernel:** `dma_buf_vunmap_unlocked()` (6.2+).
 *
 * **Locking:** may sleep; takes `dmabuf.resv`.
 *
 * @throws {@link KernelError} `ENOSYS` before 6.2; {@link KernelBug} as {@link dmaBufVunmap}
 */
export async function dmaBufVunmapUnlocked(dmabuf: DmaBuf, map: IosysMap): Promise<void> {
  needUnlockedEra(dmabuf.kernel, "dma_buf_vunmap_unlocked");
  dmaBufCheckAlive(dmabuf, "dma_buf_vunmap_unlocked");
  await dmaResvLock(dmabuf.resv, null);
  try {
    await dmaBufVunmap(dmabuf, map);
  } finally {
    dmaResvUnlock(dmabuf.resv);
  }
}
