// Shared fixtures: RSA keys generated once per test file with node:crypto (the oracle), in every form.
import { createPublicKey, generateKeyPair, generatePrimeSync, type KeyObject } from "node:crypto";
import { promisify } from "node:util";
import { expect } from "vitest";
import { KeyFormatError, type KeyFormatProblem } from "../src/index.ts";
import { signMd5WithRsa, verifyMd5WithRsa } from "../src/md5/index.ts";
import {
  type RsaPrivateKey,
  type RsaPublicKey,
  SIGNATURE_HASHES,
  type SignatureHash,
  signPkcs1v15,
  verifyPkcs1v15,
} from "../src/rsa/index.ts";

const generateRsa = promisify(generateKeyPair);

/** The key sizes the package supports and every suite exercises. */
export const SIZES = [512, 1024, 2048, 3072, 4096] as const;
export type Size = (typeof SIZES)[number];

/** One RSA key pair in every form the importers take. */
export interface NodeKeyPair {
  bits: number;
  privateKey: KeyObject;
  publicKey: KeyObject;
  /** `BEGIN PRIVATE KEY` */
  pkcs8Pem: string;
  /** `BEGIN RSA PRIVATE KEY` */
  pkcs1Pem: string;
  /** `BEGIN PUBLIC KEY` */
  spkiPem: string;
  /** `BEGIN RSA PUBLIC KEY` */
  pkcs1PublicPem: string;
  pkcs8Der: Buffer;
  pkcs1Der: Buffer;
  spkiDer: Buffer;
  pkcs1PublicDer: Buffer;
  jwk: JsonWebKey;
  publicJwk: JsonWebKey;
}

export function describeKey(privateKey: KeyObject): NodeKeyPair {
  const publicKey = createPublicKey(privateKey);
  return {
    bits: privateKey.asymmetricKeyDetails?.modulusLength ?? 0,
    privateKey,
    publicKey,
    pkcs8Pem: privateKey.export({ type: "pkcs8", format: "pem" }) as string,
    pkcs1Pem: privateKey.export({ type: "pkcs1", format: "pem" }) as string,
    spkiPem: publicKey.export({ type: "spki", format: "pem" }) as string,
    pkcs1PublicPem: publicKey.export({ type: "pkcs1", format: "pem" }) as string,
    pkcs8Der: privateKey.export({ type: "pkcs8", format: "der" }),
    pkcs1Der: privateKey.export({ type: "pkcs1", format: "der" }),
    spkiDer: publicKey.export({ type: "spki", format: "der" }),
    pkcs1PublicDer: publicKey.export({ type: "pkcs1", format: "der" }),
    jwk: privateKey.export({ format: "jwk" }),
    publicJwk: publicKey.export({ format: "jwk" }),
  };
}

const generated = new Map<number, Promise<NodeKeyPair>>();

/** A fresh RSA key of `bits` from node:crypto, generated at most once per test file. */
export function nodeKeyPair(bits: number): Promise<NodeKeyPair> {
  let pair = generated.get(bits);
  if (!pair) {
    pair = generateRsa("rsa", { modulusLength: bits }).then(({ privateKey }) =>
      describeKey(privateKey),
    );
    generated.set(bits, pair);
  }
  return pair;
}

/** A key of `bits` distinct from the shared one, e.g. for "signed by another key". */
export async function freshKeyPair(bits: number): Promise<NodeKeyPair> {
  const { privateKey } = await generateRsa("rsa", { modulusLength: bits });
  return describeKey(privateKey);
}

const loaded = new Map<number, NodeKeyPair>();

/** Generates the keys of these sizes in parallel (on libuv's thread pool); call in beforeAll. */
export async function loadKeys(sizes: readonly number[]): Promise<void> {
  const pairs = await Promise.all(sizes.map((bits) => nodeKeyPair(bits)));
  for (const pair of pairs) loaded.set(pair.bits, pair);
}

/** A key loaded by loadKeys. */
export function key(bits: number): NodeKeyPair {
  const pair = loaded.get(bits);
  if (!pair) throw new Error(`no ${bits}-bit key: call loadKeys([${bits}]) in beforeAll`);
  return pair;
}

/** Every PKCS#1 v1.5 hash: MD5 (`@x/core-signing/md5`) and the SHA family (`@x/core-signing/rsa`). */
export type AnyHash = "MD5" | SignatureHash;
export const ALL_HASHES: readonly AnyHash[] = ["MD5", ...SIGNATURE_HASHES];

/** signMd5WithRsa for MD5, signPkcs1v15 for the others. */
export function sign(
  key: RsaPrivateKey,
  data: string | Uint8Array,
  hash: AnyHash,
): Promise<Uint8Array> {
  return hash === "MD5" ? signMd5WithRsa(key, data) : signPkcs1v15(key, data, hash);
}

/** verifyMd5WithRsa for MD5, verifyPkcs1v15 for the others. */
export function verify(
  key: RsaPublicKey | RsaPrivateKey,
  data: string | Uint8Array,
  signature: Uint8Array,
  hash: AnyHash,
): Promise<boolean> {
  return hash === "MD5"
    ? verifyMd5WithRsa(key, data, signature)
    : verifyPkcs1v15(key, data, signature, hash);
}

/** node:crypto's name for a hash. */
export function nodeHash(hash: AnyHash): "md5" | "sha1" | "sha256" | "sha384" | "sha512" {
  const names = {
    MD5: "md5",
    "SHA-1": "sha1",
    "SHA-256": "sha256",
    "SHA-384": "sha384",
    "SHA-512": "sha512",
  } as const;
  return names[hash];
}

/** A non-ASCII string, so that UTF-8 versus Latin-1 or UTF-16 would make a difference. */
export const UNICODE_TEXT = "Grüße, 世界! Ωμέγα 🔑 — naïve café";

// ---------------------------------------------------------------------------------------------
// BigInt and JWK helpers

export function bigFromB64u(text: string | undefined): bigint {
  if (text === undefined) throw new Error("missing JWK member");
  const hex = Buffer.from(text, "base64url").toString("hex");
  return hex.length === 0 ? 0n : BigInt(`0x${hex}`);
}

export function b64uFromBig(value: bigint): string {
  let hex = value.toString(16);
  if (hex.length % 2) hex = `0${hex}`;
  return Buffer.from(hex, "hex").toString("base64url");
}

function modInverse(a: bigint, m: bigint): bigint {
  let [r0, r1] = [((a % m) + m) % m, m];
  let [s0, s1] = [1n, 0n];
  while (r1 !== 0n) {
    const q = r0 / r1;
    [r0, r1] = [r1, r0 - q * r1];
    [s0, s1] = [s1, s0 - q * s1];
  }
  return ((s0 % m) + m) % m;
}

function gcd(a: bigint, b: bigint): bigint {
  while (b !== 0n) [a, b] = [b, a % b];
  return a;
}

/** A private JWK built by hand from two primes, for sizes node:crypto refuses to generate. */
export function jwkFromPrimes(p: bigint, q: bigint, e = 65537n): JsonWebKey {
  const lambda = ((p - 1n) * (q - 1n)) / gcd(p - 1n, q - 1n);
  const d = modInverse(e, lambda);
  return {
    kty: "RSA",
    n: b64uFromBig(p * q),
    e: b64uFromBig(e),
    d: b64uFromBig(d),
    p: b64uFromBig(p),
    q: b64uFromBig(q),
    dp: b64uFromBig(d % (p - 1n)),
    dq: b64uFromBig(d % (q - 1n)),
    qi: b64uFromBig(modInverse(q, p)),
  };
}

/** A valid private JWK whose modulus has exactly `bits` bits (bits even), from node:crypto primes. */
export function jwkOfBits(bits: number): JsonWebKey {
  for (;;) {
    const p = generatePrimeSync(bits / 2, { bigint: true });
    const q = generatePrimeSync(bits / 2, { bigint: true });
    if (p === q || (p * q).toString(2).length !== bits) continue;
    if (gcd(65537n, (p - 1n) * (q - 1n)) !== 1n) continue;
    return jwkFromPrimes(p, q);
  }
}

/**
 * A 512-bit test key (no secret: made for these tests) whose d and dq have a leading zero byte,
 * so that fixed-length and minimal-length encodings of them differ.
 */
export const SHORT_MEMBERS_PKCS8_PEM = `-----BEGIN PRIVATE KEY-----
MIIBVAIBADANBgkqhkiG9w0BAQEFAASCAT4wggE6AgEAAkEAtae7kPA4rxtW3Zi9
aHhnF2SlF1DPf/sZ+P6ugJ1JofvIbLFdqtK7zaPqqXAQWnuZjuChWNZ9KKZiI75u
L3VqkwIDAQABAkAAocjBRFSuJ0YyFynxhxm0tyDr59gQ9eqtNxWcVO/ApIIZv32i
uWs9UUfUZU20razyoQCZtvlpt5JevQBOeKMBAiEA3TnCCbr9FN7rmjLtJV5SWQuT
jrYKt13ZcPtLxv2CWXMCIQDSNaOrRjq+zrKI93wRLkJfnA8PlczAhlOUvV1E+v7i
YQIhAN02TSYnubwt8M9/Tw1H1PY/kixpMiwLh0vnrO1tP/OrAh8uzcKjX/+0fFFE
LdZx/NrKbvTrg28TbtUtSPx7X2dhAiEAkf2XR6n4uslPaw1fz5JTaZOecPwTMG2H
NJYzKJpJsHk=
-----END PRIVATE KEY-----
`;

// ---------------------------------------------------------------------------------------------
// Error helpers

/** The error `fn` throws; fails the test if it returns. */
export function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (error) {
    return error;
  }
  throw new Error("expected the call to throw, it returned");
}

/** The reason `promise` rejects with; fails the test if it fulfils. */
export async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error("expected the promise to reject, it fulfilled");
}

/** Asserts a KeyFormatError (never a DOMException) with this problem and a message matching `message`. */
export function expectKeyFormatError(
  error: unknown,
  problem: KeyFormatProblem,
  message?: RegExp,
): KeyFormatError {
  expect(error).toBeInstanceOf(KeyFormatError);
  expect(error).not.toBeInstanceOf(DOMException);
  const keyError = error as KeyFormatError;
  expect(keyError.name).toBe("KeyFormatError");
  expect(keyError.problem).toBe(problem);
  expect(keyError.message.length).toBeGreaterThan(10);
  if (message) expect(keyError.message).toMatch(message);
  return keyError;
}
