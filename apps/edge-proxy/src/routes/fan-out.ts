// The fan-out: one logout across the named vendors, concurrently; 200 when all succeed, 207 otherwise.
// With `Prefer: respond-async` the checked logout goes to the outbox instead: 202, then GET its state,
// which only the job's owner (or, for a job created without credentials, anyone with its id) sees.
import * as v from "valibot";
import { digestHex, ownerOf, type Principal } from "../auth.ts";
import { parseWith, readJsonObject } from "../body.ts";
import type { ProxyContext, RouteContext } from "../context.ts";
import { fanOutBody } from "../gateway.ts";
import { problemSchema } from "../http/problem-doc.ts";
import type { RouteDecl } from "../http/route.ts";
import { JOB_ID, mayRead } from "../outbox.ts";
import { prefersAsync } from "../prefer.ts";
import { buildProblem, ProblemError, toProblemInit } from "../problem.ts";
import { addressKey } from "../rate-limit.ts";
import type { AnyVendor } from "../vendors/descriptor.ts";
import { under } from "../vendors/shared.ts";

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

/** The fan-out body of each vendor list, built once per list. */
const bodies = new WeakMap<readonly AnyVendor[], ReturnType<typeof fanOutBody>>();

function bodyOf(vendors: readonly AnyVendor[]): ReturnType<typeof fanOutBody> {
  let body = bodies.get(vendors);
  if (body === undefined) {
    body = fanOutBody(vendors);
    bodies.set(vendors, body);
  }
  return body;
}

async function logoutEverywhere(c: ProxyContext, ctx: RouteContext): Promise<Response> {
  ctx.begin(c, "/v1/logout", []);
  const body = parseWith(bodyOf(ctx.vendors), await readJsonObject(c.req.raw)) as Record<
    string,
    unknown
  >;
  const named = ctx.vendors.filter((vendor) => body[vendor.member] !== undefined);
  ctx.begin(
    c,
    "/v1/logout",
    named.map((vendor) => vendor.name),
  );
  // Caller checks (eBET's) run before any vendor is called, so a refusal calls nobody.
  let principal: Principal | undefined;
  for (const vendor of named) {
    if (vendor.caller === undefined || !ctx.configured(vendor.name)) continue;
    principal = await vendor.caller.authenticate(c, ctx);
    vendor.caller.authorize(ctx, principal, body[vendor.member], under(vendor.member));
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
  const settled = await Promise.all(
    named.map(async (vendor) => {
      try {
        const instance = ctx.vendor(vendor.name);
        const call = ctx.logoutCall(c, vendor.name, under(vendor.member), body[vendor.member]);
        return [vendor.member, await instance.logout(body[vendor.member], call)] as const;
      } catch (error) {
        const init = toProblemInit(error);
        const { document } = buildProblem(
          { ...init, vendor: init.vendor ?? vendor.name },
          requestId,
        );
        return [vendor.member, { ...document, ok: false }] as const;
      }
    }),
  );
  const results = Object.fromEntries(settled);
  const ok = settled.every(([, result]) => result.ok);
  return c.json({ ok, requestId, results }, ok ? 200 : 207);
}

async function logoutJob(c: ProxyContext, ctx: RouteContext): Promise<Response> {
  ctx.begin(c, "/v1/logout/:id", []);
  const principal = await presented(c, ctx);
  const reader = principal === undefined ? null : await ownerOf(principal);
  const id = c.req.param("id") ?? "";
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
}

/** The fan-out routes of these vendors: one logout everywhere, and an asynchronous job's state. */
export function fanOutRoutes(vendors: readonly AnyVendor[]): RouteDecl[] {
  return [
    {
      method: "POST",
      path: "/v1/logout",
      handle: logoutEverywhere,
      doc:
        globalThis.__EDGE_PROXY_DOCS__ !== false
          ? {
              operationId: "logoutEverywhere",
              tag: "fan-out",
              summary: "Log out of several vendors at once",
              description:
                "Each member is the body of that vendor's route (fungame: { token }). All named vendors are called concurrently. 200 when all succeed, 207 with per-vendor results when some fail. A vendor that checks its caller (eBET: caller auth) is checked before any vendor is called. `Prefer: respond-async`: 202, then delivery with retries; the job belongs to the credential presented, if any. Open jobs are capped per caller (429 TOO_MANY_OPEN_JOBS) and in all (503 OUTBOX_FULL).",
              security: "caller-optional",
              body: { schema: fanOutBody(vendors) },
              headers: {
                Prefer: {
                  description:
                    "RFC 7240: `respond-async` asks for a 202; other preferences are ignored.",
                  example: "respond-async",
                },
              },
              answers: {
                200: {
                  description: "Every vendor succeeded.",
                  schema: fanOutAnswer(vendors),
                },
                202: {
                  description: "Accepted (Prefer: respond-async).",
                  schema: jobSchema(vendors),
                  headers: { Location: "/v1/logout/{id}", "Preference-Applied": "respond-async" },
                },
                207: {
                  description:
                    "Some vendors failed; each failure is a problem document with ok: false.",
                  schema: fanOutAnswer(vendors),
                },
              },
              problems: [400, 401, 403, 413, 415, 429, 503],
            }
          : undefined,
    },
    {
      method: "GET",
      path: "/v1/logout/:id",
      handle: logoutJob,
      doc:
        globalThis.__EDGE_PROXY_DOCS__ !== false
          ? {
              operationId: "logoutJob",
              tag: "fan-out",
              summary: "The state of an asynchronous logout",
              description:
                "Per vendor: state, attempts, last error. Only the credential that created the job sees it (anyone with the id, for a job created without one); others get the unknown-id 404. Finished jobs are deleted after LOGOUT_JOB_RETENTION_SEC.",
              security: "caller-optional",
              params: {
                id: {
                  description: "The job id.",
                  schema: v.pipe(v.string(), v.regex(JOB_ID)),
                },
              },
              answers: { 200: { description: "The job.", schema: jobSchema(vendors) } },
              problems: [400, 401, 404, 429],
            }
          : undefined,
    },
  ];
}

/** The 200 and 207 answers of the fan-out, for the OpenAPI document. */
function fanOutAnswer(vendors: readonly AnyVendor[]) {
  const result = v.union([
    v.object({
      vendor: v.string(),
      ok: v.literal(true),
      alreadyLoggedOut: v.boolean(),
      result: v.unknown(),
    }),
    v.intersect([
      problemSchema(vendors.map((vendor) => vendor.name)),
      v.object({ ok: v.literal(false) }),
    ]),
  ]);
  return v.object({
    ok: v.pipe(v.boolean(), v.description("True when every vendor succeeded.")),
    requestId: v.string(),
    results: v.pipe(
      v.object(Object.fromEntries(vendors.map((vendor) => [vendor.member, v.optional(result)]))),
      v.description("One entry per member of the request."),
    ),
  });
}

/** A job's view (GET /v1/logout/{id} and the 202), for the OpenAPI document. */
function jobSchema(vendors: readonly AnyVendor[]) {
  const date = v.pipe(v.string(), v.isoTimestamp());
  const delivery = v.object({
    vendor: v.picklist(vendors.map((vendor) => vendor.name)),
    state: v.picklist(["pending", "delivering", "delivered", "failed"]),
    attempts: v.pipe(v.number(), v.integer(), v.minValue(0)),
    nextAttemptAt: v.nullable(date),
    lastError: v.nullable(
      v.pipe(
        v.object({
          code: v.union([v.string(), v.number()]),
          kind: v.string(),
          upstreamStatus: v.nullable(v.number()),
          retryable: v.boolean(),
        }),
        v.description(
          "No text from the vendor: a code that is not a short identifier is VENDOR_ERROR.",
        ),
      ),
    ),
    failure: v.nullable(v.picklist(["rejected", "attempts_exhausted", "expired"])),
    alreadyLoggedOut: v.nullable(v.boolean()),
    denyListed: v.optional(
      v.pipe(
        v.nullable(v.boolean()),
        v.description(
          "Vendors with an edge-side record (FunGame) only: null until the vendor accepts the logout, then whether the record is written. false with state pending (lastError DENY_LIST_UNAVAILABLE): the vendor logged the session out and only the record is retried, until the job expires; false with state failed: it never was.",
        ),
      ),
    ),
  });
  return v.object({
    id: v.pipe(v.string(), v.regex(JOB_ID)),
    status: v.picklist(["pending", "delivered", "partially_failed", "failed"]),
    createdAt: date,
    updatedAt: date,
    expiresAt: date,
    finishedAt: v.nullable(date),
    deleteAt: v.nullable(date),
    vendors: v.pipe(
      v.object(Object.fromEntries(vendors.map((vendor) => [vendor.member, v.optional(delivery)]))),
      v.description("One entry per member of the request."),
    ),
  });
}
