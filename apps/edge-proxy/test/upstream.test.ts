// Upstream policy: timeouts, the total deadline, malformed answers, retries counted, Retry-After.
import { type FetchLike, VendorError } from "@x/core-signing";
import { describe, expect, it } from "vitest";
import { callUpstream, RetryAfterGate } from "../src/upstream.ts";
import { API_KEY, createHarness, HOSTS, readProblem } from "./harness.ts";

function lastLog(logs: Record<string, unknown>[]): Record<string, unknown> {
  const line = logs.filter((entry) => "status" in entry).at(-1);
  if (line === undefined) throw new Error("no request log line");
  return line;
}

describe("timeouts", () => {
  it("answers 503 TIMEOUT when the vendor is slower than UPSTREAM_TIMEOUT_MS, after retries", async () => {
    const h = await createHarness({
      env: { UPSTREAM_TIMEOUT_MS: "40", UPSTREAM_DEADLINE_MS: "2000" },
    });
    h.sims.ebet.faults.set({ delayMs: 500 });
    const problem = await readProblem(
      await h.request("/v1/ebet/logout", { json: { username: "demo" }, bearer: API_KEY }),
    );
    expect(problem).toMatchObject({
      status: 503,
      kind: "unavailable",
      code: "TIMEOUT",
      retryable: true,
      vendor: "ebet",
      upstreamStatus: null,
    });
    expect(h.upstreamRequests).toHaveLength(3);
    expect(lastLog(h.logs)).toMatchObject({ retries: 2, status: 503, code: "TIMEOUT" });
  });

  it("stops at the total deadline even when retries remain", async () => {
    const h = await createHarness({
      env: { UPSTREAM_TIMEOUT_MS: "60", UPSTREAM_DEADLINE_MS: "90" },
    });
    const token = await h.sims.fungame.login("alice");
    h.sims.fungame.faults.set({ delayMs: 1000 });
    const problem = await readProblem(
      await h.request("/v1/fungame/logout", { method: "POST", bearer: token }),
    );
    expect(problem).toMatchObject({ status: 503, kind: "unavailable", vendor: "fungame" });
    expect(["TIMEOUT", "DEADLINE_EXCEEDED"]).toContain(problem.code);
    expect(h.upstreamRequests.length).toBeLessThanOrEqual(2);
  });

  it("ends a slow Lancens flow at the deadline", async () => {
    const h = await createHarness({
      env: { UPSTREAM_TIMEOUT_MS: "50", UPSTREAM_DEADLINE_MS: "120" },
    });
    const { token } = await h.sims.lancens.signIn();
    h.sims.lancens.faults.set({ delayMs: 1000 });
    const problem = await readProblem(
      await h.request("/v1/lancens/logout", { json: { username: "lancens-user", token } }),
    );
    expect(problem).toMatchObject({ status: 503, vendor: "lancens", kind: "unavailable" });
  });
});

describe("malformed answers", () => {
  it("answers 502 for a non-JSON, truncated or gateway answer, never a crash", async () => {
    const h = await createHarness();
    for (const fault of [{ nonJson: true }, { truncatedJson: true }] as const) {
      h.sims.ebet.faults.set({ ...fault, times: 1 });
      const problem = await readProblem(
        await h.request("/v1/ebet/logout", { json: { username: "demo" }, bearer: API_KEY }),
      );
      expect(problem).toMatchObject({
        status: 502,
        kind: "upstream",
        code: "BAD_RESPONSE",
        upstreamStatus: 200,
        retryable: false,
      });
    }
    const token = await h.sims.fungame.login("alice");
    h.sims.fungame.faults.set({ nonJson: true, times: 1 });
    const fungame = await readProblem(
      await h.request("/v1/fungame/logout", { method: "POST", bearer: token }),
    );
    expect(fungame).toMatchObject({ status: 502, kind: "upstream", vendor: "fungame" });
    const session = h.sims.sdkAuth.issueSession();
    h.sims.sdkAuth.faults.set({ truncatedJson: true, times: 1 });
    const sdk = await readProblem(
      await h.request("/v1/sdk-auth/logout", {
        json: { sessionToken: session, device: { osVersion: "x", fingerprint: "y", agent: "z" } },
      }),
    );
    expect(sdk).toMatchObject({ status: 502, kind: "upstream", vendor: "sdk-auth" });
  });

  it("retries an answer whose body breaks off, and answers 503 NETWORK_ERROR when it keeps breaking", async () => {
    let breaking = Number.POSITIVE_INFINITY;
    let ebetCalls = 0;
    const broken: (router: FetchLike) => FetchLike = (router) => async (request) => {
      if (new URL(request.url).hostname !== HOSTS.ebet) return router(request);
      ebetCalls++;
      if (breaking-- <= 0) return router(request);
      const body = new ReadableStream({
        start(controller) {
          controller.enqueue(new TextEncoder().encode('{"status":'));
          controller.error(new Error("connection reset"));
        },
      });
      return new Response(body, { headers: { "content-type": "application/json" } });
    };
    const h = await createHarness({ wrapFetch: broken });
    const problem = await readProblem(
      await h.request("/v1/ebet/logout", { json: { username: "demo" }, bearer: API_KEY }),
    );
    expect(problem).toMatchObject({
      status: 503,
      code: "NETWORK_ERROR",
      kind: "unavailable",
      retryable: true,
      upstreamStatus: 200,
    });
    expect(ebetCalls).toBe(3);
    breaking = 1;
    ebetCalls = 0;
    const recovered = await h.request("/v1/ebet/logout", {
      json: { username: "demo" },
      bearer: API_KEY,
    });
    expect(recovered.status).toBe(200);
    expect(ebetCalls).toBe(2);
    expect(lastLog(h.logs)).toMatchObject({ status: 200, retries: 1 });
  });
});

describe("retries", () => {
  it("retries a 502 and succeeds; the simulator saw two calls and the log says 1 retry", async () => {
    const h = await createHarness();
    h.sims.ebet.faults.set({ status: 502, times: 1 });
    const response = await h.request("/v1/ebet/logout", {
      json: { username: "demo" },
      bearer: API_KEY,
    });
    expect(response.status).toBe(200);
    expect(h.sims.ebet.calls.map((call) => call.httpStatus)).toEqual([502, 200]);
    expect(lastLog(h.logs)).toMatchObject({
      route: "/v1/ebet/logout",
      vendor: "ebet",
      status: 200,
      upstreamStatus: 200,
      retries: 1,
    });
  });

  it("retries at most twice", async () => {
    const h = await createHarness();
    const { token } = await h.sims.lancens.signIn();
    h.sims.lancens.faults.set({ status: 503 });
    h.sims.lancens.clearCalls();
    const problem = await readProblem(
      await h.request("/v1/lancens/logout", { json: { username: "lancens-user", token } }),
    );
    expect(problem).toMatchObject({ status: 503, kind: "unavailable", upstreamStatus: 503 });
    // Three flows of three calls each.
    expect(h.sims.lancens.calls.filter((call) => call.route === "logout")).toHaveLength(3);
    expect(lastLog(h.logs)).toMatchObject({ retries: 2 });
  });

  it("retries eBET's busy codes (4003) but not its refusals (4026)", async () => {
    const h = await createHarness();
    h.sims.ebet.forceStatus(4003, 1);
    const busy = await h.request("/v1/ebet/logout", {
      json: { username: "demo" },
      bearer: API_KEY,
    });
    expect(busy.status).toBe(200);
    expect(h.sims.ebet.calls.map((call) => call.status)).toEqual([4003, 200]);
    h.sims.ebet.clearCalls();
    h.sims.ebet.forceStatus(4026, 3);
    const refused = await readProblem(
      await h.request("/v1/ebet/logout", { json: { username: "demo" }, bearer: API_KEY }),
    );
    expect(refused).toMatchObject({ status: 500, kind: "misconfigured", code: 4026 });
    expect(h.sims.ebet.calls).toHaveLength(1);
  });

  it("does not retry a 401 or a refused input", async () => {
    const h = await createHarness();
    const token = await h.sims.fungame.login("alice");
    const forged = `${token.slice(0, token.lastIndexOf(".") + 1)}${"B".repeat(43)}`;
    const before = h.sims.fungame.calls.length;
    await h.request("/v1/fungame/logout", { method: "POST", bearer: forged });
    expect(h.sims.fungame.calls.length - before).toBe(1);
  });

  it("honours Retry-After on a 429 and passes it on when the deadline leaves no room", async () => {
    let rateLimited = 0;
    const limit =
      (seconds: string): ((router: FetchLike) => FetchLike) =>
      (router) =>
      async (request) => {
        if (new URL(request.url).hostname === HOSTS.ebet && rateLimited < 1) {
          rateLimited++;
          return new Response("slow down", { status: 429, headers: { "retry-after": seconds } });
        }
        return router(request);
      };
    // Retry-After 0: retried at once.
    const quick = await createHarness({ wrapFetch: limit("0") });
    const ok = await quick.request("/v1/ebet/logout", {
      json: { username: "demo" },
      bearer: API_KEY,
    });
    expect(ok.status).toBe(200);
    expect(quick.upstreamRequests).toHaveLength(2);
    // Retry-After beyond the deadline: not retried, and the caller learns when to come back.
    rateLimited = 0;
    const slow = await createHarness({
      wrapFetch: limit("120"),
      env: { UPSTREAM_TIMEOUT_MS: "1000", UPSTREAM_DEADLINE_MS: "3000" },
    });
    const response = await slow.request("/v1/ebet/logout", {
      json: { username: "demo" },
      bearer: API_KEY,
    });
    const problem = await readProblem(response);
    expect(problem).toMatchObject({
      status: 429,
      kind: "rate_limited",
      upstreamStatus: 429,
      retryable: true,
    });
    expect(Number(response.headers.get("retry-after"))).toBeGreaterThan(100);
    expect(slow.upstreamRequests).toHaveLength(1);
  });

  it("waits Retry-After, or exponential backoff with jitter, between attempts", async () => {
    const waits: number[] = [];
    const sleep = async (ms: number) => {
      waits.push(ms);
    };
    let calls = 0;
    const limitOnce: (router: FetchLike) => FetchLike = (router) => async (request) => {
      calls++;
      if (calls === 1) return new Response("", { status: 429, headers: { "retry-after": "1" } });
      return router(request);
    };
    const clock = Date.now();
    const limited = await createHarness({
      wrapFetch: limitOnce,
      deps: { sleep, now: () => clock },
    });
    const response = await limited.request("/v1/ebet/logout", {
      json: { username: "demo" },
      bearer: API_KEY,
    });
    expect(response.status).toBe(200);
    expect(waits).toEqual([1000]);

    waits.length = 0;
    const jittered = await createHarness({ deps: { sleep, random: () => 0.5 } });
    jittered.sims.ebet.faults.set({ status: 502, times: 2 });
    const ok = await jittered.request("/v1/ebet/logout", {
      json: { username: "demo" },
      bearer: API_KEY,
    });
    expect(ok.status).toBe(200);
    // Full jitter: random() * min(2000, 100 * 2^n) for retry n.
    expect(waits).toEqual([50, 100]);
  });
});

describe("mayRetry", () => {
  it("narrows which retryable failures are retried", async () => {
    const run = async (mayRetry?: (error: VendorError) => boolean) => {
      let attempts = 0;
      const env = {
        fetch: (() => Promise.reject(new Error("unused"))) as FetchLike,
        gate: new RetryAfterGate(Date.now),
        now: Date.now,
        random: () => 0,
        timeoutMs: 1000,
        deadlineAt: Date.now() + 10_000,
        deadlineMs: 10_000,
        signal: new AbortController().signal,
        report: () => {},
        ...(mayRetry === undefined ? {} : { mayRetry }),
      };
      const failing = () => {
        attempts++;
        const code = attempts === 1 ? "BUSY" : "DOWN";
        throw new VendorError({
          vendor: "v",
          code,
          kind: "unavailable",
          retryable: true,
          message: code,
        });
      };
      await expect(callUpstream("v", failing, env)).rejects.toBeInstanceOf(VendorError);
      return attempts;
    };
    expect(await run()).toBe(3);
    expect(await run(() => false)).toBe(1);
    // Retried after BUSY, not after DOWN.
    expect(await run((error) => error.code === "BUSY")).toBe(2);
  });
});

describe("RetryAfterGate", () => {
  const answer = (value: string, status = 503) =>
    new Response(null, { status, headers: { "retry-after": value } });

  it("keeps a vendor's pause in seconds or as an HTTP date", () => {
    let now = 1_000_000;
    const gate = new RetryAfterGate(() => now);
    gate.observe("ebet", answer("30"));
    expect(gate.retryAfterSeconds("ebet")).toBe(30);
    gate.observe("lancens", answer(new Date(now + 90_000).toUTCString(), 429));
    expect(gate.retryAfterSeconds("lancens")).toBe(90);
    now += 30_000;
    expect(gate.waitMs("ebet")).toBe(0);
  });

  it("bounds a vendor's pause at an hour: an answer cannot silence a vendor for years", () => {
    const now = 1_000_000;
    const gate = new RetryAfterGate(() => now);
    gate.observe("ebet", answer("99999999"));
    expect(gate.retryAfterSeconds("ebet")).toBe(3600);
    gate.observe("fungame", answer("Fri, 01 Jan 2100 00:00:00 GMT"));
    expect(gate.retryAfterSeconds("fungame")).toBe(3600);
  });
});
