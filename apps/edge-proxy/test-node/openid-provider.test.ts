// The oidc-provider harness: its sign-out makes the provider itself POST a signed logout token to each client's receiver.
import { createPublicKey, type JsonWebKey, verify } from "node:crypto";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { type OpenIdProvider, startOpenIdProvider } from "./openid-provider.ts";

const EVENT = "http://schemas.openid.net/event/backchannel-logout";

interface Received {
  path: string;
  method: string;
  contentType: string | undefined;
  body: string;
}

let receiver: Server;
let receiverBase: string;
let received: Received[] = [];
let op: OpenIdProvider;

beforeAll(async () => {
  receiver = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      const path = req.url ?? "";
      received.push({
        path,
        method: req.method ?? "",
        contentType: req.headers["content-type"],
        body: Buffer.concat(chunks).toString("utf8"),
      });
      res.writeHead(path === "/refuses" ? 500 : 200, { "cache-control": "no-store" });
      res.end();
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, "127.0.0.1", resolve));
  receiverBase = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}`;
  op = await startOpenIdProvider({
    clients: [
      { clientId: "portal", backchannelLogoutUri: `${receiverBase}/portal` },
      {
        clientId: "shop",
        backchannelLogoutUri: `${receiverBase}/shop`,
        idTokenSignedResponseAlg: "ES256",
      },
      {
        clientId: "no-sid",
        backchannelLogoutUri: `${receiverBase}/no-sid`,
        backchannelLogoutSessionRequired: false,
      },
      { clientId: "refuses", backchannelLogoutUri: `${receiverBase}/refuses` },
    ],
  });
});

afterAll(async () => {
  await op?.close();
  await new Promise<void>((resolve) => (receiver ? receiver.close(() => resolve()) : resolve()));
});

beforeEach(() => {
  received = [];
});

function part(jwt: string, index: number): Record<string, unknown> {
  return JSON.parse(
    Buffer.from(jwt.split(".")[index] ?? "", "base64url").toString("utf8"),
  ) as Record<string, unknown>;
}

/** The claims of `jwt` once its signature checks out against the provider's published key set. */
async function verified(
  jwt: string,
): Promise<{ header: Record<string, unknown>; claims: Record<string, unknown> }> {
  const header = part(jwt, 0);
  const jwks = (await (await fetch(op.jwksUrl, { signal: AbortSignal.timeout(5_000) })).json()) as {
    keys: (JsonWebKey & { kid: string; alg?: string })[];
  };
  const jwk = jwks.keys.find((key) => key.kid === header.kid);
  if (jwk === undefined) throw new Error(`no published key has kid ${String(header.kid)}`);
  expect(jwk).not.toHaveProperty("d");
  const key = createPublicKey({ key: jwk, format: "jwk" });
  const [h = "", p = "", s = ""] = jwt.split(".");
  const data = Buffer.from(`${h}.${p}`);
  const signature = Buffer.from(s, "base64url");
  const ok =
    header.alg === "RS256"
      ? verify("sha256", data, key, signature)
      : header.alg === "ES256"
        ? verify("sha256", data, { key, dsaEncoding: "ieee-p1363" }, signature)
        : false;
  if (!ok) throw new Error(`the ${String(header.alg)} signature does not verify`);
  return { header, claims: part(jwt, 1) };
}

/** The one logout token POSTed to `path`, after checking the request is a form with nothing else in it. */
function logoutTokenAt(path: string): string {
  const posts = received.filter((r) => r.path === path);
  expect(posts).toHaveLength(1);
  const [post] = posts;
  expect(post?.method).toBe("POST");
  expect(post?.contentType).toBe("application/x-www-form-urlencoded");
  const form = new URLSearchParams(post?.body);
  expect([...form.keys()]).toEqual(["logout_token"]);
  return form.get("logout_token") ?? "";
}

describe("a real OpenID Provider on 127.0.0.1", () => {
  it("publishes discovery with its issuer, back-channel logout with sid, and the key set", async () => {
    const doc = (await (
      await fetch(op.discoveryUrl, { signal: AbortSignal.timeout(5_000) })
    ).json()) as Record<string, unknown>;
    expect(doc.issuer).toBe(op.issuer);
    expect(op.issuer).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(doc.jwks_uri).toBe(op.jwksUrl);
    expect(doc.backchannel_logout_supported).toBe(true);
    expect(doc.backchannel_logout_session_supported).toBe(true);
    expect(doc.end_session_endpoint).toEqual(expect.any(String));
  });

  it("signs in through the code flow and, on sign-out, POSTs one signed logout token for that session", async () => {
    const session = await op.signIn("portal", "alice");
    expect(session.sub).toBe("alice");
    expect(session.sid).toEqual(expect.any(String));
    const idToken = await verified(session.idToken);
    expect(idToken.claims).toMatchObject({
      iss: op.issuer,
      aud: "portal",
      sub: "alice",
      sid: session.sid,
    });
    expect(received).toEqual([]);

    const deliveries = await op.signOut(session);

    expect(deliveries).toEqual([{ clientId: "portal", sid: session.sid, ok: true }]);
    expect(received).toHaveLength(1);
    const { header, claims } = await verified(logoutTokenAt("/portal"));
    expect(header.alg).toBe("RS256");
    expect(header.typ).toBe("logout+jwt");
    expect(claims.iss).toBe(op.issuer);
    expect([claims.aud].flat()).toEqual(["portal"]);
    expect(claims.sub).toBe(session.sub);
    expect(claims.sid).toBe(session.sid);
    expect(claims.events).toEqual({ [EVENT]: {} });
    expect(claims).not.toHaveProperty("nonce");
    expect(claims.jti).toEqual(expect.any(String));
    expect(claims.iat).toEqual(expect.any(Number));
    expect(claims.exp).toBeGreaterThan(claims.iat as number);
  });

  it("ends the provider session: signing in again in that browser asks for the account anew", async () => {
    const first = await op.signIn("portal", "bob");
    await op.signOut(first);
    const again = await op.signIn("portal", "carol", first.browser);
    expect(again.sub).toBe("carol");
    expect(again.sid).not.toBe(first.sid);
    await op.signOut(again);
  });

  it("sends a second client of the same session its own token, signed ES256 as that client registered", async () => {
    const portal = await op.signIn("portal", "dora");
    const shop = await op.signIn("shop", "dora", portal.browser);
    expect(shop.sub).toBe("dora");
    expect(shop.sid).toEqual(expect.any(String));
    expect(part(shop.idToken, 0).alg).toBe("ES256");

    const deliveries = await op.signOut(portal);

    expect(deliveries).toHaveLength(2);
    expect(deliveries).toEqual(
      expect.arrayContaining([
        { clientId: "portal", sid: portal.sid, ok: true },
        { clientId: "shop", sid: shop.sid, ok: true },
      ]),
    );
    expect(received).toHaveLength(2);
    const toPortal = await verified(logoutTokenAt("/portal"));
    const toShop = await verified(logoutTokenAt("/shop"));
    expect(toPortal.header.alg).toBe("RS256");
    expect(toShop.header.alg).toBe("ES256");
    expect(toShop.header.typ).toBe("logout+jwt");
    expect(toPortal.claims).toMatchObject({ aud: "portal", sub: "dora", sid: portal.sid });
    expect(toShop.claims).toMatchObject({
      iss: op.issuer,
      aud: "shop",
      sub: "dora",
      sid: shop.sid,
    });
    expect(toShop.claims.events).toEqual({ [EVENT]: {} });
    expect(toShop.claims).not.toHaveProperty("nonce");
  });

  it("leaves out sid for a client that does not require the session", async () => {
    const session = await op.signIn("no-sid", "erin");
    expect(session.sid).toBeUndefined();
    expect(part(session.idToken, 1)).not.toHaveProperty("sid");

    await op.signOut(session);

    const { claims } = await verified(logoutTokenAt("/no-sid"));
    expect(claims).toMatchObject({
      iss: op.issuer,
      aud: "no-sid",
      sub: "erin",
      events: { [EVENT]: {} },
    });
    expect(claims).not.toHaveProperty("sid");
  });

  it("reports a receiver that refuses the logout token", async () => {
    const session = await op.signIn("refuses", "frank");
    const deliveries = await op.signOut(session);
    expect(received.map((r) => r.path)).toEqual(["/refuses"]);
    expect(deliveries).toEqual([
      { clientId: "refuses", sid: session.sid, ok: false, error: expect.stringContaining("500") },
    ]);
  });

  it("refuses to sign out a session that already ended, and sends nothing", async () => {
    const session = await op.signIn("portal", "gina");
    await op.signOut(session);
    received = [];
    await expect(op.signOut(session)).rejects.toThrow("without the logout form");
    expect(received).toEqual([]);
  });

  it("refuses an unknown client and a receiver off this machine, naming the field", async () => {
    await expect(op.signIn("nobody", "alice")).rejects.toThrow("clientId nobody is not registered");
    await expect(
      startOpenIdProvider({
        clients: [{ clientId: "far", backchannelLogoutUri: "https://rp.example/logout" }],
      }),
    ).rejects.toThrow(
      "clients[0].backchannelLogoutUri must be an http(s) URL on 127.0.0.1 or [::1]",
    );
  });
});
