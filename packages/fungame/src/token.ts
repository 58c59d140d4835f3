// FunGame bearer tokens: syntax checks, unverified inspection for deny-list keys, HS256 verification.
import { type Clock, fromBase64Url, systemClock, toHex, utf8Decode } from "@x/core-signing";
import { jwtVerify } from "jose";
import {
  JOSEAlgNotAllowed,
  JOSEError,
  JWSSignatureVerificationFailed,
  JWTClaimValidationFailed,
  JWTExpired,
} from "jose/errors";
import { FunGameError, invalidInput } from "./errors.ts";

/** FunGame's `Jwt:Issuer` in the published server configuration. */
export const DEFAULT_ISSUER = "FunGame";
/** FunGame's `Jwt:Audience` in the published server configuration. */
export const DEFAULT_AUDIENCE = "FunGame Web API";
/** A JWT longer than this is refused: real FunGame tokens are about 300 characters. */
export const MAX_TOKEN_LENGTH = 8192;

const SEGMENT = /^[A-Za-z0-9_-]+$/;

/**
 * Checks that `token` can travel in `Authorization: Bearer <token>`: a non-empty string of three
 * base64url segments, no CR or LF, at most MAX_TOKEN_LENGTH characters. Throws an `invalid_request`
 * FunGameError naming `field`; the token itself never appears in the message.
 */
export function checkBearerToken(token: unknown, field = "bearerToken"): string {
  if (typeof token !== "string") throw invalidInput(field, `must be a string, got ${typeof token}`);
  if (token.length === 0) throw invalidInput(field, "must not be empty");
  if (token.includes("\r") || token.includes("\n")) {
    throw invalidInput(field, "must not contain CR or LF");
  }
  if (token.length > MAX_TOKEN_LENGTH) {
    throw invalidInput(
      field,
      `is ${token.length} characters, at most ${MAX_TOKEN_LENGTH} accepted`,
    );
  }
  if (/^bearer\s/i.test(token)) {
    throw invalidInput(field, 'must be the bare JWT, without the "Bearer " prefix');
  }
  const segments = token.split(".");
  if (segments.length !== 3) {
    throw invalidInput(
      field,
      `must be a JWT of three base64url segments separated by dots, got ${segments.length} segment(s)`,
    );
  }
  segments.forEach((segment, index) => {
    if (!SEGMENT.test(segment) || segment.length % 4 === 1) {
      const part = ["header", "payload", "signature"][index];
      throw invalidInput(field, `the ${part} segment is not base64url`);
    }
  });
  return token;
}

/** The claims of a FunGame token that matter for logout and deny-lists; absent claims are undefined. */
export interface TokenClaims {
  /** The username (FunGame reads it as the name identifier). */
  sub: string | undefined;
  /** The token's id, a GUID: the deny-list key. */
  jti: string | undefined;
  /** Expiry, seconds since the epoch: how long a deny-list must remember the token. */
  exp: number | undefined;
  /** Issue time, seconds since the epoch; FunGame's own server does not set it. */
  iat: number | undefined;
}

function malformed(field: string, message: string, cause?: unknown): FunGameError {
  return new FunGameError({
    code: "MALFORMED_TOKEN",
    kind: "invalid_request",
    field,
    message: `${field}: ${message}`,
    cause,
  });
}

function decodeSegment(segment: string, part: string, field: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(utf8Decode(fromBase64Url(segment)));
  } catch (cause) {
    throw malformed(field, `the ${part} segment is not base64url-encoded JSON`, cause);
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw malformed(field, `the ${part} segment is not a JSON object`);
  }
  return value as Record<string, unknown>;
}

function pickClaims(payload: Record<string, unknown>, field: string): TokenClaims {
  const text = (name: string): string | undefined => {
    const value = payload[name];
    if (value === undefined) return undefined;
    if (typeof value !== "string") throw malformed(field, `claim "${name}" is not a string`);
    return value;
  };
  const seconds = (name: string): number | undefined => {
    const value = payload[name];
    if (value === undefined) return undefined;
    if (typeof value !== "number" || !Number.isFinite(value)) {
      throw malformed(field, `claim "${name}" is not a number of seconds`);
    }
    return value;
  };
  return { sub: text("sub"), jti: text("jti"), exp: seconds("exp"), iat: seconds("iat") };
}

/**
 * Reads `sub`, `jti`, `exp` and `iat` WITHOUT verifying the signature: for deny-list keys and
 * expiry only, never to decide that a caller is who the token says. Throws an `invalid_request`
 * FunGameError (field `jwt`) when the token is not a JWT with a JSON header and payload.
 */
export function inspectToken(jwt: string): TokenClaims {
  const token = checkBearerToken(jwt, "jwt");
  const [header, payload] = token.split(".") as [string, string, string];
  decodeSegment(header, "header", "jwt");
  return pickClaims(decodeSegment(payload, "payload", "jwt"), "jwt");
}

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
