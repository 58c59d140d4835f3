// The OneAccess SDK client: server time, the application's public key, and logout in one request when warm.
import {
  type CallOptions,
  type Clock,
  ClockOffset,
  timestamp as clockTimestamp,
  type ErrorKind,
  type FetchLike,
  isErrorKind,
  KeyFormatError,
  type KitCallOptions,
  systemClock,
  type TimestampUnit,
} from "@x/core-signing";
import { importPublicKey, type PublicKeyMaterial, type RsaPublicKey } from "@x/core-signing/rsa";
import { DEFAULT_REFRESH_CODES } from "./codes.ts";
import { OneAccessError, oneAccess, refuse } from "./errors.ts";
import { type ApplicationIdentity, checkDevice, type DeviceInfo } from "./headers.ts";
import {
  buildLogoutRequest,
  buildPublicKeyRequest,
  buildServerDateRequest,
  type CallTarget,
  checkIdentity,
} from "./requests.ts";
import {
  type LogoutResult,
  type ParseOptions,
  parseLogoutResponse,
  parsePublicKeyResponse,
  parseServerDateResponse,
  type ServerDate,
} from "./responses.ts";
import { checkNonce, checkSessionToken } from "./signature.ts";
import {
  detectTimestampUnit,
  hexNonce,
  type TimestampUnitOption,
  timestampToMs,
  timestampValue,
} from "./timestamp.ts";

/** Makes the nonce for a signature from the timestamp it signs. */
export type NonceFunction = (timestamp: string) => string;

export interface OneAccessClientOptions {
  /** The tenant domain, e.g. "https://example.huaweioneaccess.com" (for ISV applications, the common domain). */
  baseUrl: string;
  /** The application's ClientId, sent as X-client-id. */
  clientId: string;
  /** Sent as X-tenant-id when set; required by OneAccess for ISV applications. */
  tenantId?: string | undefined;
  /** Defaults to the global fetch. */
  fetch?: FetchLike | undefined;
  /** Deadline per request, answer included; 10 000 ms by default. */
  timeoutMs?: number | undefined;
  /** The local clock (ms since the epoch); defaults to Date.now. */
  now?: Clock | undefined;
  /** The nonce for a timestamp; defaults to the timestamp in hexadecimal, as documented. */
  nonce?: NonceFunction | undefined;
  /** The server's timestamp unit; "auto" (the default) reads it from the server's own timestamp. */
  timestampUnit?: TimestampUnitOption | undefined;
  /**
   * The device headers of the calls the client makes on its own behalf (server time, public key),
   * which OneAccess requires like any SDK call. Defaults to DEFAULT_SERVICE_DEVICE.
   */
  device?: DeviceInfo | undefined;
  /** The application's public key, when known in advance: the first logout then skips fetching it. */
  publicKey?: PublicKeyMaterial | undefined;
  /**
   * Which logout errors mean "the signature or its timestamp was refused", so that the key and the
   * clock offset are refreshed and the logout retried once. Defaults to defaultRefreshOn.
   */
  refreshOn?: ((error: OneAccessError) => boolean) | undefined;
  /** Kinds for OneAccess error codes, over ONEACCESS_ERROR_KINDS. */
  errorKinds?: Readonly<Record<string, ErrorKind>> | undefined;
  /** Largest answer read, in bytes; 1 MiB by default. */
  maxBodyBytes?: number | undefined;
}

/**
 * Options of one call: core's per-call options (`fetch`, `signal`, `timeoutMs`), each overriding the
 * client's for every request the call makes, the server time and the public key a cold call fetches
 * included. `timeoutMs` is the deadline of each of those requests. The clock is not among them: the
 * cached clock offset is measured against the client's own `now`, so a `now` given per call is refused.
 */
export type OneAccessCallOptions = KitCallOptions;

export interface LogoutInput {
  /** The OneAccess session token to end. */
  sessionToken: string;
  /** The user's device, sent as the X-operating-sys-version, X-device-fingerprint, X-agent, X-device-ip and X-L headers. */
  device: DeviceInfo;
}

/** The device named on the client's own calls (server time, public key) unless the `device` option says otherwise. */
export const DEFAULT_SERVICE_DEVICE: Readonly<DeviceInfo> = Object.freeze({
  osVersion: "server",
  fingerprint: "x-sdk-auth",
  agent: "x-sdk-auth",
});

const SIGNATURE_WORDS = /signature|timestamp|签名|时间戳/i;

/**
 * The default `refreshOn`: an HTTP 400 whose code is one of DEFAULT_REFRESH_CODES, or whose
 * `error_msg` speaks of the signature or the timestamp.
 */
export function defaultRefreshOn(error: OneAccessError): boolean {
  if (error.upstreamStatus !== 400) return false;
  return DEFAULT_REFRESH_CODES.includes(error.code) || SIGNATURE_WORDS.test(error.errorMsg ?? "");
}

/** One logout attempt: its result, or the OneAccessError its answer carried. */
type LogoutAttempt = { ok: true; result: LogoutResult } | { ok: false; error: OneAccessError };

/** What the client has cached, for inspection. */
export interface OneAccessClientState {
  publicKey: RsaPublicKey | undefined;
  /** Server clock minus local clock, in ms, once observed. */
  clockOffsetMs: number | undefined;
  /** The server's timestamp unit, once known. */
  timestampUnit: TimestampUnit | undefined;
}

/** One call's options, checked, with the client's filled in where the call gave none. */
interface CallSettings {
  fetch: FetchLike | undefined;
  signal: AbortSignal | undefined;
  timeoutMs: number;
}

/**
 * The request in flight in `loads` for the call's fetch, or one begun now with `start` and shared
 * with the calls that use the same fetch until it settles. It runs under the call's fetch and
 * deadline but not its signal: the calls that join it must not lose it to this call's abort.
 */
function shared<T>(
  loads: Map<FetchLike | undefined, Promise<T>>,
  call: CallSettings,
  start: (request: CallSettings) => Promise<T>,
): Promise<T> {
  const inFlight = loads.get(call.fetch);
  if (inFlight) return inFlight;
  const started = start({ ...call, signal: undefined });
  loads.set(call.fetch, started);
  started
    .finally(() => {
      if (loads.get(call.fetch) === started) loads.delete(call.fetch);
    })
    .catch(() => {});
  return started;
}

/** Rejects with the signal's reason as soon as it aborts; otherwise settles as `promise` does. */
function abortable<T>(promise: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (!signal) return promise;
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
    promise.then(resolve, reject).finally(() => signal.removeEventListener("abort", onAbort));
  });
}

function optionalFunction<T>(field: string, value: unknown): T | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== "function") throw refuse(field, `must be a function, not ${typeof value}`);
  return value as T;
}

function checkErrorKinds(value: unknown): Readonly<Record<string, ErrorKind>> | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== "object" || value === null)
    throw refuse("errorKinds", "must be an object of code -> kind");
  for (const [code, kind] of Object.entries(value)) {
    if (!isErrorKind(kind))
      throw refuse(`errorKinds.${code}`, `is not an error kind: ${JSON.stringify(kind)}`);
  }
  return { ...(value as Record<string, ErrorKind>) };
}

function checkMaxBodyBytes(value: unknown): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== "number" || !Number.isInteger(value) || value < 1) {
    throw refuse("maxBodyBytes", "must be a whole number of bytes, at least 1");
  }
  return value;
}

/**
 * A OneAccess SDK client for one application. The public key and the server clock offset are cached,
 * so that after the first call a logout costs one request; a logout refused for its signature or
 * timestamp refreshes both and is retried once. A call may bring its own fetch, which then makes
 * every request of that call; what it fetches is cached for the client all the same.
 */
export class OneAccessClient {
  readonly #baseUrl: string;
  readonly #app: ApplicationIdentity;
  readonly #fetch: FetchLike | undefined;
  readonly #timeoutMs: number;
  readonly #now: Clock;
  readonly #nonce: NonceFunction;
  readonly #unitOption: TimestampUnitOption;
  readonly #device: DeviceInfo;
  readonly #refreshOn: (error: OneAccessError) => boolean;
  readonly #parse: ParseOptions;
  readonly #offset: ClockOffset;
  #unit: TimestampUnit | undefined;
  #key: RsaPublicKey | undefined;
  /** Counts the times the cache was dropped, so that a key fetched before is not cached after. */
  #generation = 0;
  // In-flight fetches of the key and the server time, shared by the calls that use the same fetch:
  // a call with another fetch makes its own, so that its fetch sees every request it causes.
  readonly #keyLoading = new Map<FetchLike | undefined, Promise<RsaPublicKey>>();
  readonly #dateLoading = new Map<FetchLike | undefined, Promise<ServerDate>>();

  constructor(options: OneAccessClientOptions) {
    if (typeof options !== "object" || options === null) {
      throw refuse("baseUrl", "is required: new OneAccessClient({ baseUrl, clientId })");
    }
    this.#baseUrl = oneAccess.checkBaseUrl(options.baseUrl);
    this.#app = checkIdentity(options.clientId, options.tenantId);
    this.#timeoutMs = oneAccess.checkTimeout(options.timeoutMs);
    this.#fetch = optionalFunction<FetchLike>("fetch", options.fetch);
    this.#now = optionalFunction<Clock>("now", options.now) ?? systemClock;
    this.#nonce = optionalFunction<NonceFunction>("nonce", options.nonce) ?? hexNonce;
    const unit = options.timestampUnit ?? "auto";
    if (unit !== "auto" && unit !== "s" && unit !== "ms") {
      throw refuse("timestampUnit", `must be "auto", "s" or "ms", not ${JSON.stringify(unit)}`);
    }
    this.#unitOption = unit;
    this.#device = checkDevice(options.device ?? DEFAULT_SERVICE_DEVICE, "device");
    this.#refreshOn =
      optionalFunction<(error: OneAccessError) => boolean>("refreshOn", options.refreshOn) ??
      defaultRefreshOn;
    this.#parse = {
      errorKinds: checkErrorKinds(options.errorKinds),
      maxBodyBytes: checkMaxBodyBytes(options.maxBodyBytes),
    };
    this.#offset = new ClockOffset(this.#now);
    if (options.publicKey !== undefined) {
      try {
        this.#key = importPublicKey(options.publicKey);
      } catch (error) {
        if (error instanceof KeyFormatError) throw refuse("publicKey", error.message);
        throw error;
      }
    }
  }

  /** What is cached: the public key, the clock offset and the server's timestamp unit. */
  get state(): OneAccessClientState {
    return {
      publicKey: this.#key,
      clockOffsetMs: this.#offset.known ? this.#offset.offsetMs : undefined,
      timestampUnit: this.#unit,
    };
  }

  /** Forgets the public key and the clock offset; the next logout fetches both again. */
  resetCache(): void {
    this.#forget();
    this.#unit = undefined;
  }

  /** `GET /api/v2/sdk/server-date` -> `{ timestamp }`, verbatim. Also refreshes the cached clock offset. */
  async serverDate(options: OneAccessCallOptions = {}): Promise<ServerDate> {
    return this.#fetchServerDate(this.#callOptions(options));
  }

  /**
   * Fetches what the cache lacks (the application's public key, the clock offset) and nothing when
   * warm. Concurrent calls with the same fetch share each request: an app that warms every logout
   * through one fetch makes one of each however many first logouts run at once.
   */
  async warm(options: OneAccessCallOptions = {}): Promise<void> {
    const call = this.#callOptions(options);
    await this.#publicKey(call);
    await this.#signingTimestamp(call);
  }

  /** The application's public key: fetched with `GET /api/v2/sdk/public-key` once, then cached. */
  async publicKey(options: OneAccessCallOptions = {}): Promise<RsaPublicKey> {
    return this.#publicKey(this.#callOptions(options));
  }

  /**
   * `GET /api/v2/sdk/logout` for one session token, signed with the X-signature. Bad input is
   * refused before any request. Warm (key and clock offset cached) it costs one request; cold, the
   * key and the server time are fetched first. A 400 that points at the signature or the timestamp
   * refreshes both and retries once.
   */
  async logout(input: LogoutInput, options: OneAccessCallOptions = {}): Promise<LogoutResult> {
    if (typeof input !== "object" || input === null) {
      throw refuse("sessionToken", "is required: logout({ sessionToken, device })");
    }
    const sessionToken = checkSessionToken(input.sessionToken);
    const device = checkDevice(input.device);
    const call = this.#callOptions(options);
    if (call.signal?.aborted) throw call.signal.reason;
    const first = await this.#logoutOnce(sessionToken, device, call);
    if (first.ok) return first.result;
    if (!this.#refreshOn(first.error)) throw first.error;
    this.#forget();
    const second = await this.#logoutOnce(sessionToken, device, call);
    if (second.ok) return second.result;
    throw second.error;
  }

  /** Forgets the key and the clock offset, and stops sharing the fetches of both now in flight. */
  #forget(): void {
    this.#generation++;
    this.#key = undefined;
    this.#keyLoading.clear();
    this.#dateLoading.clear();
    this.#offset.reset();
  }

  /** The cached key, or the one being fetched with the call's fetch, or a fetch of it started now. */
  async #publicKey(call: CallSettings): Promise<RsaPublicKey> {
    if (this.#key) return this.#key;
    const loading = shared(this.#keyLoading, call, async (request) => {
      const generation = this.#generation;
      const key = await oneAccess.call(buildPublicKeyRequest(this.#target()), request, (response) =>
        parsePublicKeyResponse(response, this.#parse),
      );
      // A key fetched before the cache was dropped serves the calls that waited for it, no later one.
      if (this.#generation === generation) this.#key = key;
      return key;
    });
    return abortable(loading, call.signal);
  }

  async #logoutOnce(
    sessionToken: string,
    device: DeviceInfo,
    call: CallSettings,
  ): Promise<LogoutAttempt> {
    const publicKey = await this.#publicKey(call);
    const timestamp = await this.#signingTimestamp(call);
    const nonce = checkNonce(this.#nonce(timestamp), "nonce");
    const request = await buildLogoutRequest({
      ...this.#target(device),
      publicKey,
      sessionToken,
      timestamp,
      nonce,
    });
    return oneAccess.call(request, call, async (response): Promise<LogoutAttempt> => {
      try {
        return { ok: true, result: await parseLogoutResponse(response, this.#parse) };
      } catch (error) {
        if (error instanceof OneAccessError) return { ok: false, error };
        throw error;
      }
    });
  }

  /** The timestamp to sign: computed locally from the cached offset, or the server's own, fetched now. */
  async #signingTimestamp(call: CallSettings): Promise<string> {
    if (this.#offset.known && this.#unit !== undefined) {
      return String(clockTimestamp(this.#unit, () => this.#offset.serverNow()));
    }
    const loading = shared(this.#dateLoading, call, (request) => this.#fetchServerDate(request));
    return (await abortable(loading, call.signal)).timestamp;
  }

  async #fetchServerDate(call: CallSettings): Promise<ServerDate> {
    const sentAt = this.#now();
    const result = await oneAccess.call(buildServerDateRequest(this.#target()), call, (response) =>
      parseServerDateResponse(response, this.#parse),
    );
    const value = timestampValue(result.timestamp) as number;
    const unit =
      this.#unitOption === "auto" ? detectTimestampUnit(result.timestamp) : this.#unitOption;
    this.#unit = unit;
    this.#offset.observe(timestampToMs(value, unit), sentAt);
    return result;
  }

  #target(device: DeviceInfo = this.#device): CallTarget {
    return { baseUrl: this.#baseUrl, ...this.#app, device };
  }

  /** Checks one call's options before any request and fills in the client's own. */
  #callOptions(options: OneAccessCallOptions): CallSettings {
    if (typeof options !== "object" || options === null) {
      throw refuse("options", "must be an object: { fetch?, signal?, timeoutMs? }");
    }
    if ((options as CallOptions).now !== undefined) {
      throw refuse(
        "now",
        "is the client's clock, set when it is made: the cached clock offset is measured against it",
      );
    }
    return {
      fetch: optionalFunction<FetchLike>("fetch", options.fetch) ?? this.#fetch,
      signal: options.signal,
      timeoutMs:
        options.timeoutMs === undefined
          ? this.#timeoutMs
          : oneAccess.checkTimeout(options.timeoutMs),
    };
  }
}
