// Bad input on every route: 413 over the body limit, 415 for a body not sent as JSON, 400 naming
// each unknown member or query parameter, and 400 naming each value that would carry CR/LF or
// another control character into an upstream header. No vendor is called for any of them.
import { describe, expect, it } from "vitest";
import { MAX_BODY_BYTES } from "../src/body.ts";
import { API_KEY, createHarness, DEVICE, type Harness, readProblem } from "./harness.ts";

interface BodyRoute {
  path: string;
  bearer?: string;
  valid: Record<string, unknown>;
  /** Field paths of values that travel as upstream headers. */
  headerFields: string[];
}

const BODY_ROUTES: BodyRoute[] = [
  { path: "/v1/ebet/logout", bearer: API_KEY, valid: { username: "demo" }, headerFields: [] },
  {
    path: "/v1/ebet/callback",
    bearer: API_KEY,
    valid: { username: "demo", accessToken: "584c26e798deffc96cc7af073c184cd0" },
    headerFields: ["accessToken"],
  },
  {
    path: "/v1/sdk-auth/logout",
    valid: { sessionToken: "s3ss10n", device: { ...DEVICE, ip: "10.0.0.1", language: "en" } },
    headerFields: [
      "sessionToken",
      "device.osVersion",
      "device.fingerprint",
      "device.agent",
      "device.ip",
      "device.language",
    ],
  },
  {
    path: "/v1/lancens/logout",
    valid: { username: "lancens-user", token: "t0ken" },
    headerFields: ["token"],
  },
  {
    path: "/v1/logout",
    valid: {
      fungame: { token: "a.b.c" },
      sdkAuth: { sessionToken: "s3ss10n", device: DEVICE },
      lancens: { username: "lancens-user", token: "t0ken" },
    },
    headerFields: [
      "fungame.token",
      "sdkAuth.sessionToken",
      "sdkAuth.device.agent",
      "sdkAuth.device.fingerprint",
      "sdkAuth.device.osVersion",
      "lancens.token",
    ],
  },
];

/** Every route the API serves, with a request that is fine but for what each test breaks. */
const GET_ROUTES = [
  { path: "/v1/fungame/token-status", bearer: "a.b.c" },
  { path: `/v1/logout/${"0".repeat(64)}`, bearer: API_KEY },
];

function post(h: Harness, route: BodyRoute, body: string | ReadableStream, type?: string) {
  const headers: Record<string, string> = {};
  if (type !== undefined) headers["content-type"] = type;
  if (route.bearer !== undefined) headers.authorization = `Bearer ${route.bearer}`;
  return h.app.request(route.path, {
    method: "POST",
    headers,
    body,
    ...(typeof body === "string" ? {} : { duplex: "half" }),
  } as RequestInit);
}

/** Sets the value at a dot path of a copy of `body`. */
function withValue(body: Record<string, unknown>, path: string, value: unknown) {
  const copy = structuredClone(body);
  const keys = path.split(".");
  let target = copy;
  for (const key of keys.slice(0, -1)) target = target[key] as Record<string, unknown>;
  target[keys.at(-1) as string] = value;
  return copy;
}

function streamOf(text: string): ReadableStream<Uint8Array> {
  const bytes = new TextEncoder().encode(text);
  return new ReadableStream({
    start(controller) {
      for (let i = 0; i < bytes.length; i += 4096) controller.enqueue(bytes.slice(i, i + 4096));
      controller.close();
    },
  });
}

describe("bodies on every route", () => {
  for (const route of BODY_ROUTES) {
    describe(route.path, () => {
      it("413 over the limit, declared or streamed", async () => {
        const h = await createHarness();
        const big = JSON.stringify({ ...route.valid, pad: "x".repeat(MAX_BODY_BYTES) });
        for (const body of [big, streamOf(big)]) {
          const problem = await readProblem(await post(h, route, body, "application/json"));
          expect(problem).toMatchObject({ status: 413, code: "BODY_TOO_LARGE" });
        }
        expect(h.upstreamRequests).toHaveLength(0);
      });

      it("415 for a body sent as another type or without a type", async () => {
        const h = await createHarness();
        const text = JSON.stringify(route.valid);
        for (const type of ["text/plain", "application/x-www-form-urlencoded", "", undefined]) {
          const response = await post(h, route, text, type);
          expect(response.headers.get("accept-post")).toBe("application/json");
          expect(await readProblem(response), String(type)).toMatchObject({
            status: 415,
            code: "UNSUPPORTED_MEDIA_TYPE",
          });
        }
        expect(h.upstreamRequests).toHaveLength(0);
      });

      it("400 naming every unknown member, at the top and nested", async () => {
        const h = await createHarness();
        const body = { ...route.valid, extra: 1, "second one": true };
        const problem = await readProblem(
          await post(h, route, JSON.stringify(body), "application/json"),
        );
        expect(problem).toMatchObject({ status: 400, code: "INVALID_FIELD", field: "extra" });
        expect(problem.errors).toEqual(
          expect.arrayContaining([
            { field: "extra", message: "is not a known member" },
            { field: "second one", message: "is not a known member" },
          ]),
        );
        const nestedPath = Object.entries(route.valid).find(
          ([, value]) => typeof value === "object" && value !== null,
        )?.[0];
        if (nestedPath !== undefined) {
          const nested = withValue(route.valid, `${nestedPath}.colour`, "blue");
          const deep = await readProblem(
            await post(h, route, JSON.stringify(nested), "application/json"),
          );
          expect(deep).toMatchObject({ status: 400, field: `${nestedPath}.colour` });
        }
        expect(h.upstreamRequests).toHaveLength(0);
      });

      for (const field of route.headerFields) {
        it(`400 naming ${field} when it holds CR, LF, NUL or another control character`, async () => {
          const h = await createHarness();
          for (const bad of [
            "a\r\nX-Injected: 1",
            "a\nb",
            "a\rb",
            "a\u0000b",
            "a\u0007b",
            "a\tb",
          ]) {
            const body = withValue(route.valid, field, bad);
            const response = await post(h, route, JSON.stringify(body), "application/json");
            const problem = await readProblem(response);
            expect(problem, JSON.stringify(bad)).toMatchObject({
              status: 400,
              code: "INVALID_FIELD",
              field,
            });
            expect(String(problem.detail)).toMatch(/CR or LF|control characters/);
          }
          expect(h.upstreamRequests).toHaveLength(0);
        });
      }
    });
  }

  describe("/v1/fungame/logout (takes no body)", () => {
    const route: BodyRoute = { path: "/v1/fungame/logout", valid: {}, headerFields: [] };

    it("accepts no body, an empty body and {}", async () => {
      const h = await createHarness();
      for (const body of ["", "{}", " "]) {
        const token = await h.sims.fungame.login("alice");
        const response = await post(
          h,
          { ...route, bearer: token },
          body,
          body === "" ? undefined : "application/json",
        );
        expect(response.status, JSON.stringify(body)).toBe(200);
      }
    });

    it("refuses members by name (400), other types (415) and big bodies (413)", async () => {
      const h = await createHarness();
      const token = await h.sims.fungame.login("alice");
      const as = { ...route, bearer: token };
      const members = await readProblem(await post(h, as, '{"token":"x"}', "application/json"));
      expect(members).toMatchObject({ status: 400, field: "token" });
      const text = await readProblem(await post(h, as, "token=x", "text/plain"));
      expect(text).toMatchObject({ status: 415 });
      const big = await readProblem(
        await post(h, as, `{"a":"${"x".repeat(MAX_BODY_BYTES)}"}`, "application/json"),
      );
      expect(big).toMatchObject({ status: 413 });
      expect(h.sims.fungame.calls.filter((call) => call.path === "/user/logout")).toHaveLength(0);
    });

    it("400 naming Authorization when the token holds a control character", async () => {
      const h = await createHarness();
      for (const path of ["/v1/fungame/logout", "/v1/fungame/token-status"]) {
        const response = await h.app.request(path, {
          method: path.endsWith("logout") ? "POST" : "GET",
          headers: { authorization: "Bearer a.b\u0001.c" },
        });
        expect(await readProblem(response), path).toMatchObject({
          status: 400,
          code: "INVALID_HEADER",
          field: "Authorization",
        });
      }
      expect(h.upstreamRequests).toHaveLength(0);
    });
  });
});

describe("query parameters", () => {
  it("are refused by name on every API route, GET and POST", async () => {
    const h = await createHarness();
    const routes = [
      ...GET_ROUTES.map((route) => ({ ...route, method: "GET" })),
      ...BODY_ROUTES.map((route) => ({ ...route, method: "POST" })),
      { path: "/v1/fungame/logout", bearer: "a.b.c", method: "POST" },
    ];
    for (const route of routes) {
      const response = await h.app.request(`${route.path}?verbose=1&token=secret-value&token=2`, {
        method: route.method,
        headers: { authorization: `Bearer ${route.bearer}`, "content-type": "application/json" },
        ...(route.method === "POST"
          ? { body: JSON.stringify("valid" in route ? route.valid : {}) }
          : {}),
      });
      const problem = await readProblem(response);
      expect(problem, route.path).toMatchObject({
        status: 400,
        code: "INVALID_FIELD",
        field: "query.verbose",
      });
      expect(problem.errors).toEqual([
        { field: "query.verbose", message: "is not a known query parameter" },
        { field: "query.token", message: "is not a known query parameter" },
      ]);
      expect(JSON.stringify(problem)).not.toContain("secret-value");
    }
    expect(h.upstreamRequests).toHaveLength(0);
    // Operations routes are not API routes: a cache-busting query is harmless there.
    expect((await h.app.request("/healthz?probe=1")).status).toBe(200);
  });
});
