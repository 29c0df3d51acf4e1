import { describe, expect, it } from "vitest";
import { KERNEL_PROFILES } from "@dmasim/kernel";
import { main, type Io } from "../src/main";

function capture(): Io & { stdout: string; stderr: string } {
  const io = {
    stdout: "",
    stderr: "",
    isTTY: false,
    out(s: string) {
      io.stdout += s;
    },
    err(s: string) {
      io.stderr += s;
    },
  };
  return io;
}

describe("dmasim CLI", () => {
  it("lists every kernel profile, oldest first, with latest as the default", async () => {
    const io = capture();
    expect(await main(["list", "kernels"], io)).toBe(0);
    const lines = io.stdout.trim().split("\n");
    expect(lines[0]).toMatch(/^VERSION/);
    expect(lines.slice(1).map((l) => l.split(/\s+/)[0])).toEqual(
      KERNEL_PROFILES.map((p) => p.name),
    );
    expect(io.stdout).toContain("latest (default)");
    expect(io.stderr).toBe("");
  });

  it("lists the kernel options with their defaults for a version", async () => {
    const io = capture();
    expect(await main(["list", "options", "--kernel", "5.10"], io)).toBe(0);
    expect(io.stdout).toMatch(/CONFIG_PROVE_LOCKING\s+config\s+on/);
  });

  it("prints its version and help", async () => {
    const io = capture();
    expect(await main(["--version"], io)).toBe(0);
    expect(io.stdout.trim()).toMatch(/^\d+\.\d+\.\d+$/);
    const help = capture();
    expect(await main(["--help"], help)).toBe(0);
    expect(help.stdout).toContain("list");
  });

  it("exits 2 with a clear message on bad usage", async () => {
    const io = capture();
    expect(await main(["list", "gpus"], io)).toBe(2);
    expect(io.stderr).toContain('cannot list "gpus": expected one of kernels');
    const unknown = capture();
    expect(await main(["frobnicate"], unknown)).toBe(2);
    expect(unknown.stderr).toContain("unknown command");
    const badKernel = capture();
    expect(await main(["list", "options", "--kernel", "2.6"], badKernel)).toBe(2);
    expect(badKernel.stderr).toContain('unknown kernel version "2.6"');
  });
});
