// @x/core-signing: keys, RSA signatures and encryption, encodings, clocks, and the vendor-client contract.
export {
  type CallOptions,
  checkBaseUrl,
  checkTimeout,
  DEFAULT_MAX_BODY_BYTES,
  DEFAULT_TIMEOUT_MS,
  defineVendor,
  type FetchLike,
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
export { OAEP_HASHES, type OaepHash, SIGNATURE_HASHES, type SignatureHash } from "./hash.ts";
export {
  generateKeyPair,
  importPrivateKey,
  importPublicKey,
  MAX_KEY_BITS,
  MIN_KEY_BITS,
  type PrivateKeyMaterial,
  type PublicKeyMaterial,
  RsaPrivateKey,
  RsaPublicKey,
} from "./keys.ts";
export { decryptOaep, encryptOaep, oaepCapacity } from "./oaep.ts";
export { signPkcs1v15, verifyPkcs1v15 } from "./pkcs1.ts";
