// The signature: MD5withRSA over the fields in documented order, base64, checked against node:crypto.
import { createSign } from "node:crypto";
import { importPrivateKey, importPublicKey } from "@x/core-signing/rsa";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { EBET_SIGNED_FIELDS, signatureText, signEbet, verifyEbet } from "../src/index.ts";
import { nodeKeys, nodeVerifiesMd5 } from "./fixtures.ts";

describe("EBET_SIGNED_FIELDS", () => {
  it("follows the pages: logout username+channelId+timestamp, callback username+channelId+accessToken+timestamp", () => {
    expect(EBET_SIGNED_FIELDS.logout).toEqual(["username", "channelId", "timestamp"]);
    expect(EBET_SIGNED_FIELDS.callback).toEqual([
      "username",
      "channelId",
      "accessToken",
      "timestamp",
    ]);
  });
});

describe("signatureText", () => {
  it("concatenates the values in the given order with nothing between them", () => {
    expect(
      signatureText(EBET_SIGNED_FIELDS.logout, {
        timestamp: 1666504108,
        channelId: 1,
        username: "demo",
      }),
    ).toBe("demo11666504108");
    expect(
      signatureText(EBET_SIGNED_FIELDS.callback, {
        channelId: 1,
        accessToken: "584c26e798deffc96cc7af073c184cd0",
        username: "demo",
        timestamp: 1585638821,
      }),
    ).toBe("demo1584c26e798deffc96cc7af073c184cd01585638821");
  });

  it("leaves an absent field out of the string", () => {
    const fields = ["username", "currency", "channelId", "timestamp"];
    expect(signatureText(fields, { username: "demo", channelId: 1, timestamp: 5 })).toBe("demo15");
    expect(
      signatureText(fields, { username: "demo", currency: null, channelId: 1, timestamp: 5 }),
    ).toBe("demo15");
    expect(
      signatureText(fields, { username: "demo", currency: "CNY", channelId: 1, timestamp: 5 }),
    ).toBe("demoCNY15");
  });

  it("reads only the values' own members: a field named like a prototype member is absent", () => {
    const fields = [
      "username",
      "constructor",
      "toString",
      "valueOf",
      "hasOwnProperty",
      "__proto__",
    ];
    expect(signatureText(fields, { username: "demo" })).toBe("demo");
    expect(signatureText(fields, JSON.parse('{"username": "demo", "__proto__": "x"}'))).toBe(
      "demox",
    );
  });

  it("ignores fields that are not signed", () => {
    expect(
      signatureText(EBET_SIGNED_FIELDS.logout, {
        username: "demo",
        channelId: 1,
        timestamp: 5,
        currency: "CNY",
        signature: "x",
      }),
    ).toBe("demo15");
  });
});

describe("signEbet / verifyEbet", () => {
  for (const bits of [512, 1024, 2048]) {
    it(`signs with MD5withRSA as node:crypto does, ${bits}-bit key`, async () => {
      const keys = nodeKeys(bits);
      const text = "user011421700000000";
      const signature = await signEbet(importPrivateKey(keys.pkcs1Pem), text);
      expect(signature).toMatch(/^[A-Za-z0-9+/]+=*$/);
      expect(Buffer.from(signature, "base64")).toHaveLength(bits / 8);
      expect(nodeVerifiesMd5(keys.publicKey, text, signature)).toBe(true);
      const oracle = createSign("md5").update(text).sign(keys.privateKey, "base64");
      expect(signature).toBe(oracle);
    });
  }

  it("signs the UTF-8 bytes of the text", async () => {
    const keys = nodeKeys(1024);
    const text = "demo1令牌✓1700000000";
    const signature = await signEbet(importPrivateKey(keys.pkcs8Pem), text);
    expect(nodeVerifiesMd5(keys.publicKey, text, signature)).toBe(true);
    expect(nodeVerifiesMd5(keys.publicKey, "demo1??1700000000", signature)).toBe(false);
  });

  it("agrees with node:crypto on any text (property, fixed seed)", async () => {
    const keys = nodeKeys(512);
    const key = importPrivateKey(keys.pkcs8Pem);
    await fc.assert(
      fc.asyncProperty(fc.string({ unit: "grapheme", maxLength: 60 }), async (text) => {
        const signature = await signEbet(key, text);
        expect(nodeVerifiesMd5(keys.publicKey, text, signature)).toBe(true);
        expect(await verifyEbet(key.publicKey, text, signature)).toBe(true);
      }),
      { seed: 20240501, numRuns: 60 },
    );
  });

  it("verifies node:crypto's signatures and refuses altered ones or bad base64", async () => {
    const keys = nodeKeys(1024);
    const publicKey = importPublicKey(keys.spkiPem);
    const text = "demo11666504108";
    const signature = createSign("md5").update(text).sign(keys.privateKey, "base64");
    expect(await verifyEbet(publicKey, text, signature)).toBe(true);
    expect(await verifyEbet(publicKey, "demo11666504109", signature)).toBe(false);
    expect(await verifyEbet(publicKey, text, `${signature.slice(0, -4)}AAA=`)).toBe(false);
    expect(await verifyEbet(publicKey, text, "not base64!")).toBe(false);
    expect(await verifyEbet(publicKey, text, "")).toBe(false);
    const sha1 = createSign("sha1").update(text).sign(keys.privateKey, "base64");
    expect(await verifyEbet(publicKey, text, sha1)).toBe(false);
  });
});
