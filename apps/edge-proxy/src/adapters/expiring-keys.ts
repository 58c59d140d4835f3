// The rules every engine's deny-list and replay guard share: key and owner limits, the input checks,
// and how a store's claim answer reads as each port's outcome.
import { type ClaimOutcome, MAX_JTI_LENGTH } from "../ports.ts";

/** The longest key: a FunGame token id (a replay key is 64 hex characters). */
export const MAX_KEY_LENGTH = 256;
/** The longest owner: an outbox attempt's claim id (a request's owner is a UUID). */
export const MAX_OWNER_LENGTH = 128;
/** The longest lease a claim may ask for: a request's deadline is at most 600 s. */
export const MAX_LEASE_MS = 3_600_000;
/** No entry lives this long (no FunGame token does): one beyond it is refused, an old one deleted. */
export const MAX_AHEAD_MS = 86_400_000;

/** What a claim found: it holds the key now, another claim holds it, or the key is recorded. */
export type ClaimAnswer = "claimed" | "held" | "recorded";

/** What a claim by the owner already holding the key does: renew the lease, or find it held. */
export type Reclaim = "renew" | "refuse";

function isText(value: unknown, max: number): value is string {
  return typeof value === "string" && value.length > 0 && value.length <= max;
}

export function checkKey(key: unknown): void {
  if (!isText(key, MAX_KEY_LENGTH)) {
    throw new TypeError(`key: needs 1 to ${MAX_KEY_LENGTH} characters`);
  }
}

export function checkOwner(owner: unknown): void {
  if (!isText(owner, MAX_OWNER_LENGTH)) {
    throw new TypeError(`owner: needs 1 to ${MAX_OWNER_LENGTH} characters`);
  }
}

/** A deny-list record: a jti and the token's exp in whole seconds, at most a day ahead. */
export function checkDenyEntry(jti: unknown, expiresAt: unknown, nowMs: number): void {
  if (
    !isText(jti, MAX_JTI_LENGTH) ||
    !Number.isSafeInteger(expiresAt) ||
    (expiresAt as number) > Math.floor(nowMs / 1000) + MAX_AHEAD_MS / 1000
  ) {
    throw new TypeError(
      `a deny-list entry needs a jti of 1 to ${MAX_JTI_LENGTH} characters and a whole-second exp within a day`,
    );
  }
}

/** A deny-list claim: a jti, the attempt's claim id, and a lease in ms (1 when not given). */
export function checkDenyClaim(jti: unknown, claimId: unknown, leaseMs?: unknown): void {
  const lease = leaseMs ?? 1;
  if (
    !isText(jti, MAX_JTI_LENGTH) ||
    !isText(claimId, MAX_OWNER_LENGTH) ||
    !Number.isSafeInteger(lease) ||
    (lease as number) < 1 ||
    (lease as number) > MAX_LEASE_MS
  ) {
    throw new TypeError(
      `a claim needs a jti, a claim id of 1 to ${MAX_OWNER_LENGTH} characters and a lease in ms`,
    );
  }
}

/** Replay keys are SHA-256 digests in hex. */
const REPLAY_KEY = /^[0-9a-f]{64}$/;
/** Replay owners are request-made ids (random UUIDs). */
const REPLAY_OWNER = /^[\w-]{1,64}$/;

/** A replay guard claim: a digest, a request's id, a hold in ms. */
export function checkReplayClaim(key: unknown, owner: unknown, holdMs: unknown): void {
  if (typeof key !== "string" || !REPLAY_KEY.test(key)) throw new TypeError("not a replay key");
  if (typeof owner !== "string" || !REPLAY_OWNER.test(owner)) {
    throw new TypeError("not a claim owner");
  }
  if (!Number.isInteger(holdMs) || (holdMs as number) < 1 || (holdMs as number) > MAX_LEASE_MS) {
    throw new TypeError("not a claim hold in ms");
  }
}

/**
 * The deny-list's outcome for a store's answer to a claim. Any other answer (an object of another
 * version, say) is an error, which the logout turns into a 503: it is never read as "no claim",
 * which would call FunGame without one.
 */
export function denyOutcomeOf(answer: unknown): ClaimOutcome {
  switch (answer) {
    case "claimed":
      return "claimed";
    case "held":
      return "pending";
    case "recorded":
      return "revoked";
    default:
      throw new TypeError("claimKey: the deny-list store answered no claim outcome");
  }
}

/**
 * Whether a store's answer to a claim means this request holds the key. Any other answer is an
 * error, which the callback route answers with a 503: never read as a refusal or as a claim.
 */
export function replayClaimedOf(answer: unknown): boolean {
  switch (answer) {
    case "claimed":
      return true;
    case "held":
    case "recorded":
      return false;
    default:
      throw new TypeError("claimKey: the replay guard store answered no claim outcome");
  }
}
