// The digest algorithms RSA signatures use, in one table: names, DigestInfo prefixes, digests.
import { fromHex } from "./encoding.ts";

/** The hashes of `signPkcs1v15`, all WebCrypto's; MD5withRSA is `signMd5WithRsa` of `@x/core-signing/md5`. */
export const SIGNATURE_HASHES = ["SHA-1", "SHA-256", "SHA-384", "SHA-512"] as const;
export type SignatureHash = (typeof SIGNATURE_HASHES)[number];

export const OAEP_HASHES = ["SHA-1", "SHA-256", "SHA-384", "SHA-512"] as const;
export type OaepHash = (typeof OAEP_HASHES)[number];

/** @internal What PKCS#1 v1.5 needs to know of a digest algorithm. */
export interface HashInfo {
  /** The algorithm's name, e.g. "SHA-256", for messages. */
  name: string;
  /** Digest length in bytes. */
  length: number;
  /** DER of DigestInfo up to the digest itself (RFC 8017 §9.2, note 1). */
  digestInfoPrefix: Uint8Array;
}

export const HASHES: Readonly<Record<SignatureHash, HashInfo>> = {
  "SHA-1": {
    name: "SHA-1",
    length: 20,
    digestInfoPrefix: fromHex("3021300906052b0e03021a05000414"),
  },
  "SHA-256": {
    name: "SHA-256",
    length: 32,
    digestInfoPrefix: fromHex("3031300d060960864801650304020105000420"),
  },
  "SHA-384": {
    name: "SHA-384",
    length: 48,
    digestInfoPrefix: fromHex("3041300d060960864801650304020205000430"),
  },
  "SHA-512": {
    name: "SHA-512",
    length: 64,
    digestInfoPrefix: fromHex("3051300d060960864801650304020305000440"),
  },
};

/** The digest of `data`, from WebCrypto. */
export async function digest(
  hash: SignatureHash,
  data: Uint8Array<ArrayBuffer>,
): Promise<Uint8Array> {
  return new Uint8Array(await crypto.subtle.digest(hash, data));
}

export function signatureHash(hash: unknown): SignatureHash {
  if (typeof hash === "string" && (SIGNATURE_HASHES as readonly string[]).includes(hash)) {
    return hash as SignatureHash;
  }
  const md5 = hash === "MD5" ? " (MD5withRSA is signMd5WithRsa of @x/core-signing/md5)" : "";
  throw new TypeError(
    `hash must be one of ${SIGNATURE_HASHES.join(", ")}; got ${JSON.stringify(hash)}${md5}`,
  );
}

export function oaepHash(hash: unknown): OaepHash {
  if (typeof hash === "string" && (OAEP_HASHES as readonly string[]).includes(hash))
    return hash as OaepHash;
  throw new TypeError(
    `OAEP hash must be one of ${OAEP_HASHES.join(", ")}; got ${JSON.stringify(hash)}`,
  );
}
