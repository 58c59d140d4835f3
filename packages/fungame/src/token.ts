// FunGame bearer tokens: syntax checks and unverified inspection for deny-list keys (verification: verify.ts).
import { fromBase64Url, utf8Decode } from "@x/core-signing";
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

/** @internal A JWT segment as a JSON object; anything else is a MALFORMED_TOKEN error naming `field`. */
export function decodeSegment(
  segment: string,
  part: string,
  field: string,
): Record<string, unknown> {
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

/** @internal The claims of a payload, each of the right type. */
export function pickClaims(payload: Record<string, unknown>, field: string): TokenClaims {
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
