import { Kernel, PAGE_SIZE } from "@dmasim/kernel";
import { GFP_KERNEL, allocPages, cpuWrite, createMachine, dcacheCleanPoc, dcacheInvalPoc, pageAddress, pageToPhys } from "../src/index";
const MiB = 1024 * 1024;
const which = process.argv[2];
if (which === "cpu") {
  const src = new Uint8Array(4 * MiB).fill(3);
  for (let rep = 0; rep < 3; rep++) {
    const k = new Kernel();
    const m = createMachine(k, "arm64-soc", { allocChoices: 1 });
    const t = performance.now();
    for (let i = 0; i < 16; i++) {
      const p = allocPages(m, 10, GFP_KERNEL)!;
      cpuWrite(m, pageAddress(m, p), src);
    }
    console.log("cpu 64MiB", (performance.now() - t).toFixed(1));
  }
} else {
  const k = new Kernel();
  const m = createMachine(k, "arm64-soc", { allocChoices: 1, cachePolicy: { name: "none" } });
  const base = m.config.ramBase + 512 * MiB;
  const va0 = pageAddress(m, m.pageAlloc.page(base / PAGE_SIZE));
  const line = new Uint8Array(64).fill(7);
  let total = 0;
  for (let it = 0; it < 300; it++) {
    for (let i = 0; i < 100; i++) cpuWrite(m, va0 + Math.floor((i * MiB) / 100 / 64) * 64, line);
    const t = performance.now();
    dcacheCleanPoc(m, va0, va0 + MiB);
    dcacheInvalPoc(m, va0, va0 + MiB);
    total += performance.now() - t;
  }
  console.log("maint", ((total / 300) * 1000).toFixed(0), "us");
  void pageToPhys;
}
