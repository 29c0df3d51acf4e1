/**
 * Where the CLI writes: stdout for reports, stderr for errors and progress. Tests pass a capturing
 * Io; `cli.ts` binds one to the process.
 */
export interface Io {
  out(text: string): void;
  err(text: string): void;
  /** Whether stdout is a terminal (colour of reports). */
  readonly isTTY: boolean;
  /** Whether stderr is a terminal (the progress bar); defaults to {@link Io.isTTY}. */
  readonly errIsTTY?: boolean;
  /** The width of the terminal stderr writes to (the progress bar fits in it); default 80. */
  readonly columns?: number;
  /** The environment (`NO_COLOR`, `FORCE_COLOR`, `TERM`); default none set. */
  readonly env?: Readonly<Record<string, string | undefined>>;
}

/** Exit code: every expectation held, nothing unexpected (and a search covered its whole space). */
export const EXIT_OK = 0;
/** Exit code: a finding or a failed expectation. */
export const EXIT_FINDINGS = 1;
/** Exit code: bad input (a file, a flag) or usage. */
export const EXIT_USAGE = 2;
/**
 * Exit code of `explore`: nothing unexpected was found, but the search did not cover its space
 * (a time, run or depth limit cut it, or a sampling strategy): not a clean exhaustive search.
 */
export const EXIT_INCOMPLETE = 3;

/** An error that the CLI reports on stderr (one line, no stack) and turns into exit code 2. */
export class UsageError extends Error {
  override readonly name = "UsageError";
}

/**
 * Whether to colour what goes to `stream`: `--no-color` wins, then `FORCE_COLOR` (any value but
 * `0`/`false` forces it, as Node does), then `NO_COLOR` (set and not empty: no colour), then
 * whether the stream is a terminal that is not `TERM=dumb`.
 */
export function useColor(io: Io, stream: "out" | "err", flag = true): boolean {
  if (!flag) {
    return false;
  }
  const env = io.env ?? {};
  const force = env.FORCE_COLOR;
  if (force !== undefined) {
    return force !== "0" && force !== "false";
  }
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== "") {
    return false;
  }
  const tty = stream === "out" ? io.isTTY : (io.errIsTTY ?? io.isTTY);
  return tty && env.TERM !== "dumb";
}

/** The visible text of a string that may carry colour codes. */
function visible(s: string): string {
  // eslint-disable-next-line no-control-regex
  return s.replace(/\u001b\[[0-9;]*m/g, "");
}

/** Pad the columns of a table of strings (cells may be coloured: widths count visible text). */
export function table(rows: readonly (readonly string[])[]): string {
  const widths: number[] = [];
  for (const row of rows) {
    row.forEach((cell, i) => {
      widths[i] = Math.max(widths[i] ?? 0, visible(cell).length);
    });
  }
  return rows
    .map((row) =>
      row
        .map((cell, i) =>
          i === row.length - 1 ? cell : cell + " ".repeat((widths[i] ?? 0) - visible(cell).length),
        )
        .join("  ")
        .trimEnd(),
    )
    .join("\n");
}
