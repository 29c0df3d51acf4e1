/**
 * Files the CLI reads and writes, with one-line usage errors (exit 2) instead of Node's stack
 * traces: a missing folder, a directory where a file was expected, an empty name, no permission.
 */
import { readFileSync, statSync, writeFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { UsageError } from "./io";

/** What a failed file system call says, in words (`ENOENT` -> "no such file or directory"). */
function reason(e: unknown): string {
  const code = (e as { code?: unknown }).code;
  switch (code) {
    case "ENOENT":
      return "no such file or directory";
    case "EACCES":
    case "EPERM":
      return "permission denied";
    case "EISDIR":
      return "is a directory";
    case "ENOTDIR":
      return "a part of the path is not a directory";
    case "ENOSPC":
      return "no space left on the device";
    case "EROFS":
      return "read-only file system";
    default:
      return typeof code === "string" ? code : e instanceof Error ? e.message : String(e);
  }
}

/**
 * Check, before anything runs, that `flag`'s file can be written: a non-empty name, in a folder
 * that exists, and not a directory itself.
 *
 * @throws {@link UsageError} when it cannot be
 */
export function checkOutputFile(flag: string, file: string): void {
  if (file.trim() === "") {
    throw new UsageError(`${flag} "": expected a file name`);
  }
  const dir = dirname(resolve(file));
  let dirStat;
  try {
    dirStat = statSync(dir);
  } catch {
    throw new UsageError(`${flag} ${file}: the folder ${dirname(file)} does not exist`);
  }
  if (!dirStat.isDirectory()) {
    throw new UsageError(`${flag} ${file}: ${dirname(file)} is not a folder`);
  }
  try {
    if (statSync(file).isDirectory()) {
      throw new UsageError(`${flag} ${file}: is a directory, expected a file name`);
    }
  } catch (e) {
    if (e instanceof UsageError) {
      throw e;
    }
    // it does not exist yet: fine
  }
}

/**
 * Write `text` to `flag`'s file.
 *
 * @throws {@link UsageError} when the file cannot be written (one line: which file, and why)
 */
export function writeOutputFile(flag: string, file: string, text: string): void {
  checkOutputFile(flag, file);
  try {
    writeFileSync(file, text);
  } catch (e) {
    throw new UsageError(`${flag} ${file}: cannot write: ${reason(e)}`);
  }
}

/**
 * Read an input file as text.
 *
 * @throws {@link UsageError} for a directory, a missing or an unreadable file
 */
export function readInputFile(file: string, what = "file"): string {
  try {
    if (statSync(file).isDirectory()) {
      throw new UsageError(`${file}: is a directory, expected a ${what}`);
    }
    return readFileSync(file, "utf8");
  } catch (e) {
    if (e instanceof UsageError) {
      throw e;
    }
    throw new UsageError(`${file}: cannot read: ${reason(e)}`);
  }
}

/** Whether `path` names something on disk (a file, a folder, anything `stat` answers for). */
export function exists(path: string): boolean {
  try {
    statSync(path);
    return true;
  } catch (e) {
    // EACCES on a parent still means "something is there that we cannot reach": report that
    return (e as { code?: unknown }).code !== "ENOENT";
  }
}
