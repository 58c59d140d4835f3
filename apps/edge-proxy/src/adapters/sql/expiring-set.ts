// The deny-list and the replay guard in SQL (SQLite, PostgreSQL): keys recorded until an expiry or
// claimed for a lease, one table for both stores.
import type { ClaimingDenyList, ClaimOutcome, ReplayGuard } from "../../ports.ts";
import {
  type ClaimAnswer,
  checkDenyClaim,
  checkDenyEntry,
  checkKey,
  checkOwner,
  checkReplayClaim,
  denyOutcomeOf,
  MAX_AHEAD_MS,
  MAX_LEASE_MS,
  type Reclaim,
  replayClaimedOf,
} from "../expiring-keys.ts";
import { int, type SqlDriver, type StatementOptions } from "./driver.ts";

/**
 * Keys of one store (a name in the `store` column) with an expiry in ms and, while claimed, the
 * claim's owner (null once recorded). Each claim is one statement: an insert that takes a free or
 * expired key, or this owner's own with `renew`, and otherwise changes nothing; so two claims of one
 * key, from two processes or two machines, cannot both succeed. Expired rows are never reported and
 * are deleted by `purge`.
 */
export class SqlExpiringSet {
  readonly #db: SqlDriver;
  readonly #store: string;
  readonly #now: () => number;

  constructor(db: SqlDriver, store: string, now: () => number = Date.now) {
    this.#db = db;
    this.#store = store;
    this.#now = now;
  }

  /** Claims `key` for `owner` during `leaseMs` (see ExpiringSetObject.claimKey on Workers). */
  async claim(
    key: string,
    owner: string,
    leaseMs: number,
    reclaim: Reclaim,
    options: StatementOptions = {},
  ): Promise<ClaimAnswer> {
    checkKey(key);
    checkOwner(owner);
    if (!Number.isSafeInteger(leaseMs) || leaseMs < 1 || leaseMs > MAX_LEASE_MS) {
      throw new TypeError(`leaseMs: needs a whole number of ms from 1 to ${MAX_LEASE_MS}`);
    }
    const now = this.#now();
    const mine = reclaim === "renew" ? " OR e.owner = excluded.owner" : "";
    const taken = await this.#db.all(
      `INSERT INTO edge_proxy_entries AS e (store, key, exp, owner) VALUES (?, ?, ?, ?) ON CONFLICT (store, key) DO UPDATE SET exp = excluded.exp, owner = excluded.owner WHERE e.exp <= ?${mine} RETURNING owner`,
      [this.#store, key, now + leaseMs, owner, now],
      options,
    );
    if (taken.length > 0) return "claimed";
    const held = await this.#db.all<{ owner: string | null }>(
      "SELECT owner FROM edge_proxy_entries WHERE store = ? AND key = ?",
      [this.#store, key],
    );
    // Gone between the two statements (released or purged): the key was held a moment ago.
    return held[0]?.owner === null ? "recorded" : "held";
  }

  /** Records `key` until `untilMs`, keeping the later expiry, and drops its claim. */
  async record(key: string, untilMs: number): Promise<void> {
    checkKey(key);
    const now = this.#now();
    if (!Number.isSafeInteger(untilMs) || untilMs > now + MAX_AHEAD_MS) {
      throw new TypeError("untilMs: needs a whole number of ms since the epoch, within a day");
    }
    if (untilMs <= now) {
      await this.#db.run(
        "DELETE FROM edge_proxy_entries WHERE store = ? AND key = ? AND owner IS NOT NULL",
        [this.#store, key],
      );
      return;
    }
    // A live record keeps the later expiry; a claim, or an expired record, gives way.
    await this.#db.run(
      "INSERT INTO edge_proxy_entries AS e (store, key, exp, owner) VALUES (?, ?, ?, NULL) ON CONFLICT (store, key) DO UPDATE SET exp = CASE WHEN e.owner IS NULL AND e.exp > excluded.exp THEN e.exp ELSE excluded.exp END, owner = NULL",
      [this.#store, key, untilMs],
    );
  }

  /** Drops `owner`'s claim on `key`, if it still holds it: a lapsed claim never frees a later one. */
  async release(key: string, owner: string, options: StatementOptions = {}): Promise<void> {
    checkKey(key);
    checkOwner(owner);
    await this.#db.run(
      "DELETE FROM edge_proxy_entries WHERE store = ? AND key = ? AND owner = ?",
      [this.#store, key, owner],
      options,
    );
  }

  /** Whether `key` is recorded and not expired (a claim is not). */
  async hasRecorded(key: string): Promise<boolean> {
    if (typeof key !== "string") return false;
    const rows = await this.#db.all(
      "SELECT 1 AS one FROM edge_proxy_entries WHERE store = ? AND key = ? AND owner IS NULL AND exp > ?",
      [this.#store, key, this.#now()],
    );
    return rows.length > 0;
  }

  /** How long `key` stays held (claimed or recorded), in ms; 0 when it is free. */
  async heldMs(key: string): Promise<number> {
    const rows = await this.#db.all<{ exp: unknown }>(
      "SELECT exp FROM edge_proxy_entries WHERE store = ? AND key = ?",
      [this.#store, String(key)],
    );
    return rows[0] === undefined ? 0 : Math.max(0, int(rows[0].exp) - this.#now());
  }

  /** Deletes this store's expired rows; answers how many. */
  purge(): Promise<number> {
    return this.#db.run("DELETE FROM edge_proxy_entries WHERE store = ? AND exp <= ?", [
      this.#store,
      this.#now(),
    ]);
  }

  /** Rows held, expired or not (for operations and tests). */
  async size(): Promise<number> {
    const rows = await this.#db.all<{ n: unknown }>(
      "SELECT count(*) AS n FROM edge_proxy_entries WHERE store = ?",
      [this.#store],
    );
    return int(rows[0]?.n ?? 0);
  }
}

/** A lease's statement: see StatementOptions.flush. */
const UNFLUSHED: StatementOptions = { flush: false };

/**
 * The FunGame deny-list in SQL: shared by every process on the same database. A logout is recorded
 * until the token's exp (whole seconds); `has` reports recorded logouts only; an attempt's claim is
 * re-entrant (the same claim id claims again and renews its lease).
 */
export class SqlDenyList implements ClaimingDenyList {
  readonly set: SqlExpiringSet;
  readonly #now: () => number;

  constructor(db: SqlDriver, options: { now?: () => number } = {}) {
    this.#now = options.now ?? Date.now;
    this.set = new SqlExpiringSet(db, "deny-list", this.#now);
  }

  async add(jti: string, expiresAt: number): Promise<void> {
    checkDenyEntry(jti, expiresAt, this.#now());
    await this.set.record(jti, expiresAt * 1000);
  }

  has(jti: string): Promise<boolean> {
    return this.set.hasRecorded(jti);
  }

  /**
   * A claim is a lease on one logout attempt, never a revocation: it is committed without a flush
   * to disk (it survives the process's crash, not a power loss, which only frees the token for a
   * retry sooner). The logout's record, which is the revocation, is flushed as every write is.
   */
  async claim(jti: string, claimId: string, leaseMs: number): Promise<ClaimOutcome> {
    checkDenyClaim(jti, claimId, leaseMs);
    return denyOutcomeOf(await this.set.claim(jti, claimId, leaseMs, "renew", UNFLUSHED));
  }

  async release(jti: string, claimId: string): Promise<void> {
    checkDenyClaim(jti, claimId);
    await this.set.release(jti, claimId, UNFLUSHED);
  }
}

/**
 * The seen-set of eBET login notifications in SQL, shared by every process on the same database: a
 * held key is refused to every claim, its own owner's included.
 */
export class SqlReplayGuard implements ReplayGuard {
  readonly set: SqlExpiringSet;

  constructor(db: SqlDriver, options: { now?: () => number } = {}) {
    this.set = new SqlExpiringSet(db, "replay-guard", options.now);
  }

  async claim(key: string, owner: string, holdMs: number): Promise<boolean> {
    checkReplayClaim(key, owner, holdMs);
    return replayClaimedOf(await this.set.claim(key, owner, holdMs, "refuse"));
  }

  async release(key: string, owner: string): Promise<void> {
    checkOwner(owner);
    await this.set.release(key, owner);
  }

  heldMs(key: string): Promise<number> {
    return this.set.heldMs(key);
  }
}
