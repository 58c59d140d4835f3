// The FunGame deny-list on Workers: a SQLite-backed Durable Object, and the RevocationList over its stub.

import { DurableObject } from "cloudflare:workers";
import type { ClaimingDenyList, ClaimOutcome } from "../ports.ts";
import { MAX_JTI_LENGTH } from "../vendors/fungame.ts";

const MAX_CLAIM_ID_LENGTH = 128;
/** No FunGame token lives this long: an entry beyond it is refused, an old one deleted. */
const MAX_AHEAD_SEC = 86_400;
/** The longest lease a claim may ask for. */
const MAX_LEASE_MS = 3_600_000;

function nowSeconds(): number {
  return Math.floor(Date.now() / 1000);
}

function isText(value: unknown, max: number): value is string {
  return typeof value === "string" && value.length > 0 && value.length <= max;
}

function checkEntry(jti: unknown, expiresAt: unknown): void {
  if (
    !isText(jti, MAX_JTI_LENGTH) ||
    !Number.isSafeInteger(expiresAt) ||
    (expiresAt as number) > nowSeconds() + MAX_AHEAD_SEC
  ) {
    throw new TypeError(
      "a deny-list entry needs a jti of 1 to 256 characters and a whole-second exp within a day",
    );
  }
}

function checkClaim(jti: unknown, claimId: unknown, leaseMs?: unknown): void {
  const lease = leaseMs ?? 1;
  if (
    !isText(jti, MAX_JTI_LENGTH) ||
    !isText(claimId, MAX_CLAIM_ID_LENGTH) ||
    !Number.isSafeInteger(lease) ||
    (lease as number) < 1 ||
    (lease as number) > MAX_LEASE_MS
  ) {
    throw new TypeError("a claim needs a jti, a claim id of 1 to 128 characters and a lease in ms");
  }
}

/**
 * FunGame logouts: `revoked` holds each token id FunGame logged out until its expiry (seconds),
 * `claims` each logout in flight with its attempt's id and lease (ms). Expired rows are never
 * reported, are deleted on every write, and an alarm set for the earliest expiry deletes them when
 * no write comes. Each method runs its statements with no await between them: two claims of one
 * token cannot both succeed.
 */
export class DenyListObject extends DurableObject {
  readonly #sql: SqlStorage;

  constructor(ctx: DurableObjectState, env: Cloudflare.Env) {
    super(ctx, env);
    this.#sql = ctx.storage.sql;
    // `revoked` keeps its first shape; claims live in their own table, so stored rows need no change.
    this.#sql.exec(
      "CREATE TABLE IF NOT EXISTS revoked (jti TEXT PRIMARY KEY, exp INTEGER NOT NULL); CREATE INDEX IF NOT EXISTS revoked_exp ON revoked (exp); CREATE TABLE IF NOT EXISTS claims (jti TEXT PRIMARY KEY, owner TEXT NOT NULL, lease INTEGER NOT NULL); CREATE INDEX IF NOT EXISTS claims_lease ON claims (lease);",
    );
  }

  /** Deletes expired rows, and rows too far ahead for any FunGame token (stored by older code). */
  #purge(): void {
    const now = Date.now();
    const seconds = Math.floor(now / 1000);
    this.#sql.exec(
      "DELETE FROM revoked WHERE exp <= ? OR exp > ?",
      seconds,
      seconds + MAX_AHEAD_SEC,
    );
    this.#sql.exec("DELETE FROM claims WHERE lease <= ?", now);
  }

  /** Records the logout of `jti` until `expiresAt`, keeping the later expiry; drops its claims. */
  async add(jti: string, expiresAt: number): Promise<void> {
    checkEntry(jti, expiresAt);
    this.#purge();
    this.#sql.exec("DELETE FROM claims WHERE jti = ?", jti);
    if (expiresAt > nowSeconds()) {
      this.#sql.exec(
        "INSERT INTO revoked (jti, exp) VALUES (?, ?) ON CONFLICT (jti) DO UPDATE SET exp = max(exp, excluded.exp)",
        jti,
        expiresAt,
      );
    }
    await this.#schedule();
  }

  /** See ClaimingDenyList.claim. */
  async claim(jti: string, claimId: string, leaseMs: number): Promise<ClaimOutcome> {
    checkClaim(jti, claimId, leaseMs);
    this.#purge();
    let outcome: ClaimOutcome = "claimed";
    const held = this.#sql
      .exec<{ owner: string }>("SELECT owner FROM claims WHERE jti = ?", jti)
      .toArray()[0];
    if (this.#sql.exec("SELECT 1 FROM revoked WHERE jti = ?", jti).toArray().length > 0) {
      outcome = "revoked";
    } else if (held !== undefined && held.owner !== claimId) {
      outcome = "pending";
    } else {
      this.#sql.exec(
        "INSERT INTO claims (jti, owner, lease) VALUES (?, ?, ?) ON CONFLICT (jti) DO UPDATE SET owner = excluded.owner, lease = excluded.lease",
        jti,
        claimId,
        Date.now() + leaseMs,
      );
    }
    // The purge may have deleted what the alarm was set for.
    await this.#schedule();
    return outcome;
  }

  /** Drops the claim of `claimId` on `jti`, if it still holds it; a recorded logout stays. */
  release(jti: string, claimId: string): void {
    checkClaim(jti, claimId);
    this.#sql.exec("DELETE FROM claims WHERE jti = ? AND owner = ?", jti, claimId);
  }

  /** Whether the logout of `jti` is recorded and not yet expired (a claim is not). */
  has(jti: string): boolean {
    if (typeof jti !== "string") return false;
    return (
      this.#sql.exec("SELECT 1 FROM revoked WHERE jti = ? AND exp > ?", jti, nowSeconds()).toArray()
        .length > 0
    );
  }

  /** Rows held in both tables, expired or not (for operations and tests). */
  size(): number {
    return this.#sql
      .exec<{ n: number }>(
        "SELECT (SELECT count(*) FROM revoked) + (SELECT count(*) FROM claims) AS n",
      )
      .one().n;
  }

  override async alarm(): Promise<void> {
    this.#purge();
    await this.#schedule();
  }

  async #schedule(): Promise<void> {
    const first = (query: string) => this.#sql.exec<{ at: number | null }>(query).one().at;
    const times = [
      first("SELECT min(exp) * 1000 AS at FROM revoked"),
      first("SELECT min(lease) AS at FROM claims"),
    ].filter((at): at is number => at !== null);
    const next = times.length === 0 ? null : Math.min(...times);
    if (next === null) {
      await this.ctx.storage.deleteAlarm();
      return;
    }
    const current = await this.ctx.storage.getAlarm();
    if (current === null || current > next) await this.ctx.storage.setAlarm(next);
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

  async claim(jti: string, claimId: string, leaseMs: number): Promise<ClaimOutcome> {
    checkClaim(jti, claimId, leaseMs);
    return (await this.#stub().claim(jti, claimId, leaseMs)) as ClaimOutcome;
  }

  async release(jti: string, claimId: string): Promise<void> {
    await this.#stub().release(jti, claimId);
  }
}
