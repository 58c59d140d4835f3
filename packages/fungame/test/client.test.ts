// FunGameClient (src/client.ts): options, per-call overrides, deadlines, aborts, network failures.
import { describe, expect, it } from "vitest";
import { FunGameClient, FunGameError } from "../src/index.ts";
import { fungameClaims, hmacToken, KEY } from "./jwt-oracle.ts";

const token = hmacToken(fungameClaims(), KEY);
const ok = () =>
  Response.json({ RequestType: 1, StatusCode: 200, Message: "你已成功退出登录！ ", Data: {} });

function recording(answer: () => Response | Promise<Response> = ok) {
  const requests: Request[] = [];
  const fetch = async (request: Request) => {
    requests.push(request);
    return answer();
  };
  return { requests, fetch };
}

async function refusal(promise: Promise<unknown>): Promise<FunGameError> {
  const outcome = await promise.then(
    () => undefined,
    (error: unknown) => error,
  );
  expect(outcome).toBeInstanceOf(FunGameError);
  return outcome as FunGameError;
}

describe("FunGameClient", () => {
  it("sends the built request through the given fetch and parses the answer", async () => {
    const { requests, fetch } = recording();
    const client = new FunGameClient({ baseUrl: "https://api.redbud.fun/", fetch });
    expect(await client.logout(token)).toEqual({
      alreadyLoggedOut: false,
      message: "你已成功退出登录！",
      requestType: 1,
    });
    expect(requests).toHaveLength(1);
    const [sent] = requests as [Request];
    expect(sent.method).toBe("POST");
    expect(sent.url).toBe("https://api.redbud.fun/user/logout");
    expect(sent.headers.get("authorization")).toBe(`Bearer ${token}`);
    expect(client.baseUrl).toBe("https://api.redbud.fun");
    expect(client.timeoutMs).toBe(10_000);
  });

  it.each([
    ["empty", ""],
    ["two segments", "a.b"],
    ["CR", `${token}\r`],
    ["LF", `${token}\n`],
    ["the Bearer prefix", `Bearer ${token}`],
  ])("refuses a token that is %s before any request", async (_, bad) => {
    const { requests, fetch } = recording();
    const client = new FunGameClient({ baseUrl: "https://a.example", fetch });
    const error = await refusal(client.logout(bad));
    expect(error).toMatchObject({ kind: "invalid_request", field: "bearerToken" });
    expect(requests).toHaveLength(0);
  });

  it("refuses bad options, naming them", () => {
    const cases: [unknown, string][] = [
      [undefined, "options"],
      [{}, "baseUrl"],
      [{ baseUrl: "nope" }, "baseUrl"],
      [{ baseUrl: "https://a.example", timeoutMs: 0 }, "timeoutMs"],
      [{ baseUrl: "https://a.example", timeoutMs: 1.5 }, "timeoutMs"],
      [{ baseUrl: "https://a.example", fetch: "x" }, "fetch"],
      [{ baseUrl: "https://a.example", treat500AsLoggedOut: "yes" }, "treat500AsLoggedOut"],
      [{ baseUrl: "https://a.example", logoutPath: "logout" }, "path"],
      [{ baseUrl: "https://a.example", maxBodyBytes: -1 }, "maxBodyBytes"],
    ];
    for (const [options, field] of cases) {
      let caught: unknown;
      try {
        new FunGameClient(options as never);
      } catch (error) {
        caught = error;
      }
      expect(caught).toBeInstanceOf(FunGameError);
      expect([field, (caught as FunGameError).field]).toEqual([field, field]);
    }
  });

  it("uses the configured logout path", async () => {
    const { requests, fetch } = recording();
    await new FunGameClient({
      baseUrl: "https://a.example",
      fetch,
      logoutPath: "/api/user/logout",
    }).logout(token);
    expect(requests[0]?.url).toBe("https://a.example/api/user/logout");
  });

  it("lets one call use its own fetch and timeout", async () => {
    const client = new FunGameClient({ baseUrl: "https://a.example", fetch: recording().fetch });
    const own = recording(() => new Response(null, { status: 401 }));
    expect((await refusal(client.logout(token, { fetch: own.fetch }))).kind).toBe("unauthorized");
    expect(own.requests).toHaveLength(1);
    const error = await refusal(client.logout(token, { timeoutMs: 0 }));
    expect(error.field).toBe("timeoutMs");
  });

  it("applies treat500AsLoggedOut", async () => {
    const answer = () =>
      Response.json(
        {
          requestType: 1,
          statusCode: 500,
          message: "退出登录失败！服务器可能暂时无法处理此请求。",
        },
        { status: 500 },
      );
    const strict = new FunGameClient({
      baseUrl: "https://a.example",
      fetch: recording(answer).fetch,
    });
    expect((await refusal(strict.logout(token))).retryable).toBe(true);
    const lenient = new FunGameClient({
      baseUrl: "https://a.example",
      fetch: recording(answer).fetch,
      treat500AsLoggedOut: true,
    });
    expect((await lenient.logout(token)).alreadyLoggedOut).toBe(true);
  });

  it("times out a server that never answers, as a retryable unavailable error", async () => {
    const fetch = () => new Promise<Response>(() => {});
    const client = new FunGameClient({ baseUrl: "https://a.example", fetch, timeoutMs: 20 });
    const error = await refusal(client.logout(token));
    expect(error).toMatchObject({ code: "TIMEOUT", kind: "unavailable", retryable: true });
  });

  it("times out a body that never ends, too", async () => {
    const fetch = async () =>
      new Response(
        new ReadableStream<Uint8Array>({
          start(controller) {
            controller.enqueue(new TextEncoder().encode('{"requestType":1,'));
          },
        }),
        { status: 200 },
      );
    const client = new FunGameClient({ baseUrl: "https://a.example", fetch, timeoutMs: 20 });
    expect((await refusal(client.logout(token))).code).toBe("TIMEOUT");
  });

  it("turns a network failure into a retryable unavailable FunGameError", async () => {
    const fetch = async () => {
      throw new TypeError("fetch failed");
    };
    const error = await refusal(
      new FunGameClient({ baseUrl: "https://a.example", fetch }).logout(token),
    );
    expect(error).toMatchObject({ code: "NETWORK_ERROR", kind: "unavailable", retryable: true });
  });

  it("rethrows the caller's abort reason as is, before or during the call", async () => {
    const reason = new Error("caller gave up");
    const before = new AbortController();
    before.abort(reason);
    const { requests, fetch } = recording();
    const client = new FunGameClient({ baseUrl: "https://a.example", fetch });
    await expect(client.logout(token, { signal: before.signal })).rejects.toBe(reason);
    expect(requests).toHaveLength(0);

    const during = new AbortController();
    const hanging = new FunGameClient({
      baseUrl: "https://a.example",
      fetch: () => {
        queueMicrotask(() => during.abort(reason));
        return new Promise<Response>(() => {});
      },
    });
    await expect(hanging.logout(token, { signal: during.signal })).rejects.toBe(reason);
  });

  it("never puts the token in an error", async () => {
    const client = new FunGameClient({
      baseUrl: "https://a.example",
      fetch: async () => new Response("<html>502</html>", { status: 502 }),
    });
    const error = await refusal(client.logout(token));
    expect(error.message + JSON.stringify(error.toJSON())).not.toContain(token.split(".")[2]);
  });
});
