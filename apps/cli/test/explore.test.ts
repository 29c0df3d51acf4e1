import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { main, type Io } from "../src/main";

function capture(isTTY = false, env: Io["env"] = {}): Io & { stdout: string; stderr: string } {
  const io = {
    stdout: "",
    stderr: "",
    isTTY,
    env,
    out(s: string) {
      io.stdout += s;
    },
    err(s: string) {
      io.stderr += s;
    },
  };
  return io;
}

interface JsonResult {
  runs: number;
  states: number;
  complete: boolean;
  failures: { key: string; replay: string; runs: number }[];
}

async function json(args: string[]): Promise<{ code: number; r: JsonResult }> {
  const io = capture();
  const code = await main([...args, "--json", "--progress", "none"], io);
  return { code, r: JSON.parse(io.stdout) as JsonResult };
}

describe("dmasim explore", () => {
  it("finds the ABBA deadlock (exit 1), and run --replay reproduces the identical report", async () => {
    const io = capture();
    expect(await main(["explore", "lockdep-abba"], io)).toBe(1);
    expect(io.stdout).toContain("deadlock (all-blocked)");
    const token = /replay: (v1\.\S+)/.exec(io.stdout)?.[1] ?? "";
    expect(token).not.toBe("");
    expect(io.stdout).toMatch(/result: FAIL: 1 distinct failure/);
    const again = capture();
    expect(await main(["run", "--replay", token, "lockdep-abba"], again)).toBe(1);
    expect(io.stdout.startsWith(again.stdout)).toBe(true);
  });

  it("explores the fixed variants clean (exit 0) and says the space was exhausted", async () => {
    for (const name of ["lockdep-abba-fixed", "completion-reinit-race-fixed"]) {
      const io = capture();
      expect(await main(["explore", name, "--progress", "none"], io)).toBe(0);
      expect(io.stdout).toContain("result: PASS: nothing unexpected in the whole space");
    }
  });

  it("writes NDJSON progress on stderr when not on a terminal, a rewritten line on one", async () => {
    const io = capture();
    await main(["explore", "lockdep-abba-fixed"], io);
    const lines = io.stderr.trim().split("\n");
    const last = JSON.parse(lines.at(-1) ?? "{}") as { type: string; runs: number; states: number };
    expect(last.type).toBe("progress");
    expect(last.runs).toBeGreaterThan(1);
    expect(last.states).toBeGreaterThan(1);
    const tty = capture(true, { NO_COLOR: "1" });
    await main(["explore", "lockdep-abba-fixed"], tty);
    expect(tty.stderr.startsWith("\r\u001b[2K")).toBe(true);
    expect(tty.stderr).toMatch(
      /^\r.\[2K. runs \d+ \| failures 0 \| states \d+ \| [\d.]+s \| \d+ runs\/s \| frontier \d+/,
    );
  });

  it("bounds per kind from flags: without preemptions the deadlock is out of reach", async () => {
    const { code, r } = await json(["explore", "lockdep-abba", "--preemptions", "0"]);
    expect(code).toBe(0);
    expect(r.complete).toBe(true);
    const generic = await json(["explore", "lockdep-abba", "--bound", "preempt=0"]);
    expect(generic.r.runs).toBe(r.runs);
  });

  it("--workers splits the search over threads and finds the same as one thread", async () => {
    const one = await json(["explore", "lockdep-abba", "--all", "--reduction", "none"]);
    const many = await json([
      "explore",
      "lockdep-abba",
      "--all",
      "--reduction",
      "none",
      "--workers",
      "2",
    ]);
    expect(many.code).toBe(1);
    expect(many.r.runs).toBe(one.r.runs);
    expect(many.r.states).toBe(one.r.states);
    expect(many.r.failures.map((f) => [f.key, f.runs])).toEqual(
      one.r.failures.map((f) => [f.key, f.runs]),
    );
  });

  it("--shard i/n --out, then --merge: the shards together make the whole search", async () => {
    const dir = mkdtempSync(join(tmpdir(), "dmasim-explore-"));
    const one = await json(["explore", "lockdep-abba-fixed", "--all"]);
    const files: string[] = [];
    for (let i = 0; i < 3; i++) {
      const out = join(dir, `part${i}.json`);
      const io = capture();
      const args = ["explore", "lockdep-abba-fixed", "--all", "--shard", `${i}/3`, "--out", out];
      expect(await main([...args, "--progress", "none"], io)).toBe(0);
      files.push(out);
    }
    expect(JSON.parse(readFileSync(files[0]!, "utf8"))).toMatchObject({
      format: "dmasim-explore/1",
      shard: { index: 0, count: 3 },
    });
    const merged = await json(["explore", "--merge", ...files]);
    expect(merged.code).toBe(0);
    expect(merged.r.states).toBe(one.r.states);
    expect(merged.r.complete).toBe(true);
    const partial = await json(["explore", "--merge", files[0]!, files[1]!]);
    expect(partial.r.complete).toBe(false);
  });

  it("random and pct strategies find the missed wakeup", async () => {
    for (const strategy of ["random", "pct"]) {
      const { code, r } = await json([
        "explore",
        "completion-reinit-race",
        "--strategy",
        strategy,
        "--seed",
        "3",
        "--runs",
        "100",
      ]);
      expect(code).toBe(1);
      expect(r.failures[0]?.key).toBe("deadlock/all-blocked");
    }
  });

  it("exits 2 on bad usage", async () => {
    const bad = [
      ["explore"],
      ["explore", "lockdep-abba", "lockdep-abba-fixed"],
      ["explore", "lockdep-abba", "--shard", "3/2"],
      ["explore", "lockdep-abba", "--strategy", "bfs"],
      ["explore", "lockdep-abba", "--reduction", "por"],
      ["explore", "lockdep-abba", "--bound", "preempt"],
      ["explore", "lockdep-abba", "--time", "soon"],
      ["explore", "lockdep-abba", "--runs", "0"],
      ["explore", "lockdep-abba", "--progress", "fancy"],
      ["explore", "--merge"],
      ["explore", "--merge", "/nonexistent.json"],
      ["explore", "no-such-scenario"],
    ];
    for (const args of bad) {
      const io = capture();
      expect(await main(args, io), args.join(" ")).toBe(2);
      expect(io.stderr).toMatch(/dmasim: |error/);
    }
  });
});
