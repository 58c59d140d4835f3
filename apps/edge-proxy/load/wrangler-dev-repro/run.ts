// Shows `wrangler dev` stop answering under sustained load: a trivial Worker (worker.js: 200 and a
// JSON log line per request) under `wrangler dev`, sent rounds of requests at concurrency 100 until
// wrangler dev stops answering or a bound is reached; prints how many requests it answered first.
// REPRO_HOST=miniflare runs the same Worker in the same workerd through Miniflare, without wrangler
// dev's proxy, for comparison. Not part of `npm test`; see README.md here.
//
//   node load/wrangler-dev-repro/run.ts          (from apps/edge-proxy)
//
// Knobs (environment): REPRO_HOST=wrangler|miniflare (default wrangler)  REPRO_LOG_LINES (lines
// per request, default 1)  REPRO_MAX_REQUESTS (default 40000)  REPRO_ROUND (default 10000)
// REPRO_CONCURRENCY (default 100)  REPRO_TIMEOUT_S (default 600: the whole run is stopped after
// this). Loopback only; every process started here is stopped however it ends.
import { copyFileSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { stripVTControlCharacters } from "node:util";
import {
  type AutocannonResult,
  autocannon,
  killOnExit,
  LIMITS,
  loadMiniflare,
  type ProcessGroup,
  pause,
  runtimes,
  startWorkerd,
  trimOutput,
  type Workerd,
  WRANGLER_ENV,
  wholeNumberSetting,
} from "../../bench/shared.ts";

const HERE = dirname(fileURLToPath(import.meta.url));
const HOSTS = ["wrangler", "miniflare"] as const;
type Host = (typeof HOSTS)[number];

function hostSetting(): Host {
  const raw = process.env.REPRO_HOST ?? "wrangler";
  if (!HOSTS.includes(raw as Host))
    throw new Error(`REPRO_HOST must be one of ${HOSTS.join(", ")}`);
  return raw as Host;
}

const progress = (line: string) => process.stderr.write(`[repro] ${line}\n`);

/** The Worker, wherever it runs: its URL, whether it still runs, what it said lately, how to stop. */
interface Running {
  url: string;
  alive(): boolean;
  /** Lines the Worker logged, as read from the host's output. */
  logLines(): number;
  /** What the host said lately, other than the Worker's JSON lines. */
  said(): string[];
  stop(): Promise<void>;
  /** Synchronous, for exit handlers. */
  killNow(): void;
}

/** wrangler dev's own line per request (`[wrangler:info] GET / 200 OK (3ms)`). */
const REQUEST_LINE = /^\[wrangler:info\] [A-Z]+ \S+ \d{3} /;

/** `wrangler dev` of worker.js on 127.0.0.1 (free ports), as load runs started it before. */
async function startWrangler(folder: string, logLines: number): Promise<Running> {
  const port = await runtimes.freePort();
  const inspectorPort = await runtimes.freePort();
  let lines = 0;
  const said: string[] = [];
  const group: ProcessGroup = runtimes.spawnGroup(
    process.execPath,
    runtimes.wranglerDevArgs({
      port,
      inspectorPort,
      persistTo: join(folder, "state"),
      extra: ["--config", join(folder, "wrangler.toml"), "--var", `LOG_LINES:${logLines}`],
    }),
    {
      cwd: folder,
      // wrangler's own log file goes to the temporary folder, not to the home directory.
      env: { ...WRANGLER_ENV, WRANGLER_LOG_PATH: join(folder, "logs") },
      onLine: (raw) => {
        const line = stripVTControlCharacters(raw);
        if (line.startsWith("{")) lines++;
        else if (line.trim() !== "" && !REQUEST_LINE.test(line)) {
          said.push(line);
          if (said.length > 200) said.splice(0, 100);
        }
      },
    },
  );
  // Every line is read (onLine above); only the last ones are kept.
  const trimmer = setInterval(() => trimOutput(group), 500);
  trimmer.unref();
  let exited = false;
  void group.exited.then(() => {
    exited = true;
  });
  const running: Running = {
    url: `http://127.0.0.1:${port}`,
    alive: () => !exited,
    logLines: () => lines,
    said: () => said.slice(-15),
    stop: async () => {
      clearInterval(trimmer);
      await runtimes.stopGroup(group);
    },
    killNow: () => {
      try {
        process.kill(-(group.child.pid as number), "SIGKILL");
      } catch {
        // Already gone.
      }
    },
  };
  try {
    await runtimes.waitForHttp(`${running.url}/`, group, LIMITS.startMs);
  } catch (error) {
    await running.stop();
    throw error;
  }
  return running;
}

/** The same worker.js in workerd through Miniflare: no wrangler dev proxy in front of it. */
async function startMiniflare(folder: string, logLines: number): Promise<Running> {
  const toml = readFileSync(join(folder, "wrangler.toml"), "utf8");
  const compatibilityDate = /^compatibility_date\s*=\s*"([^"]+)"/m.exec(toml)?.[1];
  if (!compatibilityDate) throw new Error("wrangler.toml has no compatibility_date");
  let lines = 0;
  const said: string[] = [];
  const miniflare = await loadMiniflare();
  const workerd: Workerd = await startWorkerd(
    miniflare,
    miniflare.convertV4MiniflareOptions({
      host: "127.0.0.1",
      port: 0,
      modules: true,
      scriptPath: join(folder, "worker.js"),
      modulesRoot: folder,
      compatibilityDate,
      bindings: { LOG_LINES: String(logLines) },
      handleStructuredLogs: ({ message }: { message: string }) => {
        if (message.startsWith("{")) lines++;
        else said.push(message);
      },
    }),
  );
  return {
    url: workerd.url,
    alive: workerd.alive,
    logLines: () => lines,
    said: () => said.slice(-15),
    stop: workerd.stop,
    killNow: () => {
      for (const pid of workerd.pids) {
        try {
          process.kill(pid, "SIGKILL");
        } catch {
          // Already gone.
        }
      }
    },
  };
}

/** One round: `amount` GET / at `connections`, stopped early when the host dies or at `deadline`. */
function round(
  running: Running,
  amount: number,
  connections: number,
  deadline: number,
): Promise<AutocannonResult> {
  return new Promise((resolve, reject) => {
    const instance = autocannon(
      {
        url: `${running.url}/`,
        connections,
        amount,
        timeout: LIMITS.requestMs / 1000,
        renderProgressBar: false,
        renderResultsTable: false,
        renderLatencyTable: false,
      },
      (error, result) => {
        clearInterval(watch);
        if (error) reject(error);
        else resolve(result);
      },
    );
    // A dead host refuses every connection: stop the round instead of spinning on refusals.
    const watch = setInterval(() => {
      if (!running.alive() || Date.now() > deadline) instance.stop();
    }, 250);
  });
}

async function main(): Promise<number> {
  const host = hostSetting();
  const logLines = wholeNumberSetting("REPRO_LOG_LINES", 1, 0, 100);
  const maxRequests = wholeNumberSetting("REPRO_MAX_REQUESTS", 40_000, 1, 1_000_000);
  const roundSize = wholeNumberSetting("REPRO_ROUND", 10_000, 1, 1_000_000);
  const concurrency = wholeNumberSetting("REPRO_CONCURRENCY", 100, 1, 1000);
  const timeoutS = wholeNumberSetting("REPRO_TIMEOUT_S", 600, 10, 24 * 3600);
  const deadline = Date.now() + timeoutS * 1000;
  const name = host === "wrangler" ? "wrangler dev" : "Miniflare";

  // The Worker runs from a copy: wrangler dev writes .wrangler/ next to its config.
  const folder = mkdtempSync(join(tmpdir(), "wrangler-dev-repro-"));
  for (const file of ["worker.js", "wrangler.toml"])
    copyFileSync(join(HERE, file), join(folder, file));
  let running: Running | undefined;
  const killEverything = () => {
    running?.killNow();
    rmSync(folder, { recursive: true, force: true });
  };
  const disarm = killOnExit(killEverything, name, progress, {
    seconds: timeoutS,
    variable: "REPRO_TIMEOUT_S",
  });

  let sent = 0;
  let answered = 0;
  let failed = 0;
  let rounds = 0;
  let stoppedAnswering = false;
  try {
    progress(
      `node ${process.version}; ${name}, ${logLines} log line(s) per request, rounds of ${roundSize} at concurrency ${concurrency}, at most ${maxRequests}`,
    );
    running =
      host === "wrangler"
        ? await startWrangler(folder, logLines)
        : await startMiniflare(folder, logLines);
    progress(`${name} ready: ${running.url}`);
    while (sent < maxRequests && Date.now() < deadline) {
      const amount = Math.min(roundSize, maxRequests - sent);
      const result = await round(running, amount, concurrency, deadline);
      rounds++;
      sent += amount;
      answered += result["2xx"];
      const bad = result.non2xx + result.errors + result.timeouts;
      failed += bad;
      progress(
        `round ${rounds}: ${result["2xx"]} answered 200, ${result.non2xx} other status, ${result.errors} errors, ${result.timeouts} timeouts; ${answered} answered so far; ${running.logLines()} log lines read; ${name} ${running.alive() ? "running" : "exited"}`,
      );
      // Let a dying host finish dying, so that the next round does not count it as alive.
      if (bad === 0 && running.alive()) await pause(1000);
      if (bad > 0 || !running.alive()) {
        stoppedAnswering = true;
        break;
      }
    }
  } finally {
    disarm();
    await running?.stop();
    rmSync(folder, { recursive: true, force: true });
  }
  console.log(
    stoppedAnswering
      ? `\n${name} answered ${answered} requests (${logLines} log line(s) each), then stopped answering in round ${rounds}.`
      : `\n${name} answered all ${answered} requests (${logLines} log line(s) each) in ${rounds} rounds.`,
  );
  const said = running?.said() ?? [];
  if (said.length > 0) {
    console.log(`${name} said last:`);
    for (const line of said) console.log(`  ${line}`);
  }
  console.log(
    `REPRO ${JSON.stringify({ host, logLines, concurrency, roundSize, maxRequests, answered, failed, rounds, stoppedAnswering })}`,
  );
  return 0;
}

if (fileURLToPath(import.meta.url) === process.argv[1]) {
  process.exitCode = await main();
}
