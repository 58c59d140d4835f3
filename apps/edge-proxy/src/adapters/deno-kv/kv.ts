// The part of Deno KV the proxy's stores use, typed here, and what they share: key prefix, input checks, races.
import { ProblemError } from "../../problem.ts";

// No Deno type package is installed: the few Deno.Kv members these stores call, as Deno documents them.
export type KvKeyPart = string | number | bigint | boolean | symbol | Uint8Array;
export type KvKey = readonly KvKeyPart[];

/** A read: `value` and `versionstamp` are null when the key holds nothing. */
export interface KvEntryMaybe {
  readonly key: KvKey;
  readonly value: unknown;
  readonly versionstamp: string | null;
}

/** What a check compares: the key's versionstamp now (null: the key holds nothing). */
export interface KvCheck {
  readonly key: KvKey;
  readonly versionstamp: string | null;
}

export type KvCommit = { ok: true; versionstamp: string } | { ok: false };

export interface KvEnqueueOptions {
  delay?: number;
}

/** One atomic write: every check holds and every mutation is made, or nothing is (`ok: false`). */
export interface KvAtomic {
  check(...checks: KvCheck[]): KvAtomic;
  set(key: KvKey, value: unknown, options?: { expireIn?: number }): KvAtomic;
  delete(key: KvKey): KvAtomic;
  enqueue(value: unknown, options?: KvEnqueueOptions): KvAtomic;
  commit(): Promise<KvCommit>;
}

/** A Deno.Kv (Deno.openKv()) as these stores use it. */
export interface Kv {
  get(key: KvKey): Promise<KvEntryMaybe>;
  getMany(keys: readonly KvKey[]): Promise<KvEntryMaybe[]>;
  atomic(): KvAtomic;
  enqueue(value: unknown, options?: KvEnqueueOptions): Promise<unknown>;
  /** The entries whose keys start with `prefix`, in key order. */
  list(selector: { prefix: KvKey }): AsyncIterable<KvEntryMaybe>;
  /** Calls `handler` for each queue message; resolves when the KV is closed. */
  listenQueue(handler: (message: unknown) => Promise<void> | void): Promise<void>;
}

/** Every key of the proxy's stores starts with this part. */
export const KEY_ROOT = "edge-proxy";

/**
 * Atomic writes a store makes for one call before it gives up: a write is retried only when another
 * writer changed the key in between, so a call loses this many races only under a storm of writes.
 */
export const MAX_RACES = 16;

/**
 * KV deletes an entry by itself this long after the entry's own expiry. KV's expiry is lazy and
 * runs on the clock of whichever process collects: the stores compare their own expiry with their
 * clock, and this margin keeps a process whose clock is a little behind from losing an entry early.
 */
export const EXPIRY_GRACE_MS = 60_000;

/** Checks `value` is a string of 1 to `max` characters; the error names `field`. */
export function checkText(value: unknown, field: string, max: number): asserts value is string {
  if (typeof value !== "string" || value.length === 0 || value.length > max) {
    throw new TypeError(`${field}: needs 1 to ${max} characters`);
  }
}

/** Checks `value` is a whole number from `min` to `max`; the error names `field` and its unit. */
export function checkWhole(
  value: unknown,
  field: string,
  min: number,
  max: number,
): asserts value is number {
  if (!Number.isSafeInteger(value) || (value as number) < min || (value as number) > max) {
    throw new TypeError(`${field}: needs a whole number from ${min} to ${max}`);
  }
}

/** A short random pause after a lost race, longer after each, so writers racing spread out. */
function afterLostRace(race: number): Promise<void> {
  const ms = Math.random() * 2 ** Math.min(race, 6);
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** What an attempt of `raced` answers when another writer changed what it read. */
export const LOST = Symbol("lost race");

/**
 * Whether KV's SQLite refused a transaction because another connection (another handle or process
 * on the same file) was writing: nothing was written, and the attempt may be made again.
 */
function isBusy(error: unknown): boolean {
  return error instanceof Error && /\bdatabase is (locked|busy)\b/i.test(error.message);
}

/**
 * Runs `attempt` (a read and an atomic write checking what it read) until it answers something
 * other than LOST, at most MAX_RACES times with a pause after each; a write SQLite refused while
 * another was writing counts as a lost race. Then the store is busy (503).
 */
export async function raced<T>(store: string, attempt: () => Promise<T | typeof LOST>): Promise<T> {
  for (let race = 0; race < MAX_RACES; race++) {
    let result: T | typeof LOST;
    try {
      result = await attempt();
    } catch (error) {
      if (!isBusy(error)) throw error;
      result = LOST;
    }
    if (result !== LOST) return result;
    await afterLostRace(race);
  }
  throw storeBusy(store);
}

/** A store that lost MAX_RACES races in a row: 503, retryable. */
export function storeBusy(store: string): ProblemError {
  return new ProblemError({
    kind: "unavailable",
    code: "STORE_BUSY",
    detail: `the ${store} is busy with other writes; retry`,
    retryable: true,
  });
}

/** KV's own expiry for an entry that counts until `untilMs`: its remaining time plus the grace. */
export function expireIn(untilMs: number, now: number): number {
  return Math.max(1, untilMs - now) + EXPIRY_GRACE_MS;
}
