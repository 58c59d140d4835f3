// RSASSA-PKCS1-v1_5 signatures (RFC 8017 §8.2): WebCrypto for SHA-*, BigInt for MD5 and small keys.
import { bigIntToBytes, bytesToBigInt } from "./bigint.ts";
import { concatBytes, timingSafeEqual, toBytes } from "./encoding.ts";
import { KeyFormatError } from "./errors.ts";
import { digest, HASHES, type SignatureHash, signatureHash } from "./hash.ts";
import { RsaPrivateKey, type RsaPublicKey } from "./keys.ts";
import { rsaPrivate, rsaPublic } from "./rsa.ts";

const ALGORITHM = "RSASSA-PKCS1-v1_5";

/** PKCS#1 v1.5 needs 11 bytes of padding around the DigestInfo. */
function checkKeyFits(hash: SignatureHash, size: number, bits: number): void {
  const needed = HASHES[hash].digestInfoPrefix.length + HASHES[hash].length + 11;
  if (size < needed) {
    throw new KeyFormatError(
      "size",
      `a ${bits}-bit key is too small for ${hash} PKCS#1 v1.5 signatures: at least ${needed * 8} bits needed`,
    );
  }
}

/** EMSA-PKCS1-v1_5: 00 01 FF…FF 00 DigestInfo, exactly `size` bytes. */
async function encodeMessage(
  data: Uint8Array<ArrayBuffer>,
  hash: SignatureHash,
  size: number,
): Promise<Uint8Array> {
  const info = HASHES[hash];
  const t = concatBytes(info.digestInfoPrefix, await digest(hash, data));
  const em = new Uint8Array(size).fill(0xff);
  em[0] = 0;
  em[1] = 1;
  em[size - t.length - 1] = 0;
  em.set(t, size - t.length);
  return em;
}

/**
 * Signs `data` (a string is taken as UTF-8) with RSASSA-PKCS1-v1_5 and `hash`. The output is the
 * deterministic signature, byte-identical to OpenSSL's. MD5 (eBET's MD5withRSA) runs on BigInt with
 * CRT, sliding windows and blinding, as does any key the runtime's WebCrypto refuses.
 */
export async function signPkcs1v15(
  key: RsaPrivateKey,
  data: string | Uint8Array,
  hash: SignatureHash,
): Promise<Uint8Array> {
  const name = signatureHash(hash);
  const bytes = toBytes(data);
  checkKeyFits(name, key.size, key.bits);
  if (HASHES[name].webCrypto) {
    const cryptoKey = await key.cryptoKey(ALGORITHM, name, "sign");
    if (cryptoKey) return new Uint8Array(await crypto.subtle.sign(ALGORITHM, cryptoKey, bytes));
  }
  const em = await encodeMessage(bytes, name, key.size);
  return bigIntToBytes(rsaPrivate(key, bytesToBigInt(em)), key.size);
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
  const publicKey = key instanceof RsaPrivateKey ? key.publicKey : key;
  if (!(signature instanceof Uint8Array) || signature.length !== publicKey.size) return false;
  const bytes = toBytes(data);
  try {
    checkKeyFits(name, publicKey.size, publicKey.bits);
  } catch {
    return false;
  }
  if (HASHES[name].webCrypto) {
    const cryptoKey = await publicKey.cryptoKey(ALGORITHM, name, "verify");
    if (cryptoKey) {
      try {
        return await crypto.subtle.verify(ALGORITHM, cryptoKey, toBytes(signature), bytes);
      } catch {
        return false;
      }
    }
  }
  const s = bytesToBigInt(signature);
  if (s >= publicKey.n) return false;
  const expected = await encodeMessage(bytes, name, publicKey.size);
  return timingSafeEqual(bigIntToBytes(rsaPublic(publicKey, s), publicKey.size), expected);
}
