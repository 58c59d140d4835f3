// Test-only token forging with node:crypto, an oracle independent of jose and of the package.
import { createHmac, generateKeyPairSync, sign } from "node:crypto";

export function b64url(value: unknown): string {
  const text = typeof value === "string" ? value : JSON.stringify(value);
  return Buffer.from(text, "utf8").toString("base64url");
}

/** A JWS signed with HMAC over `header.payload`, any HMAC algorithm, key as UTF-8. */
export function hmacToken(
  payload: Record<string, unknown>,
  key: string,
  alg: "HS256" | "HS384" | "HS512" = "HS256",
  header: Record<string, unknown> = {},
): string {
  const input = `${b64url({ alg, typ: "JWT", ...header })}.${b64url(payload)}`;
  const hash = { HS256: "sha256", HS384: "sha384", HS512: "sha512" }[alg];
  const signature = createHmac(hash, Buffer.from(key, "utf8")).update(input).digest("base64url");
  return `${input}.${signature}`;
}

/** An unsecured JWT (`alg: none`) with a dummy signature segment, so it passes syntax checks. */
export function noneToken(payload: Record<string, unknown>, signature = "AA"): string {
  return `${b64url({ alg: "none", typ: "JWT" })}.${b64url(payload)}.${signature}`;
}

/** An RS256 token: a real signature, from an algorithm FunGame never uses. */
export function rs256Token(payload: Record<string, unknown>): string {
  const { privateKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
  const input = `${b64url({ alg: "RS256", typ: "JWT" })}.${b64url(payload)}`;
  return `${input}.${sign("sha256", Buffer.from(input), privateKey).toString("base64url")}`;
}

/** Checks an HS256 signature the way FunGame's server would, with node:crypto. */
export function hs256Valid(token: string, key: string): boolean {
  const [header, payload, signature] = token.split(".");
  const expected = createHmac("sha256", Buffer.from(key, "utf8"))
    .update(`${header}.${payload}`)
    .digest("base64url");
  return signature === expected;
}

export function decodePart(token: string, index: 0 | 1): Record<string, unknown> {
  const part = token.split(".")[index] ?? "";
  return JSON.parse(Buffer.from(part, "base64url").toString("utf8")) as Record<string, unknown>;
}

export const KEY = "test-jwt-key-for-fungame-0123456789abcdef";
export const OTHER_KEY = "another-jwt-key-for-fungame-0123456789ab";
export const T0 = Date.UTC(2025, 2, 23, 11, 47, 43);
export const T0_SEC: number = Math.floor(T0 / 1000);

/** FunGame's real claim set for `sub`, issued at T0 (or `at`, seconds). */
export function fungameClaims(
  sub = "alice",
  at: number = T0_SEC,
  extra: Record<string, unknown> = {},
): Record<string, unknown> {
  return {
    sub,
    jti: "5f0c2a8e-3c1b-4f43-9d7e-2b7a1c0e9f11",
    exp: at + 1800,
    iss: "FunGame",
    aud: "FunGame Web API",
    ...extra,
  };
}
