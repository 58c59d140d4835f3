// @x/core-signing: the vendor-client contract, errors, encodings, clocks and the key form check.
// RSA keys, signatures and OAEP are in @x/core-signing/rsa; MD5withRSA is in @x/core-signing/md5.
export {
  type CallOptions,
  checkBaseUrl,
  checkTimeout,
  DEFAULT_MAX_BODY_BYTES,
  DEFAULT_TIMEOUT_MS,
  defineVendor,
  type FetchLike,
  fromPlatformFetch,
  invalidInput,
  type KitCallOptions,
  readBodyJson,
  readBodyText,
  type SendOptions,
  sendRequest,
  type VendorKit,
} from "./call.ts";
export {
  type Clock,
  ClockOffset,
  type RandomSource,
  randomNonce,
  systemClock,
  systemRandom,
  type TimestampUnit,
  timestamp,
} from "./clock.ts";
export {
  concatBytes,
  fromBase64,
  fromBase64Url,
  fromHex,
  timingSafeEqual,
  toBase64,
  toBase64Url,
  toBytes,
  toHex,
  utf8Decode,
  utf8Encode,
} from "./encoding.ts";
export {
  DataTooLongError,
  DecryptionError,
  EncodingError,
  ERROR_KINDS,
  type ErrorKind,
  isErrorKind,
  isVendorError,
  KeyFormatError,
  type KeyFormatProblem,
  VendorError,
  type VendorErrorFactory,
  type VendorErrorFields,
  type VendorErrorInit,
  vendorErrorFields,
} from "./errors.ts";
export { checkKeyForm, type KeyForm } from "./key-form.ts";
