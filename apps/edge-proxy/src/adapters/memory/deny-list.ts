// The FunGame deny-list in memory: recorded logouts and claims in this process (Bun, Deno, Node).
// For tests, demos and single-process entries: it forgets everything when the process stops.
import { MemoryRevocationList } from "@x/fungame";
import type { ClaimingDenyList, ClaimOutcome } from "../../ports.ts";

/** Logouts in flight held at most; a process never has nearly this many at once. */
export const MAX_MEMORY_CLAIMS = 10_000;

/**
 * A ClaimingDenyList in memory: recorded logouts in a bounded MemoryRevocationList, claims in a map
 * of jti to owner and lease end. Each method completes without yielding, so two claims of one token
 * cannot both succeed. Claims past their lease are dropped when the map is full.
 */
export class MemoryDenyList implements ClaimingDenyList {
  readonly #revoked: MemoryRevocationList;
  readonly #claims = new Map<string, { owner: string; until: number }>();
  readonly #now: () => number;
  readonly #maxClaims: number;

  constructor(options: { now?: () => number; maxEntries?: number; maxClaims?: number } = {}) {
    this.#now = options.now ?? (() => Date.now());
    this.#maxClaims = options.maxClaims ?? MAX_MEMORY_CLAIMS;
    this.#revoked = new MemoryRevocationList({
      now: this.#now,
      ...(options.maxEntries === undefined ? {} : { maxEntries: options.maxEntries }),
    });
  }

  /** Recorded logouts and claims held, expired ones included until they are dropped. */
  get size(): number {
    return this.#revoked.size + this.#claims.size;
  }

  add(jti: string, expiresAt: number): void {
    this.#revoked.add(jti, expiresAt);
    this.#claims.delete(jti);
  }

  has(jti: string): boolean {
    return this.#revoked.has(jti);
  }

  async claim(jti: string, claimId: string, leaseMs: number): Promise<ClaimOutcome> {
    if (typeof claimId !== "string" || claimId === "" || !(leaseMs > 0)) {
      throw new TypeError("a claim needs a claim id and a positive lease in ms");
    }
    if (this.#revoked.has(jti)) return "revoked";
    const now = this.#now();
    const held = this.#claims.get(jti);
    if (held !== undefined && held.owner !== claimId && held.until > now) return "pending";
    if (held === undefined && this.#claims.size >= this.#maxClaims) {
      for (const [key, claim] of this.#claims) if (claim.until <= now) this.#claims.delete(key);
      if (this.#claims.size >= this.#maxClaims) throw new RangeError("too many logouts in flight");
    }
    this.#claims.set(jti, { owner: claimId, until: now + leaseMs });
    return "claimed";
  }

  async release(jti: string, claimId: string): Promise<void> {
    if (this.#claims.get(jti)?.owner === claimId) this.#claims.delete(jti);
  }
}
