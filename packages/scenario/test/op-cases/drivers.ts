/**
 * Cases of the @dmasim/drivers operations: the GPU (BOs, PRIME export and import, jobs), the V4L2
 * camera, the display, the decoder, memfd and udmabuf.
 */
import { dmaFenceIsSignaled } from "@dmasim/dma-resv";
import { expect } from "vitest";
import { NO_FINDINGS, ARM64, T, probe, type OpCase } from "./harness";

/** A GPU `g` with 4 pages of VRAM and a one-page VRAM BO `bo`. */
const GPU = `${ARM64}setup:
  - gpu_probe: { device: gpu, vram_pages: 4 }
    as: g
  - gpu_bo_create: { gpu: g, size: 4096, placement: vram }
    as: bo
`;
/** GPU with `bo` exported as `shared` and imported by a second GPU `g2` as `imp`. */
const PRIME = `${GPU}  - gpu_bo_export: bo
    as: shared
  - gpu_probe: cam
    as: g2
  - gpu_import: { gpu: g2, buf: shared }
    as: imp
`;
const PRIME_RELEASE = `  - gpu_import_release: imp
  - dma_buf_put: shared
  - gpu_bo_put: bo
${NO_FINDINGS}`;
/** A camera `c` (dma-sg) with two 8 KiB buffers. */
const CAMERA = `${ARM64}setup:
  - camera_probe: cam
    as: c
  - camera_reqbufs: { camera: c, count: 2, size: 8192 }
`;
/** The Pi: a GPU BO below 1 GiB exported as `frame`, a display and a decoder. */
const PI = `platform: { preset: rpi4, cache_policy: none }
devices:
  - { name: v3d, dma_mask: 32 }
  - { name: hevc, dma_mask: 32 }
  - { name: hvs, dma_mask: 30 }
setup:
  - gpu_probe: v3d
    as: g
  - gpu_bo_create: { gpu: g, size: 8192, contiguous: true, lowmem: true }
    as: bo
  - gpu_bo_export: bo
    as: frame
  - display_probe: hvs
    as: disp
  - decoder_probe: hevc
    as: dec
`;
const PI_RELEASE = `  - dma_buf_put: frame
  - gpu_bo_put: bo
${NO_FINDINGS}`;
/** A sealed 8 KiB memfd `mfd`. */
const MEMFD = `${ARM64}setup:
  - memfd_create: { size: 8192, allow_sealing: true }
    as: mfd
`;

export const DRIVERS_CASES: Readonly<Record<string, OpCase>> = {
  gpu_probe: {
    yaml: `${ARM64}steps:
  - gpu_probe: { device: gpu, vram_pages: 3 }
    as: g
  - probe: { g: g }
`,
    probe: probe({ g: T.ref("gpu") }, ({ g }) => {
      expect(g.dev.name).toBe("gpu");
      expect(g.vramPages).toBe(3);
    }),
  },
  gpu_bo_create: {
    // VRAM is accounted; a BO larger than VRAM is ENOMEM
    yaml: `${GPU}steps:
  - probe: { g: g, bo: bo }
  - gpu_bo_put: bo
  - gpu_bo_create: { gpu: g, size: 20480, placement: vram }
    as: big
    expect: { errno: ENOMEM }
${NO_FINDINGS}`,
    probe: probe({ g: T.ref("gpu"), bo: T.ref("gpu_bo") }, ({ g, bo }) => {
      expect(bo).toMatchObject({ size: 4096, placement: "vram" });
      expect(g.vramUsed).toBe(1);
    }),
  },
  gpu_bo_export: {
    yaml: `${GPU}steps:
  - gpu_bo_export: bo
    as: shared
  - probe: { bo: bo, buf: shared }
  - dma_buf_put: shared
  - gpu_bo_put: bo
${NO_FINDINGS}`,
    probe: probe({ bo: T.ref("gpu_bo"), buf: T.ref("dma_buf") }, ({ bo, buf }) => {
      expect(buf.resv).toBe(bo.resv);
      expect(buf.size).toBe(4096);
    }),
  },
  gpu_bo_put: {
    // the handle's reference goes; the export keeps the BO until its last reference
    yaml: `${GPU}steps:
  - gpu_bo_export: bo
    as: shared
  - gpu_bo_put: bo
  - dma_buf_put: shared
  - probe: { bo: bo }
  - gpu_bo_put: bo
    expect: { findings: use-after-free }
`,
    probe: probe({ bo: T.ref("gpu_bo") }, ({ bo }) => expect(bo.released).toBe(true)),
  },
  gpu_bo_evict: {
    yaml: `${GPU}steps:
  - gpu_submit: { gpu: g, dst: bo, data: "9e" }
  - gpu_bo_evict: bo
    as: move
  - probe: { bo: bo, g: g }
  - gpu_submit: { gpu: g, src: bo, len: 1 }
    as: read
  - gpu_job_run: read
    expect: { value: "9e" }
  - gpu_bo_put: bo
`,
    probe: probe({ bo: T.ref("gpu_bo"), g: T.ref("gpu") }, ({ bo, g }) => {
      expect(bo.placement).toBe("system");
      expect(g.vramUsed).toBe(0);
    }),
  },
  gpu_gem_wait_idle: {
    yaml: `${GPU}steps:
  - gpu_submit: { gpu: g, dst: bo, data: "11" }
    as: job
  - gpu_gem_wait_idle: bo
  - probe: { job: job }
  - gpu_bo_put: bo
`,
    probe: probe({ job: T.ref("gpu_job") }, ({ job }) => {
      expect(job.executed).toBe(true);
      expect(dmaFenceIsSignaled(job.fence)).toBe(true);
    }),
  },
  gpu_import: {
    yaml: `${PRIME}steps:
  - probe: { imp: imp, buf: shared }
${PRIME_RELEASE}`,
    probe: probe({ imp: T.ref("gpu_import"), buf: T.ref("dma_buf") }, ({ imp, buf }) => {
      expect(imp.dmabuf).toBe(buf);
      expect(buf.attachments).toHaveLength(1);
    }),
  },
  gpu_import_release: {
    // a release that did nothing would leave an attachment and a reference at the end
    yaml: `${PRIME}steps:
  - gpu_import_release: imp
  - probe: { buf: shared }
  - dma_buf_put: shared
  - gpu_bo_put: bo
${NO_FINDINGS}`,
    probe: probe({ buf: T.ref("dma_buf") }, ({ buf }) => expect(buf.attachments).toEqual([])),
  },
  gpu_submit: {
    // the second GPU reads what the first wrote, through the import
    yaml: `${PRIME}steps:
  - gpu_submit: { gpu: g, dst: bo, dst_offset: 8, data: "c0 ff ee" }
    as: w
  - gpu_submit: { gpu: g2, src: imp, src_offset: 8, len: 3 }
    as: r
  - probe: { w: w, r: r }
  - gpu_job_run: r
    expect: { value: "c0 ff ee" }
${PRIME_RELEASE}`,
    probe: probe({ w: T.ref("gpu_job"), r: T.ref("gpu_job") }, ({ w, r }) => {
      expect(w.kind).toBe("write");
      expect(r.deps).toContain(w.fence);
    }),
  },
  gpu_job_run: {
    yaml: `${GPU}steps:
  - gpu_submit: { gpu: g, dst: bo, data: "a5" }
    as: w
  - gpu_job_run: w
  - probe: { job: w }
  - gpu_submit: { gpu: g, src: bo, len: 1 }
    as: r
  - gpu_job_run: r
    expect: { value: "a5" }
  - gpu_bo_put: bo
`,
    probe: probe({ job: T.ref("gpu_job") }, ({ job }) => {
      expect(job.executed).toBe(true);
      expect(dmaFenceIsSignaled(job.fence)).toBe(true);
    }),
  },
  gpu_ring_flush: {
    yaml: `${GPU}steps:
  - gpu_submit: { gpu: g, dst: bo, data: "01" }
    as: a
  - gpu_submit: { gpu: g, dst: bo, offset: 1, data: "02" }
    as: b
  - gpu_ring_flush: g
  - probe: { a: a, b: b, g: g }
  - gpu_bo_put: bo
`.replace("offset: 1", "dst_offset: 1"),
    probe: probe({ a: T.ref("gpu_job"), b: T.ref("gpu_job"), g: T.ref("gpu") }, ({ a, b, g }) => {
      expect([a.executed, b.executed]).toEqual([true, true]);
      expect(g.pending).toEqual([]);
    }),
  },
  camera_probe: {
    yaml: `${ARM64}steps:
  - camera_probe: { device: cam, contiguous: true }
    as: c
  - probe: { c: c }
`,
    probe: probe({ c: T.ref("camera") }, ({ c }) => {
      expect(c.dev.name).toBe("cam");
      expect(c.contiguous).toBe(true);
    }),
  },
  camera_reqbufs: {
    yaml: `${CAMERA}steps:
  - probe: { c: c }
  - camera_release: c
`,
    probe: probe({ c: T.ref("camera") }, ({ c }) => {
      expect(c.buffers.map((b) => [b.index, b.size])).toEqual([
        [0, 8192],
        [1, 8192],
      ]);
    }),
  },
  camera_expbuf: {
    yaml: `${CAMERA}steps:
  - camera_expbuf: { camera: c, index: 1 }
    as: frame
  - probe: { buf: frame }
  - camera_expbuf: { camera: c, index: 2 }
    as: none
    expect: { errno: EINVAL }
  - dma_buf_put: frame
  - camera_release: c
${NO_FINDINGS}`,
    probe: probe({ buf: T.ref("dma_buf") }, ({ buf }) => expect(buf.size).toBe(8192)),
  },
  camera_qbuf: {
    // capture needs a queued buffer: it fills the oldest one
    yaml: `${CAMERA}steps:
  - camera_qbuf: { camera: c, index: 1 }
  - camera_capture: { camera: c, data: "01" }
    expect: { value: 1 }
  - camera_dqbuf: c
  - camera_release: c
`,
  },
  camera_capture: {
    // the frame reaches the buffer: the CPU reads it after the dequeue synced it
    yaml: `${CAMERA}steps:
  - camera_qbuf: { camera: c, index: 0 }
  - camera_capture: { camera: c, data: "3c 3d" }
    expect: { value: 0 }
  - camera_dqbuf: c
  - camera_expbuf: { camera: c, index: 0 }
    as: frame
  - dma_buf_vmap_unlocked: frame
    as: kva
  - dma_buf_begin_cpu_access: { buf: frame, dir: DMA_FROM_DEVICE }
  - cpu_read: { mapping: kva, offset: 8190, len: 2 }
    expect: { value: "3c 3d" }
  - dma_buf_end_cpu_access: { buf: frame, dir: DMA_FROM_DEVICE }
  - dma_buf_vunmap_unlocked: kva
  - dma_buf_put: frame
  - camera_release: c
${NO_FINDINGS}`,
  },
  camera_dqbuf: {
    yaml: `${CAMERA}steps:
  - camera_qbuf: { camera: c, index: 1 }
  - camera_capture: { camera: c, data: "01" }
  - camera_dqbuf: c
    expect: { value: 1 }
  - camera_dqbuf: c
    expect: { errno: EAGAIN }
  - camera_release: c
`,
  },
  camera_release: {
    yaml: `${CAMERA}steps:
  - camera_release: c
  - probe: { c: c }
${NO_FINDINGS}`,
    probe: probe({ c: T.ref("camera") }, ({ c }) => expect(c.buffers).toEqual([])),
  },
  display_probe: {
    yaml: `${PI}steps:
  - probe: { disp: disp }
${PI_RELEASE}`,
    probe: probe({ disp: T.ref("display") }, ({ disp }) => {
      expect(disp.dev.name).toBe("hvs");
      expect(disp.framebuffers.size).toBe(0);
    }),
  },
  display_import: {
    yaml: `${PI}steps:
  - display_import: { display: disp, buf: frame }
    as: fb
  - probe: { disp: disp, fb: fb }
  - display_release: fb
${PI_RELEASE}`,
    probe: probe({ disp: T.ref("display"), fb: T.ref("display_fb") }, ({ disp, fb }) => {
      expect([...disp.framebuffers]).toEqual([fb]);
      expect(fb.sgt.nents).toBe(1);
    }),
  },
  display_scanout: {
    yaml: `${PI}steps:
  - gpu_submit: { gpu: g, dst: bo, dst_offset: 4096, data: "5e 5f" }
  - display_import: { display: disp, buf: frame }
    as: fb
  - display_scanout: { fb: fb, offset: 4096, len: 2 }
    expect: { value: "5e 5f" }
  - display_release: fb
${PI_RELEASE}`,
  },
  display_release: {
    yaml: `${PI}steps:
  - display_import: { display: disp, buf: frame }
    as: fb
  - display_release: fb
  - probe: { disp: disp, buf: frame }
${PI_RELEASE}`,
    probe: probe({ disp: T.ref("display"), buf: T.ref("dma_buf") }, ({ disp, buf }) => {
      expect(disp.framebuffers.size).toBe(0);
      expect(buf.attachments).toEqual([]);
    }),
  },
  decoder_probe: {
    // the decoder's device gets a 32-bit mask
    yaml: `${PI}steps:
  - probe: { dec: dec }
${PI_RELEASE}`,
    probe: probe({ dec: T.ref("decoder") }, ({ dec }) => {
      expect(dec.dev.name).toBe("hevc");
      expect(dec.dev.dmaMask).toBe(0xffffffff);
    }),
  },
  decoder_import: {
    yaml: `${PI}steps:
  - decoder_import: { decoder: dec, buf: frame }
    as: cap
  - probe: { cap: cap, buf: frame }
  - decoder_release: cap
${PI_RELEASE}`,
    probe: probe({ cap: T.ref("decoder_buffer"), buf: T.ref("dma_buf") }, ({ cap, buf }) => {
      expect(cap.dmabuf).toBe(buf);
      expect(buf.attachments).toEqual([cap.attach]);
    }),
  },
  decoder_qbuf: {
    yaml: `${PI}steps:
  - decoder_import: { decoder: dec, buf: frame }
    as: cap
  - decoder_qbuf: cap
  - probe: { cap: cap }
  - decoder_dqbuf: cap
  - decoder_release: cap
${PI_RELEASE}`,
    probe: probe({ cap: T.ref("decoder_buffer") }, ({ cap }) => expect(cap.sgt).not.toBeNull()),
  },
  decoder_decode: {
    yaml: `${PI}steps:
  - display_import: { display: disp, buf: frame }
    as: fb
  - decoder_import: { decoder: dec, buf: frame }
    as: cap
  - decoder_qbuf: cap
  - decoder_decode: { buffer: cap, data: "80 81" }
  - decoder_dqbuf: cap
  - display_scanout: { fb: fb, len: 4 }
    expect: { value: "80 81 80 81" }
  - decoder_release: cap
  - display_release: fb
${PI_RELEASE}`,
  },
  decoder_dqbuf: {
    yaml: `${PI}steps:
  - decoder_import: { decoder: dec, buf: frame }
    as: cap
  - decoder_qbuf: cap
  - decoder_dqbuf: cap
  - probe: { cap: cap }
  - decoder_release: cap
${PI_RELEASE}`,
    probe: probe({ cap: T.ref("decoder_buffer") }, ({ cap }) => expect(cap.sgt).toBeNull()),
  },
  decoder_release: {
    yaml: `${PI}steps:
  - decoder_import: { decoder: dec, buf: frame }
    as: cap
  - decoder_release: cap
  - probe: { cap: cap, buf: frame }
${PI_RELEASE}`,
    probe: probe({ cap: T.ref("decoder_buffer"), buf: T.ref("dma_buf") }, ({ cap, buf }) => {
      expect(cap.released).toBe(true);
      expect(buf.attachments).toEqual([]);
    }),
  },
  memfd_create: {
    // an 8 KiB shmem file: udmabuf can cover 8 KiB of it, not more
    yaml: `${MEMFD}steps:
  - probe: { fd: mfd }
  - memfd_add_seals: { fd: mfd, seals: [SHRINK] }
  - udmabuf_create: { memfd: mfd, size: 8192 }
    as: whole
  - udmabuf_create: { memfd: mfd, size: 12288 }
    as: beyond
    expect: { errno: EINVAL }
  - close: whole
  - close: mfd
`,
    probe: probe({ fd: T.ref("fd") }, ({ fd }) => {
      expect(fd.process.peek(fd.fd)?.path).toMatch(/memfd:mfd/);
    }),
  },
  memfd_add_seals: {
    // udmabuf needs F_SEAL_SHRINK: without the seal it is EINVAL
    yaml: `${MEMFD}steps:
  - udmabuf_create: { memfd: mfd, size: 4096 }
    as: none
    expect: { errno: EINVAL }
  - memfd_add_seals: { fd: mfd, seals: [SHRINK] }
  - udmabuf_create: { memfd: mfd, size: 4096 }
    as: u
  - close: u
  - close: mfd
${NO_FINDINGS}`,
  },
  udmabuf_create: {
    yaml: `${MEMFD}  - memfd_add_seals: { fd: mfd, seals: [SHRINK] }
steps:
  - udmabuf_create: { memfd: mfd, offset: 4096, size: 4096 }
    as: u
  - dma_buf_get: u
    as: buf
  - probe: { buf: buf }
  - dma_buf_put: buf
  - close: u
  - close: mfd
${NO_FINDINGS}`,
    probe: probe({ buf: T.ref("dma_buf") }, ({ buf }) => {
      expect(buf).toMatchObject({ size: 4096, expName: "udmabuf" });
    }),
  },
};
