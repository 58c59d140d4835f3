// Shared pieces of the node-side tests: the simulators and runtime helpers of scripts/, and proxy processes.
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { KitSimulator, ProxyKit } from "@x/core-signing/testing";
import type { EbetKitSession, EbetSimulator } from "@x/ebet/testing";
import type { FunGameKitSession, FunGameSimulator } from "@x/fungame/testing";
import type { LancensKitSession, LancensSimulator } from "@x/lancens/testing";
import type { OneAccessKitSession, OneAccessSimulator } from "@x/sdk-auth/testing";
import type { ListedVendor } from "../scripts/kits.mjs";
import type { ProcessGroup } from "../scripts/start-runtimes.mjs";
import * as runtimes from "../scripts/start-runtimes.mjs";

export type { ProcessGroup };
export { runtimes };

export type Vendor = "ebet" | "fungame" | "sdkAuth" | "lancens";
export type Runtime = "node" | "bun" | "deno";

/** What scripts/simulators.mjs gives: every listed vendor's simulator served on 127.0.0.1, keyed by member. */
interface ServedSimulators {
  vendors: {
    vendor: ListedVendor;
    kit: ProxyKit;
    sim: KitSimulator<unknown, unknown>;
    url: string;
  }[];
  sims: {
    ebet: EbetSimulator;
    fungame: FunGameSimulator;
    sdkAuth: OneAccessSimulator;
    lancens: LancensSimulator;
  };
  urls: Record<Vendor, string>;
  env: Record<string, string>;
  apiKey: string;
  setDown(vendor: Vendor, down: boolean): void;
  session(vendor: Vendor): Promise<unknown>;
  close(): Promise<void>;
}

/** The served simulators, with a fresh session of each vendor these tests log out by name. */
export interface Simulators extends ServedSimulators {
  ebetUser(): Promise<string>;
  fungameToken(): Promise<string>;
  sdkAuthSession(): Promise<string>;
  lancensLogin(): Promise<{ username: string; token: string }>;
}

// simulators.mjs is plain JavaScript for `npm start`; it is loaded by URL and typed here.
const scripts = (name: string) => new URL(`../scripts/${name}`, import.meta.url).href;
const simulatorsModule = (await import(scripts("simulators.mjs"))) as {
  startSimulators(options?: { capacity?: number }): Promise<ServedSimulators>;
};

/** Every listed simulator, served; `capacity` accounts each (the kits' default when absent). */
export async function startSimulators(options: { capacity?: number } = {}): Promise<Simulators> {
  const served = await simulatorsModule.startSimulators(options);
  return {
    ...served,
    ebetUser: async () => ((await served.session("ebet")) as EbetKitSession).username,
    fungameToken: async () => ((await served.session("fungame")) as FunGameKitSession).token,
    sdkAuthSession: async () =>
      ((await served.session("sdkAuth")) as OneAccessKitSession).sessionToken,
    lancensLogin: async () => (await served.session("lancens")) as LancensKitSession,
  };
}

/**
 * The keys the entries started here seal pending jobs' vendor tokens with (PROXY_STORE_KEYS), made
 * once per test file: every instance and restart of a file opens what the others sealed.
 */
export const TEST_STORE_KEYS = `test-${randomBytes(4).toString("hex")}:${randomBytes(32).toString("base64")}`;

/** How long a proxy process may take to say it listens. */
export const START_TIMEOUT_MS = 30_000;

/** Resolves with the first match of `pattern` in the group's output, or fails when it exits or time runs out. */
export function waitForLine(
  group: ProcessGroup,
  pattern: RegExp,
  timeoutMs: number,
  seen: string[] = group.output,
): Promise<RegExpExecArray> {
  return new Promise((resolve, reject) => {
    const check = () => {
      for (const line of seen) {
        const match = pattern.exec(line);
        if (match) return match;
      }
      return undefined;
    };
    const timer = setInterval(() => {
      const match = check();
      if (match) {
        done();
        resolve(match);
      }
    }, 25);
    const deadline = setTimeout(() => {
      done();
      reject(new Error(`no line matching ${pattern} within ${timeoutMs} ms:\n${seen.join("\n")}`));
    }, timeoutMs);
    group.exited.then((exit) => {
      setTimeout(() => {
        const match = check();
        done();
        if (match) resolve(match);
        else
          reject(
            new Error(`exited (${JSON.stringify(exit)}) before ${pattern}:\n${seen.join("\n")}`),
          );
      }, 50);
    });
    const done = () => {
      clearInterval(timer);
      clearTimeout(deadline);
    };
  });
}

/** A proxy entry running on a runtime, listening on a port it chose. */
export interface RunningEntry {
  url: string;
  group: ProcessGroup;
  stop(): Promise<void>;
}

/**
 * Spawns one of the proxy's entries (runtimes.entryCommand) with this environment on port 0, its
 * stores in a data directory of its own (removed when it stops) unless the environment names one.
 */
export async function startEntry(
  runtime: Runtime,
  env: Record<string, string>,
): Promise<RunningEntry> {
  const own =
    env.PROXY_DATA_DIR === undefined
      ? await mkdtemp(join(tmpdir(), "edge-proxy-data-"))
      : undefined;
  const group = spawnEntry(runtime, {
    PROXY_STORE_KEYS: TEST_STORE_KEYS,
    ...env,
    ...(own === undefined ? {} : { PROXY_DATA_DIR: own }),
    PORT: "0",
  });
  const stop = async () => {
    await runtimes.stopGroup(group);
    if (own !== undefined) await rm(own, { recursive: true, force: true });
  };
  try {
    const match = await waitForLine(
      group,
      /^edge-proxy listening on (http:\/\/127\.0\.0\.1:\d+)$/,
      START_TIMEOUT_MS,
    );
    const url = match[1] as string;
    return { url, group, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

/** Spawns an entry without waiting for it (e.g. to see it refuse its configuration). */
export function spawnEntry(runtime: Runtime, env: Record<string, string>): ProcessGroup {
  const { command, args, env: runtimeEnv } = runtimes.entryCommand(runtime, env);
  return runtimes.spawnGroup(command, args, { env: { ...runtimeEnv, ...env } });
}

/** JSON of a response, or a failure that shows the body. */
export async function json(response: Response): Promise<Record<string, unknown>> {
  const text = await response.text();
  try {
    return JSON.parse(text) as Record<string, unknown>;
  } catch {
    throw new Error(`not JSON (HTTP ${response.status}): ${text.slice(0, 500)}`);
  }
}

/** `ps` lines (pid and command) that match `pattern`, other than the `ps` itself. */
export function processesMatching(pattern: RegExp): string[] {
  const out = execFileSync("ps", ["-eo", "pid=,args="], { encoding: "utf8" });
  return out
    .split("\n")
    .filter((line) => pattern.test(line))
    .filter((line) => !line.includes("ps -eo"));
}

/** The routes of the HTTP contract (issue 7), as OpenAPI paths and methods. */
export const CONTRACT_ROUTES: readonly [method: string, path: string][] = [
  ["post", "/v1/ebet/logout"],
  ["post", "/v1/ebet/callback"],
  ["post", "/v1/fungame/logout"],
  ["get", "/v1/fungame/token-status"],
  ["post", "/v1/sdk-auth/logout"],
  ["post", "/v1/lancens/logout"],
  ["post", "/v1/logout"],
  ["get", "/healthz"],
  ["get", "/openapi.json"],
  ["get", "/docs"],
];
