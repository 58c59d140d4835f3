// The one error contract every vendor client shares: a typed VendorError with a kind from one vocabulary.

/** What went wrong, in one vocabulary for every vendor; the proxy maps each kind to one HTTP status. */
export const ERROR_KINDS = [
  "invalid_request",
  "unauthorized",
  "not_found",
  "rate_limited",
  "unavailable",
  "misconfigured",
  "upstream",
] as const;

export type ErrorKind = (typeof ERROR_KINDS)[number];

/** Kinds that are worth retrying when the vendor says nothing more specific. */
const RETRYABLE_BY_DEFAULT: ReadonlySet<ErrorKind> = new Set(["unavailable", "rate_limited"]);

export function isErrorKind(value: unknown): value is ErrorKind {
  return typeof value === "string" && (ERROR_KINDS as readonly string[]).includes(value);
}

export interface VendorErrorInit {
  /** The vendor that failed or refused, e.g. "ebet". */
  vendor: string;
  /** The vendor's own code (eBET status 4026, OneAccess "APP.0001"), or one of ours for local failures. */
  code: string | number;
  /**
   * One of ERROR_KINDS. Anything else (a kind looked up from a vendor's answer, say "constructor")
   * becomes `upstream`: the error stays an error, with its code, and never carries a kind outside
   * the vocabulary.
   */
  kind: ErrorKind;
  message: string;
  /** Defaults to true for `unavailable` and `rate_limited`, false otherwise; a non-boolean is the default. */
  retryable?: boolean | undefined;
  /** The HTTP status the vendor answered with; absent when no answer came. */
  upstreamStatus?: number | undefined;
  /** The input field at fault, for errors about a caller's input. */
  field?: string | undefined;
  /** What caused the failure; absent (or undefined) sets no `cause` on the error. */
  cause?: unknown;
}

/** A VendorError's fields without the vendor's name, which a vendor's own error class fills in. */
export type VendorErrorFields = Omit<VendorErrorInit, "vendor">;

/**
 * Makes a vendor's own error, a VendorError subclass, from the shared fields:
 * `(init) => new EbetError(init)`. See `defineVendor`.
 */
export type VendorErrorFactory<E extends VendorError = VendorError> = (
  init: VendorErrorFields,
) => E;

/**
 * Any failure of a vendor call: refused input, a vendor's error answer, a timeout, an unreadable
 * answer. Its `kind` is always one of ERROR_KINDS: a client parsing an adversarial answer must not
 * be able to make another, so an unknown kind is coerced to `upstream` rather than thrown at.
 */
export class VendorError extends Error {
  override name = "VendorError";
  readonly vendor: string;
  readonly code: string | number;
  readonly kind: ErrorKind;
  readonly retryable: boolean;
  readonly upstreamStatus: number | undefined;
  readonly field: string | undefined;

  constructor(init: VendorErrorInit) {
    super(init.message, init.cause === undefined ? undefined : { cause: init.cause });
    this.vendor = init.vendor;
    this.code = init.code;
    this.kind = isErrorKind(init.kind) ? init.kind : "upstream";
    this.retryable =
      typeof init.retryable === "boolean" ? init.retryable : RETRYABLE_BY_DEFAULT.has(this.kind);
    this.upstreamStatus = init.upstreamStatus;
    this.field = init.field;
  }

  /** A plain object for logs and problem documents; carries no secrets, only what the error says. */
  toJSON(): Record<string, unknown> {
    return {
      name: this.name,
      vendor: this.vendor,
      code: this.code,
      kind: this.kind,
      retryable: this.retryable,
      upstreamStatus: this.upstreamStatus,
      field: this.field,
      message: this.message,
    };
  }
}

export function isVendorError(value: unknown): value is VendorError {
  return value instanceof VendorError;
}

/**
 * The fields that make the same failure again, as a vendor's own class: code, kind, message,
 * retryable, upstreamStatus and field kept, the cause being the original's cause or else the original.
 */
export function vendorErrorFields(error: VendorError): VendorErrorFields {
  return {
    code: error.code,
    kind: error.kind,
    message: error.message,
    retryable: error.retryable,
    upstreamStatus: error.upstreamStatus,
    field: error.field,
    cause: error.cause ?? error,
  };
}

/** What is wrong with key material handed to importPrivateKey or importPublicKey. */
export type KeyFormatProblem =
  | "encoding"
  | "pem-label"
  | "der"
  | "not-rsa"
  | "public-key"
  | "size"
  | "jwk"
  | "inconsistent";

/** Key material that cannot be used, with a message that says why; never WebCrypto's bare DataError. */
export class KeyFormatError extends Error {
  override name = "KeyFormatError";
  readonly problem: KeyFormatProblem;

  constructor(problem: KeyFormatProblem, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.problem = problem;
  }
}

/** Input that does not decode: bad base64, base64url or hex. */
export class EncodingError extends Error {
  override name = "EncodingError";
}

/** Data longer than an RSA key can carry with the chosen padding; says the limit. */
export class DataTooLongError extends RangeError {
  override name = "DataTooLongError";
  readonly length: number;
  readonly limit: number;

  constructor(length: number, limit: number, what: string) {
    super(`${what}: data is ${length} bytes, at most ${limit} fit`);
    this.length = length;
    this.limit = limit;
  }
}

/** A ciphertext that does not decrypt with the given key and padding. */
export class DecryptionError extends Error {
  override name = "DecryptionError";
}
