// The identity provider's key set (PROXY_JWKS_URL): downloaded through the proxy's fetch within a
// deadline and a size bound, kept for 10 minutes (an hour while the provider cannot be reached),
// downloaded again for a key id it lacks at most every 30 s, and the one key a token's header picks.
import type { FetchLike } from "@x/core-signing";
import type { JWK, JWTHeaderParameters } from "jose";
import { readBounded } from "./http/bounded.ts";

/** A JWKS is a few keys: a download larger than this is refused, never buffered whole. */
export const MAX_JWKS_BYTES = 64 * 1024;
/** How long a downloaded key set is used before it is downloaded again. */
const MAX_AGE_MS = 600_000;
/** The least time between two downloads, however many unknown key ids arrive. */
const COOLDOWN_MS = 30_000;
/** How long a key set is still used when a new one cannot be downloaded. */
const STALE_MS = 3_600_000;

/** The key set could not be had (network, deadline, status, size, not a JWKS): the proxy's outage. */
export class JwksUnavailable extends Error {
  override name = "JwksUnavailable";
}

/** No key, or more than one, fits the token's header: the caller's token is refused. */
export class JwksNoKey extends Error {
  override name = "JwksNoKey";
  readonly code = "ERR_JWKS_NO_MATCHING_KEY";
}

/** The key type and curve an algorithm needs. */
function keyTypeOf(alg: string): { kty: string; crv?: string } | undefined {
  if (/^(RS|PS)(256|384|512)$/.test(alg)) return { kty: "RSA" };
  const curve = { ES256: "P-256", ES384: "P-384", ES512: "P-521" }[alg];
  if (curve !== undefined) return { kty: "EC", crv: curve };
  if (alg === "EdDSA" || alg === "Ed25519") return { kty: "OKP", crv: "Ed25519" };
  return undefined;
}

/** Whether `jwk` may verify a token of `header`: its kid, type, curve, algorithm and use agree. */
function fits(jwk: JWK, header: JWTHeaderParameters): boolean {
  const wanted = keyTypeOf(header.alg);
  if (wanted === undefined || jwk.kty !== wanted.kty) return false;
  if (wanted.crv !== undefined && jwk.crv !== wanted.crv) return false;
  if (typeof header.kid === "string" && jwk.kid !== header.kid) return false;
  if (typeof jwk.alg === "string" && jwk.alg !== header.alg) return false;
  if (typeof jwk.use === "string" && jwk.use !== "sig") return false;
  return !Array.isArray(jwk.key_ops) || jwk.key_ops.includes("verify");
}

/**
 * The key resolver `jwtVerify` takes for a remote key set. Each request downloads on its own (on
 * Workers a download begun by another request must not be awaited: that request may end first).
 * Downloads are at least 30 s apart when a kid is missing or the last one failed; a set older than
 * 10 minutes is downloaded again, and still used for up to an hour if that fails.
 */
export function remoteKeySet(
  url: string,
  deps: { fetch: FetchLike; now: () => number; timeoutMs: number },
): (header: JWTHeaderParameters) => Promise<JWK> {
  let keys: JWK[] | undefined;
  let fetchedAt = Number.NEGATIVE_INFINITY;
  let triedAt = Number.NEGATIVE_INFINITY;

  const download = async (): Promise<JWK[]> => {
    triedAt = deps.now();
    const signal = AbortSignal.timeout(deps.timeoutMs);
    let set: unknown;
    try {
      const response = await deps.fetch(
        new Request(url, { headers: { accept: "application/json" }, redirect: "manual", signal }),
      );
      const text = await readBounded(response, MAX_JWKS_BYTES);
      if (response.status !== 200) throw new Error(`HTTP ${response.status}`);
      set = JSON.parse(text);
    } catch (error) {
      throw new JwksUnavailable("the key set could not be downloaded", { cause: error });
    }
    const listed = (set as { keys?: unknown } | null)?.keys;
    if (!Array.isArray(listed) || !listed.every((key) => typeof key === "object" && key)) {
      throw new JwksUnavailable("the download is not a key set");
    }
    keys = listed as JWK[];
    fetchedAt = deps.now();
    return keys;
  };

  /** The key set: the one held while fresh, else a new download, else the held one while not stale. */
  const current = async (): Promise<JWK[]> => {
    const age = deps.now() - fetchedAt;
    if (keys !== undefined && age < MAX_AGE_MS) return keys;
    if (keys !== undefined && deps.now() - triedAt < COOLDOWN_MS) return keys;
    try {
      return await download();
    } catch (error) {
      if (keys !== undefined && age < STALE_MS) return keys;
      throw error;
    }
  };

  return async (header) => {
    if (keys === undefined && deps.now() - triedAt < COOLDOWN_MS) {
      throw new JwksUnavailable("the key set could not be downloaded moments ago");
    }
    let found = (await current()).filter((jwk) => fits(jwk, header));
    if (found.length === 0 && deps.now() - triedAt >= COOLDOWN_MS) {
      found = (await download()).filter((jwk) => fits(jwk, header));
    }
    if (found.length !== 1) throw new JwksNoKey("no single key of the set fits the token");
    return found[0] as JWK;
  };
}
