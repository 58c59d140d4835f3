// Request building: the vendor pages field for field, the signature by the oracle, every option and refusal.
import { generateKeyPairSync } from "node:crypto";
import { importPrivateKey } from "@x/core-signing/rsa";
import { describe, expect, it } from "vitest";
import {
  buildCallbackRequest,
  buildLogoutRequest,
  EBET_SIGNED_FIELDS,
  type EbetRequestConfig,
  signatureText,
} from "../src/index.ts";
import { EBET_TEST_PRIVATE_KEY } from "../src/testing/index.ts";
import {
  BASE_URL,
  expectEbetError,
  fixedClock,
  NOW_MS,
  NOW_S,
  nodeKeys,
  nodeVerifiesMd5,
} from "./fixtures.ts";

/** The field tables of vendor-docs/ebet-logout.md and ebet-callback.md: name, format, required. */
const PAGE_FIELDS = {
  logout: [
    ["channelId", "number", true],
    ["username", "string", true],
    ["timestamp", "number", true],
    ["signature", "string", true],
    // Older versions of the page; VENDORS.md keeps it as optional.
    ["currency", "string", false],
  ],
  callback: [
    ["username", "string", true],
    ["channelId", "number", true],
    ["timestamp", "number", true],
    ["accessToken", "string", true],
    ["signature", "string", true],
    ["subChannelId", "number", false],
  ],
} as const;

/** The example request bodies on the pages, signatures shortened. */
const PAGE_EXAMPLES = {
  logout: { channelId: 1, username: "demo", timestamp: 1666504108, signature: "MvFR…" },
  callback: {
    username: "demo",
    channelId: 1,
    timestamp: 1585638821,
    accessToken: "584c26e798deffc96cc7af073c184cd0",
    signature: "qwVP…",
  },
};

const keys = nodeKeys(1024);
const config: EbetRequestConfig = {
  baseUrl: BASE_URL,
  channelId: 1,
  privateKey: keys.pkcs1Pem,
  now: fixedClock,
};
const TOKEN = "584c26e798deffc96cc7af073c184cd0";

async function bodyOf(request: Request): Promise<Record<string, unknown>> {
  return (await request.json()) as Record<string, unknown>;
}

function typesOf(body: Record<string, unknown>): Record<string, string> {
  return Object.fromEntries(Object.entries(body).map(([key, value]) => [key, typeof value]));
}

describe("buildLogoutRequest", () => {
  it("posts JSON to {baseUrl}/api/logout", async () => {
    const request = await buildLogoutRequest(config, { username: "demo" });
    expect(request.method).toBe("POST");
    expect(request.url).toBe(`${BASE_URL}/api/logout`);
    expect(request.headers.get("content-type")).toBe("application/json");
  });

  it("does not follow redirects, on either call, even once re-wrapped with a signal", async () => {
    const logout = await buildLogoutRequest(config, { username: "demo" });
    const callback = await buildCallbackRequest(config, { username: "demo", accessToken: TOKEN });
    for (const request of [logout, callback]) {
      expect(request.redirect).toBe("manual");
      expect(new Request(request, { signal: new AbortController().signal }).redirect).toBe(
        "manual",
      );
    }
  });

  it("sends exactly the page's fields, in its order, with its types", async () => {
    const body = await bodyOf(await buildLogoutRequest(config, { username: "demo" }));
    expect(Object.keys(body)).toEqual(Object.keys(PAGE_EXAMPLES.logout));
    expect(typesOf(body)).toEqual(typesOf(PAGE_EXAMPLES.logout));
    const required = PAGE_FIELDS.logout.filter(([, , req]) => req).map(([name]) => name);
    expect(Object.keys(body)).toEqual(required);
    expect(body).toMatchObject({ channelId: 1, username: "demo", timestamp: NOW_S });
  });

  it("signs username+channelId+timestamp with MD5withRSA, as node:crypto verifies", async () => {
    const body = await bodyOf(await buildLogoutRequest(config, { username: "user01" }));
    const text = `user011${NOW_S}`;
    expect(signatureText(EBET_SIGNED_FIELDS.logout, body)).toBe(text);
    expect(nodeVerifiesMd5(keys.publicKey, text, body.signature as string)).toBe(true);
    expect(nodeVerifiesMd5(keys.publicKey, `user011${NOW_S + 1}`, body.signature as string)).toBe(
      false,
    );
  });

  it("sends currency only when given, as a string, outside the signature", async () => {
    const body = await bodyOf(
      await buildLogoutRequest(config, { username: "demo", currency: "CNY" }),
    );
    expect(body.currency).toBe("CNY");
    expect(Object.keys(body)).toEqual([
      "channelId",
      "username",
      "timestamp",
      "currency",
      "signature",
    ]);
    const pageTypes = Object.fromEntries(PAGE_FIELDS.logout.map(([name, type]) => [name, type]));
    expect(typesOf(body)).toEqual(pageTypes);
    expect(nodeVerifiesMd5(keys.publicKey, `demo1${NOW_S}`, body.signature as string)).toBe(true);
  });

  it("sends the timestamp in seconds by default and in milliseconds on request", async () => {
    const seconds = await bodyOf(await buildLogoutRequest(config, { username: "demo" }));
    expect(seconds.timestamp).toBe(NOW_S);
    const ms = await bodyOf(
      await buildLogoutRequest(
        { ...config, timestampUnit: "ms", now: () => NOW_MS + 789.6 },
        { username: "demo" },
      ),
    );
    expect(ms.timestamp).toBe(NOW_MS + 789);
    expect(nodeVerifiesMd5(keys.publicKey, `demo1${NOW_MS + 789}`, ms.signature as string)).toBe(
      true,
    );
  });

  it("floors a fractional clock to whole seconds", async () => {
    const body = await bodyOf(
      await buildLogoutRequest({ ...config, now: () => NOW_MS + 999 }, { username: "demo" }),
    );
    expect(body.timestamp).toBe(NOW_S);
  });

  it("takes the path from the options and strips a trailing slash from baseUrl", async () => {
    const request = await buildLogoutRequest(
      { ...config, baseUrl: `${BASE_URL}/gateway/`, paths: { logout: "/v2/logout" } },
      { username: "demo" },
    );
    expect(request.url).toBe(`${BASE_URL}/gateway/v2/logout`);
  });
});

describe("buildCallbackRequest", () => {
  it("posts JSON to {baseUrl}/api/callback", async () => {
    const request = await buildCallbackRequest(config, { username: "demo", accessToken: TOKEN });
    expect(request.method).toBe("POST");
    expect(request.url).toBe(`${BASE_URL}/api/callback`);
    expect(request.headers.get("content-type")).toBe("application/json");
  });

  it("sends exactly the page's fields, in its order, with its types", async () => {
    const body = await bodyOf(
      await buildCallbackRequest(config, { username: "demo", accessToken: TOKEN }),
    );
    expect(Object.keys(body)).toEqual(Object.keys(PAGE_EXAMPLES.callback));
    expect(typesOf(body)).toEqual(typesOf(PAGE_EXAMPLES.callback));
    expect(body).toMatchObject({
      username: "demo",
      channelId: 1,
      timestamp: NOW_S,
      accessToken: TOKEN,
    });
  });

  it("signs username+channelId+accessToken+timestamp, as node:crypto verifies", async () => {
    const body = await bodyOf(
      await buildCallbackRequest(config, { username: "demo", accessToken: TOKEN }),
    );
    const text = `demo1${TOKEN}${NOW_S}`;
    expect(signatureText(EBET_SIGNED_FIELDS.callback, body)).toBe(text);
    expect(nodeVerifiesMd5(keys.publicKey, text, body.signature as string)).toBe(true);
  });

  it("sends subChannelId only when given, as a number, outside the signature", async () => {
    const without = await bodyOf(
      await buildCallbackRequest(config, { username: "demo", accessToken: TOKEN }),
    );
    expect("subChannelId" in without).toBe(false);
    for (const subChannelId of [0, 3]) {
      const body = await bodyOf(
        await buildCallbackRequest(config, { username: "demo", accessToken: TOKEN, subChannelId }),
      );
      expect(body.subChannelId).toBe(subChannelId);
      const pageTypes = Object.fromEntries(
        PAGE_FIELDS.callback.map(([name, type]) => [name, type]),
      );
      expect(typesOf(body)).toEqual(pageTypes);
      expect(Object.keys(body)).toEqual(PAGE_FIELDS.callback.map(([name]) => name));
      expect(body.signature).toBe(without.signature);
    }
  });

  it("signs a non-ASCII token as UTF-8", async () => {
    const body = await bodyOf(
      await buildCallbackRequest(config, { username: "demo", accessToken: "令牌" }),
    );
    expect(nodeVerifiesMd5(keys.publicKey, `demo1令牌${NOW_S}`, body.signature as string)).toBe(
      true,
    );
  });
});

describe("a fixed vector", () => {
  it("matches `openssl dgst -md5 -sign` with the simulator's test key, byte for byte", async () => {
    const request = await buildLogoutRequest(
      { ...config, privateKey: EBET_TEST_PRIVATE_KEY },
      { username: "demo" },
    );
    expect(await request.text()).toBe(
      '{"channelId":1,"username":"demo","timestamp":1714521600,"signature":"qaZHRTavDWVI8I48gE0Gf7NBHVBJiDeWdDbUToZp6GosIJjU8ls073gEU9wUl+Be3Uhu9d3BbsEZiA3iFTyKaIceavWbRz9uhAm5T6gAbF0z95j8AzLY/6DxPtpbGSt/X+8yEasRbWXtNFsHwYfjat0ORgXFz7pNylQQKb9Oock="}',
    );
  });
});

describe("key formats", () => {
  it("signs identically with PKCS#8 PEM, PKCS#1 PEM, bare base64 DER, JWK and an imported key", async () => {
    const forms = [
      keys.pkcs8Pem,
      keys.pkcs1Pem,
      keys.pkcs8Base64,
      keys.privateKey.export({ format: "jwk" }) as JsonWebKey,
      importPrivateKey(keys.pkcs8Pem),
    ];
    const signatures = new Set<unknown>();
    for (const privateKey of forms) {
      const body = await bodyOf(
        await buildLogoutRequest({ ...config, privateKey }, { username: "demo" }),
      );
      signatures.add(body.signature);
    }
    expect(signatures.size).toBe(1);
  });

  it("takes 512-bit and 4096-bit keys", async () => {
    for (const bits of [512, 4096]) {
      const pair = generateKeyPairSync("rsa", { modulusLength: bits });
      const pem = pair.privateKey.export({ type: "pkcs1", format: "pem" }) as string;
      const body = await bodyOf(
        await buildLogoutRequest({ ...config, privateKey: pem }, { username: "demo" }),
      );
      expect(Buffer.from(body.signature as string, "base64")).toHaveLength(bits / 8);
      expect(nodeVerifiesMd5(pair.publicKey, `demo1${NOW_S}`, body.signature as string)).toBe(true);
    }
  });
});

describe("refusals before any request", () => {
  it("refuses bad configuration, naming the field", async () => {
    const cases: [Partial<Record<keyof EbetRequestConfig, unknown>>, string][] = [
      [{ baseUrl: "ftp://ebet.test" }, "baseUrl"],
      [{ baseUrl: "not a url" }, "baseUrl"],
      [{ baseUrl: "https://ebet.test/?a=1" }, "baseUrl"],
      [{ channelId: 0 }, "channelId"],
      [{ channelId: "1" }, "channelId"],
      [{ channelId: 1.5 }, "channelId"],
      [{ privateKey: undefined }, "privateKey"],
      [{ privateKey: "garbage" }, "privateKey"],
      [{ privateKey: keys.spkiPem }, "privateKey"],
      [{ timestampUnit: "seconds" }, "timestampUnit"],
      [{ paths: { logout: "api/logout" } }, "paths.logout"],
      [{ paths: { callback: "/x?y" } }, "paths.callback"],
      [{ paths: "/api" }, "paths"],
      [{ now: 5 }, "now"],
      [{ usernamePattern: "^[a-z]+$" }, "usernamePattern"],
    ];
    for (const [patch, field] of cases) {
      const broken = { ...config, ...patch } as EbetRequestConfig;
      await expectEbetError(buildLogoutRequest(broken, { username: "demo" }), {
        code: "INVALID_INPUT",
        kind: "invalid_request",
        field,
      });
    }
  });

  it("refuses a clock that does not give epoch milliseconds", async () => {
    await expectEbetError(
      buildLogoutRequest({ ...config, now: () => Number.NaN }, { username: "demo" }),
      {
        field: "now",
      },
    );
  });

  it("refuses bad logout input, naming the field", async () => {
    for (const username of ["", "Demo", "de mo", "de/mo", "de?mo", "de&mo", "de=mo"]) {
      await expectEbetError(buildLogoutRequest(config, { username }), { field: "username" });
    }
    await expectEbetError(buildLogoutRequest(config, { username: "demo", currency: "" }), {
      field: "currency",
    });
    await expectEbetError(buildLogoutRequest(config, undefined as never), { field: "input" });
  });

  it("refuses bad callback input, naming the field", async () => {
    await expectEbetError(buildCallbackRequest(config, { username: "DEMO", accessToken: TOKEN }), {
      field: "username",
    });
    await expectEbetError(buildCallbackRequest(config, { username: "demo", accessToken: "" }), {
      field: "accessToken",
    });
    for (const subChannelId of [-1, 1.5, Number.NaN]) {
      await expectEbetError(
        buildCallbackRequest(config, { username: "demo", accessToken: TOKEN, subChannelId }),
        { field: "subChannelId" },
      );
    }
  });

  it("never puts the private key or the token in an error message", async () => {
    const bad = `${keys.pkcs8Pem.slice(0, 100)}!${keys.pkcs8Pem.slice(100)}`;
    const error = await expectEbetError(
      buildLogoutRequest({ ...config, privateKey: bad }, { username: "demo" }),
      {
        field: "privateKey",
      },
    );
    expect(error.message).not.toContain(keys.pkcs8Pem.slice(40, 90));
    const tokenError = await expectEbetError(
      buildCallbackRequest(config, { username: "demo", accessToken: "secret value" }),
      { field: "accessToken" },
    );
    expect(tokenError.message).not.toContain("secret");
  });
});
