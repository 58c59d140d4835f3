// HS256 verification of FunGame tokens with jose, as the server does: the `@x/fungame/verify` entry.
import { type Clock, systemClock, toHex } from "@x/core-signing";
import { jwtVerify } from "jose";
import {
  JOSEAlgNotAllowed,
  JOSEError,
  JWSSignatureVerificationFailed,
  JWTClaimValidationFailed,
  JWTExpired,
} from "jose/errors";
import { FunGameError, invalidInput } from "./errors.ts";
import {
  checkBearerToken,
  DEFAULT_AUDIENCE,
  DEFAULT_ISSUER,
  decodeSegment,
  pickClaims,
  type TokenClaims,
} from "./token.ts";

/** Options of verifyToken. */
export interface VerifyTokenOptions {
  /** The server's `Jwt:Key`: a string (used as its UTF-8 bytes, as FunGame does) or raw bytes. */
  secret: string | Uint8Array;
  /** Expected `iss`; defaults to "FunGame". */
  issuer?: string;
  /** Expected `aud`; defaults to "FunGame Web API". */
  audience?: string;
  /** Clock in milliseconds since the epoch; defaults to Date.now. */
  now?: Clock;
  /** Leeway for `exp` (and `nbf`), in seconds; defaults to 0. */
  clockToleranceSec?: number;
}

/** A verified token: the claims verifyToken checked. `exp` is always present. */
export interface VerifiedToken extends TokenClaims {
  exp: number;
}

const MAX_CACHED_KEYS = 16;
const keyCache = new Map<string, Promise<CryptoKey>>();

/** Imports an HMAC-SHA-256 key once per key material and keeps it, so verification stays cheap. */
function hmacKey(secret: string | Uint8Array): Promise<CryptoKey> {
  const bytes = typeof secret === "string" ? new TextEncoder().encode(secret) : secret;
  const cacheKey = typeof secret === "string" ? `s:${secret}` : `b:${toHex(secret)}`;
  let key = keyCache.get(cacheKey);
  if (!key) {
    if (keyCache.size >= MAX_CACHED_KEYS) {
      const oldest = keyCache.keys().next().value;
      if (oldest !== undefined) keyCache.delete(oldest);
    }
    key = crypto.subtle.importKey(
      "raw",
      new Uint8Array(bytes),
      { name: "HMAC", hash: "SHA-256" },
      false,
      ["verify"],
    );
    keyCache.set(cacheKey, key);
  }
  return key;
}

function refused(code: string, message: string, cause?: unknown): FunGameError {
  return new FunGameError({ code, kind: "unauthorized", field: "jwt", message, cause });
}

function checkVerifyOptions(options: VerifyTokenOptions): {
  issuer: string;
  audience: string;
  now: Clock;
  tolerance: number;
} {
  if (typeof options !== "object" || options === null) {
    throw invalidInput("options", "must be an object with a secret");
  }
  const { secret } = options;
  if (typeof secret === "string") {
    if (secret.length === 0) throw invalidInput("secret", "must not be empty");
  } else if (secret instanceof Uint8Array) {
    if (secret.length === 0) throw invalidInput("secret", "must not be empty");
  } else {
    throw invalidInput("secret", "must be a string or a Uint8Array");
  }
  const issuer = options.issuer ?? DEFAULT_ISSUER;
  const audience = options.audience ?? DEFAULT_AUDIENCE;
  if (typeof issuer !== "string" || issuer.length === 0) {
    throw invalidInput("issuer", "must be a non-empty string");
  }
  if (typeof audience !== "string" || audience.length === 0) {
    throw invalidInput("audience", "must be a non-empty string");
  }
  const now = options.now ?? systemClock;
  if (typeof now !== "function") throw invalidInput("now", "must be a function returning ms");
  const tolerance = options.clockToleranceSec ?? 0;
  if (typeof tolerance !== "number" || !Number.isFinite(tolerance) || tolerance < 0) {
    throw invalidInput("clockToleranceSec", "must be a non-negative number of seconds");
  }
  return { issuer, audience, now, tolerance };
}

/**
 * Verifies a FunGame token as the server does: HS256 only (`none` and every other algorithm are
 * refused), signature with `secret`, `exp` required and not past, `iss` and `aud` as configured.
 * Resolves to the token's claims; rejects with an `unauthorized` FunGameError whose code says why:
 * TOKEN_ALGORITHM_REFUSED, TOKEN_BAD_SIGNATURE, TOKEN_EXPIRED, TOKEN_NOT_YET_VALID,
 * TOKEN_WRONG_ISSUER, TOKEN_WRONG_AUDIENCE, TOKEN_CLAIM_INVALID or MALFORMED_TOKEN.
 */
export async function verifyToken(
  jwt: string,
  options: VerifyTokenOptions,
): Promise<VerifiedToken> {
  const { issuer, audience, now, tolerance } = checkVerifyOptions(options);
  let token: string;
  let protectedHeader: Record<string, unknown>;
  try {
    token = checkBearerToken(jwt, "jwt");
    const [header, payload] = token.split(".") as [string, string, string];
    protectedHeader = decodeSegment(header, "header", "jwt");
    decodeSegment(payload, "payload", "jwt");
  } catch (error) {
    // A token that is not even a JWT is a refused credential here, not a caller's typo.
    if (error instanceof FunGameError) throw refused("MALFORMED_TOKEN", error.message, error);
    throw error;
  }
  if (protectedHeader.alg !== "HS256") {
    const alg = typeof protectedHeader.alg === "string" ? protectedHeader.alg : "no algorithm";
    throw refused(
      "TOKEN_ALGORITHM_REFUSED",
      `jwt: signed with ${alg.slice(0, 20)}, only HS256 is accepted`,
    );
  }
  const key = await hmacKey(options.secret);
  let verified: Record<string, unknown>;
  try {
    const result = await jwtVerify(token, key, {
      algorithms: ["HS256"],
      issuer,
      audience,
      currentDate: new Date(now()),
      clockTolerance: tolerance,
      requiredClaims: ["exp"],
    });
    verified = result.payload as Record<string, unknown>;
  } catch (error) {
    throw fromJoseError(error);
  }
  const claims = pickClaims(verified, "jwt");
  return { ...claims, exp: claims.exp as number };
}

function fromJoseError(error: unknown): FunGameError {
  if (error instanceof FunGameError) return error;
  if (error instanceof JWTExpired) {
    return refused("TOKEN_EXPIRED", "jwt: the token has expired", error);
  }
  if (error instanceof JWTClaimValidationFailed) {
    switch (error.claim) {
      case "iss":
        return refused("TOKEN_WRONG_ISSUER", "jwt: the token was issued by someone else", error);
      case "aud":
        return refused(
          "TOKEN_WRONG_AUDIENCE",
          "jwt: the token is meant for another audience",
          error,
        );
      case "nbf":
      case "iat":
        return refused(
          "TOKEN_NOT_YET_VALID",
          `jwt: the "${error.claim}" claim lies in the future`,
          error,
        );
      default:
        return refused(
          "TOKEN_CLAIM_INVALID",
          `jwt: the "${error.claim}" claim is missing or invalid`,
          error,
        );
    }
  }
  if (error instanceof JOSEAlgNotAllowed) {
    return refused("TOKEN_ALGORITHM_REFUSED", "jwt: only HS256 is accepted", error);
  }
  if (error instanceof JWSSignatureVerificationFailed) {
    return refused(
      "TOKEN_BAD_SIGNATURE",
      "jwt: the signature does not verify with this secret",
      error,
    );
  }
  if (error instanceof JOSEError) {
    return refused("MALFORMED_TOKEN", `jwt: not a usable token (${error.code})`, error);
  }
  return refused("MALFORMED_TOKEN", "jwt: not a usable token", error);
}
