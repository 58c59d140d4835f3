// Per-caller rate limit: 429 with Retry-After, refill over the window, keys independent, memory
// bounded; on Workers, Cloudflare's Rate Limiting binding shared by every isolate.
import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { SignJWT } from "jose";
import { describe, expect, it } from "vitest";
import openApiDocument from "../public/openapi.json" with { type: "json" };
import { MemoryDenyList } from "../src/adapters/memory/deny-list.ts";
import { MemoryRateLimiter } from "../src/adapters/memory/rate-limiter.ts";
import { MemoryReplayGuard } from "../src/adapters/memory/replay-guard.ts";
import { BindingRateLimiter } from "../src/adapters/workers/rate-limiter.ts";
import { createApp } from "../src/app.ts";
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
  sha256Hex,
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

  it("keeps memory bounded: the least recently seen caller is forgotten", async () => {
    const now = 0;
    const limiter = new MemoryRateLimiter(
      { limit: 1, windowSec: 3600 },
      { now: () => now, maxKeys: 3 },
    );
    for (const key of ["a", "b", "c"]) expect((await limiter.take(key)).allowed).toBe(true);
    expect((await limiter.take("a")).allowed).toBe(false); // a is now the most recent
    for (let i = 0; i < 1000; i++) await limiter.take(`flood-${i % 2}`);
    expect(limiter.size).toBe(3);
    // b and c were evicted by the flood: b starts again with a full bucket.
    expect((await limiter.take("b")).allowed).toBe(true);
    expect(limiter.size).toBe(3);
  });

  it("gives Retry-After from the refill rate, never 0", async () => {
    let now = 0;
    const limiter = new MemoryRateLimiter({ limit: 120, windowSec: 60 }, { now: () => now });
    for (let i = 0; i < 120; i++) expect((await limiter.take("k")).allowed).toBe(true);
    const refused = await limiter.take("k");
    expect(refused).toMatchObject({ allowed: false, remaining: 0, retryAfterSec: 1 });
    expect(refused.resetSec).toBe(60);
    now += 500;
    expect((await limiter.take("k")).allowed).toBe(true);
  });

  it("is never dropped: an app is not built with PROXY_RATE_LIMIT and no rate limiter", () => {
    const config = loadConfig({ PROXY_RATE_LIMIT: "1/60" });
    expect(() =>
      createApp(config, { denyList: new MemoryDenyList(), replayGuard: new MemoryReplayGuard() }),
    ).toThrow("PROXY_RATE_LIMIT needs deps.rateLimiter");
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

/** TEST_RATE_LIMITER (vitest.config.ts): a Rate Limiting binding of 2 requests per 60 s. */
const BINDING_LIMIT = 2;
const testBinding = (env as unknown as { TEST_RATE_LIMITER: RateLimit }).TEST_RATE_LIMITER;

/**
 * A Worker env of its own over the test binding. The Worker builds its app once per env object, so
 * each call of this is another app, as another isolate would be.
 */
function workerEnv(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { ...env, RATE_LIMITER: testBinding, PROXY_RATE_LIMIT: "2/60", ...extra };
}

/** A client address no other test uses (the binding's counts outlive a test): a /64 of its own. */
function freshAddress(): string {
  const group = () => Math.floor(Math.random() * 0x10000).toString(16);
  return `2001:db8:${group()}:${group()}::1`;
}

async function callWorker(
  bindings: Record<string, unknown>,
  path: string,
  headers: Record<string, string>,
): Promise<Response> {
  const ctx = createExecutionContext();
  const request = new Request(`https://proxy.test${path}`, { headers });
  const response = await worker.fetch(
    request as Request<unknown, IncomingRequestCfProperties>,
    bindings as Parameters<typeof worker.fetch>[1],
    ctx,
  );
  await waitOnExecutionContext(ctx);
  return response;
}

/**
 * The statuses of a burst of twice the binding's limit plus one. The binding counts in fixed
 * windows: the burst spans at most two of them, so at least one request is over the limit whenever
 * the burst shares one budget, and a fresh caller's first `BINDING_LIMIT` requests always pass.
 */
async function burst(send: (i: number) => Promise<Response>): Promise<number[]> {
  const statuses: number[] = [];
  for (let i = 0; i < 2 * BINDING_LIMIT + 1; i++) statuses.push((await send(i)).status);
  return statuses;
}

describe("on Workers", () => {
  it("counts callers by CF-Connecting-IP through the RATE_LIMITER binding", async () => {
    const bindings = workerEnv();
    const address = freshAddress();
    const statuses = await burst(() =>
      callWorker(bindings, "/openapi.json", {
        "cf-connecting-ip": address,
        "x-forwarded-for": "203.0.113.1",
      }),
    );
    expect(statuses.slice(0, BINDING_LIMIT)).toEqual([200, 200]);
    expect(statuses).toContain(429);
    const other = await callWorker(bindings, "/openapi.json", {
      "cf-connecting-ip": freshAddress(),
    });
    expect(other.status).toBe(200);
  });

  it("shares one budget between apps (isolates) over the same binding", async () => {
    // Three apps, each sent no more than the limit: only a shared count refuses any request.
    const apps = [workerEnv(), workerEnv(), workerEnv()];
    const address = freshAddress();
    const statuses = await burst((i) =>
      callWorker(apps[i % apps.length] as Record<string, unknown>, "/openapi.json", {
        "cf-connecting-ip": address,
      }),
    );
    expect(statuses.slice(0, BINDING_LIMIT)).toEqual([200, 200]);
    expect(statuses).toContain(429);
  });

  it("answers honestly: Retry-After is the period, RateLimit-Policy the binding's, no RateLimit", async () => {
    const bindings = workerEnv();
    const address = freshAddress();
    const responses: Response[] = [];
    for (let i = 0; i < 2 * BINDING_LIMIT + 1; i++) {
      const response = await callWorker(bindings, "/openapi.json", { "cf-connecting-ip": address });
      responses.push(response);
      if (response.status === 429) break;
    }
    const allowed = responses[0] as Response;
    expect(allowed.status).toBe(200);
    expect(allowed.headers.get("ratelimit-policy")).toBe('"caller";q=2;w=60');
    expect(allowed.headers.has("ratelimit")).toBe(false);
    const refused = responses.at(-1) as Response;
    expect(refused.status).toBe(429);
    expect(refused.headers.get("retry-after")).toBe("60");
    expect(refused.headers.get("ratelimit-policy")).toBe('"caller";q=2;w=60');
    expect(refused.headers.has("ratelimit")).toBe(false);
    expect(await readProblem(refused)).toMatchObject({
      status: 429,
      code: "RATE_LIMITED",
      retryable: true,
      detail: "over 2 per 60 s; retry in at most 60 s",
    });
  });

  it("counts an API key as one caller wherever it comes from, and each key on its own", async () => {
    const [first, second] = [crypto.randomUUID(), crypto.randomUUID()];
    const keys = { PROXY_API_KEY_SHA256: `${await sha256Hex(first)},${await sha256Hex(second)}` };
    // Each request from another address to another app: only one count per key refuses any.
    const apps = [workerEnv(keys), workerEnv(keys), workerEnv(keys)];
    const addresses = [freshAddress(), freshAddress(), freshAddress()];
    const statuses = await burst((i) =>
      callWorker(apps[i % apps.length] as Record<string, unknown>, "/openapi.json", {
        "cf-connecting-ip": addresses[i % addresses.length] as string,
        authorization: `Bearer ${first}`,
      }),
    );
    expect(statuses.slice(0, BINDING_LIMIT)).toEqual([200, 200]);
    expect(statuses).toContain(429);
    // The second key, from the first key's address, has its whole budget.
    for (let i = 0; i < BINDING_LIMIT; i++) {
      const response = await callWorker(apps[0] as Record<string, unknown>, "/openapi.json", {
        "cf-connecting-ip": addresses[0] as string,
        authorization: `Bearer ${second}`,
      });
      expect(response.status).toBe(200);
    }
  });

  it("never limits /healthz", async () => {
    const bindings = workerEnv();
    const address = freshAddress();
    const statuses = await burst(() =>
      callWorker(bindings, "/healthz", { "cf-connecting-ip": address }),
    );
    expect(statuses).toEqual([200, 200, 200, 200, 200]);
  });

  it("refuses PROXY_RATE_LIMIT and RATE_LIMITER one without the other, by name", async () => {
    const errorsOf = async (bindings: Record<string, unknown>) => {
      const problem = await readProblem(
        await callWorker(bindings, "/openapi.json", { "cf-connecting-ip": freshAddress() }),
      );
      expect(problem).toMatchObject({ status: 500, code: "CONFIG_INVALID" });
      return problem.errors;
    };
    // Without the binding each isolate would count on its own: no limit at Cloudflare's edge.
    expect(await errorsOf({ ...env, PROXY_RATE_LIMIT: "2/60" })).toEqual([
      {
        field: "PROXY_RATE_LIMIT",
        message: expect.stringContaining("RATE_LIMITER binding ([[ratelimits]] in wrangler.toml)"),
      },
    ]);
    expect(await errorsOf(workerEnv({ PROXY_RATE_LIMIT: undefined }))).toEqual([
      { field: "PROXY_RATE_LIMIT", message: expect.stringContaining("is required with") },
    ]);
    expect(await errorsOf(workerEnv({ PROXY_RATE_LIMIT: "2/30" }))).toEqual([
      { field: "PROXY_RATE_LIMIT", message: expect.stringContaining("10 or 60 s") },
    ]);
    expect(await errorsOf(workerEnv({ RATE_LIMITER: "120/60" }))).toEqual([
      { field: "RATE_LIMITER", message: expect.stringContaining("[[ratelimits]] binding") },
    ]);
    // Neither: the rate limit is off.
    const off = await callWorker({ ...env }, "/openapi.json", {
      "cf-connecting-ip": freshAddress(),
    });
    expect(off.status).toBe(200);
    expect(off.headers.has("ratelimit-policy")).toBe(false);
  });

  it("a limiter that fails lets the request through and says so in the log: logouts never wait on it", async () => {
    const logs: Record<string, unknown>[] = [];
    const failing = new BindingRateLimiter(
      {
        limit: async () => {
          throw new Error("binding down");
        },
      } as unknown as RateLimit,
      { limit: 5, windowSec: 10 },
    );
    const app = createApp(loadConfig({ LANCENS_BASE_URL: "https://lancens.test:6443" }), {
      denyList: new MemoryDenyList(),
      replayGuard: new MemoryReplayGuard(),
      rateLimiter: failing,
      log: (line) => logs.push(line),
      fetch: async () => new Response("{}", { status: 200 }),
    });
    const response = await app.request("/healthz/x");
    expect(response.status).toBe(404);
    expect(response.headers.has("retry-after")).toBe(false);
    expect(logs.filter((line) => line.event === "rate_limit_unavailable")).toHaveLength(1);
    expect(logs.filter((line) => line.event === "unexpected_error")).toEqual([]);
  });

  it("lets a request through only on the binding's explicit success", async () => {
    const policy = { limit: 5, windowSec: 10 };
    const answering = (outcome: unknown) =>
      new BindingRateLimiter({ limit: async () => outcome } as unknown as RateLimit, policy);
    expect(await answering({ success: true }).take("k")).toEqual({
      allowed: true,
      retryAfterSec: 0,
      exact: true,
    });
    for (const outcome of [{ success: false }, { success: "true" }, {}, null]) {
      expect(await answering(outcome).take("k"), JSON.stringify(outcome)).toEqual({
        allowed: false,
        retryAfterSec: 10,
        exact: false,
      });
    }
  });
});
