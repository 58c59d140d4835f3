import { constants, publicEncrypt } from "node:crypto";
import { generateKeyPair, importPublicKey, type RsaPrivateKey } from "@x/core-signing/rsa";
import { OVERSIZED_BODY_BYTES, OVERSIZED_CHUNK_BYTES } from "@x/core-signing/testing";
import { beforeAll, beforeEach, describe, expect, it } from "vitest";
import { ONEACCESS_CODES } from "../src/codes.ts";
import { buildLogoutRequest, PATHS } from "../src/requests.ts";
import {
  createOneAccessSimulator,
  type OneAccessSimulator,
  type OneAccessSimulatorOptions,
} from "../src/testing/index.ts";
import { DEVICE, type ManualClock, manualClock, START_MS } from "./support.ts";

const BASE = "https://tenant.example.com";
const CLIENT = "oneaccess-simulator-client";

let key: RsaPrivateKey;
let otherKey: RsaPrivateKey;
beforeAll(async () => {
  [key, otherKey] = await Promise.all([generateKeyPair(2048), generateKeyPair(2048)]);
});

let clock: ManualClock;
let sim: OneAccessSimulator;
async function start(options: OneAccessSimulatorOptions = {}) {
  clock = manualClock();
  sim = await createOneAccessSimulator({ privateKey: key, now: clock.now, ...options });
  return sim;
}
beforeEach(() => start());

function headers(extra: Record<string, string | undefined> = {}): Headers {
  const all: Record<string, string | undefined> = {
    "X-operating-sys-version": DEVICE.osVersion,
    "X-device-fingerprint": DEVICE.fingerprint,
    "X-agent": DEVICE.agent,
    "X-client-id": CLIENT,
    ...extra,
  };
  const result = new Headers();
  for (const [name, value] of Object.entries(all)) if (value !== undefined) result.set(name, value);
  return result;
}

function get(path: string, extra: Record<string, string | undefined> = {}) {
  return sim.fetch(new Request(`${BASE}${path}`, { headers: headers(extra) }));
}

async function signedLogout(
  sessionToken: string,
  options: { timestamp?: string; nonce?: string; publicKey?: RsaPrivateKey["publicKey"] } = {},
) {
  return buildLogoutRequest({
    baseUrl: BASE,
    clientId: CLIENT,
    device: DEVICE,
    publicKey: options.publicKey ?? sim.publicKey,
    sessionToken,
    timestamp: options.timestamp ?? sim.serverTimestamp(),
    ...(options.nonce === undefined ? {} : { nonce: options.nonce }),
  });
}

function withSignature(signature: string) {
  return new Request(`${BASE}${PATHS.logout}`, { headers: headers({ "X-signature": signature }) });
}

async function expectRefusal(response: Response, code: string, message?: RegExp) {
  expect(response.status).toBe(400);
  const body = (await response.json()) as { error_code: string; error_msg: string };
  expect(body.error_code).toBe(code);
  expect(typeof body.error_msg).toBe("string");
  if (message) expect(body.error_msg).toMatch(message);
}

describe("options", () => {
  it("each have a default", async () => {
    const fresh = await createOneAccessSimulator({ privateKey: key });
    expect(fresh.options).toEqual({
      clientId: CLIENT,
      tenantId: undefined,
      keySize: 2048,
      timestampUnit: "ms",
      signatureWindowSec: 300,
      sessionTtlSec: 7200,
      users: { demo: "demo-password" },
      publicKeyFormat: "escaped",
      logoutBody: "success",
      nonce: "timestamp-hex",
    });
    expect(fresh.state().keyBits).toBe(2048);
  });

  it("refuse nonsense", async () => {
    await expect(createOneAccessSimulator({ keySize: 100 })).rejects.toThrow(/keySize/);
    await expect(createOneAccessSimulator({ timestampUnit: "us" as never })).rejects.toThrow(
      /timestampUnit/,
    );
    await expect(createOneAccessSimulator({ signatureWindowSec: -1 })).rejects.toThrow(
      /signatureWindowSec/,
    );
    await expect(createOneAccessSimulator({ nonce: "hex" as never })).rejects.toThrow(/nonce/);
  });
});

describe("GET server-date", () => {
  it("answers the server clock as a string, in milliseconds by default or in seconds", async () => {
    clock.set(START_MS + 123);
    expect(await (await get(PATHS.serverDate)).json()).toEqual({ timestamp: "1700000000123" });
    await start({ timestampUnit: "s" });
    clock.set(START_MS + 999);
    expect(await (await get(PATHS.serverDate)).json()).toEqual({ timestamp: "1700000000" });
  });
});

describe("GET public-key", () => {
  it("answers base64 SPKI with literal \\n line breaks by default", async () => {
    const { public_key } = (await (await get(PATHS.publicKey)).json()) as { public_key: string };
    expect(public_key).toContain("\\n");
    expect(public_key).not.toContain("\n");
    expect(public_key).not.toContain("BEGIN");
    expect(public_key.split("\\n").every((line) => line.length <= 64)).toBe(true);
    expect(importPublicKey(public_key).n).toBe(key.publicKey.n);
  });

  it.each(["base64", "pem"] as const)("answers the %s form when asked", async (publicKeyFormat) => {
    await start({ publicKeyFormat });
    const { public_key } = (await (await get(PATHS.publicKey)).json()) as { public_key: string };
    expect(public_key.includes("BEGIN PUBLIC KEY")).toBe(publicKeyFormat === "pem");
    expect(importPublicKey(public_key).n).toBe(key.publicKey.n);
  });
});

describe("the caller checks every API makes", () => {
  it("refuses a missing X-client-id (APP.0002) and an unknown one (APP.0001)", async () => {
    for (const path of [PATHS.serverDate, PATHS.publicKey, PATHS.logout]) {
      await expectRefusal(await get(path, { "X-client-id": undefined }), "APP.0002");
      await expectRefusal(
        await get(path, { "X-client-id": "someone-else" }),
        "APP.0001",
        /does not exist/,
      );
    }
  });

  it.each(["X-operating-sys-version", "X-device-fingerprint", "X-agent"])(
    "refuses a call without %s (APP.0003), naming it",
    async (name) => {
      await expectRefusal(
        await get(PATHS.publicKey, { [name]: undefined }),
        "APP.0003",
        new RegExp(name),
      );
    },
  );

  it("takes the optional headers or not", async () => {
    expect((await get(PATHS.serverDate, { "X-device-ip": "10.0.0.1", "X-L": "en" })).status).toBe(
      200,
    );
  });

  it("demands the tenant of an ISV application (APP.0008)", async () => {
    await start({ tenantId: "tenant-1" });
    await expectRefusal(await get(PATHS.serverDate), "APP.0008");
    await expectRefusal(await get(PATHS.serverDate, { "X-tenant-id": "tenant-2" }), "APP.0008");
    expect((await get(PATHS.serverDate, { "X-tenant-id": "tenant-1" })).status).toBe(200);
  });
});

describe("POST login", () => {
  const login = (body: string) =>
    sim.fetch(
      new Request(`${BASE}${PATHS.login}`, {
        method: "POST",
        headers: headers({ "content-type": "application/json" }),
        body,
      }),
    );

  it("issues a session token for the right password", async () => {
    const response = await login(JSON.stringify({ user_name: "demo", password: "demo-password" }));
    expect(response.status).toBe(200);
    const body = (await response.json()) as Record<string, unknown>;
    expect(body).toMatchObject({ status: 200, expire: 7200 });
    expect(typeof body.id_token).toBe("string");
    expect(sim.hasSession(body.session_token as string)).toBe(true);
    expect(sim.state().sessions[0]).toMatchObject({ userName: "demo" });
  });

  it("refuses a wrong password (APP.0009) and a body that is not the API's (APP.0010)", async () => {
    await expectRefusal(
      await login(JSON.stringify({ user_name: "demo", password: "nope" })),
      "APP.0009",
    );
    await expectRefusal(
      await login(JSON.stringify({ user_name: "toString", password: "x" })),
      "APP.0009",
    );
    await expectRefusal(await login("not json"), "APP.0010");
    await expectRefusal(await login(JSON.stringify({ user_name: 1 })), "APP.0010");
  });
});

describe("GET logout", () => {
  it("ends the session named in the decrypted X-signature and logs what it read", async () => {
    const token = sim.issueSession();
    const response = await sim.fetch(await signedLogout(token));
    expect(response.status).toBe(200);
    expect(await response.text()).toBe("success");
    expect(sim.hasSession(token)).toBe(false);
    const call = sim.calls.at(-1);
    expect(call).toMatchObject({
      method: "GET",
      path: PATHS.logout,
      status: 200,
      errorCode: undefined,
    });
    expect(call?.signed).toEqual({
      sessionToken: token,
      timestamp: "1700000000000",
      nonce: (1_700_000_000_000).toString(16),
    });
    expect(call?.headers["x-client-id"]).toBe(CLIENT);
  });

  it("accepts a signature OpenSSL made with OAEP SHA-256", async () => {
    const token = sim.issueSession();
    const ts = sim.serverTimestamp();
    const plaintext = `session_token=${token}&timestamp=${ts}&nonce=${Number(ts).toString(16)}`;
    const signature = publicEncrypt(
      { key: key.publicKey.toPem(), padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: "sha256" },
      Buffer.from(plaintext),
    ).toString("base64");
    expect((await sim.fetch(withSignature(signature))).status).toBe(200);
  });

  it("refuses a call without X-signature (APP.0003)", async () => {
    await expectRefusal(await get(PATHS.logout), "APP.0003", /X-signature/);
  });

  it("refuses signatures that do not decrypt or do not read (APP.0004)", async () => {
    const token = sim.issueSession();
    const sha1 = publicEncrypt(
      { key: key.publicKey.toPem(), padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: "sha1" },
      Buffer.from(`session_token=${token}&timestamp=${sim.serverTimestamp()}&nonce=a`),
    ).toString("base64");
    const notTheForm = publicEncrypt(
      { key: key.publicKey.toPem(), padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: "sha256" },
      Buffer.from(`token=${token}`),
    ).toString("base64");
    const otherKeys = (await signedLogout(token, { publicKey: otherKey.publicKey })).headers.get(
      "X-signature",
    ) as string;
    for (const signature of ["not base64!", "AAAA", sha1, notTheForm, otherKeys]) {
      await expectRefusal(
        await sim.fetch(withSignature(signature)),
        "APP.0004",
        /Invalid signature/,
      );
    }
    expect(sim.hasSession(token)).toBe(true);
  });

  it("refuses a nonce that is not the signed timestamp in hexadecimal (APP.0004)", async () => {
    const token = sim.issueSession();
    const ts = sim.serverTimestamp();
    const hex = Number(ts).toString(16);
    for (const nonce of [
      "n1",
      hex.toUpperCase(),
      `0${hex}`,
      `0x${hex}`,
      ts,
      (Number(ts) + 1).toString(16),
      Number(ts).toString(36),
    ]) {
      await expectRefusal(
        await sim.fetch(await signedLogout(token, { nonce })),
        "APP.0004",
        /nonce/,
      );
    }
    expect(sim.hasSession(token)).toBe(true);
    expect(sim.state().usedNonces).toBe(0);
    expect((await sim.fetch(await signedLogout(token, { nonce: hex }))).status).toBe(200);
  });

  it("takes any well-formed nonce when told to (nonce: any)", async () => {
    await start({ nonce: "any" });
    const token = sim.issueSession();
    expect((await sim.fetch(await signedLogout(token, { nonce: "n1" }))).status).toBe(200);
  });

  it("refuses decrypted text that is not exactly the signed form (APP.0004)", async () => {
    const ts = sim.serverTimestamp();
    const nonce = Number(ts).toString(16);
    const encrypt = (plaintext: string | Uint8Array) =>
      publicEncrypt(
        {
          key: key.publicKey.toPem(),
          padding: constants.RSA_PKCS1_OAEP_PADDING,
          oaepHash: "sha256",
        },
        typeof plaintext === "string" ? Buffer.from(plaintext) : plaintext,
      ).toString("base64");
    const malformed: [string, string | Uint8Array][] = [
      ["tok en", `session_token=tok en&timestamp=${ts}&nonce=${nonce}`],
      ["tok\u0000", `session_token=tok\u0000&timestamp=${ts}&nonce=${nonce}`],
      ["tök", `session_token=tök&timestamp=${ts}&nonce=${nonce}`],
      ["tok", `session_token=tok&timestamp=${ts}&nonce=${nonce}\n`],
      ["tok", `session_token=tok&timestamp=${ts}&nonce=${nonce}\r\n`],
      ["tok", ` session_token=tok&timestamp=${ts}&nonce=${nonce}`],
      ["tok", `session_token=tok&timestamp=${ts}&nonce=${nonce}&nonce=${nonce}`],
      ["tok", `timestamp=${ts}&session_token=tok&nonce=${nonce}`],
      ["tok", `session_token=tok&timestamp=+${ts}&nonce=${nonce}`],
      ["tok", `session_token=tok&timestamp=${ts}&nonce=${nonce}${"0".repeat(64)}`],
      [
        "tok",
        Buffer.concat([
          Buffer.from(`session_token=tok&timestamp=${ts}&nonce=${nonce}`),
          Buffer.from([0xff]),
        ]),
      ],
    ];
    for (const [sessionToken, plaintext] of malformed) {
      sim.issueSession({ sessionToken });
      await expectRefusal(
        await sim.fetch(withSignature(encrypt(plaintext))),
        "APP.0004",
        /Invalid signature/,
      );
      expect(sim.hasSession(sessionToken)).toBe(true);
    }
    expect(sim.calls.every((call) => call.signed === undefined)).toBe(true);
    // The same text, well formed, is taken.
    expect(
      (await sim.fetch(withSignature(encrypt(`session_token=tok&timestamp=${ts}&nonce=${nonce}`))))
        .status,
    ).toBe(200);
  });

  it("refuses a timestamp outside the window either way (APP.0005), and takes one at its edge", async () => {
    const token = sim.issueSession();
    const at = (offsetMs: number) => String(START_MS + offsetMs);
    await expectRefusal(
      await sim.fetch(await signedLogout(token, { timestamp: at(-300_001) })),
      "APP.0005",
    );
    await expectRefusal(
      await sim.fetch(await signedLogout(token, { timestamp: at(300_001) })),
      "APP.0005",
    );
    await expectRefusal(
      await sim.fetch(await signedLogout(token, { timestamp: String(START_MS / 1000) })),
      "APP.0005",
    );
    expect((await sim.fetch(await signedLogout(token, { timestamp: at(-300_000) }))).status).toBe(
      200,
    );
  });

  it("honours signatureWindowSec and a seconds clock", async () => {
    await start({ timestampUnit: "s", signatureWindowSec: 30 });
    const token = sim.issueSession();
    await expectRefusal(
      await sim.fetch(await signedLogout(token, { timestamp: "1699999969" })),
      "APP.0005",
    );
    expect((await sim.fetch(await signedLogout(token, { timestamp: "1699999970" }))).status).toBe(
      200,
    );
  });

  it("refuses a nonce already used with that token (APP.0006)", async () => {
    const token = sim.issueSession();
    sim.dropSession(token);
    const request = await signedLogout(token);
    await expectRefusal(await sim.fetch(request.clone()), "APP.0007");
    await expectRefusal(await sim.fetch(request), "APP.0006", /already been used/);
    // The same nonce with another token is no replay.
    const other = sim.issueSession();
    expect((await sim.fetch(await signedLogout(other))).status).toBe(200);
    expect(sim.state().usedNonces).toBe(2);
  });

  it("refuses a replay of a successful logout as a replay, not as a success", async () => {
    const token = sim.issueSession();
    const request = await signedLogout(token);
    expect((await sim.fetch(request.clone())).status).toBe(200);
    await expectRefusal(await sim.fetch(request), "APP.0006");
  });

  it("forgets nonces once their timestamps are out of the window", async () => {
    const token = sim.issueSession();
    sim.dropSession(token);
    await sim.fetch(await signedLogout(token));
    expect(sim.state().usedNonces).toBe(1);
    clock.advance(700_000);
    await sim.fetch(await signedLogout(token));
    expect(sim.state().usedNonces).toBe(1);
  });

  it("refuses an unknown session and an expired one (APP.0007)", async () => {
    await expectRefusal(
      await sim.fetch(await signedLogout("never-issued")),
      "APP.0007",
      /does not exist/,
    );
    const token = sim.issueSession();
    clock.advance(7_200_000);
    await expectRefusal(await sim.fetch(await signedLogout(token)), "APP.0007");
    expect(sim.hasSession(token)).toBe(false);
  });

  it("stops decrypting with the old key once the key is rotated", async () => {
    const token = sim.issueSession();
    const stale = await signedLogout(token);
    expect(await sim.rotateKey(otherKey)).toBe(otherKey.publicKey);
    expect(sim.state().keyRotations).toBe(1);
    await expectRefusal(await sim.fetch(stale), "APP.0004");
    const { public_key } = (await (await get(PATHS.publicKey)).json()) as { public_key: string };
    expect(importPublicKey(public_key).n).toBe(otherKey.publicKey.n);
    expect((await sim.fetch(await signedLogout(token))).status).toBe(200);
  });

  it("answers each refusal with its own code", async () => {
    const token = sim.issueSession();
    const seen = new Set<string>();
    const codes = async (response: Response) => {
      seen.add(((await response.json()) as { error_code: string }).error_code);
    };
    await codes(await get(PATHS.logout, { "X-client-id": "nobody" }));
    await codes(await get(PATHS.logout, { "X-agent": undefined }));
    await codes(await sim.fetch(withSignature("AAAA")));
    await codes(await sim.fetch(await signedLogout(token, { timestamp: "1" })));
    await codes(await sim.fetch(await signedLogout("unknown")));
    const replay = await signedLogout("unknown-2");
    await sim.fetch(replay.clone());
    await codes(await sim.fetch(replay));
    expect(seen).toEqual(
      new Set([
        ONEACCESS_CODES.UNKNOWN_CLIENT,
        ONEACCESS_CODES.HEADER_REQUIRED,
        ONEACCESS_CODES.SIGNATURE_INVALID,
        ONEACCESS_CODES.TIMESTAMP_EXPIRED,
        ONEACCESS_CODES.SESSION_UNKNOWN,
        ONEACCESS_CODES.NONCE_REPLAYED,
      ]),
    );
  });
});

describe("state, log and misbehaviour", () => {
  it("keeps a call log with status and error code, and counts calls per path", async () => {
    await get(PATHS.serverDate);
    await get(PATHS.publicKey, { "X-client-id": "x" });
    expect(sim.count()).toBe(2);
    expect(sim.count(PATHS.publicKey)).toBe(1);
    expect(sim.calls[1]).toMatchObject({ status: 400, errorCode: "APP.0001", at: START_MS });
    sim.clearCalls();
    expect(sim.count()).toBe(0);
    expect(sim.state().calls).toBe(0);
  });

  it.each([
    [PATHS.serverDate, "GET"],
    [PATHS.publicKey, "GET"],
    [PATHS.logout, "GET"],
    [PATHS.login, "POST"],
  ])("answers %s with 405 to any method but %s, and does nothing", async (path, allowed) => {
    const token = sim.issueSession();
    const signature = (await signedLogout(token)).headers.get("X-signature") as string;
    for (const method of ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]) {
      if (method === allowed) continue;
      const response = await sim.fetch(
        new Request(`${BASE}${path}`, {
          method,
          headers: headers({ "X-signature": signature, "content-type": "application/json" }),
          ...(method === "GET" || method === "HEAD"
            ? {}
            : { body: JSON.stringify({ user_name: "demo", password: "demo-password" }) }),
        }),
      );
      expect(response.status, `${method} ${path}`).toBe(405);
      expect(response.headers.get("allow")).toBe(allowed);
    }
    expect(sim.hasSession(token)).toBe(true);
    expect(sim.state().sessions).toHaveLength(1);
    expect(sim.state().usedNonces).toBe(0);
    expect(sim.calls.every((call) => call.status === 405)).toBe(true);
  });

  it("logs every request header as sent, whatever its name", async () => {
    await get(PATHS.serverDate, { ["__proto__"]: "a", constructor: "b" });
    const logged = sim.calls.at(-1)?.headers ?? {};
    expect(Object.getOwnPropertyDescriptor(logged, "__proto__")?.value).toBe("a");
    expect(Object.getOwnPropertyDescriptor(logged, "constructor")?.value).toBe("b");
  });

  it("answers an unknown path as the API gateway does", async () => {
    const response = await get("/api/v2/sdk/nothing");
    expect(response.status).toBe(404);
    expect(await response.json()).toMatchObject({ error_code: "APIGW.0101" });
  });

  it("answers 502 pages, non-JSON and truncated JSON when told, for a number of calls", async () => {
    sim.faults.set({ status: 502, times: 1 });
    const gateway = await get(PATHS.serverDate);
    expect(gateway.status).toBe(502);
    expect(gateway.headers.get("content-type")).toBe("text/html");
    expect((await get(PATHS.serverDate)).status).toBe(200);
    sim.faults.set({ nonJson: true });
    await expect((await get(PATHS.publicKey)).json()).rejects.toThrow();
    sim.faults.set({ truncatedJson: true });
    await expect((await get(PATHS.publicKey)).json()).rejects.toThrow();
    sim.faults.set({ contentType: "text/plain" });
    const relabelled = await get(PATHS.serverDate);
    expect(relabelled.headers.get("content-type")).toBe("text/plain");
    expect(await relabelled.json()).toHaveProperty("timestamp");
    sim.faults.clear();
    expect((await get(PATHS.serverDate)).headers.get("content-type")).toMatch(/json/);
  });

  it("drops the connection on every path when told: fetch rejects with a TypeError", async () => {
    const token = sim.issueSession();
    sim.faults.set({ reset: true, times: 3 });
    for (const path of [PATHS.serverDate, PATHS.publicKey]) {
      await expect(get(path)).rejects.toThrow(TypeError);
    }
    await expect(sim.fetch(await signedLogout(token))).rejects.toThrow("fetch failed");
    expect(sim.hasSession(token)).toBe(true);
    expect(sim.count()).toBe(3);
    expect((await sim.fetch(await signedLogout(token))).status).toBe(200);
    expect(sim.hasSession(token)).toBe(false);
  });

  it("answers a JSON body over 10 MB on every path, streamed as it is read", async () => {
    const token = sim.issueSession();
    sim.faults.set({ oversizedBody: true });
    const answers = [
      await get(PATHS.serverDate),
      await get(PATHS.publicKey),
      await sim.fetch(await signedLogout(token)),
    ];
    for (const response of answers) {
      expect(response.status).toBe(200);
      expect(response.headers.get("content-type")).toMatch(/^application\/json/);
      const reader = (response.body as ReadableStream<Uint8Array>).getReader();
      expect((await reader.read()).value?.byteLength).toBe(OVERSIZED_CHUNK_BYTES);
      await reader.cancel();
    }
    expect(sim.faults.streamedBytes).toBeLessThan(OVERSIZED_BODY_BYTES);
    expect(sim.hasSession(token)).toBe(true);
  });

  it("relabels the content type of the public key and logout answers too", async () => {
    const token = sim.issueSession();
    sim.faults.set({ contentType: "text/html" });
    expect((await get(PATHS.publicKey)).headers.get("content-type")).toBe("text/html");
    const logout = await sim.fetch(await signedLogout(token));
    expect(logout.headers.get("content-type")).toBe("text/html");
    expect(await logout.text()).toBe("success");
  });

  it("answers late when slowed down, and gives up when the caller aborts", async () => {
    sim.faults.set({ delayMs: 20 });
    expect((await get(PATHS.serverDate)).status).toBe(200);
    sim.faults.set({ delayMs: 60_000 });
    const controller = new AbortController();
    const pending = sim.fetch(
      new Request(`${BASE}${PATHS.serverDate}`, { headers: headers(), signal: controller.signal }),
    );
    controller.abort(new Error("caller gave up"));
    const response = await pending;
    expect(response.status).toBe(499);
  });

  it("generates its own key when none is given", async () => {
    const own = await createOneAccessSimulator();
    expect(own.publicKey.bits).toBe(2048);
    expect(own.publicKey.n).not.toBe(key.publicKey.n);
  });
});
