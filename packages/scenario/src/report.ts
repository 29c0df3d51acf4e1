/**
 * Reports of a run: readable text for people (the steps, then each finding with its explanation)
 * and JSON for machines.
 *
 * @module
 */
import type { Finding, FindingLineEvent } from "@dmasim/kernel";
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

/** What would have prevented a finding, when the layer that reported it gave no hint of its own. */
const HINTS: Readonly<Record<string, string>> = {
  "stale-read":
    "hand the buffer to the reader with the maintenance its direction needs: dma_sync_*_for_cpu / unmap " +
    "(invalidate after the device wrote) before the CPU reads, dma_sync_*_for_device / map (clean) before a " +
    "device reads what the CPU wrote; with dma-buf, bracket CPU access with begin/end_cpu_access",
  "clobbered-write/write-back":
    "never write a buffer while a device owns it: dma_sync_*_for_cpu first, then write, then " +
    "dma_sync_*_for_device; keep DMA buffers cache-line aligned so no other data shares their lines",
  "clobbered-write/bounce-copy":
    "sync the bounce buffer in the right direction before the copy-back (dma_sync_*_for_cpu), and do not " +
    "map one buffer for several devices with DMA_ATTR_SKIP_CPU_SYNC when one of them bounces",
  "iommu-fault":
    "map the buffer for the device (with a direction that allows the access) before it touches it, and stop DMA before unmapping",
  "dma-range": "use the DMA API so the buffer is bounced or allocated within the device's DMA mask",
  deadlock: "take locks in one global order; back off (drop every lock) on -EDEADLK",
  "lockdep/circular-dependency": "take the locks in the same order everywhere",
  "lockdep/recursive-locking":
    "do not take a lock the thread already holds (or annotate a real nesting with a subclass)",
};

function hex(n: number): string {
  return `0x${n.toString(16)}`;
}

/** A line-history event as one readable line. */
function historyLine(e: FindingLineEvent): string {
  const at =
    e.addr !== undefined && e.addr !== e.pa
      ? `${hex(e.addr)} -> phys ${hex(e.pa)}`
      : `phys ${hex(e.pa)}`;
  return `step ${String(e.step).padStart(3)}  ${e.kind.padEnd(14)} ${e.agent.padEnd(12)} ${e.len} bytes at ${at}${e.note ? `  (${e.note})` : ""}`;
}

/** The history of the line a coherency finding is about (none for other kinds). */
function historyOf(f: Finding): readonly FindingLineEvent[] {
  return f.kind === "stale-read" || f.kind === "clobbered-write" ? f.details.history : [];
}

function findingText(f: Finding, i: number, c: Palette, unexpected: boolean): string {
  const head = `${c.bold(`[${i + 1}]`)} ${unexpected ? c.red(f.kind) : c.yellow(f.kind)} ${c.dim(`(${f.code})`)} at step ${f.step}, thread ${f.thread}: ${f.summary}`;
  const lines = [head];
  const { text, hint: raised } = f.details;
  if (text !== undefined && text !== f.summary) {
    lines.push(indent(text, "      "));
  }
  const history = historyOf(f);
  if (history.length > 0) {
    lines.push("      history of the line:");
    for (const h of history) {
      lines.push(`        ${historyLine(h)}`);
    }
  }
  const hint = raised ?? HINTS[`${f.kind}/${f.code}`] ?? HINTS[f.kind];
  if (hint) {
    lines.push(`      ${c.green("would have prevented it:")} ${hint}`);
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
    const detail = [
      s.text,
      s.status === "failed" ? s.error : undefined,
      s.expectation,
      s.note ? `# ${s.note}` : undefined,
    ]
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
      c.red(
        r.aborted.reason === "error"
          ? `run aborted by an error: ${r.aborted.message}`
          : `run aborted: ${r.aborted.reason === "bug" ? "the kernel hit a BUG" : "every thread is blocked"} (see the ${r.aborted.reason} finding)`,
      ),
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
      v instanceof Uint8Array ? hexOf(v) : typeof v === "bigint" ? v.toString() : v,
    ),
  );
}

function hexOf(b: Uint8Array): string {
  return Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
}
