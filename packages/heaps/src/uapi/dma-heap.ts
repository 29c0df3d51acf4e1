/**
 * The dma-heap user API: the allocation struct and its ioctl.
 *
 * **Kernel:** include/uapi/linux/dma-heap.h.
 *
 * An ioctl argument is a plain object standing for the user memory the kernel copies from and to;
 * anything else is a bad user pointer (`EFAULT`), and a frozen object is memory the kernel can read
 * but not write (`EFAULT` at copy-out, after the fd was installed: hazard H28). The fields the
 * command's size does not cover are neither read nor written; fields the kernel does not know
 * (a newer, longer struct) are left as they are, which is what the kernel's echo of the tail does.
 * 64-bit fields accept a `bigint` for values beyond 2^53.
 *
 * @module
 */
import { O_ACCMODE, O_CLOEXEC } from "@dmasim/kernel";
import { IOWR } from "./ioctl";

/** The ioctl magic. **Kernel:** `DMA_HEAP_IOC_MAGIC` (`'H'`). */
export const DMA_HEAP_IOC_MAGIC = 0x48;

/**
 * The allocation argument: `fd` must be 0 on input and receives the new dma-buf fd.
 *
 * **Kernel:** `struct dma_heap_allocation_data { __u64 len; __u32 fd; __u32 fd_flags; __u64
 * heap_flags; }` (24 bytes).
 */
export interface DmaHeapAllocationData {
  len: number | bigint;
  fd: number;
  fdFlags: number;
  heapFlags?: number | bigint;
  /** Bytes of a newer, longer struct: ignored on input, left as they are. */
  [extra: string]: unknown;
}

/** Size of the current struct. **Kernel:** `sizeof(struct dma_heap_allocation_data)`. */
export const DMA_HEAP_ALLOCATION_DATA_SIZE = 24;

/** Allocate a buffer. **Kernel:** `DMA_HEAP_IOCTL_ALLOC`, `_IOWR('H', 0x0, struct dma_heap_allocation_data)`. */
export const DMA_HEAP_IOCTL_ALLOC = IOWR(DMA_HEAP_IOC_MAGIC, 0, DMA_HEAP_ALLOCATION_DATA_SIZE);

/** The fd flags ALLOC accepts. **Kernel:** `DMA_HEAP_VALID_FD_FLAGS` (`O_CLOEXEC | O_ACCMODE`). */
export const DMA_HEAP_VALID_FD_FLAGS = O_CLOEXEC | O_ACCMODE;

/** The heap flags ALLOC accepts: none. **Kernel:** `DMA_HEAP_VALID_HEAP_FLAGS` (`0ULL`). */
export const DMA_HEAP_VALID_HEAP_FLAGS = 0n;

/**
 * An ALLOC command for a struct of `size` bytes (what an older or newer userspace built).
 *
 * **Kernel:** `_IOWR('H', 0, <a struct of that size>)` as the kselftest's `test_alloc_compat`
 * builds it.
 *
 * **Locking:** none (pure).
 */
export function dmaHeapIoctlAllocOfSize(size: number): number {
  return IOWR(DMA_HEAP_IOC_MAGIC, 0, size);
}
