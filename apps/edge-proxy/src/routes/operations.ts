// The operations routes: health, the OpenAPI document and the /docs reference page, with their docs.
import * as v from "valibot";
import type { ProxyContext, RouteContext } from "../context.ts";
import type { RouteDecl } from "../http/route.ts";
import { ProblemError } from "../problem.ts";

const DOCS_CSP =
  "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; script-src 'self'; connect-src 'self'; frame-ancestors 'none'";

async function serveDocs(c: ProxyContext, ctx: RouteContext): Promise<Response> {
  const { assets } = ctx;
  ctx.begin(c, "/docs", []);
  const url = new URL(c.req.url);
  if (url.pathname === "/docs" || url.pathname === "/docs/") url.pathname = "/docs/index.html";
  const answer = assets
    ? await assets(new Request(url, { method: "GET", headers: c.req.raw.headers }))
    : undefined;
  if (answer === undefined || answer.status === 404) {
    throw new ProblemError({
      kind: "not_found",
      code: assets ? "ASSET_NOT_FOUND" : "DOCS_NOT_AVAILABLE",
      detail: assets
        ? `no such documentation file: ${url.pathname}`
        : "the documentation assets are not served by this entry",
    });
  }
  const response = new Response(answer.body, answer);
  response.headers.set("content-security-policy", DOCS_CSP);
  response.headers.set("x-content-type-options", "nosniff");
  return response;
}

export const operationsRoutes: readonly RouteDecl[] = [
  {
    method: "GET",
    path: "/healthz",
    handle: (c, ctx) => {
      ctx.begin(c, "/healthz", []);
      const vendors = Object.fromEntries(
        ctx.vendors.map((vendor) => [vendor.name, ctx.configured(vendor.name)]),
      );
      return c.json({ status: "ok", vendors });
    },
    doc:
      globalThis.__EDGE_PROXY_DOCS__ !== false
        ? {
            operationId: "health",
            tag: "operations",
            summary: "Liveness and which vendors are configured",
            description: "Never rate limited: load balancers and monitors call it.",
            security: "none",
            answers: {
              200: {
                description: "Up.",
                schema: v.object({
                  status: v.literal("ok"),
                  vendors: v.pipe(
                    v.record(v.string(), v.boolean()),
                    v.description("Every vendor by name: whether it is configured."),
                  ),
                }),
                example: { status: "ok", vendors: { ebet: true, lancens: false } },
              },
            },
            problems: [],
          }
        : undefined,
  },
  {
    method: "GET",
    path: "/openapi.json",
    handle: async (c, ctx) => {
      const { assets, openApi } = ctx;
      ctx.begin(c, "/openapi.json", []);
      if (openApi !== undefined) return c.json(openApi);
      const answer = assets
        ? await assets(new Request(new URL("/openapi.json", c.req.url)))
        : undefined;
      if (answer === undefined || answer.status !== 200) {
        throw new ProblemError({
          kind: "not_found",
          code: "OPENAPI_NOT_AVAILABLE",
          detail: "the OpenAPI document is not served by this entry; run npm run build",
        });
      }
      const response = new Response(answer.body, answer);
      response.headers.set("content-type", "application/json; charset=utf-8");
      return response;
    },
    doc:
      globalThis.__EDGE_PROXY_DOCS__ !== false
        ? {
            operationId: "openApi",
            tag: "operations",
            summary: "This document",
            security: "none",
            answers: {
              200: {
                description: "The OpenAPI 3.1 document.",
                schema: v.looseObject({ openapi: v.literal("3.1.0") }),
              },
            },
            problems: [404, 429],
          }
        : undefined,
  },
  {
    method: "GET",
    path: "/docs",
    handle: serveDocs,
    doc:
      globalThis.__EDGE_PROXY_DOCS__ !== false
        ? {
            operationId: "docs",
            tag: "operations",
            summary: "Interactive API reference (served by the proxy, works offline)",
            security: "none",
            answers: { 200: { description: "The reference page.", mediaType: "text/html" } },
            problems: [404, 429],
          }
        : undefined,
  },
  {
    method: "GET",
    path: "/docs/*",
    handle: serveDocs,
    doc:
      globalThis.__EDGE_PROXY_DOCS__ !== false
        ? {
            operationId: "docsFile",
            tag: "operations",
            summary: "A file of the reference page (script, style sheet, icon)",
            description: "`/docs/` is the page itself, as `/docs`.",
            security: "none",
            params: {
              file: {
                description: "The file's name, e.g. swagger-ui.css.",
                schema: v.string(),
              },
            },
            answers: {
              200: {
                description: "The file, with its own Content-Type.",
                mediaType: "*/*",
                headers: { "Content-Security-Policy": "The reference page's policy." },
              },
            },
            problems: [404, 429],
          }
        : undefined,
  },
];
