/**
 * The ION user API of 4.12–5.10: `/dev/ion`, its ALLOC and HEAP_QUERY ioctls, heap types and the
 * buffer flags.
 *
 * **Kernel:** drivers/staging/android/uapi/ion.h (4.12 rework; the client/handle API before it is
 * not modelled).
 *
 * An ioctl argument is a plain object standing for the user memory the kernel copies from and to;
 * anything else is a bad user pointer (`EFAULT`), and a frozen object is memory the kernel cannot
 * write back (`EFAULT` at copy-out).
 *
 * @module
 */
import { IOWR } from "../uapi/ioctl";

/** The ioctl magic. **Kernel:** `ION_IOC_MAGIC` (`'I'`). */
export const ION_IOC_MAGIC = 0x49;

/** Heap types. **Kernel:** `enum ion_heap_type`: `ION_HEAP_TYPE_SYSTEM`. */
export const ION_HEAP_TYPE_SYSTEM = 0;
/** **Kernel:** `ION_HEAP_TYPE_SYSTEM_CONTIG`. */
export const ION_HEAP_TYPE_SYSTEM_CONTIG = 1;
/** **Kernel:** `ION_HEAP_TYPE_CARVEOUT`. */
export const ION_HEAP_TYPE_CARVEOUT = 2;
/** **Kernel:** `ION_HEAP_TYPE_CHUNK` (not modelled). */
export const ION_HEAP_TYPE_CHUNK = 3;
/** The CMA heap. **Kernel:** `ION_HEAP_TYPE_DMA`. */
export const ION_HEAP_TYPE_DMA = 4;
/** First vendor heap type. **Kernel:** `ION_HEAP_TYPE_CUSTOM`. */
export const ION_HEAP_TYPE_CUSTOM = 5;

/** Heap ids are bits of a 32-bit mask. **Kernel:** `ION_NUM_HEAP_IDS`. */
export const ION_NUM_HEAP_IDS = 32;

/**
 * The buffer is mapped cacheable (by the CPU) and kept coherent with explicit syncs; without it
 * user and kernel mappings are write-combine. **Kernel:** `ION_FLAG_CACHED`.
 */
export const ION_FLAG_CACHED = 1;

/** Longest heap name, including the NUL. **Kernel:** `MAX_HEAP_NAME`. */
export const MAX_HEAP_NAME = 32;

/**
 * The ALLOC argument: `fd` receives the new dma-buf fd (opened `O_RDWR | O_CLOEXEC`).
 *
 * **Kernel:** `struct ion_allocation_data { __u64 len; __u32 heap_id_mask; __u32 flags; __u32 fd;
 * __u32 unused; }` (24 bytes).
 */
export interface IonAllocationData {
  len: number;
  heapIdMask: number;
  flags: number;
  fd: number;
  unused?: number;
}

/**
 * One heap described by HEAP_QUERY.
 *
 * **Kernel:** `struct ion_heap_data { char name[MAX_HEAP_NAME]; __u32 type; __u32 heap_id; ... }`.
 */
export interface IonHeapData {
  name: string;
  type: number;
  heapId: number;
}

/**
 * The HEAP_QUERY argument: with `heaps` null the kernel writes the heap count to `cnt`; otherwise
 * it fills up to `cnt` entries of the `heaps` array (the user buffer) and writes how many.
 *
 * **Kernel:** `struct ion_heap_query { __u32 cnt; __u32 reserved0; __u64 heaps; __u32 reserved1;
 * __u32 reserved2; }` (24 bytes; the reserved fields must be 0).
 */
export interface IonHeapQuery {
  cnt: number;
  heaps: IonHeapData[] | null;
  reserved0?: number;
  reserved1?: number;
  reserved2?: number;
}

/** Allocate a buffer. **Kernel:** `ION_IOC_ALLOC`, `_IOWR('I', 0, struct ion_allocation_data)`. */
export const ION_IOC_ALLOC = IOWR(ION_IOC_MAGIC, 0, 24);
/** List the heaps. **Kernel:** `ION_IOC_HEAP_QUERY`, `_IOWR('I', 8, struct ion_heap_query)`. */
export const ION_IOC_HEAP_QUERY = IOWR(ION_IOC_MAGIC, 8, 24);
