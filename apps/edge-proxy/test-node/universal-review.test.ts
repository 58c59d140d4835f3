// Universal logout under adversarial conditions: when the outbox refuses part-way, the provider's
// redelivery of the same logout token or SET queues what the first delivery could not, and no
// registration is lost or doubled; an identifier too long to name any registration is a 400.
import { generateKeyPairSync, randomBytes, randomUUID, sign } from "node:crypto";
import { beforeEach, describe, expect, it } from "vitest";
import { MemoryOutbox } from "../src/adapters/memory/outbox.ts";
import { MemorySessionRegistry } from "../src/adapters/memory/registry.ts";
import { ownerOf } from "../src/auth.ts";
import { loadConfig } from "../src/config.ts";
import { outboxFull, tooManyOpenJobs } from "../src/outbox.ts";
import type { LogoutOutbox } from "../src/ports.ts";
import { importSealingKeys, type SealingKeys } from "../src/sealed.ts";
import {
  API_KEY,
  baseEnv,
  createHarness,
  type Harness,
  jwksAnswer,
  OTHER_API_KEY,
  sha256Hex,
} from "../test/harness.ts";

const IDP = "https://idp.test";
const SSF = "https://ssf.test";
const CLIENT_ID = "edge-proxy";
const SSF_AUDIENCE = "https://proxy.test/ssf";
const SSF_BEARER = `ssf-${randomUUID()}`;
const GTR = "https://gtr.test";
const GTR_BEARER = `gtr-${randomUUID()}`;
const SESSION_REVOKED = "https://schemas.openid.net/secevent/caep/event-type/session-revoked";
const BACKCHANNEL = "http://schemas.openid.net/event/backchannel-logout";

const keys = generateKeyPairSync("ec", { namedCurve: "P-256" });
const b64url = (value: unknown) => Buffer.from(JSON.stringify(value)).toString("base64url");

function signed(header: Record<string, unknown>, claims: Record<string, unknown>): string {
  const input = `${b64url(header)}.${b64url(claims)}`;
  const signature = sign("sha256", Buffer.from(input), {
    key: keys.privateKey,
    dsaEncoding: "ieee-p1363",
  });
  return `${input}.${signature.toString("base64url")}`;
}

function logoutToken(sub: string): string {
  const now = Math.floor(Date.now() / 1000);
  return signed(
    { alg: "ES256", kid: "k1", typ: "logout+jwt" },
    {
      iss: IDP,
      aud: CLIENT_ID,
      iat: now,
      exp: now + 120,
      jti: randomUUID(),
      sub,
      events: { [BACKCHANNEL]: {} },
    },
  );
}

function sessionRevoked(sub: string): string {
  return signed(
    { alg: "ES256", kid: "k1", typ: "secevent+jwt" },
    {
      iss: SSF,
      aud: SSF_AUDIENCE,
      iat: Math.floor(Date.now() / 1000),
      jti: randomUUID(),
      sub_id: { format: "iss_sub", iss: SSF, sub },
      events: { [SESSION_REVOKED]: {} },
    },
  );
}

/** The outbox of the entries, refusing the jobs of the owners in `refuse` as a full outbox would. */
function refusingOutbox(refuse: { owners: Set<string>; status: 429 | 503 }, queued: string[]) {
  return (run: ConstructorParameters<typeof MemoryOutbox>[0], vendors: never): LogoutOutbox => {
    const inner = new MemoryOutbox(run, {
      policy: loadConfig({}).outbox,
      vendors,
    });
    return {
      async enqueue(body, request) {
        if (request.owner !== null && refuse.owners.has(request.owner)) {
          throw refuse.status === 429 ? tooManyOpenJobs(4) : outboxFull();
        }
        const view = await inner.enqueue(body, request);
        queued.push(request.owner ?? "(none)");
        return view;
      },
      get: (id) => inner.get(id),
    };
  };
}

async function sealingKeys(): Promise<SealingKeys> {
  const imported = await importSealingKeys(
    `k1:${randomBytes(32).toString("base64")}`,
    "PROXY_STORE_KEYS",
  );
  if ("message" in imported) throw new Error(imported.message);
  return imported;
}

describe("universal logout, adversarially", () => {
  let harness: Harness;
  let registry: MemorySessionRegistry;
  let refuse: { owners: Set<string>; status: 429 | 503 };
  let queued: string[];
  let ownerA: string;
  let ownerB: string;

  beforeEach(async () => {
    jwksAnswer.body = { keys: [{ ...keys.publicKey.export({ format: "jwk" }), kid: "k1" }] };
    jwksAnswer.status = 200;
    registry = new MemorySessionRegistry({
      sealing: await sealingKeys(),
      limits: { maxPerSubject: 16, maxLifetimeMs: 86_400_000 },
    });
    refuse = { owners: new Set(), status: 503 };
    queued = [];
    ownerA = await ownerOf({ via: "api-key", key: await sha256Hex(API_KEY) });
    ownerB = await ownerOf({ via: "api-key", key: await sha256Hex(OTHER_API_KEY) });
    harness = await createHarness({
      env: {
        ...(await baseEnv()),
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
        UNIVERSAL_LOGOUT_GTR: JSON.stringify([
          { issuer: GTR, bearerSha256: await sha256Hex(GTR_BEARER) },
        ]),
      },
      deps: {
        registry,
        outbox: refusingOutbox(refuse, queued) as never,
      },
    });
  });

  async function register(issuer: string, subject: string, bearer: string): Promise<void> {
    const answer = await harness.request("/v1/sessions", {
      bearer,
      json: { issuer, subject, lancens: { username: "lancens-user", token: randomUUID() } },
    });
    expect(answer.status, await answer.clone().text()).toBe(201);
  }

  const backchannel = (token: string) =>
    harness.request("/v1/backchannel-logout", {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: `logout_token=${token}`,
    });

  const push = (set: string) =>
    harness.request("/v1/ssf/events", {
      method: "POST",
      headers: {
        "content-type": "application/secevent+jwt",
        authorization: `Bearer ${SSF_BEARER}`,
      },
      body: set,
    });

  it("queues on the provider's redelivery of a logout token the outbox refused (503)", async () => {
    await register(IDP, "u-503", API_KEY);
    refuse.owners.add(ownerA);
    const token = logoutToken("u-503");
    expect((await backchannel(token)).status).toBe(503);
    expect(queued).toEqual([]);
    refuse.owners.clear();
    const again = await backchannel(token);
    expect(again.status, await again.clone().text()).toBe(200);
    expect(queued).toEqual([ownerA]);
    // Queued now: a third delivery is the replay §2.6 refuses, and queues nothing.
    expect((await backchannel(token)).status).toBe(400);
    expect(queued).toEqual([ownerA]);
    expect(await registry.takeSubject(IDP, "u-503")).toEqual([]);
  });

  it("queues, on the redelivery, only the owner whose job was refused (429 part-way)", async () => {
    await register(IDP, "u-429", API_KEY);
    await register(IDP, "u-429", OTHER_API_KEY);
    refuse.owners.add(ownerB);
    refuse.status = 429;
    const token = logoutToken("u-429");
    expect((await backchannel(token)).status).toBe(429);
    expect(queued).toEqual([ownerA]);
    refuse.owners.clear();
    expect((await backchannel(token)).status).toBe(200);
    // The refused owner's registration was put back once and queued once; the other never again.
    expect(queued).toEqual([ownerA, ownerB]);
    expect(await registry.takeSubject(IDP, "u-429")).toEqual([]);
  });

  it("queues on the transmitter's redelivery of a SET the outbox refused, not a silent 202", async () => {
    await register(SSF, "u-set", API_KEY);
    refuse.owners.add(ownerA);
    const set = sessionRevoked("u-set");
    expect((await push(set)).status).toBe(503);
    expect(queued).toEqual([]);
    refuse.owners.clear();
    expect((await push(set)).status).toBe(202);
    expect(queued).toEqual([ownerA]);
    expect(await registry.takeSubject(SSF, "u-set")).toEqual([]);
    // Delivered once more after it was queued: acknowledged, queued no second time.
    expect((await push(set)).status).toBe(202);
    expect(queued).toEqual([ownerA]);
  });

  it("refuses an email or opaque identifier too long for any registration's subject, naming it", async () => {
    // 1024 characters is the longest member taken; with its prefix it is longer than a subject.
    const long = "a".repeat(1020);
    const revoke = (subId: unknown) =>
      harness.request("/v1/global-token-revocation", {
        method: "POST",
        headers: { "content-type": "application/json", authorization: `Bearer ${GTR_BEARER}` },
        body: JSON.stringify({ sub_id: subId }),
      });
    const opaque = await revoke({ format: "opaque", id: long });
    expect(opaque.status).toBe(400);
    expect(await opaque.json()).toMatchObject({
      error: "invalid_request",
      error_description: expect.stringContaining("sub_id.id"),
    });
    const email = await revoke({ format: "email", email: `${long}@x.example` });
    expect(email.status).toBe(400);
    expect(await email.json()).toMatchObject({
      error_description: expect.stringContaining("sub_id.email"),
    });
    const set = signed(
      { alg: "ES256", kid: "k1", typ: "secevent+jwt" },
      {
        iss: SSF,
        aud: SSF_AUDIENCE,
        iat: Math.floor(Date.now() / 1000),
        jti: randomUUID(),
        sub_id: { format: "opaque", id: long },
        events: { [SESSION_REVOKED]: {} },
      },
    );
    const pushed = await push(set);
    expect(pushed.status).toBe(400);
    expect(await pushed.json()).toMatchObject({
      err: "invalid_request",
      description: expect.stringContaining("sub_id.id"),
    });
  });

  it("says in the log line when a registration could not be put back (the subject filled up meanwhile)", async () => {
    await register(IDP, "u-full", API_KEY);
    refuse.owners.add(ownerA);
    // Every put-back fails, as it would against a subject filled up since the take.
    const add = registry.add.bind(registry);
    let taken = false;
    const take = registry.takeSubject.bind(registry);
    registry.takeSubject = async (...args) => {
      taken = true;
      return take(...args);
    };
    registry.add = async (entry) => {
      if (taken) throw new Error("full");
      return add(entry);
    };
    expect((await backchannel(logoutToken("u-full"))).status).toBe(503);
    const line = harness.logs.find((entry) => entry.route === "/v1/backchannel-logout");
    expect(line).toMatchObject({ trigger: "oidc-backchannel", putBack: 0, putBackFailed: 1 });
  });
});
