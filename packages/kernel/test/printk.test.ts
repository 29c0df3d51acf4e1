import { describe, expect, it } from "vitest";
import {
  Dmesg,
  KERN_DEBUG,
  KERN_EMERG,
  KERN_ERR,
  KERN_INFO,
  KERN_WARNING,
  Kernel,
  msleep,
} from "../src/index";

describe("printk / dmesg", () => {
  it("levels are the kern_levels.h numbers", () => {
    expect([KERN_EMERG, KERN_ERR, KERN_WARNING, KERN_INFO, KERN_DEBUG]).toEqual([0, 3, 4, 6, 7]);
  });

  it("records level, simulated time and the printing thread; splits lines", async () => {
    const k = new Kernel();
    k.printk(KERN_INFO, "booted");
    k.clock.advance(1_234_567_890);
    k.printk(KERN_ERR, "line one\nline two");
    await k.run({
      worker: async () => {
        await msleep(k, 2);
        k.printk(KERN_DEBUG, "from worker");
      },
    });
    expect(k.dmesg.records).toEqual([
      { level: 6, ns: 0, thread: "init", text: "booted" },
      { level: 3, ns: 1_234_567_890, thread: "init", text: "line one" },
      { level: 3, ns: 1_234_567_890, thread: "init", text: "line two" },
      { level: 7, ns: 1_236_567_890, thread: "worker", text: "from worker" },
    ]);
  });

  it("formats like dmesg: [%5lu.%06lu] text, optionally filtered by level", () => {
    const k = new Kernel();
    k.printk(KERN_INFO, "hello");
    k.clock.advance(12_345_678_901);
    k.printk(KERN_WARNING, "warned");
    k.printk(KERN_DEBUG, "noise");
    expect(k.dmesg.format()).toBe(
      "[    0.000000] hello\n[   12.345678] warned\n[   12.345678] noise",
    );
    expect(k.dmesg.format(KERN_WARNING)).toBe("[   12.345678] warned");
  });

  it("a Dmesg can be used on its own", () => {
    let t = 0;
    const d = new Dmesg(
      () => t,
      () => "me",
    );
    d.printk(KERN_ERR, "a");
    t = 1500;
    d.printk(KERN_ERR, "b");
    expect(d.records.map((r) => [r.ns, r.thread])).toEqual([
      [0, "me"],
      [1500, "me"],
    ]);
    expect(d.format()).toBe("[    0.000000] a\n[    0.000001] b");
  });
});
