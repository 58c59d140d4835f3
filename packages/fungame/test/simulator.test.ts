// The simulator (src/testing/): login, logout, refresh and restart as the real server answers them.

import { OVERSIZED_BODY_BYTES, OVERSIZED_CHUNK_BYTES } from "@x/core-signing/testing";
import { describe, expect, it } from "vitest";
import { FunGameError } from "../src/index.ts";
import {
  createFunGameSimulator,
  DEFAULT_SIMULATOR_JWT_KEY,
  type FunGameSimulatorOptions,
} from "../src/testing/index.ts";
import {
  decodePart,
  fungameClaims,
  hmacToken,
  hs256Valid,
  noneToken,
  T0,
  T0_SEC,
} from "./jwt-oracle.ts";

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

function setup(options: FunGameSimulatorOptions = {}) {
  let ms = T0;
  let uuid = 0;
  const sim = createFunGameSimulator({
    now: () => ms,
    randomUUID: () => `00000000-0000-4000-8000-${String(++uuid).padStart(12, "0")}`,
    ...options,
  });
  const post = (
    path: string,
    init: { token?: string; body?: unknown; headers?: Record<string, string> } = {},
  ) =>
    sim.fetch(
      new Request(`http://fungame.test${path}`, {
        method: "POST",
        headers: {
          ...(init.token === undefined ? {} : { authorization: `Bearer ${init.token}` }),
          ...(init.body === undefined ? {} : { "content-type": "application/json" }),
          ...init.headers,
        },
        ...(init.body === undefined
          ? {}
          : { body: typeof init.body === "string" ? init.body : JSON.stringify(init.body) }),
      }),
    );
  return {
    sim,
    post,
    advance: (sec: number) => {
      ms += sec * 1000;
    },
  };
}

describe("simulator: login", () => {
  it("issues an HS256 token with FunGame's claims, verifiable by an independent HMAC", async () => {
    const { sim, post } = setup();
    const response = await post("/user/login", {
      body: { Username: "alice", Password: "alice-password" },
    });
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toContain("application/json");
    const body = (await response.json()) as Record<string, unknown>;
    expect(body).toMatchObject({ requestType: 13, statusCode: 200, message: "登录成功！" });
    const data = body.data as { bearerToken: string; openToken: string };
    expect(data.openToken).toMatch(GUID);
    const token = data.bearerToken;
    expect(hs256Valid(token, DEFAULT_SIMULATOR_JWT_KEY)).toBe(true);
    expect(decodePart(token, 0)).toEqual({ alg: "HS256", typ: "JWT" });
    const claims = decodePart(token, 1);
    expect(claims).toEqual({
      sub: "alice",
      jti: "00000000-0000-4000-8000-000000000001",
      exp: T0_SEC + 1800,
      iss: "FunGame",
      aud: "FunGame Web API",
    });
    expect(claims.jti).toMatch(GUID);
    expect(sim.state()).toMatchObject({ sessions: ["alice"], issuedTokens: 1 });
  });

  it("uses the configured key, issuer, audience and lifetime", async () => {
    const key = "a-completely-different-key-of-32-bytes!";
    const { sim } = setup({ jwtKey: key, issuer: "Iss", audience: "Aud", tokenLifetimeSec: 60 });
    const token = await sim.login("bob");
    expect(hs256Valid(token, key)).toBe(true);
    expect(decodePart(token, 1)).toMatchObject({
      sub: "bob",
      iss: "Iss",
      aud: "Aud",
      exp: T0_SEC + 60,
    });
  });

  it("binds the body case-insensitively, as ASP.NET does", async () => {
    const { post } = setup();
    expect(
      (await post("/user/login", { body: { username: "bob", password: "bob-password" } })).status,
    ).toBe(200);
  });

  it("answers a wrong password or unknown user with a 401 PayloadModel", async () => {
    const { sim, post } = setup({ casing: "pascal" });
    for (const body of [
      { Username: "alice", Password: "nope" },
      { Username: "mallory", Password: "x" },
      { Username: "constructor", Password: "x" },
    ]) {
      const response = await post("/user/login", { body });
      expect(response.status).toBe(401);
      expect(await response.json()).toMatchObject({
        RequestType: 13,
        StatusCode: 401,
        Message: "用户名或密码不正确。",
      });
    }
    expect(sim.state().sessions).toEqual([]);
    await expect(sim.login("alice", "nope")).rejects.toThrow(/HTTP 401/);
  });

  it("never finds an account in the object prototype: prototype names answer 401", async () => {
    const { sim, post } = setup();
    const names = ["constructor", "toString", "valueOf", "hasOwnProperty", "__proto__"];
    for (const name of names) {
      for (const password of ["", "x", "[object Object]", "function Object() { [native code] }"]) {
        const response = await post("/user/login", {
          body: `{"Username": ${JSON.stringify(name)}, "Password": ${JSON.stringify(password)}}`,
        });
        expect({ name, password, status: response.status }).toEqual({
          name,
          password,
          status: 401,
        });
      }
      await expect(sim.login(name)).rejects.toThrow(/HTTP 401/);
    }
    expect(sim.state().sessions).toEqual([]);
    expect(sim.state().issuedTokens).toBe(0);
  });

  it("takes an account named like a prototype member as any other", async () => {
    const users = JSON.parse('{"__proto__": "proto-password", "constructor": "c-password"}');
    const { sim } = setup({ users });
    await expect(sim.login("__proto__")).resolves.toMatch(/^ey/);
    await expect(sim.login("constructor")).resolves.toMatch(/^ey/);
    await expect(sim.login("toString")).rejects.toThrow(/HTTP 401/);
    expect(sim.state().sessions.sort()).toEqual(["__proto__", "constructor"]);
  });

  it("answers a body that does not bind with a 400 problem document", async () => {
    const { post } = setup();
    for (const body of ["not json", "[]", { Username: "alice" }]) {
      const response = await post("/user/login", { body });
      expect(response.status).toBe(400);
      expect(response.headers.get("content-type")).toContain("application/problem+json");
    }
  });
});

describe("simulator: logout", () => {
  it("answers 200 with the documented PayloadModel in camelCase by default, trailing space included", async () => {
    const { sim, post } = setup();
    const token = await sim.login();
    const response = await post("/user/logout", { token });
    expect(response.status).toBe(200);
    const body = (await response.json()) as Record<string, unknown>;
    expect(body).toEqual({
      requestType: 1,
      statusCode: 200,
      message: "你已成功退出登录！ ",
      timestamp: "2025-03-23 11:47:43.000",
      data: {},
    });
    expect(sim.state().sessions).toEqual([]);
    expect(sim.state().revokedJtis).toEqual([decodePart(token, 1).jti]);
  });

  it("answers in PascalCase on request", async () => {
    const { sim, post } = setup({ casing: "pascal" });
    const body = await (await post("/user/logout", { token: await sim.login() })).json();
    expect(Object.keys(body as object).sort()).toEqual([
      "Data",
      "Message",
      "RequestType",
      "StatusCode",
      "Timestamp",
    ]);
  });

  it("answers 400 退出登录失败！ when the session is gone but the token is valid", async () => {
    const { sim, post } = setup();
    const token = await sim.login("alice");
    expect(sim.endSession("alice")).toBe(true);
    const response = await post("/user/logout", { token });
    expect(response.status).toBe(400);
    expect(await response.json()).toMatchObject({
      requestType: 1,
      statusCode: 400,
      message: "退出登录失败！",
    });
    expect(sim.state().revokedJtis).toEqual([]);
  });

  it("answers 500 with the newer message and an Event when logoutFailureStatus is 500", async () => {
    const { sim, post } = setup({ logoutFailureStatus: 500 });
    const token = await sim.login("alice");
    sim.endSession("alice");
    const response = await post("/user/logout", { token });
    expect(response.status).toBe(500);
    expect(await response.json()).toMatchObject({
      statusCode: 500,
      message: "退出登录失败！服务器可能暂时无法处理此请求。",
      event: "user_logout",
    });
  });

  it("failLogouts: a server fault answers the same 400 as a missing session, and the session stays open", async () => {
    const { sim, post } = setup();
    const gone = await sim.login("bob");
    sim.endSession("bob");
    const sessionGone = await post("/user/logout", { token: gone });
    const token = await sim.login("alice");
    sim.failLogouts(2);
    const faults = [await post("/user/logout", { token }), await post("/user/logout", { token })];
    const strip = async (response: Response) => {
      const { timestamp: _timestamp, ...rest } = (await response.json()) as Record<string, unknown>;
      return { status: response.status, body: rest };
    };
    const expected = await strip(sessionGone);
    expect(expected).toEqual({
      status: 400,
      body: { requestType: 1, statusCode: 400, message: "退出登录失败！", data: {} },
    });
    for (const fault of faults) expect(await strip(fault)).toEqual(expected);
    // Nothing happened on the server: the session is open and the token still valid.
    expect(sim.state().sessions).toEqual(["alice"]);
    expect(sim.isRevoked(decodePart(token, 1).jti as string)).toBe(false);
    // Two faults were asked for: the third logout goes through.
    expect((await post("/user/logout", { token })).status).toBe(200);
    expect(sim.state().sessions).toEqual([]);
  });

  it("failLogouts on a newer server answers its 500; a refused token is still 401; clearLogoutFailures stops it", async () => {
    const { sim, post } = setup({ logoutFailureStatus: 500 });
    const token = await sim.login("alice");
    sim.failLogouts(3);
    expect((await post("/user/logout", { token: "a.b.c" })).status).toBe(401);
    const fault = await post("/user/logout", { token });
    expect(fault.status).toBe(500);
    expect(await fault.json()).toMatchObject({
      statusCode: 500,
      message: "退出登录失败！服务器可能暂时无法处理此请求。",
      event: "user_logout",
    });
    expect(sim.state().sessions).toEqual(["alice"]);
    sim.clearLogoutFailures();
    expect((await post("/user/logout", { token })).status).toBe(200);
    expect(() => sim.failLogouts(0)).toThrow(FunGameError);
    expect(() => sim.failLogouts(1.5)).toThrow(FunGameError);
  });

  it("answers an empty 401 for a missing, malformed, foreign, unsigned, expired, wrong-audience or revoked token", async () => {
    const { sim, post, advance } = setup();
    const revoked = await sim.login("alice");
    await post("/user/logout", { token: revoked });
    const expiredSoon = await sim.login("bob");
    const tokens: Record<string, string | undefined> = {
      missing: undefined,
      empty: "",
      garbage: "not-a-token",
      "another key": hmacToken(fungameClaims("bob"), "some-other-key-that-is-32-bytes-long"),
      "alg none": noneToken(fungameClaims("bob")),
      "wrong audience": hmacToken(
        fungameClaims("bob", T0_SEC, { aud: "Other" }),
        DEFAULT_SIMULATOR_JWT_KEY,
      ),
      "wrong issuer": hmacToken(
        fungameClaims("bob", T0_SEC, { iss: "Other" }),
        DEFAULT_SIMULATOR_JWT_KEY,
      ),
      HS512: hmacToken(fungameClaims("bob"), DEFAULT_SIMULATOR_JWT_KEY, "HS512"),
      revoked,
    };
    for (const [name, token] of Object.entries(tokens)) {
      const response = await post("/user/logout", token === undefined ? {} : { token });
      expect([name, response.status]).toEqual([name, 401]);
      expect(await response.text()).toBe("");
      expect(response.headers.get("www-authenticate")).toMatch(/^Bearer/);
    }
    // ASP.NET's default clock skew: still accepted 5 minutes after exp, refused after that.
    advance(1800 + 299);
    sim.endSession("bob");
    expect((await post("/user/logout", { token: expiredSoon })).status).toBe(400);
    advance(2);
    expect((await post("/user/logout", { token: expiredSoon })).status).toBe(401);
    expect(sim.state().sessions).toEqual([]);
  });

  it("honours clockSkewSec 0", async () => {
    const { sim, post, advance } = setup({ clockSkewSec: 0 });
    const token = await sim.login();
    advance(1800);
    expect((await post("/user/logout", { token })).status).toBe(401);
  });

  it("lets an older token end a newer session of the same user, as the real server does", async () => {
    const { sim, post } = setup();
    const first = await sim.login("alice");
    const second = await sim.login("alice");
    expect(sim.state().sessions).toEqual(["alice"]);
    expect((await post("/user/logout", { token: first })).status).toBe(200);
    expect((await post("/user/logout", { token: second })).status).toBe(400);
  });
});

describe("simulator: refresh and restart", () => {
  it("refresh revokes the presented token and returns a new one as a bare string", async () => {
    const { sim, post } = setup();
    const old = await sim.login("alice");
    const response = await post("/user/refresh", { token: old });
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toContain("text/plain");
    const fresh = await response.text();
    expect(fresh.split(".")).toHaveLength(3);
    expect(decodePart(fresh, 1)).toMatchObject({
      sub: "alice",
      jti: "00000000-0000-4000-8000-000000000003",
    });
    expect(sim.isRevoked(decodePart(old, 1).jti as string)).toBe(true);
    expect((await post("/user/refresh", { token: old })).status).toBe(401);
    expect((await post("/user/logout", { token: fresh })).status).toBe(200);
  });

  it("refresh answers a JSON string to a caller that asks for JSON", async () => {
    const { sim, post } = setup();
    const response = await post("/user/refresh", {
      token: await sim.login(),
      headers: { accept: "application/json" },
    });
    expect(typeof (await response.json())).toBe("string");
  });

  it("restart forgets revocations and sessions: a logged-out token is accepted again", async () => {
    const { sim, post } = setup();
    const token = await sim.login("alice");
    expect((await post("/user/logout", { token })).status).toBe(200);
    expect((await post("/user/refresh", { token })).status).toBe(401);
    sim.restart();
    expect(sim.state()).toMatchObject({ sessions: [], revokedJtis: [], restarts: 1 });
    expect((await post("/user/logout", { token })).status).toBe(400);
    expect((await post("/user/refresh", { token })).status).toBe(200);
    expect(await sim.login("alice")).toBeTypeOf("string");
  });
});

describe("simulator: plumbing", () => {
  it("answers 404 off the API and 405 to other methods", async () => {
    const { sim, post } = setup();
    expect((await post("/user/nothing")).status).toBe(404);
    const get = await sim.fetch(new Request("http://fungame.test/user/logout"));
    expect(get.status).toBe(405);
    expect(get.headers.get("allow")).toBe("POST");
  });

  it("logs every call without tokens", async () => {
    const { sim, post } = setup();
    const token = await sim.login();
    await post("/user/logout", { token });
    expect(sim.calls).toEqual([
      { method: "POST", path: "/user/login", status: 200, at: T0 },
      { method: "POST", path: "/user/logout", status: 200, at: T0 },
    ]);
    expect(JSON.stringify(sim.calls)).not.toContain(token);
  });

  it("misbehaves on demand: gateway status, non-JSON, truncated JSON, wrong content type, for a number of calls", async () => {
    const { sim, post } = setup();
    const token = await sim.login();
    sim.faults.set({ status: 502, times: 1 });
    expect((await post("/user/logout", { token })).status).toBe(502);
    expect(sim.state().sessions).toEqual(["alice"]);
    sim.faults.set({ nonJson: true });
    expect(await (await post("/user/logout", { token })).text()).toContain("<html>");
    sim.faults.set({ truncatedJson: true });
    await expect((await post("/user/logout", { token })).json()).rejects.toThrow();
    sim.faults.set({ contentType: "text/html" });
    const decorated = await post("/user/logout", { token });
    expect(decorated.status).toBe(200);
    expect(decorated.headers.get("content-type")).toBe("text/html");
    sim.faults.clear();
    expect(sim.calls.map((call) => call.status)).toEqual([200, 502, 200, 200, 200]);
  });

  it("drops the connection on demand: fetch rejects with a TypeError, the session stays", async () => {
    const { sim, post } = setup();
    const token = await sim.login();
    sim.faults.set({ reset: true, times: 1 });
    const error = await post("/user/logout", { token }).then(
      () => undefined,
      (thrown: unknown) => thrown,
    );
    expect(error).toBeInstanceOf(TypeError);
    expect(((error as TypeError).cause as { code?: string }).code).toBe("ECONNRESET");
    expect(sim.state().sessions).toEqual(["alice"]);
    expect((await post("/user/logout", { token })).status).toBe(200);
    expect(sim.state().sessions).toEqual([]);
  });

  it("misbehaves when its Hono app is served on its own, too", async () => {
    const { sim } = setup();
    const token = await sim.login();
    const logout = (signal?: AbortSignal) =>
      sim.app.fetch(
        new Request("http://fungame.test/user/logout", {
          method: "POST",
          headers: { authorization: `Bearer ${token}` },
          ...(signal === undefined ? {} : { signal }),
        }),
      );
    sim.faults.set({ status: 504, times: 1 });
    expect((await logout()).status).toBe(504);
    sim.faults.set({ contentType: "text/plain", times: 1 });
    expect((await logout()).headers.get("content-type")).toBe("text/plain");
    sim.faults.set({ delayMs: 60_000 });
    const controller = new AbortController();
    const pending = logout(controller.signal);
    controller.abort(new Error("gave up"));
    await expect(pending).rejects.toThrow("gave up");
  });

  it("gives up a delayed answer as an aborted fetch does", async () => {
    const { sim, post } = setup();
    const token = await sim.login();
    sim.faults.set({ delayMs: 60_000 });
    const controller = new AbortController();
    const pending = sim.fetch(
      new Request("http://fungame.test/user/logout", {
        method: "POST",
        headers: { authorization: `Bearer ${token}` },
        signal: controller.signal,
      }),
    );
    const reason = new Error("caller left");
    controller.abort(reason);
    await expect(pending).rejects.toBe(reason);
    sim.faults.clear();
    expect((await post("/user/logout", { token })).status).toBe(200);
  });

  it("answers a JSON body over 10 MB, streamed as it is read", async () => {
    const { sim, post } = setup();
    const token = await sim.login();
    sim.faults.set({ oversizedBody: true });
    const response = await post("/user/logout", { token });
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toMatch(/^application\/json/);
    const reader = (response.body as ReadableStream<Uint8Array>).getReader();
    let read = 0;
    for (let i = 0; i < 3; i++) read += (await reader.read()).value?.byteLength ?? 0;
    await reader.cancel();
    expect(read).toBe(3 * OVERSIZED_CHUNK_BYTES);
    expect(sim.faults.streamedBytes).toBeLessThanOrEqual(4 * OVERSIZED_CHUNK_BYTES);
    expect(OVERSIZED_BODY_BYTES).toBeGreaterThan(10_000_000);
  });

  it("fills defaults and exposes them", () => {
    const { sim } = setup();
    expect(sim.options).toMatchObject({
      issuer: "FunGame",
      audience: "FunGame Web API",
      casing: "camel",
      logoutFailureStatus: 400,
      tokenLifetimeSec: 1800,
      clockSkewSec: 300,
      users: { alice: "alice-password", bob: "bob-password" },
    });
    expect(Object.isFrozen(sim.options)).toBe(true);
  });

  it("refuses bad options, naming them", () => {
    const cases: [FunGameSimulatorOptions, string][] = [
      [{ jwtKey: "short" }, "jwtKey"],
      [{ issuer: "" }, "issuer"],
      [{ audience: "" }, "audience"],
      [{ casing: "snake" as never }, "casing"],
      [{ logoutFailureStatus: 404 as never }, "logoutFailureStatus"],
      [{ users: { "": "x" } }, "users"],
      [{ users: { a: 1 as never } }, "users"],
      [{ tokenLifetimeSec: 0 }, "tokenLifetimeSec"],
      [{ clockSkewSec: -1 }, "clockSkewSec"],
      [{ now: 5 as never }, "now"],
      [{ randomUUID: "x" as never }, "randomUUID"],
    ];
    for (const [options, field] of cases) {
      expect(() => createFunGameSimulator(options)).toThrow(FunGameError);
      try {
        createFunGameSimulator(options);
      } catch (error) {
        expect((error as FunGameError).field).toBe(field);
      }
    }
  });
});
