// What vendor modules share: problems in the caller's terms, one call under the upstream policy, the
// default retry policy, the variable schemas and the "POST a body, log out" route.
import { type FetchLike, isVendorError } from "@x/core-signing";
import * as v from "valibot";
import type { Principal } from "../auth.ts";
import { parseWith, readJsonObject } from "../body.ts";
import { baseUrl } from "../config-schemas.ts";
import type { RouteDecl, RouteDoc } from "../http/route.ts";
import { fromVendorError, ProblemError } from "../problem.ts";
import { type AttemptOptions, callUpstream, DEFAULT_RETRY, type UpstreamEnv } from "../upstream.ts";
import type { LogoutCall, VendorSuccess } from "./descriptor.ts";

/**
 * The most the proxy reads of any vendor's answer, in bytes: the answers it parses are a few hundred
 * bytes. A longer body is a 502 BAD_RESPONSE, and the rest of it is never read.
 */
export const UPSTREAM_MAX_BODY_BYTES = 64 * 1024;

export { baseUrl, DEFAULT_RETRY };

/** A field namer under `prefix` (the fan-out member), or the field itself at the top of a body. */
export function under(prefix: string): (field: string) => string {
  return (field) => (prefix ? `${prefix}.${field}` : field);
}

export function notConfigured(vendor: string): ProblemError {
  return new ProblemError({
    kind: "not_found",
    code: "VENDOR_NOT_CONFIGURED",
    detail: `vendor not configured: ${vendor} is off on this proxy`,
    vendor,
  });
}

/**
 * A vendor error as the caller should see it: a refused input field is renamed to where it sits in
 * the request; a refused client option is the proxy's misconfiguration, never the caller's fault.
 * `fields` lists the input fields a vendor may name; `field` renames them.
 */
export function asProblem(
  error: unknown,
  vendor: string,
  fields: readonly string[] = [],
  field: (name: string) => string = (name) => name,
): unknown {
  if (!isVendorError(error)) return error;
  // A listed field only: a vendor may name a field "constructor" or "__proto__".
  const mapped =
    error.field !== undefined && fields.includes(error.field) ? field(error.field) : undefined;
  if (mapped !== undefined) {
    const message = error.message.startsWith(`${error.field}:`)
      ? `${mapped}${error.message.slice(error.field?.length ?? 0)}`
      : error.message;
    return new ProblemError({ ...fromVendorError(error), field: mapped, detail: message });
  }
  if (error.code === "INVALID_INPUT" && error.kind === "invalid_request") {
    return new ProblemError({
      kind: "misconfigured",
      code: "VENDOR_SETTINGS_INVALID",
      detail: `the proxy's ${vendor} settings are refused: ${error.message}`,
      vendor,
    });
  }
  return new ProblemError({ ...fromVendorError(error), vendor });
}

/** Builds a vendor's client; a refused option is the proxy's misconfiguration (500). */
export function makeClient<T>(vendor: string, make: () => T): T {
  try {
    return make();
  } catch (error) {
    throw asProblem(error, vendor);
  }
}

/** One vendor call under the request's upstream policy; a vendor error becomes a problem. */
export async function run<T>(
  vendor: string,
  env: UpstreamEnv,
  fields: readonly string[],
  call: Pick<LogoutCall, "field">,
  attempt: (options: AttemptOptions) => Promise<T>,
): Promise<T> {
  try {
    return await callUpstream(vendor, attempt, env);
  } catch (error) {
    throw asProblem(error, vendor, fields, call.field);
  }
}

/** The success every vendor answers. */
export function success(vendor: string, result: unknown, alreadyLoggedOut = false): VendorSuccess {
  return { vendor, ok: true, alreadyLoggedOut, result };
}

/** The JSON schema of a success answer of `vendor`, for the OpenAPI document. */
export function successSchema(vendor: string, result: v.GenericSchema) {
  return v.object({
    vendor: v.literal(vendor),
    ok: v.literal(true),
    alreadyLoggedOut: v.pipe(
      v.boolean(),
      v.description("True when the session was already gone: the logout is done either way."),
    ),
    result,
  });
}

/** Problems every body-taking vendor route may answer (besides its own). */
export const BODY_PROBLEMS = [400, 413, 415] as const;
/** Problems any vendor call may answer. */
export const UPSTREAM_PROBLEMS = [404, 429, 500, 502, 503] as const;

/**
 * `POST /v1/<vendor>/logout` with the vendor's input as the JSON body: the usual vendor route. A
 * vendor with a caller check authenticates the caller before the body is read and authorizes the
 * body's subject before the vendor is called.
 */
export function logoutRoute(vendor: string, doc: RouteDoc | undefined): RouteDecl {
  const path = `/v1/${vendor}/logout`;
  return {
    method: "POST",
    path,
    doc,
    async handle(c, ctx) {
      ctx.begin(c, path, [vendor]);
      if (!ctx.configured(vendor)) throw notConfigured(vendor);
      const { caller, input } = ctx.descriptor(vendor);
      const principal = await caller?.authenticate(c, ctx);
      const body = parseWith(input, await readJsonObject(c.req.raw));
      if (caller !== undefined) caller.authorize(ctx, principal as Principal, body, under(""));
      const instance = ctx.vendor(vendor);
      return c.json(await instance.logout(body, ctx.logoutCall(c, vendor, under(""), body)));
    },
  };
}

export type { FetchLike };
