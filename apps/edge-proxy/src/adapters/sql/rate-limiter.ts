// The per-caller rate limit in SQL: one counter per caller and window, shared by every instance on
// the same database (PostgreSQL), so that callers behind a load balancer meet one limit.
import type { RateDecision, RateLimiter, RateLimitPolicy } from "../../ports.ts";
import { int, type SqlDriver } from "./driver.ts";

/**
 * Fixed windows of the policy's length, aligned to the clock: each request adds one to its caller's
 * count of the current window, in one statement, and is allowed while the count is within the
 * limit. Every figure is known: requests left, and when the window (so the whole budget) comes
 * back. A caller may send up to twice the limit across a window's edge, as with any fixed window.
 */
export class SqlRateLimiter implements RateLimiter {
  readonly policy: RateLimitPolicy;
  readonly #db: SqlDriver;
  readonly #now: () => number;
  readonly #windowMs: number;

  constructor(db: SqlDriver, policy: RateLimitPolicy, options: { now?: () => number } = {}) {
    this.#db = db;
    this.policy = policy;
    this.#now = options.now ?? Date.now;
    this.#windowMs = policy.windowSec * 1000;
  }

  async take(key: string): Promise<Required<RateDecision>> {
    const now = this.#now();
    const start = now - (now % this.#windowMs);
    const rows = await this.#db.all<{ n: unknown }>(
      "INSERT INTO edge_proxy_rate AS r (caller, window_start, n) VALUES (?, ?, 1) ON CONFLICT (caller, window_start) DO UPDATE SET n = r.n + 1 RETURNING n",
      [key, start],
    );
    const count = int(rows[0]?.n);
    const { limit } = this.policy;
    const allowed = count <= limit;
    const resetSec = Math.max(1, Math.ceil((start + this.#windowMs - now) / 1000));
    return {
      allowed,
      remaining: Math.max(0, limit - count),
      retryAfterSec: allowed ? 0 : resetSec,
      exact: true,
      resetSec,
    };
  }

  /** Deletes the counts of windows that are over; answers how many. */
  purge(): Promise<number> {
    const now = this.#now();
    return this.#db.run("DELETE FROM edge_proxy_rate WHERE window_start <= ?", [
      now - (now % this.#windowMs) - this.#windowMs,
    ]);
  }
}
