// Keys recorded until an expiry or claimed for a lease, in Deno KV: the store under the deny-list and the replay guard.
import {
  type ClaimAnswer,
  MAX_AHEAD_MS,
  MAX_KEY_LENGTH,
  MAX_LEASE_MS,
  MAX_OWNER_LENGTH,
  type Reclaim,
} from "../expiring-keys.ts";
import {
  checkText,
  checkWhole,
  expireIn,
  type Kv,
  type KvEntryMaybe,
  type KvKey,
  LOST,
  raced,
} from "./kv.ts";

export {
  type ClaimAnswer,
  MAX_AHEAD_MS,
  MAX_KEY_LENGTH,
  MAX_LEASE_MS,
  MAX_OWNER_LENGTH,
  type Reclaim,
} from "../expiring-keys.ts";

/** One key's value: its expiry in ms since the epoch and, while claimed, the claim's owner. */
interface Entry {
  exp: number;
  owner: string | null;
}

/**
 * The entry a read found, if it is one and has not expired at `now`. A value of another shape is an
 * error (the key belongs to something else): it is never read as a free key.
 */
function liveEntry(read: KvEntryMaybe, now: number): Entry | undefined {
  if (read.value === null) return undefined;
  const value = read.value as Partial<Entry>;
  if (
    typeof value !== "object" ||
    typeof value.exp !== "number" ||
    (value.owner !== null && typeof value.owner !== "string")
  ) {
    throw new TypeError("the KV entry of this key is not an entry of an expiring set");
  }
  return value.exp > now ? { exp: value.exp, owner: value.owner } : undefined;
}

/**
 * A set of keys under `prefix` in a Deno KV, shared by every process that opens the same KV. Each
 * write is an atomic check of the key's versionstamp and a set: of two claims of one key at once,
 * one commits and the other reads again and finds the key held. Every entry keeps its expiry, which
 * is compared with the clock on every read; KV's own expiry (set a grace later) only deletes what
 * no read counts any more.
 */
export class KvExpiringSet {
  readonly #kv: Kv;
  readonly #prefix: KvKey;
  readonly #now: () => number;
  readonly #store: string;

  constructor(kv: Kv, prefix: KvKey, options: { now?: () => number; store: string }) {
    this.#kv = kv;
    this.#prefix = prefix;
    this.#now = options.now ?? (() => Date.now());
    this.#store = options.store;
  }

  #key(key: string): KvKey {
    return [...this.#prefix, key];
  }

  /**
   * Claims `key` for `owner` during `leaseMs`: "claimed" when it was free (or this owner's, with
   * `reclaim` "renew": the lease starts again), "held" while another claim runs, "recorded" when
   * the key is recorded.
   */
  async claimKey(
    key: string,
    owner: string,
    leaseMs: number,
    reclaim: Reclaim = "renew",
  ): Promise<ClaimAnswer> {
    checkText(key, "key", MAX_KEY_LENGTH);
    checkText(owner, "owner", MAX_OWNER_LENGTH);
    checkWhole(leaseMs, "leaseMs", 1, MAX_LEASE_MS);
    if (reclaim !== "renew" && reclaim !== "refuse") {
      throw new TypeError('reclaim: needs "renew" or "refuse"');
    }
    const at = this.#key(key);
    return raced(this.#store, async () => {
      const read = await this.#kv.get(at);
      const now = this.#now();
      const held = liveEntry(read, now);
      if (held?.owner === null) return "recorded";
      if (held !== undefined && (held.owner !== owner || reclaim === "refuse")) return "held";
      const entry: Entry = { exp: now + leaseMs, owner };
      const commit = await this.#kv
        .atomic()
        .check(read)
        .set(at, entry, { expireIn: expireIn(entry.exp, now) })
        .commit();
      return commit.ok ? "claimed" : LOST;
    });
  }

  /** Records `key` until `untilMs`, keeping the later expiry, and drops its claim. */
  async recordKey(key: string, untilMs: number): Promise<void> {
    checkText(key, "key", MAX_KEY_LENGTH);
    if (!Number.isSafeInteger(untilMs) || untilMs > this.#now() + MAX_AHEAD_MS) {
      throw new TypeError("untilMs: needs a whole number of ms since the epoch, within a day");
    }
    const at = this.#key(key);
    await raced(this.#store, async () => {
      const read = await this.#kv.get(at);
      const now = this.#now();
      const held = liveEntry(read, now);
      const atomic = this.#kv.atomic().check(read);
      if (untilMs <= now) {
        // Already expired: nothing to record, but a claim still goes.
        if (read.value === null || held?.owner === null) return;
        atomic.delete(at);
      } else {
        if (held?.owner === null && held.exp >= untilMs) return;
        const entry: Entry = { exp: untilMs, owner: null };
        atomic.set(at, entry, { expireIn: expireIn(untilMs, now) });
      }
      return (await atomic.commit()).ok ? undefined : LOST;
    });
  }

  /** Drops `owner`'s claim on `key`, if it still holds it: a lapsed claim never frees a later one. */
  async releaseKey(key: string, owner: string): Promise<void> {
    checkText(key, "key", MAX_KEY_LENGTH);
    checkText(owner, "owner", MAX_OWNER_LENGTH);
    const at = this.#key(key);
    await raced(this.#store, async () => {
      const read = await this.#kv.get(at);
      // Expired or not: the owner's entry is the owner's to drop.
      const entry = liveEntry(read, Number.NEGATIVE_INFINITY);
      if (entry?.owner !== owner) return;
      return (await this.#kv.atomic().check(read).delete(at).commit()).ok ? undefined : LOST;
    });
  }

  /** Whether `key` is recorded and not expired (a claim is not). */
  async hasRecorded(key: string): Promise<boolean> {
    checkText(key, "key", MAX_KEY_LENGTH);
    const read = await this.#kv.get(this.#key(key));
    return liveEntry(read, this.#now())?.owner === null;
  }

  /** How long `key` stays held (claimed or recorded), in ms; 0 when it is free. */
  async keyHeldMs(key: string): Promise<number> {
    checkText(key, "key", MAX_KEY_LENGTH);
    const read = await this.#kv.get(this.#key(key));
    const now = this.#now();
    return Math.max(0, (liveEntry(read, now)?.exp ?? now) - now);
  }
}
