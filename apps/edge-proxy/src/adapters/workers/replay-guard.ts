// The seen-set of eBET login notifications on Workers: a ReplayGuard over sharded objects, and their class.
import type { ReplayGuard } from "../../ports.ts";
import { checkReplayClaim, replayClaimedOf } from "../expiring-keys.ts";
import { ExpiringSetObject } from "./expiring-set.ts";
import { type Placement, placementOf, ShardedSet } from "./shards.ts";

/**
 * The ReplayGuard the app uses on Workers, shared by every isolate: each key held by one request's
 * claim until it expires, on the key's shard (shards.ts). A held key is refused to every claim, its
 * own owner's included. Each answer of an object is checked: one this version does not know is an
 * error.
 */
export class DurableObjectReplayGuard implements ReplayGuard {
  readonly #set: ShardedSet;

  /** By default the Worker's: 32 shards, and the legacy 16 objects read while entries move. */
  constructor(
    namespace: DurableObjectNamespace<ExpiringSetObject>,
    placement: Partial<Placement> = {},
  ) {
    this.#set = new ShardedSet(namespace, {
      ...placementOf({}, "REPLAY_GUARD").placement,
      ...placement,
    });
  }

  async claim(key: string, owner: string, holdMs: number): Promise<boolean> {
    checkReplayClaim(key, owner, holdMs);
    return replayClaimedOf(await this.#set.claim(key, owner, holdMs, "refuse"));
  }

  release(key: string, owner: string): Promise<void> {
    return this.#set.release(key, owner);
  }

  heldMs(key: string): Promise<number> {
    return this.#set.heldMs(key);
  }
}

/**
 * The replay guard's objects (binding REPLAY_GUARD). Beside the methods of ExpiringSetObject, they
 * keep the methods and answers the previous version's Worker calls (claim answering a boolean,
 * release, heldMs), over the same rows: while a deployment is under way, a Worker of either version
 * reads every answer right, and their claims exclude each other.
 */
export class ReplayGuardObject extends ExpiringSetObject {
  protected override readonly store = "replay-guard";

  /** Claims `key` for `owner` during `holdMs`; false when it is held, by this owner too. */
  async claim(key: string, owner: string, holdMs: number): Promise<boolean> {
    checkReplayClaim(key, owner, holdMs);
    return replayClaimedOf(await this.claimKey(key, owner, holdMs, "refuse"));
  }

  /** Deletes `key` only when `owner`'s claim holds it: a lapsed claim never frees a later one. */
  release(key: string, owner: string): void {
    this.releaseKey(key, owner);
  }

  /** How long `key` stays held, in ms; 0 when it is free. */
  heldMs(key: string): number {
    return this.keyHeldMs(key);
  }
}
