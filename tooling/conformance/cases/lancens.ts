// Conformance cases for @x/lancens: the client against its simulator, on every runtime.
import { VendorError } from "@x/core-signing";
import {
  buildClearMessagePushTokenRequest,
  buildClearRingPushTokenRequest,
  buildLogoutRequest,
  LANCENS_BASE_URL,
  LancensClient,
  LancensError,
  parseClearRingPushTokenResponse,
  parseLogoutResponse,
} from "@x/lancens";
import { createLancensSimulator, DEFAULT_SIMULATOR_USER } from "@x/lancens/testing";
import { assert, assertEqual, assertRejects, type ConformanceCase, group } from "../harness.ts";

export const cases: ConformanceCase[] = [];
const test = group("lancens", cases);

const USER = DEFAULT_SIMULATOR_USER.username;

/** A simulator with a logged-in user whose two push tokens are bound, and a client pointed at it. */
async function setup(
  clientOptions: { timeoutMs?: number; pushTokensGoneWithSession?: boolean } = {},
) {
  const sim = createLancensSimulator();
  const { token } = await sim.signIn();
  await sim.bindPushToken(token, "ring");
  await sim.bindPushToken(token, "message");
  sim.clearCalls();
  const client = new LancensClient({
    baseUrl: LANCENS_BASE_URL,
    fetch: sim.fetch,
    ...clientOptions,
  });
  return { sim, token, client };
}

function asError(value: unknown, what: string): LancensError {
  assert(value instanceof LancensError, `${what}: expected a LancensError, got ${String(value)}`);
  return value;
}

const json = (message: string | number, status: number) =>
  new Response(JSON.stringify({ message }), { status });

test("the simulator's login answers 201 { id, token, reflash_key, time } and keeps state", async () => {
  const sim = createLancensSimulator({ now: () => 1_700_000_000_000 });
  const answer = await sim.signIn();
  assertEqual(answer.id, 1, "id");
  assertEqual(typeof answer.token, "string", "token");
  assertEqual(typeof answer.reflash_key, "string", "reflash_key");
  assertEqual(answer.time, 1_700_000_000, "time");
  assertEqual(sim.isTokenValid(answer.token), true, "token valid");
  await sim.bindPushToken(answer.token, "ring", "ring-1");
  assertEqual(sim.pushTokens(USER).ring[0]?.push_token, "ring-1", "ring push token bound");
  assertEqual(sim.calls.map((call) => call.route).join(","), "login,bindRingPushToken", "log");
});

test("the simulator refuses with the real messages: 401 no token / invalid token, 400 undefined field", async () => {
  const sim = createLancensSimulator();
  const call = async (init: RequestInit, path = "/v1/api/user/token") => {
    const response = await sim.fetch(new Request(`http://lancens.test${path}`, init));
    return `${response.status} ${((await response.json()) as { message: string }).message}`;
  };
  assertEqual(await call({ method: "DELETE" }), "401 no token", "no header");
  assertEqual(
    await call({ method: "DELETE", headers: { token: "stale" } }),
    "401 invalid token",
    "stale",
  );
  assertEqual(
    await call({ method: "POST", body: JSON.stringify({ token: "t" }) }, "/v1/api/user/logout"),
    "401 no token",
    "logout without the token header",
  );
  const { token } = await sim.signIn();
  assertEqual(
    await call(
      { method: "POST", headers: { token }, body: JSON.stringify({ token }) },
      "/v1/api/user/logout",
    ),
    "400 undefined username",
    "logout without username",
  );
});

test("logoutFully clears ring, then message push tokens, then logs out (order from the call log)", async () => {
  const { sim, token, client } = await setup();
  const result = await client.logoutFully({ username: USER, token });
  assertEqual(result.ringPushToken, "cleared", "ring");
  assertEqual(result.messagePushToken, "cleared", "message");
  assertEqual(result.session, "cleared", "session");
  assertEqual(result.ok, true, "ok");
  assertEqual(sim.routes.join(","), "clearRingPushToken,clearMessagePushToken,logout", "order");
  assertEqual(sim.pushTokens(USER).ring.length + sim.pushTokens(USER).message.length, 0, "push");
  assertEqual(sim.isTokenValid(token), false, "token invalidated");
});

test("a logout after the token was already invalidated reports already_cleared", async () => {
  const { sim, token, client } = await setup();
  await client.logoutFully({ username: USER, token });
  const again = await client.logoutFully({ username: USER, token });
  assertEqual(again.session, "already_cleared", "session");
  assertEqual(again.ringPushToken, "already_cleared", "ring");
  assertEqual(again.messagePushToken, "already_cleared", "message");
  assertEqual(again.alreadyLoggedOut, true, "alreadyLoggedOut");
  assertEqual(again.ok, true, "ok");
  assertEqual(sim.calls.filter((call) => call.status === 401).length, 3, "three 401 answers");
  const single = await client.logout({ username: USER, token });
  assertEqual(single.outcome, "already_cleared", "single logout");
  assertEqual(single.alreadyLoggedOut, true, "single alreadyLoggedOut");
});

test("an expired token with pushTokensGoneWithSession false reports the push-token refusals", async () => {
  const { sim, token } = await setup();
  sim.invalidateToken(token);
  const strict = new LancensClient({
    baseUrl: LANCENS_BASE_URL,
    fetch: sim.fetch,
    pushTokensGoneWithSession: false,
  });
  const result = await strict.logoutFully({ username: USER, token });
  assertEqual(asError(result.ringPushToken, "ring").code, "INVALID_TOKEN", "ring code");
  assertEqual(asError(result.messagePushToken, "message").kind, "unauthorized", "message kind");
  assertEqual(result.session, "already_cleared", "session");
  assertEqual(sim.pushTokens(USER).ring.length, 1, "ring push token still bound");
});

test("a failed push-token step does not stop the logout", async () => {
  const { sim, token, client } = await setup();
  sim.failNext("clearRingPushToken", "paramer error");
  const result = await client.logoutFully({ username: USER, token });
  const ring = asError(result.ringPushToken, "ring");
  assertEqual(ring.code, "PARAMER_ERROR", "code");
  assertEqual(ring.call, "clearRingPushToken", "call");
  assertEqual(result.messagePushToken, "cleared", "message");
  assertEqual(result.session, "cleared", "session");
  assertEqual(result.ok, false, "ok");
  assertEqual(sim.pushTokens(USER).ring.length, 0, "logout deleted the ring push token");
});

test("a gateway 502 is a retryable unavailable step; the flow goes on", async () => {
  const { sim, token, client } = await setup();
  sim.faults.set({ status: 502, times: 1 });
  const result = await client.logoutFully({ username: USER, token });
  const ring = asError(result.ringPushToken, "ring");
  assertEqual(ring.kind, "unavailable", "kind");
  assertEqual(ring.retryable, true, "retryable");
  assertEqual(ring.upstreamStatus, 502, "status");
  assertEqual(result.session, "cleared", "session");
  assertEqual(sim.calls[0]?.fault, true, "logged as a fault");
});

test("a numeric database code on logout is the session's retryable error", async () => {
  const { sim, token, client } = await setup();
  sim.failNext("logout", "10051");
  const result = await client.logoutFully({ username: USER, token });
  const session = asError(result.session, "session");
  assertEqual(session.code, 10051, "code");
  assertEqual(session.kind, "unavailable", "kind");
  assertEqual(session.retryable, true, "retryable");
  assertEqual(sim.isTokenValid(token), true, "token still valid");
});

test("a slow Lancens meets the deadline: each step is a TIMEOUT, the flow does not throw", async () => {
  const { sim, token, client } = await setup({ timeoutMs: 25 });
  sim.faults.set({ delayMs: 60_000 });
  const result = await client.logoutFully({ username: USER, token });
  for (const step of [result.ringPushToken, result.messagePushToken, result.session]) {
    assertEqual(asError(step, "step").code, "TIMEOUT", "code");
  }
  sim.faults.clear();
});

test("bad input is refused before any request, naming the field", async () => {
  const { sim, token, client } = await setup();
  const bad: [{ username: string; token: string }, string][] = [
    [{ username: "abcde", token }, "username"],
    [{ username: "a".repeat(33), token }, "username"],
    [{ username: USER, token: "" }, "token"],
    [{ username: USER, token: `${token}\r\nx-injected: 1` }, "token"],
    [{ username: USER, token: "abc\ndef" }, "token"],
  ];
  for (const [input, field] of bad) {
    const error = await assertRejects(
      () => client.logoutFully(input),
      LancensError,
      new RegExp(`^${field}: `),
      field,
    );
    assertEqual((error as LancensError).field, field, "field");
    assert(!error.message.includes(token), "the token is not repeated");
  }
  await assertRejects(() => client.clearRingPushToken("a\rb"), LancensError, /CR or LF/, "push");
  assertEqual(sim.calls.length, 0, "no request reached the simulator");
});

test("request builders: DELETE with a token header, POST with a JSON body", async () => {
  const target = { baseUrl: "https://weixin.lancens.com:6443/" };
  const ring = buildClearRingPushTokenRequest(target, "tok");
  assertEqual(`${ring.method} ${ring.url}`, `DELETE ${LANCENS_BASE_URL}/v1/api/user/token`, "ring");
  assertEqual(ring.headers.get("token"), "tok", "ring header");
  const message = buildClearMessagePushTokenRequest(target, "tok");
  assertEqual(message.url, `${LANCENS_BASE_URL}/v1/api/user/message/token`, "message url");
  const logout = buildLogoutRequest(target, { username: USER, token: "tok" });
  assertEqual(logout.method, "POST", "logout method");
  assertEqual(await logout.text(), JSON.stringify({ username: USER, token: "tok" }), "body");
});

test("parsers: any 2xx is success, with a JSON, text or empty body", async () => {
  const answers = [
    json("success", 200),
    new Response("ok", { status: 201 }),
    new Response(null, { status: 204 }),
    new Response("<html></html>", { status: 200 }),
  ];
  for (const response of answers) {
    const result = await parseLogoutResponse(response);
    assertEqual(result.outcome, "cleared", `HTTP ${response.status}`);
  }
  assertEqual(
    (await parseClearRingPushTokenResponse(new Response(null, { status: 204 }))).status,
    204,
    "push 204",
  );
});

test("parsers: each documented message is a typed error that keeps its field", async () => {
  const expected: [string | number, number, string | number, string, string | undefined][] = [
    ["undefined username", 400, "UNDEFINED_FIELD", "invalid_request", "username"],
    ["username length error", 400, "LENGTH_ERROR", "invalid_request", "username"],
    ["token format error", 400, "FORMAT_ERROR", "invalid_request", "token"],
    ["username error", 400, "CHECK_FAILED", "invalid_request", "username"],
    ["username exist", 400, "EXISTS", "invalid_request", "username"],
    ["no data error", 400, "NO_DATA", "upstream", undefined],
    ["paramer error", 400, "PARAMER_ERROR", "upstream", undefined],
    ["10001", 400, 10001, "unavailable", undefined],
    [20005, 400, 20005, "unavailable", undefined],
    ["30001", 400, 30001, "unavailable", undefined],
  ];
  for (const [message, status, code, kind, field] of expected) {
    const error = await assertRejects(
      () => parseLogoutResponse(json(message, status)),
      LancensError,
      /lancens logout failed/,
      String(message),
    );
    const typed = error as LancensError;
    assertEqual(typed.code, code, `${message} code`);
    assertEqual(typed.kind, kind, `${message} kind`);
    assertEqual(typed.field, field, `${message} field`);
    assertEqual(typed.upstreamStatus, status, `${message} status`);
  }
});

test("parsers: invalid token is unauthorized on push tokens, already_cleared on logout; no token is an invalid request everywhere", async () => {
  for (const body of ['{"message":"no token"}', "no token"]) {
    for (const parse of [parseClearRingPushTokenResponse, parseLogoutResponse]) {
      const error = await assertRejects(
        () => parse(new Response(body, { status: 401 })),
        LancensError,
        /HTTP 401/,
        body,
      );
      assertEqual((error as LancensError).code, "NO_TOKEN", `${body} code`);
      assertEqual((error as LancensError).kind, "invalid_request", `${body} kind`);
    }
  }
  for (const body of ['{"message":"invalid token"}', "invalid token"]) {
    const error = await assertRejects(
      () => parseClearRingPushTokenResponse(new Response(body, { status: 401 })),
      LancensError,
      /HTTP 401/,
      body,
    );
    assertEqual((error as LancensError).kind, "unauthorized", `${body} kind`);
    assertEqual((error as LancensError).field, "token", `${body} field`);
    const logout = await parseLogoutResponse(new Response(body, { status: 401 }));
    assertEqual(logout.alreadyLoggedOut, true, `${body} on logout`);
  }
  const empty = await assertRejects(
    () => parseLogoutResponse(new Response(null, { status: 401 })),
    LancensError,
    /no message/,
    "empty 401",
  );
  assertEqual((empty as LancensError).code, "HTTP_ERROR", "an empty 401 is not already_cleared");
});

test("errors are VendorErrors with vendor lancens and never carry the token", async () => {
  const token = "secret-token-0123456789";
  const echo = async () => json(`bad token ${token}`, 401);
  const client = new LancensClient({ baseUrl: LANCENS_BASE_URL, fetch: echo });
  const error = await assertRejects(
    () => client.clearMessagePushToken(token),
    VendorError,
    /HTTP 401/,
    "echo",
  );
  const typed = error as LancensError;
  assertEqual(typed.vendor, "lancens", "vendor");
  assertEqual(typed.name, "LancensError", "name");
  assert(!JSON.stringify(typed).includes(token), "no token in JSON");
  assert(!typed.message.includes(token), "no token in message");
  assertEqual(typed.vendorMessage, "bad token [redacted]", "redacted vendor message");
});
