// RSASSA-PKCS1-v1_5 signatures (RFC 8017 §8.2): WebCrypto for SHA-*, BigInt for keys it refuses and for MD5.
import { bigIntToBytes, bytesToBigInt } from "./bigint.ts";
import { concatBytes, timingSafeEqual, toBytes } from "./encoding.ts";
import { KeyFormatError } from "./errors.ts";
import { digest, HASHES, type HashInfo, type SignatureHash, signatureHash } from "./hash.ts";
import { RsaPrivateKey, type RsaPublicKey } from "./keys.ts";
import { rsaPrivate, rsaPublic } from "./rsa-raw.ts";

const ALGORITHM = "RSASSA-PKCS1-v1_5";

/** @internal PKCS#1 v1.5 needs 11 bytes of padding around the DigestInfo. */
export function checkKeyFits(hash: HashInfo, size: number, bits: number): void {
  const needed = hash.digestInfoPrefix.length + hash.length + 11;
  if (size < needed) {
    throw new KeyFormatError(
      "size",
      `a ${bits}-bit key is too small for ${hash.name} PKCS#1 v1.5 signatures: at least ${needed * 8} bits needed`,
    );
  }
}

/** EMSA-PKCS1-v1_5 of a digest: 00 01 FF…FF 00 DigestInfo, exactly `size` bytes. */
function encodeMessage(hash: HashInfo, hashed: Uint8Array, size: number): Uint8Array {
  const t = concatBytes(hash.digestInfoPrefix, hashed);
  const em = new Uint8Array(size).fill(0xff);
  em[0] = 0;
  em[1] = 1;
  em[size - t.length - 1] = 0;
  em.set(t, size - t.length);
  return em;
}

/**
 * @internal The signature of a digest on BigInt, with CRT, sliding windows and blinding. The caller
 * has checked that the key fits the hash.
 */
export function signDigest(key: RsaPrivateKey, hash: HashInfo, hashed: Uint8Array): Uint8Array {
  const em = encodeMessage(hash, hashed, key.size);
  return bigIntToBytes(rsaPrivate(key, bytesToBigInt(em)), key.size);
}

/** @internal Whether `signature` signs this digest, on BigInt; a malformed signature is false. */
export function verifyDigest(
  publicKey: RsaPublicKey,
  hash: HashInfo,
  hashed: Uint8Array,
  signature: Uint8Array,
): boolean {
  const s = bytesToBigInt(signature);
  if (s >= publicKey.n) return false;
  const expected = encodeMessage(hash, hashed, publicKey.size);
  return timingSafeEqual(bigIntToBytes(rsaPublic(publicKey, s), publicKey.size), expected);
}

/** @internal The public key of a key pair's either half. */
export function publicHalf(key: RsaPublicKey | RsaPrivateKey): RsaPublicKey {
  return key instanceof RsaPrivateKey ? key.publicKey : key;
}

/**
 * Signs `data` (a string is taken as UTF-8) with RSASSA-PKCS1-v1_5 and `hash` (SHA-1, SHA-256,
 * SHA-384 or SHA-512). The output is the deterministic signature, byte-identical to OpenSSL's. A key
 * the runtime's WebCrypto refuses is signed with on BigInt, with CRT, sliding windows and blinding.
 * MD5withRSA is `signMd5WithRsa` of `@x/core-signing/md5`.
 */
export async function signPkcs1v15(
  key: RsaPrivateKey,
  data: string | Uint8Array,
  hash: SignatureHash,
): Promise<Uint8Array> {
  const name = signatureHash(hash);
  const bytes = toBytes(data);
  checkKeyFits(HASHES[name], key.size, key.bits);
  const cryptoKey = await key.cryptoKey(ALGORITHM, name, "sign");
  if (cryptoKey) return new Uint8Array(await crypto.subtle.sign(ALGORITHM, cryptoKey, bytes));
  return signDigest(key, HASHES[name], await digest(name, bytes));
}

/**
 * Checks an RSASSA-PKCS1-v1_5 signature. A wrong, truncated, oversized or malformed signature is
 * `false`, never an exception. A private key may stand in for its public key.
 */
export async function verifyPkcs1v15(
  key: RsaPublicKey | RsaPrivateKey,
  data: string | Uint8Array,
  signature: Uint8Array,
  hash: SignatureHash,
): Promise<boolean> {
  const name = signatureHash(hash);
  const publicKey = publicHalf(key);
  if (!(signature instanceof Uint8Array) || signature.length !== publicKey.size) return false;
  const bytes = toBytes(data);
  try {
    checkKeyFits(HASHES[name], publicKey.size, publicKey.bits);
  } catch {
    return false;
  }
  const cryptoKey = await publicKey.cryptoKey(ALGORITHM, name, "verify");
  if (cryptoKey) {
    try {
      return await crypto.subtle.verify(ALGORITHM, cryptoKey, toBytes(signature), bytes);
    } catch {
      return false;
    }
  }
  return verifyDigest(publicKey, HASHES[name], await digest(name, bytes), signature);
}
