// Finds the runtimes and tools the proxy runs under (Node, Bun, Deno, wrangler) and runs them as process groups.
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { createServer } from "node:net";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { CACHE, platformSuffix } from "../../../tooling/toolchain.mjs";
import { configVariables } from "../src/config.ts";
import { VENDORS } from "../src/vendors/index.ts";

/** apps/edge-proxy */
export const APP = resolve(dirname(fileURLToPath(import.meta.url)), "..");
/** The repository root. */
export const ROOT = resolve(APP, "..", "..");

const fromApp = createRequire(join(APP, "package.json"));
// Bun and Deno come from the npm registry as tooling's dev dependencies, like the conformance matrix's.
const fromTooling = createRequire(join(ROOT, "tooling", "package.json"));

/** The binary a registry package ships inside its platform-specific optional dependency. */
function optionalBinary(wrapper, platformPackage, relative) {
  let path;
  try {
    const fromWrapper = createRequire(fromTooling.resolve(`${wrapper}/package.json`));
    path = join(dirname(fromWrapper.resolve(`${platformPackage}/package.json`)), relative);
  } catch (error) {
    throw new Error(
      `${platformPackage} is not installed (run \`npm start\` or \`pnpm install\` at the repository root): ${error.message}`,
    );
  }
  if (!existsSync(path)) throw new Error(`${platformPackage} has no ${relative}`);
  return path;
}

/** The Bun binary of the `bun` package. */
export function bunBinary() {
  return optionalBinary(
    "bun",
    `@oven/bun-${platformSuffix().replace("arm64", "aarch64")}`,
    "bin/bun",
  );
}

/** The Deno binary of the `deno` package. */
export function denoBinary() {
  const suffix = `${platformSuffix()}${process.platform === "linux" ? "-glibc" : ""}`;
  return optionalBinary("deno", `@deno/${suffix}`, "deno");
}

/** wrangler's CLI script, to run with this Node (the same one `npm start` chose). */
export function wranglerScript() {
  return join(dirname(fromApp.resolve("wrangler/package.json")), "bin", "wrangler.js");
}

/**
 * The arguments (for this Node) of `wrangler dev` serving the proxy on 127.0.0.1:`port`, without the
 * interactive session; with `--env-file` and `--persist-to` when given, then `extra`.
 */
export function wranglerDevArgs({ port, inspectorPort, envFile, persistTo, extra = [] }) {
  return [
    wranglerScript(),
    "dev",
    "--ip",
    "127.0.0.1",
    "--port",
    String(port),
    "--inspector-port",
    String(inspectorPort),
    ...(envFile === undefined ? [] : ["--env-file", envFile]),
    ...(persistTo === undefined ? [] : ["--persist-to", persistTo]),
    "--show-interactive-dev-session=false",
    ...extra,
  ];
}

/**
 * Why the built Node entry under `app` cannot be run, or undefined when it can: missing, or built
 * from files whose content has changed since (dist/node/inputs.json, written by
 * scripts/build-node.mjs, holds each one's digest).
 */
export function builtEntryProblem(app = APP) {
  const built = join(app, "dist", "node", "node.mjs");
  const build =
    "run `npm run build` at the repository root (or `node scripts/build-node.mjs` in apps/edge-proxy)";
  let inputs;
  try {
    inputs = JSON.parse(readFileSync(join(app, "dist", "node", "inputs.json"), "utf8"));
  } catch {
    return `${built} is not built: ${build}`;
  }
  if (!existsSync(built)) return `${built} is not built: ${build}`;
  for (const [input, digest] of Object.entries(inputs)) {
    let content;
    try {
      content = readFileSync(join(app, input));
    } catch {
      return `${built} was built from ${input}, which is gone: ${build}`;
    }
    if (createHash("sha256").update(content).digest("hex") !== digest) {
      return `${built} was built from an older ${input}: ${build}`;
    }
  }
  return undefined;
}

/**
 * The Node entry as deployed: the JavaScript `npm run build` makes of src/entry/node.ts
 * (scripts/build-node.mjs), which the Dockerfile's image runs too. Throws, saying what to run,
 * when it is missing or was built from files that have changed since.
 */
export function nodeEntry() {
  const problem = builtEntryProblem();
  if (problem !== undefined) throw new Error(problem);
  return join(APP, "dist", "node", "node.mjs");
}

/**
 * The command, arguments and extra environment that run one of the proxy's entries, listening on
 * `port` (0: any free port; the entry prints the one it got).
 */
export function entryCommand(runtime, env = {}) {
  const entry = (name) => join(APP, "src", "entry", name);
  switch (runtime) {
    case "node":
      return { command: process.execPath, args: [nodeEntry()], env: {} };
    case "bun":
      return {
        command: bunBinary(),
        args: ["run", entry("bun.ts")],
        env: { BUN_RUNTIME_TRANSPILER_CACHE_PATH: "0" },
      };
    case "deno": {
      // Deno KV's file lives in the data directory: Deno may write there and nowhere else.
      const data = resolve(env.PROXY_DATA_DIR || "data");
      return {
        command: denoBinary(),
        args: [
          "run",
          "--no-prompt",
          "--no-lock",
          "--unstable-kv",
          "--allow-env",
          "--allow-net=127.0.0.1",
          `--allow-read=${ROOT},${data}`,
          `--allow-write=${data}`,
          entry("deno.ts"),
        ],
        env: { DENO_NO_UPDATE_CHECK: "1", DENO_DIR: join(CACHE, "deno"), NO_COLOR: "1" },
      };
    }
    default:
      throw new Error(`unknown runtime ${runtime}`);
  }
}

/** Whether `port` on 127.0.0.1 can be listened on right now. */
export function portIsFree(port) {
  return new Promise((resolveFree) => {
    const server = createServer();
    server.unref();
    server.once("error", () => resolveFree(false));
    server.listen(port, "127.0.0.1", () => server.close(() => resolveFree(true)));
  });
}

/** A TCP port free on 127.0.0.1 right now. */
export function freePort() {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.unref();
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      server.close(() => resolvePort(port));
    });
  });
}

/**
 * Variables the proxy reads (its own and every listed vendor's, as loadConfig reads them), and any
 * other of their families (PROXY_*, UPSTREAM_*, LOGOUT_*, a vendor's name as a prefix): never
 * inherited, so that only what the caller passes configures it.
 */
const PROXY_VARIABLES = new Set(configVariables(VENDORS));
const PROXY_PREFIXES = [
  "PROXY",
  "UPSTREAM",
  "LOGOUT",
  ...VENDORS.map(({ name }) => name.toUpperCase().replace(/-/g, "_")),
];
/** What the Bun, Deno and Node entries read besides the configuration: address, store, stop. */
const ENTRY_VARIABLES = new Set(["PORT", "HOST", "DATABASE_URL", "SHUTDOWN_GRACE_MS"]);
const isProxyVariable = (name) =>
  ENTRY_VARIABLES.has(name) ||
  PROXY_VARIABLES.has(name) ||
  PROXY_PREFIXES.some((prefix) => name.startsWith(`${prefix}_`));

/**
 * Starts a command as the leader of its own process group, so that stopping it also stops what it
 * started (wrangler's workerd and esbuild). Output is collected; `onLine` sees each line as it comes.
 */
export function spawnGroup(command, args, { env = {}, cwd = APP, onLine } = {}) {
  const child = spawn(command, args, {
    cwd,
    env: {
      ...Object.fromEntries(Object.entries(process.env).filter(([name]) => !isProxyVariable(name))),
      ...env,
    },
    stdio: ["ignore", "pipe", "pipe"],
    detached: true,
  });
  const output = [];
  const exited = new Promise((resolveExit) => {
    child.on("error", (error) => {
      output.push(`(could not start ${command}: ${error.message})`);
      resolveExit({ code: null, signal: null, error });
    });
    child.on("exit", (code, signal) => resolveExit({ code, signal }));
  });
  for (const stream of [child.stdout, child.stderr]) {
    let pending = "";
    stream.setEncoding("utf8");
    stream.on("data", (chunk) => {
      pending += chunk;
      const lines = pending.split("\n");
      pending = lines.pop() ?? "";
      for (const line of lines) {
        output.push(line);
        onLine?.(line);
      }
    });
    stream.on("end", () => {
      if (pending) {
        output.push(pending);
        onLine?.(pending);
      }
    });
  }
  return { child, output, exited };
}

/** Whether any process of the group led by `pid` is still alive. */
function groupAlive(pid) {
  try {
    process.kill(-pid, 0);
    return true;
  } catch {
    return false;
  }
}

/**
 * Stops a process group started by spawnGroup: SIGTERM to the whole group, then SIGKILL to what is
 * left after `graceMs`. Resolves once the leader has exited and the group is gone.
 */
export async function stopGroup(handle, graceMs = 5000) {
  const pid = handle.child.pid;
  if (pid === undefined) return;
  const signal = (name) => {
    try {
      process.kill(-pid, name);
    } catch {
      // Already gone.
    }
  };
  if (handle.child.exitCode === null && handle.child.signalCode === null) signal("SIGTERM");
  else if (groupAlive(pid)) signal("SIGTERM");
  const deadline = Date.now() + graceMs;
  const leaderExited = handle.exited.then(() => true);
  while (Date.now() < deadline) {
    const done = await Promise.race([leaderExited, sleep(50).then(() => false)]);
    if (done && !groupAlive(pid)) return;
  }
  signal("SIGKILL");
  await handle.exited;
  const killDeadline = Date.now() + 2000;
  while (groupAlive(pid) && Date.now() < killDeadline) await sleep(20);
}

/** Kills the whole group at once (SIGKILL: no shutdown, nothing flushed) and waits until it is gone. */
export async function killGroup(handle) {
  const pid = handle.child.pid;
  if (pid === undefined) return;
  try {
    process.kill(-pid, "SIGKILL");
  } catch {
    // Already gone.
  }
  await handle.exited;
  const deadline = Date.now() + 2000;
  while (groupAlive(pid) && Date.now() < deadline) await sleep(20);
}

export function sleep(ms) {
  return new Promise((resolveSleep) => setTimeout(resolveSleep, ms));
}

/**
 * Waits until `url` answers HTTP 200 or the process exits or `timeoutMs` passes; the error carries the
 * process's output.
 */
export async function waitForHttp(url, handle, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  let exited = false;
  handle.exited.then(() => {
    exited = true;
  });
  let last = "no answer";
  while (Date.now() < deadline) {
    if (exited) break;
    try {
      const response = await fetch(url, { signal: AbortSignal.timeout(2000) });
      await response.arrayBuffer();
      if (response.status === 200) return;
      last = `HTTP ${response.status}`;
    } catch (error) {
      last = error.cause?.code ?? error.message;
    }
    await sleep(100);
  }
  const why = exited ? "the process exited" : `no HTTP 200 within ${timeoutMs} ms (last: ${last})`;
  throw new Error(`${url}: ${why}\n${handle.output.slice(-60).join("\n")}`);
}
