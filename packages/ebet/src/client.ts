// EbetClient: the channel's side of eBET's logout and login notification, as build -> send -> parse.
import type { CallOptions, Clock, FetchLike, KitCallOptions } from "@x/core-signing";
import { ebet, invalidEbetInput } from "./errors.ts";
import { checkFunction, checkObject } from "./input.ts";
import {
  type CallbackInput,
  callbackRequest,
  type EbetRequestConfig,
  type LogoutInput,
  logoutRequest,
  type ResolvedConfig,
  resolveConfig,
} from "./requests.ts";
import {
  type CallbackResult,
  DEFAULT_EBET_MAX_BODY_BYTES,
  type LogoutResult,
  parseCallbackResponse,
  parseLogoutResponse,
} from "./responses.ts";

export interface EbetClientOptions extends EbetRequestConfig {
  /** Defaults to the global fetch; a simulator's or a service binding's fetch fits too. */
  fetch?: FetchLike;
  /** Deadline for a whole call, answer included: 1 to 300 000 ms, 10 000 by default. */
  timeoutMs?: number;
  /**
   * Largest answer body read, in bytes (a whole number, at least 1): reading stops there and the
   * call fails with BAD_RESPONSE. 256 KiB by default; eBET's answers are a few hundred bytes.
   */
  maxBodyBytes?: number;
}

/**
 * A client for one eBET channel. The private key is imported once, when the client is made; every
 * option is checked then, and every call's input before anything is sent.
 */
export class EbetClient {
  readonly #config: ResolvedConfig;
  readonly #fetch: FetchLike | undefined;
  readonly #timeoutMs: number;
  readonly #read: { maxBodyBytes: number };

  constructor(options: EbetClientOptions) {
    this.#config = resolveConfig(options);
    this.#fetch = checkFunction<FetchLike>(options.fetch, "fetch");
    this.#timeoutMs = ebet.checkTimeout(options.timeoutMs);
    const maxBodyBytes = options.maxBodyBytes ?? DEFAULT_EBET_MAX_BODY_BYTES;
    if (!Number.isSafeInteger(maxBodyBytes) || maxBodyBytes < 1) {
      throw invalidEbetInput(
        "maxBodyBytes",
        `must be a whole number of bytes, at least 1, got ${String(maxBodyBytes)}`,
      );
    }
    this.#read = { maxBodyBytes };
  }

  get baseUrl(): string {
    return this.#config.baseUrl;
  }

  get channelId(): number {
    return this.#config.channelId;
  }

  /** Makes the player leave eBET's game: `POST /api/logout`. Resolves to `{ status: 200, apiVersion }`. */
  async logout(input: LogoutInput, options?: CallOptions): Promise<LogoutResult> {
    const call = this.#callOptions(options);
    const request = await logoutRequest(call.config, input);
    return ebet.call(request, call.send, (response) => parseLogoutResponse(response, this.#read));
  }

  /**
   * Tells eBET that the channel has logged the player in: `POST /api/callback`. Resolves to the
   * player's account and wallets.
   */
  async callback(input: CallbackInput, options?: CallOptions): Promise<CallbackResult> {
    const call = this.#callOptions(options);
    const request = await callbackRequest(call.config, input);
    return ebet.call(request, call.send, (response) => parseCallbackResponse(response, this.#read));
  }

  /** Merges per-call options over the client's, checking them before anything is built. */
  #callOptions(options: CallOptions | undefined): { config: ResolvedConfig; send: KitCallOptions } {
    const given = options === undefined ? {} : checkObject(options, "options");
    const fetch = checkFunction<FetchLike>(given.fetch, "fetch") ?? this.#fetch;
    const now = checkFunction<Clock>(given.now, "now");
    const timeoutMs =
      given.timeoutMs === undefined ? this.#timeoutMs : ebet.checkTimeout(given.timeoutMs);
    const signal = given.signal;
    if (signal !== undefined && !(signal instanceof AbortSignal)) {
      throw invalidEbetInput("signal", "must be an AbortSignal");
    }
    const send: KitCallOptions = { timeoutMs, fetch, signal };
    return { config: now === undefined ? this.#config : { ...this.#config, now }, send };
  }
}
