// The fan-out: one logout across the named vendors, concurrently; 200 when all succeed, 207 otherwise.
// With `Prefer: respond-async` the checked logout goes to the outbox instead: 202, then GET its state,
// which only the job's owner (or, for a job created without credentials, anyone with its id) sees.
import { digestHex, ownerOf, type Principal } from "../auth.ts";
import { parseWith, readJsonObject } from "../body.ts";
import type { ProxyApp, ProxyContext, RouteContext } from "../context.ts";
import { deliverMember, FAN_OUT_MEMBERS } from "../delivery.ts";
import { JOB_ID, mayRead } from "../outbox.ts";
import { prefersAsync } from "../prefer.ts";
import { buildProblem, ProblemError, toProblemInit } from "../problem.ts";
import { addressKey } from "../rate-limit.ts";
import { FanOutBody } from "../schemas.ts";

/**
 * The principal of a request's Authorization header, undefined when it has none or no caller auth
 * is configured; a credential that does not verify is refused (401), naming no vendor.
 */
async function presented(c: ProxyContext, ctx: RouteContext): Promise<Principal | undefined> {
  const header = c.req.header("authorization");
  if (!ctx.callerAuthConfigured || header === undefined || header.trim() === "") return undefined;
  try {
    return await ctx.auth.authenticate(header, "");
  } catch (error) {
    // The refusal names no vendor: a job may span several.
    if (error instanceof ProblemError) throw new ProblemError({ ...error.init, vendor: undefined });
    throw error;
  }
}

/** Unknown, deleted and someone else's jobs get this same answer. */
function jobNotFound(): ProblemError {
  return new ProblemError({
    kind: "not_found",
    code: "JOB_NOT_FOUND",
    detail: "no logout job with this id: it never existed, or it finished and was deleted",
    field: "id",
  });
}

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
    let principal: Principal | undefined;
    if (body.ebet !== undefined && ctx.gateway.configured("ebet")) {
      principal = await ctx.auth.authenticate(c.req.header("authorization"), "ebet");
      ctx.auth.authorize(principal, body.ebet.username, "ebet.username", "ebet");
    }
    const { requestId } = c.get("state");
    if (ctx.outbox !== undefined && prefersAsync(c.req.header("prefer"))) {
      // The job belongs to the credential presented, if any; the caps count it against that
      // owner, or against the client's address when there is none.
      principal ??= await presented(c, ctx);
      const owner = principal === undefined ? null : await ownerOf(principal);
      const address = ctx.clientAddress(c);
      const caller =
        owner ?? (await digestHex(`address:${address === undefined ? "" : addressKey(address)}`));
      const job = await ctx.outbox.enqueue(body, { requestId, owner, caller });
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
    const principal = await presented(c, ctx);
    const reader = principal === undefined ? null : await ownerOf(principal);
    const id = c.req.param("id");
    if (!JOB_ID.test(id)) {
      throw new ProblemError({
        kind: "invalid_request",
        code: "INVALID_FIELD",
        detail: "id: must be a job id of 64 lowercase hexadecimal characters",
        field: "id",
      });
    }
    const found = ctx.outbox === undefined ? undefined : await ctx.outbox.get(id);
    if (found === undefined || !mayRead(found.owner, reader, ctx.callerAuthConfigured)) {
      throw jobNotFound();
    }
    return c.json(found.view);
  });
}
