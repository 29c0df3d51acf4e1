// Start-up time of the built CLI against `node -e 0` (the anchor): spawns each command N times,
// interleaved so that a busy machine slows every command alike, and prints the best and the median
// wall time of each and its ratio to the anchor's, and (on Linux) the mean CPU time of the child
// (user + system), which a machine busy with other work disturbs less. Figures only: it asserts
// nothing.
// Usage: node bench/startup.mjs [N] (after `pnpm build`).
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

const cli = fileURLToPath(new URL("../bin/dmasim.cjs", import.meta.url));
if (!existsSync(cli)) {
  process.stderr.write("bench: build the CLI first (pnpm build)\n");
  process.exit(2);
}
const n = Number(process.argv[2] ?? 15);
const commands = [
  ["node -e 0", ["-e", "0"]],
  ["dmasim --version", [cli, "--version"]],
  ["dmasim list kernels", [cli, "list", "kernels"]],
  ["dmasim list platforms", [cli, "list", "platforms"]],
  ["dmasim check lockdep-abba", [cli, "check", "lockdep-abba"]],
  ["dmasim run lockdep-abba", [cli, "run", "lockdep-abba"]],
  ["dmasim run h1-skipped-invalidate", [cli, "run", "h1-skipped-invalidate"]],
];
/** CPU time (ms) of the children waited for so far, from /proc (Linux), or NaN. */
function childrenCpuMs() {
  try {
    const fields = readFileSync("/proc/self/stat", "utf8").split(") ")[1].split(" ");
    // fields after the command: state is [0]; cutime and cstime are fields 16 and 17 of stat
    return ((Number(fields[13]) + Number(fields[14])) * 1000) / 100;
  } catch {
    return NaN;
  }
}
const times = commands.map(() => []);
const cpu = commands.map(() => 0);
for (let i = 0; i < n; i++) {
  commands.forEach(([, args], c) => {
    const c0 = childrenCpuMs();
    const t0 = process.hrtime.bigint();
    spawnSync(process.execPath, args, { stdio: "ignore" });
    times[c].push(Number(process.hrtime.bigint() - t0) / 1e6);
    cpu[c] += childrenCpuMs() - c0;
  });
}
const best = (xs) => Math.min(...xs);
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const anchorBest = best(times[0]);
const anchorMedian = median(times[0]);
const rows = commands.map(([name], c) => [
  name,
  `${best(times[c]).toFixed(0)} ms`,
  `${median(times[c]).toFixed(0)} ms`,
  `${(best(times[c]) / anchorBest).toFixed(2)}x`,
  `${(median(times[c]) / anchorMedian).toFixed(2)}x`,
  Number.isNaN(cpu[c]) ? "-" : `${(cpu[c] / n).toFixed(0)} ms`,
  Number.isNaN(cpu[c]) ? "-" : `${(cpu[c] / cpu[0]).toFixed(2)}x`,
]);
const header = ["command", "best", "median", "best/anchor", "median/anchor", "cpu", "cpu/anchor"];
const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
const line = (r) => r.map((x, i) => x.padEnd(widths[i])).join("  ");
process.stdout.write(`start-up, ${n} runs each (node ${process.version}); anchor: node -e 0\n`);
process.stdout.write(`${line(header)}\n${rows.map(line).join("\n")}\n`);
