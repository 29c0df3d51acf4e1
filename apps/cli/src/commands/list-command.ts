import type { Io } from "../io";
import { checkKernel, checkPlatform } from "../targets";
import { list } from "./list";

/** `dmasim list WHAT`: check `--kernel` and `--platform` (did-you-mean), then list. */
export async function listCommand(
  io: Io,
  what: string,
  opts: { kernel: string; platform: string },
): Promise<void> {
  checkKernel("--kernel", opts.kernel);
  checkPlatform("--platform", opts.platform);
  await list(io, what, opts);
}
