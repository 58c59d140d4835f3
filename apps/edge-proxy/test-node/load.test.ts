// A small load run (the one of `npm run load`, scaled down): logouts per vendor and through the
// fan-out via the proxy in workerd (the deployed bundle through Miniflare) against the simulators at
// concurrency 20, each for a user or token of its own; no error, nothing lost, each logout at its
// vendor exactly once (retries excepted), every FunGame revocation on the deny-list, all in one life
// of workerd; then the deny-list after a restart. Figures are not asserted: `npm run load` prints them.
import { existsSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  attemptsOf,
  checkDenyListAfterRestart,
  type LoadEnvironment,
  type RecordedSession,
  runSubject,
  SUBJECTS,
  startLoadEnvironment,
} from "../load/load.ts";
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

describe("load through workerd against the simulators", () => {
  let environment: LoadEnvironment | undefined;
  let lifePids: number[] = [];
  const recorded: RecordedSession[] = [];
  /** Vendors whose logouts the proxy records at the edge (FunGame's deny-list), from their kits. */
  let recording: string[] = [];

  beforeAll(async () => {
    environment = await startLoadEnvironment({ quiet: true });
    recording = (await loadKits())
      .filter(({ kit }) => kit.record !== undefined)
      .map(({ vendor }) => vendor.name);
    lifePids = environment.proxy.pids;
  }, 150_000);

  afterAll(async () => {
    await environment?.stop();
  });

  it("runs the proxy in workerd through Miniflare, one workerd process", () => {
    const running = environment as LoadEnvironment;
    expect(running.runtime).toMatch(/^workerd \d+\.\d+\.\d+ through Miniflare \d/);
    expect(lifePids).toHaveLength(1);
    expect(running.proxy.alive()).toBe(true);
  });

  for (const subject of SUBJECTS) {
    it(
      `${subject}: ${LOGOUTS} logouts at concurrency ${CONCURRENCY}: no error, none lost, each reached its vendor once, in the same life of workerd`,
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
        // A line per logout and per deny-list question, every one read from workerd.
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
    "after a restart of workerd on the same state, every session recorded at the edge (FunGame's revoked tokens) still is",
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
      expect(check).toMatchObject({ tokens: total, revoked: total });
      expect(check.pidsBefore).toEqual(lifePids);
      expect(check.pidsAfter).toHaveLength(1);
      expect(check.pidsAfter).not.toEqual(lifePids);
      expect(() => process.kill(lifePids[0] as number, 0), "the first workerd is gone").toThrow();
    },
    RUN_LIMIT_MS + 60_000,
  );

  it("stops workerd and the simulators, leaving nothing behind", async () => {
    const running = environment as LoadEnvironment;
    await running.stop();
    for (const pid of running.proxy.pids) {
      expect(() => process.kill(pid, 0), `workerd ${pid} is gone`).toThrow();
    }
    expect(existsSync(running.folder), "the bundle and the state are removed").toBe(false);
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
