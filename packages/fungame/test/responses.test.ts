// Logout answer parsing (src/responses.ts): both casings, the idempotent 400, every error status, malformed bodies.
import { ERROR_KINDS } from "@x/core-signing";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { FunGameError, type LogoutResult, parseLogoutResponse } from "../src/index.ts";

const json = (status: number, body: unknown, headers: Record<string, string> = {}) =>
  new Response(typeof body === "string" ? body : JSON.stringify(body), {
    status,
    headers: { "content-type": "application/json; charset=utf-8", ...headers },
  });

const pascal = (status: number, message: string, extra: Record<string, unknown> = {}) => ({
  RequestType: 1,
  StatusCode: status,
  Message: message,
  Timestamp: "2025-03-23 19:47:43.123",
  Data: {},
  ...extra,
});
const camel = (status: number, message: string, extra: Record<string, unknown> = {}) => ({
  requestType: 1,
  statusCode: status,
  message,
  timestamp: "2025-03-23 19:47:43.123",
  data: {},
  ...extra,
});

async function refusal(response: Response, options = {}): Promise<FunGameError> {
  const outcome = await parseLogoutResponse(response, options).then(
    (result) => result,
    (error: unknown) => error,
  );
  expect(outcome).toBeInstanceOf(FunGameError);
  return outcome as FunGameError;
}

describe("parseLogoutResponse: success", () => {
  it.each([
    ["PascalCase (the documented form)", pascal],
    ["camelCase (ASP.NET's default)", camel],
  ])("reads a 200 PayloadModel in %s", async (_, shape) => {
    const result = await parseLogoutResponse(json(200, shape(200, "你已成功退出登录！")));
    expect(result).toEqual<LogoutResult>({
      alreadyLoggedOut: false,
      message: "你已成功退出登录！",
      requestType: 1,
    });
  });

  it("tolerates the trailing space and reports the Event when sent", async () => {
    const body = camel(200, "你已成功退出登录！ ", { event: "user_logout" });
    expect(await parseLogoutResponse(json(200, body))).toEqual({
      alreadyLoggedOut: false,
      message: "你已成功退出登录！",
      requestType: 1,
      event: "user_logout",
    });
  });

  it("accepts a RequestType sent as its name, and a null Event", async () => {
    const body = pascal(200, "ok", { RequestType: "RunTime_Logout", Event: null });
    expect(await parseLogoutResponse(json(200, body))).toEqual({
      alreadyLoggedOut: false,
      message: "ok",
      requestType: "RunTime_Logout",
    });
  });

  it("reads the body whatever the content type says", async () => {
    const response = new Response(JSON.stringify(pascal(200, "ok")), {
      status: 200,
      headers: { "content-type": "text/html" },
    });
    expect((await parseLogoutResponse(response)).message).toBe("ok");
  });
});

describe("parseLogoutResponse: the session was already gone", () => {
  it.each([
    ["PascalCase", pascal],
    ["camelCase", camel],
  ])("400 退出登录失败！ in %s is alreadyLoggedOut", async (_, shape) => {
    expect(await parseLogoutResponse(json(400, shape(400, "退出登录失败！ ")))).toEqual({
      alreadyLoggedOut: true,
      message: "退出登录失败！",
      requestType: 1,
    });
  });

  it("400 with any other message is an upstream error, not a success", async () => {
    const error = await refusal(json(400, pascal(400, "服务器内部错误")));
    expect(error).toMatchObject({
      kind: "upstream",
      code: 400,
      upstreamStatus: 400,
      retryable: false,
    });
    expect(error.message).toContain("服务器内部错误");
  });

  it("400 with the message but a different StatusCode, or no RequestType, is not taken for it", async () => {
    expect((await refusal(json(400, pascal(500, "退出登录失败！")))).kind).toBe("upstream");
    const noType = { StatusCode: 400, Message: "退出登录失败！" };
    expect((await refusal(json(400, noType))).kind).toBe("upstream");
  });

  it("400 problem document (ASP.NET validation) is upstream and quotes its title", async () => {
    const problem = { title: "One or more validation errors occurred.", status: 400 };
    const error = await refusal(json(400, problem, { "content-type": "application/problem+json" }));
    expect(error.kind).toBe("upstream");
    expect(error.message).toContain("One or more validation errors occurred.");
  });

  it("400 with an empty body is upstream", async () => {
    expect((await refusal(new Response(null, { status: 400 }))).kind).toBe("upstream");
  });
});

describe("parseLogoutResponse: errors", () => {
  it("401 with an empty body is unauthorized, not retryable", async () => {
    const error = await refusal(new Response(null, { status: 401 }));
    expect(error).toMatchObject({
      vendor: "fungame",
      kind: "unauthorized",
      code: 401,
      upstreamStatus: 401,
      retryable: false,
    });
  });

  it("401 with the revocation middleware's JSON message is unauthorized and quotes it", async () => {
    const body = { message: "此 Token 无效或已吊销，请重新登录以获取 Token。" };
    const error = await refusal(json(401, body));
    expect(error.kind).toBe("unauthorized");
    expect(error.message).toContain("已吊销");
  });

  it("403 is unauthorized", async () => {
    expect((await refusal(new Response("", { status: 403 }))).kind).toBe("unauthorized");
  });

  it.each([
    ["the newer session-gone message", "退出登录失败！服务器可能暂时无法处理此请求。"],
    ["another message", "Internal Server Error."],
  ])("500 with %s is upstream and retryable", async (_, message) => {
    const error = await refusal(json(500, camel(500, message, { event: "user_logout" })));
    expect(error).toMatchObject({
      kind: "upstream",
      code: 500,
      upstreamStatus: 500,
      retryable: true,
    });
  });

  it("500 from the exception handler (not JSON) is upstream and retryable", async () => {
    const body = "{ StatusCode = 500, Message = Internal Server Error., Detailed = boom }";
    const error = await refusal(new Response(body, { status: 500 }));
    expect(error).toMatchObject({ kind: "upstream", retryable: true, upstreamStatus: 500 });
    expect(error.message).not.toContain("boom");
  });

  it("treat500AsLoggedOut turns only the newer session-gone 500 into alreadyLoggedOut", async () => {
    const options = { treat500AsLoggedOut: true };
    const gone = camel(500, "退出登录失败！服务器可能暂时无法处理此请求。", {
      event: "user_logout",
    });
    expect(await parseLogoutResponse(json(500, gone), options)).toEqual({
      alreadyLoggedOut: true,
      message: "退出登录失败！服务器可能暂时无法处理此请求。",
      requestType: 1,
      event: "user_logout",
    });
    expect(
      (await refusal(json(500, camel(500, "Internal Server Error.")), options)).retryable,
    ).toBe(true);
    expect((await refusal(new Response("", { status: 500 }), options)).kind).toBe("upstream");
  });

  it.each([
    [502, "unavailable", true],
    [503, "unavailable", true],
    [504, "unavailable", true],
    [408, "unavailable", true],
    [429, "rate_limited", true],
    [404, "misconfigured", false],
    [405, "misconfigured", false],
    [501, "upstream", true],
    [418, "upstream", false],
  ])("HTTP %i is %s (retryable %s)", async (status, kind, retryable) => {
    const error = await refusal(
      new Response("<html>gateway</html>", { status, headers: { "content-type": "text/html" } }),
    );
    expect(error).toMatchObject({ kind, retryable, upstreamStatus: status, code: status });
  });

  it("every 3xx is a non-retryable upstream REDIRECT naming the status, never the Location's query", async () => {
    for (const status of [300, 301, 302, 303, 304, 307, 308]) {
      const response = new Response(null, {
        status,
        headers: { location: "https://api.redbud.fun/user/logout/?token=query-secret#frag" },
      });
      const error = await refusal(response);
      expect(error).toMatchObject({
        kind: "upstream",
        code: "REDIRECT",
        upstreamStatus: status,
        retryable: false,
      });
      expect(error.message).toContain(`HTTP ${status}`);
      // The origin is named so that an operator can fix the base URL; path and query never are.
      expect(error.message).toContain("https://api.redbud.fun");
      expect(error.message).not.toContain("/user/logout/");
      expect(error.message).not.toContain("query-secret");
      expect(error.message).not.toContain("frag");
    }
    const relative = await refusal(
      new Response(null, { status: 302, headers: { location: "/login?next=query-secret" } }),
    );
    expect(relative).toMatchObject({ code: "REDIRECT", upstreamStatus: 302 });
    expect(relative.message).not.toContain("/login");
    expect(relative.message).not.toContain("query-secret");
  });

  it("an opaque redirect (redirect manual in a browser or Worker) is the same error", async () => {
    const opaque = new Response(null, { status: 200 });
    Object.defineProperty(opaque, "type", { value: "opaqueredirect" });
    Object.defineProperty(opaque, "status", { value: 0 });
    const error = await refusal(opaque);
    expect(error).toMatchObject({ kind: "upstream", code: "REDIRECT", retryable: false });
    expect(error.message).toMatch(/status and target the platform hides/);
  });

  it("a message, StatusCode or member named like a prototype member is never a success", async () => {
    for (const name of ["constructor", "toString", "valueOf", "hasOwnProperty", "__proto__"]) {
      for (const status of [200, 400, 500]) {
        for (const body of [
          // On 200 a StatusCode 200 is FunGame's success whatever the message; not on 400 or 500.
          ...(status === 200 ? [] : [pascal(status, name)]),
          pascal(status, "退出登录失败！", { StatusCode: name }),
          `{"${name}": ${JSON.stringify(pascal(200, "你已成功退出登录！"))}}`,
        ]) {
          const error = await refusal(json(status, body), { treat500AsLoggedOut: true });
          expect(ERROR_KINDS).toContain(error.kind);
        }
      }
    }
  });

  it("an unexpected informational-like status is a bad answer", async () => {
    const response = new Response(null, { status: 200 });
    Object.defineProperty(response, "status", { value: 199 });
    expect((await refusal(response)).code).toBe("BAD_RESPONSE");
  });
});

describe("parseLogoutResponse: malformed answers are typed errors", () => {
  it.each([
    ["an HTML page", "<html><body>Service temporarily unavailable</body></html>"],
    ["truncated JSON", '{"requestType": 1, "statusC'],
    ["an empty body", ""],
    ["a JSON array", "[]"],
    ["JSON null", "null"],
    ["a JSON string", '"你已成功退出登录！"'],
    ["a PayloadModel without StatusCode", JSON.stringify({ RequestType: 1, Message: "ok" })],
    ["a PayloadModel without Message", JSON.stringify({ RequestType: 1, StatusCode: 200 })],
    ["a PayloadModel without RequestType", JSON.stringify({ StatusCode: 200, Message: "ok" })],
    ["a string StatusCode", JSON.stringify(pascal(200, "ok", { StatusCode: "200" }))],
    ["a numeric Message", JSON.stringify(pascal(200, "ok", { Message: 7 }))],
    ["an object Event", JSON.stringify(pascal(200, "ok", { Event: {} }))],
    ["StatusCode 400 under HTTP 200", JSON.stringify(pascal(400, "退出登录失败！"))],
    ["StatusCode 500 under HTTP 200", JSON.stringify(pascal(500, "x"))],
  ])("HTTP 200 with %s is upstream BAD_RESPONSE", async (_, body) => {
    const error = await refusal(new Response(body, { status: 200 }));
    expect(error).toMatchObject({ kind: "upstream", code: "BAD_RESPONSE", upstreamStatus: 200 });
  });

  it("204 without a body is a bad answer, never a silent success", async () => {
    expect((await refusal(new Response(null, { status: 204 }))).code).toBe("BAD_RESPONSE");
  });

  it("an oversized answer is refused without buffering it", async () => {
    const big = JSON.stringify(pascal(200, "x".repeat(5000)));
    const error = await refusal(new Response(big, { status: 200 }), { maxBodyBytes: 1000 });
    expect(error).toBeInstanceOf(FunGameError);
    expect(error).toMatchObject({ code: "BAD_RESPONSE", kind: "upstream" });
  });

  it("a body that breaks off is a typed, retryable network error", async () => {
    const stream = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(new TextEncoder().encode('{"requestType":1,'));
        controller.error(new Error("connection reset"));
      },
    });
    const error = await refusal(new Response(stream, { status: 200 }));
    expect(error).toMatchObject({ code: "NETWORK_ERROR", kind: "unavailable", retryable: true });
  });

  it("refuses bad options and a non-Response", async () => {
    await expect(parseLogoutResponse({} as Response)).rejects.toMatchObject({ field: "response" });
    await expect(
      parseLogoutResponse(json(200, pascal(200, "ok")), { maxBodyBytes: 0 }),
    ).rejects.toMatchObject({ field: "maxBodyBytes" });
  });

  it("never crashes and never succeeds on anything but the two known answers (property, fixed seed)", async () => {
    const body = fc.oneof(
      fc.jsonValue(),
      fc.record({
        RequestType: fc.oneof(fc.integer(), fc.string(), fc.constant(null)),
        StatusCode: fc.oneof(fc.constantFrom(200, 400, 401, 500), fc.integer(), fc.string()),
        Message: fc.oneof(
          fc.constantFrom(
            "退出登录失败！",
            "你已成功退出登录！ ",
            "退出登录失败！服务器可能暂时无法处理此请求。",
          ),
          fc.string(),
        ),
      }),
    );
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(200, 201, 204, 400, 401, 403, 404, 429, 500, 502, 503),
        body,
        async (status, value) => {
          const response = new Response(status === 204 ? null : JSON.stringify(value), { status });
          const outcome: LogoutResult | unknown = await parseLogoutResponse(response).then(
            (result) => result,
            (error: unknown) => error,
          );
          if (outcome instanceof FunGameError) return;
          const result = outcome as LogoutResult;
          const fields = value as Record<string, unknown>;
          if (result.alreadyLoggedOut) {
            expect(status).toBe(400);
            expect(fields.StatusCode).toBe(400);
            expect(String(fields.Message).trim()).toBe("退出登录失败！");
          } else {
            expect(status === 200 || status === 201).toBe(true);
            expect(fields.StatusCode).toBe(200);
          }
        },
      ),
      { seed: 1234, numRuns: 400 },
    );
  });
});
