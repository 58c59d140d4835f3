// Universal logout: applications register a user's vendor sessions (POST /v1/sessions, DELETE
// /v1/sessions/{id}); identity providers end them by OpenID Connect Back-Channel Logout, a Shared
// Signals session-revoked event (RFC 8935 push) or a Global Token Revocation request, each turned
// into durable logout jobs of the outbox.

import type { FetchLike } from "@x/core-signing";
import * as v from "valibot";
import { bearerCredential, digestHex, digestListed, ownerOf, sha256 } from "../auth.ts";
import { parseWith, readJsonObject } from "../body.ts";
import type { ProxyContext, RouteContext } from "../context.ts";
import { fanOutBody } from "../gateway.ts";
import { readBounded } from "../http/bounded.ts";
import { text } from "../http/fields.ts";
import type { RouteDecl } from "../http/route.ts";
import type { LogoutOutbox } from "../ports.ts";
import { ProblemError } from "../problem.ts";
import {
  authenticateRevocation,
  cannotLogOut,
  parseGlobalRevocation,
  RevocationError,
  subjectUnknown,
} from "../universal-logout/gtr.ts";
import {
  type LogoutProviders,
  LogoutTokenError,
  MAX_LOGOUT_TOKEN_LENGTH,
  ProviderUnavailable,
  verifyLogoutToken,
} from "../universal-logout/logout-token.ts";
import {
  REGISTRATION_ID,
  type Registration,
  type SessionRegistry,
} from "../universal-logout/registry.ts";
import {
  DuplicateSet,
  MAX_SET_BYTES,
  SetError,
  SetUnavailable,
  verifySet,
} from "../universal-logout/set.ts";
import type { UniversalLogoutSettings } from "../universal-logout/settings.ts";
import { MAX_IDENTIFIER_LENGTH } from "../universal-logout/subject-id.ts";
import type { LogoutTrigger } from "../universal-logout/types.ts";
import type { AnyVendor } from "../vendors/descriptor.ts";
import { notConfigured, under } from "../vendors/shared.ts";

/** What the universal-logout routes run on, when the entry has them configured. */
export interface UniversalLogout {
  settings: UniversalLogoutSettings;
  registry: SessionRegistry;
  providers: LogoutProviders;
  /** Every issuer a registration may name. */
  issuers: ReadonlySet<string>;
  /** Key sets are downloaded through it. */
  fetch: FetchLike;
  now: () => number;
}

/** A trigger's body: a form field or a SET is a few KiB. */
const MAX_TRIGGER_BYTES = 32 * 1024;
/** The shortest and longest life of a registration, when the caller sets one. */
const MIN_TTL_SEC = 60;

function off(): ProblemError {
  return new ProblemError({
    kind: "not_found",
    code: "UNIVERSAL_LOGOUT_OFF",
    detail:
      "universal logout is off on this proxy: set UNIVERSAL_LOGOUT_OIDC, UNIVERSAL_LOGOUT_SSF or UNIVERSAL_LOGOUT_GTR, and PROXY_STORE_KEYS",
  });
}

function enabled(ctx: RouteContext): { universal: UniversalLogout; outbox: LogoutOutbox } {
  if (ctx.universal === undefined || ctx.outbox === undefined) throw off();
  return { universal: ctx.universal, outbox: ctx.outbox };
}

/** The registration body: the provider's names for the user and session, and the fan-out members. */
function registrationBody(vendors: readonly AnyVendor[], maxLifetimeSec: number) {
  return fanOutBody(vendors, {
    issuer: text(1024),
    subject: text(1024),
    sid: v.optional(text(1024)),
    expiresInSec: v.optional(
      v.pipe(
        v.number(),
        v.integer("must be a whole number of seconds"),
        v.minValue(MIN_TTL_SEC, `must be at least ${MIN_TTL_SEC}`),
        v.maxValue(maxLifetimeSec, `must be at most ${maxLifetimeSec} (SESSION_MAX_LIFETIME_SEC)`),
      ),
    ),
  });
}

async function registerSession(c: ProxyContext, ctx: RouteContext): Promise<Response> {
  ctx.begin(c, "/v1/sessions", []);
  const { universal } = enabled(ctx);
  const principal = await ctx.auth.authenticate(c.req.header("authorization"), "");
  const maxLifetimeSec = Math.floor(universal.settings.limits.maxLifetimeMs / 1000);
  const body = parseWith(
    registrationBody(ctx.vendors, maxLifetimeSec),
    await readJsonObject(c.req.raw),
  ) as Record<string, unknown> & {
    issuer: string;
    subject: string;
    sid?: string;
    expiresInSec?: number;
  };
  if (!universal.issuers.has(body.issuer)) {
    throw new ProblemError({
      kind: "invalid_request",
      code: "INVALID_FIELD",
      detail: "issuer: is not a trusted identity provider of this proxy",
      field: "issuer",
    });
  }
  const named = ctx.vendors.filter((vendor) => body[vendor.member] !== undefined);
  ctx.begin(
    c,
    "/v1/sessions",
    named.map((vendor) => vendor.name),
  );
  const members: Record<string, unknown> = {};
  for (const vendor of named) {
    const input = body[vendor.member];
    ctx.conceal(c, ...vendor.secrets(input));
    // A session at a vendor this proxy has off could never be logged out: refused now.
    if (!ctx.configured(vendor.name)) throw notConfigured(vendor.name);
    // Registering a session for a later logout asks what logging it out now would ask.
    vendor.caller?.authorize(ctx, principal, input, under(vendor.member));
    members[vendor.member] = input;
  }
  const now = universal.now();
  const { id, expiresAt } = await universal.registry.add({
    issuer: body.issuer,
    subject: body.subject,
    sid: body.sid,
    owner: await ownerOf(principal),
    expiresAt: now + (body.expiresInSec ?? maxLifetimeSec) * 1000,
    members,
  });
  return c.json({ id, expiresAt: new Date(expiresAt).toISOString() }, 201, {
    location: `/v1/sessions/${id}`,
  });
}

async function deleteSession(c: ProxyContext, ctx: RouteContext): Promise<Response> {
  ctx.begin(c, "/v1/sessions/:id", []);
  const { universal } = enabled(ctx);
  const principal = await ctx.auth.authenticate(c.req.header("authorization"), "");
  const id = c.req.param("id") ?? "";
  const removed =
    REGISTRATION_ID.test(id) && (await universal.registry.remove(id, await ownerOf(principal)));
  if (!removed) {
    throw new ProblemError({
      kind: "not_found",
      code: "SESSION_NOT_FOUND",
      detail:
        "no registered session with this id: it never existed, ended, expired or is another caller's",
      field: "id",
    });
  }
  return c.body(null, 204);
}

/** One logout job of a trigger: a fan-out body, its owner, and the registrations it serves. */
export interface PackedJob {
  owner: string | null;
  body: Record<string, unknown>;
  sources: Registration[];
}

/**
 * Packs a subject's registrations into fan-out bodies, one member per vendor each, registrations of
 * one owner together: one job for a subject with one session per vendor, more only when it has
 * several sessions at one vendor or registrations of several applications.
 */
export function packJobs(taken: readonly Registration[]): PackedJob[] {
  const jobs: PackedJob[] = [];
  for (const registration of taken) {
    for (const [member, input] of Object.entries(registration.members)) {
      let job = jobs.find(
        (candidate) =>
          candidate.owner === registration.owner && !Object.hasOwn(candidate.body, member),
      );
      if (job === undefined) {
        job = { owner: registration.owner, body: {}, sources: [] };
        jobs.push(job);
      }
      job.body[member] = input;
      if (!job.sources.includes(registration)) job.sources.push(registration);
    }
  }
  return jobs;
}

/**
 * Takes the trigger's registrations and queues their logouts; returns the job ids. When the outbox
 * refuses a job, every registration that job and the later ones serve is put back (a provider's
 * retry then finds it; a vendor logout queued twice is done once) and the refusal is thrown.
 */
async function queueLogouts(
  c: ProxyContext,
  ctx: RouteContext,
  trigger: LogoutTrigger,
): Promise<{ jobs: string[]; registrations: number; unreachable: boolean }> {
  const { universal, outbox } = enabled(ctx);
  const { issuer, subject, sid } = trigger.target;
  const taken =
    subject !== undefined
      ? await universal.registry.takeSubject(issuer, subject, sid)
      : await universal.registry.takeSession(issuer, sid as string);
  const jobs: string[] = [];
  const requestId = c.get("state").requestId;
  // A vendor turned off since a session was registered cannot log it out: its members are left
  // out, and named in the log line.
  const on = (member: string) => {
    const vendor = ctx.vendors.find((candidate) => candidate.member === member);
    return vendor !== undefined && ctx.configured(vendor.name);
  };
  const skipped = [
    ...new Set(
      taken.flatMap((registration) => Object.keys(registration.members).filter((m) => !on(m))),
    ),
  ];
  const packed = packJobs(
    taken.map((registration) => ({
      ...registration,
      members: Object.fromEntries(Object.entries(registration.members).filter(([m]) => on(m))),
    })),
  );
  for (const [index, job] of packed.entries()) {
    try {
      const caller = job.owner ?? (await digestHex(`universal-logout:${issuer}`));
      const view = await outbox.enqueue(job.body, { requestId, owner: job.owner, caller });
      jobs.push(view.id);
    } catch (error) {
      const back = new Set(packed.slice(index).flatMap((rest) => rest.sources));
      let failed = 0;
      for (const registration of back) {
        const { id: _id, createdAt: _createdAt, ...entry } = registration;
        try {
          await universal.registry.add(entry);
        } catch {
          // The subject filled up meanwhile: this registration is lost, and the log line says so.
          failed++;
        }
      }
      c.get("state").trigger = {
        trigger: trigger.kind,
        issuer,
        jobs,
        registrations: taken.length,
        putBack: back.size - failed,
        ...(failed === 0 ? {} : { putBackFailed: failed }),
      };
      throw error;
    }
  }
  c.get("state").trigger = {
    trigger: trigger.kind,
    issuer,
    jobs,
    registrations: taken.length,
    vendors: [...new Set(packed.flatMap((job) => Object.keys(job.body)))],
    ...(skipped.length === 0 ? {} : { vendorsOff: skipped }),
  };
  return { jobs, registrations: taken.length, unreachable: taken.length > 0 && jobs.length === 0 };
}

/**
 * Lets a trigger's take-and-queue run to its end even when its request is cut off (the provider
 * hangs up, the request is canceled): a registration taken and not yet queued would be lost with
 * it. On Workers the request's ExecutionContext keeps the work alive (waitUntil); the other entries
 * have none and finish it anyway.
 */
function toTheEnd<T>(c: ProxyContext, work: Promise<T>): Promise<T> {
  let context: { waitUntil(promise: Promise<unknown>): void } | undefined;
  try {
    context = c.executionCtx;
  } catch {
    // Hono throws when the runtime gave no ExecutionContext (Bun, Deno, Node).
  }
  context?.waitUntil(work.catch(() => {}));
  return work;
}

/**
 * queueLogouts for a trigger whose jti is claimed: when the logouts cannot be queued (the outbox
 * refuses, the store fails), the claim is released so that the provider's redelivery of the same
 * token is taken, not refused as a replay (OIDC) or acknowledged without queueing (SET).
 */
function queueClaimed(
  c: ProxyContext,
  ctx: RouteContext,
  trigger: LogoutTrigger,
): ReturnType<typeof queueLogouts> {
  return toTheEnd(
    c,
    queueLogouts(c, ctx, trigger).catch(async (error: unknown) => {
      if (trigger.claim !== undefined) {
        await ctx.replay.release(trigger.claim.key, trigger.claim.owner).catch(() => {});
      }
      throw error;
    }),
  );
}

/** A trigger's body as text; undefined when it is over MAX_TRIGGER_BYTES or cannot be read as UTF-8. */
async function readTriggerBody(c: ProxyContext): Promise<string | undefined> {
  try {
    return await readBounded(c.req.raw, MAX_TRIGGER_BYTES, true);
  } catch {
    return undefined;
  }
}

/** An answer of a trigger that is not a problem document (the specifications' own error bodies). */
function triggerError(
  c: ProxyContext,
  status: 400 | 401 | 403 | 404 | 422 | 503,
  code: string,
  body: Record<string, string>,
): Response {
  c.get("state").problem = { code, kind: status === 503 ? "unavailable" : "invalid_request" };
  return c.json(body, status, status === 503 ? { "retry-after": "30" } : {});
}

async function backchannelLogout(c: ProxyContext, ctx: RouteContext): Promise<Response> {
  ctx.begin(c, "/v1/backchannel-logout", []);
  const { universal } = enabled(ctx);
  const refuse = (description: string) =>
    triggerError(c, 400, "invalid_request", {
      error: "invalid_request",
      error_description: description,
    });
  const media = c.req.header("content-type")?.split(";")[0]?.trim().toLowerCase();
  if (media !== "application/x-www-form-urlencoded") {
    return refuse("the body must be a form (application/x-www-form-urlencoded)");
  }
  const text = await readTriggerBody(c);
  if (text === undefined)
    return refuse(`the body must be a form of at most ${MAX_TRIGGER_BYTES} bytes`);
  const form = new URLSearchParams(text);
  const tokens = form.getAll("logout_token");
  if (tokens.length !== 1) return refuse("the form must carry logout_token exactly once");
  ctx.conceal(c, tokens[0] as string);
  let trigger: LogoutTrigger;
  try {
    trigger = await verifyLogoutToken(tokens[0] as string, universal.providers, {
      now: universal.now,
      replay: ctx.replay,
    });
  } catch (error) {
    if (error instanceof LogoutTokenError) return refuse(error.description);
    if (error instanceof ProviderUnavailable) {
      return triggerError(c, 503, "PROVIDER_UNAVAILABLE", {
        error: "temporarily_unavailable",
        error_description: error.description,
      });
    }
    throw error;
  }
  await queueClaimed(c, ctx, trigger);
  return c.body(null, 200);
}

async function sharedSignals(c: ProxyContext, ctx: RouteContext): Promise<Response> {
  ctx.begin(c, "/v1/ssf/events", []);
  const { universal } = enabled(ctx);
  const refuse = (error: SetError) =>
    triggerError(c, 400, error.err, { err: error.err, description: error.description });
  // The transmitter is the one whose bearer token the request carries.
  const credential = bearerCredential(c.req.header("authorization"));
  const digest = credential === undefined ? undefined : await sha256(credential);
  const transmitter =
    digest === undefined
      ? undefined
      : universal.settings.ssf.find((candidate) => digestListed(digest, candidate.bearerSha256));
  if (transmitter === undefined) {
    return refuse(
      new SetError("authentication_failed", "the bearer token is not a trusted transmitter's"),
    );
  }
  const body = await readTriggerBody(c);
  if (body === undefined) {
    return refuse(
      new SetError("invalid_request", `the SET must be at most ${MAX_TRIGGER_BYTES} bytes`),
    );
  }
  ctx.conceal(c, body.trim());
  let trigger: LogoutTrigger;
  try {
    trigger = await verifySet(
      body,
      c.req.header("content-type") ?? null,
      transmitter,
      c.req.raw.headers,
      {
        fetch: universal.fetch,
        now: universal.now,
        replay: ctx.replay,
      },
    );
  } catch (error) {
    // A SET delivered again after its answer was lost was queued the first time.
    if (error instanceof DuplicateSet) return c.body(null, 202);
    if (error instanceof SetError) return refuse(error);
    if (error instanceof SetUnavailable) {
      return triggerError(c, 503, "TRANSMITTER_UNAVAILABLE", {
        err: "temporarily_unavailable",
        description: error.message,
      });
    }
    throw error;
  }
  await queueClaimed(c, ctx, trigger);
  return c.body(null, 202);
}

async function globalRevocation(c: ProxyContext, ctx: RouteContext): Promise<Response> {
  ctx.begin(c, "/v1/global-token-revocation", []);
  const { universal } = enabled(ctx);
  try {
    const caller = await authenticateRevocation(
      c.req.header("authorization") ?? null,
      universal.settings.gtr,
    );
    const body = await readTriggerBody(c);
    if (body === undefined)
      throw new RevocationError(400, "invalid_request", "the body is too large or unreadable");
    const trigger = parseGlobalRevocation(body, c.req.header("content-type") ?? null, caller);
    const { registrations, unreachable } = await toTheEnd(c, queueLogouts(c, ctx, trigger));
    if (registrations === 0) throw subjectUnknown();
    if (unreachable) {
      throw cannotLogOut("every session of this subject is at a vendor this proxy has turned off");
    }
    return c.body(null, 204);
  } catch (error) {
    if (error instanceof RevocationError) {
      return triggerError(c, error.status, error.error, {
        error: error.error,
        error_description: error.description,
      });
    }
    throw error;
  }
}

/** The registration body as documented: the registration fields and the fan-out members. */
function documentedBody(vendors: readonly AnyVendor[]) {
  return registrationBody(vendors, 366 * 86_400);
}

const specError = (description: string) =>
  v.object({
    error: v.pipe(v.string(), v.description("The error code.")),
    error_description: v.pipe(v.string(), v.description(description)),
  });

/** The universal-logout routes of these vendors. */
export function universalLogoutRoutes(vendors: readonly AnyVendor[]): readonly RouteDecl[] {
  return [
    {
      method: "POST",
      path: "/v1/sessions",
      handle: registerSession,
      doc:
        globalThis.__EDGE_PROXY_DOCS__ !== false
          ? {
              operationId: "registerSession",
              tag: "universal-logout",
              summary: "Register a user's vendor sessions for their identity provider's logout",
              description:
                "At login, the application names the user at its identity provider (issuer, subject, and the provider's session id when it has one) and the user's vendor sessions (the fan-out members). When the provider later signs the user out (back-channel logout, a session-revoked event, a Global Token Revocation), the proxy logs these sessions out through the outbox. Stored encrypted (PROXY_STORE_KEYS) until then, until deleted, or until it expires. Registering a vendor's session asks the same caller rights as logging it out (eBET: the username).",
              security: "caller",
              body: {
                schema: documentedBody(vendors),
                example: {
                  issuer: "https://idp.example.com",
                  subject: "248289761001",
                  sid: "08a5019c-17e1-4977-8f42-65a12843ea02",
                  expiresInSec: 86400,
                  fungame: { token: "eyJhbGciOiJIUzI1NiJ9.e30.c2ln" },
                  lancens: { username: "lancens-user", token: "e3b0c442" },
                },
                fields: {
                  issuer:
                    "A trusted identity provider's issuer (UNIVERSAL_LOGOUT_OIDC, _SSF or _GTR).",
                  subject:
                    "The user's `sub` at that issuer (or `email:<address>`, `opaque:<id>` for Shared Signals and Global Token Revocation subjects of those formats).",
                  sid: "The provider's session id: a back-channel logout naming it ends this registration only.",
                  expiresInSec: "Its lifetime; at most SESSION_MAX_LIFETIME_SEC (the default).",
                },
              },
              answers: {
                201: {
                  description: "Registered.",
                  headers: { Location: "/v1/sessions/{id}" },
                  schema: v.object({
                    id: v.pipe(v.string(), v.description("The registration's id.")),
                    expiresAt: v.pipe(v.string(), v.description("When it expires (ISO 8601).")),
                  }),
                },
              },
              problems: [401, 403, 404, 409, 413, 415, 429, 503],
            }
          : undefined,
    },
    {
      method: "DELETE",
      path: "/v1/sessions/:id",
      handle: deleteSession,
      doc:
        globalThis.__EDGE_PROXY_DOCS__ !== false
          ? {
              operationId: "deleteSession",
              tag: "universal-logout",
              summary: "Delete a registration (the application ended the session itself)",
              security: "caller",
              params: {
                id: {
                  description: "The registration's id.",
                  schema: v.pipe(v.string(), v.regex(REGISTRATION_ID)),
                },
              },
              answers: { 204: { description: "Deleted." } },
              problems: [401, 404, 429, 503],
            }
          : undefined,
    },
    {
      method: "POST",
      path: "/v1/backchannel-logout",
      handle: backchannelLogout,
      doc:
        globalThis.__EDGE_PROXY_DOCS__ !== false
          ? {
              operationId: "backchannelLogout",
              tag: "universal-logout",
              summary: "OpenID Connect Back-Channel Logout 1.0: the provider's logout token",
              description:
                "Set this URL as the client's backchannel_logout_uri at the provider. The logout token is validated as §2.6 says (signature with the provider's keys, iss, aud, iat, exp, sub or sid, events, no nonce, typ, jti once); the registrations it names (its sid's, or all of its sub's) become logout jobs, and the answer comes once they are queued.",
              security: "none",
              body: {
                mediaType: "application/x-www-form-urlencoded",
                schema: v.object({
                  logout_token: v.pipe(
                    v.string(),
                    v.maxLength(MAX_LOGOUT_TOKEN_LENGTH),
                    v.description("The logout token (a JWT)."),
                  ),
                }),
              },
              answers: {
                200: { description: "The logouts are queued (or nothing was registered)." },
                400: {
                  description:
                    "The logout token is refused (§2.8); an invalid X-Request-Id is a problem document.",
                  schema: specError("The rule the token failed."),
                },
                503: {
                  description: "The provider's keys cannot be had now: deliver it again.",
                  headers: { "Retry-After": "Seconds." },
                  schema: specError("Why."),
                },
              },
              problems: [404, 429],
            }
          : undefined,
    },
    {
      method: "POST",
      path: "/v1/ssf/events",
      handle: sharedSignals,
      doc:
        globalThis.__EDGE_PROXY_DOCS__ !== false
          ? {
              operationId: "sharedSignalsEvent",
              tag: "universal-logout",
              summary: "Shared Signals: a CAEP session-revoked event, pushed (RFC 8935)",
              description:
                "A Security Event Token (typ secevent+jwt) from a trusted transmitter, authenticated by its bearer token and the SET's signature. The subject comes from sub_id (iss_sub, email, opaque; a complex subject's session names a sid). A SET delivered again is acknowledged without queueing twice.",
              security: "provider-token",
              body: {
                mediaType: "application/secevent+jwt",
                schema: v.pipe(
                  v.string(),
                  v.maxLength(MAX_SET_BYTES),
                  v.description("The SET (a compact JWS)."),
                ),
              },
              answers: {
                202: { description: "Accepted: the logouts are queued." },
                400: {
                  description:
                    "Refused, with RFC 8935's err: invalid_request, invalid_key, invalid_issuer, invalid_audience, authentication_failed, access_denied.",
                  schema: v.object({
                    err: v.pipe(v.string(), v.description("The RFC 8935 error code.")),
                    description: v.pipe(v.string(), v.description("The rule the SET failed.")),
                  }),
                },
                503: {
                  description: "The transmitter's keys cannot be had now: deliver it again.",
                  headers: { "Retry-After": "Seconds." },
                  schema: v.object({ err: v.string(), description: v.string() }),
                },
              },
              problems: [404, 429],
            }
          : undefined,
    },
    {
      method: "POST",
      path: "/v1/global-token-revocation",
      handle: globalRevocation,
      doc:
        globalThis.__EDGE_PROXY_DOCS__ !== false
          ? {
              operationId: "globalTokenRevocation",
              tag: "universal-logout",
              summary: "Global Token Revocation: log a subject out everywhere",
              description:
                "The draft that Okta Universal Logout implements: a JSON body with sub_id (iss_sub, email, opaque), the caller a trusted provider by its bearer token.",
              security: "provider-token",
              body: {
                schema: v.object({
                  sub_id: v.pipe(
                    v.object({
                      format: v.picklist(["iss_sub", "email", "opaque"]),
                      iss: v.optional(v.pipe(v.string(), v.maxLength(MAX_IDENTIFIER_LENGTH))),
                      sub: v.optional(v.pipe(v.string(), v.maxLength(MAX_IDENTIFIER_LENGTH))),
                      email: v.optional(v.pipe(v.string(), v.maxLength(MAX_IDENTIFIER_LENGTH))),
                      id: v.optional(v.pipe(v.string(), v.maxLength(MAX_IDENTIFIER_LENGTH))),
                    }),
                    v.description(
                      "An RFC 9493 subject identifier: iss_sub { iss, sub }, email { email } or opaque { id }.",
                    ),
                  ),
                }),
                example: {
                  sub_id: {
                    format: "iss_sub",
                    iss: "https://idp.example.com",
                    sub: "248289761001",
                  },
                },
              },
              answers: {
                204: { description: "The subject's sessions are queued for logout." },
                400: {
                  description: "Malformed or unsupported.",
                  schema: specError("What is wrong."),
                },
                401: {
                  description: "No or an unknown bearer token.",
                  schema: specError("What is wrong."),
                },
                403: {
                  description: "This caller may not revoke this issuer's subjects.",
                  schema: specError("What is wrong."),
                },
                404: {
                  description: "No session of this subject is registered.",
                  schema: specError("What is wrong."),
                },
                422: {
                  description:
                    "Every session of the subject is at a vendor this proxy has turned off.",
                  schema: specError("What is wrong."),
                },
              },
              problems: [429, 503],
            }
          : undefined,
    },
  ];
}
