// The Lancens client: one method per call (build, send, parse) and the whole logout flow with per-step outcomes.
import type { FetchLike } from "@x/core-signing";
import { invalidLancensInput, type LancensCall, LancensError, lancensKit } from "./errors.ts";
import { checkToken, checkUsername } from "./input.ts";
import {
  buildClearMessagePushTokenRequest,
  buildClearRingPushTokenRequest,
  buildLogoutRequest,
  type LancensPaths,
  type LogoutInput,
  resolveBaseUrl,
  resolvePaths,
} from "./requests.ts";
import {
  type AlreadyLoggedOutCode,
  type ClearOutcome,
  DEFAULT_ALREADY_LOGGED_OUT_CODES,
  DEFAULT_ERROR_BODY_BYTES,
  isSessionGone,
  type LogoutResult,
  type PushTokenClearResult,
  parseClearMessagePushTokenResponse,
  parseClearRingPushTokenResponse,
  parseLogoutResponse,
} from "./responses.ts";

export interface LancensClientOptions {
  /** Where the Lancens API lives, e.g. `LANCENS_BASE_URL` ("https://weixin.lancens.com:6443"). */
  baseUrl: string;
  /** Defaults to the global fetch. */
  fetch?: FetchLike;
  /** Deadline for each call, answer included. Default 10 000 ms. */
  timeoutMs?: number;
  /** Other paths for the three calls, when a deployment moves them. */
  paths?: Partial<LancensPaths>;
  /** Largest error body read. Default 64 KiB. */
  maxBodyBytes?: number;
  /**
   * Logout messages that mean "already logged out": `["INVALID_TOKEN"]` (the default) or `[]` to
   * see `invalid token` as an error. `no token` never does: the request carried no token header.
   */
  alreadyLoggedOutCodes?: readonly AlreadyLoggedOutCode[];
  /**
   * In `logoutFully`, when the logout finds the session already ended, whether push-token steps
   * refused for the same reason report `already_cleared` (Lancens deletes push tokens at logout and
   * at login, so a repeated flow finds them gone). Default true. Set false to see those refusals as
   * errors: a token that merely expired may leave push tokens bound.
   */
  pushTokensGoneWithSession?: boolean;
}

/** Options for one call; they override the client's. */
export interface LancensCallOptions {
  fetch?: FetchLike;
  /** Aborts the call (and the rest of a flow); the abort reason is thrown as is. */
  signal?: AbortSignal;
  timeoutMs?: number;
}

/** How one step of the flow ended: done, found already done, or the error it failed with. */
export type StepOutcome = ClearOutcome | LancensError;

/** The outcome of `logoutFully`, one entry per step, in the order they ran. */
export interface LogoutFlowResult {
  ringPushToken: StepOutcome;
  messagePushToken: StepOutcome;
  session: StepOutcome;
  /** True when the logout found the session already ended. */
  alreadyLoggedOut: boolean;
  /** True when no step failed. */
  ok: boolean;
}

const MAX_BODY_LIMIT = 16 * 1024 * 1024;

/** A client for the Lancens logout calls. Options are checked here, each naming its field. */
export class LancensClient {
  readonly baseUrl: string;
  readonly paths: Readonly<LancensPaths>;
  readonly timeoutMs: number;
  readonly #fetch: FetchLike | undefined;
  readonly #maxBodyBytes: number;
  readonly #alreadyLoggedOutCodes: readonly AlreadyLoggedOutCode[];
  readonly #pushTokensGoneWithSession: boolean;

  constructor(options: LancensClientOptions) {
    if (typeof options !== "object" || options === null) {
      throw invalidLancensInput("options", "must be an object with a baseUrl");
    }
    this.baseUrl = resolveBaseUrl(options.baseUrl);
    this.paths = Object.freeze(resolvePaths(options.paths));
    this.timeoutMs = lancensKit().checkTimeout(options.timeoutMs);
    if (options.fetch !== undefined && typeof options.fetch !== "function") {
      throw invalidLancensInput("fetch", "must be a function");
    }
    this.#fetch = options.fetch;
    const maxBodyBytes = options.maxBodyBytes ?? DEFAULT_ERROR_BODY_BYTES;
    if (!Number.isInteger(maxBodyBytes) || maxBodyBytes < 1 || maxBodyBytes > MAX_BODY_LIMIT) {
      throw invalidLancensInput(
        "maxBodyBytes",
        `must be a whole number from 1 to ${MAX_BODY_LIMIT}`,
      );
    }
    this.#maxBodyBytes = maxBodyBytes;
    const codes = options.alreadyLoggedOutCodes ?? DEFAULT_ALREADY_LOGGED_OUT_CODES;
    if (
      !Array.isArray(codes) ||
      !codes.every((code) => DEFAULT_ALREADY_LOGGED_OUT_CODES.includes(code))
    ) {
      throw invalidLancensInput(
        "alreadyLoggedOutCodes",
        'must be an array listing only "INVALID_TOKEN" (or empty)',
      );
    }
    this.#alreadyLoggedOutCodes = Object.freeze([...codes]);
    const gone = options.pushTokensGoneWithSession ?? true;
    if (typeof gone !== "boolean") {
      throw invalidLancensInput("pushTokensGoneWithSession", "must be true or false");
    }
    this.#pushTokensGoneWithSession = gone;
  }

  /** `DELETE /v1/api/user/token`: clears the ring push token of the session `token` belongs to. */
  async clearRingPushToken(
    token: string,
    options: LancensCallOptions = {},
  ): Promise<PushTokenClearResult> {
    const request = buildClearRingPushTokenRequest(this, token);
    return this.#call(request, "clearRingPushToken", options, (response) =>
      parseClearRingPushTokenResponse(response, {
        maxBodyBytes: this.#maxBodyBytes,
        secrets: [token],
      }),
    );
  }

  /** `DELETE /v1/api/user/message/token`: clears the message push token. */
  async clearMessagePushToken(
    token: string,
    options: LancensCallOptions = {},
  ): Promise<PushTokenClearResult> {
    const request = buildClearMessagePushTokenRequest(this, token);
    return this.#call(request, "clearMessagePushToken", options, (response) =>
      parseClearMessagePushTokenResponse(response, {
        maxBodyBytes: this.#maxBodyBytes,
        secrets: [token],
      }),
    );
  }

  /**
   * `POST /v1/api/user/logout`: invalidates the login token (Lancens deletes both push tokens too).
   * A token Lancens no longer knows (`invalid token`) is success with `alreadyLoggedOut: true`.
   */
  async logout(input: LogoutInput, options: LancensCallOptions = {}): Promise<LogoutResult> {
    const request = buildLogoutRequest(this, input);
    return this.#call(request, "logout", options, (response) =>
      parseLogoutResponse(response, {
        maxBodyBytes: this.#maxBodyBytes,
        alreadyLoggedOutCodes: this.#alreadyLoggedOutCodes,
        secrets: [input.token],
      }),
    );
  }

  /**
   * The whole logout: ring push token, message push token, then logout, in that order (the push
   * calls need the login token that logout invalidates). A failed push-token step does not stop the
   * logout. When the logout finds the session already ended, push-token steps refused for the same
   * reason (`invalid token`) are `already_cleared` too, as the earlier logout deleted them (unless
   * `pushTokensGoneWithSession` is false). Input is checked before any request; only the caller's
   * abort stops the flow half-way.
   */
  async logoutFully(
    input: LogoutInput,
    options: LancensCallOptions = {},
  ): Promise<LogoutFlowResult> {
    const username = checkUsername(input?.username);
    const token = checkToken(input?.token);
    const ringPushToken = await step(async () => {
      await this.clearRingPushToken(token, options);
      return "cleared";
    });
    const messagePushToken = await step(async () => {
      await this.clearMessagePushToken(token, options);
      return "cleared";
    });
    const session = await step(
      async () => (await this.logout({ username, token }, options)).outcome,
    );
    const alreadyLoggedOut = session === "already_cleared";
    const settle = (outcome: StepOutcome): StepOutcome =>
      alreadyLoggedOut &&
      this.#pushTokensGoneWithSession &&
      isSessionGone(outcome, this.#alreadyLoggedOutCodes)
        ? "already_cleared"
        : outcome;
    const result = {
      ringPushToken: settle(ringPushToken),
      messagePushToken: settle(messagePushToken),
      session,
      alreadyLoggedOut,
    };
    const ok = ![result.ringPushToken, result.messagePushToken, session].some(
      (outcome) => outcome instanceof LancensError,
    );
    return { ...result, ok };
  }

  /** Sends a request and parses its answer under one deadline; the call's own failures name it. */
  #call<T>(
    request: Request,
    call: LancensCall,
    options: LancensCallOptions,
    parse: (response: Response) => Promise<T>,
  ): Promise<T> {
    const timeoutMs =
      options.timeoutMs === undefined
        ? this.timeoutMs
        : lancensKit().checkTimeout(options.timeoutMs);
    const fetch = options.fetch ?? this.#fetch;
    return lancensKit(call).call(request, { fetch, signal: options.signal, timeoutMs }, parse);
  }
}

/** Runs one step; a LancensError becomes the step's outcome, anything else (an abort) goes on up. */
async function step(run: () => Promise<ClearOutcome>): Promise<StepOutcome> {
  try {
    return await run();
  } catch (error) {
    if (error instanceof LancensError) return error;
    throw error;
  }
}
