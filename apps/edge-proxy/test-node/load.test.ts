// A small load run (the one of `npm run load`, scaled down): logouts per vendor and through the
// fan-out via `wrangler dev` against the simulators at concurrency 20, each for a user or token of
// its own; no error, nothing lost, each logout at its vendor exactly once (retries excepted), every
// FunGame revocation on the deny-list. Figures are not asserted: `npm run load` prints them.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  attemptsOf,
  type LoadEnvironment,
  runSubject,
  SUBJECTS,
  startLoadEnvironment,
} from "../load/load.ts";

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

describe("load through wrangler dev against the simulators", () => {
  let environment: LoadEnvironment | undefined;

  beforeAll(async () => {
    environment = await startLoadEnvironment({ quiet: true });
  }, 150_000);

  afterAll(async () => {
    await environment?.stop();
  });

  for (const subject of SUBJECTS) {
    it(
      `${subject}: ${LOGOUTS} logouts at concurrency ${CONCURRENCY}: no error, none lost, each reached its vendor once`,
      async () => {
        const figures = await runSubject(environment as LoadEnvironment, subject, {
          requests: LOGOUTS,
          concurrency: CONCURRENCY,
          limitMs: RUN_LIMIT_MS,
        });
        expect(figures.problems).toEqual([]);
        expect(figures).toMatchObject({ requests: LOGOUTS, errors: 0, lost: 0, duplicates: 0 });
        expect(figures.retries).toBeGreaterThanOrEqual(0);
        if (subject === "fungame" || subject === "fanout") {
          expect(figures.denyListChecked).toBe(LOGOUTS);
        }
      },
      2 * RUN_LIMIT_MS + 30_000,
    );
  }

  it("stops wrangler dev and the simulators, leaving nothing behind", async () => {
    const running = environment as LoadEnvironment;
    await running.stop();
    const pid = running.proxy.group.child.pid as number;
    expect(() => process.kill(-pid, 0), "wrangler dev's process group is gone").toThrow();
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
