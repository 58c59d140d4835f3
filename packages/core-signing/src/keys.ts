// RSA key import from PEM, DER, base64 and JWK, with validation, caching and export.
import { bigIntToBytes, bitLength, bytesToBigInt, modInverse } from "./bigint.ts";
import {
  derEncode,
  derEncodeInteger,
  derInteger,
  derOid,
  RSA_ALGORITHM_IDENTIFIER,
  RSA_ENCRYPTION_OID,
  readDerElement,
  sequenceChildren,
  TAG,
} from "./der.ts";
import { fromBase64Url, toBase64, toBase64Url } from "./encoding.ts";
import { KeyFormatError } from "./errors.ts";
import { derKeyStructure, jwkMember, readKeyText } from "./key-form.ts";

export const MIN_KEY_BITS = 512;
export const MAX_KEY_BITS = 4096;

/** Key material in any form the importers take. */
export type PrivateKeyMaterial = string | Uint8Array | JsonWebKey | RsaPrivateKey;
export type PublicKeyMaterial = string | Uint8Array | JsonWebKey | RsaPublicKey;

/** @internal The secret parts of a private key, kept off the object so they never print or serialise. */
export interface PrivateParts {
  n: bigint;
  e: bigint;
  d: bigint;
  p: bigint;
  q: bigint;
  dp: bigint;
  dq: bigint;
  qi: bigint;
  /** Blinding pair (r^e mod n, r^-1 mod n) and how often it has been used; see rsa-raw.ts. */
  blinding?: { a: bigint; aInverse: bigint; uses: number };
}

const privateParts = new WeakMap<RsaPrivateKey, PrivateParts>();

/** @internal */
export function partsOf(key: RsaPrivateKey): PrivateParts {
  const parts = privateParts.get(key);
  if (!parts) throw new TypeError("not a key made by importPrivateKey");
  return parts;
}

/** A cache of imported WebCrypto keys for one RSA key; undefined where the runtime refuses the key. */
class CryptoKeyCache {
  readonly #keys = new Map<string, Promise<CryptoKey | undefined>>();

  get(
    jwk: () => JsonWebKey,
    name: string,
    hash: string,
    usage: KeyUsage,
  ): Promise<CryptoKey | undefined> {
    const id = `${name}/${hash}/${usage}`;
    let key = this.#keys.get(id);
    if (!key) {
      key = crypto.subtle
        .importKey("jwk", jwk(), { name, hash }, false, [usage])
        .catch(() => undefined);
      this.#keys.set(id, key);
    }
    return key;
  }
}

/** An RSA public key: modulus and exponent, importable into WebCrypto on demand. */
export class RsaPublicKey {
  readonly type = "public" as const;
  readonly n: bigint;
  readonly e: bigint;
  /** Modulus length in bits, e.g. 2048. */
  readonly bits: number;
  /** Modulus length in bytes: the length of every signature and ciphertext. */
  readonly size: number;
  readonly #cryptoKeys = new CryptoKeyCache();

  /** @internal use importPublicKey */
  constructor(n: bigint, e: bigint) {
    this.n = n;
    this.e = e;
    this.bits = bitLength(n);
    this.size = Math.ceil(this.bits / 8);
  }

  toJwk(): JsonWebKey {
    return {
      kty: "RSA",
      n: toBase64Url(bigIntToBytes(this.n, this.size)),
      e: toBase64Url(minimalBytes(this.e)),
    };
  }

  /** SubjectPublicKeyInfo DER. */
  toSpki(): Uint8Array {
    const rsaPublicKey = derEncode(
      TAG.SEQUENCE,
      derEncodeInteger(this.n),
      derEncodeInteger(this.e),
    );
    return derEncode(
      TAG.SEQUENCE,
      RSA_ALGORITHM_IDENTIFIER,
      derEncode(TAG.BIT_STRING, Uint8Array.of(0), rsaPublicKey),
    );
  }

  /** SPKI PEM (`BEGIN PUBLIC KEY`). */
  toPem(): string {
    return toPem("PUBLIC KEY", this.toSpki());
  }

  /** @internal */
  cryptoKey(name: string, hash: string, usage: KeyUsage): Promise<CryptoKey | undefined> {
    return this.#cryptoKeys.get(() => this.toJwk(), name, hash, usage);
  }

  toJSON(): { type: "public"; bits: number } {
    return { type: this.type, bits: this.bits };
  }
}

/** An RSA private key. Its secret parts are not properties: it prints and serialises as its size only. */
export class RsaPrivateKey {
  readonly type = "private" as const;
  readonly bits: number;
  readonly size: number;
  readonly publicKey: RsaPublicKey;
  readonly #cryptoKeys = new CryptoKeyCache();

  /** @internal use importPrivateKey */
  constructor(parts: PrivateParts) {
    privateParts.set(this, parts);
    this.publicKey = new RsaPublicKey(parts.n, parts.e);
    this.bits = this.publicKey.bits;
    this.size = this.publicKey.size;
  }

  toJwk(): JsonWebKey {
    const { n, e, d, p, q, dp, dq, qi } = partsOf(this);
    // RFC 7518 §2 (Base64urlUInt): every member in the minimum number of octets.
    const b64 = (value: bigint) => toBase64Url(minimalBytes(value));
    return {
      kty: "RSA",
      n: b64(n),
      e: b64(e),
      d: b64(d),
      p: b64(p),
      q: b64(q),
      dp: b64(dp),
      dq: b64(dq),
      qi: b64(qi),
    };
  }

  /** PKCS#8 PrivateKeyInfo DER. */
  toPkcs8(): Uint8Array {
    const { n, e, d, p, q, dp, dq, qi } = partsOf(this);
    const rsaPrivateKey = derEncode(
      TAG.SEQUENCE,
      ...[0n, n, e, d, p, q, dp, dq, qi].map(derEncodeInteger),
    );
    return derEncode(
      TAG.SEQUENCE,
      derEncodeInteger(0n),
      RSA_ALGORITHM_IDENTIFIER,
      derEncode(TAG.OCTET_STRING, rsaPrivateKey),
    );
  }

  /** PKCS#8 PEM (`BEGIN PRIVATE KEY`). */
  toPem(): string {
    return toPem("PRIVATE KEY", this.toPkcs8());
  }

  /** @internal */
  cryptoKey(name: string, hash: string, usage: KeyUsage): Promise<CryptoKey | undefined> {
    return this.#cryptoKeys.get(() => this.toJwk(), name, hash, usage);
  }

  toJSON(): { type: "private"; bits: number } {
    return { type: this.type, bits: this.bits };
  }
}

function minimalBytes(value: bigint): Uint8Array {
  return bigIntToBytes(value, Math.max(1, Math.ceil(bitLength(value) / 8)));
}

function toPem(label: string, der: Uint8Array): string {
  const body = toBase64(der).replace(/.{1,64}/g, "$&\n");
  return `-----BEGIN ${label}-----\n${body}-----END ${label}-----\n`;
}

// ---------------------------------------------------------------------------------------------
// Parsing

type Parsed = { kind: "private"; parts: PrivateParts } | { kind: "public"; n: bigint; e: bigint };

function parseString(text: string): Parsed {
  const key = readKeyText(text);
  if (key.form === "jwk") return parseJwk(key.jwk);
  if (key.form === "der") return parseDer(key.der);
  switch (key.label) {
    case "PRIVATE KEY":
      return { kind: "private", parts: parsePkcs8(key.der) };
    case "RSA PRIVATE KEY":
      return { kind: "private", parts: parsePkcs1Private(key.der) };
    case "PUBLIC KEY":
      return parseSpki(key.der);
    case "RSA PUBLIC KEY":
      return parsePkcs1Public(key.der);
  }
}

/** DER of unknown kind: PKCS#8, PKCS#1 private, SPKI or PKCS#1 public, told apart by shape. */
function parseDer(der: Uint8Array): Parsed {
  switch (derKeyStructure(der)) {
    case "spki":
      return parseSpki(der);
    case "pkcs8":
      return { kind: "private", parts: parsePkcs8(der) };
    case "pkcs1-public":
      return parsePkcs1Public(der);
    case "pkcs1-private":
      return { kind: "private", parts: parsePkcs1Private(der) };
  }
}

function checkAlgorithm(
  node: Parameters<typeof sequenceChildren>[0] | undefined,
  what: string,
): void {
  if (!node) throw new KeyFormatError("der", `${what}: missing AlgorithmIdentifier`);
  const oid = derOid(sequenceChildren(node, `${what} AlgorithmIdentifier`)[0], `${what} algorithm`);
  if (oid !== RSA_ENCRYPTION_OID) {
    throw new KeyFormatError(
      "not-rsa",
      `${what} holds a key of algorithm ${oid}, not RSA (${RSA_ENCRYPTION_OID})`,
    );
  }
}

function parsePkcs8(der: Uint8Array): PrivateParts {
  const children = sequenceChildren(readDerElement(der, TAG.SEQUENCE, "PKCS#8"), "PKCS#8");
  derInteger(children[0], "PKCS#8 version");
  checkAlgorithm(children[1], "PKCS#8");
  const inner = children[2];
  if (!inner || inner.tag !== TAG.OCTET_STRING)
    throw new KeyFormatError("der", "malformed DER: PKCS#8 without its key");
  return parsePkcs1Private(inner.value);
}

function parsePkcs1Private(der: Uint8Array): PrivateParts {
  const children = sequenceChildren(
    readDerElement(der, TAG.SEQUENCE, "RSAPrivateKey"),
    "RSAPrivateKey",
  );
  if (children.length === 2) {
    throw new KeyFormatError(
      "public-key",
      "this is a PKCS#1 public key where a private key is needed",
    );
  }
  const names = ["version", "n", "e", "d", "p", "q", "dp", "dq", "qi"] as const;
  const values = names.map((name, i) => derInteger(children[i], `RSAPrivateKey ${name}`));
  const [, n, e, d, p, q, dp, dq, qi] = values as [
    bigint,
    bigint,
    bigint,
    bigint,
    bigint,
    bigint,
    bigint,
    bigint,
    bigint,
  ];
  return { n, e, d, p, q, dp, dq, qi };
}

function parseSpki(der: Uint8Array): Parsed {
  const children = sequenceChildren(
    readDerElement(der, TAG.SEQUENCE, "SubjectPublicKeyInfo"),
    "SubjectPublicKeyInfo",
  );
  checkAlgorithm(children[0], "SubjectPublicKeyInfo");
  const bitString = children[1];
  if (!bitString || bitString.tag !== TAG.BIT_STRING || bitString.value[0] !== 0) {
    throw new KeyFormatError(
      "der",
      "malformed DER: SubjectPublicKeyInfo without its key BIT STRING",
    );
  }
  return parsePkcs1Public(bitString.value.subarray(1));
}

function parsePkcs1Public(der: Uint8Array): Parsed {
  const children = sequenceChildren(
    readDerElement(der, TAG.SEQUENCE, "RSAPublicKey"),
    "RSAPublicKey",
  );
  if (children.length !== 2) {
    throw new KeyFormatError(
      "der",
      `malformed DER: RSAPublicKey has ${children.length} elements, not 2`,
    );
  }
  return {
    kind: "public",
    n: derInteger(children[0], "RSAPublicKey n"),
    e: derInteger(children[1], "RSAPublicKey e"),
  };
}

function jwkInteger(jwk: object, member: string): bigint {
  const value = jwkMember(jwk, member);
  if (typeof value !== "string" || value.length === 0) {
    throw new KeyFormatError("jwk", `JWK member "${member}" is missing or not a string`);
  }
  try {
    return bytesToBigInt(fromBase64Url(value));
  } catch (cause) {
    throw new KeyFormatError("jwk", `JWK member "${member}" is not base64url`, { cause });
  }
}

function parseJwk(value: unknown): Parsed {
  if (typeof value !== "object" || value === null)
    throw new KeyFormatError("jwk", "JWK must be an object");
  const jwk: object = value;
  const kty = jwkMember(jwk, "kty");
  if (kty !== "RSA")
    throw new KeyFormatError("not-rsa", `JWK kty is ${JSON.stringify(kty)}, not "RSA"`);
  const n = jwkInteger(jwk, "n");
  const e = jwkInteger(jwk, "e");
  if (jwkMember(jwk, "d") === undefined) return { kind: "public", n, e };
  if (jwkMember(jwk, "oth") !== undefined)
    throw new KeyFormatError("jwk", "multi-prime RSA keys (JWK oth) are not supported");
  const [d, p, q, dp, dq, qi] = ["d", "p", "q", "dp", "dq", "qi"].map((member) =>
    jwkInteger(jwk, member),
  ) as [bigint, bigint, bigint, bigint, bigint, bigint];
  return { kind: "private", parts: { n, e, d, p, q, dp, dq, qi } };
}

function checkPublic(n: bigint, e: bigint): void {
  const bits = bitLength(n);
  if (bits < MIN_KEY_BITS || bits > MAX_KEY_BITS) {
    throw new KeyFormatError(
      "size",
      `unsupported RSA key size ${bits} bits: ${MIN_KEY_BITS} to ${MAX_KEY_BITS} are supported`,
    );
  }
  if (n % 2n === 0n) throw new KeyFormatError("inconsistent", "RSA modulus is even");
  if (e < 3n || e % 2n === 0n || e >= n)
    throw new KeyFormatError("inconsistent", `RSA public exponent ${e} is invalid`);
}

/** The CRT parameters must agree with n and d, or CRT signing would produce wrong signatures. */
function checkPrivate(parts: PrivateParts): void {
  const { n, d, p, q, dp, dq, qi } = parts;
  checkPublic(n, parts.e);
  if (p <= 1n || q <= 1n || p * q !== n)
    throw new KeyFormatError("inconsistent", "RSA private key is inconsistent: p·q ≠ n");
  if (d <= 0n || d >= n)
    throw new KeyFormatError("inconsistent", "RSA private exponent out of range");
  if (dp !== d % (p - 1n) || dq !== d % (q - 1n)) {
    throw new KeyFormatError(
      "inconsistent",
      "RSA private key is inconsistent: dp or dq does not match d",
    );
  }
  if ((parts.e * dp) % (p - 1n) !== 1n || (parts.e * dq) % (q - 1n) !== 1n) {
    throw new KeyFormatError(
      "inconsistent",
      "RSA private key is inconsistent: the public exponent e does not match d",
    );
  }
  if (modInverse(q, p) !== qi)
    throw new KeyFormatError("inconsistent", "RSA private key is inconsistent: qi ≠ q⁻¹ mod p");
}

function parseMaterial(material: unknown): Parsed {
  if (typeof material === "string") return parseString(material);
  if (material instanceof Uint8Array) return parseDer(material);
  if (typeof material === "object" && material !== null) return parseJwk(material);
  throw new KeyFormatError(
    "encoding",
    `key material must be a string, bytes or a JWK, not ${typeof material}`,
  );
}

// ---------------------------------------------------------------------------------------------
// Import with a bounded per-isolate cache: parsing and checking a key costs far more than a lookup.

const CACHE_LIMIT = 64;

/** The members that make an RSA key; any other (kid, use, alg, key_ops, ext) does not. */
const KEY_MEMBERS = ["kty", "n", "e", "d", "p", "q", "dp", "dq", "qi", "oth"] as const;

/**
 * What identifies key material in the cache: its content, never the object holding it, so that
 * equal JWKs (in any member order) share one entry and a JWK or byte array changed after its import
 * is read again. Undefined for material that is not cached (a JWK member that is not a string).
 */
function cacheId(material: unknown): string | undefined {
  if (typeof material === "string") return `text:${material}`;
  if (material instanceof Uint8Array) return `der:${toBase64(material)}`;
  if (typeof material !== "object" || material === null) return undefined;
  const members: (string | null)[] = [];
  for (const member of KEY_MEMBERS) {
    const value = jwkMember(material, member);
    if (value !== undefined && typeof value !== "string") return undefined;
    members.push(value ?? null);
  }
  return `jwk:${JSON.stringify(members)}`;
}

/** Imported keys by cacheId, the oldest dropped once CACHE_LIMIT are held. */
class KeyCache<K> {
  readonly #entries = new Map<string, K>();

  get(id: string | undefined): K | undefined {
    return id === undefined ? undefined : this.#entries.get(id);
  }

  set(id: string | undefined, key: K): void {
    if (id === undefined) return;
    if (this.#entries.size >= CACHE_LIMIT) {
      const oldest = this.#entries.keys().next().value as string;
      this.#entries.delete(oldest);
    }
    this.#entries.set(id, key);
  }
}

const privateCache = new KeyCache<RsaPrivateKey>();
const publicCache = new KeyCache<RsaPublicKey>();

/**
 * Imports an RSA private key: PKCS#8 PEM, PKCS#1 PEM (`BEGIN RSA PRIVATE KEY`), bare base64 DER of
 * either, DER bytes, or a JWK (object or JSON). 512 to 4096 bits. The same material imported again
 * (the same text, equal bytes, or a JWK with the same key members in any order) returns the cached
 * key. Only a JWK's own members are read. Throws KeyFormatError saying what is wrong.
 */
export function importPrivateKey(material: PrivateKeyMaterial): RsaPrivateKey {
  if (material instanceof RsaPrivateKey) return material;
  const id = cacheId(material);
  const cached = privateCache.get(id);
  if (cached) return cached;
  const parsed = parseMaterial(material);
  if (parsed.kind === "public") {
    throw new KeyFormatError("public-key", "this is a public key where a private key is needed");
  }
  checkPrivate(parsed.parts);
  const key = new RsaPrivateKey(parsed.parts);
  privateCache.set(id, key);
  return key;
}

/**
 * Imports an RSA public key: SPKI PEM, PKCS#1 PEM (`BEGIN RSA PUBLIC KEY`), bare base64 DER (also
 * with line breaks written as the two characters `\n`), DER bytes, or a JWK. Cached like private keys.
 */
export function importPublicKey(material: PublicKeyMaterial): RsaPublicKey {
  if (material instanceof RsaPublicKey) return material;
  const id = cacheId(material);
  const cached = publicCache.get(id);
  if (cached) return cached;
  const parsed = parseMaterial(material);
  if (parsed.kind === "private") {
    throw new KeyFormatError(
      "public-key",
      "this is a private key where a public key is expected: pass the public key, or importPrivateKey(...).publicKey",
    );
  }
  checkPublic(parsed.n, parsed.e);
  const key = new RsaPublicKey(parsed.n, parsed.e);
  publicCache.set(id, key);
  return key;
}

/** A fresh RSA key pair from the platform's WebCrypto, e.g. for simulators and tests. */
export async function generateKeyPair(bits = 2048): Promise<RsaPrivateKey> {
  if (!Number.isInteger(bits) || bits < MIN_KEY_BITS || bits > MAX_KEY_BITS || bits % 8 !== 0) {
    throw new KeyFormatError(
      "size",
      `cannot generate a ${bits}-bit key: ${MIN_KEY_BITS} to ${MAX_KEY_BITS}, a multiple of 8`,
    );
  }
  const pair = await crypto.subtle.generateKey(
    {
      name: "RSASSA-PKCS1-v1_5",
      modulusLength: bits,
      publicExponent: Uint8Array.of(1, 0, 1),
      hash: "SHA-256",
    },
    true,
    ["sign", "verify"],
  );
  const jwk = await crypto.subtle.exportKey("jwk", pair.privateKey);
  return importPrivateKey(jwk);
}
