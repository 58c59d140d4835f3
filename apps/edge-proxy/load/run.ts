// `npm run load`: 10,000 logouts at concurrency 100 per subject (each vendor of the list, then the
// fan-out naming every one) through the proxy in workerd (the deployed bundle through Miniflare) against the
// simulators, each for a user or token of its own; then the checks of load/load.ts. Every subject
// and its checks run in one life of workerd; then, as an extra step, workerd is restarted on the
// same state and every session recorded at the edge during the run (FunGame's revoked tokens) is asked about again. Prints a table
// and one `BENCH {"case":"load",...}` line per subject and for the restart check. Exits non-zero
// when a logout failed, was lost or reached a vendor twice, workerd did not live through the
// subjects, a token was not revoked after the restart, or a check could not run.
//
//   node load/run.ts
//
// Knobs (environment): LOAD_REQUESTS (default 10000) LOAD_CONCURRENCY (default 100)
// LOAD_SUBJECTS (default: every vendor of src/vendors/index.ts by name, then fanout; e.g.
// LOAD_SUBJECTS=lancens,fanout)  LOAD_TIMEOUT_S (default 3600: the whole run is
// stopped after this). Loopback only; every process started here is stopped however it ends.
import process from "node:process";
import { fileURLToPath } from "node:url";
import { benchLine, formatTable } from "../../../tooling/bench/harness.ts";
import { killOnExit, wholeNumberSetting } from "../bench/shared.ts";
import { pickSetting } from "../scripts/kits.mjs";
import {
  checkDenyListAfterRestart,
  type LoadEnvironment,
  type LoadFigures,
  type RestartCheck,
  runSubject,
  SUBJECTS,
  type Subject,
  startLoadEnvironment,
} from "./load.ts";

function subjectsSetting(): Subject[] {
  return pickSetting("LOAD_SUBJECTS", process.env.LOAD_SUBJECTS, SUBJECTS);
}

const progress = (line: string) => process.stderr.write(`[load] ${line}\n`);

export function printReport(
  results: readonly LoadFigures[],
  concurrency: number,
  runtime: string,
  lifePids: readonly number[],
  restartCheck: RestartCheck | undefined,
): void {
  console.log(
    `\nload in ${runtime}, at concurrency ${concurrency}; each logout for a user or token of its own; every subject and its checks in one life of workerd (pid ${lifePids.join(", ")})`,
  );
  console.log(
    formatTable(
      [
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
      results.map((r) => [
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
      [1, 2, 3, 4, 5, 6, 7, 8, 9],
    ),
  );
  if (restartCheck !== undefined) {
    console.log(
      `\nextra step, after every subject: workerd restarted on the same state (pid ${restartCheck.pidsBefore.join(", ")} -> ${restartCheck.pidsAfter.join(", ")}); ${restartCheck.revoked} of ${restartCheck.tokens} sessions still recorded at the edge`,
    );
  }
  for (const r of results) {
    if (r.problems.length === 0) continue;
    console.log(`\n${r.subject}: first problems`);
    for (const problem of r.problems) console.log(`  ${problem}`);
  }
  if (restartCheck !== undefined && restartCheck.problems.length > 0) {
    console.log("\ndeny-list after the restart: first problems");
    for (const problem of restartCheck.problems) console.log(`  ${problem}`);
  }
  console.log("");
  for (const r of results) {
    console.log(
      benchLine("load", r.subject, {
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
  if (restartCheck !== undefined) {
    console.log(
      benchLine("load", "deny-list-after-restart", {
        tokens: restartCheck.tokens,
        revoked: restartCheck.revoked,
        concurrency,
      }),
    );
  }
}

async function main(): Promise<number> {
  const requests = wholeNumberSetting("LOAD_REQUESTS", 10_000, 1, 40_000);
  const concurrency = wholeNumberSetting("LOAD_CONCURRENCY", 100, 1, 1000);
  const timeoutS = wholeNumberSetting("LOAD_TIMEOUT_S", 3600, 10, 24 * 3600);
  const subjects = subjectsSetting();
  progress(
    `node ${process.version}; ${requests} logouts at concurrency ${concurrency} for ${subjects.join(", ")}`,
  );

  let environment: LoadEnvironment | undefined;
  const disarm = killOnExit(
    () => environment?.killNow(),
    "the proxy and the simulators",
    progress,
    { seconds: timeoutS, variable: "LOAD_TIMEOUT_S" },
  );

  const started = performance.now();
  const results: LoadFigures[] = [];
  const failures: string[] = [];
  let runtime = "workerd";
  let lifePids: number[] = [];
  let restartCheck: RestartCheck | undefined;
  try {
    environment = await startLoadEnvironment();
    runtime = environment.runtime;
    lifePids = environment.proxy.pids;
    progress(
      `simulators and ${runtime} ready: ${environment.proxy.url} (pid ${lifePids.join(", ")})`,
    );
    for (const subject of subjects) {
      try {
        // Each run is bounded by the overall limit only: a busy machine may need minutes per subject.
        const figures = await runSubject(environment, subject, {
          requests,
          concurrency,
          limitMs: timeoutS * 1000,
        });
        results.push(figures);
        progress(
          `${subject}: ${figures.rps.toFixed(0)} rps, p99 ${figures.p99Ms.toFixed(1)} ms, ${figures.errors} errors, ${figures.lost} lost, ${figures.duplicates} duplicates, ${figures.retries} retries, ${figures.logLines} log lines, one life: ${figures.oneLife}`,
        );
      } catch (error) {
        failures.push(`${subject}: ${error instanceof Error ? error.message : String(error)}`);
        progress(`${subject}: FAILED: ${error instanceof Error ? error.message : String(error)}`);
      }
    }
    if (!environment.proxy.alive()) {
      failures.push(`workerd (pid ${lifePids.join(", ")}) did not live through the subjects`);
    }
    const tokens = results.flatMap((r) => r.recorded);
    if (tokens.length > 0) {
      progress(
        `extra step: restarting workerd on the same state, ${tokens.length} sessions to ask about`,
      );
      restartCheck = await checkDenyListAfterRestart(environment, tokens, {
        concurrency,
        limitMs: timeoutS * 1000,
      });
    }
  } catch (error) {
    failures.push(error instanceof Error ? error.message : String(error));
  } finally {
    await environment?.stop();
    disarm();
  }
  progress(`done in ${((performance.now() - started) / 1000).toFixed(0)} s`);
  printReport(results, concurrency, runtime, lifePids, restartCheck);
  if (failures.length > 0) {
    console.log("\ncould not run:");
    for (const failure of failures) console.log(`  ${failure}`);
  }
  const bad = results.filter((r) => r.errors > 0 || r.lost > 0 || r.duplicates > 0 || !r.oneLife);
  const forgotten = restartCheck !== undefined && restartCheck.revoked < restartCheck.tokens;
  return failures.length > 0 || bad.length > 0 || forgotten ? 1 : 0;
}

if (fileURLToPath(import.meta.url) === process.argv[1]) {
  process.exitCode = await main();
}
