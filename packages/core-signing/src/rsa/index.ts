// @x/core-signing/rsa: RSA keys (import from PEM, DER and JWK, cached; export; generation),
// PKCS#1 v1.5 signatures with the SHA family, and RSA-OAEP encryption, on WebCrypto.
export { OAEP_HASHES, type OaepHash, SIGNATURE_HASHES, type SignatureHash } from "../hash.ts";
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
} from "../keys.ts";
export { decryptOaep, encryptOaep, oaepCapacity } from "../oaep.ts";
export { signPkcs1v15, verifyPkcs1v15 } from "../pkcs1.ts";
