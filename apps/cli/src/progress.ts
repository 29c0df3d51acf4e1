/**
 * The progress of `dmasim explore` on stderr: one line redrawn in place when stderr is a terminal
 * (cut to the terminal's width, so that a narrow terminal never wraps it), NDJSON lines otherwise
 * (for CI logs and tools), or nothing.
 */
import type { ExploreProgress } from "@dmasim/scenario";
import { createColors } from "picocolors";
import { UsageError, useColor, type Io } from "./io";

/** How progress is shown. */
export type ProgressMode = "bar" | "ndjson" | "none";

/**
 * The mode for `--progress` (`auto`: a bar when stderr, where progress goes, is a terminal).
 *
 * @throws {@link UsageError} for an unknown mode
 */
export function progressMode(io: Io, mode: string): ProgressMode {
  switch (mode) {
    case "auto":
      return (io.errIsTTY ?? io.isTTY) ? "bar" : "ndjson";
    case "bar":
    case "ndjson":
    case "none":
      return mode;
    default:
      throw new UsageError(`--progress ${mode}: expected auto, bar, ndjson or none`);
  }
}

function ndjson(p: ExploreProgress): string {
  return `${JSON.stringify({
    type: "progress",
    runs: p.runs,
    runsPerSec: Math.round(p.runsPerSec),
    states: p.states,
    frontier: p.frontier,
    pruned: p.pruned,
    failures: p.failures,
    elapsedMs: Math.round(p.elapsedMs),
  })}\n`;
}

/**
 * The bar's fields, most important first: on a narrow terminal the line keeps what fits (a field
 * is never cut in the middle).
 */
function barFields(p: ExploreProgress, failures: (s: string) => string): string[] {
  return [
    `runs ${p.runs}`,
    failures(`failures ${p.failures}`),
    `states ${p.states}`,
    `${(p.elapsedMs / 1000).toFixed(1)}s`,
    `${Math.round(p.runsPerSec)} runs/s`,
    `frontier ${p.frontier}`,
  ];
}

// eslint-disable-next-line no-control-regex
const visibleLength = (s: string) => s.replace(/\u001b\[[0-9;]*m/g, "").length;

/** The bar line for a width: spinner, then as many fields as fit in `columns - 1`. */
export function barLine(p: ExploreProgress, spin: string, columns: number, color: boolean): string {
  const red = color && p.failures > 0 ? createColors(true).red : String;
  const fields = barFields(p, red);
  let line = spin;
  for (const f of fields) {
    const next = `${line}${line === spin ? " " : " | "}${f}`;
    if (visibleLength(next) > Math.max(1, columns - 1)) {
      break;
    }
    line = next;
  }
  return line;
}

/** A progress writer for the mode, or undefined for `none`; `end()` finishes the bar's line. */
export function progressWriter(
  io: Io,
  mode: ProgressMode,
): { update: (p: ExploreProgress) => void; end: () => void } | undefined {
  if (mode === "none") {
    return undefined;
  }
  if (mode === "ndjson") {
    return { update: (p) => io.err(ndjson(p)), end: () => undefined };
  }
  const spin = ["|", "/", "-", "\\"];
  const color = useColor(io, "err");
  let i = 0;
  let drawn = false;
  return {
    update: (p) => {
      drawn = true;
      const s = spin[i++ % spin.length] ?? "";
      const spun = color ? createColors(true).cyan(s) : s;
      io.err(`\r\x1b[2K${barLine(p, spun, io.columns ?? 80, color)}`);
    },
    end: () => {
      if (drawn) {
        io.err("\n");
      }
    },
  };
}
