// Strict base64, base64url, hex and UTF-8 (src/encoding.ts), with Buffer's encodings as the oracle.
import fc from "fast-check";
import { describe, expect, test } from "vitest";
import {
  concatBytes,
  EncodingError,
  fromBase64,
  fromBase64Url,
  fromHex,
  timingSafeEqual,
  toBase64,
  toBase64Url,
  toBytes,
  toHex,
  utf8Decode,
  utf8Encode,
} from "../src/index.ts";
import { thrown, UNICODE_TEXT } from "./fixtures.ts";

const RUNS = { seed: 42, numRuns: 300 } as const;

const B64_CHARS = [..."ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"];
const B64URL_CHARS = [..."ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"];

function expectEncodingError(fn: () => unknown, message?: RegExp): void {
  const error = thrown(fn);
  expect(error).toBeInstanceOf(EncodingError);
  expect((error as Error).name).toBe("EncodingError");
  if (message) expect((error as Error).message).toMatch(message);
}

const hexOf = (bytes: Uint8Array): string => Buffer.from(bytes).toString("hex");

describe("base64", () => {
  test("agrees with Buffer for random bytes, both ways", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 100 }), (bytes) => {
        const expected = Buffer.from(bytes).toString("base64");
        expect(toBase64(bytes)).toBe(expected);
        expect(hexOf(fromBase64(expected))).toBe(hexOf(bytes));
      }),
      RUNS,
    );
  });

  test("known vectors (RFC 4648 §10)", () => {
    const vectors = ["", "f", "fo", "foo", "foob", "fooba", "foobar"];
    const encoded = ["", "Zg==", "Zm8=", "Zm9v", "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy"];
    vectors.forEach((text, i) => {
      expect(toBase64(utf8Encode(text))).toBe(encoded[i]);
      expect(utf8Decode(fromBase64(encoded[i] as string))).toBe(text);
    });
    expect(toBase64(Uint8Array.of(0xfb, 0xff))).toBe("+/8=");
  });

  test("decoding is strict: whatever decodes re-encodes to the very same text", () => {
    const alphabet = fc.constantFrom(...B64_CHARS, "=", "-", "_", " ", "\n", "é");
    fc.assert(
      fc.property(fc.string({ unit: alphabet, maxLength: 12 }), (text) => {
        let bytes: Uint8Array;
        try {
          bytes = fromBase64(text);
        } catch (error) {
          expect(error).toBeInstanceOf(EncodingError);
          return;
        }
        expect(toBase64(bytes)).toBe(text);
      }),
      { seed: 42, numRuns: 2000 },
    );
  });

  test.each([
    ["AA-A", /invalid character "-"/],
    ["AA_A", /invalid character "_"/],
    ["AA A", /invalid character " "/],
    ["AAé=", /invalid character "é"/],
    ["AA\nA", /invalid character/],
    ["Zm9v!", /multiple of 4/],
  ])("rejects invalid characters: %j", (text, message) => {
    expectEncodingError(() => fromBase64(text), message);
  });

  test.each(["AA", "AAA", "AA=", "A===", "====", "=AAA", "AA=A", "A=AA", "AAAA====", "AAAA="])(
    "rejects wrong padding: %j",
    (text) => {
      expectEncodingError(() => fromBase64(text));
    },
  );

  test.each(["A", "AAAAA", "AAAAAAAAA"])("rejects length 4n+1: %j", (text) => {
    expectEncodingError(() => fromBase64(text), /multiple of 4/);
  });

  test("rejects non-canonical trailing bits: AB== and AAB= are not canonical, AA== and AAA= are", () => {
    expect([...fromBase64("AA==")]).toEqual([0]);
    expect([...fromBase64("AAA=")]).toEqual([0, 0]);
    expect([...fromBase64("AQ==")]).toEqual([1]);
    expectEncodingError(() => fromBase64("AB=="), /non-zero padding bits/);
    expectEncodingError(() => fromBase64("AAB="), /non-zero padding bits/);
    expectEncodingError(
      () => fromBase64("Zm9=" /* Zm8= is canonical */),
      /not a canonical encoding/,
    );
    expectEncodingError(() => fromBase64("Zh=="), /not a canonical encoding/);
    // Buffer is lax here and would silently accept them.
    expect([...Buffer.from("AB==", "base64")]).toEqual([0]);
  });

  test("rejects what is not a string", () => {
    expectEncodingError(() => fromBase64(undefined as unknown as string), /expected a string/);
    expectEncodingError(() => fromBase64(42 as unknown as string), /expected a string/);
  });
});

describe("base64url", () => {
  test("agrees with Buffer for random bytes, both ways", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 100 }), (bytes) => {
        const expected = Buffer.from(bytes).toString("base64url");
        expect(toBase64Url(bytes)).toBe(expected);
        expect(hexOf(fromBase64Url(expected))).toBe(hexOf(bytes));
      }),
      RUNS,
    );
  });

  test("is unpadded and URL-safe", () => {
    expect(toBase64Url(Uint8Array.of(0xfb, 0xff))).toBe("-_8");
    expect(toBase64Url(utf8Encode("f"))).toBe("Zg");
    expect([...fromBase64Url("-_8")]).toEqual([0xfb, 0xff]);
  });

  test("decoding is strict: whatever decodes re-encodes to the very same text", () => {
    const alphabet = fc.constantFrom(...B64URL_CHARS, "=", "+", "/", " ");
    fc.assert(
      fc.property(fc.string({ unit: alphabet, maxLength: 12 }), (text) => {
        let bytes: Uint8Array;
        try {
          bytes = fromBase64Url(text);
        } catch (error) {
          expect(error).toBeInstanceOf(EncodingError);
          return;
        }
        expect(toBase64Url(bytes)).toBe(text);
      }),
      { seed: 42, numRuns: 2000 },
    );
  });

  test.each(["AA==", "AAA=", "Zg=="])("rejects = padding: %j", (text) => {
    expectEncodingError(() => fromBase64Url(text), /invalid character "="/);
  });

  test.each(["AA+A", "AA/A", "A A"])("rejects standard base64 and other characters: %j", (text) => {
    expectEncodingError(() => fromBase64Url(text), /invalid character/);
  });

  test.each(["A", "AAAAA"])("rejects length 4n+1: %j", (text) => {
    expectEncodingError(() => fromBase64Url(text), /cannot be valid/);
  });

  test("rejects non-canonical trailing bits", () => {
    expect([...fromBase64Url("AA")]).toEqual([0]);
    expectEncodingError(() => fromBase64Url("AB"), /not a canonical encoding/);
    expectEncodingError(() => fromBase64Url("AAB"), /not a canonical encoding/);
  });
});

describe("hex", () => {
  test("agrees with Buffer for random bytes, both ways", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 100 }), (bytes) => {
        const expected = Buffer.from(bytes).toString("hex");
        expect(toHex(bytes)).toBe(expected);
        expect(hexOf(fromHex(expected))).toBe(expected);
        expect(hexOf(fromHex(expected.toUpperCase()))).toBe(expected);
      }),
      RUNS,
    );
  });

  test("decoding is strict: whatever decodes re-encodes to the same text, ignoring case", () => {
    const alphabet = fc.constantFrom(..."0123456789abcdefABCDEFgGxX -");
    fc.assert(
      fc.property(fc.string({ unit: alphabet, maxLength: 10 }), (text) => {
        let bytes: Uint8Array;
        try {
          bytes = fromHex(text);
        } catch (error) {
          expect(error).toBeInstanceOf(EncodingError);
          return;
        }
        expect(toHex(bytes)).toBe(text.toLowerCase());
      }),
      { seed: 42, numRuns: 2000 },
    );
  });

  test.each(["a", "abc", "0"])("rejects odd length: %j", (text) => {
    expectEncodingError(() => fromHex(text), /odd length/);
  });

  test.each([
    ["zz", /invalid character "z" at 0/],
    ["0g", /invalid character "g" at 1/],
    ["0x00", /invalid character "x" at 1/],
    ["00 0", /invalid character " " at 2/],
    ["éé", /invalid character "é" at 0/],
    ["ab-1", /invalid character "-" at 2/],
  ])("rejects non-hex characters: %j", (text, message) => {
    expectEncodingError(() => fromHex(text), message);
  });

  test("accepts both cases and the empty string", () => {
    expect([...fromHex("00fFaB")]).toEqual([0, 255, 171]);
    expect(fromHex("")).toHaveLength(0);
    expect(toHex(new Uint8Array(0))).toBe("");
  });

  test("rejects what is not a string", () => {
    expectEncodingError(() => fromHex(null as unknown as string), /expected a string/);
  });
});

describe("timingSafeEqual", () => {
  test("agrees with Buffer.equals for random pairs", () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 8 }),
        fc.uint8Array({ maxLength: 8 }),
        (a, b) => timingSafeEqual(a, b) === Buffer.from(a).equals(Buffer.from(b)),
      ),
      RUNS,
    );
  });

  test("true for equal contents, false for any difference", () => {
    const a = Uint8Array.from({ length: 32 }, (_, i) => i);
    expect(timingSafeEqual(a, new Uint8Array(a))).toBe(true);
    expect(timingSafeEqual(new Uint8Array(0), new Uint8Array(0))).toBe(true);
    for (const index of [0, 15, 31]) {
      for (const bit of [0x01, 0x80]) {
        const b = new Uint8Array(a);
        b[index] = (b[index] as number) ^ bit;
        expect(timingSafeEqual(a, b)).toBe(false);
      }
    }
    expect(timingSafeEqual(a, a.subarray(0, 31))).toBe(false);
    expect(timingSafeEqual(a.subarray(0, 31), a)).toBe(false);
    expect(timingSafeEqual(new Uint8Array(0), Uint8Array.of(0))).toBe(false);
  });
});

describe("UTF-8", () => {
  test("utf8Encode agrees with Buffer and utf8Decode inverts it", () => {
    fc.assert(
      fc.property(fc.string({ unit: "grapheme", maxLength: 30 }), (text) => {
        const bytes = utf8Encode(text);
        expect(hexOf(bytes)).toBe(Buffer.from(text, "utf8").toString("hex"));
        expect(utf8Decode(bytes)).toBe(text);
      }),
      RUNS,
    );
    expect(utf8Decode(utf8Encode(UNICODE_TEXT))).toBe(UNICODE_TEXT);
  });

  test.each([
    ["a lone continuation byte", [0x80]],
    ["0xff", [0x41, 0xff]],
    ["a truncated two-byte sequence", [0xc3]],
    ["a truncated four-byte sequence", [0xf0, 0x9f, 0x94]],
    ["an overlong encoding of NUL", [0xc0, 0x80]],
    ["an overlong encoding of /", [0xe0, 0x80, 0xaf]],
    ["an encoded surrogate", [0xed, 0xa0, 0x80]],
    ["a code point above U+10FFFF", [0xf4, 0x90, 0x80, 0x80]],
  ])("utf8Decode rejects %s", (_, bytes) => {
    expectEncodingError(() => utf8Decode(Uint8Array.from(bytes)), /utf-8: invalid byte sequence/);
  });

  test("utf8Decode rejects exactly the byte strings Buffer cannot round-trip", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 12 }), (bytes) => {
        const lossless = Buffer.from(Buffer.from(bytes).toString("utf8"), "utf8").equals(bytes);
        if (lossless) expect(utf8Decode(bytes)).toBe(Buffer.from(bytes).toString("utf8"));
        else expect(() => utf8Decode(bytes)).toThrow(EncodingError);
      }),
      { seed: 42, numRuns: 1000 },
    );
  });

  test("utf8Decode keeps a leading byte order mark: it is the inverse of utf8Encode", () => {
    const withBom = "\uFEFFhello";
    expect(utf8Decode(utf8Encode(withBom))).toBe(withBom);
    expect(utf8Decode(Uint8Array.of(0xef, 0xbb, 0xbf))).toBe("\uFEFF");
  });

  test("utf8Decode recovers after an error", () => {
    expect(() => utf8Decode(Uint8Array.of(0xe2, 0x82))).toThrow(EncodingError);
    expect(utf8Decode(Uint8Array.of(0xac, 0x41).subarray(1))).toBe("A");
    expect(utf8Decode(Uint8Array.of(0xe2, 0x82, 0xac))).toBe("€");
  });
});

describe("concatBytes", () => {
  test("agrees with Buffer.concat", () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 10 }), { maxLength: 6 }), (parts) => {
        expect(hexOf(concatBytes(...parts))).toBe(Buffer.concat(parts).toString("hex"));
      }),
      RUNS,
    );
  });

  test("returns a fresh array: later changes to the parts do not show", () => {
    const a = Uint8Array.of(1, 2);
    const b = Uint8Array.of(3);
    const joined = concatBytes(a, b);
    a[0] = 9;
    expect([...joined]).toEqual([1, 2, 3]);
    expect(concatBytes()).toHaveLength(0);
    expect([...concatBytes(Uint8Array.of(5, 6, 7).subarray(1, 2), b)]).toEqual([6, 3]);
  });
});

describe("toBytes", () => {
  test("a string becomes its UTF-8 bytes", () => {
    expect(hexOf(toBytes(UNICODE_TEXT))).toBe(Buffer.from(UNICODE_TEXT, "utf8").toString("hex"));
  });

  test("bytes on an ArrayBuffer pass through; on shared memory they are copied", () => {
    const bytes = Uint8Array.of(1, 2, 3);
    expect(toBytes(bytes)).toBe(bytes);
    const shared = new Uint8Array(new SharedArrayBuffer(3));
    shared.set([4, 5, 6]);
    const copy = toBytes(shared);
    expect(copy.buffer).toBeInstanceOf(ArrayBuffer);
    expect([...copy]).toEqual([4, 5, 6]);
  });

  test("anything else is a TypeError", () => {
    for (const value of [42, null, [1, 2], new ArrayBuffer(2)]) {
      expect(() => toBytes(value as unknown as string)).toThrow(TypeError);
    }
  });
});
