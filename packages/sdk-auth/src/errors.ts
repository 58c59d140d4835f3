// The one error class of this package: every failure, refused input included, is a OneAccessError.
import { type ErrorKind, VendorError } from "@x/core-signing";

/** The vendor name every error of this package carries. */
export const VENDOR = "sdk-auth";

export interface OneAccessErrorInit {
  /** OneAccess's `error_code` (e.g. "APP.0001"), or ours: INVALID_INPUT, TIMEOUT, NETWORK_ERROR, BAD_RESPONSE, HTTP_<status>. */
  code: string;
  kind: ErrorKind;
  message: string;
  retryable?: boolean;
  upstreamStatus?: number;
  field?: string;
  /** OneAccess's own `error_msg`, when it sent one. */
  errorMsg?: string;
  cause?: unknown;
}

/** A failed or refused OneAccess call. `code` is OneAccess's `error_code` when it answered with one. */
export class OneAccessError extends VendorError {
  override name = "OneAccessError";
  declare readonly code: string;
  /** OneAccess's `error_msg`, verbatim, when the answer carried one. */
  readonly errorMsg: string | undefined;

  constructor(init: OneAccessErrorInit) {
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
    this.errorMsg = init.errorMsg;
  }

  /** The same failure as a OneAccessError: for the shared helpers' VendorErrors (timeouts, bad bodies). */
  static from(error: VendorError): OneAccessError {
    if (error instanceof OneAccessError) return error;
    return new OneAccessError({
      code: String(error.code),
      kind: error.kind,
      message: error.message,
      retryable: error.retryable,
      ...(error.upstreamStatus === undefined ? {} : { upstreamStatus: error.upstreamStatus }),
      ...(error.field === undefined ? {} : { field: error.field }),
      cause: error.cause ?? error,
    });
  }

  override toJSON(): Record<string, unknown> {
    return { ...super.toJSON(), errorMsg: this.errorMsg };
  }
}

/** Input refused before any request; the message starts with the field's name. */
export function refuse(field: string, message: string): OneAccessError {
  return new OneAccessError({
    code: "INVALID_INPUT",
    kind: "invalid_request",
    field,
    message: `${field}: ${message}`,
  });
}

/** Runs a check from @x/core-signing and rethrows its VendorError as a OneAccessError. */
export function asOneAccess<T>(check: () => T): T {
  try {
    return check();
  } catch (error) {
    if (error instanceof VendorError) throw OneAccessError.from(error);
    throw error;
  }
}
