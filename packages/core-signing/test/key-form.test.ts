// checkKeyForm (src/key-form.ts): the form of key material, told without importing the key.
import { beforeAll, describe, expect, test } from "vitest";
import { checkKeyForm, type KeyForm, toBase64, toBase64Url } from "../src/index.ts";
import { importPrivateKey, importPublicKey } from "../src/rsa/index.ts";
import { expectKeyFormatError, key, loadKeys, type NodeKeyPair, thrown } from "./fixtures.ts";

let pair: NodeKeyPair;

beforeAll(async () => {
  await loadKeys([1024]);
  pair = key(1024);
});

const pemBody = (pem: string) => pem.replace(/-----[A-Z ]+-----/g, "").replace(/\s+/g, "");

describe("checkKeyForm tells the form", () => {
  const cases: [string, (p: NodeKeyPair) => unknown, KeyForm][] = [
    ["PKCS#8 PEM", (p) => p.pkcs8Pem, { encoding: "pem", structure: "pkcs8", type: "private" }],
    ["PKCS#1 PEM", (p) => p.pkcs1Pem, { encoding: "pem", structure: "pkcs1", type: "private" }],
    ["SPKI PEM", (p) => p.spkiPem, { encoding: "pem", structure: "spki", type: "public" }],
    [
      "PKCS#1 public PEM",
      (p) => p.pkcs1PublicPem,
      { encoding: "pem", structure: "pkcs1", type: "public" },
    ],
    [
      "base64 PKCS#8 DER",
      (p) => pemBody(p.pkcs8Pem),
      { encoding: "der", structure: "pkcs8", type: "private" },
    ],
    [
      "base64 PKCS#1 DER",
      (p) => pemBody(p.pkcs1Pem),
      { encoding: "der", structure: "pkcs1", type: "private" },
    ],
    [
      "base64 SPKI DER",
      (p) => pemBody(p.spkiPem),
      { encoding: "der", structure: "spki", type: "public" },
    ],
    [
      "SPKI PEM with line breaks written as \\n",
      (p) => p.spkiPem.replace(/\n/g, "\\n"),
      { encoding: "pem", structure: "spki", type: "public" },
    ],
    [
      "PKCS#8 DER bytes",
      (p) => new Uint8Array(p.pkcs8Der),
      { encoding: "der", structure: "pkcs8", type: "private" },
    ],
    [
      "PKCS#1 public DER bytes",
      (p) => new Uint8Array(p.pkcs1PublicDer),
      { encoding: "der", structure: "pkcs1", type: "public" },
    ],
    ["private JWK", (p) => p.jwk, { encoding: "jwk", structure: "jwk", type: "private" }],
    [
      "private JWK as JSON text",
      (p) => JSON.stringify(p.jwk),
      { encoding: "jwk", structure: "jwk", type: "private" },
    ],
    ["public JWK", (p) => p.publicJwk, { encoding: "jwk", structure: "jwk", type: "public" }],
  ];

  test.each(cases)("%s", (_, material, expected) => {
    expect(checkKeyForm(material(pair))).toEqual(expected);
    expect(checkKeyForm(material(pair), expected.type)).toEqual(expected);
  });

  test.each(cases)("%s: agrees with the importers on the key's type", (_, material, expected) => {
    if (expected.type === "private") {
      expect(importPrivateKey(material(pair) as string).bits).toBe(1024);
    } else {
      expect(importPublicKey(material(pair) as string).bits).toBe(1024);
    }
  });
});

describe("checkKeyForm refuses", () => {
  test("a key of the other type, as the importers do", () => {
    expectKeyFormatError(
      thrown(() => checkKeyForm(pair.spkiPem, "private")),
      "public-key",
      /public key where a private key is needed/,
    );
    expectKeyFormatError(
      thrown(() => checkKeyForm(pair.publicJwk, "private")),
      "public-key",
    );
    expectKeyFormatError(
      thrown(() => checkKeyForm(pemBody(pair.pkcs1Pem), "public")),
      "public-key",
      /private key where a public key is expected/,
    );
  });

  test.each<[string, () => unknown, Parameters<typeof expectKeyFormatError>[1], RegExp]>([
    ["an empty string", () => "", "encoding", /empty/],
    ["text that is not base64", () => "super-secret-private-key-material!", "encoding", /base64/],
    [
      "a PEM body that is not base64",
      () => "-----BEGIN RSA PRIVATE KEY-----\nnot-a-key\n-----END RSA PRIVATE KEY-----",
      "encoding",
      /not valid base64/,
    ],
    [
      "a PEM without its END line",
      () => pair.pkcs8Pem.replace(/-----END[\s\S]*$/, ""),
      "encoding",
      /no matching END/,
    ],
    [
      "BEGIN and END labels that differ",
      () => pair.pkcs8Pem.replace("END PRIVATE KEY", "END RSA PRIVATE KEY"),
      "pem-label",
      /does not match/,
    ],
    [
      "a certificate",
      () => pair.pkcs8Pem.replace(/PRIVATE KEY/g, "CERTIFICATE"),
      "pem-label",
      /unsupported PEM label "CERTIFICATE"/,
    ],
    [
      "an encrypted PEM",
      () => pair.pkcs8Pem.replace(/PRIVATE KEY/g, "ENCRYPTED PRIVATE KEY"),
      "encoding",
      /encrypted/,
    ],
    [
      "a label that does not fit the body",
      () => pair.spkiPem.replace(/PUBLIC KEY/g, "PRIVATE KEY"),
      "der",
      /PRIVATE KEY PEM holds a spki key/,
    ],
    [
      "truncated DER",
      () => toBase64(new Uint8Array(pair.pkcs8Der).subarray(0, 300)),
      "der",
      /truncated/,
    ],
    [
      "DER with a byte after the key",
      () => Uint8Array.of(...pair.spkiDer, 0),
      "der",
      /malformed DER: truncated/,
    ],
    [
      "DER that is not a SEQUENCE",
      () => Uint8Array.of(0x02, 0x01, 0x05),
      "der",
      /expected tag 0x30/,
    ],
    [
      "a SEQUENCE that is no RSA key",
      () => Uint8Array.of(0x30, 0x03, 0x02, 0x01, 0x05),
      "der",
      /not an RSA key/,
    ],
    ["JSON that does not parse", () => "{ kty: RSA", "jwk", /not valid JSON/],
    ["a JWK of another key type", () => ({ kty: "EC", crv: "P-256" }), "not-rsa", /not "RSA"/],
    ["a JWK without n", () => ({ kty: "RSA", e: "AQAB" }), "jwk", /"n"/],
    [
      "a private JWK without qi",
      () => ({ ...pair.jwk, qi: undefined }),
      "jwk",
      /"qi" is missing or not base64url/,
    ],
    ["a JWK member that is not base64url", () => ({ ...pair.publicJwk, n: "ab+/" }), "jwk", /"n"/],
    ["an array", () => [pair.publicJwk], "jwk", /must be an object/],
    ["a number", () => 42, "encoding", /not number/],
  ])("%s", (_, material, problem, message) => {
    expectKeyFormatError(
      thrown(() => checkKeyForm(material())),
      problem,
      message,
    );
  });
});

test("only the form is checked: numbers the importers refuse pass", () => {
  const tiny = { kty: "RSA", n: toBase64Url(Uint8Array.of(0xc5)), e: "AQAB" };
  expect(checkKeyForm(tiny, "public")).toEqual({
    encoding: "jwk",
    structure: "jwk",
    type: "public",
  });
  expectKeyFormatError(
    thrown(() => importPublicKey(tiny)),
    "size",
  );
});
