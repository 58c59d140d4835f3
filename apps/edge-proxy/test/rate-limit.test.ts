// Per-caller rate limit: 429 with Retry-After, refill over the window, keys independent, memory bounded.
import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { SignJWT } from "jose";
import { describe, expect, it } from "vitest";
import openApiDocument from "../public/openapi.json" with { type: "json" };
import { MemoryRateLimiter } from "../src/adapters/memory/rate-limiter.ts";
import { socketAddress } from "../src/client-address.ts";
import { ConfigError, loadConfig, parseRateLimit } from "../src/config.ts";
import worker from "../src/entry/worker.ts";
import { addressKey } from "../src/rate-limit.ts";
import {
  API_KEY,
  createHarness,
  type Harness,
  OTHER_API_KEY,
  readProblem,
  USER_JWT_SECRET,
} from "./harness.ts";

/** A harness with PROXY_RATE_LIMIT set, a clock the test moves, and the address from a test header. */
async function limited(rate: string) {
  const clock = { now: Date.now() };
  const h = await createHarness({
    env: { PROXY_RATE_LIMIT: rate },
    deps: {
      now: () => clock.now,
      clientAddress: (c) => c.req.header("test-client-address"),
    },
  });
  return { h, clock };
}

function from(address: string, init: Record<string, unknown> = {}) {
  return { ...init, headers: { "test-client-address": address } };
}

async function token(subject: string): Promise<string> {
  return new SignJWT({})
    .setProtectedHeader({ alg: "HS256" })
    .setSubject(subject)
    .setExpirationTime("1h")
    .sign(new TextEncoder().encode(USER_JWT_SECRET));
}

async function healthOf(h: Harness, path: string, address: string): Promise<number> {
  return (await h.request(path, from(address))).status;
}

describe("PROXY_RATE_LIMIT", () => {
  it("is off when unset and reads <requests>/<seconds>", () => {
    expect(loadConfig({}).rateLimit).toBeUndefined();
    expect(loadConfig({ PROXY_RATE_LIMIT: " 120 / 60 " }).rateLimit).toEqual({
      limit: 120,
      windowSec: 60,
    });
    expect(parseRateLimit("5/1")).toEqual({ limit: 5, windowSec: 1 });
  });

  it("refuses a malformed value with an error naming the variable", () => {
    for (const value of ["120", "0/60", "10/0", "10/86401", "-1/5", "ten/60", "1.5/60", "1/2/3"]) {
      let error: unknown;
      try {
        loadConfig({ PROXY_RATE_LIMIT: value });
      } catch (thrown) {
        error = thrown;
      }
      expect(error, value).toBeInstanceOf(ConfigError);
      expect((error as ConfigError).issues.map((issue) => issue.name)).toEqual([
        "PROXY_RATE_LIMIT",
      ]);
      expect((error as ConfigError).issues[0]?.message).toContain("<requests>/<seconds>");
    }
  });
});

describe("the rate limit", () => {
  it("answers 429 with Retry-After in whole seconds once the limit is reached", async () => {
    const { h } = await limited("3/60");
    for (let i = 0; i < 3; i++) {
      const ok = await h.request("/openapi.json", from("192.0.2.1"));
      expect(ok.status).toBe(200);
      expect(ok.headers.get("ratelimit-policy")).toBe('"caller";q=3;w=60');
      expect(ok.headers.get("ratelimit")).toMatch(new RegExp(`^"caller";r=${2 - i};t=\\d+$`));
    }
    const refused = await h.request("/v1/lancens/logout", {
      ...from("192.0.2.1"),
      method: "POST",
    });
    expect(refused.headers.get("retry-after")).toBe("20");
    const problem = await readProblem(refused);
    expect(problem).toMatchObject({
      status: 429,
      kind: "rate_limited",
      code: "RATE_LIMITED",
      vendor: null,
      retryable: true,
    });
    expect(h.upstreamRequests).toHaveLength(0);
    expect(h.logs.at(-1)).toMatchObject({ status: 429, code: "RATE_LIMITED" });
  });

  it("allows requests again as the window passes", async () => {
    const { h, clock } = await limited("2/10");
    expect(await healthOf(h, "/openapi.json", "192.0.2.2")).toBe(200);
    expect(await healthOf(h, "/openapi.json", "192.0.2.2")).toBe(200);
    expect(await healthOf(h, "/openapi.json", "192.0.2.2")).toBe(429);
    clock.now += 4_999;
    expect(await healthOf(h, "/openapi.json", "192.0.2.2")).toBe(429);
    clock.now += 1;
    expect(await healthOf(h, "/openapi.json", "192.0.2.2")).toBe(200);
    clock.now += 10_000;
    expect(await healthOf(h, "/openapi.json", "192.0.2.2")).toBe(200);
    expect(await healthOf(h, "/openapi.json", "192.0.2.2")).toBe(200);
    expect(await healthOf(h, "/openapi.json", "192.0.2.2")).toBe(429);
  });

  it("counts each address, API key and token subject on its own; /healthz is exempt", async () => {
    const { h } = await limited("1/60");
    expect(await healthOf(h, "/openapi.json", "192.0.2.3")).toBe(200);
    expect(await healthOf(h, "/openapi.json", "192.0.2.3")).toBe(429);
    expect(await healthOf(h, "/openapi.json", "192.0.2.4")).toBe(200);
    // An IPv6 caller is one /64.
    expect(await healthOf(h, "/openapi.json", "2001:db8:1:2::1")).toBe(200);
    expect(await healthOf(h, "/openapi.json", "2001:db8:1:2:ffff::9")).toBe(429);
    expect(await healthOf(h, "/openapi.json", "2001:db8:1:3::1")).toBe(200);
    for (let i = 0; i < 3; i++) expect(await healthOf(h, "/healthz", "192.0.2.3")).toBe(200);
    // Authenticated callers are counted by credential, wherever they come from.
    const asKey = (key: string) => ({
      headers: { "test-client-address": "192.0.2.3", authorization: `Bearer ${key}` },
    });
    expect((await h.request("/openapi.json", asKey(API_KEY))).status).toBe(200);
    expect((await h.request("/openapi.json", asKey(API_KEY))).status).toBe(429);
    expect((await h.request("/openapi.json", asKey(OTHER_API_KEY))).status).toBe(200);
    expect((await h.request("/openapi.json", asKey(await token("alice")))).status).toBe(200);
    expect((await h.request("/openapi.json", asKey(await token("alice")))).status).toBe(429);
    expect((await h.request("/openapi.json", asKey(await token("bob")))).status).toBe(200);
    // A credential that proves nothing counts against the address.
    expect((await h.request("/openapi.json", asKey("made-up"))).status).toBe(429);
  });

  it("never reads X-Forwarded-For or CF-Connecting-IP unless the entry says so", async () => {
    const h = await createHarness({ env: { PROXY_RATE_LIMIT: "1/60" } });
    const spoof = (address: string) => ({
      headers: { "x-forwarded-for": address, "cf-connecting-ip": address },
    });
    expect((await h.request("/openapi.json", spoof("198.51.100.1"))).status).toBe(200);
    expect((await h.request("/openapi.json", spoof("198.51.100.2"))).status).toBe(429);
  });

  it("keeps memory bounded: the least recently seen caller is forgotten", () => {
    const now = 0;
    const limiter = new MemoryRateLimiter(
      { limit: 1, windowSec: 3600 },
      { now: () => now, maxKeys: 3 },
    );
    for (const key of ["a", "b", "c"]) expect(limiter.take(key).allowed).toBe(true);
    expect(limiter.take("a").allowed).toBe(false); // a is now the most recent
    for (let i = 0; i < 1000; i++) limiter.take(`flood-${i % 2}`);
    expect(limiter.size).toBe(3);
    // b and c were evicted by the flood: b starts again with a full bucket.
    expect(limiter.take("b").allowed).toBe(true);
    expect(limiter.size).toBe(3);
  });

  it("gives Retry-After from the refill rate, never 0", () => {
    let now = 0;
    const limiter = new MemoryRateLimiter({ limit: 120, windowSec: 60 }, { now: () => now });
    for (let i = 0; i < 120; i++) expect(limiter.take("k").allowed).toBe(true);
    const refused = limiter.take("k");
    expect(refused).toMatchObject({ allowed: false, remaining: 0, retryAfterSec: 1 });
    expect(refused.resetSec).toBe(60);
    now += 500;
    expect(limiter.take("k").allowed).toBe(true);
  });

  it("names an IPv6 caller by its /64 and an IPv4-mapped address by its IPv4 address", () => {
    expect(addressKey("2001:db8:0:1:2:3:4:5")).toBe("2001:db8:0:1::/64");
    expect(addressKey("[2001:DB8::1]")).toBe("2001:db8:0:0::/64");
    expect(addressKey("::1")).toBe("0:0:0:0::/64");
    expect(addressKey("::ffff:192.0.2.7")).toBe("192.0.2.7");
    expect(addressKey("203.0.113.9")).toBe("203.0.113.9");
  });
});

describe("the client address", () => {
  it("comes from the socket the local entries hand to app.fetch (Node, Deno, Bun)", async () => {
    const seen: (string | undefined)[] = [];
    const h = await createHarness({
      env: { PROXY_RATE_LIMIT: "1/60" },
      deps: {
        clientAddress: (c) => {
          const address = socketAddress(c);
          seen.push(address);
          return address;
        },
      },
    });
    const node = { incoming: { socket: { remoteAddress: "192.0.2.10" } } };
    const deno = { remoteAddr: { hostname: "192.0.2.11", port: 1 } };
    const bun = { requestIP: () => ({ address: "192.0.2.12", port: 1 }) };
    for (const env of [node, deno, bun]) {
      expect((await h.app.request("/openapi.json", {}, env)).status).toBe(200);
      expect((await h.app.request("/openapi.json", {}, env)).status).toBe(429);
    }
    expect((await h.app.request("/openapi.json", {}, { other: true })).status).toBe(200);
    expect(seen).toEqual([
      "192.0.2.10",
      "192.0.2.10",
      "192.0.2.11",
      "192.0.2.11",
      "192.0.2.12",
      "192.0.2.12",
      undefined,
    ]);
  });
});

describe("the OpenAPI document", () => {
  it("documents 429 with Retry-After and the RateLimit headers on every limited route", () => {
    for (const [path, item] of Object.entries(openApiDocument.paths)) {
      if (path === "/healthz") continue;
      for (const operation of Object.values(item)) {
        expect(Object.keys(operation.responses), path).toContain("429");
      }
    }
    const limited = openApiDocument.components.responses.Problem429;
    expect(Object.keys(limited?.headers ?? {})).toEqual(
      expect.arrayContaining(["Retry-After", "RateLimit", "RateLimit-Policy"]),
    );
    const callback = openApiDocument.paths["/v1/ebet/callback"]?.post;
    expect(callback?.responses["409"]).toEqual({ $ref: "#/components/responses/Problem409" });
  });
});

describe("on Workers", () => {
  it("counts callers by CF-Connecting-IP", async () => {
    const bindings = { ...env, PROXY_RATE_LIMIT: "1/3600" };
    const call = async (address: string) => {
      const ctx = createExecutionContext();
      const request = new Request("https://proxy.test/openapi.json", {
        headers: { "cf-connecting-ip": address, "x-forwarded-for": "203.0.113.1" },
      });
      const response = await worker.fetch(
        request as Request<unknown, IncomingRequestCfProperties>,
        bindings,
        ctx,
      );
      await waitOnExecutionContext(ctx);
      return response;
    };
    expect((await call("198.51.100.7")).status).toBe(200);
    const refused = await call("198.51.100.7");
    expect(refused.status).toBe(429);
    expect(Number(refused.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
    expect((await call("198.51.100.8")).status).toBe(200);
  });
});
