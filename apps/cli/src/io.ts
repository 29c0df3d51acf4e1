/**
 * Where the CLI writes: stdout for reports, stderr for errors. Tests pass a capturing Io.
 */
export interface Io {
  out(text: string): void;
  err(text: string): void;
  /** Whether stdout is a terminal (colour, progress bars). */
  readonly isTTY: boolean;
}

/** Exit codes: 0 all expectations held, 1 a finding or failed expectation, 2 bad input or usage. */
export const EXIT_OK = 0;
export const EXIT_FINDINGS = 1;
export const EXIT_USAGE = 2;

/** An error that the CLI reports on stderr and turns into exit code 2. */
export class UsageError extends Error {
  override readonly name = "UsageError";
}

/** Pad the columns of a table of strings. */
export function table(rows: readonly (readonly string[])[]): string {
  const widths: number[] = [];
  for (const row of rows) {
    row.forEach((cell, i) => {
      widths[i] = Math.max(widths[i] ?? 0, cell.length);
    });
  }
  return rows
    .map((row) =>
      row
        .map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i] ?? 0)))
        .join("  ")
        .trimEnd(),
    )
    .join("\n");
}
