import { spinLockInit, type Kernel, type Spinlock } from "@dmasim/kernel";
import { dmaFenceInit, type DmaFence, type DmaFenceOps } from "../src/index";

/** The selftests' mock fence ops: only the two mandatory name callbacks. */
export const MOCK_OPS: DmaFenceOps = {
  getDriverName: () => "mock",
  getTimelineName: () => "mock",
};

/** A mock fence: its own spinlock (one lock class for all mocks), context 0, seqno 0. */
export function mockFence(k: Kernel, context = 0, seqno = 0, lock?: Spinlock): DmaFence {
  return dmaFenceInit(
    k,
    MOCK_OPS,
    lock ?? spinLockInit(k, "&f->lock", "mock_fence_lock"),
    context,
    seqno,
  );
}

/** Findings other than the expected kinds. */
export function unexpectedFindings(k: Kernel, allowed: readonly string[] = []): string[] {
  return k.findings
    .filter((f) => !allowed.includes(f.kind))
    .map((f) => `${f.kind}/${f.code}: ${f.summary}`);
}
