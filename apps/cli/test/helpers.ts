import { Ajv2020 } from "ajv/dist/2020.js";
import { main, type Io } from "../src/main";
import { reportSchema } from "../src/report-schema";

/** An Io that keeps what the CLI writes. */
export function capture(
  over: Partial<Omit<Io, "out" | "err">> = {},
): Io & { stdout: string; stderr: string } {
  const io = {
    stdout: "",
    stderr: "",
    isTTY: false,
    ...over,
    out(s: string) {
      io.stdout += s;
    },
    err(s: string) {
      io.stderr += s;
    },
  };
  return io;
}

/** Run the CLI; its exit code and what it wrote. */
export async function cli(
  args: string[],
  over: Partial<Omit<Io, "out" | "err">> = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  const io = capture(over);
  const code = await main(args, io);
  return { code, stdout: io.stdout, stderr: io.stderr };
}

const ajv = new Ajv2020({ strict: false, allErrors: true });
const validate = ajv.compile(reportSchema());

/** Parse a --json output and check it against the published report schema. */
export function validJson<T = Record<string, unknown>>(text: string): T {
  const value = JSON.parse(text) as unknown;
  if (!validate(value)) {
    throw new Error(`not a valid report: ${ajv.errorsText(validate.errors)}`);
  }
  return value as T;
}

/** A JavaScript stack trace line. */
export const STACK = /\n\s+at .+:\d+/;
