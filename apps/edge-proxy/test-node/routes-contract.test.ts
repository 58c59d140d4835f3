// The routes declared once: the app serves exactly the (path, method) pairs the generated OpenAPI
// document lists, every limit the document states is the schema's own, and a fifth vendor added to
// the list is in the document with no other change.
import * as v from "valibot";
import { describe, expect, it } from "vitest";
import { MemoryDenyList } from "../src/adapters/memory/deny-list.ts";
import { MemoryReplayGuard } from "../src/adapters/memory/replay-guard.ts";
import { createApp } from "../src/app.ts";
import { loadConfig } from "../src/config.ts";
import type { RouteDecl } from "../src/http/route.ts";
import { allRoutes, documentInfo } from "../src/http/routes.ts";
import { generateOpenApi, type OpenApiDocument } from "../src/openapi/generate.ts";
import type { AnyVendor } from "../src/vendors/descriptor.ts";
import { VENDORS } from "../src/vendors/index.ts";
import { WITH_ACME } from "../test/fixtures/acme-vendor.ts";
import { findings } from "./openapi-validators.ts";

type Json = Record<string, unknown>;

function documentFor(vendors: readonly AnyVendor[]): OpenApiDocument {
  return generateOpenApi(allRoutes(vendors), documentInfo(vendors));
}

/** A path with its parameters (":id", "{id}", "*") made one shape. */
function shape(path: string): string {
  return path.replace(/:\w+|\{\w+\}|\*/g, "{}");
}

/** The (path, method) pairs the app answers with a handler (not the 405 table, not middleware). */
function served(vendors: readonly AnyVendor[]): string[] {
  const app = createApp(loadConfig({}, vendors), {
    vendors,
    denyList: new MemoryDenyList(),
    replayGuard: new MemoryReplayGuard(),
    log: () => {},
  });
  return app.routes
    .filter((route) => ["GET", "POST", "DELETE"].includes(route.method))
    .map((route) => `${route.method} ${shape(route.path)}`)
    .sort();
}

function documented(document: OpenApiDocument): string[] {
  return Object.entries(document.paths as Record<string, Json>)
    .flatMap(([path, item]) => Object.keys(item).map((m) => `${m.toUpperCase()} ${shape(path)}`))
    .sort();
}

/** A schema of the document, its $ref followed. */
function resolve(document: OpenApiDocument, schema: Json): Json {
  const ref = schema.$ref;
  if (typeof ref !== "string") return schema;
  const name = ref.replace("#/components/schemas/", "");
  return resolve(document, (document.components.schemas as Record<string, Json>)[name] as Json);
}

type Node = {
  type: string;
  entries?: Record<string, Node>;
  wrapped?: Node;
  pipe?: { kind: string; type: string; requirement?: unknown }[];
};

const LIMITS: Record<string, string> = {
  min_length: "minLength",
  max_length: "maxLength",
  min_value: "minimum",
  max_value: "maximum",
  regex: "pattern",
};

/** Every limit a valibot schema sets, by dot path: [path, JSON Schema keyword, value]. */
function schemaLimits(node: Node, path: string, out: [string, string, unknown][]): void {
  let inner = node;
  while (inner.wrapped !== undefined) inner = inner.wrapped;
  const [first, ...actions] = inner.pipe ?? [];
  // A pipe starts with its schema (itself perhaps a pipe: text(64) inside headerValue(64)), whose
  // members the pipe repeats: they are read there, once.
  const piped = first?.kind === "schema" && first !== inner;
  if (piped) schemaLimits(first as Node, path, out);
  for (const action of actions) {
    const keyword = LIMITS[action.type];
    if (keyword === undefined) continue;
    const value =
      action.requirement instanceof RegExp ? action.requirement.source : action.requirement;
    out.push([path, keyword, value]);
  }
  if (piped) return;
  for (const [key, child] of Object.entries(inner.entries ?? {})) {
    schemaLimits(child, path ? `${path}.${key}` : key, out);
  }
}

/** Every limit the document states for a body, by dot path. */
function documentLimits(
  document: OpenApiDocument,
  schema: Json,
  path: string,
  out: [string, string, unknown][],
): void {
  const resolved = resolve(document, schema);
  for (const keyword of Object.values(LIMITS)) {
    if (resolved[keyword] !== undefined) out.push([path, keyword, resolved[keyword]]);
  }
  for (const [key, child] of Object.entries((resolved.properties ?? {}) as Record<string, Json>)) {
    documentLimits(document, child, path ? `${path}.${key}` : key, out);
  }
}

const sorted = (rows: [string, string, unknown][]) => rows.map((row) => JSON.stringify(row)).sort();

function bodyOf(document: OpenApiDocument, route: RouteDecl): Json {
  const item = (document.paths as Record<string, Json>)[
    route.path.replace(/:(\w+)/g, "{$1}")
  ] as Record<string, Json>;
  const operation = item[route.method.toLowerCase()] as Json;
  const content = (operation.requestBody as Json).content as Record<string, Json>;
  // One media type per body: JSON, a form, a Security Event Token.
  return (Object.values(content)[0] as Json).schema as Json;
}

describe("the routing table and the generated document", () => {
  it("list exactly the same (path, method) pairs", () => {
    const document = documentFor(VENDORS);
    expect(served(VENDORS)).toEqual(documented(document));
    expect(served(VENDORS)).toContain("POST /v1/logout");
  });

  it("state every limit of every request body as the schema sets it", () => {
    const document = documentFor(VENDORS);
    const bodies = allRoutes().filter((route) => route.doc?.body !== undefined);
    expect(bodies.map((route) => route.path)).toContain("/v1/logout");
    for (const route of bodies) {
      const fromSchema: [string, string, unknown][] = [];
      schemaLimits(route.doc?.body?.schema as unknown as Node, "", fromSchema);
      const fromDocument: [string, string, unknown][] = [];
      documentLimits(document, bodyOf(document, route), "", fromDocument);
      expect(fromSchema.length, route.path).toBeGreaterThan(0);
      expect(sorted(fromDocument), `${route.method} ${route.path}`).toEqual(sorted(fromSchema));
    }
  });

  it("a limit changed in a schema is the document's limit too", () => {
    const [first] = VENDORS;
    const route = first?.routes[0] as RouteDecl;
    const body = v.strictObject({ username: v.pipe(v.string(), v.maxLength(7)) });
    const changed: RouteDecl = {
      ...route,
      doc: { ...(route.doc as NonNullable<RouteDecl["doc"]>), body: { schema: body } },
    };
    const document = generateOpenApi([changed], documentInfo());
    const limits: [string, string, unknown][] = [];
    documentLimits(document, bodyOf(document, changed), "", limits);
    expect(limits).toEqual([["username", "maxLength", 7]]);
  });
});

describe("a fifth vendor in the generated document", () => {
  it("has its route, its fan-out member and its tag, and the document still validates", async () => {
    const document = documentFor(WITH_ACME);
    expect(served(WITH_ACME)).toEqual(documented(document));
    expect(documented(document)).toContain("POST /v1/acme/logout");
    expect(documented(documentFor(VENDORS))).not.toContain("POST /v1/acme/logout");
    const fanOut = resolve(
      document,
      bodyOf(
        document,
        allRoutes(WITH_ACME).find((route) => route.path === "/v1/logout") as RouteDecl,
      ),
    );
    expect(Object.keys(fanOut.properties as Json)).toEqual([
      "ebet",
      "fungame",
      "sdkAuth",
      "lancens",
      "acme",
    ]);
    expect(document.tags.map((tag) => tag.name)).toContain("acme");
    expect(await findings(document)).toEqual([]);
  });
});
