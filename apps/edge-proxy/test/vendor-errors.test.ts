// Every vendor's error families through the proxy: status, code, kind, retryable, upstreamStatus and
// the number of upstream calls, as each route's retry rule says.
import { createFunGameSimulator } from "@x/fungame/testing";
import { PATHS } from "@x/sdk-auth";
import { describe, expect, it } from "vitest";
import { ConfigError, loadConfig } from "../src/config.ts";
import { DEFAULT_RETRY } from "../src/upstream.ts";
import { type FunGameConfig, tokenReason } from "../src/vendors/fungame.ts";

const MAX_RETRIES = DEFAULT_RETRY.maxRetries;

import {
  API_KEY,
  baseEnv,
  createHarness,
  DEVICE,
  type Harness,
  HOSTS,
  readProblem,
} from "./harness.ts";

interface Expected {
  status: number;
  code: string | number;
  kind: string;
  retryable: boolean;
  upstreamStatus: number | null;
}

const ALL_ATTEMPTS = 1 + MAX_RETRIES;

const hostCalls = (h: Harness, host: string) =>
  h.upstreamRequests.filter((requested) => requested === host).length;

/** eBET statuses (HTTP 200 with the status in the body), as the proxy reports them. */
const EBET_CODES: [code: number, kind: string, status: number, retryable: boolean][] = [
  [202, "misconfigured", 500, false],
  [401, "unauthorized", 401, false],
  [500, "unavailable", 503, true],
  [505, "unavailable", 503, true],
  [4029, "misconfigured", 500, false],
  [4030, "invalid_request", 400, false],
  [4038, "rate_limited", 429, true],
  [4202, "rate_limited", 429, false],
  [5003, "not_found", 404, false],
  [5011, "upstream", 502, false],
];

/** Only 505 and 4038 refuse a login notification before eBET acts on it: the retryable refusals. */
const CALLBACK_RETRIED = new Set([505, 4038]);

describe("eBET status codes", () => {
  for (const [code, kind, status, retryable] of EBET_CODES) {
    for (const route of ["logout", "callback"] as const) {
      const attempts =
        retryable && (route === "logout" || CALLBACK_RETRIED.has(code)) ? ALL_ATTEMPTS : 1;
      it(`${route}, eBET ${code}: ${status} ${kind}, ${attempts} call(s)`, async () => {
        const h = await createHarness();
        h.sims.ebet.forceStatus(code, ALL_ATTEMPTS);
        const json =
          route === "logout"
            ? { username: "demo" }
            : { username: "demo", accessToken: "584c26e798deffc96cc7af073c184cd0" };
        const response = await h.request(`/v1/ebet/${route}`, { json, bearer: API_KEY });
        const expected: Expected = { status, code, kind, retryable, upstreamStatus: 200 };
        expect(await readProblem(response)).toMatchObject({ ...expected, vendor: "ebet" });
        expect(hostCalls(h, HOSTS.ebet)).toBe(attempts);
      });
    }
  }
});

describe("FunGame's newer 500 for a session already gone", () => {
  async function newerServer(env: Record<string, unknown> = {}) {
    const newer = createFunGameSimulator({ logoutFailureStatus: 500 });
    const h = await createHarness({
      env,
      wrapFetch: (router) => (request) =>
        new URL(request.url).hostname === HOSTS.fungame ? newer.fetch(request) : router(request),
    });
    const token = await newer.login("alice");
    newer.endSession("alice");
    return { h, token };
  }

  it("is a retryable upstream error by default", async () => {
    const { h, token } = await newerServer();
    const response = await h.request("/v1/fungame/logout", { method: "POST", bearer: token });
    const expected: Expected = {
      status: 502,
      code: 500,
      kind: "upstream",
      retryable: true,
      upstreamStatus: 500,
    };
    expect(await readProblem(response)).toMatchObject({ ...expected, vendor: "fungame" });
    expect(hostCalls(h, HOSTS.fungame)).toBe(ALL_ATTEMPTS);
    // The logout failed: nothing is listed.
    expect(await (await h.request("/v1/fungame/token-status", { bearer: token })).json()).toEqual({
      active: true,
      reason: "unverified",
    });
  });

  it("is already logged out with FUNGAME_TREAT_500_AS_LOGGED_OUT=true, in one call", async () => {
    const { h, token } = await newerServer({ FUNGAME_TREAT_500_AS_LOGGED_OUT: "true" });
    const response = await h.request("/v1/fungame/logout", { method: "POST", bearer: token });
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({
      vendor: "fungame",
      ok: true,
      alreadyLoggedOut: true,
      result: { denyListed: true, event: "user_logout" },
    });
    expect(hostCalls(h, HOSTS.fungame)).toBe(1);
    expect(h.logs.at(-1)).toMatchObject({ status: 200, upstreamStatus: 500, retries: 0 });
  });

  it("FUNGAME_TREAT_500_AS_LOGGED_OUT is off by default and refuses anything but true or false", async () => {
    const env = await baseEnv();
    expect(
      (loadConfig(env).vendors.get("fungame") as FunGameConfig | undefined)?.treat500AsLoggedOut,
    ).toBe(false);
    expect(
      (
        loadConfig({ ...env, FUNGAME_TREAT_500_AS_LOGGED_OUT: "false" }).vendors.get("fungame") as
          | FunGameConfig
          | undefined
      )?.treat500AsLoggedOut,
    ).toBe(false);
    let error: unknown;
    try {
      loadConfig({ ...env, FUNGAME_TREAT_500_AS_LOGGED_OUT: "yes" });
    } catch (thrown) {
      error = thrown;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).issues).toEqual([
      { name: "FUNGAME_TREAT_500_AS_LOGGED_OUT", message: 'must be "true" or "false", got "yes"' },
    ]);
  });
});

describe("OneAccess key rotation", () => {
  it("the cached key meets a signature error: the client refreshes key and clock and succeeds in one request", async () => {
    const h = await createHarness();
    const warm = await h.request("/v1/sdk-auth/logout", {
      json: { sessionToken: h.sims.sdkAuth.issueSession(), device: DEVICE },
    });
    expect(warm.status).toBe(200);
    await h.sims.sdkAuth.rotateKey();
    const before = h.sims.sdkAuth.calls.length;
    const sessionToken = h.sims.sdkAuth.issueSession();
    const response = await h.request("/v1/sdk-auth/logout", {
      json: { sessionToken, device: DEVICE },
    });
    expect(response.status).toBe(200);
    expect(h.sims.sdkAuth.hasSession(sessionToken)).toBe(false);
    const paths = h.sims.sdkAuth.calls.slice(before).map((call) => call.path);
    expect(paths[0]).toBe(PATHS.logout);
    expect(paths.at(-1)).toBe(PATHS.logout);
    expect(paths.slice(1, -1).sort()).toEqual([PATHS.publicKey, PATHS.serverDate].sort());
    // One proxy attempt: the refresh is the client's own.
    expect(h.logs.at(-1)).toMatchObject({ status: 200, retries: 0, upstreamStatus: 200 });
  });
});

describe("Lancens database codes and `no data error`", () => {
  const LANCENS = `${HOSTS.lancens}:6443`;
  const cases: [message: string, expected: Expected, attempts: number][] = [
    [
      "10051",
      { status: 503, code: 10051, kind: "unavailable", retryable: true, upstreamStatus: 400 },
      ALL_ATTEMPTS,
    ],
    [
      "20003 duplicate entry",
      { status: 503, code: 20003, kind: "unavailable", retryable: true, upstreamStatus: 400 },
      ALL_ATTEMPTS,
    ],
    [
      "no data error",
      { status: 502, code: "NO_DATA", kind: "upstream", retryable: false, upstreamStatus: 400 },
      1,
    ],
  ];
  for (const [message, expected, attempts] of cases) {
    it(`logout step "${message}": ${expected.status} ${expected.code}, ${attempts} flow(s)`, async () => {
      const h = await createHarness();
      const { token } = await h.sims.lancens.signIn();
      h.sims.lancens.failNext("logout", message, { times: ALL_ATTEMPTS });
      const response = await h.request("/v1/lancens/logout", {
        json: { username: "lancens-user", token },
      });
      const problem = await readProblem(response);
      expect(problem).toMatchObject({ ...expected, vendor: "lancens" });
      expect(problem.steps).toMatchObject({ session: { outcome: "failed" } });
      // Each flow is three calls: two push tokens, then the logout.
      expect(hostCalls(h, LANCENS)).toBe(3 * attempts);
    });
  }
});

describe("vendor strings that name Object.prototype members", () => {
  for (const name of ["constructor", "__proto__", "toString"]) {
    it(`a Lancens field named ${name} never becomes a function or a path`, async () => {
      const h = await createHarness();
      const { token } = await h.sims.lancens.signIn();
      h.sims.lancens.failNext("logout", `undefined ${name}`);
      const problem = await readProblem(
        await h.request("/v1/lancens/logout", { json: { username: "lancens-user", token } }),
      );
      // @x/lancens keeps the code and kind of such a message but names no field.
      expect(problem).toMatchObject({ status: 400, kind: "invalid_request" });
      expect(Object.hasOwn(problem, "field")).toBe(false);
      expect(String(problem.detail)).not.toMatch(/function|\[object/);
    });
  }

  it("token-status reasons are looked up as own entries only", () => {
    expect(tokenReason("TOKEN_EXPIRED")).toBe("expired");
    for (const name of ["constructor", "__proto__", "toString", "hasOwnProperty"]) {
      expect(tokenReason(name)).toBe("invalid");
    }
  });
});
