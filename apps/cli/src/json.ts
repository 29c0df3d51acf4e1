/**
 * The envelope of every `--json` output: one shape whatever the number of files, with the format's
 * version and the dmasim version that wrote it. `dmasim schema report` prints its JSON Schema.
 */
import pkg from "../package.json" with { type: "json" };

/** The version of the JSON report format: bumped when a field changes meaning or goes away. */
export const REPORT_FORMAT_VERSION = 1;

/** The dmasim version (of this package). */
export const DMASIM_VERSION: string = pkg.version;

/** `{ version, dmasim, command, ok, ...body }`, printed with two-space indentation. */
export function envelope(
  command: "run" | "check" | "explore",
  ok: boolean,
  body: Readonly<Record<string, unknown>>,
): string {
  return `${JSON.stringify(
    { version: REPORT_FORMAT_VERSION, dmasim: DMASIM_VERSION, command, ok, ...body },
    null,
    2,
  )}\n`;
}
