// Pure response parsing (sans-IO): an eBET answer becomes a typed result or a typed EbetError, never a crash.
import { EbetError, ebet } from "./errors.ts";
import { ebetStatus } from "./status.ts";

/** eBET answers are a few hundred bytes; anything past this is refused unread, unless told otherwise. */
export const DEFAULT_EBET_MAX_BODY_BYTES: number = 256 * 1024;

/** How an answer is read. */
interface ReadOptions {
  /** Largest body read, in bytes; a longer one is a BAD_RESPONSE. Defaults to 256 KiB. */
  maxBodyBytes?: number | undefined;
}

/** A successful logout: eBET's status 200 and the API version it reported. */
export interface LogoutResult {
  status: 200;
  /** As eBET reported it, e.g. "1.3.55"; undefined when the answer carried none. */
  apiVersion: string | undefined;
}

/** One of the player's wallets. */
export interface EbetWallet {
  typeId: number;
  money: number;
}

/** The player's account, as eBET answers a login notification. */
export interface CallbackResult {
  channelId: number;
  subChannelId: number;
  userId: number;
  username: string;
  wallet: EbetWallet[];
  money: number;
  /** eBET's clock, in seconds since the epoch. */
  timestamp: number;
  apiVersion: string | undefined;
}

type Body = Record<string, unknown>;

/** Duck-typed, so that a Response from another realm (a test server, a binding) passes too. */
function isResponse(value: unknown): value is Response {
  const candidate = value as Response | null | undefined;
  return (
    typeof candidate?.status === "number" &&
    typeof candidate.headers?.get === "function" &&
    typeof candidate.text === "function"
  );
}

/**
 * Reads an answer down to a JSON object whose `status` is 200; every other outcome is thrown as an
 * EbetError: eBET's status code with its kind, an HTTP error (403, 502, 504…), or a bad answer.
 */
async function successBody(
  response: Response,
  call: string,
  maxBytes: number = DEFAULT_EBET_MAX_BODY_BYTES,
): Promise<Body> {
  if (!isResponse(response)) {
    throw new EbetError({
      code: "BAD_RESPONSE",
      kind: "upstream",
      message: `the ${call} answer is not a Response`,
    });
  }
  await ebet.refuseRedirect(response);
  if (response.status < 200 || response.status > 299) {
    throw await httpFailure(response, call, maxBytes);
  }
  if (response.status !== 200) {
    // eBET puts its outcome in a body it sends with HTTP 200; another 2xx is not eBET's answer.
    await response.body?.cancel().catch(() => {});
    throw ebet.badResponse(
      response.status,
      `eBET answered ${call} with HTTP ${response.status}, not 200`,
    );
  }
  const parsed = await ebet.readJson(response, maxBytes);
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
    throw ebet.badResponse(response.status, `eBET's ${call} answer is not a JSON object`);
  }
  const body = parsed as Body;
  if (!Object.hasOwn(body, "status")) {
    throw ebet.badResponse(response.status, `eBET's ${call} answer has no status`);
  }
  const status = body.status;
  if (typeof status !== "number" || !Number.isInteger(status)) {
    throw ebet.badResponse(
      response.status,
      `eBET's ${call} answer has a status that is not an integer: ${JSON.stringify(status)}`,
    );
  }
  if (status !== 200) throw statusFailure(status, response.status, call);
  return body;
}

/** eBET refused the call with one of its status codes. */
function statusFailure(status: number, httpStatus: number, call: string): EbetError {
  const info = ebetStatus(status);
  const kind = info.kind === "success" ? "upstream" : info.kind;
  return new EbetError({
    code: status,
    kind,
    retryable: info.retryable,
    upstreamStatus: httpStatus,
    message: `eBET refused ${call} with status ${status} ${info.name}: ${info.en}`,
  });
}

/** A non-2xx answer: eBET's own status when the body carries one, else the HTTP status. */
async function httpFailure(response: Response, call: string, maxBytes: number): Promise<EbetError> {
  const httpStatus = response.status;
  let text = "";
  try {
    text = await ebet.readText(response, maxBytes);
  } catch {
    // The HTTP status says enough.
  }
  try {
    const body: unknown = JSON.parse(text);
    if (typeof body === "object" && body !== null && Object.hasOwn(body, "status")) {
      const status = (body as Body).status;
      if (typeof status === "number" && Number.isInteger(status) && status !== 200) {
        return statusFailure(status, httpStatus, call);
      }
    }
  } catch {
    // Not JSON: a gateway's or firewall's page.
  }
  const code = `HTTP_${httpStatus}`;
  if (httpStatus === 403) {
    return new EbetError({
      code,
      kind: "misconfigured",
      upstreamStatus: httpStatus,
      message: `eBET refused ${call} with HTTP 403: the calling address is probably not on the channel's IP whitelist`,
    });
  }
  if (httpStatus === 429) {
    return new EbetError({
      code,
      kind: "rate_limited",
      upstreamStatus: httpStatus,
      message: `eBET answered ${call} with HTTP 429: too many requests`,
    });
  }
  if (httpStatus >= 500) {
    return new EbetError({
      code,
      kind: "unavailable",
      upstreamStatus: httpStatus,
      message: `eBET answered ${call} with HTTP ${httpStatus}: unavailable`,
    });
  }
  return new EbetError({
    code,
    kind: "upstream",
    upstreamStatus: httpStatus,
    message: `eBET answered ${call} with HTTP ${httpStatus}`,
  });
}

function apiVersionOf(body: Body, httpStatus: number, call: string): string | undefined {
  const value = body.apiVersion;
  if (value === undefined || value === null) return undefined;
  if (typeof value === "string") return value;
  if (typeof value === "number") return String(value);
  throw ebet.badResponse(
    httpStatus,
    `eBET's ${call} answer has an apiVersion that is not a string`,
  );
}

/** Parses eBET's answer to logout: `{ status: 200, apiVersion }`, else throws EbetError. */
export async function parseLogoutResponse(
  response: Response,
  options: ReadOptions = {},
): Promise<LogoutResult> {
  const body = await successBody(response, "logout", options.maxBodyBytes);
  return { status: 200, apiVersion: apiVersionOf(body, response.status, "logout") };
}

const DIGITS = /^-?\d+$/;
const DECIMAL = /^-?\d+(\.\d+)?$/;

/** Reads a member that must be a whole number; the field table says string for some ids, so digits in a string pass. */
function integerMember(
  body: Body,
  name: string,
  httpStatus: number,
  min: number,
  fallback?: number,
): number {
  const value = body[name];
  if ((value === undefined || value === null) && fallback !== undefined) return fallback;
  const number = typeof value === "string" && DIGITS.test(value) ? Number(value) : value;
  if (typeof number !== "number" || !Number.isSafeInteger(number) || number < min) {
    throw ebet.badResponse(
      httpStatus,
      value === undefined
        ? `eBET's callback answer has no ${name}`
        : `eBET's callback answer has a ${name} that is not an integer${min > 0 ? ` of at least ${min}` : ""}`,
    );
  }
  return number;
}

/** Reads a member that must be a finite number of money; a decimal string passes. */
function moneyValue(value: unknown): number | undefined {
  const number = typeof value === "string" && DECIMAL.test(value) ? Number(value) : value;
  return typeof number === "number" && Number.isFinite(number) ? number : undefined;
}

function walletOf(body: Body, httpStatus: number): EbetWallet[] {
  const wallet = body.wallet;
  if (!Array.isArray(wallet)) {
    throw ebet.badResponse(
      httpStatus,
      wallet === undefined
        ? "eBET's callback answer has no wallet"
        : "eBET's callback answer has a wallet that is not an array",
    );
  }
  return wallet.map((entry: unknown, index): EbetWallet => {
    if (typeof entry !== "object" || entry === null || Array.isArray(entry)) {
      throw ebet.badResponse(
        httpStatus,
        `eBET's callback answer has wallet[${index}] that is not an object`,
      );
    }
    const { typeId: rawTypeId, money: rawMoney } = entry as Body;
    const typeId =
      typeof rawTypeId === "string" && DIGITS.test(rawTypeId) ? Number(rawTypeId) : rawTypeId;
    if (typeof typeId !== "number" || !Number.isSafeInteger(typeId)) {
      throw ebet.badResponse(
        httpStatus,
        `eBET's callback answer has wallet[${index}].typeId that is not an integer`,
      );
    }
    const money = moneyValue(rawMoney);
    if (money === undefined) {
      throw ebet.badResponse(
        httpStatus,
        `eBET's callback answer has wallet[${index}].money that is not a number`,
      );
    }
    return { typeId, money };
  });
}

/**
 * Parses eBET's answer to callback: the player's account with its wallets, else throws EbetError.
 * `channelId` and `subChannelId` may arrive as numbers (the example) or digit strings (the field
 * table); both read as numbers. An absent `subChannelId` reads as 0.
 */
export async function parseCallbackResponse(
  response: Response,
  options: ReadOptions = {},
): Promise<CallbackResult> {
  const body = await successBody(response, "callback", options.maxBodyBytes);
  const httpStatus = response.status;
  const username = body.username;
  if (typeof username !== "string" || username.length === 0) {
    throw ebet.badResponse(
      httpStatus,
      username === undefined
        ? "eBET's callback answer has no username"
        : "eBET's callback answer has a username that is not a non-empty string",
    );
  }
  const userId = integerMember(body, "userId", httpStatus, 0);
  const wallet = walletOf(body, httpStatus);
  const money = moneyValue(body.money);
  if (money === undefined) {
    throw ebet.badResponse(
      httpStatus,
      body.money === undefined
        ? "eBET's callback answer has no money"
        : "eBET's callback answer has money that is not a number",
    );
  }
  return {
    channelId: integerMember(body, "channelId", httpStatus, 1),
    subChannelId: integerMember(body, "subChannelId", httpStatus, 0, 0),
    userId,
    username,
    wallet,
    money,
    timestamp: integerMember(body, "timestamp", httpStatus, 0),
    apiVersion: apiVersionOf(body, httpStatus, "callback"),
  };
}
