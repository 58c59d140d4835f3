// CORS for PROXY_CORS_ORIGINS: a preflight answered 204 for an allowed origin, and every answer to
// one readable by it, with the headers a browser client needs to see.
import type { MiddlewareHandler } from "hono";
import type { ProxyEnv } from "../context.ts";

const ALLOW_HEADERS = "authorization,content-type,x-request-id,prefer";
const EXPOSE_HEADERS =
  "x-request-id,server-timing,retry-after,ratelimit,ratelimit-policy,location,preference-applied";

/** `origins` is `["*"]` for any origin, else the exact origins allowed. */
export function cors(origins: readonly string[]): MiddlewareHandler<ProxyEnv> {
  const any = origins.length === 1 && origins[0] === "*";
  return async (c, next) => {
    const origin = c.req.header("origin");
    const allowed = any ? "*" : origin !== undefined && origins.includes(origin) ? origin : null;
    if (c.req.method === "OPTIONS" && c.req.header("access-control-request-method")) {
      const headers = new Headers(any ? {} : { vary: "Origin" });
      if (allowed !== null) {
        headers.set("access-control-allow-origin", allowed);
        headers.set("access-control-allow-methods", "GET,POST,OPTIONS");
        headers.set("access-control-allow-headers", ALLOW_HEADERS);
        headers.set("access-control-max-age", "600");
      }
      return new Response(null, { status: 204, headers });
    }
    await next();
    // A copy: the answer's own headers may be immutable (a static file's).
    const response = new Response(c.res.body, c.res);
    if (allowed !== null) {
      response.headers.set("access-control-allow-origin", allowed);
      response.headers.set("access-control-expose-headers", EXPOSE_HEADERS);
    }
    if (!any) response.headers.append("vary", "Origin");
    c.res = response;
  };
}
