/**
 * The dma-buf user API: ioctl numbers, flags and argument structs.
 *
 * **Kernel:** include/uapi/linux/dma-buf.h.
 *
 * An ioctl argument is a plain object standing for the user memory the kernel copies from and to;
 * anything that is not an object is a bad user pointer (`EFAULT`).
 *
 * @module
 */

const IOC_WRITE = 1;
const IOC_READ = 2;
function ioc(dir: number, type: number, nr: number, size: number): number {
  return ((dir << 30) | (size << 16) | (type << 8) | nr) >>> 0;
}

/** The ioctl magic of dma-buf. **Kernel:** `DMA_BUF_BASE` (`'b'`). */
export const DMA_BUF_BASE = 0x62;

/** CPU access for reading. **Kernel:** `DMA_BUF_SYNC_READ`. */
export const DMA_BUF_SYNC_READ = 1 << 0;
/** CPU access for writing. **Kernel:** `DMA_BUF_SYNC_WRITE`. */
export const DMA_BUF_SYNC_WRITE = 2 << 0;
/** Both. **Kernel:** `DMA_BUF_SYNC_RW`. */
export const DMA_BUF_SYNC_RW = DMA_BUF_SYNC_READ | DMA_BUF_SYNC_WRITE;
/** Begin CPU access (the absence of END). **Kernel:** `DMA_BUF_SYNC_START`. */
export const DMA_BUF_SYNC_START = 0 << 2;
/** End CPU access. **Kernel:** `DMA_BUF_SYNC_END`. */
export const DMA_BUF_SYNC_END = 1 << 2;
/** Every valid flag of `struct dma_buf_sync`. **Kernel:** `DMA_BUF_SYNC_VALID_FLAGS_MASK`. */
export const DMA_BUF_SYNC_VALID_FLAGS_MASK = DMA_BUF_SYNC_RW | DMA_BUF_SYNC_END;

/** Longest buffer name including the NUL. **Kernel:** `DMA_BUF_NAME_LEN`. */
export const DMA_BUF_NAME_LEN = 32;

/** **Kernel:** `struct dma_buf_sync`. */
export interface DmaBufSync {
  flags: number;
}

/** **Kernel:** `struct dma_buf_export_sync_file` (`fd` receives the new sync_file fd). */
export interface DmaBufExportSyncFile {
  flags: number;
  fd: number;
}

/** **Kernel:** `struct dma_buf_import_sync_file`. */
export interface DmaBufImportSyncFile {
  flags: number;
  fd: number;
}

/** Begin or end CPU access. **Kernel:** `DMA_BUF_IOCTL_SYNC`, `_IOW('b', 0, struct dma_buf_sync)`. */
export const DMA_BUF_IOCTL_SYNC = ioc(IOC_WRITE, DMA_BUF_BASE, 0, 8);
/** Set the name (32-bit user pointer). **Kernel:** `DMA_BUF_SET_NAME_A`, `_IOW('b', 1, __u32)`. */
export const DMA_BUF_SET_NAME_A = ioc(IOC_WRITE, DMA_BUF_BASE, 1, 4);
/** Set the name (64-bit user pointer). **Kernel:** `DMA_BUF_SET_NAME_B`, `_IOW('b', 1, __u64)`. */
export const DMA_BUF_SET_NAME_B = ioc(IOC_WRITE, DMA_BUF_BASE, 1, 8);
/**
 * Set the name: `_IOW('b', 1, const char *)`, i.e. {@link DMA_BUF_SET_NAME_B} on a 64-bit machine.
 * **Kernel:** `DMA_BUF_SET_NAME`.
 */
export const DMA_BUF_SET_NAME = DMA_BUF_SET_NAME_B;
/**
 * Export the buffer's implicit fences as a sync_file.
 * **Kernel:** `DMA_BUF_IOCTL_EXPORT_SYNC_FILE`, `_IOWR('b', 2, struct dma_buf_export_sync_file)`.
 */
export const DMA_BUF_IOCTL_EXPORT_SYNC_FILE = ioc(IOC_READ | IOC_WRITE, DMA_BUF_BASE, 2, 8);
/**
 * Import a sync_file's fences into the buffer's reservation object.
 * **Kernel:** `DMA_BUF_IOCTL_IMPORT_SYNC_FILE`, `_IOW('b', 3, struct dma_buf_import_sync_file)`.
 */
export const DMA_BUF_IOCTL_IMPORT_SYNC_FILE = ioc(IOC_WRITE, DMA_BUF_BASE, 3, 8);
