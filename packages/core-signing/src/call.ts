// The shared vendor-call contract: call options, sending with a deadline, reading bounded answers.
import type { Clock } from "./clock.ts";
import { invalidInput, VendorError } from "./errors.ts";

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
/** Vendor answers are small; anything larger than this is refused rather than buffered. */
export const DEFAULT_MAX_BODY_BYTES: number = 1024 * 1024;

/** Checks a timeout option: a whole number of milliseconds from 1 to 300 000. */
export function checkTimeout(vendor: string, value: unknown, field = "timeoutMs"): number {
  if (value === undefined) return DEFAULT_TIMEOUT_MS;
  if (typeof value !== "number" || !Number.isInteger(value) || value < 1 || value > 300_000) {
    throw invalidInput(
      vendor,
      field,
      `must be a whole number of milliseconds from 1 to 300000, got ${String(value)}`,
    );
  }
  return value;
}

/**
 * Checks a base URL option and returns it without a trailing slash: absolute http(s), no query,
 * no fragment, no credentials.
 */
export function checkBaseUrl(vendor: string, value: unknown, field = "baseUrl"): string {
  if (typeof value !== "string" || value.length === 0)
    throw invalidInput(vendor, field, "must be a non-empty URL string");
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw invalidInput(vendor, field, `is not an absolute URL: ${JSON.stringify(value)}`);
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") {
    throw invalidInput(vendor, field, `must use http or https, not ${url.protocol}`);
  }
  if (url.username || url.password) throw invalidInput(vendor, field, "must not carry credentials");
  if (url.search || url.hash)
    throw invalidInput(vendor, field, "must not have a query or fragment");
  return url.href.replace(/\/+$/, "");
}

export interface SendOptions extends Pick<CallOptions, "fetch" | "signal" | "timeoutMs"> {
  vendor: string;
}

/**
 * Sends a request with a deadline. No answer in time is a retryable `unavailable` VendorError
 * (code TIMEOUT), a network failure likewise (code NETWORK_ERROR); the caller's own abort is
 * rethrown unchanged. The deadline holds even against a fetch that ignores its signal.
 */
export async function sendRequest(request: Request, options: SendOptions): Promise<Response> {
  const { vendor } = options;
  const timeoutMs = checkTimeout(vendor, options.timeoutMs);
  const fetcher: FetchLike = options.fetch ?? ((input) => fetch(input));
  const controller = new AbortController();
  const outer = options.signal;
  if (outer?.aborted) throw outer.reason;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let rejectEarly: (reason: unknown) => void = () => {};
  // Settles on the deadline or on the caller's abort, even if the fetch ignores its signal.
  const timedOut = new Promise<never>((_, reject) => {
    rejectEarly = reject;
    timer = setTimeout(() => {
      const error = new VendorError({
        vendor,
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
    rejectEarly(outer?.reason);
  };
  outer?.addEventListener("abort", onOuterAbort, { once: true });
  try {
    return await Promise.race([
      fetcher(new Request(request, { signal: controller.signal })),
      timedOut,
    ]);
  } catch (error) {
    if (error instanceof VendorError) throw error;
    if (outer?.aborted) throw outer.reason;
    if (controller.signal.reason instanceof VendorError) throw controller.signal.reason;
    throw new VendorError({
      vendor,
      code: "NETWORK_ERROR",
      kind: "unavailable",
      message: `could not reach ${vendor}: ${error instanceof Error ? error.message : String(error)}`,
      cause: error,
    });
  } finally {
    clearTimeout(timer);
    outer?.removeEventListener("abort", onOuterAbort);
  }
}

function badAnswer(
  vendor: string,
  response: Response,
  message: string,
  cause?: unknown,
): VendorError {
  return new VendorError({
    vendor,
    code: "BAD_RESPONSE",
    kind: "upstream",
    upstreamStatus: response.status,
    message,
    cause,
  });
}

/**
 * The answer's body as text, refusing to buffer more than `maxBytes` (the stream is cancelled at
 * the limit). An oversized or unreadable body is an `upstream` VendorError.
 */
export async function readBodyText(
  response: Response,
  vendor: string,
  maxBytes: number = DEFAULT_MAX_BODY_BYTES,
): Promise<string> {
  if (!response.body) return "";
  const declared = Number(response.headers.get("content-length"));
  if (Number.isFinite(declared) && declared > maxBytes) {
    await response.body.cancel().catch(() => {});
    throw badAnswer(
      vendor,
      response,
      `${vendor} answered with ${declared} bytes, more than the ${maxBytes} accepted`,
    );
  }
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let text = "";
  let total = 0;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      total += value.byteLength;
      if (total > maxBytes) {
        await reader.cancel().catch(() => {});
        throw badAnswer(
          vendor,
          response,
          `${vendor} answered with more than the ${maxBytes} bytes accepted`,
        );
      }
      text += decoder.decode(value, { stream: true });
    }
  } catch (error) {
    if (error instanceof VendorError) throw error;
    throw badAnswer(vendor, response, `${vendor}'s answer could not be read in full`, error);
  }
  return text + decoder.decode();
}

/** The answer's body parsed as JSON; an empty, truncated or non-JSON body is an `upstream` VendorError. */
export async function readBodyJson(
  response: Response,
  vendor: string,
  maxBytes: number = DEFAULT_MAX_BODY_BYTES,
): Promise<unknown> {
  const text = await readBodyText(response, vendor, maxBytes);
  try {
    return JSON.parse(text);
  } catch (cause) {
    const preview = text.length > 80 ? `${text.slice(0, 80)}…` : text;
    throw badAnswer(
      vendor,
      response,
      `${vendor} answered HTTP ${response.status} with a body that is not JSON: ${JSON.stringify(preview)}`,
      cause,
    );
  }
}
