// The OneAccess error codes this package knows, with the kind each one maps to.
import type { ErrorKind } from "@x/core-signing";

/**
 * OneAccess answers a refused call with HTTP 400 `{ error_code, error_msg }`. Huawei publishes
 * APP.0001 and APP.0002; the rest of the SDK table is not public, so the other codes here are the
 * simulator's, chosen in the same style. A real deployment that meets other codes can map them with
 * the client's `errorKinds` and `refreshOn` options.
 */
export const ONEACCESS_CODES = {
  /** The application (X-client-id) does not exist. */
  UNKNOWN_CLIENT: "APP.0001",
  /** X-client-id is missing. */
  CLIENT_ID_REQUIRED: "APP.0002",
  /** Another required header is missing. */
  HEADER_REQUIRED: "APP.0003",
  /** X-signature does not decrypt with the application's key, or its plaintext is malformed. */
  SIGNATURE_INVALID: "APP.0004",
  /** The signed timestamp is outside the server's window. */
  TIMESTAMP_EXPIRED: "APP.0005",
  /** The nonce was already used with this session token. */
  NONCE_REPLAYED: "APP.0006",
  /** The session token is unknown or has expired. */
  SESSION_UNKNOWN: "APP.0007",
  /** X-tenant-id is missing or names another tenant. */
  TENANT_INVALID: "APP.0008",
  /** Login: wrong user name or password. */
  CREDENTIALS_INVALID: "APP.0009",
  /** Login: the body is not the JSON the API takes. */
  BODY_INVALID: "APP.0010",
} as const;

export type OneAccessCode = (typeof ONEACCESS_CODES)[keyof typeof ONEACCESS_CODES];

/**
 * The kind of each known code; any other code is `upstream`. Frozen; look a code up with
 * `kindForCode`, which reads own entries only (an `error_code` of "constructor" is no code of ours).
 */
export const ONEACCESS_ERROR_KINDS: Readonly<Record<string, ErrorKind>> = Object.freeze({
  [ONEACCESS_CODES.UNKNOWN_CLIENT]: "misconfigured",
  [ONEACCESS_CODES.CLIENT_ID_REQUIRED]: "misconfigured",
  [ONEACCESS_CODES.HEADER_REQUIRED]: "invalid_request",
  [ONEACCESS_CODES.SIGNATURE_INVALID]: "unauthorized",
  [ONEACCESS_CODES.TIMESTAMP_EXPIRED]: "unauthorized",
  [ONEACCESS_CODES.NONCE_REPLAYED]: "invalid_request",
  [ONEACCESS_CODES.SESSION_UNKNOWN]: "unauthorized",
  [ONEACCESS_CODES.TENANT_INVALID]: "misconfigured",
  [ONEACCESS_CODES.CREDENTIALS_INVALID]: "unauthorized",
  [ONEACCESS_CODES.BODY_INVALID]: "invalid_request",
});

/** Codes that say the signature or its timestamp was refused: the client refreshes key and clock once. */
export const DEFAULT_REFRESH_CODES: readonly string[] = [
  ONEACCESS_CODES.SIGNATURE_INVALID,
  ONEACCESS_CODES.TIMESTAMP_EXPIRED,
];
