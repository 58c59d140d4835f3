// The Durable Object of the shared stores on Workers: keys recorded until an expiry or claimed for a lease.
import { DurableObject } from "cloudflare:workers";
import {
  type ClaimAnswer,
  checkKey,
  checkOwner,
  MAX_AHEAD_MS,
  MAX_LEASE_MS,
  type Reclaim,
} from "../expiring-keys.ts";
import { writeGauge } from "./metrics.ts";

export type { ClaimAnswer, Reclaim } from "../expiring-keys.ts";

/** A table of the two objects this one replaced, read as `entries` rows (times in ms). */
interface OldTable {
  name: "revoked" | "claims" | "seen";
  key: string;
  exp: string;
  /** The expiry column as stored, and its unit in ms (revoked: seconds). */
  column: string;
  unit: number;
  owner: string;
  /** What a copied row does to the `entries` row of its key. */
  conflict: string;
}

/** Same owner: the later lease; another owner's claim, or a recorded key, stays as it is. */
const KEEP_CLAIM = "DO UPDATE SET exp = max(exp, excluded.exp) WHERE owner = excluded.owner";

/**
 * The tables of the two objects this one replaced: the deny-list's `revoked` (exp in seconds) and
 * `claims` (lease in ms), the replay guard's `seen` (exp in ms; rows made before claims had owners
 * have no owner, so no release ever matches them). A recorded logout wins over a claim of the same
 * key, as it did there.
 */
function oldTables(sql: SqlStorage): OldTable[] {
  const names = new Set(
    sql
      .exec<{ name: string }>(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name IN ('revoked', 'claims', 'seen')",
      )
      .toArray()
      .map((row) => row.name),
  );
  const tables: OldTable[] = [];
  if (names.has("revoked")) {
    tables.push({
      name: "revoked",
      key: "t.jti",
      exp: "t.exp * 1000",
      column: "exp",
      unit: 1000,
      owner: "NULL",
      conflict:
        "DO UPDATE SET exp = CASE WHEN owner IS NULL THEN max(exp, excluded.exp) ELSE excluded.exp END, owner = NULL",
    });
  }
  if (names.has("claims")) {
    tables.push({
      name: "claims",
      key: "t.jti",
      exp: "t.lease",
      column: "lease",
      unit: 1,
      owner: "t.owner",
      conflict: KEEP_CLAIM,
    });
  }
  if (names.has("seen")) {
    const owned = sql
      .exec<{ name: string }>("SELECT name FROM pragma_table_info('seen')")
      .toArray()
      .some((column) => column.name === "owner");
    tables.push({
      name: "seen",
      key: "t.key",
      exp: "t.exp",
      column: "exp",
      unit: 1,
      owner: owned ? "t.owner" : "NULL",
      conflict: KEEP_CLAIM,
    });
  }
  return tables;
}

/**
 * Copies the rows of the replaced objects' tables into `entries`, each row as it is once: the tables
 * stay as they were, so that a rollback to the previous version still finds what was stored before
 * the upgrade. `copied_rows` holds what was copied, so a later start never brings back what this
 * version released or let expire since; a row the previous version wrote or changed during a
 * rollback is copied on the next start. Returns whether any row was copied.
 */
function copyOldTables(sql: SqlStorage): boolean {
  const tables = oldTables(sql);
  if (tables.length === 0) return false;
  const now = Date.now();
  sql.exec(
    "CREATE TABLE IF NOT EXISTS copied_rows (source TEXT NOT NULL, key TEXT NOT NULL, exp INTEGER NOT NULL, owner TEXT, PRIMARY KEY (source, key))",
  );
  sql.exec("DELETE FROM copied_rows WHERE exp <= ?", now);
  // An expired entry gives way to what the previous version wrote since.
  sql.exec("DELETE FROM entries WHERE exp <= ?", now);
  let copied = 0;
  for (const { name, key, exp, column, unit, owner, conflict } of tables) {
    // Expired rows go, as the previous version's own purge would delete them.
    sql.exec(`DELETE FROM ${name} WHERE ${column} <= ?`, now / unit);
    // Rows alive, not too far ahead, and not copied as they are now (bounds in the table's unit,
    // so its expiry index serves the scan).
    const fresh = `FROM ${name} AS t WHERE t.${column} > ? AND t.${column} <= ? AND NOT EXISTS (SELECT 1 FROM copied_rows AS c WHERE c.source = '${name}' AND c.key = ${key} AND c.exp = ${exp} AND c.owner IS ${owner})`;
    const bounds = [now / unit, (now + MAX_AHEAD_MS) / unit];
    copied += sql.exec(
      `INSERT INTO entries (key, exp, owner) SELECT ${key}, ${exp}, ${owner} ${fresh} ON CONFLICT (key) ${conflict}`,
      ...bounds,
    ).rowsWritten;
    sql.exec(
      `INSERT INTO copied_rows (source, key, exp, owner) SELECT '${name}', ${key}, ${exp}, ${owner} ${fresh} ON CONFLICT (source, key) DO UPDATE SET exp = excluded.exp, owner = excluded.owner`,
      ...bounds,
    );
  }
  return copied > 0;
}

/**
 * Keys with an expiry in ms and, while claimed, the claim's owner (null once recorded). Expired
 * rows are never reported, are deleted on every write, and an alarm set for the earliest expiry
 * deletes them when no write comes. Each method runs its statements with no await between them in
 * a single-threaded object: two claims of one key cannot both succeed. No method the Worker calls
 * has the name of one the replaced objects had: a Worker calling an object of the other version
 * while a deployment is under way finds the method missing and fails, rather than reading an answer
 * of another shape (the role's classes keep the previous version's methods, see deny-list.ts and
 * replay-guard.ts).
 */
export class ExpiringSetObject extends DurableObject {
  readonly #sql: SqlStorage;
  /** The store this object serves, as its size figures name it. */
  protected readonly store: string = "expiring-set";

  constructor(ctx: DurableObjectState, env: Cloudflare.Env) {
    super(ctx, env);
    this.#sql = ctx.storage.sql;
    const copied = ctx.storage.transactionSync(() => {
      this.#sql.exec(
        "CREATE TABLE IF NOT EXISTS entries (key TEXT PRIMARY KEY, exp INTEGER NOT NULL, owner TEXT); CREATE INDEX IF NOT EXISTS entries_exp ON entries (exp);",
      );
      return copyOldTables(this.#sql);
    });
    // Copied rows may expire before the alarm the old object had set.
    if (copied) void ctx.blockConcurrencyWhile(() => this.#schedule());
  }

  /** Deletes expired rows, and rows too far ahead for any entry (stored by older code). */
  #purge(): void {
    const now = Date.now();
    this.#sql.exec("DELETE FROM entries WHERE exp <= ? OR exp > ?", now, now + MAX_AHEAD_MS);
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
    const answer = this.peekClaim(key, owner, reclaim);
    if (!Number.isSafeInteger(leaseMs) || leaseMs < 1 || leaseMs > MAX_LEASE_MS) {
      throw new TypeError(`leaseMs: needs a whole number of ms from 1 to ${MAX_LEASE_MS}`);
    }
    this.#purge();
    if (answer === "claimed") {
      this.#sql.exec(
        "INSERT INTO entries (key, exp, owner) VALUES (?, ?, ?) ON CONFLICT (key) DO UPDATE SET exp = excluded.exp, owner = excluded.owner",
        key,
        Date.now() + leaseMs,
        owner,
      );
    }
    // The purge may have deleted what the alarm was set for.
    await this.#schedule();
    this.#gauge();
    return answer;
  }

  /** Writes this object's rows as its store's size figure. */
  #gauge(): void {
    writeGauge(
      this.env as { METRICS?: AnalyticsEngineDataset },
      this.store,
      this.ctx.id,
      this.size(),
    );
  }

  /**
   * What claimKey would answer now, writing nothing: how a store's previous layout is asked while
   * the keys move to another (see shards.ts).
   */
  peekClaim(key: string, owner: string, reclaim: Reclaim = "renew"): ClaimAnswer {
    checkKey(key);
    checkOwner(owner);
    if (reclaim !== "renew" && reclaim !== "refuse") {
      throw new TypeError('reclaim: needs "renew" or "refuse"');
    }
    const held = this.#sql
      .exec<{ owner: string | null }>(
        "SELECT owner FROM entries WHERE key = ? AND exp > ?",
        key,
        Date.now(),
      )
      .toArray()[0];
    if (held === undefined) return "claimed";
    if (held.owner === null) return "recorded";
    return held.owner !== owner || reclaim === "refuse" ? "held" : "claimed";
  }

  /** Records `key` until `untilMs`, keeping the later expiry, and drops its claim. */
  async recordKey(key: string, untilMs: number): Promise<void> {
    checkKey(key);
    if (!Number.isSafeInteger(untilMs) || untilMs > Date.now() + MAX_AHEAD_MS) {
      throw new TypeError("untilMs: needs a whole number of ms since the epoch, within a day");
    }
    this.#purge();
    this.#sql.exec("DELETE FROM entries WHERE key = ? AND owner IS NOT NULL", key);
    if (untilMs > Date.now()) {
      this.#sql.exec(
        "INSERT INTO entries (key, exp, owner) VALUES (?, ?, NULL) ON CONFLICT (key) DO UPDATE SET exp = max(exp, excluded.exp)",
        key,
        untilMs,
      );
    }
    await this.#schedule();
    this.#gauge();
  }

  /** Drops `owner`'s claim on `key`, if it still holds it: a lapsed claim never frees a later one. */
  releaseKey(key: string, owner: string): void {
    checkKey(key);
    checkOwner(owner);
    this.#sql.exec("DELETE FROM entries WHERE key = ? AND owner = ?", key, owner);
    this.#gauge();
  }

  /** Whether `key` is recorded and not expired (a claim is not). */
  hasRecorded(key: string): boolean {
    if (typeof key !== "string") return false;
    return (
      this.#sql
        .exec("SELECT 1 FROM entries WHERE key = ? AND owner IS NULL AND exp > ?", key, Date.now())
        .toArray().length > 0
    );
  }

  /** How long `key` stays held (claimed or recorded), in ms; 0 when it is free. */
  keyHeldMs(key: string): number {
    const rows = this.#sql
      .exec<{ exp: number }>("SELECT exp FROM entries WHERE key = ?", String(key))
      .toArray();
    return Math.max(0, (rows[0]?.exp ?? 0) - Date.now());
  }

  /** Rows held, expired or not (for operations and tests). */
  size(): number {
    return this.#sql.exec<{ n: number }>("SELECT count(*) AS n FROM entries").one().n;
  }

  override async alarm(): Promise<void> {
    this.#purge();
    await this.#schedule();
    this.#gauge();
  }

  async #schedule(): Promise<void> {
    const next = this.#sql
      .exec<{ next: number | null }>("SELECT min(exp) AS next FROM entries")
      .one().next;
    if (next === null) {
      await this.ctx.storage.deleteAlarm();
      return;
    }
    const current = await this.ctx.storage.getAlarm();
    if (current === null || current > next) await this.ctx.storage.setAlarm(next);
  }
}
