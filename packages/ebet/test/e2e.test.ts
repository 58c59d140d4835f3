// The client against the simulator, end to end: every status the simulator can produce, and every fault.
import { describe, expect, it } from "vitest";
import { EBET_STATUS, EbetClient, type EbetClientOptions } from "../src/index.ts";
import {
  createEbetSimulator,
  EBET_TEST_PRIVATE_KEY,
  type EbetSimulator,
  type EbetSimulatorOptions,
} from "../src/testing/index.ts";
import {
  BASE_URL,
  expectEbetError,
  fixedClock,
  NOW_MS,
  NOW_S,
  nodeKeys,
  serveLocally,
} from "./fixtures.ts";

const TOKEN = "584c26e798deffc96cc7af073c184cd0";

function setup(
  simulatorOptions: EbetSimulatorOptions = {},
  clientOptions: Partial<EbetClientOptions> = {},
): { simulator: EbetSimulator; client: EbetClient } {
  const simulator = createEbetSimulator({ now: fixedClock, ...simulatorOptions });
  const client = new EbetClient({
    baseUrl: BASE_URL,
    channelId: 1,
    privateKey: EBET_TEST_PRIVATE_KEY,
    fetch: simulator.fetch,
    now: fixedClock,
    ...clientOptions,
  });
  return { simulator, client };
}

describe("success", () => {
  it("callback logs the player in and returns the account; logout takes them out of the game", async () => {
    const { simulator, client } = setup();
    const account = await client.callback({ username: "demo", accessToken: TOKEN });
    expect(account).toEqual({
      channelId: 1,
      subChannelId: 0,
      userId: 127001,
      username: "demo",
      wallet: simulator.user("demo")?.wallet,
      money: 1234567.89,
      timestamp: NOW_S,
      apiVersion: "1.3.91",
    });
    expect(simulator.isPlaying("demo")).toBe(true);
    expect(await client.logout({ username: "demo" })).toEqual({
      status: 200,
      apiVersion: "1.3.91",
    });
    expect(simulator.isPlaying("demo")).toBe(false);
    expect(simulator.calls.map(({ call, status }) => [call, status])).toEqual([
      ["callback", 200],
      ["logout", 200],
    ]);
  });

  it("logout with currency, callback with a sub-channel", async () => {
    const { simulator, client } = setup();
    simulator.updateChannel(1, { subChannels: [2] });
    expect((await client.logout({ username: "demo", currency: "CNY" })).status).toBe(200);
    expect(
      (await client.callback({ username: "demo", accessToken: TOKEN, subChannelId: 2 }))
        .subChannelId,
    ).toBe(2);
  });

  it("reads ids the simulator answers as strings", async () => {
    const { client } = setup({ idsAsStrings: true });
    const account = await client.callback({ username: "demo", accessToken: TOKEN });
    expect(account).toMatchObject({ channelId: 1, subChannelId: 0 });
  });

  it("works in milliseconds when both sides do", async () => {
    const { client } = setup({ timestampUnit: "ms" }, { timestampUnit: "ms" });
    expect((await client.logout({ username: "demo" })).status).toBe(200);
  });

  it("works on custom paths", async () => {
    const paths = { logout: "/gw/logout", callback: "/gw/callback" };
    const { client } = setup({ paths }, { paths });
    expect((await client.logout({ username: "demo" })).status).toBe(200);
    expect((await client.callback({ username: "demo", accessToken: TOKEN })).userId).toBe(127001);
  });

  it("works with a key in every format", async () => {
    const keys = nodeKeys(2048);
    for (const privateKey of [keys.pkcs8Pem, keys.pkcs1Pem, keys.pkcs8Base64]) {
      const { simulator, client } = setup(
        { channels: [{ channelId: 5, publicKey: keys.spkiPem }], users: [{ username: "p1" }] },
        { channelId: 5, privateKey },
      );
      expect((await client.logout({ username: "p1" })).status).toBe(200);
      expect(simulator.calls[0]?.status).toBe(200);
    }
  });
});

describe("every status the simulator produces", () => {
  it("202 channel not found: misconfigured", async () => {
    const { client } = setup({}, { channelId: 2 });
    await expectEbetError(client.logout({ username: "demo" }), {
      code: 202,
      kind: "misconfigured",
      retryable: false,
      upstreamStatus: 200,
    });
  });

  it("505 channel under maintenance: unavailable, retryable", async () => {
    const { simulator, client } = setup();
    simulator.updateChannel(1, { maintenance: true });
    await expectEbetError(client.logout({ username: "demo" }), {
      code: 505,
      kind: "unavailable",
      retryable: true,
    });
  });

  it("4029 function disabled: misconfigured", async () => {
    const { simulator, client } = setup();
    simulator.updateChannel(1, { disabled: ["callback"] });
    await expectEbetError(client.callback({ username: "demo", accessToken: TOKEN }), {
      code: 4029,
      kind: "misconfigured",
    });
  });

  it("4026 bad signature (wrong key): misconfigured, not retryable", async () => {
    const { client } = setup({}, { privateKey: nodeKeys(1024).pkcs8Pem });
    await expectEbetError(client.logout({ username: "demo" }), {
      code: 4026,
      kind: "misconfigured",
      retryable: false,
    });
  });

  it("4025 stale or future timestamp: invalid_request", async () => {
    for (const skew of [-301_000, 301_000]) {
      const { client } = setup({}, { now: () => NOW_MS + skew });
      await expectEbetError(client.logout({ username: "demo" }), {
        code: 4025,
        kind: "invalid_request",
      });
    }
    const { client } = setup({}, { timestampUnit: "ms" });
    await expectEbetError(client.logout({ username: "demo" }), { code: 4025 });
  });

  it("5003 sub-channel not found: not_found", async () => {
    const { client } = setup();
    await expectEbetError(
      client.callback({ username: "demo", accessToken: TOKEN, subChannelId: 8 }),
      {
        code: 5003,
        kind: "not_found",
      },
    );
  });

  it("4038 too many requests: rate_limited, retryable", async () => {
    const { client } = setup({ rateLimitPerSecond: 2 });
    await client.logout({ username: "demo" });
    await client.logout({ username: "demo" });
    await expectEbetError(client.logout({ username: "demo" }), {
      code: 4038,
      kind: "rate_limited",
      retryable: true,
    });
  });

  it("4037 user not found: not_found, and never an already-finished logout", async () => {
    const { client } = setup();
    const error = await expectEbetError(client.logout({ username: "ghost" }), {
      code: 4037,
      kind: "not_found",
      retryable: false,
    });
    expect(error).not.toHaveProperty("alreadyLoggedOut");
  });

  it("5011 account frozen: upstream", async () => {
    const { simulator, client } = setup();
    simulator.updateUser("demo", { frozen: true });
    await expectEbetError(client.callback({ username: "demo", accessToken: TOKEN }), {
      code: 5011,
      kind: "upstream",
    });
  });

  it("4027 IP not allowed: misconfigured, not retryable; the player stays in the game", async () => {
    const { simulator, client } = setup({
      allowedAddresses: ["203.0.113.7"],
      callerAddress: () => "198.51.100.1",
    });
    simulator.updateUser("demo", { playing: true });
    await expectEbetError(client.logout({ username: "demo" }), {
      code: 4027,
      kind: "misconfigured",
      retryable: false,
      upstreamStatus: 200,
    });
    expect(simulator.isPlaying("demo")).toBe(true);
  });

  it("4027 over a real socket: the simulator reads the caller's address from the connection", async () => {
    const simulator = createEbetSimulator({ now: fixedClock, allowedAddresses: ["127.0.0.1"] });
    const server = await serveLocally(simulator.fetch);
    try {
      const client = new EbetClient({
        baseUrl: server.origin,
        channelId: 1,
        privateKey: EBET_TEST_PRIVATE_KEY,
        now: fixedClock,
      });
      expect(await client.callback({ username: "demo", accessToken: TOKEN })).toMatchObject({
        username: "demo",
      });
      simulator.setAllowedAddresses(["192.0.2.1"]);
      await expectEbetError(client.logout({ username: "demo" }), {
        code: 4027,
        kind: "misconfigured",
      });
      expect(simulator.isPlaying("demo")).toBe(true);
      expect(simulator.calls.at(-1)?.reason).toBe(
        "caller address 127.0.0.1 is not on the allowed list",
      );
    } finally {
      await server.close();
    }
  });

  it("usernames that name prototype members: 4037 not_found from the simulator, never success", async () => {
    const { client } = setup();
    for (const username of ["constructor", "tostring", "valueof", "hasownproperty"]) {
      await expectEbetError(client.logout({ username }), { code: 4037, kind: "not_found" });
      await expectEbetError(client.callback({ username, accessToken: TOKEN }), { code: 4037 });
    }
    await expectEbetError(client.logout({ username: "__proto__" }), {
      code: "INVALID_INPUT",
      kind: "invalid_request",
      field: "username",
    });
  });

  it("410 invalid token: unauthorized", async () => {
    const { client } = setup();
    const error = await expectEbetError(
      client.callback({ username: "demo", accessToken: "stale-token" }),
      {
        code: 410,
        kind: "unauthorized",
        retryable: false,
      },
    );
    expect(error.message).not.toContain("stale-token");
  });

  it("every other code of the table, forced: the table's kind and retryability", async () => {
    const { simulator, client } = setup();
    for (const info of Object.values(EBET_STATUS)) {
      if (info.code === 200) continue;
      simulator.forceStatus(info.code);
      const call =
        info.code % 2 === 0
          ? client.logout({ username: "demo" })
          : client.callback({ username: "demo", accessToken: TOKEN });
      await expectEbetError(call, {
        code: info.code,
        kind: info.kind as never,
        retryable: info.retryable,
      });
    }
  });
});

describe("faults", () => {
  it("HTTP 502 and 504: unavailable, retryable", async () => {
    const { simulator, client } = setup();
    for (const status of [502, 504]) {
      simulator.faults.set({ status });
      await expectEbetError(client.logout({ username: "demo" }), {
        code: `HTTP_${status}`,
        kind: "unavailable",
        retryable: true,
        upstreamStatus: status,
      });
    }
  });

  it("HTTP 403: misconfigured, pointing at the IP whitelist", async () => {
    const { simulator, client } = setup();
    simulator.faults.set({ status: 403 });
    const error = await expectEbetError(client.callback({ username: "demo", accessToken: TOKEN }), {
      code: "HTTP_403",
      kind: "misconfigured",
    });
    expect(error.message).toMatch(/whitelist/);
  });

  it("non-JSON and truncated answers: BAD_RESPONSE, and the player's state is untouched", async () => {
    const { simulator, client } = setup();
    for (const fault of [{ nonJson: true }, { truncatedJson: true }]) {
      simulator.faults.set(fault);
      await expectEbetError(client.callback({ username: "demo", accessToken: TOKEN }), {
        code: "BAD_RESPONSE",
        kind: "upstream",
        upstreamStatus: 200,
      });
    }
    expect(simulator.isPlaying("demo")).toBe(false);
  });

  it("a slow answer past the deadline: TIMEOUT, retryable", async () => {
    const { simulator, client } = setup({}, { timeoutMs: 20 });
    simulator.faults.set({ delayMs: 60_000 });
    await expectEbetError(client.logout({ username: "demo" }), {
      code: "TIMEOUT",
      kind: "unavailable",
      retryable: true,
    });
    simulator.faults.clear();
    expect((await client.logout({ username: "demo" })).status).toBe(200);
  });

  it("a caller's abort while the answer is slow is thrown as the caller's own reason", async () => {
    const { simulator, client } = setup();
    simulator.faults.set({ delayMs: 60_000 });
    const controller = new AbortController();
    const reason = new Error("caller gave up");
    const pending = client.logout({ username: "demo" }, { signal: controller.signal });
    setTimeout(() => controller.abort(reason), 5);
    await expect(pending).rejects.toBe(reason);
  });
});
