// A fifth vendor, added as docs/architecture.md says (its descriptor and one more entry in the list),
// gets with no other change: its route, its variables validated and named in errors, its member in
// the fan-out and in asynchronous jobs (memory and Durable Object outboxes), its secrets kept out of
// logs and job records, its health entry and the 405 on its path.
import { runDurableObjectAlarm } from "cloudflare:test";
import { env } from "cloudflare:workers";
import type { FetchLike } from "@x/core-signing";
import { afterEach, describe, expect, it } from "vitest";
import { MemoryOutbox } from "../src/adapters/memory/outbox.ts";
import { configureOutboxObjects, DurableObjectOutbox } from "../src/adapters/workers/outbox.ts";
import { ConfigError, loadConfig } from "../src/config.ts";
import type { JobView } from "../src/outbox.ts";
import {
  ACME_API_KEY,
  ACME_HOST,
  acme,
  createAcmeSimulator,
  WITH_ACME,
} from "./fixtures/acme-vendor.ts";
import {
  API_KEY,
  createHarness,
  type Harness,
  type HarnessOptions,
  jwksAnswer,
  routerFor,
} from "./harness.ts";

const ACME_ENV = { ACME_BASE_URL: `https://${ACME_HOST}`, ACME_API_KEY };

/** Routes Acme's host to its simulator, every other host as the harness does. */
function withAcme(sim: ReturnType<typeof createAcmeSimulator>) {
  return (router: FetchLike): FetchLike =>
    (request) =>
      new URL(request.url).hostname === ACME_HOST ? sim.fetch(request) : router(request);
}

async function acmeHarness(extra: { deps?: HarnessOptions["deps"] } = {}) {
  const sim = createAcmeSimulator();
  const h = await createHarness({
    env: ACME_ENV,
    vendors: WITH_ACME,
    wrapFetch: withAcme(sim),
    ...(extra.deps === undefined ? {} : { deps: extra.deps }),
  });
  return { h, sim };
}

function issuesOf(vars: Record<string, unknown>): { name: string; message: string }[] {
  try {
    loadConfig(vars, WITH_ACME);
  } catch (error) {
    if (error instanceof ConfigError) return error.issues;
    throw error;
  }
  return [];
}

afterEach(() => configureOutboxObjects(undefined));

describe("a fifth vendor from its descriptor alone", () => {
  it("answers its own route, calling the vendor with its settings", async () => {
    const { h, sim } = await acmeHarness();
    sim.open("s-1");
    const response = await h.request("/v1/acme/logout", { json: { sessionId: "s-1" } });
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({
      vendor: "acme",
      ok: true,
      alreadyLoggedOut: false,
      result: { ended: true },
    });
    expect(sim.calls).toEqual([{ sessionId: "s-1", apiKey: ACME_API_KEY }]);
    // Its body is validated like any vendor's, naming the field.
    const refused = await h.request("/v1/acme/logout", { json: { sessionId: "", extra: 1 } });
    expect(refused.status).toBe(400);
    expect(await refused.json()).toMatchObject({ code: "INVALID_FIELD", field: "sessionId" });
    expect(sim.calls).toHaveLength(1);
  });

  it("is off (404) without its variables, listed by /healthz, and answers 405 to other methods", async () => {
    const { h } = await acmeHarness();
    expect(await (await h.request("/healthz")).json()).toMatchObject({
      vendors: { acme: true, ebet: true },
    });
    const wrongMethod = await h.request("/v1/acme/logout");
    expect(wrongMethod.status).toBe(405);
    expect(wrongMethod.headers.get("allow")).toBe("POST");
    const off = h.rebuild({ env: { ACME_BASE_URL: undefined, ACME_API_KEY: undefined } });
    const response = await off.request("/v1/acme/logout", { json: { sessionId: "s-1" } });
    expect(response.status).toBe(404);
    expect(await response.json()).toMatchObject({ code: "VENDOR_NOT_CONFIGURED", vendor: "acme" });
  });

  it("has its variables validated and named in configuration errors, never echoing its secret", () => {
    expect(issuesOf({ ACME_BASE_URL: "ftp://acme.test" })).toEqual([
      { name: "ACME_BASE_URL", message: "must use http or https" },
      {
        name: "ACME_API_KEY",
        message: "is required when Acme is configured (another ACME_* is set)",
      },
    ]);
    const secret = "bad key with blanks";
    const issues = issuesOf({ ...ACME_ENV, ACME_API_KEY: secret });
    expect(issues.map((issue) => issue.name)).toEqual(["ACME_API_KEY"]);
    expect(JSON.stringify(issues)).not.toContain(secret);
    // Without the fifth vendor in the list, its variables are not the proxy's.
    expect(() => loadConfig({ ACME_BASE_URL: "ftp://acme.test" })).not.toThrow();
  });

  it("is a member of the fan-out, named in its body's rule", async () => {
    const { h, sim } = await acmeHarness();
    sim.open("s-2");
    const { token } = await h.sims.lancens.signIn();
    const response = await h.request("/v1/logout", {
      json: { acme: { sessionId: "s-2" }, lancens: { username: "lancens-user", token } },
    });
    expect(response.status).toBe(200);
    const body = (await response.json()) as { results: Record<string, { ok: boolean }> };
    expect(Object.keys(body.results).sort()).toEqual(["acme", "lancens"]);
    expect(body.results.acme).toMatchObject({ vendor: "acme", ok: true });
    const empty = await h.request("/v1/logout", { json: {} });
    expect(await empty.json()).toMatchObject({
      detail: expect.stringContaining("ebet, fungame, sdkAuth, lancens or acme"),
    });
  });

  it("is delivered by the in-memory outbox, and its secret stays out of the job and the logs", async () => {
    let outbox: MemoryOutbox | undefined;
    // Attempts due now run when the test says; later wake-ups (backoff, retention) never do.
    const due: (() => void)[] = [];
    const timers = {
      set: (callback: () => void, ms: number) => (ms <= 0 ? due.push(callback) : 0),
      clear: () => {},
    };
    const settle = async () => {
      for (const callback of due.splice(0)) callback();
      await outbox?.idle();
    };
    const { h, sim } = await acmeHarness({
      deps: {
        outbox: (run, vendors) => {
          outbox = new MemoryOutbox(run, {
            policy: loadConfig({}).outbox,
            vendors,
            timers,
          });
          return outbox;
        },
      },
    });
    sim.open("s-3");
    const accepted = await h.request("/v1/logout", {
      json: { acme: { sessionId: "s-3" } },
      headers: { prefer: "respond-async" },
      bearer: API_KEY,
    });
    expect(accepted.status).toBe(202);
    const job = (await accepted.json()) as JobView;
    expect(job.vendors.acme).toMatchObject({ vendor: "acme", state: "pending" });
    await settle();
    const done = (await (
      await h.request(`/v1/logout/${job.id}`, { bearer: API_KEY })
    ).json()) as JobView;
    expect(done).toMatchObject({ status: "delivered", vendors: { acme: { state: "delivered" } } });
    expect(sim.calls.map((call) => call.sessionId)).toEqual(["s-3"]);

    // A vendor answer that quotes the session id: the job keeps no trace of it.
    const quoted = await h.request("/v1/logout", {
      json: { acme: { sessionId: "quote-me-7f2a" } },
      headers: { prefer: "respond-async" },
      bearer: API_KEY,
    });
    const quotedJob = (await quoted.json()) as JobView;
    await settle();
    const seen = await h.request(`/v1/logout/${quotedJob.id}`, { bearer: API_KEY });
    const text = await seen.text();
    expect(JSON.parse(text)).toMatchObject({
      vendors: { acme: { lastError: { code: "VENDOR_ERROR", upstreamStatus: 503 } } },
    });
    expect(text).not.toContain("quote-me-7f2a");
    const logs = JSON.stringify(h.logs);
    expect(logs).not.toContain("quote-me-7f2a");
    expect(logs).not.toContain(ACME_API_KEY);
  });

  it("is delivered by the Durable Object outbox, whose job objects build the same vendors", async () => {
    const sim = createAcmeSimulator();
    sim.open("s-4");
    const vars = { ...ACME_ENV };
    const h: Harness = await createHarness({
      env: vars,
      vendors: WITH_ACME,
      wrapFetch: withAcme(sim),
      deps: {
        outbox: () =>
          new DurableObjectOutbox(env.LOGOUT_OUTBOX, env.OPEN_JOBS, loadConfig({}).outbox),
      },
    });
    configureOutboxObjects({
      env: h.env,
      fetch: withAcme(sim)(routerFor(h.sims, jwksAnswer)),
      vendors: WITH_ACME,
    });
    const accepted = await h.request("/v1/logout", {
      json: { acme: { sessionId: "s-4" } },
      headers: { prefer: "respond-async" },
      bearer: API_KEY,
    });
    expect(accepted.status).toBe(202);
    const job = (await accepted.json()) as JobView;
    const stub = env.LOGOUT_OUTBOX.get(env.LOGOUT_OUTBOX.idFromString(job.id));
    await runDurableObjectAlarm(stub);
    await stub.idle();
    const done = (await (
      await h.request(`/v1/logout/${job.id}`, { bearer: API_KEY })
    ).json()) as JobView;
    expect(done).toMatchObject({
      status: "delivered",
      vendors: { acme: { vendor: "acme", state: "delivered", alreadyLoggedOut: false } },
    });
    expect(sim.calls).toEqual([{ sessionId: "s-4", apiKey: ACME_API_KEY }]);
  });

  it("keeps its secret out of the log line when the vendor's answer quotes it, on its route and in a fan-out", async () => {
    const { h } = await acmeHarness();
    const own = await h.request("/v1/acme/logout", { json: { sessionId: "quote-me-1b9c" } });
    expect(own.status).toBe(503);
    const { token } = await h.sims.lancens.signIn();
    const fanOut = await h.request("/v1/logout", {
      json: {
        acme: { sessionId: "quote-me-2d4e" },
        lancens: { username: "lancens-user", token },
      },
    });
    expect(fanOut.status).toBe(207);
    const lines = h.logs.filter((line) => "status" in line);
    expect(lines.map((line) => line.code)).toEqual(["VENDOR_ERROR", undefined]);
    // The fan-out's line holds each vendor's figures, Acme's code among them.
    expect(lines[1]?.upstream).toMatchObject({
      acme: { code: "VENDOR_ERROR", upstreamStatus: 503 },
      lancens: { upstreamStatus: 200 },
    });
    const logs = JSON.stringify(h.logs);
    expect(logs).not.toContain("quote-me");
    expect(logs).not.toContain(ACME_API_KEY);
  });

  it("is refused when it says it keeps records but has no record step", async () => {
    const sim = createAcmeSimulator();
    sim.open("s-5");
    const h = await createHarness({
      env: ACME_ENV,
      vendors: [...WITH_ACME.slice(0, -1), { ...acme, records: true }],
      wrapFetch: withAcme(sim),
    });
    const response = await h.request("/v1/acme/logout", { json: { sessionId: "s-5" } });
    expect(response.status).toBe(500);
    expect(await response.json()).toMatchObject({ kind: "internal" });
    expect(sim.calls).toEqual([]);
  });

  it("declares its route once, with the app's shared logout route", () => {
    expect(acme.routes.map((route) => `${route.method} ${route.path}`)).toEqual([
      "POST /v1/acme/logout",
    ]);
  });
});
