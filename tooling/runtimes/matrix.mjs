// Runs the bundled conformance suite on Node 20, Node 24, Bun, Deno and workerd, all from the npm
// registry, and prints one line per runtime: `<runtime>: N passed, M failed`. Exits 1 unless every
// runtime passes every case the suite registers (counted when it was bundled): a runtime that runs
// fewer, or none, fails.
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { BUN_ENV, bunBinary, DENO_ENV, denoBinary, systemNode } from "./binaries.mjs";

const TOOLING = dirname(dirname(fileURLToPath(import.meta.url)));
const CLI_BUNDLE = join(TOOLING, "dist", "conformance-cli.mjs");
const WORKER_BUNDLE = join(TOOLING, "dist", "conformance-worker.mjs");
const CASES_FILE = join(TOOLING, "dist", "conformance-cases.json");
const RUN_LIMIT_MS = 10 * 60 * 1000;

/** A runtime that runs the CLI bundle (or any script printing a CONFORMANCE line) as a process. */
export function cliRuntime(name, command, args, env = {}) {
  return { name, run: () => runProcess(command(), args, env) };
}

const RUNTIMES = [
  cliRuntime("node20", () => systemNode(20), [CLI_BUNDLE]),
  cliRuntime("node24", () => systemNode(24), [CLI_BUNDLE]),
  cliRuntime("bun", bunBinary, [CLI_BUNDLE], BUN_ENV),
  cliRuntime(
    "deno",
    denoBinary,
    ["run", "--no-prompt", "--no-config", "--no-lock", CLI_BUNDLE],
    DENO_ENV,
  ),
  { name: "workerd", run: runWorkerd },
];

/** Runs a CLI runtime on the bundle and reads the CONFORMANCE line it prints. */
function runProcess(command, args, env) {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      env: { ...process.env, ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk) => {
      stdout += chunk;
    });
    child.stderr.on("data", (chunk) => {
      stderr += chunk;
    });
    const timer = setTimeout(() => child.kill("SIGKILL"), RUN_LIMIT_MS);
    child.on("error", (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      const line = stdout.split("\n").find((text) => text.startsWith("CONFORMANCE "));
      if (!line) {
        reject(new Error(`exited with ${signal ?? code} without a report\n${stderr.slice(-2000)}`));
        return;
      }
      resolve(JSON.parse(line.slice("CONFORMANCE ".length)));
    });
  });
}

/** Runs the worker bundle in workerd through Miniflare and fetches its report. */
async function runWorkerd() {
  const { Miniflare } = await import("miniflare");
  const mf = new Miniflare({
    modules: true,
    scriptPath: WORKER_BUNDLE,
    compatibilityDate: "2025-09-01",
    log: undefined,
  });
  try {
    const response = await mf.dispatchFetch("http://conformance.invalid/", {
      signal: AbortSignal.timeout(RUN_LIMIT_MS),
    });
    const text = await response.text();
    if (!response.ok) throw new Error(`worker answered ${response.status}: ${text.slice(0, 2000)}`);
    return JSON.parse(text);
  } finally {
    await mf.dispose();
  }
}

/** How many cases the bundled suite registers, as the build counted them. */
export function expectedCases(file = CASES_FILE) {
  let count;
  try {
    ({ count } = JSON.parse(readFileSync(file, "utf8")));
  } catch (error) {
    throw new Error(`no case count at ${file} (build the tooling first): ${error.message}`);
  }
  if (!Number.isInteger(count) || count < 1) {
    throw new Error(`${file} holds no case count of at least 1: ${JSON.stringify(count)}`);
  }
  return count;
}

/**
 * Runs the suite on each runtime and prints its failures and one summary line per runtime. Resolves
 * to the exit code: 0 only when every runtime passed and ran exactly `expected` cases.
 */
export async function runMatrix(runtimes, expected, log = console.log) {
  const summaries = [];
  const shortfalls = [];
  let failedTotal = 0;
  let passedTotal = 0;
  for (const runtime of runtimes) {
    const started = performance.now();
    let report;
    try {
      report = await runtime.run();
    } catch (error) {
      report = {
        passed: 0,
        failed: 1,
        failures: [{ name: "(runtime did not run)", error: String(error?.stack ?? error) }],
      };
    }
    const seconds = ((performance.now() - started) / 1000).toFixed(1);
    for (const failure of report.failures ?? []) {
      log(`${runtime.name}: FAIL ${failure.name}\n    ${failure.error.replace(/\n/g, "\n    ")}`);
    }
    log(`# ${runtime.name} took ${seconds} s`);
    const passed = Number.isInteger(report.passed) ? report.passed : 0;
    const failed = Number.isInteger(report.failed) ? report.failed : 0;
    const ran = passed + failed;
    const count = ran === expected ? "" : ` (ran ${ran} of ${expected} cases)`;
    summaries.push(`${runtime.name}: ${passed} passed, ${failed} failed${count}`);
    if (ran !== expected) {
      shortfalls.push(`${runtime.name}: ran ${ran} of ${expected} cases`);
    }
    passedTotal += passed;
    failedTotal += failed;
  }
  log("\nConformance suite, one line per runtime:");
  for (const line of summaries) log(line);
  for (const line of shortfalls) log(`FAIL ${line}`);
  log(`conformance: ${passedTotal} passed, ${failedTotal} failed`);
  const complete = summaries.length === runtimes.length && shortfalls.length === 0;
  return failedTotal === 0 && complete ? 0 : 1;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  let expected;
  try {
    expected = expectedCases();
  } catch (error) {
    console.error(`conformance: ${error.message}`);
    process.exit(1);
  }
  process.exit(await runMatrix(RUNTIMES, expected));
}
