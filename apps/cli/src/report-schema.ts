/**
 * The JSON Schema (draft 2020-12) of what `--json` prints: `run` (one file, many, or a
 * kernel/platform matrix), `check` and `explore` share one envelope (`version`, `dmasim`,
 * `command`, `ok`). Objects allow fields this schema does not name: a minor release may add
 * fields; a change of meaning or a removal bumps `version`.
 */
import { FINDING_KINDS } from "@dmasim/kernel";
import { EXPLORE_CUTS } from "@dmasim/scenario";
import { DMASIM_VERSION, REPORT_FORMAT_VERSION } from "./json";

type Schema = Readonly<Record<string, unknown>>;

const str: Schema = { type: "string" };
const int: Schema = { type: "integer" };
const num: Schema = { type: "number" };
const bool: Schema = { type: "boolean" };

function obj(properties: Readonly<Record<string, Schema>>, required: readonly string[]): Schema {
  return { type: "object", properties, required };
}

const finding = obj(
  {
    kind: { enum: FINDING_KINDS, description: "what went wrong (stale-read, lockdep, dma-api, …)" },
    code: { ...str, description: "a finer, stable code within the kind" },
    summary: { ...str, description: "one line, in the kernel's wording where it prints one" },
    step: { ...int, description: "the scenario step it happened in (0: outside steps)" },
    thread: str,
    ns: { ...num, description: "simulated time (ns)" },
    seq: { ...int, description: "event sequence number: orders findings with trace events" },
    details: { type: "object", description: "addresses, bytes, line history, lock chains, …" },
  },
  ["kind", "code", "summary", "step", "thread", "details"],
);

const step = obj(
  {
    id: int,
    thread: str,
    op: str,
    label: { type: ["string", "null"] },
    line: int,
    status: { enum: ["ok", "failed", "not-run"] },
    errno: str,
    error: str,
    text: str,
    expectation: { ...str, description: "a step expectation that failed" },
    note: str,
  },
  ["id", "thread", "op", "line", "status"],
);

const runReport = obj(
  {
    scenario: obj({ name: str, file: str, description: str }, ["name", "file"]),
    kernel: { ...str, description: "the kernel version it ran as" },
    platform: {
      type: ["string", "null"],
      description: "the platform preset --platform forced (null: the scenario's own)",
    },
    policy: { ...str, description: "the choice policy (first, random(seed), replay, …)" },
    ok: { ...bool, description: "every expectation held and nothing unexpected happened" },
    outcome: {
      ...str,
      description: "in a matrix: pass, the unexpected findings' kinds, or n/a (could not run)",
    },
    error: { ...str, description: "in a matrix: why this combination could not run" },
    steps: { type: "array", items: step },
    findings: { type: "array", items: finding },
    unexpected: { type: "array", items: finding, description: "findings no expectation allowed" },
    expectations: { type: "array", items: obj({ ok: bool, text: str }, ["ok", "text"]) },
    aborted: {
      anyOf: [{ type: "null" }, obj({ reason: str, message: str }, ["reason", "message"])],
    },
    dmesg: str,
    replay: { ...str, description: "dmasim run --replay TOKEN FILE replays this run" },
    choices: int,
    events: { type: "array", items: { type: "object" } },
    ns: num,
  },
  ["scenario", "kernel", "ok"],
);

const envelope = (command: string, body: Readonly<Record<string, Schema>>, required: string[]) =>
  obj(
    {
      version: { const: REPORT_FORMAT_VERSION, description: "the version of this report format" },
      dmasim: {
        ...str,
        description: `the dmasim version that wrote it (this one: ${DMASIM_VERSION})`,
      },
      command: { const: command },
      ok: bool,
      ...body,
    },
    ["version", "dmasim", "command", "ok", ...required],
  );

const run = envelope(
  "run",
  {
    reports: { type: "array", items: runReport, description: "one per file (and matrix cell)" },
    matrix: obj(
      {
        kernels: { type: "array", items: { type: ["string", "null"] } },
        platforms: { type: "array", items: { type: ["string", "null"] } },
      },
      ["kernels", "platforms"],
    ),
  },
  ["reports"],
);

const issue = obj(
  { line: int, column: int, path: str, message: str, expected: str, received: str },
  ["line", "column", "path", "message"],
);

const check = envelope(
  "check",
  {
    files: {
      type: "array",
      items: obj(
        { file: str, ok: bool, steps: int, threads: int, issues: { type: "array", items: issue } },
        ["file", "ok", "issues"],
      ),
    },
  },
  ["files"],
);

const bound = { type: ["number", "null"], description: "null: unbounded" };
const part = obj({ index: int, count: int }, ["index", "count"]);

const explore = envelope(
  "explore",
  {
    format: { const: "dmasim-explore/1" },
    scenario: str,
    file: str,
    source: { ...str, description: "a hash of the scenario source" },
    strategy: { enum: ["dfs", "random", "pct"] },
    reduction: { enum: ["state", "none"] },
    bounds: obj(
      {
        choices: { type: "object", additionalProperties: bound },
        depth: bound,
        runs: bound,
        timeMs: bound,
      },
      ["choices", "depth", "runs", "timeMs"],
    ),
    shard: part,
    shards: { type: "array", items: part },
    runs: int,
    pruned: int,
    states: int,
    elapsedMs: num,
    complete: { ...bool, description: "the whole space within the bounds was covered" },
    incomplete: {
      type: "array",
      items: { enum: EXPLORE_CUTS },
      description: "why the space was not covered (empty when complete)",
    },
    failures: {
      type: "array",
      items: obj({ key: str, summary: str, replay: str, runs: int, text: str }, [
        "key",
        "summary",
        "replay",
        "runs",
      ]),
    },
  },
  ["strategy", "runs", "states", "complete", "incomplete", "failures"],
);

/** The JSON Schema of every `--json` output of dmasim. */
export function reportSchema(): Schema {
  return {
    $schema: "https://json-schema.org/draft/2020-12/schema",
    title: "dmasim --json report",
    description:
      "What `dmasim run|check|explore --json` prints. One envelope for one file or many: " +
      "`version` is this format's version, `dmasim` the tool's, `command` says which body follows.",
    oneOf: [{ $ref: "#/$defs/run" }, { $ref: "#/$defs/check" }, { $ref: "#/$defs/explore" }],
    $defs: { run, check, explore, runReport, finding },
  };
}
