// The session registry in SQL (SQLite, PostgreSQL): one row per registration, sealed, partitioned by
// the digest of its subject, shared by every process on the same database.
import type { SealingKeys } from "../../sealed.ts";
import {
  checkLimits,
  checkRoom,
  checkTarget,
  mayRemove,
  newRegistration,
  openTaken,
  type Registration,
  type RegistryLimits,
  type RegistryOptions,
  type SessionRegistry,
  type StoredRegistration,
  sidKeyOf,
  storedOf,
  subjectKeyOf,
  type TakeTarget,
} from "../../universal-logout/registry.ts";
import { int, type SqlDriver } from "./driver.ts";

/** The first key of the advisory locks a subject's adds take on PostgreSQL ("sess" in ASCII). */
const SESSIONS_LOCK = 0x73657373;

interface Row extends Record<string, unknown> {
  id: string;
  subject_key: string;
  sid_key: string | null;
  owner: string | null;
  expires_at: unknown;
  sealed: string;
}

const COLUMNS = "id, subject_key, sid_key, owner, expires_at, sealed";

function storedOfRow(row: Row): StoredRegistration {
  return {
    id: row.id,
    subjectKey: row.subject_key,
    sidKey: row.sid_key,
    owner: row.owner,
    expiresAt: int(row.expires_at),
    sealed: row.sealed,
  };
}

/**
 * The registry on `db` (its tables made by createSchema). An add counts the subject's live rows and
 * inserts in one transaction, under the subject's advisory lock on PostgreSQL (SQLite's write lock
 * does this on its own), so adds at once from several instances never pass the limit. A take is one
 * DELETE … RETURNING: of two takes at once, each row is returned to one.
 */
export class SqlSessionRegistry implements SessionRegistry {
  readonly #db: SqlDriver;
  readonly #keys: SealingKeys;
  readonly #limits: RegistryLimits;
  readonly #now: () => number;
  readonly #onError: (error: unknown) => void;

  constructor(db: SqlDriver, options: RegistryOptions) {
    this.#db = db;
    this.#keys = options.sealing;
    this.#limits = checkLimits(options.limits);
    this.#now = options.now ?? (() => Date.now());
    this.#onError = options.onError ?? (() => {});
  }

  async add(entry: Omit<Registration, "id" | "createdAt">) {
    const registration = newRegistration(entry, this.#now(), this.#limits);
    const stored = await storedOf(registration, this.#keys);
    const max = this.#limits.maxPerSubject;
    await this.#db.transaction(async (tx) => {
      if (tx.dialect === "postgres") {
        await tx.all("SELECT pg_advisory_xact_lock(?::int, hashtext(?))", [
          SESSIONS_LOCK,
          stored.subjectKey,
        ]);
      }
      await tx.run("DELETE FROM edge_proxy_sessions WHERE subject_key = ? AND expires_at <= ?", [
        stored.subjectKey,
        this.#now(),
      ]);
      const live = await tx.all<{ owner: string | null }>(
        "SELECT owner FROM edge_proxy_sessions WHERE subject_key = ?",
        [stored.subjectKey],
      );
      checkRoom(live, stored.owner, max);
      await tx.run(`INSERT INTO edge_proxy_sessions (${COLUMNS}) VALUES (?, ?, ?, ?, ?, ?)`, [
        stored.id,
        stored.subjectKey,
        stored.sidKey,
        stored.owner,
        stored.expiresAt,
        stored.sealed,
      ]);
    });
    return { id: registration.id, expiresAt: registration.expiresAt };
  }

  async remove(id: string, owner: string | null): Promise<boolean> {
    if (typeof id !== "string") return false;
    const [row] = await this.#db.all<{ owner: string | null }>(
      "SELECT owner FROM edge_proxy_sessions WHERE id = ?",
      [id],
    );
    if (row === undefined || !mayRemove(row.owner, owner)) return false;
    // The owner read above is the one deleted: a row is never given another owner.
    const deleted = await this.#db.all(
      "DELETE FROM edge_proxy_sessions WHERE id = ? RETURNING expires_at",
      [id],
    );
    return deleted.some((gone) => int(gone.expires_at) > this.#now());
  }

  async takeSubject(issuer: string, subject: string, sid?: string): Promise<Registration[]> {
    checkTarget(issuer, subject, sid);
    const subjectKey = await subjectKeyOf(issuer, subject);
    const target = { issuer, subject, sid };
    if (sid === undefined) {
      return this.#take("subject_key = ?", [subjectKey], target);
    }
    // The subject's expired rows go too: the partition is being touched anyway.
    return this.#take(
      "subject_key = ? AND (sid_key = ? OR expires_at <= ?)",
      [subjectKey, await sidKeyOf(issuer, sid), this.#now()],
      target,
    );
  }

  async takeSession(issuer: string, sid: string): Promise<Registration[]> {
    checkTarget(issuer, undefined, sid);
    return this.#take("sid_key = ?", [await sidKeyOf(issuer, sid)], { issuer, sid });
  }

  async #take(where: string, params: string[] | (string | number)[], target: TakeTarget) {
    const rows = await this.#db.all<Row>(
      `DELETE FROM edge_proxy_sessions WHERE ${where} RETURNING ${COLUMNS}`,
      params,
    );
    return openTaken(rows.map(storedOfRow), this.#keys, target, this.#now(), this.#onError);
  }

  /** Deletes every expired registration; answers how many. */
  purge(): Promise<number> {
    return this.#db.run("DELETE FROM edge_proxy_sessions WHERE expires_at <= ?", [this.#now()]);
  }
}
