/**
 * printk and the dmesg ring: every message with its level, the simulated time and the thread.
 *
 * **Kernel:** kernel/printk/printk.c, include/linux/printk.h (`pr_err`, `pr_warn`, …).
 *
 * @module
 */

/** printk levels, as in include/linux/kern_levels.h (0 = KERN_EMERG … 7 = KERN_DEBUG). */
export const KERN_EMERG = 0;
/** **Kernel:** `KERN_ALERT`. */
export const KERN_ALERT = 1;
/** **Kernel:** `KERN_CRIT`. */
export const KERN_CRIT = 2;
/** **Kernel:** `KERN_ERR`. */
export const KERN_ERR = 3;
/** **Kernel:** `KERN_WARNING`. */
export const KERN_WARNING = 4;
/** **Kernel:** `KERN_NOTICE`. */
export const KERN_NOTICE = 5;
/** **Kernel:** `KERN_INFO`. */
export const KERN_INFO = 6;
/** **Kernel:** `KERN_DEBUG`. */
export const KERN_DEBUG = 7;

/** A printk level 0..7. */
export type LogLevel = 0 | 1 | 2 | 3 | 4 | 5 | 6 | 7;

/** One line of the log. **Kernel:** a `struct printk_record`. */
export interface DmesgRecord {
  readonly level: LogLevel;
  /** Simulated nanoseconds since boot. */
  readonly ns: number;
  /** The thread that printed it (its name). */
  readonly thread: string;
  readonly text: string;
}

/**
 * The log buffer of one kernel.
 *
 * **Kernel:** the printk ring buffer read by `dmesg`.
 *
 * **Locking:** none (printk may be called from any context, atomic included).
 */
export class Dmesg {
  readonly records: DmesgRecord[] = [];

  constructor(
    private readonly now: () => number,
    private readonly threadName: () => string,
  ) {}

  /** Append a message (several lines are split into records). **Kernel:** `printk()`. */
  printk(level: LogLevel, text: string): void {
    for (const line of text.split("\n")) {
      this.records.push({ level, ns: this.now(), thread: this.threadName(), text: line });
    }
  }

  /**
   * The log as `dmesg` prints it: `[    1.234567] text`, optionally only up to a level.
   */
  format(maxLevel: LogLevel = KERN_DEBUG): string {
    return this.records
      .filter((r) => r.level <= maxLevel)
      .map((r) => `${formatTimestamp(r.ns)} ${r.text}`)
      .join("\n");
  }
}

/** `[%5lu.%06lu]` as printk prints its timestamp. */
function formatTimestamp(ns: number): string {
  const sec = Math.floor(ns / 1e9);
  const usec = Math.floor((ns % 1e9) / 1e3);
  return `[${String(sec).padStart(5, " ")}.${String(usec).padStart(6, "0")}]`;
}
