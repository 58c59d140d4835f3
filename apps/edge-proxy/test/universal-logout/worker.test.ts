// Universal logout on Workers: the script built with it (npm run deploy:universal-logout), its
// registry, replay guard, outbox and deny-list Durable Objects, from a provider's logout to the
// vendors' ended sessions. Tokens are signed here with WebCrypto, by hand: never by the proxy's code.
import {
  createExecutionContext,
  runDurableObjectAlarm,
  waitOnExecutionContext,
} from "cloudflare:test";
import { env } from "cloudflare:workers";
import { afterEach, beforeEach, describe, expect, inject, it, vi } from "vitest";
import { DurableObjectDenyList } from "../../src/adapters/workers/deny-list.ts";
import {
  configureOutboxObjects,
  DurableObjectOutbox,
  type LogoutOutboxObject,
} from "../../src/adapters/workers/outbox.ts";
import { DurableObjectSessionRegistry } from "../../src/adapters/workers/registry.ts";
import { DurableObjectReplayGuard } from "../../src/adapters/workers/replay-guard.ts";
import { loadConfig } from "../../src/config.ts";
import worker, { type WorkerEnv } from "../../src/entry/worker.ts";
import type { JobView } from "../../src/outbox.ts";
import { importSealingKeys, type SealingKeys } from "../../src/sealed.ts";
import {
  API_KEY,
  createHarness,
  DEVICE,
  type Harness,
  jwksAnswer,
  readProblem,
  routerFor,
  sha256Hex,
} from "../harness.ts";

const IDP = "https://idp.example.com";
const CLIENT_ID = "proxy-client";
const GTR = "https://okta.example.com";
const SSF = "https://ssf.example.com";
const SSF_AUDIENCE = "https://proxy.example.com/v1/ssf/events";
const SSF_BEARER = "ssf-bearer-token-for-tests";
const SESSION_REVOKED = "https://schemas.openid.net/secevent/caep/event-type/session-revoked";
const GTR_BEARER = "gtr-bearer-token-for-tests";
const POLICY = { LOGOUT_RETRY_BASE_MS: "1000", LOGOUT_RETRY_MAX_ATTEMPTS: "4" };
/** Job times run years ahead, so no alarm fires by itself: each is run when the test says. */
const clock = Date.now() + 10 * 365 * 86_400_000;

const encoder = new TextEncoder();
const b64url = (bytes: Uint8Array) =>
  btoa(String.fromCharCode(...bytes))
    .replaceAll("+", "-")
    .replaceAll("/", "_")
    .replace(/=+$/, "");
const part = (value: unknown) => b64url(encoder.encode(JSON.stringify(value)));

let signer: CryptoKeyPair;

/** A compact JWS, ES256, assembled by hand over WebCrypto's P-256 signature (r || s, as JWS has it). */
async function signed(header: object, claims: object): Promise<string> {
  const input = `${part(header)}.${part(claims)}`;
  const signature = await crypto.subtle.sign(
    { name: "ECDSA", hash: "SHA-256" },
    signer.privateKey,
    encoder.encode(input),
  );
  return `${input}.${b64url(new Uint8Array(signature))}`;
}

/** A logout token of OpenID Connect Back-Channel Logout 1.0 §2.4, issued now. */
function logoutToken(claims: {
  sub?: string;
  sid?: string;
  jti?: string;
  [name: string]: unknown;
}) {
  const now = Math.floor(Date.now() / 1000);
  return signed(
    { alg: "ES256", kid: "k1", typ: "logout+jwt" },
    {
      iss: IDP,
      aud: CLIENT_ID,
      iat: now,
      exp: now + 120,
      jti: crypto.randomUUID(),
      events: { "http://schemas.openid.net/event/backchannel-logout": {} },
      ...claims,
    },
  );
}

async function sealingKeys(): Promise<SealingKeys> {
  const bytes = crypto.getRandomValues(new Uint8Array(32));
  const keys = await importSealingKeys(`k1:${btoa(String.fromCharCode(...bytes))}`, "x");
  if ("message" in keys) throw new Error(keys.message);
  return keys;
}

function fire(id: string): Promise<boolean> {
  const namespace = env.LOGOUT_OUTBOX as DurableObjectNamespace<LogoutOutboxObject>;
  return runDurableObjectAlarm(namespace.get(namespace.idFromString(id)));
}

const jtiOf = (token: string) =>
  (
    JSON.parse(atob((token.split(".")[1] as string).replaceAll("-", "+").replaceAll("_", "/"))) as {
      jti: string;
    }
  ).jti;

beforeEach(async () => {
  signer = (await crypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, true, [
    "sign",
    "verify",
  ])) as CryptoKeyPair;
  const jwk = (await crypto.subtle.exportKey("jwk", signer.publicKey)) as JsonWebKey;
  jwksAnswer.body = { keys: [{ kty: jwk.kty, crv: jwk.crv, x: jwk.x, y: jwk.y, kid: "k1" }] };
  jwksAnswer.status = 200;
});

afterEach(() => configureOutboxObjects(undefined));

describe("OpenID Connect Back-Channel Logout on the Workers stores", () => {
  let h: Harness;

  beforeEach(async () => {
    const vars = {
      ...POLICY,
      UNIVERSAL_LOGOUT_OIDC: JSON.stringify([
        { issuer: IDP, jwksUrl: "https://jwks.test/keys", audience: CLIENT_ID },
      ]),
      UNIVERSAL_LOGOUT_SSF: JSON.stringify([
        {
          issuer: SSF,
          jwksUrl: "https://jwks.test/ssf-keys",
          audience: SSF_AUDIENCE,
          bearerSha256: await sha256Hex(SSF_BEARER),
        },
      ]),
    };
    const sealing = await sealingKeys();
    const policy = loadConfig(POLICY).outbox;
    h = await createHarness({
      env: vars,
      denyList: new DurableObjectDenyList(env.DENY_LIST),
      deps: {
        registry: new DurableObjectSessionRegistry(env.SESSION_REGISTRY, {
          sealing,
          limits: { maxPerSubject: 16, maxLifetimeMs: 86_400_000 },
        }),
        replayGuard: new DurableObjectReplayGuard(env.REPLAY_GUARD),
        outbox: () => new DurableObjectOutbox(env.LOGOUT_OUTBOX, env.OPEN_JOBS, policy),
      },
    });
    configureOutboxObjects({
      env: h.env,
      fetch: routerFor(h.sims, jwksAnswer),
      now: () => clock,
      random: () => 0,
      denyList: h.denyList,
    });
  });

  async function sessions() {
    h.sims.ebet.updateUser("demo", { playing: true });
    return {
      ebet: { username: "demo" },
      fungame: { token: await h.sims.fungame.login("alice") },
      sdkAuth: { sessionToken: h.sims.sdkAuth.issueSession(), device: DEVICE },
      lancens: { username: "lancens-user", token: (await h.sims.lancens.signIn()).token },
    };
  }

  async function register(body: Record<string, unknown>): Promise<string> {
    const response = await h.request("/v1/sessions", { bearer: API_KEY, json: body });
    const answer = (await response.json()) as { id: string };
    expect(response.status, JSON.stringify(answer)).toBe(201);
    return answer.id;
  }

  const backchannel = (token: string) =>
    h.request("/v1/backchannel-logout", {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: `logout_token=${token}`,
    });

  /** The job ids of the trigger's log line. */
  const jobsLogged = () =>
    (h.logs.findLast((line) => line.route === "/v1/backchannel-logout")?.jobs ?? []) as string[];

  it("ends the user's sessions at all four vendors, through the registry, outbox and deny-list objects", async () => {
    const vendors = await sessions();
    const sub = `user-${crypto.randomUUID()}`;
    await register({ issuer: IDP, subject: sub, sid: "sid-1", ...vendors });
    expect(h.upstreamRequests).toEqual([]);

    const token = await logoutToken({ sub, sid: "sid-1" });
    const answer = await backchannel(token);
    expect(answer.status, await answer.clone().text()).toBe(200);
    expect(answer.headers.get("cache-control")).toBe("no-store");
    // Answered once queued: no vendor was called before the answer.
    expect(h.upstreamRequests.filter((host) => host !== "jwks.test")).toEqual([]);
    const [job] = jobsLogged();
    expect(jobsLogged()).toHaveLength(1);

    expect(await fire(job as string)).toBe(true);
    const view = (await (
      await h.request(`/v1/logout/${job}`, { bearer: API_KEY })
    ).json()) as JobView;
    expect(view.status).toBe("delivered");
    expect(h.sims.ebet.isPlaying("demo")).toBe(false);
    expect(h.sims.fungame.isRevoked(jtiOf(vendors.fungame.token))).toBe(true);
    expect(h.sims.sdkAuth.hasSession(vendors.sdkAuth.sessionToken)).toBe(false);
    expect(h.sims.lancens.isTokenValid(vendors.lancens.token)).toBe(false);
    // The FunGame token is on the deny-list objects: the proxy refuses it from now on.
    expect(await h.denyList.has(jtiOf(vendors.fungame.token))).toBe(true);

    // The replay guard's objects hold the jti: the same token again is refused and queues nothing.
    const again = await backchannel(token);
    expect(again.status).toBe(400);
    expect(await again.json()).toMatchObject({ error: "invalid_request" });
  });

  it("with a sid, ends that session's registrations only, found through its pointer object", async () => {
    const sub = `user-${crypto.randomUUID()}`;
    const first = await h.sims.lancens.signIn();
    const second = await h.sims.lancens.signIn();
    await register({
      issuer: IDP,
      subject: sub,
      sid: "laptop",
      lancens: { username: "lancens-user", token: first.token },
    });
    await register({
      issuer: IDP,
      subject: sub,
      sid: "phone",
      lancens: { username: "lancens-user", token: second.token },
    });

    // A token naming only the sid: the registry finds the subject's object from the sid's pointer.
    expect((await backchannel(await logoutToken({ sid: "laptop" }))).status).toBe(200);
    for (const job of jobsLogged()) await fire(job);
    expect(h.sims.lancens.isTokenValid(first.token)).toBe(false);
    expect(h.sims.lancens.isTokenValid(second.token)).toBe(true);

    // The subject's logout takes what is left.
    expect((await backchannel(await logoutToken({ sub }))).status).toBe(200);
    for (const job of jobsLogged()) await fire(job);
    expect(h.sims.lancens.isTokenValid(second.token)).toBe(false);
  });

  it("ends a subject's sessions on a pushed session-revoked SET, once however often it is pushed", async () => {
    const lancens = await h.sims.lancens.signIn();
    const sub = `user-${crypto.randomUUID()}`;
    await register({
      issuer: SSF,
      subject: sub,
      lancens: { username: "lancens-user", token: lancens.token },
    });
    const set = await signed(
      { alg: "ES256", kid: "k1", typ: "secevent+jwt" },
      {
        iss: SSF,
        aud: SSF_AUDIENCE,
        iat: Math.floor(Date.now() / 1000),
        jti: crypto.randomUUID(),
        sub_id: { format: "iss_sub", iss: SSF, sub },
        events: { [SESSION_REVOKED]: {} },
      },
    );
    const push = () =>
      h.request("/v1/ssf/events", {
        method: "POST",
        headers: {
          "content-type": "application/secevent+jwt",
          authorization: `Bearer ${SSF_BEARER}`,
        },
        body: set,
      });
    expect((await push()).status).toBe(202);
    const jobs = (h.logs.findLast((line) => line.route === "/v1/ssf/events")?.jobs ??
      []) as string[];
    expect(jobs).toHaveLength(1);
    // Pushed again (a transmitter's retry): acknowledged, and nothing more is queued.
    const again = await push();
    expect(again.status).toBe(202);
    expect(h.logs.findLast((line) => line.route === "/v1/ssf/events")?.jobs).toBeUndefined();
    for (const job of jobs) await fire(job);
    expect(h.sims.lancens.isTokenValid(lancens.token)).toBe(false);
  });

  it("keeps a trigger's take-and-queue alive past its request (waitUntil), so a hang-up loses no registration", async () => {
    const lancens = await h.sims.lancens.signIn();
    const sub = `user-${crypto.randomUUID()}`;
    await register({
      issuer: IDP,
      subject: sub,
      lancens: { username: "lancens-user", token: lancens.token },
    });
    const kept: Promise<unknown>[] = [];
    const context = {
      waitUntil: (promise: Promise<unknown>) => kept.push(promise),
      passThroughOnException: () => {},
      props: {},
    } as unknown as ExecutionContext;
    const request = new Request("https://proxy.test/v1/backchannel-logout", {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: `logout_token=${await logoutToken({ sub })}`,
    });
    const answer = await h.app.fetch(request, {}, context);
    expect(answer.status).toBe(200);
    expect(kept).toHaveLength(1);
    expect(await kept[0]).toMatchObject({ registrations: 1 });
  });

  it("answers 400 and calls no vendor for a token the provider's key did not sign", async () => {
    const lancens = await h.sims.lancens.signIn();
    const sub = `user-${crypto.randomUUID()}`;
    await register({
      issuer: IDP,
      subject: sub,
      lancens: { username: "lancens-user", token: lancens.token },
    });
    const token = await logoutToken({ sub });
    const [head, body] = token.split(".");
    const forged = `${head}.${body}.${b64url(new Uint8Array(64))}`;
    const answer = await backchannel(forged);
    expect(answer.status).toBe(400);
    expect(await answer.json()).toMatchObject({ error: "invalid_request" });
    expect(
      h.logs.findLast((line) => line.route === "/v1/backchannel-logout")?.jobs,
    ).toBeUndefined();
    expect(h.sims.lancens.isTokenValid(lancens.token)).toBe(true);
  });
});

describe("the Worker entry built with universal logout", () => {
  const bindings: WorkerEnv = { ...env };
  let vars: Record<string, unknown>;

  beforeEach(async () => {
    const bytes = crypto.getRandomValues(new Uint8Array(32));
    vars = {
      ...POLICY,
      LANCENS_BASE_URL: "https://lancens.test:6443",
      PROXY_API_KEY_SHA256: await sha256Hex(API_KEY),
      PROXY_STORE_KEYS: `k1:${btoa(String.fromCharCode(...bytes))}`,
      UNIVERSAL_LOGOUT_GTR: JSON.stringify([
        { issuer: GTR, bearerSha256: await sha256Hex(GTR_BEARER) },
      ]),
    };
  });

  async function call(path: string, init: RequestInit, overrides: object = {}): Promise<Response> {
    const ctx = createExecutionContext();
    const request = new Request(`https://proxy.test${path}`, init) as Request<
      unknown,
      IncomingRequestCfProperties
    >;
    const response = await worker.fetch(request, { ...bindings, ...vars, ...overrides }, ctx);
    await waitOnExecutionContext(ctx);
    return response;
  }

  it("registers a session, takes a Global Token Revocation and delivers its job from the outbox object", async () => {
    const h = await createHarness();
    const lancens = await h.sims.lancens.signIn();
    const subject = `user-${crypto.randomUUID()}`;
    const registered = await call("/v1/sessions", {
      method: "POST",
      headers: { authorization: `Bearer ${API_KEY}`, "content-type": "application/json" },
      body: JSON.stringify({
        issuer: GTR,
        subject,
        lancens: { username: "lancens-user", token: lancens.token },
      }),
    });
    expect(registered.status, await registered.clone().text()).toBe(201);

    // The job's clock runs years ahead: its alarm waits for the test.
    configureOutboxObjects({
      env: vars,
      fetch: routerFor(h.sims, jwksAnswer),
      now: () => clock,
      random: () => 0,
    });
    const lines: Record<string, unknown>[] = [];
    const log = vi.spyOn(console, "log").mockImplementation((text: unknown) => {
      if (typeof text === "string" && text.startsWith("{")) lines.push(JSON.parse(text));
    });
    const revoked = await call("/v1/global-token-revocation", {
      method: "POST",
      headers: { authorization: `Bearer ${GTR_BEARER}`, "content-type": "application/json" },
      body: JSON.stringify({ sub_id: { format: "iss_sub", iss: GTR, sub: subject } }),
    });
    log.mockRestore();
    expect(revoked.status, await revoked.clone().text()).toBe(204);
    const line = lines.find((entry) => entry.route === "/v1/global-token-revocation");
    expect(line).toMatchObject({
      trigger: "global-token-revocation",
      issuer: GTR,
      vendors: ["lancens"],
    });
    expect(JSON.stringify(line)).not.toContain(subject);
    const [job] = (line?.jobs ?? []) as string[];
    expect(await fire(job as string)).toBe(true);
    expect(h.sims.lancens.isTokenValid(lancens.token)).toBe(false);
    const view = await call(`/v1/logout/${job}`, {
      headers: { authorization: `Bearer ${API_KEY}` },
    });
    expect(((await view.json()) as JobView).status).toBe("delivered");

    // Nothing is left of the subject: a second revocation finds nobody.
    const unknown = await call("/v1/global-token-revocation", {
      method: "POST",
      headers: { authorization: `Bearer ${GTR_BEARER}`, "content-type": "application/json" },
      body: JSON.stringify({ sub_id: { format: "iss_sub", iss: GTR, sub: subject } }),
    });
    expect(unknown.status).toBe(404);
  });

  it("takes a back-channel logout through the entry's own fetch and replay-guard objects, once", async () => {
    const issuer = inject("idpIssuer");
    const key = await crypto.subtle.importKey(
      "jwk",
      inject("idpPrivateJwk"),
      { name: "ECDSA", namedCurve: "P-256" },
      false,
      ["sign"],
    );
    const h = await createHarness();
    const lancens = await h.sims.lancens.signIn();
    const subject = `user-${crypto.randomUUID()}`;
    const oidc = {
      UNIVERSAL_LOGOUT_OIDC: JSON.stringify([
        { issuer, jwksUrl: `${issuer}/jwks`, audience: CLIENT_ID },
      ]),
    };
    const registered = await call(
      "/v1/sessions",
      {
        method: "POST",
        headers: { authorization: `Bearer ${API_KEY}`, "content-type": "application/json" },
        body: JSON.stringify({
          issuer,
          subject,
          lancens: { username: "lancens-user", token: lancens.token },
        }),
      },
      oidc,
    );
    expect(registered.status, await registered.clone().text()).toBe(201);

    const now = Math.floor(Date.now() / 1000);
    const input = `${part({ alg: "ES256", kid: "idp-1", typ: "logout+jwt" })}.${part({
      iss: issuer,
      aud: CLIENT_ID,
      iat: now,
      exp: now + 120,
      jti: crypto.randomUUID(),
      sub: subject,
      events: { "http://schemas.openid.net/event/backchannel-logout": {} },
    })}`;
    const signature = await crypto.subtle.sign(
      { name: "ECDSA", hash: "SHA-256" },
      key,
      encoder.encode(input),
    );
    const token = `${input}.${b64url(new Uint8Array(signature))}`;
    const send = () =>
      call(
        "/v1/backchannel-logout",
        {
          method: "POST",
          headers: { "content-type": "application/x-www-form-urlencoded" },
          body: `logout_token=${token}`,
        },
        oidc,
      );
    configureOutboxObjects({
      env: vars,
      fetch: routerFor(h.sims, jwksAnswer),
      now: () => clock,
      random: () => 0,
    });
    const lines: Record<string, unknown>[] = [];
    const log = vi.spyOn(console, "log").mockImplementation((text: unknown) => {
      if (typeof text === "string" && text.startsWith("{")) lines.push(JSON.parse(text));
    });
    const first = await send();
    // The same token again: the entry's REPLAY_GUARD objects hold its jti.
    const again = await send();
    log.mockRestore();
    expect(first.status, await first.clone().text()).toBe(200);
    expect(again.status).toBe(400);
    expect(await again.json()).toMatchObject({ error: "invalid_request" });
    const line = lines.find(
      (entry) => entry.route === "/v1/backchannel-logout" && entry.status === 200,
    );
    const [job] = (line?.jobs ?? []) as string[];
    expect(await fire(job as string)).toBe(true);
    expect(h.sims.lancens.isTokenValid(lancens.token)).toBe(false);
  });

  it.each([
    [["PROXY_STORE_KEYS"], { PROXY_STORE_KEYS: undefined }],
    [["PROXY_STORE_KEYS"], { PROXY_STORE_KEYS: "k1:c2hvcnQta2V5LW1hdGVyaWFs" }],
    [["SESSION_REGISTRY"], { SESSION_REGISTRY: undefined }],
    [["REPLAY_GUARD"], { REPLAY_GUARD: undefined }],
    [["LOGOUT_OUTBOX"], { LOGOUT_OUTBOX: undefined }],
    [["LOGOUT_OUTBOX", "OPEN_JOBS"], { LOGOUT_OUTBOX: undefined, OPEN_JOBS: undefined }],
  ])("refuses to start without %s, naming it", async (names, overrides) => {
    const response = await call("/healthz", {}, overrides);
    const problem = await readProblem(response);
    expect(problem).toMatchObject({ status: 500, code: "CONFIG_INVALID" });
    expect((problem.errors as { field: string }[]).map((error) => error.field)).toEqual(names);
    const text = JSON.stringify(problem);
    expect(text).not.toContain(String(vars.PROXY_STORE_KEYS).slice(3));
    expect(text).not.toContain("c2hvcnQta2V5LW1hdGVyaWFs");
  });
});
