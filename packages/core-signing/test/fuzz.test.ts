// The key readers fuzzed (FUZZ_RUNS cases per property, fixed seeds): any string, bytes or
// JWK-like object gives a key (or a key form) or a KeyFormatError, never another exception.
import fc from "fast-check";
import { beforeAll, describe, it } from "vitest";
import { anyCodePoint, fuzzParams } from "../../../tooling/fuzz.ts";
import { checkKeyForm, KeyFormatError, toBase64, toBase64Url } from "../src/index.ts";
import { importPrivateKey, importPublicKey } from "../src/rsa/index.ts";
import { key, loadKeys, type NodeKeyPair } from "./fixtures.ts";

let pair: NodeKeyPair;

beforeAll(async () => {
  await loadKeys([1024]);
  pair = key(1024);
});

/** Runs `read`; anything thrown but a KeyFormatError fails the property. */
function onlyKeyFormatError(read: () => unknown): void {
  try {
    read();
  } catch (error) {
    if (error instanceof KeyFormatError) return;
    throw new Error(
      `threw ${error instanceof Error ? `${error.name}: ${error.message}` : String(error)}`,
    );
  }
}

const READERS: [string, (material: unknown) => unknown][] = [
  ["importPrivateKey", (material) => importPrivateKey(material as string)],
  ["importPublicKey", (material) => importPublicKey(material as string)],
  ["checkKeyForm", (material) => checkKeyForm(material)],
  ["checkKeyForm (private)", (material) => checkKeyForm(material, "private")],
];

const PEM_LABELS = [
  "PRIVATE KEY",
  "RSA PRIVATE KEY",
  "PUBLIC KEY",
  "RSA PUBLIC KEY",
  "ENCRYPTED PRIVATE KEY",
  "CERTIFICATE",
  "",
];

/** Strings shaped like key text: PEM armour around any body, base64 of any bytes, JSON. */
const keyishText = fc.oneof(
  fc.string(),
  fc.string({ unit: anyCodePoint }),
  fc
    .tuple(fc.constantFrom(...PEM_LABELS), fc.constantFrom(...PEM_LABELS), fc.uint8Array())
    .map(
      ([begin, end, bytes]) => `-----BEGIN ${begin}-----\n${toBase64(bytes)}\n-----END ${end}-----`,
    ),
  fc.uint8Array({ maxLength: 600 }).map((bytes) => toBase64(bytes)),
  fc.uint8Array({ maxLength: 600 }).map((bytes) => `0${toBase64(Uint8Array.of(0x30, ...bytes))}`),
  fc.jsonValue().map((value) => JSON.stringify(value) ?? ""),
);

const base64urlMember = fc.oneof(
  fc.uint8Array({ maxLength: 160 }).map((bytes) => toBase64Url(bytes)),
  fc.string(),
  fc.constantFrom("AQAB", "AA", "", "=", "AQAB=="),
  fc.jsonValue({ maxDepth: 1 }),
);

/** Objects with JWK member names (some absent, some of the wrong type). */
const jwkLike = fc.record(
  {
    kty: fc.oneof(fc.constantFrom("RSA", "EC", "oct", "rsa"), fc.jsonValue({ maxDepth: 1 })),
    n: base64urlMember,
    e: base64urlMember,
    d: base64urlMember,
    p: base64urlMember,
    q: base64urlMember,
    dp: base64urlMember,
    dq: base64urlMember,
    qi: base64urlMember,
    alg: fc.oneof(fc.constantFrom("RS256", "RSA-OAEP", "none"), fc.string()),
    key_ops: fc.array(fc.string(), { maxLength: 3 }),
  },
  { requiredKeys: [] },
);

/** Any value at all, as a caller could hand in from untyped configuration. */
const anything = fc.oneof(
  fc.anything(),
  fc.uint8Array({ maxLength: 700 }),
  fc.constant(new ArrayBuffer(3)),
  fc.constantFrom(null, undefined, 0, Number.NaN, true),
);

/** Real keys, corrupted: bytes flipped, cut or extended, in every form. */
function corrupted(): fc.Arbitrary<unknown> {
  const forms = (): (string | Uint8Array)[] => [
    pair.pkcs8Pem,
    pair.pkcs1Pem,
    pair.spkiPem,
    pair.pkcs1PublicPem,
    new Uint8Array(pair.pkcs8Der),
    new Uint8Array(pair.pkcs1Der),
    new Uint8Array(pair.spkiDer),
    toBase64(new Uint8Array(pair.pkcs8Der)),
    JSON.stringify(pair.jwk),
  ];
  return fc
    .tuple(
      fc.nat({ max: 8 }),
      fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 4 }),
      fc.option(fc.nat()),
      fc.uint8Array({ maxLength: 4 }),
    )
    .map(([which, flips, cut, extra]) => {
      const form = forms()[which] as string | Uint8Array;
      if (typeof form === "string") {
        let text = form;
        for (const [at, code] of flips) {
          const i = at % Math.max(1, text.length);
          text = `${text.slice(0, i)}${String.fromCharCode(code)}${text.slice(i + 1)}`;
        }
        if (cut !== null) text = text.slice(0, cut % (text.length + 1));
        return text;
      }
      let bytes = Uint8Array.from(form);
      for (const [at, value] of flips) bytes[at % bytes.length] = value;
      if (cut !== null) bytes = bytes.slice(0, cut % (bytes.length + 1));
      return Uint8Array.of(...bytes, ...extra);
    });
}

describe("key readers", () => {
  for (const [index, [name, read]] of READERS.entries()) {
    const base = 900 + 10 * index;
    it(`${name}: key-shaped text`, () => {
      fc.assert(
        fc.property(keyishText, (text) => onlyKeyFormatError(() => read(text))),
        fuzzParams(base),
      );
    });
    it(`${name}: JWK-like objects, as objects and as JSON text`, () => {
      fc.assert(
        fc.property(jwkLike, fc.boolean(), (jwk, asText) =>
          onlyKeyFormatError(() => read(asText ? JSON.stringify(jwk) : jwk)),
        ),
        fuzzParams(base + 1),
      );
    });
    it(`${name}: any value and any bytes`, () => {
      fc.assert(
        fc.property(anything, (value) => onlyKeyFormatError(() => read(value))),
        fuzzParams(base + 2),
      );
    });
    it(`${name}: real keys corrupted`, () => {
      fc.assert(
        fc.property(corrupted(), (material) => onlyKeyFormatError(() => read(material))),
        fuzzParams(base + 3),
      );
    });
  }
});
