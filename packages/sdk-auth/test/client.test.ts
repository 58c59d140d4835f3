import { ERROR_KINDS, toBase64 } from "@x/core-signing";
import { generateKeyPair, type RsaPrivateKey } from "@x/core-signing/rsa";
import { beforeAll, describe, expect, it } from "vitest";
import {
  DEFAULT_SERVICE_DEVICE,
  defaultRefreshOn,
  OneAccessClient,
  type OneAccessClientOptions,
} from "../src/client.ts";
import { OneAccessError } from "../src/errors.ts";
import { PATHS } from "../src/requests.ts";
import { createOneAccessSimulator } from "../src/testing/index.ts";
import { DEVICE, json, manualClock, opensslDecrypt, rejection, scriptedFetch } from "./support.ts";

let key: RsaPrivateKey;
let keyAnswer: () => Response;
beforeAll(async () => {
  key = await generateKeyPair(2048);
  const spki = toBase64(key.publicKey.toSpki());
  keyAnswer = () => json({ public_key: spki });
});

const BASE = { baseUrl: "https://tenant.example.com", clientId: "client-1" };

function client(
  fetch: OneAccessClientOptions["fetch"],
  options: Partial<OneAccessClientOptions> = {},
) {
  const clock = manualClock();
  return new OneAccessClient({ ...BASE, fetch, now: clock.now, ...options });
}

function signedText(request: Request | undefined): string {
  return opensslDecrypt(key, request?.headers.get("X-signature") as string);
}

function refusal(run: () => unknown): OneAccessError {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(OneAccessError);
    return error as OneAccessError;
  }
  throw new Error("nothing was refused");
}

describe("new OneAccessClient", () => {
  it.each([
    [{ baseUrl: "not a url" }, "baseUrl"],
    [{ baseUrl: "https://user:pw@tenant.example.com" }, "baseUrl"],
    [{ clientId: "" }, "clientId"],
    [{ clientId: "a\nb" }, "clientId"],
    [{ tenantId: "é" }, "tenantId"],
    [{ timeoutMs: 0 }, "timeoutMs"],
    [{ fetch: "fetch" }, "fetch"],
    [{ now: 5 }, "now"],
    [{ nonce: "abc" }, "nonce"],
    [{ timestampUnit: "us" }, "timestampUnit"],
    [{ device: { ...DEVICE, agent: "a\r\nb" } }, "device.agent"],
    [{ device: { osVersion: "x", agent: "y" } }, "device.fingerprint"],
    [{ publicKey: "not a key!" }, "publicKey"],
    [{ refreshOn: true }, "refreshOn"],
    [{ errorKinds: { "APP.1": "bad" } }, "errorKinds.APP.1"],
    [{ maxBodyBytes: 0 }, "maxBodyBytes"],
  ] as [Record<string, unknown>, string][])("refuses %j, naming %s", (options, field) => {
    const error = refusal(() => new OneAccessClient({ ...BASE, ...options } as never));
    expect(error.field).toBe(field);
    expect(error.code).toBe("INVALID_INPUT");
  });

  it("refuses a missing options object", () => {
    expect(refusal(() => new OneAccessClient(undefined as never)).field).toBe("baseUrl");
  });

  it("starts with nothing cached, or with the key it is given", () => {
    expect(new OneAccessClient(BASE).state).toEqual({
      publicKey: undefined,
      clockOffsetMs: undefined,
      timestampUnit: undefined,
    });
    const given = new OneAccessClient({ ...BASE, publicKey: key.publicKey.toPem() });
    expect(given.state.publicKey?.n).toBe(key.publicKey.n);
  });
});

describe("serverDate", () => {
  it("returns the server's string verbatim and keeps the offset and unit", async () => {
    const { fetch, requests } = scriptedFetch(json({ timestamp: "1700000600000" }));
    const oa = client(fetch);
    expect(await oa.serverDate()).toEqual({ timestamp: "1700000600000" });
    expect(oa.state.clockOffsetMs).toBe(600_000);
    expect(oa.state.timestampUnit).toBe("ms");
    const request = requests[0] as Request;
    expect(request.url).toBe("https://tenant.example.com/api/v2/sdk/server-date");
    expect(request.headers.get("X-client-id")).toBe("client-1");
    expect(request.headers.get("X-operating-sys-version")).toBe(DEFAULT_SERVICE_DEVICE.osVersion);
    expect(request.headers.get("X-agent")).toBe(DEFAULT_SERVICE_DEVICE.agent);
  });

  it("sends the configured device and tenant on the client's own calls", async () => {
    const { fetch, requests } = scriptedFetch(json({ timestamp: "1" }), keyAnswer);
    const oa = client(fetch, {
      tenantId: "t-1",
      device: { osVersion: "Linux", fingerprint: "edge-1", agent: "edge-proxy/1", language: "en" },
    });
    await oa.serverDate();
    await oa.publicKey();
    for (const request of requests) {
      expect(request.headers.get("X-operating-sys-version")).toBe("Linux");
      expect(request.headers.get("X-device-fingerprint")).toBe("edge-1");
      expect(request.headers.get("X-L")).toBe("en");
      expect(request.headers.get("X-tenant-id")).toBe("t-1");
      expect(request.headers.has("X-device-ip")).toBe(false);
    }
  });

  it("refuses a timestamp it cannot compute with, as BAD_RESPONSE", async () => {
    const { fetch } = scriptedFetch(json({ timestamp: "Tue, 14 Nov 2023 22:13:20 GMT" }));
    const error = await rejection(client(fetch).serverDate());
    expect(error.code).toBe("BAD_RESPONSE");
  });
});

describe("publicKey", () => {
  it("is fetched once and cached, also under concurrent calls", async () => {
    const { fetch, requests } = scriptedFetch(keyAnswer);
    const oa = client(fetch);
    const [a, b] = await Promise.all([oa.publicKey(), oa.publicKey()]);
    expect(a).toBe(b);
    expect(await oa.publicKey()).toBe(a);
    expect(requests).toHaveLength(1);
    expect(requests[0]?.url).toBe("https://tenant.example.com/api/v2/sdk/public-key");
    expect(a.n).toBe(key.publicKey.n);
  });

  it("is not cached when the cache is dropped while it is in flight", async () => {
    let answer: (response: Response) => void = () => {};
    const { fetch, requests } = scriptedFetch(
      () => new Promise<Response>((resolve) => (answer = resolve)),
      keyAnswer,
    );
    const oa = client(fetch);
    const pending = oa.publicKey();
    await Promise.resolve();
    oa.resetCache();
    answer(keyAnswer());
    expect((await pending).n).toBe(key.publicKey.n);
    expect(oa.state.publicKey).toBeUndefined();
    await oa.publicKey();
    expect(requests).toHaveLength(2);
    expect(oa.state.publicKey?.n).toBe(key.publicKey.n);
  });

  it("is fetched again after a failure", async () => {
    const { fetch, requests } = scriptedFetch(new Response("nope", { status: 503 }), keyAnswer);
    const oa = client(fetch);
    expect((await rejection(oa.publicKey())).code).toBe("HTTP_503");
    expect((await oa.publicKey()).n).toBe(key.publicKey.n);
    expect(requests).toHaveLength(2);
  });
});

describe("logout", () => {
  it("signs the server's own timestamp when cold, then computes it locally in the server's unit", async () => {
    const clock = manualClock();
    const { fetch, requests } = scriptedFetch(
      keyAnswer,
      json({ timestamp: "1700000042" }),
      new Response("ok"),
      new Response("ok"),
    );
    const oa = new OneAccessClient({ ...BASE, fetch, now: clock.now });
    expect(await oa.logout({ sessionToken: "tok-1", device: DEVICE })).toEqual({ body: "ok" });
    expect(requests.map((request) => new URL(request.url).pathname)).toEqual([
      "/api/v2/sdk/public-key",
      "/api/v2/sdk/server-date",
      "/api/v2/sdk/logout",
    ]);
    expect(signedText(requests[2])).toBe(
      `session_token=tok-1&timestamp=1700000042&nonce=${(1_700_000_042).toString(16)}`,
    );
    expect(oa.state.timestampUnit).toBe("s");
    clock.advance(60_000);
    await oa.logout({ sessionToken: "tok-2", device: DEVICE });
    expect(requests).toHaveLength(4);
    expect(signedText(requests[3])).toBe(
      `session_token=tok-2&timestamp=1700000102&nonce=${(1_700_000_102).toString(16)}`,
    );
  });

  it("sends the user's device headers and exactly the documented ones", async () => {
    const { fetch, requests } = scriptedFetch(
      keyAnswer,
      json({ timestamp: "1700000000000" }),
      new Response(""),
    );
    await client(fetch, { tenantId: "t-9" }).logout({
      sessionToken: "tok",
      device: { ...DEVICE, ip: "10.10.10.1", language: "zh" },
    });
    const logout = requests[2] as Request;
    expect(logout.method).toBe("GET");
    expect(Object.fromEntries(logout.headers)).toEqual({
      "x-operating-sys-version": DEVICE.osVersion,
      "x-device-fingerprint": DEVICE.fingerprint,
      "x-device-ip": "10.10.10.1",
      "x-agent": DEVICE.agent,
      "x-l": "zh",
      "x-client-id": "client-1",
      "x-tenant-id": "t-9",
      "x-signature": logout.headers.get("x-signature"),
    });
  });

  it("uses the nonce option, checks what it returns, and honours a forced unit", async () => {
    const { fetch, requests } = scriptedFetch(
      keyAnswer,
      json({ timestamp: "1700000000" }),
      new Response(""),
    );
    const oa = client(fetch, { nonce: (ts) => `n-${ts}`, timestampUnit: "ms" });
    await oa.logout({ sessionToken: "tok", device: DEVICE });
    expect(signedText(requests[2])).toBe(
      "session_token=tok&timestamp=1700000000&nonce=n-1700000000",
    );
    expect(oa.state.timestampUnit).toBe("ms");
    const bad = client(scriptedFetch(keyAnswer, json({ timestamp: "1" })).fetch, {
      nonce: () => "a b",
    });
    expect((await rejection(bad.logout({ sessionToken: "tok", device: DEVICE }))).field).toBe(
      "nonce",
    );
  });

  describe("refuses bad input before any request, naming the field", () => {
    it.each([
      [{ sessionToken: "", device: DEVICE }, "sessionToken"],
      [{ sessionToken: "a&b", device: DEVICE }, "sessionToken"],
      [{ sessionToken: "x".repeat(413), device: DEVICE }, "sessionToken"],
      [{ sessionToken: "tok" }, "device"],
      [{ sessionToken: "tok", device: { ...DEVICE, osVersion: undefined } }, "device.osVersion"],
      [{ sessionToken: "tok", device: { ...DEVICE, fingerprint: "" } }, "device.fingerprint"],
      [
        { sessionToken: "tok", device: { ...DEVICE, agent: "Mozilla\r\nX-Injected: 1" } },
        "device.agent",
      ],
      [{ sessionToken: "tok", device: { ...DEVICE, ip: "10.0.0.1\n" } }, "device.ip"],
      [{ sessionToken: "tok", device: { ...DEVICE, language: "中文" } }, "device.language"],
      [
        { sessionToken: "tok", device: { ...DEVICE, agent: "Mozilla/5.0 (Ünïcode)" } },
        "device.agent",
      ],
    ] as [Record<string, unknown>, string][])("%j -> %s", async (input, field) => {
      const { fetch, requests } = scriptedFetch();
      const error = await rejection(client(fetch).logout(input as never));
      expect(error.field).toBe(field);
      expect(error.kind).toBe("invalid_request");
      expect(requests).toHaveLength(0);
    });

    it("a per-call timeout out of range", async () => {
      const { fetch, requests } = scriptedFetch();
      const error = await rejection(
        client(fetch).logout({ sessionToken: "t", device: DEVICE }, { timeoutMs: -1 }),
      );
      expect(error.field).toBe("timeoutMs");
      expect(requests).toHaveLength(0);
    });
  });

  it("refuses a token too long for the key: warm, before any request; cold, before the logout request", async () => {
    const token = "t".repeat(150);
    const fresh = scriptedFetch(keyAnswer, json({ timestamp: "1700000000000" }));
    const error = await rejection(
      client(fresh.fetch).logout({ sessionToken: token, device: DEVICE }),
    );
    expect(error.field).toBe("sessionToken");
    expect(fresh.requests.map((request) => new URL(request.url).pathname)).toEqual([
      "/api/v2/sdk/public-key",
      "/api/v2/sdk/server-date",
    ]);
    const { fetch, requests } = scriptedFetch(json({ timestamp: "1700000000000" }));
    const cold = client(fetch, { publicKey: key.publicKey });
    const first = await rejection(cold.logout({ sessionToken: token, device: DEVICE }));
    expect(first.field).toBe("sessionToken");
    expect(first.message).toMatch(/2048-bit key .* at most 190 bytes .* at most \d+ bytes/);
    expect(first.message).not.toContain(token);
    expect(requests.map((request) => new URL(request.url).pathname)).toEqual([
      "/api/v2/sdk/server-date",
    ]);
    const again = await rejection(cold.logout({ sessionToken: token, device: DEVICE }));
    expect(again.field).toBe("sessionToken");
    expect(requests).toHaveLength(1);
  });

  it("turns a 400 into a OneAccessError with OneAccess's code, without retrying what is not about the signature", async () => {
    const { fetch, requests } = scriptedFetch(
      keyAnswer,
      json({ timestamp: "1700000000000" }),
      json(
        { error_code: "APP.0007", error_msg: "The session does not exist or has expired." },
        400,
      ),
    );
    const error = await rejection(client(fetch).logout({ sessionToken: "gone", device: DEVICE }));
    expect(error).toMatchObject({
      code: "APP.0007",
      kind: "unauthorized",
      upstreamStatus: 400,
      vendor: "sdk-auth",
    });
    expect(requests).toHaveLength(3);
  });

  it("refreshes key and clock and retries exactly once on a signature error", async () => {
    const { fetch, requests } = scriptedFetch(
      keyAnswer,
      json({ timestamp: "1700000000000" }),
      json({ error_code: "APP.0004", error_msg: "Invalid signature." }, 400),
      keyAnswer,
      json({ timestamp: "1700000000500" }),
      json({ error_code: "APP.0004", error_msg: "Invalid signature." }, 400),
    );
    const error = await rejection(client(fetch).logout({ sessionToken: "tok", device: DEVICE }));
    expect(error.code).toBe("APP.0004");
    expect(requests.map((request) => new URL(request.url).pathname)).toEqual([
      "/api/v2/sdk/public-key",
      "/api/v2/sdk/server-date",
      "/api/v2/sdk/logout",
      "/api/v2/sdk/public-key",
      "/api/v2/sdk/server-date",
      "/api/v2/sdk/logout",
    ]);
    expect(signedText(requests[5])).toContain("timestamp=1700000000500&");
  });

  it("retries on an unknown code whose message speaks of the signature, and as refreshOn says", async () => {
    const unknown = () =>
      json({ error_code: "APP.1234", error_msg: "Signature verification failed." }, 400);
    const first = scriptedFetch(
      keyAnswer,
      json({ timestamp: "1" }),
      unknown,
      keyAnswer,
      json({ timestamp: "2" }),
      new Response("ok"),
    );
    expect(await client(first.fetch).logout({ sessionToken: "t", device: DEVICE })).toEqual({
      body: "ok",
    });
    expect(first.requests).toHaveLength(6);
    const never = scriptedFetch(keyAnswer, json({ timestamp: "1" }), unknown);
    await rejection(
      client(never.fetch, { refreshOn: () => false }).logout({ sessionToken: "t", device: DEVICE }),
    );
    expect(never.requests).toHaveLength(3);
  });

  it("does not retry a signature code that arrives with another status", () => {
    const error = new OneAccessError({
      code: "APP.0004",
      kind: "unauthorized",
      message: "m",
      upstreamStatus: 500,
    });
    expect(defaultRefreshOn(error)).toBe(false);
    expect(
      defaultRefreshOn(
        new OneAccessError({
          code: "APP.0005",
          kind: "unauthorized",
          message: "m",
          upstreamStatus: 400,
        }),
      ),
    ).toBe(true);
    expect(
      defaultRefreshOn(
        new OneAccessError({
          code: "X.1",
          kind: "upstream",
          message: "m",
          upstreamStatus: 400,
          errorMsg: "时间戳过期",
        }),
      ),
    ).toBe(true);
  });

  it("does not retry when fetching the key itself fails", async () => {
    const { fetch, requests } = scriptedFetch(
      json({ error_code: "APP.0004", error_msg: "Invalid signature." }, 400),
    );
    expect(
      (await rejection(client(fetch).logout({ sessionToken: "t", device: DEVICE }))).code,
    ).toBe("APP.0004");
    expect(requests).toHaveLength(1);
  });

  it("shares the cold fetches between concurrent logouts", async () => {
    const { fetch, requests } = scriptedFetch(
      keyAnswer,
      json({ timestamp: "1700000000000" }),
      new Response("a"),
      new Response("b"),
      new Response("c"),
    );
    const oa = client(fetch);
    await Promise.all(
      ["t1", "t2", "t3"].map((sessionToken) => oa.logout({ sessionToken, device: DEVICE })),
    );
    const paths = requests.map((request) => new URL(request.url).pathname);
    expect(paths.filter((path) => path.endsWith("/public-key"))).toHaveLength(1);
    expect(paths.filter((path) => path.endsWith("/server-date"))).toHaveLength(1);
    expect(paths.filter((path) => path.endsWith("/logout"))).toHaveLength(3);
  });

  it("rethrows the caller's abort reason, before or during the call", async () => {
    const reason = new Error("stop");
    const before = scriptedFetch();
    await expect(
      client(before.fetch).logout(
        { sessionToken: "t", device: DEVICE },
        { signal: AbortSignal.abort(reason) },
      ),
    ).rejects.toBe(reason);
    expect(before.requests).toHaveLength(0);
    const controller = new AbortController();
    const hanging = scriptedFetch(() => new Promise<Response>(() => {}) as never);
    const pending = client(hanging.fetch).logout(
      { sessionToken: "t", device: DEVICE },
      { signal: controller.signal },
    );
    controller.abort(reason);
    await expect(pending).rejects.toBe(reason);
  });

  it("turns silence into a retryable TIMEOUT and a network failure into NETWORK_ERROR", async () => {
    const silent = scriptedFetch(() => new Promise<Response>(() => {}) as never);
    const timeout = await rejection(
      client(silent.fetch, { timeoutMs: 20 }).logout({ sessionToken: "t", device: DEVICE }),
    );
    expect(timeout).toMatchObject({ code: "TIMEOUT", kind: "unavailable", retryable: true });
    const broken = scriptedFetch(() => {
      throw new TypeError("fetch failed");
    });
    const network = await rejection(client(broken.fetch).publicKey());
    expect(network).toMatchObject({ code: "NETWORK_ERROR", kind: "unavailable", retryable: true });
  });

  it("times out an answer whose body never ends: the deadline covers the body", async () => {
    const endless = async () =>
      new Response(
        new ReadableStream<Uint8Array>({
          start(controller) {
            controller.enqueue(new TextEncoder().encode('{"public_key":'));
          },
        }),
        { status: 200 },
      );
    const timeout = await rejection(client(endless, { timeoutMs: 20 }).publicKey());
    expect(timeout).toMatchObject({ code: "TIMEOUT", kind: "unavailable", retryable: true });
  });

  it("forgets key and offset on resetCache", async () => {
    const { fetch, requests } = scriptedFetch(keyAnswer, json({ timestamp: "1" }), keyAnswer);
    const oa = client(fetch);
    await oa.publicKey();
    await oa.serverDate();
    oa.resetCache();
    expect(oa.state).toEqual({
      publicKey: undefined,
      clockOffsetMs: undefined,
      timestampUnit: undefined,
    });
    await oa.publicKey();
    expect(requests).toHaveLength(3);
  });

  it("never puts the session token or the signature in an error", async () => {
    const token = "very-secret-session-token";
    const { fetch, requests } = scriptedFetch(
      keyAnswer,
      json({ timestamp: "1700000000000" }),
      json(
        { error_code: "APP.0007", error_msg: "The session does not exist or has expired." },
        400,
      ),
    );
    const error = await rejection(client(fetch).logout({ sessionToken: token, device: DEVICE }));
    const signature = requests[2]?.headers.get("X-signature") as string;
    const text = `${error.message} ${JSON.stringify(error)}`;
    expect(text).not.toContain(token);
    expect(text).not.toContain(signature.slice(0, 20));
  });
});

describe("maxBodyBytes", () => {
  /** An answer that never ends, counting what was pulled from it. */
  function endless(counter: { pulled: number }): Response {
    const stream = new ReadableStream<Uint8Array>(
      {
        pull(controller) {
          counter.pulled += 1024;
          controller.enqueue(new Uint8Array(1024).fill(0x20));
        },
      },
      { highWaterMark: 0 },
    );
    return new Response(stream, { headers: { "content-type": "application/json" } });
  }

  it.each([PATHS.publicKey, PATHS.serverDate, PATHS.logout])(
    "stops reading the %s answer at the limit: BAD_RESPONSE",
    async (target) => {
      const clock = manualClock();
      const sim = await createOneAccessSimulator({
        privateKey: key,
        clientId: BASE.clientId,
        now: clock.now,
      });
      const sessionToken = sim.issueSession();
      const counter = { pulled: 0 };
      // The simulator answers (a logout is done), but the body that comes back never ends.
      const fetch = async (request: Request) => {
        const answer = await sim.fetch(request);
        if (new URL(request.url).pathname !== target) return answer;
        await answer.body?.cancel();
        return endless(counter);
      };
      const limited = new OneAccessClient({ ...BASE, fetch, now: clock.now, maxBodyBytes: 4096 });
      const error = await rejection(limited.logout({ sessionToken, device: DEVICE }));
      expect(error).toMatchObject({ code: "BAD_RESPONSE", kind: "upstream", upstreamStatus: 200 });
      expect(counter.pulled).toBeGreaterThan(4096);
      expect(counter.pulled).toBeLessThanOrEqual(4096 + 2048);
      expect(sim.hasSession(sessionToken)).toBe(target !== PATHS.logout);
    },
  );
});

describe("an error_code named like a property of every object", () => {
  const PROTOTYPE_NAMES = ["constructor", "toString", "valueOf", "hasOwnProperty", "__proto__"];
  const refusedWith = (code: string, status = 400) =>
    json({ error_code: code, error_msg: "no such thing" }, status);

  it.each(PROTOTYPE_NAMES)(
    "%s on each call is an error of a kind in ERROR_KINDS, never success",
    async (code) => {
      const logout = scriptedFetch(
        keyAnswer,
        json({ timestamp: "1700000000000" }),
        refusedWith(code),
      );
      const error = await rejection(
        client(logout.fetch).logout({ sessionToken: "tok", device: DEVICE }),
      );
      expect(ERROR_KINDS).toContain(error.kind);
      expect(error).toMatchObject({
        code,
        kind: "upstream",
        retryable: false,
        upstreamStatus: 400,
      });
      expect(logout.requests).toHaveLength(3);
      const withTable = client(
        scriptedFetch(keyAnswer, json({ timestamp: "1700000000000" }), refusedWith(code)).fetch,
        { errorKinds: { "APP.0100": "not_found" } },
      );
      expect(
        (await rejection(withTable.logout({ sessionToken: "tok", device: DEVICE }))).kind,
      ).toBe("upstream");
      for (const call of ["serverDate", "publicKey"] as const) {
        const oa = client(scriptedFetch(refusedWith(code)).fetch);
        const failed = await rejection(oa[call]());
        expect(failed).toMatchObject({ code, kind: "upstream" });
      }
      const busy = await rejection(
        client(scriptedFetch(refusedWith(code, 503)).fetch).serverDate(),
      );
      expect(busy).toMatchObject({ code, kind: "unavailable", retryable: true });
    },
  );

  it("an errorKinds option that names such a code itself is honoured", async () => {
    const errorKinds = JSON.parse('{"__proto__":"not_found","constructor":"rate_limited"}');
    for (const [code, kind] of [
      ["__proto__", "not_found"],
      ["constructor", "rate_limited"],
    ]) {
      const oa = client(scriptedFetch(refusedWith(code as string)).fetch, { errorKinds });
      expect((await rejection(oa.serverDate())).kind).toBe(kind);
    }
  });
});

describe("warm", () => {
  const pathsOf = (requests: Request[]) => requests.map((request) => new URL(request.url).pathname);

  it("fetches what the cache lacks once for concurrent calls of one fetch, and nothing when warm", async () => {
    const shared = scriptedFetch(keyAnswer, json({ timestamp: "1700000000000" }));
    const oa = client(scriptedFetch().fetch);
    await Promise.all(Array.from({ length: 5 }, () => oa.warm({ fetch: shared.fetch })));
    expect(pathsOf(shared.requests)).toEqual([PATHS.publicKey, PATHS.serverDate]);
    expect(oa.state.publicKey?.n).toBe(key.publicKey.n);
    expect(oa.state.clockOffsetMs).toBeDefined();
    await oa.warm({ fetch: shared.fetch });
    expect(shared.requests).toHaveLength(2);
    // A logout after it is one request.
    const call = scriptedFetch(new Response("ok"));
    await oa.logout({ sessionToken: "t", device: DEVICE }, { fetch: call.fetch });
    expect(pathsOf(call.requests)).toEqual([PATHS.logout]);
  });

  it("refuses call options it refuses elsewhere, before any request", async () => {
    const oa = client(scriptedFetch().fetch);
    const error = await rejection(oa.warm({ fetch: "nope" as never }));
    expect(error).toMatchObject({ code: "INVALID_INPUT", field: "fetch" });
  });
});

describe("a per-call fetch", () => {
  const pathsOf = (requests: Request[]) => requests.map((request) => new URL(request.url).pathname);
  const COLD = [PATHS.publicKey, PATHS.serverDate, PATHS.logout];

  it("receives every request of a cold logout, the client's fetch none", async () => {
    const own = scriptedFetch();
    const call = scriptedFetch(keyAnswer, json({ timestamp: "1700000000000" }), new Response("ok"));
    const oa = client(own.fetch);
    const result = await oa.logout({ sessionToken: "tok", device: DEVICE }, { fetch: call.fetch });
    expect(result).toEqual({ body: "ok" });
    expect(pathsOf(call.requests)).toEqual(COLD);
    expect(signedText(call.requests[2])).toContain("session_token=tok&timestamp=1700000000000&");
    expect(own.requests).toHaveLength(0);
    // What the call fetched is cached for the client, whichever fetch the next call uses.
    expect(oa.state.publicKey?.n).toBe(key.publicKey.n);
    expect(oa.state.clockOffsetMs).toBeDefined();
  });

  it("receives only the logout of a warm call", async () => {
    const own = scriptedFetch(keyAnswer, json({ timestamp: "1700000000000" }), new Response("a"));
    const oa = client(own.fetch);
    await oa.logout({ sessionToken: "t1", device: DEVICE });
    const call = scriptedFetch(new Response("b"));
    const result = await oa.logout({ sessionToken: "t2", device: DEVICE }, { fetch: call.fetch });
    expect(result).toEqual({ body: "b" });
    expect(pathsOf(call.requests)).toEqual([PATHS.logout]);
    expect(signedText(call.requests[0])).toContain("session_token=t2&");
    expect(own.requests).toHaveLength(3);
  });

  it("receives every request of the refresh and the retry, cold or warm", async () => {
    const refused = () => json({ error_code: "APP.0004", error_msg: "Invalid signature." }, 400);
    const own = scriptedFetch();
    const oa = client(own.fetch);
    const cold = scriptedFetch(
      keyAnswer,
      json({ timestamp: "1700000000000" }),
      refused,
      keyAnswer,
      json({ timestamp: "1700000000500" }),
      new Response("ok"),
    );
    expect(await oa.logout({ sessionToken: "t1", device: DEVICE }, { fetch: cold.fetch })).toEqual({
      body: "ok",
    });
    expect(pathsOf(cold.requests)).toEqual([...COLD, ...COLD]);
    expect(signedText(cold.requests[5])).toContain("timestamp=1700000000500&");
    const warm = scriptedFetch(
      refused,
      keyAnswer,
      json({ timestamp: "1700000001000" }),
      new Response("again"),
    );
    expect(await oa.logout({ sessionToken: "t2", device: DEVICE }, { fetch: warm.fetch })).toEqual({
      body: "again",
    });
    expect(pathsOf(warm.requests)).toEqual([PATHS.logout, ...COLD]);
    expect(own.requests).toHaveLength(0);
  });

  it("sees what the simulator answered each request, a rotated key's refusal included", async () => {
    const clock = manualClock();
    const sim = await createOneAccessSimulator({
      privateKey: key,
      clientId: BASE.clientId,
      now: clock.now,
    });
    const oa = new OneAccessClient({ ...BASE, fetch: scriptedFetch().fetch, now: clock.now });
    const observing = () => {
      const seen: string[] = [];
      const fetch = async (request: Request) => {
        const answer = await sim.fetch(request);
        seen.push(`${new URL(request.url).pathname} ${answer.status}`);
        return answer;
      };
      return { fetch, seen };
    };
    const first = observing();
    await oa.logout({ sessionToken: sim.issueSession(), device: DEVICE }, { fetch: first.fetch });
    expect(first.seen).toEqual(COLD.map((path) => `${path} 200`));
    await sim.rotateKey();
    const second = observing();
    const sessionToken = sim.issueSession();
    await oa.logout({ sessionToken, device: DEVICE }, { fetch: second.fetch });
    expect(second.seen).toEqual([
      `${PATHS.logout} 400`,
      `${PATHS.publicKey} 200`,
      `${PATHS.serverDate} 200`,
      `${PATHS.logout} 200`,
    ]);
    expect(sim.hasSession(sessionToken)).toBe(false);
  });

  it("gives way to the client's fetch when left out or undefined", async () => {
    const own = scriptedFetch(
      keyAnswer,
      json({ timestamp: "1700000000000" }),
      new Response("a"),
      new Response("b"),
    );
    const oa = client(own.fetch);
    await oa.logout({ sessionToken: "t1", device: DEVICE }, { timeoutMs: 5_000 });
    await oa.logout({ sessionToken: "t2", device: DEVICE }, { fetch: undefined });
    expect(pathsOf(own.requests)).toEqual([...COLD, PATHS.logout]);
  });

  it("serves serverDate and publicKey too, into the client's cache", async () => {
    const own = scriptedFetch();
    const oa = client(own.fetch);
    const call = scriptedFetch(json({ timestamp: "1700000600000" }), keyAnswer);
    expect(await oa.serverDate({ fetch: call.fetch })).toEqual({ timestamp: "1700000600000" });
    expect((await oa.publicKey({ fetch: call.fetch })).n).toBe(key.publicKey.n);
    expect(pathsOf(call.requests)).toEqual([PATHS.serverDate, PATHS.publicKey]);
    expect(oa.state.clockOffsetMs).toBe(600_000);
    expect(await oa.publicKey()).toBe(await oa.publicKey({ fetch: scriptedFetch().fetch }));
    expect(own.requests).toHaveLength(0);
  });

  it("keeps concurrent calls apart: each fetch sees only its own call's requests", async () => {
    const own = scriptedFetch();
    const oa = client(own.fetch);
    const a = scriptedFetch(
      keyAnswer,
      json({ timestamp: "1700000000000" }),
      new Response("a1"),
      new Response("a2"),
    );
    const b = scriptedFetch(keyAnswer, json({ timestamp: "1700000000000" }), new Response("b"));
    const results = await Promise.all([
      oa.logout({ sessionToken: "a1", device: DEVICE }, { fetch: a.fetch }),
      oa.logout({ sessionToken: "b", device: DEVICE }, { fetch: b.fetch }),
      oa.logout({ sessionToken: "a2", device: DEVICE }, { fetch: a.fetch }),
    ]);
    expect(results.map((result) => result.body).sort()).toEqual(["a1", "a2", "b"]);
    // Calls with the same fetch still share the cold fetches; a call with another fetch makes its own.
    expect(pathsOf(a.requests)).toEqual([...COLD, PATHS.logout]);
    expect(pathsOf(b.requests)).toEqual(COLD);
    const tokens = (requests: Request[]) =>
      requests
        .filter((request) => new URL(request.url).pathname === PATHS.logout)
        .map((request) => /session_token=([^&]*)&/.exec(signedText(request))?.[1])
        .sort();
    expect(tokens(a.requests)).toEqual(["a1", "a2"]);
    expect(tokens(b.requests)).toEqual(["b"]);
    expect(own.requests).toHaveLength(0);
  });

  it.each([
    [
      "logout",
      (oa: OneAccessClient, options: unknown) =>
        oa.logout({ sessionToken: "t", device: DEVICE }, options as never),
    ],
    ["serverDate", (oa: OneAccessClient, options: unknown) => oa.serverDate(options as never)],
    ["publicKey", (oa: OneAccessClient, options: unknown) => oa.publicKey(options as never)],
  ] as const)(
    "%s refuses a fetch that is not a function, a clock, and options that are no object, before any request",
    async (_, run) => {
      for (const [options, field] of [
        [{ fetch: "fetch" }, "fetch"],
        [{ fetch: null }, "fetch"],
        [{ now: () => 0 }, "now"],
        [null, "options"],
        ["fast", "options"],
      ] as const) {
        const own = scriptedFetch();
        // Warm, so that no cached answer lets a bad option pass unseen.
        const oa = client(own.fetch, { publicKey: key.publicKey });
        const error = await rejection(run(oa, options));
        expect(error).toMatchObject({ code: "INVALID_INPUT", kind: "invalid_request", field });
        expect(error.message.startsWith(`${field}: `)).toBe(true);
        expect(own.requests).toHaveLength(0);
      }
    },
  );
});
