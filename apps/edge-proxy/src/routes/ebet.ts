// eBET routes: logout and the login notification (callback, refused when replayed), behind caller auth.
import { parseWith, readJsonObject } from "../body.ts";
import type { ProxyApp, RouteContext } from "../context.ts";
import { ProblemError } from "../problem.ts";
import { callbackKey, ebetRefused, once } from "../replay.ts";
import { EbetCallbackBody, EbetLogoutBody } from "../schemas.ts";
import type { UpstreamFor } from "../vendors.ts";

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
    // The same notification within eBET's window is refused here; eBET is called once. Its key
    // is held for the window, or past this request's deadline if later, and freed only when no
    // request left, or eBET's answer refused the notification.
    const key = await callbackKey(body);
    const upstream = ctx.upstreamFor(c);
    const { now, deadlineAt } = upstream("ebet");
    let sent = false;
    const watched: UpstreamFor = (vendor) => {
      const env = upstream(vendor);
      return {
        ...env,
        fetch: (request) => {
          sent = true;
          return env.fetch(request);
        },
      };
    };
    const refused = (error: unknown) =>
      !sent || (error instanceof ProblemError && ebetRefused(error.init.code));
    return c.json(
      await once(ctx.replay, key, () => ctx.gateway.ebetCallback(body, watched), refused, {
        now,
        deadlineAt,
      }),
    );
  });
}
