// EbetClient: options checked at construction, input checked before any request, per-call options, secrets kept.
import { afterEach, describe, expect, it, vi } from "vitest";
import { EbetClient, type EbetClientOptions, EbetError } from "../src/index.ts";
import { createEbetSimulator, EBET_TEST_PRIVATE_KEY } from "../src/testing/index.ts";
import {
  BASE_URL,
  expectEbetError,
  fixedClock,
  json,
  NOW_S,
  nodeKeys,
  recordingFetch,
} from "./fixtures.ts";

const TOKEN = "584c26e798deffc96cc7af073c184cd0";
const options: EbetClientOptions = {
  baseUrl: BASE_URL,
  channelId: 1,
  privateKey: EBET_TEST_PRIVATE_KEY,
  now: fixedClock,
};

function construct(patch: Record<string, unknown>): EbetError {
  try {
    new EbetClient({ ...options, ...patch } as EbetClientOptions);
  } catch (error) {
    expect(error).toBeInstanceOf(EbetError);
    return error as EbetError;
  }
  throw new Error("expected the constructor to refuse");
}

afterEach(() => {
  vi.unstubAllGlobals();
});

describe("construction", () => {
  it("exposes the checked baseUrl and channelId", () => {
    const client = new EbetClient({ ...options, baseUrl: `${BASE_URL}/` });
    expect(client.baseUrl).toBe(BASE_URL);
    expect(client.channelId).toBe(1);
  });

  it("refuses bad options, naming the field", () => {
    const cases: [Record<string, unknown>, string][] = [
      [{ baseUrl: "" }, "baseUrl"],
      [{ baseUrl: "https://user:pw@ebet.test" }, "baseUrl"],
      [{ channelId: -3 }, "channelId"],
      [{ channelId: undefined }, "channelId"],
      [
        { privateKey: "-----BEGIN RSA PRIVATE KEY-----\nAAAA\n-----END RSA PRIVATE KEY-----" },
        "privateKey",
      ],
      [{ privateKey: 42 }, "privateKey"],
      [{ timestampUnit: "h" }, "timestampUnit"],
      [{ paths: { logout: "logout" } }, "paths.logout"],
      [{ fetch: "https://proxy" }, "fetch"],
      [{ timeoutMs: 0 }, "timeoutMs"],
      [{ timeoutMs: 300_001 }, "timeoutMs"],
      [{ timeoutMs: 1.5 }, "timeoutMs"],
      [{ maxBodyBytes: 0 }, "maxBodyBytes"],
      [{ maxBodyBytes: 2.5 }, "maxBodyBytes"],
      [{ maxBodyBytes: "64k" }, "maxBodyBytes"],
      [{ now: "now" }, "now"],
    ];
    for (const [patch, field] of cases) {
      expect(construct(patch)).toMatchObject({
        code: "INVALID_INPUT",
        kind: "invalid_request",
        field,
      });
    }
    expect(() => new EbetClient(undefined as never)).toThrow(EbetError);
  });

  it("imports the key once: changing the material afterwards changes nothing", async () => {
    const keys = nodeKeys(1024);
    const jwk = { ...(keys.privateKey.export({ format: "jwk" }) as JsonWebKey) };
    const simulator = createEbetSimulator({
      now: fixedClock,
      channels: [{ channelId: 1, publicKey: keys.spkiPem }],
      users: [{ username: "demo" }],
    });
    const client = new EbetClient({ ...options, privateKey: jwk, fetch: simulator.fetch });
    jwk.d = "AAAA";
    expect((await client.logout({ username: "demo" })).status).toBe(200);
  });
});

describe("refusals before any request", () => {
  it("never calls fetch for bad input, and names the field", async () => {
    const { fetch, requests } = recordingFetch(() => json({ status: 200 }));
    const client = new EbetClient({ ...options, fetch });
    const cases: [Promise<unknown>, string][] = [
      [client.logout({ username: "" }), "username"],
      [client.logout({ username: "Demo" }), "username"],
      [client.logout({ username: "de mo" }), "username"],
      [client.logout({ username: "de#mo" }), "username"],
      [client.logout({ username: "demo", currency: "" }), "currency"],
      [client.callback({ username: "demo", accessToken: "" }), "accessToken"],
      [client.callback({ username: "demo", accessToken: TOKEN, subChannelId: -1 }), "subChannelId"],
      [
        client.callback({ username: "demo", accessToken: TOKEN, subChannelId: 0.5 }),
        "subChannelId",
      ],
      [client.logout({ username: "demo" }, { timeoutMs: -1 }), "timeoutMs"],
      [client.logout({ username: "demo" }, { fetch: 1 as never }), "fetch"],
      [client.logout({ username: "demo" }, { now: 1 as never }), "now"],
      [client.logout({ username: "demo" }, { signal: "stop" as never }), "signal"],
      [client.logout(null as never), "input"],
    ];
    for (const [call, field] of cases) {
      await expectEbetError(call, { code: "INVALID_INPUT", kind: "invalid_request", field });
    }
    expect(requests).toHaveLength(0);
  });

  it("does not send when the caller has already aborted", async () => {
    const { fetch, requests } = recordingFetch(() => json({ status: 200 }));
    const client = new EbetClient({ ...options, fetch });
    const reason = new Error("stop");
    await expect(
      client.logout({ username: "demo" }, { signal: AbortSignal.abort(reason) }),
    ).rejects.toBe(reason);
    expect(requests).toHaveLength(0);
  });
});

describe("per-call options", () => {
  it("take fetch, now and timeoutMs for one call only", async () => {
    const first = recordingFetch(() => json({ status: 200 }));
    const second = recordingFetch(() => json({ status: 200 }));
    const client = new EbetClient({ ...options, fetch: first.fetch });
    await client.logout(
      { username: "demo" },
      { fetch: second.fetch, now: () => 1_000_000_000_000 },
    );
    await client.logout({ username: "demo" });
    expect(first.requests).toHaveLength(1);
    expect(second.requests).toHaveLength(1);
    expect(
      ((await (second.requests[0] as Request).json()) as { timestamp: number }).timestamp,
    ).toBe(1_000_000_000);
    expect(((await (first.requests[0] as Request).json()) as { timestamp: number }).timestamp).toBe(
      NOW_S,
    );
    await expectEbetError(
      client.logout({ username: "demo" }, { fetch: () => new Promise(() => {}), timeoutMs: 10 }),
      { code: "TIMEOUT", kind: "unavailable" },
    );
  });

  it("defaults to the global fetch", async () => {
    const calls: string[] = [];
    vi.stubGlobal("fetch", async (request: Request) => {
      calls.push(request.url);
      return json({ status: 200, apiVersion: "g" });
    });
    const client = new EbetClient(options);
    expect(await client.logout({ username: "demo" })).toEqual({ status: 200, apiVersion: "g" });
    expect(calls).toEqual([`${BASE_URL}/api/logout`]);
  });
});

describe("failures in transport", () => {
  it("reports a network failure as a retryable EbetError", async () => {
    const client = new EbetClient({
      ...options,
      fetch: async () => {
        throw new TypeError("fetch failed");
      },
    });
    const error = await expectEbetError(client.logout({ username: "demo" }), {
      code: "NETWORK_ERROR",
      kind: "unavailable",
      retryable: true,
    });
    expect(error.vendor).toBe("ebet");
  });

  it("times out an answer whose body never ends: the deadline covers the body", async () => {
    const endless = async () =>
      new Response(
        new ReadableStream<Uint8Array>({
          start(controller) {
            controller.enqueue(new TextEncoder().encode('{"status":'));
          },
        }),
        { status: 200 },
      );
    const client = new EbetClient({ ...options, fetch: endless, timeoutMs: 20 });
    await expectEbetError(client.logout({ username: "demo" }), {
      code: "TIMEOUT",
      kind: "unavailable",
      retryable: true,
    });
  });

  it("never shows the key, the token or the signature in an error", async () => {
    const { fetch, requests } = recordingFetch(() => json({ status: 4026 }));
    const client = new EbetClient({ ...options, fetch });
    const errors: unknown[] = [];
    await client
      .callback({ username: "demo", accessToken: TOKEN })
      .catch((e: unknown) => errors.push(e));
    const signature = ((await (requests[0] as Request).json()) as { signature: string }).signature;
    const text = errors.map((e) => `${String(e)} ${JSON.stringify(e)}`).join(" ");
    expect(text).toContain("4026");
    for (const secret of [TOKEN, signature.slice(0, 24), EBET_TEST_PRIVATE_KEY.slice(40, 80)]) {
      expect(text).not.toContain(secret);
    }
  });

  it("stops reading an answer at maxBodyBytes, on both calls, and cancels the rest", async () => {
    for (const call of ["logout", "callback"] as const) {
      let pulled = 0;
      let cancelled = false;
      const huge = async () =>
        new Response(
          new ReadableStream<Uint8Array>({
            pull(controller) {
              pulled += 1024;
              controller.enqueue(new Uint8Array(1024).fill(0x20));
            },
            cancel() {
              cancelled = true;
            },
          }),
          { status: 200, headers: { "content-type": "application/json" } },
        );
      const client = new EbetClient({ ...options, fetch: huge, maxBodyBytes: 4096 });
      const pending =
        call === "logout"
          ? client.logout({ username: "demo" })
          : client.callback({ username: "demo", accessToken: TOKEN });
      const error = await expectEbetError(pending, {
        code: "BAD_RESPONSE",
        kind: "upstream",
        upstreamStatus: 200,
      });
      expect(error.message).toContain("4096");
      expect(cancelled).toBe(true);
      expect(pulled).toBeLessThanOrEqual(4096 + 2048);
    }
  });

  it("reads an answer up to 256 KiB by default", async () => {
    const padded = `{"status":200,"apiVersion":"1.3.91","pad":"${"x".repeat(200 * 1024)}"}`;
    const fits = new EbetClient({ ...options, fetch: async () => new Response(padded) });
    expect(await fits.logout({ username: "demo" })).toEqual({ status: 200, apiVersion: "1.3.91" });
    const tight = new EbetClient({
      ...options,
      fetch: async () => new Response(padded),
      maxBodyBytes: 64 * 1024,
    });
    await expectEbetError(tight.logout({ username: "demo" }), { code: "BAD_RESPONSE" });
  });
});
