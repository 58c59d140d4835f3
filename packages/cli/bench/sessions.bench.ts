// Benchmark of the x-logout command (the built dist/bin.js, one process per run): sessions ended per
// second against the four vendor simulators, directly and through the edge proxy's Node entry, on
// Node, Bun and Deno.
//
//   pnpm --filter @x/cli build && pnpm --filter @x/cli bench      (BENCH_QUICK=1: fewer sessions)
//
// Prints a table, then one `BENCH {json}` line per runtime and mode. A run that does not end every
// session exactly once is an error (non-zero exit): its figure would mean nothing.
import { spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { type Figures, formatTable, printFigures } from "../../../tooling/bench/harness.ts";
import { MEMBER_OF, VENDOR_NAMES } from "../src/sessions.ts";
import { startProxy, writeList } from "../test/proxy-harness.ts";
import { startVendors } from "../test/simulators.ts";

const QUICK = process.env.BENCH_QUICK === "1";
/** List lines per run; each names one session of each of the four vendors. */
const LINES = QUICK ? 250 : 2_000;
const CONCURRENCY = "16";
const BIN = fileURLToPath(new URL("../dist/bin.js", import.meta.url));

// binaries.mjs is plain JavaScript shared by the repository's scripts; it is loaded by URL and typed here.
const binaries = (await import(
  new URL("../../../tooling/runtimes/binaries.mjs", import.meta.url).href
)) as {
  bunBinary(): string;
  denoBinary(): string;
  BUN_ENV: Record<string, string>;
  DENO_ENV: Record<string, string>;
};

interface Runtime {
  name: string;
  command: string;
  args: string[];
  env: Record<string, string>;
}

/** The runtimes whose binary is installed; a missing one is said, not failed. */
function runtimes(): Runtime[] {
  const out: Runtime[] = [{ name: "node", command: process.execPath, args: [BIN], env: {} }];
  try {
    out.push({ name: "bun", command: binaries.bunBinary(), args: [BIN], env: binaries.BUN_ENV });
  } catch {
    console.error("bench: no Bun binary installed; Bun left out");
  }
  try {
    out.push({
      name: "deno",
      command: binaries.denoBinary(),
      args: ["run", "--allow-all", "--no-lock", BIN],
      env: binaries.DENO_ENV,
    });
  } catch {
    console.error("bench: no Deno binary installed; Deno left out");
  }
  return out;
}

/** Runs the command to its end; its exit code, standard error, and how long it took in ms. */
function runCommand(
  runtime: Runtime,
  args: readonly string[],
  env: Record<string, string>,
): Promise<{ code: number | null; stderr: string; ms: number }> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const child = spawn(runtime.command, [...runtime.args, ...args], {
      env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "", ...runtime.env, ...env },
      stdio: ["ignore", "ignore", "pipe"],
    });
    let stderr = "";
    child.stderr.on("data", (chunk: Buffer) => {
      stderr += chunk.toString("utf8");
    });
    child.once("error", reject);
    child.once("exit", (code) => resolve({ code, stderr, ms: performance.now() - started }));
  });
}

const list = runtimes();
const modes = ["direct", "proxy"] as const;
const vendors = await startVendors(list.length * modes.length * LINES);
const proxy = await startProxy(vendors.env);
const folder = await mkdtemp(join(tmpdir(), "x-logout-bench-"));
const rows: string[][] = [];
const figures: [string, string, Figures][] = [];
let failed = false;
try {
  for (const runtime of list) {
    for (const mode of modes) {
      const lines = await vendors.lines(LINES);
      const path = join(folder, `${runtime.name}-${mode}.jsonl`);
      await writeList(path, lines);
      const args = [path, "--progress", "none", "--concurrency", CONCURRENCY];
      const run =
        mode === "direct"
          ? await runCommand(runtime, args, vendors.env)
          : await runCommand(runtime, [...args, "--proxy", proxy.url], {
              X_LOGOUT_PROXY_KEY: proxy.apiKey,
            });
      const endings = vendors.endings();
      const wrong = VENDOR_NAMES.flatMap((vendor) =>
        lines.filter((line) => {
          const key = vendors.keyOf(vendor, line[MEMBER_OF[vendor]]);
          return endings[vendor].get(key) !== 1;
        }),
      ).length;
      if (run.code !== 0 || wrong > 0) {
        failed = true;
        console.error(
          `bench: ${runtime.name} ${mode}: exit ${run.code}, ${wrong} session(s) not ended exactly once\n${run.stderr.slice(0, 2000)}`,
        );
        continue;
      }
      const sessions = LINES * VENDOR_NAMES.length;
      const perSecond = sessions / (run.ms / 1000);
      rows.push([
        runtime.name,
        mode,
        String(sessions),
        (run.ms / 1000).toFixed(2),
        perSecond.toFixed(0),
      ]);
      figures.push([
        `sessions-${mode}`,
        runtime.name,
        {
          sessions,
          seconds: run.ms / 1000,
          sessionsPerSecond: perSecond,
          concurrency: Number(CONCURRENCY),
          quick: QUICK,
        },
      ]);
    }
  }
} finally {
  await proxy.stop();
  await vendors.close();
  await rm(folder, { recursive: true, force: true });
}
console.log("");
console.log(formatTable(["runtime", "mode", "sessions", "seconds", "sessions/s"], rows, [2, 3, 4]));
console.log(
  `\n(${LINES} list lines per run, 4 vendors each, ${CONCURRENCY} in flight per vendor; the process's start counts)`,
);
console.log("");
for (const [name, subject, values] of figures) printFigures(name, subject, values);
if (failed) process.exitCode = 1;
