// RSASSA-PKCS1-v1_5 signing and verification (src/pkcs1.ts, src/md5.ts), with node:crypto as the oracle.
import { sign as nodeSign, verify as nodeVerify } from "node:crypto";
import { beforeAll, describe, expect, test } from "vitest";
import { toHex } from "../src/index.ts";
import {
  importPrivateKey,
  importPublicKey,
  type RsaPrivateKey,
  type RsaPublicKey,
  type SignatureHash,
  signPkcs1v15,
  verifyPkcs1v15,
} from "../src/rsa/index.ts";
import {
  ALL_HASHES,
  type AnyHash,
  expectKeyFormatError,
  freshKeyPair,
  key,
  loadKeys,
  type NodeKeyPair,
  nodeHash,
  rejection,
  SIZES,
  sign,
  UNICODE_TEXT,
  verify,
} from "./fixtures.ts";

/** Whether PKCS#1 v1.5 with this hash fits a key of this size (RFC 8017 §9.2: emLen ≥ tLen + 11). */
function fits(bits: number, hash: AnyHash): boolean {
  const digestInfo = { MD5: 34, "SHA-1": 35, "SHA-256": 51, "SHA-384": 67, "SHA-512": 83 }[hash];
  return bits / 8 >= digestInfo + 11;
}

const BYTES = Uint8Array.from({ length: 300 }, (_, i) => (i * 37 + 11) & 0xff);

beforeAll(async () => {
  await loadKeys(SIZES);
});

describe("signPkcs1v15", () => {
  describe.each(SIZES)("%i-bit key", (bits) => {
    const fitting = ALL_HASHES.filter((hash) => fits(bits, hash));
    const tooBig = ALL_HASHES.filter((hash) => !fits(bits, hash));

    test.each(fitting)("%s: byte-identical to node:crypto for both PEM forms", async (hash) => {
      const pair = key(bits);
      for (const pem of [pair.pkcs8Pem, pair.pkcs1Pem]) {
        const privateKey = importPrivateKey(pem);
        for (const data of [UNICODE_TEXT, BYTES]) {
          const bytes = typeof data === "string" ? Buffer.from(data, "utf8") : data;
          const expected = nodeSign(nodeHash(hash), bytes, pair.privateKey);
          const signature = await sign(privateKey, data, hash);
          expect(signature).toBeInstanceOf(Uint8Array);
          expect(signature).toHaveLength(bits / 8);
          expect(toHex(signature)).toBe(expected.toString("hex"));
          expect(nodeVerify(nodeHash(hash), bytes, pair.publicKey, signature)).toBe(true);
        }
      }
    });

    if (tooBig.length > 0) {
      test.each(tooBig)(
        "%s: the key is too small, a size KeyFormatError, as node:crypto refuses",
        async (hash) => {
          const pair = key(bits);
          expect(() => nodeSign(nodeHash(hash), BYTES, pair.privateKey)).toThrow(/too big/);
          const error = await rejection(sign(importPrivateKey(pair.pkcs8Pem), BYTES, hash));
          expectKeyFormatError(
            error,
            "size",
            new RegExp(`${bits}-bit key is too small for ${hash}`),
          );
        },
      );
    }
  });

  test("the size table covers what node:crypto accepts", () => {
    // 512-bit keys take MD5, SHA-1 and SHA-256, but not SHA-384 or SHA-512.
    expect(ALL_HASHES.filter((hash) => fits(512, hash))).toEqual(["MD5", "SHA-1", "SHA-256"]);
    expect(ALL_HASHES.every((hash) => fits(1024, hash))).toBe(true);
  });

  test.each(ALL_HASHES)("%s: a string is signed as its UTF-8 bytes", async (hash) => {
    const pair = key(1024);
    const privateKey = importPrivateKey(pair.pkcs8Pem);
    const fromString = await sign(privateKey, UNICODE_TEXT, hash);
    const fromBytes = await sign(privateKey, new TextEncoder().encode(UNICODE_TEXT), hash);
    expect(toHex(fromString)).toBe(toHex(fromBytes));
    const latin1 = nodeSign(nodeHash(hash), Buffer.from(UNICODE_TEXT, "latin1"), pair.privateKey);
    expect(toHex(fromString)).not.toBe(latin1.toString("hex"));
    const utf16 = nodeSign(nodeHash(hash), Buffer.from(UNICODE_TEXT, "utf16le"), pair.privateKey);
    expect(toHex(fromString)).not.toBe(utf16.toString("hex"));
  });

  test.each(ALL_HASHES)("%s: signs only the bytes a subarray view shows", async (hash) => {
    const pair = key(1024);
    const backing = new Uint8Array(64).fill(0xaa);
    backing.set([1, 2, 3, 4, 5], 20);
    const view = backing.subarray(20, 25);
    const signature = await sign(importPrivateKey(pair.pkcs8Pem), view, hash);
    const expected = nodeSign(nodeHash(hash), Uint8Array.of(1, 2, 3, 4, 5), pair.privateKey);
    expect(toHex(signature)).toBe(expected.toString("hex"));
  });

  test.each(ALL_HASHES)("%s: empty data", async (hash) => {
    const pair = key(2048);
    const signature = await sign(importPrivateKey(pair.pkcs1Pem), "", hash);
    expect(toHex(signature)).toBe(
      nodeSign(nodeHash(hash), new Uint8Array(0), pair.privateKey).toString("hex"),
    );
  });

  test("MD5 stays deterministic and correct across blinding refreshes", async () => {
    // The blinding pair is squared between uses and refreshed every 32 uses.
    const pair = key(1024);
    const privateKey = importPrivateKey(pair.pkcs8Pem);
    for (let i = 0; i < 70; i++) {
      const data = `message ${i % 3}`;
      const signature = await sign(privateKey, data, "MD5");
      expect(toHex(signature)).toBe(
        nodeSign("md5", Buffer.from(data), pair.privateKey).toString("hex"),
      );
    }
  });

  test("concurrent signatures with one key are all correct", async () => {
    const pair = key(2048);
    const privateKey = importPrivateKey(pair.pkcs8Pem);
    const jobs = Array.from({ length: 20 }, (_, i) => ({
      data: `concurrent ${i}`,
      hash: ALL_HASHES[i % ALL_HASHES.length] as AnyHash,
    }));
    const signatures = await Promise.all(
      jobs.map(({ data, hash }) => sign(privateKey, data, hash)),
    );
    jobs.forEach(({ data, hash }, i) => {
      const expected = nodeSign(nodeHash(hash), Buffer.from(data), pair.privateKey);
      expect(toHex(signatures[i] as Uint8Array)).toBe(expected.toString("hex"));
    });
  });

  test("an unknown hash is a TypeError that lists the hashes", async () => {
    const privateKey = importPrivateKey(key(1024).pkcs8Pem);
    for (const hash of ["SHA-224", "sha256", "SHA256", ""]) {
      const error = await rejection(signPkcs1v15(privateKey, "x", hash as SignatureHash));
      expect(error).toBeInstanceOf(TypeError);
      expect((error as Error).message).toContain("SHA-1, SHA-256, SHA-384, SHA-512");
    }
  });

  test("MD5 is a TypeError that points at @x/core-signing/md5", async () => {
    const privateKey = importPrivateKey(key(1024).pkcs8Pem);
    const error = await rejection(signPkcs1v15(privateKey, "x", "MD5" as SignatureHash));
    expect(error).toBeInstanceOf(TypeError);
    expect((error as Error).message).toContain("signMd5WithRsa of @x/core-signing/md5");
    const publicKey = privateKey.publicKey;
    const signature = await sign(privateKey, "x", "MD5");
    expect(
      await rejection(verifyPkcs1v15(publicKey, "x", signature, "MD5" as SignatureHash)),
    ).toBeInstanceOf(TypeError);
  });
});

describe("verifyPkcs1v15", () => {
  const data = Buffer.from(UNICODE_TEXT, "utf8");
  let other: NodeKeyPair;

  beforeAll(async () => {
    other = await freshKeyPair(2048);
  });

  function flipBit(signature: Uint8Array, bit: number): Uint8Array {
    const copy = new Uint8Array(signature);
    copy[bit >> 3] = (copy[bit >> 3] as number) ^ (0x80 >> (bit & 7));
    return copy;
  }

  describe.each(ALL_HASHES)("%s", (hash) => {
    let publicKey: RsaPublicKey;
    let privateKey: RsaPrivateKey;
    let good: Uint8Array;

    beforeAll(() => {
      const pair = key(2048);
      publicKey = importPublicKey(pair.spkiPem);
      privateKey = importPrivateKey(pair.pkcs8Pem);
      good = new Uint8Array(nodeSign(nodeHash(hash), data, pair.privateKey));
    });

    test("true for node:crypto's signature, data as a string or as bytes", async () => {
      expect(await verify(publicKey, UNICODE_TEXT, good, hash)).toBe(true);
      expect(await verify(publicKey, data, good, hash)).toBe(true);
      expect(await verify(publicKey, new Uint8Array(data), good, hash)).toBe(true);
    });

    test("true with the private key in place of the public one", async () => {
      expect(await verify(privateKey, UNICODE_TEXT, good, hash)).toBe(true);
      expect(await verify(privateKey, "other", good, hash)).toBe(false);
    });

    test("true for a signature held in a Buffer (node:crypto's own output type)", async () => {
      const buffer = nodeSign(nodeHash(hash), data, key(2048).privateKey);
      expect(await verify(publicKey, data, buffer, hash)).toBe(true);
    });

    test("true for every key size that fits the hash", async () => {
      for (const bits of SIZES.filter((size) => fits(size, hash))) {
        const pair = key(bits);
        const signature = nodeSign(nodeHash(hash), data, pair.privateKey);
        expect(await verify(importPublicKey(pair.spkiPem), data, signature, hash)).toBe(true);
        expect(await verify(importPublicKey(pair.spkiPem), data, flipBit(signature, 7), hash)).toBe(
          false,
        );
      }
    });

    test.each([0, 7, 8, 1000, 2047])("false for a signature with bit %i flipped", async (bit) => {
      expect(await verify(publicKey, data, flipBit(good, bit), hash)).toBe(false);
    });

    test("false for truncated, extended and empty signatures", async () => {
      expect(await verify(publicKey, data, good.subarray(0, good.length - 1), hash)).toBe(false);
      expect(await verify(publicKey, data, good.subarray(1), hash)).toBe(false);
      expect(await verify(publicKey, data, Uint8Array.of(...good, 0), hash)).toBe(false);
      expect(await verify(publicKey, data, Uint8Array.of(0, ...good), hash)).toBe(false);
      expect(await verify(publicKey, data, new Uint8Array(0), hash)).toBe(false);
    });

    test("false for all-zero and all-0xff (>= n) signatures", async () => {
      const zeros = new Uint8Array(publicKey.size);
      const ones = new Uint8Array(publicKey.size).fill(0xff);
      const modulus = Buffer.from(
        publicKey.n.toString(16).padStart(publicKey.size * 2, "0"),
        "hex",
      );
      expect(await verify(publicKey, data, zeros, hash)).toBe(false);
      expect(await verify(publicKey, data, ones, hash)).toBe(false);
      expect(await verify(publicKey, data, modulus, hash)).toBe(false);
      expect(await verify(publicKey, data, Uint8Array.of(...zeros.subarray(1), 1), hash)).toBe(
        false,
      );
    });

    test("false for a signature of other data", async () => {
      expect(await verify(publicKey, `${UNICODE_TEXT}.`, good, hash)).toBe(false);
      expect(await verify(publicKey, "", good, hash)).toBe(false);
      expect(await verify(publicKey, Buffer.from(UNICODE_TEXT, "latin1"), good, hash)).toBe(false);
    });

    test("false under any other hash", async () => {
      for (const otherHash of ALL_HASHES.filter((h) => h !== hash)) {
        expect(await verify(publicKey, data, good, otherHash)).toBe(false);
      }
    });

    test("false for a signature made by another key of the same size", async () => {
      const foreign = nodeSign(nodeHash(hash), data, other.privateKey);
      expect(await verify(publicKey, data, foreign, hash)).toBe(false);
      expect(await verify(importPublicKey(other.spkiPem), data, foreign, hash)).toBe(true);
    });

    test("false, not a throw, for things that are not signatures", async () => {
      for (const junk of ["signature", null, undefined, [1, 2, 3], new ArrayBuffer(256)]) {
        expect(await verify(publicKey, data, junk as unknown as Uint8Array, hash)).toBe(false);
      }
    });
  });

  test("false, not a throw, when the key is too small for the hash", async () => {
    const pair = key(512);
    const publicKey = importPublicKey(pair.spkiPem);
    const signature = new Uint8Array(64).fill(1);
    for (const hash of ["SHA-384", "SHA-512"] as const) {
      expect(await verify(publicKey, data, signature, hash)).toBe(false);
    }
  });

  test("a signature made by signPkcs1v15 verifies, and node:crypto agrees", async () => {
    const pair = key(3072);
    const privateKey = importPrivateKey(pair.pkcs1Pem);
    for (const hash of ALL_HASHES) {
      const signature = await sign(privateKey, data, hash);
      expect(await verify(privateKey.publicKey, data, signature, hash)).toBe(true);
      expect(nodeVerify(nodeHash(hash), data, pair.publicKey, signature)).toBe(true);
    }
  });

  test("an unknown hash is a TypeError", async () => {
    const publicKey = importPublicKey(key(1024).spkiPem);
    const error = await rejection(
      verifyPkcs1v15(publicKey, "x", new Uint8Array(128), "SHA-224" as SignatureHash),
    );
    expect(error).toBeInstanceOf(TypeError);
  });
});
