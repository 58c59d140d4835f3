// The shared vendor-call contract: a kit per vendor that checks options, calls under one deadline and reads bounded answers.
import type { Clock } from "./clock.ts";
import {
  VendorError,
  type VendorErrorFactory,
  type VendorErrorFields,
  vendorErrorFields,
} from "./errors.ts";

/** Anything that answers a Request: the global fetch, a simulator's fetch, a service binding. */
export type FetchLike = (request: Request) => Promise<Response>;

/** Options every vendor client takes; each may also be given per call. */
export interface CallOptions {
  /** Defaults to the global fetch. */
  fetch?: FetchLike;
  /** Aborts the call; the abort reason is thrown as is. */
  signal?: AbortSignal;
  /** Deadline for the whole call, answer body included. Defaults to 10 000 ms. */
  timeoutMs?: number;
  /** Clock for timestamps, defaults to Date.now. */
  now?: Clock;
}

export const DEFAULT_TIMEOUT_MS: number = 10_000;

/** Answers that came straight from the platform's own fetch: see `fromPlatformFetch`. */
const platformAnswers = new WeakSet<Response>();

/**
 * Marks `response` as the platform's own fetch returned it, and returns it. The platform's HTTP
 * client frames a body by its Content-Length (and keeps Content-Encoding when it decodes one), so
 * `readText` may let the runtime read such an answer whole when its declared length is within the
 * limit; any other answer (from a test double, a service binding, a wrapper that rewrites
 * headers) is read as a stream and cut off at the limit, whatever it declares. `call` marks the
 * answers of the global fetch it uses by default; a host that hands a kit its own wrapper of the
 * global fetch marks them itself.
 */
export function fromPlatformFetch(response: Response): Response {
  platformAnswers.add(response);
  return response;
}
/** Vendor answers are small; anything larger than this is refused rather than buffered. */
export const DEFAULT_MAX_BODY_BYTES: number = 1024 * 1024;

/** The options of one call through a kit; a member left out or undefined takes its default. */
export interface KitCallOptions {
  /** Defaults to the global fetch. */
  fetch?: FetchLike | undefined;
  /** Aborts the call; the abort reason is thrown as is. */
  signal?: AbortSignal | undefined;
  /** A whole number of milliseconds from 1 to 300 000; defaults to 10 000. */
  timeoutMs?: number | undefined;
}

/** The options of `sendRequest`: a kit's call options and the vendor's name. */
export interface SendOptions extends KitCallOptions {
  vendor: string;
}

/**
 * The shared call machinery bound to one vendor and its error class: every error a kit makes or
 * lets through from a fetch or a body is an `E`, so a vendor package needs no re-typing of its own.
 */
export interface VendorKit<E extends VendorError = VendorError> {
  /** The vendor's name that every error carries, e.g. "ebet". */
  readonly vendor: string;
  /** An error of the vendor's class. */
  error(init: VendorErrorFields): E;
  /**
   * The same failure as an error of the vendor's class, every field kept, its cause the original's
   * cause or else the original; an error already of the vendor's class is returned as is.
   */
  adopt(error: VendorError): E;
  /** A caller's input refused before any request: code INVALID_INPUT, kind invalid_request, `field` set. */
  invalidInput(field: string, message: string): E;
  /** An answer the vendor should not have given: code BAD_RESPONSE, kind upstream, the answer's HTTP status. */
  badResponse(upstreamStatus: number, message: string, cause?: unknown): E;
  /** Checks a timeout option: a whole number of milliseconds from 1 to 300 000; undefined is the default. */
  checkTimeout(value: unknown, field?: string): number;
  /**
   * Checks a base URL option and returns it without a trailing slash: absolute http(s), no query,
   * no fragment, no credentials.
   */
  checkBaseUrl(value: unknown, field?: string): string;
  /**
   * Sends a request with a deadline that ends when the answer's headers arrive. No answer in time
   * is a retryable `unavailable` error (code TIMEOUT), a network failure likewise (NETWORK_ERROR);
   * the caller's own abort is rethrown unchanged. The deadline holds even against a fetch that
   * ignores its signal. Redirects are never followed (the request goes out with
   * `redirect: "manual"`): a 3xx, a browser's opaque redirect, or an answer a fetch reached by
   * following one anyway is a non-retryable `upstream` error, code REDIRECT, naming the status and
   * the target's origin only. Prefer `call`, whose deadline covers the body too.
   */
  send(request: Request, options?: KitCallOptions): Promise<Response>;
  /**
   * Sends a request and parses its answer under ONE deadline: the time `parse` takes reading the
   * body counts too. Errors as `send` (a redirect never reaches `parse`); whatever `parse` throws
   * passes through unchanged. When the
   * deadline or the caller's abort ends the call, the request's signal is aborted (a real fetch
   * then stops the body) and a body `parse` has not begun reading is cancelled.
   */
  call<T>(
    request: Request,
    options: KitCallOptions | undefined,
    parse: (response: Response) => T | Promise<T>,
  ): Promise<T>;
  /**
   * The answer's body as text, refusing to buffer more than `maxBytes`: a declared Content-Length
   * over it is refused unread; within it, and with no Content-Encoding, the runtime reads the body
   * whole and the bytes are counted again; otherwise the stream is cancelled at the limit. An
   * oversized body is an `upstream` error, code BAD_RESPONSE; a body that breaks off mid-answer is
   * a retryable `unavailable` error, code NETWORK_ERROR.
   */
  readText(response: Response, maxBytes?: number): Promise<string>;
  /** The answer's body parsed as JSON; an empty, truncated or non-JSON body is an `upstream` BAD_RESPONSE. */
  readJson(response: Response, maxBytes?: number): Promise<unknown>;
  /**
   * For parsers handed an answer by someone else's fetch: a redirect (a 3xx, an opaque redirect,
   * or an answer a fetch reached by following one) has its body cancelled and is thrown as the
   * non-retryable `upstream` REDIRECT error that `call` throws, naming the target's origin only.
   * Any other answer passes.
   */
  refuseRedirect(response: Response): Promise<void>;
}

/**
 * The kit of one vendor. `makeError` makes the vendor's own error class from the shared fields
 * (`(init) => new EbetError(init)`); without it, errors are plain VendorErrors naming `vendor`.
 * `makeError` is tried once here and must return a VendorError of `vendor`: errors of the class it
 * returns count as the vendor's own and pass through a kit unchanged, other VendorErrors are adopted.
 */
export function defineVendor(vendor: string): VendorKit;
export function defineVendor<E extends VendorError>(
  vendor: string,
  makeError: VendorErrorFactory<E>,
): VendorKit<E>;
export function defineVendor(
  vendor: string,
  makeError?: VendorErrorFactory,
): VendorKit<VendorError> {
  if (typeof vendor !== "string" || vendor.length === 0) {
    throw new TypeError("defineVendor: the vendor's name must be a non-empty string");
  }
  if (makeError === undefined) return plainKit(vendor);
  if (typeof makeError !== "function") {
    throw new TypeError("defineVendor: makeError must be a function returning a VendorError");
  }
  const sample: unknown = makeError({
    code: "INVALID_INPUT",
    kind: "invalid_request",
    message: "",
  });
  if (!(sample instanceof VendorError) || sample.vendor !== vendor) {
    throw new TypeError(`defineVendor: makeError must return a VendorError of vendor "${vendor}"`);
  }
  const own = Object.getPrototypeOf(sample) as object;
  return makeKit(
    vendor,
    makeError,
    (value) => value instanceof VendorError && Object.prototype.isPrototypeOf.call(own, value),
  );
}

/** The kit behind the free functions: plain VendorErrors, and every VendorError counts as its own. */
function plainKit(vendor: string): VendorKit {
  return makeKit(
    vendor,
    (init) => new VendorError({ ...init, vendor }),
    (value) => value instanceof VendorError,
  );
}

function makeKit<E extends VendorError>(
  vendor: string,
  make: VendorErrorFactory<E>,
  owns: (value: unknown) => boolean,
): VendorKit<E> {
  const adopt = (error: VendorError): E =>
    owns(error) ? (error as E) : make(vendorErrorFields(error));

  const invalidInput = (field: string, message: string): E =>
    make({
      code: "INVALID_INPUT",
      kind: "invalid_request",
      field,
      message: `${field}: ${message}`,
    });

  const checkTimeout = (value: unknown, field = "timeoutMs"): number => {
    if (value === undefined) return DEFAULT_TIMEOUT_MS;
    if (typeof value !== "number" || !Number.isInteger(value) || value < 1 || value > 300_000) {
      throw invalidInput(
        field,
        `must be a whole number of milliseconds from 1 to 300000, got ${String(value)}`,
      );
    }
    return value;
  };

  const checkBaseUrl = (value: unknown, field = "baseUrl"): string => {
    if (typeof value !== "string" || value.length === 0)
      throw invalidInput(field, "must be a non-empty URL string");
    let url: URL;
    try {
      url = new URL(value);
    } catch {
      throw invalidInput(field, `is not an absolute URL: ${JSON.stringify(value)}`);
    }
    if (url.protocol !== "https:" && url.protocol !== "http:") {
      throw invalidInput(field, `must use http or https, not ${url.protocol}`);
    }
    if (url.username || url.password) throw invalidInput(field, "must not carry credentials");
    if (url.search || url.hash) throw invalidInput(field, "must not have a query or fragment");
    return url.href.replace(/\/+$/, "");
  };

  /** A redirect as a non-retryable `upstream` REDIRECT that names its status and target origin only. */
  const redirectError = (response: Response, requestUrl: string | undefined): E => {
    const { status } = response;
    let what: string;
    if (response.type === "opaqueredirect") {
      what = `${vendor} answered with a redirect whose status and target the platform hides`;
    } else if (status >= 300 && status <= 399) {
      const target = redirectOrigin(response.headers.get("location"), requestUrl);
      what = `${vendor} answered HTTP ${status}, a redirect${target ? ` to ${target}` : ""}`;
    } else {
      what = `the fetch followed a redirect away from ${vendor} (final answer HTTP ${status})`;
    }
    return make({
      code: "REDIRECT",
      kind: "upstream",
      retryable: false,
      upstreamStatus: response.type === "opaqueredirect" ? undefined : status,
      message: `${what}; redirects are not followed, so that credentials and signed requests stay with ${vendor}: set the base URL to the final address`,
    });
  };

  const refuseRedirect = async (response: Response, requestUrl?: string): Promise<void> => {
    if (!isRedirect(response)) return;
    await response.body?.cancel().catch(() => {});
    throw redirectError(response, requestUrl || response.url || undefined);
  };

  const call = async <T>(
    request: Request,
    options: KitCallOptions | undefined,
    parse: (response: Response) => T | Promise<T>,
  ): Promise<T> => {
    const timeoutMs = checkTimeout(options?.timeoutMs);
    const fetcher: FetchLike = options?.fetch ?? ((input) => fetch(input).then(fromPlatformFetch));
    const outer = options?.signal;
    if (outer?.aborted) throw outer.reason;
    const controller = new AbortController();
    let timer: ReturnType<typeof setTimeout> | undefined;
    let stop: (reason: unknown) => void = () => {};
    // Settles on the deadline or on the caller's abort, even if the fetch or the body ignore their signal.
    const stopped = new Promise<never>((_, reject) => {
      stop = reject;
      timer = setTimeout(() => {
        const error = make({
          code: "TIMEOUT",
          kind: "unavailable",
          message: `${vendor} did not answer within ${timeoutMs} ms`,
        });
        controller.abort(error);
        reject(error);
      }, timeoutMs);
    });
    const onOuterAbort = () => {
      controller.abort(outer?.reason);
      stop(outer?.reason);
    };
    outer?.addEventListener("abort", onOuterAbort, { once: true });
    let response: Response | undefined;
    const work = async (): Promise<T> => {
      try {
        // Never followed: a redirect would carry the credential, the signature or the signed body
        // to wherever the Location points, and let that address write the answer.
        response = await fetcher(
          new Request(request, { signal: controller.signal, redirect: "manual" }),
        );
      } catch (error) {
        if (outer?.aborted) throw outer.reason;
        if (error instanceof VendorError) throw adopt(error);
        if (owns(controller.signal.reason)) throw controller.signal.reason;
        throw make({
          code: "NETWORK_ERROR",
          kind: "unavailable",
          message: `could not reach ${vendor}: ${error instanceof Error ? error.message : String(error)}`,
          cause: error,
        });
      }
      if (controller.signal.aborted) {
        // The answer came after the call ended: nobody will parse it.
        await response.body?.cancel().catch(() => {});
        throw controller.signal.reason;
      }
      await refuseRedirect(response, request.url);
      return parse(response);
    };
    try {
      return await Promise.race([work(), stopped]);
    } catch (error) {
      // Nobody else will read this answer: free a body that no reader holds.
      if (response?.body && !response.body.locked) response.body.cancel().catch(() => {});
      throw error;
    } finally {
      clearTimeout(timer);
      outer?.removeEventListener("abort", onOuterAbort);
    }
  };

  const badResponse = (upstreamStatus: number, message: string, cause?: unknown): E =>
    make({ code: "BAD_RESPONSE", kind: "upstream", upstreamStatus, message, cause });

  const readText = async (
    response: Response,
    maxBytes: number = DEFAULT_MAX_BODY_BYTES,
  ): Promise<string> => {
    const { headers } = response;
    const length = headers.get("content-length");
    const declared = length === null ? Number.NaN : Number(length);
    const tooLong = () =>
      badResponse(
        response.status,
        `${vendor} answered with more than the ${maxBytes} bytes accepted`,
      );
    if (declared > maxBytes) {
      // A HEAD or 304 answer declares a length it does not send.
      if (!response.body) return "";
      await response.body.cancel().catch(() => {});
      throw badResponse(
        response.status,
        `${vendor} answered with ${declared} bytes, more than the ${maxBytes} accepted`,
      );
    }
    const decoder = new TextDecoder();
    let text = "";
    try {
      // The platform's own answer, of a plain declared length within the limit, not encoded: the
      // runtime reads it whole itself (no more than that length can come; the bytes are counted
      // again after), far cheaper than a reader loop (on Deno most of all).
      if (
        platformAnswers.has(response) &&
        /^\d+$/.test(length as string) &&
        !headers.has("content-encoding") &&
        !headers.has("transfer-encoding")
      ) {
        const bytes = await response.arrayBuffer();
        if (bytes.byteLength > maxBytes) throw tooLong();
        return decoder.decode(bytes);
      }
      if (!response.body) return "";
      const reader = response.body.getReader();
      let total = 0;
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        total += value.byteLength;
        if (total > maxBytes) {
          await reader.cancel().catch(() => {});
          throw tooLong();
        }
        text += decoder.decode(value, { stream: true });
      }
    } catch (error) {
      if (error instanceof VendorError) throw adopt(error);
      // The connection broke off mid-answer: a network failure, worth another attempt.
      throw make({
        code: "NETWORK_ERROR",
        kind: "unavailable",
        upstreamStatus: response.status,
        message: `${vendor}'s answer broke off before its end`,
        cause: error,
      });
    }
    return text + decoder.decode();
  };

  const readJson = async (response: Response, maxBytes?: number): Promise<unknown> => {
    const text = await readText(response, maxBytes);
    try {
      return JSON.parse(text);
    } catch (cause) {
      const preview = text.length > 80 ? `${text.slice(0, 80)}…` : text;
      throw badResponse(
        response.status,
        `${vendor} answered HTTP ${response.status} with a body that is not JSON: ${JSON.stringify(preview)}`,
        cause,
      );
    }
  };

  return Object.freeze({
    vendor,
    error: (init: VendorErrorFields): E => make(init),
    adopt,
    invalidInput,
    badResponse,
    checkTimeout,
    checkBaseUrl,
    send: (request: Request, options?: KitCallOptions): Promise<Response> =>
      call(request, options, (response) => response),
    call,
    readText,
    readJson,
    refuseRedirect: (response: Response): Promise<void> => refuseRedirect(response),
  });
}

/**
 * A 3xx, a browser's opaque redirect (status 0), or an answer that a fetch ignoring the request's
 * `redirect: "manual"` reached by following one.
 */
function isRedirect(response: Response): boolean {
  return (
    response.type === "opaqueredirect" ||
    response.redirected ||
    (response.status >= 300 && response.status <= 399)
  );
}

/**
 * Where a redirect points, as an origin only: its path and query may carry what the vendor echoed
 * back (a token, a signature), so they never reach an error message.
 */
function redirectOrigin(location: string | null, base: string | undefined): string | undefined {
  if (!location) return undefined;
  try {
    const origin = new URL(location, base).origin;
    return origin === "null" ? undefined : origin;
  } catch {
    return undefined;
  }
}

/** A caller's input refused before any request is made; `field` names the culprit. The plain kit's `invalidInput`. */
export function invalidInput(vendor: string, field: string, message: string): VendorError {
  return plainKit(vendor).invalidInput(field, message);
}

/** Checks a timeout option: a whole number of milliseconds from 1 to 300 000. The plain kit's `checkTimeout`. */
export function checkTimeout(vendor: string, value: unknown, field = "timeoutMs"): number {
  return plainKit(vendor).checkTimeout(value, field);
}

/**
 * Checks a base URL option and returns it without a trailing slash: absolute http(s), no query,
 * no fragment, no credentials. The plain kit's `checkBaseUrl`.
 */
export function checkBaseUrl(vendor: string, value: unknown, field = "baseUrl"): string {
  return plainKit(vendor).checkBaseUrl(value, field);
}

/**
 * Sends a request with a deadline that ends when the answer's headers arrive: the plain kit's
 * `send`. No answer in time is a retryable `unavailable` VendorError (code TIMEOUT), a network
 * failure likewise (code NETWORK_ERROR); the caller's own abort is rethrown unchanged. The deadline
 * holds even against a fetch that ignores its signal. Redirects are not followed: a 3xx is a
 * non-retryable `upstream` VendorError, code REDIRECT. A kit's `call` covers the body too.
 */
export async function sendRequest(request: Request, options: SendOptions): Promise<Response> {
  return plainKit(options.vendor).send(request, options);
}

/**
 * The answer's body as text, refusing to buffer more than `maxBytes` (the stream is cancelled at
 * the limit). An oversized body is an `upstream` VendorError, one that breaks off a retryable
 * `unavailable` NETWORK_ERROR. The plain kit's `readText`.
 */
export async function readBodyText(
  response: Response,
  vendor: string,
  maxBytes: number = DEFAULT_MAX_BODY_BYTES,
): Promise<string> {
  return plainKit(vendor).readText(response, maxBytes);
}

/**
 * The answer's body parsed as JSON; an empty, truncated or non-JSON body is an `upstream`
 * VendorError. The plain kit's `readJson`.
 */
export async function readBodyJson(
  response: Response,
  vendor: string,
  maxBytes: number = DEFAULT_MAX_BODY_BYTES,
): Promise<unknown> {
  return plainKit(vendor).readJson(response, maxBytes);
}
