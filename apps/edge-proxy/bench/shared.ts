// What the proxy benchmark and the load run share: the simulators' process, `wrangler dev`, autocannon.
//
// The simulators run in a process of their own (bench/simulators.ts) with a control API that mints
// credentials; the proxy runs under `wrangler dev` (workerd) with the simulators' environment; load
// comes from autocannon. Everything listens on 127.0.0.1 and every wait is bounded.
import { type ChildProcess, spawn } from "node:child_process";
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import type { Prepared, RequestSpec, Vendor } from "./simulators.ts";

/** Every wait is bounded. */
export const LIMITS = {
  requestMs: 15_000,
  startMs: 90_000,
  /** A throughput run is stopped after this, whatever is left. */
  loadRunMs: 180_000,
};

// ---------------------------------------------------------------------------------------------
// Processes: the scripts of `npm start` (typed here)

import type { ProcessGroup } from "../scripts/start-runtimes.mjs";
import * as runtimes from "../scripts/start-runtimes.mjs";

export type { ProcessGroup };
export { runtimes };
export const { APP, ROOT } = runtimes;

/** Resolves after `ms` without keeping this process alive (for races against a deadline). */
export function pause(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}

/** Keeps the last lines of a group's output only: a load run logs a line per request. */
export function trimOutput(group: ProcessGroup | undefined): void {
  if (group && group.output.length > 400) group.output.splice(0, group.output.length - 200);
}

// ---------------------------------------------------------------------------------------------
// The simulators' process

/** What bench/simulators.ts prints when it is ready. */
export interface Simulators {
  control: string;
  urls: Record<Vendor, string>;
  env: Record<string, string>;
  ebetKeyBits: number;
}

/**
 * Starts bench/simulators.ts; `onChild` gets the process at once, so that the caller can kill it
 * however it ends. Its stderr goes to this process's stderr, prefixed, unless `quiet`.
 */
export function startSimulators(
  onChild: (child: ChildProcess) => void = () => {},
  options: { quiet?: boolean } = {},
): Promise<Simulators> {
  const child = spawn(process.execPath, [join(APP, "bench", "simulators.ts")], {
    cwd: APP,
    stdio: ["pipe", "pipe", "pipe"],
  });
  onChild(child);
  const lines: string[] = [];
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`the simulators did not start:\n${lines.join("\n")}`));
    }, LIMITS.startMs);
    let pending = "";
    child.stdout.setEncoding("utf8");
    child.stdout.on("data", (chunk: string) => {
      pending += chunk;
      const parts = pending.split("\n");
      pending = parts.pop() ?? "";
      for (const line of parts) {
        const match = /^bench-simulators ready (.*)$/.exec(line);
        if (match) {
          clearTimeout(timer);
          resolve(JSON.parse(match[1] as string) as Simulators);
        } else if (lines.length < 200) lines.push(line);
      }
    });
    child.stderr.setEncoding("utf8");
    child.stderr.on("data", (chunk: string) => {
      if (lines.length < 200) lines.push(chunk);
      if (lines.length < 200 && !options.quiet) process.stderr.write(`[simulators] ${chunk}`);
    });
    child.on("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`the simulators exited (${code}):\n${lines.join("\n")}`));
    });
  });
}

/** Stops the simulators' process: stdin closed and SIGTERM, then SIGKILL after 5 s. */
export async function stopSimulators(child: ChildProcess | undefined): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once("exit", resolve));
  child.stdin?.end();
  child.kill("SIGTERM");
  await Promise.race([exited, pause(5000)]);
  if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
}

/** Calls the simulators' control API: POST `route` with `input`, the JSON answer. */
export async function control<T>(
  sims: Simulators,
  route: string,
  input: Record<string, unknown> = {},
): Promise<T> {
  const response = await fetch(`${sims.control}${route}`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(input),
    signal: AbortSignal.timeout(120_000),
  });
  const text = await response.text();
  if (response.status !== 200) throw new Error(`${route} ${JSON.stringify(input)}: ${text}`);
  return JSON.parse(text) as T;
}

/** Asks the simulators for credentials: the requests of `count` logouts. */
export function prepare(
  sims: Simulators,
  route: "/prepare" | "/prepare-fanout",
  input: Record<string, unknown>,
): Promise<Prepared> {
  return control<Prepared>(sims, route, input);
}

// ---------------------------------------------------------------------------------------------
// wrangler dev

export interface WranglerDev {
  /** Changes on restart (a new port). */
  url: string;
  group: ProcessGroup;
  stop(): Promise<void>;
  /**
   * Stops wrangler dev and starts it again on the same state folder (Durable Objects kept) and the
   * same Worker; `url` and `group` are the new ones afterwards.
   */
  restart(): Promise<void>;
}

const WRANGLER_ENV = {
  WRANGLER_SEND_METRICS: "false",
  WRANGLER_HIDE_BANNER: "true",
  NO_COLOR: "1",
  FORCE_COLOR: "0",
};

/**
 * Bundles the proxy once, as deployed (`wrangler deploy --dry-run`), into `folder`, and writes a
 * copy of wrangler.toml that runs that bundle without the /docs assets: `wrangler dev --no-bundle
 * --config` on it serves a Worker that edits to the sources (or a rebuild of public/) cannot reload
 * in the middle of a run. Returns the config path.
 */
async function bundleOnce(folder: string): Promise<string> {
  const out = join(folder, "bundle");
  const build = runtimes.spawnGroup(
    process.execPath,
    [runtimes.wranglerScript(), "deploy", "--dry-run", "--outdir", out],
    { env: WRANGLER_ENV },
  );
  const exit = await Promise.race([build.exited, pause(LIMITS.startMs).then(() => undefined)]);
  await runtimes.stopGroup(build);
  if (exit?.code !== 0) {
    throw new Error(`wrangler deploy --dry-run failed:\n${build.output.slice(-40).join("\n")}`);
  }
  const toml = readFileSync(join(APP, "wrangler.toml"), "utf8")
    .replace(/^main\s*=.*$/m, `main = ${JSON.stringify(join(out, "worker.js"))}`)
    // No [assets] table: the build rewrites public/, and wrangler dev would reload the Worker.
    .replace(/^\[assets\][^[]*/m, "");
  const config = join(folder, "wrangler.toml");
  writeFileSync(config, toml);
  return config;
}

/**
 * Starts `wrangler dev` of the proxy on 127.0.0.1 (a free port) with `env` in a private env file and
 * a fresh state folder, both in a temporary folder removed on stop. `onStart`/`onStop` let the
 * caller keep the process group in its list of things to kill. With `bundleOnce`, the Worker is the
 * deployed bundle made at start, so that edits to the sources during the run do not restart it.
 */
export async function startWranglerDev(
  env: Record<string, string>,
  hooks: {
    onStart?: (group: ProcessGroup) => void;
    onStop?: (group: ProcessGroup) => void;
    onLine?: (line: string) => void;
    bundleOnce?: boolean;
  } = {},
): Promise<WranglerDev> {
  const folder = mkdtempSync(join(tmpdir(), "edge-proxy-bench-"));
  let config: string | undefined;
  try {
    if (hooks.bundleOnce) config = await bundleOnce(folder);
  } catch (error) {
    rmSync(folder, { recursive: true, force: true });
    throw error;
  }
  const envFile = join(folder, "proxy.env");
  writeFileSync(
    envFile,
    `${Object.entries(env)
      .map(([name, value]) => `${name}=${JSON.stringify(value)}`)
      .join("\n")}\n`,
    { mode: 0o600 },
  );
  chmodSync(envFile, 0o600);
  const launch = async (): Promise<{ url: string; group: ProcessGroup }> => {
    const port = await runtimes.freePort();
    const inspectorPort = await runtimes.freePort();
    const group = runtimes.spawnGroup(
      process.execPath,
      runtimes.wranglerDevArgs({
        port,
        inspectorPort,
        envFile,
        persistTo: join(folder, "state"),
        extra: config === undefined ? [] : ["--config", config, "--no-bundle"],
      }),
      {
        env: WRANGLER_ENV,
        ...(hooks.onLine === undefined ? {} : { onLine: hooks.onLine }),
      },
    );
    hooks.onStart?.(group);
    const url = `http://127.0.0.1:${port}`;
    try {
      await runtimes.waitForHttp(`${url}/healthz`, group, LIMITS.startMs);
    } catch (error) {
      await runtimes.stopGroup(group);
      hooks.onStop?.(group);
      throw error;
    }
    return { url, group };
  };
  let first: { url: string; group: ProcessGroup };
  try {
    first = await launch();
  } catch (error) {
    rmSync(folder, { recursive: true, force: true });
    throw error;
  }
  const dev: WranglerDev = {
    ...first,
    async stop() {
      await runtimes.stopGroup(dev.group);
      hooks.onStop?.(dev.group);
      rmSync(folder, { recursive: true, force: true });
    },
    async restart() {
      await runtimes.stopGroup(dev.group);
      hooks.onStop?.(dev.group);
      const next = await launch();
      dev.url = next.url;
      dev.group = next.group;
    },
  };
  return dev;
}

// ---------------------------------------------------------------------------------------------
// Load with autocannon

export interface AutocannonRequest {
  method?: string;
  path?: string;
  headers?: Record<string, string>;
  body?: string | undefined;
  setupRequest?: (
    request: AutocannonRequest,
    context: Record<string, unknown>,
  ) => AutocannonRequest;
  onResponse?: (
    status: number,
    body: string,
    context: Record<string, unknown>,
    headers: Record<string, string | string[]>,
  ) => void;
}

export interface AutocannonResult {
  "2xx": number;
  non2xx: number;
  errors: number;
  timeouts: number;
  mismatches: number;
  duration: number;
  latency: { p50: number; p99: number; average: number };
  requests: { total: number; average: number };
}

export interface AutocannonInstance {
  stop(): void;
  on(event: "response", listener: () => void): void;
}

export type Autocannon = ((
  options: Record<string, unknown>,
  done: (error: Error | null, result: AutocannonResult) => void,
) => AutocannonInstance) & { track?: unknown };

/** autocannon from tooling's dev dependencies (the benchmarks' load generator). */
export const autocannon = createRequire(join(ROOT, "tooling", "package.json"))(
  "autocannon",
) as Autocannon;

/** autocannon's request, filled from a RequestSpec. */
export function asAutocannon(request: AutocannonRequest, spec: RequestSpec): AutocannonRequest {
  return {
    ...request,
    method: spec.method,
    path: spec.path,
    headers: { ...spec.headers },
    body: spec.body,
  };
}

export interface LoadRun {
  logouts: number;
  seconds: number;
  p99Ms: number;
  errors: number;
}

/** One answer of a load run, with the logout (index into the items) it answers. */
export interface LoadAnswer {
  item: number;
  step: number;
  status: number;
  body: string;
  headers: Record<string, string | string[]>;
}

/**
 * Runs autocannon: each connection walks a logout's steps in order, each logout from the pool.
 * `onAnswer` sees every answer with the index of its logout in `items`.
 */
export function runLoad(
  base: string,
  items: readonly RequestSpec[][],
  options: {
    connections: number;
    amount?: number;
    seconds?: number;
    overallRate?: number;
    /** Stops the run after this, whatever is left. Default LIMITS.loadRunMs. */
    limitMs?: number;
  },
  verify: (body: string) => boolean,
  onAnswer?: (answer: LoadAnswer) => void,
): Promise<LoadRun> {
  const stepsPerLogout = (items[0] ?? []).length;
  let next = 0;
  const requests: AutocannonRequest[] = Array.from({ length: stepsPerLogout }, (_, step) => ({
    setupRequest: (request, context) => {
      if (step === 0) {
        const index = Math.min(next++, items.length - 1);
        context.index = index;
        context.item = items[index];
      }
      return asAutocannon(request, (context.item as RequestSpec[])[step] as RequestSpec);
    },
    ...(onAnswer === undefined
      ? {}
      : {
          onResponse: (status, body, context, headers) =>
            onAnswer({ item: context.index as number, step, status, body, headers }),
        }),
  }));
  return new Promise((resolve, reject) => {
    const start = performance.now();
    const instance = autocannon(
      {
        url: base,
        connections: options.connections,
        ...(options.amount === undefined ? {} : { amount: options.amount * stepsPerLogout }),
        ...(options.seconds === undefined ? {} : { duration: options.seconds }),
        ...(options.overallRate === undefined ? {} : { overallRate: options.overallRate }),
        timeout: LIMITS.requestMs / 1000,
        requests,
        verifyBody: verify,
        renderProgressBar: false,
        renderResultsTable: false,
        renderLatencyTable: false,
      },
      (error, result) => {
        clearTimeout(watchdog);
        if (error) {
          reject(error);
          return;
        }
        // autocannon ends on its next 1 s tick: time to the last answer instead.
        const seconds = (lastAnswer - start) / 1000;
        const logouts = Math.floor(result["2xx"] / stepsPerLogout);
        resolve({
          logouts,
          seconds,
          p99Ms: result.latency.p99,
          errors: result.non2xx + result.errors + result.timeouts + result.mismatches,
        });
      },
    );
    let lastAnswer = start;
    instance.on("response", () => {
      lastAnswer = performance.now();
    });
    const watchdog = setTimeout(() => instance.stop(), options.limitMs ?? LIMITS.loadRunMs);
  });
}

/** The nearest-rank percentile (p in 0..100) of a list; NaN when it is empty. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[rank - 1] as number;
}
