// The FunGame deny-list on Workers: a SQLite-backed Durable Object, and the RevocationList over its stub.

import { DurableObject } from "cloudflare:workers";
import type { ClaimingDenyList } from "../vendors.ts";

const MAX_JTI_LENGTH = 256;

function isEntry(jti: unknown, expiresAt: unknown): boolean {
  return (
    typeof jti === "string" &&
    jti.length > 0 &&
    jti.length <= MAX_JTI_LENGTH &&
    Number.isSafeInteger(expiresAt)
  );
}

function checkEntry(jti: unknown, expiresAt: unknown): void {
  if (!isEntry(jti, expiresAt)) {
    throw new TypeError(
      "a deny-list entry needs a jti of 1 to 256 characters and whole-second exp",
    );
  }
}

function nowSeconds(): number {
  return Math.floor(Date.now() / 1000);
}

/**
 * Revoked FunGame token ids, each until its `exp` (seconds since the epoch). Rows past their expiry
 * are never reported, are deleted on every write, and an alarm set for the earliest expiry deletes
 * them when no write comes.
 */
export class DenyListObject extends DurableObject {
  readonly #sql: SqlStorage;

  constructor(ctx: DurableObjectState, env: Cloudflare.Env) {
    super(ctx, env);
    this.#sql = ctx.storage.sql;
    this.#sql.exec(
      "CREATE TABLE IF NOT EXISTS revoked (jti TEXT PRIMARY KEY, exp INTEGER NOT NULL); CREATE INDEX IF NOT EXISTS revoked_exp ON revoked (exp);",
    );
  }

  /** Lists `jti` until `expiresAt`; listing it again keeps the later expiry. */
  async add(jti: string, expiresAt: number): Promise<void> {
    if (!isEntry(jti, expiresAt)) return;
    const now = nowSeconds();
    this.#sql.exec("DELETE FROM revoked WHERE exp <= ?", now);
    if (expiresAt <= now) return;
    this.#sql.exec(
      "INSERT INTO revoked (jti, exp) VALUES (?, ?) ON CONFLICT (jti) DO UPDATE SET exp = max(exp, excluded.exp)",
      jti,
      expiresAt,
    );
    await this.#schedule();
  }

  /**
   * Lists `jti` until `expiresAt` unless it is listed already: true when this call listed it, false
   * when it was there (its expiry then becomes the later of the two). One round trip where
   * `has` then `add` would take two.
   */
  async claim(jti: string, expiresAt: number): Promise<boolean> {
    if (!isEntry(jti, expiresAt)) return false;
    const now = nowSeconds();
    this.#sql.exec("DELETE FROM revoked WHERE exp <= ?", now);
    const listed = this.#sql.exec("SELECT 1 FROM revoked WHERE jti = ?", jti).toArray().length > 0;
    if (expiresAt <= now && !listed) return true;
    this.#sql.exec(
      "INSERT INTO revoked (jti, exp) VALUES (?, ?) ON CONFLICT (jti) DO UPDATE SET exp = max(exp, excluded.exp)",
      jti,
      expiresAt,
    );
    await this.#schedule();
    return !listed;
  }

  /** Takes `jti` off the list: undoes a `claim` whose logout then failed. */
  release(jti: string): void {
    if (typeof jti !== "string") return;
    this.#sql.exec("DELETE FROM revoked WHERE jti = ?", jti);
  }

  /** Whether `jti` is listed and not yet expired. */
  has(jti: string): boolean {
    if (typeof jti !== "string") return false;
    return (
      this.#sql.exec("SELECT 1 FROM revoked WHERE jti = ? AND exp > ?", jti, nowSeconds()).toArray()
        .length > 0
    );
  }

  /** Rows held, expired or not (for operations and tests). */
  size(): number {
    const row = this.#sql.exec<{ n: number }>("SELECT count(*) AS n FROM revoked").one();
    return row.n;
  }

  override async alarm(): Promise<void> {
    this.#sql.exec("DELETE FROM revoked WHERE exp <= ?", nowSeconds());
    await this.#schedule();
  }

  async #schedule(): Promise<void> {
    const next = this.#sql
      .exec<{ next: number | null }>("SELECT min(exp) AS next FROM revoked")
      .one().next;
    if (next === null) {
      await this.ctx.storage.deleteAlarm();
      return;
    }
    const at = next * 1000;
    const current = await this.ctx.storage.getAlarm();
    if (current === null || current > at) await this.ctx.storage.setAlarm(at);
  }
}

/** The deny-list the app uses on Workers: every call goes to one named DenyListObject. */
export class DurableObjectDenyList implements ClaimingDenyList {
  readonly #namespace: DurableObjectNamespace<DenyListObject>;
  readonly #name: string;

  constructor(namespace: DurableObjectNamespace<DenyListObject>, name = "fungame") {
    this.#namespace = namespace;
    this.#name = name;
  }

  #stub(): DurableObjectStub<DenyListObject> {
    return this.#namespace.get(this.#namespace.idFromName(this.#name));
  }

  async add(jti: string, expiresAt: number): Promise<void> {
    checkEntry(jti, expiresAt);
    await this.#stub().add(jti, expiresAt);
  }

  async has(jti: string): Promise<boolean> {
    return await this.#stub().has(jti);
  }

  async claim(jti: string, expiresAt: number): Promise<boolean> {
    checkEntry(jti, expiresAt);
    return await this.#stub().claim(jti, expiresAt);
  }

  async release(jti: string): Promise<void> {
    await this.#stub().release(jti);
  }
}
