// The generated OpenAPI document: valid OpenAPI 3.1 for two independent validators, and true to the routes.
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { build } from "esbuild";
import { Hono } from "hono";
import * as v from "valibot";
import { describe, expect, it } from "vitest";
import { MemoryDenyList } from "../src/adapters/memory/deny-list.ts";
import { MemoryReplayGuard } from "../src/adapters/memory/replay-guard.ts";
import { createApp } from "../src/app.ts";
import { loadConfig } from "../src/config.ts";
import type { ProxyEnv, RouteContext } from "../src/context.ts";
import type { RouteDecl, RouteDoc } from "../src/http/route.ts";
import { allRoutes, documentInfo } from "../src/http/routes.ts";
import { documentOf, generateOpenApi, type OpenApiDocument } from "../src/openapi/generate.ts";
import {
  buildProblem,
  KIND_STATUS,
  PROBLEM_KINDS,
  problemResponse,
  toProblemInit,
} from "../src/problem.ts";
import { operationsRoutes } from "../src/routes/operations.ts";
import { findings } from "./openapi-validators.ts";

const APP = join(import.meta.dirname, "..");

const ok = (description: string) => ({ description });

/** A route that is never called: these tests read only its declaration. */
function declared(method: "GET" | "POST", path: string, doc: RouteDoc): RouteDecl {
  return { method, path, doc, handle: () => new Response(null, { status: 500 }) };
}

const text = (min: number, max: number) =>
  v.pipe(v.string(), v.minLength(min, "too short"), v.maxLength(max, "too long"));

/** A header-bound value, as vendor bodies have them: its checks are functions no schema shows. */
const headerValue = (max: number) =>
  v.pipe(
    text(1, max),
    v.check((value) => !/[\r\n]/.test(value), "must not contain CR or LF"),
  );

const PlayerBody = v.strictObject({
  username: text(1, 64),
  token: headerValue(4096),
  region: v.picklist(["eu", "us", "apac"]),
  code: v.pipe(v.string(), v.regex(/^[A-Z]{3}-\d{4}$/, "is not a code")),
  level: v.optional(v.pipe(v.number(), v.integer(), v.minValue(0), v.maxValue(99))),
  nickname: v.optional(v.pipe(v.string(), v.trim(), v.maxLength(32))),
});

const PlayerSuccess = v.object({ vendor: v.literal("acme"), ok: v.literal(true) });

const FanOutBody = v.pipe(
  v.strictObject({ acme: v.optional(PlayerBody) }),
  v.rawCheck(({ dataset, addIssue }) => {
    if (dataset.typed && Object.keys(dataset.value).length === 0) addIssue({ message: "empty" });
  }),
);

const JobAnswer = v.object({ id: v.pipe(v.string(), v.regex(/^[0-9a-f]{64}$/)) });

const ROUTES: readonly RouteDecl[] = [
  declared("POST", "/v1/acme/logout", {
    operationId: "acmeLogout",
    tag: "acme",
    summary: "Log a player out of Acme",
    security: "caller",
    body: {
      schema: PlayerBody,
      example: { username: "player01", token: "t0k", region: "eu", code: "ABC-1234" },
    },
    answers: { 200: { description: "Done.", schema: PlayerSuccess } },
    problems: [401, 403, 404, 413, 415, 429, 500, 502, 503],
  }),
  declared("GET", "/v1/acme/token-status", {
    operationId: "acmeTokenStatus",
    tag: "acme",
    summary: "Whether an Acme token is usable",
    security: "vendor-token",
    tokenFormat: "JWT",
    answers: { 200: { description: "The status.", schema: v.object({ active: v.boolean() }) } },
    problems: [401, 429],
  }),
  declared("POST", "/v1/logout", {
    operationId: "logoutEverywhere",
    tag: "fan-out",
    summary: "Several vendors",
    security: "caller-optional",
    body: { schema: FanOutBody },
    headers: { Prefer: { description: "respond-async asks for a 202.", example: "respond-async" } },
    answers: {
      200: { description: "All done.", schema: JobAnswer },
      202: { description: "Accepted.", schema: JobAnswer, headers: { Location: "The job." } },
    },
    problems: [401, 429, 503],
  }),
  declared("GET", "/v1/logout/:id", {
    operationId: "logoutJob",
    tag: "fan-out",
    summary: "A job",
    security: "caller-optional",
    params: {
      id: { description: "The job id.", schema: v.pipe(v.string(), v.regex(/^[0-9a-f]{64}$/)) },
    },
    answers: { 200: { description: "The job.", schema: JobAnswer } },
    problems: [404, 429],
  }),
  ...operationsRoutes,
];

const INFO = { vendors: { acme: "Acme Games" } };

const generated = () => generateOpenApi(ROUTES, INFO);

/** The JSON Schema a body property became. */
function propertyOf(document: OpenApiDocument, schema: string, property: string) {
  return document.components.schemas[schema]?.properties?.[property];
}

describe("the validators", () => {
  it("pass the document the build wrote (public/openapi.json), which is the declared routes' document", async () => {
    const written = await readFile(join(APP, "public", "openapi.json"), "utf8").catch(() => "");
    expect(written, "public/openapi.json: run npm run build").toBe(
      documentOf(allRoutes(), documentInfo()),
    );
    expect(await findings(JSON.parse(written))).toEqual([]);
  });

  it("pass the document generated from vendor, fan-out and operations routes", async () => {
    expect(await findings(generated())).toEqual([]);
  });

  it("refuse what OpenAPI 3.1 refuses: a schema of JSON Schema 2020-12 that is not one, a dangling $ref, an undeclared path parameter", async () => {
    const badSchema = generated();
    const health = badSchema.components.schemas.HealthAnswer;
    expect(health).toBeDefined();
    Object.assign(health ?? {}, { type: "record", minLength: -1 });
    expect(await findings(badSchema)).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^schema-base: #\/components\/schemas\/HealthAnswer\/type /),
        expect.stringMatching(/^schema-base: #\/components\/schemas\/HealthAnswer\/minLength /),
      ]),
    );

    const dangling = generated();
    dangling.components.schemas.PlayerBodyGone = { $ref: "#/components/schemas/Nowhere" };
    expect(await findings(dangling)).toEqual([
      expect.stringMatching(/^parser: .*#\/components\/schemas\/Nowhere/),
    ]);

    const undeclared = generated();
    const job = undeclared.paths["/v1/logout/{id}"]?.get;
    expect(job).toBeDefined();
    job?.parameters.splice(1);
    expect(await findings(undeclared)).toEqual([
      expect.stringMatching(/^parser: .*missing path parameter.*\{id\}/),
    ]);
  });
});

describe("the limits of the schemas reach the document", () => {
  it("minLength, maxLength, pattern, enum, minimum, maximum and integer of a body", () => {
    const document = generated();
    expect(propertyOf(document, "AcmeLogoutRequest", "username")).toEqual({
      type: "string",
      minLength: 1,
      maxLength: 64,
    });
    expect(propertyOf(document, "AcmeLogoutRequest", "region")).toEqual({
      type: "string",
      enum: ["eu", "us", "apac"],
    });
    expect(propertyOf(document, "AcmeLogoutRequest", "code")).toEqual({
      type: "string",
      pattern: "^[A-Z]{3}-\\d{4}$",
    });
    expect(propertyOf(document, "AcmeLogoutRequest", "level")).toEqual({
      type: "integer",
      minimum: 0,
      maximum: 99,
    });
    const body = document.components.schemas.AcmeLogoutRequest;
    expect(body?.required).toEqual(["username", "token", "region", "code"]);
    expect(body?.additionalProperties).toBe(false);
  });

  it("a check or a trim keeps the limits around it and is described", () => {
    const document = generated();
    expect(propertyOf(document, "AcmeLogoutRequest", "token")).toEqual({
      type: "string",
      minLength: 1,
      maxLength: 4096,
      description: "must not contain CR or LF",
    });
    // The caller sends the untrimmed nickname: its maxLength applies after the proxy trims it.
    expect(propertyOf(document, "AcmeLogoutRequest", "nickname")).toEqual({
      type: "string",
      maxLength: 32,
      description: "trimmed before the limits that follow",
    });
    const fanOut = document.components.schemas.LogoutEverywhereRequest;
    expect(fanOut?.description).toBe("is checked beyond this schema");
  });

  it("a path parameter's pattern, and a named body inside another is a reference", () => {
    const document = generated();
    const job = document.paths["/v1/logout/{id}"]?.get;
    expect(job?.parameters[1]).toEqual({
      name: "id",
      in: "path",
      required: true,
      description: "The job id.",
      schema: { type: "string", pattern: "^[0-9a-f]{64}$" },
    });
    expect(propertyOf(document, "LogoutEverywhereRequest", "acme")).toEqual({
      $ref: "#/components/schemas/AcmeLogoutRequest",
    });
    // One schema answering two statuses is one component.
    const post = document.paths["/v1/logout"]?.post;
    const schemaOf = (status: string) =>
      (post?.responses[status] as { content?: Record<string, { schema: unknown }> })?.content?.[
        "application/json"
      ]?.schema;
    expect(schemaOf("200")).toEqual({ $ref: "#/components/schemas/LogoutEverywhereAnswer" });
    expect(schemaOf("202")).toEqual({ $ref: "#/components/schemas/LogoutEverywhereAnswer" });
  });

  it("every schema is of the document's dialect: no $schema of its own", () => {
    expect(JSON.stringify(generated())).not.toContain('"$schema"');
  });
});

describe("routes become operations", () => {
  it("paths, security, tags and parameters", () => {
    const document = generated();
    expect(Object.keys(document.paths)).toEqual([
      "/v1/acme/logout",
      "/v1/acme/token-status",
      "/v1/logout",
      "/v1/logout/{id}",
      "/healthz",
      "/openapi.json",
      "/docs",
      "/docs/{file}",
    ]);
    expect(document.paths["/v1/acme/logout"]?.post?.security).toEqual([{ callerAuth: [] }]);
    expect(document.paths["/v1/acme/token-status"]?.get?.security).toEqual([
      { acmeGamesToken: [] },
    ]);
    expect(document.paths["/v1/logout"]?.post?.security).toEqual([{}, { callerAuth: [] }]);
    expect(document.paths["/healthz"]?.get?.security).toEqual([]);
    expect(document.components.securitySchemes).toEqual({
      callerAuth: expect.objectContaining({ type: "http", scheme: "bearer" }),
      acmeGamesToken: {
        type: "http",
        scheme: "bearer",
        bearerFormat: "JWT",
        description: "The caller's own Acme Games token.",
      },
    });
    expect(document.tags).toEqual([
      { name: "acme", description: "Acme Games" },
      { name: "fan-out", description: "Several vendors in one call." },
      { name: "operations", description: "Health, this document, the reference page." },
    ]);
    expect(document.info.description).toContain("in front of Acme Games.");
    expect(document.paths["/v1/logout"]?.post?.parameters).toEqual([
      { $ref: "#/components/parameters/RequestId" },
      {
        name: "Prefer",
        in: "header",
        required: false,
        description: "respond-async asks for a 202.",
        schema: { type: "string" },
        example: "respond-async",
      },
    ]);
  });

  it("problems: every route may refuse X-Request-Id; one response per status, described by its kinds", () => {
    const document = generated();
    for (const item of Object.values(document.paths)) {
      for (const operation of Object.values(item)) {
        expect(operation.responses["400"]).toEqual({ $ref: "#/components/responses/Problem400" });
      }
    }
    expect(Object.keys(document.paths["/v1/acme/token-status"]?.get?.responses ?? {})).toEqual([
      "200",
      "400",
      "401",
      "429",
    ]);
    const responses = document.components.responses;
    expect(responses.Problem500?.description).toBe(
      "Proxy misconfigured (misconfigured), Internal error (internal).",
    );
    expect(responses.Problem413?.description).toContain("over 16 KiB");
    expect(Object.keys(responses.Problem429?.headers ?? {})).toEqual([
      "X-Request-Id",
      "Retry-After",
      "RateLimit",
      "RateLimit-Policy",
    ]);
    expect(Object.keys(responses.Problem401?.headers ?? {})).toContain("WWW-Authenticate");
    expect(responses.Problem503?.content).toEqual({
      "application/problem+json": { schema: { $ref: "#/components/schemas/Problem" } },
    });
    const problem = document.components.schemas.Problem;
    expect(problem?.properties?.kind).toMatchObject({ enum: [...PROBLEM_KINDS] });
    expect(problem?.properties?.status).toMatchObject({
      enum: [...new Set(Object.values(KIND_STATUS))].sort((a, b) => a - b),
    });
    expect(problem?.properties?.vendor).toEqual({
      anyOf: [{ type: "string", enum: ["acme"] }, { type: "null" }],
    });
  });

  it("the documented X-Request-Id pattern is the one the app applies", async () => {
    const app = createApp(loadConfig({}), {
      denyList: new MemoryDenyList(),
      replayGuard: new MemoryReplayGuard(),
      log: () => {},
    });
    const parameter = generated().components.parameters.RequestId;
    const pattern = new RegExp(parameter?.schema.pattern ?? "^$");
    const ids = ["trace-42.a:b", "a/b+c=d", "has space", "-lead", "x".repeat(128), "x".repeat(129)];
    const refused: string[] = [];
    for (const id of ids) {
      const response = await app.request("/healthz", { headers: { "x-request-id": id } });
      if (response.status === 400) refused.push(id);
    }
    expect(refused).toEqual(ids.filter((id) => !pattern.test(id)));
    expect(refused).toEqual(["has space", "-lead", "x".repeat(129)]);
  });
});

describe("the generator refuses what it cannot document, naming the route", () => {
  const doc: RouteDoc = {
    operationId: "probe",
    tag: "operations",
    summary: "A probe",
    security: "none",
    answers: { 200: ok("Up.") },
    problems: [],
  };
  const refusal =
    (route: RouteDecl, routes: RouteDecl[] = []) =>
    () =>
      generateOpenApi([...routes, route], INFO);

  it("a path parameter without its declaration, and one the path has not", () => {
    expect(refusal(declared("GET", "/v1/jobs/:id", doc))).toThrow(
      "route /v1/jobs/:id: the path parameter :id has no entry in doc.params",
    );
    const params = { job: { description: "A job.", schema: v.string() } };
    expect(refusal(declared("GET", "/v1/jobs", { ...doc, params }))).toThrow(
      "route /v1/jobs: doc.params names job, which the path has not",
    );
  });

  it("a header the generator documents itself, or OpenAPI ignores as a parameter", () => {
    for (const name of ["Authorization", "X-Request-Id", "content-type"]) {
      const headers = { [name]: { description: "Again." } };
      expect(refusal(declared("GET", "/v1/probe", { ...doc, headers }))).toThrow(
        `GET /v1/probe: ${name} is documented by the generator, not per route`,
      );
    }
  });

  it("an example its own schema refuses", () => {
    const body = {
      schema: PlayerBody,
      example: { username: "", token: "t", region: "eu", code: "ABC-1234" },
    };
    expect(refusal(declared("POST", "/v1/probe", { ...doc, body }))).toThrow(
      "POST /v1/probe body: the example is refused at username: too short",
    );
  });

  it("an answer with a transform and no schema of its output", () => {
    const schema = v.pipe(
      v.string(),
      v.transform((value) => value.length),
    );
    const answers = { 200: { description: "Up.", schema } };
    expect(refusal(declared("GET", "/v1/probe", { ...doc, answers }))).toThrow(
      'GET /v1/probe 200: The "transform" action cannot be converted to JSON Schema.',
    );
  });

  it("a status no problem kind has, or one that is both an answer and a problem", () => {
    expect(refusal(declared("GET", "/v1/probe", { ...doc, problems: [418] }))).toThrow(
      "GET /v1/probe: no problem kind has status 418",
    );
    expect(refusal(declared("GET", "/v1/probe", { ...doc, problems: [200] }))).toThrow(
      "GET /v1/probe: no problem kind has status 200",
    );
    const answers = { 200: ok("Up."), 404: ok("Gone.") };
    expect(refusal(declared("GET", "/v1/probe", { ...doc, answers, problems: [404] }))).toThrow(
      "GET /v1/probe: 404 is both an answer and a problem",
    );
  });

  it("a taken operationId, a route declared twice, a tag of no vendor, a route without docs", () => {
    const first = declared("GET", "/v1/a", doc);
    expect(refusal(declared("GET", "/v1/b", doc), [first])).toThrow(
      "GET /v1/b: operationId probe is taken",
    );
    expect(refusal(declared("GET", "/v1/a", { ...doc, operationId: "other" }), [first])).toThrow(
      "GET /v1/a is declared twice",
    );
    expect(refusal(declared("GET", "/v1/c", { ...doc, tag: "nobody" }))).toThrow(
      "GET /v1/c: tag nobody is no vendor's (info.vendors)",
    );
    expect(refusal({ ...first, doc: undefined })).toThrow("GET /v1/a: no documentation");
  });
});

describe("the operations routes", () => {
  /** The operations routes in a Hono app of their own, with a context of what they read. */
  function serve(ops: {
    configured?: Readonly<Record<string, boolean>>;
    assets: RouteContext["assets"];
    openApi: RouteContext["openApi"];
  }) {
    const begun: string[] = [];
    const thrown: string[] = [];
    const configured = ops.configured ?? {};
    const ctx = {
      begin: (_c: unknown, route: string) => begun.push(route),
      vendors: Object.keys(configured).map((name) => ({ name })),
      configured: (name: string) => configured[name] === true,
      assets: ops.assets,
      openApi: ops.openApi,
    };
    const app = new Hono<ProxyEnv>();
    for (const route of operationsRoutes) {
      app.on(route.method, route.path, (c) => route.handle(c, ctx as unknown as RouteContext));
    }
    app.onError((error) => {
      thrown.push(String(error));
      return problemResponse(buildProblem(toProblemInit(error), "test-id"));
    });
    return { app, begun, thrown };
  }

  const assets = async (request: Request) => {
    const { pathname } = new URL(request.url);
    if (pathname === "/docs/index.html") return new Response("<html>docs</html>");
    if (pathname === "/openapi.json") return new Response('{"openapi":"3.1.0"}');
    return new Response("missing", { status: 404 });
  };

  it("/healthz answers the context's vendors", async () => {
    const vendors = { acme: true, other: false };
    const { app, begun } = serve({ configured: vendors, assets: undefined, openApi: undefined });
    const response = await app.request("/healthz");
    expect(await response.json()).toEqual({ status: "ok", vendors });
    expect(begun).toEqual(["/healthz"]);
  });

  it("/openapi.json: the context's document, else the static file, else a 404 problem", async () => {
    const given = serve({ assets, openApi: { openapi: "given" } });
    expect(await (await given.app.request("/openapi.json")).json()).toEqual({ openapi: "given" });
    const file = serve({ assets, openApi: undefined });
    const served = await file.app.request("/openapi.json");
    expect(served.headers.get("content-type")).toBe("application/json; charset=utf-8");
    expect(await served.json()).toEqual({ openapi: "3.1.0" });
    const none = serve({ assets: undefined, openApi: undefined });
    const missing = await none.app.request("/openapi.json");
    expect(missing.status).toBe(404);
    expect(await missing.json()).toMatchObject({ code: "OPENAPI_NOT_AVAILABLE" });
  });

  it("/docs and /docs/ are the page, under a strict CSP; an unknown file or no assets is a 404 problem", async () => {
    const { app, begun } = serve({ assets, openApi: undefined });
    for (const path of ["/docs", "/docs/"]) {
      const page = await app.request(path);
      expect(await page.text()).toBe("<html>docs</html>");
      expect(page.headers.get("content-security-policy")).toContain("default-src 'self'");
      expect(page.headers.get("x-content-type-options")).toBe("nosniff");
    }
    expect(begun).toEqual(["/docs", "/docs"]);
    expect(await (await app.request("/docs/nope.js")).json()).toMatchObject({
      status: 404,
      code: "ASSET_NOT_FOUND",
      detail: "no such documentation file: /docs/nope.js",
    });
    const none = serve({ assets: undefined, openApi: undefined });
    expect(await (await none.app.request("/docs")).json()).toMatchObject({
      code: "DOCS_NOT_AVAILABLE",
    });
  });
});

describe("the Worker's script", () => {
  /** wrangler.toml's [define]: what the Worker's script is built with. */
  async function workerDefines(): Promise<Record<string, string>> {
    const toml = await readFile(join(APP, "wrangler.toml"), "utf8");
    const table = /^\[define\]\n((?:[^[\n].*\n|\n)*)/m.exec(toml)?.[1] ?? "";
    return Object.fromEntries(
      [...table.matchAll(/^"?([\w.]+)"? = "(.*)"$/gm)].map(([, name = "", value = ""]) => [
        name,
        value,
      ]),
    );
  }

  /** The Worker's entry and every declared route, bundled and minified as wrangler does. */
  async function bundle(define: Record<string, string>): Promise<string> {
    const result = await build({
      stdin: {
        contents: `export { default } from "./src/entry/worker.ts";
          export { allRoutes } from "./src/http/routes.ts";`,
        resolveDir: APP,
        loader: "ts",
      },
      bundle: true,
      write: false,
      format: "esm",
      platform: "neutral",
      mainFields: ["module", "main"],
      conditions: ["workerd", "worker", "browser"],
      external: ["cloudflare:*"],
      minify: true,
      define,
      logLevel: "silent",
    });
    return result.outputFiles[0]?.text ?? "";
  }

  it("has neither the route docs nor the generator: the document is a static file", async () => {
    const defines = await workerDefines();
    expect(defines).toEqual({
      "globalThis.__EDGE_PROXY_DOCS__": "false",
      "globalThis.__EDGE_PROXY_UNIVERSAL_LOGOUT__": "false",
    });
    const script = await bundle(defines);
    expect(script).toContain("OPENAPI_NOT_AVAILABLE");
    expect(script).not.toContain("Liveness and which vendors are configured");
    expect(script).not.toContain("Interactive API reference");
    expect(script).not.toContain("cannot be converted to JSON Schema");
    expect(script).not.toContain("the example is refused");
    // Built with the docs, the same script has them: the check above can fail.
    expect(await bundle({})).toContain("Liveness and which vendors are configured");
  });
});
