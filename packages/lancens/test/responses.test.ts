// Tests for the answer parsers: any 2xx is success, each error wording typed, logout idempotent.
import { ERROR_KINDS } from "@x/core-signing";
import { describe, expect, it } from "vitest";
import {
  errorFromAnswer,
  interpretLogoutAnswer,
  interpretPushTokenAnswer,
  isSessionGone,
  LancensError,
  parseClearMessagePushTokenResponse,
  parseClearRingPushTokenResponse,
  parseLogoutResponse,
} from "../src/index.ts";

const jsonMessage = (message: string | number, status: number) =>
  new Response(JSON.stringify({ message }), {
    status,
    headers: { "content-type": "application/json" },
  });

async function rejection(promise: Promise<unknown>): Promise<LancensError> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(LancensError);
    return error as LancensError;
  }
  throw new Error("expected a LancensError");
}

const SUCCESSES: [string, () => Response][] = [
  ["200 JSON", () => jsonMessage("success", 200)],
  ["200 text", () => new Response("ok", { status: 200 })],
  ["200 empty", () => new Response(null, { status: 200 })],
  ["201 JSON", () => jsonMessage("created", 201)],
  ["204", () => new Response(null, { status: 204 })],
  ["202 text", () => new Response("accepted", { status: 202 })],
  ["299 HTML", () => new Response("<html>ok</html>", { status: 299 })],
];

describe("push-token answers", () => {
  it.each(SUCCESSES)("%s is cleared", async (_, make) => {
    const response = make();
    await expect(parseClearRingPushTokenResponse(response)).resolves.toEqual({
      outcome: "cleared",
      status: response.status,
    });
    const again = make();
    await expect(parseClearMessagePushTokenResponse(again)).resolves.toEqual({
      outcome: "cleared",
      status: again.status,
    });
  });

  it("reads a success body no further than maxBodyBytes (a huge one is judged by its status)", async () => {
    let pulled = 0;
    const body = new ReadableStream<Uint8Array>({
      pull(controller) {
        pulled++;
        controller.enqueue(new Uint8Array(1024 * 1024));
      },
    });
    const result = await parseClearRingPushTokenResponse(new Response(body, { status: 200 }));
    expect(result.outcome).toBe("cleared");
    expect(pulled).toBeLessThanOrEqual(2);
    const declared = new Response("x", { status: 200, headers: { "content-length": "999999" } });
    await expect(parseLogoutResponse(declared, { maxBodyBytes: 1024 })).resolves.toMatchObject({
      outcome: "cleared",
    });
  });

  it("invalid token is an unauthorized error naming the token", async () => {
    const error = await rejection(
      parseClearRingPushTokenResponse(jsonMessage("invalid token", 401)),
    );
    expect(error.kind).toBe("unauthorized");
    expect(error.field).toBe("token");
    expect(error.code).toBe("INVALID_TOKEN");
    expect(error.upstreamStatus).toBe(401);
    expect(error.vendorMessage).toBe("invalid token");
    expect(error.call).toBe("clearRingPushToken");
    expect(error.retryable).toBe(false);
  });

  it("no token (the request carried no token header) is an invalid_request error naming the token", async () => {
    const error = await rejection(parseClearRingPushTokenResponse(jsonMessage("no token", 401)));
    expect(error.kind).toBe("invalid_request");
    expect(error.field).toBe("token");
    expect(error.code).toBe("NO_TOKEN");
    expect(error.upstreamStatus).toBe(401);
    expect(error.retryable).toBe(false);
  });

  it("reads JSON, plain-text and empty error bodies", async () => {
    const text = await rejection(
      parseClearMessagePushTokenResponse(new Response("invalid token", { status: 401 })),
    );
    expect(text.code).toBe("INVALID_TOKEN");
    expect(text.call).toBe("clearMessagePushToken");
    const empty = await rejection(
      parseClearMessagePushTokenResponse(new Response(null, { status: 401 })),
    );
    expect(empty.code).toBe("HTTP_ERROR");
    expect(empty.kind).toBe("unauthorized");
    expect(empty.vendorMessage).toBeUndefined();
    expect(empty.message).toBe(
      "lancens clearing the message push token failed: HTTP 401, no message",
    );
  });

  it("a gateway page is a retryable unavailable error", async () => {
    const error = await rejection(
      parseClearRingPushTokenResponse(
        new Response("<html><h1>502 Bad Gateway</h1></html>", { status: 502 }),
      ),
    );
    expect(error.kind).toBe("unavailable");
    expect(error.retryable).toBe(true);
    expect(error.upstreamStatus).toBe(502);
  });

  it("an unknown message keeps the message and falls back on the status", async () => {
    const error = await rejection(
      parseClearRingPushTokenResponse(jsonMessage("the server is on fire", 500)),
    );
    expect(error.code).toBe("UNKNOWN_MESSAGE");
    expect(error.kind).toBe("unavailable");
    expect(error.vendorMessage).toBe("the server is on fire");
    expect(error.message).toContain('"the server is on fire"');
  });

  it("an oversized or broken error body is judged by its status", async () => {
    const big = new Response(JSON.stringify({ message: "x".repeat(200_000) }), { status: 400 });
    const error = await rejection(parseClearRingPushTokenResponse(big, { maxBodyBytes: 1024 }));
    expect(error.code).toBe("HTTP_ERROR");
    expect(error.kind).toBe("invalid_request");
    const broken = new ReadableStream<Uint8Array>({
      pull(controller) {
        controller.error(new Error("connection reset"));
      },
    });
    const brokenError = await rejection(
      parseClearRingPushTokenResponse(new Response(broken, { status: 503 })),
    );
    expect(brokenError.kind).toBe("unavailable");
  });
});

describe("logout answers", () => {
  it.each(SUCCESSES)("%s is cleared", async (_, make) => {
    const response = make();
    await expect(parseLogoutResponse(response)).resolves.toEqual({
      outcome: "cleared",
      alreadyLoggedOut: false,
      status: response.status,
    });
  });

  it.each([
    ["JSON invalid token", () => jsonMessage("invalid token", 401)],
    ["JSON invalid token on 400", () => jsonMessage("invalid token", 400)],
    ["text invalid token", () => new Response("invalid token", { status: 401 })],
  ])("%s is already_cleared", async (_, make) => {
    const response = make();
    await expect(parseLogoutResponse(response)).resolves.toEqual({
      outcome: "already_cleared",
      alreadyLoggedOut: true,
      status: response.status,
    });
  });

  it.each([
    ["JSON no token on 401", () => jsonMessage("no token", 401)],
    ["JSON no token on 400", () => jsonMessage("no token", 400)],
    ["text no token", () => new Response("no token", { status: 401 })],
  ])(
    "%s is an invalid_request error, never already_cleared: the logout did not happen",
    async (_, make) => {
      const error = await rejection(parseLogoutResponse(make()));
      expect(error.code).toBe("NO_TOKEN");
      expect(error.kind).toBe("invalid_request");
      expect(error.field).toBe("token");
      expect(error.call).toBe("logout");
    },
  );

  it("an empty 401 is not proof the session ended: it stays an error", async () => {
    const error = await rejection(parseLogoutResponse(new Response(null, { status: 401 })));
    expect(error.kind).toBe("unauthorized");
    expect(error.code).toBe("HTTP_ERROR");
  });

  it("token error (checking the token failed) is an error, not already_cleared", async () => {
    const error = await rejection(parseLogoutResponse(jsonMessage("token error", 400)));
    expect(error.code).toBe("CHECK_FAILED");
    expect(error.kind).toBe("unauthorized");
    expect(error.field).toBe("token");
  });

  it("alreadyLoggedOutCodes can turn already logged out off, but never makes no token one", async () => {
    const options = { alreadyLoggedOutCodes: ["INVALID_TOKEN"] as const };
    await expect(
      parseLogoutResponse(jsonMessage("invalid token", 401), options),
    ).resolves.toMatchObject({ alreadyLoggedOut: true });
    const none = await rejection(
      parseLogoutResponse(jsonMessage("invalid token", 401), { alreadyLoggedOutCodes: [] }),
    );
    expect(none.code).toBe("INVALID_TOKEN");
    // A sans-IO caller passing the old code gets no silent success either.
    const legacy = { alreadyLoggedOutCodes: ["INVALID_TOKEN", "NO_TOKEN"] as never };
    const error = await rejection(parseLogoutResponse(jsonMessage("no token", 401), legacy));
    expect(error.code).toBe("NO_TOKEN");
    expect(() => interpretLogoutAnswer(401, "no token", legacy)).toThrow(LancensError);
  });

  it.each([
    ["undefined username", 400, "UNDEFINED_FIELD", "invalid_request", "username", false],
    ["undefined token", 400, "UNDEFINED_FIELD", "invalid_request", "token", false],
    ["username length error", 400, "LENGTH_ERROR", "invalid_request", "username", false],
    ["username format error", 400, "FORMAT_ERROR", "invalid_request", "username", false],
    ["username error", 400, "CHECK_FAILED", "invalid_request", "username", false],
    ["username exist", 400, "EXISTS", "invalid_request", "username", false],
    ["no data error", 400, "NO_DATA", "upstream", undefined, false],
    ["paramer error", 400, "PARAMER_ERROR", "upstream", undefined, false],
    ["10001", 400, 10001, "unavailable", undefined, true],
    ["10051", 500, 10051, "unavailable", undefined, true],
    ["20001", 400, 20001, "unavailable", undefined, true],
    ["30007", 400, 30007, "unavailable", undefined, true],
  ] as const)(
    "%s (HTTP %i) -> %s / %s, field %s",
    async (message, status, code, kind, field, retryable) => {
      const error = await rejection(parseLogoutResponse(jsonMessage(message, status)));
      expect(error.code).toBe(code);
      expect(error.kind).toBe(kind);
      expect(error.field).toBe(field);
      expect(error.retryable).toBe(retryable);
      expect(error.upstreamStatus).toBe(status);
      expect(error.vendorMessage).toBe(message);
      expect(error.call).toBe("logout");
    },
  );

  it("an unknown call name is refused, naming call, rather than looked up", () => {
    for (const call of ["constructor", "toString", "__proto__", "nope"]) {
      let error: unknown;
      try {
        errorFromAnswer(call as never, 400, "undefined username");
      } catch (caught) {
        error = caught;
      }
      expect(error).toBeInstanceOf(LancensError);
      expect((error as LancensError).field).toBe("call");
      expect(() => interpretPushTokenAnswer(call as never, 200, "")).toThrow(/^call: /);
    }
  });

  it("a numeric JSON message is a database code", async () => {
    const error = await rejection(parseLogoutResponse(jsonMessage(10051, 400)));
    expect(error.code).toBe(10051);
  });

  it.each([
    [404, "misconfigured"],
    [429, "rate_limited"],
    [500, "unavailable"],
    [503, "unavailable"],
    [418, "upstream"],
  ])("a bare HTTP %i is %s", async (status, kind) => {
    const error = await rejection(parseLogoutResponse(new Response("", { status })));
    expect(error.kind).toBe(kind);
    expect(error.upstreamStatus).toBe(status);
  });
});

const SECRET = "s3cret-login-token";
const PARSE: [string, (response: Response) => Promise<unknown>][] = [
  ["clearRingPushToken", (r) => parseClearRingPushTokenResponse(r, { secrets: [SECRET] })],
  ["clearMessagePushToken", (r) => parseClearMessagePushTokenResponse(r, { secrets: [SECRET] })],
  ["logout", (r) => parseLogoutResponse(r, { secrets: [SECRET] })],
];

describe("a 2xx read as an adversary would write it", () => {
  it.each([
    ["no token", "NO_TOKEN", "invalid_request"],
    ["10001", 10001, "unavailable"],
    ["10051", 10051, "unavailable"],
    ["20001", 20001, "unavailable"],
    ["30099", 30099, "unavailable"],
    ["no data error", "NO_DATA", "upstream"],
    ["paramer error", "PARAMER_ERROR", "upstream"],
    ["undefined username", "UNDEFINED_FIELD", "invalid_request"],
    ["undefined constructor", "UNDEFINED_FIELD", "invalid_request"],
    ["__proto__ length error", "LENGTH_ERROR", "invalid_request"],
  ] as const)("a 200 saying %j is that error on every call", async (message, code, kind) => {
    for (const [call, parse] of PARSE) {
      for (const body of [
        JSON.stringify({ message }),
        JSON.stringify({ msg: message }),
        JSON.stringify({ code: Number(message) || message }),
        message,
      ]) {
        const error = await rejection(parse(new Response(body, { status: 200 })));
        expect(error.code).toBe(code);
        expect(error.kind).toBe(kind);
        expect(error.upstreamStatus).toBe(200);
        expect(error.call).toBe(call);
        expect(error.message).toContain("HTTP 200");
      }
    }
  });

  it("a 200 saying invalid token: a push-token error, and on logout the session already gone", async () => {
    const body = () => jsonMessage("invalid token", 200);
    expect((await rejection(parseClearRingPushTokenResponse(body()))).code).toBe("INVALID_TOKEN");
    expect((await rejection(parseClearMessagePushTokenResponse(body()))).code).toBe(
      "INVALID_TOKEN",
    );
    await expect(parseLogoutResponse(body())).resolves.toEqual({
      outcome: "already_cleared",
      alreadyLoggedOut: true,
      status: 200,
    });
  });

  it.each([
    ['{"message":"success"}'],
    ['{"code":0,"message":"ok"}'],
    ['{"message":"logout success","code":200}'],
    ['{"message":"constructor"}'],
    ['{"message":"toString"}'],
    ['{"message":"__proto__"}'],
    ["<html><body>invalid token</body></html>"],
    ['{"message":"invalid tok'],
    ['{"data":{"message":"invalid token"}}'],
    [""],
  ])("a 200 with %j says no Lancens error: success", async (body) => {
    for (const [, parse] of PARSE) {
      await expect(parse(new Response(body, { status: 200 }))).resolves.toMatchObject({
        outcome: "cleared",
      });
    }
  });

  it("the token echoed in a 2xx error is redacted", async () => {
    for (const [, parse] of PARSE) {
      const error = await rejection(parse(jsonMessage(`10051 duplicate key ${SECRET}`, 200)));
      expect(error.code).toBe(10051);
      expect(error.vendorMessage).toBe("10051 duplicate key [redacted]");
      expect(JSON.stringify(error)).not.toContain(SECRET);
    }
  });
});

describe("redirects", () => {
  const LOCATION = `https://elsewhere.example/steal?token=${SECRET}&k=v`;

  it.each([301, 302, 303, 307, 308])(
    "a %i is a non-retryable upstream error naming the status, never already_cleared",
    async (status) => {
      for (const [call, parse] of PARSE) {
        // Even a body that would mean "already logged out" is not believed from a redirect.
        const response = new Response('{"message":"invalid token"}', {
          status,
          headers: { location: LOCATION },
        });
        const error = await rejection(parse(response));
        expect(error.code).toBe("REDIRECT");
        expect(error.kind).toBe("upstream");
        expect(error.retryable).toBe(false);
        expect(error.upstreamStatus).toBe(status);
        expect(error.call).toBe(call);
        expect(error.message).toContain(`HTTP ${status}`);
        expect(error.vendorMessage).toBeUndefined();
        const text = JSON.stringify(error) + String(error.stack);
        expect(text).not.toContain("steal");
        expect(text).not.toContain(SECRET);
        expect(text).not.toContain("k=v");
      }
    },
  );

  it("an opaque redirect (a browser's manual redirect) is the same error", async () => {
    for (const [, parse] of PARSE) {
      const response = new Response(null, { status: 200 });
      Object.defineProperty(response, "type", { value: "opaqueredirect" });
      Object.defineProperty(response, "status", { value: 0 });
      const error = await rejection(parse(response));
      expect(error.code).toBe("REDIRECT");
      expect(error.kind).toBe("upstream");
      expect(error.retryable).toBe(false);
      expect(error.message).toMatch(/redirect/);
    }
  });

  it("an answer a fetch reached by following a redirect is the same error, never a success", async () => {
    for (const [call, parse] of PARSE) {
      const response = new Response("", { status: 200 });
      Object.defineProperty(response, "redirected", { value: true });
      const error = await rejection(parse(response));
      expect(error.code).toBe("REDIRECT");
      expect(error.call).toBe(call);
      expect(error.retryable).toBe(false);
    }
  });

  it("the sans-IO interpreters refuse a 3xx too", () => {
    expect(() => interpretLogoutAnswer(302, '{"message":"invalid token"}')).toThrow(/HTTP 302/);
    expect(() => interpretPushTokenAnswer("clearRingPushToken", 307, "")).toThrow(LancensError);
  });
});

describe("messages spelled like Object.prototype members", () => {
  const NAMES = [
    "constructor",
    "toString",
    "__proto__",
    "hasOwnProperty",
    "valueOf",
    "undefined constructor",
    "__proto__ length error",
    "isPrototypeOf error",
  ];

  it.each(NAMES)(
    "%j on an error status is a typed error with a sane field, on every call",
    async (message) => {
      for (const [call, parse] of PARSE) {
        for (const status of [400, 401, 500]) {
          for (const body of [JSON.stringify({ message }), message]) {
            const error = await rejection(parse(new Response(body, { status })));
            expect(ERROR_KINDS).toContain(error.kind);
            expect(error.call).toBe(call);
            expect(error.vendorMessage).toBe(message);
            expect(error.field).toBeUndefined();
            expect(typeof error.message).toBe("string");
            expect(error.message).toMatch(/^lancens [a-z ]+ failed: HTTP \d{3}, "/);
          }
        }
      }
    },
  );
});

describe("sans-IO interpreters", () => {
  it("work on a status and a body string", () => {
    expect(interpretPushTokenAnswer("clearRingPushToken", 204, "")).toEqual({
      outcome: "cleared",
      status: 204,
    });
    expect(interpretLogoutAnswer(401, '{"message":"invalid token"}')).toEqual({
      outcome: "already_cleared",
      alreadyLoggedOut: true,
      status: 401,
    });
    expect(() => interpretPushTokenAnswer("clearMessagePushToken", 401, "invalid token")).toThrow(
      LancensError,
    );
    expect(() => interpretLogoutAnswer(400, "undefined username")).toThrow(/undefined username/);
  });

  it("errorFromAnswer builds the same error the parsers throw", () => {
    const error = errorFromAnswer("logout", 400, '{"message":"username length error"}');
    expect(error.field).toBe("username");
    expect(error.message).toBe('lancens logout failed: HTTP 400, "username length error"');
  });

  it("isSessionGone only believes answers from Lancens", () => {
    expect(isSessionGone(errorFromAnswer("logout", 401, "invalid token"))).toBe(true);
    expect(isSessionGone(errorFromAnswer("logout", 401, "no token"))).toBe(false);
    expect(isSessionGone(errorFromAnswer("logout", 401, "no token"), ["NO_TOKEN"] as never)).toBe(
      false,
    );
    expect(isSessionGone(errorFromAnswer("logout", 401, "invalid token"), [])).toBe(false);
    expect(isSessionGone(errorFromAnswer("logout", 400, "paramer error"))).toBe(false);
    const local = new LancensError({ code: "INVALID_TOKEN", kind: "unauthorized", message: "m" });
    expect(isSessionGone(local)).toBe(false);
    expect(isSessionGone(new Error("invalid token"))).toBe(false);
    expect(isSessionGone("already_cleared")).toBe(false);
  });
});
