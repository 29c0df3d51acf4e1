import { expect, it } from "vitest";
import { main } from "../examples/readme";

it("the README example runs: the application reads the camera's frame, nothing is found", async () => {
  const r = await main();
  expect(r.frame).toEqual([0x5a, 0x5a, 0x5a, 0x5a]);
  expect(r.findings).toEqual([]);
});
