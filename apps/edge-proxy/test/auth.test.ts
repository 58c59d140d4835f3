// Caller auth on the eBET routes: API keys by hash, user JWTs (HS256 and JWKS), every refusal.
import type { FetchLike } from "@x/core-signing";
import { exportJWK, generateKeyPair, SignJWT } from "jose";
import { describe, expect, it } from "vitest";
import { MAX_JWKS_BYTES } from "../src/auth.ts";
import {
  API_KEY,
  createHarness,
  HOSTS,
  jwksAnswer,
  OTHER_API_KEY,
  readProblem,
  USER_JWT_SECRET,
} from "./harness.ts";

const secret = new TextEncoder().encode(USER_JWT_SECRET);

/** What a JWKS needs beside its URL: the issuer and audience of tokens minted for this proxy. */
const JWKS_CLAIMS = { PROXY_JWT_ISSUER: "https://id.example", PROXY_JWT_AUDIENCE: "edge-proxy" };
const JWKS_ENV = {
  PROXY_JWT_SECRET: undefined,
  PROXY_JWKS_URL: `https://${HOSTS.jwks}/jwks`,
  ...JWKS_CLAIMS,
};

async function userToken(
  sub: string | undefined,
  options: { expiresIn?: string | number; key?: Uint8Array; alg?: string } = {},
) {
  const jwt = new SignJWT(sub === undefined ? {} : { sub })
    .setProtectedHeader({ alg: options.alg ?? "HS256" })
    .setIssuedAt()
    .setExpirationTime(options.expiresIn ?? "10m");
  return jwt.sign(options.key ?? secret);
}

describe("eBET caller auth", () => {
  it("accepts every configured API key", async () => {
    const h = await createHarness();
    for (const key of [API_KEY, OTHER_API_KEY]) {
      const response = await h.request("/v1/ebet/logout", {
        json: { username: "demo" },
        bearer: key,
      });
      expect(response.status).toBe(200);
    }
  });

  it("accepts a user JWT for its own username only", async () => {
    const h = await createHarness();
    const own = await h.request("/v1/ebet/logout", {
      json: { username: "demo" },
      bearer: await userToken("demo"),
    });
    expect(own.status).toBe(200);
    const other = await h.request("/v1/ebet/logout", {
      json: { username: "demo" },
      bearer: await userToken("mallory"),
    });
    expect(await readProblem(other)).toMatchObject({
      status: 403,
      kind: "forbidden",
      code: "SUBJECT_MISMATCH",
      field: "username",
      vendor: "ebet",
    });
  });

  it("refuses, with 401 or 403 and no upstream call, every credential that is not good", async () => {
    const h = await createHarness();
    const cases: [string, Record<string, string>, number, string][] = [
      ["no header", {}, 401, "MISSING_CREDENTIALS"],
      ["empty header", { authorization: "" }, 401, "MISSING_CREDENTIALS"],
      ["another scheme", { authorization: `Basic ${btoa("a:b")}` }, 401, "INVALID_CREDENTIALS"],
      ["bare key", { authorization: API_KEY }, 401, "INVALID_CREDENTIALS"],
      ["wrong key", { authorization: "Bearer wrong-key" }, 401, "INVALID_CREDENTIALS"],
      ["key with extra", { authorization: `Bearer ${API_KEY}x` }, 401, "INVALID_CREDENTIALS"],
      [
        "JWT, wrong secret",
        {
          authorization: `Bearer ${await userToken("demo", { key: new TextEncoder().encode("x".repeat(40)) })}`,
        },
        401,
        "INVALID_CREDENTIALS",
      ],
      [
        "JWT, expired",
        {
          authorization: `Bearer ${await userToken("demo", { expiresIn: Math.floor(Date.now() / 1000) - 3600 })}`,
        },
        401,
        "TOKEN_EXPIRED",
      ],
      [
        "JWT, no sub",
        { authorization: `Bearer ${await userToken(undefined)}` },
        401,
        "TOKEN_CLAIM_INVALID",
      ],
      [
        "JWT, HS512",
        {
          authorization: `Bearer ${await userToken("demo", { alg: "HS512", key: new TextEncoder().encode(USER_JWT_SECRET.repeat(2)) })}`,
        },
        401,
        "INVALID_CREDENTIALS",
      ],
      [
        "JWT, alg none",
        {
          authorization: `Bearer ${btoa('{"alg":"none"}').replaceAll("=", "")}.${btoa('{"sub":"demo"}').replaceAll("=", "")}.`,
        },
        401,
        "INVALID_CREDENTIALS",
      ],
      [
        "JWT, other user",
        { authorization: `Bearer ${await userToken("someone")}` },
        403,
        "SUBJECT_MISMATCH",
      ],
    ];
    for (const [name, headers, status, code] of cases) {
      for (const path of ["/v1/ebet/logout", "/v1/ebet/callback"]) {
        const response = await h.request(path, {
          method: "POST",
          headers: { ...headers, "content-type": "application/json" },
          body: JSON.stringify(
            path.endsWith("logout") ? { username: "demo" } : { username: "demo", accessToken: "t" },
          ),
        });
        const problem = await readProblem(response);
        expect(problem, `${name} on ${path}`).toMatchObject({ status, code, vendor: "ebet" });
        if (status === 401) expect(response.headers.get("www-authenticate")).toMatch(/^Bearer /);
        // The credential never comes back.
        const presented = headers.authorization?.replace(/^\w+ /, "") ?? "";
        if (presented.length > 0) expect(JSON.stringify(problem)).not.toContain(presented);
      }
    }
    expect(h.sims.ebet.calls).toHaveLength(0);
    expect(h.upstreamRequests).toHaveLength(0);
    expect(JSON.stringify(h.logs)).not.toContain(API_KEY);
  });

  it("verifies user JWTs against a JWKS fetched through deps.fetch", async () => {
    const { privateKey, publicKey } = await generateKeyPair("ES256");
    const jwk = { ...(await exportJWK(publicKey)), kid: "k1", alg: "ES256", use: "sig" };
    jwksAnswer.body = { keys: [jwk] };
    jwksAnswer.status = 200;
    const h = await createHarness({
      env: {
        PROXY_JWT_SECRET: undefined,
        PROXY_JWKS_URL: `https://${HOSTS.jwks}/.well-known/jwks.json`,
        ...JWKS_CLAIMS,
      },
    });
    const sign = (sub: string, iss = "https://id.example") =>
      new SignJWT({ sub })
        .setProtectedHeader({ alg: "ES256", kid: "k1" })
        .setIssuer(iss)
        .setAudience("edge-proxy")
        .setExpirationTime("5m")
        .sign(privateKey);
    const ok = await h.request("/v1/ebet/logout", {
      json: { username: "demo" },
      bearer: await sign("demo"),
    });
    expect(ok.status).toBe(200);
    expect(h.upstreamRequests).toContain(HOSTS.jwks);
    const wrongIssuer = await h.request("/v1/ebet/logout", {
      json: { username: "demo" },
      bearer: await sign("demo", "https://evil.example"),
    });
    expect(await readProblem(wrongIssuer)).toMatchObject({
      status: 401,
      code: "TOKEN_CLAIM_INVALID",
    });
    // An HS256 token signed with the public JWK's bytes must not pass as a JWKS token.
    const hs = await userToken("demo", { key: new TextEncoder().encode(JSON.stringify(jwk)) });
    const confused = await h.request("/v1/ebet/logout", { json: { username: "demo" }, bearer: hs });
    expect(await readProblem(confused)).toMatchObject({ status: 401 });
    // API keys still work alongside the JWKS.
    const key = await h.request("/v1/ebet/logout", { json: { username: "demo" }, bearer: API_KEY });
    expect(key.status).toBe(200);
  });

  it("keeps the key set: one download for many tokens, another for an unknown kid only after 30 s", async () => {
    const first = await generateKeyPair("ES256");
    const second = await generateKeyPair("RS256");
    const k1 = { ...(await exportJWK(first.publicKey)), kid: "k1", alg: "ES256", use: "sig" };
    const k2 = { ...(await exportJWK(second.publicKey)), kid: "k2", alg: "RS256" };
    jwksAnswer.body = { keys: [k1] };
    jwksAnswer.status = 200;
    let clock = Date.now();
    const h = await createHarness({ env: { ...JWKS_ENV }, deps: { now: () => clock } });
    const sign = (key: CryptoKey, alg: string, kid: string) =>
      new SignJWT({ sub: "demo" })
        .setProtectedHeader({ alg, kid })
        .setIssuer(JWKS_CLAIMS.PROXY_JWT_ISSUER)
        .setAudience(JWKS_CLAIMS.PROXY_JWT_AUDIENCE)
        .setIssuedAt(Math.floor(clock / 1000))
        .setExpirationTime(Math.floor(clock / 1000) + 300)
        .sign(key);
    const logout = async (token: string) =>
      (await h.request("/v1/ebet/logout", { json: { username: "demo" }, bearer: token })).status;
    const downloads = () => h.upstreamRequests.filter((host) => host === HOSTS.jwks).length;
    expect(await logout(await sign(first.privateKey, "ES256", "k1"))).toBe(200);
    expect(await logout(await sign(first.privateKey, "ES256", "k1"))).toBe(200);
    expect(downloads()).toBe(1);
    // The provider rotates in k2: a token of k2 finds no key until the set may be fetched again.
    jwksAnswer.body = { keys: [k1, k2] };
    expect(await logout(await sign(second.privateKey, "RS256", "k2"))).toBe(401);
    expect(downloads()).toBe(1);
    clock += 31_000;
    expect(await logout(await sign(second.privateKey, "RS256", "k2"))).toBe(200);
    expect(downloads()).toBe(2);
    // A kid the provider never published is refused without a download per token.
    clock += 1_000;
    const stranger = await generateKeyPair("ES256");
    expect(await logout(await sign(stranger.privateKey, "ES256", "nobody"))).toBe(401);
    expect(await logout(await sign(stranger.privateKey, "ES256", "nobody"))).toBe(401);
    expect(downloads()).toBe(2);
  });

  it("keeps using the key set for an hour while the provider is down, and retries it at most every 30 s", async () => {
    const pair = await generateKeyPair("ES256");
    const k1 = { ...(await exportJWK(pair.publicKey)), kid: "k1", alg: "ES256" };
    jwksAnswer.body = { keys: [k1] };
    jwksAnswer.status = 200;
    let clock = Date.now();
    const h = await createHarness({ env: { ...JWKS_ENV }, deps: { now: () => clock } });
    const token = () =>
      new SignJWT({ sub: "demo" })
        .setProtectedHeader({ alg: "ES256", kid: "k1" })
        .setIssuer(JWKS_CLAIMS.PROXY_JWT_ISSUER)
        .setAudience(JWKS_CLAIMS.PROXY_JWT_AUDIENCE)
        .setExpirationTime(Math.floor(clock / 1000) + 300)
        .sign(pair.privateKey);
    const logout = async () =>
      (await h.request("/v1/ebet/logout", { json: { username: "demo" }, bearer: await token() }))
        .status;
    const downloads = () => h.upstreamRequests.filter((host) => host === HOSTS.jwks).length;
    // The caller is authenticated when the answer is neither 401 nor 503 (eBET, whose clock this
    // test does not move, may refuse the signed timestamp: that comes after authentication).
    const authenticated = async () => ![401, 503].includes(await logout());
    expect(await logout()).toBe(200);
    jwksAnswer.body = "<html>down</html>";
    jwksAnswer.status = 502;
    // Past 10 minutes the set is downloaded again; that fails, and the held set still serves.
    clock += 11 * 60_000;
    expect(await authenticated()).toBe(true);
    expect(await authenticated()).toBe(true);
    expect(downloads()).toBe(2);
    clock += 31_000;
    expect(await authenticated()).toBe(true);
    expect(downloads()).toBe(3);
    // After an hour without a download the held set is no longer trusted.
    clock += 60 * 60_000;
    expect(await logout()).toBe(503);
  });

  it("picks a JWKS key by kid, key type, curve and use, and refuses a token two keys match", async () => {
    const es = await generateKeyPair("ES256");
    const es384 = await generateKeyPair("ES384");
    const base = await exportJWK(es.publicKey);
    jwksAnswer.body = {
      keys: [
        // Same kid, but for encryption, or another curve: never a verification key for ES256.
        { ...(await exportJWK(es384.publicKey)), kid: "k1" },
        { ...base, kid: "k1", use: "enc" },
        { ...base, kid: "k1", key_ops: ["encrypt"] },
        { ...base, kid: "k1", alg: "ES256" },
        // Two keys without kids that an ES256 token without a kid would both match.
        { ...base },
        { ...(await exportJWK((await generateKeyPair("ES256")).publicKey)) },
      ],
    };
    jwksAnswer.status = 200;
    const h = await createHarness({ env: { ...JWKS_ENV } });
    const sign = (header: { alg: string; kid?: string }) =>
      new SignJWT({ sub: "demo" })
        .setProtectedHeader(header)
        .setIssuer(JWKS_CLAIMS.PROXY_JWT_ISSUER)
        .setAudience(JWKS_CLAIMS.PROXY_JWT_AUDIENCE)
        .setExpirationTime("5m")
        .sign(es.privateKey);
    const logout = async (token: string) =>
      h.request("/v1/ebet/logout", { json: { username: "demo" }, bearer: token });
    expect((await logout(await sign({ alg: "ES256", kid: "k1" }))).status).toBe(200);
    expect(await readProblem(await logout(await sign({ alg: "ES256" })))).toMatchObject({
      status: 401,
      code: "INVALID_CREDENTIALS",
    });
  });

  it("refuses a token of the same JWKS minted for another application or by another issuer", async () => {
    const { privateKey, publicKey } = await generateKeyPair("ES256");
    const jwk = { ...(await exportJWK(publicKey)), kid: "k1", alg: "ES256", use: "sig" };
    jwksAnswer.body = { keys: [jwk] };
    jwksAnswer.status = 200;
    const h = await createHarness({ env: { ...JWKS_ENV } });
    const sign = (claims: { iss?: string; aud?: string | string[] }) => {
      const jwt = new SignJWT({ sub: "demo" })
        .setProtectedHeader({ alg: "ES256", kid: "k1" })
        .setExpirationTime("5m");
      if (claims.iss !== undefined) jwt.setIssuer(claims.iss);
      if (claims.aud !== undefined) jwt.setAudience(claims.aud);
      return jwt.sign(privateKey);
    };
    const logout = async (bearer: string) =>
      h.request("/v1/ebet/logout", { json: { username: "demo" }, bearer });
    const good = { iss: "https://id.example", aud: "edge-proxy" };
    expect((await logout(await sign(good))).status).toBe(200);
    expect((await logout(await sign({ ...good, aud: ["other-app", "edge-proxy"] }))).status).toBe(
      200,
    );
    const calls = h.sims.ebet.calls.length;
    for (const claims of [
      { ...good, aud: "other-app" },
      { ...good, iss: "https://other-issuer.example" },
      { iss: good.iss },
      { aud: good.aud },
    ]) {
      const problem = await readProblem(await logout(await sign(claims)));
      expect(problem, JSON.stringify(claims)).toMatchObject({
        status: 401,
        code: "TOKEN_CLAIM_INVALID",
      });
    }
    expect(h.sims.ebet.calls.length).toBe(calls);
  });

  it("answers 503 when the JWKS cannot be fetched, without calling eBET", async () => {
    jwksAnswer.body = "<html>down</html>";
    jwksAnswer.status = 502;
    const h = await createHarness({
      env: { ...JWKS_ENV },
    });
    const { privateKey } = await generateKeyPair("ES256");
    const token = await new SignJWT({ sub: "demo" })
      .setProtectedHeader({ alg: "ES256", kid: "k1" })
      .setIssuer(JWKS_CLAIMS.PROXY_JWT_ISSUER)
      .setAudience(JWKS_CLAIMS.PROXY_JWT_AUDIENCE)
      .setExpirationTime("5m")
      .sign(privateKey);
    const problem = await readProblem(
      await h.request("/v1/ebet/logout", { json: { username: "demo" }, bearer: token }),
    );
    expect(problem).toMatchObject({ status: 503, code: "JWKS_UNAVAILABLE", retryable: true });
    expect(h.sims.ebet.calls).toHaveLength(0);
  });

  it("refuses a JWKS larger than 64 KiB (declared or streamed) as JWKS_UNAVAILABLE, reading no more", async () => {
    const { privateKey, publicKey } = await generateKeyPair("ES256");
    const jwk = { ...(await exportJWK(publicKey)), kid: "k1", alg: "ES256" };
    const token = await new SignJWT({ sub: "demo" })
      .setProtectedHeader({ alg: "ES256", kid: "k1" })
      .setIssuer(JWKS_CLAIMS.PROXY_JWT_ISSUER)
      .setAudience(JWKS_CLAIMS.PROXY_JWT_AUDIENCE)
      .setExpirationTime("5m")
      .sign(privateKey);
    // A valid key set padded past the limit: read whole, it would verify the token.
    const padded = JSON.stringify({ keys: [jwk], padding: "x".repeat(4 * MAX_JWKS_BYTES) });
    let pulled = 0;
    const serve = (streamed: boolean) => (router: FetchLike) => async (request: Request) => {
      if (new URL(request.url).hostname !== HOSTS.jwks) return router(request);
      if (!streamed)
        return new Response(padded, { headers: { "content-type": "application/json" } });
      const bytes = new TextEncoder().encode(padded);
      let offset = 0;
      const body = new ReadableStream<Uint8Array>({
        pull(controller) {
          if (offset >= bytes.length) return controller.close();
          const chunk = bytes.subarray(offset, offset + 4096);
          offset += chunk.length;
          pulled += chunk.length;
          controller.enqueue(chunk);
        },
      });
      return new Response(body, { headers: { "content-type": "application/json" } });
    };
    for (const streamed of [false, true]) {
      const h = await createHarness({
        env: { ...JWKS_ENV },
        wrapFetch: serve(streamed),
      });
      const problem = await readProblem(
        await h.request("/v1/ebet/logout", { json: { username: "demo" }, bearer: token }),
      );
      expect(problem).toMatchObject({ status: 503, code: "JWKS_UNAVAILABLE" });
      expect(h.sims.ebet.calls).toHaveLength(0);
    }
    expect(pulled).toBeGreaterThan(MAX_JWKS_BYTES);
    expect(pulled).toBeLessThan(padded.length);
    // The same key set without the padding is accepted.
    jwksAnswer.body = { keys: [jwk] };
    jwksAnswer.status = 200;
    const ok = await createHarness({
      env: { ...JWKS_ENV },
    });
    const response = await ok.request("/v1/ebet/logout", {
      json: { username: "demo" },
      bearer: token,
    });
    expect(response.status).toBe(200);
  });

  it("asks for credentials before it reads the body: an unauthenticated caller learns nothing of it", async () => {
    const h = await createHarness();
    for (const route of ["/v1/ebet/logout", "/v1/ebet/callback"]) {
      for (const init of [
        { json: {} },
        { json: { username: "demo", extra: 1 } },
        { method: "POST", body: "not json", headers: { "content-type": "text/plain" } },
        {
          method: "POST",
          body: "x".repeat(64 * 1024),
          headers: { "content-type": "application/json" },
        },
      ]) {
        const response = await h.request(route, init);
        expect(response.status, route).toBe(401);
        expect(response.headers.get("www-authenticate")).toBe('Bearer realm="edge-proxy"');
        expect(await response.json()).toMatchObject({
          code: "MISSING_CREDENTIALS",
          vendor: "ebet",
        });
      }
    }
    expect(h.sims.ebet.calls).toHaveLength(0);
  });

  it("does not ask for eBET credentials on the other vendors' routes", async () => {
    const h = await createHarness();
    const sessionToken = h.sims.sdkAuth.issueSession();
    const response = await h.request("/v1/sdk-auth/logout", {
      json: {
        sessionToken,
        device: { osVersion: "iOS 17", fingerprint: "f1", agent: "a" },
      },
    });
    expect(response.status).toBe(200);
  });
});
