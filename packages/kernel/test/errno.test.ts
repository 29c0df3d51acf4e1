import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import { describe, expect, it, vi } from "vitest";
import { ERRNO, KernelError, errname, fail, isKernelError } from "../src/index";
import type * as Errno from "../src/errno";

describe("errno", () => {
  it("numbers errnos as Linux does, including the kernel-internal ones", () => {
    expect(ERRNO.EPERM).toBe(1);
    expect(ERRNO.EBADF).toBe(9);
    expect(ERRNO.ENOMEM).toBe(12);
    expect(ERRNO.EINVAL).toBe(22);
    expect(ERRNO.EMFILE).toBe(24);
    expect(ERRNO.ENOTTY).toBe(25);
    expect(ERRNO.ESPIPE).toBe(29);
    expect(ERRNO.EDEADLK).toBe(35);
    expect(ERRNO.ETIME).toBe(62);
    expect(ERRNO.ETIMEDOUT).toBe(110);
    expect(ERRNO.EALREADY).toBe(114);
    expect(ERRNO.ERESTARTSYS).toBe(512);
    expect(ERRNO.ENOIOCTLCMD).toBe(515);
  });

  it("names an errno from a positive or negative number, and nothing for an unknown one", () => {
    expect(errname(22)).toBe("EINVAL");
    expect(errname(-12)).toBe("ENOMEM");
    expect(errname(0)).toBeUndefined();
    expect(errname(9999)).toBeUndefined();
  });

  it("KernelError carries code, errno, message and cause", () => {
    const cause = new Error("inner");
    const e = new KernelError("EBUSY", "buffer pinned", { cause });
    expect(e).toBeInstanceOf(Error);
    expect(e.name).toBe("KernelError");
    expect(e.code).toBe("EBUSY");
    expect(e.errno).toBe(16);
    expect(e.message).toBe("EBUSY: buffer pinned");
    expect(e.cause).toBe(cause);
  });

  it("isKernelError checks the brand and, optionally, the code", () => {
    const e = new KernelError("EINVAL", "x");
    expect(isKernelError(e)).toBe(true);
    expect(isKernelError(e, "EINVAL")).toBe(true);
    expect(isKernelError(e, "ENOMEM")).toBe(false);
    expect(isKernelError(new Error("EINVAL: x"))).toBe(false);
    expect(isKernelError({ code: "EINVAL", errno: 22 })).toBe(false);
    expect(isKernelError(null)).toBe(false);
    expect(isKernelError(undefined)).toBe(false);
    expect(isKernelError("EINVAL")).toBe(false);
  });

  it("fail throws a KernelError with the code", () => {
    expect(() => fail("EFAULT", "bad address")).toThrow(KernelError);
    try {
      fail("EFAULT", "bad address");
    } catch (e) {
      expect(isKernelError(e, "EFAULT")).toBe(true);
    }
  });

  it("the brand works across two copies of the module (ESM and CJS builds)", async () => {
    vi.resetModules();
    const copy: typeof Errno = await import("../src/errno");
    // really a second module instance: a distinct class
    expect(copy.KernelError).not.toBe(KernelError);
    const foreign = new copy.KernelError("ENOENT", "from the other copy");
    expect(foreign instanceof KernelError).toBe(false);
    expect(isKernelError(foreign, "ENOENT")).toBe(true);
    expect(copy.isKernelError(new KernelError("EIO", "from this copy"), "EIO")).toBe(true);
    expect(copy.isKernelError(new Error("plain"))).toBe(false);
  });

  const cjs = new URL("../dist/index.cjs", import.meta.url);
  it.runIf(existsSync(cjs))("the brand works with the built CJS copy (when dist/ exists)", () => {
    const built = createRequire(import.meta.url)(cjs.pathname) as typeof Errno;
    expect(built.KernelError).not.toBe(KernelError);
    expect(isKernelError(new built.KernelError("EAGAIN", "cjs"), "EAGAIN")).toBe(true);
    expect(built.isKernelError(new KernelError("EAGAIN", "esm"), "EAGAIN")).toBe(true);
  });
});
