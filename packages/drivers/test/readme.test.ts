import { expect, it } from "vitest";
import { main } from "../examples/readme";

it("the README example runs: the display shows the captured frame, nothing is found", async () => {
  expect(await main()).toEqual({ shown: [0xc3, 0xc3, 0xc3, 0xc3], findings: [] });
});
