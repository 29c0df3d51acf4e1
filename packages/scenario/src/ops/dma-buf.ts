/**
 * Operations of layer 4 (@dmasim/dma-buf), for a buffer any exporter made: fds and references,
 * attach/detach, map/unmap (locked and `_unlocked`), kernel CPU access, user mmap and the SYNC
 * ioctl, and the buffer's reservation object. The end-of-run hook runs dma-buf's leak check.
 *
 * @module
 */
import {
  DMA_BIDIRECTIONAL,
  DMA_FROM_DEVICE,
  DMA_TO_DEVICE,
  type DmaDataDirection,
} from "@dmasim/dma-mapping";
import {
  DMA_BUF_IOCTL_EXPORT_SYNC_FILE,
  DMA_BUF_IOCTL_IMPORT_SYNC_FILE,
  DMA_BUF_SET_NAME,
  dmaBufDebugfsBufinfo,
  dmaBufInvalidateMappings,
  dmaBufMoveNotify,
  dmaBufPin,
  dmaBufUnpin,
  type DmaBufExportSyncFile,
  type DmaBufImportSyncFile,
  DMA_BUF_IOCTL_SYNC,
  DMA_BUF_MODULE,
  DMA_BUF_SYNC_END,
  DMA_BUF_SYNC_READ,
  DMA_BUF_SYNC_RW,
  DMA_BUF_SYNC_START,
  DMA_BUF_SYNC_WRITE,
  dmaBufAttach,
  dmaBufBeginCpuAccess,
  dmaBufCheckLeaks,
  dmaBufDetach,
  dmaBufDynamicAttach,
  dmaBufEndCpuAccess,
  dmaBufFd,
  dmaBufGet,
  dmaBufMapAttachment,
  dmaBufMapAttachmentUnlocked,
  dmaBufPut,
  dmaBufUnmapAttachment,
  dmaBufUnmapAttachmentUnlocked,
  dmaBufVmap,
  dmaBufVmapUnlocked,
  dmaBufVunmap,
  dmaBufVunmapUnlocked,
  iosysMapInit,
  type DmaBuf,
  type DmaBufAttachment,
  type IosysMap,
} from "@dmasim/dma-buf";
import { KernelError, MAP_SHARED, O_CLOEXEC, PROT_READ, PROT_WRITE } from "@dmasim/kernel";
import type { Device } from "@dmasim/hardware";
import { z } from "zod";
import { defineOp, type OpContext, type OpDef } from "../op";
import type { RegistryPart } from "../registry";
import type { SgMappingObject } from "./dma-mapping";
import type { FdObject } from "./dma-resv";
import type { MappingObject } from "./hardware";

const LAYER = "@dmasim/dma-buf";

/** A mapped attachment: usable as `dma:` by device_read / device_write. */
export interface DmaBufMapObject extends SgMappingObject {
  readonly attach: DmaBufAttachment;
}

const DIRS = { DMA_BIDIRECTIONAL, DMA_TO_DEVICE, DMA_FROM_DEVICE } as const;
const dirSchema = z.enum(["DMA_BIDIRECTIONAL", "DMA_TO_DEVICE", "DMA_FROM_DEVICE"]);
const accessSchema = z.enum(["READ", "WRITE", "RW"]);
const ACCESS = { READ: DMA_BUF_SYNC_READ, WRITE: DMA_BUF_SYNC_WRITE, RW: DMA_BUF_SYNC_RW };

const get = <T>(ctx: OpContext, name: string, type: string): T => ctx.objects.get<T>(name, type);

function mapOp(name: "dma_buf_map_attachment" | "dma_buf_map_attachment_unlocked") {
  const unlocked = name.endsWith("_unlocked");
  return defineOp({
    name,
    layer: LAYER,
    summary: unlocked
      ? "map an attachment, taking the reservation lock (6.2+); usable as `dma:` by device accesses"
      : "map an attachment (6.2+: the caller holds the reservation lock); usable as `dma:`",
    args: z.object({ attachment: z.string(), dir: dirSchema }).strict(),
    refs: { attachment: { type: "dma_buf_attachment" } },
    produces: "sg_mapping",
    requiresAs: true,
    run: async (ctx, a) => {
      const attach = get<DmaBufAttachment>(ctx, a.attachment, "dma_buf_attachment");
      const dir = DIRS[a.dir];
      const sgt = await (unlocked
        ? dmaBufMapAttachmentUnlocked(attach, dir)
        : dmaBufMapAttachment(attach, dir));
      const obj: DmaBufMapObject = { dev: attach.dev, sgt, dir, attrs: 0, unmapped: false, attach };
      return { object: obj, text: `${sgt.nents} DMA segment(s)` };
    },
  });
}

function unmapOp(name: "dma_buf_unmap_attachment" | "dma_buf_unmap_attachment_unlocked") {
  const unlocked = name.endsWith("_unlocked");
  return defineOp({
    name,
    layer: LAYER,
    summary: `unmap what ${name.replace("unmap", "map")} mapped`,
    args: z.object({ map: z.string() }).strict(),
    refs: { map: { type: "sg_mapping" } },
    primary: "map",
    run: async (ctx, a) => {
      const m = get<DmaBufMapObject>(ctx, a.map, "sg_mapping");
      if (!m.attach || m.unmapped) {
        throw new KernelError("EINVAL", `${a.map} is not a live dma-buf mapping`);
      }
      await (unlocked
        ? dmaBufUnmapAttachmentUnlocked(m.attach, m.sgt, m.dir as DmaDataDirection)
        : dmaBufUnmapAttachment(m.attach, m.sgt, m.dir as DmaDataDirection));
      m.unmapped = true;
    },
  });
}

function cpuAccessOp(name: "dma_buf_begin_cpu_access" | "dma_buf_end_cpu_access") {
  return defineOp({
    name,
    layer: LAYER,
    summary:
      name === "dma_buf_begin_cpu_access"
        ? "kernel CPU access begins: the exporter's sync for the CPU, then the fence wait"
        : "kernel CPU access ends: the exporter's sync for the devices",
    args: z.object({ buf: z.string(), dir: dirSchema }).strict(),
    refs: { buf: { type: "dma_buf" } },
    run: async (ctx, a) => {
      const b = get<DmaBuf>(ctx, a.buf, "dma_buf");
      await (name === "dma_buf_begin_cpu_access" ? dmaBufBeginCpuAccess : dmaBufEndCpuAccess)(
        b,
        DIRS[a.dir],
      );
    },
  });
}

/** A kernel mapping made by dma_buf_vmap: usable as `mapping:` by cpu_read / cpu_write. */
export interface DmaBufVmapObject extends MappingObject {
  readonly buf: DmaBuf;
  readonly map: IosysMap;
  unmapped: boolean;
}

function vmapOp(name: "dma_buf_vmap" | "dma_buf_vmap_unlocked") {
  const unlocked = name.endsWith("_unlocked");
  return defineOp({
    name,
    layer: LAYER,
    summary: unlocked
      ? "kernel mapping of a whole dma-buf, taking the reservation lock (6.2+); a mapping for cpu_read / cpu_write"
      : "kernel mapping of a whole dma-buf (6.2+: the caller holds the reservation lock); a mapping for cpu_*",
    args: z.object({ buf: z.string() }).strict(),
    refs: { buf: { type: "dma_buf" } },
    primary: "buf",
    produces: "mapping",
    requiresAs: true,
    run: async (ctx, a) => {
      const buf = get<DmaBuf>(ctx, a.buf, "dma_buf");
      const map = await (unlocked ? dmaBufVmapUnlocked : dmaBufVmap)(buf, iosysMapInit());
      if (map.vaddr === null) {
        throw new KernelError("ENOMEM", `${name}: the exporter gave no mapping`);
      }
      const obj: DmaBufVmapObject = {
        kind: "vmap",
        segments: [{ va: map.vaddr, len: buf.size }],
        size: buf.size,
        prot: "cacheable",
        buf,
        map,
        unmapped: false,
      };
      return { object: obj, text: `va 0x${map.vaddr.toString(16)}` };
    },
  });
}

function vunmapOp(name: "dma_buf_vunmap" | "dma_buf_vunmap_unlocked") {
  const unlocked = name.endsWith("_unlocked");
  return defineOp({
    name,
    layer: LAYER,
    summary: `remove what ${name.replace("vunmap", "vmap")} mapped`,
    args: z.object({ mapping: z.string() }).strict(),
    refs: { mapping: { type: "mapping" } },
    primary: "mapping",
    run: async (ctx, a) => {
      const m = get<DmaBufVmapObject>(ctx, a.mapping, "mapping");
      if (!m.map || m.unmapped) {
        throw new KernelError("EINVAL", `${a.mapping} is not a live dma-buf vmap`);
      }
      await (unlocked ? dmaBufVunmapUnlocked : dmaBufVunmap)(m.buf, m.map);
      m.unmapped = true;
    },
  });
}

/** The dma-buf operations. **Kernel:** drivers/dma-buf/dma-buf.c and its uapi. */
export const DMA_BUF_OPS = [
  defineOp({
    name: "dma_buf_fd",
    layer: LAYER,
    summary:
      "install a dma-buf in a process as an fd (consumes a reference: take one with dma_buf_get first if still needed)",
    args: z
      .object({ buf: z.string(), process: z.string().optional(), cloexec: z.boolean().optional() })
      .strict(),
    refs: { buf: { type: "dma_buf" } },
    primary: "buf",
    produces: "fd",
    requiresAs: true,
    run: (ctx, a) => {
      const process = ctx.process(a.process);
      const fd = dmaBufFd(get<DmaBuf>(ctx, a.buf, "dma_buf"), a.cloexec ? O_CLOEXEC : 0, process);
      return { object: { process, fd } satisfies FdObject, text: `fd ${fd}` };
    },
  }),
  defineOp({
    name: "dma_buf_get",
    layer: LAYER,
    summary: "take a reference to the dma-buf behind an fd (EBADF, EINVAL if not a dma-buf)",
    args: z.object({ fd: z.string() }).strict(),
    refs: { fd: { type: "fd" } },
    primary: "fd",
    produces: "dma_buf",
    requiresAs: true,
    run: (ctx, a) => {
      const o = get<FdObject>(ctx, a.fd, "fd");
      return { object: dmaBufGet(o.process, o.fd) };
    },
  }),
  defineOp({
    name: "dma_buf_put",
    layer: LAYER,
    summary: "drop a reference to a dma-buf (the last one releases it)",
    args: z.object({ buf: z.string() }).strict(),
    refs: { buf: { type: "dma_buf" } },
    primary: "buf",
    run: (ctx, a) => {
      dmaBufPut(get<DmaBuf>(ctx, a.buf, "dma_buf"));
    },
  }),
  defineOp({
    name: "dma_buf_attach",
    layer: LAYER,
    summary: "attach a device as a static importer",
    args: z.object({ buf: z.string(), device: z.string() }).strict(),
    refs: { buf: { type: "dma_buf" }, device: { type: "device" } },
    produces: "dma_buf_attachment",
    requiresAs: true,
    run: async (ctx, a) => ({
      object: await dmaBufAttach(
        get<DmaBuf>(ctx, a.buf, "dma_buf"),
        get<Device>(ctx, a.device, "device"),
      ),
    }),
  }),
  defineOp({
    name: "dma_buf_dynamic_attach",
    layer: LAYER,
    summary:
      "attach a device as a dynamic importer (importer_ops with move_notify, 5.6+); 5.6-6.15: a static exporter is mapped BIDIRECTIONAL at attach and cached",
    args: z.object({ buf: z.string(), device: z.string() }).strict(),
    refs: { buf: { type: "dma_buf" }, device: { type: "device" } },
    produces: "dma_buf_attachment",
    requiresAs: true,
    run: async (ctx, a) => {
      const at = await dmaBufDynamicAttach(
        get<DmaBuf>(ctx, a.buf, "dma_buf"),
        get<Device>(ctx, a.device, "device"),
        { moveNotify: () => undefined },
      );
      return { object: at, text: at.sgt ? "mapped at attach (cached)" : "not mapped" };
    },
  }),
  defineOp({
    name: "dma_buf_detach",
    layer: LAYER,
    summary: "detach an attachment",
    args: z.object({ attachment: z.string() }).strict(),
    refs: { attachment: { type: "dma_buf_attachment" } },
    primary: "attachment",
    run: async (ctx, a) => {
      const at = get<DmaBufAttachment>(ctx, a.attachment, "dma_buf_attachment");
      await dmaBufDetach(at.dmabuf, at);
    },
  }),
  mapOp("dma_buf_map_attachment"),
  mapOp("dma_buf_map_attachment_unlocked"),
  unmapOp("dma_buf_unmap_attachment"),
  unmapOp("dma_buf_unmap_attachment_unlocked"),
  cpuAccessOp("dma_buf_begin_cpu_access"),
  cpuAccessOp("dma_buf_end_cpu_access"),
  vmapOp("dma_buf_vmap"),
  vmapOp("dma_buf_vmap_unlocked"),
  vunmapOp("dma_buf_vunmap"),
  vunmapOp("dma_buf_vunmap_unlocked"),
  defineOp({
    name: "dma_buf_mmap",
    layer: LAYER,
    summary:
      "mmap(2) a dma-buf fd MAP_SHARED (write: PROT_WRITE too); a user mapping for cpu_read / cpu_write",
    args: z.object({ fd: z.string(), write: z.boolean().optional() }).strict(),
    refs: { fd: { type: "fd" } },
    primary: "fd",
    produces: "mapping",
    requiresAs: true,
    run: async (ctx, a) => {
      const o = get<FdObject>(ctx, a.fd, "fd");
      const b = dmaBufGet(o.process, o.fd);
      const size = b.size;
      dmaBufPut(b);
      const prot = PROT_READ | (a.write ? PROT_WRITE : 0);
      const vma = await o.process.mmap(size, prot, MAP_SHARED, o.fd);
      const obj: MappingObject = {
        kind: "user",
        segments: [{ va: vma.start, len: size }],
        size,
        proc: o.process,
        prot: vma.pageProt,
      };
      return { object: obj, text: `va 0x${vma.start.toString(16)}` };
    },
  }),
  defineOp({
    name: "dma_buf_ioctl_sync",
    layer: LAYER,
    summary:
      "DMA_BUF_IOCTL_SYNC on an fd: START (default) or END (`end: true`) of READ, WRITE or RW access",
    args: z.object({ fd: z.string(), access: accessSchema, end: z.boolean().optional() }).strict(),
    refs: { fd: { type: "fd" } },
    run: async (ctx, a) => {
      const o = get<FdObject>(ctx, a.fd, "fd");
      const flags = ACCESS[a.access] | (a.end ? DMA_BUF_SYNC_END : DMA_BUF_SYNC_START);
      await o.process.ioctl(o.fd, DMA_BUF_IOCTL_SYNC, { flags });
    },
  }),
  ...(["dma_buf_pin", "dma_buf_unpin"] as const).map((name) =>
    defineOp({
      name,
      layer: LAYER,
      summary:
        name === "dma_buf_pin"
          ? "pin the buffer in place for an attachment (the reservation lock must be held)"
          : "drop a pin (the reservation lock must be held)",
      args: z.object({ attachment: z.string() }).strict(),
      refs: { attachment: { type: "dma_buf_attachment" } },
      primary: "attachment",
      run: async (ctx, a) => {
        const att = get<DmaBufAttachment>(ctx, a.attachment, "dma_buf_attachment");
        await (name === "dma_buf_pin" ? dmaBufPin(att) : dmaBufUnpin(att));
      },
    }),
  ),
  defineOp({
    name: "dma_buf_move_notify",
    layer: LAYER,
    summary:
      "the exporter tells dynamic importers their mappings are moving (reservation lock held)",
    args: z.object({ buf: z.string() }).strict(),
    refs: { buf: { type: "dma_buf" } },
    primary: "buf",
    run: (ctx, a) => {
      dmaBufMoveNotify(get<DmaBuf>(ctx, a.buf, "dma_buf"));
    },
  }),
  defineOp({
    name: "dma_buf_invalidate_mappings",
    layer: LAYER,
    summary:
      "latest kernels: the exporter revokes importers' mappings (the successor of move_notify)",
    args: z.object({ buf: z.string() }).strict(),
    refs: { buf: { type: "dma_buf" } },
    primary: "buf",
    run: (ctx, a) => {
      dmaBufInvalidateMappings(get<DmaBuf>(ctx, a.buf, "dma_buf"));
    },
  }),
  defineOp({
    name: "dma_buf_bufinfo",
    layer: LAYER,
    summary:
      "value: the text of debugfs dma_buf/bufinfo (every buffer, its attachments and fences)",
    args: z.object({}).strict(),
    run: async (ctx) => {
      const text = await dmaBufDebugfsBufinfo(ctx.kernel);
      return { value: text, text: `${text.split("\n").length} lines` };
    },
  }),
  defineOp({
    name: "fdinfo",
    layer: "@dmasim/kernel",
    summary:
      "value: the text of /proc/PID/fdinfo/FD (pos, flags, and the file's own lines, e.g. a dma-buf's size and exporter)",
    args: z.object({ fd: z.string() }).strict(),
    refs: { fd: { type: "fd" } },
    primary: "fd",
    run: (ctx, a) => {
      const o = get<FdObject>(ctx, a.fd, "fd");
      const text = o.process.fdinfo(o.fd);
      return { value: text, text: text.trim().split("\n").join(" | ") };
    },
  }),
  defineOp({
    name: "llseek",
    layer: "@dmasim/kernel",
    summary: "lseek(2) on an fd (whence SEEK_SET, SEEK_CUR or SEEK_END); value: the new position",
    args: z
      .object({
        fd: z.string(),
        offset: z.number().int(),
        whence: z.enum(["SEEK_SET", "SEEK_CUR", "SEEK_END"]),
      })
      .strict(),
    refs: { fd: { type: "fd" } },
    run: (ctx, a) => {
      const o = get<FdObject>(ctx, a.fd, "fd");
      const whence = { SEEK_SET: 0, SEEK_CUR: 1, SEEK_END: 2 }[a.whence];
      return { value: o.process.llseek(o.fd, a.offset, whence) };
    },
  }),
  defineOp({
    name: "dma_buf_set_name",
    layer: LAYER,
    summary: "DMA_BUF_SET_NAME on an fd (EBUSY while attached, on the kernels that had that rule)",
    args: z.object({ fd: z.string(), name: z.string() }).strict(),
    refs: { fd: { type: "fd" } },
    run: async (ctx, a) => {
      const o = get<FdObject>(ctx, a.fd, "fd");
      await o.process.ioctl(o.fd, DMA_BUF_SET_NAME, a.name);
    },
  }),
  defineOp({
    name: "dma_buf_export_sync_file",
    layer: LAYER,
    summary:
      "DMA_BUF_IOCTL_EXPORT_SYNC_FILE: a sync_file fd of the fences a CPU access of `access` must wait for",
    args: z.object({ fd: z.string(), access: accessSchema }).strict(),
    refs: { fd: { type: "fd" } },
    produces: "fd",
    requiresAs: true,
    run: async (ctx, a) => {
      const o = get<FdObject>(ctx, a.fd, "fd");
      const arg: DmaBufExportSyncFile = { flags: ACCESS[a.access], fd: -1 };
      await o.process.ioctl(o.fd, DMA_BUF_IOCTL_EXPORT_SYNC_FILE, arg);
      return {
        object: { process: o.process, fd: arg.fd } satisfies FdObject,
        text: `fd ${arg.fd}`,
      };
    },
  }),
  defineOp({
    name: "dma_buf_import_sync_file",
    layer: LAYER,
    summary:
      "DMA_BUF_IOCTL_IMPORT_SYNC_FILE: add a sync_file's fences to the buffer as readers (READ) or a writer (WRITE)",
    args: z.object({ fd: z.string(), sync_file: z.string(), access: accessSchema }).strict(),
    refs: { fd: { type: "fd" }, sync_file: { type: "fd" } },
    run: async (ctx, a) => {
      const o = get<FdObject>(ctx, a.fd, "fd");
      const s = get<FdObject>(ctx, a.sync_file, "fd");
      const arg: DmaBufImportSyncFile = { flags: ACCESS[a.access], fd: s.fd };
      await o.process.ioctl(o.fd, DMA_BUF_IOCTL_IMPORT_SYNC_FILE, arg);
    },
  }),
  defineOp({
    name: "dma_buf_resv",
    layer: LAYER,
    summary: "the buffer's reservation object (`dmabuf->resv`), for the dma_resv_* operations",
    args: z.object({ buf: z.string() }).strict(),
    refs: { buf: { type: "dma_buf" } },
    primary: "buf",
    produces: "resv",
    requiresAs: true,
    run: (ctx, a) => ({ object: get<DmaBuf>(ctx, a.buf, "dma_buf").resv }),
  }),
  defineOp({
    name: "munmap",
    layer: "@dmasim/kernel",
    summary: "munmap(2) a user mapping (its file reference is dropped)",
    args: z.object({ mapping: z.string() }).strict(),
    refs: { mapping: { type: "mapping" } },
    primary: "mapping",
    run: async (ctx, a) => {
      const m = get<MappingObject>(ctx, a.mapping, "mapping");
      if (m.kind !== "user" || !m.proc) {
        throw new KernelError("EINVAL", `${a.mapping} is not a user mapping`);
      }
      await m.proc.munmap((m.segments[0] as { va: number }).va);
    },
  }),
] as unknown as readonly OpDef<never>[];

/** What layer 4 adds to scenarios; dma-buf's leak check runs at the end of every run. */
export const DMA_BUF_PART: RegistryPart = {
  ops: DMA_BUF_OPS,
  modules: [DMA_BUF_MODULE],
  hooks: {
    atEnd(ctx) {
      dmaBufCheckLeaks(ctx.kernel);
    },
  },
};
