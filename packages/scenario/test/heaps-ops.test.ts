import { describe, expect, it } from "vitest";
import { defaultRegistry, loadScenario, runScenario, type RunReport } from "../src/index";

const registry = defaultRegistry();
const run = (text: string, kernel?: string): Promise<RunReport> =>
  runScenario(loadScenario(text, "t.yaml", registry), kernel ? { kernel } : {});

const steps = (r: RunReport) =>
  r.steps.map((s) => `${s.op}:${s.status}${s.errno ? `:${s.errno}` : ""}`);

const head = (kernel: string, heaps = "true", options = "") => `name: t
kernel: "${kernel}"
${options}platform: { preset: arm64-soc, cache_policy: none }
devices:
  - { name: dev, dma_mask: 64 }
heaps: ${heaps}
`;

describe("the heaps section", () => {
  it("6.12: /dev/dma_heap/system and the CMA heap (reserved); no /dev/ion", async () => {
    const r = await run(`${head("6.12")}steps:
  - dma_heap_alloc: { heap: system, len: 4096 }
    as: a
  - dma_heap_alloc: { heap: reserved, len: "8K" }
    as: b
  - ion_alloc: { len: 4096, heap_id_mask: 1 }
    as: c
    expect: { errno: ENOENT }
  - close: a
  - close: b
expect:
  findings: none
`);
    expect(r.ok).toBe(true);
  });

  it("4.14: no dma-buf heaps yet (ENOENT), /dev/ion allocates", async () => {
    const r = await run(`${head("4.14")}steps:
  - dma_heap_alloc: { heap: system, len: 4096 }
    as: a
    expect: { errno: ENOENT }
  - ion_alloc: { len: 4096, heap_id_mask: 1, flags: [ION_FLAG_CACHED] }
    as: c
  - close: c
expect:
  findings: none
`);
    expect(r.ok).toBe(true);
  });

  it("{ ion: false } leaves /dev/ion out on an ION kernel; { dma_heaps: false } the heaps", async () => {
    const r = await run(`${head("5.10", "{ ion: false }")}steps:
  - ion_alloc: { len: 4096, heap_id_mask: 1 }
    as: c
    expect: { errno: ENOENT }
  - dma_heap_alloc: { heap: system, len: 4096 }
    as: a
  - close: a
expect:
  findings: none
`);
    expect(r.ok).toBe(true);
    const r2 = await run(`${head("5.10", "{ dma_heaps: false, ion_carveout_size: 4M }")}steps:
  - dma_heap_alloc: { heap: system, len: 4096 }
    as: a
    expect: { errno: ENOENT }
  - ion_alloc: { len: 4096, heap_id_mask: 4 }
    as: c
    note: ids system 0, system-contig 1, carveout 2
  - close: c
expect:
  findings: none
`);
    expect(r2.ok).toBe(true);
  });

  it("Android 6.12 adds system-uncached", async () => {
    const r = await run(`${head("6.12", "true", "options: { CONFIG_ANDROID: true }\n")}steps:
  - dma_heap_alloc: { heap: system-uncached, len: 4096 }
    as: a
  - close: a
expect:
  findings: none
`);
    expect(r.ok).toBe(true);
    const plain = await run(`${head("6.12")}steps:
  - dma_heap_alloc: { heap: system-uncached, len: 4096 }
    as: a
`);
    expect(steps(plain)).toEqual(["dma_heap_alloc:failed:ENOENT"]);
  });

  it("rejects a bad section value, and needs a platform", async () => {
    const one = "steps:\n  - msleep: 1\n";
    expect(() => loadScenario(`name: t\nheaps: { ion: 1 }\n${one}`, "t.yaml", registry)).toThrow(
      /heaps\.ion/,
    );
    const r = await run(`name: t\nheaps: true\n${one}`);
    expect(r.ok).toBe(false);
    expect(r.aborted?.message).toMatch(/platform/);
  });
});

describe("dma_heap_alloc", () => {
  it("errors in the kernel's order: unknown heap ENOENT (open), bad fd_flags, heap_flags and len EINVAL", async () => {
    const r = await run(`${head("6.12")}steps:
  - dma_heap_alloc: { heap: nosuch, len: 4096 }
    as: a
    expect: { errno: ENOENT }
  - dma_heap_alloc: { heap: system, len: 4096, fd_flags: [O_RDWR, O_NONBLOCK] }
    as: b
    expect: { errno: EINVAL }
  - dma_heap_alloc: { heap: system, len: 4096, heap_flags: 1 }
    as: c
    expect: { errno: EINVAL }
  - dma_heap_alloc: { heap: system, len: 0 }
    as: d
    expect: { errno: EINVAL }
expect:
  findings: none
`);
    expect(r.ok).toBe(true);
    expect(steps(r)).toEqual([
      "dma_heap_alloc:ok:ENOENT",
      "dma_heap_alloc:ok:EINVAL",
      "dma_heap_alloc:ok:EINVAL",
      "dma_heap_alloc:ok:EINVAL",
    ]);
  });

  it("an O_RDONLY buffer cannot be mapped writable (EACCES); the fd works with the dma-buf operations", async () => {
    const r = await run(`${head("6.12")}steps:
  - dma_heap_alloc: { heap: system, len: 4096, fd_flags: [O_RDONLY, O_CLOEXEC] }
    as: ro
  - dma_buf_mmap: { fd: ro, write: true }
    as: v
    expect: { errno: EACCES }
  - dma_heap_alloc: { heap: system, len: 4096, fd_flags: 2 }
    as: rw
  - dma_buf_mmap: { fd: rw, write: true }
    as: view
  - dma_buf_ioctl_sync: { fd: rw, access: WRITE }
  - cpu_write: { mapping: view, data: "ab cd" }
  - dma_buf_ioctl_sync: { fd: rw, access: WRITE, end: true }
  - dma_buf_get: rw
    as: buf
  - dma_buf_attach: { buf: buf, device: dev }
    as: at
  - dma_buf_map_attachment_unlocked: { attachment: at, dir: DMA_TO_DEVICE }
    as: map
  - device_read: { device: dev, dma: map, len: 2 }
    expect: { value: "ab cd" }
  - dma_buf_unmap_attachment_unlocked: map
  - dma_buf_detach: at
  - dma_buf_put: buf
  - munmap: view
  - close: rw
  - close: ro
expect:
  findings: none
`);
    expect(r.ok).toBe(true);
  });
});

describe("ion_alloc", () => {
  it("ENODEV for a mask with no heap, EINVAL for len 0; ENOENT on 6.12 (ION removed in 5.11)", async () => {
    const r = await run(`${head("5.4")}steps:
  - ion_alloc: { len: 4096, heap_id_mask: 0 }
    as: a
    expect: { errno: ENODEV }
  - ion_alloc: { len: 0, heap_id_mask: 1 }
    as: b
    expect: { errno: EINVAL }
expect:
  findings: none
`);
    expect(r.ok).toBe(true);
    const gone = await run(`${head("6.12")}steps:
  - ion_alloc: { len: 4096, heap_id_mask: 1 }
    as: a
`);
    expect(steps(gone)).toEqual(["ion_alloc:failed:ENOENT"]);
  });

  it("uncached by default: the user mapping is write-combine; ION_FLAG_CACHED maps cacheable", async () => {
    const r = await run(`${head("4.14")}steps:
  - ion_alloc: { len: 4096, heap_id_mask: 1 }
    as: wc
  - dma_buf_mmap: { fd: wc, write: true }
    as: v1
  - ion_alloc: { len: 4096, heap_id_mask: 1, flags: 1 }
    as: cached
  - dma_buf_mmap: { fd: cached, write: true }
    as: v2
  - munmap: v1
  - munmap: v2
  - close: wc
  - close: cached
expect:
  findings: none
`);
    expect(r.ok).toBe(true);
  });
});

describe("page_address and dma_buf_vmap", () => {
  it("the linear alias of a heap buffer shares the (PIPT) lines of its user mapping", async () => {
    const r = await run(`${head("6.12")}steps:
  - dma_heap_alloc: { heap: system, len: 8192 }
    as: fd
  - dma_buf_get: fd
    as: buf
  - page_address: buf
    as: lin
  - dma_buf_mmap: { fd: fd, write: true }
    as: view
  - cpu_write: { mapping: view, offset: 4096, data: "5a" }
  - cpu_read: { mapping: lin, offset: 4096, len: 1 }
    expect: { value: "5a" }
  - munmap: view
  - dma_buf_put: buf
  - close: fd
expect:
  findings: none
`);
    expect(r.ok).toBe(true);
  });

  it("page_address refuses a buffer that is not from a heap", async () => {
    const r = await run(`${head("6.12")}setup:
  - memfd_create: { size: 4096, allow_sealing: true }
    as: mfd
  - memfd_add_seals: { fd: mfd, seals: [SHRINK] }
  - udmabuf_create: { memfd: mfd, size: 4096 }
    as: u
  - dma_buf_get: u
    as: buf
steps:
  - page_address: buf
    as: lin
    expect: { errno: EINVAL }
  - dma_buf_put: buf
  - close: u
  - close: mfd
expect:
  findings: none
`);
    expect(r.ok).toBe(true);
  });

  it("vmap/vunmap: _unlocked from 6.2 (ENOSYS before), the locked call under dma_resv_lock; a second vunmap is EINVAL", async () => {
    const r = await run(`${head("6.12")}steps:
  - dma_heap_alloc: { heap: system, len: 4096 }
    as: fd
  - dma_buf_get: fd
    as: buf
  - dma_buf_vmap_unlocked: buf
    as: kva
  - cpu_write: { mapping: kva, data: "11 22" }
  - dma_buf_vunmap_unlocked: kva
  - dma_buf_vunmap_unlocked: kva
    expect: { errno: EINVAL }
  - dma_buf_resv: buf
    as: resv
  - dma_resv_lock: resv
  - dma_buf_vmap: buf
    as: kva2
  - cpu_read: { mapping: kva2, len: 2 }
    expect: { value: "11 22" }
  - dma_buf_vunmap: kva2
  - dma_resv_unlock: resv
  - dma_buf_put: buf
  - close: fd
expect:
  findings: none
`);
    expect(r.ok).toBe(true);
    const old = await run(`${head("5.10")}steps:
  - dma_heap_alloc: { heap: system, len: 4096 }
    as: fd
  - dma_buf_get: fd
    as: buf
  - dma_buf_vmap_unlocked: buf
    as: kva
`);
    expect(steps(old).at(-1)).toBe("dma_buf_vmap_unlocked:failed:ENOSYS");
  });

  it("a vmap left at the end is a leak", async () => {
    const r = await run(`${head("5.10")}steps:
  - dma_heap_alloc: { heap: system, len: 4096 }
    as: fd
  - dma_buf_get: fd
    as: buf
  - dma_buf_vmap: buf
    as: kva
expect:
  findings: [{ kind: leak, code: dma-buf-vmap-leak }, { kind: leak, code: dma-buf-leak }]
`);
    expect(r.unexpected.map((f) => f.code)).toEqual([]);
    expect(r.ok).toBe(true);
  });
});

describe("dma_buf_dynamic_attach", () => {
  it("6.12: a static exporter is mapped BIDIRECTIONAL at attach and serves every direction; 6.16 maps on demand", async () => {
    const text = `${head("6.12")}setup:
  - memfd_create: { size: 4096, allow_sealing: true }
    as: mfd
  - memfd_add_seals: { fd: mfd, seals: [SHRINK] }
  - udmabuf_create: { memfd: mfd, size: 4096 }
    as: u
  - dma_buf_get: u
    as: buf
  - dma_buf_resv: buf
    as: resv
steps:
  - dma_buf_dynamic_attach: { buf: buf, device: dev }
    as: at
  - dma_resv_lock: resv
  - dma_buf_map_attachment: { attachment: at, dir: DMA_TO_DEVICE }
    as: m1
  - dma_buf_unmap_attachment: m1
  - dma_buf_map_attachment: { attachment: at, dir: DMA_FROM_DEVICE }
    as: m2
  - dma_buf_unmap_attachment: m2
  - dma_resv_unlock: resv
  - dma_buf_detach: at
  - dma_buf_put: buf
  - close: u
  - close: mfd
expect:
  findings: none
`;
    const r = await run(text);
    expect(r.ok).toBe(true);
    expect(r.steps.find((s) => s.op === "dma_buf_dynamic_attach")?.text).toBe(
      "mapped at attach (cached)",
    );
    const r15 = await run(text, "6.16");
    expect(r15.ok).toBe(true);
    expect(r15.steps.find((s) => s.op === "dma_buf_dynamic_attach")?.text).toBe("not mapped");
    const r54 = await run(text, "5.4");
    expect(steps(r54)).toContain("dma_buf_dynamic_attach:failed:ENOSYS");
  });
});

describe("dma-buf ioctls and dynamic-importer calls in scenarios", () => {
  it("pin/unpin under the lock, move_notify, SET_NAME, and sync_file export/import", async () => {
    const r = await runScenario(
      loadScenario(
        `name: t
kernel: "6.12"
platform: arm64-soc
heaps: true
devices:
  - { name: gpu, dma_mask: 64 }
setup:
  - dma_fence_context_alloc: {}
    as: tl
  - dma_fence_init: tl
    as: job
  - sync_file_create: job
    as: job_fd
steps:
  - dma_heap_alloc: { heap: system, len: 4096 }
    as: fd
  - dma_buf_get: fd
    as: buf
  - dma_buf_dynamic_attach: { buf: buf, device: gpu }
    as: att
  - dma_buf_resv: buf
    as: resv
  - dma_resv_lock: resv
  - dma_buf_pin: att
  - dma_buf_unpin: att
  - dma_buf_move_notify: buf
  - dma_resv_unlock: resv
  - dma_buf_pin: att
    expect: { findings: lockdep }
    note: without the reservation lock, as 6.2+ requires
  - dma_buf_set_name: { fd: fd, name: frames }
  - dma_buf_import_sync_file: { fd: fd, sync_file: job_fd, access: WRITE }
  - dma_buf_export_sync_file: { fd: fd, access: READ }
    as: wait_fd
  - poll: wait_fd
    expect: { value: 0 }
  - dma_fence_signal: job
  - poll: wait_fd
    expect: { value: 1 }
  - dma_resv_lock: resv
  - dma_buf_unpin: att
    note: the unlocked pin above still took a pin
  - dma_resv_unlock: resv
  - close: wait_fd
  - close: job_fd
  - dma_buf_detach: att
  - dma_buf_put: buf
  - close: fd
expect:
  findings:
    - { kind: lockdep }
`,
        "t.yaml",
        registry,
      ),
    );
    expect(r.steps.filter((s) => s.status !== "ok" || s.expectation)).toEqual([]);
    expect(r.findings.map((f) => [f.kind, f.code])).toEqual([["lockdep", "assert-held"]]);
    expect(r.ok).toBe(true);
  });
});

describe("introspection steps", () => {
  it("fdinfo, bufinfo and llseek on a heap buffer; invalidate_mappings on latest only", async () => {
    const text = (kernel: string) => `name: t
kernel: "${kernel}"
platform: arm64-soc
heaps: true
steps:
  - dma_heap_alloc: { heap: system, len: 8192 }
    as: fd
  - llseek: { fd: fd, offset: 0, whence: SEEK_END }
    expect: { value: 8192 }
  - llseek: { fd: fd, offset: 0, whence: SEEK_SET }
    expect: { value: 0 }
  - fdinfo: fd
    label: info
  - dma_buf_bufinfo: {}
    label: bufinfo
  - dma_buf_get: fd
    as: buf
  - dma_buf_invalidate_mappings: buf
  - dma_buf_put: buf
  - close: fd
`;
    const r = await runScenario(loadScenario(text("latest"), "t.yaml", registry), { trace: false });
    expect(r.steps.filter((s) => s.status !== "ok" || s.expectation)).toEqual([]);
    const info = r.steps.find((s) => s.label === "info")?.text ?? "";
    expect(info).toMatch(/size:\s+8192/);
    expect(info).toMatch(/exp_name:\s+system/);
    expect(r.steps.find((s) => s.label === "bufinfo")?.text).toMatch(/\d+ lines/);
    const old = await runScenario(loadScenario(text("6.12"), "t.yaml", registry));
    expect(old.steps.find((s) => s.op === "dma_buf_invalidate_mappings")?.errno).toBeDefined();
  });
});
