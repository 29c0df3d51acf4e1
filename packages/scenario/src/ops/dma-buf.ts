/**
 * Operations of layer 4 (@dmasim/dma-buf), for a buffer any exporter made: fds and references,
 * attach/detach, map/unmap (locked and `_unlocked`), kernel CPU access, user mmap and the SYNC
 * ioctl, and the buffer's reservation object. The end-of-run hook runs dma-buf's leak check.
 *
 * @module
 */
import type { Device } from "@dmasim/hardware";
import { DMA_DIRECTIONS } from "@dmasim/dma-mapping";
import {
  DMA_BUF_IOCTL_EXPORT_SYNC_FILE,
  DMA_BUF_IOCTL_IMPORT_SYNC_FILE,
  DMA_BUF_IOCTL_SYNC,
  DMA_BUF_MODULE,
  DMA_BUF_SET_NAME,
  DMA_BUF_SYNC_END,
  DMA_BUF_SYNC_READ,
  DMA_BUF_SYNC_RW,
  DMA_BUF_SYNC_START,
  DMA_BUF_SYNC_WRITE,
  dmaBufAttach,
  dmaBufBeginCpuAccess,
  dmaBufCheckLeaks,
  dmaBufDebugfsBufinfo,
  dmaBufDetach,
  dmaBufDynamicAttach,
  dmaBufEndCpuAccess,
  dmaBufFd,
  dmaBufGet,
  dmaBufInvalidateMappings,
  dmaBufMapAttachment,
  dmaBufMapAttachmentUnlocked,
  dmaBufMoveNotify,
  dmaBufPin,
  dmaBufPut,
  dmaBufUnmapAttachment,
  dmaBufUnmapAttachmentUnlocked,
  dmaBufUnpin,
  dmaBufVmap,
  dmaBufVmapUnlocked,
  dmaBufVunmap,
  dmaBufVunmapUnlocked,
  iosysMapInit,
  type DmaBuf,
  type DmaBufAttachment,
  type DmaBufExportSyncFile,
  type DmaBufImportSyncFile,
} from "@dmasim/dma-buf";
import { KernelError, MAP_SHARED, O_CLOEXEC, PROT_READ, PROT_WRITE } from "@dmasim/kernel";
import { z } from "zod";
import { scenarioLayer } from "../layer";
import type {
  DmaBufMapObject,
  DmaBufVmapObject,
  FdObject,
  MappingObject,
  SgMappingObject,
} from "../objects";
import type { OpDef } from "../op";
import type { RegistryPart } from "../registry";
import { dirSchema, fdResult } from "./common";

const L = scenarioLayer("@dmasim/dma-buf");

const accessSchema = z.enum(["READ", "WRITE", "RW"]);
const ACCESS = { READ: DMA_BUF_SYNC_READ, WRITE: DMA_BUF_SYNC_WRITE, RW: DMA_BUF_SYNC_RW };

/** Whether a mapped sg table is a dma-buf attachment's mapping (rather than the DMA API's own). */
function isDmaBufMap(m: SgMappingObject): m is DmaBufMapObject {
  return "attach" in m;
}

/** Whether a CPU mapping is a dma-buf vmap. */
function isDmaBufVmap(m: MappingObject): m is DmaBufVmapObject {
  return "buf" in m && "map" in m;
}

function mapOp(name: "dma_buf_map_attachment" | "dma_buf_map_attachment_unlocked"): OpDef {
  const unlocked = name.endsWith("_unlocked");
  return L.op({
    name,
    summary: unlocked
      ? "map an attachment, taking the reservation lock (6.2+); usable as `dma:` by device accesses"
      : "map an attachment (6.2+: the caller holds the reservation lock); usable as `dma:`",
    args: { attachment: L.ref("dma_buf_attachment"), dir: dirSchema },
    produces: "sg_mapping",
    requiresAs: true,
    run: async (_ctx, { attachment: attach, dir: name }) => {
      const dir = DMA_DIRECTIONS[name];
      const map = unlocked ? dmaBufMapAttachmentUnlocked : dmaBufMapAttachment;
      const sgt = await map(attach, dir);
      const object: DmaBufMapObject = {
        dev: attach.dev,
        sgt,
        dir,
        attrs: 0,
        unmapped: false,
        attach,
      };
      return { object, text: `${sgt.nents} DMA segment(s)` };
    },
  });
}

function unmapOp(name: "dma_buf_unmap_attachment" | "dma_buf_unmap_attachment_unlocked"): OpDef {
  const unlocked = name.endsWith("_unlocked");
  return L.op({
    name,
    summary: `unmap what ${name.replace("unmap", "map")} mapped`,
    args: { map: L.ref("sg_mapping") },
    primary: "map",
    run: async (_ctx, { map: m }, names) => {
      if (!isDmaBufMap(m) || m.unmapped) {
        throw new KernelError("EINVAL", `${names.map} is not a live dma-buf mapping`);
      }
      const unmap = unlocked ? dmaBufUnmapAttachmentUnlocked : dmaBufUnmapAttachment;
      await unmap(m.attach, m.sgt, m.dir);
      m.unmapped = true;
    },
  });
}

function cpuAccessOp(name: "dma_buf_begin_cpu_access" | "dma_buf_end_cpu_access"): OpDef {
  const begin = name === "dma_buf_begin_cpu_access";
  return L.op({
    name,
    summary: begin
      ? "kernel CPU access begins: the exporter's sync for the CPU, then the fence wait"
      : "kernel CPU access ends: the exporter's sync for the devices",
    args: { buf: L.ref("dma_buf"), dir: dirSchema },
    run: async (_ctx, { buf, dir }) => {
      await (begin ? dmaBufBeginCpuAccess : dmaBufEndCpuAccess)(buf, DMA_DIRECTIONS[dir]);
    },
  });
}

function vmapOp(name: "dma_buf_vmap" | "dma_buf_vmap_unlocked"): OpDef {
  const unlocked = name.endsWith("_unlocked");
  return L.op({
    name,
    summary: unlocked
      ? "kernel mapping of a whole dma-buf, taking the reservation lock (6.2+); a mapping for cpu_read / cpu_write"
      : "kernel mapping of a whole dma-buf (6.2+: the caller holds the reservation lock); a mapping for cpu_*",
    args: { buf: L.ref("dma_buf") },
    primary: "buf",
    produces: "mapping",
    requiresAs: true,
    run: async (_ctx, { buf }) => {
      const map = await (unlocked ? dmaBufVmapUnlocked : dmaBufVmap)(buf, iosysMapInit());
      if (map.vaddr === null) {
        throw new KernelError("ENOMEM", `${name}: the exporter gave no mapping`);
      }
      const object: DmaBufVmapObject = {
        kind: "vmap",
        segments: [{ va: map.vaddr, len: buf.size }],
        size: buf.size,
        prot: "cacheable",
        buf,
        map,
        unmapped: false,
      };
      return { object, text: `va 0x${map.vaddr.toString(16)}` };
    },
  });
}

function vunmapOp(name: "dma_buf_vunmap" | "dma_buf_vunmap_unlocked"): OpDef {
  const unlocked = name.endsWith("_unlocked");
  return L.op({
    name,
    summary: `remove what ${name.replace("vunmap", "vmap")} mapped`,
    args: { mapping: L.ref("mapping") },
    primary: "mapping",
    run: async (_ctx, { mapping: m }, names) => {
      if (!isDmaBufVmap(m) || m.unmapped) {
        throw new KernelError("EINVAL", `${names.mapping} is not a live dma-buf vmap`);
      }
      await (unlocked ? dmaBufVunmapUnlocked : dmaBufVunmap)(m.buf, m.map);
      m.unmapped = true;
    },
  });
}

/** An attach operation: a static importer, or a dynamic one with move_notify. */
function attachOp(
  name: string,
  summary: string,
  attach: (buf: DmaBuf, dev: Device) => Promise<DmaBufAttachment>,
  text?: (a: DmaBufAttachment) => string,
): OpDef {
  return L.op({
    name,
    summary,
    args: { buf: L.ref("dma_buf"), device: L.ref("device") },
    produces: "dma_buf_attachment",
    requiresAs: true,
    run: async (_ctx, { buf, device }) => {
      const object = await attach(buf, device);
      return text ? { object, text: text(object) } : { object };
    },
  });
}

/** An ioctl on a dma-buf fd. */
function ioctl(o: FdObject, cmd: number, arg: unknown): Promise<unknown> {
  return o.process.ioctl(o.fd, cmd, arg);
}

/** References, fds and attachments. **Kernel:** drivers/dma-buf/dma-buf.c. */
const BUFFER_OPS: readonly OpDef[] = [
  L.op({
    name: "dma_buf_fd",
    summary:
      "install a dma-buf in a process as an fd (consumes a reference: take one with dma_buf_get first if still needed)",
    args: {
      buf: L.ref("dma_buf"),
      process: z.string().optional(),
      cloexec: z.boolean().optional(),
    },
    primary: "buf",
    produces: "fd",
    requiresAs: true,
    run: (ctx, a) => {
      const process = ctx.process(a.process);
      return fdResult(process, dmaBufFd(a.buf, a.cloexec ? O_CLOEXEC : 0, process));
    },
  }),
  L.op({
    name: "dma_buf_get",
    summary: "take a reference to the dma-buf behind an fd (EBADF, EINVAL if not a dma-buf)",
    args: { fd: L.ref("fd") },
    primary: "fd",
    produces: "dma_buf",
    requiresAs: true,
    run: (_ctx, { fd }) => ({ object: dmaBufGet(fd.process, fd.fd) }),
  }),
  L.objectOp({
    name: "dma_buf_put",
    summary: "drop a reference to a dma-buf (the last one releases it)",
    arg: "buf",
    type: "dma_buf",
    run: (b) => dmaBufPut(b),
  }),
  attachOp("dma_buf_attach", "attach a device as a static importer", dmaBufAttach),
  attachOp(
    "dma_buf_dynamic_attach",
    "attach a device as a dynamic importer (importer_ops with move_notify, 5.7+); 5.7-6.15: a static exporter is mapped BIDIRECTIONAL at attach and cached",
    (buf, dev) => dmaBufDynamicAttach(buf, dev, { moveNotify: () => undefined }),
    (at) => (at.sgt ? "mapped at attach (cached)" : "not mapped"),
  ),
  L.objectOp({
    name: "dma_buf_detach",
    summary: "detach an attachment",
    arg: "attachment",
    type: "dma_buf_attachment",
    run: (at) => dmaBufDetach(at.dmabuf, at),
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
];

/** The uapi on a dma-buf fd: mmap and the ioctls. **Kernel:** include/uapi/linux/dma-buf.h. */
const UAPI_OPS: readonly OpDef[] = [
  L.op({
    name: "dma_buf_mmap",
    summary:
      "mmap(2) a dma-buf fd MAP_SHARED (write: PROT_WRITE too); a user mapping for cpu_read / cpu_write",
    args: { fd: L.ref("fd"), write: z.boolean().optional() },
    primary: "fd",
    produces: "mapping",
    requiresAs: true,
    run: async (_ctx, { fd, write }) => {
      const b = dmaBufGet(fd.process, fd.fd);
      const size = b.size;
      dmaBufPut(b);
      const prot = PROT_READ | (write ? PROT_WRITE : 0);
      const vma = await fd.process.mmap(size, prot, MAP_SHARED, fd.fd);
      const object: MappingObject = {
        kind: "user",
        segments: [{ va: vma.start, len: size }],
        size,
        proc: fd.process,
        prot: vma.pageProt,
      };
      return { object, text: `va 0x${vma.start.toString(16)}` };
    },
  }),
  L.op({
    name: "dma_buf_ioctl_sync",
    summary:
      "DMA_BUF_IOCTL_SYNC on an fd: START (default) or END (`end: true`) of READ, WRITE or RW access",
    args: { fd: L.ref("fd"), access: accessSchema, end: z.boolean().optional() },
    run: async (_ctx, { fd, access, end }) => {
      const flags = ACCESS[access] | (end ? DMA_BUF_SYNC_END : DMA_BUF_SYNC_START);
      await ioctl(fd, DMA_BUF_IOCTL_SYNC, { flags });
    },
  }),
  L.op({
    name: "dma_buf_set_name",
    summary: "DMA_BUF_SET_NAME on an fd (EBUSY while attached, on the kernels that had that rule)",
    args: { fd: L.ref("fd"), name: z.string() },
    run: async (_ctx, { fd, name }) => {
      await ioctl(fd, DMA_BUF_SET_NAME, name);
    },
  }),
  L.op({
    name: "dma_buf_export_sync_file",
    summary:
      "DMA_BUF_IOCTL_EXPORT_SYNC_FILE: a sync_file fd of the fences a CPU access of `access` must wait for",
    args: { fd: L.ref("fd"), access: accessSchema },
    produces: "fd",
    requiresAs: true,
    run: async (_ctx, { fd, access }) => {
      const arg: DmaBufExportSyncFile = { flags: ACCESS[access], fd: -1 };
      await ioctl(fd, DMA_BUF_IOCTL_EXPORT_SYNC_FILE, arg);
      return fdResult(fd.process, arg.fd);
    },
  }),
  L.op({
    name: "dma_buf_import_sync_file",
    summary:
      "DMA_BUF_IOCTL_IMPORT_SYNC_FILE: add a sync_file's fences to the buffer as readers (READ) or a writer (WRITE)",
    args: { fd: L.ref("fd"), sync_file: L.ref("fd"), access: accessSchema },
    run: async (_ctx, { fd, sync_file, access }) => {
      const arg: DmaBufImportSyncFile = { flags: ACCESS[access], fd: sync_file.fd };
      await ioctl(fd, DMA_BUF_IOCTL_IMPORT_SYNC_FILE, arg);
    },
  }),
];

/** What an exporter and the debug interfaces do. **Kernel:** drivers/dma-buf/dma-buf.c. */
const EXPORTER_OPS: readonly OpDef[] = [
  L.objectOp({
    name: "dma_buf_pin",
    summary: "pin the buffer in place for an attachment (the reservation lock must be held)",
    arg: "attachment",
    type: "dma_buf_attachment",
    run: (at) => dmaBufPin(at),
  }),
  L.objectOp({
    name: "dma_buf_unpin",
    summary: "drop a pin (the reservation lock must be held)",
    arg: "attachment",
    type: "dma_buf_attachment",
    run: (at) => dmaBufUnpin(at),
  }),
  L.objectOp({
    name: "dma_buf_move_notify",
    summary:
      "the exporter tells dynamic importers their mappings are moving (reservation lock held)",
    arg: "buf",
    type: "dma_buf",
    run: (b) => dmaBufMoveNotify(b),
  }),
  L.objectOp({
    name: "dma_buf_invalidate_mappings",
    summary:
      "latest kernels: the exporter revokes importers' mappings (the successor of move_notify)",
    arg: "buf",
    type: "dma_buf",
    run: (b) => dmaBufInvalidateMappings(b),
  }),
  L.op({
    name: "dma_buf_bufinfo",
    summary:
      "value: the text of debugfs dma_buf/bufinfo (every buffer, its attachments and fences)",
    args: {},
    run: async (ctx) => {
      const text = await dmaBufDebugfsBufinfo(ctx.kernel);
      return { value: text, text: `${text.split("\n").length} lines` };
    },
  }),
  L.op({
    name: "dma_buf_resv",
    summary: "the buffer's reservation object (`dmabuf->resv`), for the dma_resv_* operations",
    args: { buf: L.ref("dma_buf") },
    primary: "buf",
    produces: "resv",
    requiresAs: true,
    run: (_ctx, { buf }) => ({ object: buf.resv }),
  }),
];

/** The dma-buf operations. **Kernel:** drivers/dma-buf/dma-buf.c and its uapi. */
export const DMA_BUF_OPS: readonly OpDef[] = [...BUFFER_OPS, ...UAPI_OPS, ...EXPORTER_OPS];

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
