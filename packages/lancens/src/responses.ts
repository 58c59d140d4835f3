// Pure: turns a Lancens answer into a result or a LancensError (sans-IO); a 2xx is success unless its body says an error.
import { VendorError } from "@x/core-signing";
import {
  invalidLancensInput,
  type LancensCall,
  LancensError,
  type LancensErrorCode,
  lancensKit,
} from "./errors.ts";
import {
  classifyMessage,
  classifyStatus,
  extractMessage,
  type MessageMeaning,
} from "./messages.ts";

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

/**
 * The codes that, answered to a logout, mean the session had already ended: only `invalid token`.
 * `no token` says the request carried no token header, so the logout never happened.
 */
export type AlreadyLoggedOutCode = "INVALID_TOKEN";
export const DEFAULT_ALREADY_LOGGED_OUT_CODES: readonly AlreadyLoggedOutCode[] = Object.freeze([
  "INVALID_TOKEN",
]);

export interface ParseOptions {
  /** Largest body read; a larger one is judged by its status alone. Default 64 KiB. */
  maxBodyBytes?: number;
  /** Values (the login token) replaced by `[redacted]` wherever an answer repeats them. */
  secrets?: readonly string[];
}

export interface LogoutParseOptions extends ParseOptions {
  /** Messages that make a logout `already_cleared`. Default: `invalid token`; `[]` for none. */
  alreadyLoggedOutCodes?: readonly AlreadyLoggedOutCode[];
}

export const DEFAULT_ERROR_BODY_BYTES: number = 64 * 1024;

const LABELS: ReadonlyMap<string, string> = new Map<LancensCall, string>([
  ["clearRingPushToken", "clearing the ring push token"],
  ["clearMessagePushToken", "clearing the message push token"],
  ["logout", "logout"],
]);

/** The words for a call in error messages; a name that is not one of the three calls is refused. */
function labelOf(call: LancensCall): string {
  const label = typeof call === "string" ? LABELS.get(call) : undefined;
  if (label === undefined) {
    throw invalidLancensInput("call", `must be one of ${[...LABELS.keys()].join(", ")}`);
  }
  return label;
}

export function isSuccessStatus(status: number): boolean {
  return status >= 200 && status <= 299;
}

function isRedirectStatus(status: number): boolean {
  return status >= 300 && status <= 399;
}

/**
 * A redirect is never followed (the requests say `redirect: "manual"`): the `token` header and the
 * logout body would go along to wherever Location points. Its body and Location are not read.
 * `status` is undefined for a browser's opaque redirect, which shows neither.
 */
function redirectError(
  call: LancensCall,
  status: number | undefined,
  followed = false,
): LancensError {
  const what =
    status === undefined
      ? "an opaque redirect"
      : followed
        ? `HTTP ${status} reached by following a redirect`
        : `HTTP ${status}, a redirect`;
  return new LancensError({
    code: "REDIRECT",
    kind: "upstream",
    retryable: false,
    message: `lancens ${labelOf(call)} failed: ${what}, which is not followed`,
    upstreamStatus: status,
    call,
  });
}

function errorFromMessage(
  call: LancensCall,
  status: number,
  vendorMessage: string | undefined,
  meaning: MessageMeaning,
): LancensError {
  const said = vendorMessage === undefined ? "no message" : JSON.stringify(vendorMessage);
  return new LancensError({
    code: meaning.code,
    kind: meaning.kind,
    message: `lancens ${labelOf(call)} failed: HTTP ${status}, ${said}`,
    upstreamStatus: status,
    call,
    retryable: meaning.retryable,
    field: meaning.field,
    vendorMessage,
  });
}

/**
 * The LancensError for a failure answer, from its status and body text. The message is classified
 * when Lancens' wording is known; otherwise the status decides the kind. A 3xx is a REDIRECT error
 * whatever its body says.
 */
export function errorFromAnswer(
  call: LancensCall,
  status: number,
  body: string,
  secrets: readonly string[] = [],
): LancensError {
  if (isRedirectStatus(status)) return redirectError(call, status);
  const vendorMessage = extractMessage(body, secrets);
  const meaning = (vendorMessage === undefined ? undefined : classifyMessage(vendorMessage)) ?? {
    ...classifyStatus(status),
    ...(vendorMessage === undefined ? {} : { code: "UNKNOWN_MESSAGE" as LancensErrorCode }),
  };
  return errorFromMessage(call, status, vendorMessage, meaning);
}

/**
 * The error an answer carries, or undefined for a success. Any 2xx is success unless its body says
 * one of Lancens' error wordings (a 200 `{"message":"no token"}` or `10051` is that error); a 2xx
 * body that says nothing known, or that cannot be read, is success.
 */
function answerError(
  call: LancensCall,
  status: number,
  body: string,
  secrets: readonly string[] = [],
): LancensError | undefined {
  labelOf(call);
  if (!isSuccessStatus(status)) return errorFromAnswer(call, status, body, secrets);
  const vendorMessage = extractMessage(body, secrets);
  const meaning = vendorMessage === undefined ? undefined : classifyMessage(vendorMessage);
  return meaning === undefined ? undefined : errorFromMessage(call, status, vendorMessage, meaning);
}

/**
 * A push-token clearing answer (status and body text): success for a 2xx whose body says no Lancens
 * error, else a LancensError.
 */
export function interpretPushTokenAnswer(
  call: "clearRingPushToken" | "clearMessagePushToken",
  status: number,
  body: string,
  options: Pick<ParseOptions, "secrets"> = {},
): PushTokenClearResult {
  const error = answerError(call, status, body, options.secrets);
  if (error !== undefined) throw error;
  return { outcome: "cleared", status };
}

/**
 * A logout answer (status and body text): a 2xx whose body says no Lancens error is `cleared`;
 * `invalid token` is `already_cleared` (the session had already ended); anything else, `no token`
 * included, is a LancensError.
 */
export function interpretLogoutAnswer(
  status: number,
  body: string,
  options: Pick<LogoutParseOptions, "alreadyLoggedOutCodes" | "secrets"> = {},
): LogoutResult {
  const error = answerError("logout", status, body, options.secrets);
  if (error === undefined) return { outcome: "cleared", alreadyLoggedOut: false, status };
  if (isSessionGone(error, options.alreadyLoggedOutCodes)) {
    return { outcome: "already_cleared", alreadyLoggedOut: true, status };
  }
  throw error;
}

/**
 * Whether an error is Lancens answering `invalid token`: the login token is no longer valid. Only
 * that code counts, whatever `codes` lists; `codes` without it (`[]`) turns the answer off.
 */
export function isSessionGone(
  error: unknown,
  codes: readonly AlreadyLoggedOutCode[] = DEFAULT_ALREADY_LOGGED_OUT_CODES,
): boolean {
  return (
    error instanceof LancensError &&
    error.upstreamStatus !== undefined &&
    error.code === "INVALID_TOKEN" &&
    codes.includes("INVALID_TOKEN")
  );
}

/** The body of an answer as text; an unreadable or oversized body counts as empty. */
async function boundedBody(response: Response, maxBodyBytes: number): Promise<string> {
  try {
    return await lancensKit().readText(response, maxBodyBytes);
  } catch (error) {
    if (error instanceof VendorError) return "";
    throw error;
  }
}

/**
 * The body of an answer, read no further than `maxBodyBytes`. A redirect is refused unread: its
 * body is released and nothing of its Location is kept.
 */
async function answerBody(
  call: LancensCall,
  response: Response,
  options: ParseOptions,
): Promise<string> {
  // A fetch that ignores `redirect: "manual"` marks what it followed to as `redirected`.
  if (
    response.type === "opaqueredirect" ||
    response.redirected ||
    isRedirectStatus(response.status)
  ) {
    await response.body?.cancel().catch(() => {});
    throw redirectError(
      call,
      response.type === "opaqueredirect" ? undefined : response.status,
      response.redirected && !isRedirectStatus(response.status),
    );
  }
  return boundedBody(response, options.maxBodyBytes ?? DEFAULT_ERROR_BODY_BYTES);
}

async function parsePushToken(
  call: "clearRingPushToken" | "clearMessagePushToken",
  response: Response,
  options: ParseOptions,
): Promise<PushTokenClearResult> {
  const body = await answerBody(call, response, options);
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
  const body = await answerBody("logout", response, options);
  return interpretLogoutAnswer(response.status, body, options);
}
