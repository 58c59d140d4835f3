// Vendor call figures: one per call, from the routes and from asynchronous logouts, written to
// Analytics Engine on Workers in the layout docs/operations.md queries, never quoting a secret.

import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { MemoryOutbox } from "../src/adapters/memory/outbox.ts";
import { DurableObjectDenyList } from "../src/adapters/workers/deny-list.ts";
import { configureGauges, metricsOf } from "../src/adapters/workers/metrics.ts";
import { DurableObjectOutbox } from "../src/adapters/workers/outbox.ts";
import { DurableObjectReplayGuard } from "../src/adapters/workers/replay-guard.ts";
import { loadConfig } from "../src/config.ts";
import type { JobView } from "../src/outbox.ts";
import type { VendorCallMetric } from "../src/ports.ts";
import { ACME_API_KEY, ACME_HOST, createAcmeSimulator, WITH_ACME } from "./fixtures/acme-vendor.ts";
import { API_KEY, createHarness, DEVICE } from "./harness.ts";

function recorder() {
  const written: VendorCallMetric[] = [];
  return { written, sink: { write: (metric: VendorCallMetric) => written.push(metric) } };
}

describe("vendor call figures", () => {
  it("one per vendor call of a route, with its outcome, status, latency and attempts", async () => {
    const { written, sink } = recorder();
    const h = await createHarness({ deps: { metrics: sink } });
    const sessionToken = h.sims.sdkAuth.issueSession();
    await h.request("/v1/sdk-auth/logout", { json: { sessionToken, device: DEVICE } });
    await h.request("/v1/ebet/logout", { json: { username: "nobody" }, bearer: API_KEY });
    expect(written).toEqual([
      {
        vendor: "sdk-auth",
        source: "request",
        route: "/v1/sdk-auth/logout",
        outcome: "ok",
        upstreamStatus: 200,
        latencyMs: expect.any(Number),
        attempts: 1,
      },
      {
        vendor: "ebet",
        source: "request",
        route: "/v1/ebet/logout",
        outcome: "4037",
        upstreamStatus: 200,
        latencyMs: expect.any(Number),
        attempts: 1,
      },
    ]);
  });

  it("one per vendor of a fan-out, and per attempt of an asynchronous logout, none quoting a secret", async () => {
    const { written, sink } = recorder();
    const sim = createAcmeSimulator();
    const due: (() => void)[] = [];
    let outbox: MemoryOutbox | undefined;
    const h = await createHarness({
      env: { ACME_BASE_URL: `https://${ACME_HOST}`, ACME_API_KEY },
      vendors: WITH_ACME,
      wrapFetch: (router) => (request) =>
        new URL(request.url).hostname === ACME_HOST ? sim.fetch(request) : router(request),
      deps: {
        metrics: sink,
        outbox: (run, vendors) => {
          outbox = new MemoryOutbox(run, {
            policy: loadConfig({}).outbox,
            vendors,
            timers: { set: (callback, ms) => (ms <= 0 ? due.push(callback) : 0), clear: () => {} },
          });
          return outbox;
        },
      },
    });
    const { token } = await h.sims.lancens.signIn();
    await h.request("/v1/logout", {
      json: { acme: { sessionId: "quote-me-5a" }, lancens: { username: "lancens-user", token } },
    });
    const accepted = await h.request("/v1/logout", {
      json: { acme: { sessionId: "quote-me-6b" } },
      headers: { prefer: "respond-async" },
      bearer: API_KEY,
    });
    expect(((await accepted.json()) as JobView).vendors.acme?.state).toBe("pending");
    for (const callback of due.splice(0)) callback();
    await outbox?.idle();
    // The fan-out's two calls in the order they ended, then the job's attempt.
    const rows = written.map(({ vendor, source, route, outcome }) =>
      [vendor, source, route, outcome].join(" "),
    );
    expect(rows.slice(0, 2).sort()).toEqual([
      "acme request /v1/logout VENDOR_ERROR",
      "lancens request /v1/logout ok",
    ]);
    expect(rows.slice(2)).toEqual(["acme job /v1/logout VENDOR_ERROR"]);
    expect(JSON.stringify(written)).not.toContain("quote-me");
  });

  it("a failing sink never fails the request", async () => {
    const h = await createHarness({
      deps: {
        metrics: {
          write: () => {
            throw new Error("sink down");
          },
        },
      },
    });
    const sessionToken = h.sims.sdkAuth.issueSession();
    const response = await h.request("/v1/sdk-auth/logout", {
      json: { sessionToken, device: DEVICE },
    });
    expect(response.status).toBe(200);
  });
});

describe("on Workers", () => {
  it("the METRICS binding gets each call as one data point in the documented layout", () => {
    const points: AnalyticsEngineDataPoint[] = [];
    const dataset = {
      writeDataPoint: (point?: AnalyticsEngineDataPoint) => {
        if (point !== undefined) points.push(point);
      },
    };
    expect(metricsOf({})).toBeUndefined();
    metricsOf({ METRICS: dataset })?.write({
      vendor: "ebet",
      source: "job",
      route: "/v1/logout",
      outcome: "ok",
      upstreamStatus: 200,
      latencyMs: 12,
      attempts: 1,
    });
    metricsOf({ METRICS: dataset })?.write({
      vendor: "lancens",
      source: "request",
      route: "/v1/lancens/logout",
      outcome: "NETWORK_ERROR",
      upstreamStatus: null,
      latencyMs: 30,
      attempts: 3,
    });
    expect(points).toEqual([
      {
        indexes: ["ebet"],
        blobs: ["ebet", "job", "/v1/logout", "ok"],
        doubles: [12, 200, 1, 1],
      },
      {
        indexes: ["lancens"],
        blobs: ["lancens", "request", "/v1/lancens/logout", "NETWORK_ERROR"],
        doubles: [30, 0, 3, 0],
      },
    ]);
  });
});

describe("store sizes on Workers", () => {
  it("each deny-list, replay-guard and open-jobs object writes its rows after every change", async () => {
    const points: AnalyticsEngineDataPoint[] = [];
    configureGauges((point) => points.push(point));
    try {
      const prefix = `gauges-${crypto.randomUUID()}`;
      const list = new DurableObjectDenyList(env.DENY_LIST, { prefix, previous: undefined });
      expect(await list.claim("jti-1", "attempt-1", 60_000)).toBe("claimed");
      await list.add("jti-1", Math.floor(Date.now() / 1000) + 600);
      expect(await list.claim("jti-2", "attempt-2", 60_000)).toBe("claimed");
      await list.release("jti-2", "attempt-2");
      const denyList = points.filter((point) => point.blobs?.[0] === "deny-list");
      // Each object writes its own rows: jti-1's shard, then jti-2's (another shard of the 32).
      expect(denyList.map((point) => point.doubles?.[0])).toEqual([1, 1, 1, 0]);
      expect(denyList[0]?.blobs?.[2]).toBe(denyList[1]?.blobs?.[2]);
      expect(denyList[2]?.blobs?.[2]).toBe(denyList[3]?.blobs?.[2]);
      expect(denyList[0]).toEqual({
        indexes: ["deny-list"],
        blobs: ["deny-list", "gauge", expect.stringMatching(new RegExp(`^${prefix}-32-\\d+$`))],
        doubles: [1],
      });
      const guard = new DurableObjectReplayGuard(env.REPLAY_GUARD, { prefix, previous: undefined });
      expect(await guard.claim("a".repeat(64), "request-1", 300_000)).toBe(true);
      expect(points.filter((point) => point.blobs?.[0] === "replay-guard").at(-1)?.doubles).toEqual(
        [1],
      );
      const outbox = new DurableObjectOutbox(env.LOGOUT_OUTBOX, env.OPEN_JOBS, {
        ...loadConfig({}).outbox,
      });
      const caller = "c".repeat(64);
      await outbox.enqueue({ ebet: { username: "demo" } }, { requestId: "r", owner: null, caller });
      const open = points.filter((point) => point.blobs?.[0] === "open-jobs");
      expect(open.at(-1)).toMatchObject({ blobs: ["open-jobs", "gauge", expect.any(String)] });
      expect(open.at(-1)?.doubles?.[0]).toBeGreaterThanOrEqual(1);
    } finally {
      configureGauges(undefined);
    }
  });
});
