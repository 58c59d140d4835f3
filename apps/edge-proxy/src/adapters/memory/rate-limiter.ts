// The per-caller rate limit in memory: token buckets for a bounded number of callers.
// For tests, demos and the single-process entries (Bun, Deno, Node): it forgets everything when the
// process stops. The Worker counts with Cloudflare's Rate Limiting binding instead
// (src/adapters/workers/rate-limiter.ts), which every isolate shares.
import type { RateDecision, RateLimiter, RateLimitPolicy } from "../../ports.ts";

/** Callers remembered at once; beyond it the least recently seen caller is forgotten. */
export const DEFAULT_MAX_CALLERS = 10_000;

interface Bucket {
  tokens: number;
  at: number;
}

/**
 * Token buckets per caller key. A bucket holds `limit` tokens and refills at `limit / windowSec`
 * per second, so a caller may burst `limit` requests and then goes on at the average rate. The map
 * is in least-recently-used order and never holds more than `maxKeys` buckets.
 */
export class MemoryRateLimiter implements RateLimiter {
  readonly policy: RateLimitPolicy;
  readonly #now: () => number;
  readonly #maxKeys: number;
  readonly #windowMs: number;
  readonly #buckets = new Map<string, Bucket>();

  constructor(policy: RateLimitPolicy, options: { now: () => number; maxKeys?: number }) {
    this.policy = policy;
    this.#now = options.now;
    this.#maxKeys = Math.max(1, options.maxKeys ?? DEFAULT_MAX_CALLERS);
    this.#windowMs = policy.windowSec * 1000;
  }

  /** Buckets held now (for tests and operations). */
  get size(): number {
    return this.#buckets.size;
  }

  /** Takes one token from `key`'s bucket, or says how long to wait for one: every figure is known. */
  async take(key: string): Promise<Required<RateDecision>> {
    const now = this.#now();
    const { limit } = this.policy;
    const held = this.#buckets.get(key);
    // Refill in whole milliseconds times the limit over the window: no drift from a per-ms rate.
    const tokens =
      held === undefined
        ? limit
        : Math.min(limit, held.tokens + (Math.max(0, now - held.at) * limit) / this.#windowMs);
    const allowed = tokens >= 1;
    const left = allowed ? tokens - 1 : tokens;
    // A refusal leaves the bucket as it was (the refill goes on from its last change).
    const bucket = allowed || held === undefined ? { tokens: left, at: now } : held;
    this.#buckets.delete(key);
    this.#buckets.set(key, bucket);
    while (this.#buckets.size > this.#maxKeys) {
      const oldest = this.#buckets.keys().next().value as string;
      this.#buckets.delete(oldest);
    }
    const secondsFor = (missing: number) => Math.ceil((missing * this.#windowMs) / limit / 1000);
    return {
      allowed,
      remaining: Math.floor(left),
      retryAfterSec: allowed ? 0 : Math.max(1, secondsFor(1 - left)),
      exact: true,
      resetSec: secondsFor(limit - left),
    };
  }
}
