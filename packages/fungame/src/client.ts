// FunGameClient: logout against a FunGame WebAPI server, as build -> send -> parse with one deadline.
import { DEFAULT_MAX_BODY_BYTES, type FetchLike } from "@x/core-signing";
import { fungame, invalidInput } from "./errors.ts";
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
   * out. That answer means "no session" and "server fault" alike, so it is off by default: the 500
   * is then a retryable `upstream` error. On, a server fault reads as `alreadyLoggedOut` while the
   * session may still be open. Older servers' 400 "退出登录失败！" is just as ambiguous (FunGame's
   * page gives it for a missing session and for a request the server cannot process); it is always
   * read as `alreadyLoggedOut`, the documented meaning. Where a still-open session matters,
   * deny-list the token at the edge (`revokeToken`) whatever the answer.
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
    this.baseUrl = fungame.checkBaseUrl(options.baseUrl);
    this.timeoutMs = fungame.checkTimeout(options.timeoutMs);
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
    const timeoutMs = fungame.checkTimeout(options.timeoutMs ?? this.timeoutMs);
    const fetch = options.fetch ?? this.#fetch;
    if (fetch !== undefined && typeof fetch !== "function") {
      throw invalidInput("fetch", "must be a function taking a Request");
    }
    // One deadline for the request and the answer's body.
    return fungame.call(request, { fetch, signal: options.signal, timeoutMs }, (response) =>
      parseLogoutResponse(response, {
        treat500AsLoggedOut: this.treat500AsLoggedOut,
        maxBodyBytes: this.maxBodyBytes,
      }),
    );
  }
}
