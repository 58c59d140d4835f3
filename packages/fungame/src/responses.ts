// Pure parsing of FunGame answers (sans-IO): a logout Response becomes a result or a FunGameError.
import { DEFAULT_MAX_BODY_BYTES, type ErrorKind } from "@x/core-signing";
import { FunGameError, fungame, invalidInput } from "./errors.ts";
import { readPayloadFields, SERVER_FAILURE_MESSAGE, SESSION_GONE_MESSAGE } from "./payload.ts";

/** The outcome of a logout that FunGame accepted or that had already happened. */
export interface LogoutResult {
  /**
   * True when FunGame answered that the session was already gone (its 400 "退出登录失败！"):
   * nothing left to end. FunGame gives the same answer when it cannot process the request, so
   * after a server fault the session may still be open; deny-list the token at the edge (see
   * `revokeToken`) where that matters.
   */
  alreadyLoggedOut: boolean;
  /** FunGame's message, surrounding spaces removed. */
  message: string;
  /** The PayloadModel's RequestType: 1 (RunTime_Logout), or its name on servers that send names. */
  requestType: number | string;
  /** The PayloadModel's Event ("user_logout"), when the server sends one. */
  event?: string;
}

/** Options of parseLogoutResponse. */
export interface ParseLogoutOptions {
  /**
   * Newer servers answer a missing session with HTTP 500 "退出登录失败！服务器可能暂时无法处理此请求。",
   * the same answer as a server fault. Off by default: such a 500 is a retryable `upstream` error.
   * On: it counts as `alreadyLoggedOut`, and a server fault then reads as a finished logout while
   * the session may still be open. (The older servers' 400 "退出登录失败！" has the same ambiguity
   * and is always read as `alreadyLoggedOut`.)
   */
  treat500AsLoggedOut?: boolean;
  /** The largest answer read, in bytes; defaults to 1 MiB. */
  maxBodyBytes?: number;
}

/** Error answers are read only to quote the server's message; this much is plenty. */
const ERROR_BODY_BYTES = 64 * 1024;

/**
 * Parses the answer to `POST /user/logout`. Resolves on HTTP 200 with a PayloadModel of
 * StatusCode 200 (`alreadyLoggedOut: false`) and on HTTP 400 "退出登录失败！" (`alreadyLoggedOut:
 * true`). Everything else rejects with a FunGameError: 401/403 `unauthorized`; 500 `upstream`,
 * retryable; 502/503/504/408 `unavailable`; 429 `rate_limited`; 404/405 `misconfigured`; a
 * redirect (3xx or opaque) `upstream` with code REDIRECT, not retryable; other statuses
 * `upstream`; an unreadable or malformed answer `upstream` with code BAD_RESPONSE.
 *
 * The 400 "退出登录失败！" is ambiguous: FunGame's page gives the same answer for a missing session
 * and for a server that cannot process the request. It is read as `alreadyLoggedOut`, the
 * documented meaning; after a server fault the session may in fact still be open.
 */
export async function parseLogoutResponse(
  response: Response,
  options: ParseLogoutOptions = {},
): Promise<LogoutResult> {
  if (!(response instanceof Response)) throw invalidInput("response", "must be a Response");
  const maxBytes = options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  if (!Number.isInteger(maxBytes) || maxBytes < 1) {
    throw invalidInput("maxBodyBytes", "must be a whole number of bytes, at least 1");
  }
  const { status } = response;

  await fungame.refuseRedirect(response);

  if (status >= 200 && status < 300) {
    if (status !== 200) {
      // FunGame answers a logout with HTTP 200; another 2xx is not its answer, never a success.
      await discard(response);
      throw fungame.badResponse(
        status,
        `FunGame answered the logout with HTTP ${status}, not its documented 200`,
      );
    }
    const payload = await readPayload(response, maxBytes);
    if (payload.statusCode !== 200) {
      throw fungame.badResponse(
        response.status,
        `FunGame answered HTTP ${status} with a PayloadModel whose StatusCode is ${describe(payload.statusCode)}, not 200`,
      );
    }
    return result(false, payload);
  }

  const payload = await readErrorPayload(response);
  const serverSays = payload?.message ? `: ${JSON.stringify(payload.message.slice(0, 200))}` : "";
  const code = payload?.statusCode ?? status;

  if (status === 400 && payload?.valid && payload.statusCode === 400) {
    if (payload.message.trim() === SESSION_GONE_MESSAGE) return result(true, payload);
  }
  if (
    status === 500 &&
    options.treat500AsLoggedOut &&
    payload?.valid &&
    payload.statusCode === 500
  ) {
    if (payload.message.trim() === SERVER_FAILURE_MESSAGE) return result(true, payload);
  }

  if (status === 401 || status === 403) {
    return fail({
      code,
      kind: "unauthorized",
      status,
      message: `FunGame refused the bearer token (HTTP ${status}): missing, invalid, expired or revoked${serverSays}`,
    });
  }
  if (status === 404 || status === 405) {
    return fail({
      code,
      kind: "misconfigured",
      status,
      message: `FunGame has no logout endpoint at this address (HTTP ${status}); check baseUrl${serverSays}`,
    });
  }
  if (status === 429) {
    return fail({
      code,
      kind: "rate_limited",
      status,
      message: `FunGame is rate limiting (HTTP 429)${serverSays}`,
    });
  }
  if (status === 408 || status === 502 || status === 503 || status === 504) {
    return fail({
      code,
      kind: "unavailable",
      status,
      message: `FunGame is unavailable (HTTP ${status})${serverSays}`,
    });
  }
  if (status >= 500 && status < 600) {
    return fail({
      code,
      kind: "upstream",
      status,
      retryable: true,
      message: `FunGame failed to log out (HTTP ${status})${serverSays}`,
    });
  }
  if (status >= 400 && status < 500) {
    return fail({
      code,
      kind: "upstream",
      status,
      message: `FunGame refused the logout (HTTP ${status})${serverSays}`,
    });
  }
  throw fungame.badResponse(
    response.status,
    `FunGame answered with unexpected HTTP status ${status}`,
  );
}

/** A PayloadModel whose members have the types FunGame sends. */
interface ValidPayload {
  valid: true;
  requestType: number | string;
  statusCode: number;
  message: string;
  event: string | undefined;
}

/** What could be read of an error answer: maybe a PayloadModel, maybe just a message. */
type ErrorPayload =
  | ValidPayload
  | { valid: false; statusCode: number | undefined; message: string | undefined };

function result(alreadyLoggedOut: boolean, payload: ValidPayload): LogoutResult {
  const out: LogoutResult = {
    alreadyLoggedOut,
    message: payload.message.trim(),
    requestType: payload.requestType,
  };
  if (payload.event !== undefined) out.event = payload.event;
  return out;
}

function validate(value: unknown): ErrorPayload | undefined {
  const fields = readPayloadFields(value);
  if (!fields) return undefined;
  const statusCode =
    typeof fields.statusCode === "number" && Number.isInteger(fields.statusCode)
      ? fields.statusCode
      : undefined;
  const message = typeof fields.message === "string" ? fields.message : undefined;
  const { requestType, event } = fields;
  const requestTypeOk =
    (typeof requestType === "number" && Number.isInteger(requestType)) ||
    (typeof requestType === "string" && requestType.length > 0);
  const eventOk = event === undefined || event === null || typeof event === "string";
  if (statusCode !== undefined && message !== undefined && requestTypeOk && eventOk) {
    return {
      valid: true,
      statusCode,
      message,
      requestType: requestType as number | string,
      event: typeof event === "string" ? event : undefined,
    };
  }
  return { valid: false, statusCode, message };
}

async function readPayload(response: Response, maxBytes: number): Promise<ValidPayload> {
  const text = await fungame.readText(response, maxBytes);
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (cause) {
    const preview = text.length > 80 ? `${text.slice(0, 80)}…` : text;
    throw fungame.badResponse(
      response.status,
      `FunGame answered HTTP ${response.status} with a body that is not JSON: ${JSON.stringify(preview)}`,
      cause,
    );
  }
  const payload = validate(value);
  if (!payload) {
    throw fungame.badResponse(
      response.status,
      `FunGame answered HTTP ${response.status} with JSON that is not a PayloadModel`,
    );
  }
  if (!payload.valid) {
    throw fungame.badResponse(
      response.status,
      `FunGame answered HTTP ${response.status} with a PayloadModel lacking a numeric StatusCode, a string Message or a RequestType`,
    );
  }
  return payload;
}

/** Reads an error answer for its message; an unreadable or non-JSON body yields undefined, not a new error. */
async function readErrorPayload(response: Response): Promise<ErrorPayload | undefined> {
  let text: string;
  try {
    text = await fungame.readText(response, ERROR_BODY_BYTES);
  } catch {
    return undefined;
  }
  if (text.trim() === "") return undefined;
  try {
    const value: unknown = JSON.parse(text);
    const payload = validate(value);
    if (payload && !payload.valid && payload.message === undefined) {
      // ASP.NET's validation answers are problem documents: their title is the message.
      const title = (value as Record<string, unknown>).title;
      if (typeof title === "string") return { ...payload, message: title };
    }
    return payload;
  } catch {
    return undefined;
  }
}

async function discard(response: Response): Promise<void> {
  try {
    await response.body?.cancel();
  } catch {
    // Nothing to free.
  }
}

function describe(value: unknown): string {
  return value === undefined ? "missing" : (JSON.stringify(value)?.slice(0, 40) ?? String(value));
}

function fail(init: {
  code: string | number;
  kind: ErrorKind;
  status: number;
  message: string;
  retryable?: boolean;
}): never {
  throw new FunGameError({
    code: init.code,
    kind: init.kind,
    upstreamStatus: init.status,
    message: init.message,
    retryable: init.retryable,
  });
}
