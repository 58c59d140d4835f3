// The rate limiter and the replay seen-set against simple models, on any sequence of calls and
// clock steps: never more than the bucket allows, Retry-After honest, memory within its bound.
import fc from "fast-check";
import { describe, it } from "vitest";
import { MemoryRateLimiter } from "../src/adapters/memory/rate-limiter.ts";
import { MemoryReplayGuard } from "../src/adapters/memory/replay-guard.ts";
import { params } from "./runs.ts";

const step = fc.record({
  key: fc.constantFrom("a", "b", "c", "d", "e"),
  advanceMs: fc.oneof(fc.constant(0), fc.nat({ max: 2_000 }), fc.nat({ max: 120_000 })),
});

describe("MemoryRateLimiter", () => {
  it("allows at most limit + refill per caller, says honestly when to retry, stays bounded", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 20 }),
        fc.integer({ min: 1, max: 120 }),
        fc.integer({ min: 1, max: 4 }),
        fc.array(step, { maxLength: 200 }),
        async (limit, windowSec, maxKeys, steps) => {
          let now = 0;
          const limiter = new MemoryRateLimiter({ limit, windowSec }, { now: () => now, maxKeys });
          const allowed = new Map<string, number[]>();
          const record = (key: string) => {
            const times = [...(allowed.get(key) ?? []), now];
            allowed.set(key, times);
            // Within any span of d ms, a caller gets at most limit + d × limit / window.
            for (const start of times) {
              const within = times.filter((time) => time >= start).length;
              const budget = limit + ((now - start) * limit) / (windowSec * 1000);
              if (within > budget + 1e-9) throw new Error(`${within} allowed, budget ${budget}`);
            }
          };
          // The model's least-recently-used order: an evicted caller starts again with a full bucket.
          const order: string[] = [];
          const touch = (key: string) => {
            const at = order.indexOf(key);
            if (at >= 0) order.splice(at, 1);
            order.push(key);
            while (order.length > maxKeys) allowed.delete(order.shift() as string);
          };
          for (const { key, advanceMs } of steps) {
            now += advanceMs;
            touch(key);
            const decision = await limiter.take(key);
            if (limiter.size > maxKeys) throw new Error("more buckets than maxKeys");
            if (decision.remaining < 0 || decision.remaining > limit) throw new Error("remaining");
            if (decision.allowed) {
              record(key);
              continue;
            }
            if (decision.retryAfterSec < 1) throw new Error("Retry-After under 1 s");
            // Waiting as told lets the caller's next request through.
            now += decision.retryAfterSec * 1000;
            touch(key);
            if (!(await limiter.take(key)).allowed) throw new Error("Retry-After too short");
            record(key);
          }
        },
      ),
      params(950),
    );
  });
});

describe("MemoryReplayGuard", () => {
  it("refuses a key exactly while it is within the window, within its bound", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 5 }),
        fc.array(
          fc.record({
            key: fc.constantFrom("k1", "k2", "k3", "k4", "k5", "k6"),
            advanceMs: fc.oneof(fc.constant(0), fc.nat({ max: 400_000 })),
            release: fc.boolean(),
          }),
          { maxLength: 100 },
        ),
        async (maxKeys, steps) => {
          let now = 0;
          const windowMs = 300_000;
          const guard = new MemoryReplayGuard({ now: () => now, windowMs, maxKeys });
          // The model: when each key was last claimed, and which keys were evicted since.
          const claimedAt = new Map<string, number>();
          for (const { key, advanceMs, release } of steps) {
            now += advanceMs;
            const at = claimedAt.get(key);
            const live = at !== undefined && now - at < windowMs;
            const claimed = await guard.claim(key);
            // A live key is refused unless the bound evicted it; a key not live is always accepted.
            if (!live && !claimed) throw new Error(`${key} refused outside the window`);
            if (claimed) claimedAt.set(key, now);
            if (guard.size > maxKeys) throw new Error("more keys than maxKeys");
            if (release && claimed) {
              await guard.release(key);
              claimedAt.delete(key);
            }
          }
        },
      ),
      params(951),
    );
  });

  it("never accepts a live key twice when nothing is evicted", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.tuple(fc.constantFrom("x", "y", "z"), fc.nat({ max: 200_000 })), {
          maxLength: 60,
        }),
        async (steps) => {
          let now = 0;
          const guard = new MemoryReplayGuard({ now: () => now, windowMs: 300_000, maxKeys: 10 });
          const claimedAt = new Map<string, number>();
          for (const [key, advanceMs] of steps) {
            now += advanceMs;
            const at = claimedAt.get(key);
            const live = at !== undefined && now - at < 300_000;
            const claimed = await guard.claim(key);
            if (claimed === live) throw new Error(`${key}: claimed ${claimed}, live ${live}`);
            if (claimed) claimedAt.set(key, now);
          }
        },
      ),
      params(952),
    );
  });
});
