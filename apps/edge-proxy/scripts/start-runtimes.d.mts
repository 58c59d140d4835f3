// Types of start-runtimes.mjs, the plain JavaScript that `npm start`, the node-side tests and the
// benchmarks share to run processes.
import type { ChildProcess } from "node:child_process";

/** A process and its children, started in a group of their own. */
export interface ProcessGroup {
  child: ChildProcess;
  output: string[];
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

export const APP: string;
export const ROOT: string;
export function bunBinary(): string;
export function denoBinary(): string;
export function wranglerScript(): string;
export function wranglerDevArgs(options: {
  port: number;
  inspectorPort: number;
  envFile?: string | undefined;
  persistTo?: string | undefined;
  extra?: string[];
}): string[];
/** Why the built Node entry under `app` (default apps/edge-proxy) cannot run: missing, or built from files changed since. */
export function builtEntryProblem(app?: string): string | undefined;
/** dist/node/node.mjs, the built Node entry; throws, naming the build, when it is missing or stale. */
export function nodeEntry(): string;
/** The command that runs an entry; on Deno, with write access to `env.PROXY_DATA_DIR` (default data/) only. */
export function entryCommand(
  runtime: "node" | "bun" | "deno",
  env?: Record<string, string | undefined>,
): {
  command: string;
  args: string[];
  env: Record<string, string>;
};
export function portIsFree(port: number): Promise<boolean>;
export function freePort(): Promise<number>;
export function spawnGroup(
  command: string,
  args: string[],
  options?: { env?: Record<string, string>; cwd?: string; onLine?: (line: string) => void },
): ProcessGroup;
export function stopGroup(handle: ProcessGroup, graceMs?: number): Promise<void>;
export function killGroup(handle: ProcessGroup): Promise<void>;
export function sleep(ms: number): Promise<void>;
export function waitForHttp(url: string, handle: ProcessGroup, timeoutMs: number): Promise<void>;
