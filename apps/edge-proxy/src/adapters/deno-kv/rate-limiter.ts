// The per-caller rate limit in Deno KV: fixed-window counters that every process on the same KV shares.
import type { RateDecision, RateLimiter, RateLimitPolicy } from "../../ports.ts";
import {
  checkText,
  checkWhole,
  expireIn,
  KEY_ROOT,
  type Kv,
  type KvKey,
  LOST,
  raced,
} from "./kv.ts";

/** Where the counters are, by default: one key per caller and window under it. */
export const RATE_LIMIT_PREFIX: KvKey = [KEY_ROOT, "rate"];

/** The longest caller key: an address key or a credential's digest is far shorter. */
export const MAX_CALLER_KEY_LENGTH = 256;

/** The longest window: a day. */
const MAX_WINDOW_SEC = 86_400;

/**
 * At most `limit` requests per caller in each window of `windowSec` seconds, the windows aligned on
 * the epoch. A caller's count in a window is one KV key, raised by an atomic check-and-set, so
 * processes sharing the KV never let more than `limit` through together. A refusal writes nothing.
 * Every figure is known: the requests left in the window, and the window's end, when the whole
 * budget is back (and the wait of a refused caller).
 */
export class KvRateLimiter implements RateLimiter {
  readonly policy: RateLimitPolicy;
  readonly #kv: Kv;
  readonly #now: () => number;
  readonly #prefix: KvKey;
  readonly #windowMs: number;

  constructor(
    kv: Kv,
    policy: RateLimitPolicy,
    options: { now?: () => number; prefix?: KvKey } = {},
  ) {
    checkWhole(policy?.limit, "policy.limit", 1, Number.MAX_SAFE_INTEGER);
    checkWhole(policy.windowSec, "policy.windowSec", 1, MAX_WINDOW_SEC);
    this.policy = { limit: policy.limit, windowSec: policy.windowSec };
    this.#kv = kv;
    this.#now = options.now ?? (() => Date.now());
    this.#prefix = options.prefix ?? RATE_LIMIT_PREFIX;
    this.#windowMs = policy.windowSec * 1000;
  }

  /** Takes one request from `key`'s count in the current window, or says how long until the next. */
  async take(key: string): Promise<Required<RateDecision>> {
    checkText(key, "key", MAX_CALLER_KEY_LENGTH);
    const { limit } = this.policy;
    return raced("rate limiter", async () => {
      const now = this.#now();
      const window = Math.floor(now / this.#windowMs);
      const end = (window + 1) * this.#windowMs;
      const resetSec = Math.ceil((end - now) / 1000);
      const at = [...this.#prefix, key, window];
      const read = await this.#kv.get(at);
      const used = countOf(read.value);
      if (used >= limit) {
        return { allowed: false, remaining: 0, retryAfterSec: resetSec, exact: true, resetSec };
      }
      const commit = await this.#kv
        .atomic()
        .check(read)
        .set(at, used + 1, { expireIn: expireIn(end, now) })
        .commit();
      if (!commit.ok) return LOST;
      return {
        allowed: true,
        remaining: limit - used - 1,
        retryAfterSec: 0,
        exact: true,
        resetSec,
      };
    });
  }
}

/** A counter as stored: a whole number of requests; anything else is an error, never a free window. */
function countOf(value: unknown): number {
  if (value === null) return 0;
  if (!Number.isSafeInteger(value) || (value as number) < 0) {
    throw new TypeError("the KV entry of this caller's window is not a count");
  }
  return value as number;
}
