// Runs the bundled conformance suite on Node 20, Node 24, Bun, Deno and workerd, all from the npm
// registry, and prints one line per runtime: `<runtime>: N passed, M failed`. Exits 1 unless all pass.
import { spawn } from "node:child_process";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { BUN_ENV, bunBinary, DENO_ENV, denoBinary, systemNode } from "./binaries.mjs";

const TOOLING = dirname(dirname(fileURLToPath(import.meta.url)));
const CLI_BUNDLE = join(TOOLING, "dist", "conformance-cli.mjs");
const WORKER_BUNDLE = join(TOOLING, "dist", "conformance-worker.mjs");
const RUN_LIMIT_MS = 10 * 60 * 1000;

function cliRuntime(name, command, args, env = {}) {
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

const summaries = [];
let failedTotal = 0;
let passedTotal = 0;
for (const runtime of RUNTIMES) {
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
  for (const failure of report.failures) {
    console.log(
      `${runtime.name}: FAIL ${failure.name}\n    ${failure.error.replace(/\n/g, "\n    ")}`,
    );
  }
  console.log(`# ${runtime.name} took ${seconds} s`);
  summaries.push(`${runtime.name}: ${report.passed} passed, ${report.failed} failed`);
  passedTotal += report.passed;
  failedTotal += report.failed;
}
console.log("\nConformance suite, one line per runtime:");
for (const line of summaries) console.log(line);
console.log(`conformance: ${passedTotal} passed, ${failedTotal} failed`);
process.exit(failedTotal === 0 && summaries.length === RUNTIMES.length ? 0 : 1);
