// Lancens error messages: find the message in an answer body and classify it into a code, a kind and a field.
import type { ErrorKind } from "@x/core-signing";
import type { LancensErrorCode } from "./errors.ts";

/** What a Lancens message means. */
export interface MessageMeaning {
  code: LancensErrorCode;
  kind: ErrorKind;
  /** The field the message names (`undefined username` names `username`). */
  field?: string;
  retryable?: boolean;
}

/** The longest vendor message kept on an error; longer bodies are not messages but pages. */
export const MAX_VENDOR_MESSAGE_LENGTH = 200;

const FIELD = "([A-Za-z_][A-Za-z0-9_.-]{0,63})";
const PATTERNS: readonly [RegExp, (field: string) => MessageMeaning][] = [
  [new RegExp(`^undefined ${FIELD}$`, "i"), (field) => fieldError("UNDEFINED_FIELD", field)],
  [new RegExp(`^${FIELD} length error$`, "i"), (field) => fieldError("LENGTH_ERROR", field)],
  [new RegExp(`^${FIELD} format error$`, "i"), (field) => fieldError("FORMAT_ERROR", field)],
  [new RegExp(`^${FIELD} exists?$`, "i"), (field) => fieldError("EXISTS", field)],
  [
    new RegExp(`^${FIELD} error$`, "i"),
    // Checking the login token failed: the same as an invalid token for the caller.
    (field) =>
      field.toLowerCase() === "token"
        ? { code: "CHECK_FAILED", kind: "unauthorized", field }
        : fieldError("CHECK_FAILED", field),
  ],
];

/**
 * Names no Lancens field has but every plain object answers to (`constructor`, `__proto__`,
 * `toString`…): reported as a field, they would turn a caller's `table[error.field]` into a
 * prototype lookup.
 */
const PROTOTYPE_MEMBERS: ReadonlySet<string> = new Set(
  Object.getOwnPropertyNames(Object.prototype),
);

function fieldError(code: LancensErrorCode, field: string): MessageMeaning {
  return PROTOTYPE_MEMBERS.has(field)
    ? { code, kind: "invalid_request" }
    : { code, kind: "invalid_request", field };
}

/**
 * Classifies a Lancens message. Returns undefined for a message this package does not know, so that
 * the caller can fall back on the HTTP status.
 */
export function classifyMessage(message: string): MessageMeaning | undefined {
  const text = message.trim().replace(/\s+/g, " ");
  const lower = text.toLowerCase();
  switch (lower) {
    case "no token":
      // The request carried no token header: a malformed request, not a verdict on the session.
      return { code: "NO_TOKEN", kind: "invalid_request", field: "token" };
    case "invalid token":
      return { code: "INVALID_TOKEN", kind: "unauthorized", field: "token" };
    case "no data error":
      return { code: "NO_DATA", kind: "upstream" };
    case "paramer error":
    case "parameter error":
      return { code: "PARAMER_ERROR", kind: "upstream" };
    case "username or password error":
      return { code: "BAD_CREDENTIALS", kind: "unauthorized" };
  }
  // Database codes: 10001, 10051 and the 100XX, 200XX, 300XX families, alone or followed by words.
  const numeric = /^((?:100|200|300)\d{2})(?:$|[^\d])/.exec(text);
  if (numeric) {
    return { code: Number(numeric[1]), kind: "unavailable", retryable: true };
  }
  if (/^database\b/.test(lower)) return { code: "DATABASE_ERROR", kind: "unavailable" };
  for (const [pattern, meaning] of PATTERNS) {
    const match = pattern.exec(text);
    if (match) return meaning(match[1] as string);
  }
  return undefined;
}

/** What an HTTP failure status means when the body says nothing this package knows. */
export function classifyStatus(status: number): MessageMeaning {
  if (status === 400) return { code: "HTTP_ERROR", kind: "invalid_request" };
  if (status === 401 || status === 403) return { code: "HTTP_ERROR", kind: "unauthorized" };
  if (status === 404 || status === 405) return { code: "HTTP_ERROR", kind: "misconfigured" };
  if (status === 408) return { code: "HTTP_ERROR", kind: "unavailable" };
  if (status === 429) return { code: "HTTP_ERROR", kind: "rate_limited" };
  if (status >= 500 && status <= 599) return { code: "HTTP_ERROR", kind: "unavailable" };
  return { code: "HTTP_ERROR", kind: "upstream" };
}

/**
 * The message in an answer body: JSON `{ "message": … }` (or `msg`, `error`, or a numeric `code`),
 * a JSON string or number, or plain text. An empty body, an HTML page or JSON without a message give
 * undefined. The result has no control characters, each of `secrets` replaced by `[redacted]` (after
 * JSON unescaping, before shortening), and at most MAX_VENDOR_MESSAGE_LENGTH characters.
 */
export function extractMessage(body: string, secrets: readonly string[] = []): string | undefined {
  const message = rawMessage(body);
  return message === undefined ? undefined : clean(message, secrets);
}

/** The message as the body spells it, JSON escapes undone, before any cleaning. */
function rawMessage(body: string): string | undefined {
  const text = body.trim();
  if (text === "") return undefined;
  if (/^(?:[[{"]|null$|true$|false$)/.test(text)) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      // Not JSON after all (a truncated object, say): nothing to read from it.
      return undefined;
    }
    return messageFromJson(parsed);
  }
  if (text.startsWith("<")) return undefined;
  return text;
}

function messageFromJson(value: unknown): string | undefined {
  if (typeof value === "string" || typeof value === "number") return String(value);
  if (typeof value !== "object" || value === null || Array.isArray(value)) return undefined;
  for (const key of ["message", "msg", "error", "code"]) {
    // Own members only: what the answer says, never what a prototype answers to.
    const member: unknown = Object.hasOwn(value, key)
      ? (value as Record<string, unknown>)[key]
      : undefined;
    if (typeof member === "string" && clean(member) !== undefined) return member;
    if (typeof member === "number" && Number.isFinite(member)) return String(member);
  }
  return undefined;
}

/** The text with every secret replaced by `[redacted]`. */
function redact(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const secret of secrets) {
    if (secret.length > 0) out = out.split(secret).join("[redacted]");
  }
  return out;
}

/**
 * One line without control characters, secrets redacted, at most MAX_VENDOR_MESSAGE_LENGTH
 * characters. Redacting after the control characters go finds a secret split by a line break (a
 * token has none of them); redacting before shortening leaves no part of one at the cut.
 */
function clean(text: string, secrets: readonly string[] = []): string | undefined {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: removing control characters is the point
  const single = redact(text.replace(/[\u0000-\u001f\u007f]+/g, " ").trim(), secrets);
  if (single === "") return undefined;
  return single.length > MAX_VENDOR_MESSAGE_LENGTH
    ? `${single.slice(0, MAX_VENDOR_MESSAGE_LENGTH - 1)}…`
    : single;
}
