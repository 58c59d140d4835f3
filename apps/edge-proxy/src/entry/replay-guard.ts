// The seen-set of eBET login notifications on Workers: SQLite-backed Durable Objects shared by every
// isolate, each key kept for eBET's 300 s window and deleted by an alarm after it.
import { DurableObject } from "cloudflare:workers";
import { EBET_CALLBACK_WINDOW_MS, type ReplayGuard } from "../replay.ts";

/** Keys are SHA-256 digests in hex. */
const KEY = /^[0-9a-f]{64}$/;

/** Objects the keys are spread over (by their first hex digit), so one object is never the limit. */
const SHARDS = 16;

/**
 * Keys seen, each with its expiry in ms. A claim is one SQL statement in a single-threaded object,
 * so two concurrent claims of a key cannot both succeed. Expired rows are deleted on every claim
 * and by an alarm set for the earliest expiry.
 */
export class ReplayGuardObject extends DurableObject {
  readonly #sql: SqlStorage;

  constructor(ctx: DurableObjectState, env: Cloudflare.Env) {
    super(ctx, env);
    this.#sql = ctx.storage.sql;
    this.#sql.exec(
      "CREATE TABLE IF NOT EXISTS seen (key TEXT PRIMARY KEY, exp INTEGER NOT NULL); CREATE INDEX IF NOT EXISTS seen_exp ON seen (exp);",
    );
  }

  /** Records `key` for the window; false when it is already recorded and not expired. */
  async claim(key: string): Promise<boolean> {
    if (typeof key !== "string" || !KEY.test(key)) throw new TypeError("not a replay key");
    const now = Date.now();
    this.#sql.exec("DELETE FROM seen WHERE exp <= ?", now);
    const inserted = this.#sql.exec(
      "INSERT INTO seen (key, exp) VALUES (?, ?) ON CONFLICT (key) DO NOTHING",
      key,
      now + EBET_CALLBACK_WINDOW_MS,
    ).rowsWritten;
    if (inserted === 0) return false;
    await this.#schedule();
    return true;
  }

  release(key: string): void {
    if (typeof key === "string") this.#sql.exec("DELETE FROM seen WHERE key = ?", key);
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

  async claim(key: string): Promise<boolean> {
    return await this.#stub(key).claim(key);
  }

  async release(key: string): Promise<void> {
    await this.#stub(key).release(key);
  }
}
