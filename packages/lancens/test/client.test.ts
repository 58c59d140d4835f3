// Tests for the client with a scripted fetch: options, one call each, refusals before any request, the flow.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { LANCENS_BASE_URL, LancensClient, LancensError } from "../src/index.ts";

const TOKEN = "0123456789abcdef0123456789abcdef";
const USER = "lancens-user";

type Script = (request: Request) => Response | Promise<Response>;

/** A fetch that records every request and answers from a script. */
function scripted(script: Script = () => new Response(null, { status: 200 })) {
  const requests: Request[] = [];
  const fetch = async (request: Request) => {
    requests.push(request);
    return script(request);
  };
  return { fetch, requests };
}

const json = (message: string, status: number) =>
  new Response(JSON.stringify({ message }), { status });

function client(fetch: (request: Request) => Promise<Response>, extra = {}) {
  return new LancensClient({ baseUrl: LANCENS_BASE_URL, fetch, ...extra });
}

async function rejection(promise: Promise<unknown>): Promise<LancensError> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(LancensError);
    return error as LancensError;
  }
  throw new Error("expected a LancensError");
}

function thrown(run: () => unknown): LancensError {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(LancensError);
    return error as LancensError;
  }
  throw new Error("expected a LancensError");
}

/** Every text an error shows: message, JSON, stack, vendor message, field, and its cause chain's. */
function errorTexts(error: unknown): string[] {
  const texts: string[] = [];
  for (let cause = error, depth = 0; cause !== undefined && depth < 8; depth++) {
    texts.push(String(cause));
    if (!(cause instanceof Error)) break;
    texts.push(cause.message, String(cause.stack), JSON.stringify(cause));
    if (cause instanceof LancensError) texts.push(String(cause.vendorMessage), String(cause.field));
    cause = cause.cause;
  }
  return texts;
}

const pathOf = (request: Request) => `${request.method} ${new URL(request.url).pathname}`;

describe("options", () => {
  it("normalises the base URL and keeps the defaults", () => {
    const c = new LancensClient({ baseUrl: "https://weixin.lancens.com:6443/" });
    expect(c.baseUrl).toBe(LANCENS_BASE_URL);
    expect(c.timeoutMs).toBe(10_000);
    expect(c.paths).toEqual({
      ringPushToken: "/v1/api/user/token",
      messagePushToken: "/v1/api/user/message/token",
      logout: "/v1/api/user/logout",
    });
  });

  it.each([
    [{ baseUrl: "" }, "baseUrl"],
    [{ baseUrl: "not a url" }, "baseUrl"],
    [{ baseUrl: "ftp://x" }, "baseUrl"],
    [{ baseUrl: LANCENS_BASE_URL, timeoutMs: 0 }, "timeoutMs"],
    [{ baseUrl: LANCENS_BASE_URL, timeoutMs: 1.5 }, "timeoutMs"],
    [{ baseUrl: LANCENS_BASE_URL, timeoutMs: 300_001 }, "timeoutMs"],
    [{ baseUrl: LANCENS_BASE_URL, fetch: "fetch" }, "fetch"],
    [{ baseUrl: LANCENS_BASE_URL, maxBodyBytes: 0 }, "maxBodyBytes"],
    [{ baseUrl: LANCENS_BASE_URL, paths: { logout: "logout" } }, "paths.logout"],
    [{ baseUrl: LANCENS_BASE_URL, alreadyLoggedOutCodes: ["EXPIRED"] }, "alreadyLoggedOutCodes"],
    [{ baseUrl: LANCENS_BASE_URL, alreadyLoggedOutCodes: ["NO_TOKEN"] }, "alreadyLoggedOutCodes"],
    [
      { baseUrl: LANCENS_BASE_URL, alreadyLoggedOutCodes: "INVALID_TOKEN" },
      "alreadyLoggedOutCodes",
    ],
    [{ baseUrl: LANCENS_BASE_URL, pushTokensGoneWithSession: "yes" }, "pushTokensGoneWithSession"],
  ])("refuses %j, naming %s", (options, field) => {
    const error = thrown(() => new LancensClient(options as never));
    expect(error.field).toBe(field);
    expect(error.kind).toBe("invalid_request");
  });

  it("refuses missing options", () => {
    expect(thrown(() => new LancensClient(undefined as never)).field).toBe("options");
  });
});

describe("one call each", () => {
  it("clearRingPushToken sends one DELETE and reports cleared", async () => {
    const { fetch, requests } = scripted(() => new Response(null, { status: 204 }));
    await expect(client(fetch).clearRingPushToken(TOKEN)).resolves.toEqual({
      outcome: "cleared",
      status: 204,
    });
    expect(requests.map(pathOf)).toEqual(["DELETE /v1/api/user/token"]);
    expect(requests[0]?.headers.get("token")).toBe(TOKEN);
  });

  it("clearMessagePushToken sends one DELETE and reports cleared", async () => {
    const { fetch, requests } = scripted(() => json("success", 200));
    await expect(client(fetch).clearMessagePushToken(TOKEN)).resolves.toMatchObject({
      outcome: "cleared",
    });
    expect(requests.map(pathOf)).toEqual(["DELETE /v1/api/user/message/token"]);
  });

  it("logout sends one POST and reports cleared, or already_cleared for an invalid token", async () => {
    const ok = scripted(() => new Response(null, { status: 201 }));
    await expect(client(ok.fetch).logout({ username: USER, token: TOKEN })).resolves.toEqual({
      outcome: "cleared",
      alreadyLoggedOut: false,
      status: 201,
    });
    expect(ok.requests.map(pathOf)).toEqual(["POST /v1/api/user/logout"]);
    expect(ok.requests[0]?.headers.get("token")).toBe(TOKEN);
    expect(await ok.requests[0]?.json()).toEqual({ username: USER, token: TOKEN });
    const gone = scripted(() => json("invalid token", 401));
    await expect(client(gone.fetch).logout({ username: USER, token: TOKEN })).resolves.toEqual({
      outcome: "already_cleared",
      alreadyLoggedOut: true,
      status: 401,
    });
  });

  it("no token on logout is an invalid_request error: the logout never happened", async () => {
    const { fetch } = scripted(() => json("no token", 401));
    const error = await rejection(client(fetch).logout({ username: USER, token: TOKEN }));
    expect(error.code).toBe("NO_TOKEN");
    expect(error.kind).toBe("invalid_request");
    expect(error.field).toBe("token");
    expect(error.call).toBe("logout");
  });

  it("push-token calls report invalid token as an unauthorized error", async () => {
    const { fetch } = scripted(() => json("invalid token", 401));
    const error = await rejection(client(fetch).clearRingPushToken(TOKEN));
    expect(error.kind).toBe("unauthorized");
    expect(error.code).toBe("INVALID_TOKEN");
    expect(error.call).toBe("clearRingPushToken");
  });

  it("a logout refused with undefined username keeps the field", async () => {
    const { fetch } = scripted(() => json("undefined username", 400));
    const error = await rejection(client(fetch).logout({ username: USER, token: TOKEN }));
    expect(error.kind).toBe("invalid_request");
    expect(error.field).toBe("username");
  });

  it("uses the configured paths", async () => {
    const { fetch, requests } = scripted();
    const c = client(fetch, { paths: { logout: "/gw/logout" } });
    await c.logout({ username: USER, token: TOKEN });
    await c.clearRingPushToken(TOKEN);
    expect(requests.map(pathOf)).toEqual(["POST /gw/logout", "DELETE /v1/api/user/token"]);
  });

  it("per-call fetch and timeout override the client's", async () => {
    const base = scripted(() => json("paramer error", 400));
    const other = scripted();
    const c = client(base.fetch);
    await expect(c.clearRingPushToken(TOKEN, { fetch: other.fetch })).resolves.toMatchObject({
      outcome: "cleared",
    });
    expect(base.requests).toHaveLength(0);
    expect(other.requests).toHaveLength(1);
    const error = await rejection(c.clearRingPushToken(TOKEN, { timeoutMs: -1 }));
    expect(error.field).toBe("timeoutMs");
    expect(base.requests).toHaveLength(0);
  });
});

describe("refused before any request", () => {
  const BAD: [string, { username: string; token: string }, string, RegExp][] = [
    ["a 5-character username", { username: "abcde", token: TOKEN }, "username", /got 5/],
    ["a 33-character username", { username: "a".repeat(33), token: TOKEN }, "username", /got 33/],
    ["an empty token", { username: USER, token: "" }, "token", /must not be empty/],
    ["a token with CR", { username: USER, token: "abc\rdef" }, "token", /CR or LF/],
    ["a token with LF", { username: USER, token: "abc\ndef" }, "token", /CR or LF/],
    ["a token with CRLF", { username: USER, token: `${TOKEN}\r\nx-admin: 1` }, "token", /CR or LF/],
  ];

  it.each(BAD)("logout and logoutFully refuse %s", async (_, input, field, pattern) => {
    const { fetch, requests } = scripted();
    const c = client(fetch);
    for (const run of [() => c.logout(input), () => c.logoutFully(input)]) {
      const error = await rejection(run());
      expect(error.field).toBe(field);
      expect(error.code).toBe("INVALID_INPUT");
      expect(error.message).toMatch(pattern);
      expect(error.message).not.toContain(TOKEN);
    }
    expect(requests).toHaveLength(0);
  });

  it.each(BAD.filter(([, , field]) => field === "token"))(
    "push-token calls refuse %s",
    async (_, input) => {
      const { fetch, requests } = scripted();
      const c = client(fetch);
      expect((await rejection(c.clearRingPushToken(input.token))).field).toBe("token");
      expect((await rejection(c.clearMessagePushToken(input.token))).field).toBe("token");
      expect(requests).toHaveLength(0);
    },
  );

  it("a missing input is refused, not a crash", async () => {
    const { fetch, requests } = scripted();
    const c = client(fetch);
    expect((await rejection(c.logoutFully(undefined as never))).field).toBe("username");
    expect((await rejection(c.logout({ username: USER } as never))).field).toBe("token");
    expect(requests).toHaveLength(0);
  });
});

describe("redirects", () => {
  const LOCATION = `https://elsewhere.example/collect?token=${TOKEN}`;

  it.each([301, 302, 303, 307, 308])(
    "a %i on any call is a REDIRECT error; the flow reports it, nothing is followed",
    async (status) => {
      const { fetch, requests } = scripted(
        () => new Response(null, { status, headers: { location: LOCATION } }),
      );
      const result = await client(fetch).logoutFully({ username: USER, token: TOKEN });
      expect(requests.map((request) => new URL(request.url).host)).toEqual([
        "weixin.lancens.com:6443",
        "weixin.lancens.com:6443",
        "weixin.lancens.com:6443",
      ]);
      expect(requests.every((request) => request.redirect === "manual")).toBe(true);
      for (const step of [result.ringPushToken, result.messagePushToken, result.session]) {
        expect(step).toMatchObject({
          code: "REDIRECT",
          kind: "upstream",
          retryable: false,
          upstreamStatus: status,
        });
        // The origin may be named so that an operator can fix the base URL; the path and query
        // of the Location never are.
        expect(JSON.stringify(step)).not.toContain("/collect");
        expect(JSON.stringify(step)).not.toContain("token=");
        expect(JSON.stringify(step)).not.toContain(TOKEN);
      }
      expect(result.alreadyLoggedOut).toBe(false);
      expect(result.ok).toBe(false);
    },
  );
});

describe("transport failures", () => {
  it("no answer in time is a retryable TIMEOUT naming the call", async () => {
    const never = () => new Promise<Response>(() => {});
    const error = await rejection(
      new LancensClient({ baseUrl: LANCENS_BASE_URL, fetch: never, timeoutMs: 20 }).logout({
        username: USER,
        token: TOKEN,
      }),
    );
    expect(error.code).toBe("TIMEOUT");
    expect(error.kind).toBe("unavailable");
    expect(error.retryable).toBe(true);
    expect(error.call).toBe("logout");
    expect(error.upstreamStatus).toBeUndefined();
  });

  it("an error answer whose body never ends is a TIMEOUT naming the call: the deadline covers the body", async () => {
    const endless = async () =>
      new Response(
        new ReadableStream<Uint8Array>({
          start(controller) {
            controller.enqueue(new TextEncoder().encode('{"message":'));
          },
        }),
        { status: 400 },
      );
    const error = await rejection(client(endless, { timeoutMs: 20 }).clearRingPushToken(TOKEN));
    expect(error.code).toBe("TIMEOUT");
    expect(error.retryable).toBe(true);
    expect(error.call).toBe("clearRingPushToken");
  });

  it("a network failure is a retryable NETWORK_ERROR with its cause", async () => {
    const cause = new TypeError("fetch failed");
    const error = await rejection(
      client(async () => {
        throw cause;
      }).clearMessagePushToken(TOKEN),
    );
    expect(error.code).toBe("NETWORK_ERROR");
    expect(error.retryable).toBe(true);
    expect(error.call).toBe("clearMessagePushToken");
    expect(error.cause).toBe(cause);
  });

  it("the caller's abort is rethrown as is", async () => {
    const controller = new AbortController();
    const reason = new Error("caller gave up");
    controller.abort(reason);
    const { fetch, requests } = scripted();
    await expect(
      client(fetch).clearRingPushToken(TOKEN, { signal: controller.signal }),
    ).rejects.toBe(reason);
    expect(requests).toHaveLength(0);
  });
});

describe("logoutFully", () => {
  it("clears the ring push token, then the message push token, then logs out", async () => {
    const { fetch, requests } = scripted();
    const result = await client(fetch).logoutFully({ username: USER, token: TOKEN });
    expect(result).toEqual({
      ringPushToken: "cleared",
      messagePushToken: "cleared",
      session: "cleared",
      alreadyLoggedOut: false,
      ok: true,
    });
    expect(requests.map(pathOf)).toEqual([
      "DELETE /v1/api/user/token",
      "DELETE /v1/api/user/message/token",
      "POST /v1/api/user/logout",
    ]);
    for (const request of requests.slice(0, 2)) expect(request.headers.get("token")).toBe(TOKEN);
  });

  it("a failed push-token step does not stop the logout", async () => {
    const { fetch, requests } = scripted((request) => {
      const path = new URL(request.url).pathname;
      if (path === "/v1/api/user/token") return json("paramer error", 400);
      if (path === "/v1/api/user/message/token")
        return new Response("bad gateway", { status: 502 });
      return new Response(null, { status: 200 });
    });
    const result = await client(fetch).logoutFully({ username: USER, token: TOKEN });
    expect(requests).toHaveLength(3);
    expect(result.ringPushToken).toBeInstanceOf(LancensError);
    expect((result.ringPushToken as LancensError).code).toBe("PARAMER_ERROR");
    expect((result.messagePushToken as LancensError).kind).toBe("unavailable");
    expect(result.session).toBe("cleared");
    expect(result.ok).toBe(false);
  });

  it("network failures and timeouts on push-token steps do not stop the logout", async () => {
    let calls = 0;
    const fetch = async (request: Request) => {
      calls++;
      if (new URL(request.url).pathname === "/v1/api/user/logout") return new Response(null);
      if (calls === 1) throw new TypeError("connection refused");
      return new Promise<Response>(() => {});
    };
    const result = await new LancensClient({
      baseUrl: LANCENS_BASE_URL,
      fetch,
      timeoutMs: 20,
    }).logoutFully({ username: USER, token: TOKEN });
    expect((result.ringPushToken as LancensError).code).toBe("NETWORK_ERROR");
    expect((result.messagePushToken as LancensError).code).toBe("TIMEOUT");
    expect(result.session).toBe("cleared");
  });

  it("a failed logout is the session step's error, not a throw", async () => {
    const { fetch } = scripted((request) =>
      new URL(request.url).pathname === "/v1/api/user/logout"
        ? json("10051", 400)
        : new Response(null, { status: 200 }),
    );
    const result = await client(fetch).logoutFully({ username: USER, token: TOKEN });
    expect(result.ringPushToken).toBe("cleared");
    expect(result.messagePushToken).toBe("cleared");
    expect(result.session).toBeInstanceOf(LancensError);
    expect((result.session as LancensError).code).toBe(10051);
    expect((result.session as LancensError).retryable).toBe(true);
    expect(result.alreadyLoggedOut).toBe(false);
    expect(result.ok).toBe(false);
  });

  it("after an earlier logout every step is already_cleared", async () => {
    const { fetch, requests } = scripted(() => json("invalid token", 401));
    const result = await client(fetch).logoutFully({ username: USER, token: TOKEN });
    expect(requests).toHaveLength(3);
    expect(result).toEqual({
      ringPushToken: "already_cleared",
      messagePushToken: "already_cleared",
      session: "already_cleared",
      alreadyLoggedOut: true,
      ok: true,
    });
  });

  it("no token on every call is three errors, never already logged out", async () => {
    const { fetch, requests } = scripted(() => json("no token", 401));
    const result = await client(fetch).logoutFully({ username: USER, token: TOKEN });
    expect(requests).toHaveLength(3);
    for (const step of [result.ringPushToken, result.messagePushToken, result.session]) {
      expect(step).toBeInstanceOf(LancensError);
      expect(step).toMatchObject({ code: "NO_TOKEN", kind: "invalid_request", field: "token" });
    }
    expect(result.alreadyLoggedOut).toBe(false);
    expect(result.ok).toBe(false);
  });

  it("push-token steps refused with no token stay errors even when the session was already gone", async () => {
    const { fetch } = scripted((request) =>
      new URL(request.url).pathname === "/v1/api/user/logout"
        ? json("invalid token", 401)
        : json("no token", 401),
    );
    const result = await client(fetch).logoutFully({ username: USER, token: TOKEN });
    expect(result.session).toBe("already_cleared");
    expect((result.ringPushToken as LancensError).code).toBe("NO_TOKEN");
    expect((result.messagePushToken as LancensError).code).toBe("NO_TOKEN");
    expect(result.ok).toBe(false);
  });

  it("every request carries the login token in the token header", async () => {
    const { fetch, requests } = scripted();
    await client(fetch).logoutFully({ username: USER, token: TOKEN });
    expect(requests.map((request) => request.headers.get("token"))).toEqual([TOKEN, TOKEN, TOKEN]);
  });

  it("with pushTokensGoneWithSession false the push-token refusals stay errors", async () => {
    const { fetch } = scripted(() => json("invalid token", 401));
    const result = await client(fetch, { pushTokensGoneWithSession: false }).logoutFully({
      username: USER,
      token: TOKEN,
    });
    expect((result.ringPushToken as LancensError).code).toBe("INVALID_TOKEN");
    expect((result.messagePushToken as LancensError).code).toBe("INVALID_TOKEN");
    expect(result.session).toBe("already_cleared");
    expect(result.alreadyLoggedOut).toBe(true);
    expect(result.ok).toBe(false);
  });

  it("push-token refusals stay errors when the logout itself did not find the session gone", async () => {
    const { fetch } = scripted((request) =>
      new URL(request.url).pathname === "/v1/api/user/logout"
        ? new Response(null, { status: 200 })
        : json("invalid token", 401),
    );
    const result = await client(fetch).logoutFully({ username: USER, token: TOKEN });
    expect((result.ringPushToken as LancensError).code).toBe("INVALID_TOKEN");
    expect(result.session).toBe("cleared");
  });

  it("other push-token errors stay errors even when the session was already gone", async () => {
    const { fetch } = scripted((request) =>
      new URL(request.url).pathname === "/v1/api/user/token"
        ? json("no data error", 400)
        : json("invalid token", 401),
    );
    const result = await client(fetch).logoutFully({ username: USER, token: TOKEN });
    expect((result.ringPushToken as LancensError).code).toBe("NO_DATA");
    expect(result.messagePushToken).toBe("already_cleared");
    expect(result.session).toBe("already_cleared");
  });

  it("the caller's abort stops the flow and is rethrown", async () => {
    const controller = new AbortController();
    const reason = new Error("stop");
    const { fetch, requests } = scripted(() => {
      controller.abort(reason);
      return new Response(null, { status: 200 });
    });
    await expect(
      client(fetch).logoutFully({ username: USER, token: TOKEN }, { signal: controller.signal }),
    ).rejects.toBe(reason);
    expect(requests).toHaveLength(1);
  });

  it("no error carries the token, whatever Lancens echoes and however it spells it (fixed seed)", async () => {
    const fieldLike = fc.stringMatching(/^[A-Za-z_][A-Za-z0-9_]{11,40}$/);
    const printable = fc.stringMatching(/^[!-~][ -~]{10,60}[!-~]$/);
    const unicodeEscaped = (text: string) =>
      [...text].map((char) => `\\u${char.charCodeAt(0).toString(16).padStart(4, "0")}`).join("");
    const echoes: ((token: string, pad: string) => string)[] = [
      (token) => JSON.stringify({ message: token }),
      (token) => JSON.stringify({ message: `invalid token ${token}` }),
      (token) => JSON.stringify({ message: `undefined ${token}` }),
      (token) => JSON.stringify({ msg: `${token} length error` }),
      (token) => JSON.stringify({ error: `${token} error` }),
      (token) => JSON.stringify({ code: `10051 ${token}` }),
      (token) => `undefined ${token}`,
      (token) => `${token} format error`,
      (token) => `{"message":"${unicodeEscaped(token)}"}`,
      (token) => `{"message":"undefined ${unicodeEscaped(token)}"}`,
      (token, pad) => JSON.stringify({ message: `${pad}${token}` }),
      (token, pad) => `${pad}${token} exist`,
    ];
    const answer = fc.record({
      echo: fc.constantFrom(...echoes),
      pad: fc.string({ maxLength: 220 }),
      status: fc.constantFrom(200, 201, 400, 401, 403, 404, 429, 500, 503),
    });
    let checked = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(fieldLike, printable),
        fc.tuple(answer, answer, answer),
        async (token, answers) => {
          let index = 0;
          const fetch = async () => {
            const { echo, pad, status } = answers[index++ % 3] as (typeof answers)[0];
            return new Response(echo(token, pad), { status });
          };
          const result = await client(fetch).logoutFully({ username: USER, token });
          for (const step of [result.ringPushToken, result.messagePushToken, result.session]) {
            if (!(step instanceof LancensError)) continue;
            checked++;
            expect(step.field ?? "").not.toContain(token);
            for (const text of errorTexts(step)) expect(text).not.toContain(token);
          }
        },
      ),
      { seed: 1307, numRuns: 400 },
    );
    // Most of the 1,200 steps are errors (2xx answers that say nothing known are successes).
    expect(checked).toBeGreaterThan(800);
  });

  it("no error carries the token, even when Lancens repeats it", async () => {
    const { fetch } = scripted(() => json(`token ${TOKEN} is not valid`, 401));
    const result = await client(fetch).logoutFully({ username: USER, token: TOKEN });
    for (const step of [result.ringPushToken, result.messagePushToken, result.session]) {
      const error = step as LancensError;
      expect(error).toBeInstanceOf(LancensError);
      expect(error.vendorMessage).toBe("token [redacted] is not valid");
      expect(JSON.stringify(error)).not.toContain(TOKEN);
      expect(error.message).not.toContain(TOKEN);
      expect(String(error.stack)).not.toContain(TOKEN);
    }
  });
});
