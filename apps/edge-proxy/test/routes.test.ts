// Every vendor route against its simulator: success, already logged out, vendor off, refused bodies.
import { PATHS } from "@x/sdk-auth";
import { describe, expect, it } from "vitest";
import { API_KEY, createHarness, DEVICE, readProblem } from "./harness.ts";

describe("eBET routes", () => {
  it("logs a player out", async () => {
    const h = await createHarness();
    h.sims.ebet.updateUser("demo", { playing: true });
    const response = await h.request("/v1/ebet/logout", {
      json: { username: "demo" },
      bearer: API_KEY,
    });
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toMatch(/^application\/json/);
    expect(await response.json()).toEqual({
      vendor: "ebet",
      ok: true,
      alreadyLoggedOut: false,
      result: { status: 200, apiVersion: "1.3.91" },
    });
    expect(h.sims.ebet.isPlaying("demo")).toBe(false);
  });

  it("answers the account to a login notification", async () => {
    const h = await createHarness();
    const response = await h.request("/v1/ebet/callback", {
      json: { username: "demo", accessToken: "584c26e798deffc96cc7af073c184cd0", subChannelId: 0 },
      bearer: API_KEY,
    });
    expect(response.status).toBe(200);
    const body = (await response.json()) as { result: Record<string, unknown> };
    expect(body).toMatchObject({ vendor: "ebet", ok: true, alreadyLoggedOut: false });
    expect(body.result).toMatchObject({ channelId: 1, userId: 127001, username: "demo" });
    expect(Array.isArray(body.result.wallet)).toBe(true);
    expect(h.sims.ebet.isPlaying("demo")).toBe(true);
  });

  it("reports an unknown user as 404 (eBET 4037), never as already logged out", async () => {
    const h = await createHarness();
    const problem = await readProblem(
      await h.request("/v1/ebet/logout", { json: { username: "nobody1" }, bearer: API_KEY }),
    );
    expect(problem).toMatchObject({
      status: 404,
      vendor: "ebet",
      code: 4037,
      kind: "not_found",
      retryable: false,
      upstreamStatus: 200,
    });
  });

  it("refuses a wrong access token with 401 (eBET 410)", async () => {
    const h = await createHarness();
    const problem = await readProblem(
      await h.request("/v1/ebet/callback", {
        json: { username: "demo", accessToken: "not-the-token" },
        bearer: API_KEY,
      }),
    );
    expect(problem).toMatchObject({ status: 401, code: 410, kind: "unauthorized", vendor: "ebet" });
  });

  it("names the field eBET's client refuses, before any request", async () => {
    const h = await createHarness();
    const problem = await readProblem(
      await h.request("/v1/ebet/logout", { json: { username: "Demo/1" }, bearer: API_KEY }),
    );
    expect(problem).toMatchObject({ status: 400, field: "username", code: "INVALID_INPUT" });
    expect(h.sims.ebet.calls).toHaveLength(0);
  });
});

describe("FunGame routes", () => {
  it("logs a token out and lists it on the deny-list", async () => {
    const h = await createHarness();
    const token = await h.sims.fungame.login("alice");
    const response = await h.request("/v1/fungame/logout", { method: "POST", bearer: token });
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({
      vendor: "fungame",
      ok: true,
      alreadyLoggedOut: false,
      result: { message: "你已成功退出登录！", requestType: 1, denyListed: true },
    });
    const status = await h.request("/v1/fungame/token-status", { bearer: token });
    expect(await status.json()).toEqual({ active: false, reason: "revoked" });
  });

  it("reports a session already gone as alreadyLoggedOut and still lists the token", async () => {
    const h = await createHarness();
    const token = await h.sims.fungame.login("alice");
    h.sims.fungame.endSession("alice");
    const response = await h.request("/v1/fungame/logout", { method: "POST", bearer: token });
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({ alreadyLoggedOut: true, ok: true });
    const status = await h.request("/v1/fungame/token-status", { bearer: token });
    expect(await status.json()).toEqual({ active: false, reason: "revoked" });
  });

  it("answers a token already logged out as done (alreadyLoggedOut) without calling FunGame", async () => {
    const h = await createHarness();
    const token = await h.sims.fungame.login("alice");
    await h.request("/v1/fungame/logout", { method: "POST", bearer: token });
    h.sims.fungame.restart(); // FunGame forgets its revocations; the edge does not
    const before = h.sims.fungame.calls.length;
    const again = await h.request("/v1/fungame/logout", { method: "POST", bearer: token });
    expect(again.status).toBe(200);
    expect(await again.json()).toEqual({
      vendor: "fungame",
      ok: true,
      alreadyLoggedOut: true,
      result: { denyListed: true },
    });
    expect(h.sims.fungame.calls.length).toBe(before);
  });

  it("answers 401 with a challenge when the token is missing or not Bearer", async () => {
    const h = await createHarness();
    const missing = await h.request("/v1/fungame/logout", { method: "POST" });
    expect(missing.headers.get("www-authenticate")).toMatch(/^Bearer/);
    expect(await readProblem(missing)).toMatchObject({ status: 401, code: "MISSING_CREDENTIALS" });
    const basic = await h.request("/v1/fungame/logout", {
      method: "POST",
      headers: { authorization: "Basic YWxpY2U6cHc=" },
    });
    expect(await readProblem(basic)).toMatchObject({ status: 401, code: "INVALID_CREDENTIALS" });
    const status = await h.request("/v1/fungame/token-status");
    expect(await readProblem(status)).toMatchObject({ status: 401, code: "MISSING_CREDENTIALS" });
    expect(h.sims.fungame.calls).toHaveLength(0);
  });

  it("passes FunGame's 401 on for a token it refuses", async () => {
    const h = await createHarness();
    const token = await h.sims.fungame.login("alice");
    const forged = `${token.slice(0, token.lastIndexOf(".") + 1)}${"A".repeat(43)}`;
    const problem = await readProblem(
      await h.request("/v1/fungame/logout", { method: "POST", bearer: forged }),
    );
    expect(problem).toMatchObject({ status: 401, kind: "unauthorized", upstreamStatus: 401 });
  });

  it("token-status without FUNGAME_JWT_SECRET: active but unverified, expired, malformed", async () => {
    let clock = Date.now();
    const h = await createHarness({ deps: { now: () => clock } });
    const token = await h.sims.fungame.login("alice");
    const active = await h.request("/v1/fungame/token-status", { bearer: token });
    expect(await active.json()).toEqual({ active: true, reason: "unverified" });
    // FunGame accepts a token 300 s past its exp.
    clock += 34 * 60 * 1000;
    const late = await h.request("/v1/fungame/token-status", { bearer: token });
    expect(await late.json()).toEqual({ active: true, reason: "unverified" });
    clock += 2 * 60 * 1000;
    const expired = await h.request("/v1/fungame/token-status", { bearer: token });
    expect(await expired.json()).toEqual({ active: false, reason: "expired" });
    const malformed = await h.request("/v1/fungame/token-status", { bearer: "not-a-jwt" });
    expect(await malformed.json()).toEqual({ active: false, reason: "malformed" });
    expect(h.sims.fungame.calls.filter((call) => call.path === "/user/logout")).toHaveLength(0);
  });
});

describe("OneAccess route", () => {
  it("ends a session", async () => {
    const h = await createHarness();
    const sessionToken = h.sims.sdkAuth.issueSession();
    const response = await h.request("/v1/sdk-auth/logout", {
      json: { sessionToken, device: { ...DEVICE, ip: "10.0.0.1", language: "en" } },
    });
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({
      vendor: "sdk-auth",
      ok: true,
      alreadyLoggedOut: false,
      result: { body: "success" },
    });
    expect(h.sims.sdkAuth.hasSession(sessionToken)).toBe(false);
  });

  it("fetches the application key and the server time once for concurrent first logouts", async () => {
    const h = await createHarness();
    const tokens = Array.from({ length: 8 }, () => h.sims.sdkAuth.issueSession());
    const answers = await Promise.all(
      tokens.map((sessionToken) =>
        h.request("/v1/sdk-auth/logout", { json: { sessionToken, device: DEVICE } }),
      ),
    );
    expect(answers.map((answer) => answer.status)).toEqual(tokens.map(() => 200));
    expect(h.sims.sdkAuth.count(PATHS.publicKey)).toBe(1);
    expect(h.sims.sdkAuth.count(PATHS.serverDate)).toBe(1);
    expect(h.sims.sdkAuth.count(PATHS.logout)).toBe(8);
    // Each request's log line reports OneAccess's answer to its own logout.
    const lines = h.logs.filter((line) => line.route === "/v1/sdk-auth/logout");
    expect(lines.map((line) => line.upstreamStatus)).toEqual(tokens.map(() => 200));
  });

  it("reports a session already gone as 401 APP.0007 (OneAccess has no idempotent logout)", async () => {
    const h = await createHarness();
    const sessionToken = h.sims.sdkAuth.issueSession();
    h.sims.sdkAuth.dropSession(sessionToken);
    const problem = await readProblem(
      await h.request("/v1/sdk-auth/logout", { json: { sessionToken, device: DEVICE } }),
    );
    expect(problem).toMatchObject({
      status: 401,
      vendor: "sdk-auth",
      code: "APP.0007",
      kind: "unauthorized",
      upstreamStatus: 400,
    });
  });

  it("refuses CR/LF in a device header value with 400 naming the field", async () => {
    const h = await createHarness();
    const problem = await readProblem(
      await h.request("/v1/sdk-auth/logout", {
        json: { sessionToken: "abc", device: { ...DEVICE, agent: "x\r\nX-Injected: 1" } },
      }),
    );
    expect(problem).toMatchObject({ status: 400, field: "device.agent", code: "INVALID_FIELD" });
    expect(String(problem.detail)).toContain("CR or LF");
    expect(h.sims.sdkAuth.count()).toBe(0);
  });
});

describe("Lancens route", () => {
  it("clears both push tokens, then logs out, reporting each step", async () => {
    const h = await createHarness();
    const { token } = await h.sims.lancens.signIn();
    await h.sims.lancens.bindPushToken(token, "ring");
    await h.sims.lancens.bindPushToken(token, "message");
    const response = await h.request("/v1/lancens/logout", {
      json: { username: "lancens-user", token },
    });
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({
      vendor: "lancens",
      ok: true,
      alreadyLoggedOut: false,
      result: {
        ringPushToken: { outcome: "cleared" },
        messagePushToken: { outcome: "cleared" },
        session: { outcome: "cleared" },
      },
    });
    expect(h.sims.lancens.pushTokens("lancens-user")).toEqual({ ring: [], message: [] });
    expect(h.sims.lancens.isTokenValid(token)).toBe(false);
  });

  it("reports a second logout as already logged out", async () => {
    const h = await createHarness();
    const { token } = await h.sims.lancens.signIn();
    await h.request("/v1/lancens/logout", { json: { username: "lancens-user", token } });
    const again = await h.request("/v1/lancens/logout", {
      json: { username: "lancens-user", token },
    });
    expect(again.status).toBe(200);
    expect(await again.json()).toMatchObject({
      alreadyLoggedOut: true,
      result: {
        ringPushToken: { outcome: "already_cleared" },
        messagePushToken: { outcome: "already_cleared" },
        session: { outcome: "already_cleared" },
      },
    });
  });

  it("shows a failed push-token step without failing the logout", async () => {
    const h = await createHarness();
    const { token } = await h.sims.lancens.signIn();
    h.sims.lancens.failNext("clearRingPushToken", "paramer error");
    const response = await h.request("/v1/lancens/logout", {
      json: { username: "lancens-user", token },
    });
    expect(response.status).toBe(200);
    const body = (await response.json()) as { result: Record<string, { outcome: string }> };
    expect(body.result.ringPushToken).toMatchObject({
      outcome: "failed",
      error: { code: "PARAMER_ERROR", kind: "upstream" },
    });
    expect(body.result.session).toEqual({ outcome: "cleared" });
  });

  it("answers a problem with the steps when the logout step fails", async () => {
    const h = await createHarness();
    const { token } = await h.sims.lancens.signIn();
    const problem = await readProblem(
      await h.request("/v1/lancens/logout", { json: { username: "someone-else", token } }),
    );
    expect(problem).toMatchObject({ status: 400, vendor: "lancens", field: "username" });
    expect(problem.steps).toMatchObject({ session: { outcome: "failed" } });
  });
});

describe("vendor not configured", () => {
  it("answers 404 VENDOR_NOT_CONFIGURED on every route of a vendor that is off", async () => {
    const h = await createHarness({
      env: {
        EBET_BASE_URL: undefined,
        EBET_CHANNEL_ID: undefined,
        EBET_PRIVATE_KEY: undefined,
        FUNGAME_BASE_URL: undefined,
        SDK_AUTH_BASE_URL: undefined,
        SDK_AUTH_CLIENT_ID: undefined,
        LANCENS_BASE_URL: undefined,
      },
    });
    const calls: [string, RequestInit & { json?: unknown }, string][] = [
      ["/v1/ebet/logout", { json: { username: "demo" } }, "ebet"],
      ["/v1/ebet/callback", { json: { username: "demo", accessToken: "x" } }, "ebet"],
      ["/v1/fungame/logout", { method: "POST" }, "fungame"],
      ["/v1/fungame/token-status", {}, "fungame"],
      ["/v1/sdk-auth/logout", { json: { sessionToken: "x", device: DEVICE } }, "sdk-auth"],
      ["/v1/lancens/logout", { json: { username: "lancens-user", token: "x" } }, "lancens"],
    ];
    for (const [path, init, vendor] of calls) {
      const problem = await readProblem(await h.request(path, init));
      expect(problem, path).toMatchObject({
        status: 404,
        code: "VENDOR_NOT_CONFIGURED",
        kind: "not_found",
        vendor,
      });
      expect(String(problem.detail)).toContain("vendor not configured");
    }
    expect(h.upstreamRequests).toHaveLength(0);
    const health = await (await h.request("/healthz")).json();
    expect(health).toEqual({
      status: "ok",
      vendors: { ebet: false, fungame: false, "sdk-auth": false, lancens: false },
    });
  });
});

describe("request bodies", () => {
  it("415 for a body that is not sent as JSON", async () => {
    const h = await createHarness();
    const response = await h.request("/v1/lancens/logout", {
      method: "POST",
      headers: { "content-type": "text/plain" },
      body: '{"username":"lancens-user","token":"t"}',
    });
    expect(await readProblem(response)).toMatchObject({
      status: 415,
      kind: "unsupported_media_type",
      vendor: "lancens",
    });
  });

  it("413 over the body limit, whether declared or streamed", async () => {
    const h = await createHarness();
    const big = JSON.stringify({ username: "lancens-user", token: "x".repeat(20_000) });
    const declared = await h.request("/v1/lancens/logout", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: big,
    });
    expect(await readProblem(declared)).toMatchObject({ status: 413, code: "BODY_TOO_LARGE" });
    const bytes = new TextEncoder().encode(big);
    const stream = new ReadableStream<Uint8Array>({
      start(controller) {
        for (let i = 0; i < bytes.length; i += 4096) controller.enqueue(bytes.slice(i, i + 4096));
        controller.close();
      },
    });
    const streamed = await h.app.fetch(
      new Request("http://proxy.test/v1/lancens/logout", {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: stream,
        // @ts-expect-error: duplex is required for a streamed body but not in every lib's RequestInit
        duplex: "half",
      }),
    );
    expect(await readProblem(streamed)).toMatchObject({ status: 413 });
    expect(h.upstreamRequests).toHaveLength(0);
  });

  it("400 for malformed JSON and for a body that is not an object, without quoting it", async () => {
    const h = await createHarness();
    const broken = await h.request("/v1/lancens/logout", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: '{"token": "secret-token-value",',
    });
    const problem = await readProblem(broken);
    expect(problem).toMatchObject({ status: 400, code: "INVALID_JSON" });
    expect(JSON.stringify(problem)).not.toContain("secret-token-value");
    const array = await h.request("/v1/lancens/logout", { json: ["x"] });
    expect(await readProblem(array)).toMatchObject({ status: 400, code: "INVALID_BODY" });
  });

  it("names unknown members, missing fields and wrong types, never quoting values", async () => {
    const h = await createHarness();
    const unknown = await readProblem(
      await h.request("/v1/lancens/logout", {
        json: { username: "lancens-user", token: "t0ken-secret", password: "hunter2" },
      }),
    );
    expect(unknown).toMatchObject({ status: 400, field: "password", code: "INVALID_FIELD" });
    expect(String(unknown.detail)).toContain("not a known member");
    const nested = await readProblem(
      await h.request("/v1/sdk-auth/logout", {
        json: { sessionToken: "t", device: { ...DEVICE, colour: "blue" } },
      }),
    );
    expect(nested).toMatchObject({ field: "device.colour" });
    const missing = await readProblem(
      await h.request("/v1/sdk-auth/logout", { json: { device: DEVICE } }),
    );
    expect(missing).toMatchObject({ field: "sessionToken" });
    expect(String(missing.detail)).toBe("sessionToken: is required");
    const wrongType = await readProblem(
      await h.request("/v1/ebet/callback", {
        json: { username: 42, accessToken: "t0ken-secret", subChannelId: -1 },
        bearer: API_KEY,
      }),
    );
    expect(wrongType).toMatchObject({ field: "username" });
    expect(wrongType.errors).toEqual([
      { field: "username", message: "must be a string" },
      { field: "subChannelId", message: "must not be negative" },
    ]);
    for (const problem of [unknown, nested, missing, wrongType]) {
      expect(JSON.stringify(problem)).not.toContain("t0ken-secret");
      expect(JSON.stringify(problem)).not.toContain("hunter2");
    }
  });

  it("refuses CR/LF in the Lancens token, which travels as a header", async () => {
    const h = await createHarness();
    const problem = await readProblem(
      await h.request("/v1/lancens/logout", {
        json: { username: "lancens-user", token: "abc\nX-Evil: 1" },
      }),
    );
    expect(problem).toMatchObject({ status: 400, field: "token" });
    expect(h.upstreamRequests).toHaveLength(0);
  });
});
