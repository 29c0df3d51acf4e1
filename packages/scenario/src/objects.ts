/**
 * The objects a scenario names: what a step stores with `as:` (and a section such as `devices:`
 * makes), by type name. {@link ObjectTypes} maps each type name to its TypeScript type; operations
 * state the type of each object they use once, with `ref("dma_buf")`, and receive the object.
 *
 * @module
 */
import type { Device, Page } from "@dmasim/hardware";
import type { DmaDataDirection, SgTable } from "@dmasim/dma-mapping";
import type { DmaFence, DmaResv, WwAcquireCtx, WwClass, WwMutex } from "@dmasim/dma-resv";
import type { DmaBuf, DmaBufAttachment, IosysMap } from "@dmasim/dma-buf";
import type {
  Camera,
  Decoder,
  DecoderBuffer,
  Display,
  DisplayFb,
  GpuBo,
  GpuDevice,
  GpuImport,
  GpuJob,
} from "@dmasim/drivers";
import {
  KernelError,
  type Completion,
  type Mutex,
  type PageProt,
  type Process,
  type Spinlock,
} from "@dmasim/kernel";

/** An open file descriptor of a scenario process. */
export interface FdObject {
  readonly process: Process;
  readonly fd: number;
}

/** An allocation of pages: one high-order block, or several scattered pages. */
export interface PagesObject {
  readonly pages: readonly Page[];
  /** Pages per entry (1 << order). */
  readonly order: number;
  readonly size: number;
}

/** A CPU view of memory: the linear map, a vmap, or a user mapping; contiguous in virtual space or not. */
export interface MappingObject {
  readonly kind: "linear" | "vmap" | "user";
  readonly segments: readonly { readonly va: number; readonly len: number }[];
  readonly size: number;
  readonly proc?: Process;
  readonly prot: PageProt;
}

/** A kernel mapping made by dma_buf_vmap: usable as `mapping:` by cpu_read / cpu_write. */
export interface DmaBufVmapObject extends MappingObject {
  readonly buf: DmaBuf;
  readonly map: IosysMap;
  unmapped: boolean;
}

/** A streaming or coherent mapping of one contiguous DMA range. */
export interface DmaMappingObject {
  readonly dev: Device;
  readonly kind: "single" | "page" | "coherent";
  readonly addr: number;
  readonly size: number;
  readonly dir: number;
  readonly attrs: number;
  /** Coherent allocations: the CPU address. */
  readonly cpuAddr?: number;
  unmapped: boolean;
}

/** An sg table mapped for a device. */
export interface SgMappingObject {
  readonly dev: Device;
  readonly sgt: SgTable;
  readonly dir: number;
  readonly attrs: number;
  unmapped: boolean;
}

/** A mapped attachment: usable as `dma:` by device_read / device_write. */
export interface DmaBufMapObject extends SgMappingObject {
  readonly dir: DmaDataDirection;
  readonly attach: DmaBufAttachment;
}

/** A fence timeline: a context number, the next seqno, and the lock its fences share (as a driver's ring has). */
export interface TimelineObject {
  readonly context: number;
  next: number;
  readonly name: string;
  readonly lock: Spinlock;
}

/**
 * Every object type a scenario may name, by the type name steps use (`ref("dma_buf")`, `produces:
 * "dma_buf"`). Your own operations may use more types: extend this interface
 * (`interface MyTypes extends ObjectTypes { carveout: Carveout }`) and pass it to
 * {@link scenarioLayer}`<MyTypes>(…)`.
 */
export interface ObjectTypes {
  // @dmasim/kernel
  mutex: Mutex;
  spinlock: Spinlock;
  completion: Completion;
  fd: FdObject;
  // @dmasim/hardware
  device: Device;
  pages: PagesObject;
  mapping: MappingObject;
  // @dmasim/dma-mapping
  dma_mapping: DmaMappingObject;
  sg_table: SgTable;
  sg_mapping: SgMappingObject;
  // @dmasim/dma-resv
  ww_class: WwClass;
  ww_mutex: WwMutex;
  ww_ctx: WwAcquireCtx;
  fence_timeline: TimelineObject;
  fence: DmaFence;
  resv: DmaResv;
  // @dmasim/dma-buf
  dma_buf: DmaBuf;
  dma_buf_attachment: DmaBufAttachment;
  // @dmasim/drivers
  gpu: GpuDevice;
  gpu_bo: GpuBo;
  gpu_import: GpuImport;
  gpu_job: GpuJob;
  camera: Camera;
  display: Display;
  display_fb: DisplayFb;
  decoder: Decoder;
  decoder_buffer: DecoderBuffer;
}

/** One named object: its type name and its value. */
export interface NamedObject {
  readonly type: string;
  readonly value: unknown;
}

/**
 * The named objects of a run: what steps stored with `as:` and sections made.
 *
 * **Kernel:** none (the scenario's symbol table).
 *
 * **Locking:** none.
 */
export class ObjectTable {
  private readonly objects = new Map<string, NamedObject>();

  /** Store `value` as `name`. */
  set(name: string, type: string, value: unknown): void {
    this.objects.set(name, { type, value });
  }

  /**
   * The object `name`, with whichever of `types` it has. Operations do not call this: they state
   * their objects with `ref()` and receive them resolved.
   *
   * @throws {@link KernelError} `ENOENT` when no step has stored it yet (a thread used it before
   * another thread made it), `EINVAL` when it has another type
   */
  get(name: string, types: readonly string[]): NamedObject {
    const o = this.objects.get(name);
    const want = types.join(" or ");
    if (!o) {
      throw new KernelError("ENOENT", `no ${want} named "${name}" exists yet`);
    }
    if (!types.includes(o.type)) {
      throw new KernelError("EINVAL", `"${name}" is a ${o.type}, not a ${want}`);
    }
    return o;
  }

  /** Whether `name` exists. */
  has(name: string): boolean {
    return this.objects.has(name);
  }

  /** Every object, in creation order. */
  entries(): [string, NamedObject][] {
    return [...this.objects.entries()];
  }
}
