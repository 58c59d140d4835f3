// Runs the built command as a user would, on Node, Bun or Deno, in a child process (asynchronously:
// the simulators answer from the test's own process), and reads what it left behind.
import { type ChildProcess, spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
// @ts-expect-error: plain JavaScript module without declarations
import { BUN_ENV, bunBinary, DENO_ENV, denoBinary } from "../../../tooling/runtimes/binaries.mjs";

export const BIN = join(dirname(dirname(fileURLToPath(import.meta.url))), "dist", "bin.js");
/** The module JSR publishes as the package's entry: `deno run -A jsr:@x/cli` runs it. */
export const JSR_ENTRY = join(dirname(dirname(fileURLToPath(import.meta.url))), "src", "index.ts");

export type Runtime = "node" | "bun" | "deno";
export const RUNTIMES: Runtime[] = ["node", "bun", "deno"];

function command(runtime: Runtime): { file: string; args: string[]; env: Record<string, string> } {
  if (runtime === "bun") return { file: bunBinary(), args: [], env: BUN_ENV };
  if (runtime === "deno") return { file: denoBinary(), args: ["run", "-A"], env: DENO_ENV };
  return { file: process.execPath, args: [], env: {} };
}

export interface Running {
  child: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  done: Promise<{
    code: number | null;
    signal: NodeJS.Signals | null;
    stdout: string;
    stderr: string;
  }>;
}

/** Starts `x-logout <args>` with exactly `env` (and PATH); it is killed if it outlives `timeoutMs`. */
export function start(
  args: readonly string[],
  env: Record<string, string>,
  runtime: Runtime = "node",
  timeoutMs = 240_000,
  entry: string = BIN,
): Running {
  const { file, args: pre, env: own } = command(runtime);
  const child = spawn(file, [...pre, entry, ...args], {
    env: { PATH: process.env.PATH ?? "", ...own, ...env },
    stdio: ["pipe", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  child.stdout?.on("data", (chunk) => {
    stdout += chunk;
  });
  child.stderr?.on("data", (chunk) => {
    stderr += chunk;
  });
  const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
  const done = new Promise<{
    code: number | null;
    signal: NodeJS.Signals | null;
    stdout: string;
    stderr: string;
  }>((resolve) => {
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
  return { child, stdout: () => stdout, stderr: () => stderr, done };
}

/** Runs the command to its end. */
export function run(
  args: readonly string[],
  env: Record<string, string>,
  runtime: Runtime = "node",
  stdin?: string,
  entry: string = BIN,
): Running["done"] {
  const running = start(args, env, runtime, 240_000, entry);
  running.child.stdin?.end(stdin ?? "");
  return running.done;
}

/** The journal's records. */
export function journalRecords(path: string): Record<string, unknown>[] {
  return readFileSync(path, "utf8")
    .split("\n")
    .filter((line) => line !== "")
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

/** Every secret value of the session lines (tokens), to look for where none may be. */
export function secretsOfLines(lines: readonly Record<string, unknown>[]): string[] {
  const out: string[] = [];
  for (const line of lines) {
    const l = line as {
      fungame?: { token: string };
      sdkAuth?: { sessionToken: string };
      lancens?: { token: string };
    };
    if (l.fungame) out.push(l.fungame.token);
    if (l.sdkAuth) out.push(l.sdkAuth.sessionToken);
    if (l.lancens) out.push(l.lancens.token);
  }
  return out;
}

export const sleep = (ms: number): Promise<void> =>
  new Promise((resolve) => setTimeout(resolve, ms));
