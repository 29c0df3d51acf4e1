/**
 * Kernel history as data: every behaviour the kernel changed over time is an era entry, named
 * once with its boundary (the first release that has it, and the first that no longer does) and
 * the commit or release that drew the line. A layer declares its table with {@link defineEras} and
 * hands it to the kernel in its {@link KernelModule} (`eras`); code asks the entry, never the
 * version (`era.cacheSgt(kernel)`, not a version comparison), and `dmasim list kernels` is printed
 * from the tables ({@link kernelHistory}).
 *
 * **Kernel:** the `LINUX_VERSION_CODE` boundaries of the code paths each layer mirrors.
 *
 * @module
 */
import { KernelError } from "./errno";
import { KERNEL_PROFILES, KernelVersion, compareVersions, type KernelProfile } from "./version";

/** The layer an era entry belongs to (the package that owns the behaviour). */
export type EraLayer =
  "kernel" | "hardware" | "dma-mapping" | "dma-resv" | "dma-buf" | "heaps" | "drivers";

/** The layers in the order `dmasim list kernels` prints them. */
export const ERA_LAYERS: readonly EraLayer[] = [
  "kernel",
  "hardware",
  "dma-mapping",
  "dma-resv",
  "dma-buf",
  "heaps",
  "drivers",
];

/** What an entry says about itself, as written in a table. */
export interface EraSpec {
  /** The first release with the behaviour (`"5.6"`, `"latest"`); omitted: since the oldest. */
  readonly since?: string;
  /** The first release without it; omitted: still there on `latest`. */
  readonly until?: string;
  /** One line: what the behaviour is (printed by `dmasim list kernels`). */
  readonly summary: string;
  /** The commit(s) or release that drew the boundary, e.g. `b72f66f22c0e (v6.16)`. */
  readonly citation: string;
}

/** An era entry as registered: its name and layer beside what the table says. */
export interface EraInfo extends EraSpec {
  /** The entry's name in its table (camelCase), unique within the layer. */
  readonly name: string;
  readonly layer: EraLayer;
}

/** Anything that knows the version it runs as: a `Kernel`, or the version itself. */
export type HasVersion = KernelVersion | { readonly version: KernelVersion };

/**
 * One era entry: ask it whether a kernel is inside the era (`entry(kernel)`), read its metadata
 * (`entry.since`, `entry.citation`, …).
 *
 * **Kernel:** `#if LINUX_VERSION_CODE >= KERNEL_VERSION(...)` around one behaviour.
 */
export type Era = ((k: HasVersion) => boolean) & EraInfo;

/** A layer's era table, entries by name. */
export type EraTable<K extends string> = { readonly [P in K]: Era };

function versionOf(k: HasVersion): KernelVersion {
  return k instanceof KernelVersion ? k : k.version;
}

function checkBound(layer: string, name: string, v: string | undefined): void {
  if (v === undefined) {
    return;
  }
  if (v !== "latest" && !/^\d+\.\d+$/.test(v)) {
    throw new KernelError(
      "EINVAL",
      `era ${layer}.${name}: "${v}" is not a version (MAJOR.MINOR or "latest")`,
    );
  }
}

function makeEra(layer: EraLayer, name: string, spec: EraSpec): Era {
  checkBound(layer, name, spec.since);
  checkBound(layer, name, spec.until);
  if (spec.since === undefined && spec.until === undefined) {
    throw new KernelError("EINVAL", `era ${layer}.${name}: neither since nor until`);
  }
  if (!spec.citation.trim() || !spec.summary.trim()) {
    throw new KernelError("EINVAL", `era ${layer}.${name}: summary and citation are required`);
  }
  const test = (k: HasVersion): boolean => versionOf(k).between(spec.since, spec.until);
  Object.defineProperty(test, "name", { value: name });
  return Object.assign(test, { layer, ...spec }) as unknown as Era;
}

/**
 * Declare a layer's era table: each entry named once, with its boundary and citation.
 *
 * **Kernel:** none (the table of a layer's version-dependent code paths).
 *
 * **Locking:** none (pure; tables are immutable).
 *
 * @throws {@link KernelError} `EINVAL` for a bound that is not a version, an entry with neither
 * bound, or a missing summary or citation
 */
export function defineEras<K extends string>(
  layer: EraLayer,
  specs: { readonly [P in K]: EraSpec },
): EraTable<K> {
  const table = {} as Record<K, Era>;
  for (const name of Object.keys(specs) as K[]) {
    table[name] = makeEra(layer, name, specs[name]);
  }
  return Object.freeze(table);
}

/** What changed at one profile: entries that begin there and entries that end there. */
export interface KernelChange {
  readonly profile: KernelProfile;
  /** Entries whose era starts after the previous profile and at or before this one. */
  readonly began: readonly EraInfo[];
  /** Entries whose era ended after the previous profile and at or before this one. */
  readonly ended: readonly EraInfo[];
}

function inWindow(bound: string | undefined, prev: string | undefined, cur: string): boolean {
  if (bound === undefined) {
    return false;
  }
  return (
    (prev === undefined || compareVersions(bound, prev) > 0) && compareVersions(bound, cur) <= 0
  );
}

/**
 * The history of every registered era, per kernel profile: what began and what ended between the
 * previous profile and this one (the oldest profile lists what began at or before it). Entries
 * keep their layer, so a caller can group them.
 *
 * **Kernel:** none (documentation generated from the era tables).
 *
 * **Locking:** none (pure).
 *
 * @throws {@link KernelError} `EEXIST` when two tables register the same layer and name
 */
export function kernelHistory(tables: readonly (readonly Era[])[]): KernelChange[] {
  const seen = new Set<string>();
  const all: Era[] = [];
  for (const t of tables) {
    for (const e of t) {
      const key = `${e.layer}.${e.name}`;
      if (seen.has(key)) {
        if (all.some((x) => x === e)) {
          continue;
        }
        throw new KernelError("EEXIST", `era ${key} is registered twice`);
      }
      seen.add(key);
      all.push(e);
    }
  }
  return KERNEL_PROFILES.map((profile, i) => {
    const prev = i === 0 ? undefined : KERNEL_PROFILES[i - 1]!.name;
    return {
      profile,
      began: all.filter((e) => inWindow(e.since, prev, profile.name)),
      ended: all.filter((e) => inWindow(e.until, prev, profile.name)),
    };
  });
}
