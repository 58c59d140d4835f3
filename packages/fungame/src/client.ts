// FunGameClient: logout against a FunGame WebAPI server, as build -> send -> parse with one deadline.
import {
  checkBaseUrl,
  checkTimeout,
  DEFAULT_MAX_BODY_BYTES,
  type FetchLike,
  sendRequest,
  VendorError,
} from "@x/core-signing";
import { asFunGameError, FunGameError, invalidInput, VENDOR } from "./errors.ts";
import { buildLogoutRequest, LOGOUT_PATH, logoutUrl } from "./requests.ts";
import { type LogoutResult, parseLogoutResponse } from "./responses.ts";

/** Options of FunGameClient. */
export interface FunGameClientOptions {
  /** The server's root, e.g. "https://api.redbud.fun"; absolute http(s), no query or credentials. */
  baseUrl: string;
  /** Sends the requests; defaults to the global fetch. A simulator's `fetch` fits here. */
  fetch?: FetchLike;
  /** Deadline of a whole call, answer body included, in ms (1 to 300 000); defaults to 10 000. */
  timeoutMs?: number;
  /**
   * Count newer servers' HTTP 500 "退出登录失败！服务器可能暂时无法处理此请求。" as already logged
   * out. That answer means "no session" and "server fault" alike, so it is off by default.
   */
  treat500AsLoggedOut?: boolean;
  /** The logout path under baseUrl; defaults to "/user/logout". */
  logoutPath?: string;
  /** The largest answer read, in bytes; defaults to 1 MiB. */
  maxBodyBytes?: number;
}

/** Options for one call; each overrides the client's own. */
export interface LogoutCallOptions {
  fetch?: FetchLike;
  /** Aborts the call; its reason is thrown as is. */
  signal?: AbortSignal;
  timeoutMs?: number;
}

/** A FunGame WebAPI client. Holds no token: each call takes the user's bearer token. */
export class FunGameClient {
  readonly baseUrl: string;
  readonly timeoutMs: number;
  readonly logoutPath: string;
  readonly treat500AsLoggedOut: boolean;
  readonly maxBodyBytes: number;
  readonly #fetch: FetchLike | undefined;

  constructor(options: FunGameClientOptions) {
    if (typeof options !== "object" || options === null) {
      throw invalidInput("options", "must be an object with a baseUrl");
    }
    this.baseUrl = asFunGameError(() => checkBaseUrl(VENDOR, options.baseUrl));
    this.timeoutMs = asFunGameError(() => checkTimeout(VENDOR, options.timeoutMs));
    if (options.fetch !== undefined && typeof options.fetch !== "function") {
      throw invalidInput("fetch", "must be a function taking a Request");
    }
    this.#fetch = options.fetch;
    const treat = options.treat500AsLoggedOut ?? false;
    if (typeof treat !== "boolean") throw invalidInput("treat500AsLoggedOut", "must be a boolean");
    this.treat500AsLoggedOut = treat;
    this.logoutPath = options.logoutPath ?? LOGOUT_PATH;
    this.maxBodyBytes = options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
    if (!Number.isInteger(this.maxBodyBytes) || this.maxBodyBytes < 1) {
      throw invalidInput("maxBodyBytes", "must be a whole number of bytes, at least 1");
    }
    // Refuse a bad path now rather than on the first call.
    logoutUrl({ baseUrl: this.baseUrl, path: this.logoutPath });
  }

  /**
   * Ends the session of `bearerToken` (`POST /user/logout`). Resolves with `alreadyLoggedOut: false`
   * when FunGame logged the session out, `true` when it was already gone; rejects with a
   * FunGameError otherwise. The token is checked before any request is made.
   */
  async logout(bearerToken: string, options: LogoutCallOptions = {}): Promise<LogoutResult> {
    const request = buildLogoutRequest(bearerToken, {
      baseUrl: this.baseUrl,
      path: this.logoutPath,
    });
    const timeoutMs = asFunGameError(() =>
      checkTimeout(VENDOR, options.timeoutMs ?? this.timeoutMs),
    );
    const fetcher = options.fetch ?? this.#fetch;
    if (fetcher !== undefined && typeof fetcher !== "function") {
      throw invalidInput("fetch", "must be a function taking a Request");
    }
    return withDeadline(timeoutMs, options.signal, async (signal) => {
      let response: Response;
      try {
        response = await sendRequest(request, {
          vendor: VENDOR,
          signal,
          timeoutMs,
          ...(fetcher ? { fetch: fetcher } : {}),
        });
      } catch (error) {
        if (error instanceof VendorError) throw FunGameError.from(error);
        throw error;
      }
      return parseLogoutResponse(response, {
        treat500AsLoggedOut: this.treat500AsLoggedOut,
        maxBodyBytes: this.maxBodyBytes,
      });
    });
  }
}

/**
 * Runs `work` under one deadline that covers the answer's body too (sendRequest's own deadline
 * ends when the headers arrive). The caller's abort reason, or the timeout error, is thrown.
 */
async function withDeadline<T>(
  timeoutMs: number,
  outer: AbortSignal | undefined,
  work: (signal: AbortSignal) => Promise<T>,
): Promise<T> {
  if (outer?.aborted) throw outer.reason;
  const controller = new AbortController();
  const onOuterAbort = () => controller.abort(outer?.reason);
  outer?.addEventListener("abort", onOuterAbort, { once: true });
  let timer: ReturnType<typeof setTimeout> | undefined;
  const stopped = new Promise<never>((_, reject) => {
    controller.signal.addEventListener("abort", () => reject(controller.signal.reason), {
      once: true,
    });
    timer = setTimeout(() => {
      controller.abort(
        new FunGameError({
          code: "TIMEOUT",
          kind: "unavailable",
          message: `fungame did not answer within ${timeoutMs} ms`,
        }),
      );
    }, timeoutMs);
  });
  stopped.catch(() => {});
  try {
    return await Promise.race([work(controller.signal), stopped]);
  } finally {
    clearTimeout(timer);
    outer?.removeEventListener("abort", onOuterAbort);
  }
}
