/**
 * The world a library fuzz run drives: one kernel on one platform with a few devices, the heaps,
 * the drivers, and every object the calls made so far (pages, sg tables, mappings, fences,
 * dma-bufs, attachments, GPU BOs, camera buffers, fds), plus the checks a run asserts:
 * - only `KernelError` (an errno), `KernelBug` (a BUG the kernel would hit; the run stops there) or
 *   `RunAborted` escape a call: anything else (TypeError, RangeError, …) is dmasim's bug;
 * - a call that failed with an errno left the state it was given unchanged ({@link snapshot});
 * - host memory stays bounded.
 *
 * Reusable: the scenario and CLI fuzzers build on {@link bootWorld}, {@link snapshot} and the
 * arbitraries of ./arbitraries.ts.
 */
import {
  Kernel,
  KernelBug,
  O_CLOEXEC,
  PAGE_SIZE,
  RunAborted,
  isKernelError,
  refcountRead,
  spinLockInit,
  type Process,
} from "@dmasim/kernel";
import {
  GFP_KERNEL,
  addDevice,
  allocPages,
  createMachine,
  type Device,
  type Machine,
  type Page,
} from "@dmasim/hardware";
import {
  DMA_MAPPING_MODULE,
  dmaDebugEntries,
  dmaMapPage,
  dmaMappingError,
  sgAllocTableFromPages,
  type DmaCoherent,
  type SgTable,
} from "@dmasim/dma-mapping";
import {
  DMA_RESV_MODULE,
  dmaFenceContextAlloc,
  dmaFenceInit,
  type DmaFence,
  type DmaResv,
} from "@dmasim/dma-resv";
import {
  DMA_BUF_MODULE,
  dmaBufAttach,
  dmaBufFd,
  dmaBufList,
  type DmaBuf,
  type DmaBufAttachment,
} from "@dmasim/dma-buf";
import { HEAPS_MODULE, dmaHeapsInit } from "@dmasim/heaps";
import {
  DRIVERS_MODULE,
  cameraProbe,
  cameraReqbufs,
  gpuBoCreate,
  gpuBoExport,
  gpuProbe,
  udmabufInit,
  type Camera,
  type CameraBuffer,
  type GpuBo,
  type GpuDevice,
  type GpuImport,
} from "../../src/index";

/** A streaming mapping the world made (what an unmap or a sync is given back). */
export interface Mapping {
  readonly dev: Device;
  readonly addr: number;
  readonly size: number;
  readonly dir: number;
}

/** An sg table and the device it is mapped for, if any. */
export interface Table {
  readonly sgt: SgTable;
  mappedFor: { dev: Device; dir: number } | null;
}

/** Everything a run made, by kind. Entries stay after they are freed: using them again is a test. */
export interface World {
  readonly kernel: Kernel;
  readonly m: Machine;
  readonly app: Process;
  readonly devices: Device[];
  readonly pages: Page[];
  readonly coherent: { dev: Device; c: DmaCoherent; size: number }[];
  readonly mappings: Mapping[];
  readonly tables: Table[];
  readonly fences: DmaFence[];
  readonly resvs: DmaResv[];
  readonly bufs: DmaBuf[];
  readonly attachments: { attach: DmaBufAttachment; sgts: SgTable[] }[];
  readonly fds: number[];
  readonly gpu: GpuDevice;
  readonly bos: GpuBo[];
  readonly imports: GpuImport[];
  readonly camera: Camera;
  readonly cameraBufs: CameraBuffer[];
  /** Set once a BUG (or an aborted run) ended the simulated kernel: no more calls. */
  dead: boolean;
  /** The calls made, for the report of a failing run. */
  readonly log: string[];
}

/** The kernel versions and platforms a run may boot. */
export const FUZZ_KERNELS = ["4.19", "5.10", "6.1", "6.12", "latest"] as const;
export const FUZZ_PLATFORMS = ["arm64-soc", "x86-64", "armv7-vipt"] as const;

/**
 * Boot a world: the kernel with every module, the platform with a small RAM (so that "larger than
 * RAM" is cheap to reach), three devices (coherent, non-coherent behind an IOMMU, 32-bit), the
 * heaps, a GPU, a camera and udmabuf.
 */
export function bootWorld(version: string, platform: string, seed: number): World {
  const kernel = new Kernel({
    version,
    seed,
    modules: [DMA_MAPPING_MODULE, DMA_RESV_MODULE, DMA_BUF_MODULE, HEAPS_MODULE, DRIVERS_MODULE],
  });
  const m = createMachine(kernel, platform, {
    cachePolicy: { name: "none" },
    ramSize: 64 * 2 ** 20,
    cmaSize: 8 * 2 ** 20,
  });
  const devices = [
    addDevice(m, { name: "coh", coherent: true, dmaMask: 64 }),
    addDevice(m, { name: "nc-iommu", coherent: false, dmaMask: 40, iommu: "dma" }),
    addDevice(m, { name: "nc32", coherent: false, dmaMask: 32 }),
  ];
  dmaHeapsInit(kernel);
  udmabufInit(kernel);
  const gpu = gpuProbe(kernel, addDevice(m, { name: "gpu", dmaMask: 40, iommu: "dma" }));
  const camera = cameraProbe(kernel, addDevice(m, { name: "cam", dmaMask: 32 }));
  return {
    kernel,
    m,
    app: kernel.vfs.createProcess("fuzz"),
    devices,
    pages: [],
    coherent: [],
    mappings: [],
    tables: [],
    fences: [],
    resvs: [],
    bufs: [],
    attachments: [],
    fds: [],
    gpu,
    bos: [],
    imports: [],
    camera,
    cameraBufs: [],
    dead: false,
    log: [],
  };
}

/**
 * The state a failed call must leave as it was: free pages, DMA-API debug entries per device,
 * every dma-buf's references, attachments and vmap count, and the locks the caller holds.
 */
export function snapshot(w: World): string {
  const parts: string[] = [`free:${w.m.pageAlloc.freePages}`];
  for (const d of w.devices) {
    parts.push(`${d.name}:${dmaDebugEntries(d).length}`);
  }
  for (const b of dmaBufList(w.kernel)) {
    parts.push(
      `buf${b.ino}:${b.file ? refcountRead(b.file.fCount) : "-"}/${b.attachments.length}/${b.vmappingCounter}`,
    );
  }
  parts.push(
    `held:${w.kernel.lockdep
      .heldLocks(w.kernel.sched.current)
      .map((h) => h.map.name)
      .join(",")}`,
  );
  return parts.join(" ");
}

/** What a call may throw: an errno, a BUG or the end of the run. Anything else is returned. */
export function unexpected(e: unknown): unknown {
  if (isKernelError(e) || e instanceof KernelBug || e instanceof RunAborted) {
    return null;
  }
  return e;
}

/**
 * Run one library call against the world. A `KernelBug` or `RunAborted` ends the world; an errno
 * must leave {@link snapshot} as it was (unless `mayChange`: the few calls whose failure the
 * kernel lets change state, such as a WARN that still did part of the work); any other throw is
 * rethrown with the call log, as dmasim's own bug.
 */
export async function call(
  w: World,
  what: string,
  fn: () => unknown,
  opts: { mayChange?: boolean } = {},
): Promise<unknown> {
  w.log.push(what);
  if (process.env["FUZZ_TRACE"]) {
    process.stderr.write(`${what}\n`);
  }
  const before = snapshot(w);
  try {
    return await fn();
  } catch (e) {
    const bad = unexpected(e);
    if (bad) {
      throw new Error(
        `${what} threw ${(bad as Error)?.name ?? typeof bad}: ${(bad as Error)?.message ?? String(bad)}\ncalls:\n  ${w.log.join("\n  ")}`,
        { cause: bad },
      );
    }
    if (!isKernelError(e)) {
      w.dead = true;
      if (process.env["FUZZ_TRACE"]) {
        process.stderr.write(`  ended the run: ${(e as Error).message}\n`);
      }
      return undefined;
    }
    const after = snapshot(w);
    if (!opts.mayChange && after !== before) {
      throw new Error(
        `${what} failed with ${e.code} and changed the state:\n  before ${before}\n  after  ${after}\ncalls:\n  ${w.log.join("\n  ")}`,
      );
    }
    return undefined;
  }
}

/** The `i`-th element of `list` (any integer picks one), or undefined when it is empty. */
export function pick<T>(list: readonly T[], i: number): T | undefined {
  return list.length === 0 ? undefined : list[Math.abs(i) % list.length];
}

/** The lists {@link ensure} can fill. */
export type Stock =
  | "pages"
  | "mappings"
  | "tables"
  | "fences"
  | "bufs"
  | "fds"
  | "attachments"
  | "bos"
  | "cameraBufs";

/**
 * The `i`-th element of a list, made first with sane arguments when the list is empty, so that a
 * short sequence still reaches deep calls (a map needs a page, an unmap a mapping…).
 */
export async function ensure<K extends Stock>(
  w: World,
  kind: K,
  i: number,
): Promise<World[K][number] | undefined> {
  if (w[kind].length === 0 && !w.dead) {
    await stock(w, kind);
  }
  return pick(w[kind] as readonly World[K][number][], i);
}

async function stock(w: World, kind: Stock): Promise<void> {
  const k = w.kernel;
  const made = async <T>(what: string, fn: () => T | Promise<T>): Promise<T | undefined> =>
    (await call(w, `(stock) ${what}`, fn)) as T | undefined;
  switch (kind) {
    case "pages": {
      const p = await made("alloc_pages(0)", () => allocPages(w.m, 0, GFP_KERNEL));
      if (p) {
        w.pages.push(p);
      }
      return;
    }
    case "mappings": {
      const p = await ensure(w, "pages", 0);
      const dev = w.devices[0]!;
      const addr = p && (await made("dma_map_page", () => dmaMapPage(dev, p, 0, PAGE_SIZE, 0)));
      if (addr !== undefined && addr !== null && !dmaMappingError(dev, addr)) {
        w.mappings.push({ dev, addr, size: PAGE_SIZE, dir: 0 });
      }
      return;
    }
    case "tables": {
      const p = await ensure(w, "pages", 0);
      const t =
        p &&
        (await made("sg_alloc_table_from_pages", () =>
          sgAllocTableFromPages(k, [p], 0, PAGE_SIZE),
        ));
      if (t) {
        w.tables.push({ sgt: t, mappedFor: null });
      }
      return;
    }
    case "fences": {
      const lock = spinLockInit(k, "fuzz->fence_lock");
      const f = await made("dma_fence_init", () =>
        dmaFenceInit(
          k,
          { getDriverName: () => "fuzz", getTimelineName: () => "ring" },
          lock,
          dmaFenceContextAlloc(k, 1),
          1,
        ),
      );
      if (f) {
        w.fences.push(f);
      }
      return;
    }
    case "bos": {
      const bo = await made("gpu_bo_create(4096)", () => gpuBoCreate(w.gpu, PAGE_SIZE));
      if (bo) {
        w.bos.push(bo);
      }
      return;
    }
    case "bufs": {
      const bo = await ensure(w, "bos", 0);
      const buf = bo && (await made("gpu_bo_export", () => gpuBoExport(bo)));
      if (buf) {
        w.bufs.push(buf);
      }
      return;
    }
    case "fds": {
      const buf = await ensure(w, "bufs", 0);
      const fd = buf && (await made("dma_buf_fd", () => dmaBufFd(buf, O_CLOEXEC, w.app)));
      if (fd !== undefined && fd !== null) {
        w.fds.push(fd);
      }
      return;
    }
    case "attachments": {
      const buf = await ensure(w, "bufs", 0);
      const a = buf && (await made("dma_buf_attach", () => dmaBufAttach(buf, w.devices[1]!)));
      if (a) {
        w.attachments.push({ attach: a, sgts: [] });
      }
      return;
    }
    case "cameraBufs": {
      const bufs = await made("camera_reqbufs(2, 4096)", () =>
        cameraReqbufs(w.camera, 2, PAGE_SIZE),
      );
      w.cameraBufs.push(...(bufs ?? []));
      return;
    }
  }
}
