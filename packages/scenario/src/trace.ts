/**
 * Chrome trace-event JSON (the format Perfetto and chrome://tracing open): one track per thread,
 * device, cache, swiotlb, IOMMU and lock, on the run's timeline (ktime plus the work time charged
 * for steps, exporter callbacks, DMA transfers and cache maintenance: see the kernel's
 * `Clock.timeline`).
 *
 * What a reader sees: each step as a slice of at least a microsecond on its thread's track, the
 * exporter callbacks and fence waits nested in it; DMA transfers, bounce copies and cache
 * maintenance as slices on their device's or the cache's track; each lock's holds on a track of its
 * own; every finding as a marker; and a flow arrow from the write that left the data behind (a
 * device's DMA write, a CPU store) to the step whose read or write-back found it stale.
 *
 * @module
 */
import type { Finding, TraceEvent } from "@dmasim/kernel";
import type { RunReport } from "./run";

/** One Chrome trace event. */
export interface ChromeTraceEvent {
  readonly name: string;
  readonly cat: string;
  /** Instant, metadata, complete, begin, end, flow start, flow end. */
  readonly ph: "i" | "M" | "X" | "B" | "E" | "s" | "f";
  /** Microseconds. */
  readonly ts: number;
  readonly pid: number;
  readonly tid: number;
  readonly s?: "t" | "p" | "g";
  /** Microseconds (`X`). */
  readonly dur?: number;
  /** Flow id (`s`, `f`). */
  readonly id?: number;
  /** Flow end binding: the enclosing slice (`e`). */
  readonly bp?: "e";
  readonly args?: Readonly<Record<string, unknown>>;
}

/** A Chrome trace: its events, and the unit Perfetto shows times in. */
export interface ChromeTrace {
  readonly traceEvents: ChromeTraceEvent[];
  readonly displayTimeUnit: "ns";
}

const us = (ns: number) => ns / 1000;

/** Track ids in order of first use. */
class Tracks {
  readonly ids = new Map<string, number>();
  tid(track: string): number {
    let id = this.ids.get(track);
    if (id === undefined) {
      id = this.ids.size + 1;
      this.ids.set(track, id);
    }
    return id;
  }
}

const FENCE_WAIT = /^dma_fence_wait_(start|end) (.*)$/;
const LOCK = /^(mutex|ww_mutex)_(lock|unlock) (.*)$/;

/** A run's own events as Chrome events: spans and instants, fence waits as spans. */
function runEvents(events: readonly TraceEvent[], t: Tracks, out: ChromeTraceEvent[]): void {
  const open = new Map<number, number>();
  let last = 0;
  for (const e of events) {
    const tid = t.tid(e.track);
    const args = { step: e.step, ...(e.args ?? {}) };
    last = Math.max(last, e.ts + (e.dur ?? 0));
    const wait = e.ph === undefined ? FENCE_WAIT.exec(e.name) : null;
    if (wait) {
      const ph = wait[1] === "start" ? "B" : "E";
      out.push({
        name: `dma_fence_wait ${wait[2]}`,
        cat: e.cat,
        ph,
        ts: us(e.ts),
        pid: 1,
        tid,
        args,
      });
    } else if (e.ph === "X") {
      out.push({
        name: e.name,
        cat: e.cat,
        ph: "X",
        ts: us(e.ts),
        dur: us(e.dur ?? 0),
        pid: 1,
        tid,
        args,
      });
    } else if (e.ph === "B" || e.ph === "E") {
      out.push({ name: e.name, cat: e.cat, ph: e.ph, ts: us(e.ts), pid: 1, tid, args });
    } else {
      out.push({ name: e.name, cat: e.cat, ph: "i", s: "t", ts: us(e.ts), pid: 1, tid, args });
    }
    if (out.at(-1)?.ph === "B") {
      open.set(tid, (open.get(tid) ?? 0) + 1);
    } else if (out.at(-1)?.ph === "E") {
      open.set(tid, (open.get(tid) ?? 0) - 1);
    }
  }
  // a run cut short (a deadlock, a BUG) leaves spans open: end them where the trace ends
  for (const [tid, n] of open) {
    for (let i = 0; i < n; i++) {
      out.push({ name: "(run ended)", cat: "run", ph: "E", ts: us(last), pid: 1, tid });
    }
  }
}

/** Each lock's holds, from its lock and unlock events, as slices on a track of the lock's own. */
function lockHolds(events: readonly TraceEvent[], t: Tracks, out: ChromeTraceEvent[]): void {
  const held = new Map<string, TraceEvent>();
  const end = events.reduce((m, e) => Math.max(m, e.ts + (e.dur ?? 0)), 0);
  const hold = (lock: string, from: TraceEvent, to: number) =>
    out.push({
      name: `held by ${from.track}`,
      cat: "lock",
      ph: "X",
      ts: us(from.ts),
      dur: us(Math.max(0, to - from.ts)),
      pid: 1,
      tid: t.tid(`lock ${lock}`),
      args: { step: from.step, holder: from.track },
    });
  for (const e of events) {
    const m = e.cat === "lock" ? LOCK.exec(e.name) : null;
    if (!m) {
      continue;
    }
    const lock = m[3] as string;
    if (m[2] === "lock") {
      held.set(lock, e);
    } else {
      const from = held.get(lock);
      if (from) {
        hold(lock, from, e.ts);
        held.delete(lock);
      }
    }
  }
  for (const [lock, from] of held) {
    hold(lock, from, end);
  }
}

/** The last of `list` (sorted by seq) recorded before sequence number `seq`. */
function lastBefore(list: readonly TraceEvent[] | undefined, seq: number): TraceEvent | undefined {
  if (!list) {
    return undefined;
  }
  let lo = 0;
  let hi = list.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if ((list[mid] as TraceEvent).seq < seq) {
      lo = mid + 1;
    } else {
      hi = mid;
    }
  }
  return lo > 0 ? list[lo - 1] : undefined;
}

/** The run's events indexed for the flows: writes by agent and step, step slices by step. */
class EventIndex {
  private readonly writes = new Map<string, TraceEvent[]>();
  private readonly steps = new Map<number, TraceEvent[]>();

  constructor(readonly events: readonly TraceEvent[]) {
    for (const e of events) {
      if (e.cat === "step" && e.ph === "B") {
        this.push(this.steps, e.step, e);
      } else if (/write|fill|bounce/.test(e.name) && e.ph !== "B" && e.ph !== "E") {
        this.push(this.writes, `${e.track}\u0000${e.step}`, e);
      }
    }
  }

  private push<K>(map: Map<K, TraceEvent[]>, key: K, e: TraceEvent): void {
    const list = map.get(key);
    if (list) {
      list.push(e);
    } else {
      map.set(key, [e]);
    }
  }

  /**
   * Where a finding happened on the timeline: half a ns after the last event recorded before it, so
   * inside the slice that event opened (a span ends at least 1 ns after what happened inside it).
   */
  findingTs(f: Finding): number {
    return (lastBefore(this.events, f.seq)?.ts ?? 0) + 0.5;
  }

  /** The write a finding names as the last writer (`details.lastWriter`), if it was traced. */
  writer(f: Finding): TraceEvent | undefined {
    const w = f.details["lastWriter"] as { agent?: unknown; step?: unknown } | undefined;
    if (typeof w?.agent !== "string" || typeof w.step !== "number") {
      return undefined;
    }
    return lastBefore(this.writes.get(`${w.agent}\u0000${w.step}`), f.seq);
  }

  /** The track of the step slice that was open at event `e` (its thread's). */
  stepTrack(e: TraceEvent): string | undefined {
    return lastBefore(this.steps.get(e.step), e.seq + 1)?.track;
  }
}

/** Flow arrows from the write that left stale data behind to the step that met it. */
function flows(r: RunReport, x: EventIndex, t: Tracks, out: ChromeTraceEvent[]): void {
  let id = 0;
  for (const f of r.findings) {
    const w = x.writer(f);
    if (!w) {
      continue;
    }
    // a slice holds the arrow's tail: the transfer itself, or the step of a CPU's store
    const span = w.ph === "X";
    const from = span ? w.track : x.stepTrack(w);
    if (from === undefined) {
      continue;
    }
    id++;
    const name = `${f.kind}: written here`;
    const tail = span ? w.ts + (w.dur ?? 0) / 2 : w.ts;
    const args = { finding: f.summary };
    out.push({ name, cat: "flow", ph: "s", id, ts: us(tail), pid: 1, tid: t.tid(from), args });
    const head = us(x.findingTs(f));
    out.push({ name, cat: "flow", ph: "f", bp: "e", id, ts: head, pid: 1, tid: t.tid(f.thread) });
  }
}

/**
 * Convert a run's events and findings to Chrome trace JSON (Perfetto, chrome://tracing): spans for
 * steps, exporter callbacks, fence waits, DMA transfers, bounce copies, cache maintenance and lock
 * holds, instants for the rest, a marker per finding and flow arrows from stale data's writer to
 * its reader. Times are the run's timeline in microseconds (ns precision).
 *
 * **Kernel:** none (like `trace-cmd` output converted for Perfetto). **Locking:** none.
 */
export function toChromeTrace(r: RunReport): ChromeTrace {
  const t = new Tracks();
  const x = new EventIndex(r.events);
  const events: ChromeTraceEvent[] = [];
  runEvents(r.events, t, events);
  lockHolds(r.events, t, events);
  for (const f of r.findings) {
    events.push({
      name: `${f.kind}: ${f.summary}`,
      cat: "finding",
      ph: "i",
      s: "g",
      ts: us(x.findingTs(f)),
      pid: 1,
      tid: t.tid(f.thread),
      args: { step: f.step, code: f.code },
    });
  }
  flows(r, x, t, events);
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
    ...[...t.ids.entries()].flatMap(([name, id]): ChromeTraceEvent[] => [
      { name: "thread_name", cat: "__metadata", ph: "M", ts: 0, pid: 1, tid: id, args: { name } },
      {
        name: "thread_sort_index",
        cat: "__metadata",
        ph: "M",
        ts: 0,
        pid: 1,
        tid: id,
        args: { sort_index: id },
      },
    ]),
  ];
  return { traceEvents: [...meta, ...events], displayTimeUnit: "ns" };
}
