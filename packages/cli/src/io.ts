// The command's process: its arguments, environment, streams and signals, the same on Node, Bun and
// Deno (through their node: modules).
import process from "node:process";
import type { CliIo } from "./cli.ts";

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
