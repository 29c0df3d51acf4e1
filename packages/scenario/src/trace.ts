/**
 * Chrome trace-event JSON (the format Perfetto and chrome://tracing open): one track per thread,
 * device, cache and IOMMU.
 *
 * @module
 */
import type { RunReport } from "./run";

/** One Chrome trace event. */
export interface ChromeTraceEvent {
  readonly name: string;
  readonly cat: string;
  readonly ph: "i" | "M" | "X";
  /** Microseconds. */
  readonly ts: number;
  readonly pid: number;
  readonly tid: number;
  readonly s?: "t" | "p" | "g";
  readonly dur?: number;
  readonly args?: Readonly<Record<string, unknown>>;
}

/**
 * Convert a run's events and findings to Chrome trace JSON. Simulated time is used where it moves;
 * events at the same simulated time are spread by their sequence number so their order shows.
 *
 * **Kernel:** none (like `trace-cmd` output converted for Perfetto). **Locking:** none.
 */
export function toChromeTrace(r: RunReport): {
  traceEvents: ChromeTraceEvent[];
  displayTimeUnit: "ns";
} {
  const tracks = new Map<string, number>();
  const tid = (track: string): number => {
    let id = tracks.get(track);
    if (id === undefined) {
      id = tracks.size + 1;
      tracks.set(track, id);
    }
    return id;
  };
  const ts = (ns: number, seq: number) => ns / 1000 + seq / 1000;
  const events: ChromeTraceEvent[] = [];
  for (const e of r.events) {
    events.push({
      name: e.name,
      cat: e.cat,
      ph: "i",
      s: "t",
      ts: ts(e.ns, e.seq),
      pid: 1,
      tid: tid(e.track),
      args: { step: e.step, ...(e.args ?? {}) },
    });
  }
  for (const f of r.findings) {
    events.push({
      name: `${f.kind}: ${f.summary}`,
      cat: "finding",
      ph: "i",
      s: "g",
      ts: ts(f.ns, f.seq),
      pid: 1,
      tid: tid(f.thread),
      args: { step: f.step, code: f.code },
    });
  }
  const meta: ChromeTraceEvent[] = [
    {
      name: "process_name",
      cat: "__metadata",
      ph: "M",
      ts: 0,
      pid: 1,
      tid: 0,
      args: { name: `dmasim: ${r.scenario.name}` },
    },
    ...[...tracks.entries()].map(([name, id]): ChromeTraceEvent => ({
      name: "thread_name",
      cat: "__metadata",
      ph: "M",
      ts: 0,
      pid: 1,
      tid: id,
      args: { name },
    })),
  ];
  return { traceEvents: [...meta, ...events], displayTimeUnit: "ns" };
}
