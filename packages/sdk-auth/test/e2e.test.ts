// End to end: the client against the simulator, counting every request.
import { generateKeyPair, type RsaPrivateKey } from "@x/core-signing/rsa";
import { beforeAll, beforeEach, describe, expect, it } from "vitest";
import { OneAccessClient, type OneAccessClientOptions } from "../src/client.ts";
import { PATHS } from "../src/requests.ts";
import {
  createOneAccessSimulator,
  type OneAccessSimulator,
  type OneAccessSimulatorOptions,
} from "../src/testing/index.ts";
import { DEVICE, type ManualClock, manualClock, opensslDecrypt, rejection } from "./support.ts";

let key: RsaPrivateKey;
let rotated: RsaPrivateKey;
beforeAll(async () => {
  [key, rotated] = await Promise.all([generateKeyPair(2048), generateKeyPair(2048)]);
});

let serverClock: ManualClock;
let clientClock: ManualClock;
let sim: OneAccessSimulator;
let client: OneAccessClient;

async function setup(
  simOptions: OneAccessSimulatorOptions = {},
  clientOptions: Partial<OneAccessClientOptions> = {},
) {
  serverClock = manualClock();
  clientClock = manualClock();
  sim = await createOneAccessSimulator({ privateKey: key, now: serverClock.now, ...simOptions });
  client = new OneAccessClient({
    baseUrl: "https://tenant.example.com",
    clientId: sim.options.clientId,
    fetch: sim.fetch,
    now: clientClock.now,
    ...clientOptions,
  });
}
beforeEach(() => setup());

/** Moves both clocks, as real time passes for both. */
function elapse(ms: number) {
  serverClock.advance(ms);
  clientClock.advance(ms);
}

function paths(): string[] {
  return sim.calls.map((call) => call.path);
}

describe("round trips", () => {
  it("the first logout costs three requests, every later one exactly one", async () => {
    const first = sim.issueSession();
    expect(await client.logout({ sessionToken: first, device: DEVICE })).toEqual({
      body: "success",
    });
    expect(paths()).toEqual([PATHS.publicKey, PATHS.serverDate, PATHS.logout]);
    for (let i = 0; i < 5; i++) {
      elapse(30_000);
      const token = sim.issueSession();
      sim.clearCalls();
      await client.logout({ sessionToken: token, device: DEVICE });
      expect(paths()).toEqual([PATHS.logout]);
      expect(sim.hasSession(token)).toBe(false);
    }
  });

  it("after serverDate() and publicKey() warm-up, the very first logout costs one request", async () => {
    const { timestamp } = await client.serverDate();
    expect(timestamp).toBe(sim.serverTimestamp());
    const publicKey = await client.publicKey();
    expect(publicKey.n).toBe(key.publicKey.n);
    expect(await client.publicKey()).toBe(publicKey);
    expect(sim.count(PATHS.publicKey)).toBe(1);
    sim.clearCalls();
    await client.logout({ sessionToken: sim.issueSession(), device: DEVICE });
    expect(sim.count()).toBe(1);
  });

  it("sends an X-signature that OpenSSL decrypts to the documented form", async () => {
    const token = sim.issueSession();
    await client.logout({
      sessionToken: token,
      device: { ...DEVICE, ip: "10.10.10.1", language: "en" },
    });
    const call = sim.calls.find((entry) => entry.path === PATHS.logout);
    const ts = sim.serverTimestamp();
    expect(opensslDecrypt(key, call?.headers["x-signature"] as string)).toBe(
      `session_token=${token}&timestamp=${ts}&nonce=${Number(ts).toString(16)}`,
    );
    expect(call?.headers["x-device-ip"]).toBe("10.10.10.1");
    expect(call?.headers["x-l"]).toBe("en");
    expect(call?.headers).not.toHaveProperty("x-tenant-id");
  });

  it("computes timestamps locally from the server's clock, not its own", async () => {
    serverClock.advance(3_600_000); // the server runs an hour ahead, far outside its window
    await client.logout({ sessionToken: sim.issueSession(), device: DEVICE });
    elapse(120_000);
    sim.clearCalls();
    const token = sim.issueSession();
    await client.logout({ sessionToken: token, device: DEVICE });
    expect(sim.calls).toHaveLength(1);
    expect(sim.calls[0]?.signed?.timestamp).toBe(sim.serverTimestamp());
    expect(client.state.clockOffsetMs).toBe(3_600_000);
  });

  it("speaks seconds to a server that counts in seconds", async () => {
    await setup({ timestampUnit: "s", signatureWindowSec: 5 });
    await client.logout({ sessionToken: sim.issueSession(), device: DEVICE });
    expect(client.state.timestampUnit).toBe("s");
    elapse(61_000);
    sim.clearCalls();
    await client.logout({ sessionToken: sim.issueSession(), device: DEVICE });
    expect(sim.calls).toHaveLength(1);
    expect(sim.calls[0]?.signed?.timestamp).toBe(sim.serverTimestamp());
    expect(sim.calls[0]?.signed?.timestamp).toHaveLength(10);
  });

  it("logs out a session that came from POST login", async () => {
    const response = await sim.fetch(
      new Request(`https://tenant.example.com${PATHS.login}`, {
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
    await client.logout({ sessionToken: session_token, device: DEVICE });
    expect(sim.hasSession(session_token)).toBe(false);
  });

  it("serves an ISV application with X-tenant-id on every call", async () => {
    await setup(
      { tenantId: "08f770f51f80d2f40f38c00cb199fd21" },
      { tenantId: "08f770f51f80d2f40f38c00cb199fd21" },
    );
    await client.logout({ sessionToken: sim.issueSession(), device: DEVICE });
    expect(
      sim.calls.every((call) => call.headers["x-tenant-id"] === "08f770f51f80d2f40f38c00cb199fd21"),
    ).toBe(true);
    await setup({ tenantId: "08f770f51f80d2f40f38c00cb199fd21" });
    const error = await rejection(
      client.logout({ sessionToken: sim.issueSession(), device: DEVICE }),
    );
    expect(error).toMatchObject({ code: "APP.0008", kind: "misconfigured" });
  });

  it("shares one key fetch and one clock reading between concurrent cold logouts", async () => {
    const tokens = Array.from({ length: 5 }, () => sim.issueSession());
    await Promise.all(
      tokens.map((sessionToken) => client.logout({ sessionToken, device: DEVICE })),
    );
    expect(sim.count(PATHS.publicKey)).toBe(1);
    expect(sim.count(PATHS.serverDate)).toBe(1);
    expect(sim.count(PATHS.logout)).toBe(5);
    expect(sim.state().sessions).toHaveLength(0);
  });
});

describe("recovery", () => {
  it("recovers from a key rotation with exactly one retry", async () => {
    await client.logout({ sessionToken: sim.issueSession(), device: DEVICE });
    await sim.rotateKey(rotated);
    sim.clearCalls();
    const token = sim.issueSession();
    expect(await client.logout({ sessionToken: token, device: DEVICE })).toEqual({
      body: "success",
    });
    expect(sim.calls.map((call) => [call.path, call.status, call.errorCode])).toEqual([
      [PATHS.logout, 400, "APP.0004"],
      [PATHS.publicKey, 200, undefined],
      [PATHS.serverDate, 200, undefined],
      [PATHS.logout, 200, undefined],
    ]);
    expect(client.state.publicKey?.n).toBe(rotated.publicKey.n);
    expect(opensslDecrypt(rotated, sim.calls[3]?.headers["x-signature"] as string)).toContain(
      token,
    );
    // The retry signs the server's fresh time, with the nonce the simulator checks.
    const now = sim.serverTimestamp();
    expect(sim.calls[3]?.signed).toEqual({
      sessionToken: token,
      timestamp: now,
      nonce: Number(now).toString(16),
    });
    sim.clearCalls();
    await client.logout({ sessionToken: sim.issueSession(), device: DEVICE });
    expect(sim.count()).toBe(1);
  });

  it("recovers from a clock that drifted out of the window with exactly one retry", async () => {
    await client.logout({ sessionToken: sim.issueSession(), device: DEVICE });
    clientClock.advance(-400_000); // the local clock jumps back; the cached offset is now wrong
    sim.clearCalls();
    await client.logout({ sessionToken: sim.issueSession(), device: DEVICE });
    expect(sim.calls.map((call) => call.errorCode ?? call.status)).toEqual([
      "APP.0005",
      200,
      200,
      200,
    ]);
  });

  it("recovers from a rotation and a clock jump at once, still with one retry", async () => {
    await client.logout({ sessionToken: sim.issueSession(), device: DEVICE });
    await sim.rotateKey(rotated);
    serverClock.advance(3_600_000);
    sim.clearCalls();
    await client.logout({ sessionToken: sim.issueSession(), device: DEVICE });
    expect(sim.calls.map((call) => call.errorCode ?? call.status)).toEqual([
      "APP.0004",
      200,
      200,
      200,
    ]);
    expect(client.state.clockOffsetMs).toBe(3_600_000);
    expect(sim.state().keyRotations).toBe(1);
  });

  it("a client whose nonce is not the timestamp in hexadecimal is refused (APP.0004)", async () => {
    await setup({}, { nonce: (timestamp) => `n${timestamp}` });
    const token = sim.issueSession();
    const error = await rejection(client.logout({ sessionToken: token, device: DEVICE }));
    expect(error).toMatchObject({ code: "APP.0004", kind: "unauthorized" });
    expect(error.errorMsg).toMatch(/nonce/);
    expect(sim.count(PATHS.logout)).toBe(2);
    expect(sim.hasSession(token)).toBe(true);
    // A simulator told to take any nonce takes it.
    await setup({ nonce: "any" }, { nonce: (timestamp) => `n${timestamp}` });
    await client.logout({ sessionToken: sim.issueSession(), device: DEVICE });
  });

  it("gives up after the one retry when the signature still fails", async () => {
    await client.logout({ sessionToken: sim.issueSession(), device: DEVICE });
    sim.clearCalls();
    const stubborn = new OneAccessClient({
      baseUrl: "https://tenant.example.com",
      clientId: sim.options.clientId,
      now: clientClock.now,
      // A proxy that rewrites the signature: every attempt fails to decrypt.
      fetch: (request) => {
        const headers = new Headers(request.headers);
        if (headers.has("X-signature")) headers.set("X-signature", "AAAA");
        return sim.fetch(new Request(request.url, { headers }));
      },
    });
    const error = await rejection(
      stubborn.logout({ sessionToken: sim.issueSession(), device: DEVICE }),
    );
    expect(error).toMatchObject({ code: "APP.0004", kind: "unauthorized", upstreamStatus: 400 });
    expect(error.errorMsg).toBe("Invalid signature.");
    expect(sim.count(PATHS.logout)).toBe(2);
  });
});

describe("errors", () => {
  it("an unknown session is an error with OneAccess's code, not retried, not a success", async () => {
    await client.logout({ sessionToken: sim.issueSession(), device: DEVICE });
    sim.clearCalls();
    const error = await rejection(client.logout({ sessionToken: "never-issued", device: DEVICE }));
    expect(error).toMatchObject({
      code: "APP.0007",
      kind: "unauthorized",
      upstreamStatus: 400,
      retryable: false,
    });
    expect(sim.count()).toBe(1);
  });

  it("a second logout of the same session is an error too", async () => {
    const token = sim.issueSession();
    await client.logout({ sessionToken: token, device: DEVICE });
    elapse(1);
    expect((await rejection(client.logout({ sessionToken: token, device: DEVICE }))).code).toBe(
      "APP.0007",
    );
  });

  it("an unknown client id fails on the first request, as misconfigured", async () => {
    await setup({}, { clientId: "not-registered" });
    const error = await rejection(
      client.logout({ sessionToken: sim.issueSession(), device: DEVICE }),
    );
    expect(error).toMatchObject({ code: "APP.0001", kind: "misconfigured", upstreamStatus: 400 });
    expect(sim.count()).toBe(1);
  });

  it("refuses bad input without a single request", async () => {
    const token = sim.issueSession();
    await client.logout({ sessionToken: sim.issueSession(), device: DEVICE });
    sim.clearCalls();
    for (const [input, field] of [
      [
        { sessionToken: token, device: { ...DEVICE, agent: "evil\r\nX-client-id: other" } },
        "device.agent",
      ],
      [{ sessionToken: token, device: { ...DEVICE, osVersion: "安卓 10" } }, "device.osVersion"],
      [{ sessionToken: token, device: { fingerprint: "f", agent: "a" } }, "device.osVersion"],
      [{ sessionToken: "s".repeat(150), device: DEVICE }, "sessionToken"],
    ] as const) {
      expect((await rejection(client.logout(input as never))).field).toBe(field);
    }
    expect(sim.count()).toBe(0);
    expect(sim.hasSession(token)).toBe(true);
  });
});

describe("misbehaviour", () => {
  it("a 502 page is a retryable HTTP_502, and the logout is not sent twice", async () => {
    await client.logout({ sessionToken: sim.issueSession(), device: DEVICE });
    sim.faults.set({ status: 502 });
    sim.clearCalls();
    const error = await rejection(
      client.logout({ sessionToken: sim.issueSession(), device: DEVICE }),
    );
    expect(error).toMatchObject({
      code: "HTTP_502",
      kind: "unavailable",
      retryable: true,
      upstreamStatus: 502,
    });
    expect(sim.count()).toBe(1);
  });

  it("a non-JSON or truncated key answer is BAD_RESPONSE, and the next call fetches the key again", async () => {
    sim.faults.set({ nonJson: true, times: 1 });
    const error = await rejection(
      client.logout({ sessionToken: sim.issueSession(), device: DEVICE }),
    );
    expect(error).toMatchObject({ code: "BAD_RESPONSE", kind: "upstream", upstreamStatus: 200 });
    sim.faults.set({ truncatedJson: true, times: 1 });
    expect((await rejection(client.serverDate())).code).toBe("BAD_RESPONSE");
    await client.logout({ sessionToken: sim.issueSession(), device: DEVICE });
    expect(sim.count(PATHS.publicKey)).toBe(2);
  });

  it("a wrong content type does not stop a JSON answer from being read", async () => {
    sim.faults.set({ contentType: "text/plain" });
    expect((await client.serverDate()).timestamp).toBe(sim.serverTimestamp());
  });

  it("a slow server is a retryable TIMEOUT", async () => {
    await setup({}, { timeoutMs: 30 });
    sim.faults.set({ delayMs: 60_000 });
    const error = await rejection(client.publicKey());
    expect(error).toMatchObject({ code: "TIMEOUT", kind: "unavailable", retryable: true });
    expect(error.upstreamStatus).toBeUndefined();
  });
});
