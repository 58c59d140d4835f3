// The FunGame deny-list on Workers: a ClaimingDenyList over sharded objects, and their class.
import { ConfigError } from "../../config.ts";
import type { ClaimingDenyList, ClaimOutcome } from "../../ports.ts";
import { checkDenyClaim, checkDenyEntry, denyOutcomeOf } from "../expiring-keys.ts";
import { ExpiringSetObject } from "./expiring-set.ts";
import { type Placement, placementOf, ShardedSet } from "./shards.ts";

/**
 * The deny-list the app uses on Workers: each jti's calls go to its shard (shards.ts). A logout is
 * recorded until the token's exp (whole seconds); `has` reports recorded logouts only, never a
 * claim; an attempt's claim is re-entrant (the same claim id claims again and renews its lease).
 * Each answer of an object is checked: one this version does not know is an error.
 */
export class DurableObjectDenyList implements ClaimingDenyList {
  readonly #set: ShardedSet;

  /** By default the Worker's: 32 shards, and the legacy object read while entries move. */
  constructor(
    namespace: DurableObjectNamespace<ExpiringSetObject>,
    placement: Partial<Placement> = {},
  ) {
    this.#set = new ShardedSet(namespace, {
      ...placementOf({}, "DENY_LIST").placement,
      ...placement,
    });
  }

  async add(jti: string, expiresAt: number): Promise<void> {
    checkDenyEntry(jti, expiresAt, Date.now());
    await this.#set.record(jti, expiresAt * 1000);
  }

  has(jti: string): Promise<boolean> {
    return this.#set.has(jti);
  }

  async claim(jti: string, claimId: string, leaseMs: number): Promise<ClaimOutcome> {
    checkDenyClaim(jti, claimId, leaseMs);
    return denyOutcomeOf(await this.#set.claim(jti, claimId, leaseMs, "renew"));
  }

  async release(jti: string, claimId: string): Promise<void> {
    checkDenyClaim(jti, claimId);
    await this.#set.release(jti, claimId);
  }
}

/**
 * The deny-list's object (binding DENY_LIST). Beside the methods of ExpiringSetObject, it keeps the
 * methods and answers the previous version's Worker calls (add, has, claim answering "claimed",
 * "pending" or "revoked", release), over the same rows: while a deployment is under way, a Worker
 * of either version reads every answer right, and their claims exclude each other.
 */
export class DenyListObject extends ExpiringSetObject {
  protected override readonly store = "deny-list";

  /** Records the logout of `jti` until `expiresAt` (whole seconds), keeping the later expiry. */
  async add(jti: string, expiresAt: number): Promise<void> {
    checkDenyEntry(jti, expiresAt, Date.now());
    await this.recordKey(jti, expiresAt * 1000);
  }

  /** Whether the logout of `jti` is recorded and not expired (a claim is not). */
  has(jti: string): boolean {
    return this.hasRecorded(jti);
  }

  /** See ClaimingDenyList.claim. */
  async claim(jti: string, claimId: string, leaseMs: number): Promise<ClaimOutcome> {
    checkDenyClaim(jti, claimId, leaseMs);
    return denyOutcomeOf(await this.claimKey(jti, claimId, leaseMs, "renew"));
  }

  /** Drops the claim of `claimId` on `jti`, if it still holds it; a recorded logout stays. */
  release(jti: string, claimId: string): void {
    this.releaseKey(jti, claimId);
  }
}

/**
 * The FunGame deny-list of the Worker's bindings and variables (DENY_LIST_SHARDS and the others of
 * shards.ts): the app's and every job object's, so both find a jti on the same shard.
 */
export function denyListOf(env: Pick<Env, "DENY_LIST">): ClaimingDenyList {
  const { placement, issues } = placementOf(env, "DENY_LIST");
  if (issues.length > 0) throw new ConfigError(issues);
  return new DurableObjectDenyList(env.DENY_LIST, placement);
}
