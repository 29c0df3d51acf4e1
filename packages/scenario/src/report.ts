/**
 * Reports of a run: readable text for people (the steps, then each finding with its explanation)
 * and JSON for machines.
 *
 * @module
 */
import type { Finding } from "@dmasim/kernel";
import type { RunReport } from "./run";

/** Colours for a terminal; identity functions otherwise. */
export interface Palette {
  red(s: string): string;
  green(s: string): string;
  yellow(s: string): string;
  dim(s: string): string;
  bold(s: string): string;
}

/** No colour. **Kernel:** none. */
export const PLAIN: Palette = {
  red: (s) => s,
  green: (s) => s,
  yellow: (s) => s,
  dim: (s) => s,
  bold: (s) => s,
};

function indent(text: string, by: string): string {
  return text
    .split("\n")
    .map((l) => (l ? by + l : l))
    .join("\n");
}

function findingText(f: Finding, i: number, c: Palette, unexpected: boolean): string {
  const head = `${c.bold(`[${i + 1}]`)} ${unexpected ? c.red(f.kind) : c.yellow(f.kind)} ${c.dim(`(${f.code})`)} at step ${f.step}, thread ${f.thread}: ${f.summary}`;
  const lines = [head];
  const d = f.details;
  if (typeof d.text === "string" && d.text !== f.summary) {
    lines.push(indent(d.text, "      "));
  }
  if (Array.isArray(d.history) && d.history.length > 0) {
    lines.push("      history of the line:");
    for (const h of d.history as unknown[]) {
      lines.push(`        ${typeof h === "string" ? h : JSON.stringify(h)}`);
    }
  }
  if (typeof d.hint === "string") {
    lines.push(`      ${c.green("would have prevented it:")} ${d.hint}`);
  }
  return lines.join("\n");
}

/**
 * The readable report: header, steps, findings with explanations, expectations, verdict, replay token.
 *
 * **Kernel:** none (like a kselftest's TAP output, but for people). **Locking:** none.
 */
export function formatReport(r: RunReport, c: Palette = PLAIN): string {
  const out: string[] = [];
  out.push(
    c.bold(`${r.scenario.name}`) +
      c.dim(`  (${r.scenario.file}; kernel ${r.kernel}; policy ${r.policy})`),
  );
  if (r.scenario.description) {
    out.push(indent(r.scenario.description.trim(), "  "));
  }
  out.push("", c.bold("steps"));
  const tw = Math.max(6, ...r.steps.map((s) => s.thread.length));
  const ow = Math.max(4, ...r.steps.map((s) => s.op.length));
  for (const s of r.steps) {
    const status =
      s.status === "ok"
        ? c.green("ok")
        : s.status === "failed"
          ? c.red("FAILED")
          : c.dim("not run");
    const detail = [s.text, s.status === "failed" ? s.error : undefined, s.expectation]
      .filter(Boolean)
      .join("; ");
    out.push(
      `  ${String(s.id).padStart(3)} ${s.thread.padEnd(tw)} ${s.op.padEnd(ow)} ${status}${detail ? `  ${c.dim(detail)}` : ""}`,
    );
  }
  out.push("", c.bold(`findings (${r.findings.length})`));
  if (r.findings.length === 0) {
    out.push("  none");
  }
  const unexpected = new Set(r.unexpected);
  r.findings.forEach((f, i) => out.push(indent(findingText(f, i, c, unexpected.has(f)), "  ")));
  if (r.expectations.length > 0) {
    out.push("", c.bold("expectations"));
    for (const e of r.expectations) {
      out.push(`  ${e.ok ? c.green("ok  ") : c.red("FAIL")} ${e.text}`);
    }
  }
  if (r.aborted) {
    out.push(
      "",
      c.red(`run aborted (${r.aborted.reason}): ${r.aborted.message.split("\n")[0] ?? ""}`),
    );
  }
  out.push("");
  const verdict = r.ok
    ? c.green("PASS")
    : c.red(
        `FAIL${r.unexpected.length ? ` (${r.unexpected.length} unexpected finding${r.unexpected.length > 1 ? "s" : ""})` : ""}`,
      );
  out.push(`${c.bold("result:")} ${verdict}`);
  out.push(c.dim(`replay: ${r.replay}  (${r.choices} choices)`));
  return out.join("\n") + "\n";
}

/**
 * The machine report: the {@link RunReport} as JSON-safe data (byte arrays as hex).
 *
 * **Kernel:** none. **Locking:** none.
 */
export function reportJson(r: RunReport): unknown {
  return JSON.parse(
    JSON.stringify(r, (_k, v: unknown) =>
      v instanceof Uint8Array ? Buffer_toHex(v) : typeof v === "bigint" ? v.toString() : v,
    ),
  );
}

function Buffer_toHex(b: Uint8Array): string {
  return Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
}
