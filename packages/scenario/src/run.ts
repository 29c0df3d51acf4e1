/**
 * Running a scenario: build the kernel, apply the sections, run the setup steps in init, run the
 * threads under the scheduler, then check every expectation.
 *
 * @module
 */
import {
  Kernel,
  KernelError,
  decodeReplayToken,
  encodeReplayToken,
  firstPolicy,
  isKernelBug,
  isKernelError,
  isReplayDiverged,
  isRunAborted,
  randomPolicy,
  replayPolicy,
  type ChoicePolicy,
  type Finding,
  type Process,
  type TraceEvent,
} from "@dmasim/kernel";
import { bytesSchema, hexSummary, toBytes } from "./bytes";
import type { FindingExpectation, Scenario, ScenarioStep } from "./load";
import { ObjectTable } from "./objects";
import type { OpContext, OpResult } from "./op";
import { defaultRegistry, type Registry } from "./registry";
import type { SectionUse } from "./section";

/** How to run. Each field overrides what the scenario says. */
export interface RunOptions {
  readonly kernel?: string;
  /** Run with the seeded random policy. */
  readonly seed?: number;
  /** Replay a token printed by an earlier run (or by `explore`). */
  readonly replay?: string;
  /** A policy object (for the explorer and tests); wins over seed and replay. */
  readonly policy?: ChoicePolicy;
  /** Record trace events (for `--trace`). */
  readonly trace?: boolean;
  /** Run on this platform preset instead of the scenario's (its overrides are kept). */
  readonly platform?: string;
  readonly registry?: Registry;
  /** Called with the run's kernel once it is built, before anything runs (the explorer's hook). */
  readonly observe?: (kernel: Kernel) => void;
  /**
   * Polled before every step and before the end-of-run checks: true stops the run there (every
   * thread runs no further step; the report then describes a partial run). The explorer stops a run
   * it has cut, whose outcome it does not count.
   */
  readonly stop?: () => boolean;
}

/** What happened to one step. */
export interface StepRecord {
  readonly id: number;
  readonly thread: string;
  readonly op: string;
  readonly label: string | undefined;
  readonly line: number;
  status: "ok" | "failed" | "not-run";
  /** The errno it failed with, if it did. */
  errno?: string;
  /** The error message, if it failed. */
  error?: string;
  /** The report line of its result. */
  text?: string;
  /** A failed step expectation, if any. */
  expectation?: string;
  /** The step's `note:` from the file. */
  note?: string;
}

/** One checked expectation. */
export interface ExpectationResult {
  readonly ok: boolean;
  readonly text: string;
}

/** The result of a run: everything a report needs. */
export interface RunReport {
  readonly scenario: { readonly name: string; readonly file: string; readonly description: string };
  readonly kernel: string;
  readonly policy: string;
  readonly ok: boolean;
  readonly steps: readonly StepRecord[];
  readonly findings: readonly Finding[];
  /** Findings no expectation allowed. */
  readonly unexpected: readonly Finding[];
  readonly expectations: readonly ExpectationResult[];
  readonly aborted: { readonly reason: string; readonly message: string } | undefined;
  readonly dmesg: string;
  /** Replays this exact run: `dmasim run --replay TOKEN FILE`. */
  readonly replay: string;
  readonly choices: number;
  readonly events: readonly TraceEvent[];
  /** Simulated time at the end (ns). */
  readonly ns: number;
}

function choosePolicy(scenario: Scenario, opts: RunOptions): ChoicePolicy {
  if (opts.policy) {
    return opts.policy;
  }
  if (opts.replay !== undefined) {
    return replayPolicy(decodeReplayToken(opts.replay));
  }
  const seed = opts.seed ?? scenario.seed;
  if (seed !== undefined || scenario.policy === "random") {
    return randomPolicy(seed ?? 1);
  }
  return firstPolicy();
}

/** The shortest a step lasts on a trace's timeline (ns of work time): one microsecond. */
const STEP_NS = 1000;

class Runner {
  readonly kernel: Kernel;
  readonly objects = new ObjectTable();
  readonly records = new Map<number, StepRecord>();
  private readonly processes = new Map<string, Process>();
  internalErrors: string[] = [];
  /** A replay token that does not fit this scenario (the run diverged from the recorded one). */
  replayError: unknown = undefined;

  private readonly stop: (() => boolean) | undefined;

  constructor(
    readonly scenario: Scenario,
    opts: RunOptions,
    readonly registry: Registry,
  ) {
    this.stop = opts.stop;
    this.kernel = new Kernel({
      version: opts.kernel ?? scenario.kernel ?? "latest",
      options: scenario.options,
      modules: registry.modules,
      policy: choosePolicy(scenario, opts),
      tracing: opts.trace ?? false,
    });
    for (const s of [...scenario.setup, ...scenario.threads.flatMap((t) => t.steps)]) {
      this.records.set(s.id, {
        id: s.id,
        thread: s.thread,
        op: s.op.name,
        label: s.label,
        line: s.line,
        status: "not-run",
        ...(s.note !== undefined ? { note: s.note } : {}),
      });
    }
    // what the runner keeps decides the rest of the run too: the state digest must see it
    this.kernel.addStateDigest("scenario", () => [
      [...this.records.values()].map((r) => [r.status, r.errno, r.expectation]),
      this.objects,
      this.processes,
      this.internalErrors.length,
    ]);
  }

  ctx(thread: string, step: ScenarioStep | undefined): OpContext {
    return {
      kernel: this.kernel,
      objects: this.objects,
      thread,
      stepId: step?.id ?? 0,
      as: step?.as,
      process: (name = "app") => {
        let p = this.processes.get(name);
        if (!p) {
          p = this.kernel.vfs.createProcess(name);
          this.processes.set(name, p);
        }
        return p;
      },
    };
  }

  /** Run one step (a span of at least a microsecond in a trace); false when the thread must stop. */
  async step(thread: string, step: ScenarioStep): Promise<boolean> {
    const name = `${step.id} ${step.op.name}`;
    this.kernel.step = step.id;
    this.kernel.traceBegin(thread, "step", name, { line: step.line });
    try {
      return await this.runStep(thread, step);
    } finally {
      this.kernel.traceEnd(thread, "step", name, STEP_NS);
    }
  }

  private async runStep(thread: string, step: ScenarioStep): Promise<boolean> {
    const rec = this.records.get(step.id) as StepRecord;
    let result: OpResult | void;
    const ctx = this.ctx(thread, step);
    try {
      result = await step.call.run(ctx);
      this.afterStep(ctx);
    } catch (e) {
      if (isReplayDiverged(e)) {
        this.replayError ??= e;
        throw e;
      }
      this.afterStep(ctx);
      if (isKernelError(e)) {
        rec.errno = e.code;
        rec.error = e.message;
        if (step.expect?.errno === e.code) {
          rec.status = "ok";
          rec.text = `failed as expected: ${e.message}`;
          return true;
        }
        rec.status = "failed";
        if (step.expect?.errno) {
          rec.expectation = `expected ${step.expect.errno}, got ${e.code}`;
        }
        return false;
      }
      rec.status = "failed";
      rec.error = e instanceof Error ? e.message : String(e);
      if (isKernelBug(e) && step.expect?.findings?.includes("bug")) {
        rec.status = "ok";
        rec.text = `BUG as expected: ${rec.error}`;
      }
      if (!isKernelBug(e) && !isRunAborted(e)) {
        this.internalErrors.push(`step ${step.id} (${step.op.name}): ${rec.error}`);
      }
      throw e;
    }
    rec.status = "ok";
    if (result?.text !== undefined) {
      rec.text = result.text;
    }
    if (step.as !== undefined && result?.object !== undefined && step.op.produces) {
      this.objects.set(step.as, step.op.produces, result.object);
    }
    this.checkStepExpect(step, rec, result?.value);
    // The call itself succeeded: a wrong value fails the expectation, not the thread, which goes on
    // (so that, say, the unmap after a stale read still runs). Only a failing call stops a thread.
    return true;
  }

  private afterStep(ctx: OpContext): void {
    for (const h of this.registry.hooks) {
      h.afterStep?.(ctx);
    }
  }

  private checkStepExpect(step: ScenarioStep, rec: StepRecord, value: unknown): void {
    const e = step.expect;
    if (!e) {
      return;
    }
    if (e.errno) {
      rec.expectation = `expected ${e.errno}, but the step succeeded`;
      return;
    }
    if (e.value !== undefined) {
      const mismatch = compareValue(value, e.value);
      if (mismatch) {
        rec.expectation = mismatch;
        rec.status = "failed";
      }
    }
    if (rec.text === undefined && value !== undefined) {
      rec.text = value instanceof Uint8Array ? hexSummary(value) : JSON.stringify(value);
    }
  }

  /** Whether the caller asked the run to stop. */
  stopped(): boolean {
    return this.stop?.() ?? false;
  }

  async runThread(name: string, steps: readonly ScenarioStep[]): Promise<void> {
    for (const s of steps) {
      if (this.stopped() || !(await this.step(name, s))) {
        return;
      }
    }
  }
}

function compareValue(got: unknown, want: unknown): string | undefined {
  if (got instanceof Uint8Array) {
    const spec = bytesSchema.safeParse(want);
    if (!spec.success) {
      return `expected value ${JSON.stringify(want)} is not a byte value`;
    }
    const bytes = toBytes(spec.data);
    const same = bytes.length === got.length && bytes.every((b, i) => got[i] === b);
    return same ? undefined : `expected ${hexSummary(bytes)}, read ${hexSummary(got)}`;
  }
  return Object.is(got, want)
    ? undefined
    : `expected ${JSON.stringify(want)}, got ${JSON.stringify(got)}`;
}

function matches(f: Finding, e: FindingExpectation, steps: readonly ScenarioStep[]): boolean {
  if (
    f.kind !== e.kind ||
    (e.code !== undefined && f.code !== e.code) ||
    (e.thread !== undefined && f.thread !== e.thread)
  ) {
    return false;
  }
  if (e.step === undefined) {
    return true;
  }
  const id = typeof e.step === "number" ? e.step : steps.find((s) => s.label === e.step)?.id;
  return f.step === id;
}

function describeExpectation(e: FindingExpectation): string {
  const parts: string[] = [e.kind];
  if (e.code) {
    parts.push(`code ${e.code}`);
  }
  if (e.step !== undefined) {
    parts.push(`at step ${e.step}`);
  }
  if (e.thread) {
    parts.push(`in ${e.thread}`);
  }
  if (e.count !== undefined) {
    parts.push(`x${e.count}`);
  }
  return parts.join(" ");
}

function evaluate(
  scenario: Scenario,
  runner: Runner,
): { expectations: ExpectationResult[]; unexpected: Finding[] } {
  const findings = runner.kernel.findings;
  const steps = [...scenario.setup, ...scenario.threads.flatMap((t) => t.steps)];
  const expected = new Set<Finding>();
  const results: ExpectationResult[] = [];
  for (const s of steps) {
    for (const kind of s.expect?.findings ?? []) {
      const hit = findings.filter((f) => f.kind === kind && f.step === s.id);
      hit.forEach((f) => expected.add(f));
      results.push({ ok: hit.length > 0, text: `step ${s.id} (${s.op.name}): a ${kind} finding` });
    }
    const rec = runner.records.get(s.id);
    if (s.expect?.errno || s.expect?.value !== undefined) {
      const what = s.expect.errno
        ? `fails with ${s.expect.errno}`
        : `value ${JSON.stringify(s.expect.value)}`;
      results.push({
        ok: rec?.status === "ok" && rec.expectation === undefined,
        text: `step ${s.id} (${s.op.name}): ${what}${rec?.expectation ? `: ${rec.expectation}` : ""}`,
      });
    }
  }
  const ef = scenario.expectFindings;
  if (Array.isArray(ef)) {
    for (const e of ef as readonly FindingExpectation[]) {
      const hit = findings.filter((f) => matches(f, e, steps));
      hit.forEach((f) => expected.add(f));
      const ok = e.count === undefined ? hit.length > 0 : hit.length === e.count;
      results.push({
        ok,
        text: `finding: ${describeExpectation(e)}${ok ? "" : ` (found ${hit.length})`}`,
      });
    }
  } else if (ef === "none") {
    results.push({ ok: findings.length === 0, text: "findings: none" });
  }
  return { expectations: results, unexpected: findings.filter((f) => !expected.has(f)) };
}

/** The scenario's sections, with a `--platform` override applied, in section order. */
function sectionsFor(
  scenario: Scenario,
  opts: RunOptions,
  registry: Registry,
): Scenario["sections"] {
  if (opts.platform === undefined) {
    return scenario.sections;
  }
  const def = registry.sections.get("platform");
  const old = scenario.sections.find((s) => s.def === def);
  const override = old ? old.override : def?.override;
  if (!def || !override) {
    throw new KernelError("EINVAL", "no layer defines platforms: --platform cannot apply");
  }
  let use: SectionUse;
  try {
    use = override(opts.platform);
  } catch {
    throw new KernelError("EINVAL", `unknown platform "${opts.platform}" (dmasim list platforms)`);
  }
  const rest = scenario.sections.filter((s) => s.def !== def);
  return [...rest, use].sort((a, b) => a.def.order - b.def.order);
}

/**
 * Run a validated scenario.
 *
 * **Kernel:** none (tools/testing: a test harness around the simulated kernel).
 *
 * **Locking:** none; the scenario's threads run under the kernel's deterministic scheduler.
 *
 * @throws {@link KernelError} `EINVAL` for an unknown `--kernel` version or a replay token that does
 * not fit the scenario
 */
export async function runScenario(scenario: Scenario, opts: RunOptions = {}): Promise<RunReport> {
  const registry = opts.registry ?? defaultRegistry();
  const runner = new Runner(scenario, opts, registry);
  const kernel = runner.kernel;
  opts.observe?.(kernel);
  let aborted: { reason: string; message: string } | undefined;
  const sections = sectionsFor(scenario, opts, registry);
  try {
    for (const section of sections) {
      await section.apply(runner.ctx("init", undefined));
    }
    await runner.runThread("init", scenario.setup);
    const tasks = scenario.threads.map((t) =>
      kernel.spawn(t.name, () => runner.runThread(t.name, t.steps)),
    );
    await kernel.sched.join(tasks);
    kernel.step = 0;
    for (const h of registry.hooks) {
      if (!runner.stopped()) {
        await h.atEnd?.(runner.ctx("init", undefined));
      }
    }
  } catch (e) {
    if (isRunAborted(e)) {
      aborted = { reason: e.reason, message: e.message };
    } else if (isKernelBug(e)) {
      aborted = { reason: "bug", message: e.message };
    } else if (isReplayDiverged(e)) {
      throw e;
    } else {
      aborted = { reason: "error", message: e instanceof Error ? e.message : String(e) };
      runner.internalErrors.push(aborted.message);
    }
  }
  if (runner.replayError !== undefined) {
    throw runner.replayError;
  }
  const { expectations, unexpected } = evaluate(scenario, runner);
  const steps = [...runner.records.values()].sort((a, b) => a.id - b.id);
  const stepsOk = steps.every((s) => s.status !== "failed");
  const abortExpected =
    aborted === undefined ||
    (aborted.reason !== "error" &&
      unexpected.every((f) => f.kind !== "deadlock" && f.kind !== "bug"));
  const ok =
    stepsOk &&
    expectations.every((e) => e.ok) &&
    unexpected.length === 0 &&
    abortExpected &&
    runner.internalErrors.length === 0;
  return {
    scenario: { name: scenario.name, file: scenario.file, description: scenario.description },
    kernel: kernel.version.name,
    policy: kernel.choice.policy.name,
    ok,
    steps,
    findings: [...kernel.findings],
    unexpected,
    expectations,
    aborted,
    dmesg: kernel.dmesg.format(),
    replay: encodeReplayToken(kernel.choice.sequence()),
    choices: kernel.choice.length,
    events: [...kernel.events],
    ns: kernel.clock.now(),
  };
}
