import { describe, expect, it } from "vitest";
import { defaultRegistry, loadScenario, runScenario } from "../src/index";

const registry = defaultRegistry();
const run = (text: string, opts = {}) => runScenario(loadScenario(text, "t.yaml", registry), opts);

describe("dma-resv operations", () => {
  it("fences: signal, status, errors, timeouts on the simulated clock", async () => {
    const r = await run(`name: t
setup:
  - dma_fence_context_alloc: {}
    as: tl
  - dma_fence_init: tl
    as: f1
  - dma_fence_init: tl
    as: f2
steps:
  - dma_fence_get_status: f1
    expect: { value: 0 }
  - dma_fence_wait_timeout: { fence: f1, timeout_ms: 20 }
    expect: { value: 0 }
  - dma_fence_set_error: { fence: f1, errno: EIO }
  - dma_fence_signal: f1
    expect: { value: 0 }
  - dma_fence_signal: f1
    expect: { value: -22 }
  - dma_fence_get_status: f1
    expect: { value: -5 }
  - dma_fence_is_signaled: f2
    expect: { value: false }
expect:
  findings: none
`);
    expect(r.steps.filter((s) => s.expectation)).toEqual([]);
    expect(r.ok).toBe(true);
    expect(r.ns).toBeGreaterThanOrEqual(20_000_000);
  });

  it("a waiter in one thread is woken by a signal in another", async () => {
    const r = await run(`name: t
setup:
  - dma_fence_context_alloc: {}
    as: tl
  - dma_fence_init: tl
    as: f
  - dma_resv_init: {}
    as: obj
  - dma_resv_lock: obj
  - dma_resv_reserve_fences: { obj: obj, num: 1 }
  - dma_resv_add_fence: { obj: obj, fence: f, usage: WRITE }
  - dma_resv_unlock: obj
threads:
  reader:
    - dma_resv_test_signaled: { obj: obj, usage: READ }
      expect: { value: false }
    - dma_resv_wait_timeout: { obj: obj, usage: READ }
    - dma_resv_test_signaled: { obj: obj, usage: READ }
      expect: { value: true }
  gpu:
    - msleep: 5
    - dma_fence_signal: f
expect:
  findings: none
`);
    expect(r.ok).toBe(true);
  });

  it("reserve_fences(0) is EINVAL with the kernel's WARN; adding without a slot is a BUG", async () => {
    const r = await run(`name: t
setup:
  - dma_fence_context_alloc: {}
    as: tl
  - dma_fence_init: tl
    as: f
  - dma_resv_init: {}
    as: obj
steps:
  - dma_resv_lock: obj
  - dma_resv_reserve_fences: { obj: obj, num: 0 }
    expect: { errno: EINVAL, findings: warn }
  - dma_resv_add_fence: { obj: obj, fence: f, usage: READ }
    expect: { findings: bug }
expect:
  findings:
    - { kind: warn }
    - { kind: bug }
`);
    expect(r.aborted?.reason).toBe("bug");
    expect(r.ok).toBe(true);
  });

  it("sync_file: create, merge, poll, get the fence back, close", async () => {
    const r = await run(`name: t
setup:
  - dma_fence_context_alloc: {}
    as: tl
  - dma_fence_init: tl
    as: a
  - dma_fence_init: tl
    as: b
steps:
  - sync_file_create: a
    as: fa
  - sync_file_create: { fence: b, cloexec: true }
    as: fb
  - sync_file_merge: { fd: fa, fd2: fb }
    as: both
  - poll: both
    expect: { value: 0 }
  - dma_fence_signal: a
  - dma_fence_signal: b
  - poll: both
    expect: { value: 1 }
  - sync_file_get_fence: fa
    as: again
  - dma_fence_is_signaled: again
    expect: { value: true }
  - close: fa
  - close: fa
    expect: { errno: EBADF }
expect:
  findings: none
`);
    expect(r.steps.filter((s) => s.status !== "ok")).toEqual([]);
    expect(r.ok).toBe(true);
  });
});

describe("fence containers and DMA-API queries", () => {
  it("arrays signal when all members have, chains at their point, merges unwrap", async () => {
    const r = await run(`name: t
setup:
  - dma_fence_context_alloc: {}
    as: tl
  - dma_fence_init: tl
    as: a
  - dma_fence_init: tl
    as: b
steps:
  - dma_fence_array_create: { fences: [a, b] }
    as: all
  - dma_fence_array_create: { fences: [a, b], signal_on_any: true }
    as: any
  - dma_fence_chain_init: { fence: a, seqno: 1 }
    as: p1
  - dma_fence_chain_init: { prev: p1, fence: b, seqno: 2 }
    as: p2
  - dma_fence_unwrap_merge: { fences: [all, p2] }
    as: merged
  - dma_fence_enable_sw_signaling: all
  - dma_fence_enable_sw_signaling: any
  - dma_fence_signal: a
  - dma_fence_is_signaled: any
    expect: { value: true }
  - dma_fence_is_signaled: all
    expect: { value: false }
  - dma_fence_is_signaled: merged
    expect: { value: false }
  - dma_fence_signal: b
  - dma_fence_is_signaled: all
    expect: { value: true }
  - dma_fence_is_signaled: p2
    expect: { value: true }
  - dma_fence_is_signaled: merged
    expect: { value: true }
expect:
  findings: none
`);
    expect(r.steps.filter((s) => s.expectation || s.status !== "ok")).toEqual([]);
    expect(r.ok).toBe(true);
  });

  it("a 32-bit device on a machine with memory above 4 GiB is addressing-limited; 64-bit is not", async () => {
    const r = await run(`name: t
platform: arm64-soc
devices:
  - { name: d, dma_mask: 32 }
steps:
  - dma_addressing_limited: d
    expect: { value: true }
  - dma_max_mapping_size: d
    expect: { value: 262144 }
  - dma_set_mask_and_coherent: { device: d, bits: 64 }
  - dma_addressing_limited: d
    expect: { value: false }
expect:
  findings: none
`);
    expect(r.steps.filter((s) => s.expectation || s.status !== "ok")).toEqual([]);
    expect(r.ok).toBe(true);
  });
});
