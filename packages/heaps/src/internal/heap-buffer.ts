/**
 * Bookkeeping every heap exporter repeats (the kernel's heap files each carry their own copy):
 * the buffer's attachment list and its counted kernel vmap, both under the buffer's mutex.
 *
 * @internal
 * @module
 */
import { getMachine, vmap, vunmap, type Page } from "@dmasim/hardware";
import {
  KernelError,
  mutexLock,
  mutexUnlock,
  type Kernel,
  type Mutex,
  type PageProt,
} from "@dmasim/kernel";
import { iosysMapClear, iosysMapSetVaddr, type IosysMap } from "@dmasim/dma-buf";

/** The fields a heap buffer keeps for its attachments. */
export interface HeapBufferAttachments<A> {
  readonly lock: Mutex;
  readonly attachments: A[];
}

/** The fields a heap buffer keeps for its counted kernel vmap. */
export interface HeapBufferVmap {
  readonly lock: Mutex;
  vmapCnt: number;
  vaddr: number | null;
}

/** Add an attachment (newest first, as `list_add` does). */
export async function heapBufferAttach<A>(buffer: HeapBufferAttachments<A>, a: A): Promise<void> {
  await mutexLock(buffer.lock);
  buffer.attachments.unshift(a);
  mutexUnlock(buffer.lock);
}

/** Remove an attachment. */
export async function heapBufferDetach<A>(buffer: HeapBufferAttachments<A>, a: A): Promise<void> {
  await mutexLock(buffer.lock);
  buffer.attachments.splice(buffer.attachments.indexOf(a), 1);
  mutexUnlock(buffer.lock);
}

/**
 * Take a reference on the buffer's kernel vmap, creating it on the first one.
 *
 * @throws {@link KernelError} `ENOMEM` when vmap fails (`site` names the kernel function)
 */
export async function heapBufferVmap(
  kernel: Kernel,
  buffer: HeapBufferVmap,
  map: IosysMap,
  pages: () => readonly (Page | number)[],
  prot: PageProt,
  site: string,
): Promise<void> {
  await mutexLock(buffer.lock);
  try {
    if (buffer.vmapCnt === 0) {
      const va = vmap(getMachine(kernel), pages(), prot);
      if (va === null) {
        throw new KernelError("ENOMEM", `${site}: vmap failed`);
      }
      buffer.vaddr = va;
    }
    buffer.vmapCnt++;
    iosysMapSetVaddr(map, buffer.vaddr as number);
  } finally {
    mutexUnlock(buffer.lock);
  }
}

/** Drop a reference on the buffer's kernel vmap, removing it with the last one. */
export async function heapBufferVunmap(
  kernel: Kernel,
  buffer: HeapBufferVmap,
  map: IosysMap,
): Promise<void> {
  await mutexLock(buffer.lock);
  if (--buffer.vmapCnt === 0) {
    vunmap(getMachine(kernel), buffer.vaddr as number);
    buffer.vaddr = null;
  }
  mutexUnlock(buffer.lock);
  iosysMapClear(map);
}
