// The simulator on its own: every rule and code it enforces, its state, its call log and its faults.
import { createSign, type KeyObject } from "node:crypto";
import { OVERSIZED_BODY_BYTES } from "@x/core-signing/testing";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { EBET_SIGNED_FIELDS, type EbetCall, signatureText } from "../src/index.ts";
import {
  createEbetSimulator,
  EBET_TEST_PRIVATE_KEY,
  EBET_TEST_PUBLIC_KEY,
  type EbetSimulator,
  type EbetSimulatorOptions,
} from "../src/testing/index.ts";
import { BASE_URL, fixedClock, NOW_MS, NOW_S, nodeKeys } from "./fixtures.ts";

const TOKEN = "584c26e798deffc96cc7af073c184cd0";
const testKey = EBET_TEST_PRIVATE_KEY;

/** Signs a body as eBET's own Node sample does (createSign("md5")), independently of our signer. */
function sign(
  call: EbetCall,
  fields: Record<string, unknown>,
  key: KeyObject | string = testKey,
): Record<string, unknown> {
  const text = signatureText(EBET_SIGNED_FIELDS[call], fields);
  return { ...fields, signature: createSign("md5").update(text, "utf8").sign(key, "base64") };
}

function logoutBody(patch: Record<string, unknown> = {}, key?: KeyObject | string) {
  return sign("logout", { channelId: 1, username: "demo", timestamp: NOW_S, ...patch }, key);
}

function callbackBody(patch: Record<string, unknown> = {}, key?: KeyObject | string) {
  return sign(
    "callback",
    { username: "demo", channelId: 1, timestamp: NOW_S, accessToken: TOKEN, ...patch },
    key,
  );
}

function post(path: string, body: unknown, contentType = "application/json"): Request {
  return new Request(`${BASE_URL}${path}`, {
    method: "POST",
    headers: { "content-type": contentType },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
}

async function send(
  simulator: EbetSimulator,
  call: EbetCall,
  body: unknown,
): Promise<Record<string, unknown>> {
  const response = await simulator.fetch(post(`/api/${call}`, body));
  expect(response.status).toBe(200);
  expect(response.headers.get("content-type")).toMatch(/^application\/json/);
  return (await response.json()) as Record<string, unknown>;
}

const simulate = (options: EbetSimulatorOptions = {}) =>
  createEbetSimulator({ now: fixedClock, ...options });

describe("defaults", () => {
  it("knows channel 1 with the test key and the pages' demo player", async () => {
    const simulator = simulate();
    expect(simulator.user("demo")).toEqual({
      username: "demo",
      channelId: 1,
      userId: 127001,
      subChannelId: 0,
      wallet: [0, 1, 2, 3, 4, 5, 6].map((typeId) => ({
        typeId,
        money: typeId === 0 ? 1234567.89 : 0,
      })),
      money: 1234567.89,
      accessTokens: [TOKEN],
      playing: false,
      frozen: false,
    });
    expect(await send(simulator, "logout", logoutBody())).toEqual({
      status: 200,
      apiVersion: "1.3.91",
    });
  });

  it("holds the public half of the test private key", async () => {
    const simulator = createEbetSimulator({
      now: fixedClock,
      channels: [{ channelId: 1, publicKey: EBET_TEST_PUBLIC_KEY }],
    });
    simulator.addUser({ username: "demo" });
    expect((await send(simulator, "logout", logoutBody())).status).toBe(200);
  });

  it("starts without users when channels are given", () => {
    const simulator = simulate({ channels: [{ channelId: 9, publicKey: EBET_TEST_PUBLIC_KEY }] });
    expect(simulator.user("demo")).toBeUndefined();
    expect(simulator.addUser({ username: "p1" })).toMatchObject({ channelId: 9, userId: 127001 });
    expect(simulator.addUser({ username: "p2" }).userId).toBe(127002);
  });

  it("refuses bad options", () => {
    expect(() => createEbetSimulator({ rateLimitPerSecond: 0 })).toThrow(RangeError);
    expect(() => createEbetSimulator({ timestampWindowSeconds: -1 })).toThrow(RangeError);
    expect(() => createEbetSimulator({ timestampUnit: "us" as never })).toThrow(RangeError);
    expect(() =>
      createEbetSimulator({ channels: [{ channelId: 0, publicKey: EBET_TEST_PUBLIC_KEY }] }),
    ).toThrow(RangeError);
  });
});

describe("logout and callback", () => {
  it("callback answers the account with its wallets and puts the player in the game; logout takes them out", async () => {
    const simulator = simulate();
    expect(simulator.isPlaying("demo")).toBe(false);
    const account = await send(simulator, "callback", callbackBody());
    expect(account).toEqual({
      channelId: 1,
      subChannelId: 0,
      userId: 127001,
      username: "demo",
      wallet: simulator.user("demo")?.wallet,
      money: 1234567.89,
      timestamp: NOW_S,
      status: 200,
      apiVersion: "1.3.91",
    });
    expect(Object.keys(account)).toEqual([
      "channelId",
      "subChannelId",
      "userId",
      "username",
      "wallet",
      "money",
      "timestamp",
      "status",
      "apiVersion",
    ]);
    expect(simulator.isPlaying("demo")).toBe(true);
    expect((await send(simulator, "logout", logoutBody())).status).toBe(200);
    expect(simulator.isPlaying("demo")).toBe(false);
    expect((await send(simulator, "logout", logoutBody())).status).toBe(200);
    expect(simulator.calls.map((call) => call.reason)).toEqual([
      "logged in",
      "logged out of the game",
      "was not in a game",
    ]);
  });

  it("answers ids as strings when told, as the field table types them", async () => {
    const account = await send(simulate({ idsAsStrings: true }), "callback", callbackBody());
    expect(account.channelId).toBe("1");
    expect(account.subChannelId).toBe("0");
  });

  it("answers the money and wallets the test set", async () => {
    const simulator = simulate();
    simulator.updateUser("demo", {
      wallet: [
        { typeId: 0, money: 5 },
        { typeId: 3, money: 2 },
      ],
    });
    expect(await send(simulator, "callback", callbackBody())).toMatchObject({
      money: 5,
      wallet: [
        { typeId: 0, money: 5 },
        { typeId: 3, money: 2 },
      ],
    });
    simulator.updateUser("demo", { money: 99 });
    expect((await send(simulator, "callback", callbackBody())).money).toBe(99);
  });

  it("accepts a known sub-channel and answers 5003 for an unknown one", async () => {
    const simulator = simulate();
    simulator.updateChannel(1, { subChannels: [4] });
    expect(
      (await send(simulator, "callback", callbackBody({ subChannelId: 4 }))).subChannelId,
    ).toBe(4);
    expect((await send(simulator, "callback", callbackBody({ subChannelId: 5 }))).status).toBe(
      5003,
    );
  });

  it("accepts currency on logout", async () => {
    expect((await send(simulate(), "logout", logoutBody({ currency: "CNY" }))).status).toBe(200);
  });

  it("uses configured paths", async () => {
    const simulator = simulate({ paths: { logout: "/v2/out" } });
    const response = await simulator.fetch(post("/v2/out", logoutBody()));
    expect(((await response.json()) as { status: number }).status).toBe(200);
    expect((await simulator.fetch(post("/api/logout", logoutBody()))).status).toBe(404);
  });
});

describe("refusals", () => {
  it("202 for an unknown channel", async () => {
    expect((await send(simulate(), "logout", logoutBody({ channelId: 2 }))).status).toBe(202);
  });

  it("505 while the channel is under maintenance", async () => {
    const simulator = simulate();
    simulator.updateChannel(1, { maintenance: true });
    expect((await send(simulator, "logout", logoutBody())).status).toBe(505);
    simulator.updateChannel(1, { maintenance: false });
    expect((await send(simulator, "logout", logoutBody())).status).toBe(200);
  });

  it("4029 for a call not enabled for the channel", async () => {
    const simulator = simulate();
    simulator.updateChannel(1, { disabled: ["logout"] });
    expect((await send(simulator, "logout", logoutBody())).status).toBe(4029);
    expect((await send(simulator, "callback", callbackBody())).status).toBe(200);
  });

  it("4026 for a signature made with another key, or over other text", async () => {
    const other = nodeKeys(1024).privateKey;
    const simulator = simulate();
    expect((await send(simulator, "logout", logoutBody({}, other))).status).toBe(4026);
    expect((await send(simulator, "callback", callbackBody({}, other))).status).toBe(4026);
    const sha1 = {
      ...logoutBody(),
      signature: createSign("sha1").update(`demo1${NOW_S}`).sign(testKey, "base64"),
    };
    expect((await send(simulator, "logout", sha1)).status).toBe(4026);
    expect((await send(simulator, "logout", { ...logoutBody(), signature: "%%%" })).status).toBe(
      4026,
    );
    expect(simulator.calls.every((call) => call.reason === "signature does not verify")).toBe(true);
  });

  it("4025 for each missing required field", async () => {
    for (const [call, body] of [
      ["logout", logoutBody()],
      ["callback", callbackBody()],
    ] as const) {
      for (const field of Object.keys(body)) {
        const simulator = simulate();
        const broken: Record<string, unknown> = { ...body };
        delete broken[field];
        expect({ call, field, status: (await send(simulator, call, broken)).status }).toEqual({
          call,
          field,
          status: 4025,
        });
        expect(simulator.calls[0]?.reason).toBe(`${field} is missing`);
      }
    }
  });

  it("4030 for each field of the wrong JSON type, even when the signature would match the text", async () => {
    const cases: [EbetCall, Record<string, unknown>][] = [
      ["logout", { channelId: "1" }],
      ["logout", { channelId: "42" }],
      ["logout", { channelId: true }],
      ["logout", { channelId: [1] }],
      ["logout", { timestamp: String(NOW_S) }],
      ["logout", { username: 7 }],
      ["logout", { username: ["demo"] }],
      ["logout", { currency: 156 }],
      ["callback", { channelId: "1" }],
      ["callback", { timestamp: String(NOW_S) }],
      ["callback", { username: 7 }],
      ["callback", { accessToken: 12345 }],
      ["callback", { accessToken: { token: TOKEN } }],
      ["callback", { subChannelId: "0" }],
      ["callback", { subChannelId: false }],
    ];
    for (const [call, patch] of cases) {
      const simulator = simulate();
      const body = call === "logout" ? logoutBody(patch) : callbackBody(patch);
      expect({ call, patch, status: (await send(simulator, call, body)).status }).toEqual({
        call,
        patch,
        status: 4030,
      });
      const [field] = Object.keys(patch);
      expect(simulator.calls[0]?.reason).toMatch(new RegExp(`^${field} is a`));
    }
    expect((await send(simulate(), "logout", { ...logoutBody(), signature: 1 })).status).toBe(4030);
    // A state change never follows a refused type.
    const simulator = simulate();
    await send(simulator, "callback", callbackBody({ subChannelId: "0" }));
    expect(simulator.isPlaying("demo")).toBe(false);
  });

  it("4025 for a field of the right type but a value out of range", async () => {
    const cases: [EbetCall, Record<string, unknown>][] = [
      ["logout", { channelId: 1.5 }],
      ["logout", { channelId: -1 }],
      ["logout", { timestamp: NOW_S + 0.5 }],
      ["logout", { timestamp: -1 }],
      ["logout", { username: "" }],
      ["logout", { currency: "" }],
      ["callback", { accessToken: "" }],
      ["callback", { subChannelId: -1 }],
      ["callback", { subChannelId: 0.5 }],
    ];
    for (const [call, patch] of cases) {
      const body = call === "logout" ? logoutBody(patch) : callbackBody(patch);
      expect({ patch, status: (await send(simulate(), call, body)).status }).toEqual({
        patch,
        status: 4025,
      });
    }
  });

  it("4025 for a body that is not a JSON object or not sent as JSON", async () => {
    const simulator = simulate();
    for (const text of ["not json", "[]", "null", '"x"', ""]) {
      expect((await send(simulator, "logout", text)).status).toBe(4025);
    }
    const form = await simulator.fetch(
      post("/api/logout", logoutBody(), "application/x-www-form-urlencoded"),
    );
    expect(((await form.json()) as { status: number }).status).toBe(4025);
    const huge = await simulator.fetch(
      post("/api/logout", { ...logoutBody(), pad: "x".repeat(70_000) }),
    );
    expect(((await huge.json()) as { status: number }).status).toBe(4025);
  });

  it("4025 for a timestamp more than the window (300 s) from its clock, either way", async () => {
    const simulator = simulate();
    for (const offset of [-300, 0, 300]) {
      expect(
        (await send(simulator, "logout", logoutBody({ timestamp: NOW_S + offset }))).status,
      ).toBe(200);
    }
    for (const offset of [-301, 301, -86_400]) {
      expect(
        (await send(simulator, "logout", logoutBody({ timestamp: NOW_S + offset }))).status,
      ).toBe(4025);
    }
    expect((await send(simulator, "logout", logoutBody({ timestamp: NOW_MS }))).status).toBe(4025);
  });

  it("reads timestamps in milliseconds when told, with the window in seconds", async () => {
    const simulator = simulate({ timestampUnit: "ms", timestampWindowSeconds: 10 });
    expect(
      (await send(simulator, "logout", logoutBody({ timestamp: NOW_MS - 10_000 }))).status,
    ).toBe(200);
    expect(
      (await send(simulator, "logout", logoutBody({ timestamp: NOW_MS + 10_001 }))).status,
    ).toBe(4025);
    expect((await send(simulator, "logout", logoutBody({ timestamp: NOW_S }))).status).toBe(4025);
  });

  it("4037, never success, for a username that names a prototype member", async () => {
    const simulator = simulate();
    const names = ["constructor", "toString", "valueOf", "hasOwnProperty", "__proto__"];
    for (const username of names) {
      expect((await send(simulator, "logout", logoutBody({ username }))).status).toBe(4037);
      expect((await send(simulator, "callback", callbackBody({ username }))).status).toBe(4037);
      expect(simulator.user(username)).toBeUndefined();
      expect(simulator.isPlaying(username)).toBe(false);
    }
    // A registered player of such a name is just a player.
    simulator.addUser({ username: "constructor", accessTokens: ["t"] });
    expect(
      (
        await send(
          simulator,
          "callback",
          callbackBody({ username: "constructor", accessToken: "t" }),
        )
      ).status,
    ).toBe(200);
    expect(simulator.isPlaying("constructor")).toBe(true);
    expect(simulator.isPlaying("toString")).toBe(false);
  });

  it("4037 for an unknown user, or one of another channel", async () => {
    const other = nodeKeys(1024);
    const simulator = simulate();
    simulator.addChannel({ channelId: 2, publicKey: other.spkiPem });
    expect((await send(simulator, "logout", logoutBody({ username: "ghost" }))).status).toBe(4037);
    expect(
      (await send(simulator, "logout", logoutBody({ channelId: 2 }, other.privateKey))).status,
    ).toBe(4037);
  });

  it("4038 past the per-user rate limit within one second, and again after the second", async () => {
    let now = NOW_MS;
    const simulator = createEbetSimulator({ now: () => now, rateLimitPerSecond: 3 });
    simulator.addUser({ username: "other" });
    const statuses: number[] = [];
    for (let i = 0; i < 5; i++)
      statuses.push((await send(simulator, "logout", logoutBody())).status as number);
    expect(statuses).toEqual([200, 200, 200, 4038, 4038]);
    expect((await send(simulator, "logout", logoutBody({ username: "other" }))).status).toBe(200);
    now += 999;
    expect((await send(simulator, "logout", logoutBody())).status).toBe(4038);
    now += 1;
    expect((await send(simulator, "logout", logoutBody())).status).toBe(200);
  });

  it("does not count refused signatures against the rate limit", async () => {
    const simulator = simulate({ rateLimitPerSecond: 1 });
    const other = nodeKeys(1024).privateKey;
    for (let i = 0; i < 3; i++)
      expect((await send(simulator, "logout", logoutBody({}, other))).status).toBe(4026);
    expect((await send(simulator, "logout", logoutBody())).status).toBe(200);
  });

  it("410 for a token not issued for the player, or revoked", async () => {
    const simulator = simulate();
    expect((await send(simulator, "callback", callbackBody({ accessToken: "other" }))).status).toBe(
      410,
    );
    simulator.issueToken("demo", "fresh");
    expect((await send(simulator, "callback", callbackBody({ accessToken: "fresh" }))).status).toBe(
      200,
    );
    simulator.revokeToken("demo", "fresh");
    expect((await send(simulator, "callback", callbackBody({ accessToken: "fresh" }))).status).toBe(
      410,
    );
    expect(simulator.isPlaying("demo")).toBe(true);
  });

  it("5011 on callback for a frozen account", async () => {
    const simulator = simulate();
    simulator.updateUser("demo", { frozen: true });
    expect((await send(simulator, "callback", callbackBody())).status).toBe(5011);
    expect(simulator.isPlaying("demo")).toBe(false);
  });

  it("404 for another path and 405 for another method", async () => {
    const simulator = simulate();
    expect(
      (await simulator.fetch(new Request(`${BASE_URL}/api/other`, { method: "POST" }))).status,
    ).toBe(404);
    expect((await simulator.fetch(new Request(`${BASE_URL}/api/logout`))).status).toBe(405);
    expect(simulator.calls.map((call) => [call.httpStatus, call.call])).toEqual([
      [404, undefined],
      [405, "logout"],
    ]);
  });
});

describe("allowed addresses (eBET's IP whitelist)", () => {
  it("allows every caller by default, whatever its address", async () => {
    for (const callerAddress of [undefined, () => "198.51.100.1", () => undefined]) {
      const simulator = simulate(callerAddress === undefined ? {} : { callerAddress });
      expect((await send(simulator, "logout", logoutBody())).status).toBe(200);
    }
  });

  it("4027 for a caller outside the list, on both calls; 200 for one inside", async () => {
    let address: string | undefined = "198.51.100.1";
    const simulator = simulate({
      allowedAddresses: ["203.0.113.7", "2001:db8::1"],
      callerAddress: () => address,
    });
    simulator.updateUser("demo", { playing: true });
    expect((await send(simulator, "logout", logoutBody())).status).toBe(4027);
    expect((await send(simulator, "callback", callbackBody())).status).toBe(4027);
    expect(simulator.isPlaying("demo")).toBe(true);
    expect(simulator.calls.map((call) => call.reason)).toEqual([
      "caller address 198.51.100.1 is not on the allowed list",
      "caller address 198.51.100.1 is not on the allowed list",
    ]);
    address = "203.0.113.7";
    expect((await send(simulator, "logout", logoutBody())).status).toBe(200);
    expect(simulator.isPlaying("demo")).toBe(false);
    address = "2001:DB8::1";
    expect((await send(simulator, "callback", callbackBody())).status).toBe(200);
  });

  it("4027 when the caller's address is unknown and a list is set, even an empty one", async () => {
    for (const allowedAddresses of [["127.0.0.1"], []]) {
      const simulator = simulate({ allowedAddresses });
      expect((await send(simulator, "logout", logoutBody())).status).toBe(4027);
      expect(simulator.calls[0]?.reason).toBe("caller address unknown, and a list is set");
    }
  });

  it("checks the address before the body: a caller outside the list learns nothing else", async () => {
    const simulator = simulate({ allowedAddresses: [], callerAddress: () => "198.51.100.1" });
    expect((await send(simulator, "logout", "not json")).status).toBe(4027);
    expect((await send(simulator, "logout", logoutBody({ channelId: "1" }))).status).toBe(4027);
    expect((await send(simulator, "logout", logoutBody({ channelId: 9 }))).status).toBe(4027);
  });

  it("reads the address a test puts in a header, and matches IPv4-mapped IPv6 to IPv4", async () => {
    const simulator = simulate({
      allowedAddresses: ["127.0.0.1"],
      callerAddress: (request) => request.headers.get("x-test-caller") ?? undefined,
    });
    const from = async (address: string) => {
      const request = post("/api/logout", logoutBody());
      request.headers.set("x-test-caller", address);
      return ((await (await simulator.fetch(request)).json()) as { status: number }).status;
    };
    expect(await from("127.0.0.1")).toBe(200);
    expect(await from("::ffff:127.0.0.1")).toBe(200);
    expect(await from("[::ffff:127.0.0.1]")).toBe(200);
    expect(await from("127.0.0.2")).toBe(4027);
    expect(await from("::1")).toBe(4027);
  });

  it("changes its list at run time, and lifts it with undefined", async () => {
    const simulator = simulate({ callerAddress: () => "198.51.100.1" });
    simulator.setAllowedAddresses(["192.0.2.1"]);
    expect((await send(simulator, "logout", logoutBody())).status).toBe(4027);
    simulator.setAllowedAddresses(["192.0.2.1", "198.51.100.1"]);
    expect((await send(simulator, "logout", logoutBody())).status).toBe(200);
    simulator.setAllowedAddresses(undefined);
    expect((await send(simulator, "logout", logoutBody())).status).toBe(200);
  });

  it("refuses a bad list or resolver", () => {
    for (const allowedAddresses of ["127.0.0.1", [""], [7], [" "]]) {
      expect(() => createEbetSimulator({ allowedAddresses: allowedAddresses as never })).toThrow(
        RangeError,
      );
    }
    expect(() => createEbetSimulator({ callerAddress: "127.0.0.1" as never })).toThrow(RangeError);
    expect(() => simulate().setAllowedAddresses([""] as never)).toThrow(RangeError);
  });
});

describe("forced statuses and faults", () => {
  it("answers a forced status for the next N calls, then behaves", async () => {
    const simulator = simulate();
    simulator.forceStatus(4003, 2);
    const statuses = [];
    for (let i = 0; i < 3; i++)
      statuses.push((await send(simulator, "logout", logoutBody())).status);
    expect(statuses).toEqual([4003, 4003, 200]);
    simulator.forceStatus(500, 5);
    simulator.clearForcedStatus();
    expect((await send(simulator, "logout", logoutBody())).status).toBe(200);
  });

  it("answers HTTP 502 or 504 gateway pages, and non-JSON or truncated bodies", async () => {
    const simulator = simulate();
    for (const status of [502, 504]) {
      simulator.faults.set({ status });
      const response = await simulator.fetch(post("/api/logout", logoutBody()));
      expect(response.status).toBe(status);
      expect(response.headers.get("content-type")).toBe("text/html");
    }
    simulator.faults.set({ nonJson: true });
    expect(await (await simulator.fetch(post("/api/logout", logoutBody()))).text()).toMatch(
      /^<html>/,
    );
    simulator.faults.set({ truncatedJson: true });
    const truncated = await (await simulator.fetch(post("/api/logout", logoutBody()))).text();
    expect(() => JSON.parse(truncated)).toThrow();
    simulator.faults.set({ contentType: "text/plain" });
    const relabelled = await simulator.fetch(post("/api/logout", logoutBody()));
    expect(relabelled.headers.get("content-type")).toBe("text/plain");
    expect(((await relabelled.json()) as { status: number }).status).toBe(200);
    expect(simulator.calls.map((call) => call.httpStatus)).toEqual([502, 504, 200, 200, 200]);
    expect(simulator.calls.slice(0, 4).map((call) => call.reason)).toEqual([
      "fault switch",
      "fault switch",
      "fault switch",
      "fault switch",
    ]);
  });

  it("applies a fault only `times` times", async () => {
    const simulator = simulate();
    simulator.faults.set({ status: 502, times: 1 });
    expect((await simulator.fetch(post("/api/logout", logoutBody()))).status).toBe(502);
    expect((await simulator.fetch(post("/api/logout", logoutBody()))).status).toBe(200);
  });

  it("holds an answer back when slow, and lets the caller give up", async () => {
    const simulator = simulate();
    simulator.faults.set({ delayMs: 60_000 });
    const controller = new AbortController();
    const request = new Request(post("/api/logout", logoutBody()), { signal: controller.signal });
    const pending = simulator.fetch(request);
    const reason = new Error("gave up");
    setTimeout(() => controller.abort(reason), 5);
    await expect(pending).rejects.toBe(reason);
    await new Promise((resolve) => setTimeout(resolve, 0));
    expect(simulator.calls[0]?.reason).toBe("caller aborted while delayed");
    expect(simulator.user("demo")?.playing).toBe(false);
  });
});

describe("connection faults and huge bodies", () => {
  it("drops the connection on logout and callback: fetch rejects with a TypeError, nothing changes", async () => {
    const simulator = simulate();
    simulator.updateUser("demo", { playing: true });
    simulator.faults.set({ reset: true, times: 2 });
    await expect(simulator.fetch(post("/api/logout", logoutBody()))).rejects.toThrow(TypeError);
    await expect(simulator.fetch(post("/api/callback", callbackBody()))).rejects.toThrow(
      "fetch failed",
    );
    expect(simulator.isPlaying("demo")).toBe(true);
    expect(simulator.calls.map((call) => [call.call, call.reason])).toEqual([
      ["logout", "fault switch"],
      ["callback", "fault switch"],
    ]);
    // Then it behaves again.
    expect((await send(simulator, "logout", logoutBody())).status).toBe(200);
    expect(simulator.isPlaying("demo")).toBe(false);
  });

  it("answers a JSON body over 10 MB, streamed, on logout and callback", async () => {
    const simulator = simulate();
    simulator.faults.set({ oversizedBody: true });
    for (const [call, body] of [
      ["logout", logoutBody()],
      ["callback", callbackBody()],
    ] as const) {
      const response = await simulator.fetch(post(`/api/${call}`, body));
      expect(response.status).toBe(200);
      expect(response.headers.get("content-type")).toMatch(/^application\/json/);
      const reader = (response.body as ReadableStream<Uint8Array>).getReader();
      await reader.read();
      await reader.cancel();
    }
    expect(simulator.faults.streamedBytes).toBeLessThan(OVERSIZED_BODY_BYTES);
    const whole = await simulator.fetch(post("/api/logout", logoutBody()));
    expect((await whole.arrayBuffer()).byteLength).toBe(OVERSIZED_BODY_BYTES);
  });

  it("relabels the callback answer too with a wrong content type", async () => {
    const simulator = simulate();
    simulator.faults.set({ contentType: "text/html" });
    const response = await simulator.fetch(post("/api/callback", callbackBody()));
    expect(response.headers.get("content-type")).toBe("text/html");
    expect(((await response.json()) as { status: number }).status).toBe(200);
  });
});

describe("call log", () => {
  it("records every call with its outcome and never the signature or the token", async () => {
    const simulator = simulate();
    await send(simulator, "callback", callbackBody());
    await send(simulator, "logout", logoutBody({ username: "ghost" }));
    const calls = simulator.calls;
    expect(calls).toEqual([
      {
        at: NOW_MS,
        method: "POST",
        path: "/api/callback",
        call: "callback",
        channelId: 1,
        username: "demo",
        httpStatus: 200,
        status: 200,
        reason: "logged in",
      },
      {
        at: NOW_MS,
        method: "POST",
        path: "/api/logout",
        call: "logout",
        channelId: 1,
        username: "ghost",
        httpStatus: 200,
        status: 4037,
        reason: "no such user in this channel",
      },
    ]);
    const text = JSON.stringify(calls);
    expect(text).not.toContain(TOKEN);
    expect(text).not.toContain((callbackBody().signature as string).slice(0, 20));
    calls.pop();
    expect(simulator.calls).toHaveLength(2);
    simulator.clearCalls();
    expect(simulator.calls).toEqual([]);
  });

  it("hands out copies of its state", () => {
    const simulator = simulate();
    const user = simulator.user("demo");
    user?.wallet.push({ typeId: 9, money: 1 });
    user?.accessTokens.push("forged");
    expect(simulator.user("demo")?.wallet).toHaveLength(7);
    expect(simulator.user("demo")?.accessTokens).toEqual([TOKEN]);
    expect(() => simulator.updateUser("ghost", { playing: true })).toThrow(RangeError);
    expect(simulator.isPlaying("ghost")).toBe(false);
  });
});

describe("property: any change to any signed field answers 4026", () => {
  const second = nodeKeys(1024);
  const third = nodeKeys(512);
  const channels = [
    { channelId: 1, publicKey: EBET_TEST_PUBLIC_KEY, key: testKey as KeyObject | string },
    { channelId: 2, publicKey: second.spkiPem, key: second.privateKey },
    { channelId: 3, publicKey: third.spkiPem, key: third.privateKey },
  ];
  const username = fc.stringMatching(/^[a-z0-9]{1,16}$/);
  const token = fc.string({ minLength: 1, maxLength: 40, unit: "grapheme" });

  type Change = { field: string; value: (original: Record<string, unknown>) => unknown };

  /** A different value for each signed field, of the same type the page gives it. */
  const change = (call: EbetCall): fc.Arbitrary<Change> =>
    fc.oneof(
      username.map((name) => ({
        field: "username",
        value: (o: Record<string, unknown>) => (name === o.username ? `${name}x` : name),
      })),
      fc.constantFrom(1, 2, 3).map((id) => ({
        field: "channelId",
        value: (o: Record<string, unknown>) => (id === o.channelId ? (id % 3) + 1 : id),
      })),
      fc
        .integer({ min: -300, max: 300 })
        .filter((offset) => offset !== 0)
        .map((offset) => ({
          field: "timestamp",
          value: (o: Record<string, unknown>) => (o.timestamp as number) + offset,
        })),
      fc.nat({ max: 8 * 128 - 1 }).map((bit) => ({
        field: "signature",
        value: (o: Record<string, unknown>) => {
          const bytes = Buffer.from(o.signature as string, "base64");
          const index = (bit >> 3) % bytes.length;
          bytes[index] = (bytes[index] as number) ^ (1 << (bit & 7));
          return bytes.toString("base64");
        },
      })),
      ...(call === "callback"
        ? [
            token.map((value) => ({
              field: "accessToken",
              value: (o: Record<string, unknown>) =>
                value === o.accessToken ? `${value}x` : value,
            })),
          ]
        : []),
    );

  for (const call of ["logout", "callback"] as const) {
    it(`${call}: the original answers 200, every changed copy 4026 (fixed seed)`, async () => {
      await fc.assert(
        fc.asyncProperty(
          fc.constantFrom(...channels),
          username,
          token,
          change(call),
          async (channel, name, accessToken, { field, value }) => {
            const simulator = createEbetSimulator({
              now: fixedClock,
              channels: channels.map(({ channelId, publicKey }) => ({ channelId, publicKey })),
              users: [
                { username: name, channelId: channel.channelId, accessTokens: [accessToken] },
              ],
            });
            const fields: Record<string, unknown> =
              call === "logout"
                ? { channelId: channel.channelId, username: name, timestamp: NOW_S }
                : { username: name, channelId: channel.channelId, timestamp: NOW_S, accessToken };
            const original = sign(call, fields, channel.key);
            expect((await send(simulator, call, original)).status).toBe(200);
            const changed = { ...original, [field]: value(original) };
            expect(changed[field]).not.toEqual(original[field]);
            expect((await send(simulator, call, changed)).status).toBe(4026);
          },
        ),
        { seed: 0x0eb37, numRuns: 150 },
      );
    });
  }
});
