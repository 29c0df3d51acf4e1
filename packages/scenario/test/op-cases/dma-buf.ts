/**
 * Cases of the @dmasim/dma-buf and @dmasim/heaps operations, on a system-heap buffer (a static
 * exporter) or a GPU BO (a dynamic one). `cam` is not coherent: a missing CPU-access bracket or
 * sync leaves someone reading stale bytes; a reference, attachment, mapping or vmap left behind is a
 * leak at the end of the run.
 */
import { DMA_RESV_USAGE_BOOKKEEP, dmaResvGetFences } from "@dmasim/dma-resv";
import { refcountRead } from "@dmasim/kernel";
import { expect } from "vitest";
import { NO_FINDINGS, ARM64, T, probe, type OpCase } from "./harness";

/** A system-heap buffer: fd `fd` (8 KiB) and a reference `buf`. */
const HEAP = `${ARM64}heaps: true
setup:
  - dma_heap_alloc: { heap: system, len: 8192 }
    as: fd
  - dma_buf_get: fd
    as: buf
`;
const RELEASE = `  - dma_buf_put: buf
  - close: fd
${NO_FINDINGS}`;
/** HEAP, attached to `cam` (`at`), the kernel mapping `kva` (its lines cached, as the zeroing left them). */
const ATTACHED = `${HEAP}  - dma_buf_attach: { buf: buf, device: cam }
    as: at
  - dma_buf_vmap_unlocked: buf
    as: kva
  - cpu_read: { mapping: kva, len: 1 }
`;
const DETACH = `  - dma_buf_vunmap_unlocked: kva
  - dma_buf_detach: at
${RELEASE}`;
/** A GPU BO `bo` in VRAM, exported as `shared`, dynamically attached by `cam` (`at`). */
const GPU_EXPORT = `${ARM64}setup:
  - gpu_probe: { device: gpu, vram_pages: 4 }
    as: g
  - gpu_bo_create: { gpu: g, size: 4096, placement: vram }
    as: bo
  - gpu_bo_export: bo
    as: shared
  - dma_buf_resv: shared
    as: resv
  - dma_buf_dynamic_attach: { buf: shared, device: cam }
    as: at
`;
const GPU_RELEASE = `  - dma_buf_detach: at
  - dma_buf_put: shared
  - gpu_bo_put: bo
`;
/** A GPU importing the heap buffer (a dynamic importer whose move_notify invalidates its mapping). */
const GPU_IMPORT = `${HEAP}  - gpu_probe: gpu
    as: g
  - gpu_import: { gpu: g, buf: buf }
    as: imp
  - dma_buf_resv: buf
    as: resv
`;
/** The bufinfo of HEAP attached to cam, as a YAML string. */
const BUFINFO = String.raw`"\nDma-buf Objects:\nsize    \tflags   \tmode    \tcount   \texp_name\tino     \tname\n00008192\t00000002\t00080007\t00000002\tsystem\t00000001\t<none>\n\tAttached Devices:\n\tcam\nTotal 1 devices attached\n\n\nTotal 1 objects, 8192 bytes\n"`;

const notified = probe({ imp: T.ref("gpu_import") }, ({ imp }) => {
  expect(imp.notified).toBe(1);
  expect(imp.invalid).toBe(true);
});

/** `op` attaches cam to the heap buffer, as a dynamic importer (with importer ops) or not. */
function attachCase(op: string, dynamic: boolean): OpCase {
  return {
    yaml: `${HEAP}steps:
  - ${op}: { buf: buf, device: cam }
    as: at
  - probe: { buf: buf, at: at }
  - dma_buf_detach: at
${RELEASE}`,
    probe: probe({ buf: T.ref("dma_buf"), at: T.ref("dma_buf_attachment") }, ({ buf, at }) => {
      expect(buf.attachments).toEqual([at]);
      expect(at.dev.name).toBe("cam");
      expect(at.importerOps !== null).toBe(dynamic);
    }),
  };
}

export const DMA_BUF_CASES: Readonly<Record<string, OpCase>> = {
  dma_buf_fd: {
    // the fd takes over the reference dma_buf_get took: closing both fds frees the buffer
    yaml: `${HEAP}steps:
  - dma_buf_fd: buf
    as: fd2
  - probe: { fd: fd2, buf: buf }
  - close: fd2
  - close: fd
${NO_FINDINGS}`,
    probe: probe({ fd: T.ref("fd"), buf: T.ref("dma_buf") }, ({ fd, buf }) => {
      expect(fd.process.peek(fd.fd)).toBe(buf.file);
    }),
  },
  dma_buf_get: {
    yaml: `${HEAP}steps:
  - probe: { buf: buf }
${RELEASE}`,
    probe: probe({ buf: T.ref("dma_buf") }, ({ buf }) => {
      expect(buf.size).toBe(8192);
      expect(refcountRead(buf.file!.fCount)).toBe(2); // the fd's and ours
    }),
  },
  dma_buf_put: {
    yaml: `${HEAP}steps:
  - dma_buf_put: buf
  - probe: { buf: buf }
  - close: fd
${NO_FINDINGS}`,
    probe: probe({ buf: T.ref("dma_buf") }, ({ buf }) => {
      expect(refcountRead(buf.file!.fCount)).toBe(1);
    }),
  },
  dma_buf_attach: attachCase("dma_buf_attach", false),
  dma_buf_dynamic_attach: attachCase("dma_buf_dynamic_attach", true),
  dma_buf_detach: {
    yaml: `${HEAP}steps:
  - dma_buf_attach: { buf: buf, device: cam }
    as: at
  - dma_buf_detach: at
  - probe: { buf: buf, at: at }
${RELEASE}`,
    probe: probe({ buf: T.ref("dma_buf"), at: T.ref("dma_buf_attachment") }, ({ buf, at }) => {
      expect(buf.attachments).toEqual([]);
      expect(at.detached).toBe(true);
    }),
  },
  dma_buf_map_attachment: {
    // 6.2+: under the reservation lock; the device writes through the mapping
    yaml: `${ATTACHED}  - dma_buf_resv: buf
    as: resv
steps:
  - dma_resv_lock: resv
  - dma_buf_map_attachment: { attachment: at, dir: DMA_FROM_DEVICE }
    as: map
  - dma_resv_unlock: resv
  - probe: { m: map }
  - device_write: { device: cam, dma: map, offset: 4096, data: "4d" }
  - dma_resv_lock: resv
  - dma_buf_unmap_attachment: map
  - dma_resv_unlock: resv
  - dma_buf_begin_cpu_access: { buf: buf, dir: DMA_FROM_DEVICE }
  - cpu_read: { mapping: kva, offset: 4096, len: 1 }
    expect: { value: "4d" }
  - dma_buf_end_cpu_access: { buf: buf, dir: DMA_FROM_DEVICE }
${DETACH}`,
    probe: probe({ m: T.ref("sg_mapping") }, ({ m }) => {
      expect(m.sgt.nents).toBeGreaterThan(0);
      expect(m.dev.name).toBe("cam");
    }),
  },
  dma_buf_map_attachment_unlocked: {
    yaml: `${ATTACHED}steps:
  - dma_buf_map_attachment_unlocked: { attachment: at, dir: DMA_FROM_DEVICE }
    as: map
  - device_write: { device: cam, dma: map, offset: 8000, data: "4e" }
  - dma_buf_unmap_attachment_unlocked: map
  - dma_buf_begin_cpu_access: { buf: buf, dir: DMA_FROM_DEVICE }
  - cpu_read: { mapping: kva, offset: 8000, len: 1 }
    expect: { value: "4e" }
  - dma_buf_end_cpu_access: { buf: buf, dir: DMA_FROM_DEVICE }
${DETACH}`,
  },
  dma_buf_unmap_attachment: {
    yaml: `${ATTACHED}  - dma_buf_resv: buf
    as: resv
steps:
  - dma_resv_lock: resv
  - dma_buf_map_attachment: { attachment: at, dir: DMA_TO_DEVICE }
    as: map
  - dma_buf_unmap_attachment: map
  - dma_resv_unlock: resv
  - probe: { m: map }
  - dma_buf_unmap_attachment_unlocked: map
    expect: { errno: EINVAL }
${DETACH}`,
    probe: probe({ m: T.ref("sg_mapping") }, ({ m }) => expect(m.unmapped).toBe(true)),
  },
  dma_buf_unmap_attachment_unlocked: {
    // an unmap that did nothing would leave a mapping leak at the end
    yaml: `${ATTACHED}steps:
  - dma_buf_map_attachment_unlocked: { attachment: at, dir: DMA_TO_DEVICE }
    as: map
  - dma_buf_unmap_attachment_unlocked: map
  - probe: { m: map }
${DETACH}`,
    probe: probe({ m: T.ref("sg_mapping") }, ({ m }) => expect(m.unmapped).toBe(true)),
  },
  dma_buf_begin_cpu_access: {
    // the heap syncs the mapping for the CPU (invalidate) before the CPU reads the device's bytes
    yaml: `${ATTACHED}steps:
  - dma_buf_map_attachment_unlocked: { attachment: at, dir: DMA_FROM_DEVICE }
    as: map
  - device_write: { device: cam, dma: map, data: "b0" }
  - dma_buf_begin_cpu_access: { buf: buf, dir: DMA_FROM_DEVICE }
  - cpu_read: { mapping: kva, len: 1 }
    expect: { value: "b0" }
  - dma_buf_end_cpu_access: { buf: buf, dir: DMA_FROM_DEVICE }
  - dma_buf_unmap_attachment_unlocked: map
${DETACH}`,
  },
  dma_buf_end_cpu_access: {
    // the heap syncs the mapping for the device (clean) after the CPU wrote
    yaml: `${ATTACHED}steps:
  - dma_buf_map_attachment_unlocked: { attachment: at, dir: DMA_TO_DEVICE }
    as: map
  - dma_buf_begin_cpu_access: { buf: buf, dir: DMA_TO_DEVICE }
  - cpu_write: { mapping: kva, data: "e0" }
  - dma_buf_end_cpu_access: { buf: buf, dir: DMA_TO_DEVICE }
  - device_read: { device: cam, dma: map, len: 1 }
    expect: { value: "e0" }
  - dma_buf_unmap_attachment_unlocked: map
${DETACH}`,
  },
  dma_buf_vmap: {
    yaml: `${HEAP}  - dma_buf_resv: buf
    as: resv
steps:
  - dma_resv_lock: resv
  - dma_buf_vmap: buf
    as: kva
  - probe: { m: kva, buf: buf }
  - cpu_write: { mapping: kva, offset: 4096, data: "77" }
  - page_address: buf
    as: lin
  - cpu_read: { mapping: lin, offset: 4096, len: 1 }
    expect: { value: "77" }
  - dma_buf_vunmap: kva
  - dma_resv_unlock: resv
${RELEASE}`,
    probe: probe({ m: T.ref("mapping"), buf: T.ref("dma_buf") }, ({ m, buf }) => {
      expect(m).toMatchObject({ kind: "vmap", size: 8192 });
      expect(buf.vmappingCounter).toBe(1);
    }),
  },
  dma_buf_vmap_unlocked: {
    yaml: `${HEAP}steps:
  - dma_buf_vmap_unlocked: buf
    as: kva
  - probe: { buf: buf }
  - cpu_write: { mapping: kva, data: "78" }
  - page_address: buf
    as: lin
  - cpu_read: { mapping: lin, len: 1 }
    expect: { value: "78" }
  - dma_buf_vunmap_unlocked: kva
${RELEASE}`,
    probe: probe({ buf: T.ref("dma_buf") }, ({ buf }) => expect(buf.vmappingCounter).toBe(1)),
  },
  dma_buf_vunmap: {
    // a vunmap that did nothing would leave a vmap leak at the end
    yaml: `${HEAP}  - dma_buf_resv: buf
    as: resv
steps:
  - dma_resv_lock: resv
  - dma_buf_vmap: buf
    as: kva
  - dma_buf_vunmap: kva
  - dma_resv_unlock: resv
  - probe: { buf: buf }
${RELEASE}`,
    probe: probe({ buf: T.ref("dma_buf") }, ({ buf }) => expect(buf.vmappingCounter).toBe(0)),
  },
  dma_buf_vunmap_unlocked: {
    yaml: `${HEAP}steps:
  - dma_buf_vmap_unlocked: buf
    as: kva
  - dma_buf_vunmap_unlocked: kva
  - probe: { buf: buf }
  - dma_buf_vunmap_unlocked: kva
    expect: { errno: EINVAL }
${RELEASE}`,
    probe: probe({ buf: T.ref("dma_buf") }, ({ buf }) => expect(buf.vmappingCounter).toBe(0)),
  },
  dma_buf_mmap: {
    yaml: `${HEAP}steps:
  - dma_buf_mmap: { fd: fd, write: true }
    as: view
  - probe: { m: view }
  - cpu_write: { mapping: view, offset: 100, data: "aa" }
  - page_address: buf
    as: lin
  - cpu_read: { mapping: lin, offset: 100, len: 1 }
    expect: { value: "aa" }
  - munmap: view
${RELEASE}`,
    probe: probe({ m: T.ref("mapping") }, ({ m }) => {
      expect(m).toMatchObject({ kind: "user", size: 8192 });
      expect(m.proc?.mm.findVma(m.segments[0]!.va)).toBeDefined();
    }),
  },
  dma_buf_ioctl_sync: {
    // SYNC START/READ invalidates the CPU's lines before the user reads the device's bytes
    yaml: `${ATTACHED}steps:
  - dma_buf_mmap: { fd: fd }
    as: view
  - cpu_read: { mapping: view, len: 1 }
  - dma_buf_map_attachment_unlocked: { attachment: at, dir: DMA_FROM_DEVICE }
    as: map
  - device_write: { device: cam, dma: map, data: "5d" }
  - dma_buf_ioctl_sync: { fd: fd, access: READ }
  - cpu_read: { mapping: view, len: 1 }
    expect: { value: "5d" }
  - dma_buf_ioctl_sync: { fd: fd, access: READ, end: true }
  - dma_buf_unmap_attachment_unlocked: map
  - munmap: view
${DETACH}`,
  },
  dma_buf_set_name: {
    yaml: `${HEAP}steps:
  - dma_buf_set_name: { fd: fd, name: frames }
  - probe: { buf: buf }
${RELEASE}`,
    probe: probe({ buf: T.ref("dma_buf") }, ({ buf }) => expect(buf.name).toBe("frames")),
  },
  dma_buf_export_sync_file: {
    yaml: `${HEAP}  - dma_fence_context_alloc: {}
    as: tl
  - dma_fence_init: tl
    as: job
  - sync_file_create: job
    as: job_fd
steps:
  - dma_buf_import_sync_file: { fd: fd, sync_file: job_fd, access: WRITE }
  - dma_buf_export_sync_file: { fd: fd, access: READ }
    as: wait_fd
  - poll: wait_fd
    expect: { value: 0 }
  - dma_fence_signal: job
  - poll: wait_fd
    expect: { value: 1 }
  - close: wait_fd
  - close: job_fd
${RELEASE}`,
  },
  dma_buf_import_sync_file: {
    yaml: `${HEAP}  - dma_fence_context_alloc: {}
    as: tl
  - dma_fence_init: tl
    as: job
  - sync_file_create: job
    as: job_fd
steps:
  - dma_buf_import_sync_file: { fd: fd, sync_file: job_fd, access: WRITE }
  - probe: { buf: buf, f: job }
  - close: job_fd
${RELEASE}`,
    probe: probe({ buf: T.ref("dma_buf"), f: T.ref("fence") }, ({ buf, f }) => {
      expect(dmaResvGetFences(buf.resv, DMA_RESV_USAGE_BOOKKEEP)).toContain(f);
    }),
  },
  dma_buf_pin: {
    // the exporter's pin: the BO may not move (amdgpu_dma_buf_pin)
    yaml: `${GPU_EXPORT}steps:
  - dma_resv_lock: resv
  - dma_buf_pin: at
  - dma_resv_unlock: resv
  - probe: { bo: bo }
  - dma_resv_lock: resv
  - dma_buf_unpin: at
  - dma_resv_unlock: resv
${GPU_RELEASE}`,
    probe: probe({ bo: T.ref("gpu_bo") }, ({ bo }) => expect(bo.pinCount).toBe(1)),
  },
  dma_buf_unpin: {
    yaml: `${GPU_EXPORT}steps:
  - dma_resv_lock: resv
  - dma_buf_pin: at
  - dma_buf_pin: at
  - dma_buf_unpin: at
  - dma_resv_unlock: resv
  - probe: { bo: bo }
  - dma_resv_lock: resv
  - dma_buf_unpin: at
  - dma_resv_unlock: resv
${GPU_RELEASE}`,
    probe: probe({ bo: T.ref("gpu_bo") }, ({ bo }) => expect(bo.pinCount).toBe(1)),
  },
  dma_buf_move_notify: {
    yaml: `kernel: "6.12"
${GPU_IMPORT}steps:
  - dma_resv_lock: resv
  - dma_buf_move_notify: buf
  - dma_resv_unlock: resv
  - probe: { imp: imp }
  - gpu_import_release: imp
${RELEASE}`,
    probe: notified,
  },
  dma_buf_invalidate_mappings: {
    yaml: `${GPU_IMPORT}steps:
  - dma_resv_lock: resv
  - dma_buf_invalidate_mappings: buf
  - dma_resv_unlock: resv
  - probe: { imp: imp }
  - gpu_import_release: imp
${RELEASE}`,
    probe: notified,
  },
  dma_buf_bufinfo: {
    // debugfs dma_buf/bufinfo: the buffer, its exporter and its attached device
    yaml: `${HEAP}  - dma_buf_attach: { buf: buf, device: cam }
    as: at
steps:
  - dma_buf_bufinfo: {}
    expect: { value: ${BUFINFO} }
  - dma_buf_detach: at
${RELEASE}`,
  },
  dma_buf_resv: {
    yaml: `${HEAP}steps:
  - dma_buf_resv: buf
    as: r
  - probe: { r: r, buf: buf }
${RELEASE}`,
    probe: probe({ r: T.ref("resv"), buf: T.ref("dma_buf") }, ({ r, buf }) => {
      expect(r).toBe(buf.resv);
    }),
  },
  dma_heap_alloc: {
    yaml: `${HEAP}steps:
  - probe: { fd: fd, buf: buf }
${RELEASE}`,
    probe: probe({ fd: T.ref("fd"), buf: T.ref("dma_buf") }, ({ fd, buf }) => {
      expect(fd.process.peek(fd.fd)).toBe(buf.file);
      expect(buf).toMatchObject({ size: 8192, expName: "system" });
    }),
  },
  ion_alloc: {
    yaml: `kernel: "5.10"
${ARM64}heaps: true
setup:
  - ion_alloc: { len: 8192, heap_id_mask: 1, flags: [ION_FLAG_CACHED] }
    as: fd
  - dma_buf_get: fd
    as: buf
steps:
  - probe: { buf: buf }
${RELEASE}`,
    probe: probe({ buf: T.ref("dma_buf") }, ({ buf }) => {
      expect(buf.size).toBe(8192);
      expect(buf.expName).toMatch(/ion/);
    }),
  },
  page_address: {
    // the linear alias shares the (PIPT) lines of the user mapping
    yaml: `${HEAP}steps:
  - page_address: buf
    as: lin
  - probe: { m: lin }
  - dma_buf_mmap: { fd: fd, write: true }
    as: view
  - cpu_write: { mapping: view, offset: 4096, data: "5a" }
  - cpu_read: { mapping: lin, offset: 4096, len: 1 }
    expect: { value: "5a" }
  - munmap: view
${RELEASE}`,
    probe: probe({ m: T.ref("mapping") }, ({ m }) => {
      expect(m).toMatchObject({ kind: "linear", size: 8192, prot: "cacheable" });
      expect(m.segments).toHaveLength(2);
    }),
  },
};
