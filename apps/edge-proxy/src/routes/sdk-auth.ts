// Huawei Cloud OneAccess route: logout of a session token, signed by the proxy.
import { parseWith, readJsonObject } from "../body.ts";
import type { ProxyApp, RouteContext } from "../context.ts";
import { SdkAuthBody } from "../schemas.ts";

export function sdkAuthRoutes(app: ProxyApp, ctx: RouteContext): void {
  app.post("/v1/sdk-auth/logout", async (c) => {
    ctx.begin(c, "/v1/sdk-auth/logout", ["sdk-auth"]);
    ctx.gateway.require("sdk-auth");
    const body = parseWith(SdkAuthBody, await readJsonObject(c.req.raw));
    return c.json(await ctx.gateway.sdkAuthLogout(body, ctx.upstreamFor(c)));
  });
}
