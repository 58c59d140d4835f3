// `npm run load`: 10,000 logouts at concurrency 100 per subject (each vendor of the list, then the
// fan-out naming every one) through the proxy on each runtime, on its durable store, against the
// simulators, each logout for a user or token of its own; then the checks of load/load.ts. The
// runtimes: workerd (the deployed bundle through Miniflare, its Durable Objects persisted), the Deno
// entry on Deno KV and the Node entry on SQLite, each in a process of its own on a fresh temporary
// data directory, one after the other, each with simulators of its own. On each, every subject and
// its checks run in one life of the proxy; then, as an extra step, the proxy is stopped gracefully,
// started again on the same state, and every session recorded at the edge during the run (FunGame's
// revoked tokens) is asked about again. Prints a table and one `BENCH {"case":"load",...}` line per
// subject and runtime and for each restart check. Exits non-zero when a logout failed, was lost or
// reached a vendor twice, the proxy did not live through the subjects or did not stop gracefully,
// a token was not revoked after the restart, or a check could not run.
//
//   node load/run.ts
//
// Knobs (environment): LOAD_RUNTIMES (default workerd,deno,node; e.g. LOAD_RUNTIMES=deno,node)
// LOAD_REQUESTS (default 10000) LOAD_CONCURRENCY (default 100) LOAD_SUBJECTS (default: every vendor
// of src/vendors/index.ts by name, then fanout; e.g. LOAD_SUBJECTS=lancens,fanout)  LOAD_TIMEOUT_S
// (default 3600: the whole run is stopped after this). Loopback only; every process started here
// is stopped however it ends.
import process from "node:process";
import { fileURLToPath } from "node:url";
import { benchLine, formatTable } from "../../../tooling/bench/harness.ts";
import { killOnExit, wholeNumberSetting } from "../bench/shared.ts";
import { pickSetting } from "../scripts/kits.mjs";
import {
  checkDenyListAfterRestart,
  type LoadEnvironment,
  type LoadFigures,
  type LoadRuntime,
  type RestartCheck,
  RUNTIMES,
  runSubject,
  runtimeLabel,
  SUBJECTS,
  type Subject,
  startLoadEnvironment,
} from "./load.ts";

function subjectsSetting(): Subject[] {
  return pickSetting("LOAD_SUBJECTS", process.env.LOAD_SUBJECTS, SUBJECTS);
}

/** The runtimes LOAD_RUNTIMES picks, in its order; an unknown name is an error naming the knob. */
export function runtimesSetting(raw: string | undefined): LoadRuntime[] {
  return pickSetting("LOAD_RUNTIMES", raw, RUNTIMES);
}

const progress = (line: string) => process.stderr.write(`[load] ${line}\n`);

/** What one runtime's part of the run gave. */
export interface RuntimeRun {
  /** "workerd / Durable Objects". */
  label: string;
  /** What ran the proxy and where its stores were; empty when it did not start. */
  runtime: string;
  /** The proxy's processes in the life that ran every subject. */
  lifePids: number[];
  results: LoadFigures[];
  restartCheck: RestartCheck | undefined;
}

export function printReport(runs: readonly RuntimeRun[], concurrency: number): void {
  console.log(
    `\nload at concurrency ${concurrency}; each logout for a user or token of its own; on each runtime, every subject and its checks in one life of the proxy`,
  );
  for (const run of runs) {
    if (run.runtime === "") continue;
    console.log(`  ${run.label}: ${run.runtime} (pid ${run.lifePids.join(", ")})`);
  }
  console.log(
    formatTable(
      [
        "runtime / store",
        "subject",
        "requests",
        "errors",
        "lost",
        "duplicates",
        "retries",
        "rps",
        "p99 ms",
        "deny-list checked",
        "log lines",
        "one life",
      ],
      runs.flatMap((run) =>
        run.results.map((r) => [
          run.label,
          r.subject,
          String(r.requests),
          String(r.errors),
          String(r.lost),
          String(r.duplicates),
          String(r.retries),
          r.rps.toFixed(0),
          r.p99Ms.toFixed(1),
          String(r.denyListChecked),
          String(r.logLines),
          r.oneLife ? "yes" : "NO",
        ]),
      ),
      [2, 3, 4, 5, 6, 7, 8, 9, 10],
    ),
  );
  for (const { label, restartCheck: check } of runs) {
    if (check === undefined) continue;
    console.log(
      `\nextra step, after every subject: ${label} ${check.graceful ? "stopped gracefully" : "did NOT stop gracefully"} and restarted on the same state (pid ${check.pidsBefore.join(", ")} -> ${check.pidsAfter.join(", ")}); ${check.revoked} of ${check.tokens} sessions still recorded at the edge`,
    );
  }
  for (const run of runs) {
    for (const r of run.results) {
      if (r.problems.length === 0) continue;
      console.log(`\n${run.label}, ${r.subject}: first problems`);
      for (const problem of r.problems) console.log(`  ${problem}`);
    }
    if (run.restartCheck !== undefined && run.restartCheck.problems.length > 0) {
      console.log(`\n${run.label}, deny-list after the restart: first problems`);
      for (const problem of run.restartCheck.problems) console.log(`  ${problem}`);
    }
  }
  console.log("");
  for (const run of runs) {
    for (const r of run.results) {
      console.log(
        benchLine("load", r.subject, {
          runtime: run.label,
          requests: r.requests,
          errors: r.errors,
          lost: r.lost,
          rps: r.rps,
          p99Ms: r.p99Ms,
          duplicates: r.duplicates,
          retries: r.retries,
          concurrency,
          denyListChecked: r.denyListChecked,
          logLines: r.logLines,
          oneLife: r.oneLife,
        }),
      );
    }
    if (run.restartCheck !== undefined) {
      console.log(
        benchLine("load", "deny-list-after-restart", {
          runtime: run.label,
          tokens: run.restartCheck.tokens,
          revoked: run.restartCheck.revoked,
          graceful: run.restartCheck.graceful,
          concurrency,
        }),
      );
    }
  }
}

/** Every subject on one runtime, then its restart check; what could not run goes to `failures`. */
async function runRuntime(
  runtime: LoadRuntime,
  subjects: readonly Subject[],
  settings: { requests: number; concurrency: number; timeoutS: number },
  started: (environment: LoadEnvironment) => void,
  failures: string[],
): Promise<RuntimeRun> {
  const { requests, concurrency, timeoutS } = settings;
  const label = runtimeLabel(runtime);
  const run: RuntimeRun = {
    label,
    runtime: "",
    lifePids: [],
    results: [],
    restartCheck: undefined,
  };
  let environment: LoadEnvironment | undefined;
  try {
    environment = await startLoadEnvironment({ runtime });
    started(environment);
    run.runtime = environment.runtime;
    run.lifePids = environment.proxy.pids;
    progress(
      `${label}: simulators and ${environment.runtime} ready: ${environment.proxy.url} (pid ${run.lifePids.join(", ")})`,
    );
    for (const subject of subjects) {
      try {
        // Each run is bounded by the overall limit only: a busy machine may need minutes per subject.
        const figures = await runSubject(environment, subject, {
          requests,
          concurrency,
          limitMs: timeoutS * 1000,
        });
        run.results.push(figures);
        progress(
          `${label}, ${subject}: ${figures.rps.toFixed(0)} rps, p99 ${figures.p99Ms.toFixed(1)} ms, ${figures.errors} errors, ${figures.lost} lost, ${figures.duplicates} duplicates, ${figures.retries} retries, ${figures.logLines} log lines, one life: ${figures.oneLife}`,
        );
      } catch (error) {
        const message = error instanceof Error ? error.message : String(error);
        failures.push(`${label}, ${subject}: ${message}`);
        progress(`${label}, ${subject}: FAILED: ${message}`);
      }
    }
    if (!environment.proxy.alive()) {
      failures.push(`${label} (pid ${run.lifePids.join(", ")}) did not live through the subjects`);
    }
    const tokens = run.results.flatMap((r) => r.recorded);
    if (tokens.length > 0) {
      progress(
        `${label}: extra step: restarting the proxy on the same state, ${tokens.length} sessions to ask about`,
      );
      run.restartCheck = await checkDenyListAfterRestart(environment, tokens, {
        concurrency,
        limitMs: timeoutS * 1000,
      });
      progress(
        `${label}: after the restart, ${run.restartCheck.revoked} of ${run.restartCheck.tokens} still recorded; stopped gracefully: ${run.restartCheck.graceful}`,
      );
    }
  } catch (error) {
    failures.push(`${label}: ${error instanceof Error ? error.message : String(error)}`);
  } finally {
    await environment?.stop();
  }
  return run;
}

async function main(): Promise<number> {
  const requests = wholeNumberSetting("LOAD_REQUESTS", 10_000, 1, 40_000);
  const concurrency = wholeNumberSetting("LOAD_CONCURRENCY", 100, 1, 1000);
  const timeoutS = wholeNumberSetting("LOAD_TIMEOUT_S", 3600, 10, 24 * 3600);
  const subjects = subjectsSetting();
  const runtimes = runtimesSetting(process.env.LOAD_RUNTIMES);
  progress(
    `node ${process.version}; ${requests} logouts at concurrency ${concurrency} for ${subjects.join(", ")} on ${runtimes.map(runtimeLabel).join(", ")}`,
  );

  let environment: LoadEnvironment | undefined;
  const disarm = killOnExit(
    () => environment?.killNow(),
    "the proxy and the simulators",
    progress,
    { seconds: timeoutS, variable: "LOAD_TIMEOUT_S" },
  );

  const started = performance.now();
  const runs: RuntimeRun[] = [];
  const failures: string[] = [];
  try {
    for (const runtime of runtimes) {
      runs.push(
        await runRuntime(
          runtime,
          subjects,
          { requests, concurrency, timeoutS },
          (running) => {
            environment = running;
          },
          failures,
        ),
      );
    }
  } finally {
    disarm();
  }
  progress(`done in ${((performance.now() - started) / 1000).toFixed(0)} s`);
  printReport(runs, concurrency);
  if (failures.length > 0) {
    console.log("\ncould not run:");
    for (const failure of failures) console.log(`  ${failure}`);
  }
  const results = runs.flatMap((run) => run.results);
  const bad = results.filter((r) => r.errors > 0 || r.lost > 0 || r.duplicates > 0 || !r.oneLife);
  const forgotten = runs.some(
    ({ restartCheck: check }) =>
      check !== undefined && (check.revoked < check.tokens || !check.graceful),
  );
  return failures.length > 0 || bad.length > 0 || forgotten ? 1 : 0;
}

if (fileURLToPath(import.meta.url) === process.argv[1]) {
  process.exitCode = await main();
}
