// Issue #14 items 4 and 5: file errors and flags that must be refused; a search that did not finish
// never looks like a clean exhaustive one.
import { chmodSync, existsSync, mkdtempSync, writeFileSync } from "node:fs";
import { availableParallelism, tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { STACK, cli, validJson } from "./helpers";

const dir = mkdtempSync(join(tmpdir(), "dmasim-input-"));
const good = join(dir, "good.yaml");
writeFileSync(good, "name: good\nsteps:\n  - msleep: 1\n");

/** Exit 2, one line on stderr naming `what`, no stack trace, nothing on stdout. */
async function refused(args: string[], what: string | RegExp): Promise<void> {
  const r = await cli(args);
  expect(r.code, args.join(" ")).toBe(2);
  expect(r.stderr.trim().split("\n"), r.stderr).toHaveLength(1);
  expect(r.stderr).toMatch(what);
  expect(r.stderr).not.toMatch(STACK);
  expect(r.stdout).toBe("");
}

describe("file errors: exit 2, one line, no stack trace", () => {
  it("--trace and --out into a folder that does not exist (before anything runs)", async () => {
    await refused(
      ["run", good, "--trace", join(dir, "no/such/t.json")],
      /--trace .*folder .* does not exist/,
    );
    await refused(
      ["explore", good, "--out", join(dir, "missing", "r.json"), "--progress", "none"],
      /--out .*does not exist/,
    );
    expect(existsSync(join(dir, "no"))).toBe(false);
  });

  it('--trace "" and --out ""', async () => {
    await refused(["run", good, "--trace", ""], /--trace "": expected a file name/);
    await refused(
      ["explore", good, "--out", "", "--progress", "none"],
      /--out "": expected a file name/,
    );
  });

  it("--trace naming a directory", async () => {
    await refused(["run", good, "--trace", dir], /is a directory/);
  });

  it("a directory as FILE, for run, check and explore", async () => {
    await refused(["run", dir], `${dir}: is a directory, expected a scenario file`);
    await refused(["check", dir], /is a directory/);
    await refused(["explore", dir, "--progress", "none"], /is a directory/);
  });

  it("a path through a file, and a file without read permission", async () => {
    await refused(
      ["run", join(good, "x.yaml")],
      /cannot read: a part of the path is not a directory/,
    );
    const locked = join(dir, "locked.yaml");
    writeFileSync(locked, "name: locked\nsteps:\n  - msleep: 1\n");
    chmodSync(locked, 0o000);
    if (process.getuid?.() !== 0) {
      // root reads any file: the check is only meaningful for other users
      await refused(["run", locked], /cannot read: permission denied/);
    }
  });

  it("an empty FILE and a merge of a directory", async () => {
    await refused(["run", ""], /expected a scenario file/);
    await refused(["explore", "--merge", dir], /is a directory/);
  });
});

describe("flags that must be refused or capped", () => {
  it("--workers beyond the cores is capped at the cores, with a note", async () => {
    const r = await cli([
      "explore",
      "lockdep-abba-fixed",
      "--workers",
      "100000",
      "--json",
      "--progress",
      "none",
    ]);
    expect(r.code).toBe(0);
    const cores = availableParallelism();
    expect(r.stderr).toContain(`--workers 100000: this machine has ${cores} core`);
    expect(validJson<{ complete: boolean }>(r.stdout).complete).toBe(true);
    await refused(
      ["explore", "lockdep-abba", "--workers", "0"],
      /--workers 0: expected a whole number >= 1/,
    );
  });

  it("--time 0 is refused (zero runs are not a search)", async () => {
    for (const t of ["0", "0s", "0ms", "0.0m"]) {
      await refused(["explore", "lockdep-abba", "--time", t], /expected a duration above 0/);
    }
  });

  it("--bound with an unknown kind is refused with the list of kinds", async () => {
    await refused(
      ["explore", "lockdep-abba", "--bound", "nope=1"],
      /unknown choice kind "nope"; kinds: preempt, sched, evict, prefetch, cache, alloc, ww-inject/,
    );
    await refused(["explore", "lockdep-abba", "--bound", "preemt=1"], /did you mean preempt\?/);
  });
});

describe("an incomplete search never looks like a clean exhaustive one", () => {
  const json = async (args: string[]) => {
    const r = await cli([...args, "--json", "--progress", "none"]);
    return {
      code: r.code,
      j: validJson<{ complete: boolean; incomplete: string[]; ok: boolean }>(r.stdout),
    };
  };

  it("a complete clean search: exit 0, complete, no reasons", async () => {
    const { code, j } = await json(["explore", "lockdep-abba-fixed"]);
    expect(code).toBe(0);
    expect(j).toMatchObject({ ok: true, complete: true, incomplete: [] });
  });

  it("cut by the run limit: exit 3, INCOMPLETE and why, in text and JSON", async () => {
    const { code, j } = await json(["explore", "lockdep-abba-fixed", "--runs", "2"]);
    expect(code).toBe(3);
    expect(j).toMatchObject({ ok: true, complete: false, incomplete: ["runs"] });
    const text = await cli(["explore", "lockdep-abba-fixed", "--runs", "2", "--progress", "none"]);
    expect(text.code).toBe(3);
    expect(text.stdout).toContain("result: INCOMPLETE");
    expect(text.stdout).toContain("the run limit stopped it (--runs)");
    expect(text.stdout).not.toContain("result: PASS");
  });

  it("cut by the depth bound: exit 3 with reason depth", async () => {
    const { code, j } = await json(["explore", "lockdep-abba-fixed", "--depth", "1"]);
    expect(code).toBe(3);
    expect(j.incomplete).toEqual(["depth"]);
  });

  it("a sampling strategy never claims exhaustion: exit 3, reason sampling", async () => {
    const { code, j } = await json([
      "explore",
      "lockdep-abba-fixed",
      "--strategy",
      "random",
      "--runs",
      "5",
    ]);
    expect(code).toBe(3);
    expect(j.incomplete).toEqual(["runs", "sampling"]);
  });

  it("a failure wins: exit 1 even when the search stopped early", async () => {
    const { code, j } = await json(["explore", "lockdep-abba"]);
    expect(code).toBe(1);
    expect(j.incomplete).toContain("failure");
  });

  it("a merge of some shards only is incomplete (shards)", async () => {
    const out = join(dir, "part0.json");
    expect(
      (
        await cli([
          "explore",
          "lockdep-abba-fixed",
          "--shard",
          "0/2",
          "--out",
          out,
          "--progress",
          "none",
        ])
      ).code,
    ).toBe(0);
    const { code, j } = await json(["explore", "--merge", out]);
    expect(code).toBe(3);
    expect(j.incomplete).toEqual(["shards"]);
  });
});
