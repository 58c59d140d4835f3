// Conformance cases for @x/sdk-auth: the client against its simulator, on every runtime.
import { fromBase64, utf8Decode } from "@x/core-signing";
import {
  decryptOaep,
  generateKeyPair,
  importPublicKey,
  type RsaPrivateKey,
} from "@x/core-signing/rsa";
import {
  buildLogoutRequest,
  buildSignaturePlaintext,
  type DeviceInfo,
  OneAccessClient,
  type OneAccessClientOptions,
  OneAccessError,
  PATHS,
  parseLogoutResponse,
} from "@x/sdk-auth";
import {
  createOneAccessSimulator,
  type OneAccessSimulator,
  type OneAccessSimulatorOptions,
} from "@x/sdk-auth/testing";
import { assert, assertEqual, assertRejects, type ConformanceCase, group } from "../harness.ts";

export const cases: ConformanceCase[] = [];
const test = group("sdk-auth", cases);

const BASE_URL = "https://tenant.example.com";
const DEVICE: DeviceInfo = {
  osVersion: "Android 10",
  fingerprint: "156aysdna213sc50",
  agent:
    "Mozilla/5.0 (Linux; Android 10) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/80.0 Mobile Safari/537.36",
};
const START_MS = 1_700_000_000_000;

/** Two 2048-bit key pairs, generated once for every case. */
let keys: Promise<[RsaPrivateKey, RsaPrivateKey]> | undefined;
function keyPairs(): Promise<[RsaPrivateKey, RsaPrivateKey]> {
  keys ??= Promise.all([generateKeyPair(2048), generateKeyPair(2048)]);
  return keys;
}

interface Setup {
  sim: OneAccessSimulator;
  client: OneAccessClient;
  key: RsaPrivateKey;
  other: RsaPrivateKey;
  serverClock: { now: () => number; advance: (ms: number) => void };
}

async function setup(
  simOptions: OneAccessSimulatorOptions = {},
  clientOptions: Partial<OneAccessClientOptions> = {},
): Promise<Setup> {
  const [key, other] = await keyPairs();
  let serverMs = START_MS;
  let clientMs = START_MS;
  const serverClock = {
    now: () => serverMs,
    advance: (ms: number) => {
      serverMs += ms;
      clientMs += ms;
    },
  };
  const sim = await createOneAccessSimulator({
    privateKey: key,
    now: serverClock.now,
    ...simOptions,
  });
  const client = new OneAccessClient({
    baseUrl: BASE_URL,
    clientId: sim.options.clientId,
    fetch: sim.fetch,
    now: () => clientMs,
    ...clientOptions,
  });
  return { sim, client, key, other, serverClock };
}

function pathsOf(sim: OneAccessSimulator): string {
  return sim.calls.map((call) => call.path.replace("/api/v2/sdk/", "")).join(",");
}

async function oneAccessError(
  run: () => unknown,
  pattern: RegExp,
  message: string,
): Promise<OneAccessError> {
  return (await assertRejects(run, OneAccessError, pattern, message)) as OneAccessError;
}

test("serverDate returns the server's timestamp verbatim, in milliseconds by default", async () => {
  const { sim, client } = await setup();
  const { timestamp } = await client.serverDate();
  assertEqual(timestamp, "1700000000000", "timestamp");
  assertEqual(timestamp, sim.serverTimestamp(), "same as the simulator's");
});

test("publicKey reads base64 SPKI with literal \\n breaks, fetched once and cached", async () => {
  const { sim, client, key } = await setup();
  const first = await client.publicKey();
  const second = await client.publicKey();
  assert(first === second, "same cached key object");
  assertEqual(first.n, key.publicKey.n, "modulus");
  assertEqual(sim.count(PATHS.publicKey), 1, "public-key requests");
  const response = await sim.fetch(
    new Request(`${BASE_URL}${PATHS.publicKey}`, {
      headers: {
        "X-operating-sys-version": DEVICE.osVersion,
        "X-device-fingerprint": DEVICE.fingerprint,
        "X-agent": DEVICE.agent,
        "X-client-id": sim.options.clientId,
      },
    }),
  );
  const { public_key } = (await response.json()) as { public_key: string };
  assert(public_key.includes("\\n") && !public_key.includes("\n"), "literal \\n line breaks");
  assertEqual(importPublicKey(public_key).n, key.publicKey.n, "imports");
});

test("the first logout costs three requests, every later one exactly one", async () => {
  const { sim, client, serverClock } = await setup();
  const first = await client.logout({ sessionToken: sim.issueSession(), device: DEVICE });
  assertEqual(first.body, "success", "body");
  assertEqual(pathsOf(sim), "public-key,server-date,logout", "cold requests");
  for (let i = 0; i < 3; i++) {
    serverClock.advance(45_000);
    const token = sim.issueSession();
    sim.clearCalls();
    await client.logout({ sessionToken: token, device: DEVICE });
    assertEqual(pathsOf(sim), "logout", `warm logout ${i}`);
    assert(!sim.hasSession(token), "session ended");
  }
});

test("X-signature is RSA-OAEP SHA-256 of session_token=…&timestamp=…&nonce=<hex of timestamp>", async () => {
  const { sim, client, key } = await setup();
  const token = sim.issueSession();
  await client.logout({ sessionToken: token, device: DEVICE });
  const signature =
    sim.calls.find((call) => call.path === PATHS.logout)?.headers["x-signature"] ?? "";
  const plain = utf8Decode(await decryptOaep(key, fromBase64(signature), "SHA-256"));
  assertEqual(
    plain,
    `session_token=${token}&timestamp=1700000000000&nonce=${(1_700_000_000_000).toString(16)}`,
    "plaintext",
  );
  assertEqual(
    buildSignaturePlaintext({ sessionToken: "t", timestamp: "1700000000", nonce: "6553f100" }),
    "session_token=t&timestamp=1700000000&nonce=6553f100",
    "sans-IO plaintext",
  );
});

test("headers are the vendor page's, optional ones only when set", async () => {
  const { sim, client } = await setup({ tenantId: "tenant-1" }, { tenantId: "tenant-1" });
  await client.logout({ sessionToken: sim.issueSession(), device: DEVICE });
  const bare = sim.calls.find((call) => call.path === PATHS.logout)?.headers ?? {};
  assertEqual(
    Object.keys(bare).sort().join(","),
    "x-agent,x-client-id,x-device-fingerprint,x-operating-sys-version,x-signature,x-tenant-id",
    "header names",
  );
  sim.clearCalls();
  await client.logout({
    sessionToken: sim.issueSession(),
    device: { ...DEVICE, ip: "10.10.10.1", language: "en" },
  });
  const full = sim.calls[0]?.headers ?? {};
  assertEqual(full["x-device-ip"], "10.10.10.1", "X-device-ip");
  assertEqual(full["x-l"], "en", "X-L");
});

test("a seconds server gets seconds, computed locally after the first call", async () => {
  const { sim, client, serverClock } = await setup({ timestampUnit: "s", signatureWindowSec: 5 });
  await client.logout({ sessionToken: sim.issueSession(), device: DEVICE });
  serverClock.advance(90_000);
  sim.clearCalls();
  await client.logout({ sessionToken: sim.issueSession(), device: DEVICE });
  assertEqual(pathsOf(sim), "logout", "one request");
  assertEqual(sim.calls[0]?.signed?.timestamp, sim.serverTimestamp(), "server's seconds");
  assertEqual(client.state.timestampUnit, "s", "unit");
});

test("the server clock offset is kept: a server an hour ahead needs no extra request", async () => {
  const { serverClock } = await setup();
  const ahead = await createOneAccessSimulator({
    privateKey: (await keyPairs())[0],
    now: () => serverClock.now() + 3_600_000,
  });
  const client = new OneAccessClient({
    baseUrl: BASE_URL,
    clientId: ahead.options.clientId,
    fetch: ahead.fetch,
    now: serverClock.now,
  });
  await client.logout({ sessionToken: ahead.issueSession(), device: DEVICE });
  serverClock.advance(60_000);
  ahead.clearCalls();
  await client.logout({ sessionToken: ahead.issueSession(), device: DEVICE });
  assertEqual(ahead.count(), 1, "one request");
  assertEqual(client.state.clockOffsetMs, 3_600_000, "offset");
});

test("a rotated key is recovered with exactly one retry", async () => {
  const { sim, client, other } = await setup();
  await client.logout({ sessionToken: sim.issueSession(), device: DEVICE });
  await sim.rotateKey(other);
  sim.clearCalls();
  await client.logout({ sessionToken: sim.issueSession(), device: DEVICE });
  assertEqual(
    sim.calls
      .map((call) => `${call.path.replace("/api/v2/sdk/", "")}:${call.errorCode ?? call.status}`)
      .join(","),
    "logout:APP.0004,public-key:200,server-date:200,logout:200",
    "one retry",
  );
  sim.clearCalls();
  await client.logout({ sessionToken: sim.issueSession(), device: DEVICE });
  assertEqual(sim.count(), 1, "warm again");
});

test("an unknown session is a OneAccessError with code = error_code, not retried", async () => {
  const { sim, client } = await setup();
  await client.logout({ sessionToken: sim.issueSession(), device: DEVICE });
  sim.clearCalls();
  const error = await oneAccessError(
    () => client.logout({ sessionToken: "never-issued", device: DEVICE }),
    /APP\.0007/,
    "unknown session",
  );
  assertEqual(error.code, "APP.0007", "code");
  assertEqual(error.kind, "unauthorized", "kind");
  assertEqual(error.upstreamStatus, 400, "status");
  assertEqual(error.vendor, "sdk-auth", "vendor");
  assertEqual(sim.count(), 1, "no retry");
});

test("an unknown client id is APP.0001, misconfigured", async () => {
  const { sim, client } = await setup({}, { clientId: "not-registered" });
  const error = await oneAccessError(
    () => client.logout({ sessionToken: sim.issueSession(), device: DEVICE }),
    /APP\.0001/,
    "unknown client",
  );
  assertEqual(error.kind, "misconfigured", "kind");
});

test("bad device input is refused before any request, naming the field", async () => {
  const { sim, client } = await setup();
  const bad: [Record<string, unknown>, string][] = [
    [{ ...DEVICE, agent: "evil\r\nX-client-id: other" }, "device.agent"],
    [{ ...DEVICE, osVersion: "安卓 10" }, "device.osVersion"],
    [{ osVersion: "Android 10", agent: "a" }, "device.fingerprint"],
    [{ ...DEVICE, ip: "10.0.0.1\n" }, "device.ip"],
  ];
  for (const [device, field] of bad) {
    const error = await oneAccessError(
      () => client.logout({ sessionToken: "tok", device: device as never }),
      new RegExp(`^${field.replace(".", "\\.")}: `),
      field,
    );
    assertEqual(error.field, field, "field");
    assertEqual(error.code, "INVALID_INPUT", "code");
  }
  assertEqual(sim.count(), 0, "no request");
});

test("a session token too long for the 2048-bit key is refused, saying the limit", async () => {
  const { sim, client } = await setup();
  await client.publicKey();
  await client.serverDate();
  sim.clearCalls();
  const token = "t".repeat(150);
  const error = await oneAccessError(
    () => client.logout({ sessionToken: token, device: DEVICE }),
    /at most 190 bytes/,
    "too long",
  );
  assertEqual(error.field, "sessionToken", "field");
  assert(!error.message.includes(token), "token not in the message");
  assertEqual(sim.count(), 0, "no request");
});

test("the simulator refuses replays, stale timestamps and undecryptable signatures, each with its code", async () => {
  const { sim } = await setup();
  const token = sim.issueSession();
  const request = (timestamp: string) =>
    buildLogoutRequest({
      baseUrl: BASE_URL,
      clientId: sim.options.clientId,
      device: DEVICE,
      publicKey: sim.publicKey,
      sessionToken: token,
      timestamp,
    });
  const codeOf = async (response: Response) =>
    ((await response.json()) as { error_code: string }).error_code;
  assertEqual(
    await codeOf(await sim.fetch(await request(String(START_MS - 301_000)))),
    "APP.0005",
    "stale",
  );
  const stolen = await request(sim.serverTimestamp());
  const copy = new Request(stolen.url, { headers: stolen.headers });
  const ok = await parseLogoutResponse(await sim.fetch(stolen));
  assertEqual(ok.body, "success", "first use");
  assertEqual(await codeOf(await sim.fetch(copy)), "APP.0006", "replay");
  const garbled = new Headers(copy.headers);
  garbled.set("X-signature", "AAAA");
  assertEqual(
    await codeOf(await sim.fetch(new Request(copy.url, { headers: garbled }))),
    "APP.0004",
    "garbled",
  );
  garbled.delete("X-agent");
  assertEqual(
    await codeOf(await sim.fetch(new Request(copy.url, { headers: garbled }))),
    "APP.0003",
    "missing header",
  );
});

test("a 502 page is a retryable HTTP_502; a non-JSON key answer is BAD_RESPONSE", async () => {
  const { sim, client } = await setup();
  sim.faults.set({ nonJson: true, times: 1 });
  const bad = await oneAccessError(() => client.publicKey(), /not JSON/, "non-JSON");
  assertEqual(bad.code, "BAD_RESPONSE", "code");
  await client.logout({ sessionToken: sim.issueSession(), device: DEVICE });
  sim.faults.set({ status: 502 });
  const gateway = await oneAccessError(
    () => client.logout({ sessionToken: sim.issueSession(), device: DEVICE }),
    /HTTP 502/,
    "502",
  );
  assertEqual(gateway.code, "HTTP_502", "code");
  assertEqual(gateway.retryable, true, "retryable");
  assertEqual(gateway.kind, "unavailable", "kind");
});

test("a slow server is a retryable TIMEOUT", async () => {
  const { sim, client } = await setup({}, { timeoutMs: 50 });
  sim.faults.set({ delayMs: 5_000 });
  const error = await oneAccessError(
    () => client.serverDate(),
    /did not answer within 50 ms/,
    "slow",
  );
  assertEqual(error.code, "TIMEOUT", "code");
  assertEqual(error.retryable, true, "retryable");
});

test("a session from POST login logs out", async () => {
  const { sim, client } = await setup();
  const response = await sim.fetch(
    new Request(`${BASE_URL}${PATHS.login}`, {
      method: "POST",
      headers: {
        "X-operating-sys-version": DEVICE.osVersion,
        "X-device-fingerprint": DEVICE.fingerprint,
        "X-agent": DEVICE.agent,
        "X-client-id": sim.options.clientId,
        "content-type": "application/json",
      },
      body: JSON.stringify({ user_name: "demo", password: "demo-password" }),
    }),
  );
  const { session_token } = (await response.json()) as { session_token: string };
  assert(sim.hasSession(session_token), "logged in");
  await client.logout({ sessionToken: session_token, device: DEVICE });
  assert(!sim.hasSession(session_token), "logged out");
});
