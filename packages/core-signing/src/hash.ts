// The digest algorithms RSA signatures use, in one table: names, DigestInfo prefixes, digests.
import { md5 } from "@noble/hashes/legacy.js";
import { fromHex } from "./encoding.ts";

export const SIGNATURE_HASHES = ["MD5", "SHA-1", "SHA-256", "SHA-384", "SHA-512"] as const;
export type SignatureHash = (typeof SIGNATURE_HASHES)[number];

export const OAEP_HASHES = ["SHA-1", "SHA-256", "SHA-384", "SHA-512"] as const;
export type OaepHash = (typeof OAEP_HASHES)[number];

interface HashInfo {
  /** Digest length in bytes. */
  length: number;
  /** DER of DigestInfo up to the digest itself (RFC 8017 §9.2, note 1). */
  digestInfoPrefix: Uint8Array;
  /** WebCrypto implements it; MD5 it does not. */
  webCrypto: boolean;
}

export const HASHES: Readonly<Record<SignatureHash, HashInfo>> = {
  MD5: {
    length: 16,
    digestInfoPrefix: fromHex("3020300c06082a864886f70d020505000410"),
    webCrypto: false,
  },
  "SHA-1": {
    length: 20,
    digestInfoPrefix: fromHex("3021300906052b0e03021a05000414"),
    webCrypto: true,
  },
  "SHA-256": {
    length: 32,
    digestInfoPrefix: fromHex("3031300d060960864801650304020105000420"),
    webCrypto: true,
  },
  "SHA-384": {
    length: 48,
    digestInfoPrefix: fromHex("3041300d060960864801650304020205000430"),
    webCrypto: true,
  },
  "SHA-512": {
    length: 64,
    digestInfoPrefix: fromHex("3051300d060960864801650304020305000440"),
    webCrypto: true,
  },
};

/** The digest of `data`: MD5 from @noble/hashes, the SHA family from WebCrypto. */
export async function digest(
  hash: SignatureHash,
  data: Uint8Array<ArrayBuffer>,
): Promise<Uint8Array> {
  return hash === "MD5" ? md5(data) : new Uint8Array(await crypto.subtle.digest(hash, data));
}

export function signatureHash(hash: unknown): SignatureHash {
  if (typeof hash === "string" && (SIGNATURE_HASHES as readonly string[]).includes(hash)) {
    return hash as SignatureHash;
  }
  throw new TypeError(
    `hash must be one of ${SIGNATURE_HASHES.join(", ")}; got ${JSON.stringify(hash)}`,
  );
}

export function oaepHash(hash: unknown): OaepHash {
  if (typeof hash === "string" && (OAEP_HASHES as readonly string[]).includes(hash))
    return hash as OaepHash;
  throw new TypeError(
    `OAEP hash must be one of ${OAEP_HASHES.join(", ")}; got ${JSON.stringify(hash)}`,
  );
}
