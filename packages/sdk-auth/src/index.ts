// @x/sdk-auth: Huawei Cloud OneAccess SDK logout with the RSA-OAEP X-signature.
export {
  DEFAULT_SERVICE_DEVICE,
  defaultRefreshOn,
  type LogoutInput,
  type NonceFunction,
  type OneAccessCallOptions,
  OneAccessClient,
  type OneAccessClientOptions,
  type OneAccessClientState,
} from "./client.ts";
export {
  DEFAULT_REFRESH_CODES,
  ONEACCESS_CODES,
  ONEACCESS_ERROR_KINDS,
  type OneAccessCode,
} from "./codes.ts";
export { OneAccessError, type OneAccessErrorInit, VENDOR } from "./errors.ts";
export {
  type ApplicationIdentity,
  checkDevice,
  checkHeaderValue,
  type DeviceInfo,
  HEADERS,
  MAX_HEADER_VALUE_LENGTH,
} from "./headers.ts";
export {
  buildLogoutRequest,
  buildPublicKeyRequest,
  buildServerDateRequest,
  type CallTarget,
  type LogoutRequestInput,
  PATHS,
} from "./requests.ts";
export {
  kindForCode,
  kindForStatus,
  type LogoutResult,
  type ParseOptions,
  parseErrorResponse,
  parseLogoutResponse,
  parsePublicKeyResponse,
  parseServerDateResponse,
  type ServerDate,
} from "./responses.ts";
export {
  buildSignaturePlaintext,
  checkSessionToken,
  checkSignatureFits,
  encryptSignature,
  maxSessionTokenBytes,
  type SignaturePlaintextInput,
} from "./signature.ts";
export {
  detectTimestampUnit,
  hexNonce,
  type TimestampUnitOption,
  timestampToMs,
  timestampValue,
} from "./timestamp.ts";
