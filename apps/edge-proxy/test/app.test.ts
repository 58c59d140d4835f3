// The app around the routes: health, OpenAPI, /docs, request ids, Server-Timing, logs, CORS, 404/405, onError.
import { MemoryRevocationList } from "@x/fungame";
import { describe, expect, it } from "vitest";
import type openApiDocument from "../public/openapi.json";
import { MemoryReplayGuard } from "../src/adapters/memory/replay-guard.ts";
import { createApp } from "../src/app.ts";
import { loadConfig } from "../src/config.ts";
import { KIND_STATUS, PROBLEM_KINDS } from "../src/problem.ts";
import { API_KEY, createHarness, DEVICE, readProblem } from "./harness.ts";

describe("operations routes", () => {
  it("/healthz says which vendors are on", async () => {
    const h = await createHarness({ env: { LANCENS_BASE_URL: undefined } });
    const response = await h.request("/healthz");
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({
      status: "ok",
      vendors: { ebet: true, fungame: true, "sdk-auth": true, lancens: false },
    });
  });

  it("/openapi.json is an OpenAPI 3.1 document of every route", async () => {
    const h = await createHarness();
    const document = (await (await h.request("/openapi.json")).json()) as typeof openApiDocument;
    expect(document.openapi).toBe("3.1.0");
    expect(Object.keys(document.paths).sort()).toEqual([
      "/docs",
      "/docs/{file}",
      "/healthz",
      "/openapi.json",
      "/v1/backchannel-logout",
      "/v1/ebet/callback",
      "/v1/ebet/logout",
      "/v1/fungame/logout",
      "/v1/fungame/token-status",
      "/v1/global-token-revocation",
      "/v1/lancens/logout",
      "/v1/logout",
      "/v1/logout/{id}",
      "/v1/sdk-auth/logout",
      "/v1/sessions",
      "/v1/sessions/{id}",
      "/v1/ssf/events",
    ]);
    // Every $ref resolves.
    const text = JSON.stringify(document);
    for (const [, section, name] of text.matchAll(/"\$ref":"#\/components\/(\w+)\/(\w+)"/g)) {
      const components = document.components as unknown as Record<string, Record<string, unknown>>;
      expect(components[section as string]?.[name as string], `${section}/${name}`).toBeDefined();
    }
    // The problem schema lists every member and every kind.
    const problem = document.components.schemas.Problem;
    expect(problem?.required).toEqual(expect.arrayContaining(["requestId", "upstreamStatus"]));
    expect(problem?.properties?.kind?.enum).toEqual(PROBLEM_KINDS);
  });

  it("/docs serves the reference page through deps.assets, with a strict CSP", async () => {
    const requested: string[] = [];
    const app = createApp(loadConfig({}), {
      denyList: new MemoryRevocationList(),
      replayGuard: new MemoryReplayGuard(),
      log: () => {},
      assets: async (request) => {
        const path = new URL(request.url).pathname;
        requested.push(path);
        if (path === "/docs/index.html") {
          return new Response("<html>docs</html>", { headers: { "content-type": "text/html" } });
        }
        return undefined;
      },
    });
    for (const path of ["/docs", "/docs/"]) {
      const response = await app.request(path);
      expect(response.status).toBe(200);
      expect(await response.text()).toBe("<html>docs</html>");
      expect(response.headers.get("content-security-policy")).toContain("script-src 'self'");
    }
    expect(requested).toEqual(["/docs/index.html", "/docs/index.html"]);
    const missing = await app.request("/docs/nope.js");
    expect(await readProblem(missing)).toMatchObject({ status: 404, code: "ASSET_NOT_FOUND" });
    const noAssets = createApp(loadConfig({}), {
      denyList: new MemoryRevocationList(),
      replayGuard: new MemoryReplayGuard(),
      log: () => {},
    });
    expect(await readProblem(await noAssets.request("/docs"))).toMatchObject({
      status: 404,
      code: "DOCS_NOT_AVAILABLE",
    });
  });
});

describe("request ids, timing and logs", () => {
  it("returns a generated X-Request-Id, or the caller's when valid; refuses a bad one", async () => {
    const h = await createHarness();
    const generated = await h.request("/healthz");
    expect(generated.headers.get("x-request-id")).toMatch(/^[0-9a-f-]{36}$/);
    const given = await h.request("/healthz", { headers: { "x-request-id": "trace-42.a:b" } });
    expect(given.headers.get("x-request-id")).toBe("trace-42.a:b");
    const bad = await h.request("/healthz", { headers: { "x-request-id": "has space" } });
    const problem = await readProblem(bad);
    expect(problem).toMatchObject({
      status: 400,
      code: "INVALID_REQUEST_ID",
      field: "X-Request-Id",
    });
    expect(problem.requestId).not.toBe("has space");
  });

  it("sends Server-Timing with the total and each vendor's time", async () => {
    const h = await createHarness();
    const response = await h.request("/v1/ebet/logout", {
      json: { username: "demo" },
      bearer: API_KEY,
    });
    const timing = response.headers.get("server-timing") ?? "";
    expect(timing).toMatch(/^total;dur=\d+/);
    expect(timing).toMatch(/ebet;dur=\d+;desc="1 attempt\(s\)"/);
  });

  it("logs one JSON line per request, with no key, token or signature in it", async () => {
    const h = await createHarness();
    const fungameToken = await h.sims.fungame.login("alice");
    const sessionToken = h.sims.sdkAuth.issueSession();
    const { token: lancensToken } = await h.sims.lancens.signIn();
    await h.request("/v1/ebet/logout", { json: { username: "demo" }, bearer: API_KEY });
    await h.request("/v1/fungame/logout", { method: "POST", bearer: fungameToken });
    await h.request("/v1/sdk-auth/logout", { json: { sessionToken, device: DEVICE } });
    await h.request("/v1/lancens/logout", {
      json: { username: "lancens-user", token: lancensToken },
    });
    await h.request("/v1/ebet/logout", { json: { username: "demo" }, bearer: "wrong-key" });
    const lines = h.logs.filter((line) => "status" in line);
    expect(lines).toHaveLength(5);
    expect(lines[0]).toMatchObject({
      method: "POST",
      route: "/v1/ebet/logout",
      vendor: "ebet",
      status: 200,
      upstreamStatus: 200,
      retries: 0,
    });
    expect(typeof lines[0]?.latencyMs).toBe("number");
    expect(typeof lines[0]?.requestId).toBe("string");
    expect(lines[4]).toMatchObject({
      status: 401,
      code: "INVALID_CREDENTIALS",
      kind: "unauthorized",
    });
    const text = JSON.stringify(h.logs);
    for (const secret of [
      API_KEY,
      "wrong-key",
      fungameToken,
      fungameToken.split(".")[2] as string,
      sessionToken,
      lancensToken,
      String(h.env.EBET_PRIVATE_KEY).slice(40, 80),
    ]) {
      expect(text).not.toContain(secret);
    }
  });
});

describe("CORS", () => {
  it("is off by default: no CORS headers, preflight is a 405", async () => {
    const h = await createHarness();
    const response = await h.request("/healthz", { headers: { origin: "https://app.example" } });
    expect(response.headers.get("access-control-allow-origin")).toBeNull();
    const preflight = await h.request("/v1/lancens/logout", {
      method: "OPTIONS",
      headers: { origin: "https://app.example", "access-control-request-method": "POST" },
    });
    expect(preflight.status).toBe(405);
    expect(preflight.headers.get("access-control-allow-origin")).toBeNull();
  });

  it("allows the configured origins only", async () => {
    const h = await createHarness({ env: { PROXY_CORS_ORIGINS: "https://app.example" } });
    const preflight = await h.request("/v1/lancens/logout", {
      method: "OPTIONS",
      headers: {
        origin: "https://app.example",
        "access-control-request-method": "POST",
        "access-control-request-headers": "content-type",
      },
    });
    expect(preflight.status).toBe(204);
    expect(preflight.headers.get("access-control-allow-origin")).toBe("https://app.example");
    expect(preflight.headers.get("access-control-allow-methods")).toContain("POST");
    const allowed = await h.request("/healthz", { headers: { origin: "https://app.example" } });
    expect(allowed.headers.get("access-control-allow-origin")).toBe("https://app.example");
    expect(allowed.headers.get("access-control-expose-headers")).toContain("x-request-id");
    // Browsers can read problem documents too.
    const problem = await h.request("/v1/lancens/logout", {
      method: "POST",
      headers: { origin: "https://app.example", "content-type": "text/plain" },
      body: "x",
    });
    expect(problem.status).toBe(415);
    expect(problem.headers.get("access-control-allow-origin")).toBe("https://app.example");
    const other = await h.request("/healthz", { headers: { origin: "https://evil.example" } });
    expect(other.headers.get("access-control-allow-origin")).toBeNull();
  });
});

describe("errors the app answers itself", () => {
  it("maps every kind to its status in one table", () => {
    expect(KIND_STATUS).toEqual({
      invalid_request: 400,
      unauthorized: 401,
      forbidden: 403,
      not_found: 404,
      method_not_allowed: 405,
      conflict: 409,
      payload_too_large: 413,
      unsupported_media_type: 415,
      rate_limited: 429,
      misconfigured: 500,
      internal: 500,
      upstream: 502,
      unavailable: 503,
    });
  });

  it("answers 404 for an unknown route and 405 with Allow for a wrong method", async () => {
    const h = await createHarness();
    expect(await readProblem(await h.request("/v2/nothing"))).toMatchObject({
      status: 404,
      code: "ROUTE_NOT_FOUND",
      vendor: null,
    });
    const wrong = await h.request("/v1/ebet/logout");
    expect(wrong.headers.get("allow")).toBe("POST");
    expect(await readProblem(wrong)).toMatchObject({ status: 405, kind: "method_not_allowed" });
    const post = await h.request("/v1/fungame/token-status", { method: "POST" });
    expect(post.headers.get("allow")).toBe("GET, HEAD");
  });

  it("answers 404 for a declared path with a trailing slash: each route has one spelling", async () => {
    // Answered like any other 404: after CORS, so that a browser can read it.
    const h = await createHarness({ env: { PROXY_CORS_ORIGINS: "https://app.example" } });
    const id = "a".repeat(64);
    for (const [method, path] of [
      ["POST", "/v1/logout/"],
      ["POST", "/v1/ebet/logout/"],
      ["GET", `/v1/logout/${id}/`],
      ["GET", "/healthz/"],
      ["GET", "/v1/fungame/token-status/"],
    ] as const) {
      const response = await h.request(path, {
        method,
        headers: {
          "content-type": "application/json",
          authorization: `Bearer ${API_KEY}`,
          origin: "https://app.example",
        },
        ...(method === "POST" ? { body: "{}" } : {}),
      });
      expect(response.headers.get("cache-control")).toBe("no-store");
      expect(await readProblem(response), `${method} ${path}`).toMatchObject({
        status: 404,
        code: "ROUTE_NOT_FOUND",
      });
    }
    expect(h.sims.ebet.calls).toHaveLength(0);
  });

  it("answers an unexpected error with a 500 problem, never a stack trace or an empty body", async () => {
    const h = await createHarness();
    h.app.get("/boom", () => {
      throw new Error("database password is hunter2");
    });
    const response = await h.request("/boom");
    const problem = await readProblem(response);
    expect(problem).toMatchObject({ status: 500, kind: "internal", code: "INTERNAL_ERROR" });
    expect(JSON.stringify(problem)).not.toContain("hunter2");
    expect(JSON.stringify(h.logs)).not.toContain("hunter2");
    expect(h.logs.some((line) => line.event === "unexpected_error")).toBe(true);
  });

  it("answers a misconfigured vendor (eBET refuses the signature) as 500 misconfigured", async () => {
    const h = await createHarness();
    h.sims.ebet.forceStatus(4027);
    expect(
      await readProblem(
        await h.request("/v1/ebet/logout", { json: { username: "demo" }, bearer: API_KEY }),
      ),
    ).toMatchObject({ status: 500, kind: "misconfigured", code: 4027, vendor: "ebet" });
  });
});
