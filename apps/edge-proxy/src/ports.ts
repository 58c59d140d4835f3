// The stores the proxy keeps state in, as contracts: each runtime supplies adapters
// (src/adapters/memory for tests and demos, src/adapters/workers for Durable Objects).
import type { RevocationList } from "@x/fungame";
import type { FoundJob, JobRequest, JobView } from "./outbox.ts";
import type { FanOutInput } from "./vendors/descriptor.ts";

/** What a claim found: this attempt holds it, another attempt's claim runs, or the logout is done. */
export type ClaimOutcome = "claimed" | "pending" | "revoked";

export const MAX_JTI_LENGTH = 256;

/**
 * A deny-list that lets one attempt at a time log a token out. The attempt claims the token before
 * calling FunGame, under its claim id and for a lease; `add` records the logout FunGame accepted
 * (and drops the claim); `release` drops the claim of a logout that failed. `has` reports recorded
 * logouts only, never a claim.
 */
export interface ClaimingDenyList extends RevocationList {
  /**
   * Claims `jti` for `claimId` for `leaseMs`: "claimed" when free or already this attempt's,
   * "pending" while another claim's lease runs, "revoked" when the logout is recorded.
   */
  claim(jti: string, claimId: string, leaseMs: number): Promise<ClaimOutcome>;
  /** Drops the claim of `claimId`, if it still holds `jti`; never a recorded logout. */
  release(jti: string, claimId: string): Promise<void>;
}

/** The FunGame deny-list: any RevocationList, claiming or not. */
export type DenyList = RevocationList & Partial<Pick<ClaimingDenyList, "claim" | "release">>;

/** Seen-sets of request keys, each claim made by one owner (a request) for a time. */
export interface ReplayGuard {
  /** Records `key` for `owner` during `holdMs`; false when another claim still holds it. */
  claim(key: string, owner: string, holdMs: number): Promise<boolean>;
  /** Forgets `key` if `owner`'s claim still holds it, so that a failed call may be sent again. */
  release(key: string, owner: string): Promise<void>;
  /** How long `key` stays held, in ms (0 when free), if the guard can tell. */
  heldMs?(key: string): Promise<number>;
}

/**
 * At most `limit` requests per `windowSec` seconds per caller: a bucket of `limit` tokens in memory,
 * a window of `windowSec` counted by Cloudflare on Workers.
 */
export interface RateLimitPolicy {
  limit: number;
  windowSec: number;
}

/**
 * One decision: whether the request may go on, and the figures for the RateLimit headers where the
 * limiter knows them. Cloudflare's Rate Limiting binding answers only yes or no: it leaves
 * `remaining` and `resetSec` out, and its `retryAfterSec` is an upper bound (its period).
 */
export interface RateDecision {
  allowed: boolean;
  /** Whole seconds until one more request is allowed (0 when one is); see `exact`. */
  retryAfterSec: number;
  /** Whether `retryAfterSec` is the wait itself (true) or only an upper bound of it (false). */
  exact: boolean;
  /** Whole requests left now, when the limiter can tell. */
  remaining?: number;
  /** Whole seconds until the caller's whole budget is back, when the limiter can tell. */
  resetSec?: number;
}

/** Per-caller request budgets under one policy: each request takes from its caller's. */
export interface RateLimiter {
  readonly policy: RateLimitPolicy;
  /** Takes one request from `key`'s budget, or says how long to wait for one. */
  take(key: string): Promise<RateDecision>;
}

/** Where asynchronous logouts go: a Durable Object per job on Workers, memory elsewhere. */
export interface LogoutOutbox {
  /**
   * Stores the job and schedules its first attempts at once; answers its view. Throws a 429
   * problem when the caller has too many open jobs, a 503 when the outbox is full.
   */
  enqueue(body: FanOutInput, request: JobRequest): Promise<JobView>;
  /** The job and its owner; undefined when it is unknown, expired or deleted. */
  get(id: string): Promise<FoundJob | undefined>;
}

/** One vendor call as operators count them: which vendor, how it ended, how long it took. */
export interface VendorCallMetric {
  vendor: string;
  /** "request": a route's call; "job": an asynchronous logout's attempt. */
  source: "request" | "job";
  /** The route pattern that made the call. */
  route: string;
  /** "ok", or the failure's code as the log line has it (never text that quotes a secret). */
  outcome: string;
  /** The vendor's HTTP status; null when no answer came. */
  upstreamStatus: number | null;
  latencyMs: number;
  attempts: number;
}

/** Where vendor call figures go: Workers Analytics Engine on Workers; nowhere by default. */
export interface MetricsSink {
  /** Records one call; never throws into the request (a failing sink is ignored). */
  write(metric: VendorCallMetric): void;
}
