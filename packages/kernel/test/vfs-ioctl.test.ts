import { describe, expect, it } from "vitest";
import { Kernel, anonInodeGetfile, type Process } from "../src/index";

describe("ioctl", () => {
  it("passes the calling process to unlocked_ioctl (current->files for fd-creating ioctls)", async () => {
    const k = new Kernel();
    const seen: Process[] = [];
    const file = anonInodeGetfile(
      k,
      "test",
      {
        name: "test",
        unlockedIoctl: (_file, _cmd, _arg, process) => {
          seen.push(process);
          return process.installFd(anonInodeGetfile(k, "child", { name: "child" }, null, 0));
        },
      },
      null,
      0,
    );
    const p = k.vfs.createProcess("app");
    const fd = p.installFd(file);
    const child = await p.ioctl(fd, 1);
    expect(seen).toEqual([p]);
    expect(p.openFds()).toEqual([fd, child]);
  });
});
