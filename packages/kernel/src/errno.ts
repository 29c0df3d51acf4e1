/**
 * errno values and the error type that stands for a negative errno return.
 *
 * Mirrors include/uapi/asm-generic/errno-base.h, errno.h and include/linux/errno.h (the kernel-internal
 * ERESTARTSYS family). Where the kernel returns `-EINVAL` or `ERR_PTR(-ENOMEM)`, dmasim throws a
 * {@link KernelError} whose `code` is `"EINVAL"` and whose `errno` is 22.
 *
 * @module
 */

/**
 * errno numbers by name, as on Linux (x86/arm/generic numbering).
 *
 * **Kernel:** include/uapi/asm-generic/errno-base.h, errno.h, include/linux/errno.h
 */
export const ERRNO = {
  EPERM: 1,
  ENOENT: 2,
  ESRCH: 3,
  EINTR: 4,
  EIO: 5,
  ENXIO: 6,
  E2BIG: 7,
  ENOEXEC: 8,
  EBADF: 9,
  ECHILD: 10,
  EAGAIN: 11,
  ENOMEM: 12,
  EACCES: 13,
  EFAULT: 14,
  ENOTBLK: 15,
  EBUSY: 16,
  EEXIST: 17,
  EXDEV: 18,
  ENODEV: 19,
  ENOTDIR: 20,
  EISDIR: 21,
  EINVAL: 22,
  ENFILE: 23,
  EMFILE: 24,
  ENOTTY: 25,
  EFBIG: 27,
  ENOSPC: 28,
  ESPIPE: 29,
  EROFS: 30,
  EPIPE: 32,
  EDOM: 33,
  ERANGE: 34,
  EDEADLK: 35,
  ENAMETOOLONG: 36,
  ENOSYS: 38,
  ENODATA: 61,
  ETIME: 62,
  EOVERFLOW: 75,
  EBADFD: 77,
  EOPNOTSUPP: 95,
  ETIMEDOUT: 110,
  EALREADY: 114,
  EINPROGRESS: 115,
  ECANCELED: 125,
  ERESTARTSYS: 512,
  ENOIOCTLCMD: 515,
} as const;

/** An errno name such as `"EINVAL"`. **Kernel:** the `E*` macros. */
export type ErrnoName = keyof typeof ERRNO;

const KERNEL_ERROR = Symbol.for("dmasim.KernelError");

const NAME_BY_NUMBER = new Map<number, ErrnoName>(
  (Object.entries(ERRNO) as [ErrnoName, number][]).map(([name, n]) => [n, name]),
);

/**
 * A negative errno returned by a kernel function (or an `ERR_PTR()`), thrown.
 *
 * **Kernel:** `return -EINVAL;`, `return ERR_PTR(-ENOMEM);` and their callers' `IS_ERR()` checks.
 *
 * **Locking:** none; an error is thrown before the failing function changes any state, as the kernel
 * unwinds before returning an error.
 *
 * Use {@link isKernelError} rather than `instanceof`: the check works across the ESM and CJS copies
 * of this package.
 */
export class KernelError extends Error {
  override readonly name = "KernelError";
  /** The positive errno number, e.g. 22 for `EINVAL`. */
  readonly errno: number;
  readonly [KERNEL_ERROR] = true;

  /**
   * @param code - the errno name
   * @param message - what went wrong, in the words a kernel engineer would use
   * @param options - `cause`, as for `Error`
   */
  constructor(
    readonly code: ErrnoName,
    message: string,
    options?: ErrorOptions,
  ) {
    super(`${code}: ${message}`, options);
    this.errno = ERRNO[code];
  }
}

/**
 * Whether `e` is a {@link KernelError}, optionally with the given errno name.
 *
 * **Kernel:** `IS_ERR()` / `PTR_ERR(x) == -ECODE`.
 *
 * **Locking:** none.
 */
export function isKernelError(e: unknown, code?: ErrnoName): e is KernelError {
  return (
    typeof e === "object" &&
    e !== null &&
    (e as Record<symbol, unknown>)[KERNEL_ERROR] === true &&
    (code === undefined || (e as KernelError).code === code)
  );
}

/**
 * The errno name of a number (positive or negative), or `undefined` if Linux has none.
 *
 * **Kernel:** `errname()` in lib/errname.c.
 *
 * **Locking:** none.
 */
export function errname(errno: number): ErrnoName | undefined {
  return NAME_BY_NUMBER.get(Math.abs(errno));
}

/**
 * Throw `KernelError(code, message)`. A small helper so that error paths read like the kernel's
 * `return -EINVAL;`.
 *
 * **Kernel:** `return -code;`
 *
 * **Locking:** none.
 *
 * @throws {@link KernelError} always, with `code`
 */
export function fail(code: ErrnoName, message: string): never {
  throw new KernelError(code, message);
}
