/**
 * fast-check arbitraries for fuzzing dmasim's library API (layers 2 to 6): hostile numbers (what the
 * TypeScript types allow and a C caller could not, or could only as a huge value), directions and
 * flags, and one command per library call, run against a {@link World}. The scenario and CLI
 * fuzzers reuse {@link hostileNumber}, {@link sizeArb}, {@link dirArb} and {@link libraryCommands}.
 */
import fc from "fast-check";
import {
  MAP_SHARED,
  O_CLOEXEC,
  O_RDWR,
  PAGE_SIZE,
  PROT_READ,
  PROT_WRITE,
  spinLockInit,
} from "@dmasim/kernel";
import { GFP_KERNEL, allocPages, freePages, pageAddress, type Page } from "@dmasim/hardware";
import {
  dmaAllocCoherent,
  dmaFreeCoherent,
  dmaMapPage,
  dmaMapSgtable,
  dmaMapSingle,
  dmaMappingError,
  dmaSetMaxSegSize,
  dmaSetSegBoundary,
  dmaSyncSgtableForCpu,
  dmaSyncSingleForCpu,
  dmaSyncSingleForDevice,
  dmaUnmapPage,
  dmaUnmapSgtable,
  sgAllocTable,
  sgAllocTableFromPages,
  sgDmaAddress,
  sgFreeTable,
  type DmaDataDirection as Dir,
} from "@dmasim/dma-mapping";
import {
  DMA_RESV_USAGE_WRITE,
  dmaFenceContextAlloc,
  dmaFenceInit,
  dmaFencePut,
  dmaFenceSignal,
  dmaFenceWaitTimeout,
  dmaResvAddFence,
  dmaResvInit,
  dmaResvLock,
  dmaResvReserveFences,
  dmaResvUnlock,
  dmaResvWaitTimeout,
  syncFileCreate,
  syncFileInstall,
} from "@dmasim/dma-resv";
import {
  DMA_BUF_IOCTL_SYNC,
  dmaBufAttach,
  dmaBufBeginCpuAccess,
  dmaBufDetach,
  dmaBufEndCpuAccess,
  dmaBufFd,
  dmaBufGet,
  dmaBufMapAttachmentUnlocked,
  dmaBufPut,
  dmaBufSetName,
  dmaBufUnmapAttachmentUnlocked,
  dmaBufVmapUnlocked,
  dmaBufVunmapUnlocked,
  iosysMapInit,
} from "@dmasim/dma-buf";
import { DMA_HEAP_IOCTL_ALLOC, dmaHeapBufferAlloc, dmaHeapFind } from "@dmasim/heaps";
import {
  F_SEAL_SHRINK,
  MFD_ALLOW_SEALING,
  cameraCapture,
  cameraDqbuf,
  cameraExpbuf,
  cameraQbuf,
  cameraReqbufs,
  gpuBoCreate,
  gpuBoExport,
  gpuBoPut,
  gpuImport,
  gpuImportRelease,
  gpuRetire,
  gpuRingFlush,
  gpuSubmit,
  memfdAddSeals,
  memfdCreate,
  udmabufCreate,
} from "../../src/index";
import { call, ensure, pick, type World } from "./world";

/** Numbers no C caller can pass, and the edges of the C types. */
export const EDGE_NUMBERS: readonly number[] = [
  -1,
  0,
  1,
  0.5,
  -0.5,
  NaN,
  Infinity,
  -Infinity,
  PAGE_SIZE - 1,
  PAGE_SIZE + 1,
  2 ** 31,
  2 ** 32,
  2 ** 32 + PAGE_SIZE,
  2 ** 40,
  2 ** 53,
  2 ** 60,
  -PAGE_SIZE,
  Number.MAX_SAFE_INTEGER,
  Number.MIN_SAFE_INTEGER,
];

/** Any number the types allow: the edges, small integers, page multiples, doubles. */
export const hostileNumber: fc.Arbitrary<number> = fc.oneof(
  fc.constantFrom(...EDGE_NUMBERS),
  fc.integer({ min: -8, max: 64 }),
  fc.integer({ min: 1, max: 16 }).map((n) => n * PAGE_SIZE),
  fc.double({ noDefaultInfinity: false, noNaN: false }),
);

/** A size: mostly sensible (a few pages), often hostile. */
export const sizeArb: fc.Arbitrary<number> = fc.oneof(
  { weight: 3, arbitrary: fc.integer({ min: 1, max: 4 }).map((n) => n * PAGE_SIZE) },
  { weight: 1, arbitrary: fc.integer({ min: 1, max: 3 * PAGE_SIZE }) },
  { weight: 2, arbitrary: hostileNumber },
);

/** A DMA direction: the three valid ones, DMA_NONE and garbage. */
export const dirArb: fc.Arbitrary<number> = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom(0, 1, 2) },
  { weight: 1, arbitrary: hostileNumber },
);

/** An index into one of the world's lists (any integer picks an element). */
const idx = fc.nat({ max: 1000 });

/** One library call with its arguments; `toString` names it for fast-check's report. */
export interface LibraryCommand extends fc.AsyncCommand<object, World> {
  readonly name: string;
}

function cmd(name: string, body: (w: World) => Promise<void>, args: unknown[]): LibraryCommand {
  const text = `${name}(${args.map((a) => (typeof a === "number" ? String(a) : JSON.stringify(a))).join(", ")})`;
  return {
    name,
    check: () => true,
    run: async (_model, w) => {
      if (!w.dead) {
        await body(w);
      }
    },
    toString: () => text,
  };
}

// ---- layer 2: dma-mapping ----------------------------------------------------------------------

const mappingCommands = [
  fc.tuple(fc.integer({ min: -1, max: 11 })).map(([order]) =>
    cmd(
      "alloc_pages",
      async (w) => {
        const p = (await call(w, `alloc_pages(${order})`, () =>
          allocPages(w.m, order, GFP_KERNEL),
        )) as ReturnType<typeof allocPages> | undefined;
        if (p) {
          w.pages.push(p);
        }
      },
      [order],
    ),
  ),
  fc.tuple(idx).map(([i]) =>
    cmd(
      "__free_pages",
      async (w) => {
        const p = await ensure(w, "pages", i);
        if (p) {
          await call(w, `__free_pages(pfn ${p.pfn})`, () => freePages(w.m, p), { mayChange: true });
        }
      },
      [i],
    ),
  ),
  fc.tuple(idx, sizeArb).map(([d, size]) =>
    cmd(
      "dma_alloc_coherent",
      async (w) => {
        const dev = pick(w.devices, d)!;
        const c = (await call(w, `dma_alloc_coherent(${dev.name}, ${size})`, () =>
          dmaAllocCoherent(dev, size, GFP_KERNEL),
        )) as ReturnType<typeof dmaAllocCoherent> | undefined;
        if (c) {
          w.coherent.push({ dev, c, size });
        }
      },
      [d, size],
    ),
  ),
  fc.tuple(idx, fc.option(sizeArb)).map(([i, size]) =>
    cmd(
      "dma_free_coherent",
      async (w) => {
        const a = pick(w.coherent, i);
        if (a) {
          await call(
            w,
            `dma_free_coherent(${a.dev.name}, ${size ?? a.size})`,
            () => dmaFreeCoherent(a.dev, size ?? a.size, a.c.cpuAddr, a.c.dmaHandle),
            { mayChange: true },
          );
        }
      },
      [i, size],
    ),
  ),
  fc
    .tuple(idx, idx, hostileNumber, sizeArb, dirArb, fc.boolean())
    .map(([d, p, off, size, dir, single]) =>
      cmd(
        single ? "dma_map_single" : "dma_map_page",
        async (w) => {
          const dev = pick(w.devices, d)!;
          const page = await ensure(w, "pages", p);
          if (!page) {
            return;
          }
          const addr = (await call(
            w,
            `dma_map_${single ? "single" : "page"}(${dev.name}, ${off}, ${size}, ${dir})`,
            () =>
              single
                ? dmaMapSingle(dev, pageAddress(w.m, page) + off, size, dir)
                : dmaMapPage(dev, page, off, size, dir),
          )) as number | undefined;
          if (addr !== undefined && !dmaMappingError(dev, addr)) {
            w.mappings.push({ dev, addr, size, dir });
          }
        },
        [d, p, off, size, dir],
      ),
    ),
  fc
    .tuple(idx, fc.option(sizeArb), fc.option(dirArb), fc.constantFrom("unmap", "cpu", "device"))
    .map(([i, size, dir, op]) =>
      cmd(
        `dma_${op}`,
        async (w) => {
          const mp = await ensure(w, "mappings", i);
          if (!mp) {
            return;
          }
          const s = size ?? mp.size;
          const d = dir ?? mp.dir;
          await call(
            w,
            `dma_${op}(${mp.dev.name}, ${mp.addr}, ${s}, ${d})`,
            () =>
              op === "unmap"
                ? dmaUnmapPage(mp.dev, mp.addr, s, d)
                : op === "cpu"
                  ? dmaSyncSingleForCpu(mp.dev, mp.addr, s, d)
                  : dmaSyncSingleForDevice(mp.dev, mp.addr, s, d),
            { mayChange: true },
          );
        },
        [i, size, dir, op],
      ),
    ),
  fc
    .tuple(
      fc.array(idx, { minLength: 1, maxLength: 4 }),
      hostileNumber,
      sizeArb,
      fc.option(hostileNumber),
    )
    .map(([ps, off, size, nents]) =>
      cmd(
        "sg_alloc_table",
        async (w) => {
          if (nents !== null) {
            const t = (await call(w, `sg_alloc_table(${nents})`, () =>
              sgAllocTable(w.kernel, nents),
            )) as ReturnType<typeof sgAllocTable> | undefined;
            if (t) {
              w.tables.push({ sgt: t, mappedFor: null });
            }
            return;
          }
          const pages: Page[] = [];
          for (const p of ps) {
            const page = await ensure(w, "pages", p);
            if (page) {
              pages.push(page);
            }
          }
          if (pages.length === 0) {
            return;
          }
          const t = (await call(
            w,
            `sg_alloc_table_from_pages(${pages.length}, ${off}, ${size})`,
            () => sgAllocTableFromPages(w.kernel, pages, off, size),
          )) as ReturnType<typeof sgAllocTable> | undefined;
          if (t) {
            w.tables.push({ sgt: t, mappedFor: null });
          }
        },
        [ps, off, size, nents],
      ),
    ),
  fc
    .tuple(idx, idx, dirArb, fc.constantFrom("map", "unmap", "sync", "free", "peek"))
    .map(([t, d, dir, op]) =>
      cmd(
        `sgtable_${op}`,
        async (w) => {
          const tab = await ensure(w, "tables", t);
          const dev = pick(w.devices, d)!;
          if (!tab) {
            return;
          }
          const what = `sgtable_${op}(${dev.name}, ${dir})`;
          if (op === "map") {
            await call(w, what, () => dmaMapSgtable(dev, tab.sgt, dir));
            if (!w.dead && tab.sgt.nents > 0) {
              tab.mappedFor = { dev, dir };
            }
          } else if (op === "unmap") {
            const on = tab.mappedFor ?? { dev, dir };
            await call(w, what, () => dmaUnmapSgtable(on.dev, tab.sgt, dir), { mayChange: true });
            tab.mappedFor = null;
          } else if (op === "sync") {
            await call(
              w,
              what,
              () => dmaSyncSgtableForCpu(tab.mappedFor?.dev ?? dev, tab.sgt, dir),
              {
                mayChange: true,
              },
            );
          } else if (op === "free") {
            await call(w, what, () => sgFreeTable(tab.sgt));
          } else {
            const sg = tab.sgt.sgl[0];
            if (sg) {
              await call(w, what, () => sgDmaAddress(sg));
            }
          }
        },
        [t, d, dir, op],
      ),
    ),
  fc.tuple(idx, hostileNumber, fc.boolean()).map(([d, v, seg]) =>
    cmd(
      seg ? "dma_set_max_seg_size" : "dma_set_seg_boundary",
      async (w) => {
        const dev = pick(w.devices, d)!;
        await call(
          w,
          `${seg ? "dma_set_max_seg_size" : "dma_set_seg_boundary"}(${dev.name}, ${v})`,
          () => (seg ? dmaSetMaxSegSize(dev, v) : dmaSetSegBoundary(dev, v)),
        );
      },
      [d, v, seg],
    ),
  ),
];

// ---- layer 3: dma-resv -------------------------------------------------------------------------

const FENCE_OPS = { getDriverName: () => "fuzz", getTimelineName: () => "ring" };

const resvCommands = [
  fc.tuple(hostileNumber).map(([seqno]) =>
    cmd(
      "dma_fence_init",
      async (w) => {
        const lock = spinLockInit(w.kernel, "fuzz->fence_lock");
        const f = (await call(w, `dma_fence_init(${seqno})`, () =>
          dmaFenceInit(w.kernel, FENCE_OPS, lock, dmaFenceContextAlloc(w.kernel, 1), seqno),
        )) as ReturnType<typeof dmaFenceInit> | undefined;
        if (f) {
          w.fences.push(f);
        }
      },
      [seqno],
    ),
  ),
  fc
    .tuple(idx, fc.constantFrom("signal", "put", "wait", "sync_file"), hostileNumber)
    .map(([i, op, t]) =>
      cmd(
        `dma_fence_${op}`,
        async (w) => {
          const f = await ensure(w, "fences", i);
          if (!f) {
            return;
          }
          const what = `dma_fence_${op}(${f.context}:${f.seqno}, ${t})`;
          if (op === "signal") {
            await call(w, what, () => dmaFenceSignal(f));
          } else if (op === "put") {
            await call(w, what, () => dmaFencePut(f));
          } else if (op === "wait") {
            await call(w, what, () => dmaFenceWaitTimeout(f, false, t));
          } else {
            const fd = (await call(w, what, () => syncFileInstall(w.app, syncFileCreate(f)))) as
              number | undefined;
            if (fd !== undefined) {
              w.fds.push(fd);
            }
          }
        },
        [i, op, t],
      ),
    ),
  fc.tuple(idx, idx, hostileNumber, fc.boolean()).map(([r, f, n, wait]) =>
    cmd(
      wait ? "dma_resv_wait_timeout" : "dma_resv_add_fence",
      async (w) => {
        if (w.resvs.length === 0 || r % 3 === 0) {
          w.resvs.push(dmaResvInit(w.kernel));
        }
        const resv = pick(w.resvs, r)!;
        if (wait) {
          await call(w, `dma_resv_wait_timeout(${n})`, () =>
            dmaResvWaitTimeout(resv, DMA_RESV_USAGE_WRITE, false, n),
          );
          return;
        }
        const fence = await ensure(w, "fences", f);
        if (!fence) {
          return;
        }
        await call(w, `dma_resv_lock()`, () => dmaResvLock(resv, null));
        if (w.dead) {
          return;
        }
        try {
          await call(w, `dma_resv_reserve_fences(${n})`, () => dmaResvReserveFences(resv, n));
          await call(
            w,
            `dma_resv_add_fence()`,
            () => dmaResvAddFence(resv, fence, DMA_RESV_USAGE_WRITE),
            {
              mayChange: true,
            },
          );
        } finally {
          if (!w.dead) {
            dmaResvUnlock(resv);
          }
        }
      },
      [r, f, n, wait],
    ),
  ),
];

// ---- layers 4 and 5: dma-buf and heaps ---------------------------------------------------------

const bufCommands = [
  fc
    .tuple(sizeArb, fc.constantFrom("system", "reserved"), fc.boolean(), hostileNumber)
    .map(([len, heap, ioctl, flags]) =>
      cmd(
        "dma_heap_alloc",
        async (w) => {
          const h = dmaHeapFind(w.kernel, heap);
          if (!h) {
            return;
          }
          if (ioctl) {
            const node = await w.app.open(`/dev/dma_heap/${heap}`, O_RDWR).catch(() => null);
            if (node === null) {
              return;
            }
            const data = {
              len,
              fd: 0,
              fdFlags: flags % 3 === 0 ? flags : O_RDWR | O_CLOEXEC,
              heapFlags: 0,
            };
            await call(w, `DMA_HEAP_IOCTL_ALLOC(${heap}, ${len}, ${data.fdFlags})`, () =>
              w.app.ioctl(node, DMA_HEAP_IOCTL_ALLOC, data),
            );
            w.app.close(node);
            if (data.fd > 0) {
              w.fds.push(data.fd);
            }
            return;
          }
          const buf = (await call(w, `dma_heap_buffer_alloc(${heap}, ${len})`, () =>
            dmaHeapBufferAlloc(h, len, O_RDWR),
          )) as Awaited<ReturnType<typeof dmaHeapBufferAlloc>> | undefined;
          if (buf) {
            w.bufs.push(buf);
          }
        },
        [len, heap, ioctl, flags],
      ),
    ),
  fc.tuple(idx, fc.constantFrom("fd", "put", "get", "close")).map(([i, op]) =>
    cmd(
      `dma_buf_${op}`,
      async (w) => {
        if (op === "get" || op === "close") {
          const fd = await ensure(w, "fds", i);
          if (fd === undefined) {
            return;
          }
          if (op === "close") {
            await call(w, `close(${fd})`, () => w.app.close(fd), { mayChange: true });
            return;
          }
          const b = (await call(w, `dma_buf_get(${fd})`, () => dmaBufGet(w.app, fd))) as
            ReturnType<typeof dmaBufGet> | undefined;
          if (b) {
            w.bufs.push(b);
          }
          return;
        }
        const buf = await ensure(w, "bufs", i);
        if (!buf) {
          return;
        }
        if (op === "put") {
          await call(w, `dma_buf_put(${buf.ino})`, () => dmaBufPut(buf), { mayChange: true });
        } else {
          const fd = (await call(w, `dma_buf_fd(${buf.ino})`, () =>
            dmaBufFd(buf, O_CLOEXEC, w.app),
          )) as number | undefined;
          if (fd !== undefined) {
            w.fds.push(fd);
          }
        }
      },
      [i, op],
    ),
  ),
  fc
    .tuple(idx, idx, dirArb, fc.constantFrom("attach", "detach", "map", "unmap", "begin", "end"))
    .map(([i, d, dir, op]) =>
      cmd(
        `dma_buf_${op}`,
        async (w) => {
          if (op === "attach") {
            const buf = await ensure(w, "bufs", i);
            const dev = pick(w.devices, d)!;
            if (!buf) {
              return;
            }
            const a = (await call(w, `dma_buf_attach(${buf.ino}, ${dev.name})`, () =>
              dmaBufAttach(buf, dev),
            )) as Awaited<ReturnType<typeof dmaBufAttach>> | undefined;
            if (a) {
              w.attachments.push({ attach: a, sgts: [] });
            }
            return;
          }
          if (op === "begin" || op === "end") {
            const buf = await ensure(w, "bufs", i);
            if (buf) {
              await call(
                w,
                `dma_buf_${op}_cpu_access(${buf.ino}, ${dir})`,
                () =>
                  op === "begin"
                    ? dmaBufBeginCpuAccess(buf, dir as Dir)
                    : dmaBufEndCpuAccess(buf, dir as Dir),
                { mayChange: true },
              );
            }
            return;
          }
          const a = await ensure(w, "attachments", i);
          if (!a) {
            return;
          }
          const what = `dma_buf_${op}(${a.attach.dmabuf.ino}, ${a.attach.dev.name}, ${dir})`;
          if (op === "detach") {
            await call(w, what, () => dmaBufDetach(a.attach.dmabuf, a.attach), { mayChange: true });
          } else if (op === "map") {
            const sgt = (await call(
              w,
              what,
              () => dmaBufMapAttachmentUnlocked(a.attach, dir as Dir),
              {
                mayChange: true,
              },
            )) as Awaited<ReturnType<typeof dmaBufMapAttachmentUnlocked>> | undefined;
            if (sgt) {
              a.sgts.push(sgt);
            }
          } else {
            const sgt = a.sgts.pop() ?? null;
            await call(w, what, () => dmaBufUnmapAttachmentUnlocked(a.attach, sgt, dir as Dir), {
              mayChange: true,
            });
          }
        },
        [i, d, dir, op],
      ),
    ),
  fc
    .tuple(idx, hostileNumber, hostileNumber, fc.constantFrom("mmap", "vmap", "sync", "name"))
    .map(([i, len, off, op]) =>
      cmd(
        `dma_buf_${op}`,
        async (w) => {
          if (op === "mmap" || op === "sync") {
            const fd = await ensure(w, "fds", i);
            if (fd === undefined) {
              return;
            }
            if (op === "sync") {
              await call(
                w,
                `DMA_BUF_IOCTL_SYNC(${fd}, ${len})`,
                () => w.app.ioctl(fd, DMA_BUF_IOCTL_SYNC, { flags: len }),
                { mayChange: true },
              );
              return;
            }
            const vma = (await call(
              w,
              `mmap(${len}, fd ${fd}, ${off})`,
              () => w.app.mmap(len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, off),
              { mayChange: true },
            )) as { start: number } | undefined;
            if (vma) {
              await call(w, `munmap(${vma.start})`, () => w.app.munmap(vma.start), {
                mayChange: true,
              });
            }
            return;
          }
          const buf = await ensure(w, "bufs", i);
          if (!buf) {
            return;
          }
          if (op === "name") {
            const name = "n".repeat(Math.abs(Math.trunc(Number.isFinite(len) ? len : 1)) % 40);
            await call(w, `dma_buf_set_name(${buf.ino}, ${name.length} chars)`, () =>
              dmaBufSetName(buf, name),
            );
            return;
          }
          const map = (await call(
            w,
            `dma_buf_vmap_unlocked(${buf.ino})`,
            () => dmaBufVmapUnlocked(buf, iosysMapInit()),
            { mayChange: true },
          )) as ReturnType<typeof iosysMapInit> | undefined;
          if (map) {
            await call(
              w,
              `dma_buf_vunmap_unlocked(${buf.ino})`,
              () => dmaBufVunmapUnlocked(buf, map),
              {
                mayChange: true,
              },
            );
          }
        },
        [i, len, off, op],
      ),
    ),
];

// ---- layer 6: drivers --------------------------------------------------------------------------

const driverCommands = [
  fc.tuple(sizeArb, fc.boolean()).map(([size, contiguous]) =>
    cmd(
      "gpu_bo_create",
      async (w) => {
        const bo = (await call(w, `gpu_bo_create(${size}, ${contiguous})`, () =>
          gpuBoCreate(w.gpu, size, { contiguous }),
        )) as Awaited<ReturnType<typeof gpuBoCreate>> | undefined;
        if (bo) {
          w.bos.push(bo);
        }
      },
      [size, contiguous],
    ),
  ),
  fc
    .tuple(
      idx,
      idx,
      hostileNumber,
      hostileNumber,
      sizeArb,
      fc.constantFrom("submit", "put", "export", "import", "release", "flush"),
    )
    .map(([i, j, so, doff, len, op]) =>
      cmd(
        `gpu_${op}`,
        async (w) => {
          if (op === "flush") {
            await call(w, "gpu_ring_flush()", () => gpuRingFlush(w.gpu), { mayChange: true });
            await call(w, "gpu_retire()", () => gpuRetire(w.gpu), { mayChange: true });
            return;
          }
          if (op === "import") {
            const buf = await ensure(w, "bufs", i);
            if (buf) {
              const imp = (await call(w, `gpu_import(${buf.ino})`, () => gpuImport(w.gpu, buf))) as
                Awaited<ReturnType<typeof gpuImport>> | undefined;
              if (imp) {
                w.imports.push(imp);
              }
            }
            return;
          }
          if (op === "release") {
            const imp = pick(w.imports, i);
            if (imp) {
              await call(w, "gpu_import_release()", () => gpuImportRelease(imp), {
                mayChange: true,
              });
            }
            return;
          }
          const bo = await ensure(w, "bos", i);
          if (!bo) {
            return;
          }
          if (op === "put") {
            await call(w, "gpu_bo_put()", () => gpuBoPut(bo), { mayChange: true });
          } else if (op === "export") {
            const buf = (await call(w, "gpu_bo_export()", () => gpuBoExport(bo))) as
              ReturnType<typeof gpuBoExport> | undefined;
            if (buf) {
              w.bufs.push(buf);
            }
          } else {
            const src = pick([...w.bos, ...w.imports], j);
            await call(w, `gpu_submit(${so}, ${doff}, ${len})`, () =>
              gpuSubmit(w.gpu, {
                ...(src ? { src } : {}),
                dst: bo,
                srcOffset: so,
                dstOffset: doff,
                len,
              }),
            );
          }
        },
        [i, j, so, doff, len, op],
      ),
    ),
  fc
    .tuple(
      hostileNumber,
      sizeArb,
      idx,
      fc.constantFrom("reqbufs", "qbuf", "capture", "dqbuf", "expbuf"),
    )
    .map(([count, size, i, op]) =>
      cmd(
        `camera_${op}`,
        async (w) => {
          if (op === "reqbufs") {
            const bufs = (await call(w, `camera_reqbufs(${count}, ${size})`, () =>
              cameraReqbufs(w.camera, count, size),
            )) as ReturnType<typeof cameraReqbufs> | undefined;
            w.cameraBufs.push(...(bufs ?? []));
            return;
          }
          if (op === "capture") {
            await call(
              w,
              "camera_capture()",
              () => cameraCapture(w.camera, new Uint8Array([0x5a])),
              {
                mayChange: true,
              },
            );
            return;
          }
          if (op === "dqbuf") {
            await call(w, "camera_dqbuf()", () => cameraDqbuf(w.camera));
            return;
          }
          const b = await ensure(w, "cameraBufs", i);
          if (!b) {
            return;
          }
          if (op === "qbuf") {
            await call(w, "camera_qbuf()", () => cameraQbuf(b));
          } else {
            const r = (await call(w, "camera_expbuf()", () => cameraExpbuf(b, w.app))) as
              ReturnType<typeof cameraExpbuf> | undefined;
            if (r) {
              w.bufs.push(r.dmabuf);
              if (r.fd !== null) {
                w.fds.push(r.fd);
              }
            }
          }
        },
        [count, size, i, op],
      ),
    ),
  fc.tuple(sizeArb, hostileNumber, sizeArb, hostileNumber).map(([msize, off, size, flags]) =>
    cmd(
      "udmabuf_create",
      async (w) => {
        const memfd = (await call(w, `memfd_create(${msize})`, () =>
          memfdCreate(w.app, "fuzz", msize, MFD_ALLOW_SEALING),
        )) as number | undefined;
        if (memfd === undefined) {
          return;
        }
        w.fds.push(memfd);
        await call(w, "F_ADD_SEALS(F_SEAL_SHRINK)", () =>
          memfdAddSeals(w.app, memfd, F_SEAL_SHRINK),
        );
        const r = (await call(w, `udmabuf_create(${off}, ${size}, ${flags})`, () =>
          udmabufCreate(w.app, { memfd, flags: flags % 2 === 0 ? 0 : flags, offset: off, size }),
        )) as ReturnType<typeof udmabufCreate> | undefined;
        if (r) {
          w.bufs.push(r.dmabuf);
          w.fds.push(r.fd);
        }
      },
      [msize, off, size, flags],
    ),
  ),
];

/**
 * Every library command, for `fc.commands(libraryCommands, { maxCommands })`.
 */
export const libraryCommands: fc.Arbitrary<LibraryCommand>[] = [
  ...mappingCommands,
  ...resvCommands,
  ...bufCommands,
  ...driverCommands,
];
