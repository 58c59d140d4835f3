// Checks of everything a caller hands in: refused before any request, with an error that names the field.
import type { TimestampUnit } from "@x/core-signing";
import { invalidEbetInput } from "./errors.ts";

/** eBET's default username rule: lower-case letters and digits. */
export const DEFAULT_USERNAME_PATTERN: RegExp = /^[a-z0-9]+$/;

/**
 * Characters no username may hold, whatever pattern is configured: the reserved characters of
 * RFC 3986 (gen-delims and sub-delims) and `%`, which starts a percent-escape.
 */
const RESERVED = /[:/?#[\]@!$&'()*+,;=%]/;

/** Whitespace and control characters, also never allowed in a username. */
const WHITESPACE_OR_CONTROL = /[\s\p{Cc}\p{Cf}]/u;

/** Checks a username: non-empty, no whitespace, no reserved character, no upper case, and `pattern`. */
export function checkUsername(
  value: unknown,
  pattern: RegExp = DEFAULT_USERNAME_PATTERN,
  field = "username",
): string {
  if (typeof value !== "string") throw invalidEbetInput(field, "must be a string");
  if (value.length === 0) throw invalidEbetInput(field, "must not be empty");
  const blank = WHITESPACE_OR_CONTROL.exec(value);
  if (blank) {
    throw invalidEbetInput(field, "must not contain whitespace or control characters");
  }
  const reserved = RESERVED.exec(value);
  if (reserved) {
    throw invalidEbetInput(
      field,
      `must not contain the HTTP reserved character ${JSON.stringify(reserved[0])}`,
    );
  }
  if (pattern === DEFAULT_USERNAME_PATTERN && /\p{Lu}/u.test(value)) {
    throw invalidEbetInput(
      field,
      "must not contain upper-case letters (eBET usernames are lower case)",
    );
  }
  pattern.lastIndex = 0;
  if (!pattern.test(value)) {
    throw invalidEbetInput(
      field,
      pattern === DEFAULT_USERNAME_PATTERN
        ? "must be lower-case letters a-z and digits only"
        : `does not match the configured username pattern ${String(pattern)}`,
    );
  }
  return value;
}

/** A channel id: a positive whole number. */
export function checkChannelId(value: unknown, field = "channelId"): number {
  if (typeof value !== "number" || !Number.isSafeInteger(value) || value < 1) {
    throw invalidEbetInput(field, `must be a positive integer, got ${describe(value)}`);
  }
  return value;
}

/** A sub-channel id: a whole number, 0 or more. */
export function checkSubChannelId(value: unknown, field = "subChannelId"): number {
  if (typeof value !== "number" || !Number.isSafeInteger(value) || value < 0) {
    throw invalidEbetInput(field, `must be a non-negative integer, got ${describe(value)}`);
  }
  return value;
}

/** An access token: any non-empty string. Its value never appears in an error. */
export function checkAccessToken(value: unknown, field = "accessToken"): string {
  if (typeof value !== "string") throw invalidEbetInput(field, "must be a string");
  if (value.length === 0) throw invalidEbetInput(field, "must not be empty");
  if (WHITESPACE_OR_CONTROL.test(value)) {
    throw invalidEbetInput(field, "must not contain whitespace or control characters");
  }
  return value;
}

/** A currency code such as "CNY": 1 to 16 letters, digits, `_` or `-`. */
export function checkCurrency(value: unknown, field = "currency"): string {
  if (typeof value !== "string" || !/^[A-Za-z0-9_-]{1,16}$/.test(value)) {
    throw invalidEbetInput(
      field,
      `must be a currency code of 1 to 16 letters or digits, got ${describe(value)}`,
    );
  }
  return value;
}

export function checkTimestampUnit(value: unknown, field = "timestampUnit"): TimestampUnit {
  if (value === undefined) return "s";
  if (value !== "s" && value !== "ms") {
    throw invalidEbetInput(field, `must be "s" or "ms", got ${describe(value)}`);
  }
  return value;
}

/** A path on eBET's host: starts with `/`, no query, fragment or whitespace. */
export function checkPath(value: unknown, field: string): string {
  if (typeof value !== "string" || !/^\/[^\s?#]*$/.test(value)) {
    throw invalidEbetInput(
      field,
      `must be a path starting with "/" without query or fragment, got ${describe(value)}`,
    );
  }
  return value;
}

export function checkFunction<T>(value: unknown, field: string): T | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== "function") throw invalidEbetInput(field, "must be a function");
  return value as T;
}

export function checkObject(value: unknown, field: string): Record<string, unknown> {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw invalidEbetInput(field, "must be an object");
  }
  return value as Record<string, unknown>;
}

/** A short, secret-free description of a refused value. */
function describe(value: unknown): string {
  if (typeof value === "string") {
    return value.length > 40 ? `a ${value.length}-character string` : JSON.stringify(value);
  }
  if (typeof value === "number" || typeof value === "boolean" || typeof value === "bigint") {
    return `${typeof value} ${String(value)}`;
  }
  return value === null ? "null" : typeof value;
}
