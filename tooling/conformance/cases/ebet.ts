// Conformance cases for @x/ebet: the client against its simulator, on every runtime.
import { toBase64 } from "@x/core-signing";
import { generateKeyPair, importPrivateKey, importPublicKey } from "@x/core-signing/rsa";
import {
  buildCallbackRequest,
  buildLogoutRequest,
  EBET_STATUS,
  EbetClient,
  type EbetClientOptions,
  EbetError,
  verifyEbet,
} from "@x/ebet";
import {
  createEbetSimulator,
  EBET_TEST_PRIVATE_KEY,
  EBET_TEST_PUBLIC_KEY,
  type EbetSimulator,
  type EbetSimulatorOptions,
} from "@x/ebet/testing";
import { assert, assertEqual, assertRejects, type ConformanceCase, group } from "../harness.ts";

export const cases: ConformanceCase[] = [];
const test = group("ebet", cases);

/** 2024-05-01T00:00:00Z. */
const NOW_MS = 1_714_521_600_000;
const now = () => NOW_MS;
const TOKEN = "584c26e798deffc96cc7af073c184cd0";
const BASE_URL = "https://ebet.test";

/** `openssl dgst -md5 -sign` of "demo11714521600" and "demo1" + TOKEN + "1714521600" with the test key. */
const OPENSSL_LOGOUT_SIGNATURE =
  "qaZHRTavDWVI8I48gE0Gf7NBHVBJiDeWdDbUToZp6GosIJjU8ls073gEU9wUl+Be3Uhu9d3BbsEZiA3iFTyKaIceavWbRz9uhAm5T6gAbF0z95j8AzLY/6DxPtpbGSt/X+8yEasRbWXtNFsHwYfjat0ORgXFz7pNylQQKb9Oock=";
const OPENSSL_CALLBACK_SIGNATURE =
  "LdyucIx8IHrFFvQQPHDvwsYCZ0nsMl3nxJQjycQuVB8OswoJgRllqTipPv2QjeHx7hYvxapfR/mgCb/8qonRpfadLgG5m1LW/o5AChGdHkXRRXAE9HPHgaYqtOxMqmRL1uX9lDP1RMGJPchAriet8WwDBR0j1Sytpunns+7JG8U=";

function setup(
  simulatorOptions: EbetSimulatorOptions = {},
  clientOptions: Partial<EbetClientOptions> = {},
): { simulator: EbetSimulator; client: EbetClient } {
  const simulator = createEbetSimulator({ now, ...simulatorOptions });
  const client = new EbetClient({
    baseUrl: BASE_URL,
    channelId: 1,
    privateKey: EBET_TEST_PRIVATE_KEY,
    fetch: simulator.fetch,
    now,
    ...clientOptions,
  });
  return { simulator, client };
}

/** Runs `call`, expecting an EbetError with these code and kind; returns it. */
async function expectEbet(
  call: () => Promise<unknown>,
  code: string | number,
  kind: string,
  what: string,
): Promise<EbetError> {
  const error = await assertRejects(call, EbetError, /./, what);
  assert(error instanceof EbetError, `${what}: an EbetError`);
  assertEqual(error.code, code, `${what}: code`);
  assertEqual(error.kind, kind, `${what}: kind`);
  assertEqual(error.vendor, "ebet", `${what}: vendor`);
  return error;
}

test("logout request is byte-identical to the page's shape with OpenSSL's MD5withRSA signature", async () => {
  const request = await buildLogoutRequest(
    { baseUrl: BASE_URL, channelId: 1, privateKey: EBET_TEST_PRIVATE_KEY, now },
    { username: "demo" },
  );
  assertEqual(request.method, "POST", "method");
  assertEqual(request.url, `${BASE_URL}/api/logout`, "url");
  assertEqual(request.headers.get("content-type"), "application/json", "content type");
  assertEqual(
    await request.text(),
    `{"channelId":1,"username":"demo","timestamp":1714521600,"signature":"${OPENSSL_LOGOUT_SIGNATURE}"}`,
    "body",
  );
});

test("callback request is byte-identical to the page's shape with OpenSSL's MD5withRSA signature", async () => {
  const request = await buildCallbackRequest(
    { baseUrl: BASE_URL, channelId: 1, privateKey: EBET_TEST_PRIVATE_KEY, now },
    { username: "demo", accessToken: TOKEN },
  );
  assertEqual(request.url, `${BASE_URL}/api/callback`, "url");
  assertEqual(
    await request.text(),
    `{"username":"demo","channelId":1,"timestamp":1714521600,"accessToken":"${TOKEN}","signature":"${OPENSSL_CALLBACK_SIGNATURE}"}`,
    "body",
  );
});

test("the test key signs the same from PKCS#1 PEM, PKCS#8 PEM and bare base64 DER, and verifies", async () => {
  const pkcs8 = importPrivateKey(EBET_TEST_PRIVATE_KEY).toPem();
  const bare = toBase64(importPrivateKey(EBET_TEST_PRIVATE_KEY).toPkcs8());
  for (const privateKey of [EBET_TEST_PRIVATE_KEY, pkcs8, bare]) {
    const request = await buildLogoutRequest(
      { baseUrl: BASE_URL, channelId: 1, privateKey, now },
      { username: "demo" },
    );
    const body = (await request.json()) as { signature: string };
    assertEqual(body.signature, OPENSSL_LOGOUT_SIGNATURE, "signature");
  }
  assert(
    await verifyEbet(
      importPublicKey(EBET_TEST_PUBLIC_KEY),
      "demo11714521600",
      OPENSSL_LOGOUT_SIGNATURE,
    ),
    "verifies with the public key",
  );
});

test("callback answers the account and wallets and puts the player in the game", async () => {
  const { simulator, client } = setup();
  const account = await client.callback({ username: "demo", accessToken: TOKEN });
  assertEqual(account.userId, 127001, "userId");
  assertEqual(account.username, "demo", "username");
  assertEqual(account.channelId, 1, "channelId");
  assertEqual(account.subChannelId, 0, "subChannelId");
  assertEqual(account.wallet.length, 7, "wallets");
  assertEqual(account.wallet[0]?.money, 1234567.89, "main wallet");
  assertEqual(account.money, 1234567.89, "money");
  assertEqual(account.timestamp, 1714521600, "timestamp in seconds");
  assert(simulator.isPlaying("demo"), "playing after callback");
});

test("logout answers 200 and takes the player out of the game", async () => {
  const { simulator, client } = setup();
  simulator.updateUser("demo", { playing: true });
  const result = await client.logout({ username: "demo" });
  assertEqual(result.status, 200, "status");
  assertEqual(result.apiVersion, "1.3.91", "apiVersion");
  assertEqual(simulator.isPlaying("demo"), false, "playing after logout");
  assertEqual(simulator.calls.length, 1, "one call logged");
  assertEqual(simulator.calls[0]?.status, 200, "logged status");
});

test("milliseconds timestamps work when both sides use them", async () => {
  const { client } = setup({ timestampUnit: "ms" }, { timestampUnit: "ms" });
  assertEqual((await client.logout({ username: "demo" })).status, 200, "status");
});

test("a wrong key answers 4026, misconfigured", async () => {
  const { client } = setup({}, { privateKey: await generateKeyPair(1024) });
  const error = await expectEbet(
    () => client.logout({ username: "demo" }),
    4026,
    "misconfigured",
    "wrong key",
  );
  assertEqual(error.retryable, false, "not retryable");
});

test("an unknown channel answers 202, misconfigured", async () => {
  const { client } = setup({}, { channelId: 77 });
  await expectEbet(() => client.logout({ username: "demo" }), 202, "misconfigured", "channel");
});

test("a stale timestamp answers 4025, invalid_request", async () => {
  const { client } = setup({}, { now: () => NOW_MS - 301_000 });
  await expectEbet(() => client.logout({ username: "demo" }), 4025, "invalid_request", "stale");
});

test("an unknown user answers 4037, not_found, never an already-finished logout", async () => {
  const { client } = setup();
  const error = await expectEbet(
    () => client.logout({ username: "ghost" }),
    4037,
    "not_found",
    "user",
  );
  assert(!("alreadyLoggedOut" in error), "no alreadyLoggedOut");
});

test("an unissued token answers 410, unauthorized", async () => {
  const { client } = setup();
  await expectEbet(
    () => client.callback({ username: "demo", accessToken: "not-issued" }),
    410,
    "unauthorized",
    "token",
  );
});

test("too many calls for one user answer 4038, rate_limited and retryable", async () => {
  const { client } = setup({ rateLimitPerSecond: 1 });
  await client.logout({ username: "demo" });
  const error = await expectEbet(
    () => client.logout({ username: "demo" }),
    4038,
    "rate_limited",
    "rate limit",
  );
  assert(error.retryable, "retryable");
});

test("a forced 4003 is unavailable and retryable, as the status table says", async () => {
  const { simulator, client } = setup();
  simulator.forceStatus(4003);
  const error = await expectEbet(
    () => client.logout({ username: "demo" }),
    4003,
    "unavailable",
    "busy",
  );
  assert(error.retryable, "retryable");
  assertEqual(EBET_STATUS[4003]?.zh, "系统繁忙", "Chinese meaning");
});

test("bad input is refused before any request, naming the field", async () => {
  let requests = 0;
  const client = new EbetClient({
    baseUrl: BASE_URL,
    channelId: 1,
    privateKey: EBET_TEST_PRIVATE_KEY,
    fetch: async () => {
      requests++;
      return new Response("{}");
    },
  });
  const cases: [() => Promise<unknown>, string][] = [
    [() => client.logout({ username: "" }), "username"],
    [() => client.logout({ username: "Demo" }), "username"],
    [() => client.logout({ username: "de/mo" }), "username"],
    [() => client.logout({ username: "de mo" }), "username"],
    [() => client.callback({ username: "demo", accessToken: "" }), "accessToken"],
    [
      () => client.callback({ username: "demo", accessToken: TOKEN, subChannelId: -1 }),
      "subChannelId",
    ],
  ];
  for (const [call, field] of cases) {
    const error = await expectEbet(call, "INVALID_INPUT", "invalid_request", field);
    assertEqual(error.field, field, "field");
  }
  assertEqual(requests, 0, "no request sent");
  let refused: unknown;
  try {
    new EbetClient({ baseUrl: BASE_URL, channelId: 0, privateKey: EBET_TEST_PRIVATE_KEY });
  } catch (error) {
    refused = error;
  }
  assert(refused instanceof EbetError && refused.field === "channelId", "channelId refused");
});

test("HTTP 502 and 504 are unavailable and retryable; 403 is misconfigured", async () => {
  const { simulator, client } = setup();
  for (const status of [502, 504]) {
    simulator.faults.set({ status });
    const error = await expectEbet(
      () => client.logout({ username: "demo" }),
      `HTTP_${status}`,
      "unavailable",
      `HTTP ${status}`,
    );
    assert(error.retryable, "retryable");
    assertEqual(error.upstreamStatus, status, "upstream status");
  }
  simulator.faults.set({ status: 403 });
  await expectEbet(() => client.logout({ username: "demo" }), "HTTP_403", "misconfigured", "403");
});

test("a non-JSON answer is BAD_RESPONSE, and the player's state is untouched", async () => {
  const { simulator, client } = setup();
  simulator.faults.set({ nonJson: true });
  await expectEbet(
    () => client.callback({ username: "demo", accessToken: TOKEN }),
    "BAD_RESPONSE",
    "upstream",
    "non-JSON",
  );
  assertEqual(simulator.isPlaying("demo"), false, "not playing");
});

test("a slow answer past the deadline is TIMEOUT, unavailable", async () => {
  const { simulator, client } = setup({}, { timeoutMs: 30 });
  simulator.faults.set({ delayMs: 5_000 });
  await expectEbet(() => client.logout({ username: "demo" }), "TIMEOUT", "unavailable", "slow");
});
