// The seen-set of eBET login notifications on Workers: a ReplayGuard over 16 ExpiringSetObjects.
import type { ReplayGuard } from "../../ports.ts";
import type { ClaimAnswer, ExpiringSetObject } from "./expiring-set.ts";

/** Keys are SHA-256 digests in hex. */
const KEY = /^[0-9a-f]{64}$/;

/** Owners are request-made ids (random UUIDs). */
const OWNER = /^[\w-]{1,64}$/;

/** The longest claim taken: a request's deadline is at most 600 s. */
const MAX_HOLD_MS = 3_600_000;

/** Objects the keys are spread over (by their first hex digit), so one object is never the limit. */
export const REPLAY_SHARDS = 16;

/** The name of the object that holds `key`. */
export function replayShard(key: string): string {
  return `ebet-callback-${Number.parseInt(key.slice(0, 1), 16) % REPLAY_SHARDS}`;
}

/**
 * The ReplayGuard the app uses on Workers, shared by every isolate: each key held by one request's
 * claim until it expires. A held key is refused to every claim, its own owner's included.
 */
export class DurableObjectReplayGuard implements ReplayGuard {
  readonly #namespace: DurableObjectNamespace<ExpiringSetObject>;

  constructor(namespace: DurableObjectNamespace<ExpiringSetObject>) {
    this.#namespace = namespace;
  }

  #stub(key: string): DurableObjectStub<ExpiringSetObject> {
    return this.#namespace.get(this.#namespace.idFromName(replayShard(key)));
  }

  async claim(key: string, owner: string, holdMs: number): Promise<boolean> {
    if (typeof key !== "string" || !KEY.test(key)) throw new TypeError("not a replay key");
    if (typeof owner !== "string" || !OWNER.test(owner)) throw new TypeError("not a claim owner");
    if (!Number.isInteger(holdMs) || holdMs < 1 || holdMs > MAX_HOLD_MS) {
      throw new TypeError("not a claim hold in ms");
    }
    const answer = (await this.#stub(key).claim(key, owner, holdMs, "refuse")) as ClaimAnswer;
    return answer === "claimed";
  }

  async release(key: string, owner: string): Promise<void> {
    await this.#stub(key).release(key, owner);
  }

  async heldMs(key: string): Promise<number> {
    return await this.#stub(key).heldMs(key);
  }
}
