import { generateKeyPair, oaepCapacity, type RsaPrivateKey } from "@x/core-signing/rsa";
import fc from "fast-check";
import { beforeAll, describe, expect, it } from "vitest";
import { OneAccessError } from "../src/errors.ts";
import {
  buildSignaturePlaintext,
  checkSessionToken,
  checkSignatureFits,
  encryptSignature,
  maxSessionTokenBytes,
} from "../src/signature.ts";
import { opensslDecrypt } from "./support.ts";

let key: RsaPrivateKey;
beforeAll(async () => {
  key = await generateKeyPair(2048);
});

const TS = "1700000000000";
const NONCE = "18bcfe56800";

function refusal(run: () => unknown): OneAccessError {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(OneAccessError);
    return error as OneAccessError;
  }
  throw new Error("nothing was refused");
}

describe("buildSignaturePlaintext", () => {
  it("writes session_token=<t>&timestamp=<ts>&nonce=<nonce>", () => {
    expect(buildSignaturePlaintext({ sessionToken: "tok-1", timestamp: TS, nonce: NONCE })).toBe(
      "session_token=tok-1&timestamp=1700000000000&nonce=18bcfe56800",
    );
  });

  it("refuses a timestamp that is not the server's digits, and a bad nonce", () => {
    expect(
      refusal(() => buildSignaturePlaintext({ sessionToken: "t", timestamp: "now", nonce: "n" }))
        .field,
    ).toBe("timestamp");
    for (const nonce of ["", "a&b", "a b", "é", "x".repeat(65)]) {
      expect(
        refusal(() => buildSignaturePlaintext({ sessionToken: "t", timestamp: TS, nonce })).field,
      ).toBe("nonce");
    }
  });
});

describe("checkSessionToken", () => {
  it.each([
    ["missing", undefined, /is required/],
    ["empty", "", /is required/],
    ["not a string", 42, /must be a string/],
    ["with an &", "abc&timestamp=1", /contains "&" at position 3/],
    ["with a CR", "abc\rdef", /line break/],
    ["with an LF", "abc\ndef", /line break/],
    ["with a blank", "abc def", /blank or control character at position 3/],
    ["non-ASCII", "abcé", /non-ASCII character at position 3/],
  ])("refuses a token %s, naming sessionToken", (_, value, pattern) => {
    const error = refusal(() => checkSessionToken(value));
    expect(error.field).toBe("sessionToken");
    expect(error.message).toMatch(pattern);
  });

  it("refuses, before knowing the key, a token that no supported key could carry", () => {
    expect(checkSessionToken("a".repeat(412))).toHaveLength(412);
    const error = refusal(() => checkSessionToken("a".repeat(413)));
    expect(error.message).toMatch(/413 bytes; no RSA key .*4096 bits/);
    expect(error.message).not.toContain("aaaa");
  });

  it("accepts base64url, base64 and hex tokens (property)", () => {
    fc.assert(
      fc.property(fc.base64String({ minLength: 4, maxLength: 200 }), (token) => {
        expect(checkSessionToken(token)).toBe(token);
      }),
      { seed: 17, numRuns: 200 },
    );
  });
});

describe("the OAEP capacity limit", () => {
  it("is 190 bytes of signed text with a 2048-bit key", () => {
    expect(oaepCapacity(key.publicKey)).toBe(190);
    const frame = "session_token=&timestamp=&nonce=".length + TS.length + NONCE.length;
    expect(maxSessionTokenBytes(key.publicKey, TS, NONCE)).toBe(190 - frame);
  });

  it("lets the longest token through and refuses one byte more, saying the limit", async () => {
    const limit = maxSessionTokenBytes(key.publicKey, TS, NONCE);
    const longest = "a".repeat(limit);
    const signature = await encryptSignature(key.publicKey, {
      sessionToken: longest,
      timestamp: TS,
      nonce: NONCE,
    });
    expect(opensslDecrypt(key, signature)).toBe(
      `session_token=${longest}&timestamp=${TS}&nonce=${NONCE}`,
    );
    const tooLong = "b".repeat(limit + 1);
    const error = refusal(() =>
      checkSignatureFits(key.publicKey, { sessionToken: tooLong, timestamp: TS, nonce: NONCE }),
    );
    expect(error.field).toBe("sessionToken");
    expect(error.message).toContain(`is ${limit + 1} bytes`);
    expect(error.message).toContain("2048-bit key");
    expect(error.message).toContain("at most 190 bytes");
    expect(error.message).toContain(`at most ${limit} bytes`);
    expect(error.message).not.toContain("bbbb");
    await expect(
      encryptSignature(key.publicKey, { sessionToken: tooLong, timestamp: TS, nonce: NONCE }),
    ).rejects.toMatchObject({ name: "OneAccessError", field: "sessionToken" });
  });
});

describe("encryptSignature", () => {
  it("is base64 RSA-OAEP with SHA-256 (hash and MGF1) that OpenSSL decrypts", async () => {
    const input = { sessionToken: "ab8f2c3d-session", timestamp: TS, nonce: NONCE };
    const signature = await encryptSignature(key.publicKey, input);
    expect(signature).toMatch(/^[A-Za-z0-9+/]+={0,2}$/);
    expect(Buffer.from(signature, "base64")).toHaveLength(256);
    expect(opensslDecrypt(key, signature)).toBe(buildSignaturePlaintext(input));
    // Java's default provider pads with MGF1-SHA-1; that must not be what we send.
    expect(() => opensslDecrypt(key, signature, "sha1")).toThrow();
  });

  it("differs every time (OAEP is randomised) yet always decrypts to the same text", async () => {
    const input = { sessionToken: "same", timestamp: TS, nonce: NONCE };
    const a = await encryptSignature(key.publicKey, input);
    const b = await encryptSignature(key.publicKey, input);
    expect(a).not.toBe(b);
    expect(opensslDecrypt(key, a)).toBe(opensslDecrypt(key, b));
  });
});
