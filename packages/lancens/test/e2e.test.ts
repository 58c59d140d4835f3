// End to end: the client against the simulator, the flow's order read from the simulator's call log.
import { describe, expect, it } from "vitest";
import { LancensClient, LancensError } from "../src/index.ts";
import {
  createLancensSimulator,
  DEFAULT_SIMULATOR_USER,
  type LancensSimulatorOptions,
} from "../src/testing/index.ts";

const USER = DEFAULT_SIMULATOR_USER.username;

/** A simulator with a logged-in user who has both push tokens bound, and a client pointed at it. */
async function setup(options: LancensSimulatorOptions = {}, clientOptions = {}) {
  const sim = createLancensSimulator(options);
  const { token } = await sim.signIn();
  await sim.bindPushToken(token, "ring");
  await sim.bindPushToken(token, "message");
  sim.clearCalls();
  const client = new LancensClient({
    baseUrl: "https://weixin.lancens.com:6443",
    fetch: sim.fetch,
    ...clientOptions,
  });
  return { sim, token, client };
}

describe("logoutFully against the simulator", () => {
  it("clears ring, then message push tokens, then logs out, in that order", async () => {
    const { sim, token, client } = await setup();
    const result = await client.logoutFully({ username: USER, token });
    expect(result).toEqual({
      ringPushToken: "cleared",
      messagePushToken: "cleared",
      session: "cleared",
      alreadyLoggedOut: false,
      ok: true,
    });
    expect(sim.routes).toEqual(["clearRingPushToken", "clearMessagePushToken", "logout"]);
    expect(sim.calls.map((call) => call.status)).toEqual([200, 200, 200]);
    expect(sim.calls.every((call) => call.username === USER)).toBe(true);
    expect(sim.pushTokens(USER)).toEqual({ ring: [], message: [] });
    expect(sim.isTokenValid(token)).toBe(false);
  });

  it("a logout after the token was already invalidated reports already_cleared", async () => {
    const { sim, token, client } = await setup();
    await client.logoutFully({ username: USER, token });
    sim.clearCalls();
    const again = await client.logoutFully({ username: USER, token });
    expect(again).toEqual({
      ringPushToken: "already_cleared",
      messagePushToken: "already_cleared",
      session: "already_cleared",
      alreadyLoggedOut: true,
      ok: true,
    });
    expect(sim.routes).toEqual(["clearRingPushToken", "clearMessagePushToken", "logout"]);
    expect(sim.calls.map((call) => [call.status, call.message])).toEqual([
      [401, "invalid token"],
      [401, "invalid token"],
      [401, "invalid token"],
    ]);
    await expect(client.logout({ username: USER, token })).resolves.toEqual({
      outcome: "already_cleared",
      alreadyLoggedOut: true,
      status: 401,
    });
  });

  it("a token invalidated by a newer login: the old flow is already_cleared, the new session untouched", async () => {
    const { sim, token, client } = await setup();
    const newer = await sim.signIn();
    await sim.bindPushToken(newer.token, "ring", "new-device");
    const result = await client.logoutFully({ username: USER, token });
    expect(result.session).toBe("already_cleared");
    expect(sim.isTokenValid(newer.token)).toBe(true);
    expect(sim.pushTokens(USER).ring.map((record) => record.push_token)).toEqual(["new-device"]);
  });

  it("an expired token: push tokens stay bound; pushTokensGoneWithSession false says so", async () => {
    const { sim, token, client } = await setup();
    sim.invalidateToken(token);
    // By default the flow trusts Lancens' documented behaviour (logout and login delete push tokens).
    expect(await client.logoutFully({ username: USER, token })).toMatchObject({
      ringPushToken: "already_cleared",
      session: "already_cleared",
    });
    const strict = new LancensClient({
      baseUrl: "http://lancens.test",
      fetch: sim.fetch,
      pushTokensGoneWithSession: false,
    });
    const result = await strict.logoutFully({ username: USER, token });
    expect((result.ringPushToken as LancensError).code).toBe("INVALID_TOKEN");
    expect((result.messagePushToken as LancensError).kind).toBe("unauthorized");
    expect(result.session).toBe("already_cleared");
    expect(result.ok).toBe(false);
    expect(sim.pushTokens(USER).ring).toHaveLength(1);
  });

  it("a failed push-token step does not stop the logout, which deletes the push tokens anyway", async () => {
    const { sim, token, client } = await setup();
    sim.failNext("clearRingPushToken", "paramer error");
    const result = await client.logoutFully({ username: USER, token });
    expect(result.ringPushToken).toBeInstanceOf(LancensError);
    expect(result.ringPushToken).toMatchObject({
      code: "PARAMER_ERROR",
      kind: "upstream",
      upstreamStatus: 400,
      vendorMessage: "paramer error",
      call: "clearRingPushToken",
    });
    expect(result.messagePushToken).toBe("cleared");
    expect(result.session).toBe("cleared");
    expect(result.ok).toBe(false);
    expect(sim.routes).toEqual(["clearRingPushToken", "clearMessagePushToken", "logout"]);
    expect(sim.pushTokens(USER)).toEqual({ ring: [], message: [] });
  });

  it("a gateway error on the first call is a retryable step error; the rest go on", async () => {
    const { sim, token, client } = await setup();
    sim.faults.set({ status: 503, times: 1 });
    const result = await client.logoutFully({ username: USER, token });
    expect(result.ringPushToken).toMatchObject({ kind: "unavailable", retryable: true });
    expect(result.messagePushToken).toBe("cleared");
    expect(result.session).toBe("cleared");
    expect(sim.calls[0]?.fault).toBe(true);
  });

  it("a database error on logout is the session's retryable error; a retry finishes the job", async () => {
    const { sim, token, client } = await setup();
    sim.failNext("logout", "10051");
    const first = await client.logoutFully({ username: USER, token });
    expect(first.session).toMatchObject({ code: 10051, kind: "unavailable", retryable: true });
    expect(first.alreadyLoggedOut).toBe(false);
    expect(sim.isTokenValid(token)).toBe(true);
    const retry = await client.logoutFully({ username: USER, token });
    expect(retry).toMatchObject({
      ringPushToken: "cleared",
      messagePushToken: "cleared",
      session: "cleared",
      ok: true,
    });
    expect(sim.isTokenValid(token)).toBe(false);
  });

  it("a lost logout answer, retried, ends already_cleared everywhere", async () => {
    const { sim, token, client } = await setup();
    await client.logout({ username: USER, token }); // the answer the caller never saw
    const retry = await client.logoutFully({ username: USER, token });
    expect(retry.ok).toBe(true);
    expect(retry.alreadyLoggedOut).toBe(true);
    expect(sim.pushTokens(USER)).toEqual({ ring: [], message: [] });
  });

  it("someone else's username is the session's error naming the field", async () => {
    const { sim, token, client } = await setup({
      users: [DEFAULT_SIMULATOR_USER, { username: "other-user", password: "password-9" }],
    });
    const result = await client.logoutFully({ username: "other-user", token });
    expect(result.ringPushToken).toBe("cleared");
    expect(result.session).toMatchObject({
      code: "CHECK_FAILED",
      kind: "invalid_request",
      field: "username",
    });
    expect(sim.isTokenValid(token)).toBe(true);
  });

  it("a proxy that drops the token header: every step is no token, an error, and nothing is logged out", async () => {
    const { sim, token } = await setup();
    const stripping = async (request: Request) => {
      const headers = new Headers(request.headers);
      headers.delete("token");
      return sim.fetch(new Request(request, { headers }));
    };
    const client = new LancensClient({ baseUrl: "http://lancens.test", fetch: stripping });
    const result = await client.logoutFully({ username: USER, token });
    for (const step of [result.ringPushToken, result.messagePushToken, result.session]) {
      expect(step).toBeInstanceOf(LancensError);
      expect(step).toMatchObject({
        code: "NO_TOKEN",
        kind: "invalid_request",
        upstreamStatus: 401,
      });
    }
    expect(result.alreadyLoggedOut).toBe(false);
    expect(result.ok).toBe(false);
    expect(sim.calls.map((call) => call.message)).toEqual(["no token", "no token", "no token"]);
    expect(sim.isTokenValid(token)).toBe(true);
    expect(sim.pushTokens(USER).ring).toHaveLength(1);
  });

  it("plain-text error bodies give the same typed errors", async () => {
    const { sim, token, client } = await setup({ errorBody: "text" });
    sim.invalidateToken(token);
    const error = await client.clearMessagePushToken(token).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: "INVALID_TOKEN", kind: "unauthorized", field: "token" });
    await expect(client.logout({ username: USER, token })).resolves.toMatchObject({
      alreadyLoggedOut: true,
    });
  });

  it.each([
    [{ successBody: "empty" }],
    [{ successBody: "text" }],
    [{ clearStatus: 204, logoutStatus: 204 }],
    [{ clearStatus: 202, logoutStatus: 201 }],
  ] as const)("any 2xx is success: %j", async (options) => {
    const { token, client } = await setup(options);
    expect((await client.logoutFully({ username: USER, token })).ok).toBe(true);
  });

  it("a 2xx that is not JSON is still success, as Lancens documents no success body", async () => {
    const { sim, token, client } = await setup();
    sim.faults.set({ nonJson: true, times: 1 });
    expect(await client.clearRingPushToken(token)).toEqual({ outcome: "cleared", status: 200 });
  });

  it("a slow simulator meets the client's deadline: every step times out, none throws", async () => {
    const { sim, token } = await setup();
    sim.faults.set({ delayMs: 60_000 });
    const client = new LancensClient({ baseUrl: "http://x.test", fetch: sim.fetch, timeoutMs: 25 });
    const result = await client.logoutFully({ username: USER, token });
    for (const step of [result.ringPushToken, result.messagePushToken, result.session]) {
      expect(step).toMatchObject({ code: "TIMEOUT", retryable: true });
    }
    sim.faults.clear();
  });

  it("a 200 whose body says a database error is that error, not success", async () => {
    const { sim, token, client } = await setup();
    sim.failNext("logout", "10051", { status: 200 });
    const result = await client.logoutFully({ username: USER, token });
    expect(result.session).toMatchObject({ code: 10051, upstreamStatus: 200, retryable: true });
    expect(result.ok).toBe(false);
    expect(sim.isTokenValid(token)).toBe(true);
  });

  it("a 200 saying no token on logout is an error, never already logged out", async () => {
    const { sim, token, client } = await setup({ errorBody: "text" });
    sim.failNext("logout", "no token", { status: 200 });
    const result = await client.logoutFully({ username: USER, token });
    expect(result.session).toMatchObject({ code: "NO_TOKEN", kind: "invalid_request" });
    expect(result.alreadyLoggedOut).toBe(false);
  });

  it("input refused by the client never reaches the simulator", async () => {
    const { sim, token, client } = await setup();
    await expect(client.logoutFully({ username: "abc", token })).rejects.toMatchObject({
      field: "username",
    });
    await expect(client.clearRingPushToken(`${token}\r\n`)).rejects.toMatchObject({
      field: "token",
    });
    expect(sim.calls).toEqual([]);
  });

  it("single calls work one at a time", async () => {
    const { sim, token, client } = await setup();
    await client.clearMessagePushToken(token);
    expect(sim.pushTokens(USER).message).toEqual([]);
    expect(sim.pushTokens(USER).ring).toHaveLength(1);
    await client.clearRingPushToken(token);
    expect(sim.pushTokens(USER).ring).toEqual([]);
    await expect(client.logout({ username: USER, token })).resolves.toMatchObject({
      outcome: "cleared",
    });
    expect(sim.routes).toEqual(["clearMessagePushToken", "clearRingPushToken", "logout"]);
  });
});

describe("database codes and no data error, through the client against the simulator", () => {
  const STEPS = [
    ["clearRingPushToken", "ringPushToken"],
    ["clearMessagePushToken", "messagePushToken"],
    ["logout", "session"],
  ] as const;

  it("failNext on any route, three times: every step fails with the database code", async () => {
    const { sim, token, client } = await setup();
    sim.failNext("*", "10001", { times: 3 });
    const result = await client.logoutFully({ username: USER, token });
    for (const [route, step] of STEPS) {
      expect(result[step]).toMatchObject({ code: 10001, retryable: true, call: route });
    }
    expect(sim.isTokenValid(token)).toBe(true);
    expect((await client.logoutFully({ username: USER, token })).ok).toBe(true);
  });

  it.each([
    ["10001", 10001, "unavailable", true],
    ["10051", 10051, "unavailable", true],
    ["20001", 20001, "unavailable", true],
    ["20099", 20099, "unavailable", true],
    ["30001", 30001, "unavailable", true],
    ["30099", 30099, "unavailable", true],
    ["10051: Duplicate entry", 10051, "unavailable", true],
    ["no data error", "NO_DATA", "upstream", false],
  ] as const)(
    "%j on each call is a typed error (%s, %s)",
    async (message, code, kind, retryable) => {
      for (const [route, step] of STEPS) {
        for (const status of [400, 500]) {
          const { sim, token, client } = await setup();
          sim.failNext(route, message, { status });
          const result = await client.logoutFully({ username: USER, token });
          expect(result[step]).toBeInstanceOf(LancensError);
          expect(result[step]).toMatchObject({
            code,
            kind,
            retryable,
            upstreamStatus: status,
            vendorMessage: message,
            call: route,
          });
          expect(result.ok).toBe(false);
          expect(result.alreadyLoggedOut).toBe(false);
          // The failure is the injected one only: the other steps still ran and succeeded.
          for (const [, other] of STEPS) if (other !== step) expect(result[other]).toBe("cleared");
        }
      }
    },
  );
});
