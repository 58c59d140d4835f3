// Conformance cases for @x/core-signing: OpenSSL-made vectors must hold on every runtime.
import {
  ClockOffset,
  checkKeyForm,
  DataTooLongError,
  DecryptionError,
  EncodingError,
  ERROR_KINDS,
  fromBase64,
  fromBase64Url,
  fromHex,
  KeyFormatError,
  randomNonce,
  sendRequest,
  timestamp,
  toBase64,
  toBase64Url,
  toHex,
  utf8Encode,
  VendorError,
} from "@x/core-signing";
import { signMd5WithRsa, verifyMd5WithRsa } from "@x/core-signing/md5";
import {
  decryptOaep,
  encryptOaep,
  importPrivateKey,
  importPublicKey,
  type RsaPrivateKey,
  type RsaPublicKey,
  SIGNATURE_HASHES,
  type SignatureHash,
  signPkcs1v15,
  verifyPkcs1v15,
} from "@x/core-signing/rsa";
import {
  assert,
  assertBytes,
  assertEqual,
  assertRejects,
  type ConformanceCase,
  group,
} from "../harness.ts";
import vectors from "../vectors/core-signing.vectors.json" with { type: "json" };

export const cases: ConformanceCase[] = [];
const test = group("core-signing", cases);

const pemBody = (pem: string) => pem.replace(/-----[A-Z ]+-----/g, "").replace(/\s+/g, "");

/** MD5withRSA from @x/core-signing/md5, the SHA family from @x/core-signing/rsa. */
type AnyHash = "MD5" | SignatureHash;
const ALL_HASHES: readonly AnyHash[] = ["MD5", ...SIGNATURE_HASHES];
const sign = (key: RsaPrivateKey, data: string, hash: AnyHash) =>
  hash === "MD5" ? signMd5WithRsa(key, data) : signPkcs1v15(key, data, hash);
const verify = (key: RsaPublicKey, data: string, signature: Uint8Array, hash: AnyHash) =>
  hash === "MD5"
    ? verifyMd5WithRsa(key, data, signature)
    : verifyPkcs1v15(key, data, signature, hash);

for (const vector of vectors.keys) {
  const { bits } = vector;

  test(`${bits}-bit keys import from PKCS#8, PKCS#1, bare base64 DER and JWK`, () => {
    const forms = [vector.pkcs8, vector.pkcs1, pemBody(vector.pkcs8), pemBody(vector.pkcs1)];
    for (const form of forms) assertEqual(importPrivateKey(form).bits, bits, "private key size");
    const jwk = importPrivateKey(vector.pkcs8).toJwk();
    assertEqual(importPrivateKey({ ...jwk }).bits, bits, "JWK private key size");
    const publicForms = [
      vector.spki,
      vector.pkcs1Public,
      pemBody(vector.spki),
      vector.spki.replace(/\n/g, "\\n"),
    ];
    for (const form of publicForms)
      assertEqual(importPublicKey(form).bits, bits, "public key size");
  });

  for (const hash of ALL_HASHES) {
    const expected = vector.signatures[hash as keyof typeof vector.signatures];
    if (expected === null) {
      test(`${bits}-bit key refuses ${hash}, as OpenSSL does`, async () => {
        await assertRejects(
          () => sign(importPrivateKey(vector.pkcs8), vectors.message, hash),
          KeyFormatError,
          /too small/,
          "signing",
        );
      });
      continue;
    }
    test(`${hash} signature with a ${bits}-bit key is byte-identical to OpenSSL's`, async () => {
      const signature = fromBase64(expected);
      for (const pem of [vector.pkcs8, vector.pkcs1]) {
        assertBytes(
          await sign(importPrivateKey(pem), vectors.message, hash),
          signature,
          `${hash} signature`,
        );
      }
      const publicKey = importPublicKey(vector.spki);
      assert(
        await verify(publicKey, vectors.message, signature, hash),
        "OpenSSL signature verifies",
      );
      const flipped = signature.slice();
      flipped[flipped.length - 1] = (flipped[flipped.length - 1] as number) ^ 1;
      assertEqual(await verify(publicKey, vectors.message, flipped, hash), false, "flipped bit");
      assertEqual(
        await verify(publicKey, vectors.message, signature.subarray(1), hash),
        false,
        "truncated",
      );
      assertEqual(
        await verify(publicKey, `${vectors.message}!`, signature, hash),
        false,
        "other data",
      );
    });
  }

  for (const [hash, ciphertext] of Object.entries(vector.oaep)) {
    test(`RSA-OAEP ${hash}: OpenSSL ciphertext decrypts with a ${bits}-bit key, and ours round-trips`, async () => {
      const key = importPrivateKey(vector.pkcs1);
      const oaepHash = hash as "SHA-1" | "SHA-256";
      const plain = await decryptOaep(key, fromBase64(ciphertext), oaepHash);
      assertEqual(toHex(plain), vector.oaepPlaintextHex, "OpenSSL ciphertext");
      const ours = await encryptOaep(importPublicKey(vector.spki), "sid=abc&ts=1", oaepHash);
      assertEqual(ours.length, bits / 8, "ciphertext length");
      assertEqual(
        new TextDecoder().decode(await decryptOaep(key, ours, oaepHash)),
        "sid=abc&ts=1",
        "round trip",
      );
    });
  }
}

const key2048 = vectors.keys.find((vector) => vector.bits === 2048);
if (!key2048) throw new Error("vectors lack a 2048-bit key");

test("checkKeyForm tells PEM, base64 DER and JWK apart, and refuses bad forms", async () => {
  const pkcs8 = checkKeyForm(key2048.pkcs8, "private");
  assertEqual(`${pkcs8.encoding}/${pkcs8.structure}/${pkcs8.type}`, "pem/pkcs8/private", "PKCS#8");
  const spki = checkKeyForm(pemBody(key2048.spki));
  assertEqual(`${spki.encoding}/${spki.structure}/${spki.type}`, "der/spki/public", "SPKI");
  const jwk = checkKeyForm(importPrivateKey(key2048.pkcs1).toJwk());
  assertEqual(`${jwk.encoding}/${jwk.type}`, "jwk/private", "JWK");
  await assertRejects(
    () => checkKeyForm(key2048.spki, "private"),
    KeyFormatError,
    /public key where a private key is needed/,
    "public as private",
  );
  await assertRejects(
    () => checkKeyForm("-----BEGIN PRIVATE KEY-----\nnot-a-key\n-----END PRIVATE KEY-----"),
    KeyFormatError,
    /not valid base64/,
    "bad body",
  );
});

test("a cached import returns the same key object", () => {
  const first = importPrivateKey(key2048.pkcs8);
  assert(importPrivateKey(key2048.pkcs8) === first, "private key cached");
  const firstPublic = importPublicKey(key2048.spki);
  assert(importPublicKey(key2048.spki) === firstPublic, "public key cached");
});

test("OAEP SHA-256 with a 2048-bit key carries 190 bytes and says so beyond", async () => {
  const publicKey = importPublicKey(key2048.spki);
  assertEqual((await encryptOaep(publicKey, new Uint8Array(190))).length, 256, "190 bytes fit");
  const error = await assertRejects(
    () => encryptOaep(publicKey, new Uint8Array(191)),
    DataTooLongError,
    /190/,
    "191 bytes",
  );
  assertEqual((error as DataTooLongError).limit, 190, "limit");
});

test("a corrupted OAEP ciphertext is a DecryptionError", async () => {
  const key = importPrivateKey(key2048.pkcs8);
  const ciphertext = await encryptOaep(key.publicKey, "x");
  ciphertext[10] = (ciphertext[10] as number) ^ 0xff;
  await assertRejects(
    () => decryptOaep(key, ciphertext),
    DecryptionError,
    /decryption failed/,
    "corrupted",
  );
});

test("bad key material gets a KeyFormatError that says what is wrong", async () => {
  const body = pemBody(key2048.pkcs8);
  const bad: [unknown, RegExp][] = [
    [
      `-----BEGIN CERTIFICATE-----\n${body}\n-----END CERTIFICATE-----`,
      /unsupported PEM label "CERTIFICATE"/,
    ],
    [`-----BEGIN PRIVATE KEY-----\n${body}\n-----END RSA PRIVATE KEY-----`, /does not match/],
    [`-----BEGIN PRIVATE KEY-----\n${body.slice(0, 400)}\n-----END PRIVATE KEY-----`, /truncated/],
    [key2048.spki, /public key where a private key is needed/],
    ["not a key at all!", /not valid base64/],
    [{ kty: "EC", crv: "P-256" }, /not "RSA"/],
  ];
  for (const [material, pattern] of bad) {
    await assertRejects(
      () => importPrivateKey(material as string),
      KeyFormatError,
      pattern,
      String(pattern),
    );
  }
  await assertRejects(
    () => importPublicKey(key2048.pkcs8),
    KeyFormatError,
    /private key where a public key/,
    "private as public",
  );
});

test("keys outside 512 to 4096 bits are refused", async () => {
  const jwk = importPublicKey(key2048.spki).toJwk();
  const small = { ...jwk, n: toBase64Url(fromBase64Url(jwk.n as string).subarray(0, 48)) };
  await assertRejects(
    () => importPublicKey(small),
    KeyFormatError,
    /unsupported RSA key size 38[0-9] bits/,
    "384-bit",
  );
});

test("encodings are strict", async () => {
  const bytes = utf8Encode("any carnal pleasure.");
  assertEqual(toBase64(bytes), "YW55IGNhcm5hbCBwbGVhc3VyZS4=", "base64");
  assertEqual(toBase64Url(Uint8Array.of(0xfb, 0xff)), "-_8", "base64url");
  assertBytes(fromHex("00ffAB"), Uint8Array.of(0, 255, 171), "hex");
  for (const bad of ["YW55=", "YW5*", "YQ=", "YR=="]) {
    await assertRejects(() => fromBase64(bad), EncodingError, /base64/, `base64 ${bad}`);
  }
  await assertRejects(
    () => fromBase64Url("YQ=="),
    EncodingError,
    /invalid character/,
    "padded base64url",
  );
  await assertRejects(() => fromHex("abc"), EncodingError, /odd length/, "odd hex");
  await assertRejects(() => fromHex("zz"), EncodingError, /invalid character/, "non-hex");
});

test("VendorError carries the shared contract", () => {
  assertEqual(
    ERROR_KINDS.join(","),
    "invalid_request,unauthorized,not_found,rate_limited,unavailable,misconfigured,upstream",
    "kinds",
  );
  const error = new VendorError({
    vendor: "ebet",
    code: 4038,
    kind: "rate_limited",
    upstreamStatus: 200,
    message: "too many",
  });
  assert(error instanceof Error, "is an Error");
  assertEqual(error.retryable, true, "rate_limited defaults to retryable");
  assertEqual(
    new VendorError({ vendor: "x", code: 1, kind: "upstream", message: "m" }).retryable,
    false,
    "upstream",
  );
});

test("sendRequest turns silence into a retryable TIMEOUT and passes the request through", async () => {
  const never = () => new Promise<Response>(() => {});
  const error = await assertRejects(
    () =>
      sendRequest(new Request("http://127.0.0.1/x"), {
        vendor: "demo",
        fetch: never,
        timeoutMs: 20,
      }),
    VendorError,
    /did not answer within 20 ms/,
    "timeout",
  );
  assertEqual((error as VendorError).code, "TIMEOUT", "code");
  assertEqual((error as VendorError).retryable, true, "retryable");
  const response = await sendRequest(
    new Request("http://127.0.0.1/x", { method: "POST", body: "hi" }),
    {
      vendor: "demo",
      fetch: async (request) => new Response(`${request.method} ${await request.text()}`),
    },
  );
  assertEqual(await response.text(), "POST hi", "echo");
});

test("a vendor call never follows a redirect: a 302 is a non-retryable upstream REDIRECT", async () => {
  const modes: string[] = [];
  const error = (await assertRejects(
    () =>
      sendRequest(new Request("http://127.0.0.1/logout", { redirect: "follow" }), {
        vendor: "demo",
        fetch: async (request) => {
          modes.push(request.redirect);
          return new Response(null, {
            status: 302,
            headers: { location: "https://elsewhere.example/collect?token=secret-token" },
          });
        },
      }),
    VendorError,
    /HTTP 302, a redirect to https:\/\/elsewhere\.example;/,
    "redirect",
  )) as VendorError;
  assertEqual(modes.join(","), "manual", "sent with redirect: manual");
  assertEqual(error.code, "REDIRECT", "code");
  assertEqual(error.kind, "upstream", "kind");
  assertEqual(error.retryable, false, "retryable");
  assertEqual(error.upstreamStatus, 302, "status");
  assert(!JSON.stringify(error).includes("secret-token"), "no Location query in the error");
});

test("the key cache keys a JWK by its members, not by the object that holds them", () => {
  const vector = vectors.keys[0] as (typeof vectors.keys)[number];
  const { kty = "", n = "", e = "" } = importPublicKey(vector.spki).toJwk();
  const first = importPublicKey({ kty, n, e } as JsonWebKey);
  const reordered = { e, n, kty, kid: "k1" } as JsonWebKey;
  assert(importPublicKey(reordered) === first, "same members in another order, one entry");
  const changed: Record<string, string> = { kty, n, e };
  changed.e = "Aw";
  assert(importPublicKey(changed as JsonWebKey) !== first, "another member, another entry");
});

test("a kind outside ERROR_KINDS becomes upstream", () => {
  for (const kind of ["constructor", "__proto__", "toString"]) {
    const error = new VendorError({
      vendor: "demo",
      code: kind,
      kind: kind as (typeof ERROR_KINDS)[number],
      message: "m",
    });
    assertEqual(error.kind, "upstream", kind);
    assertEqual(error.code, kind, `${kind} code kept`);
  }
});

test("clock and nonce helpers use the injected clock and randomness", () => {
  assertEqual(
    timestamp("s", () => 1_700_000_000_999),
    1_700_000_000,
    "seconds",
  );
  assertEqual(
    timestamp("ms", () => 1_700_000_000_999),
    1_700_000_000_999,
    "milliseconds",
  );
  assertEqual(
    randomNonce(4, (n) => new Uint8Array(n).fill(0xab)),
    "abababab",
    "nonce",
  );
  let now = 1_000;
  const offset = new ClockOffset(() => now);
  offset.observe(61_000, 1_000);
  now = 2_000;
  assertEqual(offset.serverNow(), 62_000, "server clock");
});
