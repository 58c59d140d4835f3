// What the proxy benchmark and the load run share: the simulators' process, workerd, autocannon.
//
// The simulators run in a process of their own (bench/simulators.ts) with a control API that mints
// credentials; the proxy runs in workerd with the simulators' environment, as the deployed script
// through Miniflare or under `wrangler dev`; load comes from autocannon. Everything listens on
// 127.0.0.1 and every wait is bounded.
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import process from "node:process";
import { pathToFileURL } from "node:url";
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
  /** The size of the keys the proxy signs with, made at start; null: each vendor's own test key. */
  signingKeyBits: number | null;
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
  url: string;
  group: ProcessGroup;
  stop(): Promise<void>;
}

/** What wrangler is told in every process started here: no metrics, no banner, no colours. */
export const WRANGLER_ENV = {
  WRANGLER_SEND_METRICS: "false",
  WRANGLER_HIDE_BANNER: "true",
  NO_COLOR: "1",
  FORCE_COLOR: "0",
};

/**
 * Starts `wrangler dev` of the proxy on 127.0.0.1 (a free port) with `env` in a private env file and
 * a fresh state folder, both in a temporary folder removed on stop. `onStart`/`onStop` let the
 * caller keep the process group in its list of things to kill.
 */
export async function startWranglerDev(
  env: Record<string, string>,
  hooks: {
    onStart?: (group: ProcessGroup) => void;
    onStop?: (group: ProcessGroup) => void;
    onLine?: (line: string) => void;
  } = {},
): Promise<WranglerDev> {
  const folder = mkdtempSync(join(tmpdir(), "edge-proxy-bench-"));
  const envFile = join(folder, "proxy.env");
  writeFileSync(
    envFile,
    `${Object.entries(env)
      .map(([name, value]) => `${name}=${JSON.stringify(value)}`)
      .join("\n")}\n`,
    { mode: 0o600 },
  );
  chmodSync(envFile, 0o600);
  const port = await runtimes.freePort();
  const inspectorPort = await runtimes.freePort();
  const group = runtimes.spawnGroup(
    process.execPath,
    runtimes.wranglerDevArgs({ port, inspectorPort, envFile, persistTo: join(folder, "state") }),
    {
      env: WRANGLER_ENV,
      ...(hooks.onLine === undefined ? {} : { onLine: hooks.onLine }),
    },
  );
  hooks.onStart?.(group);
  const stop = async () => {
    await runtimes.stopGroup(group);
    hooks.onStop?.(group);
    rmSync(folder, { recursive: true, force: true });
  };
  const url = `http://127.0.0.1:${port}`;
  try {
    await runtimes.waitForHttp(`${url}/healthz`, group, LIMITS.startMs);
  } catch (error) {
    await stop();
    throw error;
  }
  return { url, group, stop };
}

// ---------------------------------------------------------------------------------------------
// The Bun, Deno and Node entries

/** How a process ended. */
export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** One of the proxy's entries (runtimes.entryCommand: Node's built one, Bun's and Deno's sources) listening on 127.0.0.1. */
export interface Entry {
  url: string;
  group: ProcessGroup;
  /** Where the entry says its stores are: its `edge-proxy: stores in …` line ("memory" when named). */
  stores: string;
  /** SIGTERM, then SIGKILL to what is left after `graceMs`; resolves with how the entry ended. */
  stop(graceMs?: number): Promise<Exit>;
}

/**
 * Starts one of the proxy's entries with `env` on a free port, its stores in `dataDir`
 * (PROXY_DATA_DIR: the SQLite file on Bun and Node, the Deno KV file on Deno, which may write
 * there only), and waits, bounded, until it listens. Its output is trimmed as it comes (a line per
 * request); `onLine` sees every line. `onStart`/`onStop` let the caller keep the process group in
 * its list of things to kill.
 */
export async function startEntry(
  runtime: "node" | "bun" | "deno",
  env: Record<string, string>,
  options: {
    dataDir: string;
    onLine?: (line: string) => void;
    onStart?: (group: ProcessGroup) => void;
    onStop?: (group: ProcessGroup) => void;
  },
): Promise<Entry> {
  const entryEnv = { ...env, PROXY_DATA_DIR: options.dataDir, PORT: "0" };
  const { command, args, env: runtimeEnv } = runtimes.entryCommand(runtime, entryEnv);
  let stores: string | undefined;
  let resolveUrl: (url: string) => void = () => {};
  const listening = new Promise<string>((resolve) => {
    resolveUrl = resolve;
  });
  const group: ProcessGroup = runtimes.spawnGroup(command, args, {
    env: { ...runtimeEnv, ...entryEnv },
    onLine: (line) => {
      if (stores === undefined) {
        const said = /^edge-proxy: (?:stores in (.+)|PROXY_STORE=(memory))/.exec(line);
        if (said) stores = said[1] ?? (said[2] as string);
      }
      const match = /^edge-proxy listening on (http:\/\/127\.0\.0\.1:\d+)$/.exec(line);
      if (match) resolveUrl(match[1] as string);
      options.onLine?.(line);
      trimOutput(group);
    },
  });
  options.onStart?.(group);
  const stop = async (graceMs?: number): Promise<Exit> => {
    await runtimes.stopGroup(group, graceMs);
    options.onStop?.(group);
    const { code, signal } = await group.exited;
    return { code, signal };
  };
  const url = await Promise.race([
    listening,
    group.exited.then(() => undefined),
    pause(LIMITS.startMs).then(() => undefined),
  ]);
  if (url === undefined) {
    await stop();
    throw new Error(`the ${runtime} entry did not start:\n${group.output.slice(-40).join("\n")}`);
  }
  return { url, group, stores: stores ?? "(not said)", stop };
}

// ---------------------------------------------------------------------------------------------
// workerd through Miniflare: the deployed script as `wrangler dev` runs it, minus wrangler dev's own
// proxy in front of it (which stops answering under sustained load: load/wrangler-dev-repro/)

interface MiniflareInstance {
  ready: Promise<URL>;
  dispose(): Promise<void>;
}

export interface MiniflareModule {
  Miniflare: new (options: unknown) => MiniflareInstance;
  convertV4MiniflareOptions(options: Record<string, unknown>): unknown;
}

/** Resolves packages as wrangler does: its Miniflare, and through that Miniflare its workerd. */
function fromWrangler(): NodeRequire {
  const fromApp = createRequire(join(APP, "package.json"));
  return createRequire(fromApp.resolve("wrangler/package.json"));
}

let miniflareModule: Promise<MiniflareModule> | undefined;
/** Miniflare as wrangler runs it: the copy wrangler depends on, with the workerd wrangler uses. */
export function loadMiniflare(): Promise<MiniflareModule> {
  miniflareModule ??= import(pathToFileURL(fromWrangler().resolve("miniflare")).href);
  return miniflareModule;
}

/** "workerd <version> through Miniflare <version>": what loadMiniflare runs, for reports. */
export function miniflareRuntime(): string {
  const miniflarePackage = fromWrangler().resolve("miniflare/package.json");
  const version = (path: string) =>
    (JSON.parse(readFileSync(path, "utf8")) as { version: string }).version;
  const workerdPackage = createRequire(miniflarePackage).resolve("workerd/package.json");
  return `workerd ${version(workerdPackage)} through Miniflare ${version(miniflarePackage)}`;
}

/** The proxy as deployed, and what wrangler.toml binds to it. */
export interface WorkerScript {
  scriptPath: string;
  compatibilityDate: string;
  compatibilityFlags: string[];
  /** The Durable Object bindings of wrangler.toml, as wrangler dev binds them. */
  durableObjects: Record<string, { className: string; useSQLite?: boolean }>;
  /** The [vars] of wrangler.toml. */
  vars: Record<string, unknown>;
}

/**
 * Bundles the proxy as deployed (`wrangler deploy --dry-run`: minified, per wrangler.toml) into
 * `folder`, once: edits to the sources (or a rebuild of public/) during a run cannot reload it.
 * The bindings are wrangler.toml's, read by wrangler itself; the /docs assets are left out.
 */
export async function bundleWorker(
  folder: string,
  hooks: { onStart?: (group: ProcessGroup) => void; onStop?: (group: ProcessGroup) => void } = {},
): Promise<WorkerScript> {
  const out = join(folder, "out");
  const build = runtimes.spawnGroup(
    process.execPath,
    [runtimes.wranglerScript(), "deploy", "--dry-run", "--outdir", out],
    { env: WRANGLER_ENV },
  );
  hooks.onStart?.(build);
  const exit = await Promise.race([build.exited, pause(LIMITS.startMs).then(() => undefined)]);
  await runtimes.stopGroup(build);
  hooks.onStop?.(build);
  if (exit?.code !== 0) {
    throw new Error(`wrangler deploy --dry-run failed:\n${build.output.slice(-40).join("\n")}`);
  }
  const wrangler = fromWrangler()("wrangler") as {
    unstable_getMiniflareWorkerOptions(configPath: string): {
      workerOptions: {
        compatibilityDate?: string;
        compatibilityFlags?: string[];
        durableObjects?: WorkerScript["durableObjects"];
        bindings?: Record<string, unknown>;
      };
    };
  };
  const { workerOptions } = wrangler.unstable_getMiniflareWorkerOptions(join(APP, "wrangler.toml"));
  if (!workerOptions.compatibilityDate) throw new Error("wrangler.toml has no compatibility_date");
  return {
    scriptPath: join(out, "worker.js"),
    compatibilityDate: workerOptions.compatibilityDate,
    compatibilityFlags: workerOptions.compatibilityFlags ?? [],
    durableObjects: workerOptions.durableObjects ?? {},
    vars: workerOptions.bindings ?? {},
  };
}

/**
 * Miniflare's options for the proxy's Worker: the deployed script with wrangler.toml's bindings and
 * `env` over its vars (as `wrangler dev --env-file` would), on 127.0.0.1 (a free port). With
 * `persistTo`, Durable Object state lives there and outlives a restart. Every line the Worker logs
 * goes to `onLog`: Miniflare reads workerd's output as it comes, so a full pipe never stalls it.
 */
export function miniflareOptions(
  miniflare: MiniflareModule,
  script: WorkerScript,
  env: Record<string, string>,
  options: { persistTo?: string; onLog?: (line: string) => void } = {},
): unknown {
  const onLog = options.onLog;
  return miniflare.convertV4MiniflareOptions({
    host: "127.0.0.1",
    port: 0,
    modules: true,
    scriptPath: script.scriptPath,
    modulesRoot: dirname(script.scriptPath),
    compatibilityDate: script.compatibilityDate,
    compatibilityFlags: script.compatibilityFlags,
    bindings: { ...script.vars, ...env },
    durableObjects: script.durableObjects,
    ...(options.persistTo === undefined ? {} : { resourcePersistencePath: options.persistTo }),
    handleStructuredLogs:
      onLog === undefined ? () => {} : (log: { message: string }) => onLog(log.message),
  });
}

/** A whole-number setting from the environment: `fallback` when unset, an error naming it when out of range. */
export function wholeNumberSetting(
  name: string,
  fallback: number,
  min: number,
  max: number,
): number {
  const raw = process.env[name];
  if (raw === undefined || raw === "") return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new Error(`${name} must be a whole number from ${min} to ${max}`);
  }
  return value;
}

/**
 * Kills what a run started, synchronously, however the run ends: on exit, on SIGINT, SIGTERM or
 * SIGHUP (exit code 130), and, given `timeout`, after `seconds` (exit code 1, saying which
 * variable set it). Answers a function that disarms the timeout.
 */
export function killOnExit(
  kill: () => void,
  what: string,
  progress: (line: string) => void,
  timeout?: { seconds: number; variable: string },
): () => void {
  process.on("exit", kill);
  for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
    process.on(signal, () => {
      progress(`${signal}: stopping ${what}`);
      kill();
      process.exit(130);
    });
  }
  if (timeout === undefined) return () => {};
  const watchdog = setTimeout(() => {
    progress(`still running after ${timeout.variable}=${timeout.seconds} s: stopping`);
    kill();
    process.exit(1);
  }, timeout.seconds * 1000);
  watchdog.unref();
  return () => clearTimeout(watchdog);
}

/** workerd processes started by this process (Miniflare's), from `ps` (Linux and macOS alike). */
export function workerdChildren(): number[] {
  const listing = execFileSync("ps", ["-A", "-o", "pid=,ppid=,comm="], { encoding: "utf8" });
  const found: number[] = [];
  for (const line of listing.split("\n")) {
    const match = /^\s*(\d+)\s+(\d+)\s+(.+?)\s*$/.exec(line);
    if (match === null) continue;
    // macOS prints the command's path, Linux its name.
    const command = (match[3] as string).split("/").at(-1);
    if (Number(match[2]) === process.pid && command === "workerd") found.push(Number(match[1]));
  }
  return found;
}

/** The proxy's Worker running in workerd under this process. */
export interface Workerd {
  url: string;
  /** The workerd processes of this life. */
  pids: number[];
  /** Whether every workerd process of this life still runs (no crash, no restart). */
  alive(): boolean;
  stop(): Promise<void>;
}

/** Starts Miniflare with `options` (miniflareOptions) and waits, bounded, until workerd listens. */
export async function startWorkerd(miniflare: MiniflareModule, options: unknown): Promise<Workerd> {
  const before = new Set(workerdChildren());
  const instance = new miniflare.Miniflare(options);
  let url: URL;
  try {
    url = await Promise.race([
      instance.ready,
      pause(LIMITS.startMs).then((): never => {
        throw new Error("workerd did not start");
      }),
    ]);
  } catch (error) {
    await instance.dispose();
    throw error;
  }
  const pids = workerdChildren().filter((pid) => !before.has(pid));
  return {
    url: url.href.replace(/\/$/, ""),
    pids,
    alive: () => {
      const running = workerdChildren();
      return pids.length > 0 && pids.every((pid) => running.includes(pid));
    },
    stop: () => instance.dispose(),
  };
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
  p50Ms: number;
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
          p50Ms: result.latency.p50,
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
