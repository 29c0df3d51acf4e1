// Issue 14 ("No input crashes dmasim"), the library part of the fuzz suite: random sequences of
// library calls of layers 2 to 6 (dma-mapping, dma-resv, dma-buf, heaps, drivers) with hostile
// arguments, on several kernels and platforms. Each call may only end in the kernel's own outcome
// (an errno, a WARN or other finding, a BUG that stops the run); a call that fails with an errno
// leaves the state as it was; host memory stays bounded. A fixed seed and a bounded number of
// runs keep it deterministic and within a few seconds; FUZZ_RUNS / FUZZ_SEED widen it by hand.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { dmaDebugCheckLeaks } from "@dmasim/dma-mapping";
import { dmaBufCheckLeaks } from "@dmasim/dma-buf";
import { libraryCommands } from "./arbitraries";
import { FUZZ_KERNELS, FUZZ_PLATFORMS, bootWorld, call } from "./world";

const SEED = Number(process.env["FUZZ_SEED"] ?? 20261203);
const RUNS = Number(process.env["FUZZ_RUNS"] ?? 25);

function hostBytes(): number {
  const u = process.memoryUsage();
  return u.heapUsed + u.arrayBuffers;
}

describe("library fuzz: random call sequences through layers 2-6", () => {
  it("only kernel outcomes escape, a failed call changes nothing, host memory stays bounded", async () => {
    const before = hostBytes();
    let peak = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...FUZZ_KERNELS),
        fc.constantFrom(...FUZZ_PLATFORMS),
        fc.commands(libraryCommands, { maxCommands: 30, size: "max" }),
        async (version, platform, cmds) => {
          const w = bootWorld(version, platform, 1);
          await fc.asyncModelRun(() => ({ model: {}, real: w }), cmds);
          if (!w.dead) {
            // the end-of-run checks must cope with whatever the calls left behind
            await call(w, "dma_buf_check_leaks()", () => dmaBufCheckLeaks(w.kernel), {
              mayChange: true,
            });
            await call(w, "dma_debug_check_leaks()", () => dmaDebugCheckLeaks(w.kernel), {
              mayChange: true,
            });
          }
          peak = Math.max(peak, hostBytes() - before);
        },
      ),
      { seed: SEED, numRuns: RUNS, endOnFailure: true },
    );
    // hundreds of calls on 64 MiB machines: a leak of simulated memory into host memory, or a
    // buffer materialised at its nominal size, would show here
    expect(peak).toBeLessThan(512 * 2 ** 20);
  }, 120_000);
});
