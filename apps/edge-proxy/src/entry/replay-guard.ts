// The seen-set of eBET login notifications on Workers: SQLite-backed Durable Objects shared by every
// isolate, each key held by one request's claim until it expires, deleted by an alarm after that.
import { DurableObject } from "cloudflare:workers";
import type { ReplayGuard } from "../replay.ts";

/** Keys are SHA-256 digests in hex. */
const KEY = /^[0-9a-f]{64}$/;

/** Owners are request-made ids (random UUIDs). */
const OWNER = /^[\w-]{1,64}$/;

/** The longest claim taken: a request's deadline is at most 600 s. */
const MAX_HOLD_MS = 3_600_000;

/** Objects the keys are spread over (by their first hex digit), so one object is never the limit. */
const SHARDS = 16;

/**
 * Keys seen, each with its expiry in ms and the owner of its claim. A claim is one SQL statement
 * in a single-threaded object, so two concurrent claims of a key cannot both succeed. Expired rows
 * are deleted on every claim and by an alarm set for the earliest expiry.
 */
export class ReplayGuardObject extends DurableObject {
  readonly #sql: SqlStorage;

  constructor(ctx: DurableObjectState, env: Cloudflare.Env) {
    super(ctx, env);
    this.#sql = ctx.storage.sql;
    this.#sql.exec(
      "CREATE TABLE IF NOT EXISTS seen (key TEXT PRIMARY KEY, exp INTEGER NOT NULL, owner TEXT); CREATE INDEX IF NOT EXISTS seen_exp ON seen (exp);",
    );
    // Objects made before claims had owners: their rows keep a null owner, which no release
    // matches, so they stay held until they expire.
    const columns = this.#sql.exec<{ name: string }>("SELECT name FROM pragma_table_info('seen')");
    if (!columns.toArray().some((column) => column.name === "owner")) {
      this.#sql.exec("ALTER TABLE seen ADD COLUMN owner TEXT");
    }
  }

  /** Records `key` for `owner` during `holdMs`; false when it is held and not expired. */
  async claim(key: string, owner: string, holdMs: number): Promise<boolean> {
    if (typeof key !== "string" || !KEY.test(key)) throw new TypeError("not a replay key");
    if (typeof owner !== "string" || !OWNER.test(owner)) throw new TypeError("not a claim owner");
    if (!Number.isInteger(holdMs) || holdMs < 1 || holdMs > MAX_HOLD_MS) {
      throw new TypeError("not a claim hold in ms");
    }
    const now = Date.now();
    this.#sql.exec("DELETE FROM seen WHERE exp <= ?", now);
    const inserted = this.#sql.exec(
      "INSERT INTO seen (key, exp, owner) VALUES (?, ?, ?) ON CONFLICT (key) DO NOTHING",
      key,
      now + holdMs,
      owner,
    ).rowsWritten;
    if (inserted === 0) return false;
    await this.#schedule();
    return true;
  }

  /** Deletes `key` only when `owner`'s claim holds it: a lapsed claim never frees a later one. */
  release(key: string, owner: string): void {
    this.#sql.exec("DELETE FROM seen WHERE key = ? AND owner = ?", String(key), String(owner));
  }

  /** How long `key` stays held, in ms; 0 when it is free. */
  heldMs(key: string): number {
    const rows = this.#sql
      .exec<{ exp: number }>("SELECT exp FROM seen WHERE key = ?", String(key))
      .toArray();
    return Math.max(0, (rows[0]?.exp ?? 0) - Date.now());
  }

  /** Rows held, expired or not (for operations and tests). */
  size(): number {
    return this.#sql.exec<{ n: number }>("SELECT count(*) AS n FROM seen").one().n;
  }

  override async alarm(): Promise<void> {
    this.#sql.exec("DELETE FROM seen WHERE exp <= ?", Date.now());
    await this.#schedule();
  }

  async #schedule(): Promise<void> {
    const next = this.#sql
      .exec<{ next: number | null }>("SELECT min(exp) AS next FROM seen")
      .one().next;
    if (next === null) {
      await this.ctx.storage.deleteAlarm();
      return;
    }
    const current = await this.ctx.storage.getAlarm();
    if (current === null || current > next) await this.ctx.storage.setAlarm(next);
  }
}

/** The ReplayGuard the app uses on Workers: each key goes to one of SHARDS named objects. */
export class DurableObjectReplayGuard implements ReplayGuard {
  readonly #namespace: DurableObjectNamespace<ReplayGuardObject>;

  constructor(namespace: DurableObjectNamespace<ReplayGuardObject>) {
    this.#namespace = namespace;
  }

  #stub(key: string): DurableObjectStub<ReplayGuardObject> {
    const shard = Number.parseInt(key.slice(0, 1), 16) % SHARDS;
    return this.#namespace.get(this.#namespace.idFromName(`ebet-callback-${shard}`));
  }

  async claim(key: string, owner: string, holdMs: number): Promise<boolean> {
    return await this.#stub(key).claim(key, owner, holdMs);
  }

  async release(key: string, owner: string): Promise<void> {
    await this.#stub(key).release(key, owner);
  }

  async heldMs(key: string): Promise<number> {
    return await this.#stub(key).heldMs(key);
  }
}
