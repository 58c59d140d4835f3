// The FunGame deny-list in Deno KV: recorded logouts and claims shared by every process on the same KV.
import { type ClaimingDenyList, type ClaimOutcome, MAX_JTI_LENGTH } from "../../ports.ts";
import {
  type ClaimAnswer,
  KvExpiringSet,
  MAX_AHEAD_MS,
  MAX_LEASE_MS,
  MAX_OWNER_LENGTH,
} from "./expiring-set.ts";
import { checkText, checkWhole, KEY_ROOT, type Kv, type KvKey } from "./kv.ts";

/** Where the deny-list's keys are, by default: one key per jti under it. */
export const DENY_LIST_PREFIX: KvKey = [KEY_ROOT, "deny"];

const OUTCOMES: Record<ClaimAnswer, ClaimOutcome> = {
  claimed: "claimed",
  held: "pending",
  recorded: "revoked",
};

/**
 * The deny-list of the Deno entry (and of any process with a Deno.Kv): a logout is recorded until the
 * token's exp (whole seconds); `has` reports recorded logouts only, never a claim; an attempt's
 * claim is re-entrant (the same claim id claims again and renews its lease). Two claims of one jti
 * at once, from any processes on the KV, never both succeed.
 */
export class KvDenyList implements ClaimingDenyList {
  readonly #set: KvExpiringSet;
  readonly #now: () => number;

  constructor(kv: Kv, options: { now?: () => number; prefix?: KvKey } = {}) {
    this.#now = options.now ?? (() => Date.now());
    this.#set = new KvExpiringSet(kv, options.prefix ?? DENY_LIST_PREFIX, {
      now: this.#now,
      store: "deny-list",
    });
  }

  /** Records the logout of `jti` until `expiresAt` (whole seconds), keeping the later expiry. */
  async add(jti: string, expiresAt: number): Promise<void> {
    checkText(jti, "jti", MAX_JTI_LENGTH);
    const latest = Math.floor((this.#now() + MAX_AHEAD_MS) / 1000);
    if (!Number.isSafeInteger(expiresAt) || expiresAt > latest) {
      throw new TypeError(
        "expiresAt: needs a whole number of seconds since the epoch, within a day",
      );
    }
    await this.#set.recordKey(jti, expiresAt * 1000);
  }

  /** Whether the logout of `jti` is recorded and not expired; false for anything not a jti. */
  async has(jti: string): Promise<boolean> {
    if (typeof jti !== "string" || jti.length === 0 || jti.length > MAX_JTI_LENGTH) return false;
    return this.#set.hasRecorded(jti);
  }

  async claim(jti: string, claimId: string, leaseMs: number): Promise<ClaimOutcome> {
    checkText(jti, "jti", MAX_JTI_LENGTH);
    checkText(claimId, "claimId", MAX_OWNER_LENGTH);
    checkWhole(leaseMs, "leaseMs", 1, MAX_LEASE_MS);
    return OUTCOMES[await this.#set.claimKey(jti, claimId, leaseMs, "renew")];
  }

  async release(jti: string, claimId: string): Promise<void> {
    checkText(jti, "jti", MAX_JTI_LENGTH);
    checkText(claimId, "claimId", MAX_OWNER_LENGTH);
    await this.#set.releaseKey(jti, claimId);
  }
}
