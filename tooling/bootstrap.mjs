// The one entry behind `npm start`, `npm test`, `npm run bench`, `npm run fuzz`: gets a suitable
// Node and pnpm from the npm registry when the machine lacks them, installs, builds, then runs the
// command.
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { delimiter, dirname, join } from "node:path";
import {
  nodeBinary,
  nodeMajor,
  pnpmCommand,
  ROOT,
  TOOLCHAIN_NODE_MAJOR,
  ToolchainError,
} from "./toolchain.mjs";

const COMMANDS = {
  /** Everything: lint, typecheck, unit tests, then the conformance suite on five runtimes. */
  test: [
    ["turbo", "run", "lint", "typecheck", "test", "--continue"],
    // Release checks on the packed tarballs: publint, arethetypeswrong, JSR dry run,
    // pick-one-vendor installs on every runtime, and the runnable examples.
    ["node", join("tooling", "release", "check-packages.mjs")],
    ["node", join("tooling", "release", "pick-one-vendor.mjs")],
    ["node", join("tooling", "release", "examples.mjs")],
    // Bundle-size budgets (deterministic, unlike times): core's main entry, each vendor on top of
    // core, the Worker script from `wrangler deploy --dry-run` (docs/performance.md).
    ["node", join("tooling", "size", "check-size.mjs")],
    // Last, so that its per-runtime lines close the output.
    ["node", join("tooling", "runtimes", "matrix.mjs")],
  ],
  build: [],
  bench: [["turbo", "run", "bench", "--log-prefix=none", "--concurrency=1"]],
  /** The property-based fuzz tests at 20,000 cases per property (FUZZ_RUNS overrides). */
  fuzz: [["turbo", "run", "fuzz", "--concurrency=1"]],
  start: [["node", join("tooling", "start.mjs")]],
  /** 10,000 logouts per vendor and fan-out through wrangler dev against the simulators. */
  load: [["pnpm", "--filter", "@x/edge-proxy", "run", "load"]],
};

function fail(message) {
  process.stderr.write(`bootstrap: ${message}\n`);
  process.exit(1);
}

function spawn(command, args, env) {
  const result = spawnSync(command, args, { cwd: ROOT, stdio: "inherit", env });
  if (result.error) fail(`${command} could not start: ${result.error.message}`);
  if (result.signal) process.kill(process.pid, result.signal);
  return result.status ?? 1;
}

function main() {
  const [command = "test", ...rest] = process.argv.slice(2);
  const steps = COMMANDS[command];
  if (!steps) fail(`unknown command "${command}"; one of: ${Object.keys(COMMANDS).join(", ")}`);

  // 1. A Node recent enough for the toolchain: re-run this script under the pinned Node 24.
  if (nodeMajor() < TOOLCHAIN_NODE_MAJOR) {
    const node = nodeBinary(24);
    const env = {
      ...process.env,
      X_SYSTEM_NODE: process.env.X_SYSTEM_NODE ?? process.execPath,
      PATH: `${dirname(node)}${delimiter}${process.env.PATH ?? ""}`,
    };
    process.exit(spawn(node, [process.argv[1], command, ...rest], env));
  }

  // 2. pnpm at the version pinned in package.json, run by this Node.
  const manifest = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8"));
  const pinned = /^pnpm@(\d+\.\d+\.\d+)$/.exec(manifest.packageManager ?? "");
  if (!pinned) fail('package.json must pin "packageManager": "pnpm@<x.y.z>"');
  const { script: pnpm, binDir: pnpmBin } = pnpmCommand(pinned[1]);
  const env = {
    ...process.env,
    X_SYSTEM_NODE: process.env.X_SYSTEM_NODE ?? process.execPath,
    PATH: [dirname(process.execPath), pnpmBin, process.env.PATH ?? ""].join(delimiter),
    TURBO_TELEMETRY_DISABLED: "1",
    TURBO_NO_UPDATE_NOTIFIER: "1",
    DO_NOT_TRACK: "1",
  };
  const runPnpm = (...args) => spawn(process.execPath, [pnpm, ...args], env);

  // 3. Install exactly what the lockfile says, then build every package (turbo caches both runs).
  const install = ["install", "--frozen-lockfile", "--prefer-offline"];
  if (!existsSync(join(ROOT, "node_modules"))) install.push("--reporter=append-only");
  if (runPnpm(...install) !== 0) fail("pnpm install failed");
  if (runPnpm("exec", "turbo", "run", "build", "--output-logs=errors-only") !== 0) {
    fail("the build failed");
  }

  // 4. The command itself; every step runs, and the first failure decides the exit code.
  // Ctrl-C reaches the children too (same process group): let them stop cleanly, then exit with them.
  process.on("SIGINT", () => {});
  let status = 0;
  for (const [tool, ...args] of steps) {
    const code =
      tool === "node"
        ? spawn(process.execPath, [...args, ...rest], env)
        : tool === "pnpm"
          ? runPnpm(...args, ...rest)
          : runPnpm("exec", tool, ...args, ...rest);
    if (code !== 0 && status === 0) status = code;
  }
  process.exit(status);
}

try {
  main();
} catch (error) {
  if (error instanceof ToolchainError) fail(error.message);
  throw error;
}
