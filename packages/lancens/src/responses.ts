// Pure: turns a Lancens answer into a result or a LancensError (sans-IO); any 2xx is success.
import { VendorError } from "@x/core-signing";
import { type LancensCall, LancensError, type LancensErrorCode, lancensKit } from "./errors.ts";
import { classifyMessage, classifyStatus, extractMessage } from "./messages.ts";

/** How a clearing step ended: done now, or found already done. */
export type ClearOutcome = "cleared" | "already_cleared";

export interface PushTokenClearResult {
  outcome: "cleared";
  /** The HTTP status Lancens answered with (200, 201, 204…). */
  status: number;
}

export interface LogoutResult {
  /** `already_cleared` when Lancens said the login token was no longer valid. */
  outcome: ClearOutcome;
  /** True exactly when `outcome` is `already_cleared`. */
  alreadyLoggedOut: boolean;
  status: number;
}

/** The codes that, answered to a logout, mean the session had already ended. */
export type AlreadyLoggedOutCode = "INVALID_TOKEN" | "NO_TOKEN";
export const DEFAULT_ALREADY_LOGGED_OUT_CODES: readonly AlreadyLoggedOutCode[] = Object.freeze([
  "INVALID_TOKEN",
  "NO_TOKEN",
]);

export interface ParseOptions {
  /** Largest error body read; larger ones are judged by their status alone. Default 64 KiB. */
  maxBodyBytes?: number;
  /** Values (the login token) replaced by `[redacted]` wherever an answer repeats them. */
  secrets?: readonly string[];
}

export interface LogoutParseOptions extends ParseOptions {
  /** Messages that make a logout `already_cleared`. Default: `invalid token` and `no token`. */
  alreadyLoggedOutCodes?: readonly AlreadyLoggedOutCode[];
}

export const DEFAULT_ERROR_BODY_BYTES: number = 64 * 1024;

const LABELS: Record<LancensCall, string> = {
  clearRingPushToken: "clearing the ring push token",
  clearMessagePushToken: "clearing the message push token",
  logout: "logout",
};

export function isSuccessStatus(status: number): boolean {
  return status >= 200 && status <= 299;
}

/**
 * The LancensError for a failure answer, from its status and body text. The message is classified
 * when Lancens' wording is known; otherwise the status decides the kind.
 */
export function errorFromAnswer(
  call: LancensCall,
  status: number,
  body: string,
  secrets: readonly string[] = [],
): LancensError {
  const vendorMessage = extractMessage(redact(body, secrets));
  const meaning = (vendorMessage === undefined ? undefined : classifyMessage(vendorMessage)) ?? {
    ...classifyStatus(status),
    ...(vendorMessage === undefined ? {} : { code: "UNKNOWN_MESSAGE" as LancensErrorCode }),
  };
  const said = vendorMessage === undefined ? "no message" : JSON.stringify(vendorMessage);
  return new LancensError({
    code: meaning.code,
    kind: meaning.kind,
    message: `lancens ${LABELS[call]} failed: HTTP ${status}, ${said}`,
    upstreamStatus: status,
    call,
    retryable: meaning.retryable,
    field: meaning.field,
    vendorMessage,
  });
}

/** A push-token clearing answer (status and body text): success for any 2xx, else a LancensError. */
export function interpretPushTokenAnswer(
  call: "clearRingPushToken" | "clearMessagePushToken",
  status: number,
  body: string,
  options: Pick<ParseOptions, "secrets"> = {},
): PushTokenClearResult {
  if (isSuccessStatus(status)) return { outcome: "cleared", status };
  throw errorFromAnswer(call, status, body, options.secrets);
}

/**
 * A logout answer (status and body text): any 2xx is `cleared`; `invalid token` or `no token` is
 * `already_cleared` (the session had already ended); anything else is a LancensError.
 */
export function interpretLogoutAnswer(
  status: number,
  body: string,
  options: Pick<LogoutParseOptions, "alreadyLoggedOutCodes" | "secrets"> = {},
): LogoutResult {
  if (isSuccessStatus(status)) return { outcome: "cleared", alreadyLoggedOut: false, status };
  const error = errorFromAnswer("logout", status, body, options.secrets);
  if (isSessionGone(error, options.alreadyLoggedOutCodes)) {
    return { outcome: "already_cleared", alreadyLoggedOut: true, status };
  }
  throw error;
}

/** Whether an error says the login token is no longer valid (by default `invalid token`, `no token`). */
export function isSessionGone(
  error: unknown,
  codes: readonly AlreadyLoggedOutCode[] = DEFAULT_ALREADY_LOGGED_OUT_CODES,
): boolean {
  return (
    error instanceof LancensError &&
    error.upstreamStatus !== undefined &&
    (codes as readonly unknown[]).includes(error.code)
  );
}

function redact(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const secret of secrets) {
    if (secret.length > 0) out = out.split(secret).join("[redacted]");
  }
  return out;
}

/** The body of a failure answer as text; an unreadable or oversized body counts as empty. */
async function failureBody(response: Response, maxBodyBytes: number): Promise<string> {
  try {
    return await lancensKit().readText(response, maxBodyBytes);
  } catch (error) {
    if (error instanceof VendorError) return "";
    throw error;
  }
}

/** A 2xx answer's body is not needed: release it without reading. */
async function discardBody(response: Response): Promise<void> {
  await response.body?.cancel().catch(() => {});
}

async function parsePushToken(
  call: "clearRingPushToken" | "clearMessagePushToken",
  response: Response,
  options: ParseOptions,
): Promise<PushTokenClearResult> {
  if (isSuccessStatus(response.status)) {
    await discardBody(response);
    return { outcome: "cleared", status: response.status };
  }
  const body = await failureBody(response, options.maxBodyBytes ?? DEFAULT_ERROR_BODY_BYTES);
  return interpretPushTokenAnswer(call, response.status, body, options);
}

/** Parses the answer to `buildClearRingPushTokenRequest`. */
export function parseClearRingPushTokenResponse(
  response: Response,
  options: ParseOptions = {},
): Promise<PushTokenClearResult> {
  return parsePushToken("clearRingPushToken", response, options);
}

/** Parses the answer to `buildClearMessagePushTokenRequest`. */
export function parseClearMessagePushTokenResponse(
  response: Response,
  options: ParseOptions = {},
): Promise<PushTokenClearResult> {
  return parsePushToken("clearMessagePushToken", response, options);
}

/** Parses the answer to `buildLogoutRequest`. */
export async function parseLogoutResponse(
  response: Response,
  options: LogoutParseOptions = {},
): Promise<LogoutResult> {
  if (isSuccessStatus(response.status)) {
    await discardBody(response);
    return { outcome: "cleared", alreadyLoggedOut: false, status: response.status };
  }
  const body = await failureBody(response, options.maxBodyBytes ?? DEFAULT_ERROR_BODY_BYTES);
  return interpretLogoutAnswer(response.status, body, options);
}
