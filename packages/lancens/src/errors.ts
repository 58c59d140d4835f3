// The Lancens error class: every failure of a Lancens call, with the vendor's message kept and its field named.
import {
  defineVendor,
  type ErrorKind,
  VendorError,
  type VendorKit,
  vendorErrorFields,
} from "@x/core-signing";

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
  /** `no token`: the request carried no `token` header; a malformed request, never "logged out". */
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
  | "BAD_RESPONSE"
  /** A 3xx answer: never followed, as the login token would go along to the new location. */
  | "REDIRECT";

export interface LancensErrorInit {
  code: LancensErrorCode;
  kind: ErrorKind;
  message: string;
  retryable?: boolean | undefined;
  upstreamStatus?: number | undefined;
  field?: string | undefined;
  /** The message Lancens answered with, control characters removed, at most 200 characters. */
  vendorMessage?: string | undefined;
  call?: LancensCall | undefined;
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
    super({ ...init, vendor: VENDOR });
    this.vendorMessage = init.vendorMessage;
    this.call = init.call;
  }

  /** A VendorError from a shared helper (timeout, network, refused option) as a LancensError. */
  static from(error: VendorError, call?: LancensCall): LancensError {
    if (!(error instanceof LancensError)) return lancensKit(call).adopt(error);
    if (call === undefined || error.call === call) return error;
    return new LancensError({
      ...vendorErrorFields(error),
      code: error.code,
      vendorMessage: error.vendorMessage,
      call,
    });
  }

  override toJSON(): Record<string, unknown> {
    return { ...super.toJSON(), vendorMessage: this.vendorMessage, call: this.call };
  }
}

const kits = new Map<LancensCall | undefined, VendorKit<LancensError>>();

/**
 * The shared call machinery (option checks, deadline, bounded reads) failing with LancensErrors
 * that name `call`, when given.
 */
export function lancensKit(call?: LancensCall): VendorKit<LancensError> {
  let kit = kits.get(call);
  if (kit === undefined) {
    kit = defineVendor(
      VENDOR,
      (init) => new LancensError({ ...init, code: init.code as LancensErrorCode, call }),
    );
    kits.set(call, kit);
  }
  return kit;
}

export function isLancensError(value: unknown): value is LancensError {
  return value instanceof LancensError;
}

/** Input refused before any request; the message names the field and never repeats a secret. */
export function invalidLancensInput(field: string, message: string): LancensError {
  return lancensKit().invalidInput(field, message);
}
