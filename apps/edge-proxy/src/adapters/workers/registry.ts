// The session registry on Workers: one SQLite-backed Durable Object per subject partition, and pointer objects that find partitions by sid and by id.
import { DurableObject } from "cloudflare:workers";
import type { SealingKeys } from "../../sealed.ts";
import {
  checkLimits,
  checkRoom,
  checkTarget,
  MAX_PER_SUBJECT,
  mayRemove,
  newRegistration,
  openTaken,
  type Registration,
  RegistryFull,
  type RegistryLimits,
  type RegistryOptions,
  type SessionRegistry,
  type StoredRegistration,
  sidKeyOf,
  storedOf,
  subjectKeyOf,
  type TakeTarget,
} from "../../universal-logout/registry.ts";
import { type Placement, stubNamed } from "./shards.ts";

/** A registration as its partition object holds it: digests, owner, expiry, sealed bytes. */
export type SealedRow = Omit<StoredRegistration, "subjectKey">;

/** Which limit a partition object found reached: the caller's slots, or the subject's total. */
export type RegistryLimit = NonNullable<ConstructorParameters<typeof RegistryFull>[1]>;

/**
 * One object of the registry, in one of two roles by its name. Named by a subject key, it holds
 * that subject's sealed registrations (`registrations`). Named `sid:<sid key>` or `id:<id>`, it
 * holds pointers (`pointers`): the subject keys that have, or had, a registration of that sid or
 * id, each until the latest expiry pointed at. Each method runs its statements with no await between
 * them, one call at a time: an add counts its caller's rows and the subject's and inserts in one
 * step, and two takes never return one row twice. An alarm at the earliest expiry deletes expired
 * rows of both tables.
 */
export class SessionRegistryObject extends DurableObject {
  readonly #sql: SqlStorage;

  constructor(ctx: DurableObjectState, env: Cloudflare.Env) {
    super(ctx, env);
    this.#sql = ctx.storage.sql;
    this.#sql.exec(
      "CREATE TABLE IF NOT EXISTS registrations (id TEXT PRIMARY KEY, sid_key TEXT, owner TEXT, expires_at INTEGER NOT NULL, sealed TEXT NOT NULL); CREATE TABLE IF NOT EXISTS pointers (subject_key TEXT PRIMARY KEY, until INTEGER NOT NULL)",
    );
  }

  /**
   * Stores `row` if its owner has fewer than `maxPerSubject` live registrations here and the subject
   * fewer than MAX_PER_SUBJECT (checkRoom's rule), true then; else the name of the limit reached.
   * `maxPerSubject` null stores it whatever the limits say.
   */
  async addRegistration(
    row: SealedRow,
    maxPerSubject: number | null,
    now: number,
  ): Promise<true | RegistryLimit> {
    this.#sql.exec("DELETE FROM registrations WHERE expires_at <= ?", now);
    if (maxPerSubject !== null) {
      const live = this.#sql.exec<{ owner: string | null }>("SELECT owner FROM registrations");
      try {
        checkRoom(live.toArray(), row.owner, maxPerSubject);
      } catch (error) {
        if (error instanceof RegistryFull) return error.init.extensions?.limit as RegistryLimit;
        throw error;
      }
    }
    this.#sql.exec(
      "INSERT INTO registrations VALUES (?, ?, ?, ?, ?)",
      row.id,
      row.sidKey,
      row.owner,
      row.expiresAt,
      row.sealed,
    );
    await this.#schedule();
    return true;
  }

  /** Deletes registration `id` if `owner` may; true when it was live. */
  removeRegistration(id: string, owner: string | null, now: number): boolean {
    const [row] = this.#sql
      .exec<{ owner: string | null; expires_at: number }>(
        "SELECT owner, expires_at FROM registrations WHERE id = ?",
        id,
      )
      .toArray();
    if (row === undefined || !mayRemove(row.owner, owner)) return false;
    this.#sql.exec("DELETE FROM registrations WHERE id = ?", id);
    return row.expires_at > now;
  }

  /** Deletes and returns the registrations (of `sidKey` only, when given) and the expired ones. */
  takeRegistrations(sidKey: string | null, now: number): SealedRow[] {
    return this.#sql
      .exec<SealedRow>(
        "DELETE FROM registrations WHERE ? IS NULL OR sid_key = ? OR expires_at <= ? RETURNING id, sid_key AS sidKey, owner, expires_at AS expiresAt, sealed",
        sidKey,
        sidKey,
        now,
      )
      .toArray();
  }

  /** Points at `subjectKey` until `until` at least. */
  async point(subjectKey: string, until: number): Promise<void> {
    this.#sql.exec(
      "INSERT INTO pointers VALUES (?, ?) ON CONFLICT (subject_key) DO UPDATE SET until = max(until, excluded.until)",
      subjectKey,
      until,
    );
    await this.#schedule();
  }

  /** The subject keys pointed at and not expired at `now`. */
  pointed(now: number): string[] {
    return this.#sql
      .exec<{ subject_key: string }>("SELECT subject_key FROM pointers WHERE until > ?", now)
      .toArray()
      .map((row) => row.subject_key);
  }

  override async alarm(): Promise<void> {
    const now = Date.now();
    this.#sql.exec("DELETE FROM registrations WHERE expires_at <= ?", now);
    this.#sql.exec("DELETE FROM pointers WHERE until <= ?", now);
    await this.#schedule();
  }

  async #schedule(): Promise<void> {
    const { next } = this.#sql
      .exec<{ next: number | null }>(
        "SELECT min(t) AS next FROM (SELECT expires_at AS t FROM registrations UNION ALL SELECT until FROM pointers)",
      )
      .one();
    if (next === null) return this.ctx.storage.deleteAlarm();
    const current = await this.ctx.storage.getAlarm();
    if (current === null || current > next) await this.ctx.storage.setAlarm(next);
  }
}

/**
 * The SessionRegistry on Workers, sealing in the Worker: the objects hold digests and sealed bytes
 * only. An add writes its pointers (by id, and by sid) before the registration, so a failure in
 * between leaves a pointer to nothing, which costs a lookup, and never a registration no pointer
 * leads to. Pointers are never deleted before their expiry: a take or a remove that found nothing
 * behind one cannot race with an add that points there again.
 */
export class DurableObjectSessionRegistry implements SessionRegistry {
  readonly #namespace: DurableObjectNamespace<SessionRegistryObject>;
  readonly #placement: Pick<Placement, "locationHint" | "jurisdiction">;
  readonly #keys: SealingKeys;
  readonly #limits: RegistryLimits;
  readonly #now: () => number;
  readonly #onError: (error: unknown) => void;

  constructor(
    namespace: DurableObjectNamespace<SessionRegistryObject>,
    options: RegistryOptions & { placement?: Pick<Placement, "locationHint" | "jurisdiction"> },
  ) {
    this.#namespace = namespace;
    this.#placement = options.placement ?? {};
    this.#keys = options.sealing;
    this.#limits = checkLimits(options.limits);
    this.#now = options.now ?? (() => Date.now());
    this.#onError = options.onError ?? (() => {});
  }

  #stub(name: string): DurableObjectStub<SessionRegistryObject> {
    return stubNamed(this.#namespace, name, this.#placement);
  }

  async add(entry: Omit<Registration, "id" | "createdAt">) {
    const registration = newRegistration(entry, this.#now(), this.#limits);
    const { subjectKey, ...row } = await storedOf(registration, this.#keys);
    const names = row.sidKey === null ? [`id:${row.id}`] : [`id:${row.id}`, `sid:${row.sidKey}`];
    await Promise.all(names.map((name) => this.#stub(name).point(subjectKey, row.expiresAt)));
    const max = this.#limits.maxPerSubject;
    const added: unknown = await this.#stub(subjectKey).addRegistration(row, max, this.#now());
    if (added === "maxPerSubject") throw new RegistryFull(max);
    if (added === "subjectTotal") throw new RegistryFull(MAX_PER_SUBJECT, "subjectTotal");
    if (added !== true) {
      throw new TypeError("a registry object answered what this version does not know");
    }
    return { id: registration.id, expiresAt: registration.expiresAt };
  }

  async remove(id: string, owner: string | null): Promise<boolean> {
    if (typeof id !== "string" || id.length === 0) return false;
    for (const subjectKey of await this.#stub(`id:${id}`).pointed(this.#now())) {
      if (await this.#stub(subjectKey).removeRegistration(id, owner, this.#now())) return true;
    }
    return false;
  }

  async takeSubject(issuer: string, subject: string, sid?: string): Promise<Registration[]> {
    checkTarget(issuer, subject, sid);
    const subjectKey = await subjectKeyOf(issuer, subject);
    const sidKey = sid === undefined ? null : await sidKeyOf(issuer, sid);
    return this.#take([subjectKey], sidKey, { issuer, subject, sid });
  }

  async takeSession(issuer: string, sid: string): Promise<Registration[]> {
    checkTarget(issuer, undefined, sid);
    const sidKey = await sidKeyOf(issuer, sid);
    const subjectKeys = await this.#stub(`sid:${sidKey}`).pointed(this.#now());
    return this.#take(subjectKeys, sidKey, { issuer, sid });
  }

  /**
   * Takes from each partition at once. When one fails, what the others took is put back before the
   * error is thrown: a trigger retried later finds it, rather than it being lost. A registration
   * that cannot be put back either is reported to `onError`.
   */
  async #take(
    subjectKeys: readonly string[],
    sidKey: string | null,
    target: TakeTarget,
  ): Promise<Registration[]> {
    const now = this.#now();
    const outcomes = await Promise.allSettled(
      subjectKeys.map((subjectKey) => this.#stub(subjectKey).takeRegistrations(sidKey, now)),
    );
    const failed = outcomes.find((outcome) => outcome.status === "rejected");
    const taken: StoredRegistration[] = [];
    for (const [index, outcome] of outcomes.entries()) {
      const subjectKey = subjectKeys[index] as string;
      if (outcome.status === "rejected") continue;
      for (const row of outcome.value as SealedRow[]) {
        if (failed === undefined) taken.push({ ...row, subjectKey });
        // Put back whatever the limits say: these registrations were there a moment ago.
        else {
          await this.#stub(subjectKey).addRegistration(row, null, now).catch(this.#onError);
        }
      }
    }
    if (failed !== undefined) throw failed.reason;
    return openTaken(taken, this.#keys, target, now, this.#onError);
  }
}
