// Replay protection for eBET login notifications: the same signed fields within eBET's 300 s
// timestamp window are refused (409) without calling eBET again.
import { toHex } from "@x/core-signing";
import { ProblemError } from "./problem.ts";

/** eBET accepts a signed request within 300 s of its timestamp (VENDORS.md): the replay window. */
export const EBET_CALLBACK_WINDOW_MS = 300_000;

/** Keys remembered at once by the in-memory guard; beyond it the oldest key is forgotten. */
export const DEFAULT_MAX_REPLAY_KEYS = 100_000;

/** Seen-sets of request keys, each kept for the window. */
export interface ReplayGuard {
  /** Records `key` for the window; false when it was already recorded within the window. */
  claim(key: string): Promise<boolean>;
  /** Forgets `key`, so that a call that failed may be sent again. */
  release(key: string): Promise<void>;
}

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

/**
 * The guard of one process (Bun, Deno, Node; a Worker without the Durable Object): a map of key
 * to expiry in insertion order, which is expiry order because the window is fixed. Expired keys
 * are dropped on every claim; past `maxKeys` the oldest live key is dropped too.
 */
export class MemoryReplayGuard implements ReplayGuard {
  readonly #now: () => number;
  readonly #windowMs: number;
  readonly #maxKeys: number;
  readonly #seen = new Map<string, number>();

  constructor(options: { now?: () => number; windowMs?: number; maxKeys?: number } = {}) {
    this.#now = options.now ?? (() => Date.now());
    this.#windowMs = options.windowMs ?? EBET_CALLBACK_WINDOW_MS;
    this.#maxKeys = Math.max(1, options.maxKeys ?? DEFAULT_MAX_REPLAY_KEYS);
  }

  /** Keys held now, expired ones included until the next claim. */
  get size(): number {
    return this.#seen.size;
  }

  async claim(key: string): Promise<boolean> {
    const now = this.#now();
    for (const [held, expiresAt] of this.#seen) {
      if (expiresAt > now) break;
      this.#seen.delete(held);
    }
    const expiresAt = this.#seen.get(key);
    if (expiresAt !== undefined && expiresAt > now) return false;
    this.#seen.delete(key);
    this.#seen.set(key, now + this.#windowMs);
    while (this.#seen.size > this.#maxKeys) {
      this.#seen.delete(this.#seen.keys().next().value as string);
    }
    return true;
  }

  async release(key: string): Promise<void> {
    this.#seen.delete(key);
  }
}

export function replayedCallback(): ProblemError {
  return new ProblemError({
    kind: "conflict",
    code: "REPLAYED_CALLBACK",
    detail: "this notification was already sent within eBET's 300 s window",
    vendor: "ebet",
    retryable: false,
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
 * Runs `call` once per key within the window: a key already claimed is a 409 problem; a guard that
 * cannot be reached is a 503 (fail closed). A failed call releases the key only when `refused`
 * says the vendor certainly did nothing; otherwise the same call stays refused for the window.
 */
export async function once<T>(
  guard: ReplayGuard,
  key: string,
  call: () => Promise<T>,
  refused: (error: unknown) => boolean,
): Promise<T> {
  let claimed: boolean;
  try {
    claimed = await guard.claim(key);
  } catch {
    throw replayGuardUnavailable();
  }
  if (!claimed) throw replayedCallback();
  try {
    return await call();
  } catch (error) {
    if (refused(error)) await guard.release(key).catch(() => {});
    throw error;
  }
}
