// Pure: reads a OneAccess answer into a result, or into a OneAccessError that keeps OneAccess's code.
import { type ErrorKind, isErrorKind, KeyFormatError } from "@x/core-signing";
import { importPublicKey, type RsaPublicKey } from "@x/core-signing/rsa";
import { ONEACCESS_ERROR_KINDS } from "./codes.ts";
import { OneAccessError, oneAccess } from "./errors.ts";
import { timestampValue } from "./timestamp.ts";

export interface ParseOptions {
  /** Kinds for error codes, over ONEACCESS_ERROR_KINDS; only the table's own entries count. */
  errorKinds?: Readonly<Record<string, ErrorKind>> | undefined;
  /** Largest answer read, in bytes (1 MiB by default). */
  maxBodyBytes?: number | undefined;
}

export interface ServerDate {
  /** The server's timestamp, verbatim. */
  timestamp: string;
}

export interface LogoutResult {
  /** The answer's body, verbatim (OneAccess documents it only as a string). */
  body: string;
}

/** The kind an HTTP status stands for when the answer carries no OneAccess code. */
export function kindForStatus(status: number): ErrorKind {
  if (status === 400 || status === 405 || status === 413 || status === 414 || status === 431) {
    return "invalid_request";
  }
  if (status === 401 || status === 403) return "unauthorized";
  if (status === 404) return "misconfigured";
  if (status === 429) return "rate_limited";
  if (status === 408 || status >= 500) return "unavailable";
  return "upstream";
}

/**
 * A member the object has itself: an answer's or a caller's text ("constructor", "__proto__") never
 * reaches what every object inherits.
 */
function own(record: object | undefined, name: string): unknown {
  return record !== undefined && Object.hasOwn(record, name)
    ? (record as Record<string, unknown>)[name]
    : undefined;
}

/** The kind a table gives a code, when the table has that code itself and the kind is one of ours. */
function tableKind(
  table: Readonly<Record<string, ErrorKind>> | undefined,
  code: string,
): ErrorKind | undefined {
  const kind = own(table, code);
  return isErrorKind(kind) ? kind : undefined;
}

/** The kind of a known code: the caller's table first, then ours; undefined for any other code. */
function knownKind(code: string, errorKinds: ParseOptions["errorKinds"]): ErrorKind | undefined {
  return tableKind(errorKinds, code) ?? tableKind(ONEACCESS_ERROR_KINDS, code);
}

/** The kind of a OneAccess error code: the caller's table first, then ours, else `upstream`. */
export function kindForCode(
  code: string,
  errorKinds?: Readonly<Record<string, ErrorKind>>,
): ErrorKind {
  return knownKind(code, errorKinds) ?? "upstream";
}

function readText(response: Response, options: ParseOptions): Promise<string> {
  return oneAccess.readText(response, options.maxBodyBytes);
}

function preview(text: string): string {
  return JSON.stringify(text.length > 80 ? `${text.slice(0, 80)}…` : text);
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** OneAccess's `{ error_code, error_msg }` as an error, or undefined when the body is not one. */
function vendorError(
  response: Response,
  body: unknown,
  options: ParseOptions,
): OneAccessError | undefined {
  if (!isRecord(body)) return undefined;
  const raw = own(body, "error_code");
  if ((typeof raw !== "string" || raw.length === 0) && typeof raw !== "number") return undefined;
  const code = String(raw);
  const message = own(body, "error_msg");
  const errorMsg = typeof message === "string" ? message : undefined;
  // A code we know decides; an unknown one falls back to the HTTP status, except on 2xx and 400
  // (OneAccess's documented error status), where it is an `upstream` error.
  const known = knownKind(code, options.errorKinds);
  const kind =
    known ?? (response.ok || response.status === 400 ? "upstream" : kindForStatus(response.status));
  return new OneAccessError({
    code,
    kind,
    upstreamStatus: response.status,
    message: `OneAccess answered HTTP ${response.status} ${code}${errorMsg ? `: ${errorMsg}` : ""}`,
    errorMsg,
  });
}

/**
 * The error for a non-2xx answer: OneAccess's code when the body is `{ error_code, error_msg }`
 * (the documented 400, and what Huawei's gateways send), else `HTTP_<status>`.
 */
export async function parseErrorResponse(
  response: Response,
  options: ParseOptions = {},
): Promise<OneAccessError> {
  let text: string;
  try {
    text = await readText(response, options);
  } catch (error) {
    if (error instanceof OneAccessError) text = "";
    else throw error;
  }
  const fromBody = vendorError(response, parseJson(text), options);
  if (fromBody) return fromBody;
  return new OneAccessError({
    code: `HTTP_${response.status}`,
    kind: kindForStatus(response.status),
    upstreamStatus: response.status,
    message: `OneAccess answered HTTP ${response.status} without an error code${text ? `: ${preview(text)}` : ""}`,
  });
}

/** A 2xx JSON answer as an object, or the OneAccess error it carries. */
async function readSuccessJson(
  response: Response,
  what: string,
  options: ParseOptions,
): Promise<Record<string, unknown>> {
  await requireHttp200(response, what, options);
  const text = await readText(response, options);
  const body = parseJson(text);
  if (body === undefined) {
    throw oneAccess.badResponse(
      response.status,
      `OneAccess's ${what} answer is not JSON: ${preview(text)}`,
    );
  }
  if (!isRecord(body)) {
    throw oneAccess.badResponse(
      response.status,
      `OneAccess's ${what} answer is not a JSON object: ${preview(text)}`,
    );
  }
  // An answer that carries OneAccess's error shape is an error, whatever else it holds.
  const refused = vendorError(response, body, options);
  if (refused) throw refused;
  return body;
}

/**
 * OneAccess answers its calls with HTTP 200: a redirect is REDIRECT (nothing of it is used: not a
 * clock, not a key), an error status is the error it stands for, and any other 2xx (201, 204,
 * 206…) is an answer OneAccess does not give, never a success.
 */
async function requireHttp200(
  response: Response,
  what: string,
  options: ParseOptions,
): Promise<void> {
  await oneAccess.refuseRedirect(response);
  if (!response.ok) throw await parseErrorResponse(response, options);
  if (response.status !== 200) {
    await response.body?.cancel().catch(() => {});
    throw oneAccess.badResponse(
      response.status,
      `OneAccess answered ${what} with HTTP ${response.status}, not 200`,
    );
  }
}

/** `{ "timestamp": "<digits>" }` -> `{ timestamp }`, verbatim; a bare JSON number is taken as its digits. */
export async function parseServerDateResponse(
  response: Response,
  options: ParseOptions = {},
): Promise<ServerDate> {
  const body = await readSuccessJson(response, "server-date", options);
  const raw = own(body, "timestamp");
  const timestamp =
    typeof raw === "string"
      ? raw
      : typeof raw === "number" && Number.isSafeInteger(raw)
        ? String(raw)
        : undefined;
  if (timestamp === undefined) {
    throw oneAccess.badResponse(
      response.status,
      "OneAccess's server-date answer has no timestamp string",
    );
  }
  if (timestampValue(timestamp) === undefined) {
    throw oneAccess.badResponse(
      response.status,
      `OneAccess's server-date timestamp is not a decimal integer: ${preview(timestamp)}`,
    );
  }
  return { timestamp };
}

/**
 * `{ "public_key": "<base64 SPKI>" }` -> the key. The key may come as bare base64, as PEM, and with
 * its line breaks written as the two characters `\n`; importPublicKey reads each form.
 */
export async function parsePublicKeyResponse(
  response: Response,
  options: ParseOptions = {},
): Promise<RsaPublicKey> {
  const body = await readSuccessJson(response, "public-key", options);
  const material = own(body, "public_key");
  if (typeof material !== "string" || material.length === 0) {
    throw oneAccess.badResponse(
      response.status,
      "OneAccess's public-key answer has no public_key string",
    );
  }
  try {
    return importPublicKey(material);
  } catch (error) {
    if (error instanceof KeyFormatError) {
      throw oneAccess.badResponse(
        response.status,
        `OneAccess's public_key is not a usable RSA public key (${error.problem}): ${error.message}`,
        error,
      );
    }
    throw error;
  }
}

/** A 2xx logout answer -> `{ body }`; anything else -> the OneAccessError it stands for. */
export async function parseLogoutResponse(
  response: Response,
  options: ParseOptions = {},
): Promise<LogoutResult> {
  await requireHttp200(response, "logout", options);
  const body = await readText(response, options);
  // A 200 that carries OneAccess's error shape is an error, never a silent success.
  const refused = body.trimStart().startsWith("{")
    ? vendorError(response, parseJson(body), options)
    : undefined;
  if (refused) throw refused;
  return { body };
}
