// The seen-set of eBET login notifications in memory: each key held by one request's claim.
// For tests, demos and single-process entries: it forgets everything when the process stops.
import type { ReplayGuard } from "../../ports.ts";
import { EBET_CALLBACK_WINDOW_MS } from "../../replay.ts";

/** Keys remembered at once; beyond it the oldest key is forgotten. */
export const DEFAULT_MAX_REPLAY_KEYS = 100_000;

/**
 * The guard of one process (Bun, Deno, Node; a Worker without the Durable Object): a map of key
 * to claim in insertion order, nearly expiry order as holds rarely differ. Expired keys at its
 * head are dropped on every claim; past `maxKeys` the oldest key is dropped too.
 */
export class MemoryReplayGuard implements ReplayGuard {
  readonly #now: () => number;
  readonly #windowMs: number;
  readonly #maxKeys: number;
  readonly #seen = new Map<string, { owner: string; exp: number }>();

  constructor(options: { now?: () => number; windowMs?: number; maxKeys?: number } = {}) {
    this.#now = options.now ?? (() => Date.now());
    this.#windowMs = options.windowMs ?? EBET_CALLBACK_WINDOW_MS;
    this.#maxKeys = Math.max(1, options.maxKeys ?? DEFAULT_MAX_REPLAY_KEYS);
  }

  /** Keys held now, expired ones included until the next claim. */
  get size(): number {
    return this.#seen.size;
  }

  /** Claims `key`; `holdMs` defaults to the window (and `owner` to none, for tests of the set). */
  async claim(key: string, owner = "", holdMs = this.#windowMs): Promise<boolean> {
    const now = this.#now();
    for (const [held, claim] of this.#seen) {
      if (claim.exp > now) break;
      this.#seen.delete(held);
    }
    if (await this.heldMs(key)) return false;
    this.#seen.delete(key);
    this.#seen.set(key, { owner, exp: now + holdMs });
    while (this.#seen.size > this.#maxKeys) {
      this.#seen.delete(this.#seen.keys().next().value as string);
    }
    return true;
  }

  async release(key: string, owner = ""): Promise<void> {
    if (this.#seen.get(key)?.owner === owner) this.#seen.delete(key);
  }

  async heldMs(key: string): Promise<number> {
    return Math.max(0, (this.#seen.get(key)?.exp ?? 0) - this.#now());
  }
}
