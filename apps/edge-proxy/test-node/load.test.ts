// A small load run (the one of `npm run load`, scaled down): logouts per vendor and through the
// fan-out via the proxy on each runtime and its durable store (workerd: the deployed bundle through
// Miniflare on Durable Objects; Deno on Deno KV; Node on SQLite) against the simulators at
// concurrency 20, each for a user or token of its own; no error, nothing lost, each logout at its
// vendor exactly once (retries excepted), every FunGame revocation on the deny-list, all in one life
// of the proxy; then the deny-list after a graceful stop and a restart. Figures are not asserted:
// `npm run load` prints them.
import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  attemptsOf,
  checkDenyListAfterRestart,
  type LoadEnvironment,
  type LoadRuntime,
  type RecordedSession,
  RUNTIMES,
  runSubject,
  runtimeLabel,
  SUBJECTS,
  startLoadEnvironment,
} from "../load/load.ts";
import { runtimesSetting } from "../load/run.ts";
import { loadKits } from "../scripts/kits.mjs";

const LOGOUTS = 200;
const CONCURRENCY = 20;
/** A run that is not over by then is stopped (and fails: its logouts are counted as errors). */
const RUN_LIMIT_MS = 150_000;

describe("Server-Timing attempts", () => {
  it("reads the attempts of each vendor, summed when a vendor appears twice", () => {
    const attempts = attemptsOf(
      'total;dur=41, ebet;dur=12;desc="1 attempt(s)", sdk-auth;dur=30;desc="3 attempt(s)", lancens;dur=2;desc="2 attempt(s)", lancens;dur=1;desc="1 attempt(s)"',
    );
    expect(Object.fromEntries(attempts)).toEqual({ ebet: 1, "sdk-auth": 3, lancens: 3 });
    expect(attemptsOf(undefined).size).toBe(0);
    expect(attemptsOf("total;dur=3").size).toBe(0);
  });
});

describe("LOAD_RUNTIMES", () => {
  it("picks runtimes by name, in its order, every one when unset or empty", () => {
    expect(runtimesSetting(undefined)).toEqual(["workerd", "deno", "node"]);
    expect(runtimesSetting(" ")).toEqual(["workerd", "deno", "node"]);
    expect(runtimesSetting("node, deno")).toEqual(["node", "deno"]);
  });

  it("refuses a runtime it cannot run, naming the knob and the choices", () => {
    expect(() => runtimesSetting("deno,bun")).toThrow(
      "LOAD_RUNTIMES: bun is not one of workerd, deno, node",
    );
    expect(() => runtimesSetting("workerd,")).toThrow("LOAD_RUNTIMES:  is not one of");
  });

  it("names each runtime with its store", () => {
    expect(RUNTIMES.map(runtimeLabel)).toEqual([
      "workerd / Durable Objects",
      "deno / Deno KV",
      "node / SQLite",
    ]);
  });
});

/** What each runtime's environment must say it runs on, and where its stores are. */
const RUNS_ON: Record<LoadRuntime, RegExp> = {
  workerd: /^workerd \d+\.\d+\.\d+ through Miniflare \d/,
  deno: /^deno \d+\.\d+\.\d+, stores in Deno KV, \/.*\/data\/edge-proxy\.kv$/,
  node: /^node v\d+\.\d+\.\d+, stores in SQLite \(node:sqlite\), \/.*\/data\/edge-proxy\.db, WAL$/,
};

describe.each(RUNTIMES)("load through %s against the simulators", (runtime) => {
  let environment: LoadEnvironment | undefined;
  let lifePids: number[] = [];
  const recorded: RecordedSession[] = [];
  /** Vendors whose logouts the proxy records at the edge (FunGame's deny-list), from their kits. */
  let recording: string[] = [];

  beforeAll(async () => {
    environment = await startLoadEnvironment({ runtime, quiet: true });
    recording = (await loadKits())
      .filter(({ kit }) => kit.record !== undefined)
      .map(({ vendor }) => vendor.name);
    lifePids = environment.proxy.pids;
  }, 150_000);

  afterAll(async () => {
    await environment?.stop();
  });

  it(`runs the proxy on ${runtimeLabel(runtime)}, one process, its state in the run's folder`, () => {
    const running = environment as LoadEnvironment;
    expect(running.label).toBe(runtimeLabel(runtime));
    expect(running.runtime).toMatch(RUNS_ON[runtime]);
    expect(lifePids).toHaveLength(1);
    expect(running.proxy.alive()).toBe(true);
    if (runtime !== "workerd") {
      expect(running.runtime).toContain(join(running.folder, "data"));
      const made = readdirSync(join(running.folder, "data"));
      expect(made.some((file) => /^edge-proxy\.(db|kv)$/.test(file))).toBe(true);
    }
  });

  for (const subject of SUBJECTS) {
    it(
      `${subject}: ${LOGOUTS} logouts at concurrency ${CONCURRENCY}: no error, none lost, each reached its vendor once, in the same life of the proxy`,
      async () => {
        const running = environment as LoadEnvironment;
        const figures = await runSubject(running, subject, {
          requests: LOGOUTS,
          concurrency: CONCURRENCY,
          limitMs: RUN_LIMIT_MS,
        });
        expect(figures.problems).toEqual([]);
        expect(figures).toMatchObject({
          requests: LOGOUTS,
          errors: 0,
          lost: 0,
          duplicates: 0,
          oneLife: true,
        });
        expect(running.proxy.pids).toEqual(lifePids);
        expect(figures.retries).toBeGreaterThanOrEqual(0);
        // A line per logout and per deny-list question, every one read from the proxy.
        const recorders =
          subject === "fanout" ? recording.length : recording.includes(subject) ? 1 : 0;
        const questions = recorders * LOGOUTS;
        expect(figures.logLines).toBeGreaterThanOrEqual(LOGOUTS + questions);
        expect(figures.denyListChecked).toBe(questions);
        expect(figures.recorded).toHaveLength(questions);
        recorded.push(...figures.recorded);
      },
      2 * RUN_LIMIT_MS + 30_000,
    );
  }

  it(
    "after a graceful stop and a restart on the same state, every session recorded at the edge (FunGame's revoked tokens) still is",
    async () => {
      const running = environment as LoadEnvironment;
      const total = 2 * LOGOUTS * recording.length;
      expect(recording.length).toBeGreaterThan(0);
      expect(recorded).toHaveLength(total);
      const check = await checkDenyListAfterRestart(running, recorded, {
        concurrency: CONCURRENCY,
        limitMs: RUN_LIMIT_MS,
      });
      expect(check.problems).toEqual([]);
      expect(check).toMatchObject({ tokens: total, revoked: total, graceful: true });
      expect(check.pidsBefore).toEqual(lifePids);
      expect(check.pidsAfter).toHaveLength(1);
      expect(check.pidsAfter).not.toEqual(lifePids);
      expect(() => process.kill(lifePids[0] as number, 0), "the first life is gone").toThrow();
    },
    RUN_LIMIT_MS + 60_000,
  );

  it("stops the proxy and the simulators, leaving nothing behind", async () => {
    const running = environment as LoadEnvironment;
    await running.stop();
    for (const pid of running.proxy.pids) {
      expect(() => process.kill(pid, 0), `${runtime} ${pid} is gone`).toThrow();
    }
    expect(existsSync(running.folder), "the bundle, the state and the data are removed").toBe(
      false,
    );
    await expect(
      fetch(`${running.proxy.url}/healthz`, { signal: AbortSignal.timeout(5000) }),
    ).rejects.toThrow();
    await expect(
      fetch(`${running.sims.control}/audit`, {
        method: "POST",
        signal: AbortSignal.timeout(5000),
      }),
    ).rejects.toThrow();
  }, 60_000);
});
