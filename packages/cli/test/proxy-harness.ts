// The edge proxy's Node entry run as a process in front of the simulators, a fault-injecting HTTP
// front for it, and the command run in this process with its output and journal captured.
import { type ChildProcess, spawn } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { type CliIo, main } from "../src/cli.ts";
import { type Served, serve } from "./simulators.ts";

const ENTRY = fileURLToPath(new URL("../../../apps/edge-proxy/src/entry/node.ts", import.meta.url));

/** How long the proxy may take to say it listens. */
const START_TIMEOUT_MS = 30_000;

export interface RunningProxy {
  url: string;
  /** The caller key the proxy accepts (its SHA-256 is in PROXY_API_KEY_SHA256). */
  apiKey: string;
  output: string[];
  stop(): Promise<void>;
}

/** Starts the proxy's Node entry with these vendor variables, its stores in memory, on port 0. */
export async function startProxy(
  vendorEnv: Record<string, string>,
  extra: Record<string, string> = {},
): Promise<RunningProxy> {
  const apiKey = `cli_${randomBytes(18).toString("hex")}`;
  const child: ChildProcess = spawn(process.execPath, [ENTRY], {
    env: {
      PATH: process.env.PATH ?? "",
      ...vendorEnv,
      PROXY_STORE: "memory",
      PROXY_API_KEY_SHA256: createHash("sha256").update(apiKey).digest("hex"),
      PORT: "0",
      ...extra,
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const output: string[] = [];
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const url = await new Promise<string>((resolve, reject) => {
    let pending = "";
    const timer = setTimeout(() => {
      reject(new Error(`the proxy did not start:\n${output.join("\n")}`));
    }, START_TIMEOUT_MS);
    const onData = (chunk: Buffer) => {
      pending += chunk.toString("utf8");
      const lines = pending.split("\n");
      pending = lines.pop() ?? "";
      for (const line of lines) {
        output.push(line);
        const match = /^edge-proxy listening on (http:\/\/127\.0\.0\.1:\d+)$/.exec(line);
        if (match) {
          clearTimeout(timer);
          resolve(match[1] as string);
        }
      }
    };
    child.stdout?.on("data", onData);
    child.stderr?.on("data", onData);
    void exited.then(() => {
      clearTimeout(timer);
      reject(new Error(`the proxy exited before it listened:\n${output.join("\n")}`));
    });
  });
  return {
    url,
    apiKey,
    output,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
      await exited;
    },
  };
}

/** What the front does with a request instead of passing it on; undefined passes it. */
export type Fault = (request: Request) => Promise<Response | undefined> | Response | undefined;

export interface Front extends Served {
  /** Requests that reached the front, passed on or not. */
  seen: number;
  setFault(fault: Fault | undefined): void;
}

/** An HTTP front that passes every request on to `target`, unless its fault answers instead. */
export async function startFront(target: string): Promise<Front> {
  let fault: Fault | undefined;
  const front = {} as Front;
  const served = await serve(async (request) => {
    front.seen++;
    const own = await fault?.(request.clone());
    if (own !== undefined) return own;
    const { pathname, search } = new URL(request.url);
    const body = request.method === "GET" ? undefined : await request.arrayBuffer();
    const headers = new Headers(request.headers);
    for (const name of ["host", "connection", "content-length"]) headers.delete(name);
    return fetch(`${target}${pathname}${search}`, {
      method: request.method,
      headers,
      ...(body === undefined ? {} : { body }),
      redirect: "manual",
    });
  });
  return Object.assign(front, served, {
    seen: 0,
    setFault(value: Fault | undefined) {
      fault = value;
    },
  });
}

export interface CommandRun {
  code: number;
  stdout: string;
  stderr: string;
  journal: string;
  failures: string;
}

/** A folder for a test's lists and journals, removed by `remove`. */
export async function workFolder(): Promise<{ path: string; remove(): Promise<void> }> {
  const path = await mkdtemp(join(tmpdir(), "x-logout-proxy-"));
  return { path, remove: () => rm(path, { recursive: true, force: true }) };
}

/** Writes session lines as a JSON Lines list. */
export async function writeList(path: string, lines: readonly unknown[]): Promise<void> {
  await writeFile(path, lines.map((line) => `${JSON.stringify(line)}\n`).join(""));
}

async function readOrEmpty(path: string): Promise<string> {
  try {
    return await readFile(path, "utf8");
  } catch {
    return "";
  }
}

/** Runs the command on a list with this environment; its output, journal and failures file. */
export async function runCommand(
  list: string,
  args: readonly string[],
  env: Record<string, string>,
): Promise<CommandRun> {
  let stdout = "";
  let stderr = "";
  const io: CliIo = {
    env,
    readStdin: async () => "",
    stdout: {
      write: (text) => {
        stdout += text;
      },
    },
    stderr: {
      write: (text) => {
        stderr += text;
      },
    },
  };
  const code = await main([list, "--progress", "none", ...args], io);
  return {
    code,
    stdout,
    stderr,
    journal: await readOrEmpty(`${list}.journal`),
    failures: await readOrEmpty(`${list}.failures.jsonl`),
  };
}
