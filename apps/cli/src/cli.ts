// The `dmasim` executable. Node 22+ keeps V8's compiled code of the bundle between runs
// (module.enableCompileCache); on Node 20 the call does not exist and nothing changes.
import module from "node:module";

(module as { enableCompileCache?: () => unknown }).enableCompileCache?.();
const { main } = await import("./main");
const code = await main(process.argv.slice(2), {
  out: (s) => process.stdout.write(s),
  err: (s) => process.stderr.write(s),
  isTTY: process.stdout.isTTY === true,
  errIsTTY: process.stderr.isTTY === true,
  columns: process.stderr.columns ?? 80,
  env: process.env,
});
process.exitCode = code;
