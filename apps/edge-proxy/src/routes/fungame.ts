// FunGame routes: logout and token-status, with the caller's FunGame token as the credential.

import { bearerCredential } from "../auth.ts";
import { readNoBody } from "../body.ts";
import type { ProxyApp, RouteContext } from "../context.ts";
import { ProblemError } from "../problem.ts";

/**
 * The FunGame token of the Authorization header, or a 401 problem; a 400 for control characters,
 * which the token would carry into FunGame's own Authorization header.
 */
function fungameToken(header: string | undefined): string {
  const token = bearerCredential(header);
  // biome-ignore lint/suspicious/noControlCharactersInRegex: refusing control characters is the point
  if (token !== undefined && /[\x00-\x1f\x7f]/.test(token)) {
    throw new ProblemError({
      kind: "invalid_request",
      code: "INVALID_HEADER",
      detail: "Authorization: control characters are refused",
      vendor: "fungame",
      field: "Authorization",
    });
  }
  if (token !== undefined) return token;
  const missing = header === undefined || header.trim() === "";
  throw new ProblemError({
    kind: "unauthorized",
    code: missing ? "MISSING_CREDENTIALS" : "INVALID_CREDENTIALS",
    detail: "this route needs Authorization: Bearer <FunGame token>",
    vendor: "fungame",
    field: "Authorization",
    headers: {
      "www-authenticate": missing
        ? 'Bearer realm="fungame"'
        : 'Bearer realm="fungame", error="invalid_request"',
    },
  });
}

export function fungameRoutes(app: ProxyApp, ctx: RouteContext): void {
  app.post("/v1/fungame/logout", async (c) => {
    ctx.begin(c, "/v1/fungame/logout", ["fungame"]);
    ctx.gateway.require("fungame");
    await readNoBody(c.req.raw);
    const token = fungameToken(c.req.header("authorization"));
    return c.json(await ctx.gateway.fungameLogout(token, ctx.upstreamFor(c), "Authorization"));
  });

  app.get("/v1/fungame/token-status", async (c) => {
    ctx.begin(c, "/v1/fungame/token-status", ["fungame"]);
    ctx.gateway.require("fungame");
    const token = fungameToken(c.req.header("authorization"));
    return c.json(await ctx.gateway.fungameTokenStatus(token));
  });
}
