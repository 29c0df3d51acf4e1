import { describe, expect, it } from "vitest";
import { main } from "../examples/readme";

describe("README example", () => {
  it("the display reads what the compositor drew, and nothing is found", async () => {
    const r = await main();
    expect(r.heaps).toEqual(["/dev/dma_heap/system", "/dev/dma_heap/reserved"]);
    expect(r.pixels).toEqual([0xc0, 0xc0, 0xc0, 0xc0]);
    expect(r.findings).toEqual([]);
  });
});
