// Key import, validation, caching and export (src/keys.ts), against keys made by node:crypto.
import {
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  type KeyObject,
  type JsonWebKey as NodeJwk,
  verify as nodeVerify,
} from "node:crypto";
import { inspect } from "node:util";
import { beforeAll, describe, expect, test } from "vitest";
import { checkKeyForm, KeyFormatError, toHex } from "../src/index.ts";
import {
  generateKeyPair,
  importPrivateKey,
  importPublicKey,
  MAX_KEY_BITS,
  MIN_KEY_BITS,
  RsaPrivateKey,
  RsaPublicKey,
} from "../src/rsa/index.ts";
import {
  b64uFromBig,
  bigFromB64u,
  expectKeyFormatError,
  jwkOfBits,
  key,
  loadKeys,
  type NodeKeyPair,
  rejection,
  SHORT_MEMBERS_PKCS8_PEM,
  SIZES,
  sign,
  thrown,
} from "./fixtures.ts";

const PRIVATE_MEMBERS = ["n", "e", "d", "p", "q", "dp", "dq", "qi"] as const;

/** Wraps base64 at 64 characters with `separator` between lines. */
function wrap(base64: string, separator: string): string {
  return (base64.match(/.{1,64}/g) ?? []).join(separator);
}

function pem(label: string, der: Uint8Array, separator = "\n"): string {
  const body = wrap(Buffer.from(der).toString("base64"), separator);
  return `-----BEGIN ${label}-----${separator}${body}${separator}-----END ${label}-----${separator}`;
}

function without(jwk: JsonWebKey, member: string): JsonWebKey {
  const copy: Record<string, unknown> = { ...jwk };
  delete copy[member];
  return copy as JsonWebKey;
}

function expectSamePrivateKey(imported: RsaPrivateKey, pair: NodeKeyPair): void {
  expect(imported).toBeInstanceOf(RsaPrivateKey);
  expect(imported.type).toBe("private");
  expect(imported.bits).toBe(pair.bits);
  expect(imported.size).toBe(pair.bits / 8);
  const jwk = imported.toJwk() as Record<string, string>;
  const expected = pair.jwk as Record<string, string>;
  for (const member of PRIVATE_MEMBERS) {
    expect(bigFromB64u(jwk[member]), member).toBe(bigFromB64u(expected[member]));
  }
  expect(imported.publicKey.n).toBe(bigFromB64u(pair.jwk.n));
  expect(imported.publicKey.e).toBe(65537n);
}

function expectSamePublicKey(imported: RsaPublicKey, pair: NodeKeyPair): void {
  expect(imported).toBeInstanceOf(RsaPublicKey);
  expect(imported.type).toBe("public");
  expect(imported.bits).toBe(pair.bits);
  expect(imported.size).toBe(pair.bits / 8);
  expect(imported.n).toBe(bigFromB64u(pair.jwk.n));
  expect(imported.e).toBe(bigFromB64u(pair.jwk.e));
}

beforeAll(async () => {
  await loadKeys([...SIZES, 4104]);
});

describe("importPrivateKey", () => {
  describe.each(SIZES)("%i-bit key", (bits) => {
    const forms: [string, (pair: NodeKeyPair) => Parameters<typeof importPrivateKey>[0]][] = [
      ["PKCS#8 PEM", (pair) => pair.pkcs8Pem],
      ["PKCS#1 PEM", (pair) => pair.pkcs1Pem],
      ["bare base64 of PKCS#8 DER", (pair) => pair.pkcs8Der.toString("base64")],
      ["bare base64 of PKCS#1 DER", (pair) => pair.pkcs1Der.toString("base64")],
      ["PKCS#8 DER as a Buffer", (pair) => pair.pkcs8Der],
      ["PKCS#8 DER as a plain Uint8Array", (pair) => new Uint8Array(pair.pkcs8Der)],
      ["PKCS#1 DER bytes", (pair) => new Uint8Array(pair.pkcs1Der)],
      ["JWK object", (pair) => ({ ...pair.jwk })],
      ["JWK JSON string", (pair) => JSON.stringify(pair.jwk)],
      ["PKCS#8 PEM with CRLF line ends", (pair) => pair.pkcs8Pem.replace(/\n/g, "\r\n")],
      ["PKCS#8 PEM with literal \\n line breaks", (pair) => pair.pkcs8Pem.replace(/\n/g, "\\n")],
      ["PKCS#1 PEM with surrounding whitespace", (pair) => `\n  ${pair.pkcs1Pem}  \n`],
    ];

    test.each(forms)("imports a %s", (_, form) => {
      const pair = key(bits);
      expectSamePrivateKey(importPrivateKey(form(pair)), pair);
    });

    test("exports PKCS#8 DER and PEM byte-identical to node:crypto", () => {
      const pair = key(bits);
      const imported = importPrivateKey(pair.pkcs1Pem);
      expect(toHex(imported.toPkcs8())).toBe(pair.pkcs8Der.toString("hex"));
      expect(imported.toPem()).toBe(pair.pkcs8Pem);
      expect(toHex(imported.publicKey.toSpki())).toBe(pair.spkiDer.toString("hex"));
      expect(imported.publicKey.toPem()).toBe(pair.spkiPem);
    });

    test("exports the JWK node:crypto exports (minimal-length members)", () => {
      const pair = key(bits);
      expect(importPrivateKey(pair.pkcs8Pem).toJwk()).toEqual(pair.jwk);
      expect(importPublicKey(pair.spkiPem).toJwk()).toEqual(pair.publicJwk);
    });
  });

  test("JWK members with leading zero bytes are exported in minimal length, like node:crypto", () => {
    const nodeKey = createPrivateKey(SHORT_MEMBERS_PKCS8_PEM);
    const expected = nodeKey.export({ format: "jwk" });
    // The fixture is only useful if some members are shorter than their fixed-length slot.
    expect(Buffer.from(expected.d ?? "", "base64url").length).toBeLessThan(64);
    expect(Buffer.from(expected.dq ?? "", "base64url").length).toBeLessThan(32);
    const imported = importPrivateKey(SHORT_MEMBERS_PKCS8_PEM);
    expect(imported.toJwk()).toEqual(expected);
    expect(imported.toPem()).toBe(SHORT_MEMBERS_PKCS8_PEM);
    // And it round-trips through node:crypto's JWK import.
    const reimported = createPrivateKey({ key: imported.toJwk() as NodeJwk, format: "jwk" });
    expect(reimported.export({ type: "pkcs8", format: "pem" })).toBe(SHORT_MEMBERS_PKCS8_PEM);
  });

  test("caches: the same string imported twice is the identical object", () => {
    const pair = key(2048);
    const pem = `${pair.pkcs8Pem}\n`;
    const first = importPrivateKey(pem);
    expect(importPrivateKey(pem)).toBe(first);
    const json = JSON.stringify(pair.jwk);
    expect(importPrivateKey(json)).toBe(importPrivateKey(json));
    const base64 = pair.pkcs1Der.toString("base64");
    expect(importPrivateKey(base64)).toBe(importPrivateKey(base64));
  });

  test("caches JWK objects and DER bytes by identity", () => {
    const pair = key(1024);
    const jwk = { ...pair.jwk };
    expect(importPrivateKey(jwk)).toBe(importPrivateKey(jwk));
    const der = new Uint8Array(pair.pkcs8Der);
    expect(importPrivateKey(der)).toBe(importPrivateKey(der));
  });

  test("returns an RsaPrivateKey passed to it unchanged", () => {
    const imported = importPrivateKey(key(1024).pkcs8Pem);
    expect(importPrivateKey(imported)).toBe(imported);
  });

  test("the cache does not hand back a key for different material", () => {
    const a = importPrivateKey(key(1024).pkcs8Pem);
    const b = importPrivateKey(key(2048).pkcs8Pem);
    expect(a).not.toBe(b);
    expect(a.bits).toBe(1024);
    expect(b.bits).toBe(2048);
  });
});

describe("importPublicKey", () => {
  describe.each(SIZES)("%i-bit key", (bits) => {
    const forms: [string, (pair: NodeKeyPair) => Parameters<typeof importPublicKey>[0]][] = [
      ["SPKI PEM", (pair) => pair.spkiPem],
      ["PKCS#1 PEM (BEGIN RSA PUBLIC KEY)", (pair) => pair.pkcs1PublicPem],
      ["bare base64 of SPKI DER", (pair) => pair.spkiDer.toString("base64")],
      ["bare base64 of PKCS#1 DER", (pair) => pair.pkcs1PublicDer.toString("base64")],
      ["SPKI PEM with literal \\n line breaks", (pair) => pem("PUBLIC KEY", pair.spkiDer, "\\n")],
      [
        "PKCS#1 PEM with literal \\r\\n line breaks",
        (pair) => pem("RSA PUBLIC KEY", pair.pkcs1PublicDer, "\\r\\n"),
      ],
      [
        "base64 with literal \\n line breaks (as OneAccess sends)",
        (pair) => wrap(pair.spkiDer.toString("base64"), "\\n"),
      ],
      ["base64 with real line breaks", (pair) => wrap(pair.spkiDer.toString("base64"), "\n")],
      ["SPKI DER bytes", (pair) => new Uint8Array(pair.spkiDer)],
      ["PKCS#1 DER bytes", (pair) => pair.pkcs1PublicDer],
      ["JWK object", (pair) => ({ ...pair.publicJwk })],
      ["JWK JSON string", (pair) => JSON.stringify(pair.publicJwk)],
    ];

    test.each(forms)("imports a %s", (_, form) => {
      const pair = key(bits);
      expectSamePublicKey(importPublicKey(form(pair)), pair);
    });
  });

  test("the literal \\n fixtures really contain no line break", () => {
    const text = wrap(key(2048).spkiDer.toString("base64"), "\\n");
    expect(text).toContain("\\n");
    expect(text).not.toContain("\n");
  });

  test("caches: the same string imported twice is the identical object", () => {
    const text = wrap(key(2048).spkiDer.toString("base64"), "\\n");
    expect(importPublicKey(text)).toBe(importPublicKey(text));
    const pemText = key(3072).pkcs1PublicPem;
    expect(importPublicKey(pemText)).toBe(importPublicKey(pemText));
    const imported = importPublicKey(pemText);
    expect(importPublicKey(imported)).toBe(imported);
  });

  test("a private key's publicKey is the matching public key", () => {
    const pair = key(2048);
    expectSamePublicKey(importPrivateKey(pair.pkcs8Pem).publicKey, pair);
  });
});

describe("the key cache", () => {
  /** A JWK's members in another order: the same key. */
  function reversed(jwk: JsonWebKey): JsonWebKey {
    return Object.fromEntries(Object.entries(jwk).reverse()) as JsonWebKey;
  }

  test("keys a JWK by its members: two distinct objects with the same members are one entry", () => {
    const pair = key(2048);
    const first = importPublicKey({ ...pair.publicJwk });
    expect(importPublicKey({ ...pair.publicJwk })).toBe(first);
    expect(importPublicKey(reversed(pair.publicJwk))).toBe(first);
    const privateKey = importPrivateKey({ ...pair.jwk });
    expect(importPrivateKey(reversed(pair.jwk))).toBe(privateKey);
    expect(importPrivateKey(JSON.parse(JSON.stringify(pair.jwk)))).toBe(privateKey);
  });

  test("one entry means one WebCrypto import: the cached CryptoKey is shared", async () => {
    const pair = key(1024);
    const a = importPublicKey({ ...pair.publicJwk });
    const b = importPublicKey(reversed(pair.publicJwk));
    expect(await b.cryptoKey("RSA-OAEP", "SHA-256", "encrypt")).toBe(
      await a.cryptoKey("RSA-OAEP", "SHA-256", "encrypt"),
    );
  });

  test("members that do not make the key (kid, use, alg, key_ops, ext) do not split an entry", () => {
    const pair = key(2048);
    const plain = importPublicKey({ ...pair.publicJwk });
    expect(
      importPublicKey({
        ...pair.publicJwk,
        kid: "2024-rotation",
        use: "enc",
        alg: "RSA-OAEP-256",
        key_ops: ["encrypt"],
        ext: true,
      } as JsonWebKey),
    ).toBe(plain);
    expect(importPrivateKey({ ...pair.jwk, kid: "a" } as JsonWebKey)).toBe(
      importPrivateKey({ ...pair.jwk, kid: "b" } as JsonWebKey),
    );
  });

  test("JWKs that differ in any member are different entries", () => {
    const a = key(1024);
    const b = key(2048);
    const publicA = importPublicKey({ ...a.publicJwk });
    const publicB = importPublicKey({ ...b.publicJwk });
    expect(publicB).not.toBe(publicA);
    expect(publicB.n).not.toBe(publicA.n);
    // Another exponent with the same modulus is another key.
    const e3 = importPublicKey({ ...a.publicJwk, e: "Aw" });
    expect(e3).not.toBe(publicA);
    expect(e3.e).toBe(3n);
    // The same number written with a leading zero byte is other text: another entry, the same key.
    const padded = importPublicKey({ ...a.publicJwk, e: "AAEAAQ" });
    expect(padded).not.toBe(publicA);
    expect(padded.e).toBe(publicA.e);
    // A private JWK with any one member taken from another key is not the cached key: it is refused.
    const cached = importPrivateKey({ ...a.jwk });
    const other = b.jwk as Record<string, string>;
    for (const member of PRIVATE_MEMBERS) {
      const own = (a.jwk as Record<string, string>)[member];
      const mixed = {
        ...a.jwk,
        [member]: other[member] === own ? "Aw" : other[member],
      } as JsonWebKey;
      expect(() => importPrivateKey(mixed)).toThrow(KeyFormatError);
    }
    expect(importPrivateKey({ ...a.jwk })).toBe(cached);
  });

  test("a JWK changed after its import is read again, never answered from the old entry", () => {
    const a = key(1024);
    const b = key(2048);
    const jwk: Record<string, unknown> = { ...a.publicJwk };
    expect(importPublicKey(jwk as JsonWebKey).bits).toBe(1024);
    jwk.n = b.publicJwk.n;
    expect(importPublicKey(jwk as JsonWebKey).bits).toBe(2048);
    jwk.n = "!not base64url";
    expect(() => importPublicKey(jwk as JsonWebKey)).toThrow(KeyFormatError);
  });

  test("DER bytes changed in place after their import are read again", () => {
    const bytes = new Uint8Array(key(1024).spkiDer);
    const first = importPublicKey(bytes);
    expect(importPublicKey(new Uint8Array(bytes))).toBe(first);
    bytes.fill(0);
    expect(() => importPublicKey(bytes)).toThrow(KeyFormatError);
  });

  test("reads only a JWK's own members: a string-like object or an inherited member is no hit", () => {
    const pair = key(1024);
    importPublicKey({ ...pair.publicJwk });
    const boxed = { ...pair.publicJwk, n: new String(pair.publicJwk.n) } as unknown as JsonWebKey;
    expectKeyFormatError(
      thrown(() => importPublicKey(boxed)),
      "jwk",
      /"n"/,
    );
    const inherited = Object.create({ ...pair.publicJwk }) as JsonWebKey;
    expect(() => importPublicKey(inherited)).toThrow(KeyFormatError);
    expect(() => checkKeyForm(inherited)).toThrow(KeyFormatError);
  });

  test("is bounded: the oldest JWK entry goes once 64 newer ones are in", () => {
    const { publicJwk } = key(2048);
    const withExponent = (e: number) =>
      ({
        ...publicJwk,
        e: Buffer.from(e.toString(16).padStart(6, "0"), "hex").toString("base64url"),
      }) as JsonWebKey;
    const oldest = importPublicKey(withExponent(3));
    expect(importPublicKey(withExponent(3))).toBe(oldest);
    for (let i = 0; i < 64; i++) importPublicKey(withExponent(5 + 2 * i));
    expect(importPublicKey(withExponent(3))).not.toBe(oldest);
  });
});

describe("KeyFormatError", () => {
  const ecKey = generateKeyPairSync("ec", { namedCurve: "P-256" });
  const edKey = generateKeyPairSync("ed25519");

  test("a CERTIFICATE PEM is a pem-label problem naming the label", () => {
    const text = pem("CERTIFICATE", key(1024).spkiDer);
    expectKeyFormatError(
      thrown(() => importPublicKey(text)),
      "pem-label",
      /unsupported PEM label "CERTIFICATE"/,
    );
    expectKeyFormatError(
      thrown(() => importPrivateKey(text)),
      "pem-label",
      /"CERTIFICATE"/,
    );
  });

  test("an EC PRIVATE KEY (SEC1) PEM is a pem-label problem", () => {
    const text = ecKey.privateKey.export({ type: "sec1", format: "pem" }) as string;
    expect(text).toContain("BEGIN EC PRIVATE KEY");
    expectKeyFormatError(
      thrown(() => importPrivateKey(text)),
      "pem-label",
      /"EC PRIVATE KEY"/,
    );
  });

  test("mismatched BEGIN and END labels are a pem-label problem naming both", () => {
    const text = key(1024).pkcs8Pem.replace("END PRIVATE KEY", "END RSA PRIVATE KEY");
    expectKeyFormatError(
      thrown(() => importPrivateKey(text)),
      "pem-label",
      /"PRIVATE KEY" does not match END label "RSA PRIVATE KEY"/,
    );
    const publicText = key(1024).spkiPem.replace("BEGIN PUBLIC KEY", "BEGIN RSA PUBLIC KEY");
    expectKeyFormatError(
      thrown(() => importPublicKey(publicText)),
      "pem-label",
      /does not match/,
    );
  });

  test("a BEGIN line without an END line is an encoding problem", () => {
    const text = key(1024).pkcs8Pem.replace(/-----END PRIVATE KEY-----\s*$/, "");
    expectKeyFormatError(
      thrown(() => importPrivateKey(text)),
      "encoding",
      /no matching END/,
    );
  });

  test("truncated DER is a der problem that says it is truncated", () => {
    const pair = key(2048);
    const truncated = pair.pkcs8Der.subarray(0, pair.pkcs8Der.length - 20);
    for (const material of [
      new Uint8Array(truncated),
      truncated.toString("base64"),
      pem("PRIVATE KEY", truncated),
      pem("RSA PRIVATE KEY", pair.pkcs1Der.subarray(0, 100)),
    ]) {
      expectKeyFormatError(
        thrown(() => importPrivateKey(material)),
        "der",
        /malformed DER.*truncated/,
      );
    }
    expectKeyFormatError(
      thrown(() => importPublicKey(pair.spkiDer.subarray(0, pair.spkiDer.length - 1))),
      "der",
      /truncated/,
    );
    expectKeyFormatError(
      thrown(() => importPublicKey(Uint8Array.of(0x30))),
      "der",
      /truncated/,
    );
  });

  test("DER that is no RSA key structure is a der problem", () => {
    // SEQUENCE { NULL, NULL }
    expectKeyFormatError(
      thrown(() => importPrivateKey(Uint8Array.of(0x30, 0x04, 0x05, 0x00, 0x05, 0x00))),
      "der",
      /not an RSA key/,
    );
    // Trailing garbage after the key.
    const pair = key(1024);
    const padded = new Uint8Array([...pair.spkiDer, 0x05, 0x00]);
    expectKeyFormatError(
      thrown(() => importPublicKey(padded)),
      "der",
      /expected one element, found 2/,
    );
  });

  test("bad base64 is an encoding problem", () => {
    const pair = key(1024);
    const badBody = pair.pkcs8Pem.replace(/\n[A-Za-z0-9+/]([A-Za-z0-9+/]{10})/, "\n!$1");
    expectKeyFormatError(
      thrown(() => importPrivateKey(badBody)),
      "encoding",
      /not valid base64.*invalid character "!"/,
    );
    expectKeyFormatError(
      thrown(() => importPublicKey("this is not a key")),
      "encoding",
      /not valid base64/,
    );
    const missingChar = pair.spkiDer.toString("base64").slice(1);
    expectKeyFormatError(
      thrown(() => importPublicKey(missingChar)),
      "encoding",
      /base64/,
    );
    expectKeyFormatError(
      thrown(() => importPublicKey("")),
      "encoding",
      /empty/,
    );
    expectKeyFormatError(
      thrown(() => importPrivateKey("-----BEGIN PRIVATE KEY-----\n-----END PRIVATE KEY-----")),
      "encoding",
      /empty/,
    );
  });

  test("material of the wrong type is an encoding problem", () => {
    for (const material of [42, null, undefined, true]) {
      expectKeyFormatError(
        thrown(() => importPrivateKey(material as unknown as string)),
        "encoding",
        /must be a string, bytes or a JWK/,
      );
      expectKeyFormatError(
        thrown(() => importPublicKey(material as unknown as string)),
        "encoding",
        /must be a string, bytes or a JWK/,
      );
    }
  });

  test("a public key passed to importPrivateKey is a public-key problem", () => {
    const pair = key(2048);
    const materials = [
      pair.spkiPem,
      pair.pkcs1PublicPem,
      pair.spkiDer.toString("base64"),
      new Uint8Array(pair.spkiDer),
      new Uint8Array(pair.pkcs1PublicDer),
      pair.publicJwk,
      JSON.stringify(pair.publicJwk),
      // A PKCS#1 public key under a private label.
      pem("RSA PRIVATE KEY", pair.pkcs1PublicDer),
    ];
    for (const material of materials) {
      expectKeyFormatError(
        thrown(() => importPrivateKey(material)),
        "public-key",
        /public key where a private key is needed/,
      );
    }
  });

  test("a private key passed to importPublicKey is a public-key problem", () => {
    const pair = key(2048);
    const materials = [
      pair.pkcs8Pem,
      pair.pkcs1Pem,
      pair.pkcs8Der.toString("base64"),
      new Uint8Array(pair.pkcs8Der),
      new Uint8Array(pair.pkcs1Der),
      pair.jwk,
      JSON.stringify(pair.jwk),
    ];
    for (const material of materials) {
      expectKeyFormatError(
        thrown(() => importPublicKey(material)),
        "public-key",
        /private key where a public key is expected/,
      );
    }
  });

  test("a 384-bit key is a size problem that states the size and the supported range", () => {
    // node:crypto refuses to generate one, so it is built from two primes.
    expect(() => generateKeyPairSync("rsa", { modulusLength: 384 })).toThrow();
    const jwk = jwkOfBits(384);
    const nodeKey = createPrivateKey({ key: jwk as NodeJwk, format: "jwk" });
    const publicKey = createPublicKey(nodeKey);
    const sizeMessage = /384 bits: 512 to 4096 are supported/;
    for (const material of [
      jwk,
      JSON.stringify(jwk),
      nodeKey.export({ type: "pkcs8", format: "pem" }) as string,
      nodeKey.export({ type: "pkcs1", format: "pem" }) as string,
    ]) {
      expectKeyFormatError(
        thrown(() => importPrivateKey(material)),
        "size",
        sizeMessage,
      );
    }
    for (const material of [
      { kty: "RSA", n: jwk.n, e: jwk.e } as JsonWebKey,
      publicKey.export({ type: "spki", format: "pem" }) as string,
      publicKey.export({ type: "pkcs1", format: "der" }),
    ]) {
      expectKeyFormatError(
        thrown(() => importPublicKey(material)),
        "size",
        sizeMessage,
      );
    }
    expect(MIN_KEY_BITS).toBe(512);
  });

  test("a 4104-bit key from node:crypto is a size problem", () => {
    const pair = key(4104);
    for (const material of [pair.pkcs8Pem, pair.pkcs1Pem, pair.jwk]) {
      expectKeyFormatError(
        thrown(() => importPrivateKey(material)),
        "size",
        /4104 bits: 512 to 4096 are supported/,
      );
    }
    for (const material of [pair.spkiPem, pair.pkcs1PublicPem, pair.publicJwk]) {
      expectKeyFormatError(
        thrown(() => importPublicKey(material)),
        "size",
        /4104 bits/,
      );
    }
    expect(MAX_KEY_BITS).toBe(4096);
  });

  test("an EC key is a not-rsa problem", () => {
    const privatePkcs8 = ecKey.privateKey.export({ type: "pkcs8", format: "pem" }) as string;
    const publicSpki = ecKey.publicKey.export({ type: "spki", format: "pem" }) as string;
    expectKeyFormatError(
      thrown(() => importPrivateKey(privatePkcs8)),
      "not-rsa",
      /algorithm 1\.2\.840\.10045\.2\.1, not RSA/,
    );
    expectKeyFormatError(
      thrown(() => importPublicKey(publicSpki)),
      "not-rsa",
      /algorithm 1\.2\.840\.10045\.2\.1, not RSA/,
    );
    expectKeyFormatError(
      thrown(() => importPrivateKey(ecKey.privateKey.export({ format: "jwk" }))),
      "not-rsa",
      /kty is "EC", not "RSA"/,
    );
    expectKeyFormatError(
      thrown(() => importPublicKey(JSON.stringify(ecKey.publicKey.export({ format: "jwk" })))),
      "not-rsa",
      /kty/,
    );
    expectKeyFormatError(
      thrown(() => importPrivateKey(edKey.privateKey.export({ type: "pkcs8", format: "der" }))),
      "not-rsa",
      /1\.3\.101\.112/,
    );
  });

  test("an encrypted PEM is an encoding problem that says to decrypt it", () => {
    const nodeKey = key(1024).privateKey;
    const encrypted = [
      nodeKey.export({ type: "pkcs8", format: "pem", cipher: "aes-256-cbc", passphrase: "pw" }),
      nodeKey.export({ type: "pkcs1", format: "pem", cipher: "aes-128-cbc", passphrase: "pw" }),
    ] as string[];
    expect(encrypted[0]).toContain("BEGIN ENCRYPTED PRIVATE KEY");
    expect(encrypted[1]).toContain("Proc-Type: 4,ENCRYPTED");
    for (const material of encrypted) {
      expectKeyFormatError(
        thrown(() => importPrivateKey(material)),
        "encoding",
        /encrypted PEM keys are not supported: decrypt the key first/,
      );
    }
  });

  describe("inconsistent private keys", () => {
    const bump = (jwk: JsonWebKey, member: keyof JsonWebKey, by = 2n): JsonWebKey => ({
      ...jwk,
      [member]: b64uFromBig(bigFromB64u(jwk[member] as string) + by),
    });

    test.each([
      ["dp", /dp or dq does not match d/],
      ["dq", /dp or dq does not match d/],
      ["qi", /qi ≠ q⁻¹ mod p/],
      ["p", /p·q ≠ n/],
      ["q", /p·q ≠ n/],
      ["n", /p·q ≠ n/],
    ] as const)("a tampered %s is an inconsistent problem", (member, message) => {
      const jwk = bump(key(1024).jwk, member);
      expectKeyFormatError(
        thrown(() => importPrivateKey(jwk)),
        "inconsistent",
        message,
      );
    });

    test("a tampered d is an inconsistent problem", () => {
      const jwk = bump(key(1024).jwk, "d", 1n);
      expectKeyFormatError(
        thrown(() => importPrivateKey(jwk)),
        "inconsistent",
      );
    });

    test("a public exponent that does not match d is an inconsistent problem", () => {
      // 3 and 65539 are valid exponents on their own, but d was computed for 65537:
      // such a key would sign garbage.
      for (const e of [3n, 65539n]) {
        const jwk = { ...key(1024).jwk, e: b64uFromBig(e) };
        expectKeyFormatError(
          thrown(() => importPrivateKey(jwk)),
          "inconsistent",
          /exponent/,
        );
      }
    });

    test("p = 1, q = n is an inconsistent problem, not a RangeError", () => {
      const jwk = { ...key(1024).jwk, p: "AQ", q: key(1024).jwk.n ?? "" };
      expectKeyFormatError(
        thrown(() => importPrivateKey(jwk)),
        "inconsistent",
      );
      const swapped = { ...key(1024).jwk, p: key(1024).jwk.n ?? "", q: "AQ" };
      expectKeyFormatError(
        thrown(() => importPrivateKey(swapped)),
        "inconsistent",
      );
    });

    test("swapping p and q without recomputing qi is an inconsistent problem", () => {
      const jwk = key(1024).jwk;
      const swapped = {
        ...jwk,
        p: jwk.q ?? "",
        q: jwk.p ?? "",
        dp: jwk.dq ?? "",
        dq: jwk.dp ?? "",
      };
      expectKeyFormatError(
        thrown(() => importPrivateKey(swapped)),
        "inconsistent",
        /qi/,
      );
    });

    test("an even modulus or a bad public exponent is an inconsistent problem", () => {
      const jwk = key(1024).publicJwk;
      const n = bigFromB64u(jwk.n);
      expectKeyFormatError(
        thrown(() => importPublicKey({ ...jwk, n: b64uFromBig(n - 1n) })),
        "inconsistent",
        /even/,
      );
      for (const e of [1n, 2n, 65536n]) {
        expectKeyFormatError(
          thrown(() => importPublicKey({ ...jwk, e: b64uFromBig(e) })),
          "inconsistent",
          new RegExp(`exponent ${e} is invalid`),
        );
      }
      expectKeyFormatError(
        thrown(() => importPublicKey({ ...jwk, e: jwk.n ?? "" })),
        "inconsistent",
        /exponent/,
      );
    });
  });

  describe("JWK problems", () => {
    test.each(["n", "e", "d", "p", "q", "dp", "dq", "qi"])(
      "a private JWK without %s is a jwk problem naming it",
      (member) => {
        const jwk = without(key(1024).jwk, member);
        // Without d, the JWK is a public key.
        const expected = member === "d" ? "public-key" : "jwk";
        const error = expectKeyFormatError(
          thrown(() => importPrivateKey(jwk)),
          expected,
        );
        if (member !== "d") expect(error.message).toContain(`"${member}"`);
      },
    );

    test("a public JWK without n or e is a jwk problem naming it", () => {
      for (const member of ["n", "e"]) {
        expectKeyFormatError(
          thrown(() => importPublicKey(without(key(1024).publicJwk, member))),
          "jwk",
          new RegExp(`"${member}" is missing`),
        );
      }
    });

    test("a member that is not base64url is a jwk problem", () => {
      const jwk = { ...key(1024).publicJwk, n: "ab+/cd==" };
      expectKeyFormatError(
        thrown(() => importPublicKey(jwk)),
        "jwk",
        /"n" is not base64url/,
      );
      const numeric = { ...key(1024).publicJwk, e: 65537 } as unknown as JsonWebKey;
      expectKeyFormatError(
        thrown(() => importPublicKey(numeric)),
        "jwk",
        /"e" is missing or not a string/,
      );
    });

    test("a multi-prime JWK is a jwk problem", () => {
      const jwk = { ...key(1024).jwk, oth: [{ r: "AQ", d: "AQ", t: "AQ" }] };
      expectKeyFormatError(
        thrown(() => importPrivateKey(jwk)),
        "jwk",
        /multi-prime/,
      );
    });

    test("a string that starts with { but is not JSON is a jwk problem", () => {
      expectKeyFormatError(
        thrown(() => importPrivateKey('{"kty": "RSA", ')),
        "jwk",
        /not valid JSON/,
      );
    });

    test("a JWK without kty is a not-rsa problem", () => {
      expectKeyFormatError(
        thrown(() => importPublicKey(without(key(1024).publicJwk, "kty"))),
        "not-rsa",
        /kty is undefined/,
      );
    });
  });

  test("a failed import is not cached", () => {
    const text = key(1024).spkiPem;
    expect(() => importPrivateKey(text)).toThrow(KeyFormatError);
    expect(() => importPrivateKey(text)).toThrow(KeyFormatError);
    expect(importPublicKey(text).bits).toBe(1024);
  });
});

describe("generateKeyPair", () => {
  let generated: RsaPrivateKey;
  let nodePublic: KeyObject;

  beforeAll(async () => {
    generated = await generateKeyPair(1024);
    nodePublic = createPublicKey(generated.publicKey.toPem());
  });

  test("returns a 1024-bit private key", () => {
    expect(generated).toBeInstanceOf(RsaPrivateKey);
    expect(generated.bits).toBe(1024);
    expect(generated.size).toBe(128);
    expect(generated.publicKey.e).toBe(65537n);
  });

  test("its signatures verify with node:crypto", async () => {
    const data = Buffer.from("generated key, signed");
    for (const [hash, nodeName] of [
      ["SHA-256", "sha256"],
      ["MD5", "md5"],
    ] as const) {
      const signature = await sign(generated, data, hash);
      expect(nodeVerify(nodeName, data, nodePublic, signature)).toBe(true);
      expect(nodeVerify(nodeName, Buffer.from("other data"), nodePublic, signature)).toBe(false);
    }
  });

  test("toPem, toJwk and toSpki round-trip through node:crypto", () => {
    const fromPem = createPrivateKey(generated.toPem());
    expect(fromPem.asymmetricKeyDetails?.modulusLength).toBe(1024);
    expect(fromPem.export({ format: "jwk" })).toEqual(generated.toJwk());
    expect(fromPem.export({ type: "pkcs8", format: "pem" })).toBe(generated.toPem());

    const fromJwk = createPrivateKey({ key: generated.toJwk() as NodeJwk, format: "jwk" });
    expect(toHex(generated.toPkcs8())).toBe(
      fromJwk.export({ type: "pkcs8", format: "der" }).toString("hex"),
    );

    const spki = generated.publicKey.toSpki();
    const fromSpki = createPublicKey({ key: Buffer.from(spki), format: "der", type: "spki" });
    expect(fromSpki.export({ format: "jwk" })).toEqual(generated.publicKey.toJwk());
    expect(fromSpki.export({ type: "spki", format: "pem" })).toBe(generated.publicKey.toPem());

    // And back through our own importers.
    expect(importPrivateKey(generated.toPem()).toJwk()).toEqual(generated.toJwk());
    expect(importPublicKey(spki).n).toBe(generated.publicKey.n);
  });

  test("two generated keys differ", async () => {
    const other = await generateKeyPair(1024);
    expect(other.publicKey.n).not.toBe(generated.publicKey.n);
  });

  test("JSON.stringify, String and util.inspect of a private key show no key material", () => {
    const jwk = generated.toJwk() as Record<string, string>;
    expect(JSON.stringify(generated)).toBe('{"type":"private","bits":1024}');
    expect(JSON.stringify(generated.publicKey)).toBe('{"type":"public","bits":1024}');
    expect(JSON.stringify({ key: generated })).not.toContain('"d"');
    expect(Object.keys(generated)).not.toContain("d");

    const texts = [
      JSON.stringify(generated),
      String(generated),
      `${generated}`,
      inspect(generated),
      inspect(generated, { depth: Number.POSITIVE_INFINITY, showHidden: true }),
    ];
    const secrets: string[] = [];
    for (const member of ["d", "p", "q", "dp", "dq", "qi"]) {
      const value = bigFromB64u(jwk[member]);
      secrets.push(jwk[member] ?? "", value.toString(), value.toString(16));
      secrets.push(Buffer.from(jwk[member] ?? "", "base64url").toString("base64"));
    }
    const modulus = Buffer.from(jwk.n ?? "", "base64url");
    const modulusEncodings = [
      jwk.n ?? "",
      modulus.toString("base64"),
      modulus.toString("base64").slice(0, 40),
      (jwk.n ?? "").slice(0, 40),
    ];
    for (const text of texts) {
      expect(text).not.toMatch(/\bd\b['"]?\s*:/);
      for (const secret of secrets) expect(text).not.toContain(secret);
      for (const encoding of modulusEncodings) expect(text).not.toContain(encoding);
    }
  });

  test.each([0, 256, 511, 1001, 4104, 8192, 1024.5, Number.NaN])(
    "refuses to generate a %d-bit key",
    async (bits) => {
      expectKeyFormatError(await rejection(generateKeyPair(bits)), "size", /cannot generate/);
    },
  );
});
