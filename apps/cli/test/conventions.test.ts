// Issue #15 item 4: the CLI follows its ecosystem's conventions.
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import pkg from "../package.json" with { type: "json" };
import { barLine } from "../src/progress";
import { cli, validJson } from "./helpers";

const dir = mkdtempSync(join(tmpdir(), "dmasim-conv-"));
const bad1 = join(dir, "bad1.yaml");
const bad2 = join(dir, "bad2.yaml");
writeFileSync(bad1, "name: bad1\nsteps:\n  - mutex_lok: A\n");
writeFileSync(bad2, "name: bad2\nsteps:\n  - msleep: -1\n");
// eslint-disable-next-line no-control-regex
const ANSI = /\u001b\[\d+m/;

interface Envelope {
  version: number;
  dmasim: string;
  command: string;
  ok: boolean;
  reports: { ok: boolean; kernel: string; scenario: { name: string } }[];
}

describe("check and run report every file", () => {
  it("check A B C reports each file: the good ones on stdout, every bad one on stderr", async () => {
    const r = await cli(["check", bad1, "lockdep-abba", bad2]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`${bad1}:3:5: steps[0]: unknown operation "mutex_lok"`);
    expect(r.stderr).toContain(`${bad2}:3:`);
    expect(r.stderr).toContain("2 of 3 files have problems");
    expect(r.stdout).toMatch(/lockdep-abba\.yaml: ok/);
  });

  it("check --json lists every file with its issues", async () => {
    const r = await cli(["check", bad1, "lockdep-abba", "--json"]);
    expect(r.code).toBe(2);
    const j = validJson<{
      ok: boolean;
      files: { file: string; ok: boolean; issues: { line: number }[] }[];
    }>(r.stdout);
    expect(j.ok).toBe(false);
    expect(j.files.map((f) => f.ok)).toEqual([false, true]);
    expect(j.files[0]!.issues[0]!.line).toBe(3);
  });

  it("run refuses to run anything when a file is bad, and names every bad file", async () => {
    const r = await cli(["run", bad1, "lockdep-abba", bad2]);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe("");
    expect(r.stderr).toContain(bad1);
    expect(r.stderr).toContain(bad2);
  });
});

describe("--json: one shape, a version, a schema", () => {
  it("has the same envelope for one file and for many", async () => {
    const one = validJson<Envelope>((await cli(["run", "lockdep-abba", "--json"])).stdout);
    expect(one).toMatchObject({ version: 1, dmasim: pkg.version, command: "run", ok: true });
    expect(one.reports).toHaveLength(1);
    const two = await cli(["run", "lockdep-abba", "h3-dirty-writeback", "--json"]);
    expect(two.code).toBe(1);
    const j = validJson<Envelope>(two.stdout);
    expect(j.ok).toBe(false);
    expect(j.reports.map((r) => [r.scenario.name, r.ok])).toEqual([
      ["lockdep-abba", true],
      ["h3-dirty-writeback", false],
    ]);
  });

  it("explore --json carries the envelope too, and validates", async () => {
    const r = await cli(["explore", "lockdep-abba-fixed", "--json", "--progress", "none"]);
    const j = validJson<{ command: string; complete: boolean; incomplete: string[] }>(r.stdout);
    expect(j).toMatchObject({ command: "explore", complete: true, incomplete: [] });
  });

  it("dmasim schema report prints the JSON Schema, and a wrong name is refused", async () => {
    const r = await cli(["schema", "report"]);
    expect(r.code).toBe(0);
    const s = JSON.parse(r.stdout) as { $schema: string; $defs: Record<string, unknown> };
    expect(s.$schema).toContain("2020-12");
    expect(Object.keys(s.$defs)).toEqual(expect.arrayContaining(["run", "check", "explore"]));
    const bad = await cli(["schema", "reprot"]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain("did you mean report?");
  });

  it("the schema rejects what is not a report", () => {
    expect(() => validJson(JSON.stringify({ version: 1, command: "run", ok: true }))).toThrow(
      /dmasim/,
    );
    expect(() =>
      validJson(JSON.stringify({ version: 2, dmasim: "0", command: "run", ok: true, reports: [] })),
    ).toThrow();
  });
});

describe("did-you-mean for kernels, platforms and examples", () => {
  it.each([
    [["run", "lockdep-abba", "--kernel", "6.13"], "did you mean 6.1, 6.12, 6.15?"],
    [["run", "lockdep-abba", "--platform", "x86"], "did you mean x86-64?"],
    [["run", "lockdep-abba", "--platform", "rpi3"], "did you mean rpi4?"],
    [["explore", "lockdep-abba", "--kernel", "5.11"], "did you mean 5.10, 5.15?"],
    [["list", "heaps", "--kernel", "4.91"], "did you mean 4.19"],
    [["run", "lockdep-aba"], "did you mean lockdep-abba"],
    [["example", "h3-dirty-writebak"], "did you mean h3-dirty-writeback?"],
  ])("%j", async (args, hint) => {
    const r = await cli(args);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(hint);
    expect(r.stderr.trim().split("\n")).toHaveLength(1);
  });

  it("an unknown value with nothing close lists what is known", async () => {
    const r = await cli(["run", "lockdep-abba", "--platform", "vax"]);
    expect(r.stderr).not.toContain("did you mean");
    expect(r.stderr).toContain("known: x86-64, arm64-soc");
  });
});

describe("colour: a terminal, NO_COLOR, FORCE_COLOR, --no-color", () => {
  const bug = ["run", "h3-dirty-writeback"];
  it("colours on a terminal, never through a pipe", async () => {
    expect((await cli(bug, { isTTY: true })).stdout).toMatch(ANSI);
    expect((await cli(bug, { isTTY: false })).stdout).not.toMatch(ANSI);
  });
  it("NO_COLOR turns it off on a terminal; an empty NO_COLOR does not", async () => {
    expect((await cli(bug, { isTTY: true, env: { NO_COLOR: "1" } })).stdout).not.toMatch(ANSI);
    expect((await cli(bug, { isTTY: true, env: { NO_COLOR: "" } })).stdout).toMatch(ANSI);
  });
  it("FORCE_COLOR turns it on through a pipe (and wins over NO_COLOR); FORCE_COLOR=0 off", async () => {
    expect((await cli(bug, { env: { FORCE_COLOR: "1" } })).stdout).toMatch(ANSI);
    expect((await cli(bug, { env: { FORCE_COLOR: "1", NO_COLOR: "1" } })).stdout).toMatch(ANSI);
    expect((await cli(bug, { isTTY: true, env: { FORCE_COLOR: "0" } })).stdout).not.toMatch(ANSI);
  });
  it("--no-color wins over everything; TERM=dumb has none", async () => {
    const forced = await cli([...bug, "--no-color"], { isTTY: true, env: { FORCE_COLOR: "3" } });
    expect(forced.stdout).not.toMatch(ANSI);
    expect((await cli(bug, { isTTY: true, env: { TERM: "dumb" } })).stdout).not.toMatch(ANSI);
  });
});

describe("explore's progress goes to stderr, and is decided on stderr", () => {
  const args = ["explore", "lockdep-abba-fixed"];
  it("a bar when stderr is a terminal although stdout is piped", async () => {
    const r = await cli(args, { isTTY: false, errIsTTY: true });
    expect(r.stderr.startsWith("\r\u001b[2K")).toBe(true);
    expect(r.stdout).toContain("result: PASS");
  });
  it("NDJSON when stderr is not a terminal although stdout is one", async () => {
    const r = await cli(args, { isTTY: true, errIsTTY: false });
    const first = JSON.parse(r.stderr.split("\n")[0]!) as { type: string };
    expect(first.type).toBe("progress");
  });
  it("the bar is redrawn in place and fits a narrow terminal (no wrapped lines)", async () => {
    const r = await cli(args, { errIsTTY: true, columns: 30 });
    const draws = r.stderr.split("\r\u001b[2K").filter(Boolean);
    expect(draws.length).toBeGreaterThan(0);
    for (const d of draws) {
      // eslint-disable-next-line no-control-regex
      const line = d.replace(/\n$/, "").replace(/\u001b\[\d+m/g, "");
      expect(line).not.toContain("\n");
      expect(line.length).toBeLessThanOrEqual(29);
    }
  });
  it("the bar keeps its most important fields first, whole, and colours failures only with colour", () => {
    const p = {
      runs: 12,
      pruned: 1,
      states: 40,
      frontier: 3,
      failures: 2,
      elapsedMs: 1500,
      runsPerSec: 8,
    };
    expect(barLine(p, "|", 80, false)).toBe(
      "| runs 12 | failures 2 | states 40 | 1.5s | 8 runs/s | frontier 3",
    );
    expect(barLine(p, "|", 30, false)).toBe("| runs 12 | failures 2");
    expect(barLine(p, "|", 80, true)).toMatch(ANSI);
  });
});

describe("shell completion", () => {
  it.each([
    ["bash", "dmasim complete --"],
    ["zsh", "#compdef dmasim"],
    ["fish", "complete -c dmasim"],
  ])("dmasim completion %s prints a script that asks dmasim complete", async (shell, marker) => {
    const r = await cli(["completion", shell]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(marker);
    expect(r.stdout).toContain("complete");
  });

  it("refuses a shell it does not know", async () => {
    expect((await cli(["completion", "tcsh"])).code).toBe(2);
  });

  const values = (out: string) =>
    out
      .trim()
      .split("\n")
      .filter((l) => !l.startsWith(":"))
      .map((l) => l.split("\t")[0]);

  it("completes commands, options and their values", async () => {
    expect(values((await cli(["complete", "--", ""])).stdout)).toEqual(
      expect.arrayContaining(["run", "explore", "check", "list", "schema", "completion"]),
    );
    expect(values((await cli(["complete", "--", "run", "--k"])).stdout)).toEqual(["--kernel"]);
    const kernels = values((await cli(["complete", "--", "run", "x.yaml", "--kernel", ""])).stdout);
    expect(kernels).toEqual(expect.arrayContaining(["all", "4.14", "6.12", "latest"]));
    const platforms = values((await cli(["complete", "--", "run", "--platform", "arm"])).stdout);
    expect(platforms).toEqual(["arm64-soc", "armv7", "armv6-vipt-aliasing"]);
    const strategies = values((await cli(["complete", "--", "explore", "--strategy", ""])).stdout);
    expect(strategies).toEqual(["dfs", "random", "pct"]);
  });

  it("completes bundled examples and scenario files for run, and list targets", async () => {
    const ex = values((await cli(["complete", "--", "run", "lockdep-a"])).stdout);
    expect(ex).toEqual(["lockdep-abba", "lockdep-abba-fixed"]);
    const files = values((await cli(["complete", "--", "check", `${dir}/bad`])).stdout);
    expect(files).toEqual([bad1, bad2]);
    const what = values((await cli(["complete", "--", "list", ""])).stdout);
    expect(what).toEqual([
      "kernels",
      "platforms",
      "heaps",
      "drivers",
      "options",
      "examples",
      "ops",
    ]);
  });
});
