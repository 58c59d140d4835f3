// The command's one door to the operating system: files, the journal's file and lock, standard
// streams, arguments and signals, through node: modules, which Node, Bun and Deno all provide. The
// rest of the command uses the web platform only; this module is why it does not run on workerd,
// which has no file system.
import {
  closeSync,
  fstatSync,
  fsyncSync,
  ftruncateSync,
  openSync,
  readFileSync,
  readSync,
  unlinkSync,
  writeFileSync,
  writeSync,
} from "node:fs";
import { resolve } from "node:path";
import process from "node:process";
import type { WriteStream } from "node:tty";
import type { CliIo } from "./cli.ts";

/** A terminal the live display draws on. */
export type Terminal = WriteStream;

/** A file's text (UTF-8); the error carries the system's `code` (ENOENT, EACCES, EISDIR…). */
export function readText(path: string): string {
  return readFileSync(path, "utf8");
}

/** Writes `text` to `path`, readable by its owner only (it may hold tokens). */
export function writePrivate(path: string, text: string): void {
  writeFileSync(path, text, { mode: 0o600 });
}

/** Whether two paths name the same file. */
export function samePath(a: string, b: string): boolean {
  return resolve(a) === resolve(b);
}

/** A file opened for appending (O_APPEND, mode 0600), read whole first. */
export interface AppendFile {
  /** What the file held when it was opened. */
  readonly bytes: Uint8Array;
  /** Cuts the file to `length` bytes. */
  truncate(length: number): void;
  /** Writes every byte at the end, in one call where the system allows. */
  append(bytes: Uint8Array): void;
  sync(): void;
  close(): void;
}

export function openAppend(path: string): AppendFile {
  // O_APPEND: every write lands at the end, whatever was read before.
  const fd = openSync(path, "a+", 0o600);
  const size = fstatSync(fd).size;
  const buffer = new Uint8Array(size);
  let read = 0;
  while (read < size) {
    const n = readSync(fd, buffer, read, size - read, read);
    if (n === 0) break;
    read += n;
  }
  return {
    bytes: buffer.subarray(0, read),
    truncate: (length) => ftruncateSync(fd, length),
    append(bytes) {
      let written = 0;
      while (written < bytes.length) {
        written += writeSync(fd, bytes, written, bytes.length - written);
      }
    },
    sync: () => fsyncSync(fd),
    close: () => closeSync(fd),
  };
}

/**
 * Creates `path` holding this process's id, unless it exists: true when created. A lock whose
 * process no longer runs is removed and taken.
 */
export function takeLockFile(path: string): { taken: true } | { taken: false; owner: number } {
  for (let tries = 0; tries < 2; tries++) {
    try {
      writeFileSync(path, `${process.pid}\n`, { flag: "wx", mode: 0o600 });
      return { taken: true };
    } catch (error) {
      if ((error as { code?: unknown }).code !== "EEXIST") throw error;
    }
    const owner = Number.parseInt(readFileSync(path, "utf8"), 10);
    if (Number.isInteger(owner) && owner > 0 && alive(owner)) return { taken: false, owner };
    // Its run died without a word: the lock is stale.
    unlinkSync(path);
  }
  return { taken: false, owner: 0 };
}

/** Removes a file; a file already gone is fine. */
export function removeFile(path: string): void {
  try {
    unlinkSync(path);
  } catch (error) {
    if ((error as { code?: unknown }).code !== "ENOENT") throw error;
  }
}

/** Whether a process of this id runs. */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as { code?: unknown }).code === "EPERM";
  }
}

/** The command's arguments, after the runtime's and the script's. */
export function programArgs(): string[] {
  return process.argv.slice(2);
}

/** The running process as the command's world. */
export function processIo(): CliIo {
  const terminal = process.stderr.isTTY === true ? process.stderr : undefined;
  return {
    env: process.env,
    async readStdin() {
      const decoder = new TextDecoder();
      let text = "";
      for await (const chunk of process.stdin) {
        text +=
          typeof chunk === "string" ? chunk : decoder.decode(chunk as Uint8Array, { stream: true });
      }
      return text + decoder.decode();
    },
    stdout: process.stdout,
    stderr: process.stderr,
    ...(terminal === undefined ? {} : { terminal }),
    onSignal(handler) {
      const listener = (signal: string) => handler(signal);
      process.on("SIGINT", listener);
      process.on("SIGTERM", listener);
      return () => {
        process.off("SIGINT", listener);
        process.off("SIGTERM", listener);
      };
    },
    exit: (code) => process.exit(code),
  };
}

/** Runs the command on this process and exits with its code once its output is written. */
export async function runProcess(
  argv: readonly string[],
  run: (argv: readonly string[], io: CliIo) => Promise<number>,
): Promise<never> {
  let code: number;
  try {
    code = await run(argv, processIo());
  } catch (error) {
    // A defect: its name only, a message may hold a value read from the list.
    process.stderr.write(
      `x-logout: internal error (${error instanceof Error ? error.name : typeof error})\n`,
    );
    code = 70;
  }
  await new Promise<void>((resolve) => process.stdout.write("", () => resolve()));
  await new Promise<void>((resolve) => process.stderr.write("", () => resolve()));
  process.exit(code);
}
