// Caller auth for the eBET routes: an API key compared by SHA-256 digest in constant time, or a user JWT.
import { type FetchLike, timingSafeEqual, toHex } from "@x/core-signing";
import { type JWTVerifyGetKey, type JWTVerifyOptions, jwtVerify } from "jose";
import type { CallerAuthConfig } from "./config.ts";
import { JwksUnavailable, remoteKeySet } from "./jwks.ts";
import { ProblemError } from "./problem.ts";

export { MAX_JWKS_BYTES } from "./jwks.ts";

/**
 * Who the caller proved to be: an operator's API key (any user; `key` is its SHA-256 in hex), or a
 * user token for one subject of one issuer.
 */
export type Principal =
  | { via: "api-key"; key: string }
  | { via: "jwt"; subject: string; issuer: string | undefined };

/**
 * The owner of what a principal creates (a logout job): a SHA-256 in hex of the API key's digest,
 * or of the token's issuer and subject. Never the credential itself.
 */
export async function ownerOf(principal: Principal): Promise<string> {
  const name =
    principal.via === "api-key"
      ? `api-key:${principal.key}`
      : `jwt:${JSON.stringify([principal.issuer ?? null, principal.subject])}`;
  return digestHex(name);
}

/** SHA-256 of a text in hex: how owners and anonymous callers are kept, never as they were. */
export async function digestHex(text: string): Promise<string> {
  return toHex(await sha256(text));
}

/** Algorithms accepted from a JWKS: asymmetric only, so a public key can never act as an HMAC secret. */
export const ASYMMETRIC_ALGORITHMS = [
  "RS256",
  "RS384",
  "RS512",
  "PS256",
  "PS384",
  "PS512",
  "ES256",
  "ES384",
  "ES512",
  "EdDSA",
  "Ed25519",
];

const CLOCK_TOLERANCE_SEC = 30;
const MAX_CREDENTIAL_LENGTH = 8192;

export interface CallerAuthDeps {
  fetch: FetchLike;
  now: () => number;
  /** Deadline of a JWKS download, in ms. */
  timeoutMs: number;
}

function unauthorized(vendor: string, code: string, detail: string, presented: boolean) {
  return new ProblemError({
    kind: "unauthorized",
    code,
    detail,
    vendor,
    headers: {
      "www-authenticate": presented
        ? 'Bearer realm="edge-proxy", error="invalid_token"'
        : 'Bearer realm="edge-proxy"',
    },
  });
}

/** The bearer credential of an Authorization header, or undefined when there is none. */
export function bearerCredential(header: string | undefined | null): string | undefined {
  if (header === undefined || header === null || header.trim() === "") return undefined;
  const match = /^Bearer +(\S+) *$/i.exec(header);
  return match?.[1];
}

/** SHA-256 of a text's UTF-8 bytes. */
export async function sha256(text: string): Promise<Uint8Array> {
  return new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text)));
}

/**
 * Whether `digest` is one of `accepted`. Every one is compared, so the time taken does not depend
 * on which one (if any) matches.
 */
export function digestListed(digest: Uint8Array, accepted: readonly Uint8Array[]): boolean {
  let matched = false;
  for (const candidate of accepted) {
    const equal = timingSafeEqual(digest, candidate);
    matched = matched || equal;
  }
  return matched;
}

function jwtFailure(vendor: string, error: unknown): ProblemError {
  const code =
    typeof error === "object" && error !== null ? (error as { code?: unknown }).code : "";
  switch (code) {
    case "ERR_JWT_EXPIRED":
      return unauthorized(vendor, "TOKEN_EXPIRED", "the user token has expired", true);
    case "ERR_JWT_CLAIM_VALIDATION_FAILED": {
      const claim = (error as { claim?: unknown }).claim;
      return unauthorized(
        vendor,
        "TOKEN_CLAIM_INVALID",
        `the user token's ${typeof claim === "string" ? `"${claim}" claim` : "claims"} did not validate`,
        true,
      );
    }
    default:
      return unauthorized(
        vendor,
        "INVALID_CREDENTIALS",
        "the bearer credential is neither an accepted API key nor a valid user token",
        true,
      );
  }
}

function jwksUnavailable(vendor: string): ProblemError {
  return new ProblemError({
    kind: "unavailable",
    code: "JWKS_UNAVAILABLE",
    detail: "the keys to verify user tokens (PROXY_JWKS_URL) could not be fetched",
    vendor,
    retryable: true,
  });
}

/** Verifies callers of the eBET routes. Holds the JWKS key set (src/jwks.ts) for the app's life. */
export class CallerAuth {
  readonly #digests: Uint8Array[];
  readonly #now: () => number;
  readonly #key: Uint8Array | JWTVerifyGetKey | undefined;
  readonly #algorithms: string[];
  readonly #issuer: string | undefined;
  readonly #audience: string | undefined;

  constructor(config: CallerAuthConfig, deps: CallerAuthDeps) {
    this.#digests = config.apiKeyDigests;
    this.#now = deps.now;
    this.#issuer = config.jwtIssuer;
    this.#audience = config.jwtAudience;
    if (config.jwksUrl !== undefined) {
      this.#key = remoteKeySet(config.jwksUrl, deps) as JWTVerifyGetKey;
      this.#algorithms = ASYMMETRIC_ALGORITHMS;
    } else if (config.jwtSecret !== undefined) {
      this.#key = new TextEncoder().encode(config.jwtSecret);
      this.#algorithms = ["HS256"];
    } else {
      this.#key = undefined;
      this.#algorithms = [];
    }
  }

  /** Checks the Authorization header; throws a 401 problem (or 503 when the JWKS is unreachable). */
  async authenticate(header: string | undefined | null, vendor: string): Promise<Principal> {
    if (header === undefined || header === null || header.trim() === "") {
      throw unauthorized(
        vendor,
        "MISSING_CREDENTIALS",
        "this route needs Authorization: Bearer <API key or user token>",
        false,
      );
    }
    const credential = bearerCredential(header);
    if (credential === undefined || credential.length > MAX_CREDENTIAL_LENGTH) {
      throw unauthorized(
        vendor,
        "INVALID_CREDENTIALS",
        "the Authorization header must be Bearer <API key or user token>",
        true,
      );
    }
    if (this.#digests.length > 0) {
      const digest = await sha256(credential);
      if (this.#matches(digest)) return { via: "api-key", key: toHex(digest) };
    }
    if (this.#key !== undefined && credential.split(".").length === 3) {
      return { via: "jwt", ...(await this.#verifyJwt(credential, vendor)) };
    }
    throw unauthorized(
      vendor,
      "INVALID_CREDENTIALS",
      "the bearer credential is neither an accepted API key nor a valid user token",
      true,
    );
  }

  /**
   * Who the Authorization header proves the caller to be, for the rate limit: `api-key:<digest>`
   * for an accepted API key, `subject:<sub>` for a valid user token, else undefined. Never throws.
   */
  async identify(header: string | undefined | null): Promise<string | undefined> {
    if (this.#digests.length === 0 && this.#key === undefined) return undefined;
    const credential = bearerCredential(header);
    if (credential === undefined || credential.length > MAX_CREDENTIAL_LENGTH) return undefined;
    try {
      const digest = await sha256(credential);
      if (this.#matches(digest)) return `api-key:${toHex(digest).slice(0, 32)}`;
      if (this.#key === undefined || credential.split(".").length !== 3) return undefined;
      return `subject:${(await this.#verifyJwt(credential, "")).subject.slice(0, 256)}`;
    } catch {
      return undefined;
    }
  }

  /** A user token may act only for its own subject; an API key for anyone. Throws a 403 problem. */
  authorize(principal: Principal, username: string, field: string, vendor: string): void {
    if (principal.via === "api-key" || principal.subject === username) return;
    throw new ProblemError({
      kind: "forbidden",
      code: "SUBJECT_MISMATCH",
      detail: `the user token's subject is not the ${field} of the request`,
      vendor,
      field,
      headers: { "www-authenticate": 'Bearer realm="edge-proxy", error="insufficient_scope"' },
    });
  }

  #matches(digest: Uint8Array): boolean {
    return digestListed(digest, this.#digests);
  }

  async #verifyJwt(
    token: string,
    vendor: string,
  ): Promise<{ subject: string; issuer: string | undefined }> {
    const options: JWTVerifyOptions = {
      algorithms: this.#algorithms,
      currentDate: new Date(this.#now()),
      clockTolerance: CLOCK_TOLERANCE_SEC,
      requiredClaims: ["sub", "exp"],
      ...(this.#issuer === undefined ? {} : { issuer: this.#issuer }),
      ...(this.#audience === undefined ? {} : { audience: this.#audience }),
    };
    let subject: unknown;
    let issuer: unknown;
    try {
      const key = this.#key;
      const verified =
        typeof key === "function"
          ? await jwtVerify(token, key, options)
          : await jwtVerify(token, key as Uint8Array, options);
      subject = verified.payload.sub;
      issuer = verified.payload.iss;
    } catch (error) {
      if (error instanceof ProblemError) throw error;
      const code = (error as { code?: unknown } | null)?.code;
      // A JWKS download that failed (network, deadline, status, size, not a JWKS), or a key of it
      // that cannot be used, is our outage, not the caller's fault.
      if (
        error instanceof JwksUnavailable ||
        (typeof this.#key === "function" && typeof code !== "string")
      ) {
        throw jwksUnavailable(vendor);
      }
      throw jwtFailure(vendor, error);
    }
    if (typeof subject !== "string" || subject === "") {
      throw unauthorized(vendor, "TOKEN_CLAIM_INVALID", 'the user token has no "sub" claim', true);
    }
    return { subject, issuer: typeof issuer === "string" ? issuer : undefined };
  }
}
