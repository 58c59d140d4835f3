// eBET routes: logout and the login notification (callback, refused when replayed), behind caller auth.
import { parseWith, readJsonObject } from "../body.ts";
import type { ProxyApp, RouteContext } from "../context.ts";
import { callbackKey, once } from "../replay.ts";
import { EbetCallbackBody, EbetLogoutBody } from "../schemas.ts";

export function ebetRoutes(app: ProxyApp, ctx: RouteContext): void {
  app.post("/v1/ebet/logout", async (c) => {
    ctx.begin(c, "/v1/ebet/logout", ["ebet"]);
    ctx.gateway.require("ebet");
    const principal = await ctx.auth.authenticate(c.req.header("authorization"), "ebet");
    const body = parseWith(EbetLogoutBody, await readJsonObject(c.req.raw));
    ctx.auth.authorize(principal, body.username, "username", "ebet");
    return c.json(await ctx.gateway.ebetLogout(body, ctx.upstreamFor(c)));
  });

  app.post("/v1/ebet/callback", async (c) => {
    ctx.begin(c, "/v1/ebet/callback", ["ebet"]);
    ctx.gateway.require("ebet");
    const principal = await ctx.auth.authenticate(c.req.header("authorization"), "ebet");
    const body = parseWith(EbetCallbackBody, await readJsonObject(c.req.raw));
    ctx.auth.authorize(principal, body.username, "username", "ebet");
    // The same notification within eBET's window is refused here; eBET is called once.
    const key = await callbackKey(body);
    return c.json(
      await once(ctx.replay, key, () => ctx.gateway.ebetCallback(body, ctx.upstreamFor(c))),
    );
  });
}
