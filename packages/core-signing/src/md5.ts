// MD5withRSA (eBET's signature): RSASSA-PKCS1-v1_5 over an MD5 digest, on BigInt, as WebCrypto has no MD5.
import { md5 } from "@noble/hashes/legacy.js";
import { fromHex, toBytes } from "./encoding.ts";
import type { HashInfo } from "./hash.ts";
import type { RsaPrivateKey, RsaPublicKey } from "./keys.ts";
import { checkKeyFits, publicHalf, signDigest, verifyDigest } from "./pkcs1.ts";

const MD5: HashInfo = {
  name: "MD5",
  length: 16,
  digestInfoPrefix: fromHex("3020300c06082a864886f70d020505000410"),
};

/**
 * Signs `data` (a string is taken as UTF-8) with MD5withRSA (RSASSA-PKCS1-v1_5 with MD5). The output
 * is the deterministic signature, byte-identical to OpenSSL's and Java's `MD5withRSA`. The RSA
 * operation runs on BigInt with CRT, sliding windows and blinding.
 */
export async function signMd5WithRsa(
  key: RsaPrivateKey,
  data: string | Uint8Array,
): Promise<Uint8Array> {
  const bytes = toBytes(data);
  checkKeyFits(MD5, key.size, key.bits);
  return signDigest(key, MD5, md5(bytes));
}

/**
 * Checks an MD5withRSA signature. A wrong, truncated, oversized or malformed signature is `false`,
 * never an exception. A private key may stand in for its public key.
 */
export async function verifyMd5WithRsa(
  key: RsaPublicKey | RsaPrivateKey,
  data: string | Uint8Array,
  signature: Uint8Array,
): Promise<boolean> {
  const publicKey = publicHalf(key);
  if (!(signature instanceof Uint8Array) || signature.length !== publicKey.size) return false;
  const bytes = toBytes(data);
  try {
    checkKeyFits(MD5, publicKey.size, publicKey.bits);
  } catch {
    return false;
  }
  return verifyDigest(publicKey, MD5, md5(bytes), signature);
}
