// The Workers entry as deployed: wrangler.toml's bindings, static /docs assets, configuration errors.
import {
  createExecutionContext,
  runDurableObjectAlarm,
  runInDurableObject,
  waitOnExecutionContext,
} from "cloudflare:test";
import { env, exports } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { DurableObjectOutbox } from "../src/adapters/workers/outbox.ts";
import { loadConfig } from "../src/config.ts";
import worker, { type WorkerEnv } from "../src/entry/worker.ts";
import { allRoutes } from "../src/http/routes.ts";
import { createHarness, readProblem } from "./harness.ts";

const bindings: WorkerEnv = { ...env };

async function call(request: Request, overrides: Record<string, unknown>): Promise<Response> {
  const ctx = createExecutionContext();
  const incoming = request as Request<unknown, IncomingRequestCfProperties>;
  const response = await worker.fetch(incoming, { ...bindings, ...overrides }, ctx);
  await waitOnExecutionContext(ctx);
  return response;
}

describe("worker entry", () => {
  it("answers /healthz with wrangler.toml's vars (every vendor off)", async () => {
    const response = await exports.default.fetch("https://proxy.test/healthz");
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({
      status: "ok",
      vendors: { ebet: false, fungame: false, "sdk-auth": false, lancens: false },
    });
    expect(response.headers.get("x-request-id")).toBeTruthy();
  });

  it("answers a vendor route of a vendor that is off with the 404 problem", async () => {
    const response = await exports.default.fetch("https://proxy.test/v1/lancens/logout", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ username: "lancens-user", token: "t" }),
    });
    expect(await readProblem(response)).toMatchObject({
      status: 404,
      code: "VENDOR_NOT_CONFIGURED",
    });
  });

  it("serves /docs from the static assets binding, offline", async () => {
    const page = await exports.default.fetch("https://proxy.test/docs");
    expect(page.status).toBe(200);
    const html = await page.text();
    expect(html).toContain('<div id="swagger-ui">');
    for (const [, src] of html.matchAll(/(?:src|href)="([^"]+)"/g)) {
      expect(src?.startsWith("/"), `${src} is served by the proxy`).toBe(true);
    }
    const initializer = await exports.default.fetch(
      "https://proxy.test/docs/swagger-initializer.js",
    );
    expect(await initializer.text()).toContain('url: "/openapi.json"');
  });

  it("serves /openapi.json from the static assets: the document generated at build time, not in the script", async () => {
    // Built as wrangler.toml says, the routes carry no docs here: only the static file has them.
    expect(globalThis.__EDGE_PROXY_DOCS__).toBe(false);
    expect(allRoutes().map((route) => route.doc)).toEqual(allRoutes().map(() => undefined));
    const response = await exports.default.fetch("https://proxy.test/openapi.json");
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toBe("application/json; charset=utf-8");
    const document = (await response.json()) as { openapi: string; paths: object };
    expect(document).toMatchObject({ openapi: "3.1.0", info: { title: "Edge logout proxy" } });
    expect(Object.keys(document.paths)).toEqual(
      expect.arrayContaining(["/healthz", "/openapi.json", "/docs"]),
    );
  });

  it("answers 404 OPENAPI_NOT_AVAILABLE when neither the document nor the file is there", async () => {
    const h = await createHarness({ deps: { openApi: undefined } });
    expect(await readProblem(await h.request("/openapi.json"))).toMatchObject({
      status: 404,
      code: "OPENAPI_NOT_AVAILABLE",
    });
    const empty = await createHarness({
      deps: { openApi: undefined, assets: async () => undefined },
    });
    expect((await empty.request("/openapi.json")).status).toBe(404);
  });

  it("refuses to start without REPLAY_GUARD: an isolate's own memory would let a replay through on every other one", async () => {
    const response = await call(new Request("https://proxy.test/healthz"), {
      REPLAY_GUARD: undefined,
    });
    const problem = await readProblem(response);
    expect(problem).toMatchObject({ status: 500, kind: "misconfigured", code: "CONFIG_INVALID" });
    expect(problem.errors).toEqual([
      expect.objectContaining({
        field: "REPLAY_GUARD",
        message: expect.stringMatching(/required/),
      }),
    ]);
  });

  it("answers every request with a 500 problem naming the invalid variables, never their values", async () => {
    const response = await call(new Request("https://proxy.test/healthz"), {
      UPSTREAM_TIMEOUT_MS: "soon",
      PROXY_JWT_SECRET: "leaky",
      PROXY_JWKS_URL: "https://id.example/jwks",
      PROXY_JWT_ISSUER: "https://id.example",
      PROXY_JWT_AUDIENCE: "edge-proxy",
    });
    const problem = await readProblem(response);
    expect(problem).toMatchObject({ status: 500, kind: "misconfigured", code: "CONFIG_INVALID" });
    expect(problem.errors).toHaveLength(2);
    expect(problem.errors).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ field: "PROXY_JWT_SECRET" }),
        expect.objectContaining({ field: "UPSTREAM_TIMEOUT_MS" }),
      ]),
    );
    expect(JSON.stringify(problem)).not.toContain("leaky");
  });

  it("refuses open-job caps its 16 counter shards cannot hold: LOGOUT_MAX_OPEN_JOBS below 16 × the per-caller cap", async () => {
    const healthz = () => new Request("https://proxy.test/healthz");
    const refused: Record<string, string>[] = [
      { LOGOUT_MAX_OPEN_JOBS: "15" },
      { LOGOUT_MAX_OPEN_JOBS: "1599" },
      { LOGOUT_MAX_OPEN_JOBS: "159", LOGOUT_MAX_OPEN_JOBS_PER_CALLER: "10" },
      { LOGOUT_MAX_OPEN_JOBS: "10000", LOGOUT_MAX_OPEN_JOBS_PER_CALLER: "626" },
    ];
    for (const vars of refused) {
      const problem = await readProblem(await call(healthz(), vars));
      expect(problem, JSON.stringify(vars)).toMatchObject({ status: 500, code: "CONFIG_INVALID" });
      expect(problem.errors).toEqual([
        {
          field: "LOGOUT_MAX_OPEN_JOBS",
          message: expect.stringContaining("16 × LOGOUT_MAX_OPEN_JOBS_PER_CALLER"),
        },
      ]);
    }
    // With the trusted proxies refused too, both are named at once.
    const both = await readProblem(
      await call(healthz(), { LOGOUT_MAX_OPEN_JOBS: "15", PROXY_TRUSTED_PROXIES: "10.0.0.0/8" }),
    );
    expect((both.errors as { field: string }[]).map((e) => e.field).sort()).toEqual([
      "LOGOUT_MAX_OPEN_JOBS",
      "PROXY_TRUSTED_PROXIES",
    ]);
    for (const vars of [
      { LOGOUT_MAX_OPEN_JOBS: "1600" },
      { LOGOUT_MAX_OPEN_JOBS: "160", LOGOUT_MAX_OPEN_JOBS_PER_CALLER: "10" },
      { LOGOUT_MAX_OPEN_JOBS: "16", LOGOUT_MAX_OPEN_JOBS_PER_CALLER: "1" },
    ]) {
      expect((await call(healthz(), vars)).status, JSON.stringify(vars)).toBe(200);
    }
    // Without the outbox there are no shards, and no such cap to check.
    const noOutbox = await call(healthz(), {
      LOGOUT_OUTBOX: undefined,
      LOGOUT_MAX_OPEN_JOBS: "15",
    });
    expect(noOutbox.status).toBe(200);
    // The outbox itself refuses such caps, naming the variable.
    expect(
      () =>
        new DurableObjectOutbox(
          env.LOGOUT_OUTBOX,
          env.OPEN_JOBS,
          loadConfig({ LOGOUT_MAX_OPEN_JOBS: "16", LOGOUT_MAX_OPEN_JOBS_PER_CALLER: "2" }).outbox,
        ),
    ).toThrow(/LOGOUT_MAX_OPEN_JOBS: must be at least 32/);
  });

  it("keeps one app per env and builds a new one when the env changes", async () => {
    const first = await call(new Request("https://proxy.test/healthz"), {});
    expect(first.status).toBe(200);
    const withLancens = await call(new Request("https://proxy.test/healthz"), {
      LANCENS_BASE_URL: "https://lancens.example:6443",
    });
    expect(
      ((await withLancens.json()) as { vendors: Record<string, boolean> }).vendors.lancens,
    ).toBe(true);
  });
  it("is built without universal logout by default: its routes are not in the script, its variables are refused by name", async () => {
    expect(globalThis.__EDGE_PROXY_UNIVERSAL_LOGOUT__).toBe(false);
    const paths = allRoutes().map((route) => route.path);
    for (const path of ["/v1/sessions", "/v1/backchannel-logout", "/v1/global-token-revocation"]) {
      expect(paths).not.toContain(path);
    }
    const absent = await exports.default.fetch("https://proxy.test/v1/backchannel-logout", {
      method: "POST",
    });
    // The proxy's 404 for a path it does not serve, not universal logout's own "off".
    expect(await readProblem(absent)).toMatchObject({ status: 404, code: "ROUTE_NOT_FOUND" });
    const response = await call(new Request("https://proxy.test/healthz"), {
      PROXY_API_KEY_SHA256: "ab".repeat(32),
      UNIVERSAL_LOGOUT_GTR: '[{"issuer":"https://idp.example","bearerSha256":"secret-looking"}]',
    });
    const problem = await readProblem(response);
    expect(problem).toMatchObject({ status: 500, code: "CONFIG_INVALID" });
    expect(problem.errors).toEqual([
      {
        field: "UNIVERSAL_LOGOUT_GTR",
        message: "needs the script of npm run deploy:universal-logout",
      },
    ]);
    expect(JSON.stringify(problem)).not.toContain("secret-looking");
    // The registry's binding names a class with nothing of the registry in it: no registration
    // can be stored. An alarm a universal-logout build set is moved on a day, for that build's
    // own alarm to delete expired rows once it is back.
    const stub = env.SESSION_REGISTRY.get(env.SESSION_REGISTRY.idFromName("any"));
    const methods = await runInDurableObject(stub, (object: object) =>
      Object.getOwnPropertyNames(Object.getPrototypeOf(Object.getPrototypeOf(object))),
    );
    expect(methods.sort()).toEqual(["alarm", "constructor"]);
    // An hour ahead, so that it waits for the test rather than firing by itself.
    await runInDurableObject(stub, (_object, state) =>
      state.storage.setAlarm(Date.now() + 3_600_000),
    );
    const before = Date.now();
    expect(await runDurableObjectAlarm(stub)).toBe(true);
    const next = await runInDurableObject(stub, (_object, state) => state.storage.getAlarm());
    expect(next).toBeGreaterThanOrEqual(before + 86_400_000);
  });
});
