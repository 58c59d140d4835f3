// Property tests with fixed seeds: round trips, corruption, and what the key importers may throw.
import { constants, sign as nodeSign, privateDecrypt } from "node:crypto";
import fc from "fast-check";
import { beforeAll, describe, expect, test } from "vitest";
import { KeyFormatError, toHex } from "../src/index.ts";
import {
  decryptOaep,
  encryptOaep,
  importPrivateKey,
  importPublicKey,
  OAEP_HASHES,
  type OaepHash,
  oaepCapacity,
  RsaPrivateKey,
  RsaPublicKey,
} from "../src/rsa/index.ts";
import {
  ALL_HASHES,
  b64uFromBig,
  bigFromB64u,
  key,
  loadKeys,
  type NodeKeyPair,
  nodeHash,
  sign,
  verify,
} from "./fixtures.ts";

const SEED = 42;

let pair1024: NodeKeyPair;
let private1024: RsaPrivateKey;
let public1024: RsaPublicKey;

beforeAll(async () => {
  await loadKeys([1024, 2048]);
  pair1024 = key(1024);
  private1024 = importPrivateKey(pair1024.pkcs8Pem);
  public1024 = importPublicKey(pair1024.spkiPem);
});

/** Runs `fn`; a throw must be a KeyFormatError. Returns the result or the error. */
function onlyKeyFormatError<T>(fn: () => T): T | KeyFormatError {
  try {
    return fn();
  } catch (error) {
    expect(error).toBeInstanceOf(KeyFormatError);
    return error as KeyFormatError;
  }
}

describe("PKCS#1 v1.5 signatures", () => {
  const data = fc.oneof(
    fc.uint8Array({ maxLength: 300 }),
    fc.string({ unit: "grapheme", maxLength: 60 }),
  );

  test.each(["MD5", "SHA-256"] as const)(
    "%s: sign then verify holds for random data, and matches node:crypto",
    async (hash) => {
      await fc.assert(
        fc.asyncProperty(data, async (message) => {
          const signature = await sign(private1024, message, hash);
          expect(await verify(public1024, message, signature, hash)).toBe(true);
          const bytes = typeof message === "string" ? Buffer.from(message, "utf8") : message;
          expect(toHex(signature)).toBe(
            nodeSign(nodeHash(hash), bytes, pair1024.privateKey).toString("hex"),
          );
        }),
        { seed: SEED, numRuns: 200 },
      );
    },
  );

  test.each(["MD5", "SHA-256"] as const)(
    "%s: a signature does not verify for any other random data",
    async (hash) => {
      await fc.assert(
        fc.asyncProperty(
          fc.uint8Array({ maxLength: 64 }),
          fc.uint8Array({ maxLength: 64 }),
          async (a, b) => {
            fc.pre(toHex(a) !== toHex(b));
            const signature = await sign(private1024, a, hash);
            expect(await verify(public1024, b, signature, hash)).toBe(false);
          },
        ),
        { seed: SEED, numRuns: 100 },
      );
    },
  );

  test.each(["MD5", "SHA-1", "SHA-256"] as const)(
    "%s: every single-bit corruption of a valid signature verifies false",
    async (hash) => {
      const message = "every bit counts";
      const signature = nodeSign(nodeHash(hash), Buffer.from(message), pair1024.privateKey);
      expect(await verify(public1024, message, signature, hash)).toBe(true);
      const failures: number[] = [];
      for (let bit = 0; bit < signature.length * 8; bit++) {
        const corrupted = new Uint8Array(signature);
        corrupted[bit >> 3] = (corrupted[bit >> 3] as number) ^ (1 << (bit & 7));
        if (await verify(public1024, message, corrupted, hash)) failures.push(bit);
      }
      expect(failures).toEqual([]);
    },
  );

  test("random byte strings of the right length never verify, and never throw", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.uint8Array({ minLength: 128, maxLength: 128 }),
        fc.constantFrom(...ALL_HASHES),
        async (signature, hash) => {
          expect(await verify(public1024, "data", signature, hash)).toBe(false);
        },
      ),
      { seed: SEED, numRuns: 200 },
    );
  });
});

describe("RSA-OAEP", () => {
  const withData = fc
    .constantFrom(...OAEP_HASHES)
    .chain((hash) =>
      fc.tuple(
        fc.constant(hash),
        fc.uint8Array({ maxLength: oaepCapacity(importPublicKey(key(2048).spkiPem), hash) }),
      ),
    );

  test("encrypt then decrypt gives back random data up to the capacity", async () => {
    const pair = key(2048);
    const privateKey = importPrivateKey(pair.pkcs8Pem);
    await fc.assert(
      fc.asyncProperty(withData, async ([hash, data]: [OaepHash, Uint8Array]) => {
        const ciphertext = await encryptOaep(privateKey.publicKey, data, hash);
        expect(toHex(await decryptOaep(privateKey, ciphertext, hash))).toBe(toHex(data));
        const oaepHash = hash.replace("-", "").toLowerCase();
        const fromNode = privateDecrypt(
          { key: pair.privateKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash },
          ciphertext,
        );
        expect(fromNode.toString("hex")).toBe(toHex(data));
      }),
      { seed: SEED, numRuns: 100 },
    );
  });

  test("SHA-256 at exactly the capacity always fits, one byte more never does", async () => {
    const publicKey = importPublicKey(key(2048).spkiPem);
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ minLength: 191, maxLength: 191 }), async (data) => {
        await expect(encryptOaep(publicKey, data.subarray(0, 190))).resolves.toHaveLength(256);
        await expect(encryptOaep(publicKey, data)).rejects.toMatchObject({
          name: "DataTooLongError",
          limit: 190,
        });
      }),
      { seed: SEED, numRuns: 20 },
    );
  });
});

describe("key import never throws anything but KeyFormatError", () => {
  test("corrupting one byte of a PKCS#8 DER key: a KeyFormatError, or the very same key", async () => {
    const der = new Uint8Array(pair1024.pkcs8Der);
    const expected = nodeSign("md5", Buffer.from("probe"), pair1024.privateKey).toString("hex");
    let imported = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.nat({ max: der.length - 1 }),
        fc.integer({ min: 1, max: 255 }),
        async (index, xor) => {
          const corrupted = new Uint8Array(der);
          corrupted[index] = (corrupted[index] as number) ^ xor;
          const result = onlyKeyFormatError(() => importPrivateKey(corrupted));
          if (result instanceof KeyFormatError) return;
          imported++;
          expect(result).toBeInstanceOf(RsaPrivateKey);
          // Only bytes that carry no key material may change (the version, the NULL parameters):
          // whatever imports must sign exactly as the original key does.
          expect(toHex(await sign(result, "probe", "MD5"))).toBe(expected);
        },
      ),
      { seed: SEED, numRuns: 500 },
    );
    expect(imported).toBeLessThan(50);
  });

  test("every byte of a PKCS#8 DER key, set to every bad value of a few: never another error", () => {
    // Exhaustive over positions, with the values most likely to confuse a parser.
    const der = new Uint8Array(pair1024.pkcs8Der);
    for (let index = 0; index < der.length; index++) {
      for (const value of [0x00, 0x80, 0xff]) {
        if (der[index] === value) continue;
        const corrupted = new Uint8Array(der);
        corrupted[index] = value;
        const result = onlyKeyFormatError(() => importPrivateKey(corrupted));
        if (!(result instanceof KeyFormatError)) {
          expect(result.publicKey.n).toBe(private1024.publicKey.n);
        }
      }
    }
  });

  test("the e bytes of a PKCS#8 key are covered: changing e is refused", () => {
    // e = 65537 is the only 01 00 01 run in the key's DER at its INTEGER.
    const der = new Uint8Array(pair1024.pkcs8Der);
    const at = pair1024.pkcs8Der.indexOf(Buffer.from([0x02, 0x03, 0x01, 0x00, 0x01]));
    expect(at).toBeGreaterThan(0);
    for (const offset of [2, 3, 4]) {
      const corrupted = new Uint8Array(der);
      corrupted[at + offset] = (corrupted[at + offset] as number) ^ 0x02;
      const result = onlyKeyFormatError(() => importPrivateKey(corrupted));
      expect(result).toBeInstanceOf(KeyFormatError);
      expect((result as KeyFormatError).problem).toBe("inconsistent");
    }
  });

  test("truncating, extending or splicing DER: only KeyFormatError", () => {
    const der = new Uint8Array(pair1024.pkcs8Der);
    const spki = new Uint8Array(pair1024.spkiDer);
    fc.assert(
      fc.property(
        fc.constantFrom(der, spki),
        fc.nat(),
        fc.uint8Array({ maxLength: 8 }),
        fc.nat({ max: 8 }),
        (source, position, inserted, removed) => {
          const at = position % (source.length + 1);
          const spliced = new Uint8Array([
            ...source.subarray(0, at),
            ...inserted,
            ...source.subarray(Math.min(source.length, at + removed)),
          ]);
          onlyKeyFormatError(() => importPrivateKey(spliced));
          onlyKeyFormatError(() => importPublicKey(spliced));
          const truncated = source.subarray(0, at);
          if (at < source.length) {
            expect(() => importPrivateKey(truncated)).toThrow(KeyFormatError);
            expect(() => importPublicKey(truncated)).toThrow(KeyFormatError);
          }
        },
      ),
      { seed: SEED, numRuns: 300 },
    );
  });

  test("corrupting one byte of an SPKI key: a KeyFormatError or a public key", () => {
    const der = new Uint8Array(pair1024.spkiDer);
    fc.assert(
      fc.property(
        fc.nat({ max: der.length - 1 }),
        fc.integer({ min: 1, max: 255 }),
        (index, xor) => {
          const corrupted = new Uint8Array(der);
          corrupted[index] = (corrupted[index] as number) ^ xor;
          const result = onlyKeyFormatError(() => importPublicKey(corrupted));
          if (!(result instanceof KeyFormatError)) expect(result).toBeInstanceOf(RsaPublicKey);
        },
      ),
      { seed: SEED, numRuns: 300 },
    );
  });

  test("random strings: only KeyFormatError", () => {
    const pemLabel = fc.constantFrom(
      "PRIVATE KEY",
      "RSA PRIVATE KEY",
      "PUBLIC KEY",
      "RSA PUBLIC KEY",
      "CERTIFICATE",
    );
    const text = fc.oneof(
      fc.string(),
      fc.string({ unit: "binary", maxLength: 40 }),
      fc.base64String({ maxLength: 200 }),
      fc.json(),
      fc.string().map((body) => `{${body}`),
      fc
        .tuple(pemLabel, fc.base64String({ maxLength: 200 }), pemLabel)
        .map(([begin, body, end]) => `-----BEGIN ${begin}-----\n${body}\n-----END ${end}-----`),
      fc
        .tuple(pemLabel, fc.string())
        .map(([label, body]) => `-----BEGIN ${label}-----${body}-----END ${label}-----`),
      fc.uint8Array({ maxLength: 120 }).map((bytes) => Buffer.from(bytes).toString("base64")),
      // Plausible DER: a SEQUENCE header in front of random bytes.
      fc
        .uint8Array({ maxLength: 120 })
        .map((bytes) => Buffer.from([0x30, bytes.length, ...bytes]).toString("base64")),
    );
    fc.assert(
      fc.property(text, (material) => {
        onlyKeyFormatError(() => importPrivateKey(material));
        onlyKeyFormatError(() => importPublicKey(material));
      }),
      { seed: SEED, numRuns: 1000 },
    );
  });

  test("random bytes and random objects: only KeyFormatError", () => {
    const material = fc.oneof(
      fc.uint8Array({ maxLength: 200 }),
      fc.uint8Array({ maxLength: 120 }).map((bytes) => Uint8Array.of(0x30, bytes.length, ...bytes)),
      fc.object(),
      fc.record(
        {
          kty: fc.constantFrom("RSA", "EC", "oct", 1, null),
          n: fc.oneof(fc.base64String(), fc.string(), fc.integer()),
          e: fc.constantFrom("AQAB", "Aw", "", "AA", 3),
          d: fc.oneof(fc.base64String(), fc.string()),
        },
        { requiredKeys: [] },
      ),
    );
    fc.assert(
      fc.property(material, (value) => {
        onlyKeyFormatError(() => importPrivateKey(value as Uint8Array));
        onlyKeyFormatError(() => importPublicKey(value as Uint8Array));
      }),
      { seed: SEED, numRuns: 1000 },
    );
  });

  test("a real JWK with members swapped for edge values: only KeyFormatError", () => {
    const jwk = pair1024.jwk as Record<string, string>;
    const n = bigFromB64u(jwk.n);
    const p = bigFromB64u(jwk.p);
    const q = bigFromB64u(jwk.q);
    const edge = fc.constantFrom(0n, 1n, 2n, 3n, n, n - 1n, n + 1n, p, q, p - 1n, q - 1n, p * p);
    const member = fc.constantFrom("n", "e", "d", "p", "q", "dp", "dq", "qi");
    fc.assert(
      fc.property(fc.array(fc.tuple(member, edge), { minLength: 1, maxLength: 3 }), (changes) => {
        const changed: Record<string, string> = { ...jwk };
        for (const [name, value] of changes) changed[name] = b64uFromBig(value);
        const result = onlyKeyFormatError(() => importPrivateKey(changed));
        if (!(result instanceof KeyFormatError)) {
          // Only a change back to the true value may import.
          expect(result.toJwk()).toEqual(pair1024.jwk);
        }
      }),
      { seed: SEED, numRuns: 1000 },
    );
    // The case that once escaped as a RangeError (division by zero): p = 1, q = n.
    const degenerate = { ...jwk, p: b64uFromBig(1n), q: b64uFromBig(n) };
    expect(() => importPrivateKey(degenerate)).toThrow(KeyFormatError);
  });
});
