/**
 * File references: taking one and dropping one (the last drop releases the file). Apart from the
 * VFS so that the memory-management code (`vma_set_file()`) can hold files without loading the
 * VFS (which builds address spaces, and so loads mm) at load time.
 *
 * **Kernel:** include/linux/fs.h (`get_file()`), fs/file_table.c (`fput()`).
 *
 * @module
 */
import { refcountDecAndTest, refcountInc } from "./kref";
import type { File } from "./vfs";

/**
 * Take a reference on a file. **Kernel:** `get_file()`.
 *
 * **Locking:** any context.
 */
export function getFile(file: File): File {
  refcountInc(file.fCount);
  return file;
}

/**
 * Drop a reference; the last one calls the file's `release`.
 *
 * **Kernel:** `fput()` (the kernel defers the release to task work; dmasim runs it at once, in the
 * caller's context).
 *
 * **Locking:** any context.
 */
export function fput(file: File): void {
  if (refcountDecAndTest(file.fCount)) {
    file.released = true;
    file.fOp.release?.(file);
  }
}
