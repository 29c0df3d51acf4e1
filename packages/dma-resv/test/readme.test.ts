import { expect, it } from "vitest";
import { main } from "../examples/readme";

it("the README example runs: the reader waits for the writer's fence", async () => {
  const r = await main();
  expect(r.waited).toBeGreaterThan(0);
  expect(r.waited).toBeLessThan(100);
  expect(r.exportedSignaled).toBe(true);
  expect(r.findings).toBe(0);
});
