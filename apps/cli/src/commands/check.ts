import { ScenarioError } from "@dmasim/scenario";
import { envelope } from "../json";
import { EXIT_OK, EXIT_USAGE, type Io } from "../io";
import { loadEach, loadErrorText } from "../scenarios";

/** Options of `dmasim check`. */
export interface CheckFlags {
  json?: boolean;
}

/** One problem of a file in `check --json`. */
interface CheckIssue {
  readonly line: number;
  readonly column: number;
  readonly path: string;
  readonly message: string;
  readonly expected?: string;
  readonly received?: string;
}

/**
 * `dmasim check FILE...`: validate every file without running it, and report each one (the good
 * with their size, the bad with every problem): exit 2 when any is bad.
 */
export function check(io: Io, files: readonly string[], flags: CheckFlags = {}): number {
  const loaded = loadEach(files);
  const entries = loaded.map((l) => {
    if (l.scenario) {
      const sc = l.scenario;
      const steps = sc.setup.length + sc.threads.reduce((n, t) => n + t.steps.length, 0);
      if (!flags.json) {
        const threads = `${sc.threads.length} thread${sc.threads.length === 1 ? "" : "s"}`;
        io.out(`${sc.file}: ok (${steps} steps, ${threads})\n`);
      }
      return { file: sc.file, ok: true, steps, threads: sc.threads.length, issues: [] };
    }
    const e = l.error!;
    if (!flags.json) {
      io.err(`${loadErrorText(e)}\n`);
    }
    const issues: CheckIssue[] =
      e instanceof ScenarioError
        ? e.issues.map((i) => ({
            line: i.line,
            column: i.column,
            path: i.path,
            message: i.message,
            ...(i.expected !== undefined ? { expected: i.expected } : {}),
            ...(i.received !== undefined ? { received: i.received } : {}),
          }))
        : [{ line: 0, column: 0, path: "", message: e.message }];
    const file = e instanceof ScenarioError ? (e.issues[0]?.file ?? l.arg) : l.arg;
    return { file, ok: false, issues };
  });
  const ok = entries.every((e) => e.ok);
  if (flags.json) {
    io.out(envelope("check", ok, { files: entries }));
  } else if (!ok && files.length > 1) {
    const bad = entries.filter((e) => !e.ok).length;
    io.err(`dmasim: ${bad} of ${files.length} files have problems\n`);
  }
  return ok ? EXIT_OK : EXIT_USAGE;
}
