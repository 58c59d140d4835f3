// Tests for the Lancens simulator: every route and refusal, its state, call log and misbehaviour switches.

import { OVERSIZED_BODY_BYTES } from "@x/core-signing/testing";
import { describe, expect, it } from "vitest";
import {
  createLancensSimulator,
  DEFAULT_SIMULATOR_USER,
  type LancensSimulator,
} from "../src/testing/index.ts";

const BASE = "http://lancens.test";
const USER = DEFAULT_SIMULATOR_USER.username;
const PASSWORD = DEFAULT_SIMULATOR_USER.password;

function send(
  sim: LancensSimulator,
  method: string,
  path: string,
  init: { token?: string; body?: unknown; raw?: string } = {},
): Promise<Response> {
  const headers = new Headers();
  if (init.token !== undefined) headers.set("token", init.token);
  let body: string | undefined = init.raw;
  if (init.body !== undefined) {
    headers.set("content-type", "application/json");
    body = JSON.stringify(init.body);
  }
  return sim.fetch(new Request(`${BASE}${path}`, { method, headers, body: body ?? null }));
}

async function refusal(response: Response): Promise<[number, string]> {
  return [response.status, ((await response.json()) as { message: string }).message];
}

const login = (sim: LancensSimulator, body: unknown) =>
  send(sim, "POST", "/v1/api/user/login", { body });
/** A logout as the client sends it: the body's token in the `token` header too, unless told otherwise. */
const logout = (sim: LancensSimulator, body: unknown, header = tokenIn(body)) =>
  send(sim, "POST", "/v1/api/user/logout", {
    body,
    ...(header === undefined ? {} : { token: header }),
  });

function tokenIn(body: unknown): string | undefined {
  const token = (body as { token?: unknown } | undefined)?.token;
  return typeof token === "string" && token !== "" ? token : undefined;
}

/** A deterministic simulator: a fixed clock and counting randomness. */
function fixedSimulator(options = {}) {
  let counter = 0;
  return createLancensSimulator({
    now: () => 1_700_000_000_500,
    random: (length) => new Uint8Array(length).fill(++counter),
    ...options,
  });
}

describe("login", () => {
  it("answers 201 { id, token, reflash_key, time } and makes the token valid", async () => {
    const sim = fixedSimulator();
    const response = await login(sim, { username: USER, password: PASSWORD });
    expect(response.status).toBe(201);
    const answer = await response.json();
    expect(answer).toEqual({
      id: 1,
      token: "01".repeat(16),
      reflash_key: "02".repeat(16),
      time: 1_700_000_000,
    });
    expect(sim.isTokenValid(answer.token)).toBe(true);
    expect(sim.tokenOf(USER)).toBe(answer.token);
    expect(sim.validTokens()).toEqual([answer.token]);
  });

  it.each([
    [{ password: PASSWORD }, "undefined username"],
    [{ username: USER }, "undefined password"],
    [{ username: 12345678, password: PASSWORD }, "username format error"],
    [{ username: "short", password: PASSWORD }, "username length error"],
    [{ username: "x".repeat(33), password: PASSWORD }, "username length error"],
    [{ username: USER, password: "1234567" }, "password length error"],
    [{ username: USER, password: "x".repeat(17) }, "password length error"],
    [{ username: USER, password: "wrong-password" }, "username or password error"],
    [{ username: "nobody-here", password: PASSWORD }, "username or password error"],
  ])("refuses %j with 400 %s", async (body, message) => {
    const sim = createLancensSimulator();
    expect(await refusal(await login(sim, body))).toEqual([400, message]);
    expect(sim.validTokens()).toEqual([]);
  });

  it("refuses a body that is not a JSON object with paramer error", async () => {
    const sim = createLancensSimulator();
    for (const raw of ["not json", "[1,2]", "null", ""]) {
      const response = await send(sim, "POST", "/v1/api/user/login", { raw });
      expect(await refusal(response)).toEqual([400, "paramer error"]);
    }
  });

  it("a new login invalidates the previous token and deletes the push tokens", async () => {
    const sim = createLancensSimulator();
    const first = await sim.signIn();
    await sim.bindPushToken(first.token, "ring");
    await sim.bindPushToken(first.token, "message");
    const second = await sim.signIn();
    expect(sim.isTokenValid(first.token)).toBe(false);
    expect(sim.isTokenValid(second.token)).toBe(true);
    expect(sim.pushTokens(USER)).toEqual({ ring: [], message: [] });
  });

  it("loginClearsPushTokens false keeps them", async () => {
    const sim = createLancensSimulator({ loginClearsPushTokens: false });
    const first = await sim.signIn();
    await sim.bindPushToken(first.token, "ring", "ring-1");
    await sim.signIn();
    expect(sim.pushTokens(USER).ring.map((r) => r.push_token)).toEqual(["ring-1"]);
  });

  it("knows the users it is given, with ids", async () => {
    const sim = createLancensSimulator({
      users: [
        { username: "first-user", password: "password-1" },
        { username: "second-user", password: "password-2", id: 77 },
      ],
    });
    expect((await sim.signIn("first-user", "password-1")).id).toBe(1);
    expect((await sim.signIn("second-user", "password-2")).id).toBe(77);
    await expect(sim.signIn()).rejects.toThrow(/username or password error/);
    sim.addUser({ username: "third-user", password: "password-3" });
    expect((await sim.signIn("third-user", "password-3")).id).toBe(3);
    expect(() => sim.addUser({ username: "third-user", password: "x" })).toThrow(/already/);
  });
});

describe("push tokens", () => {
  it.each([
    ["ring", "/v1/api/user/token"],
    ["message", "/v1/api/user/message/token"],
  ] as const)("%s: bind with POST, list with GET, clear with DELETE", async (kind, path) => {
    const sim = createLancensSimulator();
    const { token } = await sim.signIn();
    const bind = await send(sim, "POST", path, {
      token,
      body: { push_token: "apns-1", language: "zh-CN", dev: 1, bundleid: "com.lancens.app" },
    });
    expect(bind.status).toBe(200);
    const record = {
      push_token: "apns-1",
      language: "zh-CN",
      dev: 1,
      bundleid: "com.lancens.app",
      os: "",
      os_token: "",
      push_platform: "",
    };
    expect(sim.pushTokens(USER)[kind]).toEqual([record]);
    const other = kind === "ring" ? "message" : "ring";
    expect(sim.pushTokens(USER)[other]).toEqual([]);
    const list = await send(sim, "GET", path, { token });
    expect(await list.json()).toEqual([record]);
    const clear = await send(sim, "DELETE", path, { token });
    expect(clear.status).toBe(200);
    expect(await clear.json()).toEqual({ message: "success" });
    expect(sim.pushTokens(USER)[kind]).toEqual([]);
    // Clearing nothing is still a success.
    expect((await send(sim, "DELETE", path, { token })).status).toBe(200);
  });

  it("clearing one kind leaves the other bound", async () => {
    const sim = createLancensSimulator();
    const { token } = await sim.signIn();
    await sim.bindPushToken(token, "ring");
    await sim.bindPushToken(token, "message");
    await send(sim, "DELETE", "/v1/api/user/token", { token });
    expect(sim.pushTokens(USER).ring).toHaveLength(0);
    expect(sim.pushTokens(USER).message).toHaveLength(1);
  });

  it.each(["DELETE", "POST", "GET"])(
    "%s without a token is 401 no token, with a stale one 401 invalid token",
    async (method) => {
      const sim = createLancensSimulator();
      const body = method === "POST" ? { push_token: "p", language: "en" } : undefined;
      for (const path of ["/v1/api/user/token", "/v1/api/user/message/token"]) {
        expect(await refusal(await send(sim, method, path, { body }))).toEqual([401, "no token"]);
        expect(await refusal(await send(sim, method, path, { body, token: "" }))).toEqual([
          401,
          "no token",
        ]);
        expect(await refusal(await send(sim, method, path, { body, token: "stale" }))).toEqual([
          401,
          "invalid token",
        ]);
      }
    },
  );

  it.each([
    [{ language: "en" }, "undefined push_token"],
    [{ push_token: "p" }, "undefined language"],
    [{ push_token: 5, language: "en" }, "push_token format error"],
    [{ push_token: "", language: "en" }, "push_token length error"],
    [{ push_token: "p".repeat(65), language: "en" }, "push_token length error"],
    [{ push_token: "p", language: "e" }, "language length error"],
    [{ push_token: "p", language: "e".repeat(12) }, "language length error"],
    [{ push_token: "p", language: "en", dev: 2 }, "dev format error"],
    [{ push_token: "p", language: "en", dev: "0" }, "dev format error"],
    [{ push_token: "p", language: "en", os: 1 }, "os format error"],
  ])("bind refuses %j with 400 %s", async (body, message) => {
    const sim = createLancensSimulator();
    const { token } = await sim.signIn();
    expect(await refusal(await send(sim, "POST", "/v1/api/user/token", { token, body }))).toEqual([
      400,
      message,
    ]);
    expect(sim.pushTokens(USER).ring).toEqual([]);
  });

  it("binding the same push token twice is push_token exist", async () => {
    const sim = createLancensSimulator();
    const { token } = await sim.signIn();
    await sim.bindPushToken(token, "message", "same");
    const again = await send(sim, "POST", "/v1/api/user/message/token", {
      token,
      body: { push_token: "same", language: "en" },
    });
    expect(await refusal(again)).toEqual([400, "push_token exist"]);
    await expect(sim.bindPushToken(token, "message", "same")).rejects.toThrow(/push_token exist/);
  });
});

describe("logout", () => {
  it("deletes both push tokens, invalidates the token and answers 200", async () => {
    const sim = createLancensSimulator();
    const { token } = await sim.signIn();
    await sim.bindPushToken(token, "ring");
    await sim.bindPushToken(token, "message");
    const response = await logout(sim, { username: USER, token });
    expect(response.status).toBe(200);
    expect(sim.isTokenValid(token)).toBe(false);
    expect(sim.tokenOf(USER)).toBeUndefined();
    expect(sim.pushTokens(USER)).toEqual({ ring: [], message: [] });
    expect(await refusal(await logout(sim, { username: USER, token }))).toEqual([
      401,
      "invalid token",
    ]);
  });

  it("logoutClearsPushTokens false leaves them bound (a server that forgets)", async () => {
    const sim = createLancensSimulator({ logoutClearsPushTokens: false });
    const { token } = await sim.signIn();
    await sim.bindPushToken(token, "ring");
    await logout(sim, { username: USER, token });
    expect(sim.isTokenValid(token)).toBe(false);
    expect(sim.pushTokens(USER).ring).toHaveLength(1);
  });

  it.each([
    ["no username", (token: string) => ({ token }), "undefined username"],
    ["no token in the body", () => ({ username: USER }), "undefined token"],
    ["a username array", (token: string) => ({ username: ["x"], token }), "username format error"],
    ["a numeric token", () => ({ username: USER, token: 7 }), "token format error"],
    [
      "a short username",
      (token: string) => ({ username: "short", token }),
      "username length error",
    ],
    ["an empty token", () => ({ username: USER, token: "" }), "token length error"],
  ])(
    "with a valid token header, refuses %s with 400 %s and changes nothing",
    async (_, body, message) => {
      const sim = createLancensSimulator();
      const { token } = await sim.signIn();
      expect(await refusal(await logout(sim, body(token), token))).toEqual([400, message]);
      expect(sim.isTokenValid(token)).toBe(true);
    },
  );

  it("without a token header (missing or empty) answers 401 no token and logs nobody out", async () => {
    const sim = createLancensSimulator();
    const { token } = await sim.signIn();
    const body = { username: USER, token };
    expect(await refusal(await send(sim, "POST", "/v1/api/user/logout", { body }))).toEqual([
      401,
      "no token",
    ]);
    expect(await refusal(await logout(sim, body, ""))).toEqual([401, "no token"]);
    expect(sim.isTokenValid(token)).toBe(true);
    expect(sim.calls.at(-1)).toMatchObject({ route: "logout", status: 401, message: "no token" });
  });

  it("checks the header before the body: no header is no token even for a broken body", async () => {
    const sim = createLancensSimulator();
    expect(
      await refusal(await send(sim, "POST", "/v1/api/user/logout", { body: { token: "t" } })),
    ).toEqual([401, "no token"]);
    const raw = await send(sim, "POST", "/v1/api/user/logout", { raw: "not json" });
    expect(await refusal(raw)).toEqual([401, "no token"]);
    const { token } = await sim.signIn();
    const withHeader = await send(sim, "POST", "/v1/api/user/logout", { raw: "not json", token });
    expect(await refusal(withHeader)).toEqual([400, "paramer error"]);
    expect(sim.isTokenValid(token)).toBe(true);
  });

  it("an unknown header token is 401 invalid token, whatever the body says", async () => {
    const sim = createLancensSimulator();
    const { token } = await sim.signIn();
    expect(await refusal(await logout(sim, { username: USER, token: "unknown" }))).toEqual([
      401,
      "invalid token",
    ]);
    // A stale header with a live token in the body: the header decides who is asking.
    expect(await refusal(await logout(sim, { username: USER, token }, "stale"))).toEqual([
      401,
      "invalid token",
    ]);
    expect(sim.isTokenValid(token)).toBe(true);
  });

  it("a body token other than the header's is 400 token error: neither session ends", async () => {
    const sim = createLancensSimulator({
      users: [DEFAULT_SIMULATOR_USER, { username: "other-user", password: "password-9" }],
    });
    const mine = await sim.signIn();
    const theirs = await sim.signIn("other-user", "password-9");
    await sim.bindPushToken(theirs.token, "ring");
    for (const body of [
      { username: "other-user", token: theirs.token },
      { username: USER, token: theirs.token },
      { username: USER, token: "unknown" },
    ]) {
      expect(await refusal(await logout(sim, body, mine.token))).toEqual([400, "token error"]);
    }
    expect(sim.isTokenValid(mine.token)).toBe(true);
    expect(sim.isTokenValid(theirs.token)).toBe(true);
    expect(sim.pushTokens("other-user").ring).toHaveLength(1);
  });

  it("another user's token is username error, and nothing changes", async () => {
    const sim = createLancensSimulator({
      users: [DEFAULT_SIMULATOR_USER, { username: "other-user", password: "password-9" }],
    });
    const { token } = await sim.signIn();
    await sim.bindPushToken(token, "ring");
    expect(await refusal(await logout(sim, { username: "other-user", token }))).toEqual([
      400,
      "username error",
    ]);
    expect(sim.isTokenValid(token)).toBe(true);
    expect(sim.pushTokens(USER).ring).toHaveLength(1);
  });
});

describe("the token header", () => {
  it.each([
    ["DELETE", "/v1/api/user/token"],
    ["DELETE", "/v1/api/user/message/token"],
    ["POST", "/v1/api/user/logout"],
  ])("%s %s without it answers 401 no token", async (method, path) => {
    const sim = createLancensSimulator();
    const { token } = await sim.signIn();
    const body = method === "POST" ? { username: USER, token } : undefined;
    expect(await refusal(await send(sim, method, path, { body }))).toEqual([401, "no token"]);
    expect(await refusal(await send(sim, method, path, { body, token: "" }))).toEqual([
      401,
      "no token",
    ]);
    expect(sim.isTokenValid(token)).toBe(true);
  });
});

describe("answers", () => {
  it("successBody text and empty, and 204 statuses", async () => {
    const sim = createLancensSimulator({ successBody: "text" });
    const { token } = await sim.signIn();
    const text = await send(sim, "DELETE", "/v1/api/user/token", { token });
    expect(await text.text()).toBe("success");
    sim.configure({ successBody: "empty" });
    const empty = await send(sim, "DELETE", "/v1/api/user/token", { token });
    expect(await empty.text()).toBe("");
    sim.configure({ successBody: "json", clearStatus: 204, logoutStatus: 204 });
    const noContent = await send(sim, "DELETE", "/v1/api/user/message/token", { token });
    expect(noContent.status).toBe(204);
    expect(noContent.body).toBeNull();
    expect((await logout(sim, { username: USER, token })).status).toBe(204);
    expect(sim.behaviour.clearStatus).toBe(204);
  });

  it("errorBody text answers the bare message", async () => {
    const sim = createLancensSimulator({ errorBody: "text" });
    const response = await logout(sim, { username: USER, token: "nope" });
    expect(response.status).toBe(401);
    expect(await response.text()).toBe("invalid token");
  });

  it("refuses a non-2xx success status", () => {
    expect(() => createLancensSimulator({ clearStatus: 302 })).toThrow(RangeError);
    const sim = createLancensSimulator();
    expect(() => sim.configure({ logoutStatus: 500 })).toThrow(/2xx/);
    expect(sim.behaviour.logoutStatus).toBe(200);
  });

  it("an unknown path or method is a plain-text 404", async () => {
    const sim = createLancensSimulator();
    const response = await send(sim, "GET", "/v1/api/user/nothing");
    expect(response.status).toBe(404);
    expect(await response.text()).toBe("404 page not found");
    expect((await send(sim, "PUT", "/v1/api/user/logout")).status).toBe(404);
    expect(sim.routes).toEqual(["unknown", "unknown"]);
  });

  it("the Hono app answers the same as fetch", async () => {
    const sim = createLancensSimulator();
    const response = await sim.app.fetch(
      new Request(`${BASE}/v1/api/user/logout`, {
        method: "POST",
        body: JSON.stringify({ username: USER, token: "nope" }),
      }),
    );
    expect(response.status).toBe(401);
    expect(sim.calls).toHaveLength(1);
  });
});

describe("call log", () => {
  it("records every call in order, with route, status, user and message, and never a token", async () => {
    const sim = createLancensSimulator({ now: () => 42 });
    const { token } = await sim.signIn();
    await sim.bindPushToken(token, "ring");
    await send(sim, "DELETE", "/v1/api/user/token", { token });
    await send(sim, "DELETE", "/v1/api/user/message/token", { token: "stale" });
    await logout(sim, { username: USER, token });
    expect(sim.calls).toEqual([
      {
        seq: 1,
        at: 42,
        method: "POST",
        path: "/v1/api/user/login",
        route: "login",
        status: 201,
        username: USER,
      },
      {
        seq: 2,
        at: 42,
        method: "POST",
        path: "/v1/api/user/token",
        route: "bindRingPushToken",
        status: 200,
        username: USER,
      },
      {
        seq: 3,
        at: 42,
        method: "DELETE",
        path: "/v1/api/user/token",
        route: "clearRingPushToken",
        status: 200,
        username: USER,
      },
      {
        seq: 4,
        at: 42,
        method: "DELETE",
        path: "/v1/api/user/message/token",
        route: "clearMessagePushToken",
        status: 401,
        message: "invalid token",
      },
      {
        seq: 5,
        at: 42,
        method: "POST",
        path: "/v1/api/user/logout",
        route: "logout",
        status: 200,
        username: USER,
      },
    ]);
    expect(JSON.stringify(sim.calls)).not.toContain(token);
    sim.clearCalls();
    expect(sim.calls).toEqual([]);
  });

  it("hands out copies", async () => {
    const sim = createLancensSimulator();
    await sim.signIn();
    const [first] = sim.calls;
    if (first) first.status = 999;
    expect(sim.calls[0]?.status).toBe(201);
    const tokens = sim.pushTokens(USER);
    tokens.ring.push({} as never);
    expect(sim.pushTokens(USER).ring).toEqual([]);
  });
});

describe("state", () => {
  it("invalidateToken ends a session but keeps push tokens, as an expiry would", async () => {
    const sim = createLancensSimulator();
    const { token } = await sim.signIn();
    await sim.bindPushToken(token, "message");
    expect(sim.invalidateToken(token)).toBe(true);
    expect(sim.invalidateToken(token)).toBe(false);
    expect(sim.isTokenValid(token)).toBe(false);
    expect(sim.pushTokens(USER).message).toHaveLength(1);
    expect(sim.pushTokens("nobody")).toEqual({ ring: [], message: [] });
  });
});

describe("misbehaviour", () => {
  it("failNext answers a Lancens message once, for one route, without touching state", async () => {
    const sim = createLancensSimulator();
    const { token } = await sim.signIn();
    await sim.bindPushToken(token, "ring");
    sim.failNext("clearRingPushToken", "10051");
    const first = await send(sim, "DELETE", "/v1/api/user/token", { token });
    expect(await refusal(first)).toEqual([400, "10051"]);
    expect(sim.pushTokens(USER).ring).toHaveLength(1);
    const second = await send(sim, "DELETE", "/v1/api/user/token", { token });
    expect(second.status).toBe(200);
    expect(sim.calls.at(-2)).toMatchObject({ route: "clearRingPushToken", message: "10051" });
  });

  it("failNext for any route, several times, with a status", async () => {
    const sim = createLancensSimulator({ errorBody: "text" });
    sim.failNext("*", "no data error", { status: 500, times: 2 });
    const a = await logout(sim, { username: USER, token: "t" });
    const b = await login(sim, { username: USER, password: PASSWORD });
    expect([a.status, await a.text(), b.status, await b.text()]).toEqual([
      500,
      "no data error",
      500,
      "no data error",
    ]);
    expect((await login(sim, { username: USER, password: PASSWORD })).status).toBe(201);
  });

  it("faults: gateway status, logged as a fault, for a number of calls", async () => {
    const sim = createLancensSimulator();
    const { token } = await sim.signIn();
    await sim.bindPushToken(token, "ring");
    sim.faults.set({ status: 502, times: 1 });
    const response = await send(sim, "DELETE", "/v1/api/user/token", { token });
    expect(response.status).toBe(502);
    expect(await response.text()).toContain("502");
    expect(sim.pushTokens(USER).ring).toHaveLength(1);
    expect(sim.calls.at(-1)).toMatchObject({
      route: "clearRingPushToken",
      status: 502,
      fault: true,
    });
    expect((await send(sim, "DELETE", "/v1/api/user/token", { token })).status).toBe(200);
  });

  it("faults: non-JSON, truncated JSON and a wrong content type", async () => {
    const sim = createLancensSimulator();
    sim.faults.set({ nonJson: true });
    const html = await logout(sim, { username: USER, token: "t" });
    expect([html.status, html.headers.get("content-type")]).toEqual([200, "text/html"]);
    sim.faults.set({ truncatedJson: true });
    expect(() => JSON.parse("")).toThrow();
    const cut = await logout(sim, { username: USER, token: "t" });
    await expect(cut.json()).rejects.toThrow();
    sim.faults.set({ contentType: "text/plain" });
    const plain = await logout(sim, { username: USER, token: "t" });
    expect([plain.status, plain.headers.get("content-type")]).toEqual([401, "text/plain"]);
    sim.faults.clear();
  });

  it("faults: a dropped connection on each of the three calls, logged as a fault, state kept", async () => {
    const sim = createLancensSimulator();
    const { token } = await sim.signIn();
    await sim.bindPushToken(token, "ring");
    await sim.bindPushToken(token, "message");
    sim.faults.set({ reset: true, times: 3 });
    await expect(send(sim, "DELETE", "/v1/api/user/token", { token })).rejects.toThrow(TypeError);
    await expect(send(sim, "DELETE", "/v1/api/user/message/token", { token })).rejects.toThrow(
      TypeError,
    );
    await expect(logout(sim, { username: USER, token })).rejects.toThrow("fetch failed");
    expect(sim.calls.slice(-3)).toMatchObject([
      { route: "clearRingPushToken", fault: true },
      { route: "clearMessagePushToken", fault: true },
      { route: "logout", fault: true },
    ]);
    expect(sim.isTokenValid(token)).toBe(true);
    expect(sim.pushTokens(USER).ring).toHaveLength(1);
    expect((await logout(sim, { username: USER, token })).status).toBe(200);
  });

  it("faults: a JSON body over 10 MB on each of the three calls, streamed as it is read", async () => {
    const sim = createLancensSimulator();
    const { token } = await sim.signIn();
    sim.faults.set({ oversizedBody: true });
    const answers = [
      await send(sim, "DELETE", "/v1/api/user/token", { token }),
      await send(sim, "DELETE", "/v1/api/user/message/token", { token }),
      await logout(sim, { username: USER, token }),
    ];
    for (const response of answers) {
      expect(response.status).toBe(200);
      expect(response.headers.get("content-type")).toMatch(/^application\/json/);
      await response.body?.cancel();
    }
    expect(sim.faults.streamedBytes).toBeLessThan(OVERSIZED_BODY_BYTES);
    expect(sim.isTokenValid(token)).toBe(true);
  });

  it("faults: a wrong content type on the push-token calls too", async () => {
    const sim = createLancensSimulator();
    const { token } = await sim.signIn();
    sim.faults.set({ contentType: "text/html" });
    for (const path of ["/v1/api/user/token", "/v1/api/user/message/token"]) {
      const response = await send(sim, "DELETE", path, { token });
      expect([response.status, response.headers.get("content-type")]).toEqual([200, "text/html"]);
    }
  });

  it("faults: a delay that the caller's abort cuts short", async () => {
    const sim = createLancensSimulator();
    sim.faults.set({ delayMs: 60_000 });
    const controller = new AbortController();
    const pending = sim.fetch(
      new Request(`${BASE}/v1/api/user/token`, {
        method: "DELETE",
        signal: controller.signal,
      }),
    );
    controller.abort(new Error("gave up"));
    await expect(pending).rejects.toThrow("gave up");
  });
});
