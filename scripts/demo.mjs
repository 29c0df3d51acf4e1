// The Quick start's main job: list what dmasim models, then run a bundled bug and its fix.
// The bug's run reports a stale read and exits 1, the fix passes: the demo succeeds when both do
// what they should. Run after the CLI is built (`pnpm run demo` builds it first).
import { spawnSync } from "node:child_process";

const cli = ["apps/cli/bin/dmasim.cjs"];
const steps = [
  { args: ["list", "kernels"], want: 0 },
  { args: ["list", "platforms"], want: 0 },
  {
    args: ["run", "h1-skipped-invalidate"],
    want: 1,
    say: "the bug: a stale read (exit 1 is the expected verdict)",
  },
  { args: ["run", "h1-skipped-invalidate-fixed"], want: 0, say: "the fix" },
];
let ok = true;
for (const s of steps) {
  process.stdout.write(`\n$ dmasim ${s.args.join(" ")}${s.say ? `    # ${s.say}` : ""}\n`);
  const r = spawnSync(process.execPath, [...cli, ...s.args], { stdio: "inherit" });
  if (r.status !== s.want) {
    process.stderr.write(
      `demo: dmasim ${s.args.join(" ")} exited ${r.status}, expected ${s.want}\n`,
    );
    ok = false;
  }
}
process.stdout.write(ok ? "\ndemo: the bug was found and its fix passes.\n" : "\ndemo: FAILED\n");
process.exitCode = ok ? 0 : 1;
