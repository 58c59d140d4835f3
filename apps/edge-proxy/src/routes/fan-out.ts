// The fan-out: one logout across the named vendors, concurrently; 200 when all succeed, 207 otherwise.
// With `Prefer: respond-async` the checked logout goes to the outbox instead: 202, then GET its state.
import { parseWith, readJsonObject } from "../body.ts";
import type { ProxyApp, RouteContext } from "../context.ts";
import { deliverMember, FAN_OUT_MEMBERS } from "../delivery.ts";
import { JOB_ID } from "../outbox.ts";
import { prefersAsync } from "../prefer.ts";
import { buildProblem, ProblemError, toProblemInit } from "../problem.ts";
import { FanOutBody } from "../schemas.ts";

export function fanOutRoutes(app: ProxyApp, ctx: RouteContext): void {
  app.post("/v1/logout", async (c) => {
    ctx.begin(c, "/v1/logout", []);
    const body = parseWith(FanOutBody, await readJsonObject(c.req.raw));
    const named = FAN_OUT_MEMBERS.filter(([member]) => body[member] !== undefined);
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
    const { requestId } = c.get("state");
    if (ctx.outbox !== undefined && prefersAsync(c.req.header("prefer"))) {
      const job = await ctx.outbox.enqueue(body, requestId);
      return c.json(job, 202, {
        location: `/v1/logout/${job.id}`,
        "preference-applied": "respond-async",
        vary: "Prefer",
      });
    }
    const upstream = ctx.upstreamFor(c);
    const settled = await Promise.all(
      named.map(async ([member, vendor]) => {
        try {
          return [member, await deliverMember(ctx.gateway, member, body, upstream)] as const;
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

  app.get("/v1/logout/:id", async (c) => {
    ctx.begin(c, "/v1/logout/:id", []);
    if (ctx.callerAuthConfigured) {
      try {
        await ctx.auth.authenticate(c.req.header("authorization"), "");
      } catch (error) {
        // The refusal names no vendor: a job may span several.
        if (error instanceof ProblemError)
          throw new ProblemError({ ...error.init, vendor: undefined });
        throw error;
      }
    }
    const id = c.req.param("id");
    if (!JOB_ID.test(id)) {
      throw new ProblemError({
        kind: "invalid_request",
        code: "INVALID_FIELD",
        detail: "id: must be a job id of 64 lowercase hexadecimal characters",
        field: "id",
      });
    }
    const job = ctx.outbox === undefined ? undefined : await ctx.outbox.get(id);
    if (job === undefined) {
      throw new ProblemError({
        kind: "not_found",
        code: "JOB_NOT_FOUND",
        detail: "no logout job with this id: it never existed, or it finished and was deleted",
        field: "id",
      });
    }
    return c.json(job);
  });
}
