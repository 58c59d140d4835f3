// Conformance cases for @x/fungame: the client against its simulator, on every runtime.
import { toBase64Url, utf8Encode } from "@x/core-signing";
import {
  buildLogoutRequest,
  FunGameClient,
  FunGameError,
  inspectToken,
  isTokenRevoked,
  MemoryRevocationList,
  parseLogoutResponse,
  revokeToken,
} from "@x/fungame";
import {
  createFunGameSimulator,
  DEFAULT_SIMULATOR_JWT_KEY,
  type FunGameSimulatorOptions,
} from "@x/fungame/testing";
import { verifyToken } from "@x/fungame/verify";
import { assert, assertEqual, assertRejects, type ConformanceCase, group } from "../harness.ts";

export const cases: ConformanceCase[] = [];
const test = group("fungame", cases);

const T0 = Date.UTC(2025, 2, 23, 11, 47, 43);
const T0_SEC = Math.floor(T0 / 1000);
const OTHER_KEY = "another-fungame-jwt-key-of-at-least-32-bytes";

function world(options: FunGameSimulatorOptions = {}, treat500AsLoggedOut = false) {
  let ms = T0;
  const now = () => ms;
  const sim = createFunGameSimulator({ now, ...options });
  const client = new FunGameClient({
    baseUrl: "https://fungame.test",
    fetch: sim.fetch,
    treat500AsLoggedOut,
  });
  return {
    sim,
    client,
    now,
    advance: (sec: number) => {
      ms += sec * 1000;
    },
  };
}

const b64 = (value: unknown) => toBase64Url(utf8Encode(JSON.stringify(value)));
const claims = (extra: Record<string, unknown> = {}) => ({
  sub: "alice",
  jti: "5f0c2a8e-3c1b-4f43-9d7e-2b7a1c0e9f11",
  exp: T0_SEC + 1800,
  iss: "FunGame",
  aud: "FunGame Web API",
  ...extra,
});

async function expectError(
  promise: Promise<unknown>,
  kind: string,
  message: string,
): Promise<FunGameError> {
  const error = await assertRejects(() => promise, FunGameError, /./, message);
  assertEqual((error as FunGameError).kind, kind, `${message}: kind`);
  return error as FunGameError;
}

for (const casing of ["camel", "pascal"] as const) {
  test(`logout succeeds and its repeat is unauthorized (${casing}Case)`, async () => {
    const { sim, client } = world({ casing });
    const token = await sim.login("alice");
    const result = await client.logout(token);
    assertEqual(result.alreadyLoggedOut, false, "alreadyLoggedOut");
    assertEqual(result.message, "你已成功退出登录！", "message, trailing space tolerated");
    assertEqual(result.requestType, 1, "requestType");
    assertEqual(sim.state().sessions.length, 0, "session ended");
    const again = await expectError(client.logout(token), "unauthorized", "repeat");
    assertEqual(again.upstreamStatus, 401, "upstream status");
  });

  test(`a session already gone (400) is alreadyLoggedOut (${casing}Case)`, async () => {
    const { sim, client } = world({ casing });
    const token = await sim.login("alice");
    sim.endSession("alice");
    const result = await client.logout(token);
    assertEqual(result.alreadyLoggedOut, true, "alreadyLoggedOut");
    assertEqual(result.message, "退出登录失败！", "message");
  });
}

test("the newer server's 500 is a retryable upstream error, or logged out when asked", async () => {
  const strict = world({ logoutFailureStatus: 500 });
  const token = await strict.sim.login("alice");
  strict.sim.endSession("alice");
  const error = await expectError(strict.client.logout(token), "upstream", "500");
  assertEqual(error.retryable, true, "retryable");
  const lenient = world({ logoutFailureStatus: 500 }, true);
  const other = await lenient.sim.login("bob");
  lenient.sim.endSession("bob");
  const result = await lenient.client.logout(other);
  assertEqual(result.alreadyLoggedOut, true, "alreadyLoggedOut");
  assertEqual(result.event, "user_logout", "event");
});

test("tokens are refused before any request: empty, two segments, CR/LF", async () => {
  const { sim, client } = world();
  for (const token of ["", "abc.def", "abc.def.ghi\r\nX-Evil: 1"]) {
    const error = await expectError(client.logout(token), "invalid_request", "bad token");
    assertEqual(error.field, "bearerToken", "field");
  }
  assertEqual(sim.calls.length, 0, "no request reached the server");
});

test("a token signed with another key is unauthorized at the server and in verifyToken", async () => {
  const { sim, client, now } = world();
  const foreign = await createFunGameSimulator({ now, jwtKey: OTHER_KEY }).login("alice");
  await sim.login("alice");
  await expectError(client.logout(foreign), "unauthorized", "server");
  const error = await expectError(
    verifyToken(foreign, { secret: DEFAULT_SIMULATOR_JWT_KEY, now }),
    "unauthorized",
    "verifyToken",
  );
  assertEqual(error.code, "TOKEN_BAD_SIGNATURE", "code");
  assertEqual(sim.state().sessions.length, 1, "session kept");
});

test("an alg:none token is refused by the server and by verifyToken", async () => {
  const { sim, client, now } = world();
  await sim.login("alice");
  const none = `${b64({ alg: "none", typ: "JWT" })}.${b64(claims())}.AA`;
  await expectError(client.logout(none), "unauthorized", "server");
  const error = await expectError(
    verifyToken(none, { secret: DEFAULT_SIMULATOR_JWT_KEY, now }),
    "unauthorized",
    "verifyToken",
  );
  assertEqual(error.code, "TOKEN_ALGORITHM_REFUSED", "code");
});

test("an expired token is refused by the server (after its skew) and by verifyToken", async () => {
  const { sim, client, now, advance } = world();
  const token = await sim.login("alice");
  advance(1800 + 301);
  await expectError(client.logout(token), "unauthorized", "server");
  const error = await expectError(
    verifyToken(token, { secret: DEFAULT_SIMULATOR_JWT_KEY, now }),
    "unauthorized",
    "verifyToken",
  );
  assertEqual(error.code, "TOKEN_EXPIRED", "code");
});

test("a token for another audience is refused by the server and by verifyToken", async () => {
  const { sim, client, now } = world();
  await sim.login("alice");
  const foreign = await createFunGameSimulator({ now, audience: "Other API" }).login("alice");
  await expectError(client.logout(foreign), "unauthorized", "server");
  const error = await expectError(
    verifyToken(foreign, { secret: DEFAULT_SIMULATOR_JWT_KEY, now }),
    "unauthorized",
    "verifyToken",
  );
  assertEqual(error.code, "TOKEN_WRONG_AUDIENCE", "code");
});

test("simulator tokens carry FunGame's claims and verify with HS256", async () => {
  const { sim, now } = world();
  const token = await sim.login("bob");
  const inspected = inspectToken(token);
  assertEqual(inspected.sub, "bob", "sub");
  assert(
    /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/.test(inspected.jti ?? ""),
    "jti is a GUID",
  );
  assertEqual(inspected.exp, T0_SEC + 1800, "exp 30 minutes on");
  const verified = await verifyToken(token, { secret: DEFAULT_SIMULATOR_JWT_KEY, now });
  assertEqual(verified.jti, inspected.jti, "verified jti");
});

test("refresh revokes the presented token and returns a new bare-string token", async () => {
  const { sim, client } = world();
  const old = await sim.login("alice");
  const response = await sim.fetch(
    new Request("https://fungame.test/user/refresh", {
      method: "POST",
      headers: { authorization: `Bearer ${old}` },
    }),
  );
  assertEqual(response.status, 200, "status");
  const fresh = await response.text();
  assertEqual(fresh.split(".").length, 3, "a JWT");
  assert(sim.isRevoked(inspectToken(old).jti ?? ""), "old token revoked");
  await expectError(client.logout(old), "unauthorized", "old token");
  assertEqual((await client.logout(fresh)).alreadyLoggedOut, false, "new token logs out");
});

test("the edge deny-list remembers what a restarted server forgets", async () => {
  const { sim, client, now, advance } = world();
  const denyList = new MemoryRevocationList({ now });
  const token = await sim.login("alice");
  await client.logout(token);
  await revokeToken(denyList, token);
  sim.restart();
  const refreshed = await sim.fetch(
    new Request("https://fungame.test/user/refresh", {
      method: "POST",
      headers: { authorization: `Bearer ${token}` },
    }),
  );
  assertEqual(refreshed.status, 200, "the restarted server accepts the logged-out token");
  assertEqual(await isTokenRevoked(denyList, token), true, "the deny-list refuses it");
  advance(1800);
  assertEqual(await isTokenRevoked(denyList, token), false, "entry gone at exp");
});

test("MemoryRevocationList stays bounded", () => {
  const list = new MemoryRevocationList({ maxEntries: 2, now: () => T0 });
  list.add("a", T0_SEC + 10);
  list.add("b", T0_SEC + 20);
  list.add("c", T0_SEC + 30);
  assertEqual(list.size, 2, "size");
  assertEqual(list.has("a"), false, "soonest-expiring dropped");
  assertEqual(list.has("c"), true, "newest kept");
});

test("gateway 502 and a slow server are retryable unavailable errors", async () => {
  const { sim, client } = world();
  const token = await sim.login("alice");
  sim.faults.set({ status: 502, times: 1 });
  const gateway = await expectError(client.logout(token), "unavailable", "502");
  assertEqual(gateway.retryable, true, "retryable");
  sim.faults.set({ delayMs: 5_000, times: 1 });
  const hurried = new FunGameClient({
    baseUrl: "https://fungame.test",
    fetch: sim.fetch,
    timeoutMs: 20,
  });
  const timeout = await expectError(hurried.logout(token), "unavailable", "timeout");
  assertEqual(timeout.code, "TIMEOUT", "code");
  assertEqual(sim.state().sessions.length, 1, "session survives both");
});

test("non-JSON and truncated answers are typed upstream errors", async () => {
  const { sim, client } = world();
  const token = await sim.login("alice");
  for (const fault of [{ nonJson: true }, { truncatedJson: true }]) {
    sim.faults.set(fault);
    const error = await expectError(client.logout(token), "upstream", JSON.stringify(fault));
    assertEqual(error.code, "BAD_RESPONSE", "code");
  }
  sim.faults.clear();
  assertEqual((await client.logout(token)).alreadyLoggedOut, false, "then a normal logout");
});

test("sans-IO: buildLogoutRequest and parseLogoutResponse work without a client", async () => {
  const { sim } = world();
  const token = await sim.login("alice");
  const request = buildLogoutRequest(token, { baseUrl: "https://fungame.test/" });
  assertEqual(request.url, "https://fungame.test/user/logout", "url");
  assertEqual(request.headers.get("authorization"), `Bearer ${token}`, "authorization");
  const result = await parseLogoutResponse(await sim.fetch(request));
  assertEqual(result.alreadyLoggedOut, false, "parsed");
  const unauthorized = await expectError(
    parseLogoutResponse(new Response(null, { status: 401 })),
    "unauthorized",
    "empty 401",
  );
  assertEqual(unauthorized.vendor, "fungame", "vendor");
});
