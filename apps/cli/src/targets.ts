/**
 * `--kernel` and `--platform` values: checked against what dmasim models (with did-you-mean), and
 * expanded for a matrix (`all`, or a comma list).
 */
import { PLATFORM_PRESETS } from "@dmasim/hardware";
import { KERNEL_PROFILES } from "@dmasim/kernel";
import { UsageError } from "./io";
import { oneOf } from "./suggest";

/** Every kernel version dmasim can run as, oldest first. */
export function kernelNames(): string[] {
  return KERNEL_PROFILES.map((p) => p.name);
}

/** Every platform preset. */
export function platformNames(): string[] {
  return Object.keys(PLATFORM_PRESETS);
}

/**
 * One kernel version, checked.
 *
 * @throws {@link UsageError} for a version dmasim does not model (naming the closest)
 */
export function checkKernel(flag: string, v: string): string {
  return oneOf(flag, "kernel version", v, kernelNames());
}

/**
 * One platform preset, checked.
 *
 * @throws {@link UsageError} for an unknown preset (naming the closest)
 */
export function checkPlatform(flag: string, v: string): string {
  return oneOf(flag, "platform", v, platformNames());
}

/**
 * The values of a flag that may name several: `all`, or a comma-separated list, each checked.
 * Undefined when the flag was not given.
 *
 * @throws {@link UsageError} for an empty item or an unknown value
 */
export function expandList(
  flag: string,
  v: string | undefined,
  all: () => string[],
  check: (flag: string, v: string) => string,
): string[] | undefined {
  if (v === undefined) {
    return undefined;
  }
  if (v === "all") {
    return all();
  }
  const items = v.split(",").map((s) => s.trim());
  if (items.some((s) => s === "")) {
    throw new UsageError(`${flag} ${JSON.stringify(v)}: expected a value, a comma list or all`);
  }
  return [...new Set(items.map((s) => check(flag, s)))];
}
