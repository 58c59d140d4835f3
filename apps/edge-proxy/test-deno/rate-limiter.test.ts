// The rate limiter on a real Deno KV: fixed windows, exact figures, counters shared by handles, races, input.
import assert from "node:assert/strict";
import { KvRateLimiter } from "../src/adapters/deno-kv/rate-limiter.ts";
import { deno, manualClock, withKvFile } from "./harness.ts";

/** A time 2.5 s into a 10 s window. */
const IN_WINDOW = 1_700_000_002_500;

deno.test(
  "rate limiter: a window's requests, then refusals until its end, every figure exact",
  () =>
    withKvFile(async (file) => {
      const clock = manualClock(IN_WINDOW);
      const limiter = new KvRateLimiter(await file.open(), { limit: 3, windowSec: 10 }, clock);
      for (const remaining of [2, 1, 0]) {
        assert.deepEqual(await limiter.take("caller-a"), {
          allowed: true,
          remaining,
          retryAfterSec: 0,
          exact: true,
          resetSec: 8,
        });
      }
      assert.deepEqual(await limiter.take("caller-a"), {
        allowed: false,
        remaining: 0,
        retryAfterSec: 8,
        exact: true,
        resetSec: 8,
      });
      // Another caller has its own count.
      assert.equal((await limiter.take("caller-b")).remaining, 2);
      clock.advance(7_499);
      assert.deepEqual(await limiter.take("caller-a"), {
        allowed: false,
        remaining: 0,
        retryAfterSec: 1,
        exact: true,
        resetSec: 1,
      });
      clock.advance(1);
      assert.deepEqual(await limiter.take("caller-a"), {
        allowed: true,
        remaining: 2,
        retryAfterSec: 0,
        exact: true,
        resetSec: 10,
      });
    }),
);

deno.test("rate limiter: two handles on one file, as two processes, count against one budget", () =>
  withKvFile(async (file) => {
    const clock = manualClock(IN_WINDOW);
    const policy = { limit: 3, windowSec: 10 };
    const a = new KvRateLimiter(await file.open(), policy, clock);
    const b = new KvRateLimiter(await file.open(), policy, clock);
    assert.equal((await a.take("caller-a")).remaining, 2);
    assert.equal((await a.take("caller-a")).remaining, 1);
    assert.equal((await b.take("caller-a")).remaining, 0);
    assert.equal((await a.take("caller-a")).allowed, false);
    assert.equal((await b.take("caller-a")).allowed, false);
  }),
);

deno.test(
  "rate limiter: of requests taken at once from two handles, exactly the limit get through",
  () =>
    withKvFile(async (file) => {
      const policy = { limit: 4, windowSec: 60 };
      const clock = manualClock(1_700_000_010_000);
      const limiters = [
        new KvRateLimiter(await file.open(), policy, clock),
        new KvRateLimiter(await file.open(), policy, clock),
      ];
      const decisions = await Promise.all(
        Array.from({ length: 12 }, (_, i) => (limiters[i % 2] as KvRateLimiter).take("caller-a")),
      );
      assert.equal(decisions.filter((decision) => decision.allowed).length, 4);
      assert.deepEqual(
        decisions
          .filter((decision) => decision.allowed)
          .map((decision) => decision.remaining)
          .sort(),
        [0, 1, 2, 3],
      );
    }),
);

deno.test("rate limiter: bad policy and keys are refused naming the field", () =>
  withKvFile(async (file) => {
    const kv = await file.open();
    assert.throws(
      () => new KvRateLimiter(kv, { limit: 0, windowSec: 10 }),
      /^TypeError: policy\.limit: /,
    );
    assert.throws(
      () => new KvRateLimiter(kv, { limit: 1.5, windowSec: 10 }),
      /^TypeError: policy\.limit: /,
    );
    assert.throws(
      () => new KvRateLimiter(kv, { limit: 5, windowSec: 0 }),
      /^TypeError: policy\.windowSec: /,
    );
    const limiter = new KvRateLimiter(kv, { limit: 5, windowSec: 10 });
    await assert.rejects(() => limiter.take(""), /^TypeError: key: /);
    await assert.rejects(() => limiter.take("k".repeat(257)), /^TypeError: key: /);
  }),
);
