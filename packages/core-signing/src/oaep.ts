// RSA-OAEP encryption and decryption through WebCrypto, with the capacity limit checked up front.
import { toBytes } from "./encoding.ts";
import { DataTooLongError, DecryptionError, KeyFormatError } from "./errors.ts";
import { HASHES, type OaepHash, oaepHash } from "./hash.ts";
import { RsaPrivateKey, type RsaPublicKey } from "./keys.ts";

const ALGORITHM = "RSA-OAEP";

/** The most bytes one OAEP block carries: k - 2·hLen - 2 (RFC 8017 §7.1.1). */
export function oaepCapacity(
  key: RsaPublicKey | RsaPrivateKey,
  hash: OaepHash = "SHA-256",
): number {
  return Math.max(0, key.size - 2 * HASHES[oaepHash(hash)].length - 2);
}

/**
 * Encrypts `data` (a string is taken as UTF-8) with RSA-OAEP, MGF1 with the same hash, no label:
 * what Java names RSA/ECB/OAEPWith<hash>AndMGF1Padding under BouncyCastle. Data over the key's
 * capacity is a DataTooLongError that states the limit.
 */
export async function encryptOaep(
  key: RsaPublicKey | RsaPrivateKey,
  data: string | Uint8Array,
  hash: OaepHash = "SHA-256",
): Promise<Uint8Array> {
  const name = oaepHash(hash);
  const publicKey = key instanceof RsaPrivateKey ? key.publicKey : key;
  const bytes = toBytes(data);
  const overhead = 2 * HASHES[name].length + 2;
  if (publicKey.size < overhead) {
    throw new KeyFormatError(
      "size",
      `a ${publicKey.bits}-bit key is too small for RSA-OAEP ${name}: at least ${overhead * 8} bits needed`,
    );
  }
  const limit = oaepCapacity(publicKey, name);
  if (bytes.length > limit) {
    throw new DataTooLongError(
      bytes.length,
      limit,
      `RSA-OAEP ${name} with a ${publicKey.bits}-bit key`,
    );
  }
  const cryptoKey = await publicKey.cryptoKey(ALGORITHM, name, "encrypt");
  if (!cryptoKey) throw unsupported(publicKey.bits);
  return new Uint8Array(await crypto.subtle.encrypt(ALGORITHM, cryptoKey, bytes));
}

/** Decrypts an RSA-OAEP ciphertext; one that does not decrypt is a DecryptionError. */
export async function decryptOaep(
  key: RsaPrivateKey,
  data: Uint8Array,
  hash: OaepHash = "SHA-256",
): Promise<Uint8Array> {
  const name = oaepHash(hash);
  if (!(data instanceof Uint8Array) || data.length !== key.size) {
    throw new DecryptionError(
      `RSA-OAEP ciphertext must be ${key.size} bytes for a ${key.bits}-bit key`,
    );
  }
  const cryptoKey = await key.cryptoKey(ALGORITHM, name, "decrypt");
  if (!cryptoKey) throw unsupported(key.bits);
  try {
    return new Uint8Array(await crypto.subtle.decrypt(ALGORITHM, cryptoKey, toBytes(data)));
  } catch (cause) {
    throw new DecryptionError(
      `RSA-OAEP ${name} decryption failed: wrong key, hash or corrupted ciphertext`,
      {
        cause,
      },
    );
  }
}

function unsupported(bits: number): KeyFormatError {
  return new KeyFormatError(
    "size",
    `this runtime's WebCrypto refuses a ${bits}-bit key for RSA-OAEP`,
  );
}
