// RSA-OAEP encryption and decryption (src/oaep.ts), with node:crypto as the oracle.
import { constants, privateDecrypt, publicEncrypt } from "node:crypto";
import { beforeAll, describe, expect, test } from "vitest";
import { DataTooLongError, DecryptionError, toHex } from "../src/index.ts";
import {
  decryptOaep,
  encryptOaep,
  importPrivateKey,
  importPublicKey,
  OAEP_HASHES,
  type OaepHash,
  oaepCapacity,
} from "../src/rsa/index.ts";
import {
  expectKeyFormatError,
  freshKeyPair,
  key,
  loadKeys,
  type NodeKeyPair,
  rejection,
  UNICODE_TEXT,
} from "./fixtures.ts";

const NODE_OAEP = {
  "SHA-1": "sha1",
  "SHA-256": "sha256",
  "SHA-384": "sha384",
  "SHA-512": "sha512",
} as const;

function nodeDecrypt(pair: NodeKeyPair, ciphertext: Uint8Array, hash: OaepHash): Buffer {
  return privateDecrypt(
    { key: pair.privateKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: NODE_OAEP[hash] },
    ciphertext,
  );
}

function nodeEncrypt(pair: NodeKeyPair, data: Uint8Array, hash: OaepHash): Buffer {
  return publicEncrypt(
    { key: pair.publicKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: NODE_OAEP[hash] },
    data,
  );
}

function bytes(length: number, seed = 1): Uint8Array {
  return Uint8Array.from({ length }, (_, i) => (i * 131 + seed * 17) & 0xff);
}

beforeAll(async () => {
  await loadKeys([512, 1024, 2048, 3072]);
});

describe("encryptOaep", () => {
  test("defaults to SHA-256: node:crypto decrypts with oaepHash sha256", async () => {
    const pair = key(2048);
    const data = bytes(100);
    const ciphertext = await encryptOaep(importPublicKey(pair.spkiPem), data);
    expect(ciphertext).toHaveLength(256);
    expect(toHex(nodeDecrypt(pair, ciphertext, "SHA-256"))).toBe(toHex(data));
    // SHA-1 decryption of a SHA-256 ciphertext must fail: the default really is SHA-256.
    expect(() => nodeDecrypt(pair, ciphertext, "SHA-1")).toThrow();
  });

  describe.each(OAEP_HASHES)("%s", (hash) => {
    const sizes = hash === "SHA-512" ? [2048, 3072] : [1024, 2048, 3072];
    test.each(sizes)("%i-bit key: node:crypto decrypts it", async (bits) => {
      const pair = key(bits);
      const publicKey = importPublicKey(pair.pkcs1PublicPem);
      for (const data of [
        bytes(1),
        bytes(oaepCapacity(publicKey, hash), bits),
        new Uint8Array(0),
      ]) {
        const ciphertext = await encryptOaep(publicKey, data, hash);
        expect(ciphertext).toHaveLength(bits / 8);
        expect(toHex(nodeDecrypt(pair, ciphertext, hash))).toBe(toHex(data));
      }
    });

    test("a string is encrypted as UTF-8", async () => {
      const pair = key(2048);
      const ciphertext = await encryptOaep(importPublicKey(pair.spkiPem), UNICODE_TEXT, hash);
      expect(nodeDecrypt(pair, ciphertext, hash).toString("utf8")).toBe(UNICODE_TEXT);
    });
  });

  test("a private key may be given in place of the public key", async () => {
    const pair = key(2048);
    const ciphertext = await encryptOaep(importPrivateKey(pair.pkcs8Pem), "secret", "SHA-512");
    expect(nodeDecrypt(pair, ciphertext, "SHA-512").toString()).toBe("secret");
  });

  test("is randomised: the same data encrypts differently each time", async () => {
    const publicKey = importPublicKey(key(1024).spkiPem);
    const a = await encryptOaep(publicKey, "same");
    const b = await encryptOaep(publicKey, "same");
    expect(toHex(a)).not.toBe(toHex(b));
  });

  test("2048-bit key, SHA-256: 190 bytes fit, 191 are a DataTooLongError stating 190", async () => {
    const pair = key(2048);
    const publicKey = importPublicKey(pair.spkiPem);
    const fits = bytes(190);
    expect(toHex(nodeDecrypt(pair, await encryptOaep(publicKey, fits), "SHA-256"))).toBe(
      toHex(fits),
    );

    // node:crypto agrees that 191 bytes do not fit.
    expect(() => nodeEncrypt(pair, bytes(191), "SHA-256")).toThrow();
    const error = await rejection(encryptOaep(publicKey, bytes(191), "SHA-256"));
    expect(error).toBeInstanceOf(DataTooLongError);
    expect(error).toBeInstanceOf(RangeError);
    const tooLong = error as DataTooLongError;
    expect(tooLong.name).toBe("DataTooLongError");
    expect(tooLong.limit).toBe(190);
    expect(tooLong.length).toBe(191);
    expect(tooLong.message).toMatch(/\b190\b/);
    expect(tooLong.message).toMatch(/\b191\b/);
    expect(tooLong.message).toContain("2048-bit");
  });

  test("the limit counts UTF-8 bytes, not characters", async () => {
    const publicKey = importPublicKey(key(2048).spkiPem);
    // 95 two-byte characters are 190 bytes and fit; 96 are 192 bytes and do not.
    await expect(encryptOaep(publicKey, "é".repeat(95))).resolves.toHaveLength(256);
    const error = await rejection(encryptOaep(publicKey, "é".repeat(96)));
    expect(error).toBeInstanceOf(DataTooLongError);
    expect((error as DataTooLongError).length).toBe(192);
  });

  test.each([
    [1024, "SHA-1", 86],
    [1024, "SHA-256", 62],
    [2048, "SHA-1", 214],
    [2048, "SHA-256", 190],
    [2048, "SHA-384", 158],
    [2048, "SHA-512", 126],
    [3072, "SHA-256", 318],
  ] as const)("at the limit, %i-bit with %s: %i bytes", async (bits, hash, limit) => {
    const pair = key(bits);
    const publicKey = importPublicKey(pair.spkiPem);
    expect(oaepCapacity(publicKey, hash)).toBe(limit);
    expect(oaepCapacity(importPrivateKey(pair.pkcs8Pem), hash)).toBe(limit);
    const error = await rejection(encryptOaep(publicKey, bytes(limit + 1), hash));
    expect(error).toBeInstanceOf(DataTooLongError);
    expect((error as DataTooLongError).limit).toBe(limit);
    expect(() => nodeEncrypt(pair, bytes(limit + 1), hash)).toThrow();
    if (limit > 0) {
      const ciphertext = await encryptOaep(publicKey, bytes(limit), hash);
      expect(toHex(nodeDecrypt(pair, ciphertext, hash))).toBe(toHex(bytes(limit)));
    }
  });

  test("a key too small for the hash is a size KeyFormatError, never a DOMException", async () => {
    // 1024-bit with SHA-512: 2·64 + 2 = 130 bytes of overhead exceed the 128-byte block.
    const pair = key(1024);
    const publicKey = importPublicKey(pair.spkiPem);
    expect(oaepCapacity(publicKey, "SHA-512")).toBe(0);
    expect(() => nodeEncrypt(pair, new Uint8Array(0), "SHA-512")).toThrow();
    for (const data of [new Uint8Array(0), "", "x"]) {
      expectKeyFormatError(
        await rejection(encryptOaep(publicKey, data, "SHA-512")),
        "size",
        /1024-bit key is too small for RSA-OAEP SHA-512: at least 1040 bits/,
      );
    }
    // Decryption cannot succeed either, and says so as a DecryptionError.
    const privateKey = importPrivateKey(pair.pkcs8Pem);
    expect(
      await rejection(decryptOaep(privateKey, new Uint8Array(128).fill(7), "SHA-512")),
    ).toBeInstanceOf(DecryptionError);
  });

  test("a 512-bit key takes SHA-1 (22 bytes) but is too small for SHA-256", async () => {
    const pair = key(512);
    const publicKey = importPublicKey(pair.spkiPem);
    expect(oaepCapacity(publicKey, "SHA-1")).toBe(22);
    const ciphertext = await encryptOaep(publicKey, bytes(22), "SHA-1");
    expect(toHex(nodeDecrypt(pair, ciphertext, "SHA-1"))).toBe(toHex(bytes(22)));
    expect(toHex(await decryptOaep(importPrivateKey(pair.pkcs8Pem), ciphertext, "SHA-1"))).toBe(
      toHex(bytes(22)),
    );
    expectKeyFormatError(await rejection(encryptOaep(publicKey, "")), "size", /512-bit/);
  });

  test("oaepCapacity defaults to SHA-256", () => {
    expect(oaepCapacity(importPublicKey(key(2048).spkiPem))).toBe(190);
    expect(oaepCapacity(importPublicKey(key(1024).spkiPem))).toBe(62);
  });

  test("an unsupported hash is a TypeError", async () => {
    const publicKey = importPublicKey(key(1024).spkiPem);
    expect(() => oaepCapacity(publicKey, "MD5" as OaepHash)).toThrow(TypeError);
    expect(await rejection(encryptOaep(publicKey, "x", "MD5" as OaepHash))).toBeInstanceOf(
      TypeError,
    );
  });
});

describe("decryptOaep", () => {
  describe.each(OAEP_HASHES)("%s", (hash) => {
    test("decrypts node:crypto's publicEncrypt output", async () => {
      for (const bits of hash === "SHA-512" ? [2048] : [1024, 2048]) {
        const pair = key(bits);
        const privateKey = importPrivateKey(pair.pkcs1Pem);
        const capacity = oaepCapacity(privateKey, hash);
        for (const length of [0, 1, capacity]) {
          const data = bytes(length, bits);
          const plaintext = await decryptOaep(privateKey, nodeEncrypt(pair, data, hash), hash);
          expect(plaintext).toBeInstanceOf(Uint8Array);
          expect(toHex(plaintext)).toBe(toHex(data));
        }
      }
    });

    test("round-trips with encryptOaep", async () => {
      const privateKey = importPrivateKey(key(2048).pkcs8Pem);
      const ciphertext = await encryptOaep(privateKey.publicKey, UNICODE_TEXT, hash);
      const plaintext = await decryptOaep(privateKey, ciphertext, hash);
      expect(new TextDecoder().decode(plaintext)).toBe(UNICODE_TEXT);
    });
  });

  test("defaults to SHA-256", async () => {
    const pair = key(2048);
    const ciphertext = nodeEncrypt(pair, bytes(50), "SHA-256");
    expect(toHex(await decryptOaep(importPrivateKey(pair.pkcs8Pem), ciphertext))).toBe(
      toHex(bytes(50)),
    );
  });

  describe("a ciphertext that does not decrypt is a DecryptionError", () => {
    let pair: NodeKeyPair;
    let other: NodeKeyPair;
    let ciphertext: Uint8Array;

    beforeAll(async () => {
      pair = key(2048);
      other = await freshKeyPair(2048);
      ciphertext = new Uint8Array(nodeEncrypt(pair, bytes(32), "SHA-256"));
    });

    async function expectDecryptionError(promise: Promise<unknown>): Promise<void> {
      const error = await rejection(promise);
      expect(error).toBeInstanceOf(DecryptionError);
      expect((error as Error).name).toBe("DecryptionError");
      expect((error as Error).message).toMatch(/RSA-OAEP/);
    }

    test.each([0, 1, 100, 255])("corrupted at byte %i", async (index) => {
      const corrupted = new Uint8Array(ciphertext);
      corrupted[index] = (corrupted[index] as number) ^ 0x01;
      await expectDecryptionError(decryptOaep(importPrivateKey(pair.pkcs8Pem), corrupted));
    });

    test("decrypted with the wrong hash", async () => {
      const privateKey = importPrivateKey(pair.pkcs8Pem);
      for (const hash of ["SHA-1", "SHA-384", "SHA-512"] as const) {
        await expectDecryptionError(decryptOaep(privateKey, ciphertext, hash));
      }
    });

    test("decrypted with another key", async () => {
      await expectDecryptionError(decryptOaep(importPrivateKey(other.pkcs8Pem), ciphertext));
    });

    test("of the wrong length, or not bytes", async () => {
      const privateKey = importPrivateKey(pair.pkcs8Pem);
      await expectDecryptionError(decryptOaep(privateKey, ciphertext.subarray(1)));
      await expectDecryptionError(decryptOaep(privateKey, Uint8Array.of(...ciphertext, 0)));
      await expectDecryptionError(decryptOaep(privateKey, new Uint8Array(0)));
      await expectDecryptionError(decryptOaep(privateKey, "text" as unknown as Uint8Array));
    });

    test("all zeros and all 0xff", async () => {
      const privateKey = importPrivateKey(pair.pkcs8Pem);
      await expectDecryptionError(decryptOaep(privateKey, new Uint8Array(256)));
      await expectDecryptionError(decryptOaep(privateKey, new Uint8Array(256).fill(0xff)));
    });
  });
});
