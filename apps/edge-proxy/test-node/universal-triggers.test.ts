// Universal logout's other two triggers through the entries and their durable stores: a Shared Signals
// session-revoked SET (RFC 8935 push) and a Global Token Revocation request, built with node:crypto,
// on Node (SQLite), Bun (SQLite) and Deno (Deno KV).
import { createHash, generateKeyPairSync, randomUUID, sign } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  json,
  type RunningEntry,
  type Runtime,
  type Simulators,
  startEntry,
  startSimulators,
} from "./harness.ts";

const SESSION_REVOKED = "https://schemas.openid.net/secevent/caep/event-type/session-revoked";
const AUDIENCE = "https://proxy.example/ssf";
const SSF_BEARER = `ssf-${randomUUID()}`;
const GTR_BEARER = `gtr-${randomUUID()}`;
const GTR_ISSUER = "https://okta.example";
const POLLS = 200;

const keys = generateKeyPairSync("ec", { namedCurve: "P-256" });
const stranger = generateKeyPairSync("ec", { namedCurve: "P-256" });
const digest = (text: string) => createHash("sha256").update(text).digest("hex");
const b64url = (value: unknown) => Buffer.from(JSON.stringify(value)).toString("base64url");

/** A SET signed with node:crypto (ES256), as a transmitter would make it. */
function set(issuer: string, payload: Record<string, unknown>, key = keys.privateKey): string {
  const input = `${b64url({ alg: "ES256", kid: "k1", typ: "secevent+jwt" })}.${b64url({
    iss: issuer,
    aud: AUDIENCE,
    iat: Math.floor(Date.now() / 1000),
    jti: randomUUID(),
    ...payload,
  })}`;
  const signature = sign("sha256", Buffer.from(input), { key, dsaEncoding: "ieee-p1363" });
  return `${input}.${signature.toString("base64url")}`;
}

async function until(what: string, check: () => boolean): Promise<void> {
  for (let i = 0; i < POLLS && !check(); i++) await new Promise((r) => setTimeout(r, 100));
  if (!check()) throw new Error(`still not so: ${what}`);
}

describe.each<Runtime>(["node", "bun", "deno"])("on %s and its durable store", (runtime) => {
  let simulators: Simulators;
  let jwks: Server;
  let issuer: string;
  let proxy: RunningEntry;

  beforeAll(async () => {
    simulators = await startSimulators({ capacity: 20 });
    jwks = createServer((_request, response) => {
      response.writeHead(200, { "content-type": "application/json" });
      response.end(
        JSON.stringify({ keys: [{ ...keys.publicKey.export({ format: "jwk" }), kid: "k1" }] }),
      );
    });
    await new Promise<void>((resolve) => jwks.listen(0, "127.0.0.1", resolve));
    issuer = `http://127.0.0.1:${(jwks.address() as AddressInfo).port}`;
    // No PROXY_STORE: the entry's default durable store (SQLite, or Deno KV on Deno).
    proxy = await startEntry(runtime, {
      ...simulators.env,
      UNIVERSAL_LOGOUT_SSF: JSON.stringify([
        {
          issuer,
          jwksUrl: `${issuer}/jwks`,
          audience: AUDIENCE,
          bearerSha256: digest(SSF_BEARER),
        },
      ]),
      UNIVERSAL_LOGOUT_GTR: JSON.stringify([
        { issuer: GTR_ISSUER, bearerSha256: digest(GTR_BEARER) },
      ]),
      LOGOUT_RETRY_BASE_MS: "200",
      LOGOUT_RETRY_MAX_DELAY_MS: "1000",
    });
  }, 90_000);

  afterAll(async () => {
    await proxy?.stop();
    await new Promise<void>((resolve) => (jwks ? jwks.close(() => resolve()) : resolve()));
    await simulators?.close();
  });

  const lancens = () =>
    (
      simulators.sims as unknown as {
        lancens: { isTokenValid(t: string): boolean; calls: unknown[] };
      }
    ).lancens;

  async function register(at: string, subject: string): Promise<{ token: string; id: string }> {
    const session = (await simulators.session("lancens")) as { username: string; token: string };
    const response = await fetch(`${proxy.url}/v1/sessions`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${simulators.apiKey}` },
      body: JSON.stringify({ issuer: at, subject, lancens: session }),
    });
    const body = await json(response);
    expect(response.status, JSON.stringify(body)).toBe(201);
    return { token: session.token, id: body.id as string };
  }

  const push = (body: string, bearer = SSF_BEARER) =>
    fetch(`${proxy.url}/v1/ssf/events`, {
      method: "POST",
      headers: { "content-type": "application/secevent+jwt", authorization: `Bearer ${bearer}` },
      body,
    });

  it("ends a subject's sessions on a session-revoked SET, once however often it is delivered", async () => {
    const { token } = await register(issuer, "user-7");
    const other = await register(issuer, "user-8");
    const event = set(issuer, {
      sub_id: { format: "iss_sub", iss: issuer, sub: "user-7" },
      events: { [SESSION_REVOKED]: { initiating_entity: "admin" } },
    });
    const accepted = await push(event);
    expect(accepted.status, await accepted.text()).toBe(202);
    await until("the Lancens session ended", () => !lancens().isTokenValid(token));
    const calls = lancens().calls.length;
    // Delivered again (its answer was lost): acknowledged, nothing queued twice.
    expect((await push(event)).status).toBe(202);
    await new Promise((r) => setTimeout(r, 500));
    expect(lancens().calls.length).toBe(calls);
    // Another subject's session is untouched.
    expect(lancens().isTokenValid(other.token)).toBe(true);
  }, 60_000);

  it("refuses a SET by RFC 8935's codes and ends nothing", async () => {
    const { token } = await register(issuer, "user-9");
    const payload = {
      sub_id: { format: "iss_sub", iss: issuer, sub: "user-9" },
      events: { [SESSION_REVOKED]: {} },
    };
    const cases: [Response, string][] = [
      [await push(set(issuer, payload), "not-the-bearer"), "authentication_failed"],
      [await push(set(issuer, payload, stranger.privateKey)), "invalid_key"],
      [await push(set("https://elsewhere.example", payload)), "invalid_issuer"],
      [await push(set(issuer, { ...payload, aud: "https://other.example" })), "invalid_audience"],
      [await push(set(issuer, { ...payload, events: {} })), "invalid_request"],
    ];
    for (const [response, err] of cases) {
      expect(response.status).toBe(400);
      expect(await json(response)).toMatchObject({ err });
    }
    expect(lancens().isTokenValid(token)).toBe(true);
  }, 60_000);

  const revoke = (subId: unknown, bearer = GTR_BEARER, type = "application/json") =>
    fetch(`${proxy.url}/v1/global-token-revocation`, {
      method: "POST",
      headers: { "content-type": type, authorization: `Bearer ${bearer}` },
      body: JSON.stringify({ sub_id: subId }),
    });

  it("answers Global Token Revocation as the draft says: 204 queued, 404 unknown, 401, 403, 400", async () => {
    const { token } = await register(GTR_ISSUER, "email:alice@example.com");
    const done = await revoke({ format: "email", email: "alice@EXAMPLE.com" });
    expect(done.status, await done.text()).toBe(204);
    await until("the Lancens session ended", () => !lancens().isTokenValid(token));
    expect((await revoke({ format: "email", email: "alice@example.com" })).status).toBe(404);
    expect((await revoke({ format: "opaque", id: "nobody" })).status).toBe(404);
    expect((await revoke({ format: "opaque", id: "x" }, "wrong")).status).toBe(401);
    expect(
      (await revoke({ format: "iss_sub", iss: "https://other.example", sub: "x" })).status,
    ).toBe(403);
    expect((await revoke({ format: "phone_number", phone_number: "+1" })).status).toBe(400);
    expect((await revoke({ format: "opaque", id: "x" }, GTR_BEARER, "text/plain")).status).toBe(
      400,
    );
  }, 60_000);
});

describe("a vendor turned off after its sessions were registered", () => {
  it("answers Global Token Revocation 422 and refuses new registrations at it by name", async () => {
    const simulators = await startSimulators({ capacity: 5 });
    const dataDir = await mkdtemp(join(tmpdir(), "edge-proxy-universal-"));
    const env: Record<string, string> = {
      ...simulators.env,
      PROXY_DATA_DIR: dataDir,
      UNIVERSAL_LOGOUT_GTR: JSON.stringify([
        { issuer: GTR_ISSUER, bearerSha256: digest(GTR_BEARER) },
      ]),
    };
    try {
      let proxy = await startEntry("node", env);
      const session = await simulators.session("lancens");
      const registered = await fetch(`${proxy.url}/v1/sessions`, {
        method: "POST",
        headers: {
          "content-type": "application/json",
          authorization: `Bearer ${simulators.apiKey}`,
        },
        body: JSON.stringify({ issuer: GTR_ISSUER, subject: "opaque:u-1", lancens: session }),
      });
      expect(registered.status).toBe(201);
      await proxy.stop();
      // The same store, Lancens now off.
      const { LANCENS_BASE_URL: _off, ...without } = env;
      proxy = await startEntry("node", without);
      try {
        const answer = await fetch(`${proxy.url}/v1/global-token-revocation`, {
          method: "POST",
          headers: { "content-type": "application/json", authorization: `Bearer ${GTR_BEARER}` },
          body: JSON.stringify({ sub_id: { format: "opaque", id: "u-1" } }),
        });
        expect(answer.status).toBe(422);
        expect(await json(answer)).toMatchObject({ error: "unable_to_log_out" });
        const refused = await fetch(`${proxy.url}/v1/sessions`, {
          method: "POST",
          headers: {
            "content-type": "application/json",
            authorization: `Bearer ${simulators.apiKey}`,
          },
          body: JSON.stringify({ issuer: GTR_ISSUER, subject: "opaque:u-2", lancens: session }),
        });
        expect(refused.status).toBe(404);
        expect(await json(refused)).toMatchObject({
          code: "VENDOR_NOT_CONFIGURED",
          vendor: "lancens",
        });
      } finally {
        await proxy.stop();
      }
    } finally {
      await simulators.close();
      await rm(dataDir, { recursive: true, force: true });
    }
  }, 90_000);
});
