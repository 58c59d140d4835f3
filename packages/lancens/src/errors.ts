// The Lancens error class: every failure of a Lancens call, with the vendor's message kept and its field named.
import { type ErrorKind, VendorError } from "@x/core-signing";

/** The vendor name every Lancens error carries. */
export const VENDOR = "lancens";

/** The three Lancens calls this package makes. */
export type LancensCall = "clearRingPushToken" | "clearMessagePushToken" | "logout";

/**
 * What went wrong, as a stable code. Lancens answers with messages, not codes, so each message
 * pattern gets a name; the numeric database codes (10001, 10051, 100XX, 200XX, 300XX) stay numbers.
 */
export type LancensErrorCode =
  /** `undefined XXX`: the field XXX was not sent. */
  | "UNDEFINED_FIELD"
  /** `no token`: no login token arrived. */
  | "NO_TOKEN"
  /** `invalid token`: the login token is unknown, expired or logged out. */
  | "INVALID_TOKEN"
  /** `XXX length error` */
  | "LENGTH_ERROR"
  /** `XXX format error`: XXX has the wrong type. */
  | "FORMAT_ERROR"
  /** `XXX error`: checking XXX failed. */
  | "CHECK_FAILED"
  /** `XXX exist`: XXX already exists. */
  | "EXISTS"
  /** `username or password error` */
  | "BAD_CREDENTIALS"
  /** `no data error`: the server's data is inconsistent. */
  | "NO_DATA"
  /** `paramer error`: the server caught an exception. */
  | "PARAMER_ERROR"
  /** `database …` in words rather than a numeric code. */
  | "DATABASE_ERROR"
  /** A numeric database code. */
  | number
  /** A message this package does not know; `vendorMessage` has it. */
  | "UNKNOWN_MESSAGE"
  /** A failure status with no message at all. */
  | "HTTP_ERROR"
  /** Input refused before any request. */
  | "INVALID_INPUT"
  /** No answer within the deadline. */
  | "TIMEOUT"
  /** The request did not reach Lancens. */
  | "NETWORK_ERROR"
  /** An answer that could not be read. */
  | "BAD_RESPONSE";

export interface LancensErrorInit {
  code: LancensErrorCode;
  kind: ErrorKind;
  message: string;
  retryable?: boolean;
  upstreamStatus?: number;
  field?: string;
  /** The message Lancens answered with, control characters removed, at most 200 characters. */
  vendorMessage?: string;
  call?: LancensCall;
  cause?: unknown;
}

/** Any failure of a Lancens call; a VendorError with vendor "lancens". */
export class LancensError extends VendorError {
  override name = "LancensError";
  declare readonly code: LancensErrorCode;
  /** The message Lancens answered with, if it answered with one. */
  readonly vendorMessage: string | undefined;
  /** The call that failed, when the error comes from one. */
  readonly call: LancensCall | undefined;

  constructor(init: LancensErrorInit) {
    super({
      vendor: VENDOR,
      code: init.code,
      kind: init.kind,
      message: init.message,
      ...(init.retryable === undefined ? {} : { retryable: init.retryable }),
      ...(init.upstreamStatus === undefined ? {} : { upstreamStatus: init.upstreamStatus }),
      ...(init.field === undefined ? {} : { field: init.field }),
      ...(init.cause === undefined ? {} : { cause: init.cause }),
    });
    this.vendorMessage = init.vendorMessage;
    this.call = init.call;
  }

  /** A VendorError from a shared helper (timeout, network, refused option) as a LancensError. */
  static from(error: VendorError, call?: LancensCall): LancensError {
    if (error instanceof LancensError && (call === undefined || error.call === call)) return error;
    const vendorMessage = error instanceof LancensError ? error.vendorMessage : undefined;
    return new LancensError({
      code: error.code as LancensErrorCode,
      kind: error.kind,
      message: error.message,
      retryable: error.retryable,
      ...(error.upstreamStatus === undefined ? {} : { upstreamStatus: error.upstreamStatus }),
      ...(error.field === undefined ? {} : { field: error.field }),
      ...(vendorMessage === undefined ? {} : { vendorMessage }),
      ...(call === undefined ? {} : { call }),
      cause: error.cause ?? error,
    });
  }

  override toJSON(): Record<string, unknown> {
    return { ...super.toJSON(), vendorMessage: this.vendorMessage, call: this.call };
  }
}

export function isLancensError(value: unknown): value is LancensError {
  return value instanceof LancensError;
}

/** Input refused before any request; the message names the field and never repeats a secret. */
export function invalidLancensInput(field: string, message: string): LancensError {
  return new LancensError({
    code: "INVALID_INPUT",
    kind: "invalid_request",
    field,
    message: `${field}: ${message}`,
  });
}
