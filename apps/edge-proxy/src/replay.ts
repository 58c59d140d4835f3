// Replay protection for eBET login notifications: the same signed fields within eBET's 300 s
// timestamp window are refused (409) without calling eBET again.
import { toHex } from "@x/core-signing";
import type { ReplayGuard } from "./ports.ts";
import { ProblemError, toProblemInit } from "./problem.ts";

/** eBET accepts a signed request within 300 s of its timestamp (VENDORS.md): the replay window. */
export const EBET_CALLBACK_WINDOW_MS = 300_000;

/**
 * How long a claim outlasts the request's deadline: an attempt cut off at the deadline may still
 * be on its way to eBET, and the guard's clock is not the isolate's.
 */
export const CLAIM_MARGIN_MS = 30_000;

/**
 * The key of a login notification: SHA-256 of the fields eBET's signature covers that come from
 * the caller (username and access token; channelId and timestamp are the proxy's own), as
 * canonical JSON. The sub-channel is not signed and does not make a body new.
 */
export async function callbackKey(input: {
  username: string;
  accessToken: string;
}): Promise<string> {
  const canonical = JSON.stringify(["ebet-callback", input.username, input.accessToken]);
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(canonical));
  return toHex(new Uint8Array(digest));
}

/** Retry-After for `ms` still to wait: whole seconds, at least 1. */
function retryAfter(ms: number): Record<string, string> {
  return { "retry-after": String(Math.max(1, Math.ceil(ms / 1000))) };
}

/** The 409 for a key another claim holds; Retry-After says when it is free, if the guard knows. */
export function replayedCallback(heldMs = 0): ProblemError {
  return new ProblemError({
    kind: "conflict",
    code: "REPLAYED_CALLBACK",
    detail: "this notification was already sent within eBET's 300 s window",
    vendor: "ebet",
    retryable: false,
    ...(heldMs > 0 ? { headers: retryAfter(heldMs) } : {}),
  });
}

export function replayGuardUnavailable(): ProblemError {
  return new ProblemError({
    kind: "unavailable",
    code: "REPLAY_GUARD_UNAVAILABLE",
    detail: "the replay guard is unreachable; eBET was not called",
    vendor: "ebet",
    retryable: true,
  });
}

/**
 * eBET statuses in which eBET refused a call and did nothing: a notification refused so may be
 * sent again. A timeout, a 5xx, a broken answer, 500 (system error) or 4003 (busy) may hide a
 * notification eBET acted on.
 */
const EBET_REFUSALS: ReadonlySet<unknown> = new Set([
  202, 401, 410, 505, 4025, 4026, 4027, 4029, 4030, 4037, 4038, 4202, 5003, 5011,
]);

/** Whether an eBET error code says eBET refused the call without acting on it. */
export function ebetRefused(code: unknown): boolean {
  return EBET_REFUSALS.has(code);
}

/**
 * Runs `call` once per key: a key already claimed is a 409 problem; a guard that cannot be reached
 * is a 503 (fail closed). The claim is this call's own (a random owner) and lasts the window, or
 * until `deadlineAt` and a margin when that is later, so that no second call starts while this one
 * may be in flight. A failed call releases the key only when `refused` says the vendor certainly
 * did nothing; otherwise the key stays claimed and the problem says when to retry (Retry-After).
 */
export async function once<T>(
  guard: ReplayGuard,
  key: string,
  call: () => Promise<T>,
  refused: (error: unknown) => boolean,
  clock: { now: () => number; deadlineAt: number },
): Promise<T> {
  const owner = crypto.randomUUID();
  const holdMs = Math.ceil(
    Math.max(EBET_CALLBACK_WINDOW_MS, clock.deadlineAt - clock.now() + CLAIM_MARGIN_MS),
  );
  let claimed: boolean;
  try {
    claimed = await guard.claim(key, owner, holdMs);
  } catch {
    throw replayGuardUnavailable();
  }
  if (!claimed) throw replayedCallback(await guard.heldMs?.(key).catch(() => 0));
  // Counted from after the claim answered: a Retry-After late rather than early.
  const until = clock.now() + holdMs;
  try {
    return await call();
  } catch (error) {
    if (refused(error)) {
      await guard.release(key, owner).catch(() => {});
      throw error;
    }
    const init = toProblemInit(error);
    // An unexpected error goes on as it is, to be logged as one.
    if (init.kind === "internal") throw error;
    throw new ProblemError({
      ...init,
      headers: { ...init.headers, ...retryAfter(until - clock.now()) },
    });
  }
}
