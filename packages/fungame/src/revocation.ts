// Deny-lists of revoked token ids: the RevocationList contract and a bounded in-memory implementation.
import { type Clock, systemClock } from "@x/core-signing";
import { FunGameError, invalidInput } from "./errors.ts";
import { inspectToken, type TokenClaims } from "./token.ts";

/**
 * Where revoked token ids (`jti`) are remembered until the token would expire anyway. FunGame keeps
 * its own list in process memory, lost on restart and not shared between instances; an edge
 * deny-list behind this interface closes that hole. Both methods may return promises, so a store
 * (a Durable Object, a KV namespace, Redis) can sit behind it.
 */
export interface RevocationList {
  /** Remembers `jti` as revoked until `expiresAt`, in seconds since the epoch (the token's `exp`). */
  add(jti: string, expiresAt: number): void | Promise<void>;
  /** Whether `jti` is revoked and not yet past its expiry. */
  has(jti: string): boolean | Promise<boolean>;
}

/** Options of MemoryRevocationList. */
export interface MemoryRevocationListOptions {
  /** At most this many entries are kept; defaults to 100 000. */
  maxEntries?: number;
  /** Clock in milliseconds since the epoch; defaults to Date.now. */
  now?: Clock;
  /**
   * Keep each entry this many seconds past its `exp`; defaults to 0. FunGame's server validates
   * tokens with ASP.NET's default clock skew of 300 s, so a list that must stop a revoked token
   * even in that window sets 300.
   */
  retainAfterExpirySec?: number;
}

export const DEFAULT_MAX_REVOCATIONS = 100_000;
const MAX_JTI_LENGTH = 256;

/**
 * A RevocationList in this isolate's memory: entries expire at `exp` (plus `retainAfterExpirySec`)
 * and the list never holds more than `maxEntries`. When it is full of live entries, the entry that
 * expires soonest is dropped (counted in `evictions`), so memory stays bounded under any load.
 */
export class MemoryRevocationList implements RevocationList {
  readonly maxEntries: number;
  readonly #now: Clock;
  readonly #retainMs: number;
  /** jti -> the moment (ms) the entry may be forgotten. */
  readonly #entries = new Map<string, number>();
  #evictions = 0;

  constructor(options: MemoryRevocationListOptions = {}) {
    const maxEntries = options.maxEntries ?? DEFAULT_MAX_REVOCATIONS;
    if (!Number.isInteger(maxEntries) || maxEntries < 1) {
      throw invalidInput("maxEntries", "must be a whole number of at least 1");
    }
    const retain = options.retainAfterExpirySec ?? 0;
    if (typeof retain !== "number" || !Number.isFinite(retain) || retain < 0) {
      throw invalidInput("retainAfterExpirySec", "must be a non-negative number of seconds");
    }
    const now = options.now ?? systemClock;
    if (typeof now !== "function") throw invalidInput("now", "must be a function returning ms");
    this.maxEntries = maxEntries;
    this.#now = now;
    this.#retainMs = retain * 1000;
  }

  add(jti: string, expiresAt: number): void {
    checkJti(jti);
    if (typeof expiresAt !== "number" || !Number.isFinite(expiresAt)) {
      throw invalidInput("expiresAt", "must be a number of seconds since the epoch, like exp");
    }
    const forgetAt = expiresAt * 1000 + this.#retainMs;
    const now = this.#now();
    if (forgetAt <= now) return;
    const known = this.#entries.get(jti);
    if (known !== undefined) {
      if (forgetAt > known) this.#entries.set(jti, forgetAt);
      return;
    }
    if (this.#entries.size >= this.maxEntries) this.#makeRoom(now);
    this.#entries.set(jti, forgetAt);
  }

  has(jti: string): boolean {
    checkJti(jti);
    const forgetAt = this.#entries.get(jti);
    if (forgetAt === undefined) return false;
    if (forgetAt <= this.#now()) {
      this.#entries.delete(jti);
      return false;
    }
    return true;
  }

  /** Entries held, live or not yet purged. */
  get size(): number {
    return this.#entries.size;
  }

  /** Live entries dropped because the list was full. */
  get evictions(): number {
    return this.#evictions;
  }

  /** Forgets every entry that has expired; returns how many went. */
  purge(): number {
    const now = this.#now();
    let removed = 0;
    for (const [jti, forgetAt] of this.#entries) {
      if (forgetAt <= now) {
        this.#entries.delete(jti);
        removed++;
      }
    }
    return removed;
  }

  clear(): void {
    this.#entries.clear();
  }

  #makeRoom(now: number): void {
    let soonest: string | undefined;
    let soonestAt = Number.POSITIVE_INFINITY;
    for (const [jti, forgetAt] of this.#entries) {
      if (forgetAt <= now) {
        this.#entries.delete(jti);
        continue;
      }
      if (forgetAt < soonestAt) {
        soonestAt = forgetAt;
        soonest = jti;
      }
    }
    if (this.#entries.size >= this.maxEntries && soonest !== undefined) {
      this.#entries.delete(soonest);
      this.#evictions++;
    }
  }
}

function checkJti(jti: unknown): asserts jti is string {
  if (typeof jti !== "string" || jti.length === 0) {
    throw invalidInput("jti", "must be a non-empty string");
  }
  if (jti.length > MAX_JTI_LENGTH) {
    throw invalidInput("jti", `must be at most ${MAX_JTI_LENGTH} characters`);
  }
}

/**
 * Adds a token to `list` under its `jti` until its `exp`, read without verifying (verify first
 * where the token comes from a caller). Resolves to the claims it used.
 */
export async function revokeToken(list: RevocationList, jwt: string): Promise<TokenClaims> {
  const claims = inspectToken(jwt);
  if (claims.jti === undefined || claims.exp === undefined) {
    throw new FunGameError({
      code: "MISSING_CLAIM",
      kind: "invalid_request",
      field: "jwt",
      message: `jwt: has no ${claims.jti === undefined ? "jti" : "exp"} claim to key a deny-list entry`,
    });
  }
  await list.add(claims.jti, claims.exp);
  return claims;
}

/** Whether `list` holds the token's `jti`; a token without `jti` cannot be listed and is not. */
export async function isTokenRevoked(list: RevocationList, jwt: string): Promise<boolean> {
  const { jti } = inspectToken(jwt);
  return jti === undefined ? false : await list.has(jti);
}
