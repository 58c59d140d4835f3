// Shared Signals push receiver (src/universal-logout/set.ts) against SETs signed by node:crypto.
import {
  createHash,
  createHmac,
  generateKeyPairSync,
  type KeyObject,
  randomUUID,
  sign,
} from "node:crypto";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MemoryReplayGuard } from "../src/adapters/memory/replay-guard.ts";
import type { ReplayGuard } from "../src/ports.ts";
import {
  DuplicateSet,
  SESSION_REVOKED,
  SetError,
  SetUnavailable,
  type Transmitter,
  verifySet,
} from "../src/universal-logout/set.ts";

const NOW = 1_750_000_000_000;
const ISSUER = "https://idp.example.com/";
const AUDIENCE = "https://proxy.example.com/ssf";
const BEARER = "transmitter-bearer-7f3a";

const rsa = generateKeyPairSync("rsa", { modulusLength: 2048 });
const ec = generateKeyPairSync("ec", { namedCurve: "P-256" });
const ed = generateKeyPairSync("ed25519");
const stranger = generateKeyPairSync("rsa", { modulusLength: 2048 });

let server: Server;
let jwksUrl: string;

beforeAll(async () => {
  const keys = [
    { ...rsa.publicKey.export({ format: "jwk" }), kid: "rsa-1", use: "sig" },
    { ...ec.publicKey.export({ format: "jwk" }), kid: "ec-1", alg: "ES256" },
    { ...ed.publicKey.export({ format: "jwk" }), kid: "ed-1" },
  ];
  server = createServer((_request, response) => {
    response.writeHead(200, { "content-type": "application/json" });
    response.end(JSON.stringify({ keys }));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  jwksUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/jwks`;
});

afterAll(async () => {
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

function transmitter(extra: Partial<Transmitter> = {}): Transmitter {
  return {
    issuer: ISSUER,
    jwksUrl,
    audience: AUDIENCE,
    bearerSha256: [new Uint8Array(createHash("sha256").update(BEARER).digest())],
    ...extra,
  };
}

function b64url(value: unknown): string {
  return Buffer.from(typeof value === "string" ? value : JSON.stringify(value)).toString(
    "base64url",
  );
}

function claims(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    iss: ISSUER,
    aud: AUDIENCE,
    iat: NOW / 1000 - 10,
    jti: randomUUID(),
    sub_id: { format: "iss_sub", iss: ISSUER, sub: "user-1" },
    events: { [SESSION_REVOKED]: { event_timestamp: NOW / 1000 - 20, initiating_entity: "admin" } },
    ...extra,
  };
}

type Alg = "RS256" | "RS384" | "PS256" | "ES256" | "EdDSA";

/** A compact JWS assembled by hand with node:crypto. */
function jws(
  payload: Record<string, unknown>,
  options: { alg?: Alg; kid?: string; header?: Record<string, unknown>; key?: KeyObject } = {},
): string {
  const alg = options.alg ?? "RS256";
  const kid =
    options.kid ??
    { RS256: "rsa-1", RS384: "rsa-1", PS256: "rsa-1", ES256: "ec-1", EdDSA: "ed-1" }[alg];
  const header = { alg, kid, typ: "secevent+jwt", ...options.header };
  const input = `${b64url(header)}.${b64url(payload)}`;
  const data = Buffer.from(input);
  let signature: Buffer;
  switch (alg) {
    case "RS256":
      signature = sign("sha256", data, options.key ?? rsa.privateKey);
      break;
    case "RS384":
      signature = sign("sha384", data, options.key ?? rsa.privateKey);
      break;
    case "PS256":
      signature = sign("sha256", data, {
        key: options.key ?? rsa.privateKey,
        padding: 6, // RSA_PKCS1_PSS_PADDING
        saltLength: 32,
      });
      break;
    case "ES256":
      signature = sign("sha256", data, {
        key: options.key ?? ec.privateKey,
        dsaEncoding: "ieee-p1363",
      });
      break;
    case "EdDSA":
      signature = sign(null, data, options.key ?? ed.privateKey);
      break;
  }
  return `${input}.${signature.toString("base64url")}`;
}

interface Delivery {
  transmitter?: Transmitter;
  contentType?: string | null;
  authorization?: string | null;
  replay?: ReplayGuard;
}

function deliver(token: string, options: Delivery = {}) {
  const headers = new Headers();
  const authorization =
    options.authorization === undefined ? `Bearer ${BEARER}` : options.authorization;
  if (authorization !== null) headers.set("authorization", authorization);
  return verifySet(
    token,
    options.contentType === undefined ? "application/secevent+jwt" : options.contentType,
    options.transmitter ?? transmitter(),
    headers,
    {
      fetch: globalThis.fetch,
      now: () => NOW,
      replay: options.replay ?? new MemoryReplayGuard({ now: () => NOW }),
    },
  );
}

/** The SetError a delivery is refused with; fails the test if it is accepted or fails otherwise. */
async function refusal(token: string, options: Delivery = {}): Promise<SetError> {
  const outcome = await deliver(token, options).then(
    (trigger) => trigger,
    (error: unknown) => error,
  );
  expect(outcome).toBeInstanceOf(SetError);
  const error = outcome as SetError;
  // A refusal never echoes the SET or the bearer token.
  expect(error.description).not.toContain(token.slice(0, 40));
  expect(error.description).not.toContain(BEARER);
  return error;
}

async function expectErr(token: string, err: string, pattern: RegExp, options: Delivery = {}) {
  const error = await refusal(token, options);
  expect(error.err).toBe(err);
  expect(error.description).toMatch(pattern);
  expect(error.status).toBe(400);
}

describe("verifySet accepts", () => {
  it("an RS256 session-revoked SET with an iss_sub sub_id, as that subject of the issuer", async () => {
    const payload = claims();
    const trigger = await deliver(jws(payload));
    expect(trigger).toEqual({
      kind: "ssf-caep",
      target: { issuer: ISSUER, subject: "user-1", sid: undefined },
      jti: payload.jti,
      claim: { key: expect.stringMatching(/^[0-9a-f]{64}$/), owner: expect.any(String) },
    });
  });

  it.each(["PS256", "ES256", "EdDSA"] as const)("a SET signed with %s", async (alg) => {
    const trigger = await deliver(jws(claims(), { alg }));
    expect(trigger.target.subject).toBe("user-1");
  });

  it('the "application/secevent+jwt" typ, a media type with parameters and an aud array naming us', async () => {
    const token = jws(claims({ aud: ["https://other.example", AUDIENCE] }), {
      header: { typ: "application/secevent+jwt" },
    });
    const trigger = await deliver(token, {
      contentType: "Application/SecEvent+JWT; charset=utf-8",
    });
    expect(trigger.target.subject).toBe("user-1");
  });

  it("an email sub_id as email:<address> under the transmitter's issuer, domain lower-cased", async () => {
    const trigger = await deliver(
      jws(claims({ sub_id: { format: "email", email: "Jane.Doe@Example.COM" } })),
    );
    expect(trigger.target).toEqual({
      issuer: ISSUER,
      subject: "email:Jane.Doe@example.com",
      sid: undefined,
    });
  });

  it("an opaque sub_id as opaque:<id> under the transmitter's issuer", async () => {
    const trigger = await deliver(jws(claims({ sub_id: { format: "opaque", id: "00u1dnq5" } })));
    expect(trigger.target).toEqual({ issuer: ISSUER, subject: "opaque:00u1dnq5", sid: undefined });
  });

  it("a complex sub_id: its user as the subject and its opaque session as the sid", async () => {
    const sub_id = {
      format: "complex",
      user: { format: "iss_sub", iss: ISSUER, sub: "user-2" },
      session: { format: "opaque", id: "sess-9" },
      tenant: { format: "opaque", id: "t-1" },
    };
    const trigger = await deliver(jws(claims({ sub_id })));
    expect(trigger.target).toEqual({ issuer: ISSUER, subject: "user-2", sid: "sess-9" });
  });

  it("a complex subject naming only a session", async () => {
    const sub_id = { format: "complex", session: { format: "opaque", id: "sess-3" } };
    const trigger = await deliver(jws(claims({ sub_id })));
    expect(trigger.target).toEqual({ issuer: ISSUER, subject: undefined, sid: "sess-3" });
  });

  it("the event's own subject (CAEP before SSF 1.0), a complex one without its format member", async () => {
    const events = {
      [SESSION_REVOKED]: {
        subject: {
          session: { format: "opaque", id: "sess-4" },
          user: { format: "email", email: "a@b.example" },
        },
      },
    };
    const trigger = await deliver(jws(claims({ sub_id: undefined, events })));
    expect(trigger.target).toEqual({ issuer: ISSUER, subject: "email:a@b.example", sid: "sess-4" });
  });

  it("a sub_id and an event subject that name the same subject", async () => {
    const subject = { format: "iss_sub", iss: ISSUER, sub: "user-1" };
    const trigger = await deliver(jws(claims({ events: { [SESSION_REVOKED]: { subject } } })));
    expect(trigger.target.subject).toBe("user-1");
  });

  it("an iss_sub of another issuer that the transmitter is configured to speak for", async () => {
    const other = "https://upstream-idp.example.org";
    const token = jws(claims({ sub_id: { format: "iss_sub", iss: other, sub: "u-5" } }));
    const trigger = await deliver(token, {
      transmitter: transmitter({ subjectIssuers: [ISSUER, other] }),
    });
    expect(trigger.target).toEqual({ issuer: other, subject: "u-5", sid: undefined });
  });
});

describe("verifySet refuses with authentication_failed", () => {
  it("a request without an Authorization header", async () => {
    await expectErr(jws(claims()), "authentication_failed", /Authorization: Bearer/, {
      authorization: null,
    });
  });

  it("a bearer token that is not the transmitter's", async () => {
    await expectErr(jws(claims()), "authentication_failed", /not this transmitter's/, {
      authorization: "Bearer someone-else",
    });
  });

  it("the right token under another scheme", async () => {
    await expectErr(jws(claims()), "authentication_failed", /Bearer/, {
      authorization: `Basic ${BEARER}`,
    });
  });
});

describe("verifySet refuses with invalid_request", () => {
  it("another media type", async () => {
    await expectErr(jws(claims()), "invalid_request", /Content-Type/, {
      contentType: "application/jwt",
    });
    await expectErr(jws(claims()), "invalid_request", /Content-Type/, { contentType: null });
  });

  it("a body that is not a compact JWS, and an encrypted SET", async () => {
    await expectErr("abc.def", "invalid_request", /not a compact JWS/);
    await expectErr("a.b.c.d.e", "invalid_request", /encrypted/);
    await expectErr("!!.e30.sig", "invalid_request", /header is not base64url/);
  });

  it('a header without typ, or with a typ other than "secevent+jwt"', async () => {
    await expectErr(jws(claims(), { header: { typ: undefined } }), "invalid_request", /typ/);
    await expectErr(jws(claims(), { header: { typ: "JWT" } }), "invalid_request", /typ/);
    await expectErr(jws(claims(), { header: { typ: "logout+jwt" } }), "invalid_request", /typ/);
  });

  it("a SET without iss", async () => {
    await expectErr(jws(claims({ iss: undefined })), "invalid_request", /"iss"/);
  });

  it("a SET without iat, too old, or from the future beyond the skew", async () => {
    await expectErr(jws(claims({ iat: undefined })), "invalid_request", /"iat"/);
    await expectErr(
      jws(claims({ iat: NOW / 1000 - 3001 })),
      "invalid_request",
      /iat is more than 3000 s old/,
    );
    await expectErr(
      jws(claims({ iat: NOW / 1000 + 61 })),
      "invalid_request",
      /iat is in the future/,
    );
  });

  it("a SET within the skew ahead is accepted, so the future check is the bound", async () => {
    expect((await deliver(jws(claims({ iat: NOW / 1000 + 59 })))).target.subject).toBe("user-1");
  });

  it("a SET without jti, or with an empty one", async () => {
    await expectErr(jws(claims({ jti: undefined })), "invalid_request", /"jti"/);
    await expectErr(jws(claims({ jti: "" })), "invalid_request", /"jti"/);
  });

  it('a SET carrying "exp" or "sub" (SSF 1.0 §4.1)', async () => {
    await expectErr(jws(claims({ exp: NOW / 1000 + 300 })), "invalid_request", /"exp"/);
    await expectErr(jws(claims({ sub: "user-1" })), "invalid_request", /"sub"/);
  });

  it("events missing, without the session-revoked member, or that member not an object", async () => {
    await expectErr(jws(claims({ events: undefined })), "invalid_request", /"events"/);
    const other = { "https://schemas.openid.net/secevent/caep/event-type/credential-change": {} };
    await expectErr(
      jws(claims({ events: other })),
      "invalid_request",
      /no CAEP session-revoked event/,
    );
    await expectErr(
      jws(claims({ events: { [SESSION_REVOKED]: "yes" } })),
      "invalid_request",
      /must be a JSON object/,
    );
  });

  it("an event_timestamp that is not a number, an initiating_entity CAEP does not define", async () => {
    const stamp = { [SESSION_REVOKED]: { event_timestamp: "yesterday" } };
    await expectErr(jws(claims({ events: stamp })), "invalid_request", /event_timestamp/);
    const entity = { [SESSION_REVOKED]: { initiating_entity: "attacker" } };
    await expectErr(jws(claims({ events: entity })), "invalid_request", /initiating_entity/);
  });

  it("no subject at all, and a sub_id and event subject that disagree", async () => {
    await expectErr(jws(claims({ sub_id: undefined })), "invalid_request", /names no subject/);
    const events = {
      [SESSION_REVOKED]: { subject: { format: "iss_sub", iss: ISSUER, sub: "user-9" } },
    };
    await expectErr(jws(claims({ events })), "invalid_request", /different subjects/);
  });

  it("a subject format the proxy cannot map, and members missing or empty", async () => {
    const phone = { format: "phone_number", phone_number: "+12065550100" };
    await expectErr(
      jws(claims({ sub_id: phone })),
      "invalid_request",
      /sub_id\.format "phone_number"/,
    );
    await expectErr(
      jws(claims({ sub_id: { format: "iss_sub", iss: ISSUER } })),
      "invalid_request",
      /sub_id\.sub/,
    );
    await expectErr(
      jws(claims({ sub_id: { format: "opaque", id: "" } })),
      "invalid_request",
      /sub_id\.id/,
    );
    await expectErr(
      jws(claims({ sub_id: { format: "email", email: "nobody" } })),
      "invalid_request",
      /sub_id\.email/,
    );
    await expectErr(
      jws(claims({ sub_id: "user-1" })),
      "invalid_request",
      /sub_id must be a JSON object/,
    );
    await expectErr(jws(claims({ sub_id: { id: "x" } })), "invalid_request", /sub_id\.format/);
  });

  it("a complex subject with neither user nor session, or a session that is not opaque", async () => {
    const device = { format: "complex", device: { format: "opaque", id: "d-1" } };
    await expectErr(
      jws(claims({ sub_id: device })),
      "invalid_request",
      /neither a user nor a session/,
    );
    const session = { format: "complex", session: { format: "email", email: "a@b.example" } };
    await expectErr(
      jws(claims({ sub_id: session })),
      "invalid_request",
      /session must be an opaque/,
    );
  });
});

describe("verifySet refuses with invalid_key", () => {
  it('an unsigned SET ("alg": "none") and an HMAC-signed one', async () => {
    const none = `${b64url({ alg: "none", typ: "secevent+jwt" })}.${b64url(claims())}.`;
    await expectErr(none, "invalid_key", /algorithm is not one of/);
    const input = `${b64url({ alg: "HS256", typ: "secevent+jwt" })}.${b64url(claims())}`;
    const mac = createHmac("sha256", "secret").update(input).digest("base64url");
    await expectErr(`${input}.${mac}`, "invalid_key", /algorithm is not one of/);
  });

  it("none and HMAC even when the transmitter's configured list names them", async () => {
    const careless = transmitter({ algorithms: ["none", "HS256", "RS256"] });
    const input = `${b64url({ alg: "HS256", kid: "rsa-1", typ: "secevent+jwt" })}.${b64url(claims())}`;
    const mac = createHmac("sha256", "secret").update(input).digest("base64url");
    await expectErr(`${input}.${mac}`, "invalid_key", /algorithm is not one of RS256$/, {
      transmitter: careless,
    });
  });

  it("an algorithm left out of the transmitter's list", async () => {
    await expectErr(jws(claims(), { alg: "RS384" }), "invalid_key", /algorithm is not one of/);
    await expectErr(jws(claims(), { alg: "EdDSA" }), "invalid_key", /algorithm is not one of/, {
      transmitter: transmitter({ algorithms: ["RS256"] }),
    });
  });

  it("a signature made with another key under the transmitter's kid", async () => {
    await expectErr(
      jws(claims(), { key: stranger.privateKey }),
      "invalid_key",
      /signature does not verify/,
    );
  });

  it("a kid the key set does not hold", async () => {
    await expectErr(jws(claims(), { kid: "rsa-2" }), "invalid_key", /no single key/);
  });

  it("a payload changed after signing", async () => {
    const [header, , signature] = jws(claims()).split(".");
    const changed = `${header}.${b64url(claims({ sub_id: { format: "opaque", id: "victim" } }))}.${signature}`;
    await expectErr(changed, "invalid_key", /signature does not verify/);
  });
});

describe("verifySet refuses with invalid_issuer, invalid_audience, access_denied", () => {
  it("a SET of another issuer, signed with that issuer's own key", async () => {
    await expectErr(jws(claims({ iss: "https://evil.example/" })), "invalid_issuer", /iss/);
    const foreign = jws(claims({ iss: "https://evil.example/" }), {
      kid: "evil-1",
      key: stranger.privateKey,
    });
    await expectErr(foreign, "invalid_issuer", /iss/);
  });

  it("a SET for another receiver, an aud array without us, and no aud", async () => {
    await expectErr(jws(claims({ aud: "https://other.example" })), "invalid_audience", /aud/);
    await expectErr(
      jws(claims({ aud: ["https://a.example", "https://b.example"] })),
      "invalid_audience",
      /aud/,
    );
    await expectErr(jws(claims({ aud: undefined })), "invalid_audience", /aud/);
  });

  it("an iss_sub naming a subject of an issuer the transmitter does not speak for", async () => {
    const sub_id = { format: "iss_sub", iss: "https://other-idp.example", sub: "ceo" };
    await expectErr(jws(claims({ sub_id })), "access_denied", /may not end sessions/);
    const complex = { format: "complex", user: sub_id };
    await expectErr(jws(claims({ sub_id: complex })), "access_denied", /may not end sessions/);
  });
});

describe("verifySet and its jti", () => {
  it("refuses a jti already accepted from this transmitter, as a DuplicateSet", async () => {
    const replay = new MemoryReplayGuard({ now: () => NOW });
    const token = jws(claims());
    await deliver(token, { replay });
    const error = await refusal(token, { replay });
    expect(error).toBeInstanceOf(DuplicateSet);
    expect(error.err).toBe("invalid_request");
    // A different SET with the same jti is the same delivery too.
    const again = jws(
      claims({
        jti: JSON.parse(Buffer.from(token.split(".")[1] as string, "base64url").toString()).jti,
      }),
    );
    expect(await refusal(again, { replay })).toBeInstanceOf(DuplicateSet);
  });

  it("holds the jti until the SET's iat is out of the window", async () => {
    const held: number[] = [];
    const keys: string[] = [];
    const replay: ReplayGuard = {
      claim: async (key, _owner, holdMs) => {
        held.push(holdMs);
        keys.push(key);
        return true;
      },
      release: async () => {},
    };
    await deliver(jws(claims({ iat: NOW / 1000 - 100 })), { replay });
    expect(held).toEqual([(3000 + 60 - 100) * 1000]);
    // Within the hour every replay guard can hold a key for, under a key of the form they take.
    expect(held[0]).toBeLessThanOrEqual(3_600_000);
    expect(keys[0]).toMatch(/^[0-9a-f]{64}$/);
  });

  it("a refused SET does not claim its jti", async () => {
    const replay = new MemoryReplayGuard({ now: () => NOW });
    const payload = claims();
    await expectErr(jws({ ...payload, aud: "https://other.example" }), "invalid_audience", /aud/, {
      replay,
    });
    expect(replay.size).toBe(0);
    expect((await deliver(jws(payload), { replay })).jti).toBe(payload.jti);
  });
});

describe("verifySet when the proxy cannot check", () => {
  it("answers SetUnavailable when the replay guard is unreachable", async () => {
    const replay: ReplayGuard = {
      claim: async () => {
        throw new Error("down");
      },
      release: async () => {},
    };
    await expect(deliver(jws(claims()), { replay })).rejects.toBeInstanceOf(SetUnavailable);
  });

  it("answers SetUnavailable when the key set cannot be downloaded", async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, "127.0.0.1", resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const outcome = deliver(jws(claims()), {
      transmitter: transmitter({ jwksUrl: `http://127.0.0.1:${port}/jwks` }),
    });
    await expect(outcome).rejects.toBeInstanceOf(SetUnavailable);
  });
});
