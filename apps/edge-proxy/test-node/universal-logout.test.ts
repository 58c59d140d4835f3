// Universal logout end to end: a real OpenID Provider (oidc-provider from npm) signs a user in, the
// application registers the user's sessions at the four vendors with the proxy (its Node entry),
// the user signs out at the provider, and the provider's own back-channel logout makes the proxy end
// every one of them; a logout token refused by §2.6 ends nothing.
import { generateKeyPairSync, randomUUID, sign } from "node:crypto";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  json,
  type RunningEntry,
  type Simulators,
  startEntry,
  startSimulators,
} from "./harness.ts";
import { type OpenIdProvider, startOpenIdProvider } from "./openid-provider.ts";

const CLIENT_ID = "edge-proxy";
const REQUEST_TIMEOUT_MS = 15_000;
const POLL_MS = 100;
const POLLS = 200;

interface Delivery {
  body: string;
  contentType: string;
  status: number;
  answer: string;
}

/**
 * The client's back-channel logout URI: passes each delivery on to the proxy (started after the
 * provider, which must know this address first) and keeps it, for the test to send again.
 */
async function startRelay(): Promise<{
  url: string;
  deliveries: Delivery[];
  target: { url: string | undefined };
  close(): Promise<void>;
}> {
  const deliveries: Delivery[] = [];
  const target: { url: string | undefined } = { url: undefined };
  const server: Server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on("data", (chunk: Buffer) => chunks.push(chunk));
    request.on("end", async () => {
      const body = Buffer.concat(chunks).toString("utf8");
      const contentType = request.headers["content-type"] ?? "";
      const answer = await fetch(`${target.url}/v1/backchannel-logout`, {
        method: "POST",
        headers: { "content-type": contentType },
        body,
        signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
      });
      const text = await answer.text();
      deliveries.push({ body, contentType, status: answer.status, answer: text });
      response.writeHead(answer.status, { "content-type": "application/json" });
      response.end(text);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/backchannel`,
    deliveries,
    target,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

async function until(what: string, check: () => boolean | Promise<boolean>): Promise<void> {
  for (let i = 0; i < POLLS; i++) {
    if (await check()) return;
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
  throw new Error(`still not so after ${POLLS * POLL_MS} ms: ${what}`);
}

/** A provider made with node:crypto: its key set served on 127.0.0.1, its tokens signed by hand. */
async function startHandProvider(): Promise<{
  issuer: string;
  token(claims: Record<string, unknown>, options?: { key?: "own" | "stranger" }): string;
  close(): Promise<void>;
}> {
  const own = generateKeyPairSync("ec", { namedCurve: "P-256" });
  const stranger = generateKeyPairSync("ec", { namedCurve: "P-256" });
  const server = createServer((_request, response) => {
    response.writeHead(200, { "content-type": "application/json" });
    response.end(
      JSON.stringify({ keys: [{ ...own.publicKey.export({ format: "jwk" }), kid: "h1" }] }),
    );
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString("base64url");
  return {
    issuer,
    token(claims, options = {}) {
      const input = `${b64({ alg: "ES256", kid: "h1", typ: "logout+jwt" })}.${b64(claims)}`;
      const key = options.key === "stranger" ? stranger.privateKey : own.privateKey;
      const signature = sign("sha256", Buffer.from(input), { key, dsaEncoding: "ieee-p1363" });
      return `${input}.${signature.toString("base64url")}`;
    },
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

function jtiOf(token: string): string {
  const payload = token.split(".")[1] ?? "";
  return (JSON.parse(Buffer.from(payload, "base64url").toString("utf8")) as { jti: string }).jti;
}

describe("universal logout through OpenID Connect Back-Channel Logout", () => {
  let simulators: Simulators;
  let provider: OpenIdProvider;
  let other: OpenIdProvider;
  let relay: Awaited<ReturnType<typeof startRelay>>;
  let proxy: RunningEntry;
  let hand: Awaited<ReturnType<typeof startHandProvider>>;

  beforeAll(async () => {
    hand = await startHandProvider();
    simulators = await startSimulators({ capacity: 20 });
    relay = await startRelay();
    provider = await startOpenIdProvider({
      clients: [{ clientId: CLIENT_ID, backchannelLogoutUri: relay.url }],
    });
    // A provider the proxy does not trust, sending to the same address.
    other = await startOpenIdProvider({
      clients: [{ clientId: CLIENT_ID, backchannelLogoutUri: relay.url }],
    });
    proxy = await startEntry("node", {
      ...simulators.env,
      PROXY_STORE: "memory",
      UNIVERSAL_LOGOUT_OIDC: JSON.stringify([
        { issuer: provider.issuer, audience: CLIENT_ID },
        { issuer: hand.issuer, jwksUrl: `${hand.issuer}/jwks`, audience: CLIENT_ID },
      ]),
      LOGOUT_RETRY_BASE_MS: "200",
      LOGOUT_RETRY_MAX_DELAY_MS: "1000",
      SESSION_MAX_PER_SUBJECT: "2",
      SESSION_MAX_LIFETIME_SEC: "86400",
    });
    relay.target.url = proxy.url;
  }, 60_000);

  afterAll(async () => {
    await proxy?.stop();
    await provider?.close();
    await other?.close();
    await hand?.close();
    await relay?.close();
    await simulators?.close();
  });

  /** The application's registration of these vendor sessions for the provider's user. */
  async function register(
    issuer: string,
    subject: string,
    sid: string | undefined,
    members: Record<string, unknown>,
  ): Promise<Response> {
    return fetch(`${proxy.url}/v1/sessions`, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        authorization: `Bearer ${simulators.apiKey}`,
      },
      body: JSON.stringify({ issuer, subject, ...(sid === undefined ? {} : { sid }), ...members }),
      signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
    });
  }

  it("ends the user's sessions at all four vendors when the user signs out at the provider", async () => {
    const session = await provider.signIn(CLIENT_ID, "alice");
    expect(session.sid).toBeDefined();
    const ebet = await simulators.session("ebet");
    const fungame = (await simulators.session("fungame")) as { token: string };
    const sdkAuth = (await simulators.session("sdkAuth")) as { sessionToken: string };
    const lancens = (await simulators.session("lancens")) as { token: string };
    const sims = simulators.sims as unknown as {
      ebet: { isPlaying(username: string): boolean };
      fungame: { isRevoked(jti: string): boolean };
      sdkAuth: { hasSession(token: string): boolean };
      lancens: { isTokenValid(token: string): boolean };
    };
    const username = (ebet as { username: string }).username;
    expect(sims.ebet.isPlaying(username)).toBe(true);

    const registered = await register(provider.issuer, session.sub, session.sid, {
      ebet,
      fungame,
      sdkAuth,
      lancens,
    });
    const body = await json(registered);
    expect(registered.status, JSON.stringify(body)).toBe(201);
    expect(body.id).toMatch(/^ses_[A-Za-z0-9_-]{43}$/);
    expect(registered.headers.get("location")).toBe(`/v1/sessions/${body.id}`);

    const deliveries = await provider.signOut(session);
    expect(deliveries).toEqual([expect.objectContaining({ clientId: CLIENT_ID, ok: true })]);
    const delivered = relay.deliveries.at(-1) as Delivery;
    expect(delivered.status).toBe(200);

    await until(
      "every vendor session ended",
      () =>
        !sims.ebet.isPlaying(username) &&
        sims.fungame.isRevoked(jtiOf(fungame.token)) &&
        !sims.sdkAuth.hasSession(sdkAuth.sessionToken) &&
        !sims.lancens.isTokenValid(lancens.token),
    );
    // The log line of the delivery names the trigger, the issuer and the job, and no token or
    // subject; the job is the registering caller's to read.
    const line = proxy.group.output
      .map((text) => text.trim())
      .filter((text) => text.startsWith("{"))
      .map((text) => JSON.parse(text) as Record<string, unknown>)
      .find((entry) => entry.route === "/v1/backchannel-logout" && entry.status === 200);
    expect(line).toMatchObject({
      trigger: "oidc-backchannel",
      issuer: provider.issuer,
      registrations: 1,
      vendors: ["ebet", "fungame", "sdkAuth", "lancens"],
    });
    const jobs = (line?.jobs ?? []) as string[];
    expect(jobs).toHaveLength(1);
    const logged = JSON.stringify(line);
    for (const secret of [fungame.token, sdkAuth.sessionToken, lancens.token, session.sub]) {
      expect(logged).not.toContain(secret);
    }
    await until("the job delivered", async () => {
      const view = await json(
        await fetch(`${proxy.url}/v1/logout/${jobs[0]}`, {
          headers: { authorization: `Bearer ${simulators.apiKey}` },
        }),
      );
      return view.status === "delivered";
    });

    // The FunGame token is on the proxy's deny-list too.
    const status = await fetch(`${proxy.url}/v1/fungame/token-status`, {
      headers: { authorization: `Bearer ${fungame.token}` },
    });
    expect(await json(status)).toEqual({ active: false, reason: "revoked" });

    // The registration is gone: deleting it finds nothing.
    const deleted = await fetch(`${proxy.url}/v1/sessions/${body.id}`, {
      method: "DELETE",
      headers: { authorization: `Bearer ${simulators.apiKey}` },
    });
    expect(deleted.status).toBe(404);

    // The same logout token again: its jti was accepted once, so it is refused and ends nothing.
    const again = await fetch(`${proxy.url}/v1/backchannel-logout`, {
      method: "POST",
      headers: { "content-type": delivered.contentType },
      body: delivered.body,
    });
    expect(again.status).toBe(400);
    expect(again.headers.get("cache-control")).toBe("no-store");
    expect(await json(again)).toMatchObject({ error: "invalid_request" });
  }, 60_000);

  it("refuses a logout token of a provider it does not trust, and the registration stays", async () => {
    const session = await other.signIn(CLIENT_ID, "mallory");
    const lancens = (await simulators.session("lancens")) as { token: string };
    // Registered under the trusted provider's issuer, with the same subject and sid names.
    const registered = await register(provider.issuer, session.sub, session.sid, { lancens });
    const { id } = await json(registered);
    const calls = (simulators.sims as unknown as { lancens: { calls: unknown[] } }).lancens.calls
      .length;
    await other.signOut(session);
    const delivered = relay.deliveries.at(-1) as Delivery;
    expect(delivered.status).toBe(400);
    expect(JSON.parse(delivered.answer)).toMatchObject({ error: "invalid_request" });
    expect(
      (
        simulators.sims as unknown as { lancens: { isTokenValid(token: string): boolean } }
      ).lancens.isTokenValid(lancens.token),
    ).toBe(true);
    expect(
      (simulators.sims as unknown as { lancens: { calls: unknown[] } }).lancens.calls.length,
    ).toBe(calls);
    const deleted = await fetch(`${proxy.url}/v1/sessions/${id}`, {
      method: "DELETE",
      headers: { authorization: `Bearer ${simulators.apiKey}` },
    });
    expect(deleted.status).toBe(204);
  }, 60_000);

  it("answers a malformed delivery with the specification's error, and a registration it cannot take with a problem", async () => {
    const post = (body: string, contentType: string) =>
      fetch(`${proxy.url}/v1/backchannel-logout`, {
        method: "POST",
        headers: { "content-type": contentType },
        body,
      });
    for (const [body, type] of [
      ["logout_token=not.a.jwt", "application/x-www-form-urlencoded"],
      ["", "application/x-www-form-urlencoded"],
      ["logout_token=a&logout_token=b", "application/x-www-form-urlencoded"],
      ['{"logout_token":"x"}', "application/json"],
    ] as const) {
      const answer = await post(body, type);
      expect(answer.status, body).toBe(400);
      expect(await json(answer)).toMatchObject({ error: "invalid_request" });
    }
    const untrusted = await register("https://unknown.example", "someone", undefined, {
      lancens: { username: "lancens-user", token: "t0k" },
    });
    expect(untrusted.status).toBe(400);
    expect(await json(untrusted)).toMatchObject({ code: "INVALID_FIELD", field: "issuer" });
    // Each bound is a problem that names it.
    const lancens = () => simulators.session("lancens");
    const tooLong = await register(provider.issuer, "bounded", undefined, {
      lancens: await lancens(),
      expiresInSec: 86_401,
    });
    expect(tooLong.status).toBe(400);
    expect(await json(tooLong)).toMatchObject({ field: "expiresInSec" });
    for (let i = 0; i < 2; i++) {
      expect(
        (await register(provider.issuer, "bounded", undefined, { lancens: await lancens() }))
          .status,
      ).toBe(201);
    }
    const full = await register(provider.issuer, "bounded", undefined, {
      lancens: await lancens(),
    });
    expect(full.status).toBe(409);
    expect(await json(full)).toMatchObject({
      code: "REGISTRY_FULL",
      limit: "maxPerSubject",
      max: 2,
    });
    const big = await register(provider.issuer, "x".repeat(20_000), undefined, {
      lancens: await lancens(),
    });
    expect(big.status).toBe(413);
    const anonymous = await fetch(`${proxy.url}/v1/sessions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({
        issuer: provider.issuer,
        subject: "s",
        lancens: { username: "lancens-user", token: "t" },
      }),
    });
    expect(anonymous.status).toBe(401);
  });

  it("refuses, by §2.6, a bad signature, another audience, a nonce, no events: 400, and no vendor is called", async () => {
    const lancens = (await simulators.session("lancens")) as { token: string };
    expect((await register(hand.issuer, "victim", "sid-v", { lancens })).status).toBe(201);
    const sims = simulators.sims as unknown as {
      lancens: { isTokenValid(token: string): boolean; calls: unknown[] };
    };
    const calls = sims.lancens.calls.length;
    const now = Math.floor(Date.now() / 1000);
    const claims = (extra: Record<string, unknown> = {}) => ({
      iss: hand.issuer,
      aud: CLIENT_ID,
      iat: now,
      exp: now + 120,
      jti: randomUUID(),
      sub: "victim",
      sid: "sid-v",
      events: { "http://schemas.openid.net/event/backchannel-logout": {} },
      ...extra,
    });
    const refused: [string, string][] = [
      [hand.token(claims(), { key: "stranger" }), "a bad signature"],
      [hand.token(claims({ aud: "another-client" })), "another audience"],
      [hand.token(claims({ nonce: "n-1" })), "a nonce"],
      [hand.token(claims({ events: undefined })), "no events"],
      [hand.token(claims({ sub: undefined, sid: undefined })), "neither sub nor sid"],
      [hand.token(claims({ iss: "https://unknown.example" })), "an unknown issuer"],
    ];
    for (const [token, what] of refused) {
      const answer = await fetch(`${proxy.url}/v1/backchannel-logout`, {
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded" },
        body: `logout_token=${token}`,
      });
      expect(answer.status, what).toBe(400);
      const body = await json(answer);
      expect(body.error, what).toBe("invalid_request");
      expect(String(body.error_description)).not.toContain(token.slice(0, 30));
    }
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(sims.lancens.calls.length).toBe(calls);
    expect(sims.lancens.isTokenValid(lancens.token)).toBe(true);
    // The same provider's valid token ends it.
    const valid = await fetch(`${proxy.url}/v1/backchannel-logout`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: `logout_token=${hand.token(claims())}`,
    });
    expect(valid.status).toBe(200);
    await until("the Lancens session ended", () => !sims.lancens.isTokenValid(lancens.token));
  }, 60_000);
});
