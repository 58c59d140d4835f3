// The session registry in memory: for tests and demos only, as it forgets every registration when
// the process stops (the SQL and Deno KV registries keep them).
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

/**
 * Registrations sealed as the other engines store them, in maps: partitions by subject key, and
 * which partitions a sid key has registrations in. Each change happens with no await in between,
 * so two takes at once never return one registration twice.
 */
export class MemorySessionRegistry implements SessionRegistry {
  readonly #keys: SealingKeys;
  readonly #limits: RegistryLimits;
  readonly #now: () => number;
  readonly #onError: (error: unknown) => void;
  readonly #partitions = new Map<string, Map<string, StoredRegistration>>();
  readonly #sids = new Map<string, Set<string>>();
  readonly #subjectOfId = new Map<string, string>();

  constructor(options: RegistryOptions) {
    this.#keys = options.sealing;
    this.#limits = checkLimits(options.limits);
    this.#now = options.now ?? (() => Date.now());
    this.#onError = options.onError ?? (() => {});
  }

  async add(entry: Omit<Registration, "id" | "createdAt">) {
    const registration = newRegistration(entry, this.#now(), this.#limits);
    const stored = await storedOf(registration, this.#keys);
    const partition = this.#partitions.get(stored.subjectKey) ?? new Map();
    const now = this.#now();
    for (const held of partition.values()) if (held.expiresAt <= now) this.#drop(held);
    checkRoom([...partition.values()], stored.owner, this.#limits.maxPerSubject);
    partition.set(stored.id, stored);
    this.#partitions.set(stored.subjectKey, partition);
    this.#subjectOfId.set(stored.id, stored.subjectKey);
    if (stored.sidKey !== null) {
      const partitions = this.#sids.get(stored.sidKey) ?? new Set();
      partitions.add(stored.subjectKey);
      this.#sids.set(stored.sidKey, partitions);
    }
    return { id: registration.id, expiresAt: registration.expiresAt };
  }

  async remove(id: string, owner: string | null): Promise<boolean> {
    const subjectKey = this.#subjectOfId.get(id);
    const stored = subjectKey === undefined ? undefined : this.#partitions.get(subjectKey)?.get(id);
    if (stored === undefined || !mayRemove(stored.owner, owner)) return false;
    this.#drop(stored);
    return stored.expiresAt > this.#now();
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
    return this.#take([...(this.#sids.get(sidKey) ?? [])], sidKey, { issuer, sid });
  }

  /** Removes the registrations of `subjectKeys` (of `sidKey` when given), expired ones too. */
  #take(
    subjectKeys: readonly string[],
    sidKey: string | undefined,
    target: TakeTarget,
  ): Promise<Registration[]> {
    const now = this.#now();
    const taken: StoredRegistration[] = [];
    for (const subjectKey of subjectKeys) {
      for (const stored of this.#partitions.get(subjectKey)?.values() ?? []) {
        if (sidKey === undefined || stored.sidKey === sidKey || stored.expiresAt <= now) {
          this.#drop(stored);
          taken.push(stored);
        }
      }
    }
    return openTaken(taken, this.#keys, target, now, this.#onError);
  }

  #drop(stored: StoredRegistration): void {
    const partition = this.#partitions.get(stored.subjectKey);
    partition?.delete(stored.id);
    if (partition?.size === 0) this.#partitions.delete(stored.subjectKey);
    this.#subjectOfId.delete(stored.id);
    if (stored.sidKey === null) return;
    const stillThere = [...(partition?.values() ?? [])].some(
      (held) => held.sidKey === stored.sidKey,
    );
    const partitions = this.#sids.get(stored.sidKey);
    if (!stillThere) partitions?.delete(stored.subjectKey);
    if (partitions?.size === 0) this.#sids.delete(stored.sidKey);
  }
}
