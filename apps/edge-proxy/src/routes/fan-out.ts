// The fan-out: one logout across the named vendors, concurrently; 200 when all succeed, 207 otherwise.
import { parseWith, readJsonObject } from "../body.ts";
import type { ProxyApp, RouteContext } from "../context.ts";
import { buildProblem, toProblemInit } from "../problem.ts";
import { FanOutBody } from "../schemas.ts";
import type { VendorName, VendorSuccess } from "../vendors.ts";

/** Body members and the vendor each names. */
const MEMBERS = [
  ["ebet", "ebet"],
  ["fungame", "fungame"],
  ["sdkAuth", "sdk-auth"],
  ["lancens", "lancens"],
] as const satisfies readonly (readonly [string, VendorName])[];

export function fanOutRoutes(app: ProxyApp, ctx: RouteContext): void {
  app.post("/v1/logout", async (c) => {
    ctx.begin(c, "/v1/logout", []);
    const body = parseWith(FanOutBody, await readJsonObject(c.req.raw));
    const named = MEMBERS.filter(([member]) => body[member] !== undefined);
    ctx.begin(
      c,
      "/v1/logout",
      named.map(([, vendor]) => vendor),
    );
    // eBET's caller auth is checked before any vendor is called, so a refusal calls nobody.
    if (body.ebet !== undefined && ctx.gateway.configured("ebet")) {
      const principal = await ctx.auth.authenticate(c.req.header("authorization"), "ebet");
      ctx.auth.authorize(principal, body.ebet.username, "ebet.username", "ebet");
    }
    const upstream = ctx.upstreamFor(c);
    const { requestId } = c.get("state");
    const run = async (member: (typeof MEMBERS)[number][0]): Promise<VendorSuccess> => {
      switch (member) {
        case "ebet":
          ctx.gateway.require("ebet");
          return ctx.gateway.ebetLogout(
            body.ebet as NonNullable<typeof body.ebet>,
            upstream,
            "ebet",
          );
        case "fungame":
          ctx.gateway.require("fungame");
          return ctx.gateway.fungameLogout(
            (body.fungame as NonNullable<typeof body.fungame>).token,
            upstream,
            "fungame.token",
          );
        case "sdkAuth":
          ctx.gateway.require("sdk-auth");
          return ctx.gateway.sdkAuthLogout(
            body.sdkAuth as NonNullable<typeof body.sdkAuth>,
            upstream,
            "sdkAuth",
          );
        case "lancens":
          ctx.gateway.require("lancens");
          return ctx.gateway.lancensLogout(
            body.lancens as NonNullable<typeof body.lancens>,
            upstream,
            "lancens",
          );
      }
    };
    const settled = await Promise.all(
      named.map(async ([member, vendor]) => {
        try {
          return [member, await run(member)] as const;
        } catch (error) {
          const init = toProblemInit(error);
          const { document } = buildProblem({ ...init, vendor: init.vendor ?? vendor }, requestId);
          return [member, { ...document, ok: false }] as const;
        }
      }),
    );
    const results = Object.fromEntries(settled);
    const ok = settled.every(([, result]) => result.ok);
    return c.json({ ok, requestId, results }, ok ? 200 : 207);
  });
}
