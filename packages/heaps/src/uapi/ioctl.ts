/**
 * ioctl command encoding: direction, size, type (magic) and number packed in 32 bits.
 *
 * **Kernel:** include/uapi/asm-generic/ioctl.h (`_IOC`, `_IOR`, `_IOW`, `_IOWR`, `_IOC_NR`,
 * `_IOC_SIZE`, `_IOC_DIR`, `_IOC_TYPE`).
 *
 * @module
 */

/** No data. **Kernel:** `_IOC_NONE`. */
export const IOC_NONE = 0;
/** Userspace writes, the kernel reads (copy in). **Kernel:** `_IOC_WRITE` (`IOC_IN`). */
export const IOC_WRITE = 1;
/** The kernel writes, userspace reads (copy out). **Kernel:** `_IOC_READ` (`IOC_OUT`). */
export const IOC_READ = 2;

/**
 * Build a command. **Kernel:** `_IOC(dir, type, nr, size)`.
 *
 * **Locking:** none (pure).
 */
export function IOC(dir: number, type: number, nr: number, size: number): number {
  return ((dir << 30) | ((size & 0x3fff) << 16) | ((type & 0xff) << 8) | (nr & 0xff)) >>> 0;
}

/**
 * A read-write command. **Kernel:** `_IOWR(type, nr, size)`.
 *
 * **Locking:** none (pure).
 */
export function IOWR(type: number, nr: number, size: number): number {
  return IOC(IOC_READ | IOC_WRITE, type, nr, size);
}

/**
 * The number field. **Kernel:** `_IOC_NR()`.
 *
 * **Locking:** none (pure).
 */
export function iocNr(cmd: number): number {
  return cmd & 0xff;
}

/**
 * The type (magic) field. **Kernel:** `_IOC_TYPE()`.
 *
 * **Locking:** none (pure).
 */
export function iocType(cmd: number): number {
  return (cmd >>> 8) & 0xff;
}

/**
 * The size field. **Kernel:** `_IOC_SIZE()`.
 *
 * **Locking:** none (pure).
 */
export function iocSize(cmd: number): number {
  return (cmd >>> 16) & 0x3fff;
}

/**
 * The direction field. **Kernel:** `_IOC_DIR()`.
 *
 * **Locking:** none (pure).
 */
export function iocDir(cmd: number): number {
  return (cmd >>> 30) & 0x3;
}
