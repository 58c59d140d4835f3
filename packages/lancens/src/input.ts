// Checks a caller's input before any request: username length, login token shape, paths.
import { invalidLancensInput } from "./errors.ts";

export const USERNAME_MIN_LENGTH = 6;
export const USERNAME_MAX_LENGTH = 32;
/** Lancens tokens are short; anything longer is not one and would only bloat a header. */
export const TOKEN_MAX_LENGTH = 4096;

/** A username of 6 to 32 characters (counted as Unicode code points). */
export function checkUsername(value: unknown, field = "username"): string {
  if (value === undefined || value === null) throw invalidLancensInput(field, "is required");
  if (typeof value !== "string") throw invalidLancensInput(field, "must be a string");
  const length = [...value].length;
  if (length < USERNAME_MIN_LENGTH || length > USERNAME_MAX_LENGTH) {
    throw invalidLancensInput(
      field,
      `must be ${USERNAME_MIN_LENGTH} to ${USERNAME_MAX_LENGTH} characters, got ${length}`,
    );
  }
  return value;
}

/**
 * A login token that can travel in a `token` header unchanged: not empty, no CR or LF (which would
 * split the header), no other control character, only ASCII, no surrounding whitespace (which
 * headers strip). The message never repeats the token.
 */
export function checkToken(value: unknown, field = "token"): string {
  if (value === undefined || value === null) throw invalidLancensInput(field, "is required");
  if (typeof value !== "string") throw invalidLancensInput(field, "must be a string");
  if (value.length === 0) throw invalidLancensInput(field, "must not be empty");
  if (/[\r\n]/.test(value)) throw invalidLancensInput(field, "must not contain CR or LF");
  // biome-ignore lint/suspicious/noControlCharactersInRegex: refusing control characters is the point
  if (/[\u0000-\u001f\u007f]/.test(value)) {
    throw invalidLancensInput(field, "must not contain control characters");
  }
  if (/[^\u0020-\u007e]/.test(value)) throw invalidLancensInput(field, "must be ASCII");
  if (value.trim() !== value) {
    throw invalidLancensInput(field, "must not start or end with whitespace");
  }
  if (value.length > TOKEN_MAX_LENGTH) {
    throw invalidLancensInput(field, `must be at most ${TOKEN_MAX_LENGTH} characters`);
  }
  return value;
}

/** A path below the base URL: starts with "/", no query, no fragment, no whitespace. */
export function checkPath(value: unknown, field: string): string {
  if (typeof value !== "string" || !/^\/[^?#\s]*$/.test(value)) {
    throw invalidLancensInput(
      field,
      'must be a path starting with "/" without query, fragment or spaces',
    );
  }
  return value;
}
