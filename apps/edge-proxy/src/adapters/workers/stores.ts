// The Workers runtime's stores from its bindings: the one place where a binding becomes an adapter,
// used by the Worker's app and by the outbox's job objects alike.
import type { ConfigIssue, ProxyConfig } from "../../config.ts";
import type { DenyList, LogoutOutbox, RateLimiter, ReplayGuard } from "../../ports.ts";
import { DurableObjectDenyList } from "./deny-list.ts";
import { DurableObjectOutbox, openJobCapIssues } from "./outbox.ts";
import { bindingRateLimiter } from "./rate-limiter.ts";
import { DurableObjectReplayGuard } from "./replay-guard.ts";
import { placementOf } from "./shards.ts";

/**
 * wrangler.toml's bindings, as `wrangler types` declares them (worker-configuration.d.ts): the
 * deny-list and the replay guard are required (an isolate's own memory would let a replay through
 * on every other isolate); without LOGOUT_OUTBOX `Prefer: respond-async` is ignored, OPEN_JOBS is
 * required with it. RATE_LIMITER, a
 * `[[ratelimits]]` binding, is commented out in wrangler.toml (the rate limit is off by default),
 * so `wrangler types` does not declare it.
 */
export type WorkerBindings = Pick<Env, "DENY_LIST"> &
  Partial<
    Pick<
      Env,
      "LOGOUT_OUTBOX" | "OPEN_JOBS" | "REPLAY_GUARD" | "SESSION_REGISTRY" | "ASSETS" | "METRICS"
    >
  > & {
    RATE_LIMITER?: RateLimit;
  };

export type WorkerEnv = WorkerBindings & Record<string, unknown>;

export interface WorkerStores {
  denyList: DenyList;
  /** Undefined without REPLAY_GUARD, which `issues` then names. */
  replayGuard: ReplayGuard | undefined;
  /** Undefined without LOGOUT_OUTBOX: asynchronous logouts are answered synchronously. */
  outbox: LogoutOutbox | undefined;
  /** Undefined without RATE_LIMITER: no rate limit. */
  rateLimiter: RateLimiter | undefined;
  /** What the bindings cannot do with this policy, every one by name. */
  issues: ConfigIssue[];
}

/**
 * The stores of the Worker's bindings and variables. The shard variables (shards.ts) are read here,
 * not in config.ts: they place Durable Objects, which only Workers have.
 */
export function workerStores(
  env: WorkerEnv,
  config: Pick<ProxyConfig, "outbox" | "rateLimit">,
): WorkerStores {
  const policy = config.outbox;
  const denyList = placementOf(env, "DENY_LIST");
  const replay = placementOf(env, "REPLAY_GUARD");
  // The location and jurisdiction variables are read for both stores: each named once.
  const issues: ConfigIssue[] = [...denyList.issues];
  for (const issue of replay.issues) {
    if (!issues.some(({ name }) => name === issue.name)) issues.push(issue);
  }
  if (env.REPLAY_GUARD === undefined) {
    issues.push({
      name: "REPLAY_GUARD",
      message:
        "is required: the binding that refuses a replayed notification or token in every isolate",
    });
  }
  const outboxes = env.LOGOUT_OUTBOX;
  const counters = env.OPEN_JOBS;
  if (outboxes !== undefined) {
    if (counters === undefined) {
      issues.push({ name: "OPEN_JOBS", message: "is required with LOGOUT_OUTBOX" });
    }
    issues.push(...openJobCapIssues(policy));
  }
  const limits = bindingRateLimiter(env.RATE_LIMITER, config.rateLimit);
  issues.push(...limits.issues);
  return {
    denyList: new DurableObjectDenyList(env.DENY_LIST, denyList.placement),
    replayGuard:
      env.REPLAY_GUARD === undefined
        ? undefined
        : new DurableObjectReplayGuard(env.REPLAY_GUARD, replay.placement),
    outbox:
      outboxes === undefined || counters === undefined || issues.length > 0
        ? undefined
        : new DurableObjectOutbox(outboxes, counters, policy),
    rateLimiter: limits.limiter,
    issues,
  };
}
