// Benchmarks of the proxy: overhead per vendor and runtime, throughput, fan-out, memory under load, cold start.
//
//   node bench/proxy.bench.ts                 the full run (about 15 minutes on a 2-core machine)
//   BENCH_QUICK=1 node bench/proxy.bench.ts   fewer rounds and requests, 10 s of memory load
//
// Knobs (environment): BENCH_RUNTIMES=workerd,bun,deno,node  BENCH_VENDORS (default: every vendor of
// src/vendors/index.ts, by name, e.g. ebet,lancens)  BENCH_PARTS=latency,throughput,fanout,memory,cold-start,deny-list,md5
// BENCH_MEMORY_SECONDS (default 60; quick 10)  BENCH_MEMORY_WARMUP_SECONDS (default 30; quick 2)
// BENCH_MEMORY_RPS (default 200)  BENCH_FANOUT_DELAY_MS
// (default 20)  BENCH_SIGNING_KEY_BITS (default: each vendor's own test key; eBET's is 1024 bits, the
// size eBET hands out)  BENCH_WORKERD_HOST=miniflare|wrangler (default miniflare).
//
// The simulators run in a process of their own (bench/simulators.ts), the proxy in another, and the
// load generator here: three processes on the same cores, everything on 127.0.0.1. "direct" sends the
// upstream requests of a logout, already signed, straight to the simulator; "bare" sends the same
// requests through a bare passthrough on the proxy's runtime (bench/bare-passthrough.mjs: the
// runtime's server and fetch, nothing else); "proxy" sends the logout to the proxy, which validates,
// signs and forwards the same requests. The subjects run in the same rounds, in rotating order, each
// round with fresh credentials; figures are medians over rounds. proxy − bare is the proxy's own
// cost; the vendor's own crypto (eBET's MD5withRSA, OneAccess's OAEP), measured on the same runtime
// in the same run (bench/vendor-crypto.ts, case crypto-<runtime>), is taken off it in the targets.
// On workerd the deployed script runs through miniflare; case workerd-host shows what `wrangler dev`
// would add, and case node-hop what one hop costs on Node with fetch and with node:http. Part
// deny-list (workerd only) runs one workerd per layout of the FunGame deny-list's Durable Objects
// side by side and measures its writes (logouts) and reads (token-status) per second in each.
// Prints tables and a targets section, then one `BENCH {json}` line per measurement. A missed target
// is reported, not failed: the exit code is non-zero only when something could not be measured.
// docs/performance.md explains the method and the figures.
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { Agent, request as httpRequest } from "node:http";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import process from "node:process";
import { fileURLToPath, pathToFileURL } from "node:url";
import { type Figures, formatTable, median } from "../../../tooling/bench/harness.ts";
import { loadKits, pickSetting } from "../scripts/kits.mjs";
import {
  type AutocannonRequest,
  type AutocannonResult,
  asAutocannon,
  autocannon,
  bundleWorker,
  type Entry,
  killOnExit,
  LIMITS,
  loadMiniflare,
  miniflareOptions,
  type ProcessGroup,
  pause,
  percentile,
  prepare,
  runLoad,
  runtimes,
  type Simulators,
  startSimulators as spawnSimulators,
  startEntry,
  startWorkerd,
  startWranglerDev,
  stopSimulators as stopSimulatorsProcess,
  trimOutput,
  type WorkerScript,
  workerdChildren,
} from "./shared.ts";
import type { Prepared, RequestSpec, Vendor } from "./simulators.ts";

// ---------------------------------------------------------------------------------------------
// Settings

const QUICK = process.env.BENCH_QUICK === "1";
const RUNTIMES = ["workerd", "bun", "deno", "node"] as const;
type Runtime = (typeof RUNTIMES)[number];
/** Every vendor of the list with its dev kit, by name. */
const KITS = new Map((await loadKits()).map(({ vendor, kit }) => [vendor.name, kit]));
const VENDORS: readonly Vendor[] = [...KITS.keys()];
const PARTS = [
  "latency",
  "throughput",
  "fanout",
  "memory",
  "cold-start",
  "deny-list",
  "md5",
] as const;
/** Parts that run once, not per runtime of BENCH_RUNTIMES. */
const RUN_ONCE: readonly (typeof PARTS)[number][] = ["cold-start", "deny-list", "md5"];

function listSetting<T extends string>(name: string, all: readonly T[]): T[] {
  return pickSetting(name, process.env[name], all);
}

function numberSetting(name: string, fallback: number, min: number, max: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === "") return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value < min || value > max) {
    throw new Error(`${name} must be a number from ${min} to ${max}`);
  }
  return value;
}

const SETTINGS = {
  runtimes: listSetting("BENCH_RUNTIMES", RUNTIMES),
  vendors: listSetting("BENCH_VENDORS", VENDORS),
  parts: listSetting("BENCH_PARTS", PARTS),
  latency: { rounds: QUICK ? 3 : 7, requests: QUICK ? 40 : 150, warmup: QUICK ? 15 : 40 },
  throughput: { rounds: QUICK ? 1 : 3, logouts: QUICK ? 500 : 2000, connections: 50 },
  fanout: {
    rounds: QUICK ? 3 : 5,
    requests: QUICK ? 10 : 30,
    warmup: 5,
    delayMs: numberSetting("BENCH_FANOUT_DELAY_MS", 20, 0, 1000),
  },
  fanoutLoopback: { rounds: QUICK ? 3 : 5, requests: QUICK ? 20 : 60, warmup: 10 },
  memory: {
    seconds: numberSetting("BENCH_MEMORY_SECONDS", QUICK ? 10 : 60, 2, 3600),
    rps: numberSetting("BENCH_MEMORY_RPS", 200, 4, 10_000),
    /**
     * Load at the same rate before the window: a fresh V8 (Node, Deno) grows its heap to what the
     * rate needs over the first 30 to 50 s and then stays, which is settling, not a leak.
     */
    warmupSeconds: numberSetting("BENCH_MEMORY_WARMUP_SECONDS", QUICK ? 2 : 30, 0, 600),
    connections: 8,
  },
  coldStart: { rounds: QUICK ? 3 : 7 },
  /**
   * Per layout and round: `writes` logouts, then `reads` token-status requests going round the
   * tokens those logouts revoked (reads are cheaper: more of them make a run of similar length).
   */
  denyList: {
    rounds: QUICK ? 1 : 3,
    writes: QUICK ? 500 : 2000,
    reads: QUICK ? 1500 : 5000,
    warmup: QUICK ? 100 : 200,
    connections: 50,
  },
  /**
   * How workerd runs the proxy: "miniflare" (default; the deployed script in the workerd wrangler
   * uses) or "wrangler" (`wrangler dev`, whose dev proxy adds its own hop: see case workerd-host).
   */
  workerdHost: listSetting("BENCH_WORKERD_HOST", ["miniflare", "wrangler"] as const)[0],
};

/** The vendor whose logout the cold-start case times, when picked: its first call imports the channel key and signs. */
const COLD_START_VENDOR: Vendor = "ebet";

/**
 * Targets. The p50 overhead is 1 ms for a vendor unless its name is listed with its own (the proxy
 * signs or encrypts every eBET and OneAccess call).
 */
const TARGETS = {
  overheadP50Ms: { default: 1, byVendor: { ebet: 2, "sdk-auth": 2 } as Record<Vendor, number> },
  throughputRatio: 0.5,
  /** Against the bare passthrough on the same runtime: what is the proxy's own. */
  overBareP50Ms: 0.3,
  overBareThroughputRatio: 0.7,
  fanoutRatio: 1.05,
  /** The proxy's first answer after a cold start, less an empty Worker's. */
  coldStartOverEmptyMs: 25,
  /** Node's resident memory under the same load, as a multiple of Bun's. */
  nodeOverBunRss: 2,
};

// ---------------------------------------------------------------------------------------------
// Processes: the scripts of `npm start` (typed here), the simulators, the proxy under each runtime

const { APP } = runtimes;

const progress = (line: string) => process.stderr.write(`[bench] ${line}\n`);

/** Process groups to stop however this process ends. */
const running = new Set<ProcessGroup>();
let simulatorsChild: ChildProcess | undefined;
const bareHops = new Set<ChildProcess>();
/** The entries' data directories, removed however this process ends. */
const dataDirs = new Set<string>();

function killEverythingNow(): void {
  for (const group of running) {
    const pid = group.child.pid;
    if (pid === undefined) continue;
    try {
      process.kill(-pid, "SIGKILL");
    } catch {
      // Already gone.
    }
  }
  simulatorsChild?.kill("SIGKILL");
  for (const child of bareHops) child.kill("SIGKILL");
  for (const pid of workerdChildren()) {
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      // Already gone.
    }
  }
  removeWorkerScript();
  for (const dataDir of dataDirs) rmSync(dataDir, { recursive: true, force: true });
}

killOnExit(killEverythingNow, "the proxy and the simulators", progress);

function startSimulators(): Promise<Simulators> {
  return spawnSimulators((child) => {
    simulatorsChild = child;
  });
}

function stopSimulators(): Promise<void> {
  return stopSimulatorsProcess(simulatorsChild);
}

/** A proxy listening on 127.0.0.1: its base URL, the processes to watch for RSS, and how to stop it. */
interface RunningProxy {
  runtime: Runtime;
  url: string;
  /** The bare passthrough on the same runtime (bench/bare-passthrough.mjs): subject "bare". */
  bare: Bare;
  /** The process group of the runtime; none when workerd runs under this process (miniflare). */
  group: ProcessGroup | undefined;
  /** PIDs whose RSS is the proxy's: the runtime itself (workerd for wrangler dev and miniflare). */
  rssPids(): number[];
  stop(): Promise<void>;
}

/** Processes of a process group whose command name is `name`. */
function groupProcesses(groupId: number, name: string): number[] {
  const found: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      const close = stat.lastIndexOf(")");
      const comm = stat.slice(stat.indexOf("(") + 1, close);
      const fields = stat.slice(close + 2).split(" ");
      // After the command: state, ppid, pgrp, ...
      if (Number(fields[2]) === groupId && comm === name) found.push(Number(entry));
    } catch {
      // The process ended while we looked.
    }
  }
  return found;
}

/** A bare passthrough (or another helper server of the bench) listening on 127.0.0.1. */
interface Bare {
  url: string;
  stop(): Promise<void>;
}

const BARE_SCRIPT = fileURLToPath(new URL("./bare-passthrough.mjs", import.meta.url));
const CRYPTO_SCRIPT = fileURLToPath(new URL("./vendor-crypto.ts", import.meta.url));
const SERVE_HELPER = fileURLToPath(new URL("./serve-helper.mjs", import.meta.url));
const MD5_SCRIPT = fileURLToPath(new URL("./md5-libraries.ts", import.meta.url));

/** The bare passthrough on `runtime` (bench/bare-passthrough.mjs). */
function startBare(runtime: Runtime): Promise<Bare> {
  return startHelper(runtime, BARE_SCRIPT, "passthrough", "bare-passthrough");
}

/** The vendor-crypto probe on `runtime` (bench/vendor-crypto.ts). */
function startCryptoProbe(runtime: Runtime): Promise<Bare> {
  return startHelper(runtime, CRYPTO_SCRIPT, "probe", "vendor-crypto");
}

/**
 * A Worker whose fetch is `handler` of `file`, bundled by esbuild (miniflare follows no imports),
 * served under miniflare as the proxy's script is by default (BENCH_WORKERD_HOST=miniflare).
 */
async function startWorkerHelper(file: string, handler: string): Promise<Bare> {
  const folder = mkdtempSync(join(tmpdir(), "edge-proxy-helper-"));
  // Removed at exit too, however the bench ends.
  dataDirs.add(folder);
  const removeFolder = () => {
    rmSync(folder, { recursive: true, force: true });
    dataDirs.delete(folder);
  };
  try {
    const outfile = join(folder, "worker.mjs");
    const { build } = await import("esbuild");
    await build({
      stdin: {
        contents: `import { ${handler} } from ${JSON.stringify(file)};\nexport default { fetch: ${handler} };\n`,
        resolveDir: dirname(file),
        loader: "js",
      },
      bundle: true,
      format: "esm",
      platform: "neutral",
      target: "es2022",
      conditions: ["workerd", "worker", "browser"],
      mainFields: ["module", "main"],
      // node-forge requires Node's crypto only when it runs on Node: an empty module here.
      plugins: [
        {
          name: "no-node-crypto",
          setup(bundle) {
            bundle.onResolve({ filter: /^crypto$/ }, () => ({
              path: "crypto",
              namespace: "empty",
            }));
            bundle.onLoad({ filter: /.*/, namespace: "empty" }, () => ({
              contents: "module.exports = {};",
              loader: "js",
            }));
          },
        },
      ],
      outfile,
      logLevel: "error",
    });
    const miniflare = await loadMiniflare();
    const script = await workerScript();
    const workerd = await startWorkerd(
      miniflare,
      miniflare.convertV4MiniflareOptions({
        host: "127.0.0.1",
        port: 0,
        modules: true,
        scriptPath: outfile,
        // Module names are paths under this root: outside it, workerd refuses to start.
        modulesRoot: folder,
        compatibilityDate: script.compatibilityDate,
        compatibilityFlags: script.compatibilityFlags,
      }),
    );
    return {
      url: workerd.url,
      stop: async () => {
        await workerd.stop();
        removeFolder();
      },
    };
  } catch (error) {
    removeFolder();
    throw error;
  }
}

/**
 * A helper module served on `runtime`: on workerd its `handler` as a Worker (startWorkerHelper);
 * elsewhere the runtime running the file, which prints `<name> listening on <url>`.
 */
async function startHelper(
  runtime: Runtime,
  file: string,
  handler: string,
  name: string,
): Promise<Bare> {
  if (runtime === "workerd") return startWorkerHelper(file, handler);
  const served = [SERVE_HELPER, file, handler, name];
  const { command, args, env } =
    runtime === "node"
      ? { command: process.execPath, args: served, env: {} }
      : runtime === "bun"
        ? { command: runtimes.bunBinary(), args: served, env: {} }
        : {
            command: runtimes.denoBinary(),
            args: [
              "run",
              "--no-prompt",
              "--no-lock",
              "--allow-net=127.0.0.1",
              `--allow-read=${runtimes.ROOT}`,
              "--allow-env",
              ...served,
            ],
            env: { DENO_NO_UPDATE_CHECK: "1", NO_COLOR: "1" },
          };
  let announced: (url: string) => void = () => {};
  const listening = new Promise<string>((resolve) => {
    announced = resolve;
  });
  const pattern = new RegExp(`^${name} listening on (http://127\\.0\\.0\\.1:\\d+)$`);
  const group = runtimes.spawnGroup(command, args, {
    env,
    onLine: (line) => {
      const match = pattern.exec(line);
      if (match) announced(match[1] as string);
      trimOutput(group);
    },
  });
  running.add(group);
  const stop = async () => {
    await runtimes.stopGroup(group);
    running.delete(group);
  };
  try {
    const url = await Promise.race([
      listening,
      group.exited.then((exit): never => {
        throw new Error(
          `${name} on ${runtime} exited (${exit?.code}): ${group.output.slice(-5).join(" | ")}`,
        );
      }),
      pause(LIMITS.startMs).then((): never => {
        throw new Error(`${name} on ${runtime} did not start`);
      }),
    ]);
    return { url, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

/** The MD5withRSA implementations compared on each runtime (bench/md5-libraries.ts). */
const MD5_LIBRARIES = ["core", "openssl", "jsrsasign", "forge"] as const;

/**
 * eBET's MD5withRSA by @x/core-signing, OpenSSL (node:crypto), jsrsasign and node-forge on each
 * runtime: N signatures against none, timed from outside, per signature; medians over rounds.
 */
async function md5Case(runtime: Runtime): Promise<void> {
  const probe = await startHelper(runtime, MD5_SCRIPT, "probe", "md5-libraries");
  const N = 50;
  try {
    for (const lib of MD5_LIBRARIES) {
      const perSignMs = await perOperationMs(probe, `lib=${lib}`, N, 5, LIMITS.requestMs * 20);
      record(
        `md5-${runtime}`,
        lib,
        perSignMs === undefined
          ? { available: false }
          : { usPerSign: perSignMs * 1000, available: true, n: N },
      );
    }
    progress(
      `md5-${runtime}: ${MD5_LIBRARIES.map((lib) => `${lib} ${ms(figure(`md5-${runtime}`, lib, "usPerSign"), 0)} µs`).join(", ")}`,
    );
  } finally {
    await probe.stop();
  }
}

/**
 * What one operation of a probe takes, in ms: `n` of them in one request against none, timed from
 * here (workerd's clock does not move during a computation), the median over rounds, after a
 * warm-up of `warmup`, each request aborted after `timeoutMs`. Undefined when the probe answers 501 (not on this runtime).
 */
async function perOperationMs(
  probe: Bare,
  query: string,
  n: number,
  warmup: number,
  timeoutMs: number,
): Promise<number | undefined> {
  const time = async (count: number): Promise<number | undefined> => {
    const start = performance.now();
    const response = await fetch(`${probe.url}/?${query}&n=${count}`, {
      signal: AbortSignal.timeout(timeoutMs),
    });
    const text = await response.text();
    if (response.status === 501) return undefined;
    if (response.status !== 200) throw new Error(`${probe.url}/?${query}: ${text.slice(0, 200)}`);
    return performance.now() - start;
  };
  if ((await time(warmup)) === undefined) return undefined;
  const perOperation: number[] = [];
  for (let round = 0; round < (QUICK ? 3 : 7); round++) {
    const empty = (await time(0)) as number;
    const full = (await time(n)) as number;
    perOperation.push(Math.max(0, full - empty) / n);
  }
  return median(perOperation);
}

/** Vendors whose logout needs crypto of their own, and what it is. */
const VENDOR_CRYPTO: Record<Vendor, string> = {
  ebet: "MD5withRSA, 1024-bit key",
  "sdk-auth": "RSA-OAEP SHA-256, 2048-bit key",
};

/**
 * The crypto each picked vendor requires per logout, on this runtime: N = 100 of them against
 * N = 0, timed from here, per logout; medians over rounds.
 */
async function cryptoCase(runtime: Runtime): Promise<void> {
  const vendors = SETTINGS.vendors.filter((vendor) => VENDOR_CRYPTO[vendor] !== undefined);
  if (vendors.length === 0) return;
  const probe = await startCryptoProbe(runtime);
  const N = 100;
  try {
    for (const vendor of vendors) {
      const perLogoutMs = await perOperationMs(
        probe,
        `vendor=${vendor}`,
        N,
        20,
        LIMITS.requestMs * 10,
      );
      if (perLogoutMs === undefined) throw new Error(`vendor-crypto has no ${vendor}`);
      record(`crypto-${runtime}`, vendor, {
        perLogoutMs,
        operation: VENDOR_CRYPTO[vendor] as string,
        n: N,
      });
      progress(`crypto-${runtime} ${vendor}: ${ms(perLogoutMs)} ms per logout`);
    }
  } finally {
    await probe.stop();
  }
}

async function startProxy(runtime: Runtime, env: Record<string, string>): Promise<RunningProxy> {
  const bare = await startBare(runtime);
  try {
    return { ...(await startProxyAlone(runtime, env, bare)), bare };
  } catch (error) {
    await bare.stop();
    throw error;
  }
}

/**
 * The sharded stores as they run from an hour after a deploy on: the legacy layout is no longer
 * read. Without the version metadata binding (miniflare has none) it would be read forever, every
 * FunGame claim also going to the one legacy deny-list object (part deny-list measures that case).
 */
const STEADY_STATE = { DENY_LIST_SHARDS_PREVIOUS: "none", REPLAY_GUARD_SHARDS_PREVIOUS: "none" };

async function startProxyAlone(
  runtime: Runtime,
  env: Record<string, string>,
  bare: Bare,
): Promise<Omit<RunningProxy, "bare">> {
  const withBare = <T extends { stop(): Promise<void> }>(proxy: T): T => ({
    ...proxy,
    stop: async () => {
      try {
        await proxy.stop();
      } finally {
        await bare.stop();
      }
    },
  });
  if (runtime === "workerd") {
    const deployed = { ...env, ...STEADY_STATE };
    if (SETTINGS.workerdHost === "wrangler") {
      warnings.push(
        "BENCH_WORKERD_HOST=wrangler: the bare passthrough still runs under miniflare, so workerd's proxy − bare includes wrangler dev's own hop",
      );
    }
    return withBare(
      SETTINGS.workerdHost === "wrangler"
        ? await startWrangler(deployed)
        : await startMiniflare(deployed),
    );
  }
  // The entry's stores (SQLite, Deno KV) in a data directory of its own, removed when it stops.
  const dataDir = mkdtempSync(join(tmpdir(), "edge-proxy-bench-data-"));
  dataDirs.add(dataDir);
  const removeDataDir = () => {
    rmSync(dataDir, { recursive: true, force: true });
    dataDirs.delete(dataDir);
  };
  let entry: Entry;
  try {
    entry = await startEntry(runtime, env, {
      dataDir,
      onStart: (group) => running.add(group),
      onStop: (group) => running.delete(group),
    });
  } catch (error) {
    removeDataDir();
    throw error;
  }
  const pid = entry.group.child.pid as number;
  return withBare({
    runtime,
    url: entry.url,
    group: entry.group,
    rssPids: () => [pid],
    stop: async () => {
      await entry.stop();
      removeDataDir();
    },
  });
}

/** The deployed script in workerd, through miniflare (what `wrangler dev` runs, minus its dev proxy). */
async function startMiniflare(env: Record<string, string>): Promise<Omit<RunningProxy, "bare">> {
  const miniflare = await loadMiniflare();
  // The proxy logs a line per request; here the logs are not the point.
  const workerd = await startWorkerd(
    miniflare,
    miniflareOptions(miniflare, await workerScript(), env),
  );
  return {
    runtime: "workerd",
    url: workerd.url,
    group: undefined,
    rssPids: () => workerd.pids,
    stop: workerd.stop,
  };
}

async function startWrangler(env: Record<string, string>): Promise<Omit<RunningProxy, "bare">> {
  const wrangler = await startWranglerDev(env, {
    onStart: (group) => running.add(group),
    onStop: (group) => running.delete(group),
  });
  const leader = wrangler.group.child.pid as number;
  return {
    runtime: "workerd",
    url: wrangler.url,
    group: wrangler.group,
    rssPids: () => groupProcesses(leader, "workerd"),
    stop: wrangler.stop,
  };
}

// ---------------------------------------------------------------------------------------------
// One logout at a time, timed with performance.now()

interface Answer {
  status: number;
  body: string;
}

function send(agent: Agent, base: URL, spec: RequestSpec): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const body = spec.body === undefined ? undefined : Buffer.from(spec.body, "utf8");
    const headers: Record<string, string> = { ...spec.headers };
    if (body !== undefined) headers["content-length"] = String(body.length);
    else if (spec.method === "POST") headers["content-length"] = "0";
    const request = httpRequest(
      {
        host: base.hostname,
        port: base.port,
        method: spec.method,
        path: spec.path,
        headers,
        agent,
      },
      (response) => {
        const chunks: Buffer[] = [];
        response.on("data", (chunk: Buffer) => chunks.push(chunk));
        response.on("end", () =>
          resolve({
            status: response.statusCode ?? 0,
            body: Buffer.concat(chunks).toString("utf8"),
          }),
        );
        response.on("error", reject);
      },
    );
    request.setTimeout(LIMITS.requestMs, () =>
      request.destroy(new Error(`no answer within ${LIMITS.requestMs} ms`)),
    );
    request.on("error", reject);
    request.end(body);
  });
}

/** A vendor's dev kit, by name. */
function kitOf(vendor: Target) {
  const kit = KITS.get(vendor);
  if (kit === undefined) throw new Error(`no dev kit for ${vendor}`);
  return kit;
}

type Kind = "direct" | "bare" | "proxy";
/** What a measured request does: one vendor's logout, the fan-out, or the health check. */
type Target = Vendor | "fanout" | "healthz";

/** Whether an answer is the success the logout should get. */
function succeeded(kind: Kind, vendor: Target, answer: Answer): boolean {
  if (vendor === "healthz") return answer.status === 200;
  if (kind === "proxy") return answer.status === 200 && answer.body.includes('"ok":true');
  // Straight to the vendor: its kit knows its success (eBET answers HTTP 200 whatever happened).
  return kitOf(vendor).succeeded(answer.status, answer.body);
}

interface SequentialRun {
  latenciesMs: number[];
  errors: number;
  firstError: string | undefined;
}

/** Sends each logout in turn (concurrency 1), timing all of its requests together. */
async function runSequential(
  kind: Kind,
  vendor: Target,
  base: string,
  prepared: Prepared,
): Promise<SequentialRun> {
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  const url = new URL(base);
  const latenciesMs: number[] = [];
  let errors = 0;
  let firstError: string | undefined;
  try {
    for (const steps of prepared.items) {
      const start = performance.now();
      let ok = true;
      for (const step of steps) {
        try {
          const answer = await send(agent, url, step);
          if (!succeeded(kind, vendor, answer)) {
            ok = false;
            firstError ??= `HTTP ${answer.status} ${answer.body.slice(0, 300)}`;
          }
        } catch (error) {
          ok = false;
          firstError ??= error instanceof Error ? error.message : String(error);
        }
      }
      const elapsed = performance.now() - start;
      if (ok) latenciesMs.push(elapsed);
      else errors++;
    }
  } finally {
    agent.destroy();
  }
  return { latenciesMs, errors, firstError };
}

const medianOrNaN = (values: readonly number[]) =>
  values.length === 0 ? Number.NaN : median(values);

// ---------------------------------------------------------------------------------------------
// Results

interface Row {
  case: string;
  subject: string;
  figures: Figures;
}

const rows: Row[] = [];
const problems: string[] = [];
const warnings: string[] = [];

function record(caseName: string, subject: string, figures: Figures): void {
  rows.push({ case: caseName, subject, figures });
}

function figure(caseName: string, subject: string, name: string): number {
  const row = rows.find((r) => r.case === caseName && r.subject === subject);
  const value = row?.figures[name];
  return typeof value === "number" ? value : Number.NaN;
}

const ms = (value: number | string | boolean | null | undefined, digits = 3) =>
  typeof value === "number" && Number.isFinite(value) ? value.toFixed(digits) : "-";

// ---------------------------------------------------------------------------------------------
// 1. Latency at concurrency 1: direct vs proxy, interleaved rounds

interface Subject {
  name: string;
  kind: Kind;
  base: () => string;
  make: (count: number) => Promise<Prepared>;
}

async function interleavedLatency(
  caseName: string,
  vendor: Target,
  subjects: readonly Subject[],
  settings: { rounds: number; requests: number; warmup: number },
): Promise<void> {
  for (const subject of subjects) {
    const warm = await runSequential(
      subject.kind,
      vendor,
      subject.base(),
      await subject.make(settings.warmup),
    );
    if (warm.errors > 0) {
      warnings.push(
        `${caseName} ${subject.name} warm-up: ${warm.errors} errors (${warm.firstError})`,
      );
    }
  }
  const p50s: number[][] = subjects.map(() => []);
  const p99s: number[][] = subjects.map(() => []);
  const errors = subjects.map(() => 0);
  const samples = subjects.map(() => 0);
  const firstErrors: (string | undefined)[] = subjects.map(() => undefined);
  for (let round = 0; round < settings.rounds; round++) {
    for (let offset = 0; offset < subjects.length; offset++) {
      const index = (offset + round) % subjects.length;
      const subject = subjects[index] as Subject;
      const prepared = await subject.make(settings.requests);
      const run = await runSequential(subject.kind, vendor, subject.base(), prepared);
      if (run.latenciesMs.length > 0) {
        (p50s[index] as number[]).push(percentile(run.latenciesMs, 50));
        (p99s[index] as number[]).push(percentile(run.latenciesMs, 99));
      }
      errors[index] = (errors[index] as number) + run.errors;
      samples[index] = (samples[index] as number) + run.latenciesMs.length;
      firstErrors[index] ??= run.firstError;
    }
  }
  subjects.forEach((subject, index) => {
    record(caseName, subject.name, {
      p50Ms: medianOrNaN(p50s[index] as number[]),
      p99Ms: medianOrNaN(p99s[index] as number[]),
      errors: errors[index] as number,
      samples: samples[index] as number,
      rounds: settings.rounds,
    });
    if ((errors[index] as number) > 0) {
      warnings.push(
        `${caseName} ${subject.name}: ${errors[index]} errors, first: ${firstErrors[index]}`,
      );
    }
  });
  progress(
    `${caseName}: ${subjects
      .map((s) => `${s.name} p50 ${ms(figure(caseName, s.name, "p50Ms"))} ms`)
      .join(", ")}`,
  );
}

function vendorSubjects(sims: Simulators, proxy: RunningProxy, vendor: Vendor): Subject[] {
  const direct = (count: number) => prepare(sims, "/prepare", { vendor, mode: "direct", count });
  return [
    {
      name: "direct",
      kind: "direct",
      base: () => {
        const url = sims.urls[vendor];
        if (url === undefined) throw new Error(`the simulators serve no ${vendor}`);
        return url;
      },
      make: direct,
    },
    {
      // The same upstream requests, already signed, sent on by the bare passthrough.
      name: "bare",
      kind: "bare",
      base: () => proxy.bare.url,
      make: async (count) => {
        const prepared = await direct(count);
        return {
          base: "",
          items: prepared.items.map((steps) => [
            {
              method: "POST",
              path: "/",
              headers: { "content-type": "application/json" },
              body: JSON.stringify({ base: prepared.base, steps }),
            },
          ]),
        };
      },
    },
    {
      name: "proxy",
      kind: "proxy",
      base: () => proxy.url,
      make: (count) => prepare(sims, "/prepare", { vendor, mode: "proxy", count }),
    },
  ];
}

// ---------------------------------------------------------------------------------------------
// 2. Throughput at concurrency 50 with autocannon

async function throughputCase(
  sims: Simulators,
  proxy: RunningProxy,
  vendor: Vendor,
): Promise<void> {
  const caseName = `throughput-${vendor}-${proxy.runtime}`;
  const { rounds, logouts, connections } = SETTINGS.throughput;
  const subjects = vendorSubjects(sims, proxy, vendor);
  const rps: number[][] = subjects.map(() => []);
  const p99: number[][] = subjects.map(() => []);
  const errors = subjects.map(() => 0);
  for (let round = 0; round < rounds; round++) {
    for (let offset = 0; offset < subjects.length; offset++) {
      const index = (offset + round) % subjects.length;
      const subject = subjects[index] as Subject;
      // Every connection may build one request more than it sends.
      const prepared = await subject.make(logouts + connections + 5);
      // autocannon counts answers other than 2xx itself; the body says the rest.
      const verify =
        subject.kind === "proxy"
          ? (body: string) => body.includes('"ok":true')
          : (body: string) => kitOf(vendor).succeeded(200, body);
      const run = await runLoad(
        subject.base(),
        prepared.items,
        { connections, amount: logouts },
        verify,
      );
      (rps[index] as number[]).push(run.logouts / run.seconds);
      (p99[index] as number[]).push(run.p99Ms);
      errors[index] = (errors[index] as number) + run.errors;
    }
  }
  subjects.forEach((subject, index) => {
    record(caseName, subject.name, {
      rps: medianOrNaN(rps[index] as number[]),
      p99Ms: medianOrNaN(p99[index] as number[]),
      errors: errors[index] as number,
      connections,
      rounds,
      logoutsPerRound: logouts,
    });
    if ((errors[index] as number) > 0)
      warnings.push(`${caseName} ${subject.name}: ${errors[index]} errors`);
  });
  progress(
    `${caseName}: direct ${figure(caseName, "direct", "rps").toFixed(0)} rps, bare ${figure(caseName, "bare", "rps").toFixed(0)} rps, proxy ${figure(caseName, "proxy", "rps").toFixed(0)} rps`,
  );
}

// ---------------------------------------------------------------------------------------------
// 3. Fan-out: every picked vendor at once against the slowest vendor alone, both via /v1/logout.
// On loopback every vendor answers in well under a millisecond, so the fan-out is bound by CPU (the
// proxy's single thread and the simulators' process): "fanout-loopback" shows that. "fanout" gives
// every simulator answer a delay like a network round trip to a real vendor, where concurrency is
// what counts; the slowest vendor is found under the same delay.

async function setAnswerDelay(sims: Simulators, ms: number): Promise<void> {
  const response = await fetch(`${sims.control}/delay`, {
    method: "POST",
    body: JSON.stringify({ ms }),
    signal: AbortSignal.timeout(10_000),
  });
  await response.text();
  if (response.status !== 200) throw new Error(`/delay ${ms}: HTTP ${response.status}`);
}

async function fanoutCase(
  sims: Simulators,
  proxy: RunningProxy,
  caseName: string,
  delayMs: number,
  settings: { rounds: number; requests: number; warmup: number },
): Promise<void> {
  const vendors = SETTINGS.vendors;
  const make =
    (members: readonly Vendor[]) =>
    (count: number): Promise<Prepared> =>
      prepare(sims, "/prepare-fanout", { vendors: members, count });
  await setAnswerDelay(sims, delayMs);
  try {
    // The slowest vendor alone, under the same conditions: a short sequential probe of each.
    let slowest: Vendor = vendors[0] as Vendor;
    let slowestP50 = -1;
    for (const vendor of vendors) {
      const run = await runSequential(
        "proxy",
        "fanout",
        proxy.url,
        await make([vendor])(settings.warmup + 5),
      );
      const p50 = percentile(run.latenciesMs, 50);
      if (p50 > slowestP50) {
        slowest = vendor;
        slowestP50 = p50;
      }
    }
    const subject = (name: string, members: readonly Vendor[]): Subject => ({
      name,
      kind: "proxy",
      base: () => proxy.url,
      make: make(members),
    });
    await interleavedLatency(
      caseName,
      "fanout",
      [subject("all-vendors", vendors), subject("slowest-alone", [slowest])],
      settings,
    );
    for (const row of rows) {
      if (row.case === caseName) {
        row.figures = {
          runtime: proxy.runtime,
          ...row.figures,
          slowestVendor: slowest,
          upstreamDelayMs: delayMs,
        };
      }
    }
  } finally {
    await setAnswerDelay(sims, 0);
  }
}

// ---------------------------------------------------------------------------------------------
// 4. Memory under constant load

function rssMb(pids: readonly number[]): number {
  let kb = 0;
  for (const pid of pids) {
    try {
      const match = /^VmRSS:\s+(\d+)\s+kB/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
      if (match) kb += Number(match[1]);
    } catch {
      // Gone.
    }
  }
  return kb / 1024;
}

async function memoryCase(sims: Simulators, proxy: RunningProxy): Promise<void> {
  const { seconds, rps, warmupSeconds, connections } = SETTINGS.memory;
  const vendors = SETTINGS.vendors;
  const total = Math.ceil(rps * (seconds + warmupSeconds));
  const perVendor = Math.ceil(total / vendors.length) + connections * 2 + 10;
  // One pool per vendor; each connection walks the vendors in turn, one logout each.
  const pools: RequestSpec[][][] = [];
  for (const vendor of vendors) {
    pools.push(
      (await prepare(sims, "/prepare", { vendor, mode: "proxy", count: perVendor })).items,
    );
  }
  const pids = proxy.rssPids();
  if (pids.length === 0) {
    problems.push(`memory ${proxy.runtime}: no process to sample`);
    return;
  }
  const samples: { at: number; mb: number }[] = [];
  const start = performance.now();
  const sampler = setInterval(() => {
    samples.push({ at: (performance.now() - start) / 1000, mb: rssMb(proxy.rssPids()) });
    trimOutput(proxy.group);
  }, 1000);
  const cursors = pools.map(() => 0);
  const requests: AutocannonRequest[] = pools.map((pool, index) => ({
    setupRequest: (request) => {
      const cursor = cursors[index] as number;
      cursors[index] = cursor + 1;
      return asAutocannon(
        request,
        ((pool[cursor] ?? pool[pool.length - 1]) as RequestSpec[])[0] as RequestSpec,
      );
    },
  }));
  let result: AutocannonResult;
  try {
    result = await new Promise<AutocannonResult>((resolve, reject) => {
      const instance = autocannon(
        {
          url: proxy.url,
          connections,
          duration: seconds + warmupSeconds,
          overallRate: rps,
          timeout: LIMITS.requestMs / 1000,
          requests,
          verifyBody: (body: string) => body.includes('"ok":true'),
          renderProgressBar: false,
          renderResultsTable: false,
          renderLatencyTable: false,
        },
        (error, value) => {
          clearTimeout(watchdog);
          if (error) reject(error);
          else resolve(value);
        },
      );
      const watchdog = setTimeout(() => instance.stop(), (seconds + warmupSeconds) * 1000 + 60_000);
    });
  } finally {
    clearInterval(sampler);
  }
  const measured = samples.filter((sample) => sample.at >= warmupSeconds);
  // Start and end are the medians of the window's first and last thirds: a collector's sawtooth
  // (Bun's RSS climbs about 8 MB and drops back every 12 to 15 s at this rate) would make a few
  // samples at each end measure its phase rather than a trend.
  const window = Math.max(1, Math.floor(measured.length / 3));
  const startMb = medianOrNaN(measured.slice(0, window).map((s) => s.mb));
  const endMb = medianOrNaN(measured.slice(-window).map((s) => s.mb));
  // The trend over every sample of the window (least squares), for a slow rise that the ends'
  // medians and their allowance would pass: a leak shows as a slope a longer run confirms.
  const meanAt = measured.reduce((sum, s) => sum + s.at, 0) / measured.length;
  const meanMb = measured.reduce((sum, s) => sum + s.mb, 0) / measured.length;
  let covariance = 0;
  let variance = 0;
  for (const sample of measured) {
    covariance += (sample.at - meanAt) * (sample.mb - meanMb);
    variance += (sample.at - meanAt) ** 2;
  }
  const slopeMbPerMin = variance > 0 ? (covariance / variance) * 60 : Number.NaN;
  const errors = result.non2xx + result.errors + result.timeouts + result.mismatches;
  record("memory", proxy.runtime, {
    rssStartMb: startMb,
    rssEndMb: endMb,
    rssMaxMb: Math.max(...measured.map((s) => s.mb)),
    growthMb: endMb - startMb,
    slopeMbPerMin,
    seconds,
    rps: result["2xx"] / (seconds + warmupSeconds),
    errors,
    samples: measured.length,
  });
  if (errors > 0) warnings.push(`memory ${proxy.runtime}: ${errors} errors under load`);
  progress(`memory ${proxy.runtime}: ${startMb.toFixed(1)} MB -> ${endMb.toFixed(1)} MB`);
}

// ---------------------------------------------------------------------------------------------
// 5. Cold start: workerd (through miniflare, as wrangler dev runs it) from start to the first answer

/** The script as deployed, bundled once per run into a folder removed at the end. */
let workerScriptMade: Promise<WorkerScript> | undefined;
let workerScriptFolder: string | undefined;
function workerScript(): Promise<WorkerScript> {
  workerScriptMade ??= (async () => {
    const folder = mkdtempSync(join(tmpdir(), "edge-proxy-script-"));
    workerScriptFolder = folder;
    return bundleWorker(folder, {
      onStart: (group) => running.add(group),
      onStop: (group) => running.delete(group),
    });
  })();
  return workerScriptMade;
}

function removeWorkerScript(): void {
  if (workerScriptFolder) rmSync(workerScriptFolder, { recursive: true, force: true });
}

async function coldStartCase(sims: Simulators): Promise<void> {
  const miniflare = await loadMiniflare();
  const script = await workerScript();
  // The baseline: a Worker that does nothing, with the same bindings and Durable Object classes, so
  // that the difference is the proxy's own script: its compilation, top-level work and first request.
  const classes = [...new Set(Object.values(script.durableObjects).map((d) => d.className))];
  const options = (which: "proxy" | "empty") =>
    which === "proxy"
      ? miniflareOptions(miniflare, script, sims.env)
      : miniflare.convertV4MiniflareOptions({
          host: "127.0.0.1",
          port: 0,
          modules: true,
          compatibilityDate: script.compatibilityDate,
          compatibilityFlags: script.compatibilityFlags,
          bindings: { ...script.vars, ...sims.env },
          durableObjects: script.durableObjects,
          handleStructuredLogs: () => {},
          script: [
            'import { DurableObject } from "cloudflare:workers";',
            ...classes.map((name) => `export class ${name} extends DurableObject {}`),
            'export default { fetch() { return new Response("ok"); } };',
          ].join("\n"),
        });

  const first: Record<"proxy" | "empty", number[]> = { proxy: [], empty: [] };
  const ready: Record<"proxy" | "empty", number[]> = { proxy: [], empty: [] };
  // The logout timed after a start: the policy's vendor when picked (its first call imports the
  // channel key and signs), else the first vendor picked.
  const logoutVendor = SETTINGS.vendors.includes(COLD_START_VENDOR)
    ? COLD_START_VENDOR
    : SETTINGS.vendors[0];
  const firstLogout: number[] = [];
  const warmLogout: number[] = [];
  let errors = 0;
  for (let round = 0; round < SETTINGS.coldStart.rounds; round++) {
    const order: ("proxy" | "empty")[] = round % 2 === 0 ? ["proxy", "empty"] : ["empty", "proxy"];
    for (const which of order) {
      // Credentials first, so that nothing but the start is timed.
      const logouts =
        which === "proxy" && logoutVendor !== undefined
          ? await prepare(sims, "/prepare", { vendor: logoutVendor, mode: "proxy", count: 2 })
          : undefined;
      const started = performance.now();
      const instance = new miniflare.Miniflare(options(which));
      try {
        const url = await Promise.race([
          instance.ready,
          pause(LIMITS.startMs).then(() => {
            throw new Error("workerd did not start");
          }),
        ]);
        ready[which].push(performance.now() - started);
        const base = url.href.replace(/\/$/, "");
        const agent = new Agent({ keepAlive: true, maxSockets: 1 });
        try {
          const answer = await send(agent, new URL(base), {
            method: "GET",
            path: "/healthz",
            headers: {},
          });
          first[which].push(performance.now() - started);
          if (answer.status !== 200) errors++;
          if (logouts && logoutVendor !== undefined) {
            for (const [index, steps] of logouts.items.entries()) {
              const t0 = performance.now();
              const logout = await send(agent, new URL(base), steps[0] as RequestSpec);
              (index === 0 ? firstLogout : warmLogout).push(performance.now() - t0);
              if (!succeeded("proxy", logoutVendor, logout)) {
                errors++;
                warnings.push(
                  `cold-start: ${logoutVendor} logout HTTP ${logout.status} ${logout.body.slice(0, 200)}`,
                );
              }
            }
          }
        } finally {
          agent.destroy();
        }
      } finally {
        await instance.dispose();
      }
    }
  }
  record("cold-start", "workerd", {
    firstResponseMs: medianOrNaN(first.proxy),
    readyMs: medianOrNaN(ready.proxy),
    logoutVendor: logoutVendor ?? "none",
    firstLogoutMs: medianOrNaN(firstLogout),
    warmLogoutMs: medianOrNaN(warmLogout),
    errors,
    rounds: SETTINGS.coldStart.rounds,
  });
  record("cold-start", "workerd-empty-worker", {
    firstResponseMs: medianOrNaN(first.empty),
    readyMs: medianOrNaN(ready.empty),
    errors: 0,
    rounds: SETTINGS.coldStart.rounds,
  });
  progress(
    `cold-start: proxy ${ms(medianOrNaN(first.proxy), 1)} ms, empty worker ${ms(medianOrNaN(first.empty), 1)} ms`,
  );
}

// ---------------------------------------------------------------------------------------------
// 6. The FunGame deny-list on workerd: writes and reads per second, per layout of its objects.
// One workerd per layout, all running at once, measured in the same rounds in rotating order.
// Writes are logouts of fresh tokens (each claims the token in its object, has the FunGame
// simulator log it out, then records it); reads are token-status of the tokens just revoked
// (answered at the edge: the JWT is verified, then the token's object is asked, and in the
// migration window the previous layout's object too). The FunGame simulator's own rate for the
// same logouts ("fungame-direct") is measured in the same rounds: the ceiling it puts on writes.

/** The vendor whose logouts the proxy records at the edge: its kit's `record` reads them back. */
const DENY_LIST_VENDOR: Vendor = "fungame";

/** One configuration of the deny-list's Durable Objects, as the Worker's variables state it. */
interface DenyListLayout {
  name: string;
  shards: number;
  previous: "none" | "legacy";
}

/** N = 1 and the Worker's default N, both steady, and the default N in its migration window. */
async function denyListLayouts(): Promise<DenyListLayout[]> {
  // The Worker's own constant (src/adapters/workers is outside the Node typecheck: no static import).
  const shardsModule = pathToFileURL(join(APP, "src", "adapters", "workers", "shards.ts")).href;
  const { DEFAULT_SHARDS } = (await import(shardsModule)) as { DEFAULT_SHARDS: number };
  const layouts: DenyListLayout[] = [
    { name: "shards-1", shards: 1, previous: "none" },
    { name: `shards-${DEFAULT_SHARDS}`, shards: DEFAULT_SHARDS, previous: "none" },
    // "legacy" is the default of DENY_LIST_SHARDS_PREVIOUS; stated so [vars] cannot change it.
    { name: `shards-${DEFAULT_SHARDS}-legacy`, shards: DEFAULT_SHARDS, previous: "legacy" },
  ];
  return layouts.filter((layout, i) => layouts.findIndex((l) => l.name === layout.name) === i);
}

let clockTicks: number | undefined;
/** CPU seconds (user and system) the processes have used so far; NaN without /proc or once one is gone. */
function cpuSeconds(pids: readonly number[]): number {
  if (pids.length === 0) return Number.NaN;
  try {
    clockTicks ??= Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim());
    let ticks = 0;
    for (const pid of pids) {
      const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
      // After the command: state, ppid, ... then utime and stime, the 12th and 13th fields.
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      ticks += Number(fields[11]) + Number(fields[12]);
    }
    return ticks / clockTicks;
  } catch {
    return Number.NaN;
  }
}

/** One timed load run of the deny-list part, with the cores each process kept busy meanwhile. */
interface DenyListRun {
  requests: number;
  errors: number;
  rps: number;
  p50Ms: number;
  p99Ms: number;
  proxyCpu: number;
  simulatorsCpu: number;
  loadCpu: number;
  /** Indexes of the items answered as a success. */
  succeeded: number[];
}

async function denyListLoad(
  base: string,
  items: readonly RequestSpec[][],
  count: number,
  ok: (status: number, body: string) => boolean,
  proxyPids: readonly number[],
): Promise<DenyListRun> {
  const { connections } = SETTINGS.denyList;
  const simulatorPids = simulatorsChild?.pid === undefined ? [] : [simulatorsChild.pid];
  const succeeded: number[] = [];
  const before = {
    proxy: cpuSeconds(proxyPids),
    simulators: cpuSeconds(simulatorPids),
    load: process.cpuUsage(),
  };
  const run = await runLoad(
    base,
    items,
    { connections, amount: count },
    (body) => ok(200, body),
    (answer) => {
      if (ok(answer.status, answer.body)) succeeded.push(answer.item);
    },
  );
  const load = process.cpuUsage(before.load);
  // CPU seconds per second of the run: how many cores each process kept busy.
  const busy = (now: number, then: number) => (now - then) / run.seconds;
  return {
    requests: count,
    errors: run.errors,
    rps: succeeded.length / run.seconds,
    p50Ms: run.p50Ms,
    p99Ms: run.p99Ms,
    proxyCpu: busy(cpuSeconds(proxyPids), before.proxy),
    simulatorsCpu: busy(cpuSeconds(simulatorPids), before.simulators),
    loadCpu: (load.user + load.system) / 1e6 / run.seconds,
    succeeded,
  };
}

async function denyListCase(sims: Simulators): Promise<void> {
  const kit = kitOf(DENY_LIST_VENDOR);
  const check = kit.record;
  if (check === undefined) throw new Error(`the ${DENY_LIST_VENDOR} kit reads no record back`);
  const { rounds, writes: writeCount, reads: readCount, warmup, connections } = SETTINGS.denyList;
  const layouts = await denyListLayouts();
  const proxies: RunningProxy[] = [];
  const trimmer = setInterval(() => {
    for (const proxy of proxies) trimOutput(proxy.group);
  }, 500);
  try {
    for (const layout of layouts) {
      progress(`deny-list: starting workerd with ${layout.name}`);
      proxies.push(
        await startProxy("workerd", {
          ...sims.env,
          DENY_LIST_SHARDS: String(layout.shards),
          DENY_LIST_SHARDS_PREVIOUS: layout.previous,
        }),
      );
    }
    const writeOk = (status: number, body: string) => status === 200 && body.includes('"ok":true');
    const directOk = (status: number, body: string) =>
      status >= 200 && status < 300 && kit.succeeded(status, body);
    /** `count` logouts through `proxy`, then `reads` token-status requests of the tokens they revoked. */
    const writeThenRead = async (proxy: RunningProxy, count: number, reads: number) => {
      // Every connection may build one request more than it sends.
      const prepared = await prepare(sims, "/prepare", {
        vendor: DENY_LIST_VENDOR,
        mode: "proxy",
        count: count + connections + 5,
        fresh: true,
      });
      const sessions = prepared.sessions?.[DENY_LIST_VENDOR];
      if (sessions === undefined) throw new Error("/prepare answered no sessions");
      const writes = await denyListLoad(proxy.url, prepared.items, count, writeOk, proxy.rssPids());
      const revoked = writes.succeeded;
      if (revoked.length === 0) return { writes, reads: undefined };
      const statusOf = Array.from({ length: reads + connections + 5 }, (_, i) => [
        check.request(sessions[revoked[i % revoked.length] as number]),
      ]);
      return {
        writes,
        reads: await denyListLoad(
          proxy.url,
          statusOf,
          reads,
          (status, body) => check.recorded(status, body),
          proxy.rssPids(),
        ),
      };
    };
    const direct = async (count: number) => {
      const prepared = await prepare(sims, "/prepare", {
        vendor: DENY_LIST_VENDOR,
        mode: "direct",
        count: count + connections + 5,
        fresh: true,
      });
      return denyListLoad(prepared.base, prepared.items, count, directOk, []);
    };

    // Warm-up: every layout's objects are made and its isolate compiled before anything is timed.
    for (const proxy of proxies) await writeThenRead(proxy, warmup, warmup);
    await direct(warmup);

    const subjects = [...layouts.map((layout) => layout.name), "fungame-direct"];
    const runs = new Map<string, DenyListRun[]>();
    const add = (caseName: string, subject: string, run: DenyListRun | undefined) => {
      const key = `${caseName} ${subject}`;
      const list = runs.get(key) ?? [];
      if (run !== undefined) list.push(run);
      runs.set(key, list);
    };
    for (let round = 0; round < rounds; round++) {
      for (let offset = 0; offset < subjects.length; offset++) {
        const index = (offset + round) % subjects.length;
        const proxy = proxies[index];
        const subject = subjects[index] as string;
        if (proxy === undefined) {
          add("deny-list-writes", subject, await direct(writeCount));
        } else {
          const { writes, reads } = await writeThenRead(proxy, writeCount, readCount);
          add("deny-list-writes", subject, writes);
          add("deny-list-reads", subject, reads);
        }
      }
    }

    for (const caseName of ["deny-list-writes", "deny-list-reads"]) {
      for (const subject of subjects) {
        const list = runs.get(`${caseName} ${subject}`);
        if (list === undefined) continue;
        const layout = layouts.find((l) => l.name === subject);
        const middle = (pick: (run: DenyListRun) => number) => medianOrNaN(list.map(pick));
        const errors = list.reduce((sum, run) => sum + run.errors, 0);
        record(caseName, subject, {
          // fungame-direct: the simulator alone, no proxy.
          ...(layout === undefined
            ? {}
            : { runtime: "workerd", shards: layout.shards, previous: layout.previous }),
          connections,
          rounds,
          requests: list.reduce((sum, run) => sum + run.requests, 0),
          errors,
          rps: middle((run) => run.rps),
          p50Ms: middle((run) => run.p50Ms),
          p99Ms: middle((run) => run.p99Ms),
          ...(layout === undefined ? {} : { workerdCpu: middle((run) => run.proxyCpu) }),
          simulatorsCpu: middle((run) => run.simulatorsCpu),
          loadCpu: middle((run) => run.loadCpu),
        });
        if (errors > 0 || list.length < rounds) {
          warnings.push(
            `${caseName} ${subject}: ${errors} errors${list.length < rounds ? `, ${rounds - list.length} rounds with no revoked token to read` : ""}`,
          );
        }
      }
      progress(
        `${caseName}: ${subjects
          .filter((subject) => runs.has(`${caseName} ${subject}`))
          .map((subject) => `${subject} ${ms(figure(caseName, subject, "rps"), 0)} rps`)
          .join(", ")}`,
      );
    }
  } finally {
    clearInterval(trimmer);
    for (const proxy of proxies) await proxy.stop();
  }
}

// ---------------------------------------------------------------------------------------------
// Report

interface Goal {
  label: string;
  value: number;
  unit: string;
  goal: string;
  met: boolean;
  /** How far from the limit, in `unit`: positive when met. */
  margin?: number;
}

/** A goal of `value` at most (or at least) `limit`, with its margin; errors fail it. */
function bounded(
  label: string,
  value: number,
  unit: string,
  bound: "<=" | ">=",
  limit: number,
  errors = 0,
): Goal {
  const margin = bound === "<=" ? limit - value : value - limit;
  return {
    label,
    value,
    unit,
    goal: `${bound} ${limit} ${unit}${errors === 0 ? "" : `, ${errors} errors`}`,
    met: margin >= 0 && errors === 0,
    margin,
  };
}

function targets(): Goal[] {
  const list: Goal[] = [];
  for (const runtime of SETTINGS.runtimes) {
    for (const vendor of SETTINGS.vendors) {
      const latency = `proxy-${vendor}-${runtime}`;
      const overhead = figure(latency, "proxy", "p50Ms") - figure(latency, "direct", "p50Ms");
      if (Number.isFinite(overhead)) {
        const errors = figure(latency, "proxy", "errors") + figure(latency, "direct", "errors");
        const limit = TARGETS.overheadP50Ms.byVendor[vendor] ?? TARGETS.overheadP50Ms.default;
        list.push({
          label: `${latency} p50 overhead`,
          value: overhead,
          unit: "ms",
          goal: `<= ${limit} ms, 0 errors`,
          met: overhead <= limit && errors === 0,
        });
      }
      // The vendor's own crypto (eBET's MD5withRSA, OneAccess's OAEP), measured on this runtime in
      // the same run, is not the proxy's machinery: it is taken off.
      const crypto =
        VENDOR_CRYPTO[vendor] === undefined
          ? 0
          : figure(`crypto-${runtime}`, vendor, "perLogoutMs");
      const overBare =
        figure(latency, "proxy", "p50Ms") - figure(latency, "bare", "p50Ms") - crypto;
      if (!Number.isFinite(crypto) && Number.isFinite(figure(latency, "proxy", "p50Ms"))) {
        warnings.push(`${latency}: no crypto-${runtime} figure, so no proxy − bare target`);
      }
      if (Number.isFinite(overBare)) {
        const errors = figure(latency, "proxy", "errors") + figure(latency, "bare", "errors");
        list.push(
          bounded(
            `${latency} proxy − bare − vendor crypto p50`,
            overBare,
            "ms",
            "<=",
            TARGETS.overBareP50Ms,
            errors,
          ),
        );
      }
      const load = `throughput-${vendor}-${runtime}`;
      const overBareRps = figure(load, "proxy", "rps") / figure(load, "bare", "rps");
      if (Number.isFinite(overBareRps)) {
        const errors = figure(load, "proxy", "errors") + figure(load, "bare", "errors");
        list.push(
          bounded(
            `${load} proxy/bare rps`,
            overBareRps,
            "x",
            ">=",
            TARGETS.overBareThroughputRatio,
            errors,
          ),
        );
      }
      const ratio = figure(load, "proxy", "rps") / figure(load, "direct", "rps");
      if (Number.isFinite(ratio)) {
        const errors = figure(load, "proxy", "errors") + figure(load, "direct", "errors");
        list.push({
          label: `${load} proxy/direct rps`,
          value: ratio,
          unit: "x",
          goal: `>= ${TARGETS.throughputRatio}x, 0 errors`,
          met: ratio >= TARGETS.throughputRatio && errors === 0,
        });
      }
    }
    const fanout = `fanout-${runtime}`;
    const fanoutRatio =
      figure(fanout, "all-vendors", "p50Ms") / figure(fanout, "slowest-alone", "p50Ms");
    if (Number.isFinite(fanoutRatio)) {
      list.push({
        label: `${fanout} all-vendors / slowest-alone p50`,
        value: fanoutRatio,
        unit: "x",
        goal: `<= ${TARGETS.fanoutRatio}x`,
        met: fanoutRatio <= TARGETS.fanoutRatio,
      });
    }
    if (runtime === "node") {
      const nodeOverBun =
        figure("memory", "node", "rssEndMb") / figure("memory", "bun", "rssEndMb");
      if (Number.isFinite(nodeOverBun)) {
        list.push(bounded("memory node / bun RSS", nodeOverBun, "x", "<=", TARGETS.nodeOverBunRss));
      }
    }
    const start = figure("memory", runtime, "rssStartMb");
    const growth = figure("memory", runtime, "growthMb");
    if (Number.isFinite(growth)) {
      // Noise: GC and allocator timing move RSS by a few MB either way.
      const noise = Math.max(5, 0.1 * start);
      list.push({
        label: `memory ${runtime} RSS growth`,
        value: growth,
        unit: "MB",
        goal: `<= ${noise.toFixed(1)} MB (noise: 5 MB or 10%)`,
        met: growth <= noise,
      });
    }
  }
  const coldOverEmpty =
    figure("cold-start", "workerd", "firstResponseMs") -
    figure("cold-start", "workerd-empty-worker", "firstResponseMs");
  if (Number.isFinite(coldOverEmpty)) {
    list.push(
      bounded(
        "cold start: proxy − empty Worker first response",
        coldOverEmpty,
        "ms",
        "<=",
        TARGETS.coldStartOverEmptyMs,
      ),
    );
  }
  return list;
}

function printReport(): void {
  const section = (
    title: string,
    header: string[],
    filter: (row: Row) => boolean,
    cells: (row: Row) => string[],
  ) => {
    const picked = rows.filter(filter);
    if (picked.length === 0) return;
    console.log(`\n${title}`);
    console.log(
      formatTable(
        header,
        picked.map(cells),
        header.map((_, i) => i).filter((i) => i >= 2),
      ),
    );
  };
  /** The cells every latency table starts with. */
  const latencyCells = (row: Row): string[] => [
    row.case,
    row.subject,
    ms(row.figures.p50Ms),
    ms(row.figures.p99Ms),
    String(row.figures.errors),
    String(row.figures.samples),
  ];
  section(
    "latency at concurrency 1 (medians over rounds of each round's p50 and p99)",
    [
      "case",
      "subject",
      "p50 ms",
      "p99 ms",
      "errors",
      "samples",
      "p50 − direct ms",
      "p50 − bare ms",
      "p99 − bare ms",
    ],
    (row) => row.case.startsWith("proxy-"),
    (row) => [
      ...latencyCells(row),
      row.subject === "direct"
        ? ""
        : ms(figure(row.case, row.subject, "p50Ms") - figure(row.case, "direct", "p50Ms")),
      row.subject === "proxy"
        ? ms(figure(row.case, "proxy", "p50Ms") - figure(row.case, "bare", "p50Ms"))
        : "",
      row.subject === "proxy"
        ? ms(figure(row.case, "proxy", "p99Ms") - figure(row.case, "bare", "p99Ms"))
        : "",
    ],
  );
  section(
    "vendor crypto per logout, on each runtime (the same @x/core-signing calls as the vendor packages; N = 100 timed against N = 0 from outside; medians over rounds)",
    ["case", "vendor", "operation", "ms per logout"],
    (row) => row.case.startsWith("crypto-"),
    (row) => [row.case, row.subject, String(row.figures.operation), ms(row.figures.perLogoutMs)],
  );
  section(
    "eBET's MD5withRSA (1024-bit key) by four implementations on each runtime (µs per signature; N = 50 timed against N = 0 from outside; medians over rounds)",
    ["case", "implementation", "µs per signature", "/ core-signing"],
    (row) => row.case.startsWith("md5-"),
    (row) => [
      row.case,
      row.subject,
      row.figures.available === false ? "not on this runtime" : ms(row.figures.usPerSign, 0),
      row.figures.available === false || row.subject === "core"
        ? ""
        : `${(figure(row.case, row.subject, "usPerSign") / figure(row.case, "core", "usPerSign")).toFixed(2)}x`,
    ],
  );
  section(
    "workerd host: /healthz at concurrency 1, the same script in miniflare and behind wrangler dev's proxy",
    ["case", "subject", "p50 ms", "p99 ms", "errors", "samples"],
    (row) => row.case === "workerd-host",
    (row) => [...latencyCells(row)],
  );
  section(
    "node hop: a trivial upstream reached directly and through bare Node proxies (fetch vs node:http), concurrency 1",
    ["case", "subject", "p50 ms", "p99 ms", "errors", "samples", "p50 hop ms"],
    (row) => row.case === "node-hop",
    (row) => [
      ...latencyCells(row),
      row.subject === "direct"
        ? ""
        : ms(figure(row.case, row.subject, "p50Ms") - figure(row.case, "direct", "p50Ms")),
    ],
  );
  section(
    `throughput at concurrency ${SETTINGS.throughput.connections} (autocannon; logouts per second, medians over rounds)`,
    ["case", "subject", "rps", "p99 ms", "errors", "/direct", "proxy/bare"],
    (row) => row.case.startsWith("throughput-"),
    (row) => [
      row.case,
      row.subject,
      ms(row.figures.rps, 0),
      ms(row.figures.p99Ms, 1),
      String(row.figures.errors),
      row.subject === "direct"
        ? ""
        : `${(figure(row.case, row.subject, "rps") / figure(row.case, "direct", "rps")).toFixed(2)}x`,
      row.subject === "proxy"
        ? `${(figure(row.case, "proxy", "rps") / figure(row.case, "bare", "rps")).toFixed(2)}x`
        : "",
    ],
  );
  section(
    "fan-out at concurrency 1 (/v1/logout; every simulator answer delayed as stated; slowest vendor probed under the same delay)",
    ["case", "subject", "delay ms", "p50 ms", "p99 ms", "errors", "slowest vendor"],
    (row) => row.case.startsWith("fanout-"),
    (row) => [
      row.case,
      row.subject,
      String(row.figures.upstreamDelayMs),
      ms(row.figures.p50Ms),
      ms(row.figures.p99Ms),
      String(row.figures.errors),
      String(row.figures.slowestVendor),
    ],
  );
  section(
    `memory under constant load (${SETTINGS.memory.rps} logouts/s across the vendors, ${SETTINGS.memory.seconds} s after ${SETTINGS.memory.warmupSeconds} s of warm-up)`,
    [
      "case",
      "runtime",
      "RSS start MB",
      "RSS end MB",
      "growth MB",
      "trend MB/min",
      "max MB",
      "rps",
      "errors",
    ],
    (row) => row.case === "memory",
    (row) => [
      row.case,
      row.subject,
      ms(row.figures.rssStartMb, 1),
      ms(row.figures.rssEndMb, 1),
      ms(row.figures.growthMb, 1),
      ms(row.figures.slopeMbPerMin, 1),
      ms(row.figures.rssMaxMb, 1),
      ms(row.figures.rps, 0),
      String(row.figures.errors),
    ],
  );
  section(
    "cold start (workerd via miniflare, the deployed script; start to first answer)",
    [
      "case",
      "subject",
      "first response ms",
      "ready ms",
      "logout of",
      "first logout ms",
      "warm logout ms",
    ],
    (row) => row.case === "cold-start",
    (row) => [
      row.case,
      row.subject,
      ms(row.figures.firstResponseMs, 1),
      ms(row.figures.readyMs, 1),
      String(row.figures.logoutVendor ?? ""),
      ms(row.figures.firstLogoutMs, 2),
      ms(row.figures.warmLogoutMs, 2),
    ],
  );
  section(
    `FunGame deny-list on workerd at concurrency ${SETTINGS.denyList.connections} (writes: logouts of fresh tokens; reads: token-status of the revoked tokens; medians over rounds; cpu: cores each process kept busy)`,
    [
      "case",
      "subject",
      "shards",
      "previous",
      "requests",
      "errors",
      "rps",
      "vs shards-1",
      "p50 ms",
      "p99 ms",
      "workerd cpu",
      "simulators cpu",
      "load cpu",
    ],
    (row) => row.case.startsWith("deny-list-"),
    (row) => [
      row.case,
      row.subject,
      String(row.figures.shards ?? ""),
      String(row.figures.previous ?? ""),
      String(row.figures.requests),
      String(row.figures.errors),
      ms(row.figures.rps, 0),
      row.subject === "fungame-direct"
        ? ""
        : `${(figure(row.case, row.subject, "rps") / figure(row.case, "shards-1", "rps")).toFixed(2)}x`,
      ms(row.figures.p50Ms, 1),
      ms(row.figures.p99Ms, 1),
      ms(row.figures.workerdCpu, 2),
      ms(row.figures.simulatorsCpu, 2),
      ms(row.figures.loadCpu, 2),
    ],
  );

  const list = targets();
  if (list.length > 0) {
    console.log("\ntargets (from the medians above)");
    console.log(
      formatTable(
        ["target", "value", "goal", "status", "margin"],
        list.map((t) => [
          t.label,
          `${t.value.toFixed(t.unit === "x" ? 2 : 3)} ${t.unit}`,
          t.goal,
          t.met ? "met" : "NOT MET",
          t.margin === undefined ? "" : `${t.margin.toFixed(3)} ${t.unit}`,
        ]),
        [1, 4],
      ),
    );
  }
  if (warnings.length > 0) {
    console.log("\nwarnings");
    for (const warning of warnings) console.log(`  ${warning}`);
  }
  console.log("");
  for (const row of rows) console.log(benchLineOf(row));
  for (const target of list) {
    console.log(
      benchLineOf({
        case: "targets",
        subject: target.label,
        figures: {
          value: target.value,
          unit: target.unit,
          goal: target.goal,
          met: target.met,
          ...(target.margin === undefined ? {} : { margin: target.margin }),
        },
      }),
    );
  }
}

/**
 * The BENCH line of a row. Fan-out rows are kept per runtime here (`fanout-<runtime>`) and printed as
 * the issue names them, case `fanout`, with the runtime as a figure.
 */
function benchLineOf(row: Row): string {
  const caseName = row.case.startsWith("fanout-loopback-")
    ? "fanout-loopback"
    : row.case.startsWith("fanout-")
      ? "fanout"
      : row.case;
  const record: Record<string, unknown> = { case: caseName, subject: row.subject };
  for (const [key, value] of Object.entries(row.figures)) {
    record[key] =
      typeof value === "number"
        ? Number.isFinite(value)
          ? Number(value.toFixed(Math.abs(value) < 1 ? 4 : 2))
          : null
        : value;
  }
  return `BENCH ${JSON.stringify(record)}`;
}

// ---------------------------------------------------------------------------------------------

/**
 * What `wrangler dev` adds: /healthz at concurrency 1 through its dev proxy and through the same
 * script in miniflare, interleaved. Explains why the workerd cases run the script in miniflare.
 */
async function workerdHostCase(sims: Simulators, proxy: RunningProxy): Promise<void> {
  const wrangler = await startWrangler(sims.env);
  try {
    const healthz = (count: number): Promise<Prepared> =>
      Promise.resolve({
        base: "",
        items: Array.from({ length: count }, () => [
          { method: "GET", path: "/healthz", headers: {} },
        ]),
      });
    await interleavedLatency(
      "workerd-host",
      "healthz",
      [
        { name: "miniflare", kind: "proxy", base: () => proxy.url, make: healthz },
        { name: "wrangler-dev", kind: "proxy", base: () => wrangler.url, make: healthz },
      ],
      SETTINGS.latency,
    );
  } finally {
    await wrangler.stop();
  }
}

/** A bench/bare-hop.mjs process: its port; stopped when this process goes (its stdin closes). */
async function startBareHop(args: string[]): Promise<{ url: string; child: ChildProcess }> {
  const child = spawn(process.execPath, [join(APP, "bench", "bare-hop.mjs"), ...args], {
    stdio: ["pipe", "pipe", "inherit"],
  });
  bareHops.add(child);
  const port = await Promise.race([
    new Promise<string>((resolve, reject) => {
      child.stdout.setEncoding("utf8");
      child.stdout.once("data", (chunk: string) => resolve(chunk.trim()));
      child.once("exit", (code) =>
        reject(new Error(`bare-hop.mjs ${args.join(" ")} exited (${code})`)),
      );
    }),
    pause(LIMITS.startMs).then((): never => {
      throw new Error(`bare-hop.mjs ${args.join(" ")} did not start`);
    }),
  ]);
  return { url: `http://127.0.0.1:${port}`, child };
}

/**
 * Node's fetch per upstream call, measured without the proxy: a trivial upstream reached directly,
 * through a bare Node proxy forwarding with fetch, and through one forwarding with node:http.
 */
async function nodeHopCase(): Promise<void> {
  const upstream = await startBareHop(["upstream"]);
  const port = new URL(upstream.url).port;
  const viaFetch = await startBareHop(["fetch", port]);
  const viaHttp = await startBareHop(["http", port]);
  try {
    const post = (count: number): Promise<Prepared> =>
      Promise.resolve({
        base: "",
        items: Array.from({ length: count }, () => [
          {
            method: "POST",
            path: "/",
            headers: { "content-type": "application/json" },
            body: "{}",
          },
        ]),
      });
    const subject = (name: string, url: string): Subject => ({
      name,
      kind: "proxy",
      base: () => url,
      make: post,
    });
    await interleavedLatency(
      "node-hop",
      "healthz",
      [
        subject("direct", upstream.url),
        subject("bare-proxy-fetch", viaFetch.url),
        subject("bare-proxy-http", viaHttp.url),
      ],
      SETTINGS.latency,
    );
  } finally {
    for (const hop of [upstream, viaFetch, viaHttp]) {
      hop.child.kill("SIGTERM");
      bareHops.delete(hop.child);
    }
  }
}

async function benchRuntime(sims: Simulators, runtime: Runtime): Promise<void> {
  progress(`${runtime}: starting the proxy`);
  const proxy = await startProxy(runtime, sims.env);
  const trimmer = setInterval(() => trimOutput(proxy.group), 500);
  try {
    const parts = SETTINGS.parts;
    if (parts.includes("latency")) {
      for (const vendor of SETTINGS.vendors) {
        await interleavedLatency(
          `proxy-${vendor}-${runtime}`,
          vendor,
          vendorSubjects(sims, proxy, vendor),
          SETTINGS.latency,
        );
      }
      // Its failure costs its own figures only; the targets then say the crypto is missing.
      try {
        await cryptoCase(runtime);
      } catch (error) {
        problems.push(
          `crypto-${runtime}: ${error instanceof Error ? error.message : String(error)}`,
        );
      }
    }
    if (parts.includes("throughput")) {
      for (const vendor of SETTINGS.vendors) await throughputCase(sims, proxy, vendor);
    }
    if (parts.includes("fanout")) {
      await fanoutCase(sims, proxy, `fanout-${runtime}`, SETTINGS.fanout.delayMs, SETTINGS.fanout);
      await fanoutCase(sims, proxy, `fanout-loopback-${runtime}`, 0, SETTINGS.fanoutLoopback);
    }
    if (
      parts.includes("latency") &&
      runtime === "workerd" &&
      SETTINGS.workerdHost === "miniflare"
    ) {
      await workerdHostCase(sims, proxy);
    }
    if (parts.includes("latency") && runtime === "node") await nodeHopCase();
    if (parts.includes("memory")) await memoryCase(sims, proxy);
  } finally {
    clearInterval(trimmer);
    await proxy.stop();
  }
}

async function main(): Promise<number> {
  const started = performance.now();
  progress(
    `node ${process.version}${QUICK ? " (BENCH_QUICK=1)" : ""}; runtimes ${SETTINGS.runtimes.join(", ")}; vendors ${SETTINGS.vendors.join(", ")}; parts ${SETTINGS.parts.join(", ")}`,
  );
  const sims = await startSimulators();
  progress(
    `simulators ready (signing keys: ${sims.signingKeyBits === null ? "each vendor's own test key" : `${sims.signingKeyBits} bits`})`,
  );
  try {
    const perRuntime = SETTINGS.parts.some((part) => !RUN_ONCE.includes(part));
    if (perRuntime) {
      for (const runtime of SETTINGS.runtimes) {
        try {
          await benchRuntime(sims, runtime);
        } catch (error) {
          problems.push(`${runtime}: ${error instanceof Error ? error.message : String(error)}`);
          progress(`${runtime}: FAILED: ${error instanceof Error ? error.message : String(error)}`);
        }
      }
    }
    if (SETTINGS.parts.includes("md5")) {
      for (const runtime of SETTINGS.runtimes) {
        try {
          await md5Case(runtime);
        } catch (error) {
          problems.push(
            `md5-${runtime}: ${error instanceof Error ? error.message : String(error)}`,
          );
        }
      }
    }
    if (SETTINGS.parts.includes("cold-start")) {
      try {
        await coldStartCase(sims);
      } catch (error) {
        problems.push(`cold-start: ${error instanceof Error ? error.message : String(error)}`);
      }
    }
    if (SETTINGS.parts.includes("deny-list")) {
      if (!SETTINGS.runtimes.includes("workerd")) {
        warnings.push("deny-list: measured on workerd only, which BENCH_RUNTIMES leaves out");
      } else if (!SETTINGS.vendors.includes(DENY_LIST_VENDOR)) {
        warnings.push(`deny-list: needs ${DENY_LIST_VENDOR}, which BENCH_VENDORS leaves out`);
      } else {
        try {
          await denyListCase(sims);
        } catch (error) {
          problems.push(`deny-list: ${error instanceof Error ? error.message : String(error)}`);
          progress(`deny-list: FAILED: ${error instanceof Error ? error.message : String(error)}`);
        }
      }
    }
  } finally {
    await stopSimulators();
    removeWorkerScript();
  }
  // Nothing goes to stderr once the report starts: a runner that merges both streams (turbo) would
  // splice the line into a BENCH line.
  progress(`done in ${((performance.now() - started) / 1000).toFixed(0)} s`);
  printReport();
  if (problems.length > 0) {
    console.log("\ncould not measure:");
    for (const problem of problems) console.log(`  ${problem}`);
  }
  return problems.length > 0 ? 1 : 0;
}

if (fileURLToPath(import.meta.url) === process.argv[1]) {
  process.exitCode = await main();
}
