/**
 * Named kernel options: CONFIG symbols (`CONFIG_DMA_API_DEBUG`) and named patches (proposals from
 * review that dmasim can apply, so that a bug and its fix run side by side).
 *
 * **Kernel:** Kconfig symbols and their `IS_ENABLED()` checks.
 *
 * Each layer defines its options with {@link defineOption} and hands them to the kernel through its
 * {@link KernelModule}; a kernel refuses a value for an option that no loaded module defines.
 *
 * @module
 */
import { KernelError } from "./errno";
import type { KernelVersion } from "./version";

/** What sort of option this is: a Kconfig symbol or a named patch. */
export type KernelOptionKind = "config" | "patch";

/** The definition of a named option. **Kernel:** a Kconfig entry, or a patch series from review. */
export interface KernelOptionDef {
  /** `CONFIG_*` for a config symbol; a short kebab-case name for a patch. */
  readonly name: string;
  readonly kind: KernelOptionKind;
  /** One line for `dmasim list options`. */
  readonly description: string;
  /** The value when a scenario says nothing; may depend on the kernel version. */
  readonly default: boolean | ((version: KernelVersion) => boolean);
  /** The package that defines it, e.g. `@dmasim/dma-mapping`. */
  readonly owner: string;
}

/**
 * Define an option (validates the name).
 *
 * **Kernel:** a Kconfig `config FOO` entry.
 *
 * **Locking:** none (pure).
 *
 * @throws {@link KernelError} `EINVAL` for a config option whose name does not start with `CONFIG_`
 */
export function defineOption(def: KernelOptionDef): KernelOptionDef {
  if (def.kind === "config" && !def.name.startsWith("CONFIG_")) {
    throw new KernelError("EINVAL", `config option "${def.name}" must be named CONFIG_*`);
  }
  if (def.kind === "patch" && !/^[a-z0-9][a-z0-9-]*$/.test(def.name)) {
    throw new KernelError("EINVAL", `patch option "${def.name}" must be kebab-case`);
  }
  return def;
}

/**
 * The option table of one kernel: definitions from the loaded modules and the values in force.
 *
 * **Kernel:** the build's .config.
 *
 * **Locking:** none; values are fixed when the kernel is created (a module loaded later adds its
 * definitions with their defaults, or with values given at creation).
 */
export class KernelOptions {
  private readonly defs = new Map<string, KernelOptionDef>();
  private readonly values = new Map<string, boolean>();

  constructor(
    private readonly version: KernelVersion,
    private readonly requested: Readonly<Record<string, boolean>>,
  ) {}

  /**
   * Add definitions (a module being loaded). Redefining a name with another owner is an error.
   *
   * @throws {@link KernelError} `EEXIST` when two modules define the same option
   */
  define(defs: readonly KernelOptionDef[]): void {
    for (const def of defs) {
      const old = this.defs.get(def.name);
      if (old) {
        if (old.owner !== def.owner) {
          throw new KernelError(
            "EEXIST",
            `option ${def.name} defined by ${old.owner} and ${def.owner}`,
          );
        }
        continue;
      }
      this.defs.set(def.name, def);
      const asked = this.requested[def.name];
      const dflt = typeof def.default === "function" ? def.default(this.version) : def.default;
      this.values.set(def.name, asked ?? dflt);
    }
  }

  /**
   * Whether option `name` is on. **Kernel:** `IS_ENABLED(CONFIG_FOO)`.
   *
   * @throws {@link KernelError} `EINVAL` for an option no loaded module defines
   */
  enabled(name: string): boolean {
    const v = this.values.get(name);
    if (v === undefined) {
      throw new KernelError(
        "EINVAL",
        `unknown kernel option "${name}" (known: ${[...this.defs.keys()].join(", ")})`,
      );
    }
    return v;
  }

  /** Whether a module has defined option `name`. */
  has(name: string): boolean {
    return this.defs.has(name);
  }

  /** Every defined option with its value, sorted by name. */
  list(): { def: KernelOptionDef; value: boolean }[] {
    return [...this.defs.values()]
      .sort((a, b) => a.name.localeCompare(b.name))
      .map((def) => ({ def, value: this.values.get(def.name) ?? false }));
  }

  /**
   * Names asked for at creation that no loaded module defines.
   */
  unknownRequested(): string[] {
    return Object.keys(this.requested).filter((n) => !this.defs.has(n));
  }
}
