// Upstream calls under policy: a timeout per attempt, a total deadline, retries with backoff, Retry-After.
import { type FetchLike, isVendorError, VendorError } from "@x/core-signing";
import type { RetryPolicy } from "./vendors/descriptor.ts";

/** Two retries after the first attempt, from 100 ms doubling up to 2 s, with full jitter. */
export const DEFAULT_RETRY: RetryPolicy = {
  maxRetries: 2,
  baseBackoffMs: 100,
  maxBackoffMs: 2_000,
};

/** What one vendor call of a request did, for the log line and Server-Timing. */
export interface UpstreamReport {
  vendor: string;
  attempts: number;
  retries: number;
  /** The HTTP status of the vendor's last answer; undefined when none came. */
  upstreamStatus: number | undefined;
  durationMs: number;
  /** The error code of the final failure, when it failed. */
  code?: string | number;
}

/** What each attempt gets: its own deadline, the request's abort signal, a fetch that observes answers. */
export interface AttemptOptions {
  timeoutMs: number;
  signal: AbortSignal;
  fetch: FetchLike;
}

/** The longest pause a vendor's Retry-After can impose. */
const MAX_RETRY_AFTER_MS = 3_600_000;

/**
 * Retry-After as vendors send it, remembered per vendor: the answer speaks for the vendor, not for
 * one request, so every retry to that vendor waits until then.
 */
export class RetryAfterGate {
  readonly #until = new Map<string, number>();
  readonly #now: () => number;

  constructor(now: () => number) {
    this.#now = now;
  }

  /** Records the Retry-After of a 429 or 503 answer (seconds, or an HTTP date). */
  observe(vendor: string, response: Response): void {
    if (response.status !== 429 && response.status !== 503) return;
    const value = response.headers.get("retry-after");
    if (value === null) return;
    const now = this.#now();
    let until: number | undefined;
    if (/^\s*\d+\s*$/.test(value)) until = now + Number(value) * 1000;
    else {
      const date = Date.parse(value);
      if (Number.isFinite(date)) until = date;
    }
    if (until === undefined) return;
    // A vendor's answer speaks for an outage, not for years: an hour at most.
    until = Math.min(until, now + MAX_RETRY_AFTER_MS);
    this.#until.set(vendor, Math.max(until, this.#until.get(vendor) ?? 0));
  }

  /** How long to wait before calling `vendor` again, in ms (0 when nothing was asked). */
  waitMs(vendor: string): number {
    const until = this.#until.get(vendor);
    if (until === undefined) return 0;
    const wait = until - this.#now();
    if (wait <= 0) this.#until.delete(vendor);
    return Math.max(0, wait);
  }

  /** Retry-After seconds to pass on to the caller, if the vendor asked for a pause. */
  retryAfterSeconds(vendor: string): number | undefined {
    const wait = this.waitMs(vendor);
    return wait > 0 ? Math.ceil(wait / 1000) : undefined;
  }
}

export interface UpstreamEnv {
  /** Fetch for this vendor (already observed by the gate). */
  fetch: FetchLike;
  gate: RetryAfterGate;
  now: () => number;
  random: () => number;
  /** Deadline of one attempt, in ms. */
  timeoutMs: number;
  /** When all upstream work of the request must be done, on the `now` clock. */
  deadlineAt: number;
  /** The length of the whole deadline, for messages. */
  deadlineMs: number;
  /** Aborts at the request's deadline. */
  signal: AbortSignal;
  report: (report: UpstreamReport) => void;
  /** Waits between attempts; defaults to a timer. */
  sleep?: (ms: number, signal: AbortSignal) => Promise<void>;
  /** The vendor's retry policy (its descriptor's); DEFAULT_RETRY when absent. */
  retry?: RetryPolicy;
  /** Retries after the first attempt instead of the policy's (0 when a caller retries on its own schedule). */
  maxRetries?: number;
  /** Which retryable failures may be retried, narrowing the policy's (a call that must run at most once). */
  mayRetry?: (error: VendorError) => boolean;
}

/** Waits `ms`, or rejects with the signal's reason when it aborts first. */
export function sleep(ms: number, signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise((resolve, reject) => {
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal.reason);
    };
    const timer = setTimeout(() => {
      signal.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal.addEventListener("abort", onAbort, { once: true });
  });
}

export function deadlineError(vendor: string, deadlineMs: number): VendorError {
  return new VendorError({
    vendor,
    code: "DEADLINE_EXCEEDED",
    kind: "unavailable",
    retryable: true,
    message: `${vendor} did not complete within the proxy's ${deadlineMs} ms deadline`,
  });
}

/**
 * Runs `attempt` until it succeeds, fails for good, or the deadline leaves no room: only errors
 * marked retryable are retried (network, timeouts, 5xx, rate limits, the vendors' busy codes), as
 * often as the vendor's retry policy says, after exponential backoff with full jitter or the
 * vendor's Retry-After, whichever is longer.
 */
export async function callUpstream<T>(
  vendor: string,
  attempt: (options: AttemptOptions) => Promise<T>,
  env: UpstreamEnv,
): Promise<T> {
  const policy = env.retry ?? DEFAULT_RETRY;
  const started = env.now();
  let attempts = 0;
  let upstreamStatus: number | undefined;
  const observed: FetchLike = async (request) => {
    const response = await env.fetch(request);
    // An answer that comes after its request was given up is not one the proxy read.
    if (!request.signal.aborted) upstreamStatus = response.status;
    return response;
  };
  const finish = (code?: string | number) =>
    env.report({
      vendor,
      attempts,
      retries: Math.max(0, attempts - 1),
      upstreamStatus,
      durationMs: env.now() - started,
      ...(code === undefined ? {} : { code }),
    });
  for (;;) {
    const remaining = env.deadlineAt - env.now();
    if (env.signal.aborted || remaining <= 0) {
      const error = deadlineError(vendor, env.deadlineMs);
      finish(error.code);
      throw error;
    }
    attempts++;
    try {
      const value = await attempt({
        timeoutMs: Math.max(1, Math.min(env.timeoutMs, remaining)),
        signal: env.signal,
        fetch: observed,
      });
      finish();
      return value;
    } catch (thrown) {
      // The request's deadline aborts the call with the signal's reason: say so for this vendor.
      const error =
        env.signal.aborted && (thrown === env.signal.reason || !isVendorError(thrown))
          ? deadlineError(vendor, env.deadlineMs)
          : thrown;
      if (isVendorError(error) && error.upstreamStatus !== undefined) {
        upstreamStatus = error.upstreamStatus;
      }
      const retry =
        isVendorError(error) &&
        error.retryable &&
        (policy.mayRetry?.(error) ?? true) &&
        (env.mayRetry?.(error) ?? true) &&
        !env.signal.aborted &&
        error.code !== "DEADLINE_EXCEEDED" &&
        attempts <= (env.maxRetries ?? policy.maxRetries);
      if (!retry) {
        finish(isVendorError(error) ? error.code : "INTERNAL_ERROR");
        throw error;
      }
      const cap = Math.min(policy.maxBackoffMs, policy.baseBackoffMs * 2 ** (attempts - 1));
      const delay = Math.max(env.random() * cap, env.gate.waitMs(vendor));
      if (env.now() + delay >= env.deadlineAt) {
        finish(error.code);
        throw error;
      }
      try {
        await (env.sleep ?? sleep)(delay, env.signal);
      } catch {
        finish(error.code);
        throw error;
      }
    }
  }
}
