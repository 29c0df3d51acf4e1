/**
 * The GPU device: its DMA device, its VRAM budget, its fence timeline and its job list.
 *
 * **Kernel:** a simplified amdgpu_device.c / amdgpu_drv.c (probe) with TTM's VRAM manager.
 *
 * dmasim has no device-local memory, so VRAM is RAM pages counted against the device's VRAM
 * budget: a BO "in VRAM" is reached by other devices as a peer (`dma_map_resource()`, no struct
 * page handed out) and is evicted to system memory under pressure. A BO in system memory (GTT) is
 * an ordinary page array mapped for the GPU through the DMA API.
 *
 * @module
 */
import {
  defineSubsys,
  spinLockInit,
  type Kernel,
  type KernelModule,
  type Spinlock,
} from "@dmasim/kernel";
import { getMachine, type Device, type Machine } from "@dmasim/hardware";
import { dmaFenceContextAlloc, type DmaFence } from "@dmasim/dma-resv";
import { DRIVERS_MODULE } from "../module";
import type { GpuBo } from "./gpu_object";
import type { GpuJob } from "./gpu_job";

/** Options of {@link gpuProbe}. */
export interface GpuProbeOptions {
  /** VRAM size in pages (default 16). */
  readonly vramPages?: number;
}

/**
 * One GPU. **Kernel:** `struct amdgpu_device` (the parts the buffer-sharing paths use).
 *
 * **Locking:** `vramUsed` and the LRU change under the BO's reservation lock of the BO that moves;
 * the simulator runs one thread at a time between scheduling points.
 */
export class GpuDevice {
  /** Pages of VRAM in use. */
  vramUsed = 0;
  /** BOs in VRAM, least recently used first (the eviction order). */
  readonly vramLru: GpuBo[] = [];
  /** The fence timeline of the GPU's ring. */
  readonly fenceContext: number;
  /** The next seqno on the ring. */
  seqno = 1;
  /** The lock of every fence of the ring. */
  readonly fenceLock: Spinlock;
  /** Jobs submitted and not yet run, in submission order. */
  readonly pending: GpuJob[] = [];
  /** Jobs that ran and still hold their references (freed by `gpuRetire`). */
  readonly retiring: GpuJob[] = [];
  /** BOs not freed yet (live, or released and waiting on the delayed-destroy list). */
  readonly bos = new Set<GpuBo>();
  /**
   * Released BOs whose reservation object still had unsignaled fences: freed when the last one
   * signals. **Kernel:** the BOs queued for TTM's delayed delete (`bo->deleted`).
   */
  readonly ddestroy: GpuBo[] = [];

  constructor(
    readonly kernel: Kernel,
    readonly m: Machine,
    readonly dev: Device,
    readonly vramPages: number,
  ) {
    this.fenceContext = dmaFenceContextAlloc(kernel, 1);
    this.fenceLock = spinLockInit(kernel, `${dev.name}->fence_lock`, "gpu_fence_lock");
  }

  /** The device's name. */
  get name(): string {
    return this.dev.name;
  }
}

/**
 * @internal per-kernel state of the GPU driver: every job by its fence (jobs of all GPUs), and
 * every GPU probed (for the end-of-run leak check).
 */
export interface GpuState {
  readonly jobs: Map<DmaFence, GpuJob>;
  readonly devices: GpuDevice[];
}

/** @internal */
export const GPU_SUBSYS = defineSubsys<GpuState>(
  "@dmasim/drivers:gpu",
  () => ({ jobs: new Map(), devices: [] }),
  DRIVERS_MODULE as KernelModule,
);

/**
 * Probe a GPU on a hardware device (made with the hardware layer's `addDevice`).
 *
 * **Kernel:** `amdgpu_pci_probe()` / `amdgpu_device_init()` (VRAM manager init).
 *
 * **Locking:** process context.
 *
 * @throws {@link KernelError} `ENODEV` when the kernel has no machine
 */
export function gpuProbe(kernel: Kernel, dev: Device, opts: GpuProbeOptions = {}): GpuDevice {
  const state = kernel.subsys(GPU_SUBSYS);
  const gpu = new GpuDevice(kernel, getMachine(kernel), dev, opts.vramPages ?? 16);
  state.devices.push(gpu);
  return gpu;
}
