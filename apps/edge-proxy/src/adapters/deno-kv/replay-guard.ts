// The seen-set of eBET login notifications in Deno KV: each key held by one request's claim, across processes.
import type { ReplayGuard } from "../../ports.ts";
import { KvExpiringSet, MAX_LEASE_MS } from "./expiring-set.ts";
import { checkWhole, KEY_ROOT, type Kv, type KvKey } from "./kv.ts";

/** Where the replay guard's keys are, by default: one key per notification digest under it. */
export const REPLAY_GUARD_PREFIX: KvKey = [KEY_ROOT, "replay"];

/** Keys are SHA-256 digests in hex. */
const KEY = /^[0-9a-f]{64}$/;

/** Owners are request-made ids (random UUIDs). */
const OWNER = /^[\w-]{1,64}$/;

function checkKey(key: unknown): asserts key is string {
  if (typeof key !== "string" || !KEY.test(key)) {
    throw new TypeError("key: needs 64 lowercase hexadecimal characters (a SHA-256 digest)");
  }
}

function checkOwner(owner: unknown): asserts owner is string {
  if (typeof owner !== "string" || !OWNER.test(owner)) {
    throw new TypeError("owner: needs 1 to 64 letters, digits, _ or -");
  }
}

/**
 * The ReplayGuard of processes sharing a Deno KV: each key held by one request's claim until it
 * expires. A held key is refused to every claim, its own owner's included; of two claims of a free
 * key at once, from any processes, exactly one succeeds.
 */
export class KvReplayGuard implements ReplayGuard {
  readonly #set: KvExpiringSet;

  constructor(kv: Kv, options: { now?: () => number; prefix?: KvKey } = {}) {
    this.#set = new KvExpiringSet(kv, options.prefix ?? REPLAY_GUARD_PREFIX, {
      ...(options.now === undefined ? {} : { now: options.now }),
      store: "replay guard",
    });
  }

  async claim(key: string, owner: string, holdMs: number): Promise<boolean> {
    checkKey(key);
    checkOwner(owner);
    checkWhole(holdMs, "holdMs", 1, MAX_LEASE_MS);
    return (await this.#set.claimKey(key, owner, holdMs, "refuse")) === "claimed";
  }

  async release(key: string, owner: string): Promise<void> {
    checkKey(key);
    checkOwner(owner);
    await this.#set.releaseKey(key, owner);
  }

  async heldMs(key: string): Promise<number> {
    checkKey(key);
    return this.#set.keyHeldMs(key);
  }
}
