/** Test helpers: a booted kernel with heaps, a process, and a vgem-like importer device. */
import { Kernel, isKernelError, type Finding, type Process } from "@dmasim/kernel";
import {
  addDevice,
  createMachine,
  type Device,
  type Machine,
  type PlatformConfig,
} from "@dmasim/hardware";
import { DMA_BIDIRECTIONAL, DMA_MAPPING_MODULE } from "@dmasim/dma-mapping";
import {
  DMA_BUF_MODULE,
  dmaBufAttach,
  dmaBufDetach,
  dmaBufGet,
  dmaBufMapAttachment,
  dmaBufMapAttachmentUnlocked,
  dmaBufUnmapAttachment,
  dmaBufPut,
  dmaBufUnmapAttachmentUnlocked,
} from "@dmasim/dma-buf";
import { HEAPS_MODULE, dmaHeapsInit, ionInit } from "../src/index";

export interface Booted {
  k: Kernel;
  m: Machine;
  app: Process;
}

/** A kernel of `version` on `platform` (no spontaneous cache events), heaps registered. */
export function boot(
  version: string,
  options: Record<string, boolean> = {},
  platform = "arm64-soc",
  overrides: Partial<PlatformConfig> = {},
): Booted {
  const k = new Kernel({
    version,
    modules: [DMA_MAPPING_MODULE, DMA_BUF_MODULE, HEAPS_MODULE],
    options,
  });
  const m = createMachine(k, platform, {
    cachePolicy: { name: "none" },
    allocChoices: 1,
    ...overrides,
  });
  dmaHeapsInit(k);
  ionInit(k);
  return { k, m, app: k.vfs.createProcess("app") };
}

/** The errno name a promise rejects with, or "ok". */
export async function errno(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return "ok";
  } catch (e) {
    if (isKernelError(e)) {
      return e.code;
    }
    throw e;
  }
}

/** Findings as "kind/code". */
export function codes(findings: readonly Finding[]): string[] {
  return findings.map((f) => `${f.kind}/${f.code}`);
}

/**
 * A vgem-like importer: `DRM_IOCTL_PRIME_FD_TO_HANDLE` gets the buffer, attaches the device and
 * maps it (as the DRM PRIME import does); the returned handle's close unmaps, detaches and puts.
 */
export async function vgemImport(
  app: Process,
  dev: Device,
  fd: number,
): Promise<{ close: () => Promise<void> }> {
  const buf = dmaBufGet(app, fd);
  const attach = await dmaBufAttach(buf, dev);
  // a static importer: the _unlocked variants from 6.2, the plain calls (no lock) before
  const locking = app.kernel.version.since("6.2");
  const sgt = locking
    ? await dmaBufMapAttachmentUnlocked(attach, DMA_BIDIRECTIONAL)
    : await dmaBufMapAttachment(attach, DMA_BIDIRECTIONAL);
  return {
    close: async () => {
      if (locking) {
        await dmaBufUnmapAttachmentUnlocked(attach, sgt, DMA_BIDIRECTIONAL);
      } else {
        await dmaBufUnmapAttachment(attach, sgt, DMA_BIDIRECTIONAL);
      }
      await dmaBufDetach(buf, attach);
      dmaBufPut(buf);
    },
  };
}

/**
 * A device named `vgem` (the importer the kselftest looks for), with a 64-bit mask and no
 * segment-size limit (`dma_set_max_seg_size(dev, UINT_MAX)`, as DRM drivers set).
 */
export function vgemDevice(m: Machine): Device {
  return addDevice(m, { name: "vgem", dmaMask: 64, maxSegmentSize: 0xffffffff });
}
