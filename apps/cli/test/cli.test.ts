import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
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
    expect(lines[0]).toMatch(/^VERSION\s+LAYER\s+WHAT CHANGED/);
    // one block per profile, generated from the era tables: the version on its first line only
    expect(
      lines
        .slice(1)
        .filter((l) => !l.startsWith(" "))
        .map((l) => l.split(/\s+/)[0]),
    ).toEqual(KERNEL_PROFILES.map((p) => p.name));
    expect(io.stdout).toContain("latest (default)");
    const block = (v: string) => {
      const i = lines.findIndex((l) => l.startsWith(`${v} `));
      const j = lines.findIndex((l, k) => k > i && !l.startsWith(" "));
      return lines.slice(i, j < 0 ? undefined : j).join("\n");
    };
    expect(block("6.16")).toMatch(
      /dma-buf\s+- 6\.16: dma_buf_ops\.cache_sgt_mapping.*b72f66f22c0e/,
    );
    expect(block("6.15")).not.toMatch(/cache_sgt_mapping/);
    expect(block("5.15")).toMatch(
      /dma-mapping\s+\+ 5\.14: dma-debug reports "cacheline tracking EEXIST/,
    );
    expect(block("6.12")).toMatch(/dma-resv\s+\+ 6\.11: dma_resv_reserve_fences\(obj, 0\) WARNs/);
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
    expect(badKernel.stderr).toContain("--kernel 2.6: unknown kernel version");
  });
});

describe("dmasim run / check / example", () => {
  it("runs a bundled example by name and passes when its expectations hold", async () => {
    const io = capture();
    expect(await main(["run", "lockdep-abba"], io)).toBe(0);
    expect(io.stdout).toContain("possible circular locking dependency detected");
    expect(io.stdout).toContain("result: PASS");
    expect(io.stdout).toMatch(/replay: v1\./);
  });

  it("exits 1 when a run has an unexpected finding, and --replay reproduces it", async () => {
    let token = "";
    let seed = 0;
    for (seed = 1; seed < 60; seed++) {
      const io = capture();
      const code = await main(["run", "lockdep-abba", "--seed", String(seed), "--json"], io);
      const r = (
        JSON.parse(io.stdout) as {
          reports: { ok: boolean; replay: string; findings: { kind: string }[] }[];
        }
      ).reports[0]!;
      if (r.findings.some((f) => f.kind === "deadlock")) {
        expect(code).toBe(1);
        token = r.replay;
        break;
      }
    }
    expect(token).not.toBe("");
    const again = capture();
    expect(await main(["run", "lockdep-abba", "--replay", token], again)).toBe(1);
    expect(again.stdout).toContain("deadlock");
  });

  it("check validates without running, and reports bad files with positions (exit 2)", async () => {
    const dir = mkdtempSync(join(tmpdir(), "dmasim-"));
    const bad = join(dir, "bad.yaml");
    writeFileSync(bad, "name: bad\nsteps:\n  - mutex_lok: A\n");
    const io = capture();
    expect(await main(["check", "lockdep-abba", bad], io)).toBe(2);
    expect(io.stderr).toContain(`${bad}:3:5: steps[0]: unknown operation "mutex_lok"`);
    // every file is reported: the good one too
    expect(io.stdout).toMatch(/lockdep-abba\.yaml: ok \(10 steps, 2 threads\)/);
    const good = capture();
    expect(await main(["check", "lockdep-abba"], good)).toBe(0);
    expect(good.stdout).toMatch(/ok \(10 steps, 2 threads\)/);
  });

  it("writes a Chrome trace with --trace", async () => {
    const dir = mkdtempSync(join(tmpdir(), "dmasim-"));
    const file = join(dir, "t.json");
    expect(await main(["run", "lockdep-abba", "--trace", file], capture())).toBe(0);
    const trace = JSON.parse(readFileSync(file, "utf8")) as { traceEvents: { name: string }[] };
    expect(trace.traceEvents.some((e) => e.name === "thread_name")).toBe(true);
  });

  it("--trace of the tutorial's bug: slices with durations and a flow from the DMA write to the read", async () => {
    const dir = mkdtempSync(join(tmpdir(), "dmasim-"));
    const file = join(dir, "frame.json");
    const frame = join(__dirname, "..", "..", "..", "docs", "tutorial", "frame.yaml");
    expect(await main(["run", frame, "--trace", file], capture())).toBe(1);
    const { traceEvents } = JSON.parse(readFileSync(file, "utf8")) as {
      traceEvents: { ph: string; name: string; ts: number; dur?: number; id?: number }[];
    };
    const phases = new Set(traceEvents.map((e) => e.ph));
    for (const ph of ["B", "E", "X", "s", "f", "i", "M"]) {
      expect(phases.has(ph), ph).toBe(true);
    }
    const end = Math.max(...traceEvents.map((e) => e.ts + (e.dur ?? 0)));
    expect(end).toBeGreaterThanOrEqual(8); // eight steps of at least a microsecond each
  });

  it("lists and prints bundled examples", async () => {
    const io = capture();
    expect(await main(["list", "examples"], io)).toBe(0);
    expect(io.stdout).toContain("lockdep-abba-fixed");
    const ex = capture();
    expect(await main(["example", "lockdep-abba"], ex)).toBe(0);
    expect(ex.stdout).toMatch(/^name: lockdep-abba/);
    const none = capture();
    expect(await main(["example", "nope"], none)).toBe(2);
    const ops = capture();
    expect(await main(["list", "ops"], ops)).toBe(0);
    expect(ops.stdout).toMatch(
      /\nmutex_lock +@dmasim\/kernel +take a mutex \(may sleep\)\n {4}lock: mutex\n/,
    );
    expect(ops.stdout).toMatch(
      /\nalloc_pages +@dmasim\/hardware .*\n {4}order\?: int 0\.\.10, gfp\?: GFP flags\n/,
    );
  });

  it("--platform shows which machines a bug affects", async () => {
    const arm = capture();
    expect(await main(["run", "h3-dirty-writeback"], arm)).toBe(1);
    expect(arm.stdout).toContain("clobbered-write");
    const x86 = capture();
    expect(await main(["run", "h3-dirty-writeback", "--platform", "x86-64"], x86)).toBe(0);
    expect(x86.stdout).toContain("result: PASS");
    const bad = capture();
    expect(await main(["run", "h3-dirty-writeback", "--platform", "vax"], bad)).toBe(2);
    expect(bad.stderr).toContain("--platform vax: unknown platform");
    const list = capture();
    expect(await main(["list", "platforms"], list)).toBe(0);
    expect(list.stdout).toMatch(/armv6-vipt-aliasing\s+arm\s+vipt\/4 colours/);
  });

  it("lists the heaps a kernel has, and the example drivers with their bug options", async () => {
    const old = capture();
    expect(await main(["list", "heaps", "--kernel", "4.19"], old)).toBe(0);
    expect(old.stdout).toMatch(/ion_system_heap +ION/);
    expect(old.stdout).not.toContain("/dev/dma_heap");
    const now = capture();
    expect(await main(["list", "heaps", "--kernel", "6.12"], now)).toBe(0);
    expect(now.stdout).toMatch(/system +dma-heap +\/dev\/dma_heap\/system\n/);
    expect(now.stdout).toMatch(/system-uncached +dma-heap .*CONFIG_ANDROID/);
    expect(now.stdout).not.toContain("/dev/ion");
    const drivers = capture();
    expect(await main(["list", "drivers"], drivers)).toBe(0);
    expect(drivers.stdout).toMatch(/gpu .*gpu-importer-ignores-move-notify/);
    expect(drivers.stdout).toMatch(/udmabuf .*udmabuf-inverted-cpu-access/);
  });

  it("prints the JSON Schema of scenario files", async () => {
    const io = capture();
    expect(await main(["schema"], io)).toBe(0);
    const s = JSON.parse(io.stdout) as { title: string; $defs: { step: { anyOf: unknown[] } } };
    expect(s.title).toBe("dmasim scenario");
    expect(s.$defs.step.anyOf.length).toBeGreaterThan(40);
  });

  it("rejects a bad seed and a missing file with exit 2", async () => {
    const io = capture();
    expect(await main(["run", "lockdep-abba", "--seed", "-3"], io)).toBe(2);
    const missing = capture();
    expect(await main(["run", "/no/such.yaml"], missing)).toBe(2);
    expect(missing.stderr).toContain("no such file");
  });
});
