// Back-Channel Logout tokens (src/universal-logout/logout-token.ts) built by node:crypto alone, with
// key sets and discovery documents served on 127.0.0.1: every §2.6 rule refused, the valid accepted.
import {
  createHmac,
  generateKeyPairSync,
  type KeyObject,
  randomUUID,
  constants as rsa,
  sign,
} from "node:crypto";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MemoryReplayGuard } from "../src/adapters/memory/replay-guard.ts";
import type { ReplayGuard } from "../src/ports.ts";
import {
  BACKCHANNEL_LOGOUT_EVENT,
  LogoutProviders,
  LogoutTokenError,
  ProviderConfigError,
  ProviderUnavailable,
  type TrustedProvider,
  verifyLogoutToken,
} from "../src/universal-logout/logout-token.ts";

const NOW = Date.UTC(2031, 4, 6, 7, 8, 9);
const NOW_SEC = Math.floor(NOW / 1000);

const rsaKey = generateKeyPairSync("rsa", { modulusLength: 2048 });
const ecKey = generateKeyPairSync("ec", { namedCurve: "P-256" });
const edKey = generateKeyPairSync("ed25519");
/** The key of provider B (found through discovery): not in provider A's set. */
const otherKey = generateKeyPairSync("rsa", { modulusLength: 2048 });

type Alg = "RS256" | "RS384" | "PS256" | "ES256" | "EdDSA";

/** A compact JWS over `header` and `claims`, signed by node:crypto as `alg` says. */
function jws(header: Record<string, unknown>, claims: unknown, key: KeyObject, alg: Alg): string {
  const input = `${b64(JSON.stringify(header))}.${b64(JSON.stringify(claims))}`;
  const data = Buffer.from(input);
  const signature = {
    RS256: () => sign("sha256", data, key),
    RS384: () => sign("sha384", data, key),
    PS256: () => sign("sha256", data, { key, padding: rsa.RSA_PKCS1_PSS_PADDING, saltLength: 32 }),
    ES256: () => sign("sha256", data, { key, dsaEncoding: "ieee-p1363" }),
    EdDSA: () => sign(null, data, key),
  }[alg]();
  return `${input}.${signature.toString("base64url")}`;
}

function b64(text: string): string {
  return Buffer.from(text).toString("base64url");
}

function publicJwk(key: KeyObject, kid: string): Record<string, unknown> {
  return { ...key.export({ format: "jwk" }), kid, use: "sig" };
}

let server: Server;
let base: string;
/** Requests the server answered, by path. */
const served = new Map<string, number>();
/** What each path answers: a JSON document, a status with no body, or both as { status, json }. */
const routes = new Map<string, unknown>();

beforeAll(async () => {
  server = createServer((request, response) => {
    const path = request.url ?? "";
    served.set(path, (served.get(path) ?? 0) + 1);
    const body = routes.get(path);
    if (typeof body === "number" || body === undefined) {
      response.writeHead(typeof body === "number" ? body : 404).end();
      return;
    }
    const { status = 200, json = body } = body as { status?: number; json?: unknown };
    response.writeHead(status, { "content-type": "application/json" }).end(JSON.stringify(json));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  routes.set("/a/jwks", {
    keys: [
      publicJwk(rsaKey.publicKey, "rsa-1"),
      publicJwk(ecKey.publicKey, "ec-1"),
      publicJwk(edKey.publicKey, "ed-1"),
    ],
  });
  routes.set("/b/.well-known/openid-configuration", {
    issuer: `${base}/b`,
    jwks_uri: `${base}/b/jwks`,
  });
  routes.set("/b/jwks", { keys: [publicJwk(otherKey.publicKey, "rsa-1")] });
  routes.set("/c/.well-known/openid-configuration", {
    issuer: "https://idp.example.com/c",
    jwks_uri: `${base}/a/jwks`,
  });
  routes.set("/d/.well-known/openid-configuration", {
    issuer: `${base}/d`,
    jwks_uri: "http://idp.example.com/jwks",
  });
  routes.set("/down/jwks", 500);
  // A document that would do, but under a status that says it is not the document.
  routes.set("/gone/.well-known/openid-configuration", {
    status: 404,
    json: { issuer: `${base}/gone`, jwks_uri: `${base}/a/jwks` },
  });
  routes.set("/broken/jwks", {
    keys: [{ kty: "EC", crv: "P-256", kid: "ec-1", x: "AA", y: "AA" }],
  });
});

afterAll(async () => {
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

/** The configured providers: A by key set, B by discovery, C and D with broken discovery. */
function providerConfigs(): TrustedProvider[] {
  return [
    { issuer: `${base}/a`, jwksUrl: `${base}/a/jwks`, audience: "client-a" },
    { issuer: `${base}/b`, audience: "client-b" },
    { issuer: `${base}/c`, audience: "client-c" },
    { issuer: `${base}/d`, audience: "client-d" },
    { issuer: `${base}/typed`, jwksUrl: `${base}/a/jwks`, audience: "client-a", requireTyp: true },
    { issuer: `${base}/down`, jwksUrl: `${base}/down/jwks`, audience: "client-a" },
    { issuer: `${base}/broken`, jwksUrl: `${base}/broken/jwks`, audience: "client-a" },
    { issuer: `${base}/gone`, audience: "client-a" },
  ];
}

function setup(guard: ReplayGuard = new MemoryReplayGuard({ now: () => NOW })) {
  const providers = new LogoutProviders(providerConfigs(), { fetch, now: () => NOW });
  return {
    providers,
    guard,
    verify: (token: string) =>
      verifyLogoutToken(token, providers, { now: () => NOW, replay: guard }),
  };
}

/** The claims of a valid logout token of provider A, with `changes` (undefined deletes a claim). */
function claims(changes: Record<string, unknown> = {}): Record<string, unknown> {
  const all: Record<string, unknown> = {
    iss: `${base}/a`,
    aud: "client-a",
    iat: NOW_SEC - 5,
    exp: NOW_SEC + 120,
    jti: randomUUID(),
    sub: "user-248289761001",
    sid: "08a5019c-17e1-4977-8f42-65a12843ea02",
    events: { [BACKCHANNEL_LOGOUT_EVENT]: {} },
    ...changes,
  };
  for (const [name, value] of Object.entries(all)) if (value === undefined) delete all[name];
  return all;
}

/** A token of provider A signed with its RSA key (RS256, kid rsa-1). */
function tokenA(changes: Record<string, unknown> = {}, header: Record<string, unknown> = {}) {
  return jws(
    { alg: "RS256", kid: "rsa-1", ...header },
    claims(changes),
    rsaKey.privateKey,
    "RS256",
  );
}

/** Expects `token` refused with a description matching `rule`, and quoting nothing of the token. */
async function refused(
  verify: (token: string) => Promise<unknown>,
  token: string,
  rule: RegExp,
): Promise<void> {
  const error = await verify(token).then(
    () => undefined,
    (thrown: unknown) => thrown,
  );
  expect(error).toBeInstanceOf(LogoutTokenError);
  const { description, error: code } = error as LogoutTokenError;
  expect(code).toBe("invalid_request");
  expect(description).toMatch(rule);
  for (const part of [...token.split("."), "user-248289761001", "08a5019c"]) {
    if (part.length > 4) expect(description).not.toContain(part);
  }
}

describe("accepted logout tokens", () => {
  it.each([
    ["RS256", rsaKey.privateKey, "rsa-1"],
    ["PS256", rsaKey.privateKey, "rsa-1"],
    ["ES256", ecKey.privateKey, "ec-1"],
    ["EdDSA", edKey.privateKey, "ed-1"],
  ] as const)("signed %s, naming sub and sid", async (alg, key, kid) => {
    const { verify } = setup();
    const jti = randomUUID();
    const trigger = await verify(jws({ alg, kid }, claims({ jti }), key, alg));
    expect(trigger).toEqual({
      kind: "oidc-backchannel",
      target: {
        issuer: `${base}/a`,
        subject: "user-248289761001",
        sid: "08a5019c-17e1-4977-8f42-65a12843ea02",
      },
      jti,
      claim: { key: expect.stringMatching(/^[0-9a-f]{64}$/), owner: expect.any(String) },
    });
  });

  it("naming only sub (all the subject's sessions) or only sid (that session)", async () => {
    const { verify } = setup();
    expect((await verify(tokenA({ sid: undefined }))).target).toEqual({
      issuer: `${base}/a`,
      subject: "user-248289761001",
      sid: undefined,
    });
    expect((await verify(tokenA({ sub: undefined }))).target).toEqual({
      issuer: `${base}/a`,
      subject: undefined,
      sid: "08a5019c-17e1-4977-8f42-65a12843ea02",
    });
  });

  it("typed logout+jwt or application/logout+jwt, required or not; aud an array holding us", async () => {
    const { verify } = setup();
    await verify(tokenA({}, { typ: "logout+jwt" }));
    await verify(tokenA({}, { typ: "application/logout+jwt" }));
    await verify(tokenA({ iss: `${base}/typed` }, { typ: "logout+jwt" }));
    await verify(tokenA({ aud: ["client-z", "client-a"], azp: "client-a" }));
  });

  it("with iat and exp at the edges of the window and the clock skew", async () => {
    const { verify } = setup();
    await verify(tokenA({ iat: NOW_SEC - 300 - 60 }));
    await verify(tokenA({ iat: NOW_SEC + 60 }));
    await verify(tokenA({ exp: NOW_SEC - 59 }));
  });

  it("through the discovery document's key set, read once", async () => {
    const { verify } = setup();
    const before = served.get("/b/.well-known/openid-configuration") ?? 0;
    for (let n = 0; n < 2; n++) {
      const token = jws(
        { alg: "RS256", kid: "rsa-1" },
        claims({ iss: `${base}/b`, aud: "client-b" }),
        otherKey.privateKey,
        "RS256",
      );
      expect((await verify(token)).target.issuer).toBe(`${base}/b`);
    }
    expect(served.get("/b/.well-known/openid-configuration")).toBe(before + 1);
  });
});

describe("refused logout tokens (§2.6)", () => {
  it("a bad signature: another key, or claims changed after signing", async () => {
    const { verify } = setup();
    const forged = jws({ alg: "RS256", kid: "rsa-1" }, claims(), otherKey.privateKey, "RS256");
    await refused(verify, forged, /signature does not verify/);
    const [header, , signature] = tokenA().split(".");
    const changed = `${header}.${b64(JSON.stringify(claims({ sub: "admin" })))}.${signature}`;
    await refused(verify, changed, /signature does not verify/);
  });

  it("alg none, with or without a signature", async () => {
    const { verify } = setup();
    const input = `${b64(JSON.stringify({ alg: "none" }))}.${b64(JSON.stringify(claims()))}`;
    await refused(verify, `${input}.`, /"none" is never accepted/);
    await refused(verify, `${b64(JSON.stringify({ alg: "NONE" }))}.${b64("{}")}.`, /"none"/);
  });

  it("HS256, even keyed with the provider's public key", async () => {
    const { verify } = setup();
    const input = `${b64(JSON.stringify({ alg: "HS256", kid: "rsa-1" }))}.${b64(JSON.stringify(claims()))}`;
    const secret = rsaKey.publicKey.export({ format: "pem", type: "spki" });
    const mac = createHmac("sha256", secret).update(input).digest("base64url");
    await refused(verify, `${input}.${mac}`, /symmetric "alg" \(HS\*\) is never accepted/);
  });

  it("an algorithm the provider does not allow", async () => {
    const { verify } = setup();
    const token = jws({ alg: "RS384", kid: "rsa-1" }, claims(), rsaKey.privateKey, "RS384");
    await refused(verify, token, /"alg" header is not one this provider may use/);
  });

  it("an unknown issuer, one differing by a trailing slash, and none at all", async () => {
    const { verify } = setup();
    await refused(
      verify,
      tokenA({ iss: "https://idp.example.com/a" }),
      /"iss" claim names no trusted provider/,
    );
    await refused(verify, tokenA({ iss: `${base}/a/` }), /"iss" claim names no trusted provider/);
    await refused(verify, tokenA({ iss: undefined }), /"iss" claim is missing/);
  });

  it("a wrong issuer: provider A's key naming provider B", async () => {
    const { verify } = setup();
    await refused(
      verify,
      tokenA({ iss: `${base}/b`, aud: "client-b" }),
      /signature does not verify/,
    );
  });

  it("a wrong audience, an array without us, an aud that is not text, another azp", async () => {
    const { verify } = setup();
    await refused(verify, tokenA({ aud: "client-b" }), /"aud" claim does not name this client/);
    await refused(
      verify,
      tokenA({ aud: ["client-b", "client-c"] }),
      /"aud" claim does not name this client/,
    );
    await refused(verify, tokenA({ aud: undefined }), /"aud" claim must be a string or an array/);
    await refused(verify, tokenA({ aud: [1] }), /"aud" claim must be a string or an array/);
    await refused(
      verify,
      tokenA({ aud: ["client-a", "client-b"], azp: "client-b" }),
      /"azp" claim names another client/,
    );
  });

  it("iat missing, not a number, too old, or in the future beyond the skew", async () => {
    const { verify } = setup();
    await refused(verify, tokenA({ iat: undefined }), /"iat" claim is required/);
    await refused(verify, tokenA({ iat: String(NOW_SEC) }), /"iat" claim is required/);
    await refused(
      verify,
      tokenA({ iat: NOW_SEC - 300 - 61 }),
      /"iat" claim is more than 300 s old/,
    );
    await refused(verify, tokenA({ iat: NOW_SEC + 61 }), /"iat" claim is in the future/);
  });

  it("exp past (beyond the skew) or missing", async () => {
    const { verify } = setup();
    await refused(verify, tokenA({ exp: NOW_SEC - 61 }), /"exp" claim is past/);
    await refused(verify, tokenA({ exp: undefined }), /"exp" claim is required/);
  });

  it("neither sub nor sid, or one that is not a non-empty string", async () => {
    const { verify } = setup();
    await refused(
      verify,
      tokenA({ sub: undefined, sid: undefined }),
      /names neither a "sub" nor a "sid"/,
    );
    await refused(verify, tokenA({ sub: "", sid: undefined }), /"sub" claim must be a non-empty/);
    await refused(verify, tokenA({ sid: 42 }), /"sid" claim must be a non-empty/);
  });

  it("events missing, not an object, without the member, or its member not an object", async () => {
    const { verify } = setup();
    await refused(verify, tokenA({ events: undefined }), /"events" claim must be a JSON object/);
    await refused(
      verify,
      tokenA({ events: [BACKCHANNEL_LOGOUT_EVENT] }),
      /"events" claim must be a JSON object/,
    );
    await refused(
      verify,
      tokenA({
        events: { "https://schemas.openid.net/secevent/caep/event-type/session-revoked": {} },
      }),
      /"events" claim does not hold the member/,
    );
    await refused(
      verify,
      tokenA({ events: { [`${BACKCHANNEL_LOGOUT_EVENT}/`]: {} } }),
      /"events" claim does not hold the member/,
    );
    for (const member of [true, "", null, []]) {
      await refused(
        verify,
        tokenA({ events: { [BACKCHANNEL_LOGOUT_EVENT]: member } }),
        /"events" member .* must be a JSON object/,
      );
    }
  });

  it("a nonce, whatever its value", async () => {
    const { verify } = setup();
    await refused(verify, tokenA({ nonce: "n-0S6_WzA2Mj" }), /"nonce" claim must not be present/);
    await refused(verify, tokenA({ nonce: null }), /"nonce" claim must not be present/);
  });

  it("a typ other than logout+jwt; no typ where the provider requires it", async () => {
    const { verify } = setup();
    await refused(verify, tokenA({}, { typ: "JWT" }), /"typ" header is not "logout\+jwt"/);
    await refused(verify, tokenA({}, { typ: "secevent+jwt" }), /"typ" header is not/);
    await refused(
      verify,
      tokenA({ iss: `${base}/typed` }),
      /"typ" header "logout\+jwt" is required/,
    );
  });

  it("jti missing, or seen before at the same issuer; held until iat leaves the window", async () => {
    const holds: number[] = [];
    const memory = new MemoryReplayGuard({ now: () => NOW });
    const guard: ReplayGuard = {
      claim: (key, owner, holdMs) => {
        holds.push(holdMs);
        return memory.claim(key, owner, holdMs);
      },
      release: (key, owner) => memory.release(key, owner),
    };
    const { verify } = setup(guard);
    await refused(verify, tokenA({ jti: undefined }), /"jti" claim is required/);
    const token = tokenA({ jti: "bWJq", iat: NOW_SEC - 10 });
    await verify(token);
    // Until iat + 300 s + 60 s skew, and 30 s for the guard's clock.
    expect(holds).toEqual([(NOW_SEC - 10 + 360) * 1000 - NOW + 30_000]);
    await refused(verify, token, /"jti" was already accepted/);
    // Another token with that jti, even a fresh one, is a replay too.
    await refused(verify, tokenA({ jti: "bWJq" }), /"jti" was already accepted/);
    // The same jti at another issuer is another token.
    await verify(tokenA({ jti: "bWJq", iss: `${base}/typed` }, { typ: "logout+jwt" }));
  });

  it("fails closed when the replay guard cannot be reached", async () => {
    const down = new Error("replay guard unreachable");
    const { verify } = setup({
      claim: () => Promise.reject(down),
      release: () => Promise.resolve(),
    });
    await expect(verify(tokenA())).rejects.toBe(down);
  });

  it("an encrypted token, one that is not a JWS, and one over the size limit", async () => {
    const { verify } = setup();
    await refused(verify, "a.b.c.d.e", /encrypted \(JWE\)/);
    await refused(verify, "not-a-token", /not a compact JWS/);
    await refused(verify, "", /logout_token is missing/);
    await refused(verify, `${b64("[1]")}.${b64("{}")}.x`, /header is not a base64url JSON object/);
    await refused(verify, tokenA({ pad: "x".repeat(17_000) }), /over 16384 characters/);
  });
});

describe("providers whose keys cannot be had", () => {
  async function unavailable(
    verify: (token: string) => Promise<unknown>,
    token: string,
    rule: RegExp,
  ): Promise<void> {
    const error = await verify(token).then(
      () => undefined,
      (thrown: unknown) => thrown,
    );
    expect(error).toBeInstanceOf(ProviderUnavailable);
    expect((error as ProviderUnavailable).description).toMatch(rule);
    expect((error as ProviderUnavailable).status).toBe(503);
  }

  it("a discovery document stating another issuer", async () => {
    const { verify } = setup();
    const token = tokenA({ iss: `${base}/c`, aud: "client-c" });
    await unavailable(verify, token, /states another issuer/);
  });

  it("a discovery document whose jwks_uri is http to another host; retried at most every 30 s", async () => {
    const { verify } = setup();
    const token = tokenA({ iss: `${base}/d`, aud: "client-d" });
    const before = served.get("/d/.well-known/openid-configuration") ?? 0;
    await unavailable(verify, token, /no jwks_uri that is https/);
    await unavailable(verify, token, /could not be read moments ago/);
    expect(served.get("/d/.well-known/openid-configuration")).toBe(before + 1);
  });

  it("a discovery document that cannot be downloaded", async () => {
    const { verify } = setup();
    await unavailable(
      verify,
      tokenA({ iss: `${base}/gone` }),
      /discovery document could not be downloaded/,
    );
    expect(served.get("/gone/.well-known/openid-configuration")).toBe(1);
  });

  it("a key set whose fitting key cannot be imported", async () => {
    const { verify } = setup();
    const token = jws(
      { alg: "ES256", kid: "ec-1" },
      claims({ iss: `${base}/broken` }),
      ecKey.privateKey,
      "ES256",
    );
    await unavailable(verify, token, /key cannot be used/);
  });

  it("a key set that cannot be downloaded", async () => {
    const { verify } = setup();
    await unavailable(verify, tokenA({ iss: `${base}/down` }), /key set could not be downloaded/);
  });
});

describe("trusted provider settings", () => {
  const valid: TrustedProvider = {
    issuer: "https://idp.example.com",
    audience: "client-a",
  };

  it.each([
    [{ algorithms: ["HS256"] }, "providers[0].algorithms"],
    [{ algorithms: ["none"] }, "providers[0].algorithms"],
    [{ algorithms: [] }, "providers[0].algorithms"],
    [{ issuer: "http://idp.example.com" }, "providers[0].issuer"],
    [{ jwksUrl: "http://idp.example.com/jwks" }, "providers[0].jwksUrl"],
    [
      { jwksUrl: "https://idp.example.com/jwks", discoveryUrl: "https://idp.example.com/d" },
      "providers[0].discoveryUrl",
    ],
    [{ audience: "" }, "providers[0].audience"],
    [{ maxAgeSec: -1 }, "providers[0].maxAgeSec"],
    [{ clockSkewSec: 1.5 }, "providers[0].clockSkewSec"],
    [{ requireTyp: "yes" }, "providers[0].requireTyp"],
  ] as const)("refuses %j naming %s", (change, field) => {
    const config = { ...valid, ...change } as unknown as TrustedProvider;
    let error: unknown;
    try {
      new LogoutProviders([config], { fetch, now: () => NOW });
    } catch (thrown) {
      error = thrown;
    }
    expect(error).toBeInstanceOf(ProviderConfigError);
    expect((error as ProviderConfigError).field).toBe(field);
    expect((error as ProviderConfigError).message).toContain(field);
  });

  it("keeps every window it accepts within the replay guard's hour: the jti is held for the window, twice the skew and the claim margin", async () => {
    // 3000 + 2 x 300 + 30 s would outlast the guard's longest hold (one hour): refused, named.
    expect(
      () =>
        new LogoutProviders([{ ...valid, maxAgeSec: 3000, clockSkewSec: 300 }], {
          fetch,
          now: () => NOW,
        }),
    ).toThrow(/providers\[0\]\.maxAgeSec must be at most 2970 with clockSkewSec 300/);
    // The widest window accepted takes a token issued at the far end of the skew, and holds its jti.
    const providers = new LogoutProviders(
      [{ ...providerConfigs()[0], maxAgeSec: 2970, clockSkewSec: 300 } as TrustedProvider],
      { fetch, now: () => NOW },
    );
    const guard = new MemoryReplayGuard({ now: () => NOW });
    const token = tokenA({ iat: NOW_SEC + 300 });
    const verify = () => verifyLogoutToken(token, providers, { now: () => NOW, replay: guard });
    await expect(verify()).resolves.toMatchObject({ kind: "oidc-backchannel" });
    await expect(verify()).rejects.toThrow(/replayed/);
  });

  it("refuses an issuer listed twice", () => {
    expect(() => new LogoutProviders([valid, { ...valid }], { fetch, now: () => NOW })).toThrow(
      /providers\[1\]\.issuer is listed twice/,
    );
  });
});
