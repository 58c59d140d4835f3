// Per-caller rate limit: a token bucket per caller (API key, user token subject or client address),
// in memory with a bounded number of callers, answering 429 with Retry-After.
import type { MiddlewareHandler } from "hono";
import type { CallerAuth } from "./auth.ts";
import type { RateLimitPolicy } from "./config.ts";
import type { ProxyContext, ProxyEnv } from "./context.ts";
import { ProblemError } from "./problem.ts";

/** Callers remembered at once; beyond it the least recently seen caller is forgotten. */
export const DEFAULT_MAX_CALLERS = 10_000;

/** One decision: whether the request may go on, and the figures for the RateLimit headers. */
export interface RateDecision {
  allowed: boolean;
  /** Whole requests left now. */
  remaining: number;
  /** Whole seconds until one more request is allowed (0 when one is). */
  retryAfterSec: number;
  /** Whole seconds until the bucket is full again. */
  resetSec: number;
}

interface Bucket {
  tokens: number;
  at: number;
}

/**
 * Token buckets per caller key. A bucket holds `limit` tokens and refills at `limit / windowSec`
 * per second, so a caller may burst `limit` requests and then goes on at the average rate. The map
 * is in least-recently-used order and never holds more than `maxKeys` buckets.
 */
export class RateLimiter {
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

  /** Takes one token from `key`'s bucket, or says how long to wait for one. */
  take(key: string): RateDecision {
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
      resetSec: secondsFor(limit - left),
    };
  }
}

/**
 * The part of an address that names one caller: an IPv4 address as is, an IPv6 address by its
 * /64 prefix (one subscriber usually holds a whole /64). Anything else is kept, at most 64 chars.
 */
export function addressKey(address: string): string {
  const text = address
    .trim()
    .toLowerCase()
    .replace(/^\[|\]$/g, "");
  const mapped = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/.exec(text);
  if (mapped) return mapped[1] as string;
  if (!text.includes(":") || !/^[0-9a-f:.]+$/.test(text)) return text.slice(0, 64);
  const [head = "", tail] = text.split("::");
  const front = head === "" ? [] : head.split(":");
  const back = tail === undefined || tail === "" ? [] : tail.split(":");
  const groups =
    tail === undefined
      ? front
      : [...front, ...Array(Math.max(0, 8 - front.length - back.length)).fill("0"), ...back];
  // Runtimes and CF-Connecting-IP give addresses in canonical form: groups are not re-normalised.
  return `${groups.slice(0, 4).join(":")}::/64`;
}

export interface RateLimitDeps {
  limiter: RateLimiter;
  auth: CallerAuth;
  /** The caller's network address as this runtime knows it; undefined when it does not. */
  clientAddress: (c: ProxyContext) => string | undefined;
}

/** Paths never limited: health checks come from load balancers and monitors. */
const EXEMPT = new Set(["/healthz"]);

/**
 * The middleware: the caller is the proxy API key or user token subject the Authorization header
 * proves, else the client address. Every answer of a limited path carries RateLimit-Policy and
 * RateLimit; a caller over the limit gets a 429 problem with Retry-After.
 */
export function rateLimit(deps: RateLimitDeps): MiddlewareHandler<ProxyEnv> {
  const { limiter } = deps;
  const policy = `"caller";q=${limiter.policy.limit};w=${limiter.policy.windowSec}`;
  return async (c, next) => {
    if (EXEMPT.has(c.req.path)) return next();
    const caller = await deps.auth.identify(c.req.header("authorization"));
    const address = deps.clientAddress(c);
    const key = caller ?? `address:${address === undefined ? "unknown" : addressKey(address)}`;
    const decision = limiter.take(key);
    const headers = {
      "ratelimit-policy": policy,
      ratelimit: `"caller";r=${decision.remaining};t=${decision.resetSec}`,
    };
    if (!decision.allowed) {
      throw new ProblemError({
        kind: "rate_limited",
        code: "RATE_LIMITED",
        detail: `over ${limiter.policy.limit} per ${limiter.policy.windowSec} s; retry in ${decision.retryAfterSec} s`,
        retryable: true,
        headers: { ...headers, "retry-after": String(decision.retryAfterSec) },
      });
    }
    await next();
    try {
      for (const [name, value] of Object.entries(headers)) {
        if (!c.res.headers.has(name)) c.res.headers.set(name, value);
      }
    } catch {
      // an answer with immutable headers goes out without them
    }
  };
}
