// The README's tutorial says what these runs do: keep it true.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { main, type Io } from "../src/main";

const root = join(__dirname, "..", "..", "..");
const frame = join(root, "docs/tutorial/frame.yaml");
const fixed = join(root, "docs/tutorial/frame-fixed.yaml");

function capture(): Io & { stdout: string; stderr: string } {
  const io = {
    stdout: "",
    stderr: "",
    isTTY: false,
    out: (s: string) => void (io.stdout += s),
    err: (s: string) => void (io.stderr += s),
  };
  return io;
}

/** A scenario without its `note:` comments (the README shows them as YAML comments instead). */
function withoutNotes(doc: unknown): unknown {
  return JSON.parse(JSON.stringify(doc, (k, v: unknown) => (k === "note" ? undefined : v)));
}

describe("the README tutorial", () => {
  it("shows docs/tutorial/frame.yaml", () => {
    const readme = readFileSync(join(root, "README.md"), "utf8");
    const block = /```yaml\n(name: frame\n[\s\S]*?)```/.exec(readme)?.[1];
    expect(block).toBeDefined();
    expect(parse(block!)).toEqual(withoutNotes(parse(readFileSync(frame, "utf8"))));
  });

  it("the bug: a stale read at step 7, with the line's history and a hint (exit 1)", async () => {
    const io = capture();
    expect(await main(["run", frame], io)).toBe(1);
    expect(io.stdout).toMatch(/7 main +cpu_read +FAILED +00 x 64; expected 22 x 64, read 00 x 64/);
    expect(io.stdout).toMatch(/\[1\] stale-read \(stale-read\) at step 7/);
    expect(io.stdout).toMatch(/step +3 +fill +cpu:main/);
    expect(io.stdout).toMatch(/step +6 +dma-write +dev:cam/);
    // the hint the checker sets where it raises the finding: the range, the writer, the call
    expect(io.stdout).toMatch(
      /would have prevented it: invalidate phys 0x86421000\.\.0x86421040 after dev:cam wrote it at step 6 and before cpu:main reads: dma_sync_\*_for_cpu/,
    );
    expect(io.stdout).toContain("findings (1)");
  });

  it("the fix passes, explores clean, and the bug does not bite on x86-64", async () => {
    expect(await main(["run", fixed], capture())).toBe(0);
    const ex = capture();
    expect(await main(["explore", fixed, "--progress", "none"], ex)).toBe(0);
    expect(ex.stdout).toContain("result: PASS");
    expect(await main(["run", frame, "--platform", "x86-64"], capture())).toBe(0);
  });
});
