// Redirects: none of the client's three calls follows one, over real HTTP with the global fetch.
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { generateKeyPair, type RsaPrivateKey } from "@x/core-signing/rsa";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { OneAccessClient } from "../src/client.ts";
import type { OneAccessError } from "../src/errors.ts";
import { PATHS } from "../src/requests.ts";
import { createOneAccessSimulator, type OneAccessSimulator } from "../src/testing/index.ts";
import { DEVICE, rejection } from "./support.ts";

const REDIRECTS = [301, 302, 303, 307, 308] as const;
/** What the redirect's query carries back: it must reach no error. */
const QUERY_SECRET = "session_token=echoed-session-token";

interface Origin {
  url: string;
  /** Requests received, as "METHOD /path?query". */
  hits: string[];
  close(): Promise<void>;
}

async function listen(
  handle: (request: IncomingMessage, response: ServerResponse) => Promise<void>,
): Promise<Origin> {
  const hits: string[] = [];
  const server = createServer((request, response) => {
    hits.push(`${request.method} ${request.url}`);
    handle(request, response).catch((error: unknown) => {
      response.writeHead(500);
      response.end(String(error));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    hits,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

let key: RsaPrivateKey;
let sim: OneAccessSimulator;
let elsewhere: Origin;
let tenant: Origin;
/** The path the tenant answers with a redirect, and the status it uses. */
let moved: { path: string; status: number } | undefined;

beforeAll(async () => {
  key = await generateKeyPair(2048);
  elsewhere = await listen(async (_, response) => {
    response.writeHead(200, { "content-type": "application/json" });
    response.end(JSON.stringify({ timestamp: "1700000000000", public_key: "elsewhere's key" }));
  });
  // The tenant: the simulator over HTTP, except for the one path that moved to another origin.
  tenant = await listen(async (request, response) => {
    const path = (request.url ?? "/").split("?")[0];
    if (moved && path === moved.path) {
      response.writeHead(moved.status, { location: `${elsewhere.url}${path}?${QUERY_SECRET}` });
      response.end();
      return;
    }
    const headers = new Headers();
    for (const [name, value] of Object.entries(request.headers)) {
      if (typeof value === "string") headers.set(name, value);
    }
    const answer = await sim.fetch(new Request(`${tenant.url}${request.url}`, { headers }));
    response.writeHead(answer.status, Object.fromEntries(answer.headers));
    response.end(Buffer.from(await answer.arrayBuffer()));
  });
});
afterAll(async () => {
  await Promise.all([tenant.close(), elsewhere.close()]);
});
beforeEach(async () => {
  sim = await createOneAccessSimulator({ privateKey: key });
  moved = undefined;
  tenant.hits.length = 0;
  elsewhere.hits.length = 0;
});

/** A client on the real global fetch: no `fetch` option. */
function client(): OneAccessClient {
  return new OneAccessClient({ baseUrl: tenant.url, clientId: sim.options.clientId });
}

function expectRedirect(error: OneAccessError, status: number): void {
  expect(error).toMatchObject({
    code: "REDIRECT",
    kind: "upstream",
    retryable: false,
    upstreamStatus: status,
  });
  expect(error.message).toContain(`HTTP ${status}`);
  const shown = `${error.message} ${JSON.stringify(error)}`;
  expect(shown).not.toContain(QUERY_SECRET);
  expect(shown).not.toContain("echoed-session-token");
  expect(elsewhere.hits).toEqual([]);
}

describe("a redirect to another origin", () => {
  it.each(REDIRECTS)(
    "on logout (%i): an error, the signature never leaves, not retried",
    async (status) => {
      const oa = client();
      await oa.serverDate();
      await oa.publicKey();
      moved = { path: PATHS.logout, status };
      const sessionToken = sim.issueSession();
      expectRedirect(await rejection(oa.logout({ sessionToken, device: DEVICE })), status);
      expect(tenant.hits.filter((hit) => hit.startsWith(`GET ${PATHS.logout}`))).toHaveLength(1);
      expect(sim.hasSession(sessionToken)).toBe(true);
    },
  );

  it.each(REDIRECTS)(
    "on server-date (%i): an error, and no clock offset taken from it",
    async (status) => {
      moved = { path: PATHS.serverDate, status };
      const oa = client();
      expectRedirect(await rejection(oa.serverDate()), status);
      expect(oa.state.clockOffsetMs).toBeUndefined();
    },
  );

  it.each(REDIRECTS)(
    "on public-key (%i): an error, and no key taken from another origin",
    async (status) => {
      moved = { path: PATHS.publicKey, status };
      const oa = client();
      expectRedirect(await rejection(oa.publicKey()), status);
      expectRedirect(
        await rejection(oa.logout({ sessionToken: sim.issueSession(), device: DEVICE })),
        status,
      );
      expect(oa.state.publicKey).toBeUndefined();
      expect(sim.count(PATHS.logout)).toBe(0);
    },
  );

  it("leaves the client working once the tenant answers again", async () => {
    moved = { path: PATHS.publicKey, status: 302 };
    const oa = client();
    await rejection(oa.publicKey());
    moved = undefined;
    const sessionToken = sim.issueSession();
    expect(await oa.logout({ sessionToken, device: DEVICE })).toEqual({ body: "success" });
    expect(sim.hasSession(sessionToken)).toBe(false);
  });
});
