// The command line bound to the process (bin/dmasim.cjs loads the bundle of this file).
import { main } from "./main";

void main(process.argv.slice(2), {
  out: (s) => process.stdout.write(s),
  err: (s) => process.stderr.write(s),
  isTTY: process.stdout.isTTY === true,
  errIsTTY: process.stderr.isTTY === true,
  columns: process.stderr.columns ?? 80,
  env: process.env,
}).then((code) => {
  process.exitCode = code;
});
