// The per-caller rate limit on Workers: Cloudflare's Rate Limiting binding, whose counters every
// isolate of a Cloudflare location shares, and the rule that pairs it with PROXY_RATE_LIMIT.
import type { ConfigIssue } from "../../config.ts";
import type { RateDecision, RateLimiter, RateLimitPolicy } from "../../ports.ts";

/** The periods, in seconds, a `[[ratelimits]]` binding may count in. */
export const BINDING_PERIODS: readonly number[] = [10, 60];

/**
 * A RateLimiter over the binding. The binding answers only whether a request is within the limit:
 * no requests left, no time to the window's end. So a decision carries no RateLimit figures, and a
 * refusal's Retry-After is the whole period, the longest the caller may have to wait.
 */
export class BindingRateLimiter implements RateLimiter {
  readonly policy: RateLimitPolicy;
  readonly #binding: RateLimit;

  /** `policy` states the binding's own `simple.limit` and `simple.period`: it cannot be read back. */
  constructor(binding: RateLimit, policy: RateLimitPolicy) {
    this.#binding = binding;
    this.policy = policy;
  }

  async take(key: string): Promise<RateDecision> {
    const outcome = await this.#binding.limit({ key });
    // Only an explicit success lets the request through.
    return outcome?.success === true
      ? { allowed: true, retryAfterSec: 0, exact: true }
      : { allowed: false, retryAfterSec: this.policy.windowSec, exact: false };
  }
}

/**
 * The rate limiter of the Worker from its RATE_LIMITER binding and PROXY_RATE_LIMIT: on when both
 * are there, off when neither is. One without the other is refused: PROXY_RATE_LIMIT alone would
 * count per isolate (no limit at all across Cloudflare's edge), and the binding alone leaves the
 * proxy unable to state its policy, since a Worker cannot read a binding's configuration.
 */
export function bindingRateLimiter(
  binding: unknown,
  policy: RateLimitPolicy | undefined,
): { limiter: RateLimiter | undefined; issues: ConfigIssue[] } {
  const issue = bindingIssue(binding, policy);
  if (issue !== undefined) return { limiter: undefined, issues: [issue] };
  return {
    limiter:
      binding === undefined || policy === undefined
        ? undefined
        : new BindingRateLimiter(binding as RateLimit, policy),
    issues: [],
  };
}

function bindingIssue(
  binding: unknown,
  policy: RateLimitPolicy | undefined,
): ConfigIssue | undefined {
  if (binding === undefined) {
    return policy === undefined
      ? undefined
      : {
          name: "PROXY_RATE_LIMIT",
          message:
            "needs the RATE_LIMITER binding ([[ratelimits]] in wrangler.toml) on Workers, or each isolate counts alone",
        };
  }
  // A binding may be a plain object or a callable stub.
  if (typeof (binding as { limit?: unknown } | null)?.limit !== "function") {
    return { name: "RATE_LIMITER", message: "must be a [[ratelimits]] binding" };
  }
  if (policy === undefined) {
    return {
      name: "PROXY_RATE_LIMIT",
      message: "is required with the RATE_LIMITER binding: its limit/period",
    };
  }
  return BINDING_PERIODS.includes(policy.windowSec)
    ? undefined
    : { name: "PROXY_RATE_LIMIT", message: "must be per 10 or 60 s on Workers" };
}
