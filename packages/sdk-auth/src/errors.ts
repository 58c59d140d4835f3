// The one error class of this package: every failure, refused input included, is a OneAccessError.
import { defineVendor, type ErrorKind, VendorError, type VendorKit } from "@x/core-signing";

/** The vendor name every error of this package carries. */
export const VENDOR = "sdk-auth";

export interface OneAccessErrorInit {
  /** OneAccess's `error_code` (e.g. "APP.0001"), or ours: INVALID_INPUT, TIMEOUT, NETWORK_ERROR, BAD_RESPONSE, HTTP_<status>. */
  code: string;
  kind: ErrorKind;
  message: string;
  retryable?: boolean | undefined;
  upstreamStatus?: number | undefined;
  field?: string | undefined;
  /** OneAccess's own `error_msg`, when it sent one. */
  errorMsg?: string | undefined;
  cause?: unknown;
}

/** A failed or refused OneAccess call. `code` is OneAccess's `error_code` when it answered with one. */
export class OneAccessError extends VendorError {
  override name = "OneAccessError";
  declare readonly code: string;
  /** OneAccess's `error_msg`, verbatim, when the answer carried one. */
  readonly errorMsg: string | undefined;

  constructor(init: OneAccessErrorInit) {
    super({ ...init, vendor: VENDOR });
    this.errorMsg = init.errorMsg;
  }

  /** The same failure as a OneAccessError: for the shared helpers' VendorErrors (timeouts, bad bodies). */
  static from(error: VendorError): OneAccessError {
    return oneAccess.adopt(error);
  }

  override toJSON(): Record<string, unknown> {
    return { ...super.toJSON(), errorMsg: this.errorMsg };
  }
}

/** The shared call machinery (option checks, deadline, bounded reads) failing with OneAccessErrors. */
export const oneAccess: VendorKit<OneAccessError> = defineVendor(
  VENDOR,
  (init) => new OneAccessError({ ...init, code: String(init.code) }),
);

/** Input refused before any request; the message starts with the field's name. */
export const refuse: (field: string, message: string) => OneAccessError = oneAccess.invalidInput;
