// Every request body and every header the proxy reads, fuzzed: the answer is a success or a problem
// document of the right shape (status from the kind table, never 500), never a throw or an
// `unexpected_error` log line.
import fc from "fast-check";
import { beforeAll, describe, expect, it } from "vitest";
import { MAX_BODY_BYTES } from "../src/body.ts";
import { KIND_STATUS, type ProblemKind } from "../src/problem.ts";
import { API_KEY, createHarness, DEVICE, type Harness, PROBLEM_MEMBERS } from "../test/harness.ts";
import { anyCodePoint, params } from "./runs.ts";

let h: Harness;

beforeAll(async () => {
  h = await createHarness();
});

const SUCCESS = new Set([200, 202, 207]);

/** Checks one answer; throws (failing the property) on anything but a success or a proper problem. */
async function expectAnswer(response: Response): Promise<void> {
  const type = response.headers.get("content-type") ?? "";
  const text = await response.text();
  const unexpected = h.logs.filter((line) => line.event === "unexpected_error");
  if (unexpected.length > 0)
    throw new Error(`unexpected_error logged: ${JSON.stringify(unexpected)}`);
  if (SUCCESS.has(response.status)) {
    if (!type.startsWith("application/json")) throw new Error(`success as ${type}`);
    JSON.parse(text);
    return;
  }
  if (type !== "application/problem+json") {
    throw new Error(`status ${response.status} answered as ${type}: ${text.slice(0, 200)}`);
  }
  const problem = JSON.parse(text) as Record<string, unknown>;
  for (const member of PROBLEM_MEMBERS) {
    if (!(member in problem)) throw new Error(`problem lacks ${member}: ${text.slice(0, 300)}`);
  }
  const kind = problem.kind as ProblemKind;
  if (KIND_STATUS[kind] !== response.status || problem.status !== response.status) {
    throw new Error(`status ${response.status} does not match kind ${kind}`);
  }
  if (response.status === 500) throw new Error(`500 answered: ${text.slice(0, 300)}`);
  if (problem.requestId !== response.headers.get("x-request-id")) {
    throw new Error("problem requestId differs from X-Request-Id");
  }
  if (text.includes("    at ")) throw new Error("stack trace in a problem");
}

/** Sends one request and checks the answer; the log is cleared first so each case stands alone. */
async function send(path: string, init: RequestInit): Promise<void> {
  h.logs.length = 0;
  let response: Response;
  try {
    response = await h.app.request(path, init);
  } catch (error) {
    throw new Error(`the app threw: ${String(error)}`);
  }
  await expectAnswer(response);
}

type Route = { path: string; bearer?: string; valid: Record<string, unknown> };

const BODY_ROUTES: Route[] = [
  { path: "/v1/ebet/logout", bearer: API_KEY, valid: { username: "demo" } },
  {
    path: "/v1/ebet/callback",
    bearer: API_KEY,
    valid: { username: "demo", accessToken: "584c26e798deffc96cc7af073c184cd0", subChannelId: 0 },
  },
  { path: "/v1/sdk-auth/logout", valid: { sessionToken: "s3ss10n", device: DEVICE } },
  { path: "/v1/lancens/logout", valid: { username: "lancens-user", token: "t0ken" } },
  { path: "/v1/logout", valid: { lancens: { username: "lancens-user", token: "t0ken" } } },
  // Takes no body: none or {} is fine, anything else is refused as a body would be.
  { path: "/v1/fungame/logout", bearer: "a.b.c", valid: {} },
];

function jsonHeaders(route: Route): Record<string, string> {
  return {
    "content-type": "application/json",
    ...(route.bearer === undefined ? {} : { authorization: `Bearer ${route.bearer}` }),
  };
}

/** Strings with what breaks parsers: controls, CR/LF, quotes, surrogates, very long runs. */
const nastyString = fc.oneof(
  fc.string(),
  fc.string({ unit: anyCodePoint }),
  fc.string({ unit: fc.constantFrom("\r", "\n", "\0", "\t", "\u007f", "\u2028", "a", "%", '"') }),
  fc.string({ unit: "grapheme", minLength: 60, maxLength: 300 }),
  fc.nat({ max: 20_000 }).map((n) => "x".repeat(n)),
);

const anyValue = fc.oneof(nastyString, fc.jsonValue({ maxDepth: 3 }));

/** Objects with the route's member names (and others), each holding any value. */
function shapedBody(route: Route): fc.Arbitrary<unknown> {
  const keys = Object.keys(route.valid);
  const members = Object.fromEntries(
    keys.map((key) => {
      const original = route.valid[key];
      const nested =
        typeof original === "object" && original !== null
          ? fc.dictionary(
              fc.constantFrom(...Object.keys(original), "ip", "language", "extra", "__proto__"),
              anyValue,
            )
          : anyValue;
      return [key, fc.oneof(fc.constant(original), nested, anyValue)];
    }),
  );
  return fc
    .tuple(
      fc.record(members, { requiredKeys: [] }),
      fc.dictionary(fc.string({ maxLength: 12 }), anyValue, { maxKeys: 3 }),
    )
    .map(([known, extra]) => ({ ...extra, ...known }));
}

/** Deep nesting, long arrays, many members, long strings: the size and depth edges. */
const hugeText = fc.oneof(
  fc.integer({ min: 1, max: 200_000 }).map((depth) => `${"[".repeat(depth)}${"]".repeat(depth)}`),
  fc
    .integer({ min: 1, max: 50_000 })
    .map((depth) => `${'{"a":'.repeat(depth)}1${"}".repeat(depth)}`),
  fc
    .integer({ min: 1, max: 5_000 })
    .map((n) => `{${Array.from({ length: n }, (_, i) => `"k${i}":${i}`).join(",")}}`),
  fc
    .integer({ min: MAX_BODY_BYTES - 64, max: MAX_BODY_BYTES * 3 })
    .map((n) => JSON.stringify({ username: "x".repeat(n) })),
);

const BODY_KINDS: [string, (route: Route) => fc.Arbitrary<string | Uint8Array>][] = [
  ["arbitrary JSON values", () => fc.jsonValue().map((value) => JSON.stringify(value) ?? "null")],
  ["objects shaped like the body", (route) => shapedBody(route).map((v) => JSON.stringify(v))],
  ["arbitrary strings", () => nastyString],
  ["arbitrary bytes", () => fc.uint8Array({ maxLength: 4096 })],
  ["huge and deeply nested bodies", () => hugeText],
];

describe("request bodies", () => {
  let seed = 100;
  for (const route of BODY_ROUTES) {
    for (const [name, arbitrary] of BODY_KINDS) {
      const caseSeed = seed++;
      it(`POST ${route.path}: ${name}`, async () => {
        await fc.assert(
          fc.asyncProperty(arbitrary(route), async (body) => {
            await send(route.path, {
              method: "POST",
              headers: jsonHeaders(route),
              body: typeof body === "string" ? body : new Uint8Array(body),
            });
          }),
          params(caseSeed),
        );
      });
    }
  }

  it("an over-limit body is a 413 on every body route", async () => {
    for (const route of BODY_ROUTES) {
      const response = await h.app.request(route.path, {
        method: "POST",
        headers: jsonHeaders(route),
        body: JSON.stringify({ ...route.valid, pad: "x".repeat(MAX_BODY_BYTES) }),
      });
      expect(response.status, route.path).toBe(413);
    }
  });
});

/** Header values a Request accepts: no NUL, CR or LF, Latin-1 only. */
const headerText = fc.oneof(
  fc.string({
    unit: fc
      .integer({ min: 1, max: 255 })
      .filter((code) => code !== 10 && code !== 13)
      .map((code) => String.fromCharCode(code)),
    maxLength: 300,
  }),
  fc.string({ unit: fc.constantFrom("a", "Z", "0", "-", ".", "=", " ", "\t", ",", ";", "/") }),
  fc.constantFrom(
    "",
    " ",
    "Bearer",
    "Bearer ",
    "bearer  x",
    "Bearer a.b.c",
    `Bearer ${API_KEY}`,
    `Bearer ${API_KEY} extra`,
    "application/json",
    "application/json; charset=utf-8",
    "application/problem+json",
    "text/plain",
    "respond-async",
    "respond-async, wait=10",
    "return=minimal",
    "-1",
    "0",
    "1e9",
    "NaN",
    "99999999999999999999",
  ),
  fc.nat({ max: 10_000 }).map((n) => "b".repeat(n)),
);

const ALL_ROUTES: { method: string; path: string; body?: Record<string, unknown> }[] = [
  ...BODY_ROUTES.map((route) => ({ method: "POST", path: route.path, body: route.valid })),
  { method: "POST", path: "/v1/fungame/logout" },
  { method: "GET", path: "/v1/fungame/token-status" },
  { method: "GET", path: `/v1/logout/${"0".repeat(64)}` },
  { method: "GET", path: "/healthz" },
  { method: "GET", path: "/openapi.json" },
];

const HEADERS = ["authorization", "x-request-id", "content-type", "prefer", "content-length"];

describe("request headers", () => {
  let seed = 500;
  for (const header of HEADERS) {
    const caseSeed = seed++;
    it(`${header}: any value on any route`, async () => {
      await fc.assert(
        fc.asyncProperty(fc.constantFrom(...ALL_ROUTES), headerText, async (route, value) => {
          const headers = new Headers();
          if (route.body !== undefined) headers.set("content-type", "application/json");
          if (route.path.startsWith("/v1/ebet")) headers.set("authorization", `Bearer ${API_KEY}`);
          headers.set(header, value);
          await send(route.path, {
            method: route.method,
            headers,
            ...(route.body === undefined ? {} : { body: JSON.stringify(route.body) }),
          });
        }),
        params(caseSeed),
      );
    });
  }

  it("all five at once, with any body", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...ALL_ROUTES),
        fc.record(Object.fromEntries(HEADERS.map((name) => [name, headerText])), {
          requiredKeys: [],
        }),
        fc.option(nastyString),
        async (route, values, body) => {
          const headers = new Headers(values as Record<string, string>);
          await send(route.path, {
            method: route.method,
            headers,
            ...(body === null || route.method === "GET" ? {} : { body }),
          });
        },
      ),
      params(599),
    );
  });
});

describe("paths and query strings", () => {
  it("any job id in GET /v1/logout/{id}", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(nastyString, fc.stringMatching(/^[0-9a-f]{60,68}$/)),
        fc.boolean(),
        async (id, raw) => {
          const segment = raw ? id.replace(/[/?#]/g, "") : encodeURIComponent(id);
          await send(`/v1/logout/${segment}`, {
            headers: { authorization: `Bearer ${API_KEY}` },
          });
        },
      ),
      params(800),
    );
  });

  it("any query string on any route", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...ALL_ROUTES),
        fc.oneof(
          fc
            .dictionary(fc.string(), nastyString, { maxKeys: 4 })
            .map((query) => new URLSearchParams(query).toString()),
          fc.string().map((text) => encodeURI(text.replace(/#/g, ""))),
        ),
        async (route, query) => {
          const headers = new Headers();
          if (route.body !== undefined) headers.set("content-type", "application/json");
          headers.set("authorization", `Bearer ${API_KEY}`);
          await send(`${route.path}?${query}`, {
            method: route.method,
            headers,
            ...(route.body === undefined ? {} : { body: JSON.stringify(route.body) }),
          });
        },
      ),
      params(801),
    );
  });
});
