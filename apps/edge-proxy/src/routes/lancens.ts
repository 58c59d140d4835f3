// Lancens route: clear both push tokens, then log out, reporting each step.
import { parseWith, readJsonObject } from "../body.ts";
import type { ProxyApp, RouteContext } from "../context.ts";
import { LancensBody } from "../schemas.ts";

export function lancensRoutes(app: ProxyApp, ctx: RouteContext): void {
  app.post("/v1/lancens/logout", async (c) => {
    ctx.begin(c, "/v1/lancens/logout", ["lancens"]);
    ctx.gateway.require("lancens");
    const body = parseWith(LancensBody, await readJsonObject(c.req.raw));
    return c.json(await ctx.gateway.lancensLogout(body, ctx.upstreamFor(c)));
  });
}
