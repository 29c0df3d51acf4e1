/**
 * What scenarios can use: the operations and top-level sections each layer contributes, and the
 * kernel modules whose options a scenario may set.
 *
 * @module
 */
import { CORE_MODULE, type KernelModule } from "@dmasim/kernel";
import type { OpContext, OpDef } from "./op";
import { DEVICE_PART } from "./ops/device";
import { DMA_BUF_PART } from "./ops/dma-buf";
import { DMA_MAPPING_PART } from "./ops/dma-mapping";
import { DMA_RESV_PART } from "./ops/dma-resv";
import { DRIVERS_PART } from "./ops/drivers";
import { HARDWARE_PART } from "./ops/hardware";
import { HEAPS_PART } from "./ops/heaps";
import { KERNEL_PART } from "./ops/kernel";
import type { SectionDef } from "./section";

/** Code a layer runs around steps. */
export interface RunHooks {
  /** After every step (e.g. the hardware's speculation point between operations). */
  afterStep?(ctx: OpContext): void;
  /** When every thread has ended (e.g. leak checks). */
  atEnd?(ctx: OpContext): void | Promise<void>;
}

/** The operations, sections and modules a scenario may use. */
export interface Registry {
  readonly ops: ReadonlyMap<string, OpDef>;
  readonly sections: ReadonlyMap<string, SectionDef>;
  readonly modules: readonly KernelModule[];
  readonly hooks: readonly RunHooks[];
}

/** One layer's contribution to a {@link Registry}. */
export interface RegistryPart {
  readonly ops?: readonly OpDef[];
  readonly sections?: readonly SectionDef[];
  readonly modules?: readonly KernelModule[];
  readonly hooks?: RunHooks;
}

/**
 * Build a registry from layers' parts.
 *
 * **Kernel:** none. **Locking:** none.
 *
 * @throws {@link Error} when two parts define the same operation or section
 */
export function createRegistry(parts: readonly RegistryPart[]): Registry {
  const ops = new Map<string, OpDef>();
  const sections = new Map<string, SectionDef>();
  const modules: KernelModule[] = [CORE_MODULE];
  const hooks: RunHooks[] = [];
  for (const part of parts) {
    if (part.hooks) {
      hooks.push(part.hooks);
    }
    for (const op of part.ops ?? []) {
      if (ops.has(op.name)) {
        throw new Error(`operation ${op.name} is defined twice`);
      }
      ops.set(op.name, op);
    }
    for (const s of part.sections ?? []) {
      if (sections.has(s.key)) {
        throw new Error(`section ${s.key} is defined twice`);
      }
      sections.set(s.key, s);
    }
    for (const m of part.modules ?? []) {
      if (!modules.includes(m)) {
        modules.push(m);
      }
    }
  }
  const ordered = new Map([...sections.entries()].sort((a, b) => a[1].order - b[1].order));
  return { ops, sections: ordered, modules, hooks };
}

/**
 * The registry of every layer dmasim has, and `extra` parts (your own operations and sections).
 *
 * **Kernel:** none. **Locking:** none.
 *
 * @throws {@link Error} when an extra part defines an operation or section again
 */
export function defaultRegistry(...extra: readonly RegistryPart[]): Registry {
  return createRegistry([
    KERNEL_PART,
    HARDWARE_PART,
    DMA_MAPPING_PART,
    DEVICE_PART,
    DMA_RESV_PART,
    DMA_BUF_PART,
    HEAPS_PART,
    DRIVERS_PART,
    ...extra,
  ]);
}
