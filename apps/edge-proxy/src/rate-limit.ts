// Per-caller rate limit: the middleware that asks a RateLimiter for each caller (API key, user token
// subject or client address) and answers 429 with Retry-After.
import type { MiddlewareHandler } from "hono";
import type { CallerAuth } from "./auth.ts";
import type { ProxyContext, ProxyEnv } from "./context.ts";
import type { RateLimiter } from "./ports.ts";
import { errorName, ProblemError } from "./problem.ts";

export type { RateDecision, RateLimiter, RateLimitPolicy } from "./ports.ts";

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
  /** Where a limiter that fails is reported. */
  log: (line: Record<string, unknown>) => void;
}

/** Paths never limited: health checks come from load balancers and monitors. */
const EXEMPT = new Set(["/healthz"]);

/**
 * The middleware: the caller is the proxy API key or user token subject the Authorization header
 * proves, else the client address. Every answer of a limited path carries RateLimit-Policy, and
 * RateLimit when the limiter can tell what is left (Cloudflare's binding cannot); a caller over the
 * limit gets a 429 problem with Retry-After (an upper bound where the limiter cannot tell better).
 */
export function rateLimit(deps: RateLimitDeps): MiddlewareHandler<ProxyEnv> {
  const { limiter } = deps;
  const { limit, windowSec } = limiter.policy;
  const policy = `"caller";q=${limit};w=${windowSec}`;
  return async (c, next) => {
    if (EXEMPT.has(c.req.path)) return next();
    const caller = await deps.auth.identify(c.req.header("authorization"));
    const address = deps.clientAddress(c);
    const key = caller ?? `address:${address === undefined ? "unknown" : addressKey(address)}`;
    let decision: Awaited<ReturnType<RateLimiter["take"]>>;
    try {
      decision = await limiter.take(key);
    } catch (error) {
      // The limit guards the proxy, it is not the logout: a limiter that cannot answer lets the
      // request through (the limit is approximate anyway), and the log says so.
      deps.log({ event: "rate_limit_unavailable", error: errorName(error) });
      return next();
    }
    const headers: Record<string, string> = { "ratelimit-policy": policy };
    if (decision.remaining !== undefined && decision.resetSec !== undefined) {
      headers.ratelimit = `"caller";r=${decision.remaining};t=${decision.resetSec}`;
    }
    if (!decision.allowed) {
      const wait = `${decision.exact ? "" : "at most "}${decision.retryAfterSec} s`;
      throw new ProblemError({
        kind: "rate_limited",
        code: "RATE_LIMITED",
        detail: `over ${limit} per ${windowSec} s; retry in ${wait}`,
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
