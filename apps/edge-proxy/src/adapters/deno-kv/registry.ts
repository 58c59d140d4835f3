// The session registry in Deno KV: registrations sealed, partitioned by the digest of their subject,
// each partition changed by atomic writes that check its head, shared by every process on the KV.
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
import {
  expireIn,
  KEY_ROOT,
  type Kv,
  type KvAtomic,
  type KvEntryMaybe,
  type KvKey,
  LOST,
  raced,
} from "./kv.ts";

/** Where the registry's keys are, by default. */
export const REGISTRY_PREFIX: KvKey = [KEY_ROOT, "sessions"];

const STORE = "session registry";

/** A partition's head: rewritten by every change of the partition, until its last entry expires. */
interface Head {
  until: number;
}

/** The stored registration a read found; a value of another shape is an error, never skipped. */
function storedOfValue(read: KvEntryMaybe): StoredRegistration {
  const value = read.value as Partial<StoredRegistration> | null;
  if (
    typeof value !== "object" ||
    value === null ||
    typeof value.id !== "string" ||
    typeof value.subjectKey !== "string" ||
    (value.sidKey !== null && typeof value.sidKey !== "string") ||
    (value.owner !== null && typeof value.owner !== "string") ||
    typeof value.expiresAt !== "number" ||
    typeof value.sealed !== "string"
  ) {
    throw new TypeError("a KV entry of the session registry is not a stored registration");
  }
  return value as StoredRegistration;
}

/**
 * The registry on `kv`. Keys under the prefix: `head/<subject key>` (the partition's guard),
 * `entry/<subject key>/<id>` (the sealed registration), `id/<id>` and `sid/<sid key>/<id>` (the
 * partition an id and a provider session are in). Every write of a partition checks its head's
 * versionstamp and rewrites the head, so writes of one partition from any processes happen one
 * after the other: an add sees every registration the limit counts, and of two takes at once,
 * one commits and the other reads again and finds the registrations gone. Every key gets KV's own
 * expiry a grace after its registration's, so what a process never takes is deleted anyway.
 */
export class KvSessionRegistry implements SessionRegistry {
  readonly #kv: Kv;
  readonly #prefix: KvKey;
  readonly #keys: SealingKeys;
  readonly #limits: RegistryLimits;
  readonly #now: () => number;
  readonly #onError: (error: unknown) => void;

  constructor(kv: Kv, options: RegistryOptions & { prefix?: KvKey }) {
    this.#kv = kv;
    this.#prefix = options.prefix ?? REGISTRY_PREFIX;
    this.#keys = options.sealing;
    this.#limits = checkLimits(options.limits);
    this.#now = options.now ?? (() => Date.now());
    this.#onError = options.onError ?? (() => {});
  }

  #head(subjectKey: string): KvKey {
    return [...this.#prefix, "head", subjectKey];
  }

  #entry(subjectKey: string, id: string): KvKey {
    return [...this.#prefix, "entry", subjectKey, id];
  }

  #id(id: string): KvKey {
    return [...this.#prefix, "id", id];
  }

  #sid(sidKey: string, id: string): KvKey {
    return [...this.#prefix, "sid", sidKey, id];
  }

  /** The partition's head and its registrations, expired ones included. */
  async #partition(subjectKey: string) {
    const head = await this.#kv.get(this.#head(subjectKey));
    const entries: StoredRegistration[] = [];
    for await (const read of this.#kv.list({ prefix: [...this.#prefix, "entry", subjectKey] })) {
      entries.push(storedOfValue(read));
    }
    return { head, entries };
  }

  /** Deletes `stored` and its index keys in `atomic`. */
  #delete(atomic: KvAtomic, stored: StoredRegistration): void {
    atomic.delete(this.#entry(stored.subjectKey, stored.id)).delete(this.#id(stored.id));
    if (stored.sidKey !== null) atomic.delete(this.#sid(stored.sidKey, stored.id));
  }

  /** Writes the head of a partition that keeps `kept` in `atomic`, or deletes it when none is. */
  #rewriteHead(
    atomic: KvAtomic,
    subjectKey: string,
    kept: readonly StoredRegistration[],
    now: number,
  ): void {
    if (kept.length === 0) {
      atomic.delete(this.#head(subjectKey));
      return;
    }
    const head: Head = { until: Math.max(...kept.map((stored) => stored.expiresAt)) };
    atomic.set(this.#head(subjectKey), head, { expireIn: expireIn(head.until, now) });
  }

  async add(entry: Omit<Registration, "id" | "createdAt">) {
    const registration = newRegistration(entry, this.#now(), this.#limits);
    const stored = await storedOf(registration, this.#keys);
    const max = this.#limits.maxPerSubject;
    await raced(STORE, async () => {
      const { head, entries } = await this.#partition(stored.subjectKey);
      const now = this.#now();
      const live = entries.filter((held) => held.expiresAt > now);
      checkRoom(live, stored.owner, max);
      const atomic = this.#kv.atomic().check(head);
      for (const held of entries) if (held.expiresAt <= now) this.#delete(atomic, held);
      const options = { expireIn: expireIn(stored.expiresAt, now) };
      atomic
        .set(this.#entry(stored.subjectKey, stored.id), stored, options)
        .set(this.#id(stored.id), stored.subjectKey, options);
      if (stored.sidKey !== null) {
        atomic.set(this.#sid(stored.sidKey, stored.id), stored.subjectKey, options);
      }
      this.#rewriteHead(atomic, stored.subjectKey, [...live, stored], now);
      return (await atomic.commit()).ok ? undefined : LOST;
    });
    return { id: registration.id, expiresAt: registration.expiresAt };
  }

  async remove(id: string, owner: string | null): Promise<boolean> {
    if (typeof id !== "string" || id.length === 0) return false;
    const { value: subjectKey } = await this.#kv.get(this.#id(id));
    if (typeof subjectKey !== "string") return false;
    return raced(STORE, async () => {
      const { head, entries } = await this.#partition(subjectKey);
      const stored = entries.find((held) => held.id === id);
      if (stored === undefined || !mayRemove(stored.owner, owner)) return false;
      const now = this.#now();
      const atomic = this.#kv.atomic().check(head);
      this.#delete(atomic, stored);
      const kept = entries.filter((held) => held !== stored && held.expiresAt > now);
      this.#rewriteHead(atomic, subjectKey, kept, now);
      if (!(await atomic.commit()).ok) return LOST;
      return stored.expiresAt > now;
    });
  }

  async takeSubject(issuer: string, subject: string, sid?: string): Promise<Registration[]> {
    checkTarget(issuer, subject, sid);
    const subjectKey = await subjectKeyOf(issuer, subject);
    const sidKey = sid === undefined ? undefined : await sidKeyOf(issuer, sid);
    return this.#take([subjectKey], sidKey, { issuer, subject, sid });
  }

  async takeSession(issuer: string, sid: string): Promise<Registration[]> {
    checkTarget(issuer, undefined, sid);
    const sidKey = await sidKeyOf(issuer, sid);
    const subjectKeys = new Set<string>();
    for await (const read of this.#kv.list({ prefix: [...this.#prefix, "sid", sidKey] })) {
      if (typeof read.value === "string") subjectKeys.add(read.value);
    }
    return this.#take([...subjectKeys], sidKey, { issuer, sid });
  }

  /** Removes the registrations of `subjectKeys` (of `sidKey` when given), expired ones too. */
  async #take(
    subjectKeys: readonly string[],
    sidKey: string | undefined,
    target: TakeTarget,
  ): Promise<Registration[]> {
    const taken: StoredRegistration[] = [];
    let now = this.#now();
    for (const subjectKey of subjectKeys) {
      const removed = await raced(STORE, async () => {
        const { head, entries } = await this.#partition(subjectKey);
        now = this.#now();
        const chosen = (held: StoredRegistration) =>
          sidKey === undefined || held.sidKey === sidKey || held.expiresAt <= now;
        const gone = entries.filter(chosen);
        if (gone.length === 0) return gone;
        const atomic = this.#kv.atomic().check(head);
        for (const stored of gone) this.#delete(atomic, stored);
        this.#rewriteHead(
          atomic,
          subjectKey,
          entries.filter((held) => !chosen(held)),
          now,
        );
        return (await atomic.commit()).ok ? gone : LOST;
      });
      taken.push(...removed);
    }
    return openTaken(taken, this.#keys, target, now, this.#onError);
  }
}
